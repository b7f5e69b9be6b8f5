/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A reachability scan of the process a leaks session traces: its blocks
 * classed while every thread is stopped, by the holder for a command
 * memlens started (at its _exit hold, or at a report), by a seize for -p;
 * the classes kept by address until the report's blocks take them.
 */
#ifndef MEMLENS_LEAK_SCAN_H
#define MEMLENS_LEAK_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "alloc_rec.h"
#include "reachability.h"

struct spawn;

/* --scan WHEN */
enum scan_when {
	SCAN_NONE,
	SCAN_END,	/* the last report: at a command's exit, at Ctrl-C, at the -n-th */
	SCAN_EACH,	/* every report */
};

struct leak_scan {
	uint64_t *addr;		/* the blocks scanned, by address */
	uint64_t *size;
	uint8_t *cls;
	size_t nr, cap;
	struct reach_stats st;
	uint64_t max_pause_ns;	/* --scan-max-pause, 0: none */
	bool valid;		/* a scan was made: its classes apply */
	char failed[128];	/* why the last scan failed, "" */
};

/*
 * Scan the NR blocks RECS of process PID: through the holder of SP if
 * it is not NULL (memlens started the command and traces it), else
 * seized for the scan and let go after. ALL_SEEN: RECS are every block
 * of its heap (a command traced from its start, nothing dropped), and the
 * heap between them is no root. Errors are said; -errno.
 */
int leak_scan_run(struct leak_scan *ls, pid_t pid, struct spawn *sp, bool all_seen,
		  const struct alloc_rec *recs, size_t nr);
/* Each of RECS takes the class of the block scanned at its address (of its size), else none. */
void leak_scan_apply(const struct leak_scan *ls, struct alloc_rec *recs, size_t nr);
void leak_scan_free(struct leak_scan *ls);

#endif
