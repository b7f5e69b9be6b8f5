/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A reachability scan in stack reports: its totals and each stack's classes, as text and JSON. */
#ifndef MEMLENS_REACH_REPORT_H
#define MEMLENS_REACH_REPORT_H

#include <stdio.h>
#include "pprof.h"
#include "stack_report.h"

/* Lost bytes first (definitely, indirectly, possibly), then all bytes: what a leak hunt reads first. */
void reach_sort_groups(struct stack_group *groups, size_t nr);
/* Nothing without a scan (R->scan NULL). */
void reach_print_text(FILE *out, const struct stack_report *r);
/* ": definitely lost N bytes in M blocks, ...", the end of the stack's line. */
void reach_print_group_text(FILE *out, const struct stack_report *r, const struct stack_group *g);
/* ,"scan":{...} and ,"classes":{...} */
void reach_print_json(FILE *out, const struct stack_report *r);
void reach_print_group_json(FILE *out, const struct stack_report *r, const struct stack_group *g);

/*
 * R's profile (SAMPLES, one per group) into F, with a sample type per
 * class after inuse_objects and inuse_space when a scan classed them
 * (definitely_lost_objects, definitely_lost_space, ...).
 */
int reach_write_pprof(FILE *f, const struct stack_report *r, const struct pprof_sample *samples,
		      int64_t time_ns, const char *comment);

#endif
