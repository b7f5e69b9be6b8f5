// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "bpf_util.h"
#include "util.h"
#include "unit.h"

/* The verifier's reason: the last line that is not its summary, at any log level. */
static void test_verifier_log_reason(void)
{
	char why[64];

	verifier_log_reason("R1 invalid mem access 'scalar'\nverification time 45 usec\n"
			    "stack depth 0\nprocessed 6 insns (limit 1000000) max_states_per_insn 0\n",
			    why, sizeof(why));
	CHECK_STR(why, "R1 invalid mem access 'scalar'");
	verifier_log_reason("0: (85) call pc+2\nBPF program is too large. Processed 1000001 insn\n"
			    "verification time 2222634 usec\nstack depth 40\n"
			    "processed 1000001 insns (limit 1000000)\n", why, sizeof(why));
	CHECK_STR(why, "BPF program is too large. Processed 1000001 insn");
	/* A program verified: nothing but the summary, no reason. */
	verifier_log_reason("verification time 12 usec\nstack depth 8\nprocessed 29 insns\n",
			    why, sizeof(why));
	CHECK_STR(why, "");
	verifier_log_reason("", why, sizeof(why));
	CHECK_STR(why, "");
}

/* An open that hangs, as on a dead NFS server: 3 s, then a failure (nothing to close). */
static int slow_open(const char *path)
{
	(void)path;
	sleep(3);
	return -EIO;
}

static int fast_open(const char *path)
{
	(void)path;
	return 7;
}

/* Regular files only, FIFOs never waited on, a hung open given up. */
static void test_open_regular(void)
{
	char dir[] = "/tmp/memlens-unit.XXXXXX", fifo[64];
	unsigned int given_up = open_given_up();
	uint64_t t;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	t = monotonic_ns();
	CHECK(open_regular(fifo) == -EINVAL);
	CHECK(open_regular(dir) == -EISDIR);
	CHECK(open_regular("/dev/zero") == -EINVAL);
	CHECK(open_regular("/nonexistent/x") == -ENOENT);
	CHECK(monotonic_ns() - t < 1000000000ULL);
	fd = open_regular("/proc/self/exe");
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(open_bounded(fast_open, "fast", 1000) == 7);
	t = monotonic_ns();
	CHECK(open_bounded(slow_open, "slow", 200) == -ETIMEDOUT);
	t = monotonic_ns() - t;
	CHECK(t >= 200000000ULL && t < 1000000000ULL);
	CHECK(open_given_up() == given_up + 1);
	unlink(fifo);
	rmdir(dir);
}

static pthread_t unit_main_thread;

static void *stop_later(void *arg)
{
	(void)arg;
	usleep(200000);
	pthread_kill(unit_main_thread, SIGTERM);
	return NULL;
}

/*
 * A stop signal that comes while an open waits gives it up, at once; one
 * that came before does not (a session stopped by Ctrl-C reads its files
 * after, to name its last report's frames). Last of the suite:
 * stop_requested() stays true after, and a second signal would end it.
 */
static void test_open_at_stop(void)
{
	unsigned int given_up = open_given_up();
	pthread_t t;
	uint64_t ns;

	catch_stop_signals();
	unit_main_thread = pthread_self();
	CHECK(pthread_create(&t, NULL, stop_later, NULL) == 0);
	ns = monotonic_ns();
	CHECK(open_bounded(slow_open, "slow", 5000) == -EINTR);
	ns = monotonic_ns() - ns;
	CHECK(ns >= 200000000ULL && ns < 1000000000ULL);
	pthread_join(t, NULL);
	CHECK(stop_requested());
	CHECK(open_bounded(fast_open, "fast", 1000) == 7);
	ns = monotonic_ns();
	CHECK(open_bounded(slow_open, "slow", 200) == -ETIMEDOUT);
	CHECK(monotonic_ns() - ns >= 200000000ULL);
	CHECK(open_given_up() == given_up + 2);
}

/*
 * In a child: a stop signal, then another after DELAY_US. One within a
 * second is the same stop passed on; one later ends the process at once,
 * exit status 1, and removes TEMP, a file being made. The child's exit
 * status.
 */
static int two_stops(useconds_t delay_us, const char *temp)
{
	pid_t pid = fork();
	int status;

	if (!pid) {
		int err = open("/dev/null", O_WRONLY);

		dup2(err, STDERR_FILENO);	/* the line it says */
		stop_removes_temp(STOP_TEMP_OUTPUT, temp);
		catch_stop_signals();
		raise(SIGINT);
		usleep(delay_us);
		raise(SIGTERM);
		_exit(stop_requested() ? 0 : 2);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_second_stop(void)
{
	char temp[] = "/tmp/memlens-unit.XXXXXX";
	int fd = mkstemp(temp);

	CHECK(fd >= 0);
	close(fd);
	CHECK(two_stops(100000, temp) == 0);
	CHECK(access(temp, F_OK) == 0);
	CHECK(two_stops(1100000, temp) == 1);
	CHECK(access(temp, F_OK) != 0);
	unlink(temp);
}

struct pair {
	unsigned int id, kind;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->kind < y->kind ? -1 : x->kind > y->kind;
}

/*
 * A walk of a hash BPF deletes from starts over on a deleted key: the keys
 * it gave come again, each must count once (user/pressure.c).
 */
static void test_sort_dedupe(void)
{
	struct pair walk[] = {
		{ 7, 0 }, { 3, 1 }, { 9, 0 },	/* 9 ended: the walk restarts */
		{ 7, 0 }, { 3, 1 }, { 3, 0 }, { 7, 0 },
	};
	struct pair want[] = { { 3, 0 }, { 3, 1 }, { 7, 0 }, { 9, 0 } };
	struct pair one = { 1, 1 };

	CHECK(sort_dedupe(walk, 7, sizeof(*walk), cmp_pair) == 4);
	CHECK(!memcmp(walk, want, sizeof(want)));
	CHECK(sort_dedupe(&one, 1, sizeof(one), cmp_pair) == 1 && one.id == 1);
	CHECK(sort_dedupe(NULL, 0, sizeof(one), cmp_pair) == 0);
}

void test_util(void)
{
	unsigned long long v;
	double d;

	CHECK(parse_uint("42", "n", 100, &v) == 0 && v == 42);
	CHECK(parse_uint("101", "n", 100, &v) < 0);
	CHECK(parse_uint("-1", "n", 100, &v) < 0);
	CHECK(parse_uint("4x", "n", 100, &v) < 0);
	CHECK(parse_uint("", "n", 100, &v) < 0);
	CHECK(parse_seconds("0.5", "s", &d) == 0 && d == 0.5);
	CHECK(parse_seconds("-1", "s", &d) < 0);
	CHECK(parse_seconds("nan", "s", &d) < 0);
	CHECK(parse_seconds("1s", "s", &d) < 0);
	CHECK(monotonic_ns() > 0);
	test_verifier_log_reason();
	test_open_regular();
	test_sort_dedupe();
	test_second_stop();
	test_open_at_stop();
}
