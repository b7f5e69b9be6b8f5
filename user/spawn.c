// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command memlens leaks, record or allocs starts: forked stopped
 * before its exec (by the holder, hold.c, which traces it), released once
 * it is hooked, reaped at its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hold.h"
#include "spawn.h"
#include "util.h"

/* The child, until its exec: runs only if GO delivers a byte. */
static void __attribute__((noreturn)) child_wait_exec(char **cmd, int go, int exec_err)
{
	ssize_t n;
	int err;
	char c;

	reset_signals_for_exec();
	restore_process_for_exec();
	/*
	 * One byte is the go signal; EOF means we gave up: do not run.
	 * Not _exit(): it is hooked for this pid, and would hold us.
	 */
	do
		n = read(go, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		syscall(SYS_exit_group, 127);
	execvp(cmd[0], cmd);
	err = errno;
	/* If this fails the parent reads EOF, then our exit status. */
	n = write(exec_err, &err, sizeof(err));
	(void)n;
	syscall(SYS_exit_group, 127);
	__builtin_unreachable();
}

/*
 * In the holder's thread, so that the child is that thread's to trace
 * and reap. Its signals blocked, the child starts with none delivered
 * until it has reset their handlers.
 */
static pid_t fork_child(void *arg)
{
	struct spawn *sp = arg;
	pid_t pid = fork();

	if (pid == 0) {
		close(sp->go_fd);
		close(sp->exec_err_fd);
		child_wait_exec(sp->cmd, sp->child_go, sp->child_exec_err);
	}
	return pid < 0 ? -errno : pid;
}

/*
 * Fork the command stopped before exec, so the probes are in place for its
 * first instruction: it execs when we close GO_FD.
 */
int spawn_stopped(struct spawn *sp, char **cmd)
{
	int go[2], exec_err[2];
	pid_t pid;

	*sp = (struct spawn){ .cmd = cmd, .go_fd = -1, .exec_err_fd = -1 };
	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(exec_err, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	sp->go_fd = go[1];
	sp->exec_err_fd = exec_err[0];
	sp->child_go = go[0];
	sp->child_exec_err = exec_err[1];
	pid = holder_start(&sp->holder, fork_child, sp);
	close(go[0]);
	close(exec_err[1]);
	if (pid < 0) {
		close(sp->go_fd);
		close(sp->exec_err_fd);
		sp->go_fd = sp->exec_err_fd = -1;
		return pid;
	}
	sp->pid = pid;
	sp->can_hold = !holder_traced(sp->holder);
	if (!sp->can_hold)
		info_msg("cannot trace %s (%s): it is not held, code it loads is hooked a moment late",
			 cmd[0], strerror(-holder_traced(sp->holder)));
	return 0;
}

void spawn_hold_map(struct spawn *sp, int map_fd)
{
	if (sp->holder)
		holder_set_map(sp->holder, map_fd);
}

void spawn_unhold(struct spawn *sp, pid_t tid)
{
	if (sp->holder)
		holder_release(sp->holder, tid);
}

/* Its wait status, once reaped; the holder is done then. */
static int reap(struct spawn *sp)
{
	int status;

	if (!sp->holder)
		return -1;
	status = holder_wait_exit(sp->holder);
	holder_stop(sp->holder);
	sp->holder = NULL;
	sp->pid = 0;
	return status;
}

/* The command died before it was released (a Ctrl-C, a kill): say how. */
static int child_gone(struct spawn *sp)
{
	int status = reap(sp);

	if (WIFSIGNALED(status))
		error_msg("%s was ended by %s before it started", sp->cmd[0],
			  strsignal(WTERMSIG(status)));
	else
		error_msg("%s ended before it started", sp->cmd[0]);
	return -ESRCH;
}

int spawn_release(struct spawn *sp)
{
	int err = 0;
	ssize_t n;

	n = write(sp->go_fd, "g", 1);
	close(sp->go_fd);
	sp->go_fd = -1;
	if (n != 1)
		return child_gone(sp);
	n = read(sp->exec_err_fd, &err, sizeof(err));
	close(sp->exec_err_fd);
	sp->exec_err_fd = -1;
	if (n == sizeof(err)) {
		error_msg("cannot run %s: %s", sp->cmd[0], strerror(err));
		reap(sp);
		return -err;
	}
	return 0;
}

/* Our own child: its wait status is more exact than the kernel's exit code. */
int spawn_reap(struct spawn *sp)
{
	if (sp->pid <= 0)
		return -1;
	return reap(sp);
}

void spawn_cancel(struct spawn *sp)
{
	if (sp->go_fd < 0)
		return;
	close(sp->go_fd);
	sp->go_fd = -1;
	if (sp->pid > 0)
		reap(sp);
}

void spawn_let_go(struct spawn *sp)
{
	if (sp->holder) {
		/* Its held threads go on; the kernel detaches the rest. */
		holder_stop(sp->holder);
		sp->holder = NULL;
		/* Said only of one that runs: not of one ended meanwhile (reaped here). */
		if (sp->pid > 0 && !waitpid(sp->pid, NULL, WNOHANG))
			info_msg("pid %d continues untraced", sp->pid);
	}
	if (sp->exec_err_fd >= 0)
		close(sp->exec_err_fd);
	sp->exec_err_fd = -1;
}

int resolve_command(const char *command, char *path, size_t len)
{
	const char *dirs = getenv("PATH"), *end;

	if (strchr(command, '/')) {
		snprintf(path, len, "%s", command);
		return access(path, X_OK) ? -errno : 0;
	}
	for (dirs = dirs && *dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; *dirs; dirs = end) {
		int n;

		end = strchrnul(dirs, ':');
		n = end - dirs;
		snprintf(path, len, "%.*s/%s", n ? n : 1, n ? dirs : ".", command);
		if (*end)
			end++;
		if (access(path, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

char *joined_command(char **cmd)
{
	size_t len = 1;
	char *s;

	for (char **a = cmd; a && *a; a++)
		len += strlen(*a) + 1;
	s = calloc(1, len);
	for (char **a = cmd; s && a && *a; a++) {
		if (a != cmd)
			strcat(s, " ");
		strcat(s, *a);
	}
	return s;
}
