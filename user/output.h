/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What every view prints with: sizes, JSON strings, clean names, output files. */
#ifndef MEMLENS_OUTPUT_H
#define MEMLENS_OUTPUT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* 1536 -> "1.5K": four significant characters at most, binary units. */
const char *human_bytes(double v, char *buf, size_t len);
/* S as a JSON string, quotes included; control and non-ASCII bytes as \u00XX. */
void json_print_string(FILE *out, const char *s);
/* S with control characters as '?': names from a file may carry terminal escapes. */
void print_clean(FILE *out, const char *s);
/*
 * Output paths: a regular file (or none) is made anew under a unique name
 * beside PATH and renamed over it, so that a reader never sees half a file
 * and no file that was there is written into; a FIFO, a device or a link
 * to one (/dev/null, /dev/stdout) is written in place, never replaced by
 * a file; a directory or a link to a regular file is refused.
 *
 * A new, empty file for PATH with MODE, open for writing: under its unique
 * name, NAME (LEN bytes), until file_take_place() renames it over PATH, so
 * that what was at PATH stays there until the new file is worth it. NAME
 * is "" where PATH is written in place and nothing is to be renamed.
 */
int create_file_beside(const char *path, mode_t mode, char *name, size_t len);
int file_take_place(const char *name, const char *path);
/* Can an output file be written at PATH? One message if not; negative errno. */
int check_output_path(const char *path);
/* Write PATH whole through EMIT(f, CTX): the first error, EMIT's or writing's. */
int write_file_atomic(const char *path, int (*emit)(FILE *f, void *ctx), void *ctx);
/*
 * Remove PATH if it is still the regular file FD (from create_file_beside)
 * made there: a device or a FIFO written in place is never removed, nor
 * a file someone put there since.
 */
void remove_file_made(const char *path, int fd);
/*
 * Lost output ends the run: every command checks stdout after each report
 * and watches, while it waits, for the reader of a pipe to go away; the
 * first loss is said in one line ("stdout: the reader went away", "cannot
 * write stdout: No space left on device"), and later checks fail quietly.
 *
 * F flushed: 0, or its first write error (said once), a negative errno.
 */
int output_check(FILE *f, const char *name);
/*
 * Output to NAME (stdout, a file's path) lost with ERR: said in one line
 * ("NAME: the reader went away" for EPIPE), the first time only. ERR.
 */
int output_lost(const char *name, int err);
/* Has output been lost? Then the error was said already. */
bool output_failed(void);
/* poll(FDS, NR, TIMEOUT_MS), stdout's reader watched too: -EPIPE once it is gone. */
int output_poll(struct pollfd *fds, nfds_t nr, int timeout_ms);
/* Up to TIMEOUT_MS until FD (-1: none) is readable: 1 if it is, else 0, or -EPIPE (-EIO) as output was lost. */
int output_wait(int fd, int timeout_ms);

#endif
