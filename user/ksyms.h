/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Kernel text symbols from /proc/kallsyms: address to function+offset. */
#ifndef MEMLENS_KSYMS_H
#define MEMLENS_KSYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ksym {
	uint64_t addr;
	char *name;
	char *module;		/* NULL for vmlinux */
};

struct ksyms {
	struct ksym *syms;	/* sorted by address */
	size_t nr, cap;
};

/* Text symbols of F (kallsyms format), sorted: 0 or negative errno. */
int ksyms_read(FILE *f, struct ksyms *k);
int ksyms_load(struct ksyms *k);
void ksyms_free(struct ksyms *k);
/* The symbol ADDR is in (the last one at or below it); NULL if none. */
const struct ksym *ksyms_find(const struct ksyms *k, uint64_t addr);
/* The function ADDR is in; NULL if none, or too far from any to say. */
const char *ksyms_name(const struct ksyms *k, uint64_t addr);
/*
 * Is NAME a frame of the BPF program and the tracepoint's glue at the top
 * of a kernel stack taken in a tracepoint (bpf_prog_*, bpf_trace_run2,
 * __bpf_trace_*, __traceiter_*): memlens' own, not the traced code's?
 */
bool ksyms_tracing_frame(const char *name);
/* "func+0x1a [module]" into BUF; the address in hex if unknown. */
const char *ksyms_format(const struct ksyms *k, uint64_t addr, char *buf, size_t len);

#endif
