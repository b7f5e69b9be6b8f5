// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Stack reports as folded lines and SVG flame graphs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "flameset.h"
#include "output.h"
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

struct svg_job {
	const struct flame_set *set;
	const char *title, *unit;
};

static int write_svg(FILE *f, void *ctx)
{
	const struct svg_job *job = ctx;

	return flamegraph_write_svg(f, job->title, job->unit, job->set->stacks, job->set->nr);
}

int flame_set_write_svg(const struct flame_set *s, const char *path, const char *title,
			const char *unit)
{
	struct svg_job job = { .set = s, .title = title, .unit = unit };

	return write_file_atomic(path, write_svg, &job);
}
