// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What every view prints with: sizes for people, strings for JSON and for
 * terminals, and the output files (-o, --svg, --pprof) written so that a
 * reader never sees half a file.
 */
#include <errno.h>
#include <fcntl.h>
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

int create_file_anew(const char *path, mode_t mode)
{
	char name[4096];
	int fd = temp_beside(path, name, sizeof(name));

	if (fd < 0)
		return fd;
	if (fchmod(fd, mode) || rename(name, path)) {
		int err = -errno;

		close(fd);
		unlink(name);
		return err;
	}
	return fd;
}

int check_output_path(const char *path)
{
	char name[4096];
	int fd = temp_beside(path, name, sizeof(name));

	if (fd < 0) {
		error_msg("cannot write %s: %s", path, strerror(-fd));
		return fd;
	}
	close(fd);
	unlink(name);
	return 0;
}

int write_file_atomic(const char *path, int (*emit)(FILE *f, void *ctx), void *ctx)
{
	char name[4096];
	int fd = temp_beside(path, name, sizeof(name)), err;
	FILE *f;

	if (fd < 0)
		return fd;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(name);
		return err;
	}
	err = emit(f, ctx);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(name, path))
		err = -errno;
	if (err)
		unlink(name);
	return err;
}
