// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Mapping calls whose result a tracker that looks at one mapping per call
 * gets wrong. Leaves exactly:
 *
 *   unmap_side_by_side  two 1-page mappings side by side, unmapped by one
 *                       munmap of both                            nothing
 *   mremap_part         mmap(8 pages), mremap of its first 2 pages to 4
 *                       pages elsewhere: the 4 moved (mremap)     16384 bytes
 *                       and the 6 pages left behind (mmap)        24576 bytes
 *   mremap_fails        mmap(8 pages), an mremap of its first 2 pages to 4
 *                       in place, which fails (the rest is in the way):
 *                       the mapping as it was, one block          32768 bytes
 *
 * Prints "side by side" if the two mappings were put side by side (another
 * thread of the process could take the room first: none here), and exits.
 * No stdio: its buffers would be allocations of their own.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

static void *map_at(void *at, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0);
	void *p = mmap(at, len, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED || (at && p != at))
		_exit(1);
	memset(p, 0x5a, len);
	return p;
}

/* Two tracked mappings, not one: a range made free, then mapped page by page. */
void unmap_side_by_side(void)
{
	char *p = map_at(NULL, 2 * PAGE);

	munmap(p, 2 * PAGE);
	map_at(p, PAGE);
	map_at(p + PAGE, PAGE);
	munmap(p, 2 * PAGE);
	write(1, "side by side\n", 13);
}

void mremap_part(void)
{
	char *p = map_at(NULL, 8 * PAGE), *q;

	q = mremap(p, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		_exit(1);
	memset(q, 0x5a, 4 * PAGE);
}

void mremap_fails(void)
{
	char *p = map_at(NULL, 8 * PAGE);

	if (mremap(p, 2 * PAGE, 4 * PAGE, 0) != MAP_FAILED)
		_exit(1);
}

int main(void)
{
	unmap_side_by_side();
	mremap_part();
	mremap_fails();
	return 0;
}
