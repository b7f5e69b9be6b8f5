// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What every view prints with: sizes for people, strings for JSON and for
 * terminals, the output files (-o, --svg, --pprof) written so that a
 * reader never sees half a file, and the end of a run whose output is
 * lost (a full disk, a reader gone).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "output.h"
#include "util.h"

const char *human_bytes(double v, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%.0f", v);
	else if (v < 10)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
	return buf;
}

void json_print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c >= 0x7f)
			/* Not UTF-8 for sure (paths, comms): bytes as code points. */
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

void print_clean(FILE *out, const char *s)
{
	for (; s && *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/*
 * How an output path is written. A regular file, or none yet, is replaced
 * whole by rename, so that a reader never sees half of it. A FIFO, a
 * device (/dev/null) or a link to one (/dev/stdout on a pipe or a
 * terminal) is written where it is: renaming over it would put a regular
 * file in place of the node or the link. One of memlens's own descriptors
 * named as such (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N) is
 * written through that descriptor, whatever it is open on (`> file`). A
 * directory is refused, and so is any other link to a regular file:
 * writing through it would write a file someone else may have chosen,
 * renaming over it would destroy the link.
 */
enum out_way { OUT_RENAME, OUT_IN_PLACE, OUT_IN_PLACE_LINK, OUT_OWN_FD };

/* N if PATH names memlens's own descriptor N, else -1. */
static int own_fd(const char *path)
{
	static const char *const dirs[] = { "/dev/fd/", "/proc/self/fd/" };
	unsigned long n;
	char *end;

	if (!strcmp(path, "/dev/stdout"))
		return 1;
	if (!strcmp(path, "/dev/stderr"))
		return 2;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t len = strlen(dirs[i]);

		if (strncmp(path, dirs[i], len) || !isdigit((unsigned char)path[len]))
			continue;
		errno = 0;
		n = strtoul(path + len, &end, 10);
		if (!*end && !errno && n <= INT_MAX)
			return n;
	}
	return -1;
}

/* The way PATH is written, or a negative errno and, if it says more, *WHY. */
static int output_way(const char *path, const char **why)
{
	struct stat st;
	bool link;

	*why = NULL;
	if (own_fd(path) >= 0)
		return OUT_OWN_FD;
	if (lstat(path, &st))
		return errno == ENOENT ? OUT_RENAME : -errno;
	if (S_ISREG(st.st_mode))
		return OUT_RENAME;
	link = S_ISLNK(st.st_mode);
	if (link && stat(path, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode)) {
		*why = "a symbolic link to a file: give the file's own path";
		return -EINVAL;
	}
	return link ? OUT_IN_PLACE_LINK : OUT_IN_PLACE;
}

/*
 * PATH opened where it is, the WAY output_way() found. What is opened is
 * checked again, for a path swapped since: not followed if it was no
 * link, and never a regular file or a directory. A FIFO without a reader
 * would block the session until one comes: refused instead (ENXIO, from
 * O_NONBLOCK).
 */
static int open_in_place(const char *path, int way)
{
	int flags = O_WRONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK, fd, err = 0;
	struct stat st;

	if (way == OUT_OWN_FD) {
		fd = fcntl(own_fd(path), F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	if (way == OUT_IN_PLACE)
		flags |= O_NOFOLLOW;
	fd = open(path, flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || fcntl(fd, F_SETFL, 0))
		err = -errno;
	else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		err = -EINVAL;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* A new file beside PATH, of a unique name (mkstemp): its fd, NAME filled. */
static int temp_beside(const char *path, char *name, size_t len)
{
	int fd;

	if (snprintf(name, len, "%s.XXXXXX", path) >= (int)len)
		return -ENAMETOOLONG;
	fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fchmod(fd, 0644);
	return fd;
}

int create_file_beside(const char *path, mode_t mode, char *name, size_t len)
{
	const char *why;
	int way = output_way(path, &why), fd;

	name[0] = '\0';
	if (way < 0)
		return way;
	if (way != OUT_RENAME)
		return open_in_place(path, way);
	fd = temp_beside(path, name, len);
	if (fd < 0) {
		name[0] = '\0';
		return fd;
	}
	if (fchmod(fd, mode)) {
		fd = -errno;
		unlink(name);
		name[0] = '\0';
	}
	return fd;
}

int file_take_place(const char *name, const char *path)
{
	return rename(name, path) ? -errno : 0;
}

int check_output_path(const char *path)
{
	const char *why;
	int way = output_way(path, &why), fd, err;
	char name[4096];

	err = way < 0 ? way : 0;
	/*
	 * Opening a FIFO to try it would end its reader's input: in place,
	 * only the permission is checked.
	 */
	if (!err && way == OUT_OWN_FD && fcntl(own_fd(path), F_GETFL) < 0)
		err = -errno;
	if (!err && (way == OUT_IN_PLACE || way == OUT_IN_PLACE_LINK) && access(path, W_OK))
		err = -errno;
	if (!err && way == OUT_RENAME) {
		fd = temp_beside(path, name, sizeof(name));
		if (fd >= 0) {
			close(fd);
			unlink(name);
		}
		err = fd < 0 ? fd : 0;
	}
	if (err)
		error_msg("cannot write %s: %s", path, why ? why : strerror(-err));
	return err;
}

/*
 * A stream on a file descriptor that keeps its first write error: stdio
 * keeps only that there was one, and an emitter that sees it after
 * more calls (at its flush) could only say EIO, not ENOSPC.
 */
struct emit_file {
	int fd;
	int err;	/* the first failed write's, negative */
};

static ssize_t emit_file_write(void *cookie, const char *buf, size_t len)
{
	struct emit_file *ef = cookie;
	size_t done = 0;
	ssize_t n;

	while (done < len && !ef->err) {
		n = write(ef->fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ef->err = -errno;
		else if (n == 0)
			ef->err = -EIO;
		else
			done += n;
	}
	/* 0 on error, never negative (fopencookie(3)): stdio then flags the stream. */
	return ef->err ? 0 : (ssize_t)done;
}

static int emit_file_close(void *cookie)
{
	struct emit_file *ef = cookie;

	if (close(ef->fd) && !ef->err)
		ef->err = -errno;
	return ef->err ? -1 : 0;
}

/* EMIT into FD, closed after: 0 or the first error, writing's or closing's. */
static int emit_into(int fd, int (*emit)(FILE *f, void *ctx), void *ctx)
{
	static const cookie_io_functions_t io = {
		.write = emit_file_write,
		.close = emit_file_close,
	};
	struct emit_file ef = { .fd = fd };
	FILE *f = fopencookie(&ef, "w", io);
	int err;

	if (!f) {
		err = -errno;
		close(fd);
		return err;
	}
	err = emit(f, ctx);
	if (!err && fflush(f))
		err = -EIO;
	fclose(f);
	/* The write's own error before whatever the emitter made of it. */
	return ef.err ? ef.err : err;
}

int write_file_atomic(const char *path, int (*emit)(FILE *f, void *ctx), void *ctx)
{
	const char *why;
	int way = output_way(path, &why), fd, err;
	char name[4096];

	if (way < 0)
		return way;
	if (way != OUT_RENAME) {
		fd = open_in_place(path, way);
		return fd < 0 ? fd : emit_into(fd, emit, ctx);
	}
	fd = temp_beside(path, name, sizeof(name));
	if (fd < 0)
		return fd;
	stop_removes_temp(STOP_TEMP_OUTPUT, name);
	err = emit_into(fd, emit, ctx);
	if (!err && rename(name, path))
		err = -errno;
	if (err)
		unlink(name);
	stop_removes_temp(STOP_TEMP_OUTPUT, NULL);
	return err;
}

void remove_file_made(const char *path, int fd)
{
	struct stat made, there;

	if (fstat(fd, &made) || !S_ISREG(made.st_mode))
		return;
	if (lstat(path, &there) || there.st_dev != made.st_dev || there.st_ino != made.st_ino)
		return;
	unlink(path);
}

static bool lost;

int output_lost(const char *name, int err)
{
	if (!lost) {
		if (err == -EPIPE)
			error_msg("%s: the reader went away (%s)", name, strerror(EPIPE));
		else
			error_msg("cannot write %s: %s", name, strerror(-err));
	}
	lost = true;
	return err;
}

bool output_failed(void)
{
	return lost;
}

int output_check(FILE *f, const char *name)
{
	int err;

	if (lost)
		return -EIO;
	/* Closed when memlens started, /dev/null since (process_setup()): not written. */
	if (f == stdout && std_fd_was_closed(STDOUT_FILENO))
		return output_lost(name, -EBADF);
	if (fflush(f))
		err = -errno;
	else if (ferror(f))
		err = -EIO;	/* an earlier write's error, its errno gone */
	else
		return 0;
	return output_lost(name, err);
}

/*
 * The write end of a pipe whose reader has gone polls POLLERR: asked for
 * or not, so stdout is polled with no events, which a terminal, a file or
 * a device never answer.
 */
int output_poll(struct pollfd *fds, nfds_t nr, int timeout_ms)
{
	/* A terminal hung up: no longer polled (it answers every poll at once). */
	static bool tty_hung_up;
	/* Asked before it hangs up: a hung-up terminal is no terminal to isatty(). */
	static int stdout_tty = -1;
	struct pollfd all[8];
	int n;

	if (stdout_tty < 0)
		stdout_tty = isatty(STDOUT_FILENO);
	if (nr >= sizeof(all) / sizeof(all[0]))
		return -EINVAL;
	if (lost)
		return -EIO;
	memcpy(all, fds, nr * sizeof(*fds));
	all[nr] = (struct pollfd){ .fd = tty_hung_up ? -1 : STDOUT_FILENO };
	n = poll(all, nr + 1, timeout_ms);
	if (n < 0)
		return -errno;
	memcpy(fds, all, nr * sizeof(*fds));
	/*
	 * A terminal that hangs up (an ssh session gone) sends SIGHUP, the
	 * clean stop it asks for: what goes to files (record, --svg,
	 * --pprof) is still written, what goes to it is lost when written.
	 */
	if ((all[nr].revents & POLLHUP) && stdout_tty) {
		tty_hung_up = true;
		return n - 1;
	}
	/*
	 * A pipe's reader gone is POLLERR, a socket's peer gone POLLHUP
	 * (journald), a closed stdout POLLNVAL: each would answer every poll
	 * at once from now on.
	 */
	if (all[nr].revents & (POLLERR | POLLHUP))
		return output_lost("stdout", -EPIPE);
	if (all[nr].revents & POLLNVAL)
		return output_lost("stdout", -EBADF);
	return n - !!all[nr].revents;
}

/* Not a wait that fails: a poll() error surfaces in the caller's own read of FD. */
int output_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = output_poll(&pfd, 1, timeout_ms);

	return n == -EPIPE || n == -EIO ? n : n > 0;
}
