// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* memlens: eBPF memory allocation tracer. Dispatches to one subcommand per job. */
#include <stdio.h>
#include <string.h>
#include "subcommands.h"
#include "util.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "leaks", cmd_leaks, "outstanding allocations of a process, by call stack" },
	{ "allocs", cmd_allocs, "heap allocations of a Go program, by call stack" },
	{ "top", cmd_top, "which processes allocate what, system-wide, live" },
	{ "hist", cmd_hist, "log2 histograms of allocation sizes, mmap sizes, lifetimes" },
	{ "reclaim", cmd_reclaim, "memory pressure: who stalled in reclaim, who caused it, OOM kills" },
	{ "kmem", cmd_kmem, "kernel allocations (slab, kmalloc, pages, vmalloc) by cache and process" },
	{ "record", cmd_record, "a leaks session into a file, to render later with report" },
	{ "report", cmd_report, "render a recording made by record: any leaks view, offline" },
	{ "doctor", cmd_doctor, "what this kernel offers, and how each command runs here" },
};

static void usage(FILE *out)
{
	fputs("Usage: memlens COMMAND [OPTIONS]\n\nCommands:\n", out);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fputs("\nmemlens COMMAND --help tells more; memlens --version prints the version.\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("memlens %s\n", MEMLENS_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	error_msg("unknown command '%s' (see memlens --help)", argv[1]);
	return EXIT_USAGE;
}
