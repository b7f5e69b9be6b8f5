// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Blocks in graphs of known reachability, for the reachability scan's
 * tests (tests/e2e-reachable.sh), run under memlens and under valgrind
 * alike. Every block comes from a graph_* function; the sizes tell them
 * apart. At the exit (or, with --wait, while it waits for a line on
 * stdin after saying "ready"):
 *
 *   graph_list       a list of 3 with no pointer to it: the head (48 B)
 *                    definitely lost, the 2 others (32 B each) indirectly
 *   graph_global     a global points to it (100 B): still reachable
 *   graph_interior   a global points 40 bytes into it (96 B): possibly lost
 *   graph_register   only a register of a spinning thread holds it (72 B):
 *                    still reachable
 *   graph_stack      only another thread's stack holds it (88 B): still
 *                    reachable
 *   graph_cycle      two blocks (40 B, 56 B) pointing at each other, no
 *                    root: the lower one definitely lost, the other
 *                    indirectly (which is which depends on their addresses)
 *   big=MB           MB MiB in 1 KiB blocks, from a table a global points
 *                    to: still reachable (the scan's benchmark, a long scan)
 *
 * Usage: reach_graphs [--wait] GRAPH... (all: every one). With --wait it
 * says "ready" and waits for a line before it makes them (so that memlens
 * -p sees them made), then says "done" and waits for another before it
 * exits. No stdio: its buffers would be blocks of their own. glibc's mmap
 * threshold is pinned.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "handshake.h"

struct node {
	struct node *next;
	char pad[24];
};

void *volatile global_ptr;
char *volatile global_interior;
void *volatile global_big;
static atomic_int threads_ready;

__attribute__((noinline)) static void *graph_alloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		_exit(2);
	memset(p, 0, n);
	return p;
}

/*
 * Dead stack and scratch registers may still hold a pointer the program
 * dropped: overwrite them, as a real program's later calls would.
 */
__attribute__((noinline)) static long scrub(void)
{
	volatile char pad[8192];

	memset((char *)pad, 0, sizeof(pad));
	return pad[17];
}

__attribute__((noinline)) static void graph_list(void)
{
	struct node *head = graph_alloc(48);

	head->next = graph_alloc(32);
	head->next->next = graph_alloc(32);
}

__attribute__((noinline)) static void graph_global(void)
{
	global_ptr = graph_alloc(100);
}

__attribute__((noinline)) static void graph_interior(void)
{
	global_interior = (char *)graph_alloc(96) + 40;
}

__attribute__((noinline)) static void graph_cycle(void)
{
	void **a = graph_alloc(40), **b = graph_alloc(56);

	a[1] = b;
	b[2] = a;
}

/* The block lives in r12 only: the loop keeps it there, nothing stores it. */
__attribute__((noinline)) static void *graph_register(void *arg)
{
	register void *p asm("r12") = graph_alloc(72);

	(void)arg;
	scrub();
	atomic_fetch_add(&threads_ready, 1);
	for (;;)
		asm volatile("pause" : : "r"(p));
	return NULL;
}

/* The block lives in this thread's stack only. */
__attribute__((noinline)) static void *graph_stack(void *arg)
{
	void *volatile p = graph_alloc(88);

	(void)arg;
	scrub();
	atomic_fetch_add(&threads_ready, 1);
	for (;;)
		pause();
	return p;
}

/* MB MiB in 1 KiB blocks, from a table a global points to (a heap's usual shape). */
__attribute__((noinline)) static void graph_big(long mb)
{
	void **table = graph_alloc(mb * 1024 * sizeof(*table));

	for (long i = 0; i < mb * 1024; i++) {
		table[i] = malloc(1024);
		if (!table[i])
			_exit(2);
	}
	global_big = table;
}

static void start(void *(*fn)(void *), int *want)
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, NULL))
		_exit(2);
	(*want)++;
}

int main(int argc, char **argv)
{
	int want = 0, i = 1;
	bool wait = argc > 1 && !strcmp(argv[1], "--wait");

	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (wait) {
		say("ready\n");
		wait_line();
	}
	for (i += wait; i < argc; i++) {
		bool all = !strcmp(argv[i], "all");

		if (all || !strcmp(argv[i], "list"))
			graph_list();
		if (all || !strcmp(argv[i], "global"))
			graph_global();
		if (all || !strcmp(argv[i], "interior"))
			graph_interior();
		if (all || !strcmp(argv[i], "cycle"))
			graph_cycle();
		if (all || !strcmp(argv[i], "register"))
			start(graph_register, &want);
		if (all || !strcmp(argv[i], "stack"))
			start(graph_stack, &want);
		if (!strncmp(argv[i], "big=", 4))
			graph_big(atol(argv[i] + 4));
	}
	while (atomic_load(&threads_ready) < want)
		usleep(1000);
	scrub();
	if (wait) {
		say("done\n");
		wait_line();
		scrub();
	}
	exit(0);
}
