// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens reclaim: who paid for memory pressure and who caused it.
 *
 * Every interval: the stalls (direct, memcg and node reclaim, compaction,
 * throttling) of each process, the pages it reclaimed and allocated, and
 * kswapd. As each episode of pressure ends: its duration, who stalled and
 * how long, who allocated most meanwhile, OOM kills, PSI, and a timeline.
 * At the end: per-process totals with log2 histograms of stall latency.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "hist_print.h"
#include "memcg.h"
#include "output.h"
#include "pressure.h"
#include "stack_report.h"
#include "stall_stacks.h"
#include "subcommands.h"
#include "util.h"

#define PAGE_KB			4
#define TIMELINE_ROWS		40
#define BAR_WIDTH		20
#define EPISODE_STACKS		3	/* an episode's stacks that paid most */

struct reclaim_env {
	struct view_opts o;		/* filters, interval, count, json */
	double gap_s;			/* < 0: not given, 1 s or a tick if longer */
	double tick_s;
	bool no_page_allocs;
	unsigned long long rows;
	bool stacks;			/* --stacks, or implied by the three below */
	bool folded;
	const char *svg;
	const char *pprof;
	/* Session state. */
	struct stall_stacks *ss;
	int64_t wall_offset_ns;		/* CLOCK_REALTIME - CLOCK_MONOTONIC */
	uint64_t start_ns;
	unsigned int episodes;
	unsigned int ooms;
};

static const char reclaim_usage[] =
"Usage: memlens reclaim [OPTIONS]\n"
"\n"
"Who paid for memory pressure and who caused it. Every interval: per\n"
"process, its stalls in direct, memory cgroup and node reclaim, compaction\n"
"and vmscan throttling, with the pages it reclaimed and allocated, and\n"
"kswapd. As each episode of pressure ends: its duration, who stalled, who\n"
"allocated most meanwhile, OOM kills, PSI, a timeline. At Ctrl-C or after\n"
"-n intervals: per-process totals and stall latency histograms.\n"
"With --stacks, where they stalled: each process's stalls by user and\n"
"kernel stack, in the summary and in every episode.\n"
"\n";

enum { OPT_NO_PAGE_ALLOCS = CLI_CMD_KEYS, OPT_STACKS };

static const struct cli_opt reclaim_opts[] = {
	{ "gap", 'g', "SECS", 0, "quiet time that ends an episode (default 1, or the\n"
	  "tick if longer)" },
	{ "tick", 't', "SECS", 0, "resolution of the timeline (default 0.1)" },
	{ "no-page-allocs", OPT_NO_PAGE_ALLOCS, NULL, 0,
	  "do not count page allocations (their hook is the\n"
	  "hottest; episodes then say who stalled only)" },
	{ "rows", 'r', "N", 0, "processes per table, stacks per process (default\n"
	  "10, 0 = all)" },
	{ "stacks", OPT_STACKS, NULL, 0,
	  "where they stalled: stall count and time by user\n"
	  "and kernel stack, per process and per episode" },
	{ "folded", CLI_FOLDED, NULL, 0,
	  "at the end, folded stacks of stall time in ns\n"
	  "(\"comm;main;f;vfs_write_[k] NS\" a line) instead\n"
	  "of any other output; implies --stacks" },
	{ "svg", CLI_SVG, "FILE", 0,
	  "at the end, a flame graph of stall time to FILE;\n"
	  "implies --stacks" },
	{ "pprof", CLI_PPROF, "FILE", 0,
	  "at the end, a pprof profile (stalls, stall_time)\n"
	  "to FILE; implies --stacks" },
	{},
};

const struct cli_cmd reclaim_cli = {
	.name = "reclaim",
	.usage = reclaim_usage,
	.tables = (const struct cli_opt *const[]){
		cli_view_filters, reclaim_opts, cli_verbose_help, NULL,
	},
};

static int parse_reclaim_opt(void *ctx, int opt, const char *arg)
{
	struct reclaim_env *env = ctx;

	switch (opt) {
	case 'g':
		return parse_seconds(arg, "gap", &env->gap_s) ? -EINVAL : 1;
	case 't':
		return parse_interval(arg, &env->tick_s) ? -EINVAL : 1;
	case OPT_NO_PAGE_ALLOCS:
		env->no_page_allocs = true;
		return 1;
	case 'r':
		return parse_uint(arg, "rows", 1 << 20, &env->rows) ? -EINVAL : 1;
	case OPT_STACKS:
		env->stacks = true;
		return 1;
	case CLI_FOLDED:
		env->folded = env->stacks = true;
		return 1;
	case CLI_SVG:
		env->svg = arg;
		env->stacks = true;
		return 1;
	case CLI_PPROF:
		env->pprof = arg;
		env->stacks = true;
		return 1;
	}
	return 0;
}

static const struct view_cmd reclaim_cmd = {
	.cli = &reclaim_cli,
	.parse_opt = parse_reclaim_opt,
};

/* A CLOCK_MONOTONIC time as UTC wall time: "14:03:21.120" or ISO 8601. */
static const char *wall_time(const struct reclaim_env *env, uint64_t mono_ns, bool iso,
			     char *buf, size_t len)
{
	int64_t ns = (int64_t)mono_ns + env->wall_offset_ns;
	time_t secs = ns / 1000000000;
	struct tm tm;
	size_t n;

	gmtime_r(&secs, &tm);
	n = strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%S" : "%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03d%s", (int)(ns % 1000000000 / 1000000), iso ? "Z" : "");
	return buf;
}

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

static uint64_t sum_kinds(const uint64_t v[STALL_NR])
{
	uint64_t s = 0;

	for (int k = 0; k < STALL_NR; k++)
		s += v[k];
	return s;
}

/* "memcg", "direct+compact": the kinds with stalls. */
static const char *kinds_of(const uint64_t stalls[STALL_NR], char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int k = 0; k < STALL_NR && n < len; k++)
		if (stalls[k])
			n += snprintf(buf + n, len - n, "%s%s", n ? "+" : "", stall_kind_name(k));
	return n ? buf : "-";
}

static void print_kind_counts_json(const char *name, const uint64_t v[STALL_NR], bool as_ms)
{
	printf("\"%s\":{", name);
	for (int k = 0; k < STALL_NR; k++) {
		if (as_ms)
			printf("%s\"%s\":%.3f", k ? "," : "", stall_kind_name(k), ms(v[k]));
		else
			printf("%s\"%s\":%" PRIu64, k ? "," : "", stall_kind_name(k), v[k]);
	}
	putchar('}');
}

static void print_memcg_json(uint64_t id)
{
	char path[512];

	if (!id) {
		fputs("null", stdout);
		return;
	}
	json_print_string(stdout, memcg_path(id, path, sizeof(path)));
}

/* --- OOM kills, as they happen --------------------------------------- */

static void on_oom(const struct oom_event *o, void *ctx)
{
	struct reclaim_env *env = ctx;
	char when[40], path[512], victim[16], killer[16];

	env->ooms++;
	if (env->folded)
		return;
	memcpy(victim, o->victim_comm, sizeof(victim));
	memcpy(killer, o->killer_comm, sizeof(killer));
	victim[15] = killer[15] = 0;
	sanitize_name(victim);
	sanitize_name(killer);
	memcg_path(o->memcg, path, sizeof(path));
	if (!env->o.json) {
		printf("%s  OOM kill: pid %u (%s) in memcg %s, rss anon %lld kB file %lld"
		       " kB shmem %lld kB, total_vm %lld kB, oom_score_adj %d; by pid %u (%s)\n",
		       wall_time(env, o->ts_ns, false, when, sizeof(when)), o->victim_tgid, victim,
		       path, o->rss_anon * PAGE_KB, o->rss_file * PAGE_KB, o->rss_shmem * PAGE_KB,
		       o->total_vm * PAGE_KB, o->oom_score_adj, o->killer_tgid, killer);
		output_check(stdout, "stdout");
		return;
	}
	printf("{\"type\":\"oom\",\"time\":\"%s\",\"pid\":%u,\"tid\":%u,\"comm\":",
	       wall_time(env, o->ts_ns, true, when, sizeof(when)), o->victim_tgid, o->victim_tid);
	json_print_string(stdout, victim);
	fputs(",\"memcg\":", stdout);
	json_print_string(stdout, path);
	printf(",\"oom_score_adj\":%d,\"uid\":%u,\"total_vm_kb\":%lld,\"rss_kb\":{\"anon\":%lld,"
	       "\"file\":%lld,\"shmem\":%lld},\"by\":{\"pid\":%u,\"comm\":",
	       o->oom_score_adj, o->uid, o->total_vm * PAGE_KB, o->rss_anon * PAGE_KB,
	       o->rss_file * PAGE_KB, o->rss_shmem * PAGE_KB, o->killer_tgid);
	json_print_string(stdout, killer);
	fputs("}}\n", stdout);
	output_check(stdout, "stdout");
}

/* --- Episodes, as they end ------------------------------------------- */

/* Merge ticks, PER a row, so that the timeline has at most TIMELINE_ROWS rows. */
static size_t timeline_rows(const struct episode *e, struct episode_tick *rows, size_t *per_row)
{
	size_t per = (e->nr_ticks + TIMELINE_ROWS - 1) / TIMELINE_ROWS, n = 0;

	*per_row = per;
	for (size_t i = 0; i < e->nr_ticks; i += per) {
		struct episode_tick *r = &rows[n++];

		*r = e->ticks[i];
		for (size_t j = i + 1; j < i + per && j < e->nr_ticks; j++) {
			r->end_ns = e->ticks[j].end_ns;
			r->page_allocs += e->ticks[j].page_allocs;
			r->stalls += e->ticks[j].stalls;
			r->stall_ns += e->ticks[j].stall_ns;
			r->reclaimed += e->ticks[j].reclaimed;
		}
	}
	return n;
}

static void bar(char *buf, uint64_t v, uint64_t max, char c)
{
	int n = max ? (int)((double)v * BAR_WIDTH / max + 0.999) : 0;

	memset(buf, c, n);
	memset(buf + n, ' ', BAR_WIDTH - n);
	buf[BAR_WIDTH] = 0;
}

static void print_timeline_text(const struct reclaim_env *env, const struct episode *e)
{
	struct episode_tick rows[TIMELINE_ROWS];
	uint64_t max_allocs = 0, max_stall = 0;
	char a[BAR_WIDTH + 1], s[BAR_WIDTH + 1];
	size_t per, n = timeline_rows(e, rows, &per);

	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].page_allocs > max_allocs)
			max_allocs = rows[i].page_allocs;
		if (rows[i].stall_ns > max_stall)
			max_stall = rows[i].stall_ns;
	}
	printf("  timeline (a row each %.0f ms): pages allocated #, time stalled =\n",
	       env->tick_s * 1e3 * per);
	for (size_t i = 0; i < n; i++) {
		bar(a, rows[i].page_allocs, max_allocs, '#');
		bar(s, rows[i].stall_ns, max_stall, '=');
		printf("    %+7.2fs %9" PRIu64 " |%s| %9.1f ms |%s| %6" PRIu64 " stalls\n",
		       ((int64_t)rows[i].start_ns - (int64_t)e->begin_ns) / 1e9, rows[i].page_allocs,
		       a, ms(rows[i].stall_ns), s, rows[i].stalls);
	}
}

/* With --stacks: the stacks that paid most in episode E. */
static void print_episode_stacks_text(const struct reclaim_env *env, struct episode *e)
{
	struct stall_stack_row *rows;
	size_t nr;

	if (!env->stacks || !e->nr_stacks ||
	    stall_stacks_of_episode(env->ss, e, &rows, &nr))
		return;
	printf("  where they paid (stacks that stalled longest):\n");
	for (size_t i = 0; i < nr && i < EPISODE_STACKS; i++)
		stall_stack_print_text(stdout, &rows[i], i + 1, "    ", true);
	free(rows);
}

static void print_episode_stacks_json(const struct reclaim_env *env, struct episode *e)
{
	struct stall_stack_row *rows;
	size_t nr;

	if (!env->stacks)
		return;
	fputs(",\"stacks\":[", stdout);
	if (!stall_stacks_of_episode(env->ss, e, &rows, &nr)) {
		for (size_t i = 0; i < nr && i < EPISODE_STACKS; i++) {
			if (i)
				putchar(',');
			stall_stack_print_json(stdout, &rows[i]);
		}
		free(rows);
	}
	putchar(']');
}

static void print_episode_text(const struct reclaim_env *env, struct episode *e)
{
	size_t rows = env->rows && env->rows < e->nr_procs ? env->rows : e->nr_procs;
	char when[40], path[512], kinds[64];
	uint64_t reclaimed = sum_kinds(e->reclaimed) + e->kswapd_reclaimed;

	printf("\nepisode %u: %s UTC, %.3f s: %" PRIu64 " stalls, %.1f ms stalled, %" PRIu64
	       " pages reclaimed (", e->id, wall_time(env, e->begin_ns, false, when, sizeof(when)),
	       (e->end_ns - e->begin_ns) / 1e9, e->stalls, ms(e->stall_ns), reclaimed);
	for (int k = 0; k < STALL_NR; k++)
		if (k != STALL_COMPACT && k != STALL_THROTTLE)
			printf("%s %" PRIu64 ", ", stall_kind_name(k), e->reclaimed[k]);
	printf("kswapd %" PRIu64 ")\n", e->kswapd_reclaimed);
	printf("  kswapd: %" PRIu64 " runs, %.1f ms awake", e->kswapd_runs, ms(e->kswapd_ns));
	if (e->has_psi)
		printf("; PSI memory: some +%.1f ms, full +%.1f ms",
		       (e->psi_end.some_us - e->psi_begin.some_us) / 1e3,
		       (e->psi_end.full_us - e->psi_begin.full_us) / 1e3);
	putchar('\n');

	episode_sort_by_stall(e);
	if (e->nr_procs && episode_proc_stall_ns(&e->procs[0])) {
		printf("  who paid (stalled):\n");
		printf("    %7s %-15s %-24s %7s %10s %9s %9s %s\n", "PID", "COMM", "MEMCG", "STALLS",
		       "TOTAL ms", "MAX ms", "RECLAIMED", "KINDS");
		for (size_t i = 0; i < rows && episode_proc_stall_ns(&e->procs[i]); i++) {
			const struct episode_proc *p = &e->procs[i];

			printf("    %7u %-15s %-24s %7" PRIu64 " %10.1f %9.1f %9" PRIu64 " %s\n",
			       p->tgid, p->comm, memcg_path(p->memcg, path, sizeof(path)),
			       sum_kinds(p->stalls), ms(episode_proc_stall_ns(p)),
			       ms(p->max_stall_ns), p->reclaimed,
			       kinds_of(p->stalls, kinds, sizeof(kinds)));
		}
	}
	episode_sort_by_allocs(e);
	if (e->nr_procs && e->procs[0].page_allocs) {
		printf("  who caused it (pages allocated in the episode):\n");
		printf("    %7s %-15s %9s\n", "PID", "COMM", "PAGES");
		for (size_t i = 0; i < rows && e->procs[i].page_allocs; i++)
			printf("    %7u %-15s %9" PRIu64 "\n", e->procs[i].tgid, e->procs[i].comm,
			       e->procs[i].page_allocs);
	}
	print_episode_stacks_text(env, e);
	for (size_t i = 0; i < e->nr_ooms; i++) {
		char victim[16];

		memcpy(victim, e->ooms[i].victim_comm, sizeof(victim));
		victim[15] = 0;
		sanitize_name(victim);
		printf("  OOM kill: pid %u (%s), memcg %s\n", e->ooms[i].victim_tgid, victim,
		       memcg_path(e->ooms[i].memcg, path, sizeof(path)));
	}
	print_timeline_text(env, e);
	output_check(stdout, "stdout");
}

static void print_episode_procs_json(const struct reclaim_env *env, struct episode *e)
{
	size_t rows = env->rows && env->rows < e->nr_procs ? env->rows : e->nr_procs;
	bool first = true;

	episode_sort_by_stall(e);
	fputs(",\"stalled\":[", stdout);
	for (size_t i = 0; i < e->nr_procs && episode_proc_stall_ns(&e->procs[i]); i++) {
		const struct episode_proc *p = &e->procs[i];

		printf("%s{\"pid\":%u,\"comm\":", i ? "," : "", p->tgid);
		json_print_string(stdout, p->comm);
		fputs(",\"memcg\":", stdout);
		print_memcg_json(p->memcg);
		putchar(',');
		print_kind_counts_json("stalls", p->stalls, false);
		printf(",\"stall_ms\":%.3f,\"max_stall_ms\":%.3f,\"reclaimed\":%" PRIu64 "}",
		       ms(episode_proc_stall_ns(p)), ms(p->max_stall_ns), p->reclaimed);
	}
	episode_sort_by_allocs(e);
	fputs("],\"allocated\":[", stdout);
	for (size_t i = 0; i < rows && e->procs[i].page_allocs; i++) {
		printf("%s{\"pid\":%u,\"comm\":", first ? "" : ",", e->procs[i].tgid);
		json_print_string(stdout, e->procs[i].comm);
		printf(",\"pages\":%" PRIu64 "}", e->procs[i].page_allocs);
		first = false;
	}
	putchar(']');
}

static void print_episode_json(const struct reclaim_env *env, struct episode *e)
{
	char when[40];

	printf("{\"type\":\"episode\",\"id\":%u,\"begin\":\"%s\",\"duration_s\":%.6f,"
	       "\"stalls\":%" PRIu64 ",\"stall_ms\":%.3f,\"reclaimed\":{", e->id,
	       wall_time(env, e->begin_ns, true, when, sizeof(when)),
	       (e->end_ns - e->begin_ns) / 1e9, e->stalls, ms(e->stall_ns));
	for (int k = 0; k < STALL_NR; k++)
		printf("\"%s\":%" PRIu64 ",", stall_kind_name(k), e->reclaimed[k]);
	printf("\"kswapd\":%" PRIu64 "},\"kswapd\":{\"runs\":%" PRIu64 ",\"awake_ms\":%.3f},"
	       "\"psi\":", e->kswapd_reclaimed, e->kswapd_runs, ms(e->kswapd_ns));
	if (e->has_psi)
		printf("{\"some_us\":%" PRIu64 ",\"full_us\":%" PRIu64 "}",
		       e->psi_end.some_us - e->psi_begin.some_us,
		       e->psi_end.full_us - e->psi_begin.full_us);
	else
		fputs("null", stdout);
	print_episode_procs_json(env, e);
	print_episode_stacks_json(env, e);
	fputs(",\"oom_kills\":[", stdout);
	for (size_t i = 0; i < e->nr_ooms; i++) {
		printf("%s{\"pid\":%u,\"memcg\":", i ? "," : "", e->ooms[i].victim_tgid);
		print_memcg_json(e->ooms[i].memcg);
		putchar('}');
	}
	fputs("],\"timeline\":[", stdout);
	for (size_t i = 0; i < e->nr_ticks; i++) {
		const struct episode_tick *t = &e->ticks[i];

		printf("%s{\"offset_s\":%.3f,\"duration_s\":%.3f,\"allocated\":%" PRIu64
		       ",\"stalls\":%" PRIu64 ",\"stall_ms\":%.3f,\"reclaimed\":%" PRIu64 "}",
		       i ? "," : "", ((int64_t)t->start_ns - (int64_t)e->begin_ns) / 1e9,
		       (t->end_ns - t->start_ns) / 1e9, t->page_allocs, t->stalls,
		       ms(t->stall_ns), t->reclaimed);
	}
	fputs("]}\n", stdout);
	output_check(stdout, "stdout");
}

static void on_episode(struct episode *e, void *ctx)
{
	struct reclaim_env *env = ctx;

	env->episodes++;
	if (env->folded)
		return;
	if (env->o.json)
		print_episode_json(env, e);
	else
		print_episode_text(env, e);
}

/* --- Every interval -------------------------------------------------- */

/* One process in one interval: what changed since the last one. */
struct interval_row {
	struct pressure_proc now;
	uint64_t stalls[STALL_NR];
	uint64_t stall_ns[STALL_NR];
	uint64_t reclaimed;
	uint64_t page_allocs;
	uint64_t kswapd_wakeups;
	double stall_pct;		/* of the interval's wall time, stalls in progress included */
};

struct interval_state {
	struct pressure_proc *prev;
	size_t nr_prev;
	uint64_t prev_ns;
	struct pressure_totals prev_totals;
	struct psi_totals prev_psi;
	bool has_psi;
};

static const struct pressure_proc *find_prev(const struct interval_state *st, uint32_t tgid)
{
	size_t lo = 0, hi = st->nr_prev;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (st->prev[mid].tgid == tgid)
			return &st->prev[mid];
		if (st->prev[mid].tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static uint64_t row_stall_ns(const struct interval_row *r)
{
	return sum_kinds(r->stall_ns);
}

static int by_stall_then_allocs(const void *a, const void *b)
{
	const struct interval_row *x = a, *y = b;

	/* Time stalled in the interval, stalls in progress included. */
	if (x->stall_pct != y->stall_pct)
		return x->stall_pct > y->stall_pct ? -1 : 1;
	if (row_stall_ns(x) != row_stall_ns(y))
		return row_stall_ns(x) > row_stall_ns(y) ? -1 : 1;
	if (x->page_allocs != y->page_allocs)
		return x->page_allocs > y->page_allocs ? -1 : 1;
	return x->now.tgid < y->now.tgid ? -1 : x->now.tgid > y->now.tgid;
}

/* Rows of processes that stalled, reclaimed, woke kswapd or allocated in the interval. */
static size_t interval_rows(const struct interval_state *st, const struct pressure_proc *cur,
			    size_t nr, uint64_t interval_ns, struct interval_row *rows)
{
	size_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		const struct pressure_proc *old = find_prev(st, cur[i].tgid);
		struct pressure_proc zero = {};
		struct interval_row *r = &rows[n];
		bool active;

		if (!old)
			old = &zero;
		memset(r, 0, sizeof(*r));
		r->now = cur[i];
		for (int k = 0; k < STALL_NR; k++) {
			r->stalls[k] = cur[i].stalls[k] - old->stalls[k];
			r->stall_ns[k] = cur[i].stall_ns[k] - old->stall_ns[k];
			r->reclaimed += cur[i].reclaimed[k] - old->reclaimed[k];
		}
		/* A process that left the page map and came back starts again from 0. */
		r->page_allocs = cur[i].page_allocs >= old->page_allocs ?
				 cur[i].page_allocs - old->page_allocs : cur[i].page_allocs;
		r->kswapd_wakeups = cur[i].kswapd_wakeups - old->kswapd_wakeups;
		r->stall_pct = stall_pct(sum_kinds(r->stall_ns), cur[i].stall_in_progress_ns,
					 old->stall_in_progress_ns, interval_ns);
		active = sum_kinds(r->stalls) || r->kswapd_wakeups || r->page_allocs ||
			 r->stall_pct > 0;
		if (active)
			n++;
	}
	qsort(rows, n, sizeof(*rows), by_stall_then_allocs);
	return n;
}

struct interval_sums {
	double secs;
	uint64_t stalls, stall_ns, reclaimed, page_allocs;
	uint64_t kswapd_awake_ns, kswapd_reclaimed;
	bool has_psi;
	double psi_some_pct, psi_full_pct;
	double bpf_ms_per_s;		/* memlens' own cost */
	struct pressure_totals totals;
};

static void print_interval_text(const struct reclaim_env *env, const struct interval_sums *s,
				const struct interval_row *rows, size_t n)
{
	size_t shown = env->rows && env->rows < n ? env->rows : n;
	char when[40], path[512], kinds[64];

	printf("%s  stalls %" PRIu64 " (%.1f ms)  reclaimed %" PRIu64 " pages  allocated %" PRIu64
	       " pages  kswapd awake %.0f%%", wall_time(env, monotonic_ns(), false, when,
						       sizeof(when)),
	       s->stalls, ms(s->stall_ns), s->reclaimed + s->kswapd_reclaimed, s->page_allocs,
	       s->kswapd_awake_ns / 1e7 / s->secs);
	if (s->has_psi)
		printf("  psi some %.1f%% full %.1f%%", s->psi_some_pct, s->psi_full_pct);
	printf("  cost %.2f ms/s", s->bpf_ms_per_s);
	if (pressure_lost(&s->totals))
		printf("  lost %" PRIu64 " (see --json)", pressure_lost(&s->totals));
	putchar('\n');
	/* Allocation alone is no news: the table comes with pressure. */
	if (!s->stalls && !s->kswapd_awake_ns && !(n && rows[0].stall_pct > 0))
		return;
	printf("  %7s %-15s %-24s %7s %10s %6s %9s %9s %7s %s\n", "PID", "COMM", "MEMCG",
	       "STALLS", "STALL ms", "STALL%", "RECLAIMED", "ALLOCATED", "WAKEUPS", "KINDS");
	for (size_t i = 0; i < shown; i++) {
		const struct interval_row *r = &rows[i];

		printf("  %7u %-15s %-24s %7" PRIu64 " %10.1f %6.1f %9" PRIu64 " %9" PRIu64 " %7"
		       PRIu64 " %s\n", r->now.tgid, r->now.comm,
		       sum_kinds(r->stalls) ? memcg_path(r->now.memcg, path, sizeof(path)) : "-",
		       sum_kinds(r->stalls), ms(row_stall_ns(r)), r->stall_pct, r->reclaimed,
		       r->page_allocs, r->kswapd_wakeups, kinds_of(r->stalls, kinds, sizeof(kinds)));
	}
	output_check(stdout, "stdout");
}

static void print_interval_json(const struct reclaim_env *env, const struct interval_sums *s,
				const struct interval_row *rows, size_t n)
{
	size_t shown = env->rows && env->rows < n ? env->rows : n;
	char when[40];

	printf("{\"type\":\"interval\",\"time\":\"%s\",\"interval_s\":%.3f,\"stalls\":%" PRIu64
	       ",\"stall_ms\":%.3f,\"reclaimed\":%" PRIu64 ",\"kswapd_reclaimed\":%" PRIu64
	       ",\"allocated\":%" PRIu64 ",\"kswapd_awake_ms\":%.3f,\"bpf_ms_per_s\":%.3f,"
	       "\"psi\":", wall_time(env, monotonic_ns(), true, when, sizeof(when)), s->secs,
	       s->stalls, ms(s->stall_ns), s->reclaimed, s->kswapd_reclaimed, s->page_allocs,
	       ms(s->kswapd_awake_ns), s->bpf_ms_per_s);
	if (s->has_psi)
		printf("{\"some_pct\":%.2f,\"full_pct\":%.2f}", s->psi_some_pct, s->psi_full_pct);
	else
		fputs("null", stdout);
	fputs(",\"lost\":", stdout);
	pressure_print_lost_json(stdout, &s->totals);
	fputs(",\"processes\":[", stdout);
	for (size_t i = 0; i < shown; i++) {
		const struct interval_row *r = &rows[i];

		printf("%s{\"pid\":%u,\"comm\":", i ? "," : "", r->now.tgid);
		json_print_string(stdout, r->now.comm);
		fputs(",\"memcg\":", stdout);
		print_memcg_json(sum_kinds(r->stalls) ? r->now.memcg : 0);
		putchar(',');
		print_kind_counts_json("stalls", r->stalls, false);
		putchar(',');
		print_kind_counts_json("stall_ms", r->stall_ns, true);
		printf(",\"stall_pct\":%.2f", r->stall_pct);
		printf(",\"reclaimed\":%" PRIu64 ",\"allocated\":%" PRIu64
		       ",\"kswapd_wakeups\":%" PRIu64 "}", r->reclaimed, r->page_allocs,
		       r->kswapd_wakeups);
	}
	fputs("]}\n", stdout);
	output_check(stdout, "stdout");
}

static int report_interval(const struct reclaim_env *env, struct pressure *p,
			   struct interval_state *st)
{
	struct interval_sums s = {};
	struct interval_row *rows;
	struct pressure_proc *cur;
	struct psi_totals psi;
	uint64_t now = monotonic_ns();
	size_t nr, n;
	int err;

	err = pressure_sample(p, &cur, &nr);
	if (err)
		return err;
	rows = calloc(nr ? nr : 1, sizeof(*rows));
	if (!rows) {
		free(cur);
		return -ENOMEM;
	}
	n = interval_rows(st, cur, nr, now - st->prev_ns, rows);
	s.secs = (now - st->prev_ns) / 1e9;
	for (size_t i = 0; i < n; i++) {
		s.stalls += sum_kinds(rows[i].stalls);
		s.stall_ns += row_stall_ns(&rows[i]);
		s.reclaimed += rows[i].reclaimed;
		s.page_allocs += rows[i].page_allocs;
	}
	pressure_totals(p, &s.totals);
	s.kswapd_awake_ns = s.totals.kswapd_awake_ns - st->prev_totals.kswapd_awake_ns;
	s.kswapd_reclaimed = s.totals.kswapd_reclaimed - st->prev_totals.kswapd_reclaimed;
	s.bpf_ms_per_s = ms(s.totals.run_time_ns - st->prev_totals.run_time_ns) / s.secs;
	s.has_psi = st->has_psi && psi_read(&psi);
	if (s.has_psi) {
		s.psi_some_pct = (psi.some_us - st->prev_psi.some_us) / 1e4 / s.secs;
		s.psi_full_pct = (psi.full_us - st->prev_psi.full_us) / 1e4 / s.secs;
		st->prev_psi = psi;
	}
	if (env->folded)
		;	/* folded lines only, at the end */
	else if (env->o.json)
		print_interval_json(env, &s, rows, n);
	else
		print_interval_text(env, &s, rows, n);
	free(rows);
	free(st->prev);
	st->prev = cur;
	st->nr_prev = nr;
	st->prev_ns = now;
	st->prev_totals = s.totals;
	return 0;
}

/* --- At the end ------------------------------------------------------ */

/* The stall stacks of the summary: all of them, by process, longest first. */
struct summary_stacks {
	struct stall_stack_row *rows;
	size_t nr;
};

static void print_proc_stacks_text(const struct reclaim_env *env, const struct summary_stacks *ss,
				   uint32_t tgid)
{
	size_t shown = 0;

	for (size_t i = 0; i < ss->nr; i++) {
		if (ss->rows[i].key.tgid != tgid || (env->rows && shown >= env->rows))
			continue;
		if (!shown)
			printf("  stacks that paid most:\n");
		stall_stack_print_text(stdout, &ss->rows[i], ++shown, "    ", false);
	}
}

static void print_proc_stacks_json(const struct summary_stacks *ss, uint32_t tgid, bool stacks)
{
	bool first = true;

	if (!stacks)
		return;
	fputs(",\"stacks\":[", stdout);
	for (size_t i = 0; i < ss->nr; i++) {
		if (ss->rows[i].key.tgid != tgid)
			continue;
		if (!first)
			putchar(',');
		first = false;
		stall_stack_print_json(stdout, &ss->rows[i]);
	}
	putchar(']');
}

static void print_summary_text(const struct reclaim_env *env, struct pressure *p,
			       const struct pressure_proc *procs, size_t nr,
			       const struct pressure_totals *t, const struct summary_stacks *ss)
{
	char path[512], title[64];
	struct hist h;

	printf("\nmemlens reclaim, %.1f s: episodes %u, OOM kills %u, stalls %" PRIu64 ", lost %"
	       PRIu64 "\n", (monotonic_ns() - env->start_ns) / 1e9, env->episodes,
	       env->ooms, t->stats[RSTAT_STALLS], pressure_lost(t));
	printf("kswapd: %" PRIu64 " wakes, %.1f ms awake, %" PRIu64 " pages reclaimed\n",
	       t->kswapd_wakes, ms(t->kswapd_awake_ns), t->kswapd_reclaimed);
	for (size_t i = 0; i < nr; i++) {
		const struct pressure_proc *pp = &procs[i];

		if (!sum_kinds(pp->stalls))
			continue;
		printf("\npid %u (%s), memcg %s: %" PRIu64 " pages allocated, woke kswapd %" PRIu64
		       " times\n", pp->tgid, pp->comm, memcg_path(pp->memcg, path, sizeof(path)),
		       pp->page_allocs, pp->kswapd_wakeups);
		for (int k = 0; k < STALL_NR; k++) {
			if (!pp->stalls[k])
				continue;
			printf("  %s: %" PRIu64 " stalls, %.1f ms, %" PRIu64 " pages reclaimed\n",
			       stall_kind_name(k), pp->stalls[k], ms(pp->stall_ns[k]),
			       pp->reclaimed[k]);
			if (!pressure_hist(p, pp->tgid, k, &h))
				continue;
			snprintf(title, sizeof(title), "usecs");
			hist_print_text(stdout, &h, title);
		}
		print_proc_stacks_text(env, ss, pp->tgid);
	}
	output_check(stdout, "stdout");
}

static void print_summary_json(const struct reclaim_env *env, struct pressure *p,
			       const struct pressure_proc *procs, size_t nr,
			       const struct pressure_totals *t, const struct summary_stacks *ss)
{
	bool first = true;
	struct hist h;

	printf("{\"type\":\"summary\",\"duration_s\":%.3f,\"episodes\":%u,\"oom_kills\":%u,"
	       "\"stalls\":%" PRIu64 ",\"stalls_begun_before\":%" PRIu64 ",\"kswapd\":{"
	       "\"wakes\":%" PRIu64 ",\"awake_ms\":%.3f,\"reclaimed\":%" PRIu64 "},"
	       "\"not_traced\":",
	       (monotonic_ns() - env->start_ns) / 1e9, env->episodes, env->ooms,
	       t->stats[RSTAT_STALLS], t->stats[RSTAT_BEGAN_BEFORE], t->kswapd_wakes,
	       ms(t->kswapd_awake_ns),
	       t->kswapd_reclaimed);
	json_print_string(stdout, pressure_missing(p));
	fputs(",\"lost\":", stdout);
	pressure_print_lost_json(stdout, t);
	fputs(",\"processes\":[", stdout);
	for (size_t i = 0; i < nr; i++) {
		const struct pressure_proc *pp = &procs[i];
		bool first_kind = true;

		if (!sum_kinds(pp->stalls))
			continue;
		printf("%s{\"pid\":%u,\"comm\":", first ? "" : ",", pp->tgid);
		first = false;
		json_print_string(stdout, pp->comm);
		fputs(",\"memcg\":", stdout);
		print_memcg_json(pp->memcg);
		printf(",\"allocated\":%" PRIu64 ",\"kswapd_wakeups\":%" PRIu64 ",\"stalls\":[",
		       pp->page_allocs, pp->kswapd_wakeups);
		for (int k = 0; k < STALL_NR; k++) {
			if (!pp->stalls[k])
				continue;
			printf("%s{\"kind\":\"%s\",\"count\":%" PRIu64 ",\"total_ms\":%.3f,"
			       "\"reclaimed\":%" PRIu64 ",\"hist_us\":{", first_kind ? "" : ",",
			       stall_kind_name(k), pp->stalls[k], ms(pp->stall_ns[k]),
			       pp->reclaimed[k]);
			first_kind = false;
			if (pressure_hist(p, pp->tgid, k, &h))
				hist_print_json(stdout, &h);
			else
				fputs("\"total\":0,\"buckets\":[]", stdout);
			fputs("}}", stdout);
		}
		putchar(']');
		print_proc_stacks_json(ss, pp->tgid, env->stacks);
		putchar('}');
	}
	fputs("]}\n", stdout);
	output_check(stdout, "stdout");
}

static int print_summary(const struct reclaim_env *env, struct pressure *p)
{
	struct summary_stacks ss = {};
	struct pressure_totals t;
	struct pressure_proc *procs;
	size_t nr;
	int err;

	err = pressure_sample(p, &procs, &nr);
	if (err)
		return err;
	if (env->stacks) {
		err = stall_stacks_read(env->ss, &ss.rows, &ss.nr);
		if (err) {
			free(procs);
			return err;
		}
	}
	pressure_totals(p, &t);
	if (env->folded)
		;	/* the folded lines only */
	else if (env->o.json)
		print_summary_json(env, p, procs, nr, &t, &ss);
	else
		print_summary_text(env, p, procs, nr, &t, &ss);
	if (env->folded || env->svg || env->pprof)
		err = stall_stacks_write_outputs(ss.rows, ss.nr, env->folded, env->svg, env->pprof);
	if (env->stacks && stall_stacks_unread(env->ss))
		info_msg("%u process(es) exited before their mappings were read (or they could not be "
			 "read): their user frames are addresses", stall_stacks_unread(env->ss));
	if (env->stacks && stall_stacks_early_only(env->ss))
		info_msg("%u process(es) exited before their first stall was read: their user frames are "
			 "named from their mappings at exec (or at -p's start), those in libraries loaded "
			 "since are addresses", stall_stacks_early_only(env->ss));
	if (env->stacks && stall_stacks_early_skipped(env->ss))
		info_msg("%u exec(s) of matching processes not read at once: more than %d at a time",
			 stall_stacks_early_skipped(env->ss), STALL_STACKS_MAX_EARLY);
	free(ss.rows);
	free(procs);
	return err;
}

/* --- The session ----------------------------------------------------- */

/*
 * A stall streamed: with --stacks, read its process's mappings while it
 * runs. Not for one without a user stack (a kernel thread's, or lost):
 * nothing to name.
 */
static void on_stall(const struct reclaim_event *r, void *ctx)
{
	struct reclaim_env *env = ctx;

	if (r->ustack < 0)
		return;
	stall_stacks_seen(env->ss, r->tgid, r->tid, r->comm);
}

/* A process traced exec'd (--stacks with a filter): its mappings now, while it runs. */
static void on_exec(const struct reclaim_event *r, void *ctx)
{
	struct reclaim_env *env = ctx;

	stall_stacks_early(env->ss, r->tgid, r->comm);
}

static int open_session(struct reclaim_env *env, struct pressure_opts *po, struct pressure **p)
{
	struct timespec rt;
	int err;

	if (check_privileges() || check_host_pids() || check_btf())
		return -EPERM;
	if (env->o.pid && check_target_pid(&env->o.pid))
		return -ESRCH;
	if (env->o.cgroup && memcg_resolve(env->o.cgroup, &po->memcg))
		return -ENOENT;
	po->pid = env->o.pid;
	po->comm = env->o.comm;
	po->page_allocs = !env->no_page_allocs;
	po->gap_ns = env->gap_s * 1e9;
	po->episodes = true;
	po->on_oom = on_oom;
	po->on_episode = on_episode;
	po->stacks = env->stacks;
	po->cost = true;
	if (env->stacks)
		po->on_stall = on_stall;
	/* Filtered: the few processes that match are read from their exec on. */
	if (env->stacks && (env->o.pid || env->o.comm || env->o.cgroup))
		po->on_exec = on_exec;
	po->ctx = env;
	setup_libbpf_logging();
	catch_stop_signals();
	ignore_sigpipe();
	clock_gettime(CLOCK_REALTIME, &rt);
	env->start_ns = monotonic_ns();
	env->wall_offset_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec - (int64_t)env->start_ns;
	err = pressure_open(po, p);
	if (err)
		return err;
	if (env->stacks) {
		env->ss = stall_stacks_new(*p);
		if (!env->ss)
			return -ENOMEM;
	}
	if (env->stacks && env->o.pid) {
		char comm[16];

		if (read_comm(env->o.pid, comm, sizeof(comm)))
			strcpy(comm, "?");
		stall_stacks_early(env->ss, env->o.pid, comm);
	}
	info_msg("tracing memory pressure of %s; Ctrl-C to stop",
		 env->o.pid ? "one process" : env->o.comm || env->o.cgroup ? "matching processes" :
		 "all processes");
	return 0;
}

static int run(struct reclaim_env *env, struct pressure *p)
{
	struct interval_state st = { .prev_ns = monotonic_ns() };
	uint64_t tick_ns = env->tick_s * 1e9, interval_ns = env->o.interval_s * 1e9;
	uint64_t next_tick = st.prev_ns + tick_ns, next_report = st.prev_ns + interval_ns;
	int target = env->o.pid ? pid_watch(env->o.pid) : -1;
	unsigned long long reports = 0;
	bool stopped;
	int err = 0;

	st.has_psi = psi_read(&st.prev_psi);
	pressure_totals(p, &st.prev_totals);
	/* Ctrl-C, or -p's process gone (as top), looked at each tick: a last interval, then the end. */
	while (!(stopped = stop_requested() || (env->o.pid && pid_exited(target, env->o.pid)))) {
		uint64_t now = monotonic_ns(), next = next_tick < next_report ? next_tick : next_report;

		/* Episodes and OOM kills are printed as they come: checked here. */
		err = output_check(stdout, "stdout");
		if (!err)
			err = output_wait(pressure_fd(p),
					  now >= next ? 0 : (next - now + 999999) / 1000000);
		if (err >= 0)
			err = pressure_poll(p, 0);
		if (err)
			break;
		now = monotonic_ns();
		if (now >= next_tick) {
			err = pressure_tick(p);
			if (err)
				break;
			/* The ring was drained just above (stall_stacks_prune()). */
			if (env->ss)
				stall_stacks_prune(env->ss);
			next_tick = now + tick_ns - (now - next_tick) % tick_ns;
		}
		if (now < next_report)
			continue;
		err = report_interval(env, p, &st);
		if (err)
			break;
		next_report += interval_ns;
		if (next_report < now)	/* late: no burst of short intervals */
			next_report = now + interval_ns;
		if (env->o.count && ++reports >= env->o.count)
			break;
	}
	if (target >= 0)
		close(target);
	if (stopped && !stop_requested())
		info_msg("pid %d exited", env->o.pid);
	/* What is still in flight: the last events, the open episode. */
	if (!err)
		err = pressure_consume(p);
	if (!err)
		err = pressure_tick(p);
	/* Ctrl-C: what happened since the last interval is one too. */
	if (!err && stopped)
		err = report_interval(env, p, &st);
	pressure_flush(p);
	if (!err)
		err = print_summary(env, p);
	if (!err)
		err = output_check(stdout, "stdout");
	free(st.prev);
	return err;
}

int cmd_reclaim(int argc, char **argv)
{
	struct reclaim_env env = {
		.o.interval_s = 1, .gap_s = -1, .tick_s = 0.1, .rows = 10,
	};
	struct pressure_opts po = {};
	struct pressure *p = NULL;
	int err;

	if (cli_parse_view(argc, argv, &reclaim_cmd, &env.o, &env))
		return EXIT_USAGE;
	/* An episode's allocations and timeline come a tick at a time. */
	if (env.gap_s < 0)
		env.gap_s = env.tick_s > 1 ? env.tick_s : 1;
	if (env.gap_s < env.tick_s) {
		error_msg("reclaim: --gap %g is shorter than --tick %g: an episode would end "
			  "between the ticks that count it", env.gap_s, env.tick_s);
		return EXIT_USAGE;
	}
	if (env.folded && env.o.json) {
		error_msg("reclaim: --folded and --json are two outputs: choose one");
		return EXIT_USAGE;
	}
	if (report_check_outputs("reclaim", env.svg, env.pprof, NULL))
		return EXIT_USAGE;
	if ((env.svg && check_output_path(env.svg)) || (env.pprof && check_output_path(env.pprof)))
		return 1;
	err = open_session(&env, &po, &p);
	if (err) {
		stall_stacks_free(env.ss);
		pressure_close(p);
		return 1;
	}
	err = run(&env, p);
	if (err && !output_failed())
		error_msg("reclaim: %s", strerror(-err));
	stall_stacks_free(env.ss);
	pressure_close(p);
	return err || output_failed() ? 1 : 0;
}
