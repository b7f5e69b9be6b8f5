// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command-line tables (user/cli.c): for every command, no two options
 * that collide, a parser that takes each option of the table, and a help
 * that lists each option the parser takes and nothing else.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli.h"
#include "subcommands.h"
#include "unit.h"

static const struct cli_cmd *const commands[] = {
	&leaks_cli, &allocs_cli, &record_cli, &top_cli, &hist_cli, &kmem_cli, &reclaim_cli,
	&report_cli, &doctor_cli,
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static char *help_of(const struct cli_cmd *cmd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	cli_print_help(cmd, f);
	fclose(f);
	return buf;
}

/* Keys are short letters or long-only ids; no two options share a key or a name. */
static void check_keys(const struct cli_cmd *cmd)
{
	cli_for_each_opt(o, t, cmd) {
		bool ok = true;

		CHECK(o->key >= 256 || isalnum(o->key));
		CHECK(o->help || (o->flags & (CLI_HIDDEN | CLI_JOIN)));
		CHECK(!(o->flags & CLI_JOIN) || o != *t);
		cli_for_each_opt(p, u, cmd) {
			if (p == o)
				break;
			if (!strcmp(p->name, o->name))
				ok = false;
			/* An alias shares the key of the option before it, by design. */
			if (p->key == o->key && !(o->flags & CLI_ALIAS))
				ok = false;
		}
		if (!ok)
			fprintf(stderr, "%s: --%s collides with an option before it\n", cmd->name,
				o->name);
		CHECK(ok);
	}
}

/* ARGV as the command sees it: "--name [VALUE]" or "-k [VALUE]". */
static int parse_one(const struct cli_cmd *cmd, const struct cli_opt *o, bool as_short)
{
	char name[64], *argv[4] = { (char *)cmd->name, name, "VALUE", NULL };
	int argc = o->arg ? 3 : 2, key, end;
	struct cli_parser p;

	if (as_short)
		snprintf(name, sizeof(name), "-%c", o->key);
	else
		snprintf(name, sizeof(name), "--%s", o->name);
	if (cli_parser_init(&p, cmd))
		return -1;
	key = cli_next(&p, argc, argv);
	if (o->arg && (!optarg || strcmp(optarg, "VALUE")))
		return -1;
	end = cli_next(&p, argc, argv);
	return end == -1 && optind == argc ? key : -1;
}

/* The parser getopt_long() is given takes every option of the table, by both names. */
static void check_parser(const struct cli_cmd *cmd)
{
	struct cli_parser p;

	CHECK(cli_parser_init(&p, cmd) == 0);
	CHECK(p.shorts[0] == (cmd->stop_at_operand ? '+' : ':'));
	cli_for_each_opt(o, t, cmd) {
		int want = o->key;

		/* An alias answers with the key of the option it names. */
		CHECK_U64(parse_one(cmd, o, false), want);
		if (o->key < 256 && !(o->flags & CLI_ALIAS))
			CHECK_U64(parse_one(cmd, o, true), want);
	}
}

/*
 * The option lines of HELP, one by one: LINE and END bound the line, COL
 * ends its option column (two spaces, or the line's end). False after the
 * last.
 */
static bool next_option_line(const char **line, const char **end, const char **col)
{
	while (**line) {
		const char *l = *line;

		*end = strchr(l, '\n');
		if (!*end)
			*end = l + strlen(l);
		*line = **end ? *end + 1 : *end;
		if (strncmp(l, "  -", 3) && strncmp(l, "      --", 8))
			continue;
		*col = strstr(l + strspn(l, " "), "  ");
		if (!*col || *col > *end)
			*col = *end;
		*line = l;
		return true;
	}
	return false;
}

/* Is "--NAME" in the option column of one of HELP's option lines? */
static bool help_lists(const char *help, const char *name)
{
	const char *line = help, *end, *col;
	char want[64];
	size_t n;

	n = snprintf(want, sizeof(want), "--%s", name);
	for (; next_option_line(&line, &end, &col); line = *end ? end + 1 : end)
		for (const char *s = line; s + n <= col; s++)
			if (!strncmp(s, want, n) && (s + n == col || strchr(" ,", s[n])))
				return true;
	return false;
}

/*
 * Every name in HELP's option columns is an option of CMD the parser
 * takes, and shown; the help of each line starts at column 24.
 */
static void check_help_lines(const struct cli_cmd *cmd, const char *help)
{
	const char *line = help, *end, *col;
	char name[64];

	for (; next_option_line(&line, &end, &col); line = *end ? end + 1 : end) {
		const char *text = col + strspn(col, " ");

		if (text < end)
			CHECK_U64(text - line, 24);
		for (const char *d = line; (d = strstr(d, "--")) && d < col; d += 2) {
			const struct cli_opt *found = NULL;
			size_t n = strspn(d + 2, "abcdefghijklmnopqrstuvwxyz-");

			snprintf(name, sizeof(name), "%.*s", (int)n, d + 2);
			cli_for_each_opt(o, t, cmd)
				if (!strcmp(o->name, name))
					found = o;
			if (!found || (found->flags & CLI_HIDDEN))
				fprintf(stderr, "%s --help lists --%s, not an option\n", cmd->name, name);
			CHECK(found && !(found->flags & CLI_HIDDEN));
		}
	}
}

/* Every option shown is in the help, the short letter beside it; no hidden one is. */
static void check_help(const struct cli_cmd *cmd)
{
	char *help = help_of(cmd), want[80];

	CHECK(help != NULL);
	if (!help)
		return;
	CHECK(!strncmp(help, "Usage: memlens ", 15));
	cli_for_each_opt(o, t, cmd) {
		bool shown = !(o->flags & CLI_HIDDEN);

		if (help_lists(help, o->name) != shown)
			fprintf(stderr, "%s --help: --%s %s\n", cmd->name, o->name,
				shown ? "missing" : "shown though hidden");
		CHECK(help_lists(help, o->name) == shown);
		if (!shown || o->key >= 256)
			continue;
		snprintf(want, sizeof(want), "\n  -%c, --%s%s", o->key, o->name, o->arg ? " " : "");
		CHECK(strstr(help, want) != NULL);
	}
	check_help_lines(cmd, help);
	free(help);
}

/* The parse of a real command line, as each command gives it. */
static void test_cli_samples(void)
{
	char *leaks[] = { "leaks", "-j", "--sample-bytes", "4096", "--libc", "/lib/libc.so.6",
			  "-i1", "--", "sleep", "-p", "1", NULL };
	char *top[] = { "top", "--no-uprobes", "-p", "42", "--prom=9100", "-s", "rss", "-jn", "3",
			NULL };
	char *report[] = { "report", "rec.mlr", "--timeline", "-a", "2", NULL };
	const char *last_arg = NULL;
	int keys[8], nr = 0, key;
	struct cli_parser p;

	CHECK(cli_parser_init(&p, &leaks_cli) == 0);
	while ((key = cli_next(&p, 11, leaks)) != -1 && nr < 8)
		keys[nr++] = key;
	CHECK_U64(nr, 4);
	CHECK(keys[0] == 'j' && keys[3] == 'i');
	CHECK_STR(cli_key_name(&leaks_cli, keys[1]), "sample-bytes");
	CHECK_STR(cli_key_name(&leaks_cli, keys[2]), "allocator");
	/* Options end at "--": what follows is the command, its -p its own. */
	CHECK_STR(leaks[optind], "sleep");

	nr = 0;
	CHECK(cli_parser_init(&p, &top_cli) == 0);
	while ((key = cli_next(&p, 9, top)) != -1 && nr < 8) {
		keys[nr++] = key;
		last_arg = optarg;
	}
	CHECK_U64(nr, 6);
	CHECK(keys[0] == CLI_NO_UPROBES && keys[1] == 'p' && keys[3] == 's' && keys[4] == 'j' &&
	      keys[5] == 'n');
	CHECK_STR(cli_key_name(&top_cli, keys[2]), "prom");
	CHECK_STR(last_arg, "3");

	/* Without '+', options after the operand count: getopt_long() moves it last. */
	nr = 0;
	CHECK(cli_parser_init(&p, &report_cli) == 0);
	while ((key = cli_next(&p, 5, report)) != -1 && nr < 8)
		keys[nr++] = key;
	CHECK(nr == 2 && keys[0] == 'T' && keys[1] == 'a');
	CHECK(optind == 4 && !strcmp(report[optind], "rec.mlr"));

	CHECK(cli_key_name(&record_cli, 't') && !strcmp(cli_key_name(&record_cli, 't'), "top"));
	CHECK(cli_key_name(&doctor_cli, 'j') == NULL);
}

/* Unknown options and missing values: CLI_BAD, reported once. */
static void test_cli_bad(void)
{
	char *unknown[] = { "kmem", "--no-uprobes", NULL };
	char *missing[] = { "hist", "-t", NULL };
	struct cli_parser p;
	int saved = dup(2), null = open("/dev/null", O_WRONLY);

	/* The messages are bad_option()'s, tested end to end: keep them off the output. */
	if (null >= 0)
		dup2(null, 2);
	CHECK(cli_parser_init(&p, &kmem_cli) == 0);
	CHECK(cli_next(&p, 2, unknown) == CLI_BAD);
	CHECK(cli_parser_init(&p, &hist_cli) == 0);
	CHECK(cli_next(&p, 2, missing) == CLI_BAD);
	if (saved >= 0) {
		dup2(saved, 2);
		close(saved);
	}
	if (null >= 0)
		close(null);
}

/*
 * record and allocs are leaks's siblings: every option leaks shows is
 * known to each, shown or hidden, so that a leaks option given to them
 * is told where it belongs, never called unknown.
 */
static void check_siblings(void)
{
	const struct cli_cmd *siblings[] = { &record_cli, &allocs_cli };

	cli_for_each_opt(o, t, &leaks_cli) {
		if (o->flags & CLI_HIDDEN)
			continue;
		for (size_t i = 0; i < sizeof(siblings) / sizeof(siblings[0]); i++) {
			bool known = false;

			cli_for_each_opt(s, u, siblings[i])
				known |= !strcmp(s->name, o->name);
			if (!known)
				fprintf(stderr, "%s does not know leaks's --%s\n",
					siblings[i]->name, o->name);
			CHECK(known);
		}
	}
}

void test_cli(void)
{
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		check_keys(commands[i]);
		check_parser(commands[i]);
		check_help(commands[i]);
	}
	check_siblings();
	test_cli_samples();
	test_cli_bad();
}
