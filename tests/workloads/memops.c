// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A workload with exactly known memory syscalls, faults and allocator
 * calls, for the memlens top and hist tests. Between "ready" and "done" it
 * does, and nothing else:
 *
 *   NMALLOC x malloc(MSIZE), then as many free()s  (the heap is grown,
 *                                                  pinned and touched
 *                                                  beforehand)
 *   NBRK    x sbrk(BRKSIZE)                        (NBRK brk growths)
 *   1       x sbrk(-BRKSIZE) if NBRK               (one brk shrink)
 *   NMMAP   x mmap(MMAPSIZE, anonymous), NMMAP munmaps; the first mapping
 *           gets TOUCH fresh pages written, one minor fault each in user
 *           mode; the second, if any, TOUCH pages filled by read(2) from
 *           /dev/zero, one minor fault each in kernel mode
 *   1       mmap that fails with ENOMEM (128 TiB, the whole address space)
 *   MAJOR   pages of a file read through a mapping after its page cache
 *           was dropped, with MADV_RANDOM: one major fault each
 *
 * Usage: memops NMALLOC MSIZE NBRK BRKSIZE NMMAP MMAPSIZE TOUCH MAJOR FILE
 * It says "ready" and waits for a line on stdin, works, says "done" and
 * waits for another line before it exits. Output through write(2) only.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "handshake.h"

#define PAGE 4096

static void die(const char *what)
{
	say(what);
	say(": failed\n");
	exit(1);
}

/* A file of PAGES pages on disk, written and synced so it can be dropped. */
static int make_file(const char *path, long pages)
{
	char buf[PAGE];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		die("open");
	memset(buf, 'x', sizeof(buf));
	for (long i = 0; i < pages; i++)
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			die("write");
	if (fsync(fd))
		die("fsync");
	return fd;
}

static void major_faults(int fd, long pages)
{
	volatile char sum = 0;
	char *p;

	if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		die("fadvise");
	p = mmap(NULL, pages * PAGE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap file");
	if (madvise(p, pages * PAGE, MADV_RANDOM))
		die("madvise");
	for (long i = 0; i < pages; i++)
		sum += p[i * PAGE];
	munmap(p, pages * PAGE);
}

int main(int argc, char **argv)
{
	long nmalloc, msize, nbrk, brksize, nmmap, mmapsize, touch, major;
	void **blocks;
	int fd = -1, zero;

	if (argc != 10)
		die("usage: memops NMALLOC MSIZE NBRK BRKSIZE NMMAP MMAPSIZE TOUCH MAJOR FILE");
	nmalloc = atol(argv[1]);
	msize = atol(argv[2]);
	nbrk = atol(argv[3]);
	brksize = atol(argv[4]);
	nmmap = atol(argv[5]);
	mmapsize = atol(argv[6]);
	touch = atol(argv[7]);
	major = atol(argv[8]);
	if (touch * PAGE > mmapsize || (touch && !nmmap))
		die("TOUCH pages must fit in the first mapping");

	/* Grow the heap once, never trim it: the mallocs make no syscalls. */
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	mallopt(M_TOP_PAD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	blocks = calloc(nmalloc + 1, sizeof(*blocks));
	/* Once before, so the blocks come from heap pages already touched. */
	for (long i = 0; i < nmalloc; i++)
		blocks[i] = malloc(msize);
	for (long i = 0; i < nmalloc; i++)
		free(blocks[i]);
	if (major)
		fd = make_file(argv[9], major);
	zero = open("/dev/zero", O_RDONLY);
	if (zero < 0)
		die("open /dev/zero");

	say("ready\n");
	wait_line();
	for (long i = 0; i < nmalloc; i++)
		blocks[i] = malloc(msize);
	for (long i = 0; i < nmalloc; i++)
		free(blocks[i]);
	for (long i = 0; i < nbrk; i++)
		if (sbrk(brksize) == (void *)-1)
			die("sbrk");
	if (nbrk && sbrk(-brksize) == (void *)-1)
		die("sbrk shrink");
	for (long i = 0; i < nmmap; i++) {
		char *p = mmap(NULL, mmapsize, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		madvise(p, mmapsize, MADV_NOHUGEPAGE);
		if (i == 0)
			for (long pg = 0; pg < touch; pg++)
				p[pg * PAGE] = 1;
		if (i == 1 && read(zero, p, touch * PAGE) != touch * PAGE)
			die("read /dev/zero");
		munmap(p, mmapsize);
	}
	if (mmap(NULL, 1L << 47, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0) != MAP_FAILED)
		die("a 128 TiB mmap succeeded");
	if (major)
		major_faults(fd, major);
	say("done\n");
	wait_line();
	if (fd >= 0)
		unlink(argv[9]);
	return 0;
}
