// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Leak suppressions (suppress.h), matched as LeakSanitizer's TemplateMatch does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "suppress.h"
#include "util.h"

/*
 * Kept by design, freed never, yet reached in ways the scan may not
 * follow (a pointer past a block's start, mangled, or in ld.so's own
 * data): what LSan's and valgrind's default suppressions cover too.
 */
/*
 * Anchored to glibc's and libstdc++'s own names, so that a program's
 * function that merely contains one (parse_nl_msg) is never suppressed.
 */
static const char *const default_patterns[] = {
	"^_dl_allocate_tls$",	/* a thread's DTV: glibc keeps a pointer past its first word */
	"^__minimal_malloc$",	/* ld.so's allocator before libc's: TLS, search paths */
	"^_dl_map_object",	/* link maps and names of the modules loaded */
	"^_dl_new_object$",
	"^_dl_init_paths$",
	"^_IO_file_doallocate$",	/* stdio buffers */
	"^_nl_",		/* locale data (setlocale, gettext) */
	"^__nss_",		/* name service modules and their caches */
	"::pool::pool",		/* libstdc++'s emergency pool for exceptions (72,704 bytes) */
	"^__cxa_get_globals",	/* libstdc++'s per-thread exception state */
};

static int add(struct suppressions *s, const char *pat, size_t len)
{
	char *p = strndup(pat, len);

	if (!p || array_grow((void **)&s->pat, s->nr, &s->cap, sizeof(*s->pat))) {
		free(p);
		return -ENOMEM;
	}
	s->pat[s->nr++] = p;
	return 0;
}

int suppressions_add_defaults(struct suppressions *s)
{
	for (size_t i = 0; i < sizeof(default_patterns) / sizeof(*default_patterns); i++)
		if (add(s, default_patterns[i], strlen(default_patterns[i])))
			return -ENOMEM;
	return 0;
}

/* One line: 0 (a suppression or nothing), or -EINVAL. */
static int parse_line(struct suppressions *s, char *line)
{
	size_t len;

	line += strspn(line, " \t");
	len = strcspn(line, "\r\n");
	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!len || line[0] == '#')
		return 0;
	if (len <= 5 || strncmp(line, "leak:", 5))
		return -EINVAL;
	return add(s, line + 5, len - 5);
}

int suppressions_load(struct suppressions *s, const char *path, const char *cmd)
{
	char line[4096];
	unsigned int nr = 0;
	int fd = open_regular(path), err = 0;
	FILE *f;

	if (fd < 0) {
		error_msg("%s: cannot read suppressions %s: %s", cmd, path,
			  fd == -EINVAL ? "not a regular file" : strerror(-fd));
		return fd;
	}
	f = fdopen(fd, "r");
	if (!f) {
		err = -errno;
		close(fd);
		error_msg("%s: cannot read suppressions %s: %s", cmd, path, strerror(-err));
		return err;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		nr++;
		err = parse_line(s, line);
		if (err == -EINVAL)
			error_msg("%s: %s:%u: not a suppression (leak:PATTERN): %.*s", cmd, path, nr,
				  (int)strcspn(line, "\r\n"), line);
		else if (err)
			error_msg("%s: cannot read suppressions %s: %s", cmd, path, strerror(-err));
	}
	if (!err && ferror(f)) {
		err = -EIO;
		error_msg("%s: cannot read suppressions %s: %s", cmd, path, strerror(EIO));
	}
	fclose(f);
	return err;
}

void suppressions_free(struct suppressions *s)
{
	for (size_t i = 0; i < s->nr; i++)
		free(s->pat[i]);
	free(s->pat);
	memset(s, 0, sizeof(*s));
}

/* The length of the literal run at the start of T: up to its '*' or '$'. */
static size_t literal_len(const char *t)
{
	return strcspn(t, "*$");
}

bool suppression_match(const char *templ, const char *str)
{
	bool start = false, asterisk = false;
	char piece[4096];

	if (!str || !*str)
		return false;
	if (*templ == '^') {
		start = true;
		templ++;
	}
	while (*templ) {
		const char *spos;
		size_t n;

		if (*templ == '*') {
			templ++;
			start = false;
			asterisk = true;
			continue;
		}
		if (*templ == '$')
			return !*str || asterisk;
		if (!*str)
			return false;
		n = literal_len(templ);
		if (n >= sizeof(piece))
			return false;
		memcpy(piece, templ, n);
		piece[n] = '\0';
		spos = strstr(str, piece);
		if (!spos || (start && spos != str))
			return false;
		str = spos + n;
		templ += n;
		start = false;
		asterisk = false;
	}
	return true;
}

bool suppressions_match(const struct suppressions *s, const struct sym_stack *st)
{
	for (size_t f = 0; st && f < st->nr; f++) {
		const struct frame_info *fi = &st->frames[f];

		for (size_t i = 0; i < s->nr; i++)
			if (suppression_match(s->pat[i], fi->symbol) ||
			    suppression_match(s->pat[i], fi->file) ||
			    suppression_match(s->pat[i], fi->module))
				return true;
	}
	return false;
}

void suppressions_apply(const struct suppressions *s, struct stack_report *r)
{
	static const enum reach_class lost[] = { REACH_DEFINITE, REACH_INDIRECT, REACH_POSSIBLE };

	for (size_t i = 0; i < r->nr_groups; i++) {
		struct stack_group *g = &r->groups[i];
		uint64_t n = 0;

		for (size_t c = 0; c < 3; c++)
			n += g->reach_count[lost[c]];
		if (!n || !suppressions_match(s, r->stack(r->ctx, g->stack_id)))
			continue;
		for (size_t c = 0; c < 3; c++) {
			g->reach_count[REACH_SUPPRESSED] += g->reach_count[lost[c]];
			g->reach_bytes[REACH_SUPPRESSED] += g->reach_bytes[lost[c]];
			g->reach_count[lost[c]] = g->reach_bytes[lost[c]] = 0;
		}
	}
}
