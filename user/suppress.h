/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Leak suppressions in LeakSanitizer's syntax: "leak:PATTERN" a line, "#"
 * comments; PATTERN is matched against the function, the source file and
 * the module of every frame of a block's stack, as a substring, with "*"
 * for any run of characters, "^" at its start and "$" at its end as
 * anchors. A lost block whose stack matches is counted as suppressed. A
 * default list for what glibc, ld.so and libstdc++ keep by design ships
 * built in.
 */
#ifndef MEMLENS_SUPPRESS_H
#define MEMLENS_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include "stack_report.h"

struct suppressions {
	char **pat;
	size_t nr, cap;
};

/* Add the patterns of FILE, as CMD's option: errors are said in one line; -errno. */
int suppressions_load(struct suppressions *s, const char *path, const char *cmd);
/* Add memlens's default list. */
int suppressions_add_defaults(struct suppressions *s);
void suppressions_free(struct suppressions *s);
/* LSan's template match: PATTERN in STR (see above). */
bool suppression_match(const char *pattern, const char *str);
/* Does a pattern of S match a frame of ST? */
bool suppressions_match(const struct suppressions *s, const struct sym_stack *st);
/*
 * The lost blocks (definitely, indirectly, possibly) of each of R's
 * groups whose stack S matches become suppressed.
 */
void suppressions_apply(const struct suppressions *s, struct stack_report *r);

#endif
