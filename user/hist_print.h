/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* log2 histograms as the BPF side fills them (include/log2hist.h), rendered. */
#ifndef MEMLENS_HIST_PRINT_H
#define MEMLENS_HIST_PRINT_H

#include <stdint.h>
#include <stdio.h>
#include "log2hist.h"

uint64_t hist_total(const struct hist *h);
/* Bounds of slot I: values in [low, high]. */
void hist_slot_range(int i, uint64_t *low, uint64_t *high);
/* bcc-style: "     256 -> 511        : 7        |*****     |" */
void hist_print_text(FILE *out, const struct hist *h, const char *unit);
/* "total":N,"buckets":[{"low":..,"high":..,"count":..},...] for the used range. */
void hist_print_json(FILE *out, const struct hist *h);

#endif
