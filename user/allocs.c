// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens allocs: the allocations a process makes, counted by call stack
 * for the whole session: a Go program's heap (goheap.c), or the allocator
 * calls of any other (bpf/alloc_profile.bpf.h). Its options are those of
 * the session it shares with leaks and record (session_args.c).
 */
#include <errno.h>
#include <stdio.h>
#include "alloc_session.h"
#include "cli.h"
#include "goheap.h"
#include "session_args.h"
#include "spawn.h"
#include "subcommands.h"
#include "util.h"

static const char allocs_usage[] =
"Usage: memlens allocs [OPTIONS] -p PID\n"
"       memlens allocs [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Report the allocations a process makes while traced, by call stack: calls\n"
"and bytes asked for, not outstanding memory. A program that mallocs (C,\n"
"C++, Rust: malloc, calloc, realloc, the aligned ones, operator new) costs\n"
"one probe per allocator call: no return or free probe. A Go program's heap\n"
"is runtime.mallocgc's: which functions' values escape to the heap.\n"
"Sampled by default, C and Go alike: one call every 524288 bytes on\n"
"average (Go's MemProfileRate), counts and bytes estimated from them.\n"
"--sample-bytes 0 counts every call exactly.\n"
"Reported every interval, at Ctrl-C, and when the process exits.\n"
"\n";

static const struct cli_opt allocs_opts[] = {
	{ "pid", 'p', "PID", 0, "trace a running process" },
	{ "interval", 'i', "SECS", 0, "seconds between reports (default 5)" },
	{ "count", 'n', "N", 0, "stop after N interval reports" },
	{ "top", 't', "N", 0, "show the N stacks with most bytes (default 10, 0 = all)" },
	{ "json", 'j', NULL, 0, "one JSON object per report" },
	{ "folded", CLI_FOLDED, NULL, 0, "folded stacks instead: the last report only" },
	{ "svg", CLI_SVG, "FILE", 0, "also write a flame graph to FILE at every report" },
	{ "pprof", CLI_PPROF, "FILE", 0,
	  "also write a pprof profile (alloc_space, alloc_objects)" },
	{ "allocator", SESSION_OPT_ALLOCATOR, "PATH", 0,
	  "hook the allocator in PATH instead of those found in\n"
	  "the process (not for a Go program)" },
	{ "libc", SESSION_OPT_ALLOCATOR, "PATH", CLI_ALIAS, "the same as --allocator PATH" },
	{ "max-stacks", SESSION_OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "unwind", SESSION_OPT_UNWIND, "MODE", 0,
	  "dwarf (default) or fp, as for memlens leaks (not for\n"
	  "a Go program, which keeps frame pointers)" },
	{ "unwind-rows", SESSION_OPT_UNWIND_ROWS, "N", 0,
	  "unwind table rows for all modules (default 524288)" },
	{ "sample-bytes", SESSION_OPT_SAMPLE_BYTES, "R", 0,
	  "take one allocation's stack every R bytes on average:\n"
	  "estimates (default 524288, as Go's MemProfileRate;\n"
	  "0 = every allocation, exact)" },
	/* memlens leaks' and record's: allocations made have no age, none is outstanding. */
	{ "output", 'o', "FILE", CLI_HIDDEN, NULL },
	{ "min-age", 'a', "SECS", CLI_HIDDEN, NULL },
	{ "max-allocs", SESSION_OPT_MAX_ALLOCS, "N", CLI_HIDDEN, NULL },
	{ "scan", SESSION_OPT_SCAN, "WHEN", CLI_HIDDEN, NULL },
	{ "scan-max-pause", SESSION_OPT_SCAN_MAX_PAUSE, "MS", CLI_HIDDEN, NULL },
	{ "suppressions", SESSION_OPT_SUPPRESSIONS, "FILE", CLI_HIDDEN, NULL },
	{},
};

const struct cli_cmd allocs_cli = {
	.name = "allocs",
	.usage = allocs_usage,
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ allocs_opts, cli_verbose_help, NULL },
};

/* Allocations made, counted by stack: none is outstanding, none has an age. */
static int check_allocs(struct session_args *a)
{
	if (a->show.min_age_s || a->max_allocs) {
		error_msg("allocs: --min-age and --max-allocs are for memlens leaks");
		return -EINVAL;
	}
	if (a->scan >= 0 || a->scan_max_pause_ms || a->suppressions) {
		error_msg("allocs: --scan, --scan-max-pause and --suppressions are options of memlens leaks");
		return -EINVAL;
	}
	a->scan = SCAN_NONE;	/* nothing outstanding, nothing to scan */
	return 0;
}

static const struct session_cmd allocs_cmd = { .cli = &allocs_cli, .check = check_allocs };

/*
 * memlens allocs: a Go program's heap (runtime.mallocgc), found in the
 * file memlens starts or attaches to; else what the program asks of its
 * allocators. Go keeps frame pointers and has its own allocator:
 * --allocator and --unwind* mean nothing there.
 */
static int allocs_source(const struct session_args *a, const struct group_source **source)
{
	char path[4096];

	if (a->cmd) {
		if (resolve_command(a->cmd[0], path, sizeof(path)))
			path[0] = '\0';	/* said when it is started */
	} else {
		snprintf(path, sizeof(path), "/proc/%d/exe", a->pid);
	}
	if (!path[0] || !go_binary(path)) {
		*source = &alloc_profile;
		return 0;
	}
	if (a->allocator || a->unwind_set) {
		error_msg("allocs: %s is a Go program: --allocator and --unwind* are for programs "
			  "that malloc", a->cmd ? a->cmd[0] : path);
		return -EINVAL;
	}
	*source = &go_alloc_profile;
	return 0;
}

/*
 * A profile is for a busy process: sampled by default, every 512 KiB as
 * Go's runtime samples its own (MemProfileRate), for C and Go alike. The
 * trap of each call stays; most calls take no stack.
 */
#define ALLOCS_SAMPLE_BYTES	(512 * 1024)

int cmd_allocs(int argc, char **argv)
{
	struct session_args a = { .interval_s = 5, .show.top = 10, .scan = -1,
				  .sample_bytes = ALLOCS_SAMPLE_BYTES };
	const struct group_source *source;

	if (session_args_parse(argc, argv, &allocs_cmd, &a) || allocs_source(&a, &source))
		return EXIT_USAGE;
	return session_args_run(&a, source);
}
