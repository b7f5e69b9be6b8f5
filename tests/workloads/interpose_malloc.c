// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * An interposer that defines malloc alone, preloaded before the allocator
 * hooked with --allocator: that allocator's malloc@plt is bound here, to a
 * function memlens does not hook (tests/e2e-allocs-c.sh).
 */
#include <stddef.h>

static char heap[1 << 20];
static size_t top;

void *malloc(size_t n)
{
	void *p = heap + top;

	top += (n + 15) & ~15UL;
	return p;
}
