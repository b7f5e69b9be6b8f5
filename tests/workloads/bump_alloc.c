// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A bump allocator whose functions tail-jump to one another, preloaded and
 * hooked with --allocator (tests/e2e-allocs-c.sh). Built twice:
 * - with clang -O2: valloc never pushes (`mov; mov; jmp memalign@plt`),
 *   its only call frame row the entry's; realloc(NULL, n) pops its frame
 *   and jumps to malloc@plt;
 * - with gcc -O2 -fno-plt: the jumps go through GOT slots
 *   (`jmp *memalign@GOTPCREL(%rip)`), aligned_alloc is only such a jump,
 *   realloc(NULL, n) a branch to `mov; jmp *malloc@GOTPCREL(%rip)`.
 * Both: pvalloc tail-jumps to aligned_alloc, a forwarder memlens does not
 * hook, which jumps to memalign.
 * Each call must count once, whichever function it enters first.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

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

__attribute__((noinline)) void *malloc(size_t n)
{
#ifdef BUMP_MALLOC_HOOK
	BUMP_MALLOC_HOOK(n);	/* signal_alloc.c's; nothing in these builds */
#endif
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
		return malloc(n);
	q = bump(n);
	if (q)
		memcpy(q, p, n);
	return q;
}

__attribute__((noinline)) void *memalign(size_t align, size_t n)
{
	top = (top + align - 1) & ~(align - 1);
	return bump(n);
}

__attribute__((noinline)) void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

int posix_memalign(void **r, size_t align, size_t n)
{
	*r = memalign(align, n);
	return *r ? 0 : ENOMEM;
}

void *valloc(size_t n)
{
	return memalign(4096, n);
}

/* A tail jump to aligned_alloc, which only jumps on to memalign. */
void *pvalloc(size_t n)
{
	return aligned_alloc(4096, (n + 4095) & ~4095UL);
}
