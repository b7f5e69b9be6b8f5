// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command lines of memlens leaks, record and allocs; the session they
 * run is alloc_session.c's.
 *
 * memlens leaks: outstanding allocations of one process grouped by call
 * stack, reported every interval and when the process exits. memlens
 * record: the same, snapshots into a file for memlens report.
 *
 * memlens allocs: the same session counting the allocations a process
 * makes by call stack: a Go program's heap (goheap.c), or the allocator
 * calls of any other (bpf/alloc_profile.bpf.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_session.h"
#include "cli.h"
#include "goheap.h"
#include "leak_scan.h"
#include "stack_report.h"
#include "suppress.h"
#include "sampling.h"
#include "subcommands.h"
#include "unwind_table.h"
#include "util.h"

struct leaks_env {
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
	bool go;		/* memlens allocs: a Go program's allocation profile */
	bool stalls;		/* record --stalls */
	const char *name;	/* of the subcommand, for messages */
};

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

enum {
	OPT_ALLOCATOR = CLI_CMD_KEYS, OPT_MAX_ALLOCS, OPT_MAX_STACKS, OPT_UNWIND, OPT_UNWIND_ROWS,
	OPT_SAMPLE_BYTES, OPT_SCAN, OPT_SCAN_MAX_PAUSE, OPT_SUPPRESSIONS,
	OPT_STALLS,
};

/*
 * leaks, record and allocs share one parser (parse_args): each takes the
 * others' options only to say whose they are (check_record_args, the Go
 * checks), hence the CLI_HIDDEN entries.
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
	{ "allocator", OPT_ALLOCATOR, "PATH", 0,
	  "hook the allocator in PATH (malloc, free, ..., operator\n"
	  "new and delete) instead of those found in the process" },
	{ "libc", OPT_ALLOCATOR, "PATH", CLI_ALIAS, "the same as --allocator PATH" },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", 0,
	  "outstanding allocations tracked (default 262144)" },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "unwind", OPT_UNWIND, "MODE", 0,
	  "how stacks are walked: dwarf (default: by the CFI\n"
	  "of each module, by frame pointer where a module\n"
	  "has none) or fp (frame pointers only, cheapest)" },
	{ "unwind-rows", OPT_UNWIND_ROWS, "N", 0,
	  "unwind table rows for all modules (default 524288)" },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average\n"
	  "(Poisson, by bytes), not every one: cheaper, and the\n"
	  "counts and bytes shown are estimates (default 0 = exact)" },
	{ "scan", OPT_SCAN, "WHEN", 0,
	  "which blocks are really lost: a reachability scan of\n"
	  "the process, stopped while it is read, at the last\n"
	  "report (end: default with a COMMAND, at its exit),\n"
	  "at every report (each), or never (none: default with -p)" },
	{ "scan-max-pause", OPT_SCAN_MAX_PAUSE, "MS", 0,
	  "stop a scan after MS milliseconds and report it as\n"
	  "partial (default 0 = no bound)" },
	{ "suppressions", OPT_SUPPRESSIONS, "FILE", 0,
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
	{ "allocator", OPT_ALLOCATOR, "PATH", 0, "as for memlens leaks" },
	{ "libc", OPT_ALLOCATOR, "PATH", CLI_ALIAS | CLI_JOIN, NULL },
	{ "unwind", OPT_UNWIND, "MODE", CLI_JOIN, NULL },
	{ "unwind-rows", OPT_UNWIND_ROWS, "N", CLI_JOIN, NULL },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", 0,
	  "outstanding allocations tracked (default 262144)" },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average\n"
	  "(Poisson, by bytes), not every one: cheaper, and the\n"
	  "counts and bytes shown are estimates (default 0 = exact)" },
	{ "stalls", OPT_STALLS, NULL, 0,
	  "also its reclaim stalls by user and kernel stack, as\n"
	  "memlens reclaim --stacks takes them (report --stalls)" },
	{ "scan", OPT_SCAN, "WHEN", 0,
	  "a reachability scan, as for memlens leaks (end: default\n"
	  "with a COMMAND; each; none: default with -p): every\n"
	  "block's class is recorded with its snapshot" },
	{ "scan-max-pause", OPT_SCAN_MAX_PAUSE, "MS", 0, "as for memlens leaks" },
	/* memlens report's: a recording is rendered there. */
	{ "top", 't', "N", CLI_HIDDEN, NULL },
	{ "min-age", 'a', "SECS", CLI_HIDDEN, NULL },
	{ "json", 'j', NULL, CLI_HIDDEN, NULL },
	{ "folded", CLI_FOLDED, NULL, CLI_HIDDEN, NULL },
	{ "svg", CLI_SVG, "FILE", CLI_HIDDEN, NULL },
	{ "pprof", CLI_PPROF, "FILE", CLI_HIDDEN, NULL },
	{ "suppressions", OPT_SUPPRESSIONS, "FILE", CLI_HIDDEN, NULL },
	{},
};

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
	{ "allocator", OPT_ALLOCATOR, "PATH", 0,
	  "hook the allocator in PATH instead of those found in\n"
	  "the process (not for a Go program)" },
	{ "libc", OPT_ALLOCATOR, "PATH", CLI_ALIAS, "the same as --allocator PATH" },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "unwind", OPT_UNWIND, "MODE", 0,
	  "dwarf (default) or fp, as for memlens leaks (not for\n"
	  "a Go program, which keeps frame pointers)" },
	{ "unwind-rows", OPT_UNWIND_ROWS, "N", 0,
	  "unwind table rows for all modules (default 524288)" },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "R", 0,
	  "take one allocation's stack every R bytes on average:\n"
	  "estimates (default 524288, as Go's MemProfileRate;\n"
	  "0 = every allocation, exact)" },
	/* memlens leaks' and record's: allocations made have no age, none is outstanding. */
	{ "output", 'o', "FILE", CLI_HIDDEN, NULL },
	{ "min-age", 'a', "SECS", CLI_HIDDEN, NULL },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", CLI_HIDDEN, NULL },
	{ "scan", OPT_SCAN, "WHEN", CLI_HIDDEN, NULL },
	{ "scan-max-pause", OPT_SCAN_MAX_PAUSE, "MS", CLI_HIDDEN, NULL },
	{ "suppressions", OPT_SUPPRESSIONS, "FILE", CLI_HIDDEN, NULL },
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

const struct cli_cmd allocs_cli = {
	.name = "allocs",
	.usage = allocs_usage,
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ allocs_opts, cli_verbose_help, NULL },
};

static int check_record_args(const struct leaks_env *env)
{
	if (!env->record_mode && env->output) {
		error_msg("%s: -o FILE is an option of memlens record", env->name);
		return -EINVAL;
	}
	if (!env->record_mode)
		return 0;
	if (!env->output) {
		error_msg("record: give the file to write with -o FILE");
		return -EINVAL;
	}
	if (env->report_opt) {
		error_msg("record: --%s is an option of memlens report, which renders the recording",
			  env->report_opt);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct leaks_env *env, const struct cli_cmd *cli)
{
	struct cli_parser p;
	int opt, err;

	if (cli_parser_init(&p, cli))
		return -E2BIG;
	while ((opt = cli_next(&p, argc, argv)) != -1) {
		if (opt == CLI_BAD)
			return -EINVAL;
		err = report_opts_parse(&env->show, opt, optarg);
		if (err < 0)
			return err;
		if (err) {
			/* Record renders nothing: those options belong to report. */
			env->report_opt = cli_key_name(cli, opt);
			continue;
		}
		switch (opt) {
		case 'p':
			if (cli_parse_pid(env->name, optarg, &env->pid))
				return -EINVAL;
			break;
		case 'o':
			env->output = optarg;
			break;
		case 'i':
			if (parse_interval(optarg, &env->interval_s))
				return -EINVAL;
			break;
		case 'n':
			if (parse_uint(optarg, "count", 1ULL << 32, &env->count))
				return -EINVAL;
			break;
		case OPT_ALLOCATOR:
			env->allocator = optarg;
			break;
		case OPT_MAX_ALLOCS:
			if (parse_uint(optarg, "max-allocs", 1ULL << 26, &env->max_allocs))
				return -EINVAL;
			break;
		case OPT_MAX_STACKS:
			if (parse_uint(optarg, "max-stacks", 1ULL << 22, &env->max_stacks))
				return -EINVAL;
			break;
		case OPT_UNWIND:
			if (strcmp(optarg, "dwarf") && strcmp(optarg, "fp")) {
				error_msg("%s: --unwind is dwarf or fp, not '%s'", env->name, optarg);
				return -EINVAL;
			}
			env->unwind_fp = !strcmp(optarg, "fp");
			env->unwind_set = true;
			break;
		case OPT_UNWIND_ROWS:
			if (parse_uint(optarg, "unwind-rows", UNWIND_MAX_ROWS, &env->unwind_rows))
				return -EINVAL;
			env->unwind_set = true;
			if (env->unwind_rows < 1) {
				error_msg("%s: --unwind-rows must be at least 1", env->name);
				return -EINVAL;
			}
			break;
		case OPT_SAMPLE_BYTES:
			if (parse_uint(optarg, "sample-bytes", SAMPLE_MAX_BYTES, &env->sample_bytes))
				return -EINVAL;
			break;
		case OPT_SCAN:
			if (!strcmp(optarg, "none"))
				env->scan = SCAN_NONE;
			else if (!strcmp(optarg, "end"))
				env->scan = SCAN_END;
			else if (!strcmp(optarg, "each"))
				env->scan = SCAN_EACH;
			else {
				error_msg("%s: --scan is end, each or none, not '%s'", env->name, optarg);
				return -EINVAL;
			}
			break;
		case OPT_SUPPRESSIONS:
			env->suppressions = optarg;
			break;
		case OPT_SCAN_MAX_PAUSE:
			if (parse_uint(optarg, "scan-max-pause", 1ULL << 32, &env->scan_max_pause_ms))
				return -EINVAL;
			break;
		case OPT_STALLS:
			env->stalls = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			cli_print_help(cli, stdout);
			exit(0);
		default:
			bad_option(env->name, '?', argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (check_record_args(env))
		return -EINVAL;
	if (optind < argc)
		env->cmd = &argv[optind];
	if (!env->pid == !env->cmd) {
		error_msg("%s: give either -p PID or -- COMMAND (see memlens %s --help)", env->name,
			  env->name);
		return -EINVAL;
	}
	if ((env->max_allocs && env->max_allocs < 1) || (env->max_stacks && env->max_stacks < 1)) {
		error_msg("map sizes must be at least 1");
		return -EINVAL;
	}
	if (env->show.folded && env->show.json) {
		error_msg("%s: --folded and --json are two outputs: choose one", env->name);
		return -EINVAL;
	}
	if (env->go && (env->show.min_age_s || env->max_allocs)) {
		/* Allocations made, counted by stack: none is outstanding, none has an age. */
		error_msg("allocs: --min-age and --max-allocs are for memlens leaks");
		return -EINVAL;
	}
	if (env->record_mode && env->suppressions) {
		/* LSan's way: a recording is judged when read, by whatever file is given then. */
		error_msg("record: --suppressions is an option of memlens report, "
			  "which applies it to the recording");
		return -EINVAL;
	}
	if (env->go && (env->scan >= 0 || env->scan_max_pause_ms || env->suppressions)) {
		error_msg("%s: --scan, --scan-max-pause and --suppressions are options of memlens leaks",
			  env->name);
		return -EINVAL;
	}
	if (suppressions_add_defaults(&env->supp) ||
	    (env->suppressions && suppressions_load(&env->supp, env->suppressions, env->name)))
		return -EINVAL;
	if (env->scan > SCAN_NONE && env->sample_bytes) {
		/* A block reached only through one not sampled would look lost. */
		error_msg("%s: --scan needs every block: not with --sample-bytes", env->name);
		return -EINVAL;
	}
	if (env->scan < 0)
		env->scan = env->cmd && !env->sample_bytes && !env->go ? SCAN_END : SCAN_NONE;
	if (env->unwind_fp && env->unwind_rows) {
		error_msg("%s: --unwind-rows sizes the tables of --unwind dwarf, not fp", env->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * memlens allocs: a Go program's heap (runtime.mallocgc), found in the
 * file memlens starts or attaches to; else what the program asks of its
 * allocators. Go keeps frame pointers and has its own allocator:
 * --allocator and --unwind* mean nothing there.
 */
static int allocs_source(const struct leaks_env *env, const struct group_source **source)
{
	char path[4096];

	if (env->cmd) {
		if (resolve_command(env->cmd[0], path, sizeof(path)))
			path[0] = '\0';	/* said when it is started */
	} else {
		snprintf(path, sizeof(path), "/proc/%d/exe", env->pid);
	}
	if (!path[0] || !go_binary(path)) {
		*source = &alloc_profile;
		return 0;
	}
	if (env->allocator || env->unwind_set) {
		error_msg("allocs: %s is a Go program: --allocator and --unwind* are for programs "
			  "that malloc", env->cmd ? env->cmd[0] : path);
		return -EINVAL;
	}
	*source = &go_alloc_profile;
	return 0;
}

/* The session, from what the command line asked. */
static int run_leaks(struct leaks_env *env, const struct group_source *source)
{
	struct session_opts o = {
		.pid = env->pid,
		.cmd = env->cmd,
		.source = source,
		.interval_s = env->interval_s,
		.count = env->count,
		.show = &env->show,
		.allocator = env->allocator,
		.output = env->output,
		.max_allocs = env->max_allocs,
		.max_stacks = env->max_stacks,
		.unwind_fp = env->unwind_fp,
		.unwind_rows = env->unwind_rows,
		.sample_bytes = env->sample_bytes,
		.scan = env->scan,
		.scan_max_pause_ns = env->scan_max_pause_ms * 1000000ULL,
		.supp = &env->supp,
		.stalls = env->stalls,
	};
	int err = alloc_session_run(&o);

	suppressions_free(&env->supp);
	return err;
}

int cmd_leaks(int argc, char **argv)
{
	struct leaks_env env = { .interval_s = 5, .show.top = 10, .scan = -1, .name = "leaks" };

	if (parse_args(argc, argv, &env, &leaks_cli))
		return EXIT_USAGE;
	return run_leaks(&env, &outstanding_blocks);
}

int cmd_record(int argc, char **argv)
{
	struct leaks_env env = { .interval_s = 5, .record_mode = true, .scan = -1, .name = "record" };

	if (parse_args(argc, argv, &env, &record_cli))
		return EXIT_USAGE;
	return run_leaks(&env, &outstanding_blocks);
}

/*
 * A profile is for a busy process: sampled by default, every 512 KiB as
 * Go's runtime samples its own (MemProfileRate), for C and Go alike. The
 * trap of each call stays; most calls take no stack.
 */
#define ALLOCS_SAMPLE_BYTES	(512 * 1024)

int cmd_allocs(int argc, char **argv)
{
	struct leaks_env env = { .interval_s = 5, .show.top = 10, .go = true, .scan = -1,
				 .sample_bytes = ALLOCS_SAMPLE_BYTES, .name = "allocs" };

	const struct group_source *source;

	if (parse_args(argc, argv, &env, &allocs_cli) || allocs_source(&env, &source))
		return EXIT_USAGE;
	return run_leaks(&env, source);
}
