// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The raw tracepoint guard (tpguard.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "tpguard.h"
#include "tp_args.h"

const struct tp_args *tp_args_find(const char *tp, const char *prog)
{
	for (size_t i = 0; i < sizeof(tp_args_table) / sizeof(tp_args_table[0]); i++)
		if (!strcmp(tp_args_table[i].tp, tp) && !strcmp(tp_args_table[i].prog, prog))
			return &tp_args_table[i];
	return NULL;
}

/* Append to a string of LEN bytes, cut short rather than overflowing. */
static void appendf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void appendf(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* The C keywords that spell an integer type, in any order. */
static bool int_word(const char *w)
{
	static const char *const words[] = { "unsigned", "signed", "long", "short", "int", "char" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(w, words[i]))
			return true;
	return false;
}

struct int_spelling {
	bool is_unsigned, is_signed, is_short, is_char;
	int longs;
	bool any;
};

static void int_add(struct int_spelling *n, const char *w)
{
	n->any = true;
	n->is_unsigned |= !strcmp(w, "unsigned");
	n->is_signed |= !strcmp(w, "signed");
	n->is_short |= !strcmp(w, "short");
	n->is_char |= !strcmp(w, "char");
	n->longs += !strcmp(w, "long");
}

/* One spelling per integer type: "long unsigned int" is "unsigned long". */
static void int_flush(struct int_spelling *n, char *out, size_t len)
{
	const char *base = "int";

	if (!n->any)
		return;
	if (n->is_char)
		base = n->is_signed ? "signed char" : "char";
	else if (n->is_short)
		base = "short";
	else if (n->longs)
		base = n->longs > 1 ? "long long" : "long";
	appendf(out, len, "%s%s%s ", out[0] && out[strlen(out) - 1] != ' ' ? " " : "",
		n->is_unsigned ? "unsigned " : "", base);
	memset(n, 0, sizeof(*n));
}

/*
 * Qualifiers go: a const or volatile argument is read the same. Words
 * and the other characters ('*', brackets) come out one space apart.
 */
void tp_type_normalize(const char *decl, char *out, size_t len)
{
	struct int_spelling n = {};
	char word[128];

	out[0] = 0;
	for (const char *c = decl; *c;) {
		size_t w = 0;

		if (isspace((unsigned char)*c)) {
			c++;
			continue;
		}
		if (!isalnum((unsigned char)*c) && *c != '_') {
			int_flush(&n, out, len);
			appendf(out, len, "%c ", *c++);
			continue;
		}
		while ((isalnum((unsigned char)*c) || *c == '_') && w + 1 < sizeof(word))
			word[w++] = *c++;
		word[w] = 0;
		if (!strcmp(word, "const") || !strcmp(word, "volatile") || !strcmp(word, "restrict"))
			continue;
		if (int_word(word)) {
			int_add(&n, word);
			continue;
		}
		int_flush(&n, out, len);
		appendf(out, len, "%s ", word);
	}
	int_flush(&n, out, len);
	len = strlen(out);
	if (len && out[len - 1] == ' ')
		out[len - 1] = 0;
}

#define DECL_LEN	128

/* btf_dump's output, one declaration at a time. */
static void dump_printf(void *ctx, const char *fmt, va_list args)
{
	char *decl = ctx;
	size_t used = strlen(decl);

	if (used + 1 < DECL_LEN)
		vsnprintf(decl + used, DECL_LEN - used, fmt, args);
}

/*
 * The func proto of this kernel's btf_trace_TP (typedef, pointer, proto):
 * 0, -ENOENT without the tracepoint, -EPROTO when it has another shape.
 */
static int trace_proto(const struct btf *btf, const char *tp, const struct btf_type **proto)
{
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL;
	if (!t || !btf_is_ptr(t))
		return -EPROTO;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -EPROTO;
	*proto = t;
	return 0;
}

int tp_args_check(const struct btf *btf, const struct tp_args *a, char *kargs, size_t len)
{
	LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts, .field_name = "");
	char decl[DECL_LEN], mine[DECL_LEN], theirs[DECL_LEN];
	const struct btf_type *proto;
	const struct btf_param *p;
	struct btf_dump *d;
	int nr, same = 0, err;

	kargs[0] = 0;
	err = trace_proto(btf, a->tp, &proto);
	if (err)
		return err;
	d = btf_dump__new(btf, dump_printf, decl, NULL);
	if (!d)
		return -errno;
	/* Param 0 is the tracepoint's void *__data: the program's ctx[0] is param 1. */
	nr = btf_vlen(proto) - 1;
	p = btf_params(proto) + 1;
	for (int i = 0; i < nr; i++) {
		decl[0] = 0;
		btf_dump__emit_type_decl(d, p[i].type, &opts);
		appendf(kargs, len, "%s%s", i ? ", " : "", decl);
		if (i >= a->nr)
			continue;
		tp_type_normalize(decl, theirs, sizeof(theirs));
		tp_type_normalize(a->types[i], mine, sizeof(mine));
		same += !strcmp(mine, theirs);
	}
	btf_dump__free(d);
	return nr >= a->nr && same == a->nr ? 0 : -EPROTO;
}

static void add_name(char *buf, size_t len, const char *tp)
{
	appendf(buf, len, "%s%s", buf[0] ? ", " : "", tp);
}

/* Room for the lists in the lines of struct tp_skips, with their words. */
#define LIST_LEN	(sizeof(((struct tp_skips *)0)->lacking) - 64)

/*
 * The two lines, once every program is seen. One tracepoint with other
 * arguments: "mark_victim has other arguments (int)"; more: "A (..), B (..)
 * have other arguments".
 */
static void say_why(struct tp_skips *s, const char *lacking, char *differing,
		    int nr_differing)
{
	char *paren = strchr(differing, '(');

	if (lacking[0])
		snprintf(s->lacking, sizeof(s->lacking), "this kernel lacks %s: not traced",
			 lacking);
	if (!nr_differing)
		return;
	if (nr_differing == 1 && paren && paren > differing) {
		paren[-1] = 0;
		snprintf(s->differing, sizeof(s->differing),
			 "this kernel's %s has other arguments %s: not traced", differing, paren);
		return;
	}
	snprintf(s->differing, sizeof(s->differing),
		 "this kernel's %s have other arguments: not traced", differing);
}

int tp_guard(struct bpf_object *obj, const struct btf *btf, struct tp_skips *s)
{
	char lacking[LIST_LEN] = "", differing[LIST_LEN] = "", kargs[256];
	struct bpf_program *prog;
	int nr_differing = 0;

	memset(s, 0, sizeof(*s));
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog), *tp = sec + 7;
		const struct tp_args *a;
		int err;

		if (!bpf_program__autoload(prog) || strncmp(sec, "raw_tp/", 7))
			continue;
		/* Every raw_tp program is in the table (the build makes it): a bug else. */
		a = tp_args_find(tp, bpf_program__name(prog));
		if (!a)
			return -ENOKEY;
		err = tp_args_check(btf, a, kargs, sizeof(kargs));
		if (err && err != -ENOENT && err != -EPROTO)
			return err;
		if (!err) {
			s->kept++;
			continue;
		}
		bpf_program__set_autoload(prog, false);
		s->left_out++;
		add_name(s->names, sizeof(s->names), tp);
		if (err == -ENOENT)
			add_name(lacking, sizeof(lacking), tp);
		else
			appendf(differing, sizeof(differing), "%s%s (%s)",
				nr_differing++ ? ", " : "", tp, kargs);
	}
	say_why(s, lacking, differing, nr_differing);
	return 0;
}
