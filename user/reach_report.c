// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A reachability scan in stack reports (reach_report.h): the totals by
 * class with what the scan cost (bytes read, time, the process's pause),
 * and each stack's blocks by class.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "output.h"
#include "reach_report.h"

/* The order classes are shown in: what is lost first. */
static const enum reach_class shown_order[] = {
	REACH_DEFINITE, REACH_INDIRECT, REACH_POSSIBLE, REACH_REACHABLE, REACH_SUPPRESSED,
	REACH_NONE,
};

static const char *const text_names[REACH_NR] = {
	[REACH_NONE] = "not scanned",
	[REACH_DEFINITE] = "definitely lost",
	[REACH_INDIRECT] = "indirectly lost",
	[REACH_POSSIBLE] = "possibly lost",
	[REACH_REACHABLE] = "still reachable",
	[REACH_SUPPRESSED] = "suppressed",
};

#define NR_SHOWN (sizeof(shown_order) / sizeof(shown_order[0]))

static uint64_t lost_bytes(const struct stack_group *g)
{
	return g->reach_bytes[REACH_DEFINITE] + g->reach_bytes[REACH_INDIRECT] +
	       g->reach_bytes[REACH_POSSIBLE];
}

static int cmp_lost(const void *a, const void *b)
{
	const struct stack_group *x = a, *y = b;
	uint64_t lx = lost_bytes(x), ly = lost_bytes(y);

	if (lx != ly)
		return lx > ly ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

void reach_sort_groups(struct stack_group *groups, size_t nr)
{
	/* No group: GROUPS may be NULL, which qsort must not be given. */
	if (nr)
		qsort(groups, nr, sizeof(*groups), cmp_lost);
}

static void totals(const struct stack_report *r, uint64_t *count, uint64_t *bytes)
{
	for (int c = 0; c < REACH_NR; c++)
		count[c] = bytes[c] = 0;
	for (size_t i = 0; i < r->nr_groups; i++)
		for (int c = 0; c < REACH_NR; c++) {
			count[c] += r->groups[i].reach_count[c];
			bytes[c] += r->groups[i].reach_bytes[c];
		}
}

void reach_print_text(FILE *out, const struct stack_report *r)
{
	const struct reach_stats *st = r->scan;
	uint64_t count[REACH_NR], bytes[REACH_NR];

	if (!st && r->no_scan)
		fprintf(out, "reachability: not scanned: %s\n", r->no_scan);
	if (!st)
		return;
	totals(r, count, bytes);
	fputs("reachability:", out);
	for (size_t i = 0; i < NR_SHOWN; i++) {
		enum reach_class c = shown_order[i];

		/* Every class a scan gives, even at 0; "not scanned" only if some are. */
		if (c == REACH_NONE && !count[c])
			continue;
		fprintf(out, "%s %s %" PRIu64 " bytes in %" PRIu64 " blocks", i ? "," : "",
			text_names[c], bytes[c], count[c]);
	}
	fprintf(out, "\nscan: %" PRIu64 " bytes scanned (%" PRIu64 " of roots) in %.1f ms, "
		"process paused %.1f ms, %" PRIu32 " threads",
		st->bytes_scanned, st->roots_bytes, st->scan_ns / 1e6, st->pause_ns / 1e6,
		st->threads);
	if (st->threads_not_stopped)
		fprintf(out, " (%" PRIu32 " not stopped: their stacks unseen)", st->threads_not_stopped);
	if (st->bytes_unreadable)
		fprintf(out, ", %" PRIu64 " bytes unreadable", st->bytes_unreadable);
	fputc('\n', out);
	if (!st->partial)
		return;
	fputs("PARTIAL: ", out);
	switch (st->why) {
	case REACH_CUT_DEADLINE:
		fputs("the scan stopped at --scan-max-pause", out);
		break;
	case REACH_CUT_READ_ERROR:
		fprintf(out, "the scan stopped: memory could not be read (%s)",
			strerror(st->read_err));
		break;
	case REACH_CUT_THREADS:
		fprintf(out, "%" PRIu32 " of %" PRIu32 " threads not stopped (%s%s): "
			"their stacks and registers unseen", st->threads_not_stopped, st->threads,
			st->seize_err ? "could not trace them: " : "too slow to stop",
			st->seize_err ? strerror(st->seize_err) : "");
		break;
	case REACH_CUT_UNREADABLE:
		fprintf(out, "%" PRIu64 " bytes of roots (or of blocks they reach) could not be read",
			st->roots_unreadable);
		break;
	default:
		break;
	}
	fputs(": only \"still reachable\" is sure, the rest is not scanned\n", out);
}

void reach_print_group_text(FILE *out, const struct stack_report *r, const struct stack_group *g)
{
	bool first = true;

	if (!r->scan)
		return;
	for (size_t i = 0; i < NR_SHOWN; i++) {
		enum reach_class c = shown_order[i];

		if (!g->reach_count[c])
			continue;
		fprintf(out, "%s%s %" PRIu64 " bytes in %" PRIu64 " blocks", first ? ": " : ", ",
			text_names[c], g->reach_bytes[c], g->reach_count[c]);
		first = false;
	}
}

static void print_class_json(FILE *out, bool first, enum reach_class c, uint64_t count,
			     uint64_t bytes)
{
	fprintf(out, "%s\"%s\":{\"bytes\":%" PRIu64 ",\"allocations\":%" PRIu64 "}",
		first ? "" : ",", reach_class_name(c), bytes, count);
}

void reach_print_json(FILE *out, const struct stack_report *r)
{
	const struct reach_stats *st = r->scan;
	uint64_t count[REACH_NR], bytes[REACH_NR];

	if (!st && r->no_scan) {
		fputs(",\"no_scan\":", out);
		json_print_string(out, r->no_scan);
	}
	if (!st)
		return;
	totals(r, count, bytes);
	fputs(",\"scan\":{", out);
	for (size_t i = 0; i < NR_SHOWN; i++)
		print_class_json(out, !i, shown_order[i], count[shown_order[i]],
				 bytes[shown_order[i]]);
	fprintf(out, ",\"bytes_scanned\":%" PRIu64 ",\"roots_bytes\":%" PRIu64
		",\"bytes_unreadable\":%" PRIu64 ",\"scan_ms\":%.3f,\"pause_ms\":%.3f"
		",\"threads\":%" PRIu32 ",\"threads_not_stopped\":%" PRIu32 ",\"partial\":%s",
		st->bytes_scanned, st->roots_bytes, st->bytes_unreadable, st->scan_ns / 1e6,
		st->pause_ns / 1e6, st->threads, st->threads_not_stopped,
		st->partial ? "true" : "false");
	if (st->partial)
		fprintf(out, ",\"partial_reason\":\"%s\"", reach_partial_name(st->why));
	else
		fputs(",\"partial_reason\":null", out);
	fputc('}', out);
}

void reach_print_group_json(FILE *out, const struct stack_report *r, const struct stack_group *g)
{
	bool first = true;

	if (!r->scan)
		return;
	fputs(",\"classes\":{", out);
	for (size_t i = 0; i < NR_SHOWN; i++) {
		enum reach_class c = shown_order[i];

		if (!g->reach_count[c])
			continue;
		print_class_json(out, first, c, g->reach_count[c], g->reach_bytes[c]);
		first = false;
	}
	fputc('}', out);
}

/* The classes a profile has a sample type for, in this order, objects then space each. */
static const enum reach_class pprof_classes[] = {
	REACH_DEFINITE, REACH_INDIRECT, REACH_POSSIBLE, REACH_REACHABLE, REACH_SUPPRESSED,
};

#define NR_PPROF (sizeof(pprof_classes) / sizeof(pprof_classes[0]))

int reach_write_pprof(FILE *f, const struct stack_report *r, const struct pprof_sample *samples,
		      int64_t time_ns, const char *comment)
{
	static const char *const types[2 * NR_PPROF] = {
		"definitely_lost_objects", "definitely_lost_space",
		"indirectly_lost_objects", "indirectly_lost_space",
		"possibly_lost_objects", "possibly_lost_space",
		"still_reachable_objects", "still_reachable_space",
		"suppressed_objects", "suppressed_space",
	};
	static const char *const units[2 * NR_PPROF] = {
		"count", "bytes", "count", "bytes", "count", "bytes", "count", "bytes",
		"count", "bytes",
	};
	struct pprof_extra x = { .types = types, .units = units, .nr = 2 * NR_PPROF };
	bool allocated = r->kind == REPORT_ALLOCATED;
	int64_t *v;
	int err;

	if (!r->scan)
		return pprof_write_profile(f, samples, r->nr_groups, time_ns, comment, allocated);
	v = calloc(r->nr_groups * x.nr + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < r->nr_groups; i++)
		for (size_t c = 0; c < NR_PPROF; c++) {
			v[i * x.nr + 2 * c] = r->groups[i].reach_count[pprof_classes[c]];
			v[i * x.nr + 2 * c + 1] = r->groups[i].reach_bytes[pprof_classes[c]];
		}
	x.values = v;
	err = pprof_write_profile_extra(f, samples, r->nr_groups, time_ns, comment, allocated, &x);
	free(v);
	return err;
}
