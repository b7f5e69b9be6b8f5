// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "bpf_util.h"
#include "util.h"
#include "unit.h"

/* The verifier's reason: the last line that is not its summary, at any log level. */
static void test_verifier_log_reason(void)
{
	char why[64];

	verifier_log_reason("R1 invalid mem access 'scalar'\nverification time 45 usec\n"
			    "stack depth 0\nprocessed 6 insns (limit 1000000) max_states_per_insn 0\n",
			    why, sizeof(why));
	CHECK_STR(why, "R1 invalid mem access 'scalar'");
	verifier_log_reason("0: (85) call pc+2\nBPF program is too large. Processed 1000001 insn\n"
			    "verification time 2222634 usec\nstack depth 40\n"
			    "processed 1000001 insns (limit 1000000)\n", why, sizeof(why));
	CHECK_STR(why, "BPF program is too large. Processed 1000001 insn");
	/* A program verified: nothing but the summary, no reason. */
	verifier_log_reason("verification time 12 usec\nstack depth 8\nprocessed 29 insns\n",
			    why, sizeof(why));
	CHECK_STR(why, "");
	verifier_log_reason("", why, sizeof(why));
	CHECK_STR(why, "");
}

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
	test_verifier_log_reason();
}
