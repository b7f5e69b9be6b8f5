// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The holder (hold.h). ptrace ties a tracee to its tracer *thread*: this
 * one thread forks the command, seizes it and makes every ptrace and
 * waitpid call. The rest of memlens talks to it under a mutex, waking it
 * with an eventfd; it hears of its tracees through a signalfd for SIGCHLD,
 * which every thread of memlens blocks.
 *
 * A hold: the BPF side puts the thread in its "held" map and sends it
 * SIGURG (SIGWINCH if it blocks SIGURG) alone; the thread stops for us in
 * a signal-delivery-stop on its way back to user space, and we resume it
 * with no signal once memlens has answered its event. Its other threads
 * run on; the program sees no signal, no EINTR. Every other signal stops
 * a tracee too: it is passed on at once, as it came.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "freeze.h"
#include "hold.h"
#include "util.h"

/* A thread held, and the signal it is to get when it goes on (0: none). */
struct tracee {
	pid_t tid;
	int deliver;
};

struct tracee_list {
	struct tracee *t;
	size_t nr, cap;
};

/* memlens asks for its command's threads stopped while FN runs (holder_frozen). */
struct frozen_req {
	int (*fn)(void *arg, const struct frozen *f);
	void *arg;
	int ret;
	uint64_t pause_ns;
	bool done;
};

struct holder {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake_fd;			/* eventfd: LOCKed fields changed */
	int chld_fd;			/* signalfd: SIGCHLD, a tracee changed */
	pid_t (*fork_child)(void *arg);
	void *arg;
	/* Under LOCK. */
	bool started;
	pid_t pid;			/* the child, or -errno */
	int trace_err;
	bool reaped;
	int status;
	int map_fd;			/* our own copy: it outlives the BPF object */
	struct tracee_list release;	/* let these go */
	struct frozen_req *frozen;	/* run this with every thread stopped */
	bool stop;
	/* The thread's own. */
	struct tracee_list held;	/* stopped for us, not released yet */
	struct tracee_list early;	/* released before we saw them stop */
	bool release_all;		/* out of memory: hold no one */
};

static int list_add(struct tracee_list *l, pid_t tid, int deliver)
{
	if (array_grow((void **)&l->t, l->nr, &l->cap, sizeof(*l->t)))
		return -ENOMEM;
	l->t[l->nr++] = (struct tracee){ .tid = tid, .deliver = deliver };
	return 0;
}

/* Take TID out of L: true if it was there, its signal to deliver in *DELIVER. */
static bool list_take(struct tracee_list *l, pid_t tid, int *deliver)
{
	for (size_t i = 0; i < l->nr; i++) {
		if (l->t[i].tid != tid)
			continue;
		if (deliver)
			*deliver = l->t[i].deliver;
		l->t[i] = l->t[--l->nr];
		return true;
	}
	return false;
}

static void resume(pid_t tid, int sig)
{
	ptrace(PTRACE_CONT, tid, NULL, (void *)(intptr_t)sig);
}

/*
 * Is TID's stop for SIG one of our holds? The BPF side put it in the map
 * before sending SIG. It is taken out here, so that the next SIG is the
 * program's. Sent by BPF, SIG comes as SI_KERNEL; anything else is one the
 * program was sent too (the two merged into one): it gets it, held or not.
 */
static bool is_hold(struct holder *h, pid_t tid, int sig, int *deliver)
{
	uint32_t key = tid, want = 0;
	siginfo_t si;
	int fd;

	if (sig != SIGURG && sig != SIGWINCH)
		return false;
	/* Set by memlens before the command runs, read at its first stop. */
	pthread_mutex_lock(&h->lock);
	fd = h->map_fd;
	pthread_mutex_unlock(&h->lock);
	if (fd < 0 || bpf_map_lookup_elem(fd, &key, &want) || want != (uint32_t)sig)
		return false;
	bpf_map_delete_elem(fd, &key);
	*deliver = 0;
	if (ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) == 0 && si.si_code != SI_KERNEL)
		*deliver = sig;
	return true;
}

static void hold(struct holder *h, pid_t tid, int deliver)
{
	if (list_take(&h->early, tid, NULL) || h->release_all) {
		resume(tid, deliver);
		return;
	}
	/* Never left stopped for want of memory. */
	if (list_add(&h->held, tid, deliver))
		resume(tid, deliver);
}

/*
 * A thread sent the signal and killed before it stopped is never seen
 * stopping: its entry would release at once the first hold of a thread
 * that gets its tid later.
 */
static void forget_gone(struct holder *h, struct tracee_list *l)
{
	for (size_t i = 0; i < l->nr; )
		if (syscall(SYS_tgkill, h->pid, l->t[i].tid, 0) && errno == ESRCH)
			l->t[i] = l->t[--l->nr];
		else
			i++;
}

static void release(struct holder *h, pid_t tid)
{
	int deliver;

	forget_gone(h, &h->early);
	if (list_take(&h->held, tid, &deliver)) {
		resume(tid, deliver);
		return;
	}
	/* Its stop is still to come: it goes on as soon as it does. */
	if (list_add(&h->early, tid, 0)) {
		h->release_all = true;
		while (h->held.nr)
			release(h, h->held.t[0].tid);
	}
}

/*
 * TID has exec'd (it has the pid's tid now): every other thread is gone,
 * the former leader's death untold if another thread exec'd. None of them
 * is stopped for us any more, and a hold sent them will never stop them.
 * The exec's own hold, if pending, stops TID once it goes on.
 */
static void exec_stop(struct holder *h, pid_t tid)
{
	h->held.nr = 0;
	/* An early release for TID may be the exec's own: kept. */
	for (size_t i = 0; i < h->early.nr; )
		if (h->early.t[i].tid != tid)
			h->early.t[i] = h->early.t[--h->early.nr];
		else
			i++;
	resume(tid, 0);
}

static bool group_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void tracee_changed(struct holder *h, pid_t tid, int status)
{
	int sig, deliver;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		list_take(&h->held, tid, NULL);
		list_take(&h->early, tid, NULL);
		if (tid != h->pid)
			return;
		pthread_mutex_lock(&h->lock);
		h->reaped = true;
		h->status = status;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	sig = WSTOPSIG(status);
	switch (status >> 16) {
	case 0:
		if (is_hold(h, tid, sig, &deliver))
			hold(h, tid, deliver);
		else
			resume(tid, sig);
		break;
	case PTRACE_EVENT_STOP:
		/* A job-control stop (Ctrl-Z, SIGSTOP): stopped until SIGCONT, as strace does. */
		if (group_stop_signal(sig))
			ptrace(PTRACE_LISTEN, tid, NULL, NULL);
		else
			resume(tid, 0);
		break;
	case PTRACE_EVENT_EXEC:
		exec_stop(h, tid);
		break;
	default:		/* PTRACE_EVENT_CLONE: the new thread is traced too */
		resume(tid, 0);
		break;
	}
}

static void drain(int fd)
{
	char buf[sizeof(struct signalfd_siginfo) * 8];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/*
 * Every thread of the command stopped while REQ runs: those held are
 * stopped already, the others are interrupted (PTRACE_INTERRUPT: no
 * signal). Then each goes on as its stop asks: an interrupt's stop is
 * resumed, a signal's or a hold's is what it would have been.
 */
static void run_frozen(struct holder *h, struct frozen_req *req)
{
	pid_t *already = calloc(h->held.nr + 1, sizeof(*already));
	struct frozen f;

	if (!already) {
		req->ret = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < h->held.nr; i++)
		already[i] = h->held.t[i].tid;
	req->ret = freeze_stop(&f, h->pid, false, already, h->held.nr, 1000);
	if (!req->ret)
		req->ret = req->fn(req->arg, &f);
	for (size_t i = 0; i < f.nr; i++)
		if (f.interrupted[i] && f.status[i] != -1)
			tracee_changed(h, f.t[i].tid, f.status[i]);
	/* Interrupted and not stopped yet: serve() resumes its stop when it comes. */
	req->pause_ns = freeze_release(&f);
	freeze_free(&f);
	free(already);
}

/* What memlens asked: the releases done, true if it asks us to stop. */
static bool take_requests(struct holder *h)
{
	struct frozen_req *frozen;
	struct tracee_list todo;
	bool stop;

	pthread_mutex_lock(&h->lock);
	todo = h->release;
	h->release = (struct tracee_list){};
	stop = h->stop;
	frozen = h->frozen;
	pthread_mutex_unlock(&h->lock);
	if (frozen) {
		run_frozen(h, frozen);
		pthread_mutex_lock(&h->lock);
		h->frozen = NULL;
		frozen->done = true;
		pthread_cond_broadcast(&h->cond);
		pthread_mutex_unlock(&h->lock);
	}
	for (size_t i = 0; i < todo.nr; i++)
		release(h, todo.t[i].tid);
	free(todo.t);
	return stop;
}

/*
 * Threads the BPF side has sent the signal and not stopped yet (the
 * programs are detached by now: no more will be): they stop in a moment,
 * and are resumed then, so that none gets the signal once we have
 * detached. Waited for 2 s at most: a thread the user stopped (SIGSTOP)
 * before it took the signal does not stop for us until SIGCONT.
 */
static void catch_last_holds(struct holder *h)
{
	struct pollfd pfd = { .fd = h->chld_fd, .events = POLLIN };
	uint64_t deadline = monotonic_ns() + 2000000000ULL, now;
	uint32_t key;
	int status;
	pid_t tid;

	if (h->map_fd < 0)
		return;
	while (!bpf_map_get_next_key(h->map_fd, NULL, &key) && (now = monotonic_ns()) < deadline) {
		/* Emptied before looking, as in serve(). */
		drain(h->chld_fd);
		while ((tid = waitpid(-1, &status, __WALL | __WNOTHREAD | WNOHANG)) > 0) {
			tracee_changed(h, tid, status);
			key = tid;
			if (WIFEXITED(status) || WIFSIGNALED(status))
				bpf_map_delete_elem(h->map_fd, &key);
		}
		if (!bpf_map_get_next_key(h->map_fd, NULL, &key))
			poll(&pfd, 1, (deadline - now) / 1000000 + 1);
	}
}

/* Resume who is held; the kernel detaches the rest as this thread ends. */
static void let_go(struct holder *h)
{
	catch_last_holds(h);
	for (size_t i = 0; i < h->held.nr; i++)
		ptrace(PTRACE_DETACH, h->held.t[i].tid, NULL, (void *)(intptr_t)h->held.t[i].deliver);
	h->held.nr = 0;
}

static void serve(struct holder *h)
{
	struct pollfd pfd[2] = {
		{ .fd = h->wake_fd, .events = POLLIN },
		{ .fd = h->chld_fd, .events = POLLIN },
	};
	int status;
	pid_t tid;

	for (;;) {
		/* Emptied before looking: what comes after wakes the poll. */
		drain(h->wake_fd);
		drain(h->chld_fd);
		if (take_requests(h))
			break;
		while ((tid = waitpid(-1, &status, __WALL | __WNOTHREAD | WNOHANG)) > 0)
			tracee_changed(h, tid, status);
		/*
		 * Not only woken by SIGCHLD: a ptrace stop sends none to a
		 * tracer that ignores it, should its signalfd miss one.
		 */
		if (poll(pfd, 2, 100) < 0 && errno != EINTR)
			break;
	}
	let_go(h);
}

static void *holder_main(void *arg)
{
	struct holder *h = arg;
	pid_t pid = h->fork_child(h->arg);
	int err = pid < 0 ? pid : 0;

	/*
	 * Not PTRACE_O_EXITKILL: should memlens die, the command goes on.
	 * No PTRACE_O_TRACEFORK: its child processes are not ours.
	 */
	if (pid > 0 && ptrace(PTRACE_SEIZE, pid, NULL,
			      (void *)(PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)))
		err = -errno;
	pthread_mutex_lock(&h->lock);
	h->pid = pid;
	h->trace_err = err;
	h->started = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (pid > 0)
		serve(h);
	return NULL;
}

static void holder_free(struct holder *h)
{
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	if (h->chld_fd >= 0)
		close(h->chld_fd);
	if (h->map_fd >= 0)
		close(h->map_fd);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h->release.t);
	free(h->held.t);
	free(h->early.t);
	free(h);
}

pid_t holder_start(struct holder **out, pid_t (*fork_child)(void *arg), void *arg)
{
	struct holder *h = calloc(1, sizeof(*h));
	sigset_t chld, all, old;
	pid_t pid;
	int err;

	if (!h)
		return -ENOMEM;
	*h = (struct holder){ .fork_child = fork_child, .arg = arg, .map_fd = -1 };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	/*
	 * Ignored, SIGCHLD would never come for a ptrace stop (nor would the
	 * command's exit status: reaped by the kernel). The command gets
	 * memlens's inherited disposition back before its exec.
	 */
	signal(SIGCHLD, SIG_DFL);
	/* Blocked in every thread, so that it waits for the holder's signalfd. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, NULL);
	h->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	h->chld_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (h->wake_fd < 0 || h->chld_fd < 0) {
		err = -errno;
		holder_free(h);
		return err;
	}
	/* Its signals are memlens's other threads' to take (Ctrl-C). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&h->thread, NULL, holder_main, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		holder_free(h);
		return err;
	}
	pthread_mutex_lock(&h->lock);
	while (!h->started)
		pthread_cond_wait(&h->cond, &h->lock);
	pid = h->pid;
	pthread_mutex_unlock(&h->lock);
	if (pid < 0) {
		pthread_join(h->thread, NULL);
		holder_free(h);
		return pid;
	}
	*out = h;
	return pid;
}

int holder_traced(const struct holder *h)
{
	return h->trace_err;
}

static void wake(struct holder *h)
{
	uint64_t one = 1;

	if (write(h->wake_fd, &one, sizeof(one)) < 0)
		error_msg("cannot wake the holder thread: %s", strerror(errno));
}

void holder_set_map(struct holder *h, int map_fd)
{
	int fd = fcntl(map_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		error_msg("cannot keep the map of held threads: %s", strerror(errno));
	pthread_mutex_lock(&h->lock);
	h->map_fd = fd;
	pthread_mutex_unlock(&h->lock);
}

void holder_release(struct holder *h, pid_t tid)
{
	pthread_mutex_lock(&h->lock);
	if (list_add(&h->release, tid, 0))
		error_msg("out of memory: thread %d stays held", tid);
	pthread_mutex_unlock(&h->lock);
	wake(h);
}

int holder_wait_exit(struct holder *h)
{
	int status;

	pthread_mutex_lock(&h->lock);
	while (!h->reaped)
		pthread_cond_wait(&h->cond, &h->lock);
	status = h->status;
	pthread_mutex_unlock(&h->lock);
	return status;
}

void holder_stop(struct holder *h)
{
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_mutex_unlock(&h->lock);
	wake(h);
	pthread_join(h->thread, NULL);
	holder_free(h);
}

int holder_frozen(struct holder *h, int (*fn)(void *arg, const struct frozen *f), void *arg,
		  uint64_t *pause_ns)
{
	struct frozen_req req = { .fn = fn, .arg = arg };

	pthread_mutex_lock(&h->lock);
	h->frozen = &req;
	pthread_mutex_unlock(&h->lock);
	wake(h);
	pthread_mutex_lock(&h->lock);
	while (!req.done)
		pthread_cond_wait(&h->cond, &h->lock);
	pthread_mutex_unlock(&h->lock);
	*pause_ns = req.pause_ns;
	return req.ret;
}
