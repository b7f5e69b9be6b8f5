/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The threads allocs.bpf.c keeps state for, in a thread slot or in a map,
 * read by every loader of it: leaks, record and allocs count them in a
 * report; all, top and hist included, say them with -v.
 */
#ifndef MEMLENS_ALLOC_THREADS_H
#define MEMLENS_ALLOC_THREADS_H

#include <stdint.h>

struct allocs_bpf;

struct alloc_threads {
	uint64_t in_slots;	/* holding a thread slot */
	uint64_t in_map;	/* in the threads or profile_threads map */
};

/*
 * The threads of SKEL with state into *T; and into STATS (enum
 * alloc_stat), if not NULL, the calls their samplers let pass that the
 * stats do not have yet. A thread that goes meanwhile is missed, not
 * counted twice, if the stats were read first.
 */
void alloc_threads_read(struct allocs_bpf *skel, uint64_t *stats, struct alloc_threads *t);
/* With -v, "threads: ..." if *NOW is not what *SAID holds, which then does. */
void alloc_threads_say(const struct alloc_threads *now, struct alloc_threads *said);

#endif
