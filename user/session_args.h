/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The command line that memlens leaks, record and allocs share: they run
 * one session (alloc_session.c) and take its options, each command with
 * its own table (cli.h), defaults and checks, one parser for all three.
 */
#ifndef MEMLENS_SESSION_ARGS_H
#define MEMLENS_SESSION_ARGS_H

#include <stdbool.h>
#include "cli.h"
#include "stack_report.h"
#include "suppress.h"

struct group_source;

/* The keys of the session's long-only options, in the tables of the three. */
enum {
	SESSION_OPT_ALLOCATOR = CLI_CMD_KEYS,
	SESSION_OPT_MAX_ALLOCS,
	SESSION_OPT_MAX_STACKS,
	SESSION_OPT_UNWIND,
	SESSION_OPT_UNWIND_ROWS,
	SESSION_OPT_SAMPLE_BYTES,
	SESSION_OPT_SCAN,
	SESSION_OPT_SCAN_MAX_PAUSE,
	SESSION_OPT_SUPPRESSIONS,
	SESSION_OPT_STALLS,
};

/* What the command line asked; the command sets its defaults before the parse. */
struct session_args {
	int pid;
	char **cmd;		/* -- CMD ARGS..., NULL with -p */
	double interval_s;
	unsigned long long count;	/* reports before exiting, 0 = no limit */
	struct report_opts show;	/* how reports are shown: -t, -a, -j, --folded, ... */
	const char *allocator;	/* --allocator: the one file to hook, not those found */
	bool record_mode;	/* memlens record: snapshots into a file, no report */
	const char *output;	/* record -o FILE */
	const char *report_opt;	/* a rendering option given to record, for its error */
	unsigned long long max_allocs;
	unsigned long long max_stacks;
	bool unwind_fp;		/* --unwind fp: frame pointers only */
	bool unwind_set;	/* --unwind or --unwind-rows given */
	unsigned long long unwind_rows;
	unsigned long long sample_bytes;	/* --sample-bytes R, 0 = every allocation */
	int scan;		/* --scan: enum scan_when, -1 not given */
	unsigned long long scan_max_pause_ms;
	const char *suppressions;	/* --suppressions FILE */
	struct suppressions supp;	/* the default list and FILE's */
	bool stalls;		/* record --stalls */
	const char *name;	/* of the subcommand, for messages: set by the parse */
};

/* What a command says of itself to session_args_parse. */
struct session_cmd {
	/* Its options: the session's, those it shows and its siblings' hidden. */
	const struct cli_cmd *cli;
	/*
	 * Its own checks of the options given together, before the
	 * suppressions are read and the scan chosen: 0, or -EINVAL said in
	 * one line. NULL: none.
	 */
	int (*check)(struct session_args *a);
};

/* Parse ARGV into A as CMD takes it: 0, or -errno said in one line. -h exits. */
int session_args_parse(int argc, char **argv, const struct session_cmd *cmd,
		       struct session_args *a);
/* Run the session A asks for, its groups from SOURCE: the exit code. */
int session_args_run(struct session_args *a, const struct group_source *source);

#endif
