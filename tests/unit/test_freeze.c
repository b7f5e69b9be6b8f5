// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stopping a process's threads for a scan (freeze.c) on a real child: a
 * thread that cannot stop (in a frozen cgroup v1 freezer) must not keep
 * the others stopped when they are let go.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "freeze.h"
#include "unit.h"
#include "util.h"

static void *spin(void *arg)
{
	(void)arg;
	for (;;)
		usleep(1000);
	return NULL;
}

/* A child of two threads: its main thread in pause(), the other looping. */
static pid_t two_threads(void)
{
	pid_t pid = fork();
	pthread_t th;

	if (pid)
		return pid;
	pthread_create(&th, NULL, spin, NULL);
	for (;;)
		pause();
}

static int put_file(const char *dir, const char *name, const char *val)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -EIO;
}

static bool frozen(const char *dir)
{
	char path[256], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/freezer.state", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return !strncmp(buf, "FROZEN", 6);
}

static char thaw_path[160];

/* A release that blocks on the frozen thread is let through, late: the test fails, not hangs. */
static void thaw(int sig)
{
	int fd = open(thaw_path, O_WRONLY | O_CLOEXEC);

	(void)sig;
	if (fd >= 0) {
		ssize_t n = write(fd, "THAWED", 6);

		(void)n;
		close(fd);
	}
}

/* The state letter of thread TID of PID ('t': stopped by its tracer). */
static char thread_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	return p && p[1] ? p[2] : '?';
}

/*
 * The main thread frozen (listed first), the other one stops: it is let
 * go at once, the frozen one waited for a bounded time, then left seized.
 */
static void test_frozen_thread(void)
{
	char dir[128], pidstr[32];
	struct frozen f;
	uint64_t t0, took;
	pid_t pid = two_threads(), other = 0;
	int i;

	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/freezer/memlens-unit-%d", getpid());
	CHECK(pid > 0);
	usleep(50000);
	snprintf(pidstr, sizeof(pidstr), "%d", pid);
	CHECK(mkdir(dir, 0755) == 0);
	/* cgroup v1: one thread, the main one, alone in the freezer. */
	CHECK(put_file(dir, "tasks", pidstr) == 0);
	CHECK(put_file(dir, "freezer.state", "FROZEN") == 0);
	for (i = 0; i < 1000 && !frozen(dir); i++)
		usleep(1000);
	CHECK(frozen(dir));
	CHECK(freeze_stop(&f, pid, true, NULL, 0, 200) == 0);
	CHECK_U64(f.nr, 2);
	for (size_t k = 0; k < f.nr; k++) {
		if (f.t[k].tid == pid) {
			CHECK(!f.t[k].stopped);
			continue;
		}
		other = f.t[k].tid;
		CHECK(f.t[k].stopped);
	}
	CHECK(other && thread_state(pid, other) == 't');
	snprintf(thaw_path, sizeof(thaw_path), "%s/freezer.state", dir);
	signal(SIGALRM, thaw);
	alarm(5);
	t0 = monotonic_ns();
	freeze_release(&f);
	took = monotonic_ns() - t0;
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	CHECK(took < 3000000000ULL);
	CHECK(thread_state(pid, other) != 't');
	CHECK_U64(f.left_seized, 1);
	freeze_free(&f);
	kill(pid, SIGKILL);
	put_file(dir, "freezer.state", "THAWED");
	waitpid(pid, NULL, 0);
	for (i = 0; i < 100 && rmdir(dir) && errno == EBUSY; i++)
		usleep(10000);
	CHECK(access(dir, F_OK) != 0);
}

/* A signal-delivery-stop's signal goes back, SIGTRAP too; an event stop's does not. */
static void test_stop_signal(void)
{
	int stopped_by = 0x7f;

	CHECK_U64(freeze_stop_signal(SIGTRAP << 8 | stopped_by), SIGTRAP);
	CHECK_U64(freeze_stop_signal(SIGUSR1 << 8 | stopped_by), SIGUSR1);
	CHECK_U64(freeze_stop_signal(PTRACE_EVENT_STOP << 16 | SIGTRAP << 8 | stopped_by), 0);
	CHECK_U64(freeze_stop_signal(PTRACE_EVENT_STOP << 16 | SIGSTOP << 8 | stopped_by), 0);
	CHECK_U64(freeze_stop_signal(0), 0);	/* exited */
}

void test_freeze(void)
{
	test_stop_signal();
	test_frozen_thread();
}
