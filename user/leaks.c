// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command lines of memlens leaks and record: their options are parsed
 * by session_args.c, as allocs' are; the session they run is
 * alloc_session.c's.
 *
 * memlens leaks: outstanding allocations of one process grouped by call
 * stack, reported every interval and when the process exits. memlens
 * record: the same, snapshots into a file for memlens report.
 */
#include <errno.h>
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

static const char record_usage[] =
"Usage: memlens record [OPTIONS] -o FILE -p PID\n"
"       memlens record [OPTIONS] -o FILE -- COMMAND [ARGS...]\n"
"\n"
"Record a leaks session into FILE: the outstanding allocations of one process\n"
"at every interval, at Ctrl-C and at its exit, with their stacks symbolized, so\n"
"that `memlens report FILE` renders any leaks view later, on any machine, after\n"
"the process and its binaries are gone.\n"
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

static const struct cli_opt record_opts[] = {
	{ "output", 'o', "FILE", 0,
	  "the recording: a new file, mode 0600, renamed over\n"
	  "a file at that path; a FIFO or a device is written" },
	{ "pid", 'p', "PID", 0, "trace a running process" },
	{ "interval", 'i', "SECS", 0, "seconds between snapshots (default 5)" },
	{ "count", 'n', "N", 0, "stop after N interval snapshots" },
	{ "allocator", SESSION_OPT_ALLOCATOR, "PATH", 0, "as for memlens leaks" },
	{ "libc", SESSION_OPT_ALLOCATOR, "PATH", CLI_ALIAS | CLI_JOIN, NULL },
	{ "unwind", SESSION_OPT_UNWIND, "MODE", CLI_JOIN, NULL },
	{ "unwind-rows", SESSION_OPT_UNWIND_ROWS, "N", CLI_JOIN, NULL },
	{ "max-allocs", SESSION_OPT_MAX_ALLOCS, "N", 0,
	  "outstanding allocations tracked (default 262144)" },
	{ "max-stacks", SESSION_OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "sample-bytes", SESSION_OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average\n"
	  "(Poisson, by bytes), not every one: cheaper, and the\n"
	  "counts and bytes shown are estimates (default 0 = exact)" },
	{ "stalls", SESSION_OPT_STALLS, NULL, 0,
	  "also its reclaim stalls by user and kernel stack, as\n"
	  "memlens reclaim --stacks takes them (report --stalls)" },
	{ "scan", SESSION_OPT_SCAN, "WHEN", 0,
	  "a reachability scan, as for memlens leaks (end: default\n"
	  "with a COMMAND; each; none: default with -p): every\n"
	  "block's class is recorded with its snapshot" },
	{ "scan-max-pause", SESSION_OPT_SCAN_MAX_PAUSE, "MS", 0, "as for memlens leaks" },
	/* memlens report's: a recording is rendered there. */
	{ "top", 't', "N", CLI_HIDDEN, NULL },
	{ "min-age", 'a', "SECS", CLI_HIDDEN, NULL },
	{ "json", 'j', NULL, CLI_HIDDEN, NULL },
	{ "folded", CLI_FOLDED, NULL, CLI_HIDDEN, NULL },
	{ "svg", CLI_SVG, "FILE", CLI_HIDDEN, NULL },
	{ "pprof", CLI_PPROF, "FILE", CLI_HIDDEN, NULL },
	{ "suppressions", SESSION_OPT_SUPPRESSIONS, "FILE", CLI_HIDDEN, NULL },
	{},
};

const struct cli_cmd leaks_cli = {
	.name = "leaks",
	.usage = leaks_usage,
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ leaks_opts, cli_verbose_help, NULL },
};

const struct cli_cmd record_cli = {
	.name = "record",
	.usage = record_usage,
	.epilog = "\nA Go program's heap is not malloc's: see memlens allocs.\n",
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ record_opts, cli_verbose_help, NULL },
};

/* record's own checks. */
static int check_record(struct session_args *a)
{
	if (a->suppressions) {
		/* LSan's way: a recording is judged when read, by whatever file is given then. */
		error_msg("record: --suppressions is an option of memlens report, "
			  "which applies it to the recording");
		return -EINVAL;
	}
	return 0;
}

static const struct session_cmd leaks_cmd = { .cli = &leaks_cli };
static const struct session_cmd record_cmd = { .cli = &record_cli, .check = check_record };

int cmd_leaks(int argc, char **argv)
{
	struct session_args a = { .interval_s = 5, .show.top = 10, .scan = -1 };

	if (session_args_parse(argc, argv, &leaks_cmd, &a))
		return EXIT_USAGE;
	return session_args_run(&a, &outstanding_blocks);
}

int cmd_record(int argc, char **argv)
{
	struct session_args a = { .interval_s = 5, .record_mode = true, .scan = -1 };

	if (session_args_parse(argc, argv, &record_cmd, &a))
		return EXIT_USAGE;
	return session_args_run(&a, &outstanding_blocks);
}
