// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * File-system-metadata-heavy loop for the memlens kmem overhead: each
 * round creates a file with a new name in DIR, stats it, closes and
 * unlinks it (dentry, inode, file and their LSM blobs come and go).
 * Prints "rounds_per_sec N".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long rounds = argc > 2 ? atol(argv[2]) : 20000;
	long generation = time(NULL);	/* names new to the directory, run after run */
	struct timespec a, b;
	char path[4096];
	struct stat st;

	if (argc < 2 || rounds <= 0)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < rounds; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f-%d-%ld-%ld", argv[1], (int)getpid(),
			 generation, i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fd < 0 || fstat(fd, &st) || close(fd) || unlink(path))
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("rounds_per_sec %.0f\n",
	       rounds / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}
