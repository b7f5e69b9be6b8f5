// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Function symbol to file offset, for attaching uprobes by offset. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"
#include "util.h"

struct elf_file {
	int fd;
	Elf *elf;
};

int elf_file_open(const char *path, struct elf_file **out)
{
	struct elf_file *ef;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return -ENOMEM;
	ef->fd = open_regular(path);
	if (ef->fd < 0) {
		int err = ef->fd;

		free(ef);
		return err;
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF) {
		elf_file_close(ef);
		return -ENOEXEC;
	}
	*out = ef;
	return 0;
}

void elf_file_close(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef);
}

/*
 * Through the PT_LOAD segments: a file offset to a virtual address
 * (FROM_OFFSET), or a virtual address to a file offset.
 */
static int load_translate(Elf *elf, uint64_t x, bool from_offset, uint64_t *out)
{
	size_t nr;

	if (elf_getphdrnum(elf, &nr))
		return -ENOEXEC;
	for (size_t i = 0; i < nr; i++) {
		uint64_t from, to;
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		from = from_offset ? ph.p_offset : ph.p_vaddr;
		to = from_offset ? ph.p_vaddr : ph.p_offset;
		if (x >= from && x < from + ph.p_filesz) {
			*out = x - from + to;
			return 0;
		}
	}
	return -ENOENT;
}

static int vaddr_to_offset(Elf *elf, uint64_t vaddr, uint64_t *offset)
{
	return load_translate(elf, vaddr, false, offset);
}

static int find_in_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, const char *name,
			  uint64_t *vaddr, uint64_t *size)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t nr;

	if (!data || !sh->sh_entsize)
		return -ENOENT;
	nr = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < nr; i++) {
		GElf_Sym sym;
		const char *sname;
		int type;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		/* A file-local function of that name is not the one callers get. */
		if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
			continue;
		sname = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (sname && !strcmp(sname, name)) {
			*vaddr = sym.st_value;
			*size = sym.st_size;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_func_offset(struct elf_file *ef, const char *name, uint64_t *offset)
{
	uint64_t size;

	return elf_func_lookup(ef, name, offset, &size);
}

int elf_func_lookup(struct elf_file *ef, const char *name, uint64_t *offset, uint64_t *size)
{
	/* .dynsym first: it is what a stripped shared library still has. */
	static const Elf64_Word order[] = { SHT_DYNSYM, SHT_SYMTAB };

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		Elf_Scn *scn = NULL;

		while ((scn = elf_nextscn(ef->elf, scn))) {
			GElf_Shdr sh;
			uint64_t vaddr;

			if (!gelf_getshdr(scn, &sh) || sh.sh_type != order[k])
				continue;
			if (find_in_symtab(ef->elf, scn, &sh, name, &vaddr, size) == 0)
				return vaddr_to_offset(ef->elf, vaddr, offset);
		}
	}
	return -ENOENT;
}

static int offset_to_vaddr(Elf *elf, uint64_t offset, uint64_t *vaddr)
{
	return load_translate(elf, offset, true, vaddr);
}

static bool symbol_within(Elf_Scn *scn, const GElf_Shdr *sh, uint64_t lo, uint64_t hi)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t nr;

	if (!data || !sh->sh_entsize)
		return false;
	nr = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < nr; i++) {
		GElf_Sym sym;
		int type;

		if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
			continue;
		if (sym.st_value > lo && sym.st_value <= hi)
			return true;
	}
	return false;
}

int elf_symbol_within(struct elf_file *ef, uint64_t from, uint64_t to)
{
	Elf_Scn *scn = NULL;
	uint64_t lo, hi;
	int err;

	if (to <= from)
		return 0;
	err = offset_to_vaddr(ef->elf, from, &lo);
	if (err)
		return err;
	hi = lo + (to - from);
	while ((scn = elf_nextscn(ef->elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB))
			continue;
		if (symbol_within(scn, &sh, lo, hi))
			return 1;
	}
	return 0;
}

int elf_read_at(struct elf_file *ef, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(ef->fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int elf_exec_segment(struct elf_file *ef, uint64_t off, uint64_t *start, uint64_t *size)
{
	size_t nr;

	if (elf_getphdrnum(ef->elf, &nr))
		return -ENOEXEC;
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (off >= ph.p_offset && off < ph.p_offset + ph.p_filesz) {
			*start = ph.p_offset;
			*size = ph.p_filesz;
			return 0;
		}
	}
	return -ENOENT;
}

int elf_offset_vaddr(struct elf_file *ef, uint64_t off, uint64_t *vaddr)
{
	return offset_to_vaddr(ef->elf, off, vaddr);
}

/* The symbol of the relocation of GOT slot SLOT (a JUMP_SLOT or GLOB_DAT), or NULL. */
static const char *slot_symbol(Elf *elf, uint64_t slot)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh, symsh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data, *syms;
		Elf_Scn *symscn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize)
			continue;
		symscn = elf_getscn(elf, sh.sh_link);
		data = elf_getdata(scn, NULL);
		syms = symscn ? elf_getdata(symscn, NULL) : NULL;
		if (!data || !syms || !gelf_getshdr(symscn, &symsh))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			unsigned int type;

			if (!gelf_getrela(data, i, &r) || r.r_offset != slot)
				continue;
			type = GELF_R_TYPE(r.r_info);
			if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
				return NULL;
			if (!gelf_getsym(syms, GELF_R_SYM(r.r_info), &sym))
				return NULL;
			return elf_strptr(elf, symsh.sh_link, sym.st_name);
		}
	}
	return NULL;
}

/*
 * A PLT stub, `jmp *slot(%rip)`: in .plt (ff 25), .plt.got (ff 25 or
 * f2 ff 25) or, with IBT, .plt.sec (endbr64; bnd jmp).
 */
uint64_t elf_plt_slot(struct elf_file *ef, uint64_t vaddr)
{
	unsigned char c[11];
	uint64_t off, at = 0;
	int32_t rel;

	if (vaddr_to_offset(ef->elf, vaddr, &off) || elf_read_at(ef, off, c, sizeof(c)))
		return 0;
	if (!memcmp(c, "\xf3\x0f\x1e\xfa", 4))
		at = 4;
	if (c[at] == 0xf2)
		at++;
	if (c[at] != 0xff || c[at + 1] != 0x25)
		return 0;
	memcpy(&rel, c + at + 2, sizeof(rel));
	return vaddr + at + 6 + rel;
}

const char *elf_slot_symbol(struct elf_file *ef, uint64_t slot)
{
	return slot_symbol(ef->elf, slot);
}

const char *elf_plt_symbol(struct elf_file *ef, uint64_t vaddr)
{
	uint64_t slot = elf_plt_slot(ef, vaddr);

	return slot ? slot_symbol(ef->elf, slot) : NULL;
}

/*
 * Is the CFA at rsp + 8 at VADDR, as at the entry: the frame all popped?
 * 1 if so, with the start of its row in *ROW; 0 if not or no row covers
 * it; -ENOENT without call frame information.
 */
int elf_frame_entry_cfa(struct elf_file *ef, uint64_t vaddr, uint64_t *row)
{
	Dwarf_CFI *cfi = dwarf_getcfi_elf(ef->elf);
	Dwarf_Frame *frame = NULL;
	Dwarf_Addr start, end;
	Dwarf_Op *ops;
	size_t nops;
	int ok;

	if (!cfi)
		return -ENOENT;
	if (dwarf_cfi_addrframe(cfi, vaddr, &frame)) {
		dwarf_cfi_end(cfi);
		return 0;
	}
	ok = dwarf_frame_info(frame, &start, &end, NULL) >= 0 &&
	     dwarf_frame_cfa(frame, &ops, &nops) == 0 && nops == 1 &&
	     ops[0].atom == DW_OP_bregx && ops[0].number == 7 && ops[0].number2 == 8;
	*row = start;
	free(frame);
	dwarf_cfi_end(cfi);
	return ok;
}

/*
 * Does a row of the call frame information begin at VADDR, with the CFA
 * at rsp + 8, as at the entry? Rows begin where the compiler put a CFI
 * directive, between two instructions; there, the frame is all popped.
 */
int elf_frame_popped_at(struct elf_file *ef, uint64_t vaddr)
{
	uint64_t row;
	int ok = elf_frame_entry_cfa(ef, vaddr, &row);

	return ok == 1 ? row == vaddr : ok;
}

int elf_has_interp(struct elf_file *ef)
{
	size_t nr;

	if (elf_getphdrnum(ef->elf, &nr))
		return 0;
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(ef->elf, i, &ph) && ph.p_type == PT_INTERP)
			return 1;
	}
	return 0;
}

int elf_vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	return vaddr_to_offset(ef->elf, vaddr, off);
}

const char *elf_got_symbol(struct elf_file *ef, uint64_t slot)
{
	return slot_symbol(ef->elf, slot);
}

struct Elf *elf_file_elf(struct elf_file *ef)
{
	return ef->elf;
}

bool elf_has_section(struct elf_file *ef, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *s = gelf_getshdr(scn, &sh) ? elf_strptr(ef->elf, shstrndx, sh.sh_name) : NULL;

		if (s && !strcmp(s, name))
			return true;
	}
	return false;
}
