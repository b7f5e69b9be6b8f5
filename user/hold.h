/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The holder: a thread of memlens that forks the command it starts, is
 * its ptrace tracer (and its threads'), and holds one thread at a time
 * where the BPF side asks (exec, new code, _exit) without the program
 * seeing a signal. It forwards every signal the program is sent, and
 * reaps it. Should memlens die, the kernel detaches: nothing stays stopped.
 */
#ifndef MEMLENS_HOLD_H
#define MEMLENS_HOLD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct holder;

/*
 * Start the holder, which runs FORK_CHILD(ARG) (a fork: the child's pid
 * in the parent, or -errno) and traces the child: its pid, or -errno.
 * SIGCHLD is left blocked in the calling thread (the holder reads it).
 */
pid_t holder_start(struct holder **out, pid_t (*fork_child)(void *arg), void *arg);
/* 0 if the child is traced, and can be held; else -errno, why not. */
int holder_traced(const struct holder *h);
/* The BPF map of threads sent the holding signal (bpf/allocs.bpf.c "held"). */
void holder_set_map(struct holder *h, int map_fd);
/* Let thread TID go on, once it is held (now, or if not yet, when it is). */
void holder_release(struct holder *h, pid_t tid);
/* The child's wait status, once it has exited and been reaped. */
int holder_wait_exit(struct holder *h);
struct frozen;
/*
 * Run FN(ARG, F) in the holder with every thread of the command stopped
 * (F: their registers), then let each go on as it was: FN's return, or
 * -errno if they could not be stopped. *PAUSE_NS: how long they were.
 */
int holder_frozen(struct holder *h, int (*fn)(void *arg, const struct frozen *f), void *arg,
		  uint64_t *pause_ns);
/* Resume the threads held, stop tracing them and end the holder. */
void holder_stop(struct holder *h);

#endif
