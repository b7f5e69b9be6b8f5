// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* v1 memory cgroups: from a path to the id BPF reads, and back. */
#include <errno.h>
#include <ftw.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include "memcg.h"
#include "util.h"

int memcg_resolve(const char *arg, uint64_t *id)
{
	char path[4096];
	struct statfs sfs;
	char file[4096 + 32];
	struct stat st, ctl;

	if (arg[0] == '/')
		snprintf(path, sizeof(path), "%s", arg);
	else
		snprintf(path, sizeof(path), "%s/%s", CGROUP_V1_MEMORY, arg);
	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		error_msg("cgroup %s does not exist", path);
		return -ENOENT;
	}
	if (statfs(path, &sfs) || sfs.f_type != CGROUP_SUPER_MAGIC) {
		error_msg("%s is not in a cgroup v1 hierarchy (the memory controller is at %s)",
			  path, CGROUP_V1_MEMORY);
		return -EINVAL;
	}
	/*
	 * The id BPF compares is the directory's inode number in the memory
	 * hierarchy: in another one (cpu, pids) the same number names some
	 * other memory cgroup. Every cgroup of the memory hierarchy, wherever
	 * it is mounted, has the controller's files.
	 */
	snprintf(file, sizeof(file), "%s/memory.limit_in_bytes", path);
	if (stat(file, &ctl)) {
		error_msg("%s is not a memory cgroup: it is in another cgroup v1 hierarchy "
			  "than the memory controller's (%s)", path, CGROUP_V1_MEMORY);
		return -EINVAL;
	}
	*id = st.st_ino;
	return 0;
}

/* nftw has no context argument: the walk is one at a time. */
static uint64_t wanted_id;
static char *found_buf;
static size_t found_len;

static int match_dir(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_D || st->st_ino != wanted_id)
		return 0;
	path += strlen(CGROUP_V1_MEMORY);
	snprintf(found_buf, found_len, "%s", *path ? path : "/");
	return 1;
}

/* Paths found, by id: the walk is over the whole hierarchy. Ids are not reused. */
#define PATH_CACHE	64

static struct {
	uint64_t id;
	char path[256];
} path_cache[PATH_CACHE];
static unsigned int path_cache_next;

const char *memcg_path(uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "#%llu", (unsigned long long)id);
	if (!id)
		return buf;
	for (unsigned int i = 0; i < PATH_CACHE; i++) {
		if (path_cache[i].id == id) {
			snprintf(buf, len, "%s", path_cache[i].path);
			return buf;
		}
	}
	wanted_id = id;
	found_buf = buf;
	found_len = len;
	if (nftw(CGROUP_V1_MEMORY, match_dir, 16, FTW_PHYS | FTW_MOUNT) == 1) {
		unsigned int slot = path_cache_next++ % PATH_CACHE;

		path_cache[slot].id = id;
		snprintf(path_cache[slot].path, sizeof(path_cache[slot].path), "%s", buf);
	}
	return buf;
}
