// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Reclaim episodes: grouping stalls, kswapd runs and OOM kills in time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "episodes.h"
#include "util.h"

void episodes_init(struct episode_tracker *t, uint64_t gap_ns,
		   void (*closed)(struct episode *e, void *ctx), void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->gap_ns = gap_ns;
	t->closed = closed;
	t->ctx = ctx;
	t->next_id = 1;
}

void episodes_free(struct episode_tracker *t)
{
	free(t->cur.procs);
	free(t->cur.ooms);
	free(t->cur.ticks);
	free(t->cur.stacks);
	memset(&t->cur, 0, sizeof(t->cur));
}

static struct episode_proc *find_proc(struct episode_tracker *t, uint32_t tgid, const char *comm)
{
	struct episode *e = &t->cur;
	struct episode_proc *p;

	for (size_t i = 0; i < e->nr_procs; i++)
		if (e->procs[i].tgid == tgid)
			return &e->procs[i];
	if (array_grow((void **)&e->procs, e->nr_procs, &e->cap_procs, sizeof(*p))) {
		t->err = -ENOMEM;
		return NULL;
	}
	p = &e->procs[e->nr_procs++];
	memset(p, 0, sizeof(*p));
	p->tgid = tgid;
	if (comm)
		memcpy(p->comm, comm, sizeof(p->comm) - 1);
	return p;
}

static void open_episode(struct episode_tracker *t, uint64_t begin_ns, uint64_t end_ns)
{
	struct episode *e = &t->cur;

	/* Keep the arrays, drop their contents. */
	struct episode_proc *procs = e->procs;
	struct oom_event *ooms = e->ooms;
	struct episode_tick *ticks = e->ticks;
	struct episode_stack *stacks = e->stacks;
	size_t cp = e->cap_procs, co = e->cap_ooms, ct = e->cap_ticks, cs = e->cap_stacks;

	memset(e, 0, sizeof(*e));
	e->procs = procs;
	e->ooms = ooms;
	e->ticks = ticks;
	e->cap_procs = cp;
	e->cap_ooms = co;
	e->cap_ticks = ct;
	e->stacks = stacks;
	e->cap_stacks = cs;
	e->id = t->next_id++;
	e->begin_ns = begin_ns;
	e->end_ns = end_ns;
	e->has_psi = t->read_psi && t->read_psi(&e->psi_begin);
	t->open = true;
}

static void close_episode(struct episode_tracker *t)
{
	struct episode *e = &t->cur;
	size_t n = 0;

	/* Ticks wholly after the last activity were the gap, not the episode. */
	while (e->nr_ticks && e->ticks[e->nr_ticks - 1].start_ns > e->end_ns)
		e->nr_ticks--;
	/* Processes seen only in the gap took no part. */
	for (size_t i = 0; i < e->nr_procs; i++) {
		struct episode_proc *p = &e->procs[i];
		bool stalled = false;

		for (int k = 0; k < STALL_NR; k++)
			stalled |= p->stalls[k] != 0;
		p->pending_allocs = 0;
		if (stalled || p->page_allocs)
			e->procs[n++] = *p;
	}
	e->nr_procs = n;
	if (e->has_psi)
		e->has_psi = t->read_psi(&e->psi_end);
	t->open = false;
	/* Stalls ended so far this tick were this episode's: not the next one's. */
	memset(&t->pending_tick, 0, sizeof(t->pending_tick));
	if (t->closed)
		t->closed(e, t->ctx);
}

/* The open episode lasts at least until END_NS. */
static void extend(struct episode_tracker *t, uint64_t end_ns)
{
	struct episode *e = &t->cur;

	if (end_ns <= e->end_ns)
		return;
	e->end_ns = end_ns;
	/* The episode goes on: what was allocated in the pause belongs to it. */
	for (size_t i = 0; i < e->nr_procs; i++) {
		e->procs[i].page_allocs += e->procs[i].pending_allocs;
		e->procs[i].pending_allocs = 0;
	}
}

/* Something happened from BEGIN to END: it opens, extends or follows an episode. */
static void activity(struct episode_tracker *t, uint64_t begin_ns, uint64_t end_ns)
{
	if (t->open && begin_ns > t->cur.end_ns + t->gap_ns)
		close_episode(t);
	if (!t->open) {
		open_episode(t, begin_ns, end_ns);
		return;
	}
	if (begin_ns < t->cur.begin_ns)
		t->cur.begin_ns = begin_ns;
	extend(t, end_ns);
}

/* The stall R added to its process's, kind's and stacks' sum in the episode. */
static void add_stack(struct episode_tracker *t, const struct reclaim_event *r)
{
	struct episode *e = &t->cur;
	struct episode_stack *s = NULL;

	for (size_t i = 0; i < e->nr_stacks && !s; i++) {
		const struct stall_stack_key *k = &e->stacks[i].key;

		if (k->tgid == r->tgid && k->kind == r->kind && k->ustack == r->ustack &&
		    k->kstack == r->kstack)
			s = &e->stacks[i];
	}
	if (!s) {
		if (array_grow((void **)&e->stacks, e->nr_stacks, &e->cap_stacks, sizeof(*s))) {
			t->err = -ENOMEM;
			return;
		}
		s = &e->stacks[e->nr_stacks++];
		memset(s, 0, sizeof(*s));
		s->key = (struct stall_stack_key){ r->tgid, r->kind, r->ustack, r->kstack };
	}
	s->val.count++;
	s->val.total_ns += r->dur_ns;
	if (r->dur_ns > s->val.max_ns)
		s->val.max_ns = r->dur_ns;
}

/*
 * The tick a stall or kswapd run that ended at WHEN_NS goes in: the one it
 * ended in. Its event may be read a tick or more later (a busy host reads
 * the ring late); counted in the tick at hand, it would fall in the gap
 * after the episode's last activity, and be dropped with those ticks.
 */
static struct episode_tick *tick_of(struct episode_tracker *t, uint64_t when_ns)
{
	struct episode *e = &t->cur;

	if (!t->ticked || when_ns >= t->tick_start_ns)
		return &t->pending_tick;
	for (size_t i = e->nr_ticks; i-- > 0;)
		if (e->ticks[i].start_ns <= when_ns)
			return when_ns < e->ticks[i].end_ns ? &e->ticks[i] : &t->pending_tick;
	return &t->pending_tick;
}

static void on_stall(struct episode_tracker *t, const struct reclaim_event *r)
{
	struct episode_tick *tick;
	struct episode_proc *p;
	struct episode *e;

	if (r->kind >= STALL_NR)
		return;
	activity(t, r->begin_ns, r->begin_ns + r->dur_ns);
	e = &t->cur;
	e->stalls++;
	e->stall_ns += r->dur_ns;
	e->reclaimed[r->kind] += r->pages;
	tick = tick_of(t, r->begin_ns + r->dur_ns);
	tick->stalls++;
	tick->stall_ns += r->dur_ns;
	tick->reclaimed += r->pages;
	p = find_proc(t, r->tgid, r->comm);
	if (!p)
		return;
	memcpy(p->comm, r->comm, sizeof(p->comm) - 1);
	sanitize_name(p->comm);
	p->memcg = r->memcg;
	p->stalls[r->kind]++;
	p->stall_ns[r->kind] += r->dur_ns;
	p->reclaimed += r->pages;
	if (r->dur_ns > p->max_stall_ns)
		p->max_stall_ns = r->dur_ns;
	if (t->stacks)
		add_stack(t, r);
}

static void on_kswapd(struct episode_tracker *t, const struct reclaim_event *r)
{
	if (t->filtered && !t->open)
		return;
	if (r->type == REVENT_KSWAPD_WAKE) {
		if (!t->filtered)
			activity(t, r->begin_ns, r->begin_ns);
		return;
	}
	if (!t->filtered)
		activity(t, r->begin_ns, r->begin_ns + r->dur_ns);
	t->cur.kswapd_runs++;
	t->cur.kswapd_ns += r->dur_ns;
	t->cur.kswapd_reclaimed += r->pages;
	tick_of(t, r->begin_ns + r->dur_ns)->reclaimed += r->pages;
}

static void on_oom(struct episode_tracker *t, const struct oom_event *o)
{
	struct episode *e;

	activity(t, o->ts_ns, o->ts_ns);
	e = &t->cur;
	if (array_grow((void **)&e->ooms, e->nr_ooms, &e->cap_ooms, sizeof(*o))) {
		t->err = -ENOMEM;
		return;
	}
	e->ooms[e->nr_ooms++] = *o;
}

void episodes_event(struct episode_tracker *t, const void *data, size_t len)
{
	const struct reclaim_event *r = data;

	if (len < sizeof(uint32_t))
		return;
	switch (r->type) {
	case REVENT_STALL:
		if (len >= sizeof(*r))
			on_stall(t, r);
		break;
	case REVENT_KSWAPD_WAKE:
	case REVENT_KSWAPD_SLEEP:
		if (len >= sizeof(*r))
			on_kswapd(t, r);
		break;
	case REVENT_OOM:
		if (len >= sizeof(struct oom_event))
			on_oom(t, data);
		break;
	}
}

static void add_tick(struct episode_tracker *t, uint64_t now_ns,
		     const struct alloc_delta *deltas, size_t nr)
{
	struct episode *e = &t->cur;
	struct episode_tick *tick;
	bool in_gap = t->tick_start_ns > e->end_ns;

	if (array_grow((void **)&e->ticks, e->nr_ticks, &e->cap_ticks, sizeof(*tick))) {
		t->err = -ENOMEM;
		return;
	}
	tick = &e->ticks[e->nr_ticks++];
	*tick = t->pending_tick;
	tick->start_ns = t->tick_start_ns;
	tick->end_ns = now_ns;
	for (size_t i = 0; i < nr; i++) {
		struct episode_proc *p = find_proc(t, deltas[i].tgid, deltas[i].comm);

		tick->page_allocs += deltas[i].pages;
		if (!p)
			continue;
		if (in_gap)
			p->pending_allocs += deltas[i].pages;
		else
			p->page_allocs += deltas[i].pages;
	}
}

void episodes_tick(struct episode_tracker *t, uint64_t now_ns,
		   const struct alloc_delta *deltas, size_t nr)
{
	/* kswapd still at work, a stall not over: the episode goes on. */
	if (t->open && ((t->kswapd_awake && !t->filtered) || t->stalls_in_progress))
		extend(t, now_ns);
	/* Stalls before the first tick are the first tick's, from the episode's start. */
	if (t->open && !t->ticked)
		t->tick_start_ns = t->cur.begin_ns;
	if (t->open)
		add_tick(t, now_ns, deltas, nr);
	if (t->open && now_ns > t->cur.end_ns + t->gap_ns)
		close_episode(t);
	memset(&t->pending_tick, 0, sizeof(t->pending_tick));
	t->tick_start_ns = now_ns;
	t->ticked = true;
}

void episodes_flush(struct episode_tracker *t)
{
	if (t->open)
		close_episode(t);
}

uint64_t episode_proc_stall_ns(const struct episode_proc *p)
{
	uint64_t ns = 0;

	for (int k = 0; k < STALL_NR; k++)
		ns += p->stall_ns[k];
	return ns;
}

static int cmp_u64_desc(uint64_t a, uint64_t b, uint32_t ta, uint32_t tb)
{
	if (a != b)
		return a > b ? -1 : 1;
	return ta < tb ? -1 : ta > tb;
}

static int by_stall(const void *a, const void *b)
{
	const struct episode_proc *x = a, *y = b;

	return cmp_u64_desc(episode_proc_stall_ns(x), episode_proc_stall_ns(y), x->tgid, y->tgid);
}

static int by_allocs(const void *a, const void *b)
{
	const struct episode_proc *x = a, *y = b;

	return cmp_u64_desc(x->page_allocs, y->page_allocs, x->tgid, y->tgid);
}

void episode_sort_by_stall(struct episode *e)
{
	qsort(e->procs, e->nr_procs, sizeof(*e->procs), by_stall);
}

void episode_sort_by_allocs(struct episode *e)
{
	qsort(e->procs, e->nr_procs, sizeof(*e->procs), by_allocs);
}

static int by_stack_time(const void *a, const void *b)
{
	const struct episode_stack *x = a, *y = b;

	if (x->val.total_ns != y->val.total_ns)
		return x->val.total_ns > y->val.total_ns ? -1 : 1;
	if (x->val.count != y->val.count)
		return x->val.count > y->val.count ? -1 : 1;
	return x->key.tgid < y->key.tgid ? -1 : x->key.tgid > y->key.tgid;
}

void episode_sort_stacks(struct episode *e)
{
	qsort(e->stacks, e->nr_stacks, sizeof(*e->stacks), by_stack_time);
}
