// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "util.h"
#include "unit.h"

void test_util(void)
{
	unsigned long long v;
	double d;

	CHECK(parse_uint("42", "n", 100, &v) == 0 && v == 42);
	CHECK(parse_uint("101", "n", 100, &v) < 0);
	CHECK(parse_uint("-1", "n", 100, &v) < 0);
	CHECK(parse_uint("4x", "n", 100, &v) < 0);
	CHECK(parse_uint("", "n", 100, &v) < 0);
	CHECK(parse_seconds("0.5", "s", &d) == 0 && d == 0.5);
	CHECK(parse_seconds("-1", "s", &d) < 0);
	CHECK(parse_seconds("nan", "s", &d) < 0);
	CHECK(parse_seconds("1s", "s", &d) < 0);
	CHECK(monotonic_ns() > 0);
}
