// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A program with an allocator of its own, whose blocks can also go back
 * through release(), an entry point memlens does not hook: a block
 * released and handed out again is allocated, as memlens sees it, at an
 * address it still tracks (counted as replaced, and said).
 *
 *   3 x (malloc(64), release, malloc(64) at the same address, free)
 */
#include <stddef.h>
#include <string.h>
#include <unistd.h>

static char heap[1 << 20] __attribute__((aligned(16)));
static size_t top;
static void *spare;	/* one released block, handed out first */

void *malloc(size_t n)
{
	void *p = spare;

	if (p && n <= 64) {
		spare = NULL;
		return p;
	}
	n = n < 64 ? 64 : (n + 15) & ~15UL;
	if (top + n > sizeof(heap))
		return NULL;
	p = heap + top;
	top += n;
	return p;
}

__attribute__((noinline)) void free(void *p)
{
	asm volatile("" : : "r"(p) : "memory");	/* a call, not optimised away */
}

void *calloc(size_t n, size_t size)
{
	void *p = malloc(n * size);

	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = malloc(n);

	if (p && old)
		memcpy(p, old, n);	/* the old block is at most as long: a bump heap */
	return p;
}

__attribute__((noinline)) void release(void *p)
{
	spare = p;
}

int main(void)
{
	for (int i = 0; i < 3; i++) {
		void *volatile p = malloc(64);

		release(p);
		p = malloc(64);
		free(p);
	}
	return 0;
}
