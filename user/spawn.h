/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A command memlens starts itself: forked stopped before its exec, so
 * that the probes are in place for its first instruction, released once
 * they are, and reaped for its exact wait status. Its threads are held
 * where the BPF side asks, by the holder that traces it (hold.h).
 */
#ifndef MEMLENS_SPAWN_H
#define MEMLENS_SPAWN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct holder;

struct spawn {
	char **cmd;		/* COMMAND ARGS..., NULL-terminated */
	pid_t pid;		/* 0: none, or reaped */
	int go_fd;		/* write end of the child's start pipe, -1 once released */
	int exec_err_fd;	/* read end: errno if the child's exec failed */
	struct holder *holder;	/* forked it, traces it; NULL once ended */
	bool can_hold;		/* traced: its threads can be held */
	/* For the fork, in the holder's thread. */
	int child_go, child_exec_err;
};

/*
 * Fork CMD into SP, stopped before its exec; -errno if it cannot be. If
 * it cannot be traced (SP->can_hold false), it runs unheld: said once.
 */
int spawn_stopped(struct spawn *sp, char **cmd);
/* The BPF map of threads sent the holding signal, before the release. */
void spawn_hold_map(struct spawn *sp, int map_fd);
/* Thread TID, held by the BPF side, goes on (now, or once it has stopped). */
void spawn_unhold(struct spawn *sp, pid_t tid);
/* Let it exec; fails (the error said) if its exec did, or if it died meanwhile. */
int spawn_release(struct spawn *sp);
/* Its wait status once it has exited, and it is no longer ours; -1 if it was not. */
int spawn_reap(struct spawn *sp);
/* Never released: it exits without running, and is reaped. */
void spawn_cancel(struct spawn *sp);
/* Released and not reaped: let it go on, its held threads too, untraced. */
void spawn_let_go(struct spawn *sp);

/*
 * The file COMMAND names, as execvp() finds it: itself if it has a slash,
 * else the first executable of that name in $PATH.
 */
int resolve_command(const char *command, char *path, size_t len);
/* The command line as one string (malloc'd), for a recording's header. */
char *joined_command(char **cmd);

#endif
