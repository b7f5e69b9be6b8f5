// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Kernel allocations of a known shape, for the memlens kmem tests.
 * Between "ready" and "done" it does, and nothing else:
 *
 *   NFILES x  create DIR/f-PID-I (a new name: a new dentry and inode),
 *             close it, unlink it (the dentry stays, negative; the inode
 *             is freed after an RCU grace period)
 *   NFDS   x  create DIR/k-PID-I and keep it open: a struct file each
 *   NSTAT  x  stat DIR/m-PID-I, which does not exist: a new negative
 *             dentry each, kept (optional, default 0)
 *
 * Then it waits for a line on stdin, closes the NFDS files, unlinks them,
 * says "closed" and waits for another line before it exits.
 * Usage: kmemload DIR NFILES NFDS [NSTAT]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "handshake.h"

static void path_of(char *buf, size_t len, const char *dir, char kind, int i)
{
	snprintf(buf, len, "%s/%c-%d-%d", dir, kind, (int)getpid(), i);
}

int main(int argc, char **argv)
{
	int nfiles, nfds, nstat, *fds;
	char path[4096];
	struct stat st;

	if (argc != 4 && argc != 5) {
		say("usage: kmemload DIR NFILES NFDS [NSTAT]\n");
		return 2;
	}
	nfiles = atoi(argv[2]);
	nfds = atoi(argv[3]);
	nstat = argc == 5 ? atoi(argv[4]) : 0;
	fds = calloc(nfds, sizeof(*fds));
	if (!fds)
		return 1;
	say("ready\n");
	wait_line();
	for (int i = 0; i < nfiles; i++) {
		int fd;

		path_of(path, sizeof(path), argv[1], 'f', i);
		fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fd < 0 || close(fd) || unlink(path))
			return 1;
	}
	for (int i = 0; i < nfds; i++) {
		path_of(path, sizeof(path), argv[1], 'k', i);
		fds[i] = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
		if (fds[i] < 0)
			return 1;
	}
	/* Short names: longer than the inline name, a dentry kmallocs its name. */
	for (int i = 0; i < nstat; i++) {
		path_of(path, sizeof(path), argv[1], 'm', i);
		if (!stat(path, &st) || errno != ENOENT)
			return 1;
	}
	say("done\n");
	wait_line();
	for (int i = 0; i < nfds; i++) {
		path_of(path, sizeof(path), argv[1], 'k', i);
		if (close(fds[i]) || unlink(path))
			return 1;
	}
	say("closed\n");
	wait_line();
	return 0;
}
