/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* memlens' own counters (enum alloc_stat): names, and which are losses. */
#ifndef MEMLENS_ALLOC_STATS_H
#define MEMLENS_ALLOC_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "allocs.h"

/* "allocs_map_full": the name in text, JSON and Prometheus. */
const char *alloc_stat_name(enum alloc_stat stat);
/* What a stack report misses when STAT is not 0, and why; NULL if nothing. */
const char *alloc_stat_loss(enum alloc_stat stat);
/* Is STAT a count a system-wide view (top, hist) misses: full maps, lost events? */
bool alloc_stat_is_loss(int stat);
/* Those counts: their sum, and as JSON members ("name":N,...). */
uint64_t alloc_stats_lost(const uint64_t *stats);
void alloc_stats_print_lost_json(FILE *out, const uint64_t *stats);
bool alloc_stat_in_report(int stat, bool allocated);

#endif
