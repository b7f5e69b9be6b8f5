/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Recordings of a leaks session (`memlens record`), rendered offline by
 * `memlens report`. The format is documented in doc/recording.md: a
 * header, then checksummed records of symbolized stacks and of snapshots
 * that hold what was allocated and freed since the snapshot before.
 */
#ifndef MEMLENS_RECFILE_H
#define MEMLENS_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "allocs.h"
#include "alloc_rec.h"
#include "reachability.h"
#include "stack_report.h"

#define REC_MAGIC		"MLNSREC\n"
#define REC_MAGIC_LEN		8
#define REC_HEADER_LEN		16
#define REC_VERSION_MAJOR	1
#define REC_VERSION_MINOR	2	/* 1: STALLS records; 2: SCAN records, STALLS losses by name */
/* Bigger records or files are refused by the reader, whatever they claim. */
#define REC_MAX_RECORD		0xffffffffu
#define REC_MAX_FILE		(1ull << 32)
#define REC_MAX_STRING		65536

enum rec_type {
	REC_SESSION = 1,	/* once, first: what was traced, where, when */
	REC_STRINGS,		/* strings appended to the string table */
	REC_FRAMES,		/* symbolized frames appended to the frame table */
	REC_STACKS,		/* stacks (frame indices) appended to the stack table */
	REC_SNAPSHOT,		/* counters, blocks freed and allocated since the last one */
	REC_END,		/* last: the recording is complete */
	/* Types from here on are extensions: readers skip those they do not know. */
	REC_OPTIONAL = 0x100,
	REC_STALLS = REC_OPTIONAL,	/* record --stalls: stall stacks so far (1.1) */
	REC_SCAN,		/* record --scan: the classes of the next snapshot's blocks (1.2) */
};

/* All the recorded process's stalls, and those no stack entry holds. */
/* A loss counter of the reclaim tracer, by its name (pressure_lost_each()). */
struct rec_stall_loss {
	const char *name;
	uint64_t count;
};

#define REC_STALL_LOSSES	16	/* read; more in a file: added to "other" */

struct rec_stall_sum {
	uint64_t stalls;	/* by its per-process counters */
	uint64_t lost;		/* the by-stack map was full: in STALLS, in no entry */
	/* Every loss counter of the tracer (1.2; none in 1.1 files). */
	size_t nr_losses;
	struct rec_stall_loss losses[REC_STALL_LOSSES];
};

/* The recorded process's reclaim stalls of one kind at one pair of stacks. */
struct rec_stall {
	uint32_t kind;		/* enum stall_kind */
	uint64_t count, total_ns, max_ns;
	struct sym_stack user, kernel;	/* innermost first; nr 0: none */
};

/* What was traced; strings belong to whoever filled it in. */
struct rec_session {
	uint32_t pid;
	const char *comm;
	const char *command;	/* the command line memlens started, "" with -p */
	const char *hostname;
	const char *kernel;	/* uname -r */
	const char *version;	/* of the memlens that recorded */
	uint64_t start_wall_ns;	/* CLOCK_REALTIME */
	uint64_t interval_ns;
	uint64_t sample_bytes;	/* leaks --sample-bytes R; 0: every allocation */
};

struct rec_snapshot {
	uint64_t wall_ns;	/* CLOCK_REALTIME when taken */
	uint64_t mono_ns;	/* CLOCK_MONOTONIC, as the allocation times */
	bool exited;
	uint32_t exit_code;	/* wait status, if exited */
	const char *comm;	/* the process's name then (exec changes it) */
	uint64_t stats[STAT_NR];
	uint64_t threads_tracked;
};

struct rec_writer;

/*
 * A new recording for PATH (mode 0600, see create_file_beside), which takes
 * PATH's place at its first whole snapshot; nothing written yet.
 */
int rec_writer_open(const char *path, struct rec_writer **out);
/* The header and SESSION. */
int rec_writer_begin(struct rec_writer *w, const struct rec_session *sess);
/*
 * Append a snapshot of the NR outstanding blocks ALLOCS (sorted in place by
 * address), with the stacks they name that were not written before,
 * symbolized through STACK(CTX, id). Flushed to the file before returning.
 */
int rec_writer_snapshot(struct rec_writer *w, const struct rec_snapshot *snap,
			struct alloc_rec *allocs, size_t nr,
			const struct sym_stack *(*stack)(void *ctx, uint64_t id), void *ctx);
/*
 * Append the process's stalls by stack so far (a STALLS record, with the
 * frames it names): the last one a recording holds is what a report shows.
 * Written before the snapshot it goes with, so that a cut keeps both or neither.
 */
int rec_writer_stalls(struct rec_writer *w, const struct rec_stall *stalls, size_t nr,
		      const struct rec_stall_sum *sum);
/*
 * Append what a reachability scan found, ST, and the class it gave each of
 * the NR blocks ALLOCS (their reach field; REACH_NONE are not written): a
 * SCAN record, written just before the snapshot of the same blocks, which
 * it goes with. ALLOCS is not reordered.
 */
int rec_writer_scan(struct rec_writer *w, const struct reach_stats *st,
		    const struct alloc_rec *allocs, size_t nr);
/*
 * Write END and close. After a write error a file memlens made is first
 * cut back to its last complete snapshot, so that it stays readable (and
 * *CUT_BACK_WHOLE, if not NULL, says so); if there is none, it is dropped
 * (*BYTES_WRITTEN 0) and what was at the path stays. An output written in
 * place (a device, a FIFO, /dev/stdout) is never cut back: it ends where
 * the error left it. Returns the first error of the writer's life.
 */
int rec_writer_close(struct rec_writer *w, uint64_t *bytes_written, bool *cut_back_whole);
/*
 * Drop W and, with PATH, what it wrote: the file it made at PATH is
 * removed, a device or a FIFO written in place is kept.
 */
void rec_writer_abandon(struct rec_writer *w, const char *path);

struct recording;

/*
 * Read and check a whole recording: every record, every reference and the
 * replay of every snapshot. On error ERR says what and where in one line.
 * With PARTIAL, a file cut short (a killed memlens record) reads up to its
 * last whole snapshot, and recording_warning() says what was cut.
 */
int recording_load(const char *path, bool partial, struct recording **out, char *err,
		   size_t err_len);
int recording_parse(const void *data, size_t len, bool partial, struct recording **out,
		    char *err, size_t err_len);
void recording_free(struct recording *r);
const struct rec_session *recording_session(const struct recording *r);
size_t recording_nr_snapshots(const struct recording *r);
/* What a partial read left out, "" if nothing. */
const char *recording_warning(const struct recording *r);
/* The frames of a stack id, NULL if the recording has no such stack. */
const struct sym_stack *recording_stack(const struct recording *r, uint64_t stack_id);

/* The stalls of the recording's last STALLS record, and their sum; NULL (*NR 0) without one. */
const struct rec_stall *recording_stalls(struct recording *r, size_t *nr,
					 struct rec_stall_sum *sum);

/* One snapshot as replayed. */
struct rec_view {
	size_t index;		/* 0-based */
	const struct rec_snapshot *snap;
	/* Outstanding: blocks and bytes, estimates if sampled (rounded). */
	size_t nr_live;
	uint64_t live_bytes;
	size_t live_stacks;	/* stacks they were allocated from */
	/*
	 * The blocks themselves, in no order: only if asked for (WANT_BLOCKS).
	 * The callback may reorder them (group_by_stack() sorts in place).
	 */
	struct alloc_rec *allocs;
	size_t nr;
	/*
	 * A scan was recorded with the snapshot (record --scan): what it cost;
	 * the blocks' reach fields hold their classes. NULL: none.
	 */
	const struct reach_stats *scan;
};

/*
 * Call FN for each snapshot in order; stops at FN's first non-zero
 * return. A view has its blocks if WANT_BLOCKS(index, CTX) says so: the
 * totals cost nothing, the blocks all that is outstanding.
 */
int recording_replay(const struct recording *r, bool (*want_blocks)(size_t index, void *ctx),
		     int (*fn)(const struct rec_view *v, void *ctx), void *ctx);

#endif
