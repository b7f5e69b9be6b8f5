// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Leaks from -O2 code without frame pointers that keeps pointers to data
 * in rbp across malloc, for tests/e2e-stacks.sh. A frame-pointer walk takes
 * rbp for a frame: the word after the one it points at for a return
 * address, the word it points at for the next frame. Here rbp points into
 * lists whose nodes are such pairs, so the walk reads text and pointers to
 * data for callers, several frames deep, differently at each call. The
 * lists are on main's stack, above the stack pointer at every malloc, as
 * a frame would be; with --global they are in .bss, below it, where a
 * walk goes once, as from cgo's C code down to a goroutine's stack.
 *
 *   fill_lists: malloc(1000) for each node of a list     3 x 1000 bytes
 *
 * One call site, three walks through different nodes: three stacks as the
 * walk takes them, one once the frames that are not code are cut.
 *
 * fill_lists keeps six node pointers live across every call, as many as
 * the callee-saved registers: rbp holds one of them whatever the register
 * allocator's choice. --wait: say "ready", wait for a line, work, say
 * "done", wait for a line, exit (handshake.h). No stdio. --global [--wait]:
 * the lists in .bss.
 */
#include <stdlib.h>
#include <string.h>
#include "handshake.h"

#define NODES 3

/* The frame-pointer walk's view: saved rbp, then a return address. */
struct node {
	struct node *next;
	unsigned long word;
	void *block;
};

static char some_data[64] = "data, not code";
static void *volatile sink;

/* Words that are not code: text as -O2 code has it in registers, and a pointer to data. */
static void make_lists(struct node lists[6][NODES])
{
	for (int l = 0; l < 6; l++) {
		for (int i = 0; i < NODES; i++) {
			struct node *n = &lists[l][i];

			n->next = i + 1 < NODES ? &lists[l][i + 1] : NULL;
			if (i == 0)
				memcpy(&n->word, "eak\0\1\33\3;", 8);
			else if (i == 1)
				n->word = (unsigned long)&some_data[8 * l];
			else
				n->word = 0x1000 + l;
		}
	}
}

__attribute__((noinline)) void fill_lists(struct node *a, struct node *b, struct node *c,
					  struct node *d, struct node *e, struct node *f)
{
	while (a) {
		void *p = malloc(1000);

		/* All six are needed after the call: all six in callee-saved registers. */
		a->block = b->block = c->block = d->block = e->block = f->block = p;
		a = a->next;
		b = b->next;
		c = c->next;
		d = d->next;
		e = e->next;
		f = f->next;
	}
	sink = b;
}

int main(int argc, char **argv)
{
	static struct node global_lists[6][NODES];
	struct node stack_lists[6][NODES];
	int global = argc > 1 && !strcmp(argv[1], "--global");
	int wait = argc > 1 + global && !strcmp(argv[1 + global], "--wait");
	struct node (*lists)[NODES] = global ? global_lists : stack_lists;

	make_lists(lists);
	if (wait) {
		say("ready\n");
		wait_line();
	}
	fill_lists(lists[0], lists[1], lists[2], lists[3], lists[4], lists[5]);
	if (wait) {
		say("done\n");
		wait_line();
	}
	return 0;
}
