// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * C++ allocations with exactly known leaks, for memlens leaks under any
 * allocator (glibc, jemalloc, tcmalloc; preloaded, linked or static):
 *
 *   leak_objects   5 x new Foo                      48 bytes each
 *   leak_arrays    3 x new int[25]                  100 bytes each
 *   leak_aligned   2 x new Aligned (align_val_t)    128 bytes each
 *   leak_nothrow   4 x new (std::nothrow) Foo       48 bytes each
 *   leak_malloc    2 x malloc(300)                  300 bytes each
 *
 * churn() allocates as many again with every variant and frees it all with
 * the matching delete (sized, aligned, nothrow, array). With --wait it
 * says "ready", waits for a line, works, says "done", waits for another.
 */
#include <cstdlib>
#include <cstring>
#include <new>
#include "handshake.h"

struct Foo {
	long v[6];
};

struct alignas(64) Aligned {
	char bytes[128];
};

/* Kept here, so that the leaks are reachable and not optimised away. */
static void *volatile keep[32];
static int kept;

static void hold(void *p)
{
	keep[kept++ % 32] = p;
}

__attribute__((noinline)) void leak_objects()
{
	for (int i = 0; i < 5; i++)
		hold(new Foo());
}

__attribute__((noinline)) void leak_arrays()
{
	for (int i = 0; i < 3; i++)
		hold(new int[25]());
}

__attribute__((noinline)) void leak_aligned()
{
	for (int i = 0; i < 2; i++)
		hold(new Aligned());
}

__attribute__((noinline)) void leak_nothrow()
{
	for (int i = 0; i < 4; i++)
		hold(new (std::nothrow) Foo());
}

extern "C" __attribute__((noinline)) void leak_malloc()
{
	for (int i = 0; i < 2; i++)
		hold(malloc(300));
}

__attribute__((noinline)) void churn()
{
	for (int i = 0; i < 10; i++) {
		Foo *f = new Foo();
		int *a = new int[25]();
		Aligned *al = new Aligned();
		Foo *n = new (std::nothrow) Foo();
		Foo *na = new (std::nothrow) Foo[3]();
		Aligned *aa = new Aligned[2]();
		void *m = malloc(300);

		delete f;		/* sized: operator delete(void *, size_t) */
		delete[] a;
		delete al;		/* sized and aligned */
		operator delete(n, std::nothrow);
		delete[] na;
		delete[] aa;		/* aligned array */
		free(m);
	}
}

int main(int argc, char **argv)
{
	bool wait = argc > 1 && !strcmp(argv[1], "--wait");

	if (wait) {
		say("ready\n");
		wait_line();
	}
	churn();
	leak_objects();
	leak_arrays();
	leak_aligned();
	leak_nothrow();
	leak_malloc();
	if (wait) {
		say("done\n");
		wait_line();
	}
	return 0;
}
