// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Built with -O2: grab() is inlined into leak_inlined(), which leaks
 * exactly 3 x 100 bytes. The frame is leak_inlined's, and its line is
 * that of the call of grab() in it (the line marked CALL), not a line of
 * grab(). The same two levels deep: leak_nested() leaks 2 x 200 bytes
 * through middle(), the line marked OUTER. No stdio: its buffers would be
 * allocations of their own.
 */
#include <stdlib.h>
#include <string.h>

void *volatile kept[3];

static inline void *grab(size_t n)
{
	void *p = malloc(n);

	if (p)
		memset(p, 1, n);
	return p;
}

__attribute__((noinline)) void leak_inlined(void)
{
	for (int i = 0; i < 3; i++)
		kept[i] = grab(100);	/* CALL */
}

/* Two levels: grab() inlined into middle(), inlined into leak_nested(). */
static inline void *middle(size_t n)
{
	return grab(n + 100);	/* MIDDLE */
}

void *volatile kept2[2];

__attribute__((noinline)) void leak_nested(void)
{
	for (int i = 0; i < 2; i++)
		kept2[i] = middle(100);	/* OUTER */
}

int main(void)
{
	leak_inlined();
	leak_nested();
	return 0;
}
