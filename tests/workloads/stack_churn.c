// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Allocations from ever new stacks, for the stack map's reclaim test
 * (tests/e2e-gc.sh). Block i is malloc'd at the end of a chain of DEPTH
 * calls through left() or right(), as the bits of i say: every i below
 * 2^DEPTH is a stack of its own. The last KEEP blocks stay outstanding,
 * older ones are freed.
 *
 *   stack_churn [--wait] STACKS PER_TICK TICK_MS KEEP
 *
 * STACKS blocks, PER_TICK of them every TICK_MS milliseconds ("half" is
 * said halfway, "q3" at three quarters, "churned" after the last, before
 * the KEEP are freed). Before them, leak_again() mallocs 3 x 2048, freed
 * halfway: its stack is then no block's. After them, all freed and a
 * pause of PAUSE_MS (the stacks no block refers to go), leak_again()
 * again, from the same call site (the same stack), and leak_late():
 *
 *   leak_again    3 x malloc(2048)    6144 bytes
 *   leak_late     5 x malloc(4096)   20480 bytes, never freed
 *
 * --wait: say "ready", wait for a line, work, say "done", wait for a
 * line, exit (handshake.h), for tracing with -p. No stdio: its buffers
 * would be allocations of their own.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "handshake.h"

#define DEPTH		20
#define MAX_KEEP	4096
#define PAUSE_MS	2000

static void *ring[MAX_KEEP];
static unsigned long keep, next_slot;
static void *again[3];
static void *volatile sink;
static volatile unsigned long calls;	/* after each call: no tail calls */
static volatile int passes = 2;		/* volatile: one call site, not two */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void churn_alloc(void)
{
	void *p = malloc(64);

	if (!keep) {
		free(p);
		return;
	}
	free(ring[next_slot]);
	ring[next_slot] = p;
	next_slot = (next_slot + 1) % keep;
}

void left(unsigned long bits, int depth);
void right(unsigned long bits, int depth);

static void descend(unsigned long bits, int depth)
{
	if (!depth)
		churn_alloc();
	else if (bits & 1)
		right(bits >> 1, depth - 1);
	else
		left(bits >> 1, depth - 1);
}

__attribute__((noinline)) void left(unsigned long bits, int depth)
{
	descend(bits, depth);
	calls++;
}

__attribute__((noinline)) void right(unsigned long bits, int depth)
{
	descend(bits, depth);
	calls++;
}

__attribute__((noinline)) void leak_again(void)
{
	for (int i = 0; i < 3; i++) {
		again[i] = malloc(2048);
		memset(again[i], 1, 2048);
	}
}

__attribute__((noinline)) void leak_late(void)
{
	for (int i = 0; i < 5; i++) {
		void *p = malloc(4096);

		memset(p, 2, 4096);
		sink = p;
	}
}

static void churn(unsigned long stacks, unsigned long per_tick, long tick_ms)
{
	for (unsigned long i = 0; i < stacks; i++) {
		descend(i, DEPTH);
		calls++;
		if (i == stacks / 2) {
			for (int j = 0; j < 3; j++)
				free(again[j]);
			say("half\n");
		}
		if (i == stacks / 4 * 3)
			say("q3\n");
		if ((i + 1) % per_tick == 0)
			sleep_ms(tick_ms);
	}
	say("churned\n");
	for (unsigned long i = 0; i < keep; i++) {
		free(ring[i]);
		ring[i] = NULL;
	}
}

int main(int argc, char **argv)
{
	int wait = argc > 1 && !strcmp(argv[1], "--wait");
	char **arg = argv + 1 + wait;
	unsigned long stacks, per_tick;
	long tick_ms;

	if (argc != 5 + wait) {
		say("usage: stack_churn [--wait] STACKS PER_TICK TICK_MS KEEP\n");
		return 2;
	}
	stacks = strtoul(arg[0], NULL, 0);
	per_tick = strtoul(arg[1], NULL, 0);
	tick_ms = strtol(arg[2], NULL, 0);
	keep = strtoul(arg[3], NULL, 0);
	if (!per_tick || keep > MAX_KEEP || stacks > 1UL << DEPTH) {
		say("stack_churn: bad arguments\n");
		return 2;
	}
	if (wait) {
		say("ready\n");
		wait_line();
	}
	for (int pass = 0; pass < passes; pass++) {
		leak_again();
		if (pass)
			break;
		churn(stacks, per_tick, tick_ms);
		sleep_ms(PAUSE_MS);
	}
	leak_late();
	if (wait) {
		say("done\n");
		wait_line();
	}
	return 0;
}
