// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Stack reports as folded lines and SVG flame graphs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "flameset.h"
#include "util.h"

int flame_set_add(struct flame_set *s, const char *const *frames, size_t nr, uint64_t value)
{
	struct flame_stack *st;
	char **copy;

	if (array_grow((void **)&s->stacks, s->nr, &s->cap, sizeof(*s->stacks)))
		return -ENOMEM;
	copy = calloc(nr ? nr : 1, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		copy[i] = strdup(frames[i] ? frames[i] : "?");
		if (!copy[i]) {
			while (i--)
				free(copy[i]);
			free(copy);
			return -ENOMEM;
		}
	}
	st = &s->stacks[s->nr++];
	st->frames = (const char *const *)copy;
	st->nr = nr;
	st->value = value;
	return 0;
}

void flame_set_free(struct flame_set *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		for (size_t f = 0; f < s->stacks[i].nr; f++)
			free((char *)s->stacks[i].frames[f]);
		free((void *)s->stacks[i].frames);
	}
	free(s->stacks);
	memset(s, 0, sizeof(*s));
}

/* A name as one field of a folded line: ';' separates frames, '\n' lines. */
static void print_folded_name(FILE *out, const char *name)
{
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if (*c == ';')
			fputc(':', out);
		else if (*c < 0x20 || *c == 0x7f)
			fputc('?', out);
		else
			fputc(*c, out);
	}
}

void flame_set_print_folded(FILE *out, const struct flame_set *s)
{
	for (size_t i = 0; i < s->nr; i++) {
		const struct flame_stack *st = &s->stacks[i];

		for (size_t f = 0; f < st->nr; f++) {
			if (f)
				fputc(';', out);
			print_folded_name(out, st->frames[f]);
		}
		fprintf(out, " %llu\n", (unsigned long long)st->value);
	}
	fflush(out);
}

static int tmp_path(const char *path, char *buf, size_t len)
{
	if (snprintf(buf, len, "%s.tmp", path) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int flame_set_write_svg(const struct flame_set *s, const char *path, const char *title,
			const char *unit)
{
	char tmp[4096];
	FILE *f;
	int err;

	/* Aside, then renamed: a browser reloading it never sees half a file. */
	err = tmp_path(path, tmp, sizeof(tmp));
	if (err)
		return err;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	err = flamegraph_write_svg(f, title, unit, s->stacks, s->nr);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}
