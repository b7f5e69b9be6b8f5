// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * malloc/free microbenchmark: PAIRS malloc(64)+free pairs, then prints
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

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 200000;
	int wait = argc > 2 && !strcmp(argv[2], "--wait");
	double t0, t1;
	char c;

	if (pairs <= 0) {
		fprintf(stderr, "usage: mallocbench PAIRS [--wait]\n");
		return 2;
	}
	if (wait) {
		printf("ready\n");
		fflush(stdout);
		while (read(0, &c, 1) == 1 && c != '\n')
			;
	}
	t0 = now_s();
	for (long i = 0; i < pairs; i++) {
		void *p = malloc(64);

		sink = p;
		free(p);
	}
	t1 = now_s();
	printf("pairs_per_sec %.0f\n", pairs / (t1 - t0));
	return 0;
}
