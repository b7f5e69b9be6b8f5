// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <math.h>
#include <stdlib.h>
#include "stack_report.h"
#include "sampling.h"
#include "unit.h"

/* The table the BPF side draws intervals from: quantiles of Exp(1). */
static void test_quantiles(void)
{
	static __u32 q[SAMPLE_TABLE_SIZE];
	double sum = 0, one = 1 << SAMPLE_FIX_SHIFT;
	int increasing = 1;

	sample_fill_quantiles(q);
	for (int i = 0; i < SAMPLE_TABLE_SIZE; i++) {
		sum += q[i];
		if (i && q[i] <= q[i - 1])
			increasing = 0;
	}
	CHECK(increasing);
	/* -ln(1 - 0.5/4096) * 65536 = 8.0; -ln(0.5/4096) * 65536 = 590539. */
	CHECK_U64(q[0], 8);
	CHECK_U64(q[SAMPLE_TABLE_SIZE - 1], 590539);
	/* The median, ln 2. */
	CHECK(fabs(q[SAMPLE_TABLE_SIZE / 2] / one - log(2)) < 1e-3);
	/* Mean 1: midpoints miss (1 - ln 2) / 4096 of the last slice's mean. */
	CHECK(fabs(sum / SAMPLE_TABLE_SIZE / one - 1) < 2e-4);
	/* Below 2^20, so that times R <= 2^40 it fits in 64 bits. */
	CHECK(q[SAMPLE_TABLE_SIZE - 1] < (1u << 20));
	/* P(interval > 0.25) = exp(-0.25) = 0.7788, to the table's resolution. */
	{
		int above = 0;

		for (int i = 0; i < SAMPLE_TABLE_SIZE; i++)
			above += q[i] > 0.25 * one;
		CHECK(fabs((double)above / SAMPLE_TABLE_SIZE - exp(-0.25)) < 1.0 / SAMPLE_TABLE_SIZE);
	}
}

static void test_weights(void)
{
	CHECK(sample_weight(512, 0) == 1.0);
	/* 1 / (1 - exp(-512/2048)) */
	CHECK(fabs(sample_weight(512, 2048) - 4.520812) < 1e-6);
	/* Far larger than R: always sampled, stands for itself. */
	CHECK(sample_weight(1 << 20, 2048) == 1.0);
	/* Far smaller: about R/S. */
	CHECK(fabs(sample_weight(1, 1 << 20) - (1 << 20)) < 1);
	/* 0 bytes are never sampled: read from a file, it counts as itself. */
	CHECK(sample_weight(0, 2048) == 1.0);
}

/* Rounded to nearest, saturated: a recording's sizes can be anything. */
static void test_round(void)
{
	CHECK_U64(sample_round(2.5), 3);
	CHECK_U64(sample_round(2.49), 2);
	CHECK_U64(sample_round(-1), 0);
	CHECK_U64(sample_round(NAN), 0);
	CHECK_U64(sample_round(0x1p63), 1ULL << 63);
	CHECK_U64(sample_round(0x1p64), UINT64_MAX);
	CHECK_U64(sample_round(INFINITY), UINT64_MAX);
}

/* Sampled records are scaled back, exact ones (mappings) not. */
static void test_estimates(void)
{
	struct alloc_rec recs[] = {
		{ .stack_id = 5, .size = 512, .ts_ns = 3, .sample_bytes = 2048 },
		{ .stack_id = 5, .size = 512, .ts_ns = 1, .sample_bytes = 2048 },
		{ .stack_id = 8, .size = 65536, .ts_ns = 2 },
		{ .stack_id = 5, .size = 512, .ts_ns = 2, .sample_bytes = 2048 },
		{ .stack_id = 5, .size = 100, .ts_ns = 2 },
	};
	struct stack_group *g;
	size_t n;

	CHECK(group_by_stack(recs, 5, 10, 0, &g, &n) == 0);
	CHECK_U64(n, 2);
	CHECK_U64(g[0].stack_id, 8);
	CHECK_U64(g[0].count, 1);
	CHECK_U64(g[0].bytes, 65536);
	CHECK_U64(g[0].samples, 0);	/* exact: no sample */
	/* 3 x 4.520812 = 13.56 -> 14 and 3 x 512 x 4.520812 = 6943.97 -> 6944, plus 1 x 100 exact. */
	CHECK_U64(g[1].stack_id, 5);
	CHECK_U64(g[1].count, 15);
	CHECK_U64(g[1].bytes, 7044);
	CHECK_U64(g[1].samples, 3);
	CHECK_U64(g[1].oldest_ts_ns, 1);
	free(g);
}

void test_sampling(void)
{
	test_quantiles();
	test_weights();
	test_round();
	test_estimates();
}
