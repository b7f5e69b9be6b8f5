/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The memory-pressure session shared by memlens reclaim and top --reclaim:
 * loads bpf/reclaim.bpf.c with the filters, attaches what the kernel has,
 * streams stalls and OOM kills into the episode tracker, and reads the
 * per-process maps.
 */
#ifndef MEMLENS_PRESSURE_H
#define MEMLENS_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "episodes.h"
#include "log2hist.h"
#include "reclaim.h"
#include "stall_report.h"		/* stall_kind_name() */

struct pressure_opts {
	int pid;			/* 0: every process */
	const char *comm;
	uint64_t memcg;			/* v1 memory cgroup id, 0: any */
	bool page_allocs;		/* count page allocations per process */
	uint64_t gap_ns;		/* quiet time that ends an episode */
	bool episodes;			/* group into episodes (memlens reclaim) */
	bool stacks;			/* take stall stacks (memlens reclaim --stacks) */
	bool cost;			/* time the programs: what memlens costs is shown */
	/* Called as events arrive: an OOM kill, an episode closing. */
	void (*on_oom)(const struct oom_event *e, void *ctx);
	void (*on_episode)(struct episode *e, void *ctx);
	/* Each stall as it is streamed, before the episode tracker sees it. */
	void (*on_stall)(const struct reclaim_event *e, void *ctx);
	/* Set: each exec of a process traced (REVENT_EXEC), as it happens. */
	void (*on_exec)(const struct reclaim_event *e, void *ctx);
	void *ctx;
};

/* One process's reclaim counters since the session began (struct reclaim_proc). */
struct pressure_proc {
	uint32_t tgid;
	char comm[16];
	uint64_t stalls[STALL_NR];
	uint64_t stall_ns[STALL_NR];
	uint64_t reclaimed[STALL_NR];
	uint64_t kswapd_wakeups;
	uint64_t memcg;
	uint64_t page_allocs;
	/* Its stalls still in progress, each from its begin to the sample. */
	uint64_t stall_in_progress_ns;
};

/*
 * The share of an interval of INTERVAL_NS that a process spent stalled, in
 * %: the stalls that ended in it (ENDED_NS) and what its stalls in progress
 * lasted since the sample before (stall_in_progress_ns of both samples). 100 is one thread stalled all the time; threads add up.
 */
double stall_pct(uint64_t ended_ns, uint64_t cur_in_progress_ns, uint64_t old_in_progress_ns,
		 uint64_t interval_ns);

struct pressure_totals {
	uint64_t stats[RSTAT_NR];
	uint64_t recursion_misses;	/* program runs the kernel skipped */
	uint64_t run_time_ns;		/* in the programs, for memlens' own cost */
	uint64_t kswapd_wakes;
	uint64_t kswapd_awake_ns;
	uint64_t kswapd_reclaimed;
};

struct pressure;

int pressure_open(const struct pressure_opts *o, struct pressure **out);
void pressure_close(struct pressure *p);
/* The ring buffer's fd, to poll with other fds; pressure_consume() reads it. */
int pressure_fd(const struct pressure *p);
int pressure_consume(struct pressure *p);
/* Wait up to TIMEOUT_MS for events and hand them on; negative on error. */
int pressure_poll(struct pressure *p, int timeout_ms);
/* A tick: page allocations since the last one go to the episode tracker. */
int pressure_tick(struct pressure *p);
/* Close the open episode: at the end of the session. */
void pressure_flush(struct pressure *p);
/* Every process with reclaim activity or page allocations, sorted by tgid. */
int pressure_sample(struct pressure *p, struct pressure_proc **out, size_t *nr);
/* Stalls by process, kind and stacks (--stacks), from the BPF map. */
struct pressure_stack {
	struct stall_stack_key key;
	struct stall_stack_val val;
};

/* Every aggregate of the stall_stacks map, in no order. */
int pressure_stacks(struct pressure *p, struct pressure_stack **out, size_t *nr);
/* The frames of stack ID (leaf first) into IPS (RECLAIM_STACK_DEPTH); their number, 0 if none. */
size_t pressure_stack_ips(struct pressure *p, int32_t id, uint64_t *ips);
/* The stall latency histogram (µs) of TGID for KIND; false if none. */
bool pressure_hist(struct pressure *p, uint32_t tgid, enum stall_kind kind, struct hist *h);
void pressure_totals(struct pressure *p, struct pressure_totals *t);
/* What went uncounted: full maps, lost events, skipped runs. */
uint64_t pressure_lost(const struct pressure_totals *t);
void pressure_print_lost_json(FILE *out, const struct pressure_totals *t);
/* The same, each counter by its name (at most MAX of them): how many. */
size_t pressure_lost_each(const struct pressure_totals *t, const char **names, uint64_t *counts,
			  size_t max);
/* What the kernel lacked: tracepoints that could not be hooked, as one line. */
const char *pressure_missing(const struct pressure *p);

/* /proc/pressure/memory; false when PSI is off or absent. */
bool psi_read(struct psi_totals *out);

#endif
