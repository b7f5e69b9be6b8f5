// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Symbolization of user addresses with elfutils: function+offset from the
 * symbol tables, file:line from DWARF (separate debug files found by
 * build-id or .gnu_debuglink where dwfl_standard_find_debuginfo looks,
 * regular files only). Files are opened through /proc/PID/map_files, so
 * deleted or replaced binaries and other mount namespaces resolve as the
 * process sees them.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <search.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "demangle.h"
#include "procmaps.h"
#include "symbolize.h"
#include "util.h"

struct sym_module {
	char *path;
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	Dwfl *dwfl;
	Dwfl_Module *mod;	/* NULL if the file could not be read */
	void *names;		/* tsearch tree of struct demangled, by symbol */
	char *build_id;		/* in hex, read once: NULL if none */
	bool build_id_read;
	struct inl_cu *inl;	/* the compile units whose inlined calls are read */
	size_t nr_inl, cap_inl;
};

/*
 * The code of a function inlined into another at the top level (not into
 * an inlined function): [lo, hi) in the module's DWARF addresses, and the
 * line of its call, in the function it is inlined into.
 */
struct inl_call {
	Dwarf_Addr lo, hi;
	const char *file;	/* owned by the module's Dwfl */
	int line;
};

/* A compile unit's inlined calls, by lo: read once, at its first frame. */
struct inl_cu {
	Dwarf_Off off;
	struct inl_call *calls;
	size_t nr, cap;
};

/* A symbol name of the module, demangled once. */
struct demangled {
	const char *mangled;	/* owned by the module's Dwfl */
	char *name;		/* NULL: the symbol is shown as it is */
};

struct sym_range {
	uint64_t start, end, offset;
	struct sym_module *mod;
};

struct symbolizer {
	int pid;
	struct sym_module **mods;
	size_t nr_mods;
	struct sym_range *ranges;
	size_t nr_ranges;
};

#define DEBUG_DIR "/usr/lib/debug"

/* The main file always comes as a descriptor (module_load): nothing to find. */
static int no_find_elf(Dwfl_Module *mod, void **userdata, const char *modname,
		       Dwarf_Addr base, char **file_name, Elf **elfp)
{
	(void)mod, (void)userdata, (void)modname, (void)base, (void)file_name, (void)elfp;
	return -1;
}

static bool same_build_id(int fd, const unsigned char *id, int len)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *found;
	bool same;

	if (!elf)
		return false;
	same = dwelf_elf_gnu_build_id(elf, &found) == len && !memcmp(found, id, len);
	elf_end(elf);
	return same;
}

/* The .gnu_debuglink checksum: zlib's CRC-32 of the whole file. */
/*
 * The debug link's CRC covers the whole candidate, which a debug link
 * names and anyone may have put there: one larger than any debug file
 * (a sparse one of an exabyte) is refused unread, and a stop request ends
 * the reading.
 */
#define DEBUG_FILE_MAX_BYTES (16ULL << 30)

static bool same_crc(int fd, GElf_Word crc)
{
	unsigned char buf[65536];
	uLong sum = crc32(0, NULL, 0);
	bool stopped_before = stop_requested();
	struct stat st;
	off_t off = 0;
	ssize_t n;

	if (fstat(fd, &st) || (unsigned long long)st.st_size > DEBUG_FILE_MAX_BYTES)
		return false;
	while ((n = pread(fd, buf, sizeof(buf), off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		/* A stop signal while it reads: not one that ended the session. */
		if (n < 0 || (!stopped_before && stop_requested()))
			return false;
		sum = crc32(sum, buf, n);
		off += n;
	}
	return sum == crc;
}

/*
 * PATH if it is a regular file and, when CHECK, the debug file of MOD (its
 * build-id, else the link's CRC): its descriptor, its name in *FOUND.
 */
static int try_debug_file(Dwfl_Module *mod, const char *path, bool check, GElf_Word crc,
			  char **found)
{
	const unsigned char *id;
	GElf_Addr vaddr;
	int fd = open_regular(path), len;

	if (fd < 0)
		return -1;
	len = dwfl_module_build_id(mod, &id, &vaddr);
	if (check && (len > 0 ? !same_build_id(fd, id, len) : crc && !same_crc(fd, crc)))
		goto refuse;
	*found = strdup(path);
	if (*found)
		return fd;
refuse:
	close(fd);
	return -1;
}

/* The main file's own .gnu_debuglink name, or NULL. */
static const char *main_debuglink(Dwfl_Module *mod)
{
	GElf_Addr bias;
	GElf_Word crc;
	Elf *elf = dwfl_module_getelf(mod, &bias);

	return elf ? dwelf_elf_gnu_debuglink(elf, &crc) : NULL;
}

/* By MOD's build-id, under /usr/lib/debug/.build-id/xx/rest.debug. */
static int find_by_build_id(Dwfl_Module *mod, char **found)
{
	char path[sizeof(DEBUG_DIR) + 2 * 64 + 32], hex[2 * 64 + 1];
	const unsigned char *id;
	GElf_Addr vaddr;
	int len = dwfl_module_build_id(mod, &id, &vaddr);

	if (len < 2 || len > 64)
		return -1;
	for (int i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	snprintf(path, sizeof(path), DEBUG_DIR "/.build-id/%.2s/%s.debug", hex, hex + 2);
	return try_debug_file(mod, path, true, 0, found);
}

/* LINK beside FILE_NAME (in DIR), in DIR/.debug/, under /usr/lib/debug/DIR/. */
static int find_by_link(Dwfl_Module *mod, const char *file_name, const char *dir,
			const char *link, GElf_Word crc, char **found)
{
	static const char *const places[] = { "%s/%s", "%s/.debug/%s", DEBUG_DIR "%s/%s" };
	char path[2 * 4096 + sizeof(DEBUG_DIR) + 16];
	int fd;

	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		snprintf(path, sizeof(path), places[i], dir, link);
		/* The file itself is no separate debug file. */
		if (!strcmp(path, file_name))
			continue;
		fd = try_debug_file(mod, path, true, crc, found);
		if (fd >= 0)
			return fd;
	}
	return -1;
}

/*
 * The places dwfl_standard_find_debuginfo looks, in its order: by
 * build-id, then by the debug link (NAME.debug without one). It opens
 * each candidate itself, so a FIFO there would block memlens for good in
 * open(), retried after Ctrl-C: here each goes through open_regular().
 * A .gnu_debugaltlink (dwz) comes here too, as a DEBUGLINK that is not
 * the main file's, FILE_NAME the debug file: its path, beside FILE_NAME if
 * relative, taken unchecked as the standard one does.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  GElf_Addr base, const char *file_name, const char *debuglink,
			  GElf_Word crc, char **found)
{
	const char *own = main_debuglink(mod), *slash;
	char dir[4096], link[4096 + 8];
	int fd;

	(void)userdata, (void)modname, (void)base;
	*found = NULL;
	slash = file_name ? strrchr(file_name, '/') : NULL;
	if (!slash || slash - file_name >= (long)sizeof(dir) ||
	    strlen(slash + 1) + 7 > sizeof(link) || (debuglink && strlen(debuglink) >= sizeof(link)))
		return -1;	/* no path a file could have */
	memcpy(dir, file_name, slash - file_name);
	dir[slash - file_name] = 0;
	if (debuglink && (!own || strcmp(own, debuglink))) {
		if (debuglink[0] == '/')
			return try_debug_file(mod, debuglink, false, 0, found);
		if (snprintf(link, sizeof(link), "%s/%s", dir, debuglink) >= (int)sizeof(link))
			return -1;
		return try_debug_file(mod, link, false, 0, found);
	}
	fd = find_by_build_id(mod, found);
	if (fd >= 0)
		return fd;
	if (debuglink)
		strcpy(link, debuglink);
	else
		snprintf(link, sizeof(link), "%s.debug", slash + 1);
	return find_by_link(mod, file_name, dir, link, crc, found);
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = no_find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

struct symbolizer *symbolizer_new(int pid)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (s)
		s->pid = pid;
	return s;
}

static void demangled_free(void *p)
{
	struct demangled *d = p;

	free(d->name);
	free(d);
}

static void module_free(struct sym_module *m)
{
	tdestroy(m->names, demangled_free);
	for (size_t i = 0; i < m->nr_inl; i++)
		free(m->inl[i].calls);
	free(m->inl);
	free(m->build_id);
	if (m->dwfl)
		dwfl_end(m->dwfl);
	free(m->path);
	free(m);
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr_mods; i++)
		module_free(s->mods[i]);
	free(s->mods);
	free(s->ranges);
	free(s);
}

/* Report the file at bias 0: a Dwfl address is then the ELF's own vaddr. */
static void module_load(struct sym_module *m, int fd)
{
	/* Not opened as the process sees it: do not guess with a host file. */
	if (fd < 0)
		return;
	m->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!m->dwfl) {
		close(fd);
		return;
	}
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, m->path, m->path, fd, 0, false);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod)
		close(fd);
}

static struct sym_module *module_get(struct symbolizer *s, const struct vma *v)
{
	struct sym_module *m, **mods;

	for (size_t i = 0; i < s->nr_mods; i++) {
		m = s->mods[i];
		if (m->inode == v->inode && m->dev_major == v->dev_major &&
		    m->dev_minor == v->dev_minor && !strcmp(m->path, v->path))
			return m;
	}
	mods = realloc(s->mods, (s->nr_mods + 1) * sizeof(*mods));
	if (!mods)
		return NULL;
	s->mods = mods;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->path = strdup(v->path);
	if (!m->path) {
		free(m);
		return NULL;
	}
	m->inode = v->inode;
	m->dev_major = v->dev_major;
	m->dev_minor = v->dev_minor;
	module_load(m, vma_open_file(s->pid, v));
	s->mods[s->nr_mods++] = m;
	return m;
}

static int range_cmp(const void *a, const void *b)
{
	const struct sym_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static bool overlaps(const struct sym_range *r, const struct vma_list *maps)
{
	for (size_t i = 0; i < maps->nr; i++)
		if (maps->v[i].exec && r->start < maps->v[i].end && maps->v[i].start < r->end)
			return true;
	return false;
}

/*
 * Every executable mapping is a range, anonymous ones (JIT code) too: a
 * return address there is code, though no file names it (MOD NULL).
 */
static int add_range(struct symbolizer *s, const struct vma *v, struct sym_range *r)
{
	struct sym_module *m = NULL;

	if (v->path[0]) {
		m = module_get(s, v);
		if (!m)
			return -ENOMEM;
	}
	*r = (struct sym_range){ v->start, v->end, v->offset, m };
	return 0;
}

int symbolizer_add_maps(struct symbolizer *s, const struct vma_list *maps)
{
	struct sym_range *ranges;
	size_t nr = 0;

	ranges = calloc(maps->nr + s->nr_ranges + 1, sizeof(*ranges));
	if (!ranges)
		return -ENOMEM;
	/* Old ranges stay unless something new is mapped over them. */
	for (size_t i = 0; i < s->nr_ranges; i++)
		if (!overlaps(&s->ranges[i], maps))
			ranges[nr++] = s->ranges[i];
	for (size_t i = 0; i < maps->nr; i++)
		if (maps->v[i].exec && !add_range(s, &maps->v[i], &ranges[nr]))
			nr++;
	qsort(ranges, nr, sizeof(*ranges), range_cmp);
	free(s->ranges);
	s->ranges = ranges;
	s->nr_ranges = nr;
	return 0;
}

int symbolizer_refresh(struct symbolizer *s)
{
	struct vma_list maps = {};
	int err;

	err = vma_list_load(s->pid, &maps);
	if (!err)
		err = symbolizer_add_maps(s, &maps);
	vma_list_free(&maps);
	return err;
}

static const struct sym_range *range_find(const struct symbolizer *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nr_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct sym_range *r = &s->ranges[mid];

		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool symbolizer_is_code(struct symbolizer *s, uint64_t addr)
{
	return addr && range_find(s, addr - 1);
}

bool symbolizer_has_code(const struct symbolizer *s)
{
	return s->nr_ranges;
}

size_t symbolizer_code_frames(struct symbolizer *s, const uint64_t *ips, size_t nr)
{
	/* Frame #0 is where the stack was taken, not a return address read from memory. */
	if (!nr || !ips[0])
		return 0;
	for (size_t i = 1; i < nr; i++)
		if (!symbolizer_is_code(s, ips[i]))
			return i;
	return nr;
}

static int demangled_cmp(const void *a, const void *b)
{
	const struct demangled *x = a, *y = b;

	return x->mangled < y->mangled ? -1 : x->mangled > y->mangled;
}

/*
 * SYM as people read it (C++ and Rust demangled), kept with the module for
 * as long as the Dwfl name it stands for.
 */
static const char *readable_name(struct sym_module *m, const char *sym)
{
	struct demangled key = { .mangled = sym }, *d, **found;

	found = tfind(&key, &m->names, demangled_cmp);
	if (found)
		return (*found)->name ? (*found)->name : sym;
	d = malloc(sizeof(*d));
	if (!d)
		return sym;
	d->mangled = sym;
	d->name = demangle(sym);
	if (!tsearch(d, &m->names, demangled_cmp)) {
		demangled_free(d);
		return sym;
	}
	return d->name ? d->name : sym;
}

/* File offset to the ELF virtual address it is loaded at. */
static int offset_to_vaddr(Dwfl_Module *mod, uint64_t off, uint64_t *vaddr)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t nr;

	if (!elf || elf_getphdrnum(elf, &nr))
		return -ENOENT;
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (off >= ph.p_offset && off < ph.p_offset + ph.p_filesz) {
			*vaddr = off - ph.p_offset + ph.p_vaddr + bias;
			return 0;
		}
	}
	return -ENOENT;
}

/* ADDR as the ELF file of R sees it (what addr2line takes), else its file offset. */
static uint64_t module_offset(const struct sym_range *r, uint64_t addr)
{
	uint64_t off = addr - r->start + r->offset, vaddr;

	if (r->mod->mod && !offset_to_vaddr(r->mod->mod, off - 1, &vaddr))
		return vaddr + 1;
	return off;
}

/* M's GNU build ID in hex, read at the first call: NULL if it has none. */
static const char *module_build_id(struct sym_module *m)
{
	const unsigned char *id;
	GElf_Addr vaddr;
	int len;

	if (m->build_id_read || !m->mod)
		return m->build_id;
	m->build_id_read = true;
	len = dwfl_module_build_id(m->mod, &id, &vaddr);
	if (len <= 0)
		return NULL;
	m->build_id = malloc(2 * len + 1);
	if (!m->build_id)
		return NULL;
	for (int i = 0; i < len; i++)
		snprintf(m->build_id + 2 * i, 3, "%02x", id[i]);
	return m->build_id;
}

/* The top-level inlined calls under DIE into C, with their call lines; -ENOMEM or 0. */
static int collect_inlined(Dwarf_Die *die, Dwarf_Files *files, size_t nfiles, struct inl_cu *c)
{
	Dwarf_Addr base, lo, hi;
	Dwarf_Word idx, line;
	Dwarf_Attribute attr;
	const char *file;
	Dwarf_Die child;
	ptrdiff_t off;
	int tag;

	if (dwarf_child(die, &child))
		return 0;
	do {
		tag = dwarf_tag(&child);
		if (tag != DW_TAG_inlined_subroutine) {
			/* Scopes that hold code: functions, blocks, and what holds those. */
			if ((tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
			     tag == DW_TAG_namespace || tag == DW_TAG_class_type ||
			     tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
			     tag == DW_TAG_try_block || tag == DW_TAG_catch_block) &&
			    collect_inlined(&child, files, nfiles, c))
				return -ENOMEM;
			continue;
		}
		/* Not below it: its own inlined calls are within its ranges. */
		if (dwarf_formudata(dwarf_attr(&child, DW_AT_call_file, &attr), &idx) ||
		    dwarf_formudata(dwarf_attr(&child, DW_AT_call_line, &attr), &line) ||
		    idx >= nfiles || !(file = dwarf_filesrc(files, idx, NULL, NULL)))
			continue;
		for (off = 0; (off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0;) {
			if (array_grow((void **)&c->calls, c->nr, &c->cap, sizeof(*c->calls)))
				return -ENOMEM;
			c->calls[c->nr++] = (struct inl_call){ lo, hi, file, line };
		}
	} while (!dwarf_siblingof(&child, &child));
	return 0;
}

static int cmp_inl_call(const void *a, const void *b)
{
	const struct inl_call *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The inlined calls of compile unit CU of M, read at the first call: NULL if none can be. */
static const struct inl_cu *inlined_of(struct sym_module *m, Dwarf_Die *cu)
{
	Dwarf_Off off = dwarf_dieoffset(cu);
	Dwarf_Files *files;
	struct inl_cu *c;
	size_t nfiles;

	for (size_t i = 0; i < m->nr_inl; i++)
		if (m->inl[i].off == off)
			return &m->inl[i];
	if (array_grow((void **)&m->inl, m->nr_inl, &m->cap_inl, sizeof(*m->inl)))
		return NULL;
	c = &m->inl[m->nr_inl++];
	*c = (struct inl_cu){ .off = off };
	/* Without a file table no call line can be named: an empty list, read once. */
	if (dwarf_getsrcfiles(cu, &files, &nfiles))
		return c;
	if (collect_inlined(cu, files, nfiles, c)) {
		free(c->calls);
		*c = (struct inl_cu){ .off = off };
		return c;
	}
	if (c->nr)
		qsort(c->calls, c->nr, sizeof(*c->calls), cmp_inl_call);
	return c;
}

/*
 * Where the function named by the symbol table is at ADDR (an address of
 * M's DWARF) when ADDR is in code inlined into it: the line of the call
 * of the outermost inlined function, in the function's own file, not the
 * line of the inlined code (a header's, often). False if ADDR is in no
 * inlined code, or the DWARF does not say. Each compile unit is read once
 * (inlined_of()), then a binary search a frame.
 */
static bool inlined_call_site(struct sym_module *m, Dwarf_Addr addr, const char **file,
			      int *line)
{
	const struct inl_cu *c;
	Dwarf_Addr bias, a;
	Dwarf_Die *cu;
	size_t lo = 0, hi;

	cu = dwfl_module_addrdie(m->mod, addr, &bias);
	if (!cu || !(c = inlined_of(m, cu)))
		return false;
	a = addr - bias;
	/* The last call that begins at or below A. */
	for (hi = c->nr; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->calls[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || a >= c->calls[lo - 1].hi)
		return false;
	*file = c->calls[lo - 1].file;
	*line = c->calls[lo - 1].line;
	return true;
}

void symbolizer_resolve(struct symbolizer *s, uint64_t addr, struct frame_info *fi)
{
	const struct sym_range *r;
	uint64_t vaddr, lookup;
	GElf_Off sym_off;
	GElf_Sym sym;
	Dwfl_Line *line;

	memset(fi, 0, sizeof(*fi));
	fi->addr = addr;
	r = range_find(s, addr - 1);
	if (!r || !r->mod)
		return;
	fi->module = r->mod->path;
	fi->map_start = r->start;
	fi->map_end = r->end;
	fi->map_offset = r->offset;
	fi->build_id = module_build_id(r->mod);
	/* Without a symbol, the offset is in the module: still a place to look up. */
	fi->sym_offset = module_offset(r, addr);
	if (!r->mod->mod || offset_to_vaddr(r->mod->mod, addr - 1 - r->start + r->offset, &vaddr))
		return;
	lookup = vaddr;
	fi->symbol = dwfl_module_addrinfo(r->mod->mod, lookup, &sym_off, &sym,
					  NULL, NULL, NULL);
	if (fi->symbol) {
		fi->symbol = readable_name(r->mod, fi->symbol);
		fi->sym_offset = sym_off + 1;	/* offset of ADDR, not ADDR - 1 */
	}
	/* The line in the function the frame is named after, inlined code or not. */
	if (inlined_call_site(r->mod, lookup, &fi->file, &fi->line))
		return;
	line = dwfl_module_getsrc(r->mod->mod, lookup);
	if (line)
		fi->file = dwfl_lineinfo(line, NULL, &fi->line, NULL, NULL, NULL);
}
