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
 * Each thread's sampler (struct sample_state, allocs.h) is part of the
 * per-thread state its allocator calls look up anyway.
 *
 * Included by allocs.bpf.c after stat_add().
 */
#ifndef MEMLENS_SAMPLING_BPF_H
#define MEMLENS_SAMPLING_BPF_H

#include "allocs.h"

/* Mean interval in bytes between sample points; 0: track every allocation. */
const volatile __u64 sample_bytes;
/* -ln(u) quantiles in fixed point, filled by userspace (include/allocs.h). */
const volatile __u32 sample_quantiles[SAMPLE_TABLE_SIZE];

/* An exponentially distributed interval of mean R bytes, at least 1. */
static __u64 sample_interval(void)
{
	__u32 i = bpf_get_prandom_u32() & (SAMPLE_TABLE_SIZE - 1);
	__u64 n = ((__u64)sample_quantiles[i] * sample_bytes) >> SAMPLE_FIX_SHIFT;

	return n ? n : 1;
}

/*
 * Is an allocation of SIZE bytes on the thread of sampler SS to be
 * tracked? *FLAGS gets ALLOC_F_UNSAMPLED if it is tracked without
 * sampling: SS is NULL when the thread's state found no room (counted
 * as threads_map_full), and then every call is tracked, weighing 1.
 */
static bool sample_alloc(struct sample_state *ss, __u64 size, __u16 *flags)
{
	*flags = 0;
	if (!sample_bytes)
		return true;
	if (!ss) {
		*flags = ALLOC_F_UNSAMPLED;
		return true;
	}
	if (!ss->left)
		ss->left = sample_interval();
	if (size < ss->left) {
		/* Most calls: no map, no atomic add (struct sample_state). */
		ss->left -= size;
		ss->unsampled++;
		ss->unsampled_bytes += size;
		return false;
	}
	/*
	 * A point fell inside this allocation. The process is memoryless:
	 * the distance from the allocation's end to the next point is a
	 * fresh draw, however many points fell inside.
	 */
	ss->left = sample_interval();
	stat_add(STAT_SAMPLED, 1);
	return true;
}

/*
 * The calls SS let pass, into the stats, before the thread's state is
 * deleted. Taken off the thread first: userspace, which adds those of
 * the states it finds, may then miss them for a moment, never count
 * them twice.
 */
static void sample_flush(struct sample_state *ss)
{
	__u64 n = ss->unsampled, bytes = ss->unsampled_bytes;

	if (!n)
		return;
	ss->unsampled = 0;
	ss->unsampled_bytes = 0;
	stat_add(STAT_UNSAMPLED, n);
	stat_add(STAT_UNSAMPLED_BYTES, bytes);
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

#endif /* MEMLENS_SAMPLING_BPF_H */
