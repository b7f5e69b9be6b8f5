/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Shared between bpf/allocs.bpf.c and userspace: the records the allocation
 * tracer keeps in its maps and streams through its ring buffer.
 */
#ifndef MEMLENS_ALLOCS_H
#define MEMLENS_ALLOCS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Deepest user stack kept; the kernel's perf_event_max_stack default. */
#define MAX_STACK_DEPTH		127

/* Default map sizes; `memlens leaks` can raise the first two. */
#define DEFAULT_MAX_ALLOCS	(256 * 1024)
#define DEFAULT_MAX_STACKS	(16 * 1024)
#define MAX_THREADS		(16 * 1024)
#define RINGBUF_BYTES		(256 * 1024)

/* Which entry point made an allocation; stored with every outstanding block. */
enum alloc_kind {
	KIND_MALLOC,
	KIND_CALLOC,
	KIND_REALLOC,
	KIND_REALLOCARRAY,
	KIND_POSIX_MEMALIGN,
	KIND_MEMALIGN,		/* also aligned_alloc, an alias in glibc */
	KIND_VALLOC,
	KIND_PVALLOC,
	KIND_MMAP,		/* anonymous mmap syscall outside the allocator */
	KIND_MREMAP,
	KIND_NR,
};

/*
 * Counters, summed over CPUs by userspace and printed with every report so
 * that nothing is lost silently.
 */
enum alloc_stat {
	STAT_ALLOCS,		/* allocations recorded */
	STAT_ALLOC_BYTES,
	STAT_FREES,		/* frees that matched a recorded allocation */
	STAT_FREE_BYTES,
	STAT_FREE_UNKNOWN,	/* free of an address we never saw allocated */
	STAT_ALLOC_FAILED,	/* allocator returned NULL / error: not counted */
	STAT_REPLACED,		/* an address was allocated twice without a free */
	STAT_ALLOCS_FULL,	/* outstanding map full: allocation dropped */
	STAT_STACKS_FULL,	/* stack map full: allocation kept, stack lost */
	STAT_STACK_FAILED,	/* bpf_get_stack() failed: stack lost */
	STAT_STACK_COLLISION,	/* two stacks hashed alike: second one lost */
	STAT_THREADS_FULL,	/* per-thread state map full: call dropped */
	STAT_MISSED_RETURN,	/* allocator entry whose return was never seen */
	STAT_EVENTS_LOST,	/* ring buffer full: event dropped */
	STAT_NR,
};

/* Key of the outstanding-allocations map. */
struct alloc_key {
	__u32 tgid;
	__u32 pad;
	__u64 addr;
};

/* Value of the outstanding-allocations map. */
struct alloc_info {
	__u64 size;
	__u64 ts_ns;		/* CLOCK_MONOTONIC at allocation */
	__u64 stack_id;		/* key in the stacks map, 0 if none */
	__u32 tid;
	__u32 kind;		/* enum alloc_kind */
};

/*
 * Value of the stacks map, keyed by a 64-bit hash of the frames. The BPF
 * side compares frames on every hit, so an id always names the stack it
 * was taken for; a clash is counted (STAT_STACK_COLLISION), never merged.
 */
struct stack_trace {
	__u32 nr;
	__u32 pad;
	__u64 ips[MAX_STACK_DEPTH];
};

enum event_type {
	EVENT_EXIT = 1,		/* the traced process has exited */
	EVENT_MAPS_CHANGED,	/* exec, or an executable file mapping */
	EVENT_EXITING,		/* held at _exit: read its maps, then SIGCONT */
};

/* Ring buffer record: only rare events are streamed. */
struct event {
	__u32 type;		/* enum event_type */
	__u32 tgid;
	__s32 exit_code;
	__u32 pad;
	__u64 ts_ns;
};

#endif /* MEMLENS_ALLOCS_H */
