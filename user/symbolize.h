/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_SYMBOLIZE_H
#define MEMLENS_SYMBOLIZE_H

#include <stdint.h>

/* A resolved frame; strings belong to the symbolizer. */
struct frame_info {
	uint64_t addr;
	const char *module;	/* NULL if the address is in no known mapping */
	const char *symbol;	/* NULL without symbols */
	uint64_t sym_offset;
	const char *file;	/* NULL without debug info */
	int line;
};

struct symbolizer;

struct symbolizer *symbolizer_new(int pid);
void symbolizer_free(struct symbolizer *s);
/*
 * Re-read /proc/PID/maps and open newly mapped files. Mappings seen before
 * are kept, so stacks of an exited process or an unloaded library still
 * resolve.
 */
int symbolizer_refresh(struct symbolizer *s);
/* ADDR is a return address: it is looked up as ADDR - 1. */
void symbolizer_resolve(struct symbolizer *s, uint64_t addr, struct frame_info *fi);

#endif
