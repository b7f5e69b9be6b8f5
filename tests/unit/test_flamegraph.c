// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>

#include "flamegraph.h"
#include "unit.h"

void test_flamegraph(void);

/* The SVG of STACKS in a malloc'ed string, *ERR the writer's return. */
static char *render(const char *title, const struct flame_stack *stacks, size_t nr, int *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		*err = -errno;
		return NULL;
	}
	*err = flamegraph_write_svg(f, title, "bytes", stacks, nr);
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; hay && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_merge(void)
{
	static const char *const s1[] = { "main", "a", "malloc" };
	static const char *const s2[] = { "main", "a", "calloc" };
	static const char *const s3[] = { "main", "b" };
	/* Out of order on purpose: the writer sorts. */
	const struct flame_stack stacks[] = {
		{ s3, 2, 25 }, { s1, 3, 100 }, { s2, 3, 50 },
	};
	int err;
	char *svg = render("Leaks", stacks, 3, &err);

	CHECK(err == 0);
	CHECK(svg && strstr(svg, "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\""));
	CHECK(svg && strstr(svg, ">Leaks \xe2\x80\x94 total 175 bytes</text>"));
	CHECK(svg && strstr(svg, "<title>all (175 bytes, 100.00%)</title>"));
	CHECK(svg && strstr(svg, "<title>main (175 bytes, 100.00%)</title>"));
	CHECK(svg && strstr(svg, "<title>a (150 bytes, 85.71%)</title>"));
	CHECK(svg && strstr(svg, "<title>b (25 bytes, 14.29%)</title>"));
	CHECK(svg && strstr(svg, "<title>calloc (50 bytes, 28.57%)</title>"));
	CHECK(svg && strstr(svg, "<title>malloc (100 bytes, 57.14%)</title>"));
	CHECK(count(svg, "<title>main (") == 1);
	CHECK(count(svg, "<title>a (") == 1);
	CHECK(count(svg, "<g class=\"frame\"") == 6);
	/* "all" spans the full width; children sorted by name: calloc before malloc. */
	CHECK(svg && strstr(svg, "data-x=\"10.00\" data-w=\"1180.00\""));
	CHECK(svg && strstr(svg, "calloc (") < strstr(svg, "malloc ("));
	CHECK(svg && strstr(svg, "<script") && strstr(svg, "]]></script>\n</svg>\n"));
	free(svg);
}

static void test_deterministic(void)
{
	static const char *const s1[] = { "x", "y" };
	static const char *const s2[] = { "x", "z" };
	static const char *const s3[] = { "w" };
	const struct flame_stack ab[] = { { s1, 2, 3 }, { s2, 2, 4 }, { s3, 1, 5 }, { s1, 2, 6 } };
	const struct flame_stack ba[] = { { s3, 1, 5 }, { s1, 2, 6 }, { s2, 2, 4 }, { s1, 2, 3 } };
	int err1, err2;
	char *a = render("t", ab, 4, &err1), *b = render("t", ba, 4, &err2);

	CHECK(err1 == 0 && err2 == 0);
	CHECK(a && b && !strcmp(a, b));
	/* The two x;y stacks merged; a stack ending where another goes on counts in both. */
	CHECK(a && strstr(a, "<title>y (9 bytes, "));
	CHECK(count(a, "<title>y (") == 1);
	free(a);
	free(b);
}

static void test_escaping(void)
{
	static const char *const s1[] = { "<x&\"y'>" };
	static const char *const s2[] = { "ctl\x01" "byte" };
	static const char *const s3[] = { "bad\xff_\xc3_utf8" };
	static const char *const s4[] = { "caf\xc3\xa9" };
	static const char *const s5[] = { "cut\xe2\x80" };
	const struct flame_stack stacks[] = {
		{ s1, 1, 10 }, { s2, 1, 10 }, { s3, 1, 10 }, { s4, 1, 10 }, { s5, 1, 10 },
	};
	int err;
	char *svg = render("a<b & \"c\"", stacks, 5, &err);

	CHECK(err == 0);
	CHECK(svg && strstr(svg, "<title>&lt;x&amp;&quot;y&apos;&gt; (10 bytes, 20.00%)</title>"));
	CHECK(svg && strstr(svg, ">&lt;x&amp;&quot;y&apos;&gt;</text>"));
	CHECK(svg && strstr(svg, "<title>ctl?byte (10 bytes"));
	CHECK(svg && !strchr(svg, '\x01'));
	CHECK(svg && strstr(svg, "<title>bad?_?_utf8 (10 bytes"));
	CHECK(svg && !strchr(svg, '\xff'));
	CHECK(svg && strstr(svg, "<title>caf\xc3\xa9 (10 bytes"));
	/* A sequence cut short by the end of the name. */
	CHECK(svg && strstr(svg, "<title>cut?? (10 bytes"));
	CHECK(svg && strstr(svg, ">a&lt;b &amp; &quot;c&quot; \xe2\x80\x94 total 50 bytes</text>"));
	/* data-l counts UTF-16 units of the escaped-then-parsed name: 7 and 4. */
	CHECK(svg && strstr(svg, "data-l=\"7\"><title>&lt;x"));
	CHECK(svg && strstr(svg, "data-l=\"4\"><title>caf"));
	free(svg);
}

static void test_empty(void)
{
	int err;
	char *svg = render("Nothing", NULL, 0, &err);

	CHECK(err == 0);
	CHECK(svg && strstr(svg, ">Nothing \xe2\x80\x94 total 0 bytes</text>"));
	CHECK(svg && strstr(svg, "<title>all (0 bytes, 100.00%)</title>"));
	CHECK(count(svg, "<g class=\"frame\"") == 1);
	free(svg);
}

static void test_narrow_and_labels(void)
{
	static const char *const big[] = { "main", "a_rather_long_function_name_that_gets_cut" };
	static const char *const tiny[] = { "main", "tiny" };
	static const char *const mid[] = { "main", "mid", "abcdefghij" };
	/* 1180 px for 10^9: "tiny" is 0.001 px wide, the last frame 35.4 px. */
	const struct flame_stack stacks[] = {
		{ big, 2, 1000000000ull - 30000000 - 1 }, { tiny, 2, 1 }, { mid, 3, 30000000 },
	};
	int err;
	char *svg = render("t", stacks, 3, &err);

	CHECK(err == 0);
	CHECK(svg && !strstr(svg, "tiny"));
	CHECK(svg && strstr(svg, "<title>main (1,000,000,000 bytes, 100.00%)</title>"));
	CHECK(svg && strstr(svg, "total 1,000,000,000 bytes"));
	/* 35.4 px fits 5 characters: 3 and "..". */
	CHECK(svg && strstr(svg, ">abc..</text>"));
	CHECK(svg && strstr(svg, ">main</text>"));
	free(svg);
}

static void test_errors(void)
{
	static const char *const ok[] = { "main" };
	static const char *const hole[] = { "main", NULL };
	const struct flame_stack good = { ok, 1, 1 };
	const struct flame_stack no_frames = { NULL, 2, 1 };
	const struct flame_stack null_frame = { hole, 2, 1 };
	const struct flame_stack overflow[] = { { ok, 1, UINT64_MAX }, { ok, 1, 1 } };
	char small[64];
	FILE *f = fopen("/dev/null", "w");

	CHECK(f != NULL);
	CHECK(flamegraph_write_svg(NULL, "t", "bytes", &good, 1) == -EINVAL);
	CHECK(flamegraph_write_svg(f, NULL, "bytes", &good, 1) == -EINVAL);
	CHECK(flamegraph_write_svg(f, "t", NULL, &good, 1) == -EINVAL);
	CHECK(flamegraph_write_svg(f, "t", "bytes", NULL, 1) == -EINVAL);
	CHECK(flamegraph_write_svg(f, "t", "bytes", &no_frames, 1) == -EINVAL);
	CHECK(flamegraph_write_svg(f, "t", "bytes", &null_frame, 1) == -EINVAL);
	CHECK(flamegraph_write_svg(f, "t", "bytes", overflow, 2) == -EINVAL);
	CHECK(flamegraph_write_svg(f, "t", "bytes", &good, 1) == 0);
	if (f)
		fclose(f);

	/* Too small for the document: the write error must come back. */
	f = fmemopen(small, sizeof(small), "w");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(flamegraph_write_svg(f, "t", "bytes", &good, 1) == -EIO);
	fclose(f);
}

void test_flamegraph(void)
{
	test_merge();
	test_deterministic();
	test_escaping();
	test_empty();
	test_narrow_and_labels();
	test_errors();
}
