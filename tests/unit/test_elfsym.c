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
