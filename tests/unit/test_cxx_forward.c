// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What user/cxx_forward.c proves of build/cxx_sample.so, assembled from
 * tests/unit/cxx_sample.S: libstdc++'s delete, new and new[] on glibc are
 * left to free and malloc, and each near miss stays hooked.
 */
#include "cxx_forward.h"
#include "elfsym.h"
#include "unit.h"

#define SAMPLE "build/cxx_sample.so"

static const char *const to_free[] = { "free", "_ZdlPv", NULL };

static void tail(struct elf_file *ef, const char *func, const char *const *targets,
		 struct cxx_forward *fw)
{
	uint64_t off, size;

	memset(fw, 0, sizeof(*fw));
	CHECK(elf_func_lookup(ef, func, &off, &size) == 0);
	cxx_forward_tail(ef, off, size, targets, fw);
}

static void calls_to(struct elf_file *ef, const char *func, const char *callee,
		     struct cxx_forward *fw, uint64_t *off)
{
	uint64_t size;

	memset(fw, 0, sizeof(*fw));
	CHECK(elf_func_lookup(ef, func, off, &size) == 0);
	cxx_forward_calls(ef, *off, size, callee, fw);
}

static void calls(struct elf_file *ef, const char *func, struct cxx_forward *fw, uint64_t *off)
{
	calls_to(ef, func, "malloc", fw, off);
}

void test_cxx_forward(void)
{
	static const char *const to_new[] = { "_Znwm", NULL };
	struct cxx_forward fw;
	struct elf_file *ef = NULL;
	uint64_t off;

	CHECK(elf_file_open(SAMPLE, &ef) == 0);
	if (!ef)
		return;
	/* delete: endbr64; jmp free@plt */
	tail(ef, "_ZdlPv", to_free, &fw);
	CHECK(fw.kind == CXX_TAIL);
	CHECK_STR(fw.target, "free@plt");
	CHECK_STR(fw.why, "jmp free@plt at +4");
	/* a mov that leaves %rdi alone, then a jump to another delete */
	tail(ef, "_ZdlPvmSt11align_val_t", to_free, &fw);
	CHECK(fw.kind == CXX_TAIL);
	CHECK_STR(fw.why, "jmp _ZdlPv@plt at +7");
	/* the pointer changed on the way, or a jump to no free: hooked */
	tail(ef, "bad_delete_rdi", to_free, &fw);
	CHECK(fw.kind == CXX_HOOKED);
	tail(ef, "bad_delete_elsewhere", to_free, &fw);
	CHECK(fw.kind == CXX_HOOKED);
	/* new[]: a jump to new within the file */
	tail(ef, "_Znam", to_new, &fw);
	CHECK(fw.kind == CXX_TAIL);
	CHECK_STR(fw.why, "jmp _Znwm at +4");
	/* new is no jump */
	tail(ef, "_Znwm", to_new, &fw);
	CHECK(fw.kind == CXX_HOOKED);

	/* new: one call to malloc, at +23, returned at once; rbx pushed */
	calls(ef, "_Znwm", &fw, &off);
	CHECK(fw.kind == CXX_CALLS);
	CHECK(fw.nr_sites == 1);
	CHECK(fw.site[0] == off + 28);
	CHECK(fw.slot[0] == 8);
	CHECK_STR(fw.target, "malloc@plt");
	/* nothrow new: new's result returned as it is, 8 bytes of frame */
	calls_to(ef, "_ZnwmRKSt9nothrow_t", "_Znwm", &fw, &off);
	CHECK(fw.kind == CXX_CALLS);
	CHECK(fw.nr_sites == 1);
	CHECK(fw.site[0] == off + 13);
	CHECK(fw.slot[0] == 8);
	CHECK_STR(fw.target, "_Znwm@plt");
	calls(ef, "_ZnwmRKSt9nothrow_t", &fw, &off);
	CHECK(fw.kind == CXX_HOOKED);		/* it calls no malloc */
	/* the block stored before it is returned; CFI at odds with the code */
	calls(ef, "bad_new_keeps", &fw, &off);
	CHECK(fw.kind == CXX_HOOKED);
	CHECK_STR(fw.why, "does more than return the block");
	calls(ef, "bad_new_cfi", &fw, &off);
	CHECK(fw.kind == CXX_HOOKED);
	CHECK_STR(fw.why, "its CFI does not confirm the stack depth");
	/* rbp saved below the return address (aligned new): read from there */
	calls(ef, "bad_new_rbp", &fw, &off);
	CHECK(fw.kind == CXX_CALLS);
	CHECK(fw.slot[0] == NEW_SITE_SLOT(8, 0 + 1));
	CHECK(NEW_SITE_RET(fw.slot[0]) == 8 && NEW_SITE_RBP(fw.slot[0]) == 1);
	/* delete calls nothing */
	calls(ef, "_ZdlPv", &fw, &off);
	CHECK(fw.kind == CXX_HOOKED);
	elf_file_close(ef);
}
