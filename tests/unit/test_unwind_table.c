// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The unwind table builder on build/unwind_sample.so, assembled from
 * tests/unit/unwind_sample.S with known CFI; and on files without CFI.
 * The unwinder on this very process, with real BPF maps: where its rows
 * and mappings say our own functions and libc's are.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "unit.h"
#include "unwind_table.h"

#define SAMPLE "build/unwind_sample.so"
#define SAMPLE_NOCFI "build/unwind_sample_nocfi.so"

/* The ELF address of symbol NAME, 0 if absent. */
static uint64_t sym_addr(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = elf_getdata(scn, NULL);

		if (!gelf_getshdr(scn, &sh) || !data ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;

			if (!gelf_getsym(data, i, &sym))
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (s && !strcmp(s, name))
				return sym.st_value;
		}
	}
	return 0;
}

static Elf *open_elf(const char *path, int *fd)
{
	elf_version(EV_CURRENT);
	*fd = open(path, O_RDONLY);
	if (*fd < 0) {
		fprintf(stderr, "%s: %s (make build/unit_tests builds it)\n", path, strerror(errno));
		return NULL;
	}
	return elf_begin(*fd, ELF_C_READ_MMAP, NULL);
}

/* "cfa_rule cfa_offset rbp_rule rbp_offset" of ROW. */
static const char *rule_of(const struct unwind_row *row)
{
	static char buf[64];

	if (!row)
		return "no row";
	snprintf(buf, sizeof(buf), "%d %d %d %d", row->rules & 0xf, row->cfa_off8 * 8,
		 row->rules >> 4, row->rbp_off8 * 8);
	return buf;
}

/* The rule of the row of T covering PC. */
static const char *rule_at(const struct unwind_table *t, uint64_t pc)
{
	return rule_of(unwind_table_find(t->rows, t->nr, pc));
}

static void test_sample(void)
{
	struct unwind_table t;
	uint64_t fp, big, expr, end, nocfi;
	Elf *elf;
	int fd;

	elf = open_elf(SAMPLE, &fd);
	CHECK(elf != NULL);
	if (!elf)
		return;
	fp = sym_addr(elf, "fp_func");
	big = sym_addr(elf, "big_func");
	expr = sym_addr(elf, "expr_func");
	end = sym_addr(elf, "end_func");
	nocfi = sym_addr(elf, "nocfi_func");
	CHECK(fp && big && expr && end && nocfi);
	CHECK_U64(unwind_table_build(elf, &t), 0);
	/* 4 rows of fp_func, 5 of big_func, 1 each of the others. */
	CHECK_U64(t.nr, 12);
	CHECK_U64(t.unsupported, 1);
	for (size_t i = 1; i < t.nr; i++)
		CHECK(t.rows[i - 1].pc < t.rows[i].pc);

	CHECK(unwind_table_find(t.rows, t.nr, fp - 1) == NULL);
	CHECK_STR(rule_at(&t, fp), "1 8 0 0");		/* rsp+8, rbp unchanged */
	CHECK_STR(rule_at(&t, fp + 1), "1 16 1 -16");	/* after push %rbp */
	CHECK_STR(rule_at(&t, fp + 3), "1 16 1 -16");
	CHECK_STR(rule_at(&t, fp + 4), "2 16 1 -16");	/* rbp+16 at the call */
	CHECK_STR(rule_at(&t, fp + 8), "2 16 1 -16");	/* the call's last byte */
	CHECK_STR(rule_at(&t, fp + 10), "1 8 1 -16");	/* after pop %rbp */

	CHECK_STR(rule_at(&t, big), "1 8 0 0");
	CHECK_STR(rule_at(&t, big + 8), "1 4112 0 0");	/* rbx saved: not our concern */
	CHECK_STR(rule_at(&t, big + 16), "1 16 0 0");
	CHECK_STR(rule_at(&t, big + 17), "1 8 0 0");

	CHECK_U64(unwind_table_find(t.rows, t.nr, expr)->rules & 0xf, UNWIND_CFA_UNSUPPORTED);
	CHECK_U64(unwind_table_find(t.rows, t.nr, end + 1)->rules & 0xf, UNWIND_CFA_END);
	CHECK_U64(unwind_table_find(t.rows, t.nr, nocfi)->rules & 0xf, UNWIND_CFA_NONE);
	/* Past the end of .text: nothing covers it. */
	CHECK_U64(unwind_table_find(t.rows, t.nr, nocfi + 0x10000)->rules & 0xf, UNWIND_CFA_NONE);
	unwind_table_free(&t);
	elf_end(elf);
	close(fd);
}

static void test_no_cfi(void)
{
	struct unwind_table t;
	Elf *elf;
	int fd;

	elf = open_elf(SAMPLE_NOCFI, &fd);
	CHECK(elf != NULL);
	if (!elf)
		return;
	CHECK_U64(unwind_table_build(elf, &t), -ENOENT);
	CHECK(t.rows == NULL);
	elf_end(elf);
	close(fd);
}

/* The mapping of PROC that contains ADDR, or NULL. */
static const struct unwind_mapping *mapping_of(const struct unwind_proc *proc, uint64_t addr)
{
	for (uint32_t i = 0; i < proc->nr; i++)
		if (addr >= proc->maps[i].start && addr < proc->maps[i].end)
			return &proc->maps[i];
	return NULL;
}

/*
 * Function FN of this process, named NAME in the file at PATH: its mapping
 * has a table, ip - bias is its ELF address, and the row there is a
 * function entry's (CFA = rsp + 8, rbp unchanged).
 */
static void check_function(const struct unwind_proc *proc, const struct unwind_row *rows,
			   const char *path, const char *name, uint64_t fn)
{
	const struct unwind_mapping *m = mapping_of(proc, fn);
	const struct unwind_row *row;
	uint64_t want;
	Elf *elf;
	int fd;

	CHECK(m != NULL);
	if (!m)
		return;
	CHECK(m->nr_rows > 0);
	elf = open_elf(path, &fd);
	CHECK(elf != NULL);
	if (!elf)
		return;
	want = sym_addr(elf, name);
	CHECK(want != 0);
	CHECK_U64(fn - m->bias, want);
	row = unwind_table_find(rows + m->first_row, m->nr_rows, fn - m->bias);
	CHECK_STR(rule_of(row), "1 8 0 0");
	elf_end(elf);
	close(fd);
}

static void test_unwinder_self(void)
{
	const uint32_t max_rows = UNWIND_DEFAULT_ROWS;
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE);
	size_t rows_len = max_rows * sizeof(struct unwind_row);
	struct unwind_proc *proc = calloc(1, sizeof(*proc));
	struct unwinder_stats st;
	struct unwinder *u = NULL;
	struct unwind_row *rows;
	int rows_fd, procs_fd;
	__u32 pid = getpid();
	char libc[4096];
	Dl_info info;

	rows_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "unwind_rows", sizeof(__u32),
				 sizeof(struct unwind_row), max_rows, &mmapable);
	procs_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "unwind_procs", sizeof(__u32),
				  sizeof(struct unwind_proc), 4, NULL);
	CHECK(proc && rows_fd >= 0 && procs_fd >= 0);
	if (!proc || rows_fd < 0 || procs_fd < 0)
		goto out;
	u = unwinder_new(pid, rows_fd, max_rows, procs_fd);
	CHECK(u != NULL);
	if (!u)
		goto out;
	CHECK_U64(unwinder_refresh(u), 0);
	CHECK_U64(bpf_map_lookup_elem(procs_fd, &pid, proc), 0);
	rows = mmap(NULL, rows_len, PROT_READ, MAP_SHARED, rows_fd, 0);
	CHECK(rows != MAP_FAILED);
	if (rows == MAP_FAILED)
		goto out;
	for (uint32_t i = 1; i < proc->nr; i++)
		CHECK(proc->maps[i - 1].end <= proc->maps[i].start);
	/* Ours, a PIE: the bias is where it was loaded. */
	check_function(proc, rows, "/proc/self/exe", "unwind_table_find",
		       (uint64_t)unwind_table_find);
	/* libc's, from its dynamic symbols (it has no others). */
	CHECK(dladdr((void *)strdup, &info) && info.dli_fname);
	if (info.dli_fname) {
		snprintf(libc, sizeof(libc), "%s", info.dli_fname);
		check_function(proc, rows, libc, "strdup", (uint64_t)strdup);
	}
	unwinder_get_stats(u, &st);
	CHECK(st.modules_table >= 3);	/* ourselves, libc, ld.so at least */
	CHECK_U64(st.modules_too_big, 0);
	CHECK_U64(st.mappings_dropped, 0);
	CHECK(st.rows > 0 && st.rows <= max_rows);
	munmap(rows, rows_len);
out:
	unwinder_free(u);
	free(proc);
	if (rows_fd >= 0)
		close(rows_fd);
	if (procs_fd >= 0)
		close(procs_fd);
}

void test_unwind_table(void)
{
	test_sample();
	test_no_cfi();
	test_unwinder_self();
}
