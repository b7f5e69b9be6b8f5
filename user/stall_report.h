/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Stall stacks rendered (memlens reclaim --stacks, report --stalls): text,
 * JSON, folded lines, an SVG flame graph of stall time and a pprof profile
 * (sample types stalls and stall_time).
 */
#ifndef MEMLENS_STALL_REPORT_H
#define MEMLENS_STALL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "reclaim.h"
#include "stack_report.h"

/* One aggregate: a process's stalls of one kind at one pair of stacks. */
struct stall_stack_row {
	struct stall_stack_key key;
	struct stall_stack_val val;
	char comm[16];
	const struct sym_stack *user;	/* leaf first; NULL: none (kernel thread, lost) */
	const struct sym_stack *kernel;
	bool user_unnamed;		/* its process exited before its mappings were read */
};

const char *stall_kind_name(enum stall_kind kind);
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
