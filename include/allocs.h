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
#include "log2hist.h"

/* Deepest user stack kept; the kernel's perf_event_max_stack default. */
#define MAX_STACK_DEPTH		127

/* Default map sizes; userspace can raise them before loading. */
#define DEFAULT_MAX_ALLOCS	(256 * 1024)
#define DEFAULT_MAX_STACKS	(16 * 1024)
#define MAX_THREADS		(16 * 1024)
#define MAX_PROCS		(16 * 1024)
#define MAX_ERROR_KEYS		4096
#define RINGBUF_BYTES		(256 * 1024)

/* Which entry point made an allocation; stored with every outstanding block. */
/*
 * The attach cookie of an allocator function under uprobe sessions
 * (bpf/session.bpf.h): its kind, whether its calls keep their return
 * probe, the bytes from its entry to its probe, its size in bytes.
 */
#define SESSION_COOKIE(kind, keep, skip, size) \
	((__u64)(kind) | (__u64)!!(keep) << 8 | (__u64)(skip) << 16 | (__u64)(size) << 32)
#define SESSION_KIND(c)		((c) & 0xff)
#define SESSION_KEEP_RETURN(c)	((c) >> 8 & 1)
#define SESSION_SKIP(c)		((c) >> 16 & 0xffff)
#define SESSION_FUNC_SIZE(c)	((c) >> 32)

/*
 * leaks: C++ operator new left to the malloc it calls (user/cxx_forward.c):
 * the return addresses of those calls in one process, and where new's
 * caller's return address is on the stack there (sp + slot), and its rbp
 * where new saved it (aligned new keeps a value of its own in rbp).
 */
#define NEW_SITES_MAX 8
#define NEW_SITE_SLOT(ret, rbp)	((ret) | (rbp) << 16)	/* rbp: sp + rbp - 1, 0: in rbp */
#define NEW_SITE_RET(s)		((s) & 0xffff)
#define NEW_SITE_RBP(s)		((s) >> 16 & 0xffff)

struct new_sites {
	__u32 nr;
	__u32 pad;
	__u64 lo, hi;		/* the span of ip[]: [lo, hi) */
	__u64 ip[NEW_SITES_MAX];
	__u64 slot[NEW_SITES_MAX];
};

/*
 * The attach cookie of a tail jump's probe (memlens allocs,
 * bpf/alloc_profile.bpf.h): the kind of the function it jumps to, whether
 * it jumps through a GOT slot (a PLT stub's or its own `jmp *slot(%rip)`),
 * whether it is conditional and on which condition code (x86 jcc), and
 * the distance from the jump to its target, or to the slot.
 */
#define TAIL_VIA_SLOT		(1ULL << 8)
#define TAIL_COND		(1ULL << 9)
#define TAIL_COOKIE(kind, flags, cc, delta) \
	((__u64)(kind) | (flags) | (__u64)((cc) & 0xf) << 12 | (__u64)(__u32)(delta) << 32)
#define TAIL_KIND(c)		((c) & 0xff)
#define TAIL_CC(c)		((c) >> 12 & 0xf)
#define TAIL_DELTA(c)		((__s64)(__s32)((c) >> 32))

enum alloc_kind {
	KIND_MALLOC,
	KIND_CALLOC,
	KIND_REALLOC,
	KIND_REALLOCARRAY,
	KIND_POSIX_MEMALIGN,
	KIND_MEMALIGN,		/* also aligned_alloc, an alias in glibc */
	KIND_VALLOC,
	KIND_PVALLOC,
	KIND_NEW,		/* C++ operator new and new[], every variant */
	KIND_DELETE,		/* C++ operator delete in progress: never a block */
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
	/*
	 * stack lost: bpf_get_stack() failed, no scratch buffer, no user
	 * registers, or the scratch buffer taken over mid-capture
	 */
	STAT_STACK_FAILED,
	STAT_STACK_COLLISION,	/* two stacks hashed alike: second one lost */
	STAT_THREADS_FULL,	/* per-thread state map full: call dropped */
	STAT_MISSED_RETURN,	/* allocator entry whose return was never seen */
	STAT_EVENTS_LOST,	/* ring buffer full: event dropped */
	STAT_PROCS_FULL,	/* per-process stats map full: event not counted */
	STAT_HISTS_FULL,	/* histogram map full: value not counted */
	STAT_ERRORS_FULL,	/* syscall error map full: error not counted */
	STAT_EVENTS,		/* events handled, for memlens' own cost */
	/* The unwinder (include/unwind.h): stacks that end early, and why. */
	STAT_UNWIND_UNKNOWN_PC,	/* a frame in no known module (JIT, unseen library) */
	STAT_UNWIND_NO_ROW,	/* a frame whose CFI rule the unwinder cannot follow */
	STAT_UNWIND_FAILED,	/* user stack unreadable, or a frame not above the last */
	/* Filled in by userspace, not the BPF side. */
	STAT_UNWIND_TOO_BIG,	/* modules whose table did not fit: frame pointers */
	STAT_UNWIND_MAPS_DROPPED, /* executable mappings beyond UNWIND_MAX_MAPPINGS */
	/* --sample-bytes: allocator calls the sampler chose, and let pass */
	STAT_SAMPLED,
	STAT_UNSAMPLED,
	STAT_UNSAMPLED_BYTES,
	/* with sampling: free of an address not tracked (unsampled, mostly) */
	STAT_FREE_UNTRACKED,
	/*
	 * Filled in by userspace: distinct stacks cut at a return address in
	 * no executable mapping (a frame-pointer walk through code using rbp
	 * for data). New counters go last, so that recordings keep their
	 * stats' places.
	 */
	STAT_STACK_NOT_CODE,
	/*
	 * Filled in by userspace: stacks taken out of the stack map because
	 * no outstanding block referred to them (memlens leaks and record).
	 */
	STAT_STACKS_RECLAIMED,
	/*
	 * Filled in by userspace: files memlens gave up opening to symbolize
	 * or unwind, no answer in time (a hung NFS or FUSE mount).
	 */
	STAT_FILES_GIVEN_UP,
	/*
	 * Filled in by userspace: stacks reclaimed, then referred to by a
	 * block stored seconds after its stack (its task held up): no stack.
	 */
	STAT_STACK_RECLAIMED_EARLY,
	/*
	 * memlens allocs: calls that cannot succeed, a size above 2^57 (no
	 * object is larger than PTRDIFF_MAX, nor than the user address space)
	 * or an array product that overflows: counted here, not their bytes.
	 */
	STAT_ALLOC_IMPOSSIBLE,
	/*
	 * memlens allocs: a tail jump through a GOT slot not yet bound (lazy
	 * binding): its continuation known by its kind, not its address.
	 */
	STAT_TAIL_UNBOUND,
	/*
	 * leaks: calls of an operator new that may throw and is not proven
	 * to hand its block to a hooked allocator (jemalloc's, tcmalloc's, a
	 * program's own): it has no return probe, which would stop a C++
	 * exception thrown through it. Its own blocks are not counted.
	 */
	STAT_NEW_UNFOLLOWED,
	/*
	 * leaks, record, allocs: processes the traced one forked (threads
	 * are not processes). memlens traces one process: theirs are in no
	 * report.
	 */
	STAT_CHILDREN_UNTRACED,
	STAT_NR,
};

/* Per-process counters (memlens top), summed over CPUs by userspace. */
enum proc_stat {
	PS_ALLOCS,		/* allocator calls that returned a block */
	PS_ALLOC_BYTES,
	PS_FREES,		/* frees of blocks allocated while traced */
	PS_FREE_BYTES,
	PS_ALLOC_FAILED,
	PS_BRK_GROW,		/* brk calls that moved the break up */
	PS_BRK_GROW_BYTES,
	PS_BRK_SHRINK,
	PS_BRK_SHRINK_BYTES,
	PS_BRK_FAILED,
	PS_MMAP,		/* anonymous mmaps */
	PS_MMAP_BYTES,
	PS_MUNMAP,		/* munmaps, of any mapping */
	PS_MUNMAP_BYTES,
	PS_MREMAP,
	PS_MMAP_FAILED,		/* failed anonymous mmap or mremap */
	PS_MINFLT_USER,		/* minor faults taken in user mode */
	PS_MINFLT_KERNEL,	/* ... in kernel mode, e.g. copy_to_user */
	PS_MAJFLT_USER,
	PS_MAJFLT_KERNEL,
	PS_NR,
};

struct proc_stats {
	__u64 v[PS_NR];
	char comm[16];		/* at its first event: the name before an exec */
};

/* Resident pages by kind, as kmem:rss_stat last reported them. */
enum rss_member {
	RSS_FILE,		/* MM_FILEPAGES */
	RSS_ANON,		/* MM_ANONPAGES */
	RSS_SWAP,		/* MM_SWAPENTS */
	RSS_SHMEM,		/* MM_SHMEMPAGES */
	RSS_NR,
};

struct rss_info {
	__s64 pages[RSS_NR];
};

enum hist_kind {
	HIST_ALLOC_SIZE,	/* bytes per allocator call */
	HIST_MMAP_SIZE,		/* bytes per anonymous mmap */
	HIST_LIFETIME,		/* microseconds from allocation to free */
	HIST_NR,
};

struct hist_key {
	__u32 tgid;
	__u32 kind;		/* enum hist_kind */
};

/* Failed memory syscalls by process, syscall and errno. */
enum mem_syscall {
	SYS_BRK,
	SYS_MMAP,
	SYS_MUNMAP,
	SYS_MREMAP,
	SYS_NR,
};

struct error_key {
	__u32 tgid;
	__u16 syscall;		/* enum mem_syscall */
	__u16 err;		/* errno */
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
	__u16 kind;		/* enum alloc_kind */
	__u16 flags;		/* ALLOC_F_* */
};

/*
 * Tracked as one of all, not as a sample, though sampling is on: the
 * thread's sampler could not be had (threads_map_full). It weighs 1.
 */
#define ALLOC_F_UNSAMPLED	0x1
/*
 * Put back in the map after its call took it out (a failed realloc, a
 * munmap that found a malloc block): not the copy userspace made of it
 * while moving it out of the table, which it may drop.
 */
#define ALLOC_F_RESTORED	0x2

/*
 * The table of recent blocks in front of the allocs map (memlens leaks and
 * record of one process, where the kernel has BPF atomics): a block's
 * bucket is a hash of its address, and it goes in an empty way of it, or
 * to the map when none is. A table this small stays in the CPU's caches,
 * where the map's buckets, spread over megabytes, do not: an insert and a
 * free cost a few loads and stores, not two hash-map operations
 * (doc/internals.md, "The table of recent blocks"). The key of a block in
 * a way is (the traced process, addr).
 *
 * A way's addr word: in its top byte a generation, one more at each claim
 * of the way, so that userspace's compare-and-swap of a word it read fails
 * if the way was emptied and claimed again since, even for the same
 * address (ALLOC_WAY_ADDR: below it, the address, whose two low bits are
 * clear: a block at another goes to the map). The address 0: empty; a
 * block's when its info is whole; with ALLOC_WAY_BUSY while the return
 * program that claimed the way (compare-and-swap from empty) writes the
 * info; with ALLOC_WAY_MOVING while userspace moves the block to the map
 * (table_evict() in user/group_source.c). Only that program, a program that
 * takes the block out (a free, realloc, munmap; a plain store of its
 * generation alone), and userspace (dropping a gone image's blocks, moving
 * old ones) write a way holding a block; readers take a way's info only
 * between two equal reads of its word without either bit. No program
 * writes a way marked ALLOC_WAY_MOVING but one that took the block out
 * before the mark.
 */
#define ALLOC_WAYS		2
#define ALLOC_WAY_BUSY		1ULL
#define ALLOC_WAY_MOVING	2ULL
#define ALLOC_WAY_BITS		(ALLOC_WAY_BUSY | ALLOC_WAY_MOVING)
#define ALLOC_WAY_ADDR		((1ULL << 56) - 1)	/* x86-64 user space, 5-level paging too */
#define ALLOC_WAY_GEN_ONE	(1ULL << 56)
#define ALLOC_BUCKETS_DEFAULT	2048	/* 4096 blocks, 256 KiB */
#define ALLOC_BUCKETS_MAX	(1U << 20)

struct alloc_way {
	__u64 addr;
	struct alloc_info info;
	/* Way 0's: never below this bucket's blocks in the map; 0: a free need not look there. */
	__u32 spilled;
	__u32 pad[5];
};

struct alloc_bucket {
	struct alloc_way way[ALLOC_WAYS];
};

/* The bucket of a block at ADDR in a table of MASK + 1 buckets: Fibonacci hashing. */
static inline __u32 alloc_bucket_index(__u64 addr, __u32 mask)
{
	return (__u32)(((addr >> 4) * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

/* alloc_key.pad of a block read from the table, not from the map (userspace only). */
#define ALLOC_KEY_IN_TABLE	1

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

/*
 * Byte-weighted Poisson sampling (--sample-bytes R): userspace fills a
 * table of quantiles of the exponential distribution of mean 1,
 * -ln(1 - (i + 0.5) / SAMPLE_TABLE_SIZE) in fixed point (SAMPLE_FIX_SHIFT
 * bits of fraction), and the BPF side draws an interval from it with
 * bpf_get_prandom_u32(). R is at most SAMPLE_MAX_BYTES, so that a quantile
 * (below 2^20) times R fits in 64 bits.
 */
#define SAMPLE_TABLE_SIZE	4096
#define SAMPLE_FIX_SHIFT	16
#define SAMPLE_MAX_BYTES	(1ULL << 40)

/*
 * A thread's sampler, first in the per-thread state that every allocator
 * call looks up anyway (a thread slot or the threads map; the
 * profile_threads map for memlens allocs). The calls it lets pass are
 * counted there, not in the stats, where each would cost an atomic add:
 * sample_flush() moves them over when the thread's state goes, and
 * userspace adds those of the threads still there.
 */
struct sample_state {
	__u64 left;		/* bytes to the next sample point; 0: none drawn yet */
	__u64 unsampled;	/* calls let pass, not yet in STAT_UNSAMPLED */
	__u64 unsampled_bytes;	/* and their bytes, not yet in STAT_UNSAMPLED_BYTES */
};

/*
 * Thread slots (bpf/allocs.bpf.c): the per-thread state of thread TID in
 * element TID & (slots - 1) of an array while that thread holds it, in the
 * threads map otherwise. How each element begins, for userspace: the
 * thread that holds it (0: none), and its sampler.
 */
#define THREAD_SLOTS_DEFAULT	1024
#define THREAD_SLOTS_MAX	(1U << 16)

struct thread_slot_head {
	__u32 tid;		/* the thread it holds the state of; 0: none */
	__u32 claims;		/* threads holding or claiming it */
	struct sample_state sample;
};

/*
 * Go heap allocations (runtime.mallocgc), which are never freed one by
 * one: counted by stack and requested size, so that userspace can weigh
 * sampled ones by their size.
 */
struct go_alloc_key {
	__u64 stack_id;
	__u64 size;
	__u32 tgid;
	__u32 flags;		/* ALLOC_F_* */
};

enum event_type {
	EVENT_EXIT = 1,		/* a traced process has exited (its last thread) */
	EVENT_MAPS_CHANGED,	/* an executable file mapping; a command is held */
	EVENT_EXITING,		/* held at _exit: read its maps, then resume it */
	EVENT_EXEC,		/* a traced process exec'd: blocks before ts_ns are gone;
				 * a command is held */
	EVENT_EXEC_STATS,	/* top: the counters of the program before an exec */
};

/*
 * event.flags: thread event.tid is held until userspace has read its new
 * mappings (unwind tables) and its tracer resumes it (user/hold.c).
 */
#define EVENT_F_HELD	1
/*
 * EVENT_EXEC by a thread other than the leader: it goes on under the
 * process's pid in a task of its own, and the uprobes attached for the
 * process, tied to the old leader's task, see nothing of the new image.
 */
#define EVENT_F_THREAD_EXEC	2

/* Ring buffer record: only rare events are streamed. */
struct event {
	__u32 type;		/* enum event_type */
	__u32 tgid;
	__s32 exit_code;
	__u32 flags;		/* EVENT_F_* */
	__u64 ts_ns;
	char comm[16];		/* of the task that sent it */
	__u32 tid;		/* the thread held, with EVENT_F_HELD */
	__u32 hold_sig;		/* and the signal that holds it */
};

/* EVENT_EXEC_STATS: event.comm is the old program's name. */
struct exec_stats_event {
	struct event e;
	struct proc_stats st;
};

#endif /* MEMLENS_ALLOCS_H */
