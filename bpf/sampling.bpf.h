/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Byte-weighted Poisson sampling of allocations, as in tcmalloc: sample
 * points fall on each thread's stream of allocated bytes at exponentially
 * distributed intervals of mean sample_bytes (R), and an allocation of S
 * bytes is tracked when a point falls inside it, with probability
 * 1 - exp(-S/R). The others are not tracked at all: no stack, no map
 * entry, which is what sampling saves. Userspace scales each tracked
 * allocation back by 1 / (1 - exp(-S/R)).
 *
 * Included by allocs.bpf.c after stat_add() and lookup_or_init().
 */
#ifndef MEMLENS_SAMPLING_BPF_H
#define MEMLENS_SAMPLING_BPF_H

#include "allocs.h"

/* Mean interval in bytes between sample points; 0: track every allocation. */
const volatile __u64 sample_bytes;
/* -ln(u) quantiles in fixed point, filled by userspace (include/allocs.h). */
const volatile __u32 sample_quantiles[SAMPLE_TABLE_SIZE];

/* Bytes left on a thread until its next sample point; 0: none drawn yet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, __u32);
	__type(value, __u64);
} sample_left SEC(".maps");

/* An exponentially distributed interval of mean R bytes, at least 1. */
static __u64 sample_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & (SAMPLE_TABLE_SIZE - 1);
	__u64 n = ((__u64)sample_quantiles[i] * sample_bytes) >> SAMPLE_FIX_SHIFT;

	return n ? n : 1;
}

/*
 * Is an allocation of SIZE bytes on this thread to be tracked? *FLAGS
 * gets ALLOC_F_UNSAMPLED if it is tracked without sampling.
 */
static bool sample_alloc(__u64 size, __u16 *flags)
{
	static const __u64 zero;
	__u32 tid = current_tid();
	__u64 *left;

	*flags = 0;
	if (!sample_bytes)
		return true;
	left = lookup_or_init(&sample_left, &tid, &zero, STAT_THREADS_FULL);
	if (!left) {
		/* Counted as threads_map_full: every one tracked, weighing 1. */
		*flags = ALLOC_F_UNSAMPLED;
		return true;
	}
	if (!*left)
		*left = sample_interval();
	if (size < *left) {
		*left -= size;
		stat_add(STAT_UNSAMPLED, 1);
		stat_add(STAT_UNSAMPLED_BYTES, size);
		return false;
	}
	/*
	 * A point fell inside this allocation. The process is memoryless:
	 * the distance from the allocation's end to the next point is a
	 * fresh draw, however many points fell inside.
	 */
	*left = sample_interval();
	stat_add(STAT_SAMPLED, 1);
	return true;
}

/*
 * A free of an address not in the map. With sampling most are blocks the
 * sampler let pass, indistinguishable (without tracking them, which is
 * what sampling saves) from blocks allocated before memlens attached:
 * counted apart, so that free_unknown keeps its meaning in exact mode.
 */
static void count_free_untracked(void)
{
	stat_add(sample_bytes ? STAT_FREE_UNTRACKED : STAT_FREE_UNKNOWN, 1);
}

static void sample_forget_thread(__u32 tid)
{
	if (sample_bytes)
		bpf_map_delete_elem(&sample_left, &tid);
}

#endif /* MEMLENS_SAMPLING_BPF_H */
