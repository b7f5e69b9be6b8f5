/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Stall stacks (memlens reclaim --stacks): the stalls of each process added
 * up by kind and by the user and kernel stack that waited, symbolized, and
 * rendered as text, JSON, folded lines, an SVG flame graph of stall time
 * and a pprof profile (sample types stalls and stall_time).
 */
#ifndef MEMLENS_STALL_STACKS_H
#define MEMLENS_STALL_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "episodes.h"
#include "pressure.h"
#include "stack_report.h"

/* One aggregate: a process's stalls of one kind at one pair of stacks. */
struct stall_stack_row {
	struct stall_stack_key key;
	struct stall_stack_val val;
	char comm[16];
	const struct sym_stack *user;	/* leaf first; NULL: none (kernel thread, lost) */
	const struct sym_stack *kernel;
};

struct stall_stacks;

struct stall_stacks *stall_stacks_new(struct pressure *p);
void stall_stacks_free(struct stall_stacks *s);
/*
 * A stall of process TGID was seen: its mappings are read now, while it
 * lives, so that its stacks resolve after it exits.
 */
void stall_stacks_seen(struct stall_stacks *s, uint32_t tgid, const char *comm);
/*
 * Process TGID's user stacks are named by SYM, which the caller keeps up
 * to date and frees after S (memlens record's session symbolizer).
 */
void stall_stacks_use(struct stall_stacks *s, uint32_t tgid, struct symbolizer *sym);
/*
 * Every aggregate of the session, symbolized: the processes that stalled
 * longest first, each one's stacks longest first.
 */
int stall_stacks_read(struct stall_stacks *s, struct stall_stack_row **rows, size_t *nr);
/* The stacks of episode E, symbolized, longest first. */
int stall_stacks_of_episode(struct stall_stacks *s, struct episode *e,
			    struct stall_stack_row **rows, size_t *nr);

/* ROWS sorted as stall_stacks_read() sorts them: by process, then longest first. */
int stall_stack_rows_sort(struct stall_stack_row *rows, size_t nr);
/* One row: a header line under INDENT (with its pid if WITH_PID), then its frames. */
void stall_stack_print_text(FILE *out, const struct stall_stack_row *r, size_t rank,
			    const char *indent, bool with_pid);
/* One row as a JSON object. */
void stall_stack_print_json(FILE *out, const struct stall_stack_row *r);
/*
 * Folded lines on stdout if FOLDED, an SVG flame graph into SVG and a pprof
 * profile into PPROF if not NULL: stall time by stack, root (the process's
 * name) first, user frames, then kernel frames marked "_[k]". Errors are
 * reported; the first is returned.
 */
int stall_stacks_write_outputs(const struct stall_stack_row *rows, size_t nr, bool folded,
			       const char *svg, const char *pprof);

#endif
