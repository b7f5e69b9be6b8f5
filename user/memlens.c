// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* memlens: eBPF memory allocation tracer. Dispatches to one subcommand per job. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "output.h"
#include "subcommands.h"
#include "util.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const struct cli_cmd *cli;
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "leaks", cmd_leaks, &leaks_cli, "outstanding allocations of a process, by call stack" },
	{ "allocs", cmd_allocs, &allocs_cli, "allocations a process makes (C, C++, Rust, Go), by call stack" },
	{ "top", cmd_top, &top_cli, "which processes allocate what, system-wide, live" },
	{ "hist", cmd_hist, &hist_cli, "log2 histograms of allocation sizes, mmap sizes, lifetimes" },
	{ "reclaim", cmd_reclaim, &reclaim_cli, "memory pressure: who stalled in reclaim, who caused it, OOM kills" },
	{ "kmem", cmd_kmem, &kmem_cli, "kernel allocations (slab, kmalloc, pages, vmalloc) by cache and process" },
	{ "record", cmd_record, &record_cli, "a leaks session into a file, to render later with report" },
	{ "report", cmd_report, &report_cli, "render a recording made by record: any leaks view, offline" },
	{ "doctor", cmd_doctor, &doctor_cli, "what this kernel offers, and how each command runs here" },
};

static void usage(FILE *out)
{
	fputs("Usage: memlens COMMAND [OPTIONS]\n\nCommands:\n", out);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\nmemlens COMMAND --help tells more; memlens --version prints the version.\n", out);
}

/* 1 after saying what ERR lost of NAME, 0 without an error. */
static int output_lost_if(const char *name, int err)
{
	return err ? (output_lost(name, err), 1) : 0;
}

/*
 * memlens --complete [COMMAND]: the words shell completion offers, read
 * from the tables the parsers use, so that the completion cannot drift
 * from them: the commands, or COMMAND's options one a line with the name
 * of their value ("-p PID", "--json"). Not in --help: it is for scripts.
 */
static int complete(const char *cmd)
{
	const size_t nr = sizeof(subcommands) / sizeof(subcommands[0]);

	for (size_t i = 0; i < nr; i++) {
		if (!cmd)
			puts(subcommands[i].name);
		else if (!strcmp(cmd, subcommands[i].name))
			return output_lost_if("stdout", cli_print_words(subcommands[i].cli, stdout));
	}
	/* A full disk or a reader gone: said, and not a success. */
	if (!cmd)
		return output_check(stdout, "stdout") ? 1 : 0;
	error_msg("unknown command '%s' (see memlens --help)", cmd);
	return EXIT_USAGE;
}

/*
 * The switches memlens takes from the environment (doc/memlens.md), each
 * with the one value it knows: another is a typo, not a silent default.
 */
static const struct {
	const char *name;
	const char *value;
} env_switches[] = {
	{ "MEMLENS_CXX_HOOKS", "all" },
	{ "MEMLENS_PROBES", "entry" },
};

static bool env_switches_valid(void)
{
	for (size_t i = 0; i < sizeof(env_switches) / sizeof(env_switches[0]); i++) {
		const char *v = getenv(env_switches[i].name);

		if (v && *v && strcmp(v, env_switches[i].value)) {
			error_msg("invalid %s '%s': the one value it takes is '%s'",
				  env_switches[i].name, v, env_switches[i].value);
			return false;
		}
	}
	return true;
}

int main(int argc, char **argv)
{
	process_setup();
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return output_check(stdout, "stdout") ? 1 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("memlens %s\n", MEMLENS_VERSION);
		return output_check(stdout, "stdout") ? 1 : 0;
	}
	if (!strcmp(argv[1], "--complete") && argc <= 3)
		return complete(argv[2]);
	if (!env_switches_valid())
		return EXIT_USAGE;
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	error_msg("unknown command '%s' (see memlens --help)", argv[1]);
	return EXIT_USAGE;
}
