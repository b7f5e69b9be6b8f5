/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * memlens allocs of a program that allocates through malloc, calloc,
 * realloc, the aligned functions or C++ operator new: calls and bytes by
 * (process, stack, size), as for a Go program (go_allocs.bpf.h). One trap
 * per call: an entry probe on each allocator function, no return probe,
 * no free probe. What is counted is what was asked for, failed calls too:
 * nothing sees the return.
 *
 * Allocator functions call each other (operator new calls malloc, the
 * aligned ones call one another) and only the outermost call of a thread
 * counts. Without return probes, the end of a call is not seen: every
 * outer call is remembered by its stack pointer and its function's code.
 * A later entry below that stack pointer, called from that code (or from
 * that of the last call it made), is nested: that code runs only inside a
 * call whose entry was seen, the outer one or a nested one, which would
 * have become the one remembered. Unlike a session's unsampled call
 * (session.bpf.h), whose slot is checked for the syscalls made inside it,
 * the outer call's slot is not read, and an entry's own return address
 * only where it is needed: below that stack pointer, at a tail jump's
 * target, and for a sampled call's stack. A read of user memory costs an
 * entry as much as all the rest of it (140 ns here). An entry at the same
 * stack pointer is a new call from the caller, or a tail jump of the
 * outer function, which passes its own return address on: userspace
 * does not hook a function that only forwards to a hooked one
 * (libstdc++'s new[] is `jmp new`), and puts an entry probe on each tail
 * jump to a hooked function that the unwind tables prove is one (glibc's
 * realloc(NULL, n) jumps to malloc): it marks the next entry at its stack
 * pointer as the same call.
 *
 * The attach cookie of each function is SESSION_COOKIE(kind, 0, skip,
 * size) (allocs.h): cookies need Linux 5.15, which userspace checks.
 *
 * Included by allocs.bpf.c after session.bpf.h and its stack helpers.
 */
#ifndef MEMLENS_ALLOC_PROFILE_BPF_H
#define MEMLENS_ALLOC_PROFILE_BPF_H

#include "allocs.h"

/*
 * The largest request that can succeed: no object is larger than
 * PTRDIFF_MAX (C11 7.20.3, glibc's malloc fails above it), nor than the
 * user address space, 2^47 bytes on x86-64 (2^56 with 5-level paging),
 * 2^52 at most on arm64.
 */
#define MAX_POSSIBLE_BYTES	(1ULL << 57)

/* Calls by (tgid, stack, size, flags); the key is the Go profile's. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct go_alloc_key);
	__type(value, __u64);		/* calls */
} alloc_profile SEC(".maps");

/*
 * The state of thread TID (struct profile_thread and the profile_threads
 * map, in allocs.bpf.c), if it has one: in its thread slot, as leaks keeps
 * its thread_state, or in the map.
 */
static __always_inline struct profile_thread *profile_lookup(__u32 tid)
{
	struct thread_slot *s = held_slot(tid);

	return s ? &s->pt : bpf_map_lookup_elem(&profile_threads, &tid);
}

/* ... made on first use, as thread_state(); NULL (counted) if there is no room. */
static struct profile_thread *profile_thread(__u32 tid)
{
	static const struct profile_thread none;
	struct profile_thread *pt = profile_lookup(tid);
	struct thread_slot *s;

	if (pt)
		return pt;
	s = slot_claim(tid);
	if (s)
		return &s->pt;
	return lookup_or_init(&profile_threads, &tid, &none, STAT_THREADS_FULL);
}

/*
 * Is this entry, at SP, made inside the thread's last outer call? Then the
 * function it enters, at START for SIZE bytes, is remembered as the inner
 * call, for the calls it makes in turn.
 */
static bool profile_nested(struct profile_thread *pt, __u64 sp, __u64 start, __u64 size,
			   enum alloc_kind kind)
{
	__u64 tail_sp = pt->tail_sp, ret;

	/* A mark serves the next entry only: any other one drops it. */
	pt->tail_sp = 0;
	if (tail_sp && tail_sp == sp && return_address_at(sp) == pt->ret &&
	    (start == pt->tail_to[0] || start == pt->tail_to[1] || start == pt->tail_to[2] ||
	     start == pt->tail_to[3] || (pt->tail_unbound && kind == pt->tail_kind))) {
		/* The outer call's tail jump: its code is now this function's. */
		pt->lo = start;
		pt->hi = start + size;
		return true;
	}
	if (!pt->sp || sp >= pt->sp)
		return false;
	ret = return_address_at(sp);
	if ((ret < pt->lo || ret >= pt->hi) && (ret < pt->inner_lo || ret >= pt->inner_hi))
		return false;
	pt->inner_lo = start;
	pt->inner_hi = start + size;
	return true;
}

/*
 * What the call allocates, from the entry's registers; false if nothing:
 * realloc(p, 0) frees p (glibc), a calloc or reallocarray whose product
 * overflows fails.
 */
static bool profile_size(struct pt_regs *ctx, enum alloc_kind kind, __u64 *size)
{
	__u64 ptr = 0, memptr;

	switch (kind) {
	case KIND_REALLOC:
		ptr = PT_REGS_PARM1(ctx);
		*size = PT_REGS_PARM2(ctx);
		break;
	case KIND_REALLOCARRAY:
		ptr = PT_REGS_PARM1(ctx);
		*size = array_bytes(PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx));
		break;
	default:
		*size = session_size(ctx, kind, &memptr);
	}
	/*
	 * A call that cannot succeed (MAX_POSSIBLE_BYTES; a product that
	 * overflows, array_bytes(), is ~0) allocates nothing: counted apart,
	 * its bytes in no total.
	 */
	if (*size > MAX_POSSIBLE_BYTES) {
		stat_add(STAT_ALLOC_IMPOSSIBLE, 1);
		return false;
	}
	/* realloc(p, 0) frees p. */
	return !(ptr && !*size);
}

/*
 * The stack at an allocator's entry, which has pushed nothing yet: the
 * return address at SP is the caller, frame 0, and the walk goes on from
 * the caller's frame, as at the return (stack_at_return()): by unwind
 * table where the process has them, else by frame pointer.
 */
static __u64 stack_at_entry(struct pt_regs *ctx, __u64 sp)
{
	struct stack_scratch *sc = scratch_get();
	__u64 token, ret = return_address_at(sp);
	int unwound;

	if (!sc)
		return 0;
	token = scratch_claim(sc, current_tid());
	unwound = unwind_user_stack(sc, token, ret, sp + 8, PT_REGS_FP(ctx));
	if (unwound < 0)
		return 0;
	if (!unwound && fp_walk(token, 0, ret, sp + 8, PT_REGS_FP(ctx)) <= 0)
		return 0;
	return store_scratch_stack(sc, token);
}

static void profile_count(struct pt_regs *ctx, __u64 sp, __u64 size, __u16 flags)
{
	struct go_alloc_key key = { .size = size, .tgid = current_tgid(), .flags = flags };
	static const __u64 zero;
	__u64 *calls;

	key.stack_id = stack_at_entry(ctx, sp);
	calls = lookup_or_init(&alloc_profile, &key, &zero, STAT_ALLOCS_FULL);
	if (!calls)
		return;
	__sync_fetch_and_add(calls, 1);
	stat_add(STAT_ALLOCS, 1);
	stat_add(STAT_ALLOC_BYTES, size);
}

/* The entry of every allocator function: its cookie says which. */
SEC("?uprobe")
int profile_enter(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), sp = PT_REGS_SP(ctx), start, size;
	struct profile_thread *pt;
	__u32 tid;
	__u16 flags;

	if (!traced_tid(&tid))
		return 0;
	pt = profile_thread(tid);
	if (!pt)
		return 0;
	/* The kernel puts the instruction pointer back on the probe. */
	start = PT_REGS_IP(ctx) - SESSION_SKIP(cookie);
	if (profile_nested(pt, sp, start, SESSION_FUNC_SIZE(cookie), SESSION_KIND(cookie)))
		return 0;
	pt->sp = sp;
	pt->lo = start;
	pt->hi = start + SESSION_FUNC_SIZE(cookie);
	pt->inner_lo = pt->inner_hi = 0;
	if (!profile_size(ctx, SESSION_KIND(cookie), &size))
		return 0;
	if (!sample_alloc(&pt->sample, size, &flags))
		return 0;
	profile_count(ctx, sp, size, flags);
	return 0;
}

/* Is the x86 condition code CC true of FLAGS (a jcc's low nibble)? */
static bool condition_holds(__u64 flags, unsigned int cc)
{
	bool cf = flags & 1, pf = flags >> 2 & 1, zf = flags >> 6 & 1, sf = flags >> 7 & 1,
	     of = flags >> 11 & 1, holds;

	switch (cc >> 1) {
	case 0: holds = of; break;
	case 1: holds = cf; break;
	case 2: holds = zf; break;
	case 3: holds = cf || zf; break;
	case 4: holds = sf; break;
	case 5: holds = pf; break;
	case 6: holds = sf != of; break;
	default: holds = zf || sf != of; break;
	}
	return holds != (cc & 1);
}

#define TAIL_HOPS	3	/* a forwarder's PLT stub, the forwarder, its target's stub */
_Static_assert(TAIL_HOPS + 1 == sizeof(((struct profile_thread *)0)->tail_to) / sizeof(__u64),
	       "tail_to holds every hop");

/*
 * Where a tail jump at IP goes, from its cookie: IP + delta, or what the
 * GOT slot there holds; then on through what only jumps on (a PLT stub, a
 * forwarder memlens does not hook, such as `aligned_alloc: jmp memalign`):
 * `endbr64`, `bnd`, then `jmp rel32`, `jmp rel8` or `jmp *slot(%rip)`.
 * Every address on the way goes into TO (0 past the last): the function
 * entered next is the same call if it is one of them. False if a slot on
 * the way is not bound yet: it points at its PLT entry's `push $index`
 * (after an endbr64 with IBT), and the dynamic linker picks the target.
 */
static bool tail_targets(__u64 cookie, __u64 ip, __u64 *to)
{
	__u64 at = ip + TAIL_DELTA(cookie), slot;
	unsigned char c[6];
	__s32 rel;
	int hop;

	if ((cookie & TAIL_VIA_SLOT) && bpf_probe_read_user(&at, sizeof(at), (void *)at))
		return false;
	for (hop = 0; hop < TAIL_HOPS; hop++) {
		to[hop] = at;
		if (bpf_probe_read_user(c, sizeof(c), (void *)at))
			return true;
		if (c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e && c[3] == 0xfa) {
			at += 4;
			if (bpf_probe_read_user(c, sizeof(c), (void *)at))
				return true;
		}
		if (c[0] == 0xf2) {		/* bnd */
			at += 1;
			if (bpf_probe_read_user(c, sizeof(c), (void *)at))
				return true;
		}
		if (c[0] == 0x68)
			return false;		/* a PLT entry's push: not bound yet */
		if (c[0] == 0xe9) {
			__builtin_memcpy(&rel, &c[1], sizeof(rel));
			at += 5 + (__s64)rel;
		} else if (c[0] == 0xeb) {
			at += 2 + (__s64)(__s8)c[1];
		} else if (c[0] == 0xff && c[1] == 0x25) {
			__builtin_memcpy(&rel, &c[2], sizeof(rel));
			slot = at + 6 + (__s64)rel;
			if (bpf_probe_read_user(&at, sizeof(at), (void *)slot))
				return true;
		} else {
			return true;		/* a function's first instruction */
		}
	}
	to[TAIL_HOPS] = at;
	return true;
}

/*
 * A tail jump of an allocator function to another hooked one (glibc's
 * realloc(NULL, n) to malloc), where its frame is gone: the next entry at
 * this stack pointer, if it is that function's, is the same call. Its
 * cookie (TAIL_COOKIE, allocs.h) names the function: the jump may go
 * elsewhere (a conditional one not taken, a PLT slot bound to an
 * interposer that is not hooked), and then the next entry is a new call.
 */
SEC("?uprobe")
int profile_tail(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx), sp = PT_REGS_SP(ctx);
	struct profile_thread *pt;
	__u32 tid;

	if (!traced())
		return 0;
	tid = current_tid();
	pt = profile_lookup(tid);
	/* At the outer call's stack pointer: only that call can be here. */
	if (!pt || pt->sp != sp)
		return 0;
	if ((cookie & TAIL_COND) && !condition_holds(ctx->flags, TAIL_CC(cookie)))
		return 0;
	/* The return address it passes on, which its target's entry must find. */
	pt->ret = return_address_at(sp);
	__builtin_memset(pt->tail_to, 0, sizeof(pt->tail_to));
	pt->tail_kind = TAIL_KIND(cookie);
	pt->tail_unbound = !tail_targets(cookie, PT_REGS_IP(ctx), pt->tail_to);
	if (pt->tail_unbound)
		stat_add(STAT_TAIL_UNBOUND, 1);
	pt->tail_sp = sp;
	return 0;
}

#endif /* MEMLENS_ALLOC_PROFILE_BPF_H */
