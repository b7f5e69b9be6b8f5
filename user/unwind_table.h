/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_UNWIND_TABLE_H
#define MEMLENS_UNWIND_TABLE_H

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>
#include "unwind.h"

/* Rows of one module, sorted by pc, covering its executable sections. */
struct unwind_table {
	struct unwind_row *rows;
	size_t nr;
	size_t cap;
	uint64_t unsupported;	/* rows with a rule the BPF side cannot follow */
};

/*
 * The unwind table of ELF from its .eh_frame (else .debug_frame): 0,
 * -ENOENT if it has no CFI, -E2BIG if its addresses do not fit in 32 bits,
 * other negative errno.
 */
int unwind_table_build(Elf *elf, struct unwind_table *t);
void unwind_table_free(struct unwind_table *t);
/* The row that covers ELF address PC, or NULL (as the BPF side finds it). */
const struct unwind_row *unwind_table_find(const struct unwind_row *rows, size_t nr, uint64_t pc);

/*
 * The row of ELF's CFI at ELF address PC alone (its pc field is PC's low
 * 32 bits): 0, or -ENOENT where no CFI covers PC.
 */
int unwind_row_at(Elf *elf, uint64_t pc, struct unwind_row *row);

/* Modules the unwinder has seen, by outcome (shown with every report). */
struct unwinder_stats {
	uint64_t modules_table;		/* unwound with their CFI */
	uint64_t modules_no_cfi;	/* no CFI: frame pointers */
	uint64_t modules_too_big;	/* the row array is full: frame pointers */
	uint64_t mappings_dropped;	/* beyond UNWIND_MAX_MAPPINGS: stacks stop there */
	uint64_t rows;			/* rows in use */
	uint64_t max_rows;
};

struct unwinder;

/*
 * Unwind tables of process PID, loaded into the BPF array ROWS_FD (mmapable,
 * MAX_ROWS rows) and the per-process mappings PROCS_FD.
 */
struct unwinder *unwinder_new(int pid, int rows_fd, uint32_t max_rows, int procs_fd);
void unwinder_free(struct unwinder *u);
/* Re-read the process's mappings; build tables of new modules; publish. */
int unwinder_refresh(struct unwinder *u);
void unwinder_get_stats(const struct unwinder *u, struct unwinder_stats *st);

#endif
