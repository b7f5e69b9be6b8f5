/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_STACK_CACHE_H
#define MEMLENS_STACK_CACHE_H

#include <stdint.h>
#include "report.h"

struct symbolizer;
struct stack_cache;

/* Symbolized stacks by id, read from the BPF stacks map STACKS_FD once each. */
struct stack_cache *stack_cache_new(int stacks_fd, struct symbolizer *sym);
void stack_cache_free(struct stack_cache *c);
const struct sym_stack *stack_cache_get(struct stack_cache *c, uint64_t id);

#endif
