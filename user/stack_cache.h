/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_STACK_CACHE_H
#define MEMLENS_STACK_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "allocs.h"
#include "stack_report.h"

struct symbolizer;
struct stack_cache;

/* Symbolized stacks by id, read from the BPF stacks map STACKS_FD once each. */
struct stack_cache *stack_cache_new(int stacks_fd, struct symbolizer *sym);
void stack_cache_free(struct stack_cache *c);
const struct sym_stack *stack_cache_get(struct stack_cache *c, uint64_t id);
/*
 * The id under which the stack ID is reported: itself, or for a stack cut
 * short at a return address that is not code, the id of the frames kept
 * (as the BPF side would hash them), so that stacks that differ only in
 * what was cut off are one stack. stack_cache_get() knows both.
 */
uint64_t stack_cache_report_id(struct stack_cache *c, uint64_t id);
/*
 * Stacks cut short so far: the stack_not_code counter. A stack reclaimed
 * and taken again later counts again.
 */
uint64_t stack_cache_not_code(const struct stack_cache *c);
/*
 * One round of reclaim, with the NR blocks of a snapshot of the allocs map
 * (every process's) whose read began at READ_NS (CLOCK_MONOTONIC): stacks
 * no block referred to in this snapshot nor the one of the last round
 * leave the BPF map and the cache (kept in limbo 5 s and two rounds, for
 * blocks stored late). Rounds are 100 ms apart at least: a snapshot sooner
 * only puts back stacks (see below). Call it before the
 * snapshot's stacks are looked up: a stack taken out that a block has
 * come to refer to (stored just before it was taken out) is put back
 * first. Only for outstanding blocks: a Go allocation profile refers to
 * its stacks forever.
 */
int stack_cache_reclaim(struct stack_cache *c, const struct alloc_info *blocks, size_t nr,
			uint64_t read_ns);
/*
 * Stacks taken out of the BPF map so far, less those put back: the
 * stacks_reclaimed counter.
 */
uint64_t stack_cache_reclaimed(const struct stack_cache *c);
/* Stacks taken out, then put back for a block stored as they were taken out. */
uint64_t stack_cache_restored(const struct stack_cache *c);
/*
 * Stacks reclaimed that a block came to refer to after they left limbo too
 * (its task was held up for seconds between stack and block): the
 * stack_reclaimed_early counter. Such blocks show no stack.
 */
uint64_t stack_cache_reclaimed_early(const struct stack_cache *c);

#endif
