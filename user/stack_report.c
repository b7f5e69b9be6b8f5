// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stack reports: blocks grouped by call stack (outstanding ones for leaks,
 * allocations made for allocs), rendered as text, JSON, folded lines, an
 * SVG flame graph and a pprof profile.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "cli.h"
#include "pprof.h"
#include "reach_report.h"
#include "sampling.h"
#include "alloc_stats.h"
#include "output.h"
#include "stack_report.h"
#include "util.h"

static int rec_cmp_stack(const void *a, const void *b)
{
	const struct alloc_rec *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* Most bytes first; ties by count, then by stack id for a stable order. */
static int group_cmp_bytes(const void *a, const void *b)
{
	const struct stack_group *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

void sort_groups(struct stack_group *groups, size_t nr)
{
	qsort(groups, nr, sizeof(*groups), group_cmp_bytes);
}

int stack_group_cmp_id(const void *a, const void *b)
{
	const struct stack_group *x = a, *y = b;

	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

void merge_groups(struct stack_group *groups, size_t *nr)
{
	size_t n = 0;

	qsort(groups, *nr, sizeof(*groups), stack_group_cmp_id);
	for (size_t i = 0; i < *nr; i++) {
		struct stack_group *g = &groups[i], *last = n ? &groups[n - 1] : NULL;

		if (!last || last->stack_id != g->stack_id) {
			groups[n++] = *g;
			continue;
		}
		last->count += g->count;
		last->bytes += g->bytes;
		last->samples += g->samples;
		for (int c = 0; c < REACH_NR; c++) {
			last->reach_count[c] += g->reach_count[c];
			last->reach_bytes[c] += g->reach_bytes[c];
		}
		if (g->oldest_ts_ns < last->oldest_ts_ns)
			last->oldest_ts_ns = g->oldest_ts_ns;
	}
	*nr = n;
	sort_groups(groups, n);
}

/* Estimates of each group from its sampled records, summed in floating point. */
struct group_estimate {
	double count;
	double bytes;
};

/* Add the sampled records' estimates, rounded once per group, to the exact part. */
static void add_estimates(struct stack_group *g, const struct group_estimate *est, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		g[i].count += sample_round(est[i].count);
		g[i].bytes += sample_round(est[i].bytes);
	}
}

/*
 * Group RECS (sorted in place) by stack, leaving out allocations younger
 * than MIN_AGE_NS at NOW_NS. A sampled record stands for
 * sample_weight(size, R) allocations. Groups come out sorted by bytes.
 */
int group_by_stack(struct alloc_rec *recs, size_t nr, uint64_t now_ns,
		   uint64_t min_age_ns, struct stack_group **groups, size_t *nr_groups)
{
	struct group_estimate *est;
	struct stack_group *g = NULL;
	size_t n = 0;

	*groups = NULL;
	*nr_groups = 0;
	if (!nr)
		return 0;
	qsort(recs, nr, sizeof(*recs), rec_cmp_stack);
	g = calloc(nr, sizeof(*g));
	est = calloc(nr, sizeof(*est));
	if (!g || !est) {
		free(g);
		free(est);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		const struct alloc_rec *r = &recs[i];
		double w;

		if (now_ns < r->ts_ns + min_age_ns)
			continue;
		if (!n || g[n - 1].stack_id != r->stack_id) {
			g[n].stack_id = r->stack_id;
			g[n].oldest_ts_ns = r->ts_ns;
			n++;
		}
		if (r->ts_ns < g[n - 1].oldest_ts_ns)
			g[n - 1].oldest_ts_ns = r->ts_ns;
		if (!r->sample_bytes) {
			g[n - 1].count++;
			g[n - 1].bytes += r->size;
			g[n - 1].reach_count[r->reach % REACH_NR]++;
			g[n - 1].reach_bytes[r->reach % REACH_NR] += r->size;
			continue;
		}
		g[n - 1].samples++;
		w = sample_weight(r->size, r->sample_bytes);
		est[n - 1].count += w;
		est[n - 1].bytes += w * r->size;
	}
	add_estimates(g, est, n);
	free(est);
	sort_groups(g, n);
	*groups = g;
	*nr_groups = n;
	return 0;
}

void report_add_totals(struct stack_report *r)
{
	for (size_t i = 0; i < r->nr_groups; i++) {
		r->total_count += r->groups[i].count;
		r->total_bytes += r->groups[i].bytes;
		r->total_samples += r->groups[i].samples;
	}
}

static size_t shown_groups(const struct stack_report *r)
{
	return r->top && r->top < r->nr_groups ? r->top : r->nr_groups;
}

static double age_s(const struct stack_report *r, uint64_t ts_ns)
{
	return r->now_ns > ts_ns ? (r->now_ns - ts_ns) / 1e9 : 0.0;
}

void frame_print_text(FILE *out, const struct frame_info *f)
{
	fprintf(out, "0x%016" PRIx64 " ", f->addr);
	if (f->symbol) {
		print_clean(out, f->symbol);
		fprintf(out, "+0x%" PRIx64, f->sym_offset);
	} else {
		fputs("[unknown]", out);
	}
	if (f->module) {
		fputs(" (", out);
		print_clean(out, f->module);
		/* Without a symbol, where in the module: for addr2line -e MODULE. */
		if (!f->symbol)
			fprintf(out, "+0x%" PRIx64, f->sym_offset);
		fputc(')', out);
	}
	if (f->file) {
		fputc(' ', out);
		print_clean(out, f->file);
		fprintf(out, ":%d", f->line);
	}
	fputc('\n', out);
}

static void print_frame_text(FILE *out, size_t i, const struct frame_info *f)
{
	fprintf(out, "\t#%-2zu ", i);
	frame_print_text(out, f);
}

static void print_stats_text(FILE *out, const struct stack_report *r)
{
	bool allocated = r->kind == REPORT_ALLOCATED;

	fputs("stats:", out);
	for (int i = 0; i < STAT_NR; i++)
		if (alloc_stat_in_report(i, allocated))
			fprintf(out, " %s=%" PRIu64, alloc_stat_name(i), r->stats[i]);
	fprintf(out, " threads_tracked=%" PRIu64 "\n", r->threads_tracked);
	report_print_losses(out, r);
}

void report_print_losses(FILE *out, const struct stack_report *r)
{
	for (int i = 0; i < STAT_NR; i++) {
		const char *what = alloc_stat_loss(i);

		/* An allocation profile's map is by stack: --max-allocs is leaks's. */
		if (i == STAT_ALLOCS_FULL && r->kind == REPORT_ALLOCATED)
			what = "allocations not counted: profile map full (raise --max-stacks)";
		if (r->stats[i] && what)
			fprintf(out, "LOST: %" PRIu64 " %s\n", r->stats[i], what);
	}
	/* Nothing of the process lost, but what a report of it cannot show. */
	if (r->stats[STAT_CHILDREN_UNTRACED])
		fprintf(out, "NOTE: %" PRIu64 " child process%s not traced: memlens traces one "
			"process (trace a child with -p PID)\n", r->stats[STAT_CHILDREN_UNTRACED],
			r->stats[STAT_CHILDREN_UNTRACED] == 1 ? "" : "es");
}

static void format_time(time_t t, const char *fmt, char *buf, size_t len)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, fmt, &tm))
		snprintf(buf, len, "?");
}

/* What the counts of R are: outstanding blocks, or allocations made (Go). */
static const char *report_what(const struct stack_report *r)
{
	if (r->kind == REPORT_ALLOCATED && r->malloc_profile)
		return r->exited ? "made while traced (allocation profile, at exit)"
				 : "made while traced (allocation profile)";
	if (r->kind == REPORT_ALLOCATED)
		return r->exited ? "made while traced (Go heap allocation profile, at exit)"
				 : "made while traced (Go heap allocation profile)";
	return r->exited ? "outstanding (leaked at exit)" : "outstanding";
}

/* With sampling: what the estimates rest on, and what sampling saved. */
static void print_sampling_text(FILE *out, const struct stack_report *r)
{
	uint64_t seen = r->stats[STAT_SAMPLED] + r->stats[STAT_UNSAMPLED];

	if (!r->sample_bytes)
		return;
	fprintf(out, "sampling: %" PRIu64 " of %" PRIu64 " allocator calls tracked (%.1f%%), one sample every %"
		PRIu64 " bytes on average; counts and bytes are estimates, a sample of S bytes standing for 1/(1-exp(-S/%"
		PRIu64 ")) allocations\n", r->stats[STAT_SAMPLED], seen,
		seen ? 100.0 * r->stats[STAT_SAMPLED] / seen : 0.0, r->sample_bytes, r->sample_bytes);
}

void report_print_text(FILE *out, const struct stack_report *r)
{
	size_t shown = shown_groups(r);
	char when[32];

	format_time(r->wall_time, "%H:%M:%S", when, sizeof(when));
	fprintf(out, "== %s UTC pid %d (", when, r->pid);
	print_clean(out, r->comm ? r->comm : "?");
	fprintf(out, "): %" PRIu64 " bytes in %" PRIu64 " allocations %s", r->total_bytes,
		r->total_count, report_what(r));
	if (r->sample_bytes)
		fprintf(out, ", estimated from %" PRIu64 " samples", r->total_samples);
	fprintf(out, ", %zu stacks", r->nr_groups);
	if (shown < r->nr_groups)
		fprintf(out, ", top %zu by bytes", shown);
	fputs(" ==\n", out);
	reach_print_text(out, r);

	for (size_t i = 0; i < shown; i++) {
		const struct stack_group *g = &r->groups[i];
		const struct sym_stack *st = r->stack(r->ctx, g->stack_id);

		fprintf(out, "%" PRIu64 " bytes in %" PRIu64 " allocations", g->bytes, g->count);
		if (r->sample_bytes && g->samples)
			fprintf(out, " (estimated from %" PRIu64 " samples)", g->samples);
		else if (r->sample_bytes)
			fputs(" (exact: not sampled)", out);
		if (r->kind == REPORT_OUTSTANDING)
			fprintf(out, ", oldest %.1fs ago", age_s(r, g->oldest_ts_ns));
		fprintf(out, ", stack %016" PRIx64, g->stack_id);
		reach_print_group_text(out, r, g);
		fputc('\n', out);
		if (!st || !st->nr) {
			fputs("\t[stack not captured: see stack_* stats]\n", out);
			continue;
		}
		for (size_t f = 0; f < st->nr; f++)
			print_frame_text(out, f, &st->frames[f]);
	}
	if (r->exited) {
		if (WIFSIGNALED(r->exit_code))
			fprintf(out, "process exited on signal %d\n", WTERMSIG(r->exit_code));
		else
			fprintf(out, "process exited with status %d\n", WEXITSTATUS(r->exit_code));
	}
	print_stats_text(out, r);
	print_sampling_text(out, r);
}

void frame_print_json(FILE *out, const struct frame_info *f)
{
	fprintf(out, "{\"addr\":\"0x%" PRIx64 "\",\"symbol\":", f->addr);
	if (f->symbol)
		json_print_string(out, f->symbol);
	else
		fputs("null", out);
	fprintf(out, ",\"offset\":%" PRIu64 ",\"module\":", f->sym_offset);
	if (f->module)
		json_print_string(out, f->module);
	else
		fputs("null", out);
	fputs(",\"file\":", out);
	if (f->file)
		json_print_string(out, f->file);
	else
		fputs("null", out);
	fprintf(out, ",\"line\":%d}", f->line);
}

/* One JSON object per report, on one line. */
void report_print_json(FILE *out, const struct stack_report *r)
{
	const char *kind = r->kind == REPORT_ALLOCATED ? "allocated" : "outstanding";
	size_t shown = shown_groups(r);
	char when[32];

	format_time(r->wall_time, "%Y-%m-%dT%H:%M:%SZ", when, sizeof(when));
	fprintf(out, "{\"time\":\"%s\",\"pid\":%d,\"comm\":", when, r->pid);
	json_print_string(out, r->comm ? r->comm : "");
	fprintf(out, ",\"exited\":%s", r->exited ? "true" : "false");
	if (r->exited) {
		if (WIFSIGNALED(r->exit_code))
			fprintf(out, ",\"exit_signal\":%d", WTERMSIG(r->exit_code));
		else
			fprintf(out, ",\"exit_status\":%d", WEXITSTATUS(r->exit_code));
	}
	fprintf(out, ",\"profile\":\"%s\",\"%s_bytes\":%" PRIu64 ",\"%s_allocations\":%" PRIu64,
		kind, kind, r->total_bytes, kind, r->total_count);
	fprintf(out, ",\"estimated\":%s", r->sample_bytes ? "true" : "false");
	if (r->sample_bytes)
		fprintf(out, ",\"sample_bytes\":%" PRIu64 ",\"samples\":%" PRIu64, r->sample_bytes,
			r->total_samples);
	reach_print_json(out, r);
	fprintf(out, ",\"stacks_total\":%zu,\"stacks\":[", r->nr_groups);
	for (size_t i = 0; i < shown; i++) {
		const struct stack_group *g = &r->groups[i];
		const struct sym_stack *st = r->stack(r->ctx, g->stack_id);

		fprintf(out, "%s{\"stack_id\":\"%016" PRIx64 "\",\"bytes\":%" PRIu64
			",\"allocations\":%" PRIu64, i ? "," : "", g->stack_id, g->bytes, g->count);
		if (r->sample_bytes)
			fprintf(out, ",\"samples\":%" PRIu64, g->samples);
		if (r->kind == REPORT_OUTSTANDING)
			fprintf(out, ",\"oldest_age_s\":%.3f", age_s(r, g->oldest_ts_ns));
		reach_print_group_json(out, r, g);
		fputs(",\"frames\":[", out);
		for (size_t f = 0; st && f < st->nr; f++) {
			if (f)
				fputc(',', out);
			frame_print_json(out, &st->frames[f]);
		}
		fputs("]}", out);
	}
	fputs("],\"stats\":{", out);
	for (int i = 0, first = 1; i < STAT_NR; i++) {
		if (!alloc_stat_in_report(i, r->kind == REPORT_ALLOCATED))
			continue;
		fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", alloc_stat_name(i), r->stats[i]);
		first = 0;
	}
	fprintf(out, ",\"threads_tracked\":%" PRIu64 "}}\n", r->threads_tracked);
}

const char *frame_label(const struct frame_info *f, char *buf, size_t len)
{
	const char *base;

	if (f->symbol) {
		snprintf(buf, len, "%s", f->symbol);
		return buf;
	}
	if (!f->module) {
		snprintf(buf, len, "0x%" PRIx64, f->addr);
		return buf;
	}
	base = strrchr(f->module, '/');
	snprintf(buf, len, "[%s+0x%" PRIx64 "]", base ? base + 1 : f->module, f->sym_offset);
	return buf;
}

/* Every stack of R (not only --top), root first under the process's name, weighed in bytes. */
static int report_flame_set(const struct stack_report *r, struct flame_set *out)
{
	char labels[MAX_STACK_DEPTH + 1][256];
	const char *frames[MAX_STACK_DEPTH + 1];

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < r->nr_groups; i++) {
		const struct stack_group *g = &r->groups[i];
		const struct sym_stack *st = r->stack(r->ctx, g->stack_id);
		size_t nr = 0, depth = st ? st->nr : 0;
		int err;

		if (depth > MAX_STACK_DEPTH)
			depth = MAX_STACK_DEPTH;
		frames[nr++] = r->comm && *r->comm ? r->comm : "?";
		/* Frame #0 is the leaf: the flame graph wants the root first. */
		for (size_t f = depth; f-- > 0; nr++)
			frames[nr] = frame_label(&st->frames[f], labels[nr], sizeof(labels[nr]));
		if (!depth)
			frames[nr++] = "[stack lost]";
		err = flame_set_add(out, frames, nr, g->bytes);
		if (err) {
			flame_set_free(out);
			return err;
		}
	}
	return 0;
}

/* Room for the name of a frame without a symbol, as frame_label() makes it. */
#define PPROF_LABEL_LEN 256

static bool module_only(const struct frame_info *f)
{
	return !f->symbol && f->module;
}

/* Frames of R in a module but without a symbol: each needs a name made for it. */
static size_t module_only_frames(const struct stack_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nr_groups; i++) {
		const struct sym_stack *st = r->stack(r->ctx, r->groups[i].stack_id);

		for (size_t f = 0; st && f < st->nr; f++)
			n += module_only(&st->frames[f]);
	}
	return n;
}

/*
 * R's stacks as pprof samples: frames leaf first, as the groups hold them.
 * A frame in a module without a symbol is named "[module+0xoffset]", as
 * in the flame graph, into LABELS; one in no module after its address.
 */
static int pprof_samples(const struct stack_report *r, struct pprof_sample *samples,
			 struct pprof_frame *frames, char (*labels)[PPROF_LABEL_LEN])
{
	size_t used = 0, named = 0;

	for (size_t i = 0; i < r->nr_groups; i++) {
		const struct stack_group *g = &r->groups[i];
		const struct sym_stack *st = r->stack(r->ctx, g->stack_id);
		size_t depth = st ? st->nr : 0;

		samples[i].frames = &frames[used];
		samples[i].nr = depth;
		samples[i].objects = g->count;
		samples[i].bytes = g->bytes;
		for (size_t f = 0; f < depth; f++, used++) {
			const struct frame_info *fi = &st->frames[f];

			frames[used].function = fi->symbol;
			if (module_only(fi))
				frames[used].function = frame_label(fi, labels[named++],
								    PPROF_LABEL_LEN);
			frames[used].file = fi->file;
			frames[used].line = fi->line;
			frames[used].addr = fi->addr;
			/* A recording keeps no mappings: none rather than one without a range. */
			frames[used].map_file = fi->map_end ? fi->module : NULL;
			frames[used].map_start = fi->map_start;
			frames[used].map_limit = fi->map_end;
			frames[used].map_offset = fi->map_offset;
			frames[used].build_id = fi->build_id;
		}
	}
	return 0;
}

struct pprof_job {
	const struct stack_report *r;
	const struct pprof_sample *samples;
};

/* pprof's time_nanos of WALL; 0 (not known) where it does not fit: a damaged recording's. */
static int64_t wall_time_ns(time_t wall)
{
	if (wall < 0 || wall > INT64_MAX / 1000000000)
		return 0;
	return (int64_t)wall * 1000000000;
}

static int write_pprof(FILE *f, void *ctx)
{
	const struct pprof_job *job = ctx;
	const struct stack_report *r = job->r;
	char comment[256];
	int n;

	n = snprintf(comment, sizeof(comment), "memlens %s: pid %d (%s)%s",
		     r->kind == REPORT_ALLOCATED ? "allocs" : "leaks", r->pid, r->comm ? r->comm : "?",
		     r->exited && r->kind == REPORT_OUTSTANDING ? ", leaked at exit" : "");
	if (r->sample_bytes && n > 0 && (size_t)n < sizeof(comment))
		snprintf(comment + n, sizeof(comment) - n, ", estimated: sampled every %" PRIu64 " bytes",
			 r->sample_bytes);
	return reach_write_pprof(f, r, job->samples, wall_time_ns(r->wall_time), comment);
}

int report_write_pprof(const struct stack_report *r, const char *path)
{
	struct pprof_sample *samples = calloc(r->nr_groups + 1, sizeof(*samples));
	struct pprof_frame *frames = calloc(r->nr_groups * MAX_STACK_DEPTH + 1, sizeof(*frames));
	char (*labels)[PPROF_LABEL_LEN] = calloc(module_only_frames(r) + 1, sizeof(*labels));
	struct pprof_job job = { .r = r, .samples = samples };
	/* Every sample is of one process: its pid and comm, as continuous profilers label them. */
	char pid[16];
	const struct pprof_label tags[] = { { "pid", pid }, { "comm", r->comm } };
	int err = -ENOMEM;

	snprintf(pid, sizeof(pid), "%d", r->pid);
	if (samples && frames && labels) {
		pprof_samples(r, samples, frames, labels);
		for (size_t i = 0; i < r->nr_groups; i++) {
			samples[i].labels = tags;
			samples[i].nr_labels = r->comm ? 2 : 1;
		}
		err = write_file_atomic(path, write_pprof, &job);
	}
	free(samples);
	free(frames);
	free(labels);
	return err;
}

/* The SVG's title: whose allocations, of which kind, left at exit, estimated. */
static int write_svg(const struct stack_report *r, const struct flame_set *set, const char *path)
{
	char title[128];
	int err;

	if (r->kind == REPORT_ALLOCATED)
		snprintf(title, sizeof(title), "%s of %d (%s)%s",
			 r->malloc_profile ? "Allocations" : "Go heap allocations", r->pid,
			 r->comm ? r->comm : "?", r->sample_bytes ? ", estimated" : "");
	else
		snprintf(title, sizeof(title), "Outstanding allocations of %d (%s)%s%s", r->pid,
			 r->comm ? r->comm : "?", r->exited ? ", leaked at exit" : "",
			 r->sample_bytes ? ", estimated" : "");
	err = flame_set_write_svg(set, path, title, "bytes");
	if (err)
		error_msg("cannot write %s: %s", path, strerror(-err));
	return err;
}

int report_write_outputs(const struct stack_report *r, bool folded, const char *svg,
			 const char *pprof)
{
	struct flame_set set;
	int err = 0;

	if (folded || svg) {
		err = report_flame_set(r, &set);
		if (err)
			return err;
		if (folded)
			flame_set_print_folded(stdout, &set);
		if (svg)
			err = write_svg(r, &set, svg);
		flame_set_free(&set);
	}
	if (!err && pprof) {
		err = report_write_pprof(r, pprof);
		if (err)
			error_msg("cannot write %s: %s", pprof, strerror(-err));
	}
	return err;
}

int report_opts_parse(struct report_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 't':
		return parse_uint(arg, "top", 1ULL << 32, &o->top) ? -EINVAL : 1;
	case 'a':
		return parse_seconds(arg, "min-age", &o->min_age_s) ? -EINVAL : 1;
	case 'j':
		o->json = true;
		return 1;
	case CLI_FOLDED:
		o->folded = true;
		return 1;
	case CLI_SVG:
		o->svg = arg;
		return 1;
	case CLI_PPROF:
		o->pprof = arg;
		return 1;
	}
	return 0;
}

/* The directory PATH is in, into ST: 0, or -1 if it cannot be looked at. */
static int stat_dir_of(const char *path, struct stat *st)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];

	if (!slash)
		return stat(".", st);
	if ((size_t)(slash - path) >= sizeof(dir))
		return -1;
	memcpy(dir, path, slash - path);
	dir[slash - path] = 0;
	return stat(slash == path ? "/" : dir, st);
}

/*
 * A and B name one file that a write would replace: the same regular file
 * where both exist (a device or a FIFO is written in place, and may take
 * both); where neither does, the same name in the same directory ("x.svg"
 * and "./x.svg"), or the same path if a directory cannot be looked at.
 */
static bool same_file(const char *a, const char *b)
{
	const char *na = strrchr(a, '/'), *nb = strrchr(b, '/');
	bool has_a, has_b;
	struct stat sa, sb;

	has_a = !stat(a, &sa);
	has_b = !stat(b, &sb);
	if (has_a && has_b)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino && S_ISREG(sa.st_mode);
	if (has_a || has_b)
		return false;
	if (strcmp(na ? na + 1 : a, nb ? nb + 1 : b))
		return false;
	if (stat_dir_of(a, &sa) || stat_dir_of(b, &sb))
		return !strcmp(a, b);
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int report_check_outputs(const char *cmd, const char *svg, const char *pprof, const char *input)
{
	struct stat st;

	/* A recording that is not there is no output's: its load says so. */
	if (input && stat(input, &st))
		input = NULL;
	if (svg && pprof && same_file(svg, pprof)) {
		error_msg("%s: --svg and --pprof both name %s: give each its own file", cmd, pprof);
		return -EINVAL;
	}
	if (input && svg && same_file(svg, input)) {
		error_msg("%s: --svg %s is the recording read: write elsewhere", cmd, svg);
		return -EINVAL;
	}
	if (input && pprof && same_file(pprof, input)) {
		error_msg("%s: --pprof %s is the recording read: write elsewhere", cmd, pprof);
		return -EINVAL;
	}
	return 0;
}

int report_opts_check_files(const struct report_opts *o)
{
	if (o->svg && check_output_path(o->svg))
		return -EINVAL;
	if (o->pprof && check_output_path(o->pprof))
		return -EINVAL;
	return 0;
}
