// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * malloc/free at the bottom of a deep stack, for bench/unwind.sh: recurses
 * DEPTH frames, then makes PAIRS malloc(64)+free pairs and prints
 * "pairs_per_sec N". With --wait it says "ready" and waits for a line on
 * stdin first, so a tracer can attach before the timed loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noinline)) churn(long pairs)
{
	for (long i = 0; i < pairs; i++) {
		void *p = malloc(64);

		sink = p;
		free(p);
	}
}

/* Not a tail call: the frames stay on the stack. */
static double __attribute__((noinline)) descend(int depth, long pairs)
{
	double t0, t;

	if (depth > 0) {
		t = descend(depth - 1, pairs);
		sink = NULL;
		return t;
	}
	t0 = now_s();
	churn(pairs);
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 100000;
	int depth = argc > 2 ? atoi(argv[2]) : 10;
	int wait = argc > 3 && !strcmp(argv[3], "--wait");
	double t;
	char c;

	if (pairs <= 0 || depth < 0 || depth > 100) {
		fprintf(stderr, "usage: unwindbench PAIRS DEPTH [--wait]\n");
		return 2;
	}
	if (wait) {
		printf("ready\n");
		fflush(stdout);
		while (read(0, &c, 1) == 1 && c != '\n')
			;
	}
	t = descend(depth, pairs);
	printf("pairs_per_sec %.0f\n", pairs / t);
	return 0;
}
