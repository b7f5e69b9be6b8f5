// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Command-line tables: getopt_long()'s arrays and the --help option lines,
 * both made from one struct cli_opt table per command, and the groups of
 * options several commands share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "output.h"
#include "util.h"

/* The help text starts at this column; wider option columns go on a line of their own. */
#define HELP_COLUMN 24

const struct cli_opt cli_view_filters[] = {
	{ "pid", 'p', "PID", 0, "only this process" },
	{ "comm", 'c', "COMM", 0, "only processes with this command name" },
	{ "cgroup", CLI_CGROUP, "PATH", 0,
	  "only tasks in this v1 memory cgroup (a directory\n"
	  "under /sys/fs/cgroup/memory, or a path relative to it)" },
	{ "interval", 'i', "SECS", 0, "seconds between updates" },
	{ "count", 'n', "N", 0, "stop after N updates" },
	{ "json", 'j', NULL, 0, "JSON lines instead of tables" },
	{},
};

const struct cli_opt cli_no_uprobes[] = {
	{ "no-uprobes", CLI_NO_UPROBES, NULL, 0,
	  "syscalls, faults and rss only: no allocator hooks,\n"
	  "negligible overhead" },
	{},
};

const struct cli_opt cli_verbose_help[] = {
	{ "verbose", 'v', NULL, 0, "debug messages, libbpf warnings" },
	{ "help", 'h', NULL, 0, "this help" },
	{},
};

const struct cli_opt cli_help[] = {
	{ "help", 'h', NULL, 0, "this help" },
	{},
};

static bool has_short(int key)
{
	return key > 0 && key < 256;
}

int cli_parser_init(struct cli_parser *p, const struct cli_cmd *cmd)
{
	size_t nr = 0, len = 0;

	memset(p, 0, sizeof(*p));
	p->cmd = cmd;
	if (cmd->stop_at_operand)
		p->shorts[len++] = '+';
	/* Missing values as ':', apart from unknown options. */
	p->shorts[len++] = ':';
	cli_for_each_opt(o, t, cmd) {
		if (nr == CLI_MAX_OPTS)
			return -E2BIG;
		p->longs[nr++] = (struct option){
			.name = o->name,
			.has_arg = o->arg ? required_argument : no_argument,
			.val = o->key,
		};
		if (!has_short(o->key) || (o->flags & CLI_ALIAS))
			continue;
		p->shorts[len++] = o->key;
		if (o->arg)
			p->shorts[len++] = ':';
	}
	/* 0, not 1: glibc forgets an earlier parse's state (the unit tests parse many). */
	optind = 0;
	opterr = 0;
	return 0;
}

/* ARG is "--NAME" or "--NAME=VALUE", NAME (or a prefix getopt takes for it) an option of KEY. */
static bool is_long_of(const struct cli_parser *p, const char *arg, int key)
{
	size_t len;

	if (strncmp(arg, "--", 2))
		return false;
	arg += 2;
	len = strcspn(arg, "=");
	for (const struct option *o = p->longs; o->name; o++)
		if (o->val == key && !strncmp(o->name, arg, len))
			return true;
	return false;
}

int cli_next(struct cli_parser *p, int argc, char **argv)
{
	int opt = getopt_long(argc, argv, p->shorts, p->longs, NULL);
	const char *arg;
	char letter[3];

	if (opt != '?' && opt != ':')
		return opt;
	/*
	 * getopt_long() sets optopt to the letter of a short option, and to
	 * the key of a long one that takes no value or lacks one, 0 if it
	 * knows no such long option. A short option is named by its letter:
	 * inside a cluster ("-xj"), argv[optind - 1] is the word before it.
	 */
	arg = argv[optind - 1];
	if (optopt > 0 && optopt < 256 && !is_long_of(p, arg, optopt)) {
		snprintf(letter, sizeof(letter), "-%c", optopt);
		arg = letter;
	}
	bad_option(p->cmd->name, opt, arg);
	return CLI_BAD;
}

const char *cli_key_name(const struct cli_cmd *cmd, int key)
{
	cli_for_each_opt(o, t, cmd)
		if (o->key == key)
			return o->name;
	return NULL;
}

/* "-p, --pid PID" or "--cgroup PATH": how O is written in the option column. */
static int print_names(FILE *out, const struct cli_opt *o)
{
	int n = 0;

	if (has_short(o->key))
		n += fprintf(out, "-%c, ", o->key);
	n += fprintf(out, "--%s", o->name);
	if (o->arg)
		n += fprintf(out, " %s", o->arg);
	return n;
}

/* The lines of HELP, the first from column COL on, the others indented to HELP_COLUMN. */
static void print_option_help(FILE *out, int col, const char *help)
{
	if (col > HELP_COLUMN - 2) {
		fputc('\n', out);
		col = 0;
	}
	fprintf(out, "%*s", HELP_COLUMN - col, "");
	for (const char *s = help; *s; s++) {
		fputc(*s, out);
		if (*s == '\n')
			fprintf(out, "%*s", HELP_COLUMN, "");
	}
	fputc('\n', out);
}

/* O and the CLI_JOIN options after it, on one line, then their help. */
static void print_option(FILE *out, const struct cli_opt *o)
{
	int col = fprintf(out, has_short(o->key) ? "  " : "      ");

	col += print_names(out, o);
	for (const struct cli_opt *j = o + 1; j->name && (j->flags & CLI_JOIN); j++) {
		col += fprintf(out, ", ");
		col += print_names(out, j);
	}
	print_option_help(out, col, o->help ? o->help : "");
}

void cli_print_help(const struct cli_cmd *cmd, FILE *out)
{
	fputs(cmd->usage, out);
	cli_for_each_opt(o, t, cmd)
		if (!(o->flags & (CLI_HIDDEN | CLI_JOIN)))
			print_option(out, o);
	if (cmd->epilog)
		fputs(cmd->epilog, out);
}

void cli_help_exit(const struct cli_cmd *cmd)
{
	cli_print_help(cmd, stdout);
	/* A full disk or a reader gone: said, and not a success. */
	exit(output_check(stdout, "stdout") ? 1 : 0);
}

static void print_word(FILE *out, const char *dashes, const char *name, const char *arg)
{
	fprintf(out, "%s%s%s%s\n", dashes, name, arg ? " " : "", arg ? arg : "");
}

int cli_print_words(const struct cli_cmd *cmd, FILE *out)
{
	cli_for_each_opt(o, t, cmd) {
		if (o->flags & CLI_HIDDEN)
			continue;
		/* An alias shares its key, not its letter (cli_parser_init). */
		if (has_short(o->key) && !(o->flags & CLI_ALIAS))
			print_word(out, "-", (char[]){ o->key, 0 }, o->arg);
		print_word(out, "--", o->name, o->arg);
	}
	if (fflush(out))
		return -errno;
	return ferror(out) ? -EIO : 0;
}

int cli_parse_pid(const char *cmd, const char *arg, int *pid)
{
	unsigned long long v;

	if (parse_uint(arg, "pid", 0x3fffffff, &v))
		return -EINVAL;
	if (!v) {
		error_msg("%s: -p 0 is not a process id", cmd);
		return -EINVAL;
	}
	*pid = v;
	return 0;
}

int cli_parse_count(const char *cmd, const char *arg, unsigned long long *count)
{
	if (parse_uint(arg, "count", 1ULL << 32, count))
		return -EINVAL;
	if (!*count) {
		error_msg("%s: -n 0 is no count: give 1 or more (without -n it runs until Ctrl-C)",
			  cmd);
		return -EINVAL;
	}
	return 0;
}

/*
 * Handle OPT if it is a common option: 1 if handled, 0 if not, negative
 * on a bad value (already reported).
 */
static int view_parse_opt(const char *name, struct view_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'p':
		if (cli_parse_pid(name, arg, &o->pid))
			return -EINVAL;
		return 1;
	case 'c':
		if (strlen(arg) >= 16 || !*arg) {
			error_msg("invalid comm '%s': a command name has 1 to 15 characters", arg);
			return -EINVAL;
		}
		o->comm = arg;
		return 1;
	case CLI_CGROUP:
		o->cgroup = arg;
		return 1;
	case 'i':
		return parse_interval(arg, &o->interval_s) ? -EINVAL : 1;
	case 'n':
		return cli_parse_count(name, arg, &o->count) ? -EINVAL : 1;
	case 'j':
		o->json = true;
		return 1;
	case CLI_NO_UPROBES:
		o->no_uprobes = true;
		return 1;
	case 'v':
		verbose = true;
		return 1;
	}
	return 0;
}

int cli_parse_view(int argc, char **argv, const struct view_cmd *cmd, struct view_opts *o,
		   void *env)
{
	const char *name = cmd->cli->name;
	struct cli_parser p;
	int opt, handled;

	if (cli_parser_init(&p, cmd->cli))
		return -E2BIG;
	while ((opt = cli_next(&p, argc, argv)) != -1) {
		if (opt == CLI_BAD)
			return -EINVAL;
		if (opt == 'h')
			cli_help_exit(cmd->cli);
		handled = cmd->parse_opt(env, opt, optarg);
		if (!handled)
			handled = view_parse_opt(name, o, opt, optarg);
		if (handled < 0)
			return -EINVAL;
		if (!handled) {
			bad_option(name, '?', argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		error_msg("%s: unexpected argument '%s' (see memlens %s --help)", name,
			  argv[optind], name);
		return -EINVAL;
	}
	return 0;
}

const char *cli_view_target(const struct view_opts *o, char *buf, size_t len)
{
	if (o->pid)
		snprintf(buf, len, "one process");
	else if (o->comm && o->cgroup)
		snprintf(buf, len, "processes named %s in cgroup %s", o->comm, o->cgroup);
	else if (o->comm)
		snprintf(buf, len, "processes named %s", o->comm);
	else if (o->cgroup)
		snprintf(buf, len, "the tasks of cgroup %s", o->cgroup);
	else
		snprintf(buf, len, "all processes");
	return buf;
}
