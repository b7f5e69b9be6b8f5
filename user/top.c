// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens top: one row per process, refreshed every interval: allocator
 * calls and bytes, outstanding heap, brk and mmap growth, page faults, RSS.
 * A live table on a terminal (keys pick the sort column), periodic tables
 * when piped, or JSON lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "alloc_stats.h"
#include "cli.h"
#include "output.h"
#include "prom.h"
#include "proctable.h"
#include "subcommands.h"
#include "sysview.h"
#include "top_prom.h"
#include "util.h"

#define MAX_ERRORS_SHOWN 16

struct top_env {
	struct view_opts o;
	enum sort_key sort;
	unsigned long long rows;	/* plain tables: rows shown, 0 = all */
	bool live;			/* a terminal: redraw in place, read keys */
	const char *prom;		/* --prom: serve /metrics there */
	struct prom_server *prom_server;
};

static const char top_usage[] =
"Usage: memlens top [OPTIONS]\n"
"\n"
"Which processes allocate what, system-wide: allocator calls and bytes,\n"
"outstanding heap, brk and anonymous mmap growth, minor and major page\n"
"faults, RSS. On a terminal the table refreshes in place; keys choose the\n"
"sort column (a b f o k m n j r w p, q quits). Piped, it prints a table\n"
"every interval; --json prints one object per process per interval.\n"
"\n";

enum { OPT_RECLAIM = CLI_CMD_KEYS, OPT_PROM };

static const struct cli_opt top_opts[] = {
	{ "prom", OPT_PROM, "[HOST:]PORT", 0,
	  "also serve the counters as Prometheus metrics at\n"
	  "http://HOST:PORT/metrics (HOST 127.0.0.1 by default)" },
	{ "reclaim", OPT_RECLAIM, NULL, 0,
	  "also memory pressure, as memlens reclaim traces it:\n"
	  "pages allocated, reclaim stalls, pages reclaimed" },
	{ "sort", 's', "KEY", 0,
	  "allocs, bytes, frees, outstanding, brk, mmap, minflt,\n"
	  "majflt, rss, stall or pid (default bytes)" },
	{ "rows", 'r', "N", 0, "rows per table when not on a terminal (default 20, 0 = all)" },
	{},
};

const struct cli_cmd top_cli = {
	.name = "top",
	.usage = top_usage,
	.tables = (const struct cli_opt *const[]){
		cli_view_filters, cli_no_uprobes, cli_verbose_help, top_opts, NULL,
	},
};

static int parse_top_opt(void *ctx, int opt, const char *arg)
{
	struct top_env *env = ctx;

	switch (opt) {
	case 's':
		if (sort_by_name(arg, &env->sort)) {
			error_msg("invalid sort key '%s' (see memlens top --help)", arg);
			return -EINVAL;
		}
		return 1;
	case 'r':
		return parse_uint(arg, "rows", 1 << 20, &env->rows) ? -EINVAL : 1;
	case OPT_RECLAIM:
		env->o.reclaim = true;
		return 1;
	case OPT_PROM:
		env->prom = arg;
		return 1;
	}
	return 0;
}

static const struct view_cmd top_cmd = {
	.cli = &top_cli,
	.parse_opt = parse_top_opt,
};

static void format_now(char *buf, size_t len, const char *fmt)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, fmt, &tm);
}

/* What memlens itself did in the interval: its cost, its losses. */
struct cost {
	double events_per_s;
	double bpf_ms_per_s;
	uint64_t stats[STAT_NR];
	bool reclaim;
	struct pressure_totals pressure;
};

static uint64_t lost_total(const struct cost *c)
{
	return alloc_stats_lost(c->stats) + (c->reclaim ? pressure_lost(&c->pressure) : 0);
}

/* Its share of the interval spent stalled, in %: stalls in progress too. */
static double row_stall_pct(const struct proc_row *r, double secs)
{
	return stall_pct(r->stall_ns, r->pr.stall_in_progress_ns, r->in_progress_before,
			 secs * 1e9);
}

/* With --reclaim: what it adds to a process's JSON object. */
static void print_json_reclaim(const struct proc_row *r, double secs)
{
	uint64_t reclaimed = 0;

	fputs(",\"reclaim\":{\"stalls\":{", stdout);
	for (int k = 0; k < STALL_NR; k++)
		printf("%s\"%s\":%" PRIu64, k ? "," : "", stall_kind_name(k), r->pr.stalls[k]);
	fputs("},\"stall_ms\":{", stdout);
	for (int k = 0; k < STALL_NR; k++) {
		printf("%s\"%s\":%.3f", k ? "," : "", stall_kind_name(k), r->pr.stall_ns[k] / 1e6);
		reclaimed += r->pr.reclaimed[k];
	}
	printf("},\"reclaimed\":%" PRIu64 ",\"page_allocs\":%" PRIu64 ",\"kswapd_wakeups\":%"
	       PRIu64 ",\"per_s\":{\"stalls\":%.1f,\"stall_ms\":%.3f,\"reclaimed\":%.1f,"
	       "\"page_allocs\":%.1f},\"stall_pct\":%.2f}", reclaimed, r->pr.page_allocs,
	       r->pr.kswapd_wakeups, r->stalls / secs, r->stall_ns / 1e6 / secs,
	       r->reclaimed / secs, r->page_allocs / secs, row_stall_pct(r, secs));
}


static void print_json_row(const struct proc_row *r, struct sysview *v, double secs,
			   const char *when, bool reclaim)
{
	struct error_key keys[MAX_ERRORS_SHOWN];
	uint64_t counts[MAX_ERRORS_SHOWN];
	static const char *const syscalls[SYS_NR] = { "brk", "mmap", "munmap", "mremap" };
	size_t nerr;

	printf("{\"type\":\"process\",\"time\":\"%s\",\"pid\":%u,\"comm\":", when, r->tgid);
	json_print_string(stdout, r->comm);
	printf(",\"exited\":%s,\"interval_s\":%.3f,\"totals\":{", r->exited ? "true" : "false",
	       secs);
	for (int k = 0; k < PS_NR; k++)
		printf("%s\"%s\":%" PRIu64, k ? "," : "", proc_stat_name(k), (uint64_t)r->total.v[k]);
	fputs("},\"per_s\":{", stdout);
	for (int k = 0; k < PS_NR; k++)
		printf("%s\"%s\":%.1f", k ? "," : "", proc_stat_name(k), r->delta.v[k] / secs);
	printf("},\"outstanding_bytes\":%" PRIu64 ",\"rss_bytes\":%" PRId64 ",\"rss\":{",
	       r->outstanding, r->rss_bytes);
	for (int m = 0; m < RSS_NR; m++)
		printf("%s\"%s\":%" PRId64, m ? "," : "", rss_member_name(m),
		       r->rss_bytes < 0 ? -1 : (int64_t)r->rss.pages[m] * 4096);
	fputs("},\"errors\":[", stdout);
	nerr = sysview_errors(v, r->tgid, keys, counts, MAX_ERRORS_SHOWN);
	for (size_t i = 0; i < nerr; i++)
		printf("%s{\"syscall\":\"%s\",\"errno\":%u,\"error\":\"%s\",\"count\":%" PRIu64 "}",
		       i ? "," : "", keys[i].syscall < SYS_NR ? syscalls[keys[i].syscall] : "?",
		       keys[i].err, strerrorname_np(keys[i].err) ?: "?", counts[i]);
	putchar(']');
	if (reclaim)
		print_json_reclaim(r, secs);
	fputs("}\n", stdout);
}

static void print_json(const struct top_env *env, const struct proc_row *rows, size_t nr,
		       struct sysview *v, double secs, const struct cost *c)
{
	char when[32];

	format_now(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ");
	printf("{\"type\":\"memlens\",\"time\":\"%s\",\"interval_s\":%.3f,\"processes\":%zu,"
	       "\"events_per_s\":%.1f,\"bpf_ms_per_s\":%.3f,\"uprobes\":%s,\"lost\":{",
	       when, secs, nr, c->events_per_s, c->bpf_ms_per_s,
	       env->o.no_uprobes ? "false" : "true");
	alloc_stats_print_lost_json(stdout, c->stats);
	printf("},\"free_unknown\":%" PRIu64, c->stats[STAT_FREE_UNKNOWN]);
	if (c->reclaim) {
		fputs(",\"reclaim_lost\":", stdout);
		pressure_print_lost_json(stdout, &c->pressure);
	}
	fputs("}\n", stdout);
	for (size_t i = 0; i < nr; i++)
		print_json_row(&rows[i], v, secs, when, c->reclaim);
	output_check(stdout, "stdout");
}

static void print_header(const struct top_env *env, size_t nr, double secs,
			 const struct cost *c)
{
	char when[16];

	format_now(when, sizeof(when), "%H:%M:%S");
	printf("memlens top  %s UTC  %zu processes  sorted by %s  every %.1fs%s\n", when, nr,
	       sort_name(env->sort), secs, env->o.no_uprobes ? "  (no uprobes)" : "");
	printf("memlens cost: %.0f events/s, %.2f ms/s in BPF programs, %" PRIu64 " lost%s",
	       c->events_per_s, c->bpf_ms_per_s, lost_total(c),
	       lost_total(c) ? " (see --json for which)" : "");
	/* Not a loss, but FREE/s is short of them: an SRE would read a leak. */
	if (c->stats[STAT_FREE_UNKNOWN])
		printf("; %" PRIu64 " frees of blocks allocated before tracing (or evicted), "
		       "not in FREE/s", c->stats[STAT_FREE_UNKNOWN]);
	putchar('\n');
	printf("%7s %-15s %8s %8s %8s %8s %8s %8s %8s %8s %8s", "PID", "COMM", "ALLOC/s",
	       "BYTES/s", "FREE/s", "OUTSTAND", "BRK+/s", "MMAP+/s", "MINFLT/s", "MAJFLT/s",
	       "RSS");
	if (c->reclaim)
		printf(" %8s %8s %6s %8s", "PAGES/s", "STALLms", "STALL%", "RECLM/s");
	putchar('\n');
}

static void print_row(const struct proc_row *r, double secs, bool reclaim)
{
	char b[5][16];

	printf("%7u %-15.15s %8.0f %8s %8.0f %8s %8s %8s %8.0f %8.0f %8s", r->tgid, r->comm,
	       r->delta.v[PS_ALLOCS] / secs,
	       human_bytes(r->delta.v[PS_ALLOC_BYTES] / secs, b[0], sizeof(b[0])),
	       r->delta.v[PS_FREES] / secs,
	       human_bytes(r->outstanding, b[1], sizeof(b[1])),
	       human_bytes(r->delta.v[PS_BRK_GROW_BYTES] / secs, b[2], sizeof(b[2])),
	       human_bytes(r->delta.v[PS_MMAP_BYTES] / secs, b[3], sizeof(b[3])),
	       (r->delta.v[PS_MINFLT_USER] + r->delta.v[PS_MINFLT_KERNEL]) / secs,
	       (r->delta.v[PS_MAJFLT_USER] + r->delta.v[PS_MAJFLT_KERNEL]) / secs,
	       r->rss_bytes < 0 ? "-" : human_bytes(r->rss_bytes, b[4], sizeof(b[4])));
	/* Stall time as it was in the interval, not per second: it is a wait. */
	if (reclaim)
		printf(" %8.0f %8.1f %6.1f %8.0f", r->page_allocs / secs, r->stall_ns / 1e6,
		       row_stall_pct(r, secs), r->reclaimed / secs);
	puts(r->exited ? " (exited)" : "");
}

static void print_table(const struct top_env *env, const struct proc_row *rows, size_t nr,
			double secs, const struct cost *c)
{
	size_t shown = env->rows && env->rows < nr ? env->rows : nr;
	struct winsize ws;

	if (env->live) {
		fputs("\033[H\033[2J", stdout);
		/* Header, footer and the lines they take. */
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 5)
			shown = nr < (size_t)ws.ws_row - 5 ? nr : (size_t)ws.ws_row - 5;
		else
			shown = nr;
	}
	print_header(env, nr, secs, c);
	for (size_t i = 0; i < shown; i++)
		print_row(&rows[i], secs, c->reclaim);
	if (env->live)
		printf("sort: a)llocs b)ytes f)rees o)utstanding brk(k) m)map mi(n)flt ma(j)flt r)ss %sp)id  q)uit\n",
		       c->reclaim ? "stall(w) " : "");
	else
		putchar('\n');
	output_check(stdout, "stdout");
}

/* One interval: sample, compute rates, render, forget the exited. */
struct top_state {
	struct proc_row *prev;
	size_t nr_prev;
	struct cost cost;		/* of the last interval, for redraws */
	double secs;
	uint64_t prev_ns;
	uint64_t prev_stats[STAT_NR];
	uint64_t prev_bpf_ns;
};

static void publish_prom(struct top_env *env, struct sysview *v, const struct proc_row *rows,
			 size_t nr, const uint64_t stats[STAT_NR])
{
	size_t len;
	char *text;

	if (top_prom_render(v, rows, nr, stats, &text, &len))
		return;		/* out of memory: scrapes get the last one */
	prom_publish(env->prom_server, text, len);
}

/*
 * The programs that exec'd in the interval: a row each under its old name,
 * shown once like an exited process. The new program's row counts from
 * the exec, all of it within this interval. *ALL gets those, then ROWS (or
 * is ROWS); ROWS alone stay for the next interval's deltas.
 */
static int add_execed(struct sysview *v, const struct top_state *st, struct proc_row *rows,
		      size_t nr, struct proc_row **all, size_t *nr_all)
{
	size_t nx = sysview_nr_execed(v);
	struct proc_sample *xs;
	struct proc_row *xr;
	int err;

	*all = rows;
	*nr_all = nr;
	if (!nx)
		return 0;
	xs = calloc(nx, sizeof(*xs));
	if (!xs)
		return -ENOMEM;
	nx = sysview_execed(v, xs, nx);
	err = proctable_build(xs, nx, st->prev, st->nr_prev, sysview_comm_of, v, &xr);
	if (err) {
		free(xs);
		return err;
	}
	for (size_t i = 0; i < nx; i++) {
		struct proc_row *now = proctable_find(rows, nr, xs[i].tgid);

		memcpy(xr[i].comm, xs[i].st.comm, sizeof(xr[i].comm));
		xr[i].exited = true;
		if (now)
			now->delta = now->total;
		/* A second exec in the interval: the program between began in it. */
		for (size_t j = 0; j < i; j++)
			if (xs[j].tgid == xs[i].tgid)
				xr[i].delta = xr[i].total;
	}
	free(xs);
	*all = malloc((nr + nx) * sizeof(**all));
	if (!*all) {
		free(xr);
		return -ENOMEM;
	}
	/* The old programs first: they ran before the rows that replaced them. */
	memcpy(*all, xr, nx * sizeof(*xr));
	memcpy(*all + nx, rows, nr * sizeof(*rows));
	*nr_all = nr + nx;
	free(xr);
	return 0;
}

static int top_update(struct top_env *env, struct sysview *v, struct top_state *st)
{
	struct proc_sample *samples;
	struct proc_row *rows, *all;
	uint64_t now = monotonic_ns(), bpf_ns;
	double secs = (now - st->prev_ns) / 1e9;
	struct cost c;
	size_t nr, nr_all;
	int err;

	err = sysview_sample(v, &samples, &nr);
	if (err)
		return err;
	err = proctable_build(samples, nr, st->prev, st->nr_prev, sysview_comm_of, v, &rows);
	free(samples);
	if (err)
		return err;
	for (size_t i = 0; i < nr; i++)
		rows[i].exited = sysview_exited(v, rows[i].tgid);
	err = add_execed(v, st, rows, nr, &all, &nr_all);
	if (err) {
		free(rows);
		return err;
	}

	sysview_stats(v, c.stats, &bpf_ns);
	c.reclaim = sysview_pressure_totals(v, &c.pressure);
	if (c.reclaim)
		bpf_ns += c.pressure.run_time_ns;
	c.events_per_s = (c.stats[STAT_EVENTS] - st->prev_stats[STAT_EVENTS]) / secs;
	c.bpf_ms_per_s = (bpf_ns - st->prev_bpf_ns) / 1e6 / secs;
	memcpy(st->prev_stats, c.stats, sizeof(c.stats));
	st->prev_bpf_ns = bpf_ns;
	st->prev_ns = now;
	st->cost = c;
	st->secs = secs;

	if (env->prom_server)
		publish_prom(env, v, rows, nr, c.stats);
	proctable_sort(all, nr_all, env->sort);
	if (env->o.json)
		print_json(env, all, nr_all, v, secs, &c);
	else
		print_table(env, all, nr_all, secs, &c);
	if (all != rows)
		free(all);
	sysview_forget_exited(v);

	/* Kept in pid order for the next interval's lookups. */
	proctable_sort(rows, nr, SORT_PID);
	free(st->prev);
	st->prev = rows;
	st->nr_prev = nr;
	return 0;
}

static struct termios saved_tty;
static bool tty_saved;

static void tty_raw(void)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_tty))
		return;
	tty_saved = true;
	stop_restores_tty(&saved_tty);
	raw = saved_tty;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

static void tty_restore(void)
{
	if (tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
}

/* A key typed in the live table: true to quit. */
static bool handle_keys(struct top_env *env, bool *redraw)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) == 1) {
		if (c == 'q')
			return true;
		if (c == sort_hotkey(SORT_STALL) && !env->o.reclaim)
			continue;
		if (sort_by_hotkey(c, &env->sort) == 0)
			*redraw = true;
	}
	return false;
}

int cmd_top(int argc, char **argv)
{
	struct top_env env = { .o.interval_s = 1, .sort = SORT_BYTES, .rows = 20 };
	struct top_state st = {};
	unsigned long long updates = 0;
	struct sysview *v;
	char target[512];
	uint64_t next;
	int err;

	if (cli_parse_view(argc, argv, &top_cmd, &env.o, &env))
		return EXIT_USAGE;
	ignore_sigpipe();
	if (env.sort == SORT_STALL && !env.o.reclaim) {
		error_msg("top: sorting by stall needs --reclaim");
		return EXIT_USAGE;
	}
	env.live = !env.o.json && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
	if (env.prom) {
		err = prom_start(env.prom, &env.prom_server);
		if (err)
			return err == -EINVAL ? EXIT_USAGE : 1;
	}
	env.o.cost = true;
	err = sysview_open(&env.o, &v);
	if (err) {
		prom_stop(env.prom_server);
		return 1;
	}
	info_msg("tracing %s%s; Ctrl-C to stop", cli_view_target(&env.o, target, sizeof(target)),
		 env.o.no_uprobes ? " without uprobes" : "");
	if (env.live)
		tty_raw();
	st.prev_ns = monotonic_ns();
	next = st.prev_ns + env.o.interval_s * 1e9;
	for (;;) {
		uint64_t now = monotonic_ns();
		int timeout = now >= next ? 0 : (next - now + 999999) / 1000000;
		bool redraw = false;

		/* Ctrl-C, or -p's process gone: what happened since the last interval. */
		if (stop_requested() || sysview_target_gone(v)) {
			err = top_update(&env, v, &st) ?: output_check(stdout, "stdout");
			break;
		}
		err = sysview_poll(v, timeout, env.live);
		if (err < 0)
			break;
		if (err > 0 && handle_keys(&env, &redraw))
			break;
		if (monotonic_ns() < next && !redraw)
			continue;
		if (redraw && monotonic_ns() < next && st.secs > 0) {
			/* Re-sort what is on screen now; rates keep their interval. */
			proctable_sort(st.prev, st.nr_prev, env.sort);
			print_table(&env, st.prev, st.nr_prev, st.secs, &st.cost);
			proctable_sort(st.prev, st.nr_prev, SORT_PID);
			continue;
		}
		err = top_update(&env, v, &st) ?: output_check(stdout, "stdout");
		if (err)
			break;
		next += env.o.interval_s * 1e9;
		if (next < monotonic_ns())	/* late: no burst of short intervals */
			next = monotonic_ns() + env.o.interval_s * 1e9;
		if (env.o.count && ++updates >= env.o.count)
			break;
	}
	if (env.live)
		tty_restore();
	if (err < 0 && !output_failed())
		error_msg("top: %s", strerror(-err));
	free(st.prev);
	sysview_close(v);
	prom_stop(env.prom_server);
	return err < 0 || output_failed() ? 1 : 0;
}
