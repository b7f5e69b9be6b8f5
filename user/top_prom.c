// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens top as Prometheus metrics: every process's counters since
 * tracing began, its outstanding bytes and RSS, log2 histograms of
 * allocation and mmap sizes, and memlens' own events and losses.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "alloc_stats.h"
#include "hist_print.h"
#include "prom.h"
#include "top_prom.h"

static void print_labels(FILE *out, const struct proc_row *r)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%u", r->tgid);
	fputs("{pid=", out);
	prom_print_label_value(out, pid);
	fputs(",comm=", out);
	prom_print_label_value(out, r->comm);
	fputc('}', out);
}

static void print_counters(FILE *out, const struct proc_row *rows, size_t nr)
{
	for (int k = 0; k < PS_NR; k++) {
		fprintf(out, "# HELP memlens_%s_total %s of the process since memlens started.\n"
			"# TYPE memlens_%s_total counter\n", proc_stat_name(k), proc_stat_name(k),
			proc_stat_name(k));
		for (size_t i = 0; i < nr; i++) {
			if (rows[i].exited)
				continue;
			fprintf(out, "memlens_%s_total", proc_stat_name(k));
			print_labels(out, &rows[i]);
			fprintf(out, " %" PRIu64 "\n", (uint64_t)rows[i].total.v[k]);
		}
	}
}

static void print_gauges(FILE *out, const struct proc_row *rows, size_t nr)
{
	fputs("# HELP memlens_outstanding_bytes Bytes allocated and not freed while traced.\n"
	      "# TYPE memlens_outstanding_bytes gauge\n", out);
	for (size_t i = 0; i < nr; i++) {
		if (rows[i].exited)
			continue;
		fputs("memlens_outstanding_bytes", out);
		print_labels(out, &rows[i]);
		fprintf(out, " %" PRIu64 "\n", rows[i].outstanding);
	}
	fputs("# HELP memlens_rss_bytes Resident bytes as kmem:rss_stat last reported them.\n"
	      "# TYPE memlens_rss_bytes gauge\n", out);
	for (size_t i = 0; i < nr; i++) {
		if (rows[i].exited || rows[i].rss_bytes < 0)
			continue;
		fputs("memlens_rss_bytes", out);
		print_labels(out, &rows[i]);
		fprintf(out, " %" PRId64 "\n", rows[i].rss_bytes);
	}
}

/* Buckets of every series, the same for all: up to 2^40 - 1 (1 TiB), then +Inf. */
#define PROM_SLOTS	41

/*
 * A log2 histogram as a Prometheus one: slot i holds [2^(i-1), 2^i - 1],
 * so its bucket's inclusive bound is 2^i - 1; buckets are cumulative and
 * the +Inf one is the count. The sum is the process's byte counter, read
 * a moment earlier.
 */
static void print_hist(FILE *out, const char *name, const struct proc_row *r,
		       const struct hist *h, uint64_t sum)
{
	uint64_t cumulative = 0, low, high;

	for (int i = 0; i < PROM_SLOTS; i++) {
		cumulative += h->slots[i];
		hist_slot_range(i, &low, &high);
		fprintf(out, "%s_bucket{pid=\"%u\",comm=", name, r->tgid);
		prom_print_label_value(out, r->comm);
		fprintf(out, ",le=\"%" PRIu64 "\"} %" PRIu64 "\n", high, cumulative);
	}
	for (int i = PROM_SLOTS; i < HIST_SLOTS; i++)
		cumulative += h->slots[i];
	fprintf(out, "%s_bucket{pid=\"%u\",comm=", name, r->tgid);
	prom_print_label_value(out, r->comm);
	fprintf(out, ",le=\"+Inf\"} %" PRIu64 "\n", cumulative);
	fprintf(out, "%s_sum", name);
	print_labels(out, r);
	fprintf(out, " %" PRIu64 "\n%s_count", sum, name);
	print_labels(out, r);
	fprintf(out, " %" PRIu64 "\n", cumulative);
}

static void print_hists(FILE *out, struct sysview *v, const struct proc_row *rows, size_t nr)
{
	struct hist h;

	fputs("# HELP memlens_alloc_size_bytes Bytes asked per allocator call.\n"
	      "# TYPE memlens_alloc_size_bytes histogram\n", out);
	for (size_t i = 0; i < nr; i++)
		if (!rows[i].exited && sysview_hist(v, rows[i].tgid, HIST_ALLOC_SIZE, &h))
			print_hist(out, "memlens_alloc_size_bytes", &rows[i], &h,
				   rows[i].total.v[PS_ALLOC_BYTES]);
	fputs("# HELP memlens_mmap_size_bytes Bytes per anonymous mmap.\n"
	      "# TYPE memlens_mmap_size_bytes histogram\n", out);
	for (size_t i = 0; i < nr; i++)
		if (!rows[i].exited && sysview_hist(v, rows[i].tgid, HIST_MMAP_SIZE, &h))
			print_hist(out, "memlens_mmap_size_bytes", &rows[i], &h,
				   rows[i].total.v[PS_MMAP_BYTES]);
}

static void print_self(FILE *out, const uint64_t stats[STAT_NR])
{
	fprintf(out, "# HELP memlens_events_total Events memlens' BPF programs handled.\n"
		"# TYPE memlens_events_total counter\nmemlens_events_total %" PRIu64 "\n",
		stats[STAT_EVENTS]);
	fputs("# HELP memlens_lost_total What memlens could not count, by reason.\n"
	      "# TYPE memlens_lost_total counter\n", out);
	for (int s = 0; s < STAT_NR; s++) {
		if (!alloc_stat_is_loss(s))
			continue;
		fprintf(out, "memlens_lost_total{reason=\"%s\"} %" PRIu64 "\n", alloc_stat_name(s),
			stats[s]);
	}
}

int top_prom_render(struct sysview *v, const struct proc_row *rows, size_t nr,
		    const uint64_t stats[STAT_NR], char **text, size_t *len)
{
	FILE *out = open_memstream(text, len);

	if (!out)
		return -errno;
	print_counters(out, rows, nr);
	print_gauges(out, rows, nr);
	print_hists(out, v, rows, nr);
	print_self(out, stats);
	if (fclose(out)) {
		free(*text);
		return -ENOMEM;
	}
	return 0;
}
