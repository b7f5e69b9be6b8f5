/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The command line of each subcommand as one table: getopt_long()'s
 * arrays and the --help text are both made from it, so that the help
 * cannot list an option the parser refuses, nor miss one it takes.
 */
#ifndef MEMLENS_CLI_H
#define MEMLENS_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/*
 * Option keys: a short option is its letter; an option with a long name
 * only has a key from 256 on. The shared groups own 256..511; a command
 * numbers its own long-only options from CLI_CMD_KEYS, which cannot meet
 * a shared key (commands never share a table with each other).
 */
enum {
	CLI_CGROUP = 256,	/* the system-wide views' filters */
	CLI_NO_UPROBES,
	CLI_FOLDED,		/* the rendering options (struct report_opts) */
	CLI_SVG,
	CLI_PPROF,
	CLI_CMD_KEYS = 512,
};

enum {
	/* The same option as the entry before, under another name: same key. */
	CLI_ALIAS = 1 << 0,
	/* Shown on the line of the option before, which gives the help for both. */
	CLI_JOIN = 1 << 1,
	/*
	 * Parsed but not shown: an option of a sibling command, taken only
	 * to tell which command it belongs to (record -t: "an option of
	 * memlens report") instead of calling it unknown.
	 */
	CLI_HIDDEN = 1 << 2,
};

/* One option, in argp's order (libbpf-tools' readers know it). */
struct cli_opt {
	const char *name;	/* long name, without the dashes */
	int key;		/* the short letter, or an id >= 256 */
	const char *arg;	/* the value's name in the help (PID, FILE), NULL: no value */
	unsigned int flags;	/* CLI_ALIAS, CLI_JOIN, CLI_HIDDEN */
	const char *help;	/* lines separated by '\n', no final one */
};

struct cli_cmd {
	const char *name;	/* "leaks": in messages */
	const char *usage;	/* usage lines and description, up to the options */
	const char *epilog;	/* after the options, or NULL */
	bool stop_at_operand;	/* options end at the first operand: -- CMD ARGS */
	/* Tables of options ending with a NULL name, in help order; NULL ends. */
	const struct cli_opt *const *tables;
};

/* Groups that several commands share. */
extern const struct cli_opt cli_view_filters[];	/* -p -c --cgroup -i -n -j */
extern const struct cli_opt cli_no_uprobes[];		/* top, hist */
extern const struct cli_opt cli_verbose_help[];		/* -v -h */
extern const struct cli_opt cli_help[];			/* -h */

#define CLI_MAX_OPTS 48

/* getopt_long()'s view of a command. */
struct cli_parser {
	const struct cli_cmd *cmd;
	struct option longs[CLI_MAX_OPTS + 1];
	char shorts[2 * CLI_MAX_OPTS + 3];
};

/* Visit each option of CMD, in help order: for iterators. */
#define cli_for_each_opt(o, t, cmd) \
	for (const struct cli_opt *const *t = (cmd)->tables; *t; t++) \
		for (const struct cli_opt *o = *t; o->name; o++)

/*
 * Make P's arrays from CMD and reset getopt: -E2BIG if CMD has more than
 * CLI_MAX_OPTS options.
 */
int cli_parser_init(struct cli_parser *p, const struct cli_cmd *cmd);
/*
 * The next option of ARGV, as getopt_long() with OPTARG set: its key, -1
 * after the last. An unknown option or a missing value is reported
 * (bad_option) and gives CLI_BAD.
 */
#define CLI_BAD (-2)
int cli_next(struct cli_parser *p, int argc, char **argv);
/* The long name of KEY in CMD (the first, for an alias), NULL if none. */
const char *cli_key_name(const struct cli_cmd *cmd, int key);
/* The --help text of CMD. */
void cli_print_help(const struct cli_cmd *cmd, FILE *out);
/* --help: CMD's help on stdout, then exit 0, or 1 with one line if it could not be written. */
void cli_help_exit(const struct cli_cmd *cmd) __attribute__((noreturn));

/*
 * The options of CMD for shell completion, one a line: "-p PID", "--pid PID",
 * "--json"; hidden ones left out. Negative errno if OUT fails.
 */
int cli_print_words(const struct cli_cmd *cmd, FILE *out);

/* -p PID of command CMD into *PID: 0, or -EINVAL (said in one line). */
int cli_parse_pid(const char *cmd, const char *arg, int *pid);
/* -n N of command CMD, 1 or more, into *COUNT: 0, or -EINVAL (said in one line). */
int cli_parse_count(const char *cmd, const char *arg, unsigned long long *count);

/*
 * The system-wide views (top, hist, reclaim, kmem): the filters they share
 * (cli_view_filters) and each view's own options.
 */
struct view_opts {
	int pid;			/* -p: 0 = every process */
	const char *comm;		/* -c */
	const char *cgroup;		/* --cgroup: v1 memory cgroup directory */
	double interval_s;
	unsigned long long count;	/* intervals before exiting, 0 = no limit */
	bool json;
	bool no_uprobes;
	bool reclaim;			/* also the reclaim tracer: stalls, page allocations */
	bool cost;			/* time the programs: the view shows what memlens costs */
};

/* What O traces, for the line a view starts with: "all processes", "processes named X"... */
const char *cli_view_target(const struct view_opts *o, char *buf, size_t len);

/* What a view says of itself to cli_parse_view. */
struct view_cmd {
	/* Its options: cli_view_filters and its own. */
	const struct cli_cmd *cli;
	/*
	 * Its own options: 1 if OPT was consumed, 0 to let the common
	 * options have it, negative on a bad value (already reported).
	 */
	int (*parse_opt)(void *env, int opt, const char *arg);
};

/* Parse ARGV: common options into O, the view's own through CMD. */
int cli_parse_view(int argc, char **argv, const struct view_cmd *cmd, struct view_opts *o,
		   void *env);

#endif
