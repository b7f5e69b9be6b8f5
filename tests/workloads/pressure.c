// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Memory pressure of a known size, for the memlens reclaim tests; run it
 * inside a memory cgroup with a limit below what it asks for.
 *
 *   pressure read FILE          read FILE through the page cache, 1 MiB at
 *                               a time, to its end: page cache pages the
 *                               size of FILE, charged to the cgroup
 *   pressure anon MIB ADJ       set oom_score_adj to ADJ, then write one
 *                               byte in every page of MIB MiB of anonymous
 *                               memory: with no swap, over the limit, the
 *                               OOM killer ends it
 *   pressure anon MIB ADJ wait  the same once a line is read on stdin
 *
 * It exits 0 when done; "survived" on stdout if anon was not killed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define CHUNK (1 << 20)

static int read_file(const char *path)
{
	static char buf[CHUNK];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		perror(path);
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	return n < 0;
}

static int touch_anon(size_t mib, const char *adj, int wait)
{
	size_t len = mib << 20;
	int fd = open("/proc/self/oom_score_adj", O_WRONLY);
	char line[16], *p;

	if (fd < 0 || write(fd, adj, strlen(adj)) < 0) {
		perror("oom_score_adj");
		return 1;
	}
	close(fd);
	if (wait && !fgets(line, sizeof(line), stdin))
		return 1;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = 1;
	puts("survived");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "read"))
		return read_file(argv[2]);
	/* One call: touch_anon() is inlined, its faults in main (tests/kernels.sh). */
	if ((argc == 4 || (argc == 5 && !strcmp(argv[4], "wait"))) && !strcmp(argv[1], "anon"))
		return touch_anon(strtoul(argv[2], NULL, 10), argv[3], argc == 5);
	fprintf(stderr, "usage: pressure read FILE | pressure anon MIB OOM_SCORE_ADJ [wait]\n");
	return 2;
}
