/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_UTIL_H
#define MEMLENS_UTIL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef MEMLENS_VERSION
#define MEMLENS_VERSION "0.1"
#endif

/* Exit codes: 1 for errors at run time, 2 for bad usage. */
#define EXIT_USAGE	2

extern bool verbose;

/* One-line diagnostics on stderr, prefixed with "memlens: ". */
void error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* error_msg() lines so far: a run that fails having said none says why. */
unsigned int errors_said(void);
void info_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * info_msg(), unless the very same message was said before: what hooking
 * a file found, said once though the file is hooked again (an exec).
 */
void info_once(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t monotonic_ns(void);
uint64_t realtime_ns(void);
int check_privileges(void);
int check_btf(void);
/* memlens in the host's PID namespace, whose pids its BPF programs see: else said, -EPERM. */
int check_host_pids(void);
int ensure_tracefs(void);
int check_pid(int pid);
/* -p PID: it exists; a thread's id becomes its process's, said in one line. */
int check_target_pid(int *pid);
int pid_tgid(int pid);
/*
 * -p PID for uprobes: not a kernel thread, nor a process whose leader
 * exited (said in one line with HINT).
 */
int check_user_memory(int pid, const char *hint);
void sanitize_name(char *s);
int read_comm(int pid, char *buf, int len);
int parse_uint(const char *s, const char *what, unsigned long long max, unsigned long long *out);
int parse_interval(const char *s, double *out);
int parse_seconds(const char *s, const char *what, double *out);
void setup_libbpf_logging(void);
/* The program libbpf last said it could not load ("" if none), by name. */
const char *libbpf_failed_prog(void);
/* A load begins: forget the last failed program, and that libbpf came to the maps. */
void libbpf_load_begins(void);
/* How many messages libbpf has printed or tried to; any thread may ask. */
unsigned int libbpf_message_count(void);
/* Has libbpf spoken of a map since libbpf_load_begins()? */
bool libbpf_reached_maps(void);
void bad_option(const char *cmd, int opt, const char *arg);
/*
 * PATH read-only if it is a regular file, never waiting on a FIFO or a
 * device, and given up (-ETIMEDOUT, said, counted) when the open takes
 * OPEN_DEADLINE_MS (a hung NFS or FUSE mount), or soon after a stop
 * signal: fd or negative errno.
 */
#define OPEN_DEADLINE_MS 5000
int open_regular(const char *path);
/* OPEN_FN(PATH) by a thread of its own, given up as open_regular() says. */
int open_bounded(int (*open_fn)(const char *path), const char *path, int deadline_ms);
/* Files given up so far. */
unsigned int open_given_up(void);
/* Make room in *ARR (of *CAP elements of SIZE) for element NR: 0 or -ENOMEM. */
int array_grow(void **arr, size_t nr, size_t *cap, size_t size);
/* Sort ARR (NR elements of SIZE) by CMP and keep one of equal ones: how many are left. */
size_t sort_dedupe(void *arr, size_t nr, size_t size, int (*cmp)(const void *, const void *));
/*
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT ask the session to stop cleanly (but
 * a SIGHUP ignored when memlens started: nohup); a second one ends it at once.
 */
void catch_stop_signals(void);
struct termios;
/* The terminal settings an ending at once puts back (top's live table). */
void stop_restores_tty(const struct termios *t);
/* A file made beside its output, that an ending at once removes (NULL: none now). */
enum stop_temp { STOP_TEMP_OUTPUT, STOP_TEMP_RECORDING, STOP_TEMP_NR };
void stop_removes_temp(enum stop_temp which, const char *path);
void ignore_sigpipe(void);
void reset_signals_for_exec(void);
/* At start: closed descriptors 0-2 on /dev/null, the soft descriptor limit raised to the hard. */
void process_setup(void);
/* In a child before exec: both as memlens found them. */
void restore_process_for_exec(void);
/* Was standard descriptor FD closed when memlens started (now /dev/null)? */
bool std_fd_was_closed(int fd);
bool stop_requested(void);
/* Has process PID exited and been reaped? */
bool pid_gone(pid_t pid);
/* Has thread TID of process PID exited (a zombie, or gone)? */
bool thread_exited(pid_t pid, pid_t tid);
/*
 * The pid under /proc whose entries show process PID's memory: PID, or,
 * once its leader has called pthread_exit() (a zombie without memory
 * while the other threads run on), one of those.
 */
pid_t proc_mm_pid(pid_t pid);
/* Has every thread of PID exited: gone, or a zombie not reaped yet? */
bool process_exited(pid_t pid);
/*
 * -p's process, whose exit ends kmem and reclaim as it ends top: a pidfd
 * that polls readable at its exit (a zombie too, and never another
 * process of the same pid), or -errno (before 5.3).
 */
int pid_watch(pid_t pid);
/* Has the process FD watches exited; without FD, has PID gone? */
bool pid_exited(int fd, pid_t pid);

#endif
