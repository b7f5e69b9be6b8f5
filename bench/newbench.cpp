// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * C++ new/delete microbenchmark, mallocbench's loop with operator new and
 * delete: PAIRS pairs of delete + new of 16..4096 bytes over 1000 live
 * objects, then "pairs_per_sec N". --wait as in mallocbench.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <unistd.h>

#define LIVE 1000

static double now_s()
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long pairs = argc > 1 ? atol(argv[1]) : 200000;
	static char *live[LIVE];
	unsigned int x = 12345;
	double t0, t1;
	char c;

	if (pairs <= 0) {
		fprintf(stderr, "usage: newbench PAIRS [--wait]\n");
		return 2;
	}
	if (argc > 2 && !strcmp(argv[2], "--wait")) {
		printf("ready\n");
		fflush(stdout);
		while (read(0, &c, 1) == 1 && c != '\n')
			;
	}
	t0 = now_s();
	for (long i = 0; i < pairs; i++) {
		size_t slot = i % LIVE;

		x = x * 1103515245 + 12345;
		delete[] live[slot];
		live[slot] = new char[16 + (x >> 8) % 4081];
	}
	t1 = now_s();
	for (size_t i = 0; i < LIVE; i++)
		delete[] live[i];
	printf("pairs_per_sec %.0f\n", pairs / (t1 - t0));
	return 0;
}
