// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A block whose only pointer is in an object of operator new, itself held
 * by a global: reachable. Linked with jemalloc, whose new memlens does not
 * follow, the object is heap memlens never saw allocated:
 *
 *   held_here   malloc(4000), still reachable      4000 bytes
 */
#include <cstdlib>

struct Holder {
	void *block;
};

static Holder *volatile root;

__attribute__((noinline)) void held_here()
{
	root->block = malloc(4000);
}

int main()
{
	root = new Holder;
	held_here();
	return 0;
}
