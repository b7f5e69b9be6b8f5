/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Stall stacks (memlens reclaim --stacks, record --stalls): the stalls of
 * each process added up by kind and by the user and kernel stack that
 * waited, read from the reclaim tracer's maps and symbolized, as rows that
 * user/stall_report.c renders.
 */
#ifndef MEMLENS_STALL_STACKS_H
#define MEMLENS_STALL_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "episodes.h"
#include "pressure.h"
#include "stall_report.h"

struct stall_stacks;

struct stall_stacks *stall_stacks_new(struct pressure *p);
void stall_stacks_free(struct stall_stacks *s);
/*
 * A stall of process TGID was seen: its mappings are read now, while it
 * lives, so that its stacks resolve after it exits. COMM here and below:
 * a task's 16-byte name, its first 15 bytes taken (no terminator needed).
 */
void stall_stacks_seen(struct stall_stacks *s, uint32_t tgid, uint32_t tid, const char *comm);
/*
 * Process TGID may stall later (it has just exec'd, or -p names it): its
 * code mappings are read now (/proc/PID/maps alone: no file opened), and
 * its mappings again at its first stall while it lives. At most
 * STALL_STACKS_MAX_EARLY such processes at once.
 */
#define STALL_STACKS_MAX_EARLY	1024
void stall_stacks_early(struct stall_stacks *s, uint32_t tgid, const char *comm);
/*
 * Forget those read early that have exited without a stall: found gone at
 * one call, dropped at the next. Between two calls the caller reads every
 * event the ring buffer holds, so that a stall sent before the exit is
 * seen before its process's mappings go.
 */
void stall_stacks_prune(struct stall_stacks *s);
/* How many processes had exited when stall_stacks_seen() came to read them. */
unsigned int stall_stacks_unread(const struct stall_stacks *s);
/* Of the others, how many were named by what stall_stacks_early() read alone. */
unsigned int stall_stacks_early_only(const struct stall_stacks *s);
/* How many stall_stacks_early() calls found STALL_STACKS_MAX_EARLY reached. */
unsigned int stall_stacks_early_skipped(const struct stall_stacks *s);
/*
 * Process TGID's user stacks are named by SYM, which the caller keeps up
 * to date and frees after S (memlens record's session symbolizer).
 */
void stall_stacks_use(struct stall_stacks *s, uint32_t tgid, struct symbolizer *sym);
/* What names process TGID's user frames: NULL if nothing does (yet). */
struct symbolizer *stall_stacks_symbolizer(const struct stall_stacks *s, uint32_t tgid);
/*
 * Every aggregate of the session, symbolized: the processes that stalled
 * longest first, each one's stacks longest first.
 */
int stall_stacks_read(struct stall_stacks *s, struct stall_stack_row **rows, size_t *nr);
/* The stacks of episode E, symbolized, longest first. */
int stall_stacks_of_episode(struct stall_stacks *s, struct episode *e,
			    struct stall_stack_row **rows, size_t *nr);

#endif
