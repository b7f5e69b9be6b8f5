/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Go heap allocations: a uprobe on runtime.mallocgc, which every heap
 * allocation of a Go program goes through and nothing frees one by one
 * (the garbage collector sweeps), so this is an allocation profile: calls
 * and bytes by stack, not outstanding memory. No return probe: a
 * uretprobe rewrites the return address on the goroutine's stack, and Go
 * copies its stacks when they grow.
 *
 * Included by allocs.bpf.c after its stack helpers and alloc_profile.bpf.h.
 */
#ifndef MEMLENS_GO_ALLOCS_BPF_H
#define MEMLENS_GO_ALLOCS_BPF_H

#include "allocs.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DEFAULT_MAX_STACKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct go_alloc_key);
	__type(value, __u64);		/* calls */
} go_allocs SEC(".maps");

/*
 * The stack at mallocgc, probed past its stack-bound check (see
 * go_probes.c), before it has pushed a frame: the stack pointer holds the
 * return address into its caller (makeslice, newobject...), and the
 * frame-pointer walk starts at the caller's frame, so it gives the
 * caller's caller next. Frame 0, mallocgc itself, becomes the caller.
 */
static __u64 stack_at_go_malloc(struct pt_regs *ctx)
{
	struct stack_scratch *sc = scratch_get();
	__u64 caller = 0, token;

	if (!sc)
		return 0;
	token = scratch_claim(sc, current_tid());
	if (!stack_by_frame_pointer(ctx, token, 0))
		return 0;
	if (bpf_probe_read_user(&caller, sizeof(caller), (void *)PT_REGS_SP(ctx)) == 0 && caller)
		sc->st.ips[0] = caller;
	return store_scratch_stack(sc, token);
}

/* Go's register ABI (ABIInternal): the first integer argument is in RAX on amd64. */
#if defined(__TARGET_ARCH_x86)
#define GO_ARG1(ctx)	((ctx)->ax)
#else
#define GO_ARG1(ctx)	PT_REGS_PARM1(ctx)	/* arm64: R0, as in C */
#endif

/* runtime.mallocgc(size uintptr, typ *_type, needzero bool) */
SEC("uprobe")
int go_malloc_enter(struct pt_regs *ctx)
{
	struct go_alloc_key key = { .size = GO_ARG1(ctx), .tgid = current_tgid() };
	static const __u64 zero;
	struct profile_thread *pt = NULL;
	__u64 *calls;
	__u16 flags;

	if (!traced())
		return 0;
	/* The thread's sampler is in its C profile's state: not looked up in exact mode. */
	if (sample_bytes)
		pt = profile_thread(current_tid());
	if (!sample_alloc(pt ? &pt->sample : NULL, key.size, &flags))
		return 0;
	key.flags = flags;
	key.stack_id = stack_at_go_malloc(ctx);
	calls = lookup_or_init(&go_allocs, &key, &zero, STAT_ALLOCS_FULL);
	if (!calls)
		return 0;
	__sync_fetch_and_add(calls, 1);
	stat_add(STAT_ALLOCS, 1);
	stat_add(STAT_ALLOC_BYTES, key.size);
	return 0;
}

#endif /* MEMLENS_GO_ALLOCS_BPF_H */
