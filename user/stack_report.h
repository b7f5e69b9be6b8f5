/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Stack reports (leaks, allocs, report): blocks grouped by stack, as text, JSON, folded, SVG, pprof. */
#ifndef MEMLENS_STACK_REPORT_H
#define MEMLENS_STACK_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "allocs.h"
#include "alloc_rec.h"
#include "flameset.h"
#include "reachability.h"
#include "symbolize.h"

/* Outstanding allocations that share a call stack. */
struct stack_group {
	uint64_t stack_id;
	uint64_t count;
	uint64_t bytes;
	uint64_t oldest_ts_ns;
	/* Allocations tracked; COUNT and BYTES are estimates from them when sampled. */
	uint64_t samples;
	/* By class of a reachability scan (reach_report.c), exact blocks only. */
	uint64_t reach_count[REACH_NR];
	uint64_t reach_bytes[REACH_NR];
};

struct sym_stack {
	size_t nr;
	struct frame_info *frames;
};

/* What a report's counts are. */
enum report_kind {
	REPORT_OUTSTANDING,	/* blocks allocated and not freed (leaks, record, report) */
	REPORT_ALLOCATED,	/* allocations made while traced (allocs: a Go heap profile) */
};

/*
 * The allocations of one process grouped by call stack, at one time, as
 * every output renders them (text, JSON, folded, SVG, pprof).
 */
struct stack_report {
	enum report_kind kind;
	bool malloc_profile;		/* REPORT_ALLOCATED by a program's allocator, not Go's heap */
	int pid;
	const char *comm;
	uint64_t now_ns;		/* CLOCK_MONOTONIC, as the BPF timestamps */
	time_t wall_time;		/* when the report was taken */
	bool exited;
	int exit_code;			/* wait status, valid if exited */
	size_t top;			/* groups shown, 0 = all */
	uint64_t total_count;		/* over all groups, not just the top */
	uint64_t total_bytes;
	struct stack_group *groups;
	size_t nr_groups;
	uint64_t stats[STAT_NR];
	uint64_t threads_tracked;	/* per-thread state entries alive */
	uint64_t sample_bytes;		/* --sample-bytes R: counts are estimates; 0: exact */
	uint64_t total_samples;		/* allocations tracked behind the estimates */
	const struct reach_stats *scan;	/* a reachability scan classed the blocks; NULL: none */
	const char *no_scan;		/* a scan asked for and not made: why */
	/* Symbolized frames of a stack id, NULL if unknown. */
	const struct sym_stack *(*stack)(void *ctx, uint64_t stack_id);
	void *ctx;
};

int group_by_stack(struct alloc_rec *recs, size_t nr, uint64_t now_ns,
		   uint64_t min_age_ns, struct stack_group **groups, size_t *nr_groups);
/* Most bytes first, for groups made elsewhere. */
void sort_groups(struct stack_group *groups, size_t nr);
/* qsort()'s order of groups by stack id, for bsearch() too. */
int stack_group_cmp_id(const void *a, const void *b);
/* Groups of one stack id made one (counts, bytes and samples added), most bytes first. */
void merge_groups(struct stack_group *groups, size_t *nr);
/* R's totals: counts, bytes and samples over all its groups, not just the top. */
void report_add_totals(struct stack_report *r);
/* One frame as the text reports print it: address, function+offset (module) file:line, newline. */
void frame_print_text(FILE *out, const struct frame_info *f);
/* The same as a JSON object: addr, symbol, offset, module, file, line. */
void frame_print_json(FILE *out, const struct frame_info *f);
void report_print_text(FILE *out, const struct stack_report *r);
/* Its LOST: and NOTE: lines alone, for outputs that have no room for them (--folded: stderr). */
void report_print_losses(FILE *out, const struct stack_report *r);
void report_print_json(FILE *out, const struct stack_report *r);
/* A frame as a flame graph names it: its function, else module+offset, else the address. */
const char *frame_label(const struct frame_info *f, char *buf, size_t len);
/* Every stack of R as a pprof heap profile (inuse_space, inuse_objects) in PATH, replaced whole. */
int report_write_pprof(const struct stack_report *r, const char *path);
/*
 * The outputs of R that are not a report: its folded lines on stdout if
 * FOLDED, an SVG flame graph into SVG and a pprof profile into PPROF if
 * they are not NULL. Errors are reported; the first is returned.
 */
int report_write_outputs(const struct stack_report *r, bool folded, const char *svg,
			 const char *pprof);

/* How stack reports are shown: the options leaks, allocs and report share. */
struct report_opts {
	unsigned long long top;	/* stacks shown, 0 = all */
	double min_age_s;
	bool json;
	bool folded;		/* folded lines instead of the text report */
	const char *svg;	/* also a flame graph into this file */
	const char *pprof;	/* also a pprof profile into this file */
};

/*
 * 1 if OPT is one of them (taken into O), 0 if not, -EINVAL for a bad ARG.
 * Their keys (cli.h): 't' (--top), 'a' (--min-age), 'j' (--json),
 * CLI_FOLDED, CLI_SVG, CLI_PPROF; each command's table gives their help.
 */
int report_opts_parse(struct report_opts *o, int opt, const char *arg);
/* 0 if the files asked for can be written: checked before anything starts. */
int report_opts_check_files(const struct report_opts *o);
/*
 * 0 if the --svg and --pprof files of command CMD are two files, neither
 * INPUT (the recording read, or NULL), else -EINVAL said in one line:
 * one would replace the other, or what is being read.
 */
int report_check_outputs(const char *cmd, const char *svg, const char *pprof, const char *input);

#endif
