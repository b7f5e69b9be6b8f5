// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A workload with exactly known allocations, for the end-to-end tests and
 * the demo. Two threads each call every hooked allocator entry point and
 * free everything (churn), then leak exactly:
 *
 *   leak_here      7 x malloc(4096)                         28672 bytes
 *   leak_realloc   malloc(100) -> realloc 5000 -> 2000       2000 bytes
 *   leak_calloc    calloc(3, 1000)                           3000 bytes
 *   leak_aligned   posix_memalign(64, 512)                    512 bytes
 *   leak_large     malloc(1 MiB), above the mmap threshold 1048576 bytes
 *   leak_mmap      mmap(64 KiB, anonymous)                  65536 bytes
 *   leak_mmap_head mmap(3 pages), munmap of the first page   8192 bytes
 *                                                  13 blocks, 1156488 bytes
 *
 * With --wait it starts a thread that only sleeps (a thread id for tests
 * of -p TID), says "ready" on stdout and waits for a line on stdin before
 * working, then says "done" and waits for another line before it exits, so
 * a tracer can attach to it and report while the leaks live.
 * With --calloc-wraps it only makes 100 callocs whose size product wraps to
 * 4 bytes (each fails) and exits.
 * No stdio: its buffers would be allocations of their own.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "handshake.h"

#define CHURN_ROUNDS 10

static void *volatile sink;
static volatile size_t huge = SIZE_MAX / 2;	/* volatile: no compile-time warning */

static void touch(void *p, size_t n)
{
	if (p)
		memset(p, 0xa5, n);
	sink = p;
}

/* Every entry point, every block freed again. */
void churn(void)
{
	void *p, *q;

	p = malloc(24); touch(p, 24); free(p);
	p = calloc(4, 8); touch(p, 32); free(p);
	p = realloc(NULL, 40); touch(p, 40);		/* realloc as malloc */
	p = realloc(p, 4000); touch(p, 4000);		/* grow */
	p = realloc(p, 16); touch(p, 16);		/* shrink */
	p = realloc(p, 0);				/* frees, returns NULL */
	sink = p;
	p = reallocarray(NULL, 10, 8); touch(p, 80); free(p);
	if (posix_memalign(&p, 128, 256) == 0) { touch(p, 256); free(p); }
	p = aligned_alloc(64, 640); touch(p, 640); free(p);
	p = memalign(32, 96); touch(p, 96); free(p);
	p = valloc(100); touch(p, 100); free(p);
	p = pvalloc(5000); touch(p, 5000); free(p);
	p = malloc(2 << 20); touch(p, 4096); free(p);	/* through mmap */

	p = malloc(huge); sink = p;			/* fails: not counted */
	p = calloc(huge, 4); sink = p;			/* overflow: fails */
	p = malloc(8); touch(p, 8);
	q = realloc(p, huge);				/* fails: p stays */
	sink = q;
	free(p);

	p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	touch(p, 3 * 4096); munmap(p, 3 * 4096);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = mremap(p, 4096, 4 * 4096, MREMAP_MAYMOVE);
	touch(p, 4 * 4096); munmap(p, 4 * 4096);
	/* Lengths that are not whole pages: both pages go. */
	p = mmap(NULL, 5000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	touch(p, 5000); munmap(p, 4097);
}

void leak_here(void)
{
	for (int i = 0; i < 7; i++)
		touch(malloc(4096), 4096);
}

void leak_realloc(void)
{
	void *p = malloc(100);

	p = realloc(p, 5000);
	p = realloc(p, 2000);
	touch(p, 2000);
}

void leak_calloc(void)
{
	touch(calloc(3, 1000), 3000);
}

void leak_aligned(void)
{
	void *p;

	if (posix_memalign(&p, 64, 512) == 0)
		touch(p, 512);
}

void leak_large(void)
{
	touch(malloc(1 << 20), 1 << 20);
}

void leak_mmap(void)
{
	void *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	touch(p, 65536);
}

void leak_mmap_head(void)
{
	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	touch(p, 3 * 4096);
	munmap(p, 4096);	/* the other two pages stay */
}

void *worker_a(void *arg)
{
	for (int i = 0; i < CHURN_ROUNDS; i++)
		churn();
	leak_here();
	leak_realloc();
	return arg;
}

void *worker_b(void *arg)
{
	for (int i = 0; i < CHURN_ROUNDS; i++)
		churn();
	leak_calloc();
	leak_aligned();
	leak_large();
	leak_mmap();
	leak_mmap_head();
	return arg;
}

void *sleeper(void *arg)
{
	for (;;)
		pause();
	return arg;
}

int main(int argc, char **argv)
{
	int wait = argc > 1 && !strcmp(argv[1], "--wait");
	pthread_t a, b, s;

	if (argc > 1 && !strcmp(argv[1], "--calloc-wraps")) {
		/* (2^62 + 1) * 4 is 4 modulo 2^64: calloc fails, a * b says 4. */
		for (int i = 0; i < 100; i++)
			sink = calloc(huge / 2 + 2, 4);
		return 0;
	}

	/* A fixed threshold: 1 MiB and 2 MiB blocks always go through mmap. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (wait) {
		if (pthread_create(&s, NULL, sleeper, NULL))
			return 1;
		say("ready\n");
		wait_line();
	}
	if (pthread_create(&a, NULL, worker_a, NULL) || pthread_create(&b, NULL, worker_b, NULL))
		return 1;
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	if (wait) {
		say("done\n");
		wait_line();
	}
	return 0;
}
