/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Every thread of a process stopped for a moment under ptrace, its
 * registers read, for a reachability scan: PTRACE_INTERRUPT on each (after
 * PTRACE_SEIZE when memlens is not its tracer yet), never SIGSTOP, so that
 * if memlens dies the kernel detaches and the process runs on. Every call
 * is made by the one thread that is (or becomes) the tracer.
 */
#ifndef MEMLENS_FREEZE_H
#define MEMLENS_FREEZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * One thread of a stopped process: its stack pointer, thread pointer and
 * registers (the roots a reachability scan takes from it).
 */
struct reach_thread {
	pid_t tid;
	bool stopped;		/* its registers were read */
	bool exited;		/* not stopped: it exited instead */
	uint64_t sp;
	uint64_t fs_base;
	uint64_t regs[32];
	size_t nr_regs;
};

struct frozen {
	pid_t pid;
	bool seized;		/* we seized them: detach when done */
	struct reach_thread *t;
	int *status;		/* the stop each thread reported (waitpid), -1 if none */
	bool *interrupted;	/* we sent it PTRACE_INTERRUPT */
	size_t nr, cap;
	uint64_t stopped_ns;	/* when the first thread was asked to stop */
	int seize_err;		/* a thread could not be seized (errno): it runs on */
	unsigned int left_seized;	/* freeze_release: interrupted, never stopped, still ours */
};

/*
 * Stop every thread of PID, seizing them if SEIZE (memlens was not their
 * tracer), and read their registers. ALREADY (NR_ALREADY tids) are
 * stopped for us already (held): not interrupted. A thread that does not
 * stop within WAIT_MS is left out (stopped false). 0 or -errno.
 */
int freeze_stop(struct frozen *f, pid_t pid, bool seize, const pid_t *already,
		size_t nr_already, int wait_ms);
/*
 * Seized: detach every stopped thread (a stop the thread reported for a
 * signal gets it back), then those still to stop as they do, for at most
 * a second without blocking; the rest are counted in F->left_seized.
 * Not seized: the caller resumes them (F->status says how each stopped).
 * The pause in ns from the first stop to the last stopped thread let go.
 */
uint64_t freeze_release(struct frozen *f);
void freeze_free(struct frozen *f);
/* The signal a seized thread's stop STATUS (waitpid) gets back when let go, 0 if none. */
int freeze_stop_signal(int status);

#endif
