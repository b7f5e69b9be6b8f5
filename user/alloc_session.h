/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The tracing session of memlens leaks, record and allocs, around
 * bpf/allocs.bpf.c: load and hook (alloc_session.c), events from the ring
 * buffer, then every interval a report or a recorded snapshot of groups
 * by call stack, which a group source gives (group_source.c).
 */
#ifndef MEMLENS_ALLOC_SESSION_H
#define MEMLENS_ALLOC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "allocs.h"
#include "alloc_threads.h"
#include "leak_scan.h"
#include "stack_report.h"
#include "pressure.h"
#include "spawn.h"

struct group_source;
struct table_move;
struct suppressions;

/* What the command line asked of the session. */
struct session_opts {
	int pid;			/* -p PID, 0 with a command */
	char **cmd;			/* -- COMMAND ARGS..., NULL with -p */
	const struct group_source *source;	/* what is traced and grouped */
	double interval_s;
	unsigned long long count;	/* reports before exiting, 0 = no limit */
	const struct report_opts *show;	/* how reports are shown */
	const char *allocator;		/* --allocator: the one file to hook, not those found */
	const char *output;		/* memlens record: the recording; NULL: reports */
	unsigned long long max_allocs;	/* map sizes, 0 = the object's */
	unsigned long long max_stacks;
	bool unwind_fp;			/* --unwind fp: frame pointers only */
	unsigned long long unwind_rows;
	unsigned long long sample_bytes;	/* --sample-bytes R, 0 = every allocation */
	int scan;			/* --scan: enum scan_when */
	uint64_t scan_max_pause_ns;	/* --scan-max-pause, 0: none */
	const struct suppressions *supp;	/* lost blocks counted as suppressed */
	bool stalls;			/* record --stalls: reclaim stalls by stack too */
};

/*
 * One read of the allocs map and its table of recent blocks: their raw
 * entries (the table's keyed with pad ALLOC_KEY_IN_TABLE), then from them
 * the target's blocks, keys[i] and recs[i] the same block.
 */
struct alloc_snapshot {
	struct alloc_key *keys;
	struct alloc_info *vals;
	struct alloc_rec *recs;
	size_t cap;
	size_t nr;
	/* The table of recent blocks in front of the map, mapped; 0 buckets: none. */
	struct alloc_bucket *table;
	uint32_t buckets;
	/* Moving old blocks to the map (group_source.c, table_evict()). */
	bool can_evict;
	bool wait_failed;	/* said once */
	int grace_fd;		/* an inner map to wait for running programs with, with table */
	struct table_move *moves;	/* those under way, waiting for the programs */
	size_t nr_moves;
	uint64_t evicted;	/* blocks moved from the table to the map */
};

/* Everything one tracing session holds. */
struct alloc_session {
	struct session_opts *opts;
	const struct group_source *source;
	struct allocs_bpf *skel;
	struct alloc_probes *probes;	/* --allocator PATH */
	struct alloc_hooks *hooks;	/* the allocators found in the process's maps */
	struct go_probes *go_probes;	/* memlens allocs */
	struct sym_stack go_view;	/* a stack without its runtime frames */
	struct ring_buffer *rb;
	struct symbolizer *sym;
	struct stack_cache *stacks;
	struct unwinder *unwinder;	/* NULL with --unwind fp */
	uint32_t thread_slots;		/* MEMLENS_THREAD_SLOTS, or the default */
	struct alloc_snapshot snap;
	struct rec_writer *rec;	/* memlens record */
	/* record --stalls: the reclaim tracer of the process, with stacks. */
	struct pressure *pressure;
	struct pressure_opts pressure_opts;
	struct stall_stacks *stall_stacks;
	struct spawn child;	/* the command we started; pid 0 with -p */
	char comm[64];
	/* The allocator hooked, as the start message names it; "" for those found. */
	char allocator[4096 + 96];
	/* memlens allocs: the Go executable, as opened and as named */
	char program[4096 + 64];
	char program_name[4096 + 64];
	bool maps_dirty;	/* new executable mappings since the last read */
	uint64_t exec_ts;	/* the process exec'd at this time: drop older blocks */
	bool exited;
	bool go_program;	/* leaks of a Go program: its mmaps are its heap */
	/* Events of this batch, answered by answer_events(). */
	bool new_code;		/* exec or new executable mappings */
	bool thread_execed;	/* an exec by another thread than the leader: rehook */
	bool exiting;		/* our command held at _exit */
	pid_t *held;		/* threads of our command held until answered */
	size_t nr_held, held_cap;
	int exit_code;
	int no_allocator;	/* -errno: no allocator could be hooked, the run ends */
	bool rec_begun;		/* the recording has its header: keep what it has */
	struct leak_scan scan;	/* the last reachability scan */
	struct alloc_threads said_threads;	/* as -v last said them */
};

/*
 * Where a session's groups come from, chosen once: everything the
 * session does differently for outstanding blocks (leaks, record) and
 * for a Go program's allocation profile (allocs). check_target,
 * configure, hook, rehook, group and forget are required; the others may be
 * NULL: nothing to do.
 */
struct group_source {
	enum report_kind kind;
	bool unwind_tables;	/* DWARF stacks unless --unwind fp (Go keeps frame pointers) */
	/* Before any command starts: is the target what this source traces? */
	int (*check_target)(struct alloc_session *s);
	/* The BPF object, opened and not loaded yet: its switches and map sizes. */
	void (*configure)(struct alloc_session *s);
	/* Hook the allocator of process TARGET. Errors are reported. */
	int (*hook)(struct alloc_session *s, int target);
	/*
	 * An exec from a thread other than the leader: the hooks, tied to the
	 * old leader's task, are closed and made anew, before new_code().
	 * Errors are reported.
	 */
	int (*rehook)(struct alloc_session *s);
	/* New code in the process (exec, an executable mapping): hook what it brings. */
	void (*new_code)(struct alloc_session *s);
	/* The run is over: -errno if nothing was hooked that a report would show. */
	int (*check_hooked)(struct alloc_session *s);
	/* What a report groups, read before its counters. */
	int (*read)(struct alloc_session *s);
	/* R's groups, sorted by bytes; R->groups is the caller's to free. */
	int (*group)(struct alloc_session *s, struct stack_report *r);
	/* The process exec'd at S->exec_ts: what the old image allocated went with it. */
	int (*drop_old_image)(struct alloc_session *s);
	/* The process is gone: its entries leave the maps. */
	void (*forget)(struct alloc_session *s);
	/* The frames a report shows of stack ST (a view of it may be in S). */
	const struct sym_stack *(*view)(struct alloc_session *s, const struct sym_stack *st);
};

/* memlens leaks and record: outstanding blocks, snapshots of the allocs map. */
extern const struct group_source outstanding_blocks;
/* memlens allocs: a Go program's allocations by stack (goheap.c). */
extern const struct group_source go_alloc_profile;
/* memlens allocs: a program's malloc-family allocations by stack, entry probes only. */
extern const struct group_source alloc_profile;

/* Trace, report or record until the process exits, Ctrl-C or -n: the exit code. */
int alloc_session_run(struct session_opts *opts);
/* R's groups from S's source, with R's totals over all of them. */
int alloc_session_group(struct alloc_session *s, struct stack_report *r);

/*
 * Snapshots of the allocs map (group_source.c), exported for the unit
 * tests of their filtering and cuts.
 *
 * Room for CAP entries; -ENOMEM leaves what was there.
 */
int snapshot_resize(struct alloc_snapshot *snap, size_t cap);
void snapshot_free(struct alloc_snapshot *snap);
/*
 * Of the TOTAL raw entries read into SNAP, keep process TGID's blocks as
 * records; blocks sampled every SAMPLE_BYTES are weighed, mappings and
 * blocks taken unsampled are exact.
 */
void snapshot_keep(struct alloc_snapshot *snap, size_t total, uint32_t tgid,
		   uint64_t sample_bytes);
/* Keep in SNAP (keys and recs alike) only the blocks allocated before EXEC_TS: how many. */
uint32_t snapshot_old_image(struct alloc_snapshot *snap, uint64_t exec_ts);
/*
 * Append the blocks of SNAP's table to its raw entries from TOTAL on, as
 * process TGID's, keyed with pad ALLOC_KEY_IN_TABLE: the new total.
 * Ways being written (ALLOC_WAY_BUSY) are passed by.
 */
size_t table_read(struct alloc_snapshot *snap, size_t total, uint32_t tgid);
/* Empty the way of SNAP's table that holds ADDR, allocated at TS_NS; else nothing. */
void table_drop(struct alloc_snapshot *snap, uint64_t addr, uint64_t ts_ns);

#endif
