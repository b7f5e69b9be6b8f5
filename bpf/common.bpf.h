/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Helpers shared by the BPF objects. Each object that includes this file
 * defines its own counters and stat_add(), through which lookup_or_init()
 * counts a full map.
 */
#ifndef MEMLENS_COMMON_BPF_H
#define MEMLENS_COMMON_BPF_H

#include "log2hist.h"

#define ENOENT		2
#define EEXIST		17
#define TASK_COMM_LEN	16

/* Plain accesses the compiler may not merge, split or move (no CPU ordering: x86 keeps it). */
#define barrier()		asm volatile("" ::: "memory")
#define READ_ONCE_U64(x)	(*(volatile __u64 *)&(x))
#define READ_ONCE_U32(x)	(*(volatile __u32 *)&(x))
#define WRITE_ONCE_U64(x, v)	(*(volatile __u64 *)&(x) = (v))
#define WRITE_ONCE_U32(x, v)	(*(volatile __u32 *)&(x) = (v))

static __always_inline void stat_add(__u32 stat, __u64 n);

/*
 * The entry of KEY in MAP, made from INIT on first use; NULL, counted
 * under FULL, when the map has no room. Inlined: MAP must be a constant.
 */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *init,
					    __u32 full)
{
	void *val = bpf_map_lookup_elem(map, key);
	long err;

	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST) {	/* EEXIST: another CPU made it first */
		stat_add(full, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(map, key);
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/*
 * The current task, to read with BPF_CORE_READ. bpf_get_current_task()
 * is on every kernel; bpf_get_current_task_btf() only from 5.11, and only
 * helpers that need a trusted pointer (task storage) use it.
 */
static __always_inline struct task_struct *current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

/* Is TASK's process named WANT? Its group leader's name: threads rename themselves. */
static bool task_comm_is(struct task_struct *task, const volatile char *want)
{
	char comm[TASK_COMM_LEN];

	BPF_CORE_READ_STR_INTO(&comm, task, group_leader, comm);
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != want[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/*
 * The v1 memory cgroup of TASK (its kernfs id), from its css_set: on a v1
 * host bpf_get_current_cgroup_id() is the v2 id, the root for every task.
 */
static __u64 task_memcg(struct task_struct *task)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);

	return BPF_CORE_READ(task, cgroups, subsys[id], cgroup, kn, id);
}

/*
 * Which processes are traced, set by userspace before loading: all
 * filters set must match. Each object that includes this has its own.
 */
const volatile __u32 targ_tgid;		/* 0: any */
const volatile __u32 self_tgid;		/* memlens itself: never traced */
const volatile bool filter_comm;
const volatile char targ_comm[TASK_COMM_LEN];
const volatile __u64 targ_memcg;	/* kernfs id of a v1 memory cgroup, 0: any */

/* Is TASK, of process TGID, one memlens was asked to trace? */
static __always_inline bool task_traced(__u32 tgid, struct task_struct *task)
{
	if (targ_tgid && tgid != targ_tgid)
		return false;
	if (tgid == self_tgid)
		return false;
	if (filter_comm && !task_comm_is(task, targ_comm))
		return false;
	if (targ_memcg && task_memcg(task) != targ_memcg)
		return false;
	return true;
}

/*
 * The current task, if a filter needs it: the flags are constants the
 * verifier knows, so an unfiltered program makes no helper call for it.
 */
static __always_inline struct task_struct *task_to_filter(void)
{
	return filter_comm || targ_memcg ? current_task() : NULL;
}

/*
 * Can a task that was traced stop matching? Not by its process: a pid
 * stays. By its name (-c: an exec) or its cgroup (a move): state it left
 * while traced (a thread slot, an entry by tid) must still go at its exec,
 * which the filter may no longer let through.
 */
static __always_inline bool filter_can_unmatch(void)
{
	return filter_comm || targ_memcg;
}

/* Is the current task one memlens was asked to trace? */
static __always_inline bool traced(void)
{
	return task_traced(current_tgid(), task_to_filter());
}

/*
 * traced(), and the current pid_tgid in *ID: one helper call for both, on
 * hot paths, which pass it on (the call costs 8 ns here, and a malloc's
 * programs made ten).
 */
static __always_inline bool traced_id(__u64 *id)
{
	*id = bpf_get_current_pid_tgid();
	return task_traced(*id >> 32, task_to_filter());
}

/* traced(), and the thread's id in *TID. */
static __always_inline bool traced_tid(__u32 *tid)
{
	__u64 id;
	bool yes = traced_id(&id);

	*tid = (__u32)id;
	return yes;
}

/*
 * Up to 6.1 an mm's counters were atomics in one struct mm_rss_stat; since
 * 6.2 each is a percpu_counter, whose count lags by at most a batch per CPU.
 * CO-RE picks the layout the kernel has.
 */
struct mm_rss_stat___atomic {
	atomic_long_t count[4];	/* NR_MM_COUNTERS */
} __attribute__((preserve_access_index));

struct mm_struct___atomic_rss {
	struct mm_rss_stat___atomic rss_stat;
} __attribute__((preserve_access_index));

/*
 * Pages of counter MEMBER (MM_FILEPAGES, ...) of MM, either layout. The
 * test is on mm_struct.rss_stat itself, not on whether the kernel's BTF
 * has some struct mm_rss_stat: that is a type, which may outlive or
 * differ from the field. Since 6.2 the field is an array, which the old
 * flavor's struct does not match, so its count is not found.
 */
static __always_inline __s64 mm_rss_pages(struct mm_struct *mm, int member)
{
	struct mm_struct___atomic_rss *old = (void *)mm;

	if (bpf_core_field_exists(old->rss_stat.count))
		return BPF_CORE_READ(old, rss_stat.count[member].counter);
	return BPF_CORE_READ(mm, rss_stat[member].count);
}

/* log2 histogram slot: 0 for 0, i for values in [2^(i-1), 2^i). */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

	while (v && slot < HIST_SLOTS - 1) {
		v >>= 1;
		slot++;
	}
	return slot;
}

#endif /* MEMLENS_COMMON_BPF_H */
