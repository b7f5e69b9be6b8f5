/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A command memlens starts itself: forked stopped before its exec, so
 * that the probes are in place for its first instruction, released once
 * they are, and reaped for its exact wait status.
 */
#ifndef MEMLENS_SPAWN_H
#define MEMLENS_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

struct spawn {
	char **cmd;		/* COMMAND ARGS..., NULL-terminated */
	pid_t pid;		/* 0: none, or reaped */
	int go_fd;		/* write end of the child's start pipe, -1 once released */
	int exec_err_fd;	/* read end: errno if the child's exec failed */
};

/* Fork CMD into SP, stopped before its exec; -errno if it cannot be. */
int spawn_stopped(struct spawn *sp, char **cmd);
/* Let it exec; fails (the error said) if its exec did, or if it died meanwhile. */
int spawn_release(struct spawn *sp);
/* Its wait status once it has exited, and it is no longer ours; -1 if it was not. */
int spawn_reap(struct spawn *sp);
/* Never released: it exits without running, and is reaped. */
void spawn_cancel(struct spawn *sp);
/* Released and not reaped: let it go on (it may be stopped), untraced. */
void spawn_let_go(struct spawn *sp);

/*
 * The file COMMAND names, as execvp() finds it: itself if it has a slash,
 * else the first executable of that name in $PATH.
 */
int resolve_command(const char *command, char *path, size_t len);
/* The command line as one string (malloc'd), for a recording's header. */
char *joined_command(char **cmd);

#endif
