/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One outstanding block as userspace keeps it: read from the allocs map
 * (whose value, struct alloc_info, is the BPF side's), grouped by
 * stack_report.c, stored in and replayed from recordings by recfile.c. The
 * recording's on-disk encoding is recfile.c's own, not this layout.
 */
#ifndef MEMLENS_ALLOC_REC_H
#define MEMLENS_ALLOC_REC_H

#include <stdint.h>

struct alloc_rec {
	uint64_t addr;
	uint64_t size;
	uint64_t ts_ns;			/* CLOCK_MONOTONIC at allocation */
	uint64_t stack_id;
	uint64_t sample_bytes;		/* sampled every R bytes: an estimate weighs it; 0: exact */
	uint64_t reach;			/* enum reach_class: what a reachability scan found */
};

#endif
