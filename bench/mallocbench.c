// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * malloc/free microbenchmark: PAIRS pairs per thread of free + malloc of
 * 16..4096 bytes over 1000 live blocks (or, with --small, malloc(64) and
 * its free), then prints "pairs_per_sec N" for all threads together.
 * With --wait it says "ready" and waits for a line on stdin first, so a
 * tracer can attach before the timed loop. --threads N runs N threads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIVE 1000

static void *volatile sink;
static long pairs;
static int small;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *loop(void *arg)
{
	void *live[LIVE] = {};
	unsigned int x = 12345;

	(void)arg;
	for (long i = 0; i < pairs; i++) {
		size_t slot = i % LIVE;

		if (small) {
			sink = malloc(64);
			free(sink);
			continue;
		}
		x = x * 1103515245 + 12345;
		free(live[slot]);
		live[slot] = malloc(16 + (x >> 8) % 4081);
	}
	for (size_t i = 0; i < LIVE; i++)
		free(live[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int wait = 0, threads = 1;
	pthread_t t[64];
	double t0, t1;
	char c;

	pairs = argc > 1 ? atol(argv[1]) : 200000;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = 1;
		else if (!strcmp(argv[i], "--small"))
			small = 1;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = atoi(argv[++i]);
	}
	if (pairs <= 0 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: mallocbench PAIRS [--wait] [--small] [--threads N]\n");
		return 2;
	}
	if (wait) {
		printf("ready\n");
		fflush(stdout);
		while (read(0, &c, 1) == 1 && c != '\n')
			;
	}
	t0 = now_s();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, loop, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	t1 = now_s();
	printf("pairs_per_sec %.0f\n", pairs * threads / (t1 - t0));
	return 0;
}
