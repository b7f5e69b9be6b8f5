/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What the kernel's verifier spends on each BPF program of memlens, in
 * each mode it is loaded in: every object is loaded as the subcommands
 * load it, with BPF_LOG_STATS, and the counts are read from the log.
 * `memlens doctor --verifier` prints it; make check fails over budget.
 */
#ifndef MEMLENS_VERIFIER_COST_H
#define MEMLENS_VERIFIER_COST_H

#include <stdbool.h>
#include <stdio.h>

/* The verifier's own limit on processed instructions. */
#define VERIFIER_INSN_LIMIT	1000000
/* What memlens allows itself: 10% of it, on every kernel. */
#define VERIFIER_BUDGET		(VERIFIER_INSN_LIMIT / 10)

struct prog_cost {
	const char *mode;	/* "leaks-dwarf", "top", "reclaim", ... */
	char prog[64];
	long insns;		/* processed instructions, -1 if not told */
	long peak_states;
	long total_states;
	long usec;		/* verification time */
	int err;		/* 0; the load's negative errno; -ECANCELED: not tried */
	char why[160];		/* the verifier's word when it refused the program */
};

/*
 * Load every program of every object in every mode, and call FN for each
 * program with its cost (programs the mode leaves out are not loaded).
 * Returns 0, or the first negative errno that was not a refusal of a
 * program (a refusal is reported through FN): an object that failed
 * before any of its programs reached the verifier (maps, relocations).
 */
int verifier_costs(void (*fn)(const struct prog_cost *c, void *ctx), void *ctx);

#endif
