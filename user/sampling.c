// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The userspace half of byte-weighted Poisson sampling: the table the BPF
 * side draws intervals from (it has no floating point), and the weights
 * that scale the tracked allocations back to estimates.
 */
#include <math.h>
#include "sampling.h"

void sample_fill_quantiles(__u32 table[SAMPLE_TABLE_SIZE])
{
	for (int i = 0; i < SAMPLE_TABLE_SIZE; i++) {
		/* Midpoints of SAMPLE_TABLE_SIZE equally likely slices of (0, 1). */
		double u = (i + 0.5) / SAMPLE_TABLE_SIZE;

		table[i] = lround(-log1p(-u) * (1 << SAMPLE_FIX_SHIFT));
	}
}

double sample_weight(uint64_t size, uint64_t r)
{
	/* A block of 0 bytes is never sampled: one read from a file counts as itself. */
	if (!r || !size)
		return 1.0;
	/* -expm1(-x) is 1 - exp(-x) without the loss of precision for small x. */
	return 1.0 / -expm1(-(double)size / (double)r);
}

uint64_t sample_round(double estimate)
{
	if (!(estimate > 0))			/* NaN too */
		return 0;
	if (estimate < 0x1p63)
		return llround(estimate);
	return estimate < 0x1p64 ? (uint64_t)estimate : UINT64_MAX;
}
