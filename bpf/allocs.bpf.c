// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The allocation tracer behind every memlens view.
 *
 * - Allocator entry points (uprobes/uretprobes) keep every outstanding block
 *   in a hash map keyed by (tgid, address), with its size, time and, for
 *   `memlens leaks`, its call stack; leaks keeps recent ones in a small
 *   table in front of it (alloc_table).
 * - brk/mmap/munmap/mremap syscall tracepoints count heap and mapping
 *   growth; `memlens leaks` also tracks anonymous mappings as blocks.
 * - Page-fault perf events and kmem:rss_stat count faults and residency.
 *
 * Per-process counters (memlens top) and log2 histograms (memlens hist)
 * are aggregated here; userspace reads the maps, joins /proc and renders.
 * Rodata set before loading chooses which processes are traced and which
 * parts run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "allocs.h"
#include "unwind.h"
#include "common.bpf.h"
#include "cost.bpf.h"

#define MAP_FIXED	0x10
#define MAP_ANONYMOUS	0x20
#define MAP_STACK	0x20000
#define PROT_EXEC	0x4
#define PAGE_SIZE	4096

#define SIGURG		23
#define SIGWINCH	28
#define ENOMEM		12

/* What runs. */
const volatile bool capture_stacks = true;	/* memlens leaks */
const volatile bool track_mmaps = true;		/* anonymous mappings as blocks */
const volatile bool proc_stats_on;		/* memlens top and hist */
/*
 * A thread of a command memlens started (-- CMD), which memlens traces
 * with ptrace, is held at _exit until userspace has read its maps, and at
 * exec and at every new executable mapping until userspace has hooked the
 * allocators in the new code (user/hold.c).
 */
const volatile bool hold_at_exit;
/* Hold it at exec and new executable mappings until its unwind tables are in (-- CMD). */
const volatile bool hold_for_maps;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_ALLOCS);
	__type(key, struct alloc_key);
	__type(value, struct alloc_info);
} allocs SEC(".maps");

/*
 * The table of recent blocks in front of the allocs map (include/allocs.h):
 * alloc_bucket_mask + 1 buckets; 0, none: where the kernel lacks BPF
 * atomics, in top and hist, which trace every process, and in allocs,
 * which keeps no blocks.
 */
const volatile __u32 alloc_bucket_mask;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct alloc_bucket);
} alloc_table SEC(".maps");

/*
 * No program reads it: userspace replaces its element to wait until every
 * program running then has returned (the kernel's synchronize_rcu() after
 * an update of a map of maps), before it lets go of a table way it moves
 * to the map (user/group_source.c, table_evict()).
 */
struct grace_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct grace_inner);
} grace SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct stack_trace);
} stacks SEC(".maps");

/*
 * State of the outermost allocator call in progress on a thread. Allocator
 * functions call each other (realloc(NULL, n) enters malloc, realloc(p, 0)
 * enters free): only the outermost call is accounted, nested ones only move
 * the depth.
 */
struct thread_state {
	/* First: userspace reads it of every thread (struct sample_state). */
	struct sample_state sample;
	__u64 size;
	__u64 ptr;		/* realloc's old block, posix_memalign's memptr */
	__u64 entry_sp;		/* user sp at the outermost entry */
	__u32 depth;
	__u32 kind;
	/*
	 * realloc's old block, taken out of the allocs map at entry: glibc
	 * frees it inside realloc, and another thread may be handed the same
	 * address before realloc returns. Put back if realloc fails.
	 */
	struct alloc_info old;
	__u32 has_old;
	__u16 sampled;		/* sessions: sampled at entry, with sample_flags */
	__u16 sample_flags;
	/*
	 * Sessions: the last outer call left unsampled (no return probe):
	 * its sp, the return address there, its function's code, and that
	 * of the last call it made to another (nothrow new calls new, which
	 * calls malloc).
	 */
	__u64 skip_sp, skip_ret, skip_lo, skip_hi, inner_lo, inner_hi;
	__u32 freeing;		/* an outer realloc or delete of a block: counted in frees_inside */
	/*
	 * leaks: its process's operator new sites as of new_sites_gen
	 * (site_gen): the span of their addresses and the last one a malloc
	 * returned to, so that most returns look no site up (new_site()).
	 */
	__u32 site_gen;
	__u32 site_slot;
	__u64 site_ip, sites_lo, sites_hi;
	__u64 caller_ip, caller_sp, caller_fp;	/* new_caller()'s answer */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* A thread's state as it begins, in the map or in a slot. */
static const struct thread_state thread_state_zero;

/*
 * allocs (alloc_profile.bpf.h): the last outer allocator call of a
 * thread, which has no return probe.
 */
struct profile_thread {
	/* First: userspace reads it of every thread (struct sample_state). */
	struct sample_state sample;
	__u64 sp;		/* its stack pointer at the entry */
	__u64 ret;		/* the return address there, read at a tail jump */
	__u64 lo, hi;		/* its function's code */
	__u64 inner_lo, inner_hi;	/* that of the last call it made */
	__u64 tail_sp;		/* it tail-jumps on to a hooked function: at this sp */
	__u64 tail_to[4];	/* to one of these (tail_targets()), 0 past the last */
	__u32 tail_kind;	/* or, if tail_unbound, to one of this kind */
	__u32 tail_unbound;
};

/* ... in a thread slot, or here when another thread holds its slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct profile_thread);
} profile_threads SEC(".maps");

/*
 * allocs, for C and for Go: the slots hold struct profile_thread, not
 * struct thread_state, and nothing may read one as the other.
 */
const volatile bool profiling;

/*
 * Thread slots: the state of thread TID in element TID & thread_slot_mask
 * of an array while TID holds it, in the threads map when another thread
 * holds it (or none: thread_slots_on false). Every allocator call finds
 * its state at its entry and its return: in an array that is a few
 * instructions, in a hash map a helper call and a hash (73 against 167 ns
 * for an entry and its return here: bench/handoff.bpf.c). A slot is held
 * from the thread's first call to its exit (thread_forget()).
 */
struct thread_slot {
	__u32 tid;		/* struct thread_slot_head, for userspace */
	__u32 claims;
	union {			/* which one, a session says (profiling) */
		struct thread_state ts;
		struct profile_thread pt;
	};
};

const volatile bool thread_slots_on = true;
const volatile __u32 thread_slot_mask = THREAD_SLOTS_DEFAULT - 1;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, THREAD_SLOTS_DEFAULT);
	__type(key, __u32);
	__type(value, struct thread_slot);
} thread_slots SEC(".maps");

_Static_assert(__builtin_offsetof(struct thread_slot, ts.sample) ==
	       __builtin_offsetof(struct thread_slot_head, sample) &&
	       __builtin_offsetof(struct thread_slot, pt.sample) ==
	       __builtin_offsetof(struct thread_slot_head, sample),
	       "userspace finds the sampler where struct thread_slot_head says");

/* The slot of thread TID; NULL without slots. */
static __always_inline struct thread_slot *slot_of(__u32 tid)
{
	__u32 idx = tid & thread_slot_mask;

	if (!thread_slots_on)
		return NULL;
	return bpf_map_lookup_elem(&thread_slots, &idx);
}

/* The slot of thread TID if it holds one. */
static __always_inline struct thread_slot *held_slot(__u32 tid)
{
	struct thread_slot *s = slot_of(tid);

	return s && READ_ONCE_U32(s->tid) == tid ? s : NULL;
}

/*
 * Threads sent the signal that holds them, and which: how memlens's
 * tracer tells that signal from one the program was sent (user/hold.c).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, __u32);
} held SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Plain, not per-CPU: counters are added atomically, and a preallocated
 * per-CPU hash of this size would take megabytes per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PROCS);
	__type(key, __u32);
	__type(value, struct proc_stats);
} proc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PROCS);
	__type(key, __u32);
	__type(value, struct rss_info);
} rss SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ERROR_KEYS);
	__type(key, struct error_key);
	__type(value, __u64);
} errors SEC(".maps");

/*
 * Scratch space for one stack, and the unwinder's state: too big for the
 * 512-byte BPF stack. Per task where the kernel has task storage (5.11),
 * else per CPU; userspace creates only the map this kernel uses.
 *
 * A per-CPU buffer is exact only while no other program can run on the
 * CPU mid-use. Uprobe programs ran with preemption off until 6.0
 * (__uprobe_perf_func wrapped trace_call_bpf in preempt_disable()); since
 * sleepable uprobes they run under migrate_disable() only, and another
 * task's program can take the CPU, and the buffer, halfway through a
 * stack. Kernels without task storage are older than that, but
 * MEMLENS_DISABLE=task_storage, or a kernel built without it, is not:
 * so every capture claims the buffer (owner) and checks the claim before
 * each frame and before storing, and a stack that lost it is dropped
 * and counted (STAT_STACK_FAILED). The check narrows the race, it does
 * not close it: a program preempted between its check and its write can
 * still write into another's walk (its registers, its row, the mapping
 * the next frames take without a search), which then goes on from there
 * until that program's next check clears the claim, or is stored first.
 */
struct stack_scratch {
	struct stack_trace st;
	struct unwind_walk unwind;
	__u64 owner;		/* claim of the capture in progress: seq << 32 | tid */
	__u32 seq;		/* claims so far, so that no claim repeats */
	__u32 pad;
};

const volatile bool use_task_storage = true;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stack_scratch);
} stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_scratch);
} stack_scratch_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_BYTES);
} events SEC(".maps");

static __always_inline void stat_add(__u32 stat, __u64 n)
{
	__u32 key = stat;
	__u64 *val = bpf_map_lookup_elem(&stats, &key);

	/* Atomic: a preemptible uprobe program can be interrupted by another. */
	if (val)
		__sync_fetch_and_add(val, n);
}

#include "sampling.bpf.h"

/*
 * The counters of process TGID, its entry made on first use, for one
 * event; NULL (counted) if there is no room, or nothing counts them.
 */
static struct proc_stats *proc_event(__u32 tgid)
{
	struct proc_stats *st;

	if (!proc_stats_on)
		return NULL;
	st = bpf_map_lookup_elem(&proc_stats, &tgid);
	if (!st) {
		/* The name it has now: an exec's row shows it (process_exec). */
		struct proc_stats init = {};

		bpf_get_current_comm(init.comm, sizeof(init.comm));
		bpf_map_update_elem(&proc_stats, &tgid, &init, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&proc_stats, &tgid);
		if (!st) {
			stat_add(STAT_PROCS_FULL, 1);
			return NULL;
		}
	}
	stat_add(STAT_EVENTS, 1);
	return st;
}

/* Add N to counter PS of process TGID. */
static void proc_add(__u32 tgid, enum proc_stat ps, __u64 n)
{
	struct proc_stats *st = proc_event(tgid);

	if (st && ps < PS_NR)
		__sync_fetch_and_add(&st->v[ps], n);
}

/*
 * One more to counter PS of process TGID and BYTES to the next one, its
 * bytes (PS_ALLOCS and PS_ALLOC_BYTES, ...): one lookup for both, on
 * every allocation and free of every process under top and hist.
 */
static void proc_add_bytes(__u32 tgid, enum proc_stat ps, __u64 bytes)
{
	struct proc_stats *st = proc_event(tgid);

	if (!st || ps >= PS_NR - 1)
		return;
	__sync_fetch_and_add(&st->v[ps], 1);
	__sync_fetch_and_add(&st->v[ps + 1], bytes);
}

static void hist_add(__u32 tgid, enum hist_kind kind, __u64 value)
{
	static const struct hist zero;
	struct hist_key key = { .tgid = tgid, .kind = kind };
	struct hist *h;
	__u32 slot;

	if (!proc_stats_on)
		return;
	h = lookup_or_init(&hists, &key, &zero, STAT_HISTS_FULL);
	if (!h)
		return;
	slot = log2_slot(value);
	if (slot < HIST_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
}

static void error_add(__u32 tgid, enum mem_syscall sc, long err)
{
	struct error_key key = { .tgid = tgid, .syscall = sc, .err = err };
	__u64 one = 1, *n;

	if (!proc_stats_on)
		return;
	n = bpf_map_lookup_elem(&errors, &key);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&errors, &key, &one, BPF_NOEXIST) == -EEXIST) {
		n = bpf_map_lookup_elem(&errors, &key);
		if (n)
			__sync_fetch_and_add(n, 1);
	} else if (!bpf_map_lookup_elem(&errors, &key)) {
		stat_add(STAT_ERRORS_FULL, 1);
	}
}

static struct event *reserve_event(void)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_add(STAT_EVENTS_LOST, 1);
		return NULL;
	}
	e->flags = 0;
	e->tid = 0;
	e->hold_sig = 0;
	return e;
}

static void submit_event(struct event *e, enum event_type type, __u32 tgid, __s32 exit_code)
{
	e->type = type;
	e->tgid = tgid;
	e->exit_code = exit_code;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static void emit_event(enum event_type type, __u32 tgid, __s32 exit_code)
{
	struct event *e = reserve_event();

	if (e)
		submit_event(e, type, tgid, exit_code);
}


/* FNV-1a over the frames; 0 is reserved for "no stack". */
static __u64 hash_stack(const struct stack_trace *st)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= st->nr)
			break;
		h ^= st->ips[i];
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static bool same_stack(const struct stack_trace *a, const struct stack_trace *b)
{
	if (a->nr != b->nr)
		return false;
	for (int i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= a->nr)
			break;
		if (a->ips[i] != b->ips[i])
			return false;
	}
	return true;
}

/* Store the stack in scratch under its hash; return the id or 0. */
static __u64 store_stack(struct stack_trace *st)
{
	struct stack_trace *old;
	__u64 id = hash_stack(st);
	long err;

	old = bpf_map_lookup_elem(&stacks, &id);
	if (old) {
		if (same_stack(old, st))
			return id;
		stat_add(STAT_STACK_COLLISION, 1);
		return 0;
	}
	err = bpf_map_update_elem(&stacks, &id, st, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Another CPU stored it first: verify it is ours. */
		old = bpf_map_lookup_elem(&stacks, &id);
		if (old && same_stack(old, st))
			return id;
		stat_add(STAT_STACK_COLLISION, 1);
		return 0;
	}
	if (err) {
		stat_add(STAT_STACKS_FULL, 1);
		return 0;
	}
	return id;
}

/* The scratch buffer of the current task, or of this CPU; NULL (counted) if none. */
static struct stack_scratch *scratch_get(void)
{
	struct stack_scratch *sc;
	__u32 zero = 0;

	if (use_task_storage)
		sc = bpf_task_storage_get(&stack_scratch, bpf_get_current_task_btf(), NULL,
					  BPF_LOCAL_STORAGE_GET_F_CREATE);
	else
		sc = bpf_map_lookup_elem(&stack_scratch_cpu, &zero);
	if (!sc)
		stat_add(STAT_STACK_FAILED, 1);
	return sc;
}

/* Start a capture in SC by thread TID: the token to check the buffer is still ours with. */
static __u64 scratch_claim(struct stack_scratch *sc, __u32 tid)
{
	__u64 token = (__u64)++sc->seq << 32 | tid;

	sc->owner = token;
	return token;
}

/*
 * Is SC still the capture TOKEN's? If not, another program took the
 * buffer mid-capture (a per-CPU buffer, preempted): this stack may be
 * mixed, and so may the other's, whose buffer this program may have
 * written to since: clear the claim so that it finds out too.
 */
static bool scratch_still_ours(struct stack_scratch *sc, __u64 token)
{
	if (sc->owner == token)
		return true;
	sc->owner = 0;
	stat_add(STAT_STACK_FAILED, 1);
	return false;
}

/* Store SC's stack, if it is still the capture TOKEN's; the id or 0. */
static __u64 store_scratch_stack(struct stack_scratch *sc, __u64 token)
{
	if (!scratch_still_ours(sc, token))
		return 0;
	return store_stack(&sc->st);
}

#include "unwind.bpf.h"

/* The frame-pointer walk of capture TOKEN from a probe's registers, from slot SKIP on. */
static bool stack_by_frame_pointer(struct pt_regs *ctx, __u64 token, __u32 skip)
{
	return fp_walk(token, skip, PT_REGS_IP(ctx), PT_REGS_SP(ctx), PT_REGS_FP(ctx)) > 0;
}

/*
 * leaks: where libstdc++'s operator new, left unhooked, calls malloc in
 * each process (userspace proves and publishes them: user/cxx_forward.c).
 * Dropped at exec, with the image.
 */
const volatile bool new_sites_on;
/*
 * Moved on by userspace after each map update that publishes sites: a
 * thread's cached view of its process's (struct thread_state) is good
 * while it matches. 0 until the first: a C program's malloc looks nothing
 * up. An exec drops the old image's sites, and its thread's state with them.
 */
__u32 new_sites_gen;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UNWIND_MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct new_sites);
} new_sites SEC(".maps");

/*
 * Where new's caller's return address is, as bytes above the stack
 * pointer, when a malloc returns to IP in an operator new that only
 * returns its block; -1 if IP is no such site. A global function, checked
 * once by the verifier, not for every state of its caller's.
 */
__noinline int new_site_slot(__u64 ip)
{
	const struct new_sites *ns;
	__u32 tgid = current_tgid();

	ns = bpf_map_lookup_elem(&new_sites, &tgid);
	if (!ns)
		return -1;
	for (__u32 i = 0; i < NEW_SITES_MAX && i < ns->nr; i++)
		if (ns->ip[i] == ip)
			return ns->slot[i] & 0x7fffffff;	/* NEW_SITE_SLOT() */
	return -1;
}

static struct thread_state *thread_lookup(__u32 tid);

/* TS's view of its process's sites, as of generation GEN: their span. */
static void new_sites_cache(struct thread_state *ts, __u32 gen)
{
	__u32 tgid = current_tgid();
	const struct new_sites *ns = bpf_map_lookup_elem(&new_sites, &tgid);

	ts->sites_lo = ns ? ns->lo : 0;
	ts->sites_hi = ns ? ns->hi : 0;
	ts->site_ip = 0;
	ts->site_gen = gen;
}

/*
 * new_site_slot() for the thread of TS. A return to a caller outside the
 * span of the sites (a C caller, unless sites lie in two objects with it
 * between them) or to the site the thread returned to last (a plain new's
 * malloc, time after time) looks nothing up: a hash-map lookup is 40 to
 * 50 ns here, and such a return made two. A nothrow new, whose two hops
 * return to two sites, still makes them.
 */
static int new_site(struct thread_state *ts, __u64 ip)
{
	__u32 gen = READ_ONCE_U32(new_sites_gen);
	int site;

	if (ts->site_gen != gen)
		new_sites_cache(ts, gen);
	if (ip < ts->sites_lo || ip >= ts->sites_hi)
		return -1;
	if (ip == ts->site_ip)
		return ts->site_slot;
	site = new_site_slot(ip);
	if (site >= 0) {
		ts->site_ip = ip;
		ts->site_slot = site;
	}
	return site;
}

/*
 * Such a return of thread TID from IP, SP and FP: the stack is taken as at
 * new's return. 1 if it is one: the thread's state then holds new's
 * caller's return address, the stack pointer past it and its rbp (in rbp
 * there, or where aligned new saved it: proven). Also a return from a
 * hooked new into a nothrow new that calls it. A global function, as
 * new_site_slot(): the verifier checks it once, whatever the states of
 * the return programs that call it.
 */
__noinline int new_caller(__u32 tid, __u64 ip, __u64 sp, __u64 fp)
{
	struct thread_state *ts = thread_lookup(tid);
	__u64 ret, rbp;
	int site, moved = 0;

	if (!ts)
		return 0;
	/* Out of two at most: nothrow new calls new, which calls malloc. */
	for (int hop = 0; hop < 2; hop++) {
		site = new_site(ts, ip);
		if (site < 0)
			break;
		ret = 0;
		bpf_probe_read_user(&ret, sizeof(ret), (void *)(sp + NEW_SITE_RET(site)));
		if (!ret)
			break;
		if (NEW_SITE_RBP(site)) {
			rbp = 0;
			if (bpf_probe_read_user(&rbp, sizeof(rbp),
						(void *)(sp + NEW_SITE_RBP(site) - 1)))
				break;
			fp = rbp;
		}
		sp += NEW_SITE_RET(site) + 8;
		ip = ret;
		moved = 1;
	}
	ts->caller_ip = ip;
	ts->caller_sp = sp;
	ts->caller_fp = fp;
	return moved;
}

/*
 * new_caller() where leaks has published sites: IP, SP and FP moved to
 * new's caller. Its answer is in TS, the state of the thread TID that the
 * return found: new_caller() finds the same one by TID, since only a
 * thread itself takes or lets go of its slot or its entry in the map.
 */
static void new_caller_of(struct thread_state *ts, __u32 tid, __u64 *ip, __u64 *sp, __u64 *fp)
{
	if (!new_sites_on || !READ_ONCE_U32(new_sites_gen))
		return;
	if (new_caller(tid, *ip, *sp, *fp) <= 0)
		return;
	*ip = ts->caller_ip;
	*sp = ts->caller_sp;
	*fp = ts->caller_fp;
}

/*
 * At an allocator's return the kernel has put the caller's return address
 * in the instruction pointer, so the first frame is the immediate caller
 * and the walk continues from the caller's frame: by unwind table where
 * the process has them, else by frame pointer.
 */
static __u64 stack_at_return(struct pt_regs *ctx, struct thread_state *ts, __u32 tid)
{
	struct stack_scratch *sc;
	__u64 token, ip = PT_REGS_IP(ctx), sp = PT_REGS_SP(ctx), fp = PT_REGS_FP(ctx);
	int unwound;

	if (!capture_stacks)
		return 0;
	sc = scratch_get();
	if (!sc)
		return 0;
	token = scratch_claim(sc, tid);
	new_caller_of(ts, tid, &ip, &sp, &fp);
	unwound = unwind_user_stack(sc, token, ip, sp, fp);
	if (unwound < 0)
		return 0;
	/* From IP, SP and FP: a return into operator new walks from its caller. */
	if (!unwound && fp_walk(token, 0, ip, sp, fp) <= 0)
		return 0;
	return store_scratch_stack(sc, token);
}

/* bpf_task_pt_regs() came in 5.15; before, the registers are at the top of the task's stack. */
const volatile bool use_task_pt_regs = true;

/*
 * Where task_pt_regs() finds them: THREAD_SIZE is 16K, 32K with KASAN
 * (KASAN_STACK_ORDER), and kernels with FRED (6.9) keep 16 bytes free
 * above them (TOP_OF_KERNEL_STACK_PADDING). Not by __kconfig externs:
 * libbpf fails the load where neither /boot/config-* nor /proc/config.gz
 * is there, as on Debian's kernels. KASAN is told by a field it adds to
 * task_struct (generic KASAN, x86's only kind); the padding by trying
 * both, since the registers are recognised by their user segments.
 */
#define X86_64_THREAD_SIZE	(16 * 1024)
#define X86_64_FRED_PADDING	16
#define X86_64_USER_CS		0x33	/* __USER_CS */
#define X86_64_USER_DS		0x2b	/* __USER_DS, in ss */

struct task_struct___kasan {
	unsigned int kasan_depth;
} __attribute__((preserve_access_index));

/* Are REGS a 64-bit user mode's, as the syscall entry saved them? */
static bool user_regs_valid(struct pt_regs *regs)
{
	return (__u16)BPF_CORE_READ(regs, cs) == X86_64_USER_CS &&
	       (__u16)BPF_CORE_READ(regs, ss) == X86_64_USER_DS;
}

/* The registers at the top of the current task's stack, PADDING below its end. */
static struct pt_regs *stack_top_regs(__u32 padding)
{
	struct task_struct___kasan *task = (void *)current_task();
	void *stack = BPF_CORE_READ((struct task_struct *)task, stack);
	__u32 size = X86_64_THREAD_SIZE;

	if (bpf_core_field_exists(task->kasan_depth))
		size *= 2;
	return stack + size - padding - bpf_core_type_size(struct pt_regs);
}

/* The current task's user registers: NULL if none are where they should be. */
static struct pt_regs *task_user_regs(void)
{
	struct pt_regs *regs;

	if (use_task_pt_regs) {
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
		return regs && user_regs_valid(regs) ? regs : NULL;
	}
	regs = stack_top_regs(0);
	if (user_regs_valid(regs))
		return regs;
	regs = stack_top_regs(X86_64_FRED_PADDING);
	return user_regs_valid(regs) ? regs : NULL;
}

/*
 * The user registers of the current task, as the syscall found them;
 * false if they cannot be found, and then no stack is taken from them.
 */
static bool syscall_user_regs(__u64 *ip, __u64 *sp, __u64 *bp)
{
	struct pt_regs *regs = task_user_regs();

	if (!regs)
		return false;
	*ip = BPF_CORE_READ(regs, ip);
	*sp = BPF_CORE_READ(regs, sp);
	*bp = BPF_CORE_READ(regs, bp);
	return *sp != 0;
}

/*
 * Inside a syscall the first frame is the libc wrapper. glibc's mmap,
 * munmap and mremap wrappers are leaf functions without a stack frame, so
 * their caller's return address is at the user stack pointer, and the
 * frame-pointer walk (which starts from the caller's caller) misses it:
 * put it back as the second frame, read at the stack pointer of the
 * registers the unwinder would start from, validated alike.
 */
static __u64 stack_in_syscall(void *ctx)
{
	struct stack_scratch *sc;
	__u64 ip, sp, bp, ret_addr = 0, token;
	int unwound;

	if (!capture_stacks)
		return 0;
	sc = scratch_get();
	if (!sc)
		return 0;
	if (!syscall_user_regs(&ip, &sp, &bp)) {
		stat_add(STAT_STACK_FAILED, 1);
		return 0;
	}
	token = scratch_claim(sc, current_tid());
	/* The unwinder knows the wrapper's frame: the caller comes second by itself. */
	unwound = unwind_user_stack(sc, token, ip, sp, bp);
	if (unwound < 0)
		return 0;
	if (unwound)
		return store_scratch_stack(sc, token);
	/* A stack pointer that cannot be read is no stack (and no walk). */
	if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)sp) || !ret_addr) {
		stat_add(STAT_STACK_FAILED, 1);
		return 0;
	}
	/* Leave a slot free, so the caller always fits in. */
	if (fp_walk(token, 1, ip, sp, bp) <= 0)
		return 0;
	sc->st.ips[0] = sc->st.ips[1];
	sc->st.ips[1] = ret_addr;
	return store_scratch_stack(sc, token);
}

static bool is_allocator_kind(enum alloc_kind kind)
{
	return kind < KIND_MMAP;
}

/*
 * Can the table hold a block at ADDR: its low bits clear (a way's marks)
 * and none above the address bits (the generation)? Else it is the map's.
 */
static __always_inline bool table_may_hold(__u64 addr)
{
	return !(addr & (ALLOC_WAY_BITS | ~ALLOC_WAY_ADDR));
}

/* The bucket of the table for a block at ADDR; NULL without the table. */
static __always_inline struct alloc_bucket *bucket_of(__u64 addr)
{
	__u32 idx = alloc_bucket_index(addr, alloc_bucket_mask);

	if (!alloc_bucket_mask)
		return NULL;
	return bpf_map_lookup_elem(&alloc_table, &idx);
}

/*
 * N more (or fewer) blocks of bucket B in the map: its frees look there
 * while any is. Raised before an insert, lowered after a delete, so that
 * it is never below what the map holds.
 */
static __always_inline void bucket_spilled(struct alloc_bucket *b, int n)
{
	if (b)
		__sync_fetch_and_add(&b->way[0].spilled, n);
}

/*
 * Take the block at ADDR out of bucket B into INFO: true if it was there.
 * Only the block's free (or realloc, munmap) writes a way that holds it,
 * and it is not handed out again before this returns: a plain store, after
 * the info is read.
 */
static __always_inline bool table_take(struct alloc_bucket *b, __u64 addr,
				       struct alloc_info *info)
{
#pragma unroll
	for (int i = 0; i < ALLOC_WAYS; i++) {
		struct alloc_way *w = &b->way[i];
		__u64 word = READ_ONCE_U64(w->addr);

		if ((word & ALLOC_WAY_ADDR) != addr)
			continue;
		*info = w->info;
		barrier();
		WRITE_ONCE_U64(w->addr, word & ~ALLOC_WAY_ADDR);	/* its generation stays */
		return true;
	}
	return false;
}

/* The word of a way claimed for ADDR, busy, of the generation after WORD's. */
static __always_inline __u64 claimed_word(__u64 word, __u64 addr)
{
	return ((word + ALLOC_WAY_GEN_ONE) & ~ALLOC_WAY_ADDR) | addr | ALLOC_WAY_BUSY;
}

/*
 * A way of bucket B claimed for the block at ADDR, its claimed word in
 * *WORD: one that held its address, or an empty one.
 */
static __always_inline struct alloc_way *table_claim(struct alloc_bucket *b, __u64 addr,
						     __u64 *word)
{
	/* Freed where no probe looks, then handed out again: the same block. */
#pragma unroll
	for (int i = 0; i < ALLOC_WAYS; i++) {
		struct alloc_way *w = &b->way[i];
		__u64 old = READ_ONCE_U64(w->addr);

		*word = claimed_word(old, addr);
		if ((old & ALLOC_WAY_ADDR) == addr &&
		    __sync_val_compare_and_swap(&w->addr, old, *word) == old) {
			stat_add(STAT_REPLACED, 1);
			return w;
		}
	}
#pragma unroll
	for (int i = 0; i < ALLOC_WAYS; i++) {
		struct alloc_way *w = &b->way[i];
		__u64 old = READ_ONCE_U64(w->addr);

		*word = claimed_word(old, addr);
		if (!(old & ALLOC_WAY_ADDR) &&
		    __sync_val_compare_and_swap(&w->addr, old, *word) == old)
			return w;
	}
	return NULL;
}

/*
 * Put KEY's block in bucket B: false if every way holds another. A stale
 * entry of its address in the map (freed unseen) goes, as the map's own
 * insert would replace it. Compare-and-swap: a return program only, in a
 * variant for kernels that have BPF atomics (alloc_return).
 */
static __always_inline bool table_put(struct alloc_bucket *b, struct alloc_key *key,
				      const struct alloc_info *info)
{
	__u64 word;
	struct alloc_way *w = table_claim(b, key->addr, &word);

	if (!w)
		return false;
	if (READ_ONCE_U32(b->way[0].spilled) && !bpf_map_delete_elem(&allocs, key)) {
		stat_add(STAT_REPLACED, 1);
		bucket_spilled(b, -1);
	}
	w->info = *info;
	barrier();
	WRITE_ONCE_U64(w->addr, word & ~ALLOC_WAY_BUSY);
	return true;
}

/*
 * Put KEY's block in the map, its bucket B's count raised first. A way of
 * B that still holds its address (a block freed where no probe looks, then
 * mapped there) goes: a free would find it before the map's.
 */
static __always_inline long map_put(struct alloc_bucket *b, struct alloc_key *key,
				    const struct alloc_info *info)
{
	struct alloc_info stale;
	long err;

	if (b && table_take(b, key->addr, &stale))
		stat_add(STAT_REPLACED, 1);
	bucket_spilled(b, 1);
	err = bpf_map_update_elem(&allocs, key, info, BPF_NOEXIST);
	if (err == -EEXIST) {
		/*
		 * Freed by a path we do not see, then handed out again; or a
		 * copy userspace made while moving the block out of the
		 * table, which it may delete before the overwrite: then new.
		 */
		stat_add(STAT_REPLACED, 1);
		err = bpf_map_update_elem(&allocs, key, info, BPF_EXIST);
		if (err != -ENOENT) {
			bucket_spilled(b, -1);	/* not one more, whatever came of it */
			return err;
		}
		err = bpf_map_update_elem(&allocs, key, info, BPF_NOEXIST);
	}
	if (err)
		bucket_spilled(b, -1);
	return err;
}

/*
 * A block returned at ADDR to thread ID (its pid_tgid): counted, and
 * tracked until its free, in the table (TABLE: a return program with
 * atomics) or in the map. An address with a way's low bits set (a custom
 * allocator's) goes to the map.
 */
static __always_inline void record_alloc(__u64 id, __u64 addr, __u64 size, enum alloc_kind kind,
					 __u16 flags, __u64 stack_id, bool table)
{
	__u32 tgid = id >> 32;
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_info info = {
		.size = size,
		.ts_ns = bpf_ktime_get_ns(),
		.stack_id = stack_id,
		.tid = (__u32)id,
		.kind = kind,
		.flags = flags,
	};
	struct alloc_bucket *b = bucket_of(addr);

	/* Counted whether or not the block fits in the map. */
	if (is_allocator_kind(kind)) {
		proc_add_bytes(tgid, PS_ALLOCS, size);
		hist_add(tgid, HIST_ALLOC_SIZE, size);
	}
	if (!(table && b && table_may_hold(addr) && table_put(b, &key, &info)) &&
	    map_put(b, &key, &info)) {
		stat_add(STAT_ALLOCS_FULL, 1);
		return;
	}
	stat_add(STAT_ALLOCS, 1);
	stat_add(STAT_ALLOC_BYTES, size);
}

/* Take ADDR's block out of the table or the map; false if it was in neither. */
static bool take_alloc(__u32 tgid, __u64 addr, struct alloc_info *info)
{
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_bucket *b = bucket_of(addr);
	struct alloc_info *p;

	/* Another is never the table's: it would match a marked way. */
	if (b && table_may_hold(addr) && table_take(b, addr, info))
		return true;
	/* None of this bucket's blocks in the map: no lookup there. */
	if (b && !READ_ONCE_U32(b->way[0].spilled))
		return false;
	p = bpf_map_lookup_elem(&allocs, &key);
	if (!p)
		return false;
	*info = *p;
	if (bpf_map_delete_elem(&allocs, &key))
		return false;
	bucket_spilled(b, -1);
	return true;
}

/*
 * Put a block taken out back, as it was: in the map, where no atomics are
 * needed, marked as restored (ALLOC_F_RESTORED).
 */
static void restore_alloc(__u32 tgid, __u64 addr, const struct alloc_info *info)
{
	struct alloc_key key = { .tgid = tgid, .addr = addr };
	struct alloc_info restored = *info;

	restored.flags |= ALLOC_F_RESTORED;
	if (map_put(bucket_of(addr), &key, &restored))
		stat_add(STAT_ALLOCS_FULL, 1);
}

static void account_free(__u32 tgid, const struct alloc_info *info)
{
	stat_add(STAT_FREES, 1);
	stat_add(STAT_FREE_BYTES, info->size);
	/* Not even the clock unless top or hist asked: every free comes here. */
	if (proc_stats_on && is_allocator_kind(info->kind)) {
		proc_add_bytes(tgid, PS_FREES, info->size);
		hist_add(tgid, HIST_LIFETIME, (bpf_ktime_get_ns() - info->ts_ns) / 1000);
	}
}

static void forget_alloc(__u32 tgid, __u64 addr)
{
	struct alloc_info info;

	if (take_alloc(tgid, addr, &info))
		account_free(tgid, &info);
	else
		count_free_untracked();
}

static void alloc_failed(void)
{
	stat_add(STAT_ALLOC_FAILED, 1);
	proc_add(current_tgid(), PS_ALLOC_FAILED, 1);
}

/*
 * Take slot S, which no thread holds, for thread TID; false if another
 * thread is taking it too. Without a compare-and-swap, which 5.10's
 * verifier refuses: every thread that tries counts itself in claims, and
 * the one that finds itself alone there has it. Those that do not count
 * themselves out again, so that at most one ever finds 1, and the holder
 * stays counted until it lets go (slot_release()).
 */
static bool slot_claim_free(struct thread_slot *s, __u32 tid)
{
	__sync_fetch_and_add(&s->claims, 1);
	if (READ_ONCE_U32(s->claims) == 1) {
		WRITE_ONCE_U32(s->tid, tid);	/* its state is as the last holder left it: zero */
		return true;
	}
	__sync_fetch_and_add(&s->claims, -1);
	return false;
}

/* A slot for thread TID, which holds none: claimed now; NULL if it is another's. */
static struct thread_slot *slot_claim(__u32 tid)
{
	struct thread_slot *s = slot_of(tid);

	return s && !READ_ONCE_U32(s->tid) && slot_claim_free(s, tid) ? s : NULL;
}

/*
 * Thread TID's state, if it has one: in its slot, or in the map. None in
 * allocs, whose slots hold struct profile_thread (its syscall programs
 * ask in_allocator() too).
 */
static __always_inline struct thread_state *thread_lookup(__u32 tid)
{
	struct thread_slot *s;

	if (profiling)
		return NULL;
	s = held_slot(tid);

	return s ? &s->ts : bpf_map_lookup_elem(&threads, &tid);
}

/*
 * Thread TID's state, made on first use: in its slot if no other thread
 * holds it, else in the map. A thread that began in the map stays there
 * (thread_lookup() finds it first), so that none is ever in both.
 */
static struct thread_state *thread_state(__u32 tid)
{
	struct thread_state *ts = thread_lookup(tid);
	struct thread_slot *s;

	if (ts || profiling)
		return ts;
	s = slot_claim(tid);
	if (s)
		return &s->ts;
	return lookup_or_init(&threads, &tid, &thread_state_zero, STAT_THREADS_FULL);
}

/*
 * Outer realloc and delete calls of a block in progress, by a hash of
 * their thread. Their entry takes the block out, and the free() the
 * allocator makes of it inside finds nothing there: not a free of an
 * unknown block. A free that finds nothing asks whether its thread is
 * inside an allocator call (in_allocator(): its thread slot, or a
 * hash-map lookup) only if its thread's counter here is not 0: most frees
 * of blocks not tracked (left unsampled, or allocated before memlens) make
 * no lookup. A counter per cache line, so that threads on other CPUs do
 * not share one. A free of an unknown block inside another allocator call
 * (a new_handler that frees) is counted as unknown: no allocator memlens
 * hooks makes one.
 */
#define FREES_INSIDE_SLOTS	64

struct frees_inside_slot {
	__u32 calls;
	__u32 pad[15];
} __attribute__((aligned(64)));

static struct frees_inside_slot frees_inside[FREES_INSIDE_SLOTS];

static __always_inline __u32 *frees_inside_of(__u32 tid)
{
	return &frees_inside[tid & (FREES_INSIDE_SLOTS - 1)].calls;
}

/* TS's outer realloc or delete of a block begins: its inner free is no unknown one. */
static void freeing_begin(struct thread_state *ts, __u32 tid)
{
	__sync_fetch_and_add(frees_inside_of(tid), 1);
	ts->freeing = 1;
}

/* ... and ends: returned, lost its return, or the thread is gone (thread_forget()). */
static void freeing_end(struct thread_state *ts, __u32 tid)
{
	if (!ts->freeing)
		return;
	__sync_fetch_and_add(frees_inside_of(tid), -1);
	ts->freeing = 0;
}

/* Thread TID's state TS goes: its sampler's counts kept, its freeing call ended. */
static void thread_state_end(struct thread_state *ts, __u32 tid)
{
	if (sample_bytes)
		sample_flush(&ts->sample);
	freeing_end(ts, tid);
}

/*
 * Thread TID lets go of slot S, which it holds: zero, for the next. The
 * next holder finds it alone in claims only after this add, and x86's
 * locked add orders the stores before it (memlens is built for x86 only:
 * a weaker CPU would need the release that only fetching atomics, 5.12,
 * give).
 */
static void slot_release(struct thread_slot *s, __u32 tid)
{
	static const struct profile_thread profile_zero;

	if (profiling) {
		if (sample_bytes)
			sample_flush(&s->pt.sample);
		s->pt = profile_zero;
	} else {
		thread_state_end(&s->ts, tid);
		s->ts = thread_state_zero;
	}
	WRITE_ONCE_U32(s->tid, 0);
	__sync_fetch_and_add(&s->claims, -1);
}

/* Drop the state of thread TID, its sampler's counts kept: leaks' or allocs'. */
static void thread_forget(__u32 tid)
{
	struct thread_slot *s = held_slot(tid);
	struct profile_thread *pt;
	struct thread_state *ts;

	if (s) {
		slot_release(s, tid);
		return;
	}
	if (profiling) {
		pt = bpf_map_lookup_elem(&profile_threads, &tid);
		if (!pt)
			return;
		if (sample_bytes)
			sample_flush(&pt->sample);
		bpf_map_delete_elem(&profile_threads, &tid);
		return;
	}
	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts)
		return;
	thread_state_end(ts, tid);
	bpf_map_delete_elem(&threads, &tid);
}

/* True if thread TID is inside an allocator call we are accounting. */
static bool in_allocator(__u32 tid)
{
	struct thread_state *ts = thread_lookup(tid);

	return ts && ts->depth > 0;
}

/* Could this thread be inside a realloc or delete whose block is taken out? */
static bool inside_freeing_call(__u32 tid)
{
	return READ_ONCE_U32(*frees_inside_of(tid)) && in_allocator(tid);
}

static __u64 return_address_at(__u64 sp)
{
	__u64 ret = 0;

	bpf_probe_read_user(&ret, sizeof(ret), (void *)sp);
	return ret;
}

/* Where the kernel's return probes send a return: the first slot of its XOL area. */
static __u64 uretprobe_trampoline(void)
{
	struct task_struct *t = current_task();

	return BPF_CORE_READ(t, mm, uprobes_state.xol_area, vaddr);
}

/*
 * Sessions: is this thread still inside the last allocator call it left
 * unsampled, which has no return probe to say when it ends? Below its
 * stack pointer, with the return address it was called with still in its
 * slot: once it has returned, the caller's next call or push overwrites
 * the slot (a new call from the same site is a new outer call). Another
 * tracer's return probe on the function puts the kernel's trampoline
 * there instead, for as long as the call lasts.
 */
static bool in_unsampled_call(const struct thread_state *ts, __u64 sp)
{
	__u64 slot;

	if (!ts->skip_sp || sp >= ts->skip_sp)
		return false;
	slot = return_address_at(ts->skip_sp);
	return slot == ts->skip_ret || slot == uretprobe_trampoline();
}

/* A memory syscall the allocator makes inside a call left unsampled. */
static bool syscall_in_unsampled_call(void)
{
	__u32 tid = current_tid();
	struct thread_state *ts;
	__u64 ip, sp, bp;

	if (!sample_bytes)
		return false;
	ts = thread_lookup(tid);
	if (!ts || !ts->skip_sp || !syscall_user_regs(&ip, &sp, &bp))
		return false;
	return in_unsampled_call(ts, sp);
}

/*
 * Did the outer call on this thread return without its return probe firing
 * (e.g. it could not be armed)? A nested call runs below the outer frame,
 * or at the same stack pointer when the outer function tail-calls (glibc's
 * realloc(NULL, n) jumps to malloc), and then the return address there is
 * the kernel's uretprobe trampoline, put there when the outer call's return
 * probe was armed; anything else is a new call from the caller's frame.
 * Read only then, not at every entry: a read of user memory costs a
 * malloc's entry program as much as all the rest of it (140 ns here).
 * Another tracer's return probe on the function's first byte, a uprobe of
 * its own when memlens probes further in (past endbr64), puts the
 * trampoline there before this runs: then a call after a lost return, at
 * that stack pointer, is taken for a nested one (its block untracked,
 * the loss not counted), where a tail jump under both tracers, far more
 * common, is right.
 */
static bool outer_call_lost(const struct thread_state *ts, __u64 sp)
{
	if (sp != ts->entry_sp)
		return sp > ts->entry_sp;
	return return_address_at(sp) != uretprobe_trampoline();
}

/* An allocator call's entry by thread ID (pid_tgid), which is traced. */
static int traced_enter(struct pt_regs *ctx, __u64 id, enum alloc_kind kind, __u64 size,
			__u64 ptr)
{
	struct thread_state *ts;
	__u64 sp = PT_REGS_SP(ctx);
	__u32 tid = (__u32)id;

	ts = thread_state(tid);
	if (!ts)
		return 0;
	if (ts->depth > 0 && outer_call_lost(ts, sp)) {
		stat_add(STAT_MISSED_RETURN, 1);
		ts->depth = 0;
		freeing_end(ts, tid);
	}
	if (ts->depth++ > 0)
		return 0;
	ts->kind = kind;
	ts->size = size;
	ts->ptr = ptr;
	ts->entry_sp = sp;
	ts->has_old = 0;
	ts->sampled = 0;
	/* Before the block is taken: the free() it makes of it inside sees the count. */
	if ((kind == KIND_REALLOC || kind == KIND_REALLOCARRAY || kind == KIND_DELETE) && ptr)
		freeing_begin(ts, tid);
	if ((kind == KIND_REALLOC || kind == KIND_REALLOCARRAY) && ptr)
		ts->has_old = take_alloc(id >> 32, ptr, &ts->old);
	/* Gone at entry, before another thread can be handed the address. */
	if (kind == KIND_DELETE && ptr)
		forget_alloc(id >> 32, ptr);
	return 0;
}

static int alloc_enter(struct pt_regs *ctx, enum alloc_kind kind, __u64 size, __u64 ptr)
{
	__u64 id;

	if (!traced_id(&id))
		return 0;
	return traced_enter(ctx, id, kind, size, ptr);
}

/* The old block is gone: freed, or moved to the new address. */
static void realloc_freed_old(struct thread_state *ts, __u32 tgid)
{
	if (ts->has_old)
		account_free(tgid, &ts->old);
	else
		count_free_untracked();
}

/* The block an allocator call of thread ID returned, tracked if sampled (see sampling.bpf.h). */
static __always_inline void record_returned_block(void *ctx, struct thread_state *ts, __u64 id,
						  __u64 addr, bool table)
{
	__u16 flags;

	/*
	 * Only sessions sample at entry (ts->sampled); sample_bytes is a
	 * load-time constant, so in exact mode the verifier sees one path to
	 * record_alloc, not a second with other flags that doubles its cost.
	 */
	if (sample_bytes && ts->sampled)
		flags = ts->sample_flags;
	else if (!sample_alloc(&ts->sample, ts->size, &flags))
		return;
	record_alloc(id, addr, ts->size, ts->kind, flags, stack_at_return(ctx, ts, (__u32)id),
		     table);
}

/*
 * The two as functions of their own, each called from four places: the
 * table's compare-and-swap only in the one the return programs with
 * atomics call.
 */
static __noinline void record_in_table(void *ctx, struct thread_state *ts, __u64 id, __u64 addr)
{
	record_returned_block(ctx, ts, id, addr, true);
}

static __noinline void record_in_map(void *ctx, struct thread_state *ts, __u64 id, __u64 addr)
{
	record_returned_block(ctx, ts, id, addr, false);
}

static __always_inline void record_returned(void *ctx, struct thread_state *ts, __u64 id,
					    __u64 addr, bool table)
{
	if (table)
		record_in_table(ctx, ts, id, addr);
	else
		record_in_map(ctx, ts, id, addr);
}

static __always_inline void account_realloc(struct pt_regs *ctx, struct thread_state *ts, __u64 id,
					    __u64 ret, bool table)
{
	if (!ts->ptr) {			/* realloc(NULL, n) is malloc(n) */
		if (ret)
			record_returned(ctx, ts, id, ret, table);
		else
			alloc_failed();
		return;
	}
	if (ret) {
		realloc_freed_old(ts, id >> 32);
		record_returned(ctx, ts, id, ret, table);
		return;
	}
	if (ts->size == 0) {		/* glibc: realloc(p, 0) frees p */
		realloc_freed_old(ts, id >> 32);
		return;
	}
	alloc_failed();			/* failed: the old block stays */
	if (ts->has_old)
		restore_alloc(id >> 32, ts->ptr, &ts->old);
}

static __always_inline void account_posix_memalign(struct pt_regs *ctx, struct thread_state *ts,
						   __u64 id, long err, bool table)
{
	__u64 addr = 0;

	if (err || bpf_probe_read_user(&addr, sizeof(addr), (void *)ts->ptr) || !addr) {
		alloc_failed();
		return;
	}
	record_returned(ctx, ts, id, addr, table);
}

/*
 * An allocator call's return. TABLE: tracked in the table of recent blocks
 * where it is on; a constant, so that the program that must load without BPF
 * atomics (map_only_return) has no compare-and-swap in it at all.
 */
static __always_inline int alloc_return_common(struct pt_regs *ctx, long ret, bool table)
{
	struct thread_state *ts;
	__u64 id;

	if (!traced_id(&id))
		return 0;
	ts = thread_lookup((__u32)id);
	if (!ts || ts->depth == 0)
		return 0;
	if (--ts->depth > 0)
		return 0;
	freeing_end(ts, (__u32)id);

	switch (ts->kind) {
	case KIND_REALLOC:
	case KIND_REALLOCARRAY:
		account_realloc(ctx, ts, id, ret, table);
		break;
	case KIND_POSIX_MEMALIGN:
		account_posix_memalign(ctx, ts, id, ret, table);
		break;
	case KIND_DELETE:		/* accounted at entry */
		break;
	default:
		if (ret)
			record_returned(ctx, ts, id, ret, table);
		else
			alloc_failed();
	}
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(alloc_return, long ret)
{
	cost_begin();
	alloc_return_common(ctx, ret, true);
	return cost_end();
}

/*
 * The same where the kernel lacks BPF atomics (5.12), which its verifier
 * refuses even in code that cannot run: every block in the map.
 */
SEC("uretprobe")
int BPF_URETPROBE(map_only_return, long ret)
{
	cost_begin();
	alloc_return_common(ctx, ret, false);
	return cost_end();
}

SEC("uprobe")
int BPF_UPROBE(malloc_enter, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_MALLOC, size, 0);
	return cost_end();
}

SEC("uprobe")
int BPF_UPROBE(calloc_enter, size_t nmemb, size_t size)
{
	__u64 bytes = (__u64)nmemb * size;

	cost_begin();
	/* On overflow calloc fails; the size is never recorded. */
	alloc_enter(ctx, KIND_CALLOC, bytes, 0);
	return cost_end();
}

SEC("uprobe")
int BPF_UPROBE(realloc_enter, void *ptr, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_REALLOC, size, (__u64)ptr);
	return cost_end();
}

/* An overflowing product fails: never let it pass for a size of 0. */
static __u64 array_bytes(__u64 nmemb, __u64 size)
{
	__u64 bytes = nmemb * size;

	barrier_var(bytes);	/* keep clang from a 128-bit multiply BPF lacks */
	if (nmemb && bytes / nmemb != size)
		bytes = ~0ULL;
	return bytes;
}

SEC("uprobe")
int BPF_UPROBE(reallocarray_enter, void *ptr, size_t nmemb, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_REALLOCARRAY, array_bytes(nmemb, size), (__u64)ptr);
	return cost_end();
}

SEC("uprobe")
int BPF_UPROBE(posix_memalign_enter, void **memptr, size_t align, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_POSIX_MEMALIGN, size, (__u64)memptr);
	return cost_end();
}

/* memalign(align, size) and aligned_alloc(align, size). */
SEC("uprobe")
int BPF_UPROBE(memalign_enter, size_t align, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_MEMALIGN, size, 0);
	return cost_end();
}

SEC("uprobe")
int BPF_UPROBE(valloc_enter, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_VALLOC, size, 0);
	return cost_end();
}

/* pvalloc rounds the size up to whole pages: that is what the caller gets. */
SEC("uprobe")
int BPF_UPROBE(pvalloc_enter, size_t size)
{
	__u64 bytes = (size + PAGE_SIZE - 1) & ~(__u64)(PAGE_SIZE - 1);

	cost_begin();
	alloc_enter(ctx, KIND_PVALLOC, bytes ? bytes : PAGE_SIZE, 0);
	return cost_end();
}

/*
 * C++ operator new and new[] in every variant (nothrow, align_val_t): the
 * size comes first. They call malloc or each other, nested calls that only
 * move the depth: the block is recorded once, at the outer return, where
 * the first frame is the code that called new.
 */
SEC("uprobe")
int BPF_UPROBE(new_enter, size_t size)
{
	cost_begin();
	alloc_enter(ctx, KIND_NEW, size, 0);
	return cost_end();
}

/*
 * leaks: an operator new that may throw and is not proven to forward to a
 * hooked allocator (user/alloc_probes.c, throwing_new()). A return probe
 * would stop a C++ exception thrown through it; its calls are counted
 * instead, as blocks memlens may not see. No state: a malloc it makes is
 * an outer call of its own.
 */
SEC("uprobe")
int BPF_UPROBE(new_unfollowed_enter)
{
	__u64 id;

	if (traced_id(&id))
		stat_add(STAT_NEW_UNFOLLOWED, 1);
	return 0;
}

/*
 * C++ operator delete and delete[] in every variant: the pointer comes
 * first. Unlike free() they have a return probe: a sized or aligned delete
 * calls the plain one, which calls free(), and only the outer call may
 * count, as with the allocation calls.
 */
SEC("uprobe")
int BPF_UPROBE(delete_enter, void *ptr)
{
	cost_begin();
	alloc_enter(ctx, KIND_DELETE, 0, (__u64)ptr);
	return cost_end();
}

#include "session.bpf.h"
#include "alloc_profile.bpf.h"

SEC("uprobe")
int BPF_UPROBE(free_enter, void *ptr)
{
	struct alloc_info info;
	__u64 id;

	cost_begin();
	if (!traced_id(&id) || !ptr)
		return cost_end();
	if (take_alloc(id >> 32, (__u64)ptr, &info)) {
		account_free(id >> 32, &info);
		return cost_end();
	}
	/*
	 * Not tracked. free() called by realloc(p, 0) or by operator
	 * delete frees a block their entry took out, and their return
	 * accounts for it: not a free of an unknown block. Asked only now,
	 * since most frees find their block, and only where such a call may
	 * be in progress (frees_inside).
	 */
	if (!inside_freeing_call((__u32)id))
		count_free_untracked();
	return cost_end();
}

/*
 * Memory syscalls. Every process traced is counted (memlens top); with
 * track_mmaps, the anonymous mappings a program makes itself are also
 * blocks (memlens leaks). Mappings the allocator makes inside a malloc call
 * belong to that call, so they are not blocks of their own.
 *
 * Per-syscall tracepoints, not the generic sys_enter/sys_exit: those would
 * run a program on every syscall of every process on the host (+15-20% on
 * a null syscall here); these run on the memory syscalls only.
 */
struct syscall_args {
	__u64 args[5];
	__u64 old_brk;		/* brk: the break before the call */
	__u32 nr;		/* enum mem_syscall */
	__u32 internal;		/* made inside an allocator call */
	/* mremap's block, taken out at entry like realloc's (see thread_state) */
	struct alloc_info old;
	__u32 has_old;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct syscall_args);
} syscalls SEC(".maps");

/* brk(0) asks; a refused brk returns the old break, not an error. */
static void brk_done(__u32 tgid, struct syscall_args *sc, __u64 ret)
{
	__u64 want = sc->args[0], old = sc->old_brk;

	if (!want)
		return;
	if (ret != want) {
		proc_add(tgid, PS_BRK_FAILED, 1);
		error_add(tgid, SYS_BRK, ENOMEM);
		return;
	}
	if (ret > old) {
		proc_add_bytes(tgid, PS_BRK_GROW, ret - old);
	} else if (ret < old) {
		proc_add_bytes(tgid, PS_BRK_SHRINK, old - ret);
	}
}

/*
 * Hold the current thread, and only it: a signal to this thread alone
 * makes it stop for memlens's ptrace tracer on its way back to user space
 * (after the syscall has returned: nothing is interrupted), and the tracer
 * resumes it without the signal once userspace has answered E. One whose
 * default is to be ignored, should memlens die while the thread is held
 * and the kernel deliver it; one the thread does not block, or it would
 * not stop: a thread blocking both is not held (E says so).
 */
static void hold_thread(struct event *e)
{
	__u64 blocked = BPF_CORE_READ(current_task(), blocked.sig[0]);
	__u32 tid = current_tid(), sig;

	if (!(blocked & (1ULL << (SIGURG - 1))))
		sig = SIGURG;
	else if (!(blocked & (1ULL << (SIGWINCH - 1))))
		sig = SIGWINCH;
	else
		return;
	e->tid = tid;
	/* In the map first: the tracer may see the stop before this returns. */
	if (bpf_map_update_elem(&held, &tid, &sig, BPF_ANY))
		return;
	if (bpf_send_signal_thread(sig)) {
		bpf_map_delete_elem(&held, &tid);
		return;
	}
	e->flags |= EVENT_F_HELD;
	e->hold_sig = sig;
}

/*
 * Tell userspace of new executable mappings (and exec). With hold_for_maps
 * (a command memlens started), hold the thread until userspace has
 * hooked any allocator the new code defines and loaded its unwind tables,
 * so that no call is missed and no stack is taken through code the
 * unwinder does not know yet; only if userspace will hear of it.
 */
static void maps_changed(enum event_type type, __u32 tgid, __u32 flags)
{
	struct event *e = reserve_event();

	if (!e)
		return;
	e->flags = flags;
	if (hold_for_maps)
		hold_thread(e);
	submit_event(e, type, tgid, 0);
}

static void mmap_done(void *ctx, __u32 tgid, struct syscall_args *sc, long ret)
{
	__u64 len = sc->args[1], prot = sc->args[2], flags = sc->args[3];

	if (!(flags & MAP_ANONYMOUS)) {
		/* A new executable file mapping: symbols to read while it lives. */
		if ((prot & PROT_EXEC) && capture_stacks)
			maps_changed(EVENT_MAPS_CHANGED, tgid, 0);
		return;
	}
	proc_add_bytes(tgid, PS_MMAP, len);
	hist_add(tgid, HIST_MMAP_SIZE, len);
	/*
	 * Thread stacks (MAP_STACK) are cached by the thread library, and
	 * MAP_FIXED maps over a range that exists already (ld.so's .bss):
	 * neither is memory the program allocated and can leak.
	 */
	if (track_mmaps && !sc->internal && !(flags & (MAP_STACK | MAP_FIXED)))
		record_alloc(bpf_get_current_pid_tgid(), ret, len, KIND_MMAP, 0, stack_in_syscall(ctx),
			     false);
}

static __u64 page_align(__u64 len)
{
	return (len + PAGE_SIZE - 1) & ~(__u64)(PAGE_SIZE - 1);
}

static bool is_mapping(const struct alloc_info *info)
{
	return info->kind == KIND_MMAP || info->kind == KIND_MREMAP;
}

/* Take the mapping that starts at ADDR out of the map. */
static bool take_mapping(__u64 addr, struct alloc_info *info)
{
	__u32 tgid = current_tgid();

	if (!take_alloc(tgid, addr, info))
		return false;
	if (is_mapping(info))
		return true;
	restore_alloc(tgid, addr, info);	/* a malloc block: not ours */
	return false;
}

/* Mappings one munmap takes out, each where the one before it ends. */
#define MUNMAP_MAPPINGS		8

/*
 * munmap of mappings we track: whole, and the head of the last one. Those
 * that follow each other from ADDR are all seen (two mmaps the kernel put
 * side by side, unmapped in one call), up to MUNMAP_MAPPINGS; the map is
 * keyed by start address, so one past a hole, and an unmap that starts
 * inside a mapping, are not.
 */
static void munmap_blocks(__u64 addr, __u64 len)
{
	__u32 tgid = current_tgid();
	struct alloc_info info;
	__u64 size;

	len = page_align(len);
	for (int i = 0; i < MUNMAP_MAPPINGS && len; i++) {
		if (!take_mapping(addr, &info))
			return;
		size = page_align(info.size);
		if (len < size) {
			/* The tail stays mapped: it is the rest of the block. */
			info.size = size - len;
			stat_add(STAT_FREE_BYTES, len);
			restore_alloc(tgid, addr + len, &info);
			return;
		}
		account_free(tgid, &info);
		addr += size;
		len -= size;
	}
}

/*
 * mremap of OLD_LEN bytes of the mapping at ADDR: out of the map into
 * *OLD, whole. mremap moves or resizes only the range it is given: the
 * tail past it, the rest of the block, goes back at once, where a munmap
 * of another thread finds it (mremap_tail_back() if the call fails). A
 * length of 0 (a second mapping of shared pages) leaves the old one alone.
 */
static bool mremap_take(__u64 addr, __u64 old_len, struct alloc_info *old)
{
	__u64 size;

	old_len = page_align(old_len);
	if (!old_len || !take_mapping(addr, old))
		return false;
	size = page_align(old->size);
	if (old_len < size) {
		struct alloc_info tail = *old;

		tail.size = size - old_len;
		restore_alloc(current_tgid(), addr + old_len, &tail);
	}
	return true;
}

/* A failed mremap of SC: the tail mremap_take() put back joins its block again. */
static void mremap_tail_back(struct syscall_args *sc)
{
	__u64 old_len = page_align(sc->args[1]);
	struct alloc_info tail;

	if (old_len < page_align(sc->old.size))
		take_mapping(sc->args[0] + old_len, &tail);
}

/* brk and munmap keep no state to their exit; see syscall_enter. */
static void munmap_done(__u32 tgid, struct syscall_args *sc)
{
	proc_add_bytes(tgid, PS_MUNMAP, sc->args[1]);
}

static void mremap_done(void *ctx, __u32 tgid, struct syscall_args *sc, long ret)
{
	__u64 old_len = page_align(sc->args[1]), size;

	proc_add(tgid, PS_MREMAP, 1);
	if (!sc->has_old)
		return;
	/* The tail stayed where it was (mremap_take()): the call took the head. */
	size = page_align(sc->old.size);
	if (old_len < size)
		sc->old.size = old_len;
	account_free(tgid, &sc->old);
	record_alloc(bpf_get_current_pid_tgid(), ret, sc->args[2], KIND_MREMAP, 0,
		     stack_in_syscall(ctx), false);
}

/*
 * Reads NARGS arguments, no more: the kernel refuses to attach a program
 * that reads past the tracepoint's own fields (munmap has two). Inlined so
 * that every ctx access has a constant offset, which the verifier wants.
 */
static __always_inline int syscall_enter(enum mem_syscall nr,
					 struct trace_event_raw_sys_enter *ctx, int nargs)
{
	struct syscall_args sc = {
		.nr = nr,
		.args = {
			ctx->args[0],
			nargs > 1 ? ctx->args[1] : 0,
			nargs > 2 ? ctx->args[2] : 0,
			nargs > 3 ? ctx->args[3] : 0,
			nargs > 4 ? ctx->args[4] : 0,
		},
	};
	bool exec_map;
	__u32 tid;

	if (!traced())
		return 0;
	if (nr == SYS_BRK) {
		sc.old_brk = BPF_CORE_READ(current_task(), mm, brk);
	}
	sc.internal = in_allocator(current_tid()) || syscall_in_unsampled_call();
	/* New code to hook and unwind (mmap_done()), whether mmaps are tracked or not. */
	exec_map = nr == SYS_MMAP && (sc.args[2] & PROT_EXEC) && capture_stacks;
	if (!proc_stats_on && !exec_map && (!track_mmaps || sc.internal))
		return 0;
	if (track_mmaps && !sc.internal) {
		/* Out of the map before the kernel can hand the range to another thread. */
		if (nr == SYS_MUNMAP)
			munmap_blocks(sc.args[0], sc.args[1]);
		else if (nr == SYS_MREMAP)
			sc.has_old = mremap_take(sc.args[0], sc.args[1], &sc.old);
	}
	tid = current_tid();
	if (bpf_map_update_elem(&syscalls, &tid, &sc, BPF_ANY))
		stat_add(STAT_THREADS_FULL, 1);
	return 0;
}

static void syscall_failed(__u32 tgid, struct syscall_args *sc, long err)
{
	if (sc->has_old) {		/* mremap failed: the mapping stays, whole */
		mremap_tail_back(sc);
		restore_alloc(tgid, sc->args[0], &sc->old);
	}
	if (sc->nr == SYS_MMAP || sc->nr == SYS_MREMAP) {
		proc_add(tgid, PS_MMAP_FAILED, 1);
		if (track_mmaps && !sc->internal)
			stat_add(STAT_ALLOC_FAILED, 1);
	}
	error_add(tgid, sc->nr, err);
}

/*
 * The exit of a syscall syscall_enter() kept: the programs are
 * <syscall>_return, each call's accounting its <syscall>_done() helper.
 */
static int syscall_exit(void *ctx, long ret)
{
	struct syscall_args *sc;
	__u32 tid, tgid;

	if (!traced())
		return 0;
	tid = current_tid();
	sc = bpf_map_lookup_elem(&syscalls, &tid);
	if (!sc)
		return 0;
	tgid = current_tgid();
	if (sc->nr == SYS_BRK)
		brk_done(tgid, sc, ret);
	else if (ret < 0 && ret > -4096)
		syscall_failed(tgid, sc, -ret);
	else if (sc->nr == SYS_MMAP)
		mmap_done(ctx, tgid, sc, ret);
	else if (sc->nr == SYS_MUNMAP)
		munmap_done(tgid, sc);
	else if (sc->nr == SYS_MREMAP)
		mremap_done(ctx, tgid, sc, ret);
	bpf_map_delete_elem(&syscalls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_brk")
int brk_enter(struct trace_event_raw_sys_enter *ctx)
{
	cost_begin();
	syscall_enter(SYS_BRK, ctx, 1);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	cost_begin();
	syscall_enter(SYS_MMAP, ctx, 5);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int munmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	cost_begin();
	syscall_enter(SYS_MUNMAP, ctx, 2);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_enter_mremap")
int mremap_enter(struct trace_event_raw_sys_enter *ctx)
{
	cost_begin();
	syscall_enter(SYS_MREMAP, ctx, 5);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_exit_brk")
int brk_return(struct trace_event_raw_sys_exit *ctx)
{
	cost_begin();
	syscall_exit(ctx, ctx->ret);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int mmap_return(struct trace_event_raw_sys_exit *ctx)
{
	cost_begin();
	syscall_exit(ctx, ctx->ret);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_exit_munmap")
int munmap_return(struct trace_event_raw_sys_exit *ctx)
{
	cost_begin();
	syscall_exit(ctx, ctx->ret);
	return cost_end();
}

SEC("tracepoint/syscalls/sys_exit_mremap")
int mremap_return(struct trace_event_raw_sys_exit *ctx)
{
	cost_begin();
	syscall_exit(ctx, ctx->ret);
	return cost_end();
}

/*
 * Page faults, from the software perf events (one sample per fault): they
 * tell minor from major, which exceptions:page_fault_user cannot. The
 * registers are those of the faulting context, so a fault taken in kernel
 * mode (copy_to_user and the like) is told from one in user code.
 */
static int count_fault(struct bpf_perf_event_data *ctx, enum proc_stat user_stat)
{
	/* Privilege level of the interrupted code: cs in x86's pt_regs. */
	__u64 cs = ((__u64 *)&ctx->regs)[17];

	if (!traced())
		return 0;
	proc_add(current_tgid(), (cs & 3) ? user_stat : user_stat + 1, 1);
	return 0;
}

SEC("perf_event")
int minor_fault(struct bpf_perf_event_data *ctx)
{
	cost_begin();
	count_fault(ctx, PS_MINFLT_USER);
	return cost_end();
}

SEC("perf_event")
int major_fault(struct bpf_perf_event_data *ctx)
{
	cost_begin();
	count_fault(ctx, PS_MAJFLT_USER);
	return cost_end();
}

/* Resident pages: kmem:rss_stat fires whenever an mm's counter changes. */
SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat, struct mm_struct *mm, int member)
{
	struct rss_info *info, zero = {};
	__u32 tgid;

	cost_begin();
	if (!proc_stats_on || !traced() || member < 0 || member >= RSS_NR)
		return cost_end();
	/* Another process's mm (process_vm_writev, ksm...): not ours to count. */
	if (BPF_CORE_READ(current_task(), mm) != mm)
		return cost_end();
	tgid = current_tgid();
	info = lookup_or_init(&rss, &tgid, &zero, STAT_PROCS_FULL);
	if (!info)
		return cost_end();
	/* All four: a counter that has not changed while traced still counts. */
	for (int i = 0; i < RSS_NR; i++)
		info->pages[i] = mm_rss_pages(mm, i);
	stat_add(STAT_EVENTS, 1);
	return cost_end();
}

/*
 * top: what the process counted before exec is the old program's (a shell
 * that forks, allocates, then execs): sent to userspace under the old
 * name, shown once, and the new program starts from zero. If the ring
 * buffer is full, the row stays (counted in events_lost).
 */
static void close_exec_row(__u32 tgid)
{
	struct proc_stats *st = bpf_map_lookup_elem(&proc_stats, &tgid);
	struct exec_stats_event *x;

	if (!st)
		return;
	x = bpf_ringbuf_reserve(&events, sizeof(*x), 0);
	if (!x) {
		stat_add(STAT_EVENTS_LOST, 1);
		return;
	}
	x->st = *st;
	x->e.type = EVENT_EXEC_STATS;
	x->e.tgid = tgid;
	x->e.exit_code = 0;
	x->e.flags = 0;
	x->e.ts_ns = bpf_ktime_get_ns();
	__builtin_memcpy(x->e.comm, st->comm, sizeof(x->e.comm));
	bpf_map_delete_elem(&proc_stats, &tgid);
	bpf_ringbuf_submit(x, BPF_RB_FORCE_WAKEUP);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = current_tgid();
	bool yes;

	cost_begin();
	yes = traced();
	/*
	 * The old image's calls, whose end no probe sees, are over (allocs:
	 * its last call; sessions: the last one left unsampled); a thread
	 * other than the leader that execs takes its tid, and its own state
	 * (its thread slot) would outlive it. Also where the task no longer
	 * matches (filter_can_unmatch()): the state is the old image's.
	 */
	if (yes || filter_can_unmatch()) {
		thread_forget(current_tid());
		thread_forget(old_pid);
	}
	/* leaks drops the old image's blocks; top and hist look for a new libc. */
	if (!yes)
		return cost_end();
	/* The old image's tables: frame pointers until the new ones are in. */
	bpf_map_delete_elem(&unwind_procs, &tgid);
	bpf_map_delete_elem(&new_sites, &tgid);
	maps_changed(EVENT_EXEC, tgid, old_pid != tgid ? EVENT_F_THREAD_EXEC : 0);
	if (proc_stats_on)
		close_exec_row(tgid);
	return cost_end();
}

/*
 * A short-lived command can exit before userspace has read the maps of a
 * library it loaded, and then its stacks would not resolve. For a command
 * memlens started itself, hold the thread at _exit (it stops on the way
 * back from this trap, before _exit runs) until userspace has read them.
 * Processes attached with -p are never held.
 */
SEC("uprobe")
int BPF_UPROBE(exit_enter)
{
	struct event *e;

	if (!traced() || !hold_at_exit)
		return 0;
	/* Hold only if userspace will hear of it. */
	e = reserve_event();
	if (!e)
		return 0;
	hold_thread(e);
	submit_event(e, EVENT_EXITING, current_tgid(), 0);
	return 0;
}

/*
 * Drop per-thread state of exiting threads; tell userspace when the last
 * goes. Not filtered in top and hist: a process whose last thread no
 * longer matches (renamed, moved out of the cgroup) must still drop out,
 * and its threads' state with it.
 * Two threads exiting at once may both see no thread left: userspace
 * takes the second event as a repeat.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *p)
{
	__u32 tid = current_tid(), tgid = current_tgid();

	cost_begin();
	if (!traced() && !(proc_stats_on && bpf_map_lookup_elem(&proc_stats, &tgid)))
		return cost_end();
	thread_forget(tid);
	bpf_map_delete_elem(&held, &tid);
	bpf_map_delete_elem(&syscalls, &tid);
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		emit_event(EVENT_EXIT, tgid,
			   BPF_CORE_READ(p, signal, group_exit_code) ?: BPF_CORE_READ(p, exit_code));
	return cost_end();
}

/*
 * leaks, record and allocs trace one process: a process it forks is not
 * traced, and the report says how many there were. Not loaded for top
 * and hist, which see every process or one pid's counts.
 */
SEC("?tp_btf/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!targ_tgid || current_tgid() != targ_tgid)
		return 0;
	if (BPF_CORE_READ(child, tgid) != targ_tgid)	/* not a thread */
		stat_add(STAT_CHILDREN_UNTRACED, 1);
	return 0;
}

#include "go_allocs.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
