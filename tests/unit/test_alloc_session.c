// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The leaks session without BPF: a synthetic read of the allocs map
 * through the target filter, the exec's old-image cut, and the grouping
 * of the outstanding-blocks source into a report with its totals.
 */
#include <stdlib.h>
#include "alloc_session.h"
#include "unit.h"

#define SEC 1000000000ULL
#define R 4096		/* --sample-bytes */

/* The allocs map as a batched read returns it: two processes, every kind of block. */
static const struct alloc_key map_keys[] = {
	{ .tgid = 100, .addr = 0x1000 },
	{ .tgid = 200, .addr = 0x2000 },	/* another process: not ours */
	{ .tgid = 100, .addr = 0x3000 },
	{ .tgid = 100, .addr = 0x4000 },
	{ .tgid = 100, .addr = 0x5000 },
	{ .tgid = 100, .addr = 0x6000 },
};
static const struct alloc_info map_vals[] = {
	{ .size = 1000, .ts_ns = 2 * SEC, .stack_id = 7, .kind = KIND_MALLOC },
	{ .size = 5000, .ts_ns = 1 * SEC, .stack_id = 7, .kind = KIND_MALLOC },
	/* A mapping: tracked exactly, never sampled. */
	{ .size = 8192, .ts_ns = 3 * SEC, .stack_id = 9, .kind = KIND_MMAP },
	/* Taken unsampled (no sampler for its thread): exact too. */
	{ .size = 500, .ts_ns = 1 * SEC, .stack_id = 7, .kind = KIND_MALLOC,
	  .flags = ALLOC_F_UNSAMPLED },
	{ .size = 100, .ts_ns = 9 * SEC + SEC / 2, .stack_id = 11, .kind = KIND_MALLOC },
	/* Allocated before the exec at 1s: the old image's. */
	{ .size = 64, .ts_ns = SEC / 2, .stack_id = 5, .kind = KIND_CALLOC },
};
#define MAP_NR (sizeof(map_keys) / sizeof(map_keys[0]))

/* Read the map into SNAP, but for the entry at address SKIP (deleted), if any. */
static size_t read_map(struct alloc_snapshot *snap, uint64_t skip)
{
	size_t n = 0;

	for (size_t i = 0; i < MAP_NR; i++) {
		if (map_keys[i].addr == skip)
			continue;
		snap->keys[n] = map_keys[i];
		snap->vals[n++] = map_vals[i];
	}
	return n;
}

static void test_keep_and_old_image(struct alloc_snapshot *snap)
{
	snapshot_keep(snap, read_map(snap, 0), 100, R);
	CHECK_U64(snap->nr, 5);
	CHECK_U64(snap->recs[0].addr, 0x1000);
	CHECK_U64(snap->keys[1].addr, 0x3000);
	CHECK_U64(snap->recs[1].addr, 0x3000);
	CHECK_U64(snap->recs[0].sample_bytes, R);
	CHECK_U64(snap->recs[1].sample_bytes, 0);	/* mmap */
	CHECK_U64(snap->recs[2].sample_bytes, 0);	/* unsampled */
	CHECK_U64(snap->recs[3].sample_bytes, R);
	CHECK_U64(snap->recs[4].size, 64);
	CHECK_U64(snap->recs[4].stack_id, 5);
	CHECK_U64(snap->recs[4].ts_ns, SEC / 2);

	/* Exec at 1s: only what is older goes; a block of that very time stays. */
	CHECK_U64(snapshot_old_image(snap, 1 * SEC), 1);
	CHECK_U64(snap->keys[0].addr, 0x6000);
	CHECK_U64(snap->recs[0].addr, 0x6000);
	CHECK_U64(snap->nr, 1);
	CHECK_U64(snapshot_old_image(snap, 0), 0);

	/* Exact: no sampling, every block weighs one. */
	snapshot_keep(snap, read_map(snap, 0), 100, 0);
	CHECK_U64(snap->recs[0].sample_bytes, 0);
	CHECK_U64(snap->recs[3].sample_bytes, 0);
}

/* The report of S at 10s with --min-age MIN_AGE_S (in SHOW), the old image deleted. */
static void group_at(struct alloc_session *s, struct report_opts *show, struct stack_report *r,
		     double min_age_s)
{
	show->min_age_s = min_age_s;
	snapshot_keep(&s->snap, read_map(&s->snap, 0x6000), 100, R);
	*r = (struct stack_report){ .kind = s->source->kind, .now_ns = 10 * SEC };
	CHECK(alloc_session_group(s, r) == 0);
}

static void test_grouping(struct alloc_session *s, struct report_opts *show)
{
	struct stack_report r;

	/* --min-age 1s at 10s: the block of 9.5s is too young. */
	group_at(s, show, &r, 1);
	CHECK(r.kind == REPORT_OUTSTANDING);
	CHECK_U64(r.nr_groups, 2);
	CHECK_U64(r.groups[0].stack_id, 9);
	CHECK_U64(r.groups[0].count, 1);
	CHECK_U64(r.groups[0].bytes, 8192);
	CHECK_U64(r.groups[0].samples, 0);
	CHECK_U64(r.groups[0].oldest_ts_ns, 3 * SEC);
	/*
	 * 500 bytes exact, and a sample of 1000 bytes every 4096 on average:
	 * 1 / (1 - e^(-1000/4096)) = 4.616 blocks, 4616 bytes.
	 */
	CHECK_U64(r.groups[1].stack_id, 7);
	CHECK_U64(r.groups[1].count, 1 + 5);
	CHECK_U64(r.groups[1].bytes, 500 + 4616);
	CHECK_U64(r.groups[1].samples, 1);
	CHECK_U64(r.groups[1].oldest_ts_ns, 1 * SEC);
	CHECK_U64(r.total_count, 7);
	CHECK_U64(r.total_bytes, 8192 + 5116);
	CHECK_U64(r.total_samples, 1);
	free(r.groups);

	/* No --min-age: the young block too, 100 bytes weighing 41.46 blocks. */
	group_at(s, show, &r, 0);
	CHECK_U64(r.nr_groups, 3);
	CHECK_U64(r.groups[0].stack_id, 9);
	CHECK_U64(r.groups[1].stack_id, 7);
	CHECK_U64(r.groups[2].stack_id, 11);
	CHECK_U64(r.groups[2].count, 41);
	CHECK_U64(r.groups[2].bytes, 4146);
	CHECK_U64(r.groups[2].oldest_ts_ns, 9 * SEC + SEC / 2);
	CHECK_U64(r.total_count, 1 + 6 + 41);
	CHECK_U64(r.total_bytes, 8192 + 5116 + 4146);
	CHECK_U64(r.total_samples, 2);
	free(r.groups);

	/* Nothing outstanding: no groups, zero totals. */
	s->snap.nr = 0;
	r = (struct stack_report){ .now_ns = 10 * SEC };
	CHECK(alloc_session_group(s, &r) == 0);
	CHECK_U64(r.nr_groups, 0);
	CHECK_U64(r.total_bytes, 0);
	free(r.groups);
}

/* The table of recent blocks as userspace reads it and drops from it. */
static void test_table(void)
{
	struct alloc_snapshot snap = { .buckets = 4 };
	struct alloc_bucket *a, *b;
	size_t n;

	snap.table = calloc(snap.buckets, sizeof(*snap.table));
	CHECK(snap.table && snapshot_resize(&snap, 8) == 0);
	if (!snap.table || !snap.keys)
		goto out;
	a = &snap.table[alloc_bucket_index(0x1000, 3)];
	b = &snap.table[alloc_bucket_index(0x5000, 3)];
	CHECK(a != b);
	a->way[0] = (struct alloc_way){ .addr = 0x1000, .info = { .size = 10, .ts_ns = 5 } };
	/* A return program still writing its info: not read. */
	a->way[1] = (struct alloc_way){ .addr = 0x3000 | ALLOC_WAY_BUSY, .info = { .size = 99 } };
	/* Claimed five times: the generation in the top byte is no part of the address. */
	b->way[1] = (struct alloc_way){ .addr = 5 * ALLOC_WAY_GEN_ONE | 0x5000,
					.info = { .size = 70, .ts_ns = 7 } };
	snap.keys[0] = (struct alloc_key){ .tgid = 100, .addr = 0x9000 };	/* from the map */
	n = table_read(&snap, 1, 100);
	CHECK(n == 3);
	CHECK(snap.keys[0].pad == 0);
	for (size_t i = 1; i < n; i++) {
		CHECK(snap.keys[i].tgid == 100 && snap.keys[i].pad == ALLOC_KEY_IN_TABLE);
		CHECK(snap.vals[i].size == (snap.keys[i].addr == 0x1000 ? 10 : 70));
		CHECK(snap.keys[i].addr == 0x1000 || snap.keys[i].addr == 0x5000);
	}
	/* Held by another block since it was read (another time): left alone. */
	table_drop(&snap, 0x1000, 6);
	CHECK(a->way[0].addr == 0x1000);
	table_drop(&snap, 0x1000, 5);
	CHECK(a->way[0].addr == 0);
	table_drop(&snap, 0x5000, 7);
	CHECK(b->way[1].addr == 5 * ALLOC_WAY_GEN_ONE && table_read(&snap, 0, 100) == 0);
out:
	free(snap.table);
	snap.table = NULL;
	snapshot_free(&snap);
}

void test_alloc_session(void)
{
	struct report_opts show = {};
	struct session_opts opts = { .show = &show, .sample_bytes = R,
				     .source = &outstanding_blocks };
	struct alloc_session s = { .opts = &opts, .source = opts.source };

	CHECK(outstanding_blocks.kind == REPORT_OUTSTANDING && outstanding_blocks.unwind_tables);
	CHECK(go_alloc_profile.kind == REPORT_ALLOCATED && !go_alloc_profile.unwind_tables);
	CHECK(snapshot_resize(&s.snap, MAP_NR) == 0);
	test_keep_and_old_image(&s.snap);
	test_table();
	test_grouping(&s, &show);
	snapshot_free(&s.snap);
}
