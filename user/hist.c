// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens hist: per-process log2 histograms of allocation sizes, anonymous
 * mmap sizes and allocation lifetimes (allocation to free), printed every
 * interval or once at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc_stats.h"
#include "cli.h"
#include "hist_print.h"
#include "output.h"
#include "proctable.h"
#include "subcommands.h"
#include "sysview.h"
#include "util.h"

struct hist_env {
	struct view_opts o;
	bool periodic;			/* -i given: every interval, not once at the end */
	unsigned long long top;		/* processes shown, by allocation count */
};

static const char hist_usage[] =
"Usage: memlens hist [OPTIONS]\n"
"\n"
"Per-process log2 histograms of allocation sizes (bytes), anonymous mmap\n"
"sizes (bytes) and allocation lifetimes (microseconds from allocation to\n"
"free), counted since memlens started. Printed at Ctrl-C, after -n\n"
"intervals, or every interval with -i.\n"
"\n";

static const struct cli_opt hist_opts[] = {
	{ "top", 't', "N", 0, "the N processes with most allocations (default 10, 0 = all)" },
	{},
};

const struct cli_cmd hist_cli = {
	.name = "hist",
	.usage = hist_usage,
	.tables = (const struct cli_opt *const[]){
		cli_view_filters, cli_no_uprobes, cli_verbose_help, hist_opts, NULL,
	},
};

static int parse_hist_opt(void *ctx, int opt, const char *arg)
{
	struct hist_env *env = ctx;

	switch (opt) {
	case 'i':
		env->periodic = true;
		return 0;	/* the interval itself is a common option */
	case 't':
		return parse_uint(arg, "top", 1 << 20, &env->top) ? -EINVAL : 1;
	}
	return 0;
}

static const struct view_cmd hist_cmd = {
	.cli = &hist_cli,
	.parse_opt = parse_hist_opt,
};

static const struct {
	const char *name;
	const char *title;
	const char *unit;
} kinds[HIST_NR] = {
	[HIST_ALLOC_SIZE] = { "alloc_size", "allocation sizes", "bytes" },
	[HIST_MMAP_SIZE] = { "mmap_size", "anonymous mmap sizes", "bytes" },
	[HIST_LIFETIME] = { "lifetime", "allocation lifetimes", "usecs" },
};

static void print_process(const struct hist_env *env, struct sysview *v,
			  const struct proc_row *r)
{
	struct hist h;

	for (int k = 0; k < HIST_NR; k++) {
		if (!sysview_hist(v, r->tgid, k, &h) || !hist_total(&h))
			continue;
		if (env->o.json) {
			printf("{\"type\":\"hist\",\"pid\":%u,\"comm\":", r->tgid);
			json_print_string(stdout, r->comm);
			printf(",\"exited\":%s,\"kind\":\"%s\",\"unit\":\"%s\",",
			       r->exited ? "true" : "false", kinds[k].name, kinds[k].unit);
			hist_print_json(stdout, &h);
			fputs("}\n", stdout);
		} else {
			printf("pid %u (%s)%s: %s\n", r->tgid, r->comm,
			       r->exited ? " (exited)" : "", kinds[k].title);
			hist_print_text(stdout, &h, kinds[k].unit);
			putchar('\n');
		}
	}
}

/* Never silent: what the histograms could not count. */
static void print_losses(const struct hist_env *env, struct sysview *v)
{
	uint64_t stats[STAT_NR], bpf_ns, lost;

	sysview_stats(v, stats, &bpf_ns);
	lost = alloc_stats_lost(stats);
	if (env->o.json) {
		fputs("{\"type\":\"memlens\",\"lost\":{", stdout);
		alloc_stats_print_lost_json(stdout, stats);
		fputs("}}\n", stdout);
	} else if (lost) {
		printf("LOST: %" PRIu64 " calls or events not counted (full maps, the ring buffer, "
		       "operator news not followed; see --json)\n", lost);
	}
}

static int print_hists(const struct hist_env *env, struct sysview *v, struct proc_row **prev,
		       size_t *nr_prev)
{
	struct proc_sample *samples;
	struct proc_row *rows;
	size_t nr, shown;
	int err;

	err = sysview_sample(v, &samples, &nr);
	if (err)
		return err;
	err = proctable_build(samples, nr, *prev, *nr_prev, sysview_comm_of, v, &rows);
	free(samples);
	if (err)
		return err;
	for (size_t i = 0; i < nr; i++)
		rows[i].exited = sysview_exited(v, rows[i].tgid);
	/* Most allocations first: the totals, not the last interval's. */
	for (size_t i = 0; i < nr; i++)
		rows[i].delta = rows[i].total;
	proctable_sort(rows, nr, SORT_ALLOCS);
	shown = env->top && env->top < nr ? env->top : nr;
	for (size_t i = 0; i < shown; i++)
		print_process(env, v, &rows[i]);
	print_losses(env, v);
	output_check(stdout, "stdout");
	sysview_forget_exited(v);
	proctable_sort(rows, nr, SORT_PID);
	free(*prev);
	*prev = rows;
	*nr_prev = nr;
	return 0;
}

int cmd_hist(int argc, char **argv)
{
	struct hist_env env = { .o.interval_s = 1, .top = 10 };
	unsigned long long intervals = 0;
	struct proc_row *prev = NULL;
	size_t nr_prev = 0;
	struct sysview *v;
	char target[512];
	uint64_t next;
	int err = 0;

	if (cli_parse_view(argc, argv, &hist_cmd, &env.o, &env))
		return EXIT_USAGE;
	ignore_sigpipe();
	if (sysview_open(&env.o, &v))
		return 1;
	info_msg("tracing %s%s; Ctrl-C to print", cli_view_target(&env.o, target, sizeof(target)),
		 env.o.no_uprobes ? " without uprobes" : "");
	next = monotonic_ns() + env.o.interval_s * 1e9;
	while (!stop_requested() && !sysview_target_gone(v)) {
		uint64_t now = monotonic_ns();
		int timeout = now >= next ? 0 : (next - now + 999999) / 1000000;

		err = sysview_poll(v, timeout, false);
		if (err < 0)
			break;
		err = 0;
		if (monotonic_ns() < next)
			continue;
		next += env.o.interval_s * 1e9;
		if (next < monotonic_ns())
			next = monotonic_ns() + env.o.interval_s * 1e9;
		intervals++;
		if (env.o.count && intervals >= env.o.count)
			break;
		if (env.periodic) {
			err = print_hists(&env, v, &prev, &nr_prev) ?: output_check(stdout, "stdout");
			if (err)
				break;
		}
	}
	if (!err)
		err = print_hists(&env, v, &prev, &nr_prev) ?: output_check(stdout, "stdout");
	if (err < 0 && !output_failed())
		error_msg("hist: %s", strerror(-err));
	free(prev);
	sysview_close(v);
	return err < 0 || output_failed() ? 1 : 0;
}
