/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A table-driven user stack unwinder for x86_64, for code built without
 * frame pointers (Debian's glibc, most distro binaries). Userspace loads
 * the rows of each module's DWARF CFI (include/unwind.h); here each frame
 * is a binary search for its row, then the caller's ip, sp and rbp from
 * the CFA. Modules without a table, and addresses no CFI covers, are
 * walked by frame pointer, so the choice is made per module, per frame. The result goes into the same
 * stack_trace as bpf_get_stack()'s, hashed and deduplicated as before.
 *
 * Included by allocs.bpf.c after its stat_add() and STAT_* counters.
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

struct user_unwind {
	struct stack_trace *st;
	const struct unwind_proc *proc;
	__u64 ip;
	__u64 sp;
	__u64 bp;
	bool bp_known;
};

static const struct unwind_mapping *unwind_find_mapping(const struct unwind_proc *proc, __u64 ip)
{
	__u32 lo = 0, hi = proc->nr;

	for (int i = 0; i < UNWIND_MAPPING_STEPS && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		if (mid >= UNWIND_MAX_MAPPINGS)
			return NULL;
		if (ip < proc->maps[mid].start)
			hi = mid;
		else if (ip >= proc->maps[mid].end)
			lo = mid + 1;
		else
			return &proc->maps[mid];
	}
	return NULL;
}

/* The last row of M at or before PC, NULL if there is none. */
static const struct unwind_row *unwind_find_row(const struct unwind_mapping *m, __u32 pc)
{
	__u32 first = m->first_row, lo = first, hi = first + m->nr_rows;

	for (int i = 0; i < UNWIND_ROW_STEPS && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;
		const struct unwind_row *row = bpf_map_lookup_elem(&unwind_rows, &mid);

		if (!row)
			return NULL;
		if (row->pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < hi || lo == first)
		return NULL;
	lo--;
	return bpf_map_lookup_elem(&unwind_rows, &lo);
}

static bool read_user_u64(__u64 addr, __u64 *val)
{
	return bpf_probe_read_user(val, sizeof(*val), (void *)addr) == 0;
}

/* Continue with the caller at IP, whose stack pointer is the CFA. */
static long unwind_to_caller(struct user_unwind *s, __u64 cfa, __u64 ip)
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

/* A module without a table: rbp points at the saved rbp, the return address above it. */
static long unwind_frame_pointer(struct user_unwind *s)
{
	__u64 frame = s->bp, ra, bp;

	/* Where the frame-pointer chain ends (or never was), the stack ends. */
	if (!s->bp_known || frame < s->sp || (frame & 7))
		return 1;
	if (!read_user_u64(frame + 8, &ra) || !read_user_u64(frame, &bp))
		return 1;
	s->bp = bp;
	return unwind_to_caller(s, frame + 16, ra);
}

static long unwind_by_row(struct user_unwind *s, const struct unwind_row *row)
{
	__u64 base, cfa, ra, bp;

	switch (row->rules & 0xf) {
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
	cfa = base + (__s64)row->cfa_off8 * 8;
	if (!read_user_u64(cfa - 8, &ra)) {
		stat_add(STAT_UNWIND_FAILED, 1);
		return 1;
	}
	switch (row->rules >> 4) {
	case UNWIND_RBP_SAVED:
		if (!read_user_u64(cfa + (__s64)row->rbp_off8 * 8, &bp)) {
			stat_add(STAT_UNWIND_FAILED, 1);
			return 1;
		}
		s->bp = bp;
		break;
	case UNWIND_RBP_LOST:
		s->bp_known = false;
		break;
	}
	return unwind_to_caller(s, cfa, ra);
}

/* bpf_loop callback: record frame I at s->ip, then step to its caller. */
static long unwind_step(__u32 i, void *ctx)
{
	struct user_unwind *s = ctx;
	const struct unwind_mapping *m;
	const struct unwind_row *row;

	if (i >= MAX_STACK_DEPTH)
		return 1;
	s->st->ips[i] = s->ip;
	s->st->nr = i + 1;
	m = unwind_find_mapping(s->proc, s->ip);
	if (!m) {
		/* JIT code, or a library mapped since userspace last looked. */
		stat_add(STAT_UNWIND_UNKNOWN_PC, 1);
		return 1;
	}
	if (!m->nr_rows)
		return unwind_frame_pointer(s);
	/*
	 * A return address is the instruction after the call: the call's own
	 * row is the one before it, which matters after a noreturn call.
	 */
	row = unwind_find_row(m, s->ip - 1 - m->bias);
	/*
	 * Code without CFI (ld.so's _start, hand-written assembly): the frame
	 * pointer, as bpf_get_stack would. The outermost frames clear rbp.
	 */
	if (!row || (row->rules & 0xf) == UNWIND_CFA_NONE)
		return unwind_frame_pointer(s);
	return unwind_by_row(s, row);
}

/*
 * Unwind the current user stack from IP, SP and BP into ST. False if the
 * process has no tables: the caller walks frame pointers instead.
 */
static bool unwind_user_stack(struct stack_trace *st, __u64 ip, __u64 sp, __u64 bp)
{
	__u32 tgid = current_tgid();
	struct user_unwind s = {
		.st = st,
		.ip = ip,
		.sp = sp,
		.bp = bp,
		.bp_known = true,
	};

	if (!unwind_tables)
		return false;
	s.proc = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (!s.proc)
		return false;
	st->nr = 0;
	bpf_loop(MAX_STACK_DEPTH, unwind_step, &s, 0);
	return st->nr > 0;
}

#endif /* MEMLENS_UNWIND_BPF_H */
