// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * libFuzzer target: the recording reader and every view `memlens report`
 * renders from what it accepts. Built with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
 * which skips the record checksums (a fuzzer cannot forge them) so that
 * the mutations reach the parsing behind them. Run by tests/fuzz.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
/* The report command's renderer, whole, as memlens runs it. */
#include "../../user/report.c"

static const char *pprof_out;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The views go to stdout: nowhere. libFuzzer reports on stderr. */
	if (!freopen("/dev/null", "w", stdout))
		abort();
	pprof_out = getenv("MEMLENS_FUZZ_PPROF");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct report_env views[] = {
		{ .path = "fuzz", .all = true },			/* text, every stack */
		{ .path = "fuzz", .all = true, .show = { .json = true, .top = 3, .min_age_s = 1 } },
		{ .path = "fuzz", .timeline = true },
		{ .path = "fuzz", .show = { .folded = true, .pprof = pprof_out } },
	};
	const struct report_env stalls[] = {
		{ .path = "fuzz", .stalls = true },
		{ .path = "fuzz", .stalls = true, .show = { .json = true, .top = 2 } },
		{ .path = "fuzz", .stalls = true, .show = { .folded = true, .pprof = pprof_out } },
	};
	struct recording *rec;
	char why[256];

	if (recording_parse(data, size, data[0] & 1, &rec, why, sizeof(why)))
		return 0;
	for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
		render(&views[i], rec);
	for (size_t i = 0; i < sizeof(stalls) / sizeof(stalls[0]); i++)
		render_stalls(&stalls[i], rec);
	recording_free(rec);
	return 0;
}
