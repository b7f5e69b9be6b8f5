/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Byte-weighted Poisson sampling (--sample-bytes): see bpf/sampling.bpf.h. */
#ifndef MEMLENS_SAMPLING_H
#define MEMLENS_SAMPLING_H

#include <stdint.h>
#include <linux/types.h>
#include "allocs.h"

/* TABLE[i] = -ln(1 - (i + 0.5) / SAMPLE_TABLE_SIZE), SAMPLE_FIX_SHIFT bits of fraction. */
void sample_fill_quantiles(__u32 table[SAMPLE_TABLE_SIZE]);
/*
 * How many allocations one tracked allocation of SIZE bytes stands for
 * when sampled every R bytes on average: 1 / (1 - exp(-SIZE/R)), the
 * inverse of its chance to be sampled. 1 when R is 0 (exact mode).
 */
double sample_weight(uint64_t size, uint64_t r);
/*
 * An estimate rounded to the nearest whole number, saturated: sizes read
 * from a recording may be anything, and llround() of what does not fit
 * is undefined.
 */
uint64_t sample_round(double estimate);

#endif
