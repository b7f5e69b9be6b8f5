/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_STACK_CACHE_H
#define MEMLENS_STACK_CACHE_H

#include <stdint.h>
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
/* Distinct stacks cut short so far: the stack_not_code counter. */
uint64_t stack_cache_not_code(const struct stack_cache *c);

#endif
