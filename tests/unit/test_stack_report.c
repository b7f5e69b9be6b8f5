// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "output.h"
#include "stack_report.h"
#include "unit.h"

#define SEC 1000000000ULL

static void test_grouping(void)
{
	struct alloc_rec recs[] = {
		{ .stack_id = 7, .size = 100, .ts_ns = 5 * SEC },
		{ .stack_id = 3, .size = 4096, .ts_ns = 9 * SEC },
		{ .stack_id = 7, .size = 100, .ts_ns = 2 * SEC },
		{ .stack_id = 9, .size = 200, .ts_ns = 8 * SEC },
		{ .stack_id = 3, .size = 4096, .ts_ns = 1 * SEC },
		{ .stack_id = 0, .size = 200, .ts_ns = 1 * SEC },	/* stack lost */
	};
	struct stack_group *g;
	size_t n;

	CHECK(group_by_stack(recs, 6, 10 * SEC, 0, &g, &n) == 0);
	CHECK_U64(n, 4);
	/* By bytes; equal bytes by count, then by stack id. */
	CHECK_U64(g[0].stack_id, 3);
	CHECK_U64(g[0].count, 2);
	CHECK_U64(g[0].bytes, 8192);
	CHECK_U64(g[0].oldest_ts_ns, 1 * SEC);
	CHECK_U64(g[1].stack_id, 7);		/* 200 bytes in 2 */
	CHECK_U64(g[1].count, 2);
	CHECK_U64(g[1].oldest_ts_ns, 2 * SEC);
	CHECK_U64(g[2].stack_id, 0);		/* 200 bytes in 1, lower id */
	CHECK_U64(g[3].stack_id, 9);
	free(g);

	/* --min-age 3s at t=10s: only what was allocated at t <= 7s counts. */
	CHECK(group_by_stack(recs, 6, 10 * SEC, 3 * SEC, &g, &n) == 0);
	CHECK_U64(n, 3);
	CHECK_U64(g[0].stack_id, 3);
	CHECK_U64(g[0].count, 1);
	CHECK_U64(g[0].bytes, 4096);
	CHECK_U64(g[1].stack_id, 7);
	CHECK_U64(g[1].bytes, 200);
	CHECK_U64(g[2].stack_id, 0);
	free(g);

	CHECK(group_by_stack(recs, 0, 10 * SEC, 0, &g, &n) == 0);
	CHECK(n == 0 && g == NULL);
}

static struct frame_info frames[] = {
	{ .addr = 0x401136, .module = "/bin/app", .symbol = "leak_here", .sym_offset = 0x16,
	  .file = "app.c", .line = 12 },
	/* No symbol: the offset is where in the module. */
	{ .addr = 0x7f0000001000, .module = "/lib/libc.so.6", .sym_offset = 0x29d90 },
	{ .addr = 0x10 },
};
static const struct sym_stack stack_a = { .nr = 3, .frames = frames };

static const struct sym_stack *fake_stack(void *ctx, uint64_t id)
{
	(void)ctx;
	return id == 0xabc ? &stack_a : NULL;
}

static char *render(const struct stack_report *r, bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (json)
		report_print_json(f, r);
	else
		report_print_text(f, r);
	fclose(f);
	return buf;
}

static void test_render(void)
{
	struct stack_group groups[] = {
		{ .stack_id = 0xabc, .count = 7, .bytes = 28672, .oldest_ts_ns = 8 * SEC },
		{ .stack_id = 0x5, .count = 1, .bytes = 10, .oldest_ts_ns = 9 * SEC },
	};
	struct stack_report r = {
		.wall_time = 1795000000, .pid = 42, .comm = "app \"x\"", .now_ns = 10 * SEC, .exited = true,
		.exit_code = 3 << 8, .top = 1, .total_count = 8, .total_bytes = 28682,
		.groups = groups, .nr_groups = 2, .stack = fake_stack, .threads_tracked = 2,
	};
	char *out;

	r.stats[STAT_ALLOCS] = 9;
	r.stats[STAT_ALLOCS_FULL] = 4;
	out = render(&r, true);
	CHECK_STR(out,
		"{\"time\":\"2026-11-18T11:06:40Z\",\"pid\":42,\"comm\":\"app \\\"x\\\"\",\"exited\":true,\"exit_status\":3,"
		"\"profile\":\"outstanding\",\"outstanding_bytes\":28682,\"outstanding_allocations\":8,"
		"\"estimated\":false,\"stacks_total\":2,"
		"\"stacks\":[{\"stack_id\":\"0000000000000abc\",\"bytes\":28672,\"allocations\":7,"
		"\"oldest_age_s\":2.000,\"frames\":["
		"{\"addr\":\"0x401136\",\"symbol\":\"leak_here\",\"offset\":22,\"module\":\"/bin/app\",\"file\":\"app.c\",\"line\":12},"
		"{\"addr\":\"0x7f0000001000\",\"symbol\":null,\"offset\":171408,\"module\":\"/lib/libc.so.6\",\"file\":null,\"line\":0},"
		"{\"addr\":\"0x10\",\"symbol\":null,\"offset\":0,\"module\":null,\"file\":null,\"line\":0}]}],"
		"\"stats\":{\"allocs\":9,\"alloc_bytes\":0,\"frees\":0,\"free_bytes\":0,\"free_unknown\":0,"
		"\"alloc_failed\":0,\"replaced\":0,\"allocs_map_full\":4,\"stacks_map_full\":0,"
		"\"stack_failed\":0,\"stack_collision\":0,\"threads_map_full\":0,\"missed_return\":0,"
		"\"events_lost\":0,\"procs_map_full\":0,\"hists_map_full\":0,\"errors_map_full\":0,"
		"\"events\":0,\"unwind_unknown_pc\":0,\"unwind_no_row\":0,\"unwind_failed\":0,"
		"\"unwind_tables_too_big\":0,\"unwind_mappings_dropped\":0,"
		"\"sampled\":0,\"unsampled\":0,\"unsampled_bytes\":0,\"free_untracked\":0,"
		"\"stack_not_code\":0,\"stacks_reclaimed\":0,\"files_given_up\":0,"
		"\"stack_reclaimed_early\":0,\"new_unfollowed\":0,\"children_untraced\":0,"
		"\"threads_tracked\":2}}\n");
	free(out);

	r.top = 0;
	r.exit_code = 9;	/* killed by SIGKILL */
	out = render(&r, false);
	CHECK_STR(out,
		"== 11:06:40 UTC pid 42 (app \"x\"): 28682 bytes in 8 allocations outstanding (leaked at exit), 2 stacks ==\n"
		"28672 bytes in 7 allocations, oldest 2.0s ago, stack 0000000000000abc\n"
		"\t#0  0x0000000000401136 leak_here+0x16 (/bin/app) app.c:12\n"
		"\t#1  0x00007f0000001000 [unknown] (/lib/libc.so.6+0x29d90)\n"
		"\t#2  0x0000000000000010 [unknown]\n"
		"10 bytes in 1 allocations, oldest 1.0s ago, stack 0000000000000005\n"
		"\t[stack not captured: see stack_* stats]\n"
		"process exited on signal 9\n"
		"stats: allocs=9 alloc_bytes=0 frees=0 free_bytes=0 free_unknown=0 alloc_failed=0 "
		"replaced=0 allocs_map_full=4 stacks_map_full=0 stack_failed=0 stack_collision=0 "
		"threads_map_full=0 missed_return=0 events_lost=0 procs_map_full=0 hists_map_full=0 "
		"errors_map_full=0 events=0 unwind_unknown_pc=0 unwind_no_row=0 unwind_failed=0 "
		"unwind_tables_too_big=0 unwind_mappings_dropped=0 "
		"sampled=0 unsampled=0 unsampled_bytes=0 free_untracked=0 stack_not_code=0 "
		"stacks_reclaimed=0 files_given_up=0 stack_reclaimed_early=0 new_unfollowed=0 children_untraced=0 threads_tracked=2\n"
		"LOST: 4 allocations not tracked: outstanding map full (raise --max-allocs)\n");
	free(out);
}

/* --sample-bytes: estimates say so, with their samples and what sampling saved. */
static void test_render_sampled(void)
{
	struct stack_group groups[] = {
		{ .stack_id = 0xabc, .count = 14, .bytes = 6944, .oldest_ts_ns = 8 * SEC, .samples = 3 },
	};
	struct stack_report r = {
		.wall_time = 1795000000, .pid = 42, .comm = "app", .now_ns = 10 * SEC,
		.total_count = 14, .total_bytes = 6944, .groups = groups, .nr_groups = 1,
		.stack = fake_stack, .sample_bytes = 2048, .total_samples = 3,
	};
	char *out;

	r.stats[STAT_SAMPLED] = 25;
	r.stats[STAT_UNSAMPLED] = 75;
	out = render(&r, false);
	CHECK(strstr(out, "== 11:06:40 UTC pid 42 (app): 6944 bytes in 14 allocations outstanding, "
		      "estimated from 3 samples, 1 stacks ==\n"
		      "6944 bytes in 14 allocations (estimated from 3 samples), oldest 2.0s ago, "
		      "stack 0000000000000abc\n") == out);
	CHECK(strstr(out, "\nsampling: 25 of 100 allocator calls tracked (25.0%), one sample every "
		      "2048 bytes on average; counts and bytes are estimates, a sample of S bytes "
		      "standing for 1/(1-exp(-S/2048)) allocations\n"));
	free(out);
	out = render(&r, true);
	CHECK(strstr(out, "\"outstanding_bytes\":6944,\"outstanding_allocations\":14,"
		      "\"estimated\":true,\"sample_bytes\":2048,\"samples\":3,\"stacks_total\":1,"
		      "\"stacks\":[{\"stack_id\":\"0000000000000abc\",\"bytes\":6944,"
		      "\"allocations\":14,\"samples\":3,\"oldest_age_s\":2.000,"));
	free(out);
}

/* An allocation profile (Go): allocated, not outstanding, no ages. */
static void test_render_allocated(void)
{
	struct stack_group groups[] = {
		{ .stack_id = 0xabc, .count = 100, .bytes = 51200, .samples = 100 },
	};
	struct stack_report r = {
		.wall_time = 1795000000, .pid = 42, .comm = "goapp", .now_ns = 10 * SEC,
		.total_count = 100, .total_bytes = 51200, .groups = groups, .nr_groups = 1,
		.stack = fake_stack, .kind = REPORT_ALLOCATED, .exited = true,
	};
	char *out;

	out = render(&r, false);
	CHECK(strstr(out, "== 11:06:40 UTC pid 42 (goapp): 51200 bytes in 100 allocations made "
		      "while traced (Go heap allocation profile, at exit), 1 stacks ==\n"
		      "51200 bytes in 100 allocations, stack 0000000000000abc\n") == out);
	free(out);
	out = render(&r, true);
	CHECK(strstr(out, "\"profile\":\"allocated\",\"allocated_bytes\":51200,"
		      "\"allocated_allocations\":100,\"estimated\":false,\"stacks_total\":1,"
		      "\"stacks\":[{\"stack_id\":\"0000000000000abc\",\"bytes\":51200,"
		      "\"allocations\":100,\"frames\":["));
	free(out);
}

static void test_json_string(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_print_string(f, "a\"b\\c\nd\te\x01");
	fclose(f);
	CHECK_STR(buf, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
	free(buf);
}

void test_stack_report(void)
{
	test_grouping();
	test_render();
	test_render_sampled();
	test_render_allocated();
	test_json_string();
}
