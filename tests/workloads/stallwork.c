// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reclaim stalls in two known functions, for memlens reclaim --stacks; run
 * it in a memory cgroup whose limit is below WRITE_MIB:
 *
 *   stallwork DIR WRITE_MIB ANON_MIB
 *
 * write_through_cache() writes WRITE_MIB MiB into a new file in DIR with
 * write(2), 1 MiB at a time, through the page cache: past the limit, the
 * cgroup reclaims in the write path. Each 4 MiB is written back at once
 * (sync_file_range), so that what fills the cgroup is clean page cache
 * that reclaim can drop, not dirty pages it would wait for. Then
 * touch_anon() writes one byte in every page of ANON_MIB MiB of new
 * anonymous memory: each fault charges a page to a full cgroup, which
 * reclaims the file's pages in the fault path. ANON_MIB must stay well
 * under the limit (no swap: anonymous memory cannot be reclaimed).
 *
 * Built with frame pointers: its functions are on the user stacks
 * memlens takes by frame pointer. libc's write(2) wrapper keeps no frame,
 * so the walk goes from the wrapper straight to the return address saved
 * in its caller's frame: write_chunk() is not seen, write_through_cache()
 * is, as in any program whose libc has no frame pointers.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE	4096
#define CHUNK	(1 << 20)
#define SYNC_EVERY	(4 * CHUNK)

static char buf[CHUNK];

/* One chunk written: a frame of its own under write_through_cache(). */
static int write_chunk(int fd, off_t off)
{
	if (write(fd, buf, CHUNK) != CHUNK)
		return -1;
	if ((off + CHUNK) % SYNC_EVERY == 0 &&
	    sync_file_range(fd, off + CHUNK - SYNC_EVERY, SYNC_EVERY,
			    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER))
		return -1;
	return 0;
}

static int write_through_cache(const char *dir, size_t mib)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/stallwork.data", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	for (size_t i = 0; i < mib; i++) {
		if (write_chunk(fd, (off_t)i * CHUNK)) {
			perror("write");
			return 1;
		}
	}
	/* Kept open and not removed: its pages stay in the cgroup, for touch_anon to reclaim. */
	return 0;
}

static int touch_anon(size_t mib)
{
	size_t len = mib << 20;
	volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t off = 0; off < len; off += PAGE)
		p[off] = 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: stallwork DIR WRITE_MIB ANON_MIB\n");
		return 2;
	}
	if (write_through_cache(argv[1], strtoul(argv[2], NULL, 10)))
		return 1;
	if (touch_anon(strtoul(argv[3], NULL, 10)))
		return 1;
	puts("done");
	return 0;
}
