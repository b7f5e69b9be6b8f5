// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The command memlens leaks, record or allocs starts: forked stopped
 * before its exec, released once it is hooked, reaped at its end.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spawn.h"
#include "util.h"

/* The child, until its exec: runs only if GO delivers a byte. */
static void __attribute__((noreturn)) child_wait_exec(char **cmd, int go, int exec_err,
						       const sigset_t *mask)
{
	ssize_t n;
	int err;
	char c;

	reset_signals_for_exec();
	sigprocmask(SIG_SETMASK, mask, NULL);
	/* Should memlens die while holding us at _exit, go on. */
	prctl(PR_SET_PDEATHSIG, SIGCONT);
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
 * Fork the command stopped before exec, so the probes are in place for its
 * first instruction: it execs when we close GO_FD.
 */
int spawn_stopped(struct spawn *sp, char **cmd)
{
	int go[2], exec_err[2], fork_err;
	sigset_t mask;
	pid_t pid;

	*sp = (struct spawn){ .cmd = cmd, .go_fd = -1, .exec_err_fd = -1 };
	if (pipe2(go, O_CLOEXEC) || pipe2(exec_err, O_CLOEXEC))
		return -errno;
	block_stop_signals(&mask);
	pid = fork();
	fork_err = errno;
	if (pid == 0) {
		close(go[1]);
		close(exec_err[0]);
		child_wait_exec(cmd, go[0], exec_err[1], &mask);
	}
	sigprocmask(SIG_SETMASK, &mask, NULL);
	close(go[0]);
	close(exec_err[1]);
	if (pid < 0) {
		close(go[1]);
		close(exec_err[0]);
		return -fork_err;
	}
	sp->pid = pid;
	sp->go_fd = go[1];
	sp->exec_err_fd = exec_err[0];
	return 0;
}

/* The command died before it was released (a Ctrl-C, a kill): say how. */
static int child_gone(struct spawn *sp)
{
	int status = 0;

	while (waitpid(sp->pid, &status, 0) < 0 && errno == EINTR)
		;
	sp->pid = 0;
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
		waitpid(sp->pid, NULL, 0);
		sp->pid = 0;
		return -err;
	}
	return 0;
}

/* Our own child: its wait status is more exact than the kernel's exit code. */
int spawn_reap(struct spawn *sp)
{
	int status = -1;

	if (sp->pid <= 0)
		return -1;
	if (waitpid(sp->pid, &status, 0) != sp->pid)
		status = -1;
	sp->pid = 0;
	return status;
}

void spawn_cancel(struct spawn *sp)
{
	if (sp->go_fd < 0)
		return;
	close(sp->go_fd);
	sp->go_fd = -1;
	if (sp->pid > 0)
		waitpid(sp->pid, NULL, 0);
	sp->pid = 0;
}

void spawn_let_go(struct spawn *sp)
{
	if (sp->pid > 0) {
		/* Never leave it stopped, whatever happened to us. */
		kill(sp->pid, SIGCONT);
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
