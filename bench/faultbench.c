// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Syscall- and fault-heavy loop for the memlens top --no-uprobes overhead:
 * each round mmaps 16 anonymous pages, writes each (16 minor faults) and
 * unmaps them. Prints "rounds_per_sec N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define PAGES 16

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 20000;
	struct timespec a, b;

	if (rounds <= 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < rounds; i++) {
		char *p = mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return 1;
		for (int pg = 0; pg < PAGES; pg++)
			p[pg * 4096] = 1;
		munmap(p, PAGES * 4096);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("rounds_per_sec %.0f\n", rounds / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}
