// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stall stacks rendered: rows of (process, kind, user stack, kernel stack)
 * with their count, time and longest, as text, JSON, folded lines, an SVG
 * flame graph of stall time and a pprof profile. Pure: memlens reclaim
 * --stacks renders what user/stall_stacks.c collects, memlens report
 * --stalls what a recording holds.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "flameset.h"
#include "output.h"
#include "pprof.h"
#include "stall_report.h"
#include "util.h"

/* Frame names in flame graphs and pprof: as long as stack_report's. */
#define LABEL_LEN	256
/* A flame graph's stack: the root, user frames, kernel frames. */
#define FLAME_DEPTH	(1 + 2 * RECLAIM_STACK_DEPTH)

static const char *const stall_names[STALL_NR] = {
	[STALL_DIRECT] = "direct",
	[STALL_MEMCG] = "memcg",
	[STALL_NODE] = "node",
	[STALL_COMPACT] = "compact",
	[STALL_THROTTLE] = "throttle",
};

const char *stall_kind_name(enum stall_kind kind)
{
	return kind < STALL_NR ? stall_names[kind] : "?";
}

/* Each process's stall time over all its rows, to sort processes by. */
struct proc_total {
	uint32_t tgid;
	uint64_t ns;
};

static uint64_t proc_total(const struct proc_total *t, size_t nr, uint32_t tgid)
{
	for (size_t i = 0; i < nr; i++)
		if (t[i].tgid == tgid)
			return t[i].ns;
	return 0;
}

static const struct proc_total *sort_totals;
static size_t sort_nr_totals;

static int by_proc_then_time(const void *a, const void *b)
{
	const struct stall_stack_row *x = a, *y = b;
	uint64_t px = proc_total(sort_totals, sort_nr_totals, x->key.tgid);
	uint64_t py = proc_total(sort_totals, sort_nr_totals, y->key.tgid);

	if (px != py)
		return px > py ? -1 : 1;
	if (x->key.tgid != y->key.tgid)
		return x->key.tgid < y->key.tgid ? -1 : 1;
	if (x->val.total_ns != y->val.total_ns)
		return x->val.total_ns > y->val.total_ns ? -1 : 1;
	if (x->val.count != y->val.count)
		return x->val.count > y->val.count ? -1 : 1;
	if (x->key.ustack != y->key.ustack)
		return x->key.ustack < y->key.ustack ? -1 : 1;
	return x->key.kstack < y->key.kstack ? -1 : x->key.kstack > y->key.kstack;
}

int stall_stack_rows_sort(struct stall_stack_row *rows, size_t nr)
{
	struct proc_total *t = calloc(nr + 1, sizeof(*t));
	size_t nt = 0;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		size_t j;

		for (j = 0; j < nt && t[j].tgid != rows[i].key.tgid; j++)
			;
		if (j == nt)
			t[nt++].tgid = rows[i].key.tgid;
		t[j].ns += rows[i].val.total_ns;
	}
	sort_totals = t;
	sort_nr_totals = nt;
	qsort(rows, nr, sizeof(*rows), by_proc_then_time);
	sort_totals = NULL;
	free(t);
	return 0;
}

/* --- text and JSON --------------------------------------------------- */

static void print_frame(FILE *out, const char *indent, const struct frame_info *f)
{
	fprintf(out, "%s      ", indent);
	frame_print_text(out, f);
}

void stall_stack_print_text(FILE *out, const struct stall_stack_row *r, size_t rank,
			    const char *indent, bool with_pid)
{
	fprintf(out, "%s#%zu ", indent, rank);
	if (with_pid)
		fprintf(out, "pid %u (%s) ", r->key.tgid, r->comm);
	fprintf(out, "%s: %" PRIu64 " stalls, %.1f ms, max %.1f ms\n",
		stall_kind_name(r->key.kind), (uint64_t)r->val.count, r->val.total_ns / 1e6,
		r->val.max_ns / 1e6);
	/* The whole stack, innermost first: the kernel's part, then the user's. */
	if (r->kernel)
		for (size_t i = 0; i < r->kernel->nr; i++)
			print_frame(out, indent, &r->kernel->frames[i]);
	else
		fprintf(out, "%s      [kernel stack lost]\n", indent);
	if (r->user && r->user_unnamed)
		fprintf(out, "%s      [user frames unnamed: the process exited before its mappings were read]\n",
			indent);
	if (r->user)
		for (size_t i = 0; i < r->user->nr; i++)
			print_frame(out, indent, &r->user->frames[i]);
	else if (r->key.ustack < 0)
		fprintf(out, "%s      [no user stack]\n", indent);
}

static void print_frames_json(FILE *out, const char *name, const struct sym_stack *st)
{
	fprintf(out, ",\"%s\":", name);
	if (!st) {
		fputs("null", out);
		return;
	}
	fputc('[', out);
	for (size_t i = 0; i < st->nr; i++) {
		if (i)
			fputc(',', out);
		frame_print_json(out, &st->frames[i]);
	}
	fputc(']', out);
}

void stall_stack_print_json(FILE *out, const struct stall_stack_row *r)
{
	fprintf(out, "{\"pid\":%u,\"comm\":", r->key.tgid);
	json_print_string(out, r->comm);
	fprintf(out, ",\"kind\":\"%s\",\"count\":%" PRIu64 ",\"total_ms\":%.3f,\"max_ms\":%.3f",
		stall_kind_name(r->key.kind), (uint64_t)r->val.count, r->val.total_ns / 1e6,
		r->val.max_ns / 1e6);
	print_frames_json(out, "user", r->user);
	print_frames_json(out, "kernel", r->kernel);
	if (r->user && r->user_unnamed)
		fputs(",\"user_unnamed\":true", out);
	fputc('}', out);
}

/* --- flame graphs and pprof ------------------------------------------ */

static int flame_rows(const struct stall_stack_row *rows, size_t nr, struct flame_set *set)
{
	static char labels[FLAME_DEPTH][LABEL_LEN];
	const char *frames[FLAME_DEPTH];
	int err = 0;

	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < nr && !err; i++) {
		const struct stall_stack_row *r = &rows[i];
		size_t n = 0;

		frames[n++] = r->comm[0] ? r->comm : "?";
		/* Root first: the user's outermost frame down to the kernel's innermost. */
		for (size_t f = r->user ? r->user->nr : 0; f-- > 0; n++)
			frames[n] = frame_label(&r->user->frames[f], labels[n], LABEL_LEN);
		for (size_t f = r->kernel ? r->kernel->nr : 0; f-- > 0; n++) {
			char name[LABEL_LEN - 4];

			frame_label(&r->kernel->frames[f], name, sizeof(name));
			snprintf(labels[n], LABEL_LEN, "%s_[k]", name);
			frames[n] = labels[n];
		}
		if (n == 1)
			frames[n++] = "[stack lost]";
		err = flame_set_add(set, frames, n, r->val.total_ns);
	}
	if (err)
		flame_set_free(set);
	return err;
}

struct pprof_job {
	const struct pprof_sample *samples;
	size_t nr;
};

static int emit_pprof(FILE *f, void *ctx)
{
	static const struct pprof_types types = {
		"stalls", "count", "stall_time", "nanoseconds",
	};
	const struct pprof_job *job = ctx;

	return pprof_write_typed(f, job->samples, job->nr, realtime_ns(),
				 "memlens reclaim: stall time by user and kernel stack", &types);
}

/* One frame of a sample: a frame without a symbol is named as the flame graph names it. */
static void pprof_frame(const struct frame_info *fi, struct pprof_frame *pf,
			char (*labels)[LABEL_LEN], size_t *named)
{
	pf->function = fi->symbol;
	if (!fi->symbol)
		pf->function = frame_label(fi, labels[(*named)++], LABEL_LEN);
	pf->file = fi->file;
	pf->line = fi->line;
	pf->addr = fi->addr;
}

static size_t unnamed(const struct sym_stack *st)
{
	size_t n = 0;

	for (size_t f = 0; st && f < st->nr; f++)
		n += !st->frames[f].symbol;
	return n;
}

static size_t depth(const struct sym_stack *st)
{
	return st ? st->nr : 0;
}

/* What continuous profilers group by: the process and the kind of stall. */
struct stall_tags {
	char pid[12];
	struct pprof_label l[3];
};

static void stall_tags_set(struct stall_tags *t, const struct stall_stack_row *r)
{
	snprintf(t->pid, sizeof(t->pid), "%u", r->key.tgid);
	t->l[0] = (struct pprof_label){ "pid", t->pid };
	t->l[1] = (struct pprof_label){ "comm", r->comm };
	t->l[2] = (struct pprof_label){ "kind", stall_kind_name(r->key.kind) };
}

static int write_pprof(const struct stall_stack_row *rows, size_t nr, const char *path)
{
	size_t nr_frames = 0, nr_labels = 0, named = 0, base = 0;
	struct pprof_sample *samples = calloc(nr + 1, sizeof(*samples));
	struct stall_tags *tags = calloc(nr + 1, sizeof(*tags));
	struct pprof_job job = { samples, nr };
	char (*labels)[LABEL_LEN] = NULL;
	struct pprof_frame *frames;
	int err = -ENOMEM;

	for (size_t i = 0; i < nr; i++) {
		nr_frames += depth(rows[i].user) + depth(rows[i].kernel);
		nr_labels += unnamed(rows[i].user) + unnamed(rows[i].kernel);
	}
	frames = calloc(nr_frames + 1, sizeof(*frames));
	labels = calloc(nr_labels + 1, LABEL_LEN);
	if (!samples || !tags || !frames || !labels)
		goto out;
	for (size_t i = 0; i < nr; i++) {
		const struct stall_stack_row *r = &rows[i];
		size_t n = 0;

		/* Leaf first, as pprof orders locations: the kernel's frames, then the user's. */
		for (size_t f = 0; r->kernel && f < r->kernel->nr; f++, n++)
			pprof_frame(&r->kernel->frames[f], &frames[base + n], labels, &named);
		for (size_t f = 0; r->user && f < r->user->nr; f++, n++)
			pprof_frame(&r->user->frames[f], &frames[base + n], labels, &named);
		stall_tags_set(&tags[i], r);
		samples[i] = (struct pprof_sample){
			.frames = &frames[base],
			.nr = n,
			.objects = (int64_t)r->val.count,
			.bytes = (int64_t)r->val.total_ns,
			.labels = tags[i].l,
			.nr_labels = 3,
		};
		base += n;
	}
	err = write_file_atomic(path, emit_pprof, &job);
out:
	free(samples);
	free(tags);
	free(frames);
	free(labels);
	return err;
}

int stall_stacks_write_outputs(const struct stall_stack_row *rows, size_t nr, bool folded,
			       const char *svg, const char *pprof)
{
	struct flame_set set;
	int err = 0;

	if (folded || svg) {
		err = flame_rows(rows, nr, &set);
		if (err)
			return err;
		if (folded)
			flame_set_print_folded(stdout, &set);
		if (svg) {
			err = flame_set_write_svg(&set, svg, "Reclaim and compaction stall time by stack",
						  "ns");
			if (err)
				output_lost(svg, err);
		}
		flame_set_free(&set);
	}
	if (!err && pprof) {
		err = write_pprof(rows, nr, pprof);
		if (err)
			output_lost(pprof, err);
	}
	return err;
}
