// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The memory-pressure tracer behind `memlens reclaim` and `top --reclaim`.
 *
 * - Stalls: direct, memcg and node reclaim and compaction are timed from
 *   their begin to their end tracepoint in the task that waits; vmscan
 *   throttling reports its own delay. Each stall is aggregated per process
 *   (count, time, pages reclaimed, log2 histogram of its µs) and streamed,
 *   so that userspace can group stalls into episodes.
 * - kswapd: wake and sleep per node, the pages it reclaims, who woke it.
 * - OOM kills: the victim, its rss, oom_score_adj and memory cgroup.
 * - Page allocations per process, per CPU: who was allocating meanwhile.
 * - With --stacks: the user and kernel stack of the stalled task, taken
 *   where the stall begins (rare next to allocations), and every stall
 *   added to its (process, kind, user stack, kernel stack) aggregate.
 *
 * raw_tp, not tp_btf: no tracefs needed, and BPF_PROG_TEST_RUN can run
 * them on synthetic arguments (tests/unit).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "reclaim.h"
#include "common.bpf.h"
#include "cost.bpf.h"

#define PF_KSWAPD	0x00020000	/* task->flags: I am kswapd */
#define PF_KTHREAD	0x00200000	/* task->flags: a kernel thread, no user stack */
#define EFAULT		14
#define E2BIG		7
#define MM_FILEPAGES	0
#define MM_ANONPAGES	1
#define MM_SHMEMPAGES	3

/* Stalls in progress, by thread and kind: their begin time and stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECLAIM_MAX_THREADS);
	__type(key, struct stall_key);
	__type(value, struct stall_start);
} stall_begin SEC(".maps");

/*
 * --stacks: user and kernel stacks by id (bpf_get_stackid: one helper call,
 * no loop for the verifier; user stacks by frame pointer). Sized to one
 * entry by userspace without --stacks.
 */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, RECLAIM_MAX_STACKS);
	__type(key, __u32);
	__uint(value_size, RECLAIM_STACK_DEPTH * sizeof(__u64));
} stall_stack_ips SEC(".maps");

/* --stacks: count, time and longest stall by process, kind and stacks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECLAIM_MAX_STALL_STACKS);
	__type(key, struct stall_stack_key);
	__type(value, struct stall_stack_val);
} stall_stacks SEC(".maps");

/* Plain, not per-CPU: stalls are rare next to allocations; added atomically. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECLAIM_MAX_PROCS);
	__type(key, __u32);
	__type(value, struct reclaim_proc);
} procs SEC(".maps");

/*
 * Stall latency in µs, by process and kind. Preallocated: entries are made
 * while memory is short, when an allocation at run time could fail.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, RECLAIM_MAX_HISTS);
	__type(key, struct stall_key);
	__type(value, struct hist);
} stall_hists SEC(".maps");

/*
 * OOM victims reported, by process and mm: a process is killed once,
 * whichever of its threads the killer marks (mm addresses are reused, so
 * not by mm alone).
 */
struct oom_victim_key {
	__u64 mm;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, RECLAIM_MAX_OOM_VICTIMS);
	__type(key, struct oom_victim_key);
	__type(value, __u32);
} oom_victims SEC(".maps");

/* Pages allocated, by process: per CPU, the page allocator is hot. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, RECLAIM_MAX_PROCS);
	__type(key, __u32);
	__type(value, __u64);
} page_allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RECLAIM_MAX_NODES);
	__type(key, __u32);
	__type(value, struct kswapd_node);
} kswapd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RSTAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} rstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RECLAIM_RINGBUF_BYTES);
} revents SEC(".maps");

/* --stacks: take the stalled task's stacks. */
const volatile bool capture_stacks;

/* Set by userspace once loaded, just before attaching: when tracing began. */
__u64 tracing_since_ns;
/* A begin found the in-progress map full: an end without a begin may be its. */
__u32 begins_dropped;

static __always_inline void stat_add(__u32 stat, __u64 n)
{
	__u64 *val = bpf_map_lookup_elem(&rstats, &stat);

	/* Atomic: an interrupt's program may run in the middle of this one. */
	if (val)
		__sync_fetch_and_add(val, n);
}

/*
 * The stacks of the current task into START, with --stacks. A kernel
 * thread has no user stack to lose; any other failure (map full, two
 * stacks hashed alike, a user stack unreadable) is counted.
 */
static void take_stacks(void *ctx, struct stall_start *start)
{
	struct task_struct *task = current_task();
	long id;

	start->ustack = -1;
	start->kstack = -1;
	if (!capture_stacks)
		return;
	id = bpf_get_stackid(ctx, &stall_stack_ips, 0);
	if (id >= 0)
		start->kstack = id;
	else
		stat_add(RSTAT_KSTACK_LOST, 1);
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return;
	id = bpf_get_stackid(ctx, &stall_stack_ips, BPF_F_USER_STACK);
	if (id >= 0)
		start->ustack = id;
	else
		stat_add(RSTAT_USTACK_LOST, 1);
}

static void stall_begins(void *ctx, enum stall_kind kind)
{
	struct stall_key key = { .id = current_tid(), .kind = kind };
	struct stall_start start = { .begin_ns = bpf_ktime_get_ns(), .tgid = current_tgid() };

	if (!traced())
		return;
	take_stacks(ctx, &start);
	if (bpf_map_update_elem(&stall_begin, &key, &start, BPF_ANY)) {
		begins_dropped = 1;
		stat_add(RSTAT_THREADS_FULL, 1);
	}
}

static void hist_add(__u32 tgid, enum stall_kind kind, __u64 us)
{
	static const struct hist zero;
	struct stall_key key = { .id = tgid, .kind = kind };
	struct hist *h;
	__u32 slot;

	h = lookup_or_init(&stall_hists, &key, &zero, RSTAT_HISTS_FULL);
	if (!h)
		return;
	slot = log2_slot(us);
	if (slot < HIST_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
}

/* --stacks: the stall added to the aggregate of its process, kind and stacks. */
static void stacks_add(__u32 tgid, enum stall_kind kind, const struct stall_start *start,
		       __u64 dur_ns)
{
	static const struct stall_stack_val zero;
	struct stall_stack_key key = {
		.tgid = tgid, .kind = kind, .ustack = start->ustack, .kstack = start->kstack,
	};
	struct stall_stack_val *v;

	if (!capture_stacks)
		return;
	v = lookup_or_init(&stall_stacks, &key, &zero, RSTAT_STALL_STACKS_FULL);
	if (!v)
		return;
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->total_ns, dur_ns);
	/* No atomic max before 5.12: two CPUs at once may keep the shorter. */
	if (dur_ns > v->max_ns)
		v->max_ns = dur_ns;
}

/* A stall of the current task: counted, put in its histogram, streamed. */
static __always_inline void stall_record(enum stall_kind kind, const struct stall_start *start,
					 __u64 dur_ns, __u64 pages)
{
	static const struct reclaim_proc zero;
	struct task_struct *task = current_task();
	__u32 tgid = current_tgid();
	struct reclaim_event *e;
	struct reclaim_proc *p;
	__u64 memcg;

	if (kind >= STALL_NR)
		return;
	memcg = task_memcg(task);
	stat_add(RSTAT_STALLS, 1);
	stat_add(RSTAT_EVENTS, 1);
	p = lookup_or_init(&procs, &tgid, &zero, RSTAT_PROCS_FULL);
	if (p) {
		__sync_fetch_and_add(&p->stalls[kind], 1);
		__sync_fetch_and_add(&p->stall_ns[kind], dur_ns);
		__sync_fetch_and_add(&p->reclaimed[kind], pages);
		p->memcg = memcg;
	}
	hist_add(tgid, kind, dur_ns / 1000);
	stacks_add(tgid, kind, start, dur_ns);

	e = bpf_ringbuf_reserve(&revents, sizeof(*e), 0);
	if (!e) {
		stat_add(RSTAT_EVENTS_LOST, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = REVENT_STALL;
	e->kind = kind;
	e->tgid = tgid;
	e->tid = current_tid();
	e->begin_ns = start->begin_ns;
	e->dur_ns = dur_ns;
	e->pages = pages;
	e->memcg = memcg;
	e->ustack = start->ustack;
	e->kstack = start->kstack;
	BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	bpf_ringbuf_submit(e, 0);
}

static void stall_ends(void *ctx, enum stall_kind kind, __u64 pages)
{
	struct stall_key key = { .id = current_tid(), .kind = kind };
	struct stall_start *begin, start;
	__u64 now = bpf_ktime_get_ns();

	begin = bpf_map_lookup_elem(&stall_begin, &key);
	if (begin) {
		start = *begin;
		bpf_map_delete_elem(&stall_begin, &key);
		stall_record(kind, &start, now - start.begin_ns, pages);
		return;
	}
	/* Filtered out at its begin. */
	if (!traced())
		return;
	/* Its begin may be one the full map dropped: that stall is lost. */
	if (begins_dropped || !tracing_since_ns) {
		stat_add(RSTAT_UNMATCHED, 1);
		return;
	}
	/*
	 * In progress when memlens attached (a loaded machine always has some):
	 * no loss, a stall timed from when tracing began, the part of it seen.
	 */
	stat_add(RSTAT_BEGAN_BEFORE, 1);
	/* Its stacks now: the end is in the same call as the begin was. */
	start.begin_ns = tracing_since_ns;
	take_stacks(ctx, &start);
	stall_record(kind, &start, now - tracing_since_ns, pages);
}

SEC("raw_tp/mm_vmscan_direct_reclaim_begin")
int BPF_PROG(direct_reclaim_begin, int order, gfp_t gfp_flags)
{
	cost_begin();
	stall_begins(ctx, STALL_DIRECT);
	return cost_end();
}

SEC("raw_tp/mm_vmscan_direct_reclaim_end")
int BPF_PROG(direct_reclaim_end, unsigned long nr_reclaimed)
{
	cost_begin();
	stall_ends(ctx, STALL_DIRECT, nr_reclaimed);
	return cost_end();
}

SEC("raw_tp/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(memcg_reclaim_begin, int order, gfp_t gfp_flags)
{
	cost_begin();
	stall_begins(ctx, STALL_MEMCG);
	return cost_end();
}

SEC("raw_tp/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(memcg_reclaim_end, unsigned long nr_reclaimed)
{
	cost_begin();
	stall_ends(ctx, STALL_MEMCG, nr_reclaimed);
	return cost_end();
}

SEC("raw_tp/mm_vmscan_node_reclaim_begin")
int BPF_PROG(node_reclaim_begin, int nid, int order, gfp_t gfp_flags)
{
	cost_begin();
	stall_begins(ctx, STALL_NODE);
	return cost_end();
}

SEC("raw_tp/mm_vmscan_node_reclaim_end")
int BPF_PROG(node_reclaim_end, unsigned long nr_reclaimed)
{
	cost_begin();
	stall_ends(ctx, STALL_NODE, nr_reclaimed);
	return cost_end();
}

/*
 * One zone compacted by an allocating task. kcompactd's background and
 * proactive compaction (not direct) makes nobody wait: not a stall.
 */
SEC("raw_tp/mm_compaction_begin")
int BPF_PROG(compaction_begin, struct compact_control *cc)
{
	cost_begin();
	if (BPF_CORE_READ(cc, direct_compaction))
		stall_begins(ctx, STALL_COMPACT);
	return cost_end();
}

SEC("raw_tp/mm_compaction_end")
int BPF_PROG(compaction_end, struct compact_control *cc)
{
	cost_begin();
	if (BPF_CORE_READ(cc, direct_compaction))
		stall_ends(ctx, STALL_COMPACT, 0);
	return cost_end();
}

/* Is a timed stall of the current thread in progress? */
static bool in_timed_stall(void)
{
	struct stall_key key = { .id = current_tid() };

	for (__u32 k = 0; k < STALL_THROTTLE; k++) {
		key.kind = k;
		if (bpf_map_lookup_elem(&stall_begin, &key))
			return true;
	}
	return false;
}

/*
 * Fired after the sleep, with how long it lasted. Inside direct reclaim or
 * compaction it is part of that stall's time, not a stall of its own;
 * kswapd throttled is no task waiting for memory.
 */
SEC("raw_tp/mm_vmscan_throttled")
int BPF_PROG(vmscan_throttled, int nid, int usec_timeout, int usec_delayed, int reason)
{
	struct task_struct *task = current_task();
	__u64 dur_ns = (__u64)(usec_delayed > 0 ? usec_delayed : 0) * 1000;
	struct stall_start start;

	cost_begin();
	if ((BPF_CORE_READ(task, flags) & PF_KSWAPD) || !traced())
		return cost_end();
	if (in_timed_stall()) {
		stat_add(RSTAT_THROTTLE_NESTED, 1);
		return cost_end();
	}
	start.begin_ns = bpf_ktime_get_ns() - dur_ns;
	/* After the sleep, but still in the call that slept: the same stacks. */
	take_stacks(ctx, &start);
	stall_record(STALL_THROTTLE, &start, dur_ns, 0);
	return cost_end();
}

/* An allocation found its zone low and woke kswapd: count who. */
SEC("raw_tp/mm_vmscan_wakeup_kswapd")
int BPF_PROG(wakeup_kswapd, int nid, int zid, int order, gfp_t gfp_flags)
{
	static const struct reclaim_proc zero;
	__u32 tgid = current_tgid();
	struct reclaim_proc *p;

	cost_begin();
	/* tgid 0: the idle task, interrupted; nobody to blame. */
	if (!tgid || !traced())
		return cost_end();
	p = lookup_or_init(&procs, &tgid, &zero, RSTAT_PROCS_FULL);
	if (p)
		__sync_fetch_and_add(&p->kswapd_wakeups, 1);
	stat_add(RSTAT_EVENTS, 1);
	return cost_end();
}

/* A record of the current task, without stacks (kswapd's runs, an exec), submitted with FLAGS. */
static __always_inline void task_event(enum reclaim_event_type type, __u32 kind, __u64 begin_ns,
				       __u64 dur_ns, __u64 pages, __u64 flags)
{
	struct reclaim_event *e = bpf_ringbuf_reserve(&revents, sizeof(*e), 0);

	if (!e) {
		stat_add(RSTAT_EVENTS_LOST, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = type;
	e->kind = kind;
	e->tgid = current_tgid();
	e->tid = current_tid();
	e->begin_ns = begin_ns;
	e->dur_ns = dur_ns;
	e->pages = pages;
	e->ustack = e->kstack = -1;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, flags);
}

/*
 * --stacks with a filter: a process traced exec'd, streamed so that
 * userspace reads its mappings now. One OOM-killed a few ms after its
 * first stall may be gone before that stall is read; its program's own
 * frames are named from these. Loaded only then (userspace): execs are
 * rare, but a system-wide session would read every process's mappings.
 */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	cost_begin();
	if (!traced())
		return cost_end();
	/* Woken now: the process runs on, and may not stall (or live) long. */
	task_event(REVENT_EXEC, 0, 0, 0, 0, BPF_RB_FORCE_WAKEUP);
	return cost_end();
}

/* kswapd starts balancing its node; not filtered: it is everyone's. */
SEC("raw_tp/mm_vmscan_kswapd_wake")
int BPF_PROG(kswapd_wake, int nid, int zid, int order)
{
	__u32 key = nid;
	struct kswapd_node *k = bpf_map_lookup_elem(&kswapd, &key);
	__u64 now = bpf_ktime_get_ns();

	cost_begin();
	/* Another balancing pass of the same run: kswapd has not slept. */
	if (!k || k->since_ns)
		return cost_end();
	__sync_fetch_and_add(&k->wakes, 1);
	k->since_ns = now;
	k->reclaimed_at_wake = k->reclaimed;
	stat_add(RSTAT_EVENTS, 1);
	task_event(REVENT_KSWAPD_WAKE, nid, now, 0, 0, 0);
	return cost_end();
}

SEC("raw_tp/mm_vmscan_kswapd_sleep")
int BPF_PROG(kswapd_sleep, int nid)
{
	__u32 key = nid;
	struct kswapd_node *k = bpf_map_lookup_elem(&kswapd, &key);
	__u64 now = bpf_ktime_get_ns(), since;

	cost_begin();
	if (!k)
		return cost_end();
	since = k->since_ns;
	k->since_ns = 0;
	stat_add(RSTAT_EVENTS, 1);
	/* Asleep already, or awake since before memlens started. */
	if (!since)
		return cost_end();
	__sync_fetch_and_add(&k->awake_ns, now - since);
	task_event(REVENT_KSWAPD_SLEEP, nid, since, now - since,
		   k->reclaimed - k->reclaimed_at_wake, 0);
	return cost_end();
}

/* Pages reclaimed by kswapd; direct and memcg reclaim report theirs at their end. */
SEC("raw_tp/mm_vmscan_lru_shrink_inactive")
int BPF_PROG(lru_shrink_inactive, int nid, unsigned long nr_scanned, unsigned long nr_reclaimed)
{
	struct task_struct *task = current_task();
	__u32 key = nid;
	struct kswapd_node *k;

	cost_begin();
	if (!(BPF_CORE_READ(task, flags) & PF_KSWAPD) || !nr_reclaimed)
		return cost_end();
	k = bpf_map_lookup_elem(&kswapd, &key);
	if (k)
		__sync_fetch_and_add(&k->reclaimed, nr_reclaimed);
	return cost_end();
}

/*
 * The OOM killer marked a victim. This runs in the task whose allocation
 * failed, often the victim itself; the victim's rss is read before the
 * reaper frees it.
 */
SEC("raw_tp/mark_victim")
int BPF_PROG(oom_mark_victim, struct task_struct *victim, uid_t uid)
{
	struct task_struct *task = current_task();
	struct mm_struct *mm = BPF_CORE_READ(victim, mm);
	struct oom_victim_key vkey = { .mm = (__u64)mm, .tgid = BPF_CORE_READ(victim, tgid) };
	__u32 one = 1;
	struct oom_event *e;

	cost_begin();
	if (!task_traced(BPF_CORE_READ(victim, tgid), victim))
		return cost_end();
	stat_add(RSTAT_EVENTS, 1);
	/* Marked before, through another of its threads: the same kill. */
	if (mm && bpf_map_update_elem(&oom_victims, &vkey, &one, BPF_NOEXIST)) {
		stat_add(RSTAT_OOM_REPEATED, 1);
		return cost_end();
	}
	e = bpf_ringbuf_reserve(&revents, sizeof(*e), 0);
	if (!e) {
		stat_add(RSTAT_EVENTS_LOST, 1);
		return cost_end();
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->type = REVENT_OOM;
	e->victim_tgid = BPF_CORE_READ(victim, tgid);
	e->victim_tid = BPF_CORE_READ(victim, pid);
	e->killer_tgid = current_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->memcg = task_memcg(victim);
	e->oom_score_adj = BPF_CORE_READ(victim, signal, oom_score_adj);
	e->uid = uid;
	if (mm) {
		e->total_vm = BPF_CORE_READ(mm, total_vm);
		e->rss_anon = mm_rss_pages(mm, MM_ANONPAGES);
		e->rss_file = mm_rss_pages(mm, MM_FILEPAGES);
		e->rss_shmem = mm_rss_pages(mm, MM_SHMEMPAGES);
	}
	BPF_CORE_READ_STR_INTO(&e->victim_comm, victim, group_leader, comm);
	BPF_CORE_READ_STR_INTO(&e->killer_comm, task, group_leader, comm);
	bpf_ringbuf_submit(e, 0);
	return cost_end();
}

/* Every page allocation; NULL page: the allocation failed. */
SEC("raw_tp/mm_page_alloc")
int BPF_PROG(page_alloc, struct page *page, unsigned int order)
{
	static const __u64 zero;
	__u32 tgid = current_tgid();
	__u64 *pages;

	cost_begin();
	/* tgid 0: the idle task, interrupted; nobody to blame. */
	if (!page || !tgid || !traced())
		return cost_end();
	pages = lookup_or_init(&page_allocs, &tgid, &zero, RSTAT_ALLOCS_FULL);
	/*
	 * This CPU's, without atomics: a run of this program that would nest
	 * in another on the same CPU (an interrupt's allocation) is skipped
	 * by the kernel and counted in recursion_misses.
	 */
	if (pages)
		*pages += 1ULL << (order & 31);
	return cost_end();
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
