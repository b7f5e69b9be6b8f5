// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command line of memlens record: a leaks session, its snapshots
 * written into a file for memlens report (recfile.c) instead of printed.
 * Its options are parsed by session_args.c, as those of leaks and allocs
 * are; the session it runs is alloc_session.c's.
 */
#include <errno.h>
#include <stdbool.h>
#include "alloc_session.h"
#include "cli.h"
#include "session_args.h"
#include "subcommands.h"
#include "util.h"

static const char record_usage[] =
"Usage: memlens record [OPTIONS] -o FILE -p PID\n"
"       memlens record [OPTIONS] -o FILE -- COMMAND [ARGS...]\n"
"\n"
"Record a leaks session into FILE: the outstanding allocations of one process\n"
"at every interval, at Ctrl-C and at its exit, with their stacks symbolized, so\n"
"that `memlens report FILE` renders any leaks view later, on any machine, after\n"
"the process and its binaries are gone.\n"
"\n";

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

static const struct session_cmd record_cmd = { .cli = &record_cli, .check = check_record };

int cmd_record(int argc, char **argv)
{
	struct session_args a = { .interval_s = 5, .record_mode = true, .scan = -1 };

	if (session_args_parse(argc, argv, &record_cmd, &a))
		return EXIT_USAGE;
	return session_args_run(&a, &outstanding_blocks);
}
