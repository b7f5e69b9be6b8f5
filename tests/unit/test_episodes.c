// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Episode grouping on synthetic event streams. */
#include <stdlib.h>
#include "episodes.h"
#include "unit.h"

#define MS 1000000ULL

/* What the tracker handed over as episodes closed: a copy of each. */
struct closed_log {
	struct episode e[4];
	struct episode_proc procs[4][8];
	size_t nr;
};

static void on_closed(struct episode *e, void *ctx)
{
	struct closed_log *log = ctx;

	if (log->nr == 4)
		return;
	log->e[log->nr] = *e;
	for (size_t i = 0; i < e->nr_procs && i < 8; i++)
		log->procs[log->nr][i] = e->procs[i];
	log->nr++;
}

static void stall(struct episode_tracker *t, uint32_t tgid, enum stall_kind kind,
		  uint64_t begin, uint64_t dur, uint64_t pages)
{
	struct reclaim_event r = {
		.type = REVENT_STALL, .kind = kind, .tgid = tgid, .tid = tgid,
		.begin_ns = begin, .dur_ns = dur, .pages = pages, .memcg = 42,
	};

	snprintf(r.comm, sizeof(r.comm), "p%u", tgid);
	episodes_event(t, &r, sizeof(r));
}

static void kswapd(struct episode_tracker *t, uint32_t type, uint64_t begin, uint64_t dur,
		   uint64_t pages)
{
	struct reclaim_event r = {
		.type = type, .kind = 0, .begin_ns = begin, .dur_ns = dur, .pages = pages,
	};

	episodes_event(t, &r, sizeof(r));
}

static const struct episode_proc *proc_of(const struct closed_log *log, size_t ep, uint32_t tgid)
{
	for (size_t i = 0; i < log->e[ep].nr_procs && i < 8; i++)
		if (log->procs[ep][i].tgid == tgid)
			return &log->procs[ep][i];
	return NULL;
}

/* Stalls closer than the gap are one episode; a longer pause starts another. */
static void test_gap(void)
{
	struct closed_log log = {};
	struct episode_tracker t;
	const struct episode_proc *p;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	episodes_tick(&t, 1000 * MS, NULL, 0);
	stall(&t, 10, STALL_MEMCG, 1100 * MS, 5 * MS, 32);
	stall(&t, 10, STALL_MEMCG, 1600 * MS, 7 * MS, 30);
	stall(&t, 11, STALL_DIRECT, 2500 * MS, 2 * MS, 3);	/* 893 ms after: same */
	episodes_tick(&t, 2600 * MS, NULL, 0);
	CHECK_U64(log.nr, 0);
	/* 3 s after the last stall: the first episode is over when the next begins. */
	stall(&t, 10, STALL_MEMCG, 5502 * MS + 1, 1 * MS, 1);
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].id, 1);
	CHECK_U64(log.e[0].begin_ns, 1100 * MS);
	CHECK_U64(log.e[0].end_ns, 2502 * MS);
	CHECK_U64(log.e[0].stalls, 3);
	CHECK_U64(log.e[0].stall_ns, 14 * MS);
	CHECK_U64(log.e[0].reclaimed[STALL_MEMCG], 62);
	CHECK_U64(log.e[0].reclaimed[STALL_DIRECT], 3);
	CHECK_U64(log.e[0].nr_procs, 2);
	p = proc_of(&log, 0, 10);
	CHECK(p != NULL);
	if (p) {
		CHECK_U64(p->stalls[STALL_MEMCG], 2);
		CHECK_U64(p->stall_ns[STALL_MEMCG], 12 * MS);
		CHECK_U64(p->max_stall_ns, 7 * MS);
		CHECK_U64(p->reclaimed, 62);
		CHECK_U64(p->memcg, 42);
		CHECK_STR(p->comm, "p10");
	}
	/* The second closes at the tick after its gap, not before. */
	episodes_tick(&t, 6000 * MS, NULL, 0);
	CHECK_U64(log.nr, 1);
	episodes_tick(&t, 6600 * MS, NULL, 0);
	CHECK_U64(log.nr, 2);
	CHECK_U64(log.e[1].id, 2);
	CHECK_U64(log.e[1].stalls, 1);
	episodes_flush(&t);
	CHECK_U64(log.nr, 2);
	episodes_free(&t);
}

/*
 * Allocations go to the episode they fall in; those of a pause count only
 * if the episode goes on after it, and ticks of the closing gap are dropped.
 */
static void test_allocations(void)
{
	struct alloc_delta burst[] = { { .tgid = 20, .comm = "hog", .pages = 5000 },
				       { .tgid = 10, .comm = "p10", .pages = 100 } };
	struct alloc_delta pause[] = { { .tgid = 20, .comm = "hog", .pages = 700 } };
	struct alloc_delta after[] = { { .tgid = 30, .comm = "late", .pages = 9 } };
	struct closed_log log = {};
	struct episode_tracker t;
	const struct episode_proc *p;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	episodes_tick(&t, 0, NULL, 0);
	/* Before any pressure: not part of an episode. */
	episodes_tick(&t, 100 * MS, after, 1);
	stall(&t, 10, STALL_MEMCG, 150 * MS, 10 * MS, 32);
	episodes_tick(&t, 200 * MS, burst, 2);		/* tick 100..200 ms */
	episodes_tick(&t, 300 * MS, pause, 1);		/* after the last stall: pending */
	stall(&t, 10, STALL_MEMCG, 350 * MS, 10 * MS, 32);	/* ...and it goes on */
	episodes_tick(&t, 400 * MS, NULL, 0);
	episodes_tick(&t, 500 * MS, pause, 1);		/* pending again, then dropped */
	episodes_tick(&t, 1400 * MS, after, 1);		/* in the gap */
	CHECK_U64(log.nr, 1);
	p = proc_of(&log, 0, 20);
	CHECK(p != NULL);
	if (p) {
		CHECK_U64(p->page_allocs, 5700);
		CHECK_U64(p->stalls[STALL_MEMCG], 0);
		CHECK_STR(p->comm, "hog");
	}
	p = proc_of(&log, 0, 10);
	CHECK(p != NULL);
	if (p)
		CHECK_U64(p->page_allocs, 100);
	/* The late allocator took no part: dropped. */
	CHECK(proc_of(&log, 0, 30) == NULL);
	CHECK_U64(log.e[0].nr_procs, 2);
	/* Ticks up to the last stall's end (360 ms): 100-200, 200-300, 300-400. */
	CHECK_U64(log.e[0].nr_ticks, 3);
	CHECK_U64(log.e[0].ticks[0].page_allocs, 5100);
	CHECK_U64(log.e[0].ticks[0].stalls, 1);
	CHECK_U64(log.e[0].ticks[0].stall_ns, 10 * MS);
	CHECK_U64(log.e[0].ticks[2].stalls, 1);
	/* Who caused it: the hog first. */
	episode_sort_by_allocs(&log.e[0]);
	CHECK_U64(log.e[0].procs[0].tgid, 20);
	CHECK_U64(log.e[0].procs[1].tgid, 10);
	episodes_free(&t);
}

/*
 * Stalls before the first tick (memlens just started) are in the
 * timeline: a first tick from the episode's begin. They were dropped, and
 * the timeline held fewer stalls than the episode.
 */
static void test_before_first_tick(void)
{
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	stall(&t, 10, STALL_MEMCG, 50 * MS, 10 * MS, 32);
	episodes_tick(&t, 100 * MS, NULL, 0);
	stall(&t, 10, STALL_MEMCG, 150 * MS, 10 * MS, 32);
	episodes_tick(&t, 200 * MS, NULL, 0);
	episodes_tick(&t, 1300 * MS, NULL, 0);		/* past the gap: closed */
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].stalls, 2);
	CHECK_U64(log.e[0].nr_ticks, 2);
	CHECK_U64(log.e[0].ticks[0].start_ns, 50 * MS);
	CHECK_U64(log.e[0].ticks[0].stalls, 1);
	CHECK_U64(log.e[0].ticks[1].stalls, 1);
	episodes_free(&t);
}

/*
 * A stall read a tick after it ended (a busy host reads the ring late) is
 * the tick's it ended in. Counted in the tick at hand, which began after
 * the episode's last activity, it was dropped with the gap's ticks, and
 * the timeline held fewer stalls than the episode (e2e-reclaim failed so).
 */
static void test_read_late(void)
{
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	episodes_tick(&t, 0, NULL, 0);
	stall(&t, 10, STALL_MEMCG, 50 * MS, 10 * MS, 32);
	episodes_tick(&t, 100 * MS, NULL, 0);
	episodes_tick(&t, 200 * MS, NULL, 0);
	stall(&t, 10, STALL_MEMCG, 150 * MS, 10 * MS, 32);	/* read at 250 ms */
	episodes_tick(&t, 300 * MS, NULL, 0);
	episodes_tick(&t, 1300 * MS, NULL, 0);		/* past the gap: closed */
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].stalls, 2);
	CHECK_U64(log.e[0].nr_ticks, 2);
	CHECK_U64(log.e[0].ticks[0].stalls, 1);
	CHECK_U64(log.e[0].ticks[1].stalls, 1);
	CHECK_U64(log.e[0].ticks[1].reclaimed, 32);
	episodes_free(&t);
}

/* The same for a kswapd run: its pages in the tick it ended in. */
static void test_kswapd_read_late(void)
{
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	episodes_tick(&t, 0, NULL, 0);
	kswapd(&t, REVENT_KSWAPD_WAKE, 50 * MS, 0, 0);
	t.kswapd_awake = true;				/* as the session reads it */
	episodes_tick(&t, 100 * MS, NULL, 0);
	t.kswapd_awake = false;
	episodes_tick(&t, 200 * MS, NULL, 0);
	kswapd(&t, REVENT_KSWAPD_SLEEP, 50 * MS, 10 * MS, 64);	/* read at 250 ms */
	episodes_tick(&t, 300 * MS, NULL, 0);
	episodes_tick(&t, 1300 * MS, NULL, 0);		/* past the gap: closed */
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].kswapd_reclaimed, 64);
	/* The second, awake at its start: the episode went on into it. */
	CHECK_U64(log.e[0].nr_ticks, 2);
	CHECK_U64(log.e[0].ticks[0].reclaimed, 64);
	CHECK_U64(log.e[0].ticks[1].reclaimed, 0);
	episodes_free(&t);
}

/* kswapd awake keeps an episode open; its run and pages are the episode's. */
static void test_kswapd_and_oom(void)
{
	struct oom_event oom = { .type = REVENT_OOM, .victim_tgid = 77, .ts_ns = 2500 * MS,
				 .memcg = 42 };
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	episodes_tick(&t, 0, NULL, 0);
	kswapd(&t, REVENT_KSWAPD_WAKE, 100 * MS, 0, 0);
	t.kswapd_awake = true;				/* as the session reads it */
	episodes_tick(&t, 1500 * MS, NULL, 0);
	episodes_tick(&t, 3000 * MS, NULL, 0);		/* still awake: still open */
	CHECK_U64(log.nr, 0);
	episodes_event(&t, &oom, sizeof(oom));
	kswapd(&t, REVENT_KSWAPD_SLEEP, 100 * MS, 3100 * MS, 4096);
	t.kswapd_awake = false;
	episodes_tick(&t, 4000 * MS, NULL, 0);
	CHECK_U64(log.nr, 0);
	episodes_tick(&t, 4300 * MS, NULL, 0);
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].begin_ns, 100 * MS);
	CHECK_U64(log.e[0].end_ns, 3200 * MS);
	CHECK_U64(log.e[0].kswapd_runs, 1);
	CHECK_U64(log.e[0].kswapd_ns, 3100 * MS);
	CHECK_U64(log.e[0].kswapd_reclaimed, 4096);
	CHECK_U64(log.e[0].nr_ooms, 1);
	CHECK_U64(log.e[0].ooms[0].victim_tgid, 77);
	CHECK_U64(log.e[0].stalls, 0);
	/* A short record is ignored, not read past its end. */
	episodes_event(&t, &oom, 8);
	episodes_flush(&t);
	CHECK_U64(log.nr, 1);
	episodes_free(&t);
}

/* A stall not over keeps its episode open past the gap. */
static void test_stall_in_progress(void)
{
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	episodes_tick(&t, 0, NULL, 0);
	stall(&t, 10, STALL_DIRECT, 100 * MS, 1 * MS, 1);
	t.stalls_in_progress = 1;			/* another thread, stuck */
	episodes_tick(&t, 2000 * MS, NULL, 0);
	episodes_tick(&t, 3000 * MS, NULL, 0);
	CHECK_U64(log.nr, 0);
	t.stalls_in_progress = 0;
	stall(&t, 11, STALL_DIRECT, 500 * MS, 2900 * MS, 1);	/* ends at 3400 ms */
	episodes_tick(&t, 4000 * MS, NULL, 0);
	CHECK_U64(log.nr, 0);
	episodes_tick(&t, 4500 * MS, NULL, 0);
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].stalls, 2);
	CHECK_U64(log.e[0].end_ns, 3400 * MS);
	episodes_free(&t);
}

/*
 * An episode closed by the next one's first stall keeps its own stalls in
 * its timeline: they do not spill into the next episode's first tick.
 */
static void test_closed_by_event(void)
{
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 100 * MS, on_closed, &log);
	episodes_tick(&t, 0, NULL, 0);
	stall(&t, 10, STALL_MEMCG, 10 * MS, 1 * MS, 1);
	stall(&t, 10, STALL_MEMCG, 500 * MS, 1 * MS, 1);	/* closes the first */
	CHECK_U64(log.nr, 1);
	episodes_tick(&t, 1000 * MS, NULL, 0);
	episodes_flush(&t);
	CHECK_U64(log.nr, 2);
	CHECK_U64(log.e[1].stalls, 1);
	CHECK_U64(log.e[1].nr_ticks, 1);
	CHECK_U64(log.e[1].ticks[0].stalls, 1);
	episodes_free(&t);
}

/* Filtered, kswapd neither opens an episode nor keeps one open. */
static void test_filtered_kswapd(void)
{
	struct closed_log log = {};
	struct episode_tracker t;

	episodes_init(&t, 1000 * MS, on_closed, &log);
	t.filtered = true;
	episodes_tick(&t, 0, NULL, 0);
	kswapd(&t, REVENT_KSWAPD_WAKE, 100 * MS, 0, 0);
	kswapd(&t, REVENT_KSWAPD_SLEEP, 100 * MS, 500 * MS, 64);
	episodes_flush(&t);
	CHECK_U64(log.nr, 0);
	stall(&t, 10, STALL_MEMCG, 1000 * MS, 1 * MS, 1);
	t.kswapd_awake = true;
	episodes_tick(&t, 2100 * MS, NULL, 0);
	CHECK_U64(log.nr, 1);
	CHECK_U64(log.e[0].kswapd_runs, 0);
	episodes_free(&t);
}

/* The stacks an episode saw at its close, copied (the tracker reuses its arrays). */
struct stack_log {
	struct episode_stack s[2][4];
	size_t nr[2];
	size_t episodes;
};

static void log_stacks(struct episode *e, void *ctx)
{
	struct stack_log *log = ctx;

	if (log->episodes == 2)
		return;
	episode_sort_stacks(e);
	log->nr[log->episodes] = e->nr_stacks;
	for (size_t i = 0; i < e->nr_stacks && i < 4; i++)
		log->s[log->episodes][i] = e->stacks[i];
	log->episodes++;
}

static void stall_at(struct episode_tracker *t, uint32_t tgid, int32_t ustack, int32_t kstack,
		     uint64_t begin, uint64_t dur)
{
	struct reclaim_event r = {
		.type = REVENT_STALL, .kind = STALL_MEMCG, .tgid = tgid, .tid = tgid,
		.begin_ns = begin, .dur_ns = dur, .ustack = ustack, .kstack = kstack,
	};

	episodes_event(t, &r, sizeof(r));
}

/* --stacks: each episode sums its own stalls by stack, most time first, and no other's. */
static void test_stacks(void)
{
	struct episode_tracker t;
	struct stack_log log = {};

	episodes_init(&t, 100 * MS, log_stacks, &log);
	t.stacks = true;
	stall_at(&t, 7, 1, 2, 0, 3 * MS);
	stall_at(&t, 7, 3, 2, 4 * MS, 1 * MS);
	stall_at(&t, 7, 1, 2, 6 * MS, 5 * MS);
	stall_at(&t, 8, 1, 2, 7 * MS, 2 * MS);
	/* After the gap: a second episode. */
	stall_at(&t, 7, 3, 2, 500 * MS, 1 * MS);
	episodes_flush(&t);
	CHECK_U64(log.episodes, 2);
	CHECK_U64(log.nr[0], 3);
	CHECK_U64(log.s[0][0].key.tgid, 7);
	CHECK_U64(log.s[0][0].key.ustack, 1);
	CHECK_U64(log.s[0][0].val.count, 2);
	CHECK_U64(log.s[0][0].val.total_ns, 8 * MS);
	CHECK_U64(log.s[0][0].val.max_ns, 5 * MS);
	CHECK_U64(log.s[0][1].key.tgid, 8);
	CHECK_U64(log.s[0][2].key.ustack, 3);
	CHECK_U64(log.nr[1], 1);
	CHECK_U64(log.s[1][0].val.count, 1);
	episodes_free(&t);
}

void test_episodes(void)
{
	test_stacks();
	test_gap();
	test_allocations();
	test_before_first_tick();
	test_read_late();
	test_kswapd_read_late();
	test_kswapd_and_oom();
	test_stall_in_progress();
	test_closed_by_event();
	test_filtered_kswapd();
}
