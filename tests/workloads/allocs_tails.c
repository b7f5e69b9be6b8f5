// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Known calls, each from its own function, for memlens allocs' tail jumps
 * and impossible calls (tests/e2e-allocs-c.sh): run under the bump
 * allocator (bump_alloc.c), with an interposer, or under glibc.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

static void *volatile sink;

/* Four calls from one call site: at one stack pointer, one return address. */
__attribute__((noinline)) void realloc_null(void)
{
	for (int i = 0; i < 4; i++)
		sink = realloc(NULL, 40);
}

__attribute__((noinline)) void valloc_here(void)
{
	sink = valloc(100);
}

__attribute__((noinline)) void aligned_here(void)
{
	sink = aligned_alloc(64, 128);
}

__attribute__((noinline)) void pvalloc_here(void)
{
	sink = pvalloc(100);
}

__attribute__((noinline)) void malloc_here(void)
{
	sink = malloc(10);
}

/* Calls that cannot succeed: no bytes, counted apart. */
__attribute__((noinline)) void impossible_here(void)
{
	volatile size_t huge = SIZE_MAX / 4, half = SIZE_MAX / 2;

	sink = malloc(huge);
	sink = calloc(half, 4);
	sink = reallocarray(NULL, half, 4);
	sink = aligned_alloc(64, huge / 2);
}

int main(void)
{
	realloc_null();
	valloc_here();
	aligned_here();
	pvalloc_here();
	malloc_here();
	impossible_here();
	return 0;
}
