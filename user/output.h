/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What every view prints with: sizes, JSON strings, clean names, output files. */
#ifndef MEMLENS_OUTPUT_H
#define MEMLENS_OUTPUT_H

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
 * A new, empty file at PATH with MODE, open for writing: made under a
 * unique name beside it and renamed over PATH at once, so that no file
 * that was there (or a link someone made) is written into.
 */
int create_file_anew(const char *path, mode_t mode);
/* Can an output file be written at PATH? One message if not; negative errno. */
int check_output_path(const char *path);
/*
 * Write PATH whole through EMIT(f, CTX): into a new file of a unique name
 * beside it, then renamed over it, so that a reader never sees half a file
 * and no name is opened that someone could have made a link beforehand.
 */
int write_file_atomic(const char *path, int (*emit)(FILE *f, void *ctx), void *ctx);

#endif
