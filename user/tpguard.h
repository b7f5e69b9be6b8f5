/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The raw tracepoint guard. A raw_tp program reads its tracepoint's
 * arguments as untyped u64s, in the order of the kernel it was built
 * against (vmlinux.h): on a kernel where the tracepoint has fewer, attach
 * fails (EINVAL); where the types differ, it silently reads the wrong
 * thing. Before loading, each raw_tp program is compared with the running
 * kernel's btf_trace_TP, and left out when the kernel lacks the tracepoint
 * or types its first N arguments otherwise (N: what the program reads).
 * The loaders and memlens doctor (kplan.c) apply this one rule.
 */
#ifndef MEMLENS_TPGUARD_H
#define MEMLENS_TPGUARD_H

#include <stdbool.h>
#include <stddef.h>

struct btf;
struct bpf_object;
struct bpf_program;

#define TP_ARGS_MAX	12

/* What a raw_tp program reads: generated at build time (scripts/gen-tp-args.sh). */
struct tp_args {
	const char *tp;
	const char *prog;
	int nr;
	const char *types[TP_ARGS_MAX];	/* as vmlinux.h spells them */
};

/* The entry of program PROG on raw tracepoint TP, or NULL. */
const struct tp_args *tp_args_find(const char *tp, const char *prog);

/*
 * Whether this kernel's tracepoint A->tp (BTF btf_trace_TP in BTF) passes
 * at least A->nr arguments typed as A->types: 0; -ENOENT when there is no
 * such tracepoint; -EPROTO when its arguments differ, then all the
 * kernel's argument types, comma-separated, into KARGS. Types are compared
 * as C declarations, without qualifiers, integers by their meaning
 * ("unsigned long" is "long unsigned int"), typedefs by name.
 */
int tp_args_check(const struct btf *btf, const struct tp_args *a, char *kargs, size_t len);

/* The canonical spelling of C type declaration DECL into OUT (see above). */
void tp_type_normalize(const char *decl, char *out, size_t len);

/* The raw_tp programs a guard left out, and why: one line for each reason. */
struct tp_skips {
	int kept;		/* raw_tp programs still to load */
	int left_out;
	char names[512];	/* the tracepoints left out, comma-separated */
	char lacking[512];	/* "this kernel lacks A, B: not traced", or "" */
	char differing[512];	/* "this kernel's A has other arguments (...)...", or "" */
};

/*
 * Leave out (autoload off) the raw_tp programs of OBJ still to load that
 * this kernel (vmlinux BTF BTF) lacks or passes other arguments: what is
 * left still works. 0 or negative errno; S says what and why.
 */
int tp_guard(struct bpf_object *obj, const struct btf *btf, struct tp_skips *s);

#endif
