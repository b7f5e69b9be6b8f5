/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Stack reports as flame graphs: a set of stacks with their weights, as
 * folded lines ("root;caller;leaf 4096", the input of flamegraph.pl and
 * speedscope) or as an interactive SVG (user/flamegraph.c).
 */
#ifndef MEMLENS_FLAMESET_H
#define MEMLENS_FLAMESET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "flamegraph.h"

struct flame_set {
	struct flame_stack *stacks;
	size_t nr, cap;
};

/* Add a stack: FRAMES root first, copied. 0 or -ENOMEM. */
int flame_set_add(struct flame_set *s, const char *const *frames, size_t nr, uint64_t value);
void flame_set_free(struct flame_set *s);
/* One line a stack; ';' in a name becomes ':', control bytes '?'. */
void flame_set_print_folded(FILE *out, const struct flame_set *s);
/* The SVG into PATH, replaced whole (write_file_atomic). 0 or negative errno. */
int flame_set_write_svg(const struct flame_set *s, const char *path, const char *title,
			const char *unit);

#endif
