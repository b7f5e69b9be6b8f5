// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Diagnostics, environment checks and option parsing shared by subcommands. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "util.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
/* Where libbpf looks for tracepoint ids: debugfs's first, if it is there. */
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"
#define TRACEFS "/sys/kernel/tracing"

bool verbose;

static void vmsg(const char *fmt, va_list ap)
{
	fputs("memlens: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static atomic_uint errors_said_nr;	/* the open threads say theirs too */

void error_msg(const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&errors_said_nr, 1);
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

unsigned int errors_said(void)
{
	return atomic_load(&errors_said_nr);
}

void info_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

/* Hashes of the messages info_once() said. */
static struct {
	pthread_mutex_t lock;
	uint64_t *hashes;
	size_t nr, cap;
} said_once = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool say_first_time(const char *msg)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	bool first = true;

	for (const char *c = msg; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
	pthread_mutex_lock(&said_once.lock);
	for (size_t i = 0; i < said_once.nr && first; i++)
		first = said_once.hashes[i] != h;
	if (first && !array_grow((void **)&said_once.hashes, said_once.nr, &said_once.cap,
				 sizeof(*said_once.hashes)))
		said_once.hashes[said_once.nr++] = h;
	pthread_mutex_unlock(&said_once.lock);
	return first;
}

void info_once(const char *fmt, ...)
{
	char msg[4096 + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (say_first_time(msg))
		info_msg("%s", msg);
}

void debug_msg(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1U << (cap % 32));
}

/* Loading tracing programs and reading other processes' maps needs these. */
int check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	if (has_cap(data, CAP_BPF) && has_cap(data, CAP_PERFMON) &&
	    has_cap(data, CAP_SYS_ADMIN))
		return 0;
	error_msg("needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run it as root");
	return -EPERM;
}

/* The initial PID namespace's inode number: fixed (PROC_PID_INIT_INO, include/linux/proc_ns.h). */
#define PID_NS_INIT_INO	0xEFFFFFFCU

int check_host_pids(void)
{
	struct stat st;

	/* No such file (a kernel without namespaces): only the host's pids. */
	if (stat("/proc/self/ns/pid", &st) || st.st_ino == PID_NS_INIT_INO)
		return 0;
	error_msg("runs in a PID namespace of its own (a container?): its programs see the "
		  "host's pids, it sees others; run it in the host's (docker --pid=host, hostPID)");
	return -EPERM;
}

int check_btf(void)
{
	if (access(BTF_PATH, R_OK) == 0)
		return 0;
	error_msg("kernel BTF not found at %s: this kernel needs CONFIG_DEBUG_INFO_BTF=y", BTF_PATH);
	return -ENOENT;
}

/*
 * The syscall tracepoints are attached through tracefs, which a fresh
 * machine may not have mounted: mount it where libbpf looks for it.
 */
int ensure_tracefs(void)
{
	static const char *const event = "events/syscalls/sys_enter_mmap";
	char path[128];
	int err;

	snprintf(path, sizeof(path), "%s/%s", DEBUGFS_TRACING, event);
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", TRACEFS, event);
	if (access(path, F_OK) == 0)
		return 0;
	if (access(TRACEFS "/events", F_OK) == 0) {
		error_msg("no syscall tracepoints in %s/events: this kernel needs CONFIG_FTRACE_SYSCALLS=y",
			  TRACEFS);
		return -ENOENT;
	}
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL)) {
		err = -errno;
		error_msg("tracefs is not mounted and mounting it at %s failed: %s", TRACEFS,
			  strerror(-err));
		return err;
	}
	debug_msg("mounted tracefs at %s", TRACEFS);
	if (access(path, F_OK) == 0)
		return 0;
	error_msg("no syscall tracepoints in %s/events: this kernel needs CONFIG_FTRACE_SYSCALLS=y",
		  TRACEFS);
	return -ENOENT;
}

int check_pid(int pid)
{
	char path[64];

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH)) {
		error_msg("pid %d does not exist", pid);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (access(path, R_OK)) {
		error_msg("cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * -p PID of a view command: a process that exists, and a thread's id
 * (as top -H or a log shows it) taken for its process, said in one line.
 */
int check_target_pid(int *pid)
{
	int err = check_pid(*pid), tgid;

	if (err)
		return err;
	tgid = pid_tgid(*pid);
	if (tgid > 0 && tgid != *pid) {
		info_msg("%d is a thread of process %d: tracing the process", *pid, tgid);
		*pid = tgid;
	}
	return 0;
}

#define PF_KTHREAD	0x00200000	/* include/linux/sched.h */

/* State and flags of /proc/PID/task/TID/stat (TID 0: /proc/PID/stat); 0 if unreadable. */
static char task_stat(pid_t pid, pid_t tid, unsigned int *flags)
{
	char path[64], buf[512], *p;
	char state = 0;
	FILE *f;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	/* ") state ppid pgrp session tty_nr tpgid flags" */
	if (!p || sscanf(p, ") %c %*d %*d %*d %*d %*d %u", &state, flags) != 2)
		return 0;
	return state;
}

bool thread_exited(pid_t pid, pid_t tid)
{
	unsigned int flags;
	char state;

	errno = 0;
	state = task_stat(pid, tid, &flags);
	if (!state)
		return errno == ENOENT || errno == ESRCH;
	return state == 'Z' || state == 'X';
}

/* A thread of PID that has not exited, 0 if none. */
static pid_t live_thread_of(pid_t pid)
{
	char path[64];
	struct dirent *de;
	pid_t tid = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return 0;
	while (!tid && (de = readdir(d))) {
		pid_t t = atoi(de->d_name);

		if (t > 0 && !thread_exited(pid, t))
			tid = t;
	}
	closedir(d);
	return tid;
}

pid_t proc_mm_pid(pid_t pid)
{
	unsigned int flags;
	pid_t tid;

	if (task_stat(pid, 0, &flags) != 'Z')
		return pid;
	tid = live_thread_of(pid);
	return tid ? tid : pid;
}

bool process_exited(pid_t pid)
{
	unsigned int flags;

	if (pid_gone(pid))
		return true;
	return task_stat(pid, 0, &flags) == 'Z' && !live_thread_of(pid);
}

/*
 * Has PID user memory to hook allocators in? Not a kernel thread; nor a
 * process whose leader called pthread_exit() and runs on in its other
 * threads, the leader a zombie without memory: /proc/PID/maps is empty,
 * and so are the files memlens opens to hook the allocators. Said in one
 * line, with what to do instead (HINT), not as "maps no allocator".
 */
int check_user_memory(int pid, const char *hint)
{
	unsigned int flags = 0;
	char state = task_stat(pid, 0, &flags);

	if (!state)
		return 0;	/* gone: said by who looks next */
	if (flags & PF_KTHREAD) {
		error_msg("pid %d is a kernel thread: it has no user memory (memlens kmem -p %d "
			  "shows its kernel allocations)", pid, pid);
		return -EINVAL;
	}
	if (state != 'Z')
		return 0;
	if (!live_thread_of(pid)) {
		error_msg("pid %d has exited (a zombie its parent has not reaped)", pid);
		return -ESRCH;
	}
	error_msg("pid %d's main thread has exited (pthread_exit) and its other threads run on: "
		  "/proc/%d shows none of its memory, and its allocators cannot be found; %s",
		  pid, pid, hint);
	return -ESRCH;
}

/* The process (thread group) that thread PID belongs to. */
int pid_tgid(int pid)
{
	char path[64], line[256];
	int tgid = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

int read_comm(int pid, char *buf, int len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, len, f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	sanitize_name(buf);
	return 0;
}

/* Any user can name a process: no control bytes to a root terminal. */
void sanitize_name(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int parse_uint(const char *s, const char *what, unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out > max) {
		error_msg("invalid %s '%s': expected a whole number up to %llu", what, s, max);
		return -EINVAL;
	}
	return 0;
}

int parse_seconds(const char *s, const char *what, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(*out) || *out < 0 || *out > 1e6) {
		error_msg("invalid %s '%s': expected seconds, for example 5 or 0.5", what, s);
		return -EINVAL;
	}
	return 0;
}

/* getopt's '?' (unknown) or ':' (value missing, with a leading ':'). */
void bad_option(const char *cmd, int opt, const char *arg)
{
	if (opt == ':')
		error_msg("%s: option '%s' needs a value (see memlens %s --help)", cmd, arg, cmd);
	else
		error_msg("%s: unknown option '%s' (see memlens %s --help)", cmd, arg, cmd);
}

/* -i: seconds, and not so few that memlens would spin. */
int parse_interval(const char *s, double *out)
{
	if (parse_seconds(s, "interval", out))
		return -EINVAL;
	if (*out < 0.01) {
		error_msg("interval must be at least 0.01 seconds");
		return -EINVAL;
	}
	return 0;
}

static char failed_prog[64];
static atomic_uint libbpf_messages;
static atomic_bool libbpf_maps_seen;

/*
 * What libbpf says while it loads: the program it could not load
 * ("prog 'NAME': failed to load: -22"), whether it has come to the maps
 * (it loads the programs right after), and how much it has said.
 */
static void note_libbpf(const char *fmt, va_list ap)
{
	char msg[256], name[64];
	const char *p;
	va_list cp;

	atomic_fetch_add(&libbpf_messages, 1);
	va_copy(cp, ap);
	vsnprintf(msg, sizeof(msg), fmt, cp);
	va_end(cp);
	if (strstr(msg, "map '"))
		atomic_store(&libbpf_maps_seen, true);
	p = strstr(msg, "prog '");
	if (p && strstr(msg, "': failed to load") && sscanf(p, "prog '%63[^']'", name) == 1)
		snprintf(failed_prog, sizeof(failed_prog), "%s", name);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	note_libbpf(fmt, ap);
	if (level == LIBBPF_DEBUG || !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

unsigned int libbpf_message_count(void)
{
	return atomic_load(&libbpf_messages);
}

bool libbpf_reached_maps(void)
{
	return atomic_load(&libbpf_maps_seen);
}

const char *libbpf_failed_prog(void)
{
	return failed_prog;
}

void libbpf_load_begins(void)
{
	failed_prog[0] = 0;
	atomic_store(&libbpf_maps_seen, false);
}

void setup_libbpf_logging(void)
{
	libbpf_set_print(libbpf_print);
}

static volatile sig_atomic_t stop_signalled;
static const struct termios *volatile tty_at_stop;
/* Files being made beside their path, that an ending at once would leave. */
static const char *volatile temp_at_stop[STOP_TEMP_NR];

/*
 * The first stop signal asks for a clean stop: a last report, hooks
 * removed. A second one is an impatient user (a last report of thousands
 * of stacks symbolizes for seconds): memlens ends at once. The kernel
 * removes its programs and probes with its descriptors and detaches the
 * command it traces, which runs on. A second one within a second of the
 * first is the same stop, passed on by a wrapper that got it too.
 */
static void on_stop_signal(int sig)
{
	static const char msg[] = "memlens: a second stop signal: ended at once, no last report\n";
	static struct timespec first;
	struct timespec now;
	ssize_t n;

	(void)sig;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* One within a second is the same stop, passed on (timeout(1), an init, sudo). */
	if (stop_signalled && now.tv_sec - first.tv_sec + (now.tv_nsec - first.tv_nsec) / 1e9 < 1)
		return;
	if (stop_signalled) {
		if (tty_at_stop)
			tcsetattr(STDIN_FILENO, TCSANOW, tty_at_stop);
		for (int i = 0; i < STOP_TEMP_NR; i++)
			if (temp_at_stop[i] && temp_at_stop[i][0])
				unlink(temp_at_stop[i]);
		n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)n;	/* nowhere else to say it */
		_exit(1);
	}
	first = now;
	stop_signalled = 1;
}

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
#define NR_STOP_SIGNALS (sizeof(stop_signals) / sizeof(stop_signals[0]))

static uint64_t inherited_ignored;	/* bit SIG - 1: SIG_IGN at startup */

/*
 * A SIGHUP ignored when memlens started stays ignored: nohup's intent. Not
 * SIGINT and SIGQUIT: a shell ignores them in every background job it
 * starts, and kill -INT is how a script stops a tracer (perf, bpftrace).
 */
void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	for (size_t i = 0; i < NR_STOP_SIGNALS; i++)
		if (stop_signals[i] != SIGHUP || !(inherited_ignored & (1ULL << (SIGHUP - 1))))
			sigaction(stop_signals[i], &sa, NULL);
}

void stop_restores_tty(const struct termios *t)
{
	tty_at_stop = t;
}

void stop_removes_temp(enum stop_temp which, const char *path)
{
	temp_at_stop[which] = path;
}

/* A closed pipe (| head), a client gone: errors to handle, not deaths. */
void ignore_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	sigaction(SIGPIPE, &sa, NULL);
}

bool stop_requested(void)
{
	return stop_signalled;
}

bool pid_gone(pid_t pid)
{
	return kill(pid, 0) && errno == ESRCH;
}

int pid_watch(pid_t pid)
{
	int fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

bool pid_exited(int fd, pid_t pid)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (fd < 0)
		return pid_gone(pid);
	return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/*
 * Files memlens reads to symbolize and unwind (binaries, debug files) are
 * named by the traced process or by a debug link, not by the user: a FIFO
 * or a device there would block the session in open() or read(), out of
 * reach of Ctrl-C, and opening a device runs its driver (a watchdog armed,
 * a tape rewound). Looked at first through an O_PATH descriptor, which
 * opens nothing, then opened for reading through that same descriptor:
 * only if it is a regular file, and with no race against a rename.
 */
static int open_regular_now(const char *path)
{
	char proc[64];
	struct stat st;
	int pfd = open(path, O_PATH | O_CLOEXEC), fd, err;

	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st)) {
		err = -errno;
		close(pfd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		close(pfd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	err = fd < 0 ? -errno : fd;
	close(pfd);
	return err;
}

/*
 * An open() on a hung NFS or FUSE mount sleeps in the kernel, where no
 * signal reaches it: done by a thread of its own, with every signal
 * blocked (a stop signal must reach the main thread), and given up after
 * a deadline, or soon after a stop signal that comes while it waits. Not
 * one that came before: a session stopped by Ctrl-C reads its files
 * after it, to name the frames of its last report. A given-up thread is
 * left to finish alone: it closes what it opened and frees its job.
 */
struct open_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int (*open_fn)(const char *path);
	char *path;
	int result;
	bool done, abandoned;
};

static atomic_uint files_given_up;

static void open_job_free(struct open_job *j)
{
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j->path);
	free(j);
}

static void *open_worker(void *arg)
{
	struct open_job *j = arg;
	int fd = j->open_fn(j->path);
	bool abandoned;

	pthread_mutex_lock(&j->lock);
	j->result = fd;
	j->done = true;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (abandoned) {
		if (fd >= 0)
			close(fd);
		open_job_free(j);
	}
	return NULL;
}

static struct open_job *open_job_new(int (*open_fn)(const char *), const char *path)
{
	struct open_job *j = calloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (!j)
		return NULL;
	j->path = strdup(path);
	if (!j->path) {
		free(j);
		return NULL;
	}
	j->open_fn = open_fn;
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	return j;
}

static int open_job_start(struct open_job *j)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&t, &attr, open_worker, j);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/*
 * Until the job is done (0), DEADLINE_MS is past (-ETIMEDOUT), or a stop
 * signal came since it began (-EINTR), seen within 0.1 s.
 */
static int open_job_wait(struct open_job *j, int deadline_ms)
{
	uint64_t end = monotonic_ns() + deadline_ms * 1000000ULL;
	bool stopped_before = stop_requested();

	while (!j->done) {
		uint64_t now = monotonic_ns(), slice = now + 100000000ULL;
		struct timespec ts;

		if (!stopped_before && stop_requested())
			return -EINTR;
		if (now >= end)
			return -ETIMEDOUT;
		if (slice > end)
			slice = end;
		ts.tv_sec = slice / 1000000000ULL;
		ts.tv_nsec = slice % 1000000000ULL;
		pthread_cond_timedwait(&j->cond, &j->lock, &ts);
	}
	return 0;
}

int open_bounded(int (*open_fn)(const char *path), const char *path, int deadline_ms)
{
	struct open_job *j = open_job_new(open_fn, path);
	int fd, err;

	if (!j)
		return -ENOMEM;
	if (open_job_start(j)) {
		open_job_free(j);
		return open_fn(path);	/* no thread to spare: as it comes */
	}
	pthread_mutex_lock(&j->lock);
	err = open_job_wait(j, deadline_ms);
	if (err) {
		j->abandoned = true;
		pthread_mutex_unlock(&j->lock);
		atomic_fetch_add(&files_given_up, 1);
		if (err == -EINTR)
			info_msg("%s: no answer yet at a stop signal: given up", path);
		else
			info_msg("%s: no answer in %g s (a hung file system?): given up", path,
				 deadline_ms / 1000.0);
		return err;
	}
	fd = j->result;
	pthread_mutex_unlock(&j->lock);
	open_job_free(j);
	return fd;
}

unsigned int open_given_up(void)
{
	return atomic_load(&files_given_up);
}

int open_regular(const char *path)
{
	return open_bounded(open_regular_now, path, OPEN_DEADLINE_MS);
}

int array_grow(void **arr, size_t nr, size_t *cap, size_t size)
{
	size_t new_cap;
	void *p;

	if (nr < *cap)
		return 0;
	new_cap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, new_cap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = new_cap;
	return 0;
}

size_t sort_dedupe(void *arr, size_t nr, size_t size, int (*cmp)(const void *, const void *))
{
	char *a = arr;
	size_t n = 0;

	if (!nr)
		return 0;
	qsort(arr, nr, size, cmp);
	for (size_t i = 1; i < nr; i++) {
		if (!cmp(a + n * size, a + i * size))
			continue;
		n++;
		if (n != i)
			memcpy(a + n * size, a + i * size, size);
	}
	return n + 1;
}

/*
 * Signals as memlens inherited them, for the commands it starts. Raw
 * syscalls: glibc's sigaction() and sigprocmask() refuse or filter out
 * signals 32 and 33 (its own), which a shell may ignore and pass on.
 */
struct kernel_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static uint64_t inherited_mask;

/* Before main(): before memlens, libbpf or glibc installs any handler. */
static void __attribute__((constructor)) record_inherited_signals(void)
{
	struct kernel_sigaction sa;

	for (int sig = 1; sig < _NSIG; sig++)
		if (!syscall(SYS_rt_sigaction, sig, NULL, &sa, sizeof(uint64_t)) &&
		    sa.handler == SIG_IGN)
			inherited_ignored |= 1ULL << (sig - 1);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, NULL, &inherited_mask, sizeof(uint64_t));
}

/*
 * In a child before exec: every signal as memlens found it, ignored where
 * it was ignored, else default, whatever handler memlens or glibc's
 * threads installed since; and the mask memlens was started with. A Ctrl-C before the exec ends the child as it
 * would end the command; an ignored SIGPIPE, which exec keeps, is not
 * passed on.
 */
void reset_signals_for_exec(void)
{
	for (int sig = 1; sig < _NSIG; sig++) {
		struct kernel_sigaction sa = { .handler = SIG_DFL };

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (inherited_ignored & (1ULL << (sig - 1)))
			sa.handler = SIG_IGN;
		syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(uint64_t));
	}
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &inherited_mask, NULL, sizeof(uint64_t));
}

/*
 * What memlens changes of its own process at start (process_setup()), to
 * be put back in a command it starts (restore_process_for_exec()): the
 * command runs as it would without memlens.
 */
static unsigned int std_fds_opened;	/* bit FD: 0-2 was closed, /dev/null now */
static struct rlimit inherited_nofile;
static bool nofile_raised;

void process_setup(void)
{
	struct rlimit rl;

	/*
	 * A standard descriptor closed by whoever started memlens would be
	 * taken by the next file opened: a recording would get memlens's
	 * messages, stdout a pipe of its own.
	 */
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", fd ? O_WRONLY : O_RDONLY) == fd)
			std_fds_opened |= 1U << fd;
	}
	/* A descriptor per probe, link and map: as many as the hard limit allows. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		inherited_nofile = rl;
		rl.rlim_cur = rl.rlim_max;
		nofile_raised = !setrlimit(RLIMIT_NOFILE, &rl);
	}
}

bool std_fd_was_closed(int fd)
{
	return fd >= 0 && fd <= 2 && (std_fds_opened & (1U << fd));
}

void restore_process_for_exec(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (std_fds_opened & (1U << fd))
			close(fd);
	if (nofile_raised)
		setrlimit(RLIMIT_NOFILE, &inherited_nofile);
}
