// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The reclaim programs run with BPF_PROG_TEST_RUN on synthetic tracepoint
 * arguments, in this process: stall timing, histograms, the stream, the
 * filters, kswapd and page allocations, then the episode they make.
 * Needs root (loads BPF), as make check does.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "reclaim.skel.h"
#include "episodes.h"
#include "pressure.h"
#include "bpf_util.h"
#include "unit.h"
#include "util.h"

#define MS 1000000ULL

static struct reclaim_bpf *load_opts(uint32_t targ_tgid, bool stacks)
{
	struct reclaim_bpf *skel = reclaim_bpf__open();

	if (!skel)
		return NULL;
	skel->rodata->targ_tgid = targ_tgid;
	skel->rodata->capture_stacks = stacks;
	if (reclaim_bpf__load(skel)) {
		reclaim_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static uint64_t rstat(struct reclaim_bpf *skel, enum pressure_stat stat)
{
	uint32_t key = stat;
	uint64_t sum;

	if (percpu_lookup_sum(bpf_map__fd(skel->maps.rstats), &key, &sum))
		return UINT64_MAX;
	return sum;
}

static struct reclaim_bpf *load(uint32_t targ_tgid)
{
	return load_opts(targ_tgid, false);
}

/* The streamed events, collected. */
struct collected {
	struct reclaim_event ev[8];
	size_t nr;
};

static int collect(void *ctx, void *data, size_t len)
{
	struct collected *c = ctx;

	if (c->nr < 8 && len >= sizeof(struct reclaim_event))
		memcpy(&c->ev[c->nr++], data, sizeof(struct reclaim_event));
	return 0;
}

static void sleep_ms(long n)
{
	struct timespec ts = { .tv_sec = n / 1000, .tv_nsec = n % 1000 * 1000000 };

	nanosleep(&ts, NULL);
}

static void closed_one(struct episode *e, void *ctx)
{
	struct episode *copy = ctx;

	*copy = *e;
}

/* A memcg reclaim stall timed begin to end, and a throttle of a known length. */
static void test_stalls(struct reclaim_bpf *skel)
{
	uint64_t begin_args[2] = { 0, 0xcc0 }, end_args[1] = { 37 };
	uint64_t throttle_args[4] = { 0, 100000, 3000, 1 };
	uint32_t tgid = getpid();
	struct stall_key hk = { .id = tgid, .kind = STALL_MEMCG };
	struct collected c = {};
	struct reclaim_proc rp;
	struct ring_buffer *rb;
	struct episode ep = {};
	struct episode_tracker t;
	struct hist h;
	int slot;

	CHECK(unit_fire(skel->progs.memcg_reclaim_begin, begin_args, 2) == 0);
	sleep_ms(3);
	CHECK(unit_fire(skel->progs.memcg_reclaim_end, end_args, 1) == 0);
	CHECK(unit_fire(skel->progs.vmscan_throttled, throttle_args, 4) == 0);

	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.procs), &tgid, &rp) == 0);
	CHECK_U64(rp.stalls[STALL_MEMCG], 1);
	CHECK_U64(rp.reclaimed[STALL_MEMCG], 37);
	CHECK(rp.stall_ns[STALL_MEMCG] >= 3 * MS && rp.stall_ns[STALL_MEMCG] < 2000 * MS);
	/* Throttling reports its own delay: exact. */
	CHECK_U64(rp.stalls[STALL_THROTTLE], 1);
	CHECK_U64(rp.stall_ns[STALL_THROTTLE], 3 * MS);
	CHECK_U64(rp.stalls[STALL_DIRECT], 0);

	/* One stall in the memcg histogram, in the slot of its µs. */
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_hists), &hk, &h) == 0);
	for (slot = 0; slot < HIST_SLOTS && !h.slots[slot]; slot++)
		;
	CHECK(slot < HIST_SLOTS && h.slots[slot] == 1);
	CHECK(slot < HIST_SLOTS && (1ULL << (slot - 1)) <= rp.stall_ns[STALL_MEMCG] / 1000 &&
	      rp.stall_ns[STALL_MEMCG] / 1000 < (1ULL << slot));
	/* 3000 µs is in [2048, 4096): slot 12. */
	hk.kind = STALL_THROTTLE;
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_hists), &hk, &h) == 0);
	CHECK_U64(h.slots[12], 1);

	/* Both streamed, in order, with this task's ids. */
	rb = ring_buffer__new(bpf_map__fd(skel->maps.revents), collect, &c, NULL);
	CHECK(rb != NULL);
	if (!rb)
		return;
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	CHECK_U64(c.nr, 2);
	CHECK_U64(c.ev[0].type, REVENT_STALL);
	CHECK_U64(c.ev[0].kind, STALL_MEMCG);
	CHECK_U64(c.ev[0].tgid, tgid);
	CHECK_U64(c.ev[0].tid, (uint32_t)gettid());
	CHECK_U64(c.ev[0].pages, 37);
	CHECK_U64(c.ev[0].dur_ns, rp.stall_ns[STALL_MEMCG]);
	CHECK_STR(c.ev[0].comm, "unit_tests");
	CHECK(c.ev[0].ustack == -1 && c.ev[0].kstack == -1);
	CHECK_U64(c.ev[1].kind, STALL_THROTTLE);
	CHECK_U64(c.ev[1].dur_ns, 3 * MS);
	CHECK_U64(rstat(skel, RSTAT_STALLS), 2);

	/* The stream makes one episode with both stalls. */
	episodes_init(&t, 1000 * MS, closed_one, &ep);
	for (size_t i = 0; i < c.nr; i++)
		episodes_event(&t, &c.ev[i], sizeof(c.ev[i]));
	episodes_flush(&t);
	CHECK_U64(ep.id, 1);
	CHECK_U64(ep.stalls, 2);
	CHECK_U64(ep.reclaimed[STALL_MEMCG], 37);
	CHECK_U64(ep.nr_procs, 1);
	if (ep.nr_procs)
		CHECK_U64(ep.procs[0].tgid, tgid);
	episodes_free(&t);
}

/*
 * An end without its begin: memlens started mid-stall, timed from when
 * tracing began and not lost; after a begin was dropped (in-progress map
 * full), it may be that stall's end: lost.
 */
static void test_unmatched(struct reclaim_bpf *skel)
{
	uint64_t end_args[1] = { 5 };
	uint32_t tgid = getpid();
	struct reclaim_proc rp;
	uint64_t stalls = rstat(skel, RSTAT_STALLS);

	skel->bss->tracing_since_ns = monotonic_ns() - 5 * MS;
	CHECK(unit_fire(skel->progs.direct_reclaim_end, end_args, 1) == 0);
	CHECK_U64(rstat(skel, RSTAT_UNMATCHED), 0);
	CHECK_U64(rstat(skel, RSTAT_BEGAN_BEFORE), 1);
	CHECK_U64(rstat(skel, RSTAT_STALLS), stalls + 1);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.procs), &tgid, &rp) == 0);
	CHECK_U64(rp.stalls[STALL_DIRECT], 1);
	CHECK(rp.stall_ns[STALL_DIRECT] >= 5 * MS);
	CHECK_U64(rp.reclaimed[STALL_DIRECT], 5);

	skel->bss->begins_dropped = 1;
	CHECK(unit_fire(skel->progs.direct_reclaim_end, end_args, 1) == 0);
	CHECK_U64(rstat(skel, RSTAT_UNMATCHED), 1);
	CHECK_U64(rstat(skel, RSTAT_BEGAN_BEFORE), 1);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.procs), &tgid, &rp) == 0);
	CHECK_U64(rp.stalls[STALL_DIRECT], 1);
	skel->bss->begins_dropped = 0;
}

/* kswapd's run from wake to sleep; lru_shrink_inactive counts only in kswapd. */
static void test_kswapd(struct reclaim_bpf *skel)
{
	uint64_t wake[3] = { 0, 2, 0 }, sleep_args[1] = { 0 }, shrink[6] = { 0, 64, 32, 0, 12, 1 };
	struct kswapd_node k;
	uint32_t nid = 0;

	CHECK(unit_fire(skel->progs.kswapd_wake, wake, 3) == 0);
	/* Another balancing pass: the same run, not a second wake. */
	CHECK(unit_fire(skel->progs.kswapd_wake, wake, 3) == 0);
	CHECK(unit_fire(skel->progs.lru_shrink_inactive, shrink, 6) == 0);
	sleep_ms(1);
	CHECK(unit_fire(skel->progs.kswapd_sleep, sleep_args, 1) == 0);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.kswapd), &nid, &k) == 0);
	CHECK_U64(k.wakes, 1);
	CHECK(k.awake_ns >= 1 * MS);
	CHECK_U64(k.since_ns, 0);
	CHECK_U64(k.reclaimed, 0);	/* this task is not kswapd */
}

/* Pages by process; a failed allocation (NULL page) is not one. */
static void test_page_allocs(struct reclaim_bpf *skel)
{
	uint64_t order3[4] = { 0x1000, 3, 0xcc0, 0 }, failed[4] = { 0, 3, 0xcc0, 0 };
	uint32_t tgid = getpid();
	uint64_t sum;

	CHECK(unit_fire(skel->progs.page_alloc, order3, 4) == 0);
	CHECK(unit_fire(skel->progs.page_alloc, order3, 4) == 0);
	CHECK(unit_fire(skel->progs.page_alloc, failed, 4) == 0);
	CHECK(percpu_lookup_sum(bpf_map__fd(skel->maps.page_allocs), &tgid, &sum) == 0);
	CHECK_U64(sum, 16);
}

/* A pid filter: another process's stall leaves no trace, not even "unmatched". */
static void test_filter(void)
{
	struct reclaim_bpf *skel = load(1);
	uint64_t begin_args[2] = { 0, 0xcc0 }, end_args[1] = { 37 };
	uint32_t tgid = getpid();
	struct reclaim_proc rp;

	CHECK(skel != NULL);
	if (!skel)
		return;
	CHECK(unit_fire(skel->progs.memcg_reclaim_begin, begin_args, 2) == 0);
	CHECK(unit_fire(skel->progs.memcg_reclaim_end, end_args, 1) == 0);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.procs), &tgid, &rp) == -ENOENT);
	CHECK_U64(rstat(skel, RSTAT_STALLS), 0);
	CHECK_U64(rstat(skel, RSTAT_UNMATCHED), 0);
	reclaim_bpf__destroy(skel);
}

/* TGID's aggregates of the stall_stacks map, summed, and how many; the key of one of KIND. */
static size_t stack_sums(struct reclaim_bpf *skel, uint32_t tgid, uint64_t *count, uint64_t *ns,
			 uint32_t kind, struct stall_stack_key *found)
{
	int fd = bpf_map__fd(skel->maps.stall_stacks);
	struct stall_stack_key key, next, *prev = NULL;
	struct stall_stack_val v;
	size_t n = 0;

	*count = *ns = 0;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != tgid || bpf_map_lookup_elem(fd, &key, &v))
			continue;
		*count += v.count;
		*ns += v.total_ns;
		if (key.kind == kind)
			*found = key;
		n++;
	}
	return n;
}

/*
 * --stacks: the stacks of the task taken at the begin (here, this test's
 * own: the bpf() call of BPF_PROG_TEST_RUN), every stall of the process
 * in one aggregate with its count, time and max, which add up to its
 * per-process counters; the stall's event names the same stacks.
 */
static void test_stacks(void)
{
	struct reclaim_bpf *skel = load_opts(0, true);
	uint64_t begin_args[2] = { 0, 0xcc0 }, end_args[1] = { 3 };
	uint64_t throttle_args[4] = { 0, 100000, 2000, 1 };
	uint64_t ips[RECLAIM_STACK_DEPTH], count, ns;
	uint32_t tgid = getpid();
	struct stall_stack_key key = {}, k2;
	struct stall_stack_val v;
	struct reclaim_proc rp;
	struct collected c = {};
	struct ring_buffer *rb;

	struct stall_key in_progress = { .id = (uint32_t)gettid(), .kind = STALL_DIRECT };
	struct stall_start start;

	CHECK(skel != NULL);
	if (!skel)
		return;
	for (int i = 0; i < 3; i++) {
		CHECK(unit_fire(skel->progs.direct_reclaim_begin, begin_args, 2) == 0);
		sleep_ms(1);
		CHECK(unit_fire(skel->progs.direct_reclaim_end, end_args, 1) == 0);
	}
	CHECK(unit_fire(skel->progs.vmscan_throttled, throttle_args, 4) == 0);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.procs), &tgid, &rp) == 0);
	CHECK_U64(rp.stalls[STALL_DIRECT], 3);

	/* The three direct stalls from one place: one aggregate; the throttle another. */
	CHECK_U64(stack_sums(skel, tgid, &count, &ns, STALL_DIRECT, &key), 2);
	CHECK_U64(count, 4);
	CHECK_U64(ns, rp.stall_ns[STALL_DIRECT] + rp.stall_ns[STALL_THROTTLE]);
	CHECK_U64(key.kind, STALL_DIRECT);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_stacks), &key, &v) == 0);
	CHECK_U64(v.count, 3);
	CHECK_U64(v.total_ns, rp.stall_ns[STALL_DIRECT]);
	CHECK(v.max_ns >= 1 * MS && v.max_ns <= v.total_ns && v.max_ns * 3 >= v.total_ns);
	CHECK(key.ustack >= 0 && key.kstack >= 0 && key.ustack != key.kstack);
	/* A user stack of this process (below 2^47), a kernel stack in the kernel's half. */
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_stack_ips), &key.ustack, ips) == 0);
	CHECK(ips[0] && ips[0] < (1ULL << 47));
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_stack_ips), &key.kstack, ips) == 0);
	CHECK(ips[0] >= (0xffffULL << 48));
	CHECK_U64(stack_sums(skel, tgid, &count, &ns, STALL_THROTTLE, &k2), 2);
	/* Fired from another line of this test: another user stack. */
	CHECK(k2.ustack != key.ustack && k2.ustack >= 0 && k2.kstack >= 0);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_stacks), &k2, &v) == 0);
	CHECK_U64(v.count, 1);
	CHECK_U64(v.max_ns, 2 * MS);
	CHECK_U64(rstat(skel, RSTAT_USTACK_LOST), 0);
	CHECK_U64(rstat(skel, RSTAT_KSTACK_LOST), 0);

	rb = ring_buffer__new(bpf_map__fd(skel->maps.revents), collect, &c, NULL);
	CHECK(rb != NULL);
	if (rb) {
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
	}
	CHECK_U64(c.nr, 4);
	CHECK(c.ev[0].ustack == key.ustack && c.ev[0].kstack == key.kstack);

	/* A stall in progress says whose it is: userspace counts its time so far. */
	CHECK(unit_fire(skel->progs.direct_reclaim_begin, begin_args, 2) == 0);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stall_begin), &in_progress, &start) == 0);
	CHECK_U64(start.tgid, tgid);
	CHECK(start.ustack >= 0 && start.kstack >= 0);
	reclaim_bpf__destroy(skel);
}

/* Without --stacks: no stack taken, no aggregate, events say none. */
static void test_no_stacks(struct reclaim_bpf *skel)
{
	uint64_t count, ns;
	struct stall_stack_key key;

	CHECK_U64(stack_sums(skel, getpid(), &count, &ns, STALL_DIRECT, &key), 0);
	CHECK_U64(rstat(skel, RSTAT_USTACK_LOST) + rstat(skel, RSTAT_KSTACK_LOST), 0);
}

/*
 * stall %: the stalls that ended in the interval, plus what those in
 * progress lasted since the sample before; never below nothing.
 */
static void test_stall_pct(void)
{
	CHECK(stall_pct(250 * MS, 0, 0, 1000 * MS) == 25.0);
	/* 300 ms in progress at the last sample, ended at 400 ms, and another 100 ms in. */
	CHECK(stall_pct(400 * MS, 100 * MS, 300 * MS, 1000 * MS) == 20.0);
	/* Two threads stalled all along: 200%. */
	CHECK(stall_pct(0, 2500 * MS, 500 * MS, 1000 * MS) == 200.0);
	/* A thread gone mid-stall: its part of the last sample taken away, no less than 0. */
	CHECK(stall_pct(0, 0, 300 * MS, 1000 * MS) == 0.0);
	CHECK(stall_pct(5 * MS, 0, 0, 0) == 0.0);
}

void test_reclaim_bpf(void)
{
	test_stall_pct();
	struct reclaim_bpf *skel = load(0);

	CHECK(skel != NULL);
	if (!skel) {
		fprintf(stderr, "reclaim_bpf: cannot load (root needed): %s\n", strerror(errno));
		return;
	}
	test_stalls(skel);
	test_unmatched(skel);
	test_kswapd(skel);
	test_page_allocs(skel);
	test_no_stacks(skel);
	reclaim_bpf__destroy(skel);
	test_filter();
	test_stacks();
}
