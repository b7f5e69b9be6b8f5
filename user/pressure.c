// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The memory-pressure session: load, attach, stream, read the maps. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "reclaim.skel.h"
#include "bpf_util.h"
#include "pressure.h"
#include "util.h"

/* A process whose page allocations the maps hold, as of the last tick. */
struct alloc_seen {
	uint32_t tgid;
	bool gone;			/* exited: dropped from the map, shown once more */
	bool sampled;			/* gone, and its last count sampled: dropped next tick */
	char comm[16];
	uint64_t pages;
};

/*
 * A process that stalled: its name as its stall events gave it, and once
 * it has exited, its page allocations. The summary shows it at the end.
 */
struct stalled_proc {
	uint32_t tgid;
	char comm[16];
	uint64_t final_pages;
};

struct pressure {
	const struct pressure_opts *opts;
	struct reclaim_bpf *skel;
	struct ring_buffer *rb;
	struct episode_tracker tracker;
	struct alloc_seen *seen;	/* sorted by tgid */
	size_t nr_seen, cap_seen;
	struct alloc_delta *deltas;
	size_t cap_deltas;
	struct stalled_proc *stalled;
	size_t nr_stalled, cap_stalled;
	unsigned long ticks;
	struct bpf_cost cost;		/* what the programs cost */
	char missing[512];
};

bool psi_read(struct psi_totals *out)
{
	unsigned long long total;
	char line[256], kind[8];
	FILE *f = fopen("/proc/pressure/memory", "re");
	int found = 0;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%7s avg10=%*f avg60=%*f avg300=%*f total=%llu", kind, &total) != 2)
			continue;
		if (!strcmp(kind, "some"))
			out->some_us = total, found |= 1;
		else if (!strcmp(kind, "full"))
			out->full_us = total, found |= 2;
	}
	fclose(f);
	return found == 3;
}

static int load(struct pressure *p)
{
	const struct pressure_opts *o = p->opts;
	struct reclaim_bpf *skel;
	int err;

	skel = p->skel = reclaim_bpf__open();
	if (!skel) {
		error_msg("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel_set_filters(skel, o->pid, o->comm, o->memcg);
	skel->rodata->capture_stacks = o->stacks;
	skel->rodata->cost_on = o->cost;
	/* Without --stacks, the stack maps take no memory worth a mention. */
	if (!o->stacks) {
		bpf_map__set_max_entries(skel->maps.stall_stack_ips, 1);
		bpf_map__set_max_entries(skel->maps.stall_stacks, 1);
	}
	/* Without page allocations, the hottest hook is not attached at all. */
	if (!o->page_allocs)
		bpf_program__set_autoload(skel->progs.page_alloc, false);
	if (!o->on_exec)
		bpf_program__set_autoload(skel->progs.process_exec, false);
	err = skip_unusable_tracepoints(skel->obj, p->missing, sizeof(p->missing));
	if (err == -ENOENT)
		error_msg("none of the tracepoints that show memory pressure can be traced on this "
			  "kernel");
	if (err)
		return err;
	err = skeleton_load(skel->skeleton);
	if (err) {
		skeleton_load_error(err);
		return err;
	}
	bpf_cost_init(&p->cost, bpf_map__fd(skel->maps.costs));
	/* A stall whose end alone is seen began before this: timed from here. */
	skel->bss->tracing_since_ns = monotonic_ns();
	return attach_skeleton(skel->skeleton);
}

static struct stalled_proc *find_stalled(const struct pressure *p, uint32_t tgid)
{
	for (size_t i = 0; i < p->nr_stalled; i++)
		if (p->stalled[i].tgid == tgid)
			return &p->stalled[i];
	return NULL;
}

static int remember_stalled(struct pressure *p, const struct reclaim_event *r)
{
	struct stalled_proc *c;

	if (find_stalled(p, r->tgid))
		return 0;
	if (array_grow((void **)&p->stalled, p->nr_stalled, &p->cap_stalled, sizeof(*c)))
		return -ENOMEM;
	c = &p->stalled[p->nr_stalled++];
	c->final_pages = 0;
	c->tgid = r->tgid;
	memcpy(c->comm, r->comm, sizeof(c->comm));
	c->comm[sizeof(c->comm) - 1] = 0;
	sanitize_name(c->comm);
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct pressure *p = ctx;
	const struct oom_event *o = data;

	if (len >= sizeof(struct reclaim_event) && o->type == REVENT_STALL) {
		if (remember_stalled(p, data))
			return -ENOMEM;
		if (p->opts->on_stall)
			p->opts->on_stall(data, p->opts->ctx);
	}
	if (p->opts->episodes)
		episodes_event(&p->tracker, data, len);
	if (len >= sizeof(*o) && o->type == REVENT_OOM && p->opts->on_oom)
		p->opts->on_oom(o, p->opts->ctx);
	if (len >= sizeof(struct reclaim_event) && o->type == REVENT_EXEC && p->opts->on_exec)
		p->opts->on_exec(data, p->opts->ctx);
	return p->tracker.err;
}

int pressure_open(const struct pressure_opts *o, struct pressure **out)
{
	struct pressure *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	p->opts = o;
	episodes_init(&p->tracker, o->gap_ns, o->on_episode, o->ctx);
	p->tracker.read_psi = psi_read;
	p->tracker.filtered = o->pid || o->comm || o->memcg;
	p->tracker.stacks = o->stacks;
	err = load(p);
	if (!err) {
		p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.revents), on_event, p, NULL);
		if (!p->rb)
			err = -errno;
	}
	if (err) {
		pressure_close(p);
		return err;
	}
	/* The first tick sets the baseline: what was allocated before is not news. */
	pressure_tick(p);
	*out = p;
	return 0;
}

void pressure_close(struct pressure *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	reclaim_bpf__destroy(p->skel);
	episodes_free(&p->tracker);
	free(p->seen);
	free(p->deltas);
	free(p->stalled);
	free(p);
}

int pressure_fd(const struct pressure *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int pressure_consume(struct pressure *p)
{
	int n = ring_buffer__consume(p->rb);

	return n < 0 ? n : 0;
}

int pressure_poll(struct pressure *p, int timeout_ms)
{
	int n = ring_buffer__poll(p->rb, timeout_ms);

	if (n == -EINTR)
		return 0;
	return n < 0 ? n : 0;
}

static struct alloc_seen *find_seen(struct pressure *p, uint32_t tgid)
{
	size_t lo = 0, hi = p->nr_seen;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->seen[mid].tgid == tgid)
			return &p->seen[mid];
		if (p->seen[mid].tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int cmp_seen(const void *a, const void *b)
{
	const struct alloc_seen *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/* Whether a process is gone is asked once in this many ticks: kill(2) per entry. */
#define LIVENESS_TICKS	10

/*
 * Read the page allocation map into a new seen list: one delta per process
 * that allocated since the last tick. Processes that have exited leave the
 * map (their count stays in the list, marked gone, until a sample has read
 * it: keep_gone()). Only a process that allocated nothing since the last
 * tick can be gone.
 */
static int read_page_allocs(struct pressure *p, struct alloc_seen **out, size_t *nr_out,
			    size_t *nr_deltas)
{
	int fd = bpf_map__fd(p->skel->maps.page_allocs);
	size_t nr = 0, cap = 0, nd = 0;
	struct alloc_seen *list = NULL;
	uint32_t key, next, *prev = NULL;
	uint64_t pages;
	int err = 0;

	bool ask_liveness = ++p->ticks % LIVENESS_TICKS == 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct alloc_seen *old = find_seen(p, next), *s;

		/* Gone last tick: this entry is a new process with the same pid. */
		if (old && old->gone)
			old = NULL;
		key = next;
		prev = &key;
		if (percpu_lookup_sum(fd, &key, &pages))
			continue;
		if (array_grow((void **)&list, nr, &cap, sizeof(*list)) ||
		    array_grow((void **)&p->deltas, nd, &p->cap_deltas, sizeof(*p->deltas))) {
			err = -ENOMEM;
			break;
		}
		s = &list[nr++];
		s->tgid = key;
		s->pages = pages;
		s->gone = ask_liveness && old && s->pages == old->pages &&
			  kill(key, 0) && errno == ESRCH;
		if (old)
			memcpy(s->comm, old->comm, sizeof(s->comm));
		else if (read_comm(key, s->comm, sizeof(s->comm)))
			strcpy(s->comm, "?");
		if (s->pages > (old ? old->pages : 0)) {
			p->deltas[nd].tgid = key;
			memcpy(p->deltas[nd].comm, s->comm, sizeof(s->comm));
			p->deltas[nd].pages = s->pages - (old ? old->pages : 0);
			nd++;
		}
	}
	if (err) {
		free(list);
		return err;
	}
	qsort(list, nr, sizeof(*list), cmp_seen);
	*out = list;
	*nr_out = nr;
	*nr_deltas = nd;
	return 0;
}

static int cmp_stall_key(const void *a, const void *b)
{
	const struct stall_key *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

/* The keys of stall_begin, each once: BPF deletes while we walk (map_keys()). */
static int stall_begin_keys(struct pressure *p, struct stall_key **out, size_t *nr_out)
{
	return map_keys(bpf_map__fd(p->skel->maps.stall_begin), sizeof(**out),
			bpf_map__max_entries(p->skel->maps.stall_begin), cmp_stall_key,
			(void **)out, nr_out);
}

/* What keeps an episode open, from the maps: kswapd awake, stalls not over. */
static void read_in_progress(struct pressure *p)
{
	struct stall_key *keys = NULL;
	struct kswapd_node k;
	size_t nr = 0;

	p->tracker.kswapd_awake = false;
	for (uint32_t nid = 0; nid < RECLAIM_MAX_NODES; nid++)
		if (!bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.kswapd), &nid, &k) &&
		    k.since_ns)
			p->tracker.kswapd_awake = true;
	p->tracker.stalls_in_progress = 0;
	if (!stall_begin_keys(p, &keys, &nr))
		p->tracker.stalls_in_progress = nr;
	free(keys);
}

/*
 * Into LIST, sorted (its NR entries read from the map, room for CAP), the
 * processes gone before this tick whose last count no sample has read:
 * ticks come ten times an interval, and an interval's row of a process
 * that exited in it is that count. Not one whose pid the map has again.
 */
static int keep_gone(struct pressure *p, struct alloc_seen **list, size_t *nr, size_t *cap)
{
	size_t read = *nr;

	for (size_t i = 0; i < p->nr_seen; i++) {
		const struct alloc_seen *old = &p->seen[i];

		if (!old->gone || old->sampled ||
		    bsearch(old, *list, read, sizeof(*old), cmp_seen))
			continue;
		if (array_grow((void **)list, *nr, cap, sizeof(**list)))
			return -ENOMEM;
		(*list)[(*nr)++] = *old;
	}
	if (*nr > read)
		qsort(*list, *nr, sizeof(**list), cmp_seen);
	return 0;
}

int pressure_tick(struct pressure *p)
{
	int fd = bpf_map__fd(p->skel->maps.page_allocs);
	struct alloc_seen *list;
	size_t nr, nd, cap;
	int err;

	err = read_page_allocs(p, &list, &nr, &nd);
	if (err)
		return err;
	/*
	 * Exited processes leave the map now that their last pages are
	 * counted. One that never stalled leaves the per-process map too
	 * (it may have woken kswapd); those that stalled stay for the summary.
	 */
	for (size_t i = 0; i < nr; i++) {
		struct stalled_proc *sp;

		if (!list[i].gone)
			continue;
		bpf_map_delete_elem(fd, &list[i].tgid);
		sp = find_stalled(p, list[i].tgid);
		if (sp)
			sp->final_pages = list[i].pages;
		else
			bpf_map_delete_elem(bpf_map__fd(p->skel->maps.procs), &list[i].tgid);
	}
	cap = nr;
	err = keep_gone(p, &list, &nr, &cap);
	if (err) {
		free(list);
		return err;
	}
	free(p->seen);
	p->seen = list;
	p->nr_seen = nr;
	p->cap_seen = cap;
	if (p->opts->episodes) {
		read_in_progress(p);
		episodes_tick(&p->tracker, monotonic_ns(), p->deltas, nd);
	}
	return p->tracker.err;
}

void pressure_flush(struct pressure *p)
{
	episodes_flush(&p->tracker);
}

static int add_proc(struct pressure_proc **arr, size_t *nr, size_t *cap, uint32_t tgid)
{
	if (array_grow((void **)arr, *nr, cap, sizeof(**arr)))
		return -ENOMEM;
	memset(&(*arr)[*nr], 0, sizeof(**arr));
	(*arr)[(*nr)++].tgid = tgid;
	return 0;
}

static void copy_reclaim_proc(struct pressure_proc *pp, const struct reclaim_proc *r)
{
	for (int k = 0; k < STALL_NR; k++) {
		pp->stalls[k] = r->stalls[k];
		pp->stall_ns[k] = r->stall_ns[k];
		pp->reclaimed[k] = r->reclaimed[k];
	}
	pp->kswapd_wakeups = r->kswapd_wakeups;
	pp->memcg = r->memcg;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct pressure_proc *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

double stall_pct(uint64_t ended_ns, uint64_t cur_in_progress_ns, uint64_t old_in_progress_ns,
		 uint64_t interval_ns)
{
	/*
	 * What was in progress last time is in ENDED_NS if it ended: only
	 * its part since then counts. A thread gone mid-stall takes its
	 * part of the last sample away: no less than nothing.
	 */
	int64_t ns = (int64_t)ended_ns + (int64_t)cur_in_progress_ns -
		     (int64_t)old_in_progress_ns;

	if (ns <= 0 || !interval_ns)
		return 0;
	return ns * 100.0 / interval_ns;
}

/*
 * Stalls in progress, to the processes in ARR (sorted): the time each has
 * lasted so far, so that a long stall counts in every interval it spans,
 * not all in the one where it ends. A thread that is gone (killed in the
 * middle of a stall, its end never fired) counts no more.
 */
static int add_in_progress(struct pressure *p, struct pressure_proc **arr, size_t *nr,
			   size_t *cap)
{
	int fd = bpf_map__fd(p->skel->maps.stall_begin);
	uint64_t now = monotonic_ns();
	struct stall_key *keys;
	size_t sorted = *nr, nr_keys;
	struct stall_start st;

	if (stall_begin_keys(p, &keys, &nr_keys))
		return -ENOMEM;
	for (size_t k = 0; k < nr_keys; k++) {
		struct pressure_proc want = { .tgid = 0 }, *pp;
		struct stall_key key = keys[k];

		if (bpf_map_lookup_elem(fd, &key, &st) || st.begin_ns >= now ||
		    (kill(key.id, 0) && errno == ESRCH))
			continue;
		want.tgid = st.tgid;
		pp = bsearch(&want, *arr, sorted, sizeof(**arr), cmp_proc);
		for (size_t i = sorted; !pp && i < *nr; i++)
			if ((*arr)[i].tgid == st.tgid)
				pp = &(*arr)[i];
		/* In its first stall: not in the per-process map yet. */
		if (!pp) {
			if (add_proc(arr, nr, cap, st.tgid)) {
				free(keys);
				return -ENOMEM;
			}
			pp = &(*arr)[*nr - 1];
		}
		pp->stall_in_progress_ns += now - st.begin_ns;
	}
	free(keys);
	qsort(*arr, *nr, sizeof(**arr), cmp_proc);
	return 0;
}

int pressure_sample(struct pressure *p, struct pressure_proc **out, size_t *nr_out)
{
	int fd = bpf_map__fd(p->skel->maps.procs);
	struct pressure_proc *arr = NULL;
	size_t nr = 0, cap = 0, nr_reclaim;
	uint32_t key, next, *prev = NULL;
	struct reclaim_proc r;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &r))
			continue;
		if (add_proc(&arr, &nr, &cap, key)) {
			free(arr);
			return -ENOMEM;
		}
		copy_reclaim_proc(&arr[nr - 1], &r);
	}
	qsort(arr, nr, sizeof(*arr), cmp_proc);
	if (add_in_progress(p, &arr, &nr, &cap)) {
		free(arr);
		return -ENOMEM;
	}
	/* Join the page allocations: processes that only allocated come after. */
	nr_reclaim = nr;
	for (size_t i = 0; i < p->nr_seen; i++) {
		struct pressure_proc key = { .tgid = p->seen[i].tgid };
		struct pressure_proc *pp = bsearch(&key, arr, nr_reclaim, sizeof(*arr), cmp_proc);

		if (!pp) {
			if (add_proc(&arr, &nr, &cap, p->seen[i].tgid)) {
				free(arr);
				return -ENOMEM;
			}
			pp = &arr[nr - 1];
		}
		pp->page_allocs = p->seen[i].pages;
		memcpy(pp->comm, p->seen[i].comm, sizeof(pp->comm));
		/* Its last count read: the next tick drops it (keep_gone()). */
		p->seen[i].sampled = p->seen[i].gone;
	}
	for (size_t i = 0; i < nr_reclaim; i++) {
		const struct stalled_proc *sp = find_stalled(p, arr[i].tgid);

		if (sp && !arr[i].page_allocs)
			arr[i].page_allocs = sp->final_pages;
		if (sp)
			memcpy(arr[i].comm, sp->comm, sizeof(arr[i].comm));
		else if (!arr[i].comm[0] && read_comm(arr[i].tgid, arr[i].comm, sizeof(arr[i].comm)))
			strcpy(arr[i].comm, "?");
	}
	qsort(arr, nr, sizeof(*arr), cmp_proc);
	*out = arr;
	*nr_out = nr;
	return 0;
}

int pressure_stacks(struct pressure *p, struct pressure_stack **out, size_t *nr_out)
{
	int fd = bpf_map__fd(p->skel->maps.stall_stacks);
	struct stall_stack_key key, next, *prev = NULL;
	struct pressure_stack *arr = NULL;
	size_t nr = 0, cap = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (array_grow((void **)&arr, nr, &cap, sizeof(*arr))) {
			free(arr);
			return -ENOMEM;
		}
		arr[nr].key = key;
		if (!bpf_map_lookup_elem(fd, &key, &arr[nr].val))
			nr++;
	}
	*out = arr;
	*nr_out = nr;
	return 0;
}

size_t pressure_stack_ips(struct pressure *p, int32_t id, uint64_t *ips)
{
	size_t nr = 0;

	if (id < 0 || bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.stall_stack_ips), &id, ips))
		return 0;
	while (nr < RECLAIM_STACK_DEPTH && ips[nr])
		nr++;
	return nr;
}

bool pressure_hist(struct pressure *p, uint32_t tgid, enum stall_kind kind, struct hist *h)
{
	struct stall_key key = { .id = tgid, .kind = kind };

	return !bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.stall_hists), &key, h);
}

void pressure_totals(struct pressure *p, struct pressure_totals *t)
{
	uint64_t now = monotonic_ns();
	struct kswapd_node k;

	memset(t, 0, sizeof(*t));
	percpu_array_sum(bpf_map__fd(p->skel->maps.rstats), RSTAT_NR, t->stats);
	t->run_time_ns = bpf_cost_ns(&p->cost);
	t->recursion_misses = prog_misses_sum(p->skel->obj);
	for (uint32_t nid = 0; nid < RECLAIM_MAX_NODES; nid++) {
		if (bpf_map_lookup_elem(bpf_map__fd(p->skel->maps.kswapd), &nid, &k))
			continue;
		t->kswapd_wakes += k.wakes;
		t->kswapd_awake_ns += k.awake_ns;
		/* A run in progress counts up to now: intervals see it as it goes. */
		if (k.since_ns && now > k.since_ns)
			t->kswapd_awake_ns += now - k.since_ns;
		t->kswapd_reclaimed += k.reclaimed;
	}
}

/* Every loss counter, by its name in JSON. */
static const struct {
	enum pressure_stat stat;
	const char *name;
} lost_stats[] = {
	{ RSTAT_UNMATCHED, "unmatched_ends" },
	{ RSTAT_PROCS_FULL, "procs_map_full" },
	{ RSTAT_THREADS_FULL, "threads_map_full" },
	{ RSTAT_HISTS_FULL, "hists_map_full" },
	{ RSTAT_ALLOCS_FULL, "page_allocs_map_full" },
	{ RSTAT_EVENTS_LOST, "events_lost" },
	{ RSTAT_USTACK_LOST, "user_stacks_lost" },
	{ RSTAT_KSTACK_LOST, "kernel_stacks_lost" },
	{ RSTAT_STALL_STACKS_FULL, "stall_stacks_map_full" },
};

uint64_t pressure_lost(const struct pressure_totals *t)
{
	uint64_t sum = t->recursion_misses;

	for (size_t i = 0; i < sizeof(lost_stats) / sizeof(lost_stats[0]); i++)
		sum += t->stats[lost_stats[i].stat];
	return sum;
}

size_t pressure_lost_each(const struct pressure_totals *t, const char **names, uint64_t *counts,
			  size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(lost_stats) / sizeof(lost_stats[0]) && n < max; i++, n++) {
		names[n] = lost_stats[i].name;
		counts[n] = t->stats[lost_stats[i].stat];
	}
	if (n < max) {
		names[n] = "recursion_misses";
		counts[n++] = t->recursion_misses;
	}
	return n;
}

void pressure_print_lost_json(FILE *out, const struct pressure_totals *t)
{
	fputs("{", out);
	for (size_t i = 0; i < sizeof(lost_stats) / sizeof(lost_stats[0]); i++)
		fprintf(out, "\"%s\":%llu,", lost_stats[i].name,
			(unsigned long long)t->stats[lost_stats[i].stat]);
	fprintf(out, "\"recursion_misses\":%llu}", (unsigned long long)t->recursion_misses);
}

const char *pressure_missing(const struct pressure *p)
{
	return p->missing;
}
