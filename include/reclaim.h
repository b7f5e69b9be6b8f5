/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Shared between bpf/reclaim.bpf.c and userspace: what the memory-pressure
 * tracer keeps in its maps and streams through its ring buffer.
 */
#ifndef MEMLENS_RECLAIM_H
#define MEMLENS_RECLAIM_H

#ifndef __bpf__
#include <linux/types.h>
#endif
#include "log2hist.h"

#define RECLAIM_MAX_PROCS	(16 * 1024)
#define RECLAIM_MAX_HISTS	4096	/* preallocated: 2 MiB */
#define RECLAIM_MAX_OOM_VICTIMS	1024
#define RECLAIM_MAX_THREADS	(16 * 1024)
#define RECLAIM_MAX_NODES	64
#define RECLAIM_RINGBUF_BYTES	(512 * 1024)
/* With --stacks: distinct user and kernel stacks, and (process, kind, stacks) aggregates. */
#define RECLAIM_MAX_STACKS	4096	/* preallocated: 4 MiB */
#define RECLAIM_MAX_STALL_STACKS	8192
#define RECLAIM_STACK_DEPTH	127	/* the kernel's perf_event_max_stack default */

/* Where a task waited for memory: each is timed from its begin to its end event. */
enum stall_kind {
	STALL_DIRECT,		/* direct reclaim: the host is short of free pages */
	STALL_MEMCG,		/* memory cgroup reclaim: the task's cgroup is at its limit */
	STALL_NODE,		/* node reclaim (vm.zone_reclaim_mode) */
	STALL_COMPACT,		/* direct compaction, one stall per zone compacted */
	STALL_THROTTLE,		/* put to sleep by vmscan outside a timed stall */
	STALL_NR,
};

enum pressure_stat {
	RSTAT_STALLS,		/* stalls recorded */
	RSTAT_UNMATCHED,	/* an end without its begin, after a begin found
				 * the in-progress map full: stall lost */
	RSTAT_PROCS_FULL,	/* per-process map full: stall not counted */
	RSTAT_THREADS_FULL,	/* in-progress map full: stall not timed */
	RSTAT_HISTS_FULL,	/* histogram map full: stall not in a histogram */
	RSTAT_ALLOCS_FULL,	/* page allocation map full: allocation not counted */
	RSTAT_EVENTS_LOST,	/* ring buffer full: event not streamed */
	RSTAT_THROTTLE_NESTED,	/* throttled inside a timed stall: part of it, not one more */
	RSTAT_OOM_REPEATED,	/* a victim marked again (another thread): one kill */
	RSTAT_EVENTS,		/* events handled, for memlens' own cost */
	RSTAT_BEGAN_BEFORE,	/* in progress at attach: timed from then, not lost */
	RSTAT_USTACK_LOST,	/* --stacks: user stack not captured (map full, collision,
				 * unreadable): the stall counts under no user stack */
	RSTAT_KSTACK_LOST,	/* --stacks: kernel stack not captured, the same */
	RSTAT_STALL_STACKS_FULL,	/* --stacks: aggregate map full: stall not by stack */
	RSTAT_NR,
};

/* Per process: what it paid in stalls, and how it pushed. */
struct reclaim_proc {
	__u64 stalls[STALL_NR];
	__u64 stall_ns[STALL_NR];
	__u64 reclaimed[STALL_NR];	/* pages it reclaimed itself */
	__u64 kswapd_wakeups;		/* allocations that woke kswapd */
	__u64 memcg;			/* v1 memory cgroup at its last stall */
};

struct stall_key {
	__u32 id;		/* tgid in the histograms; tid for stalls in progress */
	__u32 kind;		/* enum stall_kind */
};

/* A stall in progress: when it began, and where (stack ids, -1: none). */
struct stall_start {
	__u64 begin_ns;
	__s32 ustack;		/* in the stall_stack_ips map; -1: none (kernel thread, lost) */
	__s32 kstack;
	__u32 tgid;		/* whose: userspace counts stall time still in progress */
	__u32 pad;
};

/* Stalls aggregated by process, kind and the code that stalled (--stacks). */
struct stall_stack_key {
	__u32 tgid;
	__u32 kind;		/* enum stall_kind */
	__s32 ustack;		/* -1: no user stack */
	__s32 kstack;		/* -1: no kernel stack */
};

struct stall_stack_val {
	__u64 count;
	__u64 total_ns;
	__u64 max_ns;		/* racy between CPUs of one process: a lower bound */
};

/* kswapd of one NUMA node. */
struct kswapd_node {
	__u64 wakes;		/* from asleep: kswapd fires "wake" every pass */
	__u64 awake_ns;		/* time between wake and sleep, summed */
	__u64 reclaimed;	/* pages */
	__u64 since_ns;		/* awake since; 0 while asleep */
	__u64 reclaimed_at_wake;
};

enum reclaim_event_type {
	REVENT_STALL = 1,	/* a stall ended */
	REVENT_KSWAPD_WAKE,
	REVENT_KSWAPD_SLEEP,
	REVENT_OOM,		/* the OOM killer chose a victim */
	REVENT_EXEC,		/* a process traced exec'd (--stacks with a filter) */
};

/* Streamed: one per stall, per kswapd wake and sleep, per exec. */
struct reclaim_event {
	__u32 type;		/* enum reclaim_event_type */
	__u32 kind;		/* stall: enum stall_kind; kswapd: its node */
	__u32 tgid;
	__u32 tid;
	__u64 begin_ns;		/* CLOCK_MONOTONIC */
	__u64 dur_ns;
	__u64 pages;		/* reclaimed during the stall, or kswapd's run */
	__u64 memcg;
	char comm[16];
	__s32 ustack;		/* stall with --stacks: its stacks; else -1 */
	__s32 kstack;
};

/* Streamed: one per OOM victim. */
struct oom_event {
	__u32 type;		/* REVENT_OOM */
	__u32 victim_tgid;
	__u32 victim_tid;
	__u32 killer_tgid;	/* the task whose allocation failed */
	__u64 ts_ns;
	__u64 memcg;		/* of the victim */
	__s64 total_vm;		/* pages */
	__s64 rss_anon;		/* pages */
	__s64 rss_file;
	__s64 rss_shmem;
	__s32 oom_score_adj;
	__u32 uid;
	char victim_comm[16];
	char killer_comm[16];
};

#endif /* MEMLENS_RECLAIM_H */
