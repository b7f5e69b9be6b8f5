// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unwind tables for the in-kernel unwinder (see include/unwind.h).
 *
 * Why in the kernel and not in userspace: memlens leaks needs a stack for
 * every outstanding allocation, and deduplicates them by hash in the
 * kernel. Copying registers and 8-16 KiB of stack per allocation to
 * userspace for libdw's dwfl_getthread_frames would cost a large copy and
 * a ring buffer record per malloc, and stacks could no longer be stored
 * once per id. A table lookup per frame keeps the cost near the
 * frame-pointer walk's and keeps the stacks map as it is.
 *
 * The rows are read with libdw: every address range of an executable
 * section is asked for its frame (dwarf_cfi_addrframe), whose extent
 * dwarf_frame_info gives; the x86_64 rules the BPF side can follow are
 * kept (CFA = rsp/rbp + offset, return address at CFA - 8, rbp unchanged
 * or saved at CFA + offset); anything else becomes a row that stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <elfutils/libdw.h>
#include <dwarf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "procmaps.h"
#include "unwind_table.h"
#include "util.h"

#define DWARF_REG_RBP	6
#define DWARF_REG_RSP	7
#define DWARF_REG_RA	16

static int table_push(struct unwind_table *t, const struct unwind_row *row)
{
	if (t->nr && t->rows[t->nr - 1].cfa_off8 == row->cfa_off8 &&
	    t->rows[t->nr - 1].rbp_off8 == row->rbp_off8 && t->rows[t->nr - 1].rules == row->rules)
		return 0;	/* same rules as the row before: it extends */
	if (t->nr == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		struct unwind_row *rows = realloc(t->rows, cap * sizeof(*rows));

		if (!rows)
			return -ENOMEM;
		t->rows = rows;
		t->cap = cap;
	}
	t->rows[t->nr++] = *row;
	return 0;
}

void unwind_table_free(struct unwind_table *t)
{
	free(t->rows);
	memset(t, 0, sizeof(*t));
}

/* OFF in units of 8 into *OUT, if it is a multiple of 8 within LIMIT. */
static bool scale8(int64_t off, int64_t limit, int32_t *out)
{
	if (off % 8 || off / 8 >= limit || off / 8 < -limit)
		return false;
	*out = off / 8;
	return true;
}

/* The offset N of a "saved at CFA + N" register rule, as libdw spells it. */
static bool cfa_offset_rule(const Dwarf_Op *ops, size_t nops, int64_t *off)
{
	if (nops == 1 && ops[0].atom == DW_OP_call_frame_cfa) {
		*off = 0;
		return true;
	}
	if (nops == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

static enum unwind_cfa_rule cfa_rule(Dwarf_Frame *f, struct unwind_row *row)
{
	Dwarf_Op *ops;
	size_t nops;
	int32_t off;

	if (dwarf_frame_cfa(f, &ops, &nops) || nops != 1 || ops[0].atom != DW_OP_bregx)
		return UNWIND_CFA_UNSUPPORTED;
	if (ops[0].number != DWARF_REG_RSP && ops[0].number != DWARF_REG_RBP)
		return UNWIND_CFA_UNSUPPORTED;
	if (!scale8((int64_t)ops[0].number2, 32768, &off))
		return UNWIND_CFA_UNSUPPORTED;
	row->cfa_off8 = off;
	return ops[0].number == DWARF_REG_RSP ? UNWIND_CFA_RSP : UNWIND_CFA_RBP;
}

static enum unwind_rbp_rule rbp_rule(Dwarf_Frame *f, struct unwind_row *row)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t off;
	int32_t off8;

	if (dwarf_frame_register(f, DWARF_REG_RBP, mem, &ops, &nops))
		return UNWIND_RBP_LOST;
	if (nops == 0)
		return ops ? UNWIND_RBP_LOST : UNWIND_RBP_SAME;
	if (!cfa_offset_rule(ops, nops, &off) || !scale8(off, 128, &off8))
		return UNWIND_RBP_LOST;
	row->rbp_off8 = off8;
	return UNWIND_RBP_SAVED;
}

static struct unwind_row row_of(Dwarf_Frame *f, uint32_t pc)
{
	struct unwind_row row = { .pc = pc };
	enum unwind_cfa_rule cfa;
	enum unwind_rbp_rule rbp;
	Dwarf_Op mem[3], *ops;
	size_t nops;
	int64_t off;

	if (dwarf_frame_register(f, DWARF_REG_RA, mem, &ops, &nops))
		return (struct unwind_row){ .pc = pc, .rules = UNWIND_CFA_UNSUPPORTED };
	/* Undefined return address: _start, clone's child, the end of the stack. */
	if (nops == 0 && ops)
		return (struct unwind_row){ .pc = pc, .rules = UNWIND_CFA_END };
	if (!cfa_offset_rule(ops, nops, &off) || off != -8)
		return (struct unwind_row){ .pc = pc, .rules = UNWIND_CFA_UNSUPPORTED };
	cfa = cfa_rule(f, &row);
	if (cfa == UNWIND_CFA_UNSUPPORTED)
		return (struct unwind_row){ .pc = pc, .rules = UNWIND_CFA_UNSUPPORTED };
	rbp = rbp_rule(f, &row);
	row.rules = cfa | rbp << 4;
	return row;
}

/* Rows of the executable range [START, END), addresses without CFI included. */
static int build_range(Dwarf_CFI *cfi, uint64_t start, uint64_t end, struct unwind_table *t)
{
	uint64_t addr = start;
	int err;

	while (addr < end) {
		struct unwind_row row = { .pc = addr, .rules = UNWIND_CFA_NONE };
		Dwarf_Addr from, to;
		Dwarf_Frame *f;
		bool signal;

		if (dwarf_cfi_addrframe(cfi, addr, &f)) {
			/* Padding or code without CFI: one byte further. */
			err = table_push(t, &row);
			if (err)
				return err;
			addr++;
			continue;
		}
		if (dwarf_frame_info(f, &from, &to, &signal) < 0 || to <= addr) {
			free(f);
			return -EINVAL;
		}
		row = row_of(f, addr);
		free(f);
		if ((row.rules & 0xf) == UNWIND_CFA_UNSUPPORTED)
			t->unsupported++;
		err = table_push(t, &row);
		if (err)
			return err;
		/* After DW_CFA_restore_state FROM lies before ADDR: ADDR starts the row. */
		addr = to;
	}
	return 0;
}

static Dwarf_CFI *open_cfi(Elf *elf, Dwarf **dw)
{
	Dwarf_CFI *cfi = dwarf_getcfi_elf(elf);

	*dw = NULL;
	if (cfi)
		return cfi;
	/* No .eh_frame: .debug_frame, which belongs to the Dwarf handle. */
	*dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	return *dw ? dwarf_getcfi(*dw) : NULL;
}

int unwind_table_build(Elf *elf, struct unwind_table *t)
{
	struct unwind_row end_row = { .rules = UNWIND_CFA_NONE };
	uint64_t last_end = 0;
	Elf_Scn *scn = NULL;
	Dwarf_CFI *cfi;
	Dwarf *dw;
	int err = 0;

	memset(t, 0, sizeof(*t));
	cfi = open_cfi(elf, &dw);
	if (!cfi) {
		if (dw)
			dwarf_end(dw);
		return -ENOENT;
	}
	/* Executable sections in address order, as the linker lays them out. */
	while ((scn = elf_nextscn(elf, scn)) && !err) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR) || !sh.sh_size)
			continue;
		if (sh.sh_addr + sh.sh_size > UINT32_MAX) {
			err = -E2BIG;
			break;
		}
		if (sh.sh_addr < last_end) {
			err = -EINVAL;
			break;
		}
		err = build_range(cfi, sh.sh_addr, sh.sh_addr + sh.sh_size, t);
		last_end = sh.sh_addr + sh.sh_size;
	}
	/* Nothing is covered past the last section. */
	if (!err && t->nr) {
		end_row.pc = last_end;
		err = table_push(t, &end_row);
	}
	if (!err && !t->nr)
		err = -ENOENT;
	if (dw)
		dwarf_end(dw);
	else
		dwarf_cfi_end(cfi);
	if (err)
		unwind_table_free(t);
	return err;
}

const struct unwind_row *unwind_table_find(const struct unwind_row *rows, size_t nr, uint64_t pc)
{
	size_t lo = 0, hi = nr;

	/* The first row after PC, then the one before it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &rows[lo - 1] : NULL;
}

/* --- the tables of one process, in the BPF maps -------------------------- */

enum module_state { MODULE_TABLE, MODULE_NO_CFI, MODULE_TOO_BIG };

struct unwind_module {
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	char *path;
	enum module_state state;
	uint64_t vaddr_minus_offset;	/* of the executable segment */
	uint32_t first_row;
	uint32_t nr_rows;
};

struct unwinder {
	int pid;
	int rows_fd;
	int procs_fd;
	struct unwind_row *rows;	/* the BPF array, mapped */
	size_t rows_len;
	uint32_t max_rows;
	uint32_t used_rows;
	struct unwind_module *mods;
	size_t nr_mods;
	struct unwind_proc proc;
	uint64_t mappings_dropped;
};

struct unwinder *unwinder_new(int pid, int rows_fd, uint32_t max_rows, int procs_fd)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	long page = sysconf(_SC_PAGESIZE);

	if (!u)
		return NULL;
	u->pid = pid;
	u->rows_fd = rows_fd;
	u->procs_fd = procs_fd;
	u->max_rows = max_rows;
	u->rows_len = ((size_t)max_rows * sizeof(struct unwind_row) + page - 1) / page * page;
	u->rows = mmap(NULL, u->rows_len, PROT_READ | PROT_WRITE, MAP_SHARED, rows_fd, 0);
	if (u->rows == MAP_FAILED) {
		error_msg("cannot map the unwind table: %s", strerror(errno));
		free(u);
		return NULL;
	}
	return u;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->nr_mods; i++)
		free(u->mods[i].path);
	free(u->mods);
	munmap(u->rows, u->rows_len);
	free(u);
}

/* p_vaddr - p_offset of the executable PT_LOAD: file offset to ELF address. */
static int exec_segment_delta(Elf *elf, uint64_t *delta)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			*delta = ph.p_vaddr - ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* Build M's table from the file mapped at V and append it to the BPF array. */
static void module_load(struct unwinder *u, struct unwind_module *m, const struct vma *v)
{
	struct unwind_table t;
	Elf *elf = NULL;
	int fd, err;

	m->state = MODULE_NO_CFI;
	fd = vma_open_file(u->pid, v);
	if (fd >= 0)
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || exec_segment_delta(elf, &m->vaddr_minus_offset)) {
		debug_msg("unwind: %s: not an ELF file we can read: frame pointers", m->path);
		goto out;
	}
	err = unwind_table_build(elf, &t);
	if (err) {
		if (err == -E2BIG)
			m->state = MODULE_TOO_BIG;
		debug_msg("unwind: %s: no table (%s): frame pointers", m->path, strerror(-err));
		goto out;
	}
	if (t.nr > u->max_rows - u->used_rows) {
		m->state = MODULE_TOO_BIG;
		info_msg("unwind: %s needs %zu rows, %u left (raise --unwind-rows): frame pointers",
			 m->path, t.nr, u->max_rows - u->used_rows);
	} else {
		memcpy(u->rows + u->used_rows, t.rows, t.nr * sizeof(*t.rows));
		m->first_row = u->used_rows;
		m->nr_rows = t.nr;
		u->used_rows += t.nr;
		m->state = MODULE_TABLE;
		debug_msg("unwind: %s: %zu rows, %" PRIu64 " unsupported", m->path, t.nr,
			  t.unsupported);
	}
	unwind_table_free(&t);
out:
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

static struct unwind_module *module_get(struct unwinder *u, const struct vma *v)
{
	struct unwind_module *m, *mods;

	for (size_t i = 0; i < u->nr_mods; i++) {
		m = &u->mods[i];
		if (m->inode == v->inode && m->dev_major == v->dev_major &&
		    m->dev_minor == v->dev_minor && !strcmp(m->path, v->path))
			return m;
	}
	mods = realloc(u->mods, (u->nr_mods + 1) * sizeof(*mods));
	if (!mods)
		return NULL;
	u->mods = mods;
	m = &u->mods[u->nr_mods];
	memset(m, 0, sizeof(*m));
	m->path = strdup(v->path);
	if (!m->path)
		return NULL;
	m->inode = v->inode;
	m->dev_major = v->dev_major;
	m->dev_minor = v->dev_minor;
	u->nr_mods++;
	module_load(u, m, v);
	return m;
}

/*
 * Executable file mappings only: anonymous executable memory (JIT code)
 * has no CFI, and the BPF side stops at a PC in no mapping it knows.
 */
static bool unwindable(const struct vma *v)
{
	return v->exec && v->path[0] == '/';
}

int unwinder_refresh(struct unwinder *u)
{
	struct vma_list maps = {};
	struct unwind_proc *proc = &u->proc;
	__u32 key = u->pid;
	int err;

	err = vma_list_load(u->pid, &maps);
	if (err) {
		vma_list_free(&maps);
		return err;
	}
	proc->nr = 0;
	u->mappings_dropped = 0;
	for (size_t i = 0; i < maps.nr; i++) {
		const struct vma *v = &maps.v[i];
		struct unwind_mapping *um;
		struct unwind_module *m;

		if (!unwindable(v))
			continue;
		m = module_get(u, v);
		if (!m) {
			err = -ENOMEM;
			break;
		}
		if (proc->nr == UNWIND_MAX_MAPPINGS) {
			u->mappings_dropped++;
			continue;
		}
		um = &proc->maps[proc->nr++];
		um->start = v->start;
		um->end = v->end;
		um->bias = v->start - (m->vaddr_minus_offset + v->offset);
		um->first_row = m->first_row;
		um->nr_rows = m->nr_rows;
	}
	vma_list_free(&maps);
	if (err)
		return err;
	/* One update: the BPF side sees the old list or the new one. */
	if (bpf_map_update_elem(u->procs_fd, &key, proc, BPF_ANY))
		return -errno;
	return 0;
}

void unwinder_get_stats(const struct unwinder *u, struct unwinder_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < u->nr_mods; i++) {
		switch (u->mods[i].state) {
		case MODULE_TABLE:
			st->modules_table++;
			break;
		case MODULE_NO_CFI:
			st->modules_no_cfi++;
			break;
		case MODULE_TOO_BIG:
			st->modules_too_big++;
			break;
		}
	}
	st->mappings_dropped = u->mappings_dropped;
	st->rows = u->used_rows;
	st->max_rows = u->max_rows;
}

int unwind_row_at(Elf *elf, uint64_t pc, struct unwind_row *row)
{
	Dwarf_Frame *f;
	Dwarf_CFI *cfi;
	Dwarf *dw;
	int err = -ENOENT;

	cfi = open_cfi(elf, &dw);
	if (cfi && !dwarf_cfi_addrframe(cfi, pc, &f)) {
		*row = row_of(f, (uint32_t)pc);
		free(f);
		err = 0;
	}
	if (dw)
		dwarf_end(dw);
	else if (cfi)
		dwarf_cfi_end(cfi);
	return err;
}
