/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Reclaim episodes: stalls, kswapd runs and OOM kills that follow each
 * other with less than a gap between them, grouped into one stretch of
 * memory pressure with who paid (stalled) and who caused it (allocated
 * pages meanwhile). Pure logic over the streamed events and the page
 * allocation counts read at every tick: unit-tested without BPF.
 */
#ifndef MEMLENS_EPISODES_H
#define MEMLENS_EPISODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "reclaim.h"

/* /proc/pressure/memory: total µs some / all non-idle tasks stalled. */
struct psi_totals {
	uint64_t some_us;
	uint64_t full_us;
};

/* One process's part in an episode. */
struct episode_proc {
	uint32_t tgid;
	char comm[16];
	uint64_t memcg;			/* at its last stall; 0 if it never stalled */
	uint64_t stalls[STALL_NR];
	uint64_t stall_ns[STALL_NR];
	uint64_t max_stall_ns;
	uint64_t reclaimed;		/* pages, by its own stalls */
	uint64_t page_allocs;		/* pages allocated within the episode */
	uint64_t pending_allocs;	/* ... after its last activity, until it goes on */
};

/* Stalls of one process, kind and pair of stacks in an episode (--stacks). */
struct episode_stack {
	struct stall_stack_key key;
	struct stall_stack_val val;
};

/* The episode, one tick at a time: when stalls happened next to allocations. */
struct episode_tick {
	uint64_t start_ns, end_ns;
	uint64_t page_allocs;
	uint64_t stalls;
	uint64_t stall_ns;
	uint64_t reclaimed;		/* by stalls and kswapd */
};

struct episode {
	unsigned int id;		/* 1, 2, ... */
	uint64_t begin_ns, end_ns;	/* first activity's begin, last one's end */
	uint64_t stalls;
	uint64_t stall_ns;
	uint64_t reclaimed[STALL_NR];	/* pages, by kind of stall */
	uint64_t kswapd_runs;
	uint64_t kswapd_ns;
	uint64_t kswapd_reclaimed;
	struct episode_proc *procs;
	size_t nr_procs, cap_procs;
	struct oom_event *ooms;
	size_t nr_ooms, cap_ooms;
	struct episode_tick *ticks;
	size_t nr_ticks, cap_ticks;
	struct episode_stack *stacks;	/* with stacks: where they paid */
	size_t nr_stacks, cap_stacks;
	bool has_psi;
	struct psi_totals psi_begin, psi_end;
};

/* Page allocations of one process since the previous tick. */
struct alloc_delta {
	uint32_t tgid;
	char comm[16];
	uint64_t pages;
};

struct episode_tracker {
	uint64_t gap_ns;
	bool open;
	struct episode cur;
	unsigned int next_id;
	/*
	 * Set by the session before each tick, from the maps rather than
	 * from events that may be lost: kswapd still awake, stalls still in
	 * progress. Either keeps an open episode going.
	 */
	bool kswapd_awake;
	unsigned int stalls_in_progress;
	/*
	 * Filtered to some processes: kswapd, everyone's, does not open or
	 * stretch their episodes; its runs only count in an open one.
	 */
	bool filtered;
	/* Stall events carry their stacks (memlens reclaim --stacks): add them up. */
	bool stacks;
	uint64_t tick_start_ns;
	bool ticked;			/* tick_start_ns is set */
	struct episode_tick pending_tick;	/* stalls ended during this tick */
	/* Called with each episode as it closes; it is reused after. */
	void (*closed)(struct episode *e, void *ctx);
	void *ctx;
	/* Reads PSI at an episode's boundaries; NULL or false: no PSI. */
	bool (*read_psi)(struct psi_totals *out);
	int err;			/* -ENOMEM once an allocation failed */
};

void episodes_init(struct episode_tracker *t, uint64_t gap_ns,
		   void (*closed)(struct episode *e, void *ctx), void *ctx);
void episodes_free(struct episode_tracker *t);
/* Feed a streamed event: a stall, a kswapd wake or sleep, an OOM kill. */
void episodes_event(struct episode_tracker *t, const void *data, size_t len);
/*
 * A tick at NOW_NS: the allocations since the previous one (DELTAS) go to
 * the open episode, and an episode quiet for longer than the gap closes.
 */
void episodes_tick(struct episode_tracker *t, uint64_t now_ns,
		   const struct alloc_delta *deltas, size_t nr);
/* Close the open episode, if any: at the end of a session. */
void episodes_flush(struct episode_tracker *t);

/* Sort E's processes: by stall time (who paid) or by pages allocated (who caused it). */
void episode_sort_by_stall(struct episode *e);
void episode_sort_by_allocs(struct episode *e);
uint64_t episode_proc_stall_ns(const struct episode_proc *p);
/* Sort E's stacks: most stall time first. */
void episode_sort_stacks(struct episode *e);

#endif
