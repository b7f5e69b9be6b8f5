// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A stack id always names the same frames (the BPF side checks), so each
 * is read and symbolized once, while the process is still there to ask.
 */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include "allocs.h"
#include "stack_cache.h"
#include "symbolize.h"

#define CACHE_BUCKETS 4096

struct cached_stack {
	uint64_t id;
	struct sym_stack st;
	struct cached_stack *next;
};

struct stack_cache {
	int stacks_fd;
	struct symbolizer *sym;
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

void stack_cache_free(struct stack_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cached_stack *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e->st.frames);
			free(e);
		}
	}
	free(c);
}

static struct cached_stack *load_stack(struct stack_cache *c, uint64_t id)
{
	struct stack_trace trace;
	struct cached_stack *e;

	if (bpf_map_lookup_elem(c->stacks_fd, &id, &trace) || trace.nr > MAX_STACK_DEPTH)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->st.frames = calloc(trace.nr ? trace.nr : 1, sizeof(*e->st.frames));
	if (!e->st.frames) {
		free(e);
		return NULL;
	}
	/* A zero address ends the frame-pointer walk: nothing after it is real. */
	for (__u32 i = 0; i < trace.nr && trace.ips[i]; i++)
		symbolizer_resolve(c->sym, trace.ips[i], &e->st.frames[e->st.nr++]);
	e->id = id;
	return e;
}

const struct sym_stack *stack_cache_get(struct stack_cache *c, uint64_t id)
{
	struct cached_stack **b = &c->buckets[id % CACHE_BUCKETS], *e;

	if (!id)
		return NULL;
	for (e = *b; e; e = e->next)
		if (e->id == id)
			return &e->st;
	e = load_stack(c, id);
	if (!e)
		return NULL;
	e->next = *b;
	*b = e;
	return &e->st;
}
