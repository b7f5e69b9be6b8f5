/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * v1 memory cgroups as BPF sees them: a cgroup's kernfs id is the inode
 * number of its directory under /sys/fs/cgroup/memory.
 */
#ifndef MEMLENS_MEMCG_H
#define MEMLENS_MEMCG_H

#include <stddef.h>
#include <stdint.h>

#define CGROUP_V1_MEMORY "/sys/fs/cgroup/memory"

/* The id of ARG, a directory or a path relative to the hierarchy; reports errors. */
int memcg_resolve(const char *arg, uint64_t *id);
/*
 * The path of memory cgroup ID relative to the hierarchy ("/" for the
 * root, "/a/b"), or "#ID" once the cgroup is gone. Returns BUF.
 */
const char *memcg_path(uint64_t id, char *buf, size_t len);

#endif
