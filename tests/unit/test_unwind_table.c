// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The unwind table builder on build/unwind_sample.so, assembled from
 * tests/unit/unwind_sample.S with known CFI; and on files without CFI.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <unistd.h>
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

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !data)
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

/* "cfa_rule cfa_offset rbp_rule rbp_offset" of the row covering PC. */
static const char *rule_at(const struct unwind_table *t, uint64_t pc)
{
	static char buf[64];
	const struct unwind_row *row = unwind_table_find(t->rows, t->nr, pc);

	if (!row)
		return "no row";
	snprintf(buf, sizeof(buf), "%d %d %d %d", row->rules & 0xf, row->cfa_off8 * 8,
		 row->rules >> 4, row->rbp_off8 * 8);
	return buf;
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

void test_unwind_table(void)
{
	test_sample();
	test_no_cfi();
}
