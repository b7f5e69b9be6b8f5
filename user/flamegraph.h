/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Interactive SVG flame graphs: one self-contained file (inline style and
 * script, no network) that a browser shows with hover text and click to zoom.
 */
#ifndef MEMLENS_FLAMEGRAPH_H
#define MEMLENS_FLAMEGRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One stack and its weight (bytes, objects...). FRAMES[0] is the root (outermost caller), FRAMES[NR-1] the leaf. */
struct flame_stack {
	const char *const *frames;
	size_t nr;
	uint64_t value;
};

/*
 * Write an SVG flame graph of STACKS to OUT: TITLE at the top, values in UNIT ("bytes", "objects").
 * Stacks with the same frame prefix merge; children are sorted by name (like flamegraph.pl) so output is deterministic.
 * Returns 0 or a negative errno (-EINVAL for bad arguments, -ENOMEM, -EIO on write errors).
 *
 * OUT, TITLE and UNIT must not be NULL, nor any frame of a stack; STACKS may
 * be NULL only when NR is 0.  Frame names can hold any bytes: control bytes
 * and invalid UTF-8 are shown as '?'.  Values whose sum overflows 64 bits are
 * -EINVAL.  OUT is flushed so that write errors are reported.
 */
int flamegraph_write_svg(FILE *out, const char *title, const char *unit, const struct flame_stack *stacks, size_t nr);

#endif
