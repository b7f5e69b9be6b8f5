// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A stack id always names the same frames (the BPF side checks), so each
 * is read and symbolized once, while the process is still there to ask:
 * its mappings say which return addresses are code. A frame-pointer walk
 * knows no such thing, and takes whatever rbp points at for a frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "allocs.h"
#include "stack_cache.h"
#include "symbolize.h"

#define CACHE_BUCKETS 4096

struct cached_stack {
	uint64_t id;
	uint64_t report_id;	/* ID, or that of the frames kept if it was cut */
	struct sym_stack st;
	struct cached_stack *next;
};

struct stack_cache {
	int stacks_fd;
	struct symbolizer *sym;
	uint64_t not_code;	/* stacks cut at a return address that is not code */
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
	struct cached_stack *e;

	if (find(c, cut->report_id))
		return;
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
	insert(c, e);
}

static struct cached_stack *get(struct stack_cache *c, uint64_t id)
{
	struct stack_trace trace;
	struct cached_stack *e;

	if (!id)
		return NULL;
	e = find(c, id);
	if (e)
		return e;
	if (read_trace(c, id, &trace))
		return NULL;
	e = load_stack(c, id, &trace);
	if (!e)
		return NULL;
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

	return e ? e->report_id : id;
}

uint64_t stack_cache_not_code(const struct stack_cache *c)
{
	return c->not_code;
}
