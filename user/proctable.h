/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Rows of memlens top and hist: counters, their rates over an interval, sorting. */
#ifndef MEMLENS_PROCTABLE_H
#define MEMLENS_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "allocs.h"
#include "sysview.h"

struct proc_row {
	uint32_t tgid;
	char comm[16];
	bool exited;
	struct proc_stats total;	/* since tracing began */
	struct proc_stats delta;	/* in this interval */
	uint64_t outstanding;		/* bytes allocated and not freed, while traced */
	int64_t rss_bytes;		/* -1 while unknown */
	struct rss_info rss;
	/* With --reclaim: totals, and what changed in this interval. */
	struct pressure_proc pr;
	uint64_t stalls, stall_ns, reclaimed, page_allocs;
	uint64_t in_progress_before;	/* stall_in_progress_ns of the row before */
};

enum sort_key {
	SORT_ALLOCS,
	SORT_BYTES,
	SORT_FREES,
	SORT_OUTSTANDING,
	SORT_BRK,
	SORT_MMAP,
	SORT_MINFLT,
	SORT_MAJFLT,
	SORT_RSS,
	SORT_STALL,
	SORT_PID,
	SORT_NR,
};

/* Name of the --sort value, and the key typed in the live table. */
const char *sort_name(enum sort_key key);
char sort_hotkey(enum sort_key key);
int sort_by_name(const char *name, enum sort_key *key);
int sort_by_hotkey(char c, enum sort_key *key);

/*
 * Rows for CUR (sorted by tgid) with deltas against PREV (sorted by tgid;
 * a process missing there counts from zero). COMM_OF(CTX, ...) fills each
 * row's comm.
 */
int proctable_build(const struct proc_sample *cur, size_t nr,
		    const struct proc_row *prev, size_t nr_prev,
		    void (*comm_of)(void *ctx, uint32_t tgid, char comm[16]), void *ctx,
		    struct proc_row **rows);
void proctable_sort(struct proc_row *rows, size_t nr, enum sort_key key);
/* ROWS in tgid order (as built): the row of TGID, or NULL; as strchr(), not const. */
struct proc_row *proctable_find(const struct proc_row *rows, size_t nr, uint32_t tgid);
const char *proc_stat_name(enum proc_stat ps);
const char *rss_member_name(enum rss_member m);

#endif
