// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Allocation tracer for one process: uprobes on the allocator entry points
 * and syscall tracepoints for anonymous mmap/munmap/mremap. Keeps every
 * outstanding block in a hash map keyed by (tgid, address), with its size,
 * time and call stack. Userspace (user/leaks.c) reads the maps and reports.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "allocs.h"

#define MAP_ANONYMOUS	0x20
#define PROT_EXEC	0x4
#define PAGE_SIZE	4096
#define EEXIST		17

/* Which syscall a thread is in, between its enter and exit tracepoints. */
enum { NR_mmap = 1, NR_munmap, NR_mremap };

const volatile __u32 targ_tgid;
/* Stop the process at _exit until userspace has read its maps (-- CMD). */
const volatile bool hold_at_exit;

#define SIGSTOP		19

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_ALLOCS);
	__type(key, struct alloc_key);
	__type(value, struct alloc_info);
} allocs SEC(".maps");

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
	__u64 size;
	__u64 ptr;		/* realloc's old block, posix_memalign's memptr */
	__u64 entry_sp;		/* user sp at the outermost entry */
	__u64 entry_ret;	/* return address at entry_sp then */
	__u32 depth;
	__u32 kind;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* Arguments of an mmap/munmap/mremap syscall between its enter and exit. */
struct syscall_args {
	__u64 args[5];
	__u32 nr;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, struct syscall_args);
} syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Scratch space for one stack: too big for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_trace);
} stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_BYTES);
} events SEC(".maps");

static __always_inline void stat_add(enum alloc_stat stat, __u64 n)
{
	__u32 key = stat;
	__u64 *val = bpf_map_lookup_elem(&stats, &key);

	if (val)
		*val += n;
}

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == targ_tgid;
}

static __always_inline __u32 current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

static void emit_event(enum event_type type, __s32 exit_code)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_add(STAT_EVENTS_LOST, 1);
		return;
	}
	e->type = type;
	e->tgid = targ_tgid;
	e->exit_code = exit_code;
	e->pad = 0;
	e->ts_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
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

static struct stack_trace *scratch_stack(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&stack_scratch, &zero);
}

/*
 * At an allocator's return the kernel has put the caller's return address
 * in the instruction pointer, so the first frame is the immediate caller
 * and the frame-pointer walk continues from the caller's frame.
 */
static __u64 stack_at_return(void *ctx)
{
	struct stack_trace *st = scratch_stack();
	long n;

	if (!st)
		return 0;
	n = bpf_get_stack(ctx, st->ips, sizeof(st->ips), BPF_F_USER_STACK);
	if (n <= 0) {
		stat_add(STAT_STACK_FAILED, 1);
		return 0;
	}
	st->nr = n / sizeof(__u64);
	return store_stack(st);
}

/*
 * Inside a syscall the first frame is the libc wrapper. glibc's mmap,
 * munmap and mremap wrappers are leaf functions without a stack frame, so
 * their caller's return address is at the user stack pointer, and the
 * frame-pointer walk (which starts from the caller's caller) misses it:
 * put it back as the second frame.
 */
static __u64 stack_in_syscall(void *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct stack_trace *st = scratch_stack();
	__u64 ret_addr = 0;
	long n;

	if (!st)
		return 0;
	n = bpf_get_stack(ctx, &st->ips[1], sizeof(st->ips) - sizeof(__u64),
			  BPF_F_USER_STACK);
	if (n <= 0) {
		stat_add(STAT_STACK_FAILED, 1);
		return 0;
	}
	st->nr = n / sizeof(__u64);
	st->ips[0] = st->ips[1];
	if (bpf_probe_read_user(&ret_addr, sizeof(ret_addr), (void *)regs->sp) == 0 &&
	    ret_addr && st->nr < MAX_STACK_DEPTH - 1) {
		st->ips[1] = ret_addr;
		st->nr++;
	} else {
		/* Keep the frames contiguous: drop the duplicate. */
		st->ips[1] = st->nr > 1 ? st->ips[2] : 0;
		st->nr = st->nr > 1 ? st->nr : 1;
	}
	return store_stack(st);
}

static void record_alloc(__u64 addr, __u64 size, enum alloc_kind kind, __u64 stack_id)
{
	struct alloc_key key = { .tgid = targ_tgid, .addr = addr };
	struct alloc_info info = {
		.size = size,
		.ts_ns = bpf_ktime_get_ns(),
		.stack_id = stack_id,
		.tid = current_tid(),
		.kind = kind,
	};
	long err;

	err = bpf_map_update_elem(&allocs, &key, &info, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* Freed by a path we do not see, then handed out again. */
		stat_add(STAT_REPLACED, 1);
		err = bpf_map_update_elem(&allocs, &key, &info, BPF_EXIST);
	}
	if (err) {
		stat_add(STAT_ALLOCS_FULL, 1);
		return;
	}
	stat_add(STAT_ALLOCS, 1);
	stat_add(STAT_ALLOC_BYTES, size);
}

static void forget_alloc(__u64 addr)
{
	struct alloc_key key = { .tgid = targ_tgid, .addr = addr };
	struct alloc_info *info;
	__u64 size;

	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info) {
		stat_add(STAT_FREE_UNKNOWN, 1);
		return;
	}
	size = info->size;
	if (bpf_map_delete_elem(&allocs, &key) == 0) {
		stat_add(STAT_FREES, 1);
		stat_add(STAT_FREE_BYTES, size);
	}
}

static struct thread_state *thread_state(__u32 tid)
{
	static const struct thread_state zero;
	struct thread_state *ts;

	ts = bpf_map_lookup_elem(&threads, &tid);
	if (ts)
		return ts;
	if (bpf_map_update_elem(&threads, &tid, &zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&threads, &tid)) {
		stat_add(STAT_THREADS_FULL, 1);
		return NULL;
	}
	return bpf_map_lookup_elem(&threads, &tid);
}

/* True if this thread is inside an allocator call we are accounting. */
static bool in_allocator(void)
{
	__u32 tid = current_tid();
	struct thread_state *ts = bpf_map_lookup_elem(&threads, &tid);

	return ts && ts->depth > 0;
}

static __u64 return_address_at(__u64 sp)
{
	__u64 ret = 0;

	bpf_probe_read_user(&ret, sizeof(ret), (void *)sp);
	return ret;
}

/*
 * Did the outer call on this thread return without its return probe firing
 * (e.g. it could not be armed)? A nested call runs below the outer frame,
 * or at the same stack pointer when the outer function tail-calls (glibc's
 * realloc(NULL, n) jumps to malloc), and then the return address there is
 * the kernel's uretprobe trampoline, no longer the caller's.
 */
static bool outer_call_lost(const struct thread_state *ts, __u64 sp)
{
	if (sp > ts->entry_sp)
		return true;
	return sp == ts->entry_sp && return_address_at(sp) == ts->entry_ret;
}

static int alloc_enter(struct pt_regs *ctx, enum alloc_kind kind, __u64 size, __u64 ptr)
{
	struct thread_state *ts;
	__u64 sp = PT_REGS_SP(ctx);

	if (!is_target())
		return 0;
	ts = thread_state(current_tid());
	if (!ts)
		return 0;
	if (ts->depth > 0 && outer_call_lost(ts, sp)) {
		stat_add(STAT_MISSED_RETURN, 1);
		ts->depth = 0;
	}
	if (ts->depth++ > 0)
		return 0;
	ts->kind = kind;
	ts->size = size;
	ts->ptr = ptr;
	ts->entry_sp = sp;
	ts->entry_ret = return_address_at(sp);
	return 0;
}

static void account_realloc(void *ctx, struct thread_state *ts, __u64 ret)
{
	if (!ts->ptr) {			/* realloc(NULL, n) is malloc(n) */
		if (ret)
			record_alloc(ret, ts->size, ts->kind, stack_at_return(ctx));
		else
			stat_add(STAT_ALLOC_FAILED, 1);
		return;
	}
	if (ret) {
		forget_alloc(ts->ptr);
		record_alloc(ret, ts->size, ts->kind, stack_at_return(ctx));
		return;
	}
	if (ts->size == 0)		/* glibc: realloc(p, 0) frees p */
		forget_alloc(ts->ptr);
	else				/* failed: the old block stays */
		stat_add(STAT_ALLOC_FAILED, 1);
}

static void account_posix_memalign(void *ctx, struct thread_state *ts, long err)
{
	__u64 addr = 0;

	if (err || bpf_probe_read_user(&addr, sizeof(addr), (void *)ts->ptr) || !addr) {
		stat_add(STAT_ALLOC_FAILED, 1);
		return;
	}
	record_alloc(addr, ts->size, ts->kind, stack_at_return(ctx));
}

SEC("uretprobe")
int BPF_URETPROBE(alloc_return, long ret)
{
	struct thread_state *ts;
	__u32 tid = current_tid();

	if (!is_target())
		return 0;
	ts = bpf_map_lookup_elem(&threads, &tid);
	if (!ts || ts->depth == 0)
		return 0;
	if (--ts->depth > 0)
		return 0;

	switch (ts->kind) {
	case KIND_REALLOC:
	case KIND_REALLOCARRAY:
		account_realloc(ctx, ts, ret);
		break;
	case KIND_POSIX_MEMALIGN:
		account_posix_memalign(ctx, ts, ret);
		break;
	default:
		if (ret)
			record_alloc(ret, ts->size, ts->kind, stack_at_return(ctx));
		else
			stat_add(STAT_ALLOC_FAILED, 1);
	}
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(malloc_enter, size_t size)
{
	return alloc_enter(ctx, KIND_MALLOC, size, 0);
}

SEC("uprobe")
int BPF_UPROBE(calloc_enter, size_t nmemb, size_t size)
{
	__u64 bytes = (__u64)nmemb * size;

	/* On overflow calloc fails; the size is never recorded. */
	return alloc_enter(ctx, KIND_CALLOC, bytes, 0);
}

SEC("uprobe")
int BPF_UPROBE(realloc_enter, void *ptr, size_t size)
{
	return alloc_enter(ctx, KIND_REALLOC, size, (__u64)ptr);
}

SEC("uprobe")
int BPF_UPROBE(reallocarray_enter, void *ptr, size_t nmemb, size_t size)
{
	return alloc_enter(ctx, KIND_REALLOCARRAY, (__u64)nmemb * size, (__u64)ptr);
}

SEC("uprobe")
int BPF_UPROBE(posix_memalign_enter, void **memptr, size_t align, size_t size)
{
	return alloc_enter(ctx, KIND_POSIX_MEMALIGN, size, (__u64)memptr);
}

/* memalign(align, size) and aligned_alloc(align, size). */
SEC("uprobe")
int BPF_UPROBE(memalign_enter, size_t align, size_t size)
{
	return alloc_enter(ctx, KIND_MEMALIGN, size, 0);
}

SEC("uprobe")
int BPF_UPROBE(valloc_enter, size_t size)
{
	return alloc_enter(ctx, KIND_VALLOC, size, 0);
}

/* pvalloc rounds the size up to whole pages: that is what the caller gets. */
SEC("uprobe")
int BPF_UPROBE(pvalloc_enter, size_t size)
{
	__u64 bytes = (size + PAGE_SIZE - 1) & ~(__u64)(PAGE_SIZE - 1);

	return alloc_enter(ctx, KIND_PVALLOC, bytes ? bytes : PAGE_SIZE, 0);
}

SEC("uprobe")
int BPF_UPROBE(free_enter, void *ptr)
{
	if (!is_target() || !ptr)
		return 0;
	/* free() called by realloc(p, 0): realloc's return accounts for it. */
	if (in_allocator())
		return 0;
	forget_alloc((__u64)ptr);
	return 0;
}

/*
 * Anonymous mappings the program makes itself. Those made inside the
 * allocator (large malloc blocks, arenas) belong to the allocator call.
 *
 * Per-syscall tracepoints, not the generic sys_enter/sys_exit: those would
 * run a program on every syscall of every process on the host (+15-20% on
 * a null syscall here); these run on mmap/munmap/mremap only.
 */
/*
 * Reads NARGS arguments, no more: the kernel refuses to attach a program
 * that reads past the tracepoint's own fields (munmap has two). Inlined so
 * that every ctx access has a constant offset, which the verifier wants.
 */
static __always_inline int syscall_enter(__u32 nr, struct trace_event_raw_sys_enter *ctx,
					 int nargs)
{
	struct syscall_args sc = {
		.nr = nr,
		.args = {
			ctx->args[0],
			ctx->args[1],
			nargs > 2 ? ctx->args[2] : 0,
			nargs > 3 ? ctx->args[3] : 0,
			nargs > 4 ? ctx->args[4] : 0,
		},
	};
	__u32 tid;

	if (!is_target() || in_allocator())
		return 0;
	tid = current_tid();
	if (bpf_map_update_elem(&syscalls, &tid, &sc, BPF_ANY))
		stat_add(STAT_THREADS_FULL, 1);
	return 0;
}

static void mmap_exit(void *ctx, struct syscall_args *sc, long ret)
{
	__u64 len = sc->args[1], prot = sc->args[2], flags = sc->args[3];

	if (!(flags & MAP_ANONYMOUS)) {
		/* A new executable file mapping: symbols to read while it lives. */
		if (prot & PROT_EXEC)
			emit_event(EVENT_MAPS_CHANGED, 0);
		return;
	}
	record_alloc(ret, len, KIND_MMAP, stack_in_syscall(ctx));
}

/* Only whole-mapping and head unmaps are tracked: the map is keyed by start. */
static void munmap_exit(struct syscall_args *sc)
{
	struct alloc_key key = { .tgid = targ_tgid, .addr = sc->args[0] };
	__u64 len = sc->args[1];
	struct alloc_info *info;
	struct alloc_info rest;

	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info || (info->kind != KIND_MMAP && info->kind != KIND_MREMAP))
		return;
	if (len >= info->size) {
		forget_alloc(key.addr);
		return;
	}
	rest = *info;
	len = (len + PAGE_SIZE - 1) & ~(__u64)(PAGE_SIZE - 1);
	rest.size -= len;
	bpf_map_delete_elem(&allocs, &key);
	key.addr += len;
	stat_add(STAT_FREE_BYTES, len);
	if (bpf_map_update_elem(&allocs, &key, &rest, BPF_ANY))
		stat_add(STAT_ALLOCS_FULL, 1);
}

static void mremap_exit(void *ctx, struct syscall_args *sc, long ret)
{
	struct alloc_key key = { .tgid = targ_tgid, .addr = sc->args[0] };

	if (!bpf_map_lookup_elem(&allocs, &key))
		return;
	forget_alloc(key.addr);
	record_alloc(ret, sc->args[2], KIND_MREMAP, stack_in_syscall(ctx));
}

static int syscall_exit(void *ctx, long ret)
{
	struct syscall_args *sc;
	__u32 tid;

	if (!is_target())
		return 0;
	tid = current_tid();
	sc = bpf_map_lookup_elem(&syscalls, &tid);
	if (!sc)
		return 0;
	if (ret < 0 && ret > -4096) {
		if (sc->nr != NR_munmap)
			stat_add(STAT_ALLOC_FAILED, 1);
	} else if (sc->nr == NR_mmap) {
		mmap_exit(ctx, sc, ret);
	} else if (sc->nr == NR_munmap) {
		munmap_exit(sc);
	} else if (sc->nr == NR_mremap) {
		mremap_exit(ctx, sc, ret);
	}
	bpf_map_delete_elem(&syscalls, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	return syscall_enter(NR_mmap, ctx, 5);
}

SEC("tracepoint/syscalls/sys_enter_munmap")
int munmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	return syscall_enter(NR_munmap, ctx, 2);
}

SEC("tracepoint/syscalls/sys_enter_mremap")
int mremap_enter(struct trace_event_raw_sys_enter *ctx)
{
	return syscall_enter(NR_mremap, ctx, 5);
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int mmap_return(struct trace_event_raw_sys_exit *ctx)
{
	return syscall_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_munmap")
int munmap_return(struct trace_event_raw_sys_exit *ctx)
{
	return syscall_exit(ctx, ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_mremap")
int mremap_return(struct trace_event_raw_sys_exit *ctx)
{
	return syscall_exit(ctx, ctx->ret);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!is_target())
		return 0;
	emit_event(EVENT_MAPS_CHANGED, 0);
	return 0;
}

/*
 * A short-lived command can exit before userspace has read the maps of a
 * library it loaded, and then its stacks would not resolve. For a command
 * memlens started itself, stop it at _exit (the signal is taken on the way
 * back from this trap, before _exit runs) until userspace has read them
 * and sent SIGCONT. Processes attached with -p are never held.
 */
SEC("uprobe")
int BPF_UPROBE(exit_enter)
{
	if (!is_target() || !hold_at_exit)
		return 0;
	emit_event(EVENT_EXITING, 0);
	bpf_send_signal(SIGSTOP);
	return 0;
}

/* Drop per-thread state of exiting threads; tell userspace when the last goes. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *p)
{
	__u32 tid;

	if (!is_target())
		return 0;
	tid = current_tid();
	bpf_map_delete_elem(&threads, &tid);
	bpf_map_delete_elem(&syscalls, &tid);
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		emit_event(EVENT_EXIT, BPF_CORE_READ(p, signal, group_exit_code) ?: BPF_CORE_READ(p, exit_code));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
