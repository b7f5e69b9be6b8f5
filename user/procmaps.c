// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Parsing of /proc/PID/maps. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "procmaps.h"
#include "util.h"

#define DELETED_SUFFIX " (deleted)"

/* "start-end perms offset major:minor inode   path" */
int vma_parse_line(const char *line, struct vma *vma)
{
	char perms[8];
	int path_pos = 0;
	size_t len;

	memset(vma, 0, sizeof(*vma));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &vma->start, &vma->end, perms, &vma->offset,
		   &vma->dev_major, &vma->dev_minor, &vma->inode, &path_pos) < 7)
		return -EINVAL;
	if (vma->end <= vma->start || strlen(perms) != 4)
		return -EINVAL;
	vma->exec = perms[2] == 'x';
	if (path_pos <= 0)
		return 0;

	len = strcspn(line + path_pos, "\n");
	if (len >= sizeof(vma->path))
		return -ENAMETOOLONG;
	memcpy(vma->path, line + path_pos, len);
	vma->path[len] = '\0';
	if (len > strlen(DELETED_SUFFIX) &&
	    !strcmp(vma->path + len - strlen(DELETED_SUFFIX), DELETED_SUFFIX)) {
		vma->deleted = true;
		vma->path[len - strlen(DELETED_SUFFIX)] = '\0';
	}
	return 0;
}

static int vma_list_push(struct vma_list *list, const struct vma *vma)
{
	if (list->nr == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 64;
		struct vma *v = realloc(list->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		list->v = v;
		list->cap = cap;
	}
	list->v[list->nr++] = *vma;
	return 0;
}

static int vma_list_read(FILE *f, struct vma_list *list)
{
	char line[4096 + 128];
	struct vma vma;
	int err;

	while (fgets(line, sizeof(line), f)) {
		err = vma_parse_line(line, &vma);
		if (err)
			return err;
		err = vma_list_push(list, &vma);
		if (err)
			return err;
	}
	return ferror(f) ? -EIO : 0;
}

int vma_list_load(int pid, struct vma_list *list)
{
	char path[64];
	FILE *f;
	int err;

	/* A leader gone with pthread_exit() has empty maps: a live thread's. */
	snprintf(path, sizeof(path), "/proc/%d/maps", proc_mm_pid(pid));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = vma_list_read(f, list);
	fclose(f);
	return err;
}

void vma_list_free(struct vma_list *list)
{
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* Maps are sorted by address: binary search. */
const struct vma *vma_find(const struct vma_list *list, uint64_t addr)
{
	size_t lo = 0, hi = list->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vma *v = &list->v[mid];

		if (addr < v->start)
			hi = mid;
		else if (addr >= v->end)
			lo = mid + 1;
		else
			return v;
	}
	return NULL;
}

/*
 * glibc's "libc.so.6", older "libc-2.31.so"; musl's "libc.so", which is
 * also its dynamic loader "ld-musl-x86_64.so.1".
 */
bool path_is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	if (!strcmp(base, "libc.so.6") || !strcmp(base, "libc.so"))
		return true;
	if (!strncmp(base, "ld-musl-", 8))
		return true;
	return !strncmp(base, "libc-", 5) && strstr(base, ".so");
}

void vma_map_files_path(int pid, const struct vma *v, char *buf, size_t len)
{
	snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", proc_mm_pid(pid),
		 (unsigned long long)v->start, (unsigned long long)v->end);
}

/* The dynamic loader: "ld-linux-x86-64.so.2", "ld-musl-x86_64.so.1"... */
bool path_is_interp(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "ld-", 3) && strstr(base, ".so");
}

const struct vma *vma_find_interp(const struct vma_list *list)
{
	for (size_t i = 0; i < list->nr; i++)
		if (list->v[i].path[0] == '/' && path_is_interp(list->v[i].path))
			return &list->v[i];
	return NULL;
}

/* The executable mapping of libc: the one the allocator's code runs from. */
const struct vma *vma_find_libc(const struct vma_list *list)
{
	for (size_t i = 0; i < list->nr; i++) {
		const struct vma *v = &list->v[i];

		if (v->exec && v->path[0] == '/' && path_is_libc(v->path))
			return v;
	}
	return NULL;
}

bool vma_maps_file(const struct vma *v, const struct stat *st)
{
	return v->inode == st->st_ino && v->dev_major == major(st->st_dev) &&
	       v->dev_minor == minor(st->st_dev);
}

int vma_open_file(int pid, const struct vma *v)
{
	char path[4096 + 64];
	struct stat st;
	int fd;

	vma_map_files_path(pid, v, path, sizeof(path));
	fd = open_regular(path);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "/proc/%d/root%s", proc_mm_pid(pid), v->path);
	fd = open_regular(path);
	if (fd >= 0 || v->deleted || v->path[0] != '/' || !v->ctime_ns)
		return fd;
	/*
	 * The process has exited (its mappings were read before): the file
	 * at that path here, if it is the very one. A file rebuilt in place
	 * can get the same inode back: its ctime tells.
	 */
	fd = open_regular(v->path);
	if (fd < 0)
		return fd;
	if (!fstat(fd, &st) && vma_maps_file(v, &st) &&
	    (uint64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec == v->ctime_ns)
		return fd;
	close(fd);
	return -ESTALE;
}
