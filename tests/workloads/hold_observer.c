// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What a held command can observe: three threads blocked in epoll_wait,
 * nanosleep and read count the EINTRs they get, and handlers count every
 * SIGCONT, SIGURG and SIGWINCH, while the main thread maps new code.
 *
 *   hold_observer loads LIB LIB2 N [block]
 *                         leak through LIB (3 x 512 bytes), then
 *                         dlopen/dlclose LIB2 N times; print the counts;
 *                         with "block", the main thread blocks SIGURG
 *   hold_observer wait    "ready", then the counts once a line comes; the
 *                         three threads block the signals counted, so that
 *                         the main thread takes each one sent
 *   hold_observer loop LIB MS   "pid N uid U", dlopen/dlclose LIB for MS ms,
 *                         then "done"
 *   hold_observer ignored N   no handler: a thread in epoll_wait is sent
 *                         SIGWINCH, SIGCHLD (ignored by default) and
 *                         SIGUSR1 (SIG_IGN) N times each; "eintr=E"
 *   hold_observer exec_thread ARGS...   a second thread execs
 *                         hold_observer ARGS...; the main thread waits
 *   hold_observer ignore SIG,SIG... CMD ARGS...   exec CMD with those
 *                         signals ignored (32 and 33 too, which glibc's
 *                         sigaction refuses)
 *
 * Counts: "eintr=E cont=C urg=U winch=W pending=P" (E over the three
 * threads, P: 1 if one of the three signals is pending at the end).
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "handshake.h"

static volatile sig_atomic_t calls[3], eintr, blocked;
static sigset_t counted;	/* SIGCONT, SIGURG, SIGWINCH */
static int never[2];	/* a pipe nothing is ever written to */

static void on_signal(int sig)
{
	calls[sig == SIGCONT ? 0 : sig == SIGURG ? 1 : 2]++;
}

static void *in_epoll(void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0);

	(void)arg;
	epoll_ctl(ep, EPOLL_CTL_ADD, never[0], &ev);
	__sync_fetch_and_add(&blocked, 1);
	for (;;)
		if (epoll_wait(ep, &ev, 1, -1) < 0 && errno == EINTR)
			__sync_fetch_and_add(&eintr, 1);
	return NULL;
}

static void *in_nanosleep(void *arg)
{
	struct timespec ts = { .tv_sec = 1000 };

	(void)arg;
	__sync_fetch_and_add(&blocked, 1);
	for (;;)
		if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
			__sync_fetch_and_add(&eintr, 1);
	return NULL;
}

static void *in_read(void *arg)
{
	char c;

	(void)arg;
	__sync_fetch_and_add(&blocked, 1);
	for (;;)
		if (read(never[0], &c, 1) < 0 && errno == EINTR)
			__sync_fetch_and_add(&eintr, 1);
	return NULL;
}

/* THREADS_BLOCK: the threads block the signals counted. */
static void start_threads(bool threads_block)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	void *(*fn[])(void *) = { in_epoll, in_nanosleep, in_read };
	sigset_t old;
	pthread_t t;

	sigemptyset(&counted);
	sigaddset(&counted, SIGCONT);
	sigaddset(&counted, SIGURG);
	sigaddset(&counted, SIGWINCH);
	sigaction(SIGCONT, &sa, NULL);
	sigaction(SIGURG, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (pipe(never))
		_exit(2);
	if (threads_block)
		pthread_sigmask(SIG_BLOCK, &counted, &old);
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t, NULL, fn[i], NULL))
			_exit(2);
	if (threads_block)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	while (blocked < 3)
		usleep(1000);
	usleep(50000);	/* all three in their calls */
}

static void print_counts(void)
{
	int pending = 0;
	char line[128];
	sigset_t set;

	sigpending(&set);
	for (int sig = 1; sig < NSIG; sig++)
		pending |= sigismember(&counted, sig) && sigismember(&set, sig);
	snprintf(line, sizeof(line), "eintr=%d cont=%d urg=%d winch=%d pending=%d\n",
		 (int)eintr, (int)calls[0], (int)calls[1], (int)calls[2], pending);
	say(line);
}

static void *load(const char *lib)
{
	void *dso = dlopen(lib, RTLD_NOW);

	if (!dso)
		_exit(4);
	return dso;
}

/* Retries what a handler interrupts: the line must still be read whole. */
static void read_line(void)
{
	char c;
	ssize_t n;

	do
		n = read(0, &c, 1);
	while ((n == 1 && c != '\n') || (n < 0 && errno == EINTR));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* No handler: what the thread in epoll_wait sees of signals it ignores. */
static void ignored(int n)
{
	static const int sigs[] = { SIGWINCH, SIGCHLD, SIGUSR1 };
	char line[64];
	pthread_t t;

	signal(SIGUSR1, SIG_IGN);
	if (pipe(never) || pthread_create(&t, NULL, in_epoll, NULL))
		_exit(2);
	while (blocked < 1)
		usleep(1000);
	usleep(50000);
	for (int i = 0; i < n; i++) {
		for (size_t s = 0; s < sizeof(sigs) / sizeof(sigs[0]); s++) {
			int before = eintr;

			pthread_kill(t, sigs[s]);
			/* Back in epoll_wait before the next one (200 ms if no EINTR). */
			for (int ms = 0; ms < 200 && eintr == before; ms++)
				usleep(1000);
			usleep(10000);
		}
	}
	snprintf(line, sizeof(line), "eintr=%d\n", (int)eintr);
	say(line);
}

static char **exec_args;

static void *exec_in_thread(void *arg)
{
	(void)arg;
	execv("/proc/self/exe", exec_args);
	_exit(5);
}

/* Signals 32 and 33 too: glibc's sigaction() refuses them. */
static void ignore_signals(char *list)
{
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } sa = {
		.handler = SIG_IGN,
	};

	for (char *s = strtok(list, ","); s; s = strtok(NULL, ","))
		if (syscall(SYS_rt_sigaction, atoi(s), &sa, NULL, 8))
			_exit(6);
}

int main(int argc, char **argv)
{
	char line[64];

	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "loads")) {
		sigset_t urg;
		void *dso;

		start_threads(false);
		sigemptyset(&urg);
		sigaddset(&urg, SIGURG);
		if (argc == 6)
			sigprocmask(SIG_BLOCK, &urg, NULL);
		dso = load(argv[2]);
		((void (*)(void))dlsym(dso, "leak_in_dso"))();
		for (int i = 0, n = atoi(argv[4]); i < n; i++)
			dlclose(load(argv[3]));
		print_counts();
		exit(0);
	}
	if (argc == 2 && !strcmp(argv[1], "wait")) {
		start_threads(true);
		say("ready\n");
		read_line();
		/* A SIGCONT lets all go on at once: the others count first. */
		usleep(200000);
		print_counts();
		exit(0);
	}
	if (argc == 4 && !strcmp(argv[1], "loop")) {
		uint64_t end = now_ms() + atoi(argv[3]);

		start_threads(false);
		snprintf(line, sizeof(line), "pid %d uid %d\n", (int)getpid(), (int)getuid());
		say(line);
		while (now_ms() < end)
			dlclose(load(argv[2]));
		say("done\n");
		exit(0);
	}
	if (argc == 3 && !strcmp(argv[1], "ignored")) {
		ignored(atoi(argv[2]));
		exit(0);
	}
	if (argc >= 3 && !strcmp(argv[1], "exec_thread")) {
		pthread_t t;

		argv[1] = argv[0];
		exec_args = argv + 1;
		if (pthread_create(&t, NULL, exec_in_thread, NULL))
			return 2;
		pause();
	}
	if (argc >= 4 && !strcmp(argv[1], "ignore")) {
		ignore_signals(argv[2]);
		execvp(argv[3], argv + 3);
		return 127;
	}
	return 2;
}
