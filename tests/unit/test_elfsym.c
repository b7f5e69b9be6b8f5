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

/* The offset found in the file is where the function is mapped from. */
void test_elfsym(void)
{
	struct vma_list maps = {};
	struct elf_file *ef;
	const struct vma *v;
	uint64_t off, addr = (uint64_t)(uintptr_t)unit_marker_fn;

	CHECK(elf_file_open("/proc/self/exe", &ef) == 0);
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
}

/* The probe on free() moves past `test %rdi,%rdi; je` only onto a push. */
void test_free_probe_skip(void)
{
	static const unsigned char glibc_236[16] = {
		0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00,	/* test; je rel32 */
		0x55,							/* push %rbp */
		0x48, 0x8d, 0x77, 0xf0, 0x53 };
	static const unsigned char short_je[16] = {
		0x48, 0x85, 0xff, 0x74, 0x10, 0x41, 0x54 };		/* test; je rel8; push %r12 */
	static const unsigned char no_push[16] = {
		0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0x89, 0xfb };	/* ...; mov %rdi,%rbx */
	static const unsigned char other_reg[16] = {
		0x48, 0x85, 0xf6, 0x74, 0x10, 0x55 };			/* test %rsi,%rsi */
	static const unsigned char push_first[16] = { 0x41, 0x54, 0x55, 0x53 };

	CHECK_U64(free_probe_skip(glibc_236, sizeof(glibc_236)), 9);
	CHECK_U64(free_probe_skip(short_je, sizeof(short_je)), 5);
	CHECK_U64(free_probe_skip(no_push, sizeof(no_push)), 0);
	CHECK_U64(free_probe_skip(other_reg, sizeof(other_reg)), 0);
	CHECK_U64(free_probe_skip(push_first, sizeof(push_first)), 0);
	CHECK_U64(free_probe_skip(glibc_236, 8), 0);
}
