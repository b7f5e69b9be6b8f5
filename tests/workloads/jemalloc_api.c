// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * jemalloc's own API with exactly known leaks, linked with libjemalloc:
 *
 *   leak_mallocx          100 x mallocx(1000, 0)                        1000 bytes each
 *   leak_mallocx_aligned    4 x mallocx(100, MALLOCX_ALIGN(64) | ZERO)   100 bytes each
 *   leak_rallocx           10 x malloc(2000), rallocx to 8000            8000 bytes each
 *
 * The size counted is the one asked for, whatever the flags. churn()
 * allocates through each and frees all it allocates: 50 x malloc(500) and
 * dallocx; 50 x mallocx(300) and sdallocx; 20 x mallocx(100), rallocx to
 * 4000 (the old block moved) and sdallocx. The leaked blocks stay
 * reachable from keep[]. With --wait it says "ready", waits for a line,
 * works, says "done", waits for another.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "handshake.h"

/* jemalloc's <jemalloc/jemalloc.h> (libjemalloc-dev) is not needed for four prototypes. */
void *mallocx(size_t size, int flags);
void *rallocx(void *ptr, size_t size, int flags);
void dallocx(void *ptr, int flags);
void sdallocx(void *ptr, size_t size, int flags);

#define MALLOCX_LG_ALIGN(la)	((int)(la))
#define MALLOCX_ZERO		((int)0x40)

static void *volatile keep[114];
static int kept;

static void hold(void *p)
{
	keep[kept++] = p;
}

__attribute__((noinline)) void leak_mallocx(void)
{
	for (int i = 0; i < 100; i++)
		hold(mallocx(1000, 0));
}

__attribute__((noinline)) void leak_mallocx_aligned(void)
{
	for (int i = 0; i < 4; i++)
		hold(mallocx(100, MALLOCX_LG_ALIGN(6) | MALLOCX_ZERO));
}

__attribute__((noinline)) void leak_rallocx(void)
{
	for (int i = 0; i < 10; i++)
		hold(rallocx(malloc(2000), 8000, 0));
}

__attribute__((noinline)) void churn(void)
{
	void *volatile p;

	for (int i = 0; i < 50; i++) {
		p = malloc(500);
		dallocx(p, 0);
		p = mallocx(300, 0);
		sdallocx(p, 300, 0);
	}
	for (int i = 0; i < 20; i++) {
		p = mallocx(100, 0);
		p = rallocx(p, 4000, 0);
		sdallocx(p, 4000, 0);
	}
}

int main(int argc, char **argv)
{
	int wait = argc > 1 && !strcmp(argv[1], "--wait");

	if (wait) {
		say("ready\n");
		wait_line();
	}
	churn();
	leak_mallocx();
	leak_mallocx_aligned();
	leak_rallocx();
	if (wait) {
		say("done\n");
		wait_line();
	}
	return 0;
}
