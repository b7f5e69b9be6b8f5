/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * --sample-bytes with uprobe sessions (Linux 6.13): one program runs at the
 * entry and at the return of each allocator call, and an entry returning
 * non-zero skips the return. The sampler decides at the entry, where the
 * size is known: a call it lets pass returns 1 and costs one trap, not a
 * trap and a return. Kernels without sessions keep the uprobe + uretprobe
 * pair (alloc_probes.c chooses).
 *
 * The attach cookie of each function (SESSION_COOKIE in allocs.h) carries
 * its kind, the bytes from its entry to its probe and its size, so that
 * one program serves every function. A call made inside an unsampled one
 * (libstdc++'s operator new calls malloc) must not be sampled again: it
 * runs below the outer call's stack pointer and returns into the outer
 * function's code, which is what is remembered of it; so do the memory
 * syscalls the allocator makes inside it (in_unsampled_call()). A function that
 * only forwards (libstdc++'s new[] is `jmp new`) would call on at the same
 * stack pointer: its calls, like realloc and delete, keep their return.
 *
 * Included by allocs.bpf.c after alloc_enter() and alloc_return_common().
 */
#ifndef MEMLENS_SESSION_BPF_H
#define MEMLENS_SESSION_BPF_H

extern bool bpf_session_is_return(void) __ksym __weak;

/* The size KIND allocates, from the entry's registers; ptr for realloc, memptr. */
static __u64 session_size(struct pt_regs *ctx, enum alloc_kind kind, __u64 *ptr)
{
	__u64 a = PT_REGS_PARM1(ctx), b = PT_REGS_PARM2(ctx);

	*ptr = 0;
	switch (kind) {
	case KIND_CALLOC:
		/*
		 * A wrapped product would let a failing call pass as a small
		 * one, without its return: an overflow is sampled and fails.
		 */
		return array_bytes(a, b);
	case KIND_POSIX_MEMALIGN:
		*ptr = a;
		return PT_REGS_PARM3(ctx);
	case KIND_MEMALIGN:
		return b;
	case KIND_PVALLOC:
		a = (a + PAGE_SIZE - 1) & ~(__u64)(PAGE_SIZE - 1);
		return a ? a : PAGE_SIZE;
	default:			/* malloc, valloc, new */
		return a;
	}
}

/*
 * Is this outer call made by an unsampled one on this thread: inside it
 * (in_unsampled_call()), and called from its function's code or from that
 * of a call it made? Then it is remembered as that inner call, for those
 * it makes in turn.
 */
static bool inside_unsampled(struct thread_state *ts, __u64 sp, __u64 cookie,
			     struct pt_regs *ctx)
{
	__u64 ret, start;

	if (!in_unsampled_call(ts, sp))
		return false;
	ret = return_address_at(sp);
	if ((ret < ts->skip_lo || ret >= ts->skip_hi) &&
	    (ret < ts->inner_lo || ret >= ts->inner_hi))
		return false;
	start = PT_REGS_IP(ctx) - SESSION_SKIP(cookie);
	ts->inner_lo = start;
	ts->inner_hi = start + SESSION_FUNC_SIZE(cookie);
	return true;
}

/* Its entry as a uprobe's, by thread ID, for a call that keeps its return. */
static int session_enter_keep(struct pt_regs *ctx, __u64 id, enum alloc_kind kind)
{
	__u64 a = PT_REGS_PARM1(ctx), size, ptr;

	if (kind == KIND_REALLOC)
		return traced_enter(ctx, id, kind, PT_REGS_PARM2(ctx), a);
	if (kind == KIND_REALLOCARRAY)
		return traced_enter(ctx, id, kind,
				    array_bytes(PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx)), a);
	if (kind == KIND_DELETE)
		return traced_enter(ctx, id, kind, 0, a);
	size = session_size(ctx, kind, &ptr);
	return traced_enter(ctx, id, kind, size, ptr);
}

static int session_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), sp = PT_REGS_SP(ctx), size, ptr;
	enum alloc_kind kind = SESSION_KIND(cookie);
	struct thread_state *ts;
	__u32 tid;
	__u16 flags;
	__u64 id;

	if (!traced_id(&id))
		return 1;
	tid = (__u32)id;
	ts = thread_state(tid);
	if (!ts)
		return 1;
	if (ts->depth > 0) {
		if (!outer_call_lost(ts, sp)) {
			ts->depth++;	/* nested in a call that has its return */
			return 0;
		}
		stat_add(STAT_MISSED_RETURN, 1);
		ts->depth = 0;
		freeing_end(ts, tid);
	}
	/*
	 * At the entry the kernel has put the instruction pointer back on
	 * the probe: PT_REGS_IP() is what bpf_get_func_ip() says, without
	 * a helper call.
	 */
	if (inside_unsampled(ts, sp, cookie, ctx))
		return 1;
	if (SESSION_KEEP_RETURN(cookie))
		return session_enter_keep(ctx, id, kind);
	size = session_size(ctx, kind, &ptr);
	if (!sample_alloc(&ts->sample, size, &flags)) {
		__u64 start = PT_REGS_IP(ctx) - SESSION_SKIP(cookie);

		ts->skip_sp = sp;
		ts->skip_ret = return_address_at(sp);
		ts->skip_lo = start;
		ts->skip_hi = start + SESSION_FUNC_SIZE(cookie);
		ts->inner_lo = ts->inner_hi = 0;
		return 1;
	}
	traced_enter(ctx, id, kind, size, ptr);
	ts->sampled = 1;
	ts->sample_flags = flags;
	return 0;
}

/* One program for the entry and the return of every allocator call but free. */
SEC("?uprobe.multi")
int alloc_session(struct pt_regs *ctx)
{
	if (bpf_session_is_return())
		return alloc_return_common(ctx, PT_REGS_RC(ctx), true);	/* 6.13: atomics */
	return session_enter(ctx);
}

#endif /* MEMLENS_SESSION_BPF_H */
