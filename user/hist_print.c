// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* log2 histograms (include/log2hist.h) as text bars and as JSON buckets. */
#include <inttypes.h>
#include "hist_print.h"

#define BAR_WIDTH 40

uint64_t hist_total(const struct hist *h)
{
	uint64_t n = 0;

	for (int i = 0; i < HIST_SLOTS; i++)
		n += h->slots[i];
	return n;
}

/* Slot 0 holds 0; slot i > 0 holds [2^(i-1), 2^i - 1]. */
void hist_slot_range(int i, uint64_t *low, uint64_t *high)
{
	if (i == 0) {
		*low = *high = 0;
		return;
	}
	*low = 1ULL << (i - 1);
	*high = i >= 64 ? UINT64_MAX : (1ULL << i) - 1;
}

/* The slots worth printing: from the first to the last non-empty one. */
static void used_range(const struct hist *h, int *first, int *last)
{
	*first = HIST_SLOTS;
	*last = -1;
	for (int i = 0; i < HIST_SLOTS; i++) {
		if (!h->slots[i])
			continue;
		if (*first == HIST_SLOTS)
			*first = i;
		*last = i;
	}
}

void hist_print_text(FILE *out, const struct hist *h, const char *unit)
{
	uint64_t max = 0, low, high;
	int first, last;

	used_range(h, &first, &last);
	for (int i = first; i <= last; i++)
		if (h->slots[i] > max)
			max = h->slots[i];
	fprintf(out, "%24s : %-10s |%-*s|\n", unit, "count", BAR_WIDTH, "distribution");
	for (int i = first; i <= last; i++) {
		int bar = max ? (int)(h->slots[i] * BAR_WIDTH / max) : 0;

		hist_slot_range(i, &low, &high);
		fprintf(out, "%10" PRIu64 " -> %-10" PRIu64 " : %-10" PRIu64 " |%-*.*s|\n", low,
			high, (uint64_t)h->slots[i], BAR_WIDTH, bar,
			"****************************************");
	}
}

void hist_print_json(FILE *out, const struct hist *h)
{
	uint64_t low, high;
	int first, last;

	used_range(h, &first, &last);
	fprintf(out, "\"total\":%" PRIu64 ",\"buckets\":[", hist_total(h));
	for (int i = first; i <= last; i++) {
		hist_slot_range(i, &low, &high);
		fprintf(out, "%s{\"low\":%" PRIu64 ",\"high\":%" PRIu64 ",\"count\":%" PRIu64 "}",
			i == first ? "" : ",", low, high, (uint64_t)h->slots[i]);
	}
	fputc(']', out);
}
