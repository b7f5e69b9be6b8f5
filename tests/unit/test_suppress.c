// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Leak suppressions: LSan's template match, the file's syntax, groups made suppressed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suppress.h"
#include "unit.h"

static void test_match(void)
{
	CHECK(suppression_match("leak_here", "my_leak_here_too"));
	CHECK(!suppression_match("^leak_here", "my_leak_here"));
	CHECK(suppression_match("^leak_here", "leak_here_too"));
	CHECK(suppression_match("leak_here$", "my_leak_here"));
	CHECK(!suppression_match("leak_here$", "leak_here_too"));
	CHECK(suppression_match("^std::*::pool$", "std::anon::pool"));
	CHECK(!suppression_match("^std::*::pool$", "std::anon::pool2"));
	CHECK(suppression_match("libfoo*.so", "/usr/lib/libfoo-1.2.so.3"));
	CHECK(suppression_match("^a*$", "abc"));
	CHECK(!suppression_match("x", NULL));
	CHECK(!suppression_match("x", ""));
}

static void test_file(void)
{
	char path[] = "/tmp/memlens-supp.XXXXXX";
	struct suppressions s = {};
	int fd = mkstemp(path);
	const char good[] = "# a comment\n\n  leak:graph_list  \nleak:^libfoo.so$\r\n";
	const char bad[] = "leak:x\nrace:y\n";

	CHECK(fd >= 0 && write(fd, good, sizeof(good) - 1) == sizeof(good) - 1);
	CHECK(suppressions_load(&s, path, "unit") == 0);
	CHECK_U64(s.nr, 2);
	if (s.nr == 2) {
		CHECK_STR(s.pat[0], "graph_list");
		CHECK_STR(s.pat[1], "^libfoo.so$");
	}
	CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, bad, sizeof(bad) - 1, 0) == sizeof(bad) - 1);
	fprintf(stderr, "(an error line expected:) ");
	CHECK(suppressions_load(&s, path, "unit") == -EINVAL);
	close(fd);
	unlink(path);
	suppressions_free(&s);
}

static const struct sym_stack *one_stack(void *ctx, uint64_t id)
{
	static struct frame_info frames[2] = {
		{ .symbol = "graph_alloc", .module = "/bin/graphs" },
		{ .symbol = "graph_list", .module = "/bin/graphs" },
	};
	static struct sym_stack st = { .nr = 2, .frames = frames };

	(void)ctx;
	return id == 1 ? &st : NULL;
}

/* Only the lost blocks of a matching stack move; still reachable ones stay. */
static void test_apply(void)
{
	struct suppressions s = {};
	struct stack_group g[2] = { { .stack_id = 1 }, { .stack_id = 2 } };
	struct stack_report r = { .groups = g, .nr_groups = 2, .stack = one_stack };

	g[0].reach_count[REACH_DEFINITE] = 1;
	g[0].reach_bytes[REACH_DEFINITE] = 48;
	g[0].reach_count[REACH_INDIRECT] = 2;
	g[0].reach_bytes[REACH_INDIRECT] = 64;
	g[0].reach_count[REACH_REACHABLE] = 1;
	g[0].reach_bytes[REACH_REACHABLE] = 8;
	g[1].reach_count[REACH_DEFINITE] = 1;
	g[1].reach_bytes[REACH_DEFINITE] = 16;
	CHECK(suppressions_add_defaults(&s) == 0);
	suppressions_apply(&s, &r);
	CHECK_U64(g[0].reach_count[REACH_SUPPRESSED], 0);	/* no default matches */
	s.pat[0][0] = '\0';
	free(s.pat[0]);
	s.pat[0] = strdup("^graph_list$");
	suppressions_apply(&s, &r);
	CHECK_U64(g[0].reach_count[REACH_SUPPRESSED], 3);
	CHECK_U64(g[0].reach_bytes[REACH_SUPPRESSED], 112);
	CHECK_U64(g[0].reach_count[REACH_DEFINITE] + g[0].reach_count[REACH_INDIRECT], 0);
	CHECK_U64(g[0].reach_bytes[REACH_REACHABLE], 8);
	CHECK_U64(g[1].reach_bytes[REACH_DEFINITE], 16);
	suppressions_free(&s);
}

/* The default list names glibc's own functions, not a program's that contain the same letters. */
static void test_defaults_anchored(void)
{
	struct frame_info user[2] = {
		{ .symbol = "parse_nl_msg", .module = "/bin/app" },
		{ .symbol = "my__nss_cache_fill", .module = "/bin/app" },
	};
	struct frame_info libc[2] = {
		{ .symbol = "_nl_load_locale_from_archive", .module = "/lib/libc.so.6" },
		{ .symbol = "setlocale", .module = "/lib/libc.so.6" },
	};
	struct sym_stack app = { .nr = 2, .frames = user }, locale = { .nr = 2, .frames = libc };
	struct suppressions s = {};

	CHECK(suppressions_add_defaults(&s) == 0);
	CHECK(!suppressions_match(&s, &app));
	CHECK(suppressions_match(&s, &locale));
	suppressions_free(&s);
}

void test_suppress(void)
{
	test_match();
	test_file();
	test_apply();
	test_defaults_anchored();
}
