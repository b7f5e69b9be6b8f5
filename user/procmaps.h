/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_PROCMAPS_H
#define MEMLENS_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* One line of /proc/PID/maps. */
struct vma {
	uint64_t start;
	uint64_t end;
	uint64_t offset;	/* file offset of start */
	uint64_t inode;
	unsigned int dev_major;
	unsigned int dev_minor;
	bool exec;
	bool deleted;		/* " (deleted)" suffix, stripped from path */
	/*
	 * The file's ctime, if its mappings were read before its process
	 * exited (memlens reclaim): 0, else. Not from /proc/PID/maps.
	 */
	uint64_t ctime_ns;
	char path[4096];	/* empty for anonymous mappings */
};

struct vma_list {
	struct vma *v;
	size_t nr;
	size_t cap;
};

int vma_parse_line(const char *line, struct vma *vma);
int vma_list_load(int pid, struct vma_list *list);
void vma_list_free(struct vma_list *list);
const struct vma *vma_find(const struct vma_list *list, uint64_t addr);
bool path_is_libc(const char *path);
/*
 * A path that opens the very file mapped at V in process PID, as PID sees
 * it: deleted or replaced since, or in another mount namespace.
 */
void vma_map_files_path(int pid, const struct vma *v, char *buf, size_t len);
/*
 * The file V maps in process PID, opened read-only: through map_files (the
 * very file, even deleted or in another mount namespace), else through
 * the process's root, else (a process gone, V->ctime_ns known) the file at
 * that path here if its device, inode and ctime are V's; a regular file
 * only (open_regular()). A descriptor, or a negative errno.
 */
int vma_open_file(int pid, const struct vma *v);
struct stat;
/* Does V map the file ST describes (its device and inode)? */
bool vma_maps_file(const struct vma *v, const struct stat *st);
const struct vma *vma_find_libc(const struct vma_list *list);
bool path_is_interp(const char *path);
const struct vma *vma_find_interp(const struct vma_list *list);

#endif
