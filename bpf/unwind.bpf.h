/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A table-driven user stack unwinder for x86_64, for code built without
 * frame pointers (Debian's glibc, most distro binaries). Userspace loads
 * the rows of each module's DWARF CFI (include/unwind.h); here each frame
 * is a binary search for its mapping (unless it is in the module of the
 * frame before) and its row, then the caller's ip, sp and rbp from the
 * CFA. Modules without a table, and addresses no CFI covers, are walked
 * by frame pointer, so the choice is made per module, per frame, by the
 * step (unwind_frame_pointer()) that leaks --unwind fp takes at every
 * frame (fp_frame()). The result is hashed and deduplicated in the stacks
 * map.
 *
 * The verifier's cost is bounded by construction: one frame is one global
 * function (unwind_frame), which the verifier checks once, on its own, with
 * unknown arguments, whatever the caller's state, and not again for every
 * iteration of the loop that calls it (the frame-pointer walk's frames
 * are four to one, fp_frames()). Its two binary searches are
 * plain bounded loops over scalars. It takes scalars only (global
 * functions with pointer arguments need 5.12, and every global function is
 * verified even where its caller is dead code): the state of the walk
 * lives in the scratch buffer, per task or per CPU.
 *
 * Included by allocs.bpf.c after its stat_add(), STAT_* counters,
 * scratch_get() and scratch_still_ours().
 */
#ifndef MEMLENS_UNWIND_BPF_H
#define MEMLENS_UNWIND_BPF_H

#include "unwind.h"

/* leaks --unwind dwarf: tables where there are some. */
const volatile bool unwind_tables;

/*
 * Rows of every module, one after another: userspace writes them (mmap).
 * One row unless leaks sizes it (--unwind-rows): top and hist need none.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

/* Executable mappings by process, replaced whole by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, UNWIND_MAX_PROCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct unwind_proc);
} unwind_procs SEC(".maps");

/* The mapping of process TGID that holds IP, into S; false if none does. */
static bool unwind_find_mapping(struct unwind_walk *s, __u32 tgid, __u64 ip)
{
	const struct unwind_proc *proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	__u32 lo = 0, hi, mid;

	if (!proc)
		return false;
	hi = proc->nr;
	for (int i = 0; i < UNWIND_MAPPING_STEPS && lo < hi; i++) {
		mid = lo + (hi - lo) / 2;
		if (mid >= UNWIND_MAX_MAPPINGS)
			return false;
		if (ip < proc->maps[mid].start) {
			hi = mid;
		} else if (ip >= proc->maps[mid].end) {
			lo = mid + 1;
		} else {
			s->map = proc->maps[mid];
			return true;
		}
	}
	return false;
}

/* The last row of S's mapping at or before PC, into S; false if there is none. */
static bool unwind_find_row(struct unwind_walk *s, __u32 pc)
{
	__u32 first = s->map.first_row, lo = first, hi = first + s->map.nr_rows, mid;
	const struct unwind_row *row;

	for (int i = 0; i < UNWIND_ROW_STEPS && lo < hi; i++) {
		mid = lo + (hi - lo) / 2;
		row = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!row)
			return false;
		if (row->pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < hi || lo == first)
		return false;
	lo--;
	row = bpf_map_lookup_elem(&unwind_rows, &lo);
	if (!row)
		return false;
	s->row = *row;
	return true;
}

static bool read_user_u64(__u64 addr, __u64 *val)
{
	return bpf_probe_read_user(val, sizeof(*val), (void *)addr) == 0;
}

/* Continue with the caller at IP, whose stack pointer is the CFA. */
static int unwind_to_caller(struct unwind_walk *s, __u64 cfa, __u64 ip)
{
	/* The stack only grows down: anything else is garbage, and would loop. */
	if (cfa <= s->sp) {
		stat_add(STAT_UNWIND_FAILED, 1);
		return 1;
	}
	s->sp = cfa;
	s->ip = ip;
	return ip ? 0 : 1;
}

#define FP_MIN_FRAME	0x10000			/* vm.mmap_min_addr's default */
#define FP_USER_END	0x800000000000ULL	/* x86_64's 47-bit user space */

/*
 * A frame below the one before: the end of the chain, garbage, or another
 * stack. cgo's C code runs on the thread's stack and its saved rbp points
 * back into the goroutine's, in Go's heap, lower. Followed once a walk,
 * and only to where a mapping can be: not to the small numbers code
 * without frame pointers leaves in rbp, whose page faults bpf_get_stack()
 * paid at the end of nearly every stack (see unwind_frame_pointer()).
 */
static bool fp_switch_stack(struct unwind_walk *s, __u64 at)
{
	if (s->switched || at < FP_MIN_FRAME || at >= FP_USER_END - 16)
		return false;
	s->switched = 1;
	s->sp = at;
	return true;
}

/*
 * A module without a table: rbp points at the saved rbp, the return
 * address above it. A frame is read above the stack pointer and the frame
 * before it, where frames are (and once on another stack, above).
 * Code built without frame pointers leaves anything in rbp, and reading
 * an unmapped address costs a page fault the kernel must fix up (several
 * microseconds under a hypervisor), which is what bpf_get_stack()'s walk
 * paid at the end of nearly every stack.
 */
static int unwind_frame_pointer(struct unwind_walk *s)
{
	struct {
		__u64 bp;
		__u64 ra;
	} frame;
	__u64 at = s->bp;

	/* Where the frame-pointer chain ends (or never was), the stack ends. */
	if (!s->bp_known || (at & 7))
		return 1;
	if (at < s->sp && !fp_switch_stack(s, at))
		return 1;
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)at))
		return 1;
	s->bp = frame.bp;
	return unwind_to_caller(s, at + 16, frame.ra);
}

static int unwind_by_row(struct unwind_walk *s)
{
	__u64 base, cfa, ra, bp;
	__u8 rules = s->row.rules;

	switch (rules & 0xf) {
	case UNWIND_CFA_END:
		return 1;		/* the outermost frame: a complete stack */
	case UNWIND_CFA_RSP:
		base = s->sp;
		break;
	case UNWIND_CFA_RBP:
		if (!s->bp_known) {
			stat_add(STAT_UNWIND_NO_ROW, 1);
			return 1;
		}
		base = s->bp;
		break;
	default:		/* UNWIND_CFA_UNSUPPORTED */
		stat_add(STAT_UNWIND_NO_ROW, 1);
		return 1;
	}
	cfa = base + (__s64)s->row.cfa_off8 * 8;
	if (!read_user_u64(cfa - 8, &ra)) {
		stat_add(STAT_UNWIND_FAILED, 1);
		return 1;
	}
	switch (rules >> 4) {
	case UNWIND_RBP_SAVED:
		if (!read_user_u64(cfa + (__s64)s->row.rbp_off8 * 8, &bp)) {
			stat_add(STAT_UNWIND_FAILED, 1);
			return 1;
		}
		s->bp = bp;
		break;
	case UNWIND_RBP_LOST:
		s->bp_known = 0;
		break;
	}
	return unwind_to_caller(s, cfa, ra);
}

/*
 * Frame I of the capture OWNER (scratch_claim()): record it at the
 * scratch's ip, then step to its caller. 0 to go on, 1 when the stack
 * ends, -1 when it is lost (counted): no scratch buffer this time (task
 * storage busy), or another program's capture took it over, and what
 * is in it is no longer this stack alone. A global function: verified
 * once.
 */
__noinline int unwind_frame(__u32 i, __u64 owner)
{
	struct stack_scratch *sc = scratch_get();
	struct unwind_walk *s;

	if (!sc || !scratch_still_ours(sc, owner))
		return -1;
	if (i >= MAX_STACK_DEPTH)
		return 1;
	s = &sc->unwind;
	sc->st.ips[i] = s->ip;
	sc->st.nr = i + 1;
	/* Frames in a row are mostly in one module: search only when not. */
	if ((s->ip < s->map.start || s->ip >= s->map.end) &&
	    !unwind_find_mapping(s, s->tgid, s->ip)) {
		/* JIT code, or a library mapped since userspace last looked. */
		stat_add(STAT_UNWIND_UNKNOWN_PC, 1);
		return 1;
	}
	if (!s->map.nr_rows)
		return unwind_frame_pointer(s);
	/*
	 * A return address is the instruction after the call: the call's own
	 * row is the one before it, which matters after a noreturn call. Code
	 * without CFI (ld.so's _start, hand-written assembly): the frame
	 * pointer, as bpf_get_stack would. The outermost frames clear rbp.
	 */
	if (!unwind_find_row(s, s->ip - 1 - s->map.bias) ||
	    (s->row.rules & 0xf) == UNWIND_CFA_NONE)
		return unwind_frame_pointer(s);
	return unwind_by_row(s);
}

/*
 * The frame-pointer walk takes a few frames a call of a global function
 * (fp_frames()): each call looks the scratch buffer up once (task
 * storage: a helper call) for its frames, not once a frame. Its frame is
 * a handful of instructions, which the verifier checks once per frame of
 * a call. A table's frame is not: unwind_frame() stays one to a call.
 */
#define FP_FRAMES_PER_CALL	4

/* Frame I of the frame-pointer walk of the capture OWNER in SC: as unwind_frame(). */
static __always_inline int fp_frame(struct stack_scratch *sc, __u32 i, __u64 owner)
{
	if (!scratch_still_ours(sc, owner))
		return -1;
	barrier_var(i);		/* bound and index in one register, for the verifier */
	if (i >= MAX_STACK_DEPTH)
		return 1;
	sc->st.ips[i] = sc->unwind.ip;
	sc->st.nr = i + 1;
	return unwind_frame_pointer(&sc->unwind);
}

/*
 * Frames I on of the frame-pointer walk of the capture OWNER in SC, for a
 * process without tables, FP_FRAMES_PER_CALL at most: as unwind_frame().
 */
static __always_inline int fp_frames_in(struct stack_scratch *sc, __u32 i, __u64 owner)
{
	int ret = 0;

	for (__u32 k = 0; k < FP_FRAMES_PER_CALL; k++) {
		ret = fp_frame(sc, i + k, owner);
		if (ret)
			break;
	}
	return ret;
}

/* The same where the buffer is not at hand: a global function. */
__noinline int fp_frames(__u32 i, __u64 owner)
{
	struct stack_scratch *sc = scratch_get();

	return sc ? fp_frames_in(sc, i, owner) : -1;
}

/* Start a walk of the current user stack from IP, SP and BP in SC. */
static void unwind_start(struct stack_scratch *sc, __u64 ip, __u64 sp, __u64 bp)
{
	sc->unwind.tgid = current_tgid();
	sc->unwind.ip = ip;
	sc->unwind.sp = sp;
	sc->unwind.bp = bp;
	sc->unwind.bp_known = 1;
	sc->unwind.switched = 0;
	sc->unwind.map.start = sc->unwind.map.end = 0;	/* none found yet */
	sc->st.nr = 0;
}

/*
 * The frame-pointer walk from IP, SP and BP into the scratch's stack from
 * slot SKIP on (slots before it are the caller's to fill), for the
 * capture TOKEN: 1 if a frame is there, 0 if not, -1 if the capture was
 * lost (counted). Not bpf_get_stack(): see unwind_frame_pointer(). A
 * global function, like fp_frames(): its loop is verified once a program,
 * not at every place that walks.
 */
__noinline int fp_walk(__u64 token, __u32 skip, __u64 ip, __u64 sp, __u64 bp)
{
	struct stack_scratch *sc = scratch_get();
	int ret = 0;

	if (!sc || !scratch_still_ours(sc, token))
		return -1;
	unwind_start(sc, ip, sp, bp);
	/* The first frames with the buffer at hand: most stacks end there. */
	ret = fp_frames_in(sc, skip, token);
	for (__u32 i = skip + FP_FRAMES_PER_CALL; !ret && i < MAX_STACK_DEPTH;
	     i += FP_FRAMES_PER_CALL)
		ret = fp_frames(i, token);
	if (ret < 0)
		return -1;
	return sc->st.nr > skip;
}

/*
 * Unwind the current user stack from IP, SP and BP into SC's stack, for
 * the capture TOKEN. 1 if it is there; 0 if the process has no tables:
 * the caller walks frame pointers instead; -1 if it is lost (counted),
 * and the caller must store nothing.
 */
static int unwind_user_stack(struct stack_scratch *sc, __u64 token, __u64 ip, __u64 sp,
			     __u64 bp)
{
	int ret = 0;
	__u32 tgid;

	if (!unwind_tables)
		return 0;
	tgid = current_tgid();
	if (!bpf_map_lookup_elem(&unwind_procs, &tgid))
		return 0;
	unwind_start(sc, ip, sp, bp);
	/*
	 * A bounded loop, not bpf_loop(): the frame is a global function, so
	 * the verifier checks a handful of instructions per iteration. And a
	 * kernel before 5.13 refuses a program that so much as names a
	 * callback, even in code it would never run.
	 */
	for (__u32 i = 0; i < MAX_STACK_DEPTH; i++) {
		ret = unwind_frame(i, token);
		if (ret)
			break;
	}
	if (ret < 0)
		return -1;
	return sc->st.nr > 0;
}

#endif /* MEMLENS_UNWIND_BPF_H */
