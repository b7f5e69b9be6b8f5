// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command line of memlens leaks: outstanding allocations of one
 * process grouped by call stack, reported every interval and when the
 * process exits. Its options are parsed by session_args.c, as those of
 * record and allocs are; the session it runs is alloc_session.c's.
 */
#include <stdbool.h>
#include "alloc_session.h"
#include "cli.h"
#include "session_args.h"
#include "subcommands.h"
#include "util.h"

static const char leaks_usage[] =
"Usage: memlens leaks [OPTIONS] -p PID\n"
"       memlens leaks [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Report the outstanding allocations of one process by call stack: every\n"
"interval, at Ctrl-C, and as leaked-at-exit when the process exits.\n"
"\n";

/*
 * leaks, record and allocs share one parser (session_args.c): each takes
 * the others' options only to say whose they are (record's -o, each
 * command's own checks), hence the CLI_HIDDEN entries.
 */
static const struct cli_opt leaks_opts[] = {
	{ "pid", 'p', "PID", 0, "trace a running process" },
	{ "interval", 'i', "SECS", 0, "seconds between reports (default 5)" },
	{ "count", 'n', "N", 0, "stop after N interval reports" },
	{ "top", 't', "N", 0, "show the N stacks with most bytes (default 10, 0 = all)" },
	{ "min-age", 'a', "SECS", 0, "only count allocations older than SECS" },
	{ "json", 'j', NULL, 0, "one JSON object per report" },
	{ "folded", CLI_FOLDED, NULL, 0,
	  "folded stacks instead (\"comm;main;f;g BYTES\" a line),\n"
	  "for flamegraph.pl or speedscope: the last report only" },
	{ "svg", CLI_SVG, "FILE", 0,
	  "also write an interactive flame graph to FILE at\n"
	  "every report (the last one stays)" },
	{ "pprof", CLI_PPROF, "FILE", 0,
	  "also write a pprof heap profile (inuse_space,\n"
	  "inuse_objects) to FILE at every report" },
	{ "allocator", SESSION_OPT_ALLOCATOR, "PATH", 0,
	  "hook the allocator in PATH (malloc, free, ..., operator\n"
	  "new and delete) instead of those found in the process" },
	{ "libc", SESSION_OPT_ALLOCATOR, "PATH", CLI_ALIAS, "the same as --allocator PATH" },
	{ "max-allocs", SESSION_OPT_MAX_ALLOCS, "N", 0,
	  "outstanding allocations tracked (default 262144)" },
	{ "max-stacks", SESSION_OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "unwind", SESSION_OPT_UNWIND, "MODE", 0,
	  "how stacks are walked: dwarf (default: by the CFI\n"
	  "of each module, by frame pointer where a module\n"
	  "has none) or fp (frame pointers only, cheapest)" },
	{ "unwind-rows", SESSION_OPT_UNWIND_ROWS, "N", 0,
	  "unwind table rows for all modules (default 524288)" },
	{ "sample-bytes", SESSION_OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average\n"
	  "(Poisson, by bytes), not every one: cheaper, and the\n"
	  "counts and bytes shown are estimates (default 0 = exact)" },
	{ "scan", SESSION_OPT_SCAN, "WHEN", 0,
	  "which blocks are really lost: a reachability scan of\n"
	  "the process, stopped while it is read, at the last\n"
	  "report (end: default with a COMMAND, at its exit),\n"
	  "at every report (each), or never (none: default with -p)" },
	{ "scan-max-pause", SESSION_OPT_SCAN_MAX_PAUSE, "MS", 0,
	  "stop a scan after MS milliseconds and report it as\n"
	  "partial (default 0 = no bound)" },
	{ "suppressions", SESSION_OPT_SUPPRESSIONS, "FILE", 0,
	  "lost blocks whose stack matches a line leak:PATTERN of\n"
	  "FILE (LeakSanitizer's syntax) are counted as\n"
	  "suppressed, as those of memlens's default list are" },
	{ "output", 'o', "FILE", CLI_HIDDEN, NULL },
	{},
};

const struct cli_cmd leaks_cli = {
	.name = "leaks",
	.usage = leaks_usage,
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ leaks_opts, cli_verbose_help, NULL },
};

static const struct session_cmd leaks_cmd = { .cli = &leaks_cli };

int cmd_leaks(int argc, char **argv)
{
	struct session_args a = { .interval_s = 5, .show.top = 10, .scan = -1 };

	if (session_args_parse(argc, argv, &leaks_cmd, &a))
		return EXIT_USAGE;
	return session_args_run(&a, &outstanding_blocks);
}
