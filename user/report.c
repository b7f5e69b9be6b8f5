// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens report: renders a recording made by `memlens record`, offline,
 * in any of the views `memlens leaks` has, and as a timeline of growth.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "output.h"
#include "reach_report.h"
#include "recfile.h"
#include "stack_report.h"
#include "stall_report.h"
#include "subcommands.h"
#include "suppress.h"
#include "util.h"

struct report_env {
	const char *path;
	unsigned long long snapshot;	/* 1-based, 0 = the last */
	bool all;
	bool timeline;
	bool partial;		/* read what a killed record left */
	bool stalls;		/* the reclaim stalls by stack (record --stalls) */
	const char *suppressions;	/* --suppressions FILE */
	struct suppressions supp;	/* the default list and FILE's */
	struct report_opts show;
};

static const char report_usage[] =
"Usage: memlens report [OPTIONS] FILE\n"
"\n"
"Render a recording made by `memlens record`: the outstanding allocations by\n"
"call stack, as `memlens leaks` shows them live. By default the last snapshot\n"
"(at exit or Ctrl-C).\n"
"\n";

enum { OPT_SUPPRESSIONS = CLI_CMD_KEYS };

static const struct cli_opt report_opts[] = {
	{ "snapshot", 's', "N", 0, "the N-th snapshot instead (1 = the first)" },
	{ "all", 'A', NULL, 0, "every snapshot, in order" },
	{ "timeline", 'T', NULL, 0,
	  "one line a snapshot: outstanding bytes, allocations and\n"
	  "stacks over time, and the growth since the one before" },
	{ "partial", 'P', NULL, 0,
	  "read a recording cut short (memlens record was\n"
	  "killed): the snapshots written whole" },
	{ "stalls", 'S', NULL, 0,
	  "the process's reclaim stalls by user and kernel stack\n"
	  "instead (record --stalls), in any of these outputs" },
	{ "suppressions", OPT_SUPPRESSIONS, "FILE", 0,
	  "lost blocks of a recorded scan (record --scan) whose\n"
	  "stack matches a line leak:PATTERN of FILE are counted\n"
	  "as suppressed, as those of memlens's default list are" },
	{ "top", 't', "N", 0, "show the N stacks with most bytes (default 10, 0 = all)" },
	{ "min-age", 'a', "SECS", 0,
	  "only count allocations older than SECS at the snapshot\n"
	  "(in reports; the timeline counts every block)" },
	{ "json", 'j', NULL, 0, "one JSON object per report (or per timeline line)" },
	{ "folded", CLI_FOLDED, NULL, 0, "folded stacks of the snapshot, for flamegraph.pl" },
	{ "svg", CLI_SVG, "FILE", 0, "an interactive flame graph of the snapshot in FILE" },
	{ "pprof", CLI_PPROF, "FILE", 0, "a pprof heap profile of the snapshot in FILE" },
	{},
};

const struct cli_cmd report_cli = {
	.name = "report",
	.usage = report_usage,
	.tables = (const struct cli_opt *const[]){ report_opts, cli_help, NULL },
};

static int check_args(const struct report_env *env)
{
	int outputs = env->show.json + env->show.folded + env->timeline;

	if (!env->path) {
		error_msg("report: give the recording to render (see memlens report --help)");
		return -EINVAL;
	}
	if (env->all && env->snapshot) {
		error_msg("report: --all and --snapshot: choose one");
		return -EINVAL;
	}
	if (outputs > 1 && !(env->timeline && env->show.json && !env->show.folded)) {
		error_msg("report: --folded, --json and --timeline are different outputs: choose one");
		return -EINVAL;
	}
	if (env->timeline && (env->show.svg || env->show.pprof)) {
		error_msg("report: --svg and --pprof render a snapshot, not --timeline");
		return -EINVAL;
	}
	if (report_check_outputs("report", env->show.svg, env->show.pprof, env->path))
		return -EINVAL;
	if (env->stalls && (env->all || env->snapshot || env->timeline || env->show.min_age_s)) {
		error_msg("report: --stalls are the recording's stalls, not a snapshot's");
		return -EINVAL;
	}
	if (env->all && (env->show.folded || env->show.svg || env->show.pprof)) {
		error_msg("report: --folded, --svg and --pprof render one snapshot, not --all");
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct report_env *env)
{
	struct cli_parser p;
	int opt, err;

	if (cli_parser_init(&p, &report_cli))
		return -E2BIG;
	while ((opt = cli_next(&p, argc, argv)) != -1) {
		if (opt == CLI_BAD)
			return -EINVAL;
		err = report_opts_parse(&env->show, opt, optarg);
		if (err < 0)
			return err;
		if (err)
			continue;
		switch (opt) {
		case 's':
			if (parse_uint(optarg, "snapshot", 1ULL << 32, &env->snapshot))
				return -EINVAL;
			if (!env->snapshot) {
				error_msg("report: snapshots are numbered from 1");
				return -EINVAL;
			}
			break;
		case 'A':
			env->all = true;
			break;
		case 'T':
			env->timeline = true;
			break;
		case 'P':
			env->partial = true;
			break;
		case 'S':
			env->stalls = true;
			break;
		case OPT_SUPPRESSIONS:
			env->suppressions = optarg;
			break;
		case 'h':
			cli_help_exit(&report_cli);
		default:
			bad_option("report", opt, argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc)
		env->path = argv[optind++];
	if (optind < argc) {
		error_msg("report: one recording at a time ('%s' is one too many)", argv[optind]);
		return -EINVAL;
	}
	if (check_args(env))
		return -EINVAL;
	if (suppressions_add_defaults(&env->supp) ||
	    (env->suppressions && suppressions_load(&env->supp, env->suppressions, "report")))
		return -EINVAL;
	return 0;
}

struct render {
	const struct report_env *env;
	const struct recording *rec;
	size_t first, last;	/* the snapshots to render, 0-based, inclusive */
	/* --timeline: the snapshot before, for growth, and the first one's stacks */
	uint64_t prev_bytes;
	struct stack_group *base;
	size_t nr_base;
};

/* What a stack gained from the first snapshot of the timeline to the last. */
struct stack_growth {
	uint64_t stack_id;
	int64_t bytes, count;
};

static const struct sym_stack *recorded_stack(void *ctx, uint64_t id)
{
	const struct render *rd = ctx;

	return recording_stack(rd->rec, id);
}

static void print_session(const struct recording *rec)
{
	const struct rec_session *s = recording_session(rec);
	time_t start = s->start_wall_ns / 1000000000;
	char when[32];
	struct tm tm;

	if (!gmtime_r(&start, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(when, sizeof(when), "?");
	printf("recording of pid %u (", s->pid);
	print_clean(stdout, s->comm);
	putchar(')');
	if (*s->command) {
		fputs(" \"", stdout);
		print_clean(stdout, s->command);
		putchar('"');
	}
	fputs(" on ", stdout);
	print_clean(stdout, s->hostname);
	fputs(", Linux ", stdout);
	print_clean(stdout, s->kernel);
	printf(", from %s: %zu snapshot%s, every %.1fs (memlens ", when,
	       recording_nr_snapshots(rec), recording_nr_snapshots(rec) == 1 ? "" : "s",
	       s->interval_ns / 1e9);
	print_clean(stdout, s->version);
	puts(")");
}

/*
 * The snapshot in V as the live session's report, grouped anew (--min-age,
 * --top); a recorded scan's lost blocks suppressed by the list given now.
 */
static int build_report(struct render *rd, const struct rec_view *v, struct stack_report *r)
{
	const struct rec_snapshot *snap = v->snap;

	*r = (struct stack_report){
		.pid = recording_session(rd->rec)->pid,
		.comm = snap->comm,
		.now_ns = snap->mono_ns,
		.wall_time = snap->wall_ns / 1000000000,
		.exited = snap->exited,
		.exit_code = snap->exit_code,
		.top = rd->env->show.top,
		.sample_bytes = recording_session(rd->rec)->sample_bytes,
		.threads_tracked = snap->threads_tracked,
		.stack = recorded_stack,
		.ctx = rd,
		.scan = v->scan,
	};
	memcpy(r->stats, snap->stats, sizeof(r->stats));
	if (group_by_stack(v->allocs, v->nr, snap->mono_ns, rd->env->show.min_age_s * 1e9, &r->groups,
			   &r->nr_groups))
		return -ENOMEM;
	report_add_totals(r);
	if (r->scan) {
		suppressions_apply(&rd->env->supp, r);
		reach_sort_groups(r->groups, r->nr_groups);
	}
	return 0;
}

/* A line of the timeline: the totals of every block, whatever --min-age says. */
static void print_timeline_line(struct render *rd, const struct rec_view *v)
{
	uint64_t sample_bytes = recording_session(rd->rec)->sample_bytes;
	int64_t growth = v->live_bytes - rd->prev_bytes;
	time_t wall = v->snap->wall_ns / 1000000000;
	char when[32];
	struct tm tm;

	if (!gmtime_r(&wall, &tm) || !strftime(when, sizeof(when), "%H:%M:%S", &tm))
		snprintf(when, sizeof(when), "?");
	if (rd->env->show.json) {
		printf("{\"snapshot\":%zu,\"time\":%" PRIu64 ".%03" PRIu64
		       ",\"outstanding_bytes\":%" PRIu64 ",\"outstanding_allocations\":%zu"
		       ",\"stacks\":%zu,\"growth_bytes\":%" PRId64 ",\"exited\":%s"
		       ",\"estimated\":%s}\n",
		       v->index + 1, v->snap->wall_ns / 1000000000,
		       v->snap->wall_ns / 1000000 % 1000, v->live_bytes, v->nr_live,
		       v->live_stacks, growth, v->snap->exited ? "true" : "false",
		       sample_bytes ? "true" : "false");
	} else {
		if (!v->index && sample_bytes)
			printf("Sampled every %" PRIu64 " bytes on average: BYTES, ALLOCS and GROWTH "
			       "are estimates.\n", sample_bytes);
		if (!v->index)
			printf("%8s %8s %14s %11s %7s %14s\n", "SNAPSHOT", "UTC", "BYTES", "ALLOCS",
			       "STACKS", "GROWTH");
		printf("%8zu %8s %14" PRIu64 " %11zu %7zu %+14" PRId64 "%s\n",
		       v->index + 1, when, v->live_bytes, v->nr_live, v->live_stacks, growth,
		       v->snap->exited ? "  (leaked at exit)" : "");
	}
	rd->prev_bytes = v->live_bytes;
}

static int growth_cmp(const void *a, const void *b)
{
	const struct stack_growth *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* Keep the first snapshot's groups, by stack id: growth is counted from them. */
static int keep_base(struct render *rd, const struct stack_report *r)
{
	rd->base = malloc((r->nr_groups + 1) * sizeof(*rd->base));
	if (!rd->base)
		return -ENOMEM;
	if (r->nr_groups)
		memcpy(rd->base, r->groups, r->nr_groups * sizeof(*rd->base));
	rd->nr_base = r->nr_groups;
	qsort(rd->base, rd->nr_base, sizeof(*rd->base), stack_group_cmp_id);
	return 0;
}

/* A stack in one line, leaf first: "leak_here < worker_a < start_thread". */
static void print_stack_line(const struct render *rd, uint64_t stack_id)
{
	const struct sym_stack *st = recording_stack(rd->rec, stack_id);
	char label[256];

	if (!st || !st->nr) {
		fputs("[stack not captured]", stdout);
		return;
	}
	for (size_t i = 0; i < st->nr && i < 3; i++)
		printf("%s%s", i ? " < " : "", frame_label(&st->frames[i], label, sizeof(label)));
}

/* The stacks that grew most from the first snapshot to R, the last. */
static int print_growth(const struct render *rd, const struct stack_report *r)
{
	struct stack_growth *grew = calloc(r->nr_groups + 1, sizeof(*grew));
	size_t n = 0, shown;

	if (!grew)
		return -ENOMEM;
	for (size_t i = 0; i < r->nr_groups; i++) {
		const struct stack_group *g = &r->groups[i];
		const struct stack_group *was = bsearch(g, rd->base, rd->nr_base, sizeof(*g),
							stack_group_cmp_id);
		struct stack_growth d = { g->stack_id, g->bytes, g->count };

		if (was) {
			d.bytes -= was->bytes;
			d.count -= was->count;
		}
		if (d.bytes > 0)
			grew[n++] = d;
	}
	qsort(grew, n, sizeof(*grew), growth_cmp);
	shown = rd->env->show.top && rd->env->show.top < n ? rd->env->show.top : n;
	printf("\ngrew most from snapshot 1 to %zu: %zu stack%s", rd->last + 1, n, n == 1 ? "" : "s");
	if (shown < n)
		printf(", top %zu", shown);
	puts(n ? ":" : "");
	for (size_t i = 0; i < shown; i++) {
		printf("  %+14" PRId64 " bytes %+11" PRId64 " allocations  ", grew[i].bytes,
		       grew[i].count);
		print_stack_line(rd, grew[i].stack_id);
		putchar('\n');
	}
	free(grew);
	return 0;
}

/*
 * The blocks themselves are wanted for the snapshots shown as reports,
 * and in a text timeline for the first and the last: growth by stack.
 */
static bool want_blocks(size_t index, void *ctx)
{
	const struct render *rd = ctx;
	const struct report_env *env = rd->env;

	if (!env->timeline)
		return index >= rd->first && index <= rd->last;
	return !env->show.json && rd->last && (index == 0 || index == rd->last);
}

static int render_timeline(struct render *rd, const struct rec_view *v)
{
	struct stack_report r;
	int err = 0;

	print_timeline_line(rd, v);
	if (!v->allocs)
		return 0;
	err = build_report(rd, v, &r);
	if (err)
		return err;
	if (!v->index)
		err = keep_base(rd, &r);
	else
		err = print_growth(rd, &r);
	free(r.groups);
	return err;
}

static int render_one(const struct rec_view *v, void *ctx)
{
	struct render *rd = ctx;
	const struct report_env *env = rd->env;
	struct stack_report r;
	int err;

	if (env->timeline)
		err = render_timeline(rd, v);
	else if (v->index < rd->first)
		return 0;
	else {
		err = build_report(rd, v, &r);
		if (err)
			return err;
		if (env->show.json)
			report_print_json(stdout, &r);
		else if (!env->show.folded)
			report_print_text(stdout, &r);
		/* Files and folded lines: the one snapshot asked for. */
		if (v->index == rd->last)
			err = report_write_outputs(&r, env->show.folded, env->show.svg,
						   env->show.pprof);
		if (v->index == rd->last && env->show.folded && !env->show.json)
			report_print_losses(stderr, &r);
		free(r.groups);
	}
	/* A reader gone (| head) stops the replay, not just the last write. */
	if (!err)
		err = output_check(stdout, "stdout");
	if (!err && v->index >= rd->last)
		return 1;	/* done: stop the replay */
	return err;
}

static int render(const struct report_env *env, const struct recording *rec)
{
	size_t nr = recording_nr_snapshots(rec);
	struct render rd = { .env = env, .rec = rec };
	int err;

	if (!nr) {
		error_msg("%s: the recording holds no snapshot", env->path);
		return -ENOENT;
	}
	if (env->snapshot > nr) {
		error_msg("%s: no snapshot %llu, the recording holds %zu", env->path, env->snapshot, nr);
		return -ENOENT;
	}
	rd.last = env->snapshot ? env->snapshot - 1 : nr - 1;
	rd.first = env->all || env->timeline ? 0 : rd.last;
	if (!env->show.json && !env->show.folded)
		print_session(rec);
	err = recording_replay(rec, want_blocks, render_one, &rd);
	free(rd.base);
	return err < 0 ? err : 0;
}

static bool no_blocks(size_t index, void *ctx)
{
	(void)index;
	(void)ctx;
	return false;
}

/* The process's name at the last snapshot: exec changes it. */
static int take_comm(const struct rec_view *v, void *ctx)
{
	*(const char **)ctx = v->snap->comm;
	return 0;
}

/* The tracer's losses (1.2 files): the ones that are not zero, or none. */
static void print_stall_losses(const struct rec_stall_sum *sum)
{
	bool any = false;

	if (!sum->nr_losses)
		return;
	printf("lost by the reclaim tracer:");
	for (size_t i = 0; i < sum->nr_losses; i++) {
		if (!sum->losses[i].count)
			continue;
		printf("%s %s %" PRIu64, any ? "," : "", sum->losses[i].name, sum->losses[i].count);
		any = true;
	}
	puts(any ? "" : " none");
}

/* --stalls: the recording's stall stacks, longest first, in the views of reclaim --stacks. */
static int render_stalls(const struct report_env *env, struct recording *rec)
{
	const struct rec_session *sess = recording_session(rec);
	const struct rec_stall *st;
	const char *comm = sess->comm;
	struct stall_stack_row *rows;
	struct rec_stall_sum sum;
	size_t nr, shown;
	int err = 0;

	recording_replay(rec, no_blocks, take_comm, &comm);
	st = recording_stalls(rec, &nr, &sum);
	if (!st) {
		error_msg("%s: the recording holds no stalls (record them with memlens record --stalls)",
			  env->path);
		return -ENOENT;
	}
	rows = calloc(nr + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		struct stall_stack_row *r = &rows[i];

		r->key = (struct stall_stack_key){ sess->pid, st[i].kind, st[i].user.nr ? 0 : -1,
						   st[i].kernel.nr ? 0 : -1 };
		r->val = (struct stall_stack_val){ st[i].count, st[i].total_ns, st[i].max_ns };
		snprintf(r->comm, sizeof(r->comm), "%s", comm);
		r->user = st[i].user.nr ? &st[i].user : NULL;
		r->kernel = st[i].kernel.nr ? &st[i].kernel : NULL;
	}
	stall_stack_rows_sort(rows, nr);
	shown = env->show.top && env->show.top < nr ? env->show.top : nr;
	if (env->show.json) {
		printf("{\"type\":\"stalls\",\"pid\":%u,\"stalls\":%" PRIu64 ",\"lost\":%" PRIu64
		       ",\"losses\":{", sess->pid, sum.stalls, sum.lost);
		for (size_t i = 0; i < sum.nr_losses; i++) {
			printf("%s", i ? "," : "");
			json_print_string(stdout, sum.losses[i].name);
			printf(":%" PRIu64, sum.losses[i].count);
		}
		printf("},\"stacks\":[");
		for (size_t i = 0; i < shown; i++) {
			if (i)
				putchar(',');
			stall_stack_print_json(stdout, &rows[i]);
		}
		puts("]}");
	} else if (!env->show.folded) {
		print_session(rec);
		printf("reclaim stalls: %" PRIu64 ", %" PRIu64 " of them in no stack (map full); "
		       "by stack, the %zu of %zu that paid most:\n", sum.stalls, sum.lost, shown, nr);
		for (size_t i = 0; i < shown; i++)
			stall_stack_print_text(stdout, &rows[i], i + 1, "  ", false);
		print_stall_losses(&sum);
	}
	if (env->show.folded || env->show.svg || env->show.pprof)
		err = stall_stacks_write_outputs(rows, nr, env->show.folded, env->show.svg,
						 env->show.pprof);
	free(rows);
	return err;
}

int cmd_report(int argc, char **argv)
{
	struct report_env env = { .show.top = 10 };
	struct recording *rec;
	char why[256];
	int err;

	if (parse_args(argc, argv, &env))
		return EXIT_USAGE;
	if (report_opts_check_files(&env.show))
		return 1;
	ignore_sigpipe();
	if (recording_load(env.path, env.partial, &rec, why, sizeof(why))) {
		error_msg("%s: %s", env.path, why);
		return 1;
	}
	if (*recording_warning(rec))
		info_msg("%s: %s", env.path, recording_warning(rec));
	err = env.stalls ? render_stalls(&env, rec) : render(&env, rec);
	recording_free(rec);
	suppressions_free(&env.supp);
	if (!err)
		err = output_check(stdout, "stdout");
	return err || output_failed() ? 1 : 0;
}
