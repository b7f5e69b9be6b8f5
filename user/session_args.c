// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command line that memlens leaks, record and allocs share: one
 * parser for the options of their session, the checks that hold for all
 * three, and the session (alloc_session.c) made from what was asked.
 * Each command keeps in its own file its table, its defaults and its own
 * checks (struct session_cmd).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_session.h"
#include "leak_scan.h"
#include "sampling.h"
#include "session_args.h"
#include "unwind_table.h"
#include "util.h"

static int check_record_args(const struct session_args *a)
{
	if (!a->record_mode && a->output) {
		error_msg("%s: -o FILE is an option of memlens record", a->name);
		return -EINVAL;
	}
	if (!a->record_mode)
		return 0;
	if (!a->output) {
		error_msg("record: give the file to write with -o FILE");
		return -EINVAL;
	}
	if (a->report_opt) {
		error_msg("record: --%s is an option of memlens report, which renders the recording",
			  a->report_opt);
		return -EINVAL;
	}
	return 0;
}

static int parse_scan(struct session_args *a, const char *arg)
{
	if (!strcmp(arg, "none"))
		a->scan = SCAN_NONE;
	else if (!strcmp(arg, "end"))
		a->scan = SCAN_END;
	else if (!strcmp(arg, "each"))
		a->scan = SCAN_EACH;
	else {
		error_msg("%s: --scan is end, each or none, not '%s'", a->name, arg);
		return -EINVAL;
	}
	return 0;
}

/* A map's entries, as --max-allocs N gives them: 0 is no size (the default is not giving one). */
static int parse_map_size(const char *arg, const char *what, unsigned long long max,
			  unsigned long long *out)
{
	if (parse_uint(arg, what, max, out))
		return -EINVAL;
	if (!*out) {
		error_msg("invalid %s '%s': a map of at least 1 entry", what, arg);
		return -EINVAL;
	}
	return 0;
}

/* One option OPT of ARGV, its value in optarg: 0 or -EINVAL, said. */
static int parse_opt(struct session_args *a, const struct cli_cmd *cli, int opt, char **argv)
{
	switch (opt) {
	case 'p':
		return cli_parse_pid(a->name, optarg, &a->pid) ? -EINVAL : 0;
	case 'o':
		a->output = optarg;
		return 0;
	case 'i':
		return parse_interval(optarg, &a->interval_s) ? -EINVAL : 0;
	case 'n':
		return cli_parse_count(a->name, optarg, &a->count) ? -EINVAL : 0;
	case SESSION_OPT_ALLOCATOR:
		a->allocator = optarg;
		return 0;
	case SESSION_OPT_MAX_ALLOCS:
		return parse_map_size(optarg, "max-allocs", 1ULL << 26, &a->max_allocs);
	case SESSION_OPT_MAX_STACKS:
		return parse_map_size(optarg, "max-stacks", 1ULL << 22, &a->max_stacks);
	case SESSION_OPT_UNWIND:
		if (strcmp(optarg, "dwarf") && strcmp(optarg, "fp")) {
			error_msg("%s: --unwind is dwarf or fp, not '%s'", a->name, optarg);
			return -EINVAL;
		}
		a->unwind_fp = !strcmp(optarg, "fp");
		a->unwind_set = true;
		return 0;
	case SESSION_OPT_UNWIND_ROWS:
		if (parse_uint(optarg, "unwind-rows", UNWIND_MAX_ROWS, &a->unwind_rows))
			return -EINVAL;
		a->unwind_set = true;
		if (a->unwind_rows < 1) {
			error_msg("%s: --unwind-rows must be at least 1", a->name);
			return -EINVAL;
		}
		return 0;
	case SESSION_OPT_SAMPLE_BYTES:
		return parse_uint(optarg, "sample-bytes", SAMPLE_MAX_BYTES, &a->sample_bytes) ?
		       -EINVAL : 0;
	case SESSION_OPT_SCAN:
		return parse_scan(a, optarg);
	case SESSION_OPT_SUPPRESSIONS:
		a->suppressions = optarg;
		return 0;
	case SESSION_OPT_SCAN_MAX_PAUSE:
		return parse_uint(optarg, "scan-max-pause", 1ULL << 32, &a->scan_max_pause_ms) ?
		       -EINVAL : 0;
	case SESSION_OPT_STALLS:
		a->stalls = true;
		return 0;
	case 'v':
		verbose = true;
		return 0;
	case 'h':
		cli_help_exit(cli);
	default:
		bad_option(a->name, '?', argv[optind - 1]);
		return -EINVAL;
	}
}

/* The options of ARGV, up to the command's operands. */
static int parse_opts(int argc, char **argv, const struct cli_cmd *cli, struct session_args *a)
{
	struct cli_parser p;
	int opt, err;

	if (cli_parser_init(&p, cli))
		return -E2BIG;
	while ((opt = cli_next(&p, argc, argv)) != -1) {
		if (opt == CLI_BAD)
			return -EINVAL;
		err = report_opts_parse(&a->show, opt, optarg);
		if (err < 0)
			return err;
		if (err) {
			/* Record renders nothing: those options belong to report. */
			a->report_opt = cli_key_name(cli, opt);
			continue;
		}
		if (parse_opt(a, cli, opt, argv))
			return -EINVAL;
	}
	return 0;
}

/* What the options given together say, as every command of a session takes them. */
static int check_args(const struct session_cmd *cmd, struct session_args *a)
{
	if (check_record_args(a))
		return -EINVAL;
	if (!a->pid == !a->cmd) {
		error_msg("%s: give either -p PID or -- COMMAND (see memlens %s --help)", a->name,
			  a->name);
		return -EINVAL;
	}
	if (a->show.folded && a->show.json) {
		error_msg("%s: --folded and --json are two outputs: choose one", a->name);
		return -EINVAL;
	}
	if (report_check_outputs(a->name, a->show.svg, a->show.pprof, NULL))
		return -EINVAL;
	if (cmd->check && cmd->check(a))
		return -EINVAL;
	if (suppressions_add_defaults(&a->supp) ||
	    (a->suppressions && suppressions_load(&a->supp, a->suppressions, a->name)))
		return -EINVAL;
	if (a->scan > SCAN_NONE && a->sample_bytes) {
		/* A block reached only through one not sampled would look lost. */
		error_msg("%s: --scan needs every block: not with --sample-bytes", a->name);
		return -EINVAL;
	}
	if (a->scan < 0)
		a->scan = a->cmd && !a->sample_bytes ? SCAN_END : SCAN_NONE;
	if (a->unwind_fp && a->unwind_rows) {
		error_msg("%s: --unwind-rows sizes the tables of --unwind dwarf, not fp", a->name);
		return -EINVAL;
	}
	return 0;
}

int session_args_parse(int argc, char **argv, const struct session_cmd *cmd,
		       struct session_args *a)
{
	int err;

	a->name = cmd->cli->name;
	err = parse_opts(argc, argv, cmd->cli, a);
	if (err)
		return err;
	if (optind < argc)
		a->cmd = &argv[optind];
	return check_args(cmd, a);
}

int session_args_run(struct session_args *a, const struct group_source *source)
{
	struct session_opts o = {
		.pid = a->pid,
		.cmd = a->cmd,
		.source = source,
		.interval_s = a->interval_s,
		.count = a->count,
		.show = &a->show,
		.allocator = a->allocator,
		.output = a->output,
		.max_allocs = a->max_allocs,
		.max_stacks = a->max_stacks,
		.unwind_fp = a->unwind_fp,
		.unwind_rows = a->unwind_rows,
		.sample_bytes = a->sample_bytes,
		.scan = a->scan,
		.scan_max_pause_ns = a->scan_max_pause_ms * 1000000ULL,
		.supp = &a->supp,
		.stalls = a->stalls,
	};
	int err = alloc_session_run(&o);

	suppressions_free(&a->supp);
	return err;
}
