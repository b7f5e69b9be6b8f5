// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stopping every thread of a process for a scan (freeze.h). A seized
 * thread interrupted stops in PTRACE_EVENT_STOP; one that meets a signal
 * first stops for it (a signal-delivery-stop), and gets it back when let
 * go. Threads born meanwhile are found by reading the task list again
 * until it holds no new one.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "freeze.h"
#include "util.h"

/* How long the threads still to stop are waited for once the others are let go. */
#define RELEASE_WAIT_MS	1000

static bool known(const struct frozen *f, pid_t tid)
{
	for (size_t i = 0; i < f->nr; i++)
		if (f->t[i].tid == tid)
			return true;
	return false;
}

/*
 * Each array is grown in place and kept at once: a failure leaves them
 * valid for the NR threads seized, which freeze_release() lets go.
 */
static int add_thread(struct frozen *f, pid_t tid)
{
	if (f->nr == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct reach_thread *t;
		bool *interrupted;
		int *status;

		t = realloc(f->t, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		f->t = t;
		status = realloc(f->status, cap * sizeof(*status));
		if (!status)
			return -ENOMEM;
		f->status = status;
		interrupted = realloc(f->interrupted, cap * sizeof(*interrupted));
		if (!interrupted)
			return -ENOMEM;
		f->interrupted = interrupted;
		f->cap = cap;
	}
	f->t[f->nr] = (struct reach_thread){ .tid = tid };
	f->status[f->nr] = -1;
	f->interrupted[f->nr] = false;
	f->nr++;
	return 0;
}

static void read_regs(struct reach_thread *t)
{
	struct user_regs_struct regs;
	const uint64_t *w = (const uint64_t *)&regs;

	if (ptrace(PTRACE_GETREGS, t->tid, NULL, &regs))
		return;
	t->nr_regs = sizeof(regs) / sizeof(*w);
	if (t->nr_regs > sizeof(t->regs) / sizeof(*t->regs))
		t->nr_regs = sizeof(t->regs) / sizeof(*t->regs);
	memcpy(t->regs, w, t->nr_regs * sizeof(*w));
	t->sp = regs.rsp;
	t->fs_base = regs.fs_base;
	t->stopped = true;
}

/* Interrupt (seize first) the threads of PID not known yet: how many new. */
static int take_new_threads(struct frozen *f, const pid_t *already, size_t nr_already)
{
	char path[64];
	struct dirent *de;
	int added = 0, err = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", f->pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && !err) {
		pid_t tid = atoi(de->d_name);
		bool held = false;

		/*
		 * A leader that called pthread_exit() stays in the list, a
		 * zombie while the others run on, and would never stop.
		 */
		if (tid <= 0 || known(f, tid) || (tid == f->pid && thread_exited(f->pid, tid)))
			continue;
		err = add_thread(f, tid);
		if (err)
			break;
		added++;
		for (size_t i = 0; i < nr_already; i++)
			held |= already[i] == tid;
		if (held) {
			read_regs(&f->t[f->nr - 1]);
			continue;
		}
		/* No options: its clones are not ours, and nothing stays traced after. */
		if (f->seized && ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
			/* Gone, or exiting (EPERM); or traced already (gdb, strace), or Yama: said. */
			if (errno != ESRCH && !f->seize_err && !thread_exited(f->pid, tid))
				f->seize_err = errno;
			continue;
		}
		if (!ptrace(PTRACE_INTERRUPT, tid, NULL, NULL))
			f->interrupted[f->nr - 1] = true;
	}
	closedir(d);
	return err ? err : added;
}

/* Wait for the threads interrupted to stop, until DEADLINE. */
static void wait_stops(struct frozen *f, uint64_t deadline)
{
	for (;;) {
		bool waiting = false;

		for (size_t i = 0; i < f->nr; i++) {
			int status;
			pid_t r;

			if (!f->interrupted[i] || f->status[i] != -1)
				continue;
			r = waitpid(f->t[i].tid, &status, __WALL | WNOHANG);
			if (r == 0) {
				waiting = true;
				continue;
			}
			f->status[i] = r < 0 ? 0 : status;
			if (r > 0 && WIFSTOPPED(status))
				read_regs(&f->t[i]);
		}
		if (!waiting || monotonic_ns() >= deadline)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 200000 }, NULL);
	}
}

/*
 * Threads that exited instead of stopping hold no roots, and are no
 * thread left unseen. Marked, not dropped: their exit is still to be
 * waited for (freeze_release(), the holder).
 */
static void mark_exited(struct frozen *f)
{
	for (size_t i = 0; i < f->nr; i++)
		f->t[i].exited = !f->t[i].stopped && thread_exited(f->pid, f->t[i].tid);
}

int freeze_stop(struct frozen *f, pid_t pid, bool seize, const pid_t *already,
		size_t nr_already, int wait_ms)
{
	uint64_t deadline;
	int n;

	memset(f, 0, sizeof(*f));
	f->pid = pid;
	f->seized = seize;
	f->stopped_ns = monotonic_ns();
	deadline = f->stopped_ns + wait_ms * 1000000ULL;
	do {
		n = take_new_threads(f, already, nr_already);
		if (n < 0)
			return n;
		wait_stops(f, deadline);
	} while (n > 0 && monotonic_ns() < deadline);
	mark_exited(f);
	return f->nr ? 0 : -ESRCH;
}

/*
 * Seized with no options, a thread reports no syscall-stop and no exec
 * SIGTRAP: a stop with no event is always a signal-delivery-stop, SIGTRAP
 * too (int3, raise), and the signal is the program's. Event stops
 * (PTRACE_EVENT_STOP: our interrupt, or a group-stop the kernel keeps
 * after the detach) carry none.
 */
int freeze_stop_signal(int status)
{
	if (!WIFSTOPPED(status) || (status >> 16) != 0)
		return 0;
	return WSTOPSIG(status);
}

/* Let go of a stopped seized thread. */
static void detach_stopped(struct frozen *f, size_t i, int status)
{
	f->interrupted[i] = false;
	if (!WIFSTOPPED(status))
		return;		/* gone */
	ptrace(PTRACE_DETACH, f->t[i].tid, NULL, (void *)(intptr_t)freeze_stop_signal(status));
}

/*
 * The threads interrupted that had not stopped yet (a thread in D state,
 * in a frozen cgroup): detaching needs them stopped. Polled until
 * DEADLINE, never blocking: the stopped threads are all let go already.
 * Those that never stop stay seized: they stop when they wake up, and
 * the kernel lets them go when memlens exits. How many.
 */
static unsigned int detach_pending(struct frozen *f, uint64_t deadline)
{
	for (;;) {
		unsigned int pending = 0;

		for (size_t i = 0; i < f->nr; i++) {
			int status;
			pid_t r;

			if (!f->interrupted[i])
				continue;
			r = waitpid(f->t[i].tid, &status, __WALL | WNOHANG);
			if (r < 0 && errno == EINTR) {
				pending++;
				continue;
			}
			if (r == 0) {
				pending++;
				continue;
			}
			detach_stopped(f, i, r < 0 ? 0 : status);
		}
		if (!pending || monotonic_ns() >= deadline)
			return pending;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
}

uint64_t freeze_release(struct frozen *f)
{
	uint64_t pause;

	if (!f->seized)
		return monotonic_ns() - f->stopped_ns;
	/* Every stopped thread first: none waits for one that is slow to stop. */
	for (size_t i = 0; i < f->nr; i++)
		if (f->interrupted[i] && f->status[i] != -1)
			detach_stopped(f, i, f->status[i]);
	pause = monotonic_ns() - f->stopped_ns;
	f->left_seized = detach_pending(f, monotonic_ns() + RELEASE_WAIT_MS * 1000000ULL);
	return pause;
}

void freeze_free(struct frozen *f)
{
	free(f->t);
	free(f->status);
	free(f->interrupted);
	memset(f, 0, sizeof(*f));
}
