// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "alloc_probes.h"
#include "elfsym.h"
#include "procmaps.h"
#include "unit.h"

__attribute__((noinline)) int unit_marker_fn(int x)
{
	return x * 3 + 1;
}

static __attribute__((noinline, used)) int unit_static_fn(int x)
{
	return x * 5;
}

/*
 * A function with a second entry 1 byte in (push %rbp; then the inner
 * symbol: pop %rbp; ret), never called: only its symbols are read.
 */
__asm__(".text\n"
	".globl unit_outer_fn\n.type unit_outer_fn,@function\n"
	"unit_outer_fn:\n\tpush %rbp\n"
	".globl unit_inner_fn\n.type unit_inner_fn,@function\n"
	"unit_inner_fn:\n\tpop %rbp\n\tret\n"
	".size unit_outer_fn, 3\n.size unit_inner_fn, 2\n");

/*
 * A tail jump, its frame popped, after an instruction holding an 0xe9
 * byte (mov $0xe9,%ebx: bb e9 00 00 00), never called: only its call
 * frame information is read.
 */
__asm__(".text\n"
	".globl unit_tail_fn\n.type unit_tail_fn,@function\n"
	"unit_tail_fn:\n\t.cfi_startproc\n"
	"\tpush %rbx\n\t.cfi_def_cfa_offset 16\n\t.cfi_offset rbx, -16\n"
	"\tmov $0xe9, %ebx\n"
	"\tpop %rbx\n\t.cfi_def_cfa_offset 8\n"
	"\tjmp unit_marker_fn\n\t.cfi_endproc\n"
	".size unit_tail_fn, .-unit_tail_fn\n");

/* Where the call frame information proves a frame popped: a tail jump's byte, and no other. */
static void test_frame_popped(void)
{
	struct elf_file *ef = NULL;
	uint64_t off, vaddr;

	CHECK(elf_file_open("/proc/self/exe", &ef) == 0);
	if (!ef)
		return;
	CHECK(elf_func_offset(ef, "unit_tail_fn", &off) == 0);
	CHECK(elf_offset_vaddr(ef, off, &vaddr) == 0);
	CHECK(elf_frame_popped_at(ef, vaddr) == 1);		/* the entry: rsp + 8 */
	CHECK(elf_frame_popped_at(ef, vaddr + 1) == 0);	/* after the push: rsp + 16 */
	CHECK(elf_frame_popped_at(ef, vaddr + 2) == 0);	/* the e9 inside the mov */
	CHECK(elf_frame_popped_at(ef, vaddr + 6) == 0);	/* the pop: no row begins */
	CHECK(elf_frame_popped_at(ef, vaddr + 7) == 1);	/* the jmp, frame popped */
	elf_file_close(ef);
}

/* Symbols inside a probe's skipped bytes: another way into them. */
static void test_symbol_within(void)
{
	struct elf_file *ef = NULL;
	uint64_t outer, inner;

	CHECK(elf_file_open("/proc/self/exe", &ef) == 0);
	if (!ef)
		return;
	CHECK(elf_func_offset(ef, "unit_outer_fn", &outer) == 0);
	CHECK(elf_func_offset(ef, "unit_inner_fn", &inner) == 0);
	CHECK_U64(inner, outer + 1);
	CHECK(elf_symbol_within(ef, outer, outer + 1) == 1);	/* probe on the pop */
	CHECK(elf_symbol_within(ef, outer, outer + 2) == 1);	/* past it */
	CHECK(elf_symbol_within(ef, outer, outer) == 0);	/* at the entry: no move */
	CHECK(elf_symbol_within(ef, inner, inner + 1) == 0);	/* the ret: no symbol */
	elf_file_close(ef);
}

/* The offset found in the file is where the function is mapped from. */
void test_elfsym(void)
{
	test_frame_popped();
	struct vma_list maps = {};
	struct elf_file *ef = NULL;
	const struct vma *v;
	uint64_t off, addr = (uint64_t)(uintptr_t)unit_marker_fn;

	CHECK(elf_file_open("/proc/self/exe", &ef) == 0);
	if (!ef)
		return;
	CHECK(elf_func_offset(ef, "unit_marker_fn", &off) == 0);
	CHECK(vma_list_load(getpid(), &maps) == 0);
	v = vma_find(&maps, addr);
	CHECK(v != NULL);
	if (v)
		CHECK_U64(off, addr - v->start + v->offset);
	CHECK(elf_func_offset(ef, "no_such_function_here", &off) == -ENOENT);
	/* A static function: not a definition other objects can call. */
	CHECK(elf_func_offset(ef, "unit_static_fn", &off) == -ENOENT);
	elf_file_close(ef);

	v = vma_find_libc(&maps);
	CHECK(v != NULL);
	if (v) {
		uint64_t m, a, mem;

		CHECK(elf_file_open(v->path, &ef) == 0);
		CHECK(elf_func_offset(ef, "malloc", &m) == 0);
		/* glibc: aligned_alloc is memalign, one address. */
		CHECK(elf_func_offset(ef, "aligned_alloc", &a) == 0);
		CHECK(elf_func_offset(ef, "memalign", &mem) == 0);
		CHECK_U64(a, mem);
		elf_file_close(ef);
	}
	CHECK(elf_file_open("/nonexistent", &ef) == -ENOENT);
	CHECK(elf_file_open("/proc/self/status", &ef) == -ENOEXEC);
	vma_list_free(&maps);
	test_symbol_within();
}
