/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_SYMBOLIZE_H
#define MEMLENS_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A resolved frame; strings belong to the symbolizer. */
struct frame_info {
	uint64_t addr;
	const char *module;	/* NULL if the address is in no known mapping */
	const char *symbol;	/* NULL without symbols */
	/* ADDR from SYMBOL; without one, ADDR in MODULE's ELF addresses (its file offset if unread) */
	uint64_t sym_offset;
	const char *file;	/* NULL without debug info */
	int line;
	/* MODULE's mapping that holds ADDR (start, end, file offset), 0s if none. */
	uint64_t map_start, map_end, map_offset;
	const char *build_id;	/* MODULE's GNU build ID in hex, NULL if none or unread */
};

struct symbolizer;
struct vma_list;

struct symbolizer *symbolizer_new(int pid);
void symbolizer_free(struct symbolizer *s);
/*
 * Re-read /proc/PID/maps and open newly mapped files. Mappings seen before
 * are kept, so stacks of an exited process or an unloaded library still
 * resolve.
 */
int symbolizer_refresh(struct symbolizer *s);
/* The same with MAPS, as /proc/PID/maps would give them. */
int symbolizer_add_maps(struct symbolizer *s, const struct vma_list *maps);
/* ADDR, a return address, is in an executable mapping of the process (a file's or JIT code). */
bool symbolizer_is_code(struct symbolizer *s, uint64_t addr);
/* Has it a code mapping: none once its process has exited (a zombie's maps are empty). */
bool symbolizer_has_code(const struct symbolizer *s);
/*
 * How many of the NR frames IPS (leaf first) are a stack: all up to the
 * first return address that is not code. A frame-pointer walk through code
 * that uses rbp for data reads data for return addresses (text, pointers
 * to the heap): nothing from there on is a caller.
 */
size_t symbolizer_code_frames(struct symbolizer *s, const uint64_t *ips, size_t nr);
/* ADDR is a return address: it is looked up as ADDR - 1. */
void symbolizer_resolve(struct symbolizer *s, uint64_t addr, struct frame_info *fi);

#endif
