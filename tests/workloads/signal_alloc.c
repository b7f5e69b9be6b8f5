// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A bump allocator whose malloc(SIGNAL_ALLOC_SIZE) raises SIGUSR1 before it
 * allocates anything, preloaded and hooked with --allocator: the program's
 * handler siglongjmp()s out of the call, which then never returns and its
 * uretprobe never fires (tests/workloads/lost_return.c, tests/e2e-probes.sh).
 * free is a no-op: every block is outstanding until exit.
 */
#include <signal.h>
#include <stddef.h>
#include <string.h>

/* The one size that raises SIGUSR1; lost_return.c asks for it. */
#define SIGNAL_ALLOC_SIZE 77777

static char heap[1 << 24];
static size_t top;

__attribute__((noinline)) static void *bump(size_t n)
{
	void *p;

	n = (n + 15) & ~15UL;
	if (n > sizeof(heap) - top)
		return NULL;
	p = heap + top;
	top += n;
	return p;
}

void *malloc(size_t n)
{
	/* Before bump(): a call left by siglongjmp() hands out no block. */
	if (n == SIGNAL_ALLOC_SIZE)
		raise(SIGUSR1);
	return bump(n);
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t a, size_t b)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(a, b, &n))
		return NULL;
	p = bump(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void *realloc(void *p, size_t n)
{
	void *q;

	if (!p)
		return bump(n);
	q = bump(n);
	if (q)
		memcpy(q, p, n);
	return q;
}
