// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The reachability scan of a leaks session (leak_scan.h). The process is
 * stopped only while it is read: a command memlens started is already
 * traced by the holder thread, which stops its threads and runs the scan
 * (ptrace ties tracees to one thread); a process given by -p is seized by
 * this thread, interrupted, scanned and detached. If memlens dies
 * meanwhile, the kernel detaches and the process runs on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "freeze.h"
#include "hold.h"
#include "leak_scan.h"
#include "spawn.h"
#include "util.h"

/* Threads that take longer than this (or --scan-max-pause) to stop are left out: partial. */
#define STOP_WAIT_MS 1000

struct scan_job {
	struct leak_scan *ls;
	pid_t pid;
	bool unknown_heap;
};

/*
 * The thread whose /proc entry shows the process's memory: its first one
 * stopped. A leader that called pthread_exit() has none (no mm), and its
 * process's other threads run on.
 */
static pid_t stopped_thread(const struct frozen *f, pid_t pid)
{
	for (size_t i = 0; i < f->nr; i++)
		if (f->t[i].stopped)
			return f->t[i].tid;
	return pid;
}

static int scan_frozen(void *arg, const struct frozen *f)
{
	struct scan_job *job = arg;
	struct leak_scan *ls = job->ls;

	/* --scan-max-pause counts from the first thread stopped: the waits and roots too. */
	uint64_t deadline = ls->max_pause_ns ? f->stopped_ns + ls->max_pause_ns : 0;

	ls->st.seize_err = f->seize_err;
	return reach_scan_process(stopped_thread(f, job->pid), f->t, f->nr, ls->addr, ls->size,
				  ls->nr, job->unknown_heap, deadline, ls->cls, &ls->st);
}

static const struct alloc_rec *sort_recs;

static int cmp_rec_addr(const void *a, const void *b)
{
	uint64_t x = sort_recs[*(const size_t *)a].addr, y = sort_recs[*(const size_t *)b].addr;

	return x < y ? -1 : x > y;
}

/* The blocks to scan, by address. */
static int take_blocks(struct leak_scan *ls, const struct alloc_rec *recs, size_t nr)
{
	size_t *order = malloc((nr + 1) * sizeof(*order));

	if (!order)
		return -ENOMEM;
	if (nr + 1 > ls->cap) {
		free(ls->addr);
		free(ls->size);
		free(ls->cls);
		ls->addr = malloc((nr + 1) * sizeof(*ls->addr));
		ls->size = malloc((nr + 1) * sizeof(*ls->size));
		ls->cls = malloc(nr + 1);
		ls->cap = nr + 1;
		if (!ls->addr || !ls->size || !ls->cls) {
			ls->cap = 0;
			free(order);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < nr; i++)
		order[i] = i;
	sort_recs = recs;
	qsort(order, nr, sizeof(*order), cmp_rec_addr);
	for (size_t i = 0; i < nr; i++) {
		ls->addr[i] = recs[order[i]].addr;
		ls->size[i] = recs[order[i]].size;
	}
	ls->nr = nr;
	free(order);
	return 0;
}

/* -p: seized, interrupted, scanned, detached, all by this thread. */
static int scan_attached(struct scan_job *job)
{
	int wait_ms = STOP_WAIT_MS;
	struct frozen f;
	int err;

	/* No longer than --scan-max-pause for the stops (a thread left out: partial). */
	if (job->ls->max_pause_ns && job->ls->max_pause_ns < wait_ms * 1000000ULL)
		wait_ms = job->ls->max_pause_ns / 1000000 ?: 1;
	err = freeze_stop(&f, job->pid, true, NULL, 0, wait_ms);
	if (!err)
		err = scan_frozen(job, &f);
	job->ls->st.pause_ns = freeze_release(&f);
	if (f.left_seized)
		error_msg("reachability scan: %u threads of pid %d had still not stopped a second "
			  "after the others went on: they stop when they wake, until memlens exits",
			  f.left_seized, job->pid);
	freeze_free(&f);
	return err;
}

int leak_scan_run(struct leak_scan *ls, pid_t pid, struct spawn *sp, bool all_seen,
		  const struct alloc_rec *recs, size_t nr)
{
	struct scan_job job = { .ls = ls, .pid = pid, .unknown_heap = !all_seen };
	int err;

	ls->valid = false;
	ls->failed[0] = 0;
	memset(&ls->st, 0, sizeof(ls->st));
	err = take_blocks(ls, recs, nr);
	if (!err && sp && sp->holder)
		err = holder_frozen(sp->holder, scan_frozen, &job, &ls->st.pause_ns);
	else if (!err)
		err = scan_attached(&job);
	if (err) {
		error_msg("reachability scan of pid %d failed: %s", pid, strerror(-err));
		snprintf(ls->failed, sizeof(ls->failed), "the scan failed: %s", strerror(-err));
		return err;
	}
	ls->valid = true;
	return 0;
}

void leak_scan_apply(const struct leak_scan *ls, struct alloc_rec *recs, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		size_t lo = 0, hi = ls->nr;

		recs[i].reach = REACH_NONE;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (ls->addr[mid] < recs[i].addr)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < ls->nr && ls->addr[lo] == recs[i].addr && ls->size[lo] == recs[i].size)
			recs[i].reach = ls->cls[lo];
	}
}

void leak_scan_free(struct leak_scan *ls)
{
	free(ls->addr);
	free(ls->size);
	free(ls->cls);
	memset(ls, 0, sizeof(*ls));
}
