// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A stack id always names the same frames (the BPF side checks), so each
 * is read and symbolized once, while the process is still there to ask:
 * its mappings say which return addresses are code. A frame-pointer walk
 * knows no such thing, and takes whatever rbp points at for a frame.
 *
 * Stacks no outstanding block refers to are reclaimed, from the BPF map
 * and from here, so that a long session keeps room for new ones and
 * memlens' memory stays bounded (stack_cache_reclaim()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "allocs.h"
#include "stack_cache.h"
#include "symbolize.h"
#include "util.h"

#define CACHE_BUCKETS 4096
/* Room for stacks in limbo kept when it empties. */
#define LIMBO_KEEP (256 * 1024)
/* Reclaim rounds are this far apart at least. */
#define RECLAIM_GAP_NS (100 * 1000 * 1000ULL)
/*
 * A stack taken out stays in limbo this long, and two rounds at least: a
 * BPF program runs in microseconds, but a task preempted (or throttled by
 * its cgroup's CPU limit) between storing a stack and storing its block
 * may take hundreds of milliseconds.
 */
#define LIMBO_NS (5 * 1000 * 1000 * 1000ULL)
#define LIMBO_ROUNDS 2
/*
 * Limbo's bound: 5 s of 1700 new stacks a second (30 frames); should
 * stacks churn faster, the oldest go first.
 */
#define LIMBO_MAX (2 * 1024 * 1024)

struct cached_stack {
	uint64_t id;
	uint64_t round;		/* of the last reclaim round it was used in */
	uint64_t report_id;	/* ID, or that of the frames kept if it was cut */
	bool lost;		/* a block refers to ID, gone from the map: no frames */
	struct sym_stack st;
	struct cached_stack *next;
};

/* Stack ids, open addressing; 0 (no stack) marks a free slot. */
struct id_set {
	uint64_t *slots;
	size_t cap;		/* a power of two, or 0 */
	size_t nr;
};

/*
 * A stack taken out of the BPF map, kept for LIMBO_NS and LIMBO_ROUNDS
 * while snapshots show whether a block came to refer to it meanwhile.
 */
struct limbo_stack {
	uint64_t id;		/* 0 once put back */
	uint64_t taken_ns;	/* CLOCK_MONOTONIC when taken out */
	uint64_t round;		/* the round that took it out */
	uint32_t nr;
	uint64_t ips[];
};

struct stack_cache {
	int stacks_fd;
	struct symbolizer *sym;
	uint64_t not_code;	/* stacks cut at a return address that is not code */
	uint64_t round;		/* reclaim rounds so far */
	uint64_t swept_ns;	/* CLOCK_MONOTONIC after the last round's deletions */
	uint64_t reclaimed;	/* stacks taken out of the BPF map, less those put back */
	uint64_t restored;	/* put back: a block came to use them */
	uint64_t early;		/* reclaimed, then named by a block after limbo */
	struct id_set refs;	/* ids outstanding blocks refer to, this round */
	struct id_set idle;	/* ids no block referred to in the last round */
	struct id_set next_idle;
	struct byte_limbo {
		char *data;	/* struct limbo_stack, oldest first */
		size_t len, cap;
	} limbo;
	struct cached_stack *buckets[CACHE_BUCKETS];
};

struct stack_cache *stack_cache_new(int stacks_fd, struct symbolizer *sym)
{
	struct stack_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->stacks_fd = stacks_fd;
	c->sym = sym;
	return c;
}

static void entry_free(struct cached_stack *e)
{
	free(e->st.frames);
	free(e);
}

void stack_cache_free(struct stack_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cached_stack *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(c->refs.slots);
	free(c->idle.slots);
	free(c->next_idle.slots);
	free(c->limbo.data);
	free(c);
}

/* FNV-1a over the frames, as hash_stack() in allocs.bpf.c names a stack. */
static uint64_t stack_hash(const uint64_t *ips, size_t nr)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < nr; i++) {
		h ^= ips[i];
		h *= 0x100000001b3ULL;
	}
	return h ? h : 1;
}

/* The frames of ID that are a stack: up to a zero (the walk's end), else all. */
static int read_trace(struct stack_cache *c, uint64_t id, struct stack_trace *trace)
{
	if (bpf_map_lookup_elem(c->stacks_fd, &id, trace))
		return -ENOENT;
	if (trace->nr > MAX_STACK_DEPTH)
		return -EINVAL;
	for (__u32 i = 0; i < trace->nr; i++) {
		if (!trace->ips[i]) {
			trace->nr = i;
			break;
		}
	}
	return 0;
}

static struct cached_stack *entry_new(uint64_t id, size_t nr)
{
	struct cached_stack *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->st.frames = calloc(nr ? nr : 1, sizeof(*e->st.frames));
	if (!e->st.frames) {
		free(e);
		return NULL;
	}
	e->id = id;
	e->report_id = id;
	return e;
}

/*
 * Symbolized, and cut at the first return address outside executable code:
 * what a frame-pointer walk reads past code that keeps data in rbp.
 */
static struct cached_stack *load_stack(struct stack_cache *c, uint64_t id,
				       const struct stack_trace *trace)
{
	size_t keep = symbolizer_code_frames(c->sym, (const uint64_t *)trace->ips, trace->nr);
	struct cached_stack *e = entry_new(id, keep);

	if (!e)
		return NULL;
	for (size_t i = 0; i < keep; i++)
		symbolizer_resolve(c->sym, trace->ips[i], &e->st.frames[e->st.nr++]);
	if (keep < trace->nr) {
		c->not_code++;
		e->report_id = stack_hash((const uint64_t *)trace->ips, keep);
	}
	return e;
}

static void insert(struct stack_cache *c, struct cached_stack *e)
{
	struct cached_stack **b = &c->buckets[e->id % CACHE_BUCKETS];

	e->next = *b;
	*b = e;
}

static struct cached_stack *find(struct stack_cache *c, uint64_t id)
{
	struct cached_stack *e;

	for (e = c->buckets[id % CACHE_BUCKETS]; e; e = e->next)
		if (e->id == id)
			return e;
	return NULL;
}

static void drop(struct stack_cache *c, uint64_t id);

static bool same_frames(const struct stack_trace *t, const struct sym_stack *st)
{
	if (t->nr != st->nr)
		return false;
	for (size_t i = 0; i < st->nr; i++)
		if (t->ips[i] != st->frames[i].addr)
			return false;
	return true;
}

/*
 * CUT's frames under its report id, so that its report id names them. The
 * BPF side may hold that very stack already (a walk that ended there):
 * then it is the one. Under that id a different stack (a hash collision)
 * keeps CUT apart, under its own id.
 */
static void add_report_id(struct stack_cache *c, struct cached_stack *cut)
{
	struct stack_trace trace;
	struct cached_stack *e = find(c, cut->report_id);

	if (e && !e->lost)
		return;
	if (e)
		drop(c, cut->report_id);
	if (!read_trace(c, cut->report_id, &trace)) {
		if (!same_frames(&trace, &cut->st)) {
			cut->report_id = cut->id;
			return;
		}
	}
	e = entry_new(cut->report_id, cut->st.nr);
	if (!e) {
		cut->report_id = cut->id;
		return;
	}
	memcpy(e->st.frames, cut->st.frames, cut->st.nr * sizeof(*e->st.frames));
	e->st.nr = cut->st.nr;
	e->round = c->round;
	insert(c, e);
}

/*
 * A block refers to ID, which the map no longer has: the stack was taken
 * out and left limbo before the block was stored. Counted once: a marker
 * (LOST, no frames) stands for it while blocks refer to it.
 */
static void note_lost(struct stack_cache *c, uint64_t id, struct cached_stack *marker)
{
	if (marker) {
		marker->round = c->round;
		return;
	}
	if (!c->reclaimed)
		return;
	marker = entry_new(id, 0);
	if (!marker)
		return;
	marker->lost = true;
	marker->round = c->round;
	insert(c, marker);
	c->early++;
}

static struct cached_stack *get(struct stack_cache *c, uint64_t id)
{
	struct stack_trace trace;
	struct cached_stack *e;

	if (!id)
		return NULL;
	e = find(c, id);
	if (e && !e->lost) {
		e->round = c->round;
		return e;
	}
	if (read_trace(c, id, &trace)) {
		note_lost(c, id, e);
		return NULL;
	}
	/* Stored again since it was lost: its frames, from now on. */
	if (e)
		drop(c, id);
	e = load_stack(c, id, &trace);
	if (!e)
		return NULL;
	e->round = c->round;
	insert(c, e);
	if (e->report_id != id)
		add_report_id(c, e);
	return e;
}

const struct sym_stack *stack_cache_get(struct stack_cache *c, uint64_t id)
{
	struct cached_stack *e = get(c, id);

	return e ? &e->st : NULL;
}

uint64_t stack_cache_report_id(struct stack_cache *c, uint64_t id)
{
	struct cached_stack *e = get(c, id);

	if (!e)
		return id;
	/*
	 * The frames kept are in use as long as a stack cut to them is; the
	 * map may have let them go (no block refers to them itself): again.
	 */
	if (e->report_id != id) {
		struct cached_stack *kept = find(c, e->report_id);

		if (kept && !kept->lost)
			kept->round = c->round;
		else
			add_report_id(c, e);
	}
	return e->report_id;
}

uint64_t stack_cache_not_code(const struct stack_cache *c)
{
	return c->not_code;
}

/* --- reclaim: stacks no outstanding block refers to ------------------- */

static size_t id_slot(uint64_t id, size_t cap)
{
	return (id * 0x9e3779b97f4a7c15ULL >> 17) & (cap - 1);
}

static bool id_set_has(const struct id_set *set, uint64_t id)
{
	if (!set->cap)
		return false;
	for (size_t i = id_slot(id, set->cap);; i = (i + 1) & (set->cap - 1)) {
		if (set->slots[i] == id)
			return true;
		if (!set->slots[i])
			return false;
	}
}

static int id_set_add(struct id_set *set, uint64_t id);

/* Twice the room, the ids kept. */
static int id_set_grow(struct id_set *set)
{
	struct id_set bigger = { .cap = set->cap ? set->cap * 2 : 1024 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i])
			id_set_add(&bigger, set->slots[i]);
	free(set->slots);
	*set = bigger;
	return 0;
}

static int id_set_add(struct id_set *set, uint64_t id)
{
	size_t i;

	if (!id)
		return 0;
	if ((set->nr + 1) * 2 > set->cap && id_set_grow(set))
		return -ENOMEM;
	for (i = id_slot(id, set->cap); set->slots[i]; i = (i + 1) & (set->cap - 1))
		if (set->slots[i] == id)
			return 0;
	set->slots[i] = id;
	set->nr++;
	return 0;
}

/*
 * Emptied for the next round. Its room stays, about what the next round
 * needs, unless it was a peak: a set 8 times too big is let go.
 */
static void id_set_clear(struct id_set *set)
{
	if (set->cap > 1024 && set->nr * 8 < set->cap) {
		free(set->slots);
		set->slots = NULL;
		set->cap = 0;
	} else if (set->cap) {
		memset(set->slots, 0, set->cap * sizeof(*set->slots));
	}
	set->nr = 0;
}

static size_t limbo_size(uint32_t nr)
{
	return sizeof(struct limbo_stack) + nr * sizeof(uint64_t);
}

/* The oldest stacks in limbo go, BYTES of them at least. */
static void limbo_drop_oldest(struct byte_limbo *l, size_t bytes)
{
	size_t off = 0;

	if (!bytes)
		return;
	while (off < l->len && off < bytes)
		off += limbo_size(((const struct limbo_stack *)(l->data + off))->nr);
	memmove(l->data, l->data + off, l->len - off);
	l->len -= off;
}

static int limbo_add(struct stack_cache *c, uint64_t id, const struct stack_trace *t)
{
	struct byte_limbo *l = &c->limbo;
	size_t need = limbo_size(t->nr);
	struct limbo_stack *ls;

	/* A quarter at once: a move per stack would be quadratic. */
	if (l->len + need > LIMBO_MAX)
		limbo_drop_oldest(l, l->len + need - LIMBO_MAX + LIMBO_MAX / 4);
	if (l->len + need > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64 * 1024;
		char *p;

		while (cap < l->len + need)
			cap *= 2;
		if (cap > LIMBO_MAX)
			cap = LIMBO_MAX;
		p = realloc(l->data, cap);
		if (!p)
			return -ENOMEM;
		l->data = p;
		l->cap = cap;
	}
	ls = (struct limbo_stack *)(l->data + l->len);
	ls->id = id;
	ls->taken_ns = monotonic_ns();
	ls->round = c->round;
	ls->nr = t->nr;
	memcpy(ls->ips, t->ips, t->nr * sizeof(uint64_t));
	l->len += need;
	return 0;
}

/*
 * A BPF program that found a stack in the map just before a round took it
 * out stores its block after: the block refers to a stack gone. The
 * snapshots after show such blocks; their stacks go back. A program runs
 * in microseconds, but its task may be preempted or throttled: a snapshot
 * read LIMBO_NS after the stacks were taken out has every such block.
 */
static void restore_used(struct stack_cache *c)
{
	struct byte_limbo *l = &c->limbo;
	struct stack_trace t;
	int err;

	for (size_t off = 0; off < l->len;) {
		struct limbo_stack *ls = (void *)(l->data + off);

		off += limbo_size(ls->nr);
		if (!ls->id || !id_set_has(&c->refs, ls->id))
			continue;
		memset(&t, 0, sizeof(t));
		t.nr = ls->nr;
		memcpy(t.ips, ls->ips, ls->nr * sizeof(uint64_t));
		/* EEXIST: the BPF side stored the same frames again (they are its id). */
		err = bpf_map_update_elem(c->stacks_fd, &ls->id, &t, BPF_NOEXIST);
		/* Not reclaimed after all: each stack stored once counts once. */
		if (!err) {
			c->restored++;
			c->reclaimed--;
		}
		if (!err || err == -EEXIST)
			ls->id = 0;
	}
}

/*
 * Stacks in limbo for LIMBO_NS before the snapshot read at READ_NS, and
 * LIMBO_ROUNDS rounds, go: that snapshot showed no block refers to them.
 */
static void limbo_expire(struct stack_cache *c, uint64_t read_ns)
{
	struct byte_limbo *l = &c->limbo;
	size_t off = 0;

	while (off < l->len) {
		const struct limbo_stack *ls = (const void *)(l->data + off);

		if (ls->taken_ns + LIMBO_NS > read_ns || ls->round + LIMBO_ROUNDS > c->round)
			break;
		off += limbo_size(ls->nr);
	}
	limbo_drop_oldest(l, off);
	/* A peak of stacks taken out leaves no room behind. */
	if (l->cap > LIMBO_KEEP && l->len * 4 < l->cap) {
		size_t cap = l->len * 2 > LIMBO_KEEP ? l->len * 2 : LIMBO_KEEP;
		char *p = realloc(l->data, cap);

		if (p) {
			l->data = p;
			l->cap = cap;
		}
	}
}

/* ID's frames, symbolized: a stack stored again under ID is read anew. */
static void drop(struct stack_cache *c, uint64_t id)
{
	struct cached_stack **p = &c->buckets[id % CACHE_BUCKETS];

	for (; *p; p = &(*p)->next) {
		struct cached_stack *e = *p;

		if (e->id == id) {
			*p = e->next;
			entry_free(e);
			return;
		}
	}
}

/* ID out of the BPF map, kept in limbo a while; false if it stays. */
static bool take_out(struct stack_cache *c, uint64_t id)
{
	struct stack_trace t;

	/* The BPF side never changes a stack it stored: what we read is what goes. */
	if (bpf_map_lookup_elem(c->stacks_fd, &id, &t) || t.nr > MAX_STACK_DEPTH)
		return false;
	if (limbo_add(c, id, &t))
		return false;
	if (bpf_map_delete_elem(c->stacks_fd, &id)) {
		c->limbo.len -= limbo_size(t.nr);
		return false;
	}
	drop(c, id);
	return true;
}

/* A growing array of ids. */
struct id_list {
	uint64_t *v;
	size_t nr, cap;
};

static int id_list_push(struct id_list *l, uint64_t id)
{
	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		uint64_t *p = realloc(l->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->nr++] = id;
	return 0;
}

/*
 * The ids in the BPF map: those referred to are kept; those no block
 * referred to in this round nor the last go; the others are idle, and go
 * next round if still unused. Keys are gathered first: deleting while
 * walking would start the walk over. A walk while the BPF side inserts
 * may miss or repeat a key: a missed one is taken next round, a repeated
 * one is gone already.
 */
static int sweep_map(struct stack_cache *c)
{
	struct id_list gone = {};
	struct id_set idle;
	uint64_t key, next;
	int err = 0;

	id_set_clear(&c->next_idle);
	for (int e = bpf_map_get_next_key(c->stacks_fd, NULL, &next); !e && !err;
	     e = bpf_map_get_next_key(c->stacks_fd, &key, &next)) {
		key = next;
		if (id_set_has(&c->refs, key))
			continue;
		if (id_set_has(&c->idle, key))
			err = id_list_push(&gone, key);
		else
			err = id_set_add(&c->next_idle, key);
	}
	for (size_t i = 0; i < gone.nr; i++)
		if (take_out(c, gone.v[i]))
			c->reclaimed++;
	free(gone.v);
	/* Those just found idle are the next round's candidates. */
	idle = c->idle;
	c->idle = c->next_idle;
	c->next_idle = idle;
	return err;
}

/*
 * Entries no snapshot of the last two rounds used go: the reports and
 * recordings of a round look up only what its snapshot refers to.
 */
static void sweep_cache(struct stack_cache *c)
{
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cached_stack **p = &c->buckets[i];

		while (*p) {
			struct cached_stack *e = *p;

			if (e->round + 2 >= c->round) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			entry_free(e);
		}
	}
}

int stack_cache_reclaim(struct stack_cache *c, const struct alloc_info *blocks, size_t nr,
			uint64_t read_ns)
{
	struct cached_stack *e;
	int err;

	id_set_clear(&c->refs);
	for (size_t i = 0; i < nr; i++) {
		err = id_set_add(&c->refs, blocks[i].stack_id);
		/*
		 * A stack cut is reported under the frames kept, which the
		 * map may hold too, under that id: in use as long as it is.
		 */
		e = find(c, blocks[i].stack_id);
		if (!err && e && e->report_id != e->id)
			err = id_set_add(&c->refs, e->report_id);
		if (err)
			return err;	/* nothing taken out: the refs are not all known */
	}
	restore_used(c);
	/*
	 * The next stacks are taken out only once a snapshot read well
	 * after the last were is in: reports that catch up come a moment apart.
	 */
	if (c->swept_ns && read_ns < c->swept_ns + RECLAIM_GAP_NS)
		return 0;
	limbo_expire(c, read_ns);
	c->round++;
	err = sweep_map(c);
	c->swept_ns = monotonic_ns();
	sweep_cache(c);
	return err;
}

uint64_t stack_cache_reclaimed(const struct stack_cache *c)
{
	return c->reclaimed;
}

uint64_t stack_cache_restored(const struct stack_cache *c)
{
	return c->restored;
}

uint64_t stack_cache_reclaimed_early(const struct stack_cache *c)
{
	return c->early;
}
