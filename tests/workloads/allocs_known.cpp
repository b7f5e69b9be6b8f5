// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Allocator calls of exactly known sizes, each from its own function, for
 * memlens allocs (tests/e2e-allocs-c.sh):
 *
 *   leak_here            7 x malloc(4096)                     28672 bytes
 *   calloc_here          1 x calloc(3, 100)                     300
 *   realloc_null         1 x realloc(NULL, 40)                   40
 *   realloc_grow         2 x realloc(p, 500), realloc(p, 1000) 1500
 *   realloc_zero         realloc(p, 0): nothing (it frees p)      0
 *   aligned_here         posix_memalign 256, aligned_alloc 128,
 *                        memalign 96                             480
 *   new_one              1 x new Pair (16 bytes)                  16
 *   new_array            1 x new char[77]                         77
 *   new_nothrow          1 x new (nothrow) char[33]               33
 *   new_aligned          1 x new Line (64, aligned 64)            64
 *   new_aligned_array    1 x new Line[2]                         128
 *
 * realloc_grow's and realloc_zero's first block comes from malloc_for(),
 * so that each function's own calls are the ones above. Nothing is
 * printed before the work: stdio's buffer is allocated after it.
 */
#include <cstdlib>
#include <cstdio>
#include <malloc.h>
#include <new>

struct Pair { long a, b; };
struct alignas(64) Line { char c[64]; };

static void *volatile sink;

__attribute__((noinline)) static void *malloc_for(size_t n) { return malloc(n); }

__attribute__((noinline)) static void leak_here()
{
	for (int i = 0; i < 7; i++)
		free(sink = malloc(4096));
}

__attribute__((noinline)) static void calloc_here() { free(sink = calloc(3, 100)); }
__attribute__((noinline)) static void realloc_null() { free(sink = realloc(NULL, 40)); }

__attribute__((noinline)) static void realloc_grow()
{
	void *p = malloc_for(10);

	p = realloc(p, 500);
	p = realloc(p, 1000);
	free(sink = p);
}

__attribute__((noinline)) static void realloc_zero()
{
	void *p = malloc_for(20);

	sink = realloc(p, 0);
}

__attribute__((noinline)) static void aligned_here()
{
	void *p;

	if (posix_memalign(&p, 64, 256) == 0)
		free(sink = p);
	free(sink = aligned_alloc(64, 128));
	free(sink = memalign(32, 96));
}

__attribute__((noinline)) static void new_one() { delete (Pair *)(sink = new Pair()); }
__attribute__((noinline)) static void new_array() { delete[] (char *)(sink = new char[77]); }
__attribute__((noinline)) static void new_nothrow()
{
	delete[] (char *)(sink = new (std::nothrow) char[33]);
}
__attribute__((noinline)) static void new_aligned() { delete (Line *)(sink = new Line()); }
__attribute__((noinline)) static void new_aligned_array()
{
	delete[] (Line *)(sink = new Line[2]);
}

int main()
{
	leak_here();
	calloc_here();
	realloc_null();
	realloc_grow();
	realloc_zero();
	aligned_here();
	new_one();
	new_array();
	new_nothrow();
	new_aligned();
	new_aligned_array();
	printf("done\n");
	return 0;
}
