// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stacks cut at the first return address that is not code, on synthetic
 * mappings (no file behind them: no symbols, module offsets from the file
 * offset): which frames are kept, under which id a cut stack is reported,
 * and the counter; stacks no block refers to reclaimed. The stacks sit in
 * a BPF hash map as allocs.bpf.c keeps them. Needs root (creates a map),
 * as make check does.
 */
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "procmaps.h"
#include "stack_cache.h"
#include "symbolize.h"
#include "unit.h"
#include "util.h"

#define APP	0x400000ULL	/* /nonexistent/app r-xp, offset 0x1000 */
#define DATA	0x600000ULL	/* /nonexistent/app rw-p: the module, but not code */
#define JIT	0x7f0000000000ULL	/* anonymous r-xp: code without a file */
#define TEXT	0x3b031b01006b6165ULL	/* "eak" and bytes: what rbp pointed at */

static const char *const maps_text[] = {
	"00400000-00401000 r-xp 00001000 fd:00 42 /nonexistent/app\n",
	"00600000-00601000 rw-p 00002000 fd:00 42 /nonexistent/app\n",
	"7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n",
	"7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0 [vdso]\n",
};

static struct symbolizer *synthetic_symbolizer(void)
{
	struct symbolizer *s = symbolizer_new(getpid());
	struct vma_list maps = {};
	struct vma v;

	for (size_t i = 0; i < sizeof(maps_text) / sizeof(maps_text[0]); i++) {
		CHECK(vma_parse_line(maps_text[i], &v) == 0);
		maps.v = realloc(maps.v, (maps.nr + 1) * sizeof(v));
		maps.v[maps.nr++] = v;
	}
	CHECK(symbolizer_add_maps(s, &maps) == 0);
	vma_list_free(&maps);
	return s;
}

static size_t code_frames(struct symbolizer *s, const uint64_t *ips, size_t nr)
{
	return symbolizer_code_frames(s, ips, nr);
}

static void test_code_frames(void)
{
	struct symbolizer *s = synthetic_symbolizer();
	uint64_t all_code[] = { APP + 0x10, JIT + 0x20, APP + 0x30, 0x7ffff7fc1100 };
	uint64_t text[] = { APP + 0x10, APP + 0x20, TEXT, APP + 0x30 };
	uint64_t data[] = { APP + 0x10, DATA + 0x10, APP + 0x20 };
	uint64_t low[] = { APP + 0x10, 0x1001 };
	/* A return address follows a call: at a mapping's first byte it is not code; at its end it is. */
	uint64_t at_start[] = { APP + 0x10, APP };
	uint64_t at_end[] = { APP + 0x10, APP + 0x1000 };
	/* Frame #0 is where the stack was taken, not read from memory: kept. */
	uint64_t leaf_unknown[] = { TEXT, APP + 0x10, TEXT };

	CHECK_U64(code_frames(s, all_code, 4), 4);
	CHECK_U64(code_frames(s, text, 4), 2);
	CHECK_U64(code_frames(s, data, 3), 1);
	CHECK_U64(code_frames(s, low, 2), 1);
	CHECK_U64(code_frames(s, at_start, 2), 1);
	CHECK_U64(code_frames(s, at_end, 2), 2);
	CHECK_U64(code_frames(s, leaf_unknown, 3), 2);
	CHECK_U64(code_frames(s, all_code, 0), 0);
	CHECK(symbolizer_is_code(s, JIT + 1));
	CHECK(!symbolizer_is_code(s, DATA + 1));
	symbolizer_free(s);
}

/* FNV-1a, as hash_stack() in allocs.bpf.c names a stack. */
static uint64_t bpf_stack_id(const uint64_t *ips, size_t nr)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < nr; i++) {
		h ^= ips[i];
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static void put_stack(int fd, uint64_t id, const uint64_t *ips, size_t nr)
{
	struct stack_trace t = { .nr = nr };

	memcpy(t.ips, ips, nr * sizeof(ips[0]));
	CHECK(bpf_map_update_elem(fd, &id, &t, BPF_ANY) == 0);
}

/* A stack map as allocs.bpf.c's, small: its fd, or negative (a failed check). */
static int new_stack_map(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "test_stacks", sizeof(uint64_t),
				sizeof(struct stack_trace), 64, NULL);

	CHECK(fd >= 0);
	return fd;
}

static void test_report_ids(void)
{
	uint64_t a[] = { APP + 0x10, TEXT, DATA + 0x10, 0x1001 };
	uint64_t b[] = { APP + 0x10, DATA + 0x10, 0x1001 };
	uint64_t whole[] = { APP + 0x10, APP + 0x20, JIT + 0x20 };
	uint64_t walked_to_end[] = { APP + 0x40, APP + 0x50 };
	uint64_t cut_to_it[] = { APP + 0x40, APP + 0x50, 0x1001 };
	uint64_t cut_one[] = { APP + 0x60, 0x1001 }, other[] = { APP + 0x70 };
	uint64_t top = bpf_stack_id(a, 1), end = bpf_stack_id(walked_to_end, 2);
	uint64_t clash = bpf_stack_id(cut_one, 1);
	struct symbolizer *s = synthetic_symbolizer();
	const struct sym_stack *st;
	struct stack_cache *c;
	struct stack_group *g;
	size_t n;
	int fd;

	fd = new_stack_map();
	if (fd < 0)
		return;
	put_stack(fd, 11, a, 4);
	put_stack(fd, 12, b, 3);
	put_stack(fd, 13, whole, 3);
	put_stack(fd, end, walked_to_end, 2);
	put_stack(fd, 15, cut_to_it, 3);
	put_stack(fd, 16, cut_one, 2);
	put_stack(fd, clash, other, 1);	/* another stack where cut_one's would go */
	c = stack_cache_new(fd, s);

	/* Two walks through data from one call site: one stack, under the id of what is kept. */
	CHECK_U64(stack_cache_report_id(c, 11), top);
	CHECK_U64(stack_cache_report_id(c, 12), top);
	st = stack_cache_get(c, top);
	CHECK(st && st->nr == 1);
	if (st && st->nr == 1) {
		CHECK_U64(st->frames[0].addr, APP + 0x10);
		CHECK_STR(st->frames[0].module, "/nonexistent/app");
		/* No symbol: where in the file (offset 0x1000 + 0x10). */
		CHECK(st->frames[0].symbol == NULL);
		CHECK_U64(st->frames[0].sym_offset, 0x1010);
	}
	st = stack_cache_get(c, 11);
	CHECK(st && st->nr == 1);
	CHECK_U64(stack_cache_not_code(c), 2);

	/* All code, JIT included: as it is. */
	CHECK_U64(stack_cache_report_id(c, 13), 13);
	st = stack_cache_get(c, 13);
	CHECK(st && st->nr == 3);
	CHECK(st && st->nr == 3 && st->frames[2].module == NULL);

	/* Cut to a stack a walk ended at by itself: the same one. */
	CHECK_U64(stack_cache_report_id(c, 15), end);
	CHECK_U64(stack_cache_report_id(c, end), end);
	st = stack_cache_get(c, end);
	CHECK(st && st->nr == 2);

	/* Under the id of what is kept, another stack: kept apart, under its own. */
	CHECK_U64(stack_cache_report_id(c, 16), 16);
	st = stack_cache_get(c, clash);
	CHECK(st && st->nr == 1 && st->frames[0].addr == APP + 0x70);
	CHECK_U64(stack_cache_not_code(c), 4);
	/* Read once: asking again counts nothing. */
	stack_cache_report_id(c, 11);
	CHECK_U64(stack_cache_not_code(c), 4);

	/* Grouped by report id: the blocks of 11 and 12 are one group, exactly. */
	struct alloc_rec recs[] = {
		{ .stack_id = 11, .size = 1000, .ts_ns = 5 },
		{ .stack_id = 12, .size = 1000, .ts_ns = 3 },
		{ .stack_id = 13, .size = 24, .ts_ns = 4 },
		{ .stack_id = 11, .size = 1000, .ts_ns = 6 },
		{ .stack_id = 0, .size = 7, .ts_ns = 6 },	/* stack lost: stays 0 */
	};
	for (size_t i = 0; i < 5; i++)
		recs[i].stack_id = stack_cache_report_id(c, recs[i].stack_id);
	CHECK(group_by_stack(recs, 5, 10, 0, &g, &n) == 0);
	CHECK_U64(n, 3);
	if (n == 3) {
		CHECK_U64(g[0].stack_id, top);
		CHECK_U64(g[0].count, 3);
		CHECK_U64(g[0].bytes, 3000);
		CHECK_U64(g[0].oldest_ts_ns, 3);
		CHECK_U64(g[1].stack_id, 13);
		CHECK_U64(g[2].stack_id, 0);
	}
	free(g);
	stack_cache_free(c);
	symbolizer_free(s);
	close(fd);
}

static bool in_map(int fd, uint64_t id)
{
	struct stack_trace t;

	return bpf_map_lookup_elem(fd, &id, &t) == 0;
}

/*
 * A snapshot with blocks of the stacks IDS (0: a block without a stack),
 * read AFTER_NS after now: a round if 100 ms after the last.
 */
static void snapshot(struct stack_cache *c, const uint64_t *ids, size_t nr, uint64_t after_ns)
{
	struct alloc_info blocks[8] = {};

	for (size_t i = 0; i < nr; i++)
		blocks[i].stack_id = ids[i];
	CHECK(stack_cache_reclaim(c, blocks, nr, monotonic_ns() + after_ns) == 0);
}

static void reclaim_round(struct stack_cache *c, const uint64_t *ids, size_t nr)
{
	snapshot(c, ids, nr, 200 * 1000 * 1000);
}

/*
 * Stacks no block refers to in two snapshots in a row leave the map; one
 * a block came to refer to as it was taken out goes back, as it was.
 */
static void test_reclaim(void)
{
	uint64_t s21[] = { APP + 0x100, APP + 0x110 }, s22[] = { APP + 0x200 };
	uint64_t s23[] = { APP + 0x300, APP + 0x310, JIT + 0x20 };
	uint64_t s24[] = { APP + 0x400, TEXT };	/* cut: reported under another id */
	uint64_t r1[] = { 21, 24, 0 }, r2[] = { 21, 22 }, r3[] = { 21, 23 };
	struct symbolizer *s = synthetic_symbolizer();
	const struct sym_stack *st;
	struct stack_cache *c;
	int fd;

	fd = new_stack_map();
	if (fd < 0)
		return;
	put_stack(fd, 21, s21, 2);
	put_stack(fd, 22, s22, 1);
	put_stack(fd, 23, s23, 3);
	put_stack(fd, 24, s24, 2);
	c = stack_cache_new(fd, s);

	/* 22 and 23 unused once: idle, kept. */
	reclaim_round(c, r1, 3);
	for (size_t i = 0; i < 3; i++)
		stack_cache_report_id(c, r1[i]);
	CHECK_U64(stack_cache_reclaimed(c), 0);
	CHECK(in_map(fd, 22) && in_map(fd, 23));

	/* A snapshot right after (a report catching up): no round, nothing goes. */
	snapshot(c, r2, 2, 0);
	CHECK_U64(stack_cache_reclaimed(c), 0);
	CHECK(in_map(fd, 23));

	/* 23 unused twice: out. 22 is used again; 24, cut or not, is idle. */
	reclaim_round(c, r2, 2);
	CHECK_U64(stack_cache_reclaimed(c), 1);
	CHECK(!in_map(fd, 23));
	CHECK(in_map(fd, 21) && in_map(fd, 22) && in_map(fd, 24));

	/*
	 * A block stored with 23 as it went: 23 is back, its frames as they
	 * were, in a snapshot right after too; then 24 goes.
	 */
	snapshot(c, r3, 2, 0);
	CHECK_U64(stack_cache_restored(c), 1);
	CHECK_U64(stack_cache_reclaimed(c), 0);
	reclaim_round(c, r3, 2);
	CHECK_U64(stack_cache_restored(c), 1);
	CHECK(in_map(fd, 23));
	CHECK_U64(stack_cache_report_id(c, 23), 23);
	st = stack_cache_get(c, 23);
	CHECK(st && st->nr == 3 && st->frames[1].addr == APP + 0x310);
	CHECK_U64(stack_cache_reclaimed(c), 1);
	CHECK(!in_map(fd, 24));
	reclaim_round(c, r3, 2);
	CHECK_U64(stack_cache_reclaimed(c), 2);
	CHECK(!in_map(fd, 22) && in_map(fd, 21) && in_map(fd, 23));
	/* The BPF side stores 24 again: read anew (and counted anew, if cut). */
	put_stack(fd, 24, s24, 2);
	CHECK_U64(stack_cache_report_id(c, 24), bpf_stack_id(s24, 1));
	CHECK_U64(stack_cache_not_code(c), 2);
	stack_cache_free(c);
	symbolizer_free(s);
	close(fd);
}

/*
 * A stack cut to frames the map also holds, under their id (a walk that
 * ended there): no block refers to that id itself, yet the cut stack's
 * blocks are reported under it, round after round.
 */
static void test_reclaim_report_id(void)
{
	uint64_t cut[] = { APP + 0x500, TEXT }, kept[] = { APP + 0x500 };
	uint64_t kept_id = bpf_stack_id(kept, 1), r[] = { 41 };
	struct symbolizer *s = synthetic_symbolizer();
	const struct sym_stack *st;
	struct stack_cache *c;
	int fd;

	fd = new_stack_map();
	if (fd < 0)
		return;
	put_stack(fd, 41, cut, 2);
	put_stack(fd, kept_id, kept, 1);
	c = stack_cache_new(fd, s);
	for (int round = 0; round < 4; round++) {
		reclaim_round(c, r, 1);
		CHECK_U64(stack_cache_report_id(c, 41), kept_id);
		st = stack_cache_get(c, kept_id);
		CHECK(st && st->nr == 1 && st->frames[0].addr == APP + 0x500);
	}
	CHECK_U64(stack_cache_reclaimed(c), 0);
	CHECK(in_map(fd, kept_id) && in_map(fd, 41));
	/* Gone from the map and the cache all the same: made again from the cut stack. */
	r[0] = 0;
	reclaim_round(c, r, 1);
	reclaim_round(c, r, 1);
	reclaim_round(c, r, 1);
	CHECK(!in_map(fd, kept_id));
	put_stack(fd, 41, cut, 2);
	r[0] = 41;
	reclaim_round(c, r, 1);
	CHECK_U64(stack_cache_report_id(c, 41), kept_id);
	st = stack_cache_get(c, kept_id);
	CHECK(st && st->nr == 1 && st->frames[0].addr == APP + 0x500);
	stack_cache_free(c);
	symbolizer_free(s);
	close(fd);
}

/*
 * A block stored long after its stack (its task preempted or throttled):
 * the stack is still in limbo rounds later, and goes back. One stored
 * after limbo let its stack go is counted, once, and shows no stack.
 */
static void test_reclaim_late_block(void)
{
	uint64_t s31[] = { APP + 0x600 }, s32[] = { APP + 0x700 };
	uint64_t none[] = { 0 }, r31[] = { 31 }, r32[] = { 32 };
	struct symbolizer *s = synthetic_symbolizer();
	struct stack_cache *c;
	int fd;

	fd = new_stack_map();
	if (fd < 0)
		return;
	put_stack(fd, 31, s31, 1);
	c = stack_cache_new(fd, s);
	reclaim_round(c, none, 1);
	reclaim_round(c, none, 1);
	CHECK(!in_map(fd, 31));
	/* Three rounds later, within 5 s: back. */
	for (int i = 0; i < 3; i++)
		reclaim_round(c, none, 1);
	reclaim_round(c, r31, 1);
	CHECK_U64(stack_cache_restored(c), 1);
	CHECK_U64(stack_cache_reclaimed(c), 0);
	CHECK(in_map(fd, 31));
	CHECK_U64(stack_cache_report_id(c, 31), 31);
	CHECK(stack_cache_get(c, 31) != NULL);
	CHECK_U64(stack_cache_reclaimed_early(c), 0);

	/* Rounds 6 s apart: two after it went, 32 leaves limbo. */
	put_stack(fd, 32, s32, 1);
	reclaim_round(c, r31, 1);
	reclaim_round(c, r31, 1);
	CHECK(!in_map(fd, 32));
	snapshot(c, r31, 1, 6000ULL * 1000 * 1000);
	snapshot(c, r31, 1, 12000ULL * 1000 * 1000);
	snapshot(c, r31, 1, 18000ULL * 1000 * 1000);
	snapshot(c, r32, 1, 24000ULL * 1000 * 1000);
	CHECK(!in_map(fd, 32));
	CHECK_U64(stack_cache_restored(c), 1);
	CHECK_U64(stack_cache_report_id(c, 32), 32);
	CHECK(stack_cache_get(c, 32) == NULL);
	CHECK_U64(stack_cache_reclaimed_early(c), 1);
	reclaim_round(c, r32, 1);
	CHECK(stack_cache_get(c, 32) == NULL);
	CHECK_U64(stack_cache_reclaimed_early(c), 1);
	/* The BPF side stores it again: its frames, for every block. */
	put_stack(fd, 32, s32, 1);
	CHECK(stack_cache_get(c, 32) != NULL);
	CHECK_U64(stack_cache_reclaimed_early(c), 1);
	stack_cache_free(c);
	symbolizer_free(s);
	close(fd);
}

/* Groups made elsewhere (Go's), whose ids became one: added up. */
static void test_merge_groups(void)
{
	struct stack_group g[] = {
		{ .stack_id = 5, .count = 1, .bytes = 10, .oldest_ts_ns = 9, .samples = 1 },
		{ .stack_id = 7, .count = 2, .bytes = 200 },
		{ .stack_id = 5, .count = 3, .bytes = 30, .oldest_ts_ns = 4, .samples = 2 },
		{ .stack_id = 5, .count = 1, .bytes = 500, .oldest_ts_ns = 6 },
	};
	size_t n = 4;

	merge_groups(g, &n);
	CHECK_U64(n, 2);
	CHECK_U64(g[0].stack_id, 5);
	CHECK_U64(g[0].count, 5);
	CHECK_U64(g[0].bytes, 540);
	CHECK_U64(g[0].samples, 3);
	CHECK_U64(g[0].oldest_ts_ns, 4);
	CHECK_U64(g[1].stack_id, 7);
	CHECK_U64(g[1].bytes, 200);
}

void test_stack_cache(void)
{
	test_code_frames();
	test_report_ids();
	test_reclaim();
	test_reclaim_report_id();
	test_reclaim_late_block();
	test_merge_groups();
}
