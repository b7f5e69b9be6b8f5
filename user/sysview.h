/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The system-wide tracing session shared by memlens top and memlens hist:
 * filters, loading, attaching (allocator uprobes on every libc in use,
 * memory syscalls, page faults, rss), exits, and reading the per-process
 * maps.
 */
#ifndef MEMLENS_SYSVIEW_H
#define MEMLENS_SYSVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "allocs.h"
#include "cli.h"
#include "pressure.h"

/* One process as the maps describe it at one moment. */
struct proc_sample {
	uint32_t tgid;
	struct proc_stats st;		/* counters since tracing began */
	struct rss_info rss;
	bool has_rss;
	struct pressure_proc pr;	/* with --reclaim */
};

struct sysview;

/* A thread given to -p is replaced in O by its process. */
int sysview_open(struct view_opts *o, struct sysview **out);
void sysview_close(struct sysview *v);
/*
 * Wait up to TIMEOUT_MS for events (exits, new libcs) or for a key on
 * stdin when WATCH_STDIN; returns 1 if stdin is readable, 0 otherwise,
 * negative on error.
 */
int sysview_poll(struct sysview *v, int timeout_ms, bool watch_stdin);
/* Every traced process's counters, sorted by tgid. */
int sysview_sample(struct sysview *v, struct proc_sample **out, size_t *nr);
/* Has TGID exited since the last sysview_forget_exited()? */
bool sysview_exited(const struct sysview *v, uint32_t tgid);
/* The same, as proctable_build's callback: CTX is the sysview. */
void sysview_comm_of(void *ctx, uint32_t tgid, char comm[16]);
/*
 * With -p: has that process exited? Its last counters are in the maps: the
 * view shows them once more and ends.
 */
bool sysview_target_gone(struct sysview *v);
/*
 * The programs processes ran before an exec since the last
 * sysview_forget_exited(), in order: their final counters, st.comm their
 * name. Up to MAX into OUT; returns how many.
 */
size_t sysview_nr_execed(const struct sysview *v);
size_t sysview_execed(const struct sysview *v, struct proc_sample *out, size_t max);
/* Drop what the maps hold of exited processes: they were shown once. */
void sysview_forget_exited(struct sysview *v);
/* Failed syscalls of TGID as of the last sample: up to MAX, returns how many. */
size_t sysview_errors(struct sysview *v, uint32_t tgid, struct error_key *keys,
		      uint64_t *counts, size_t max);
/* Histogram KIND of TGID; false if it has none. */
bool sysview_hist(struct sysview *v, uint32_t tgid, enum hist_kind kind, struct hist *h);
/* memlens' own counters: events handled, losses; BPF run time in ns. */
void sysview_stats(struct sysview *v, uint64_t stats[STAT_NR], uint64_t *bpf_ns);
/* The reclaim tracer's totals; false without --reclaim. */
bool sysview_pressure_totals(struct sysview *v, struct pressure_totals *t);

#endif
