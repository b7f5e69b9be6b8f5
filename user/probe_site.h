/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_PROBE_SITE_H
#define MEMLENS_PROBE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Where in a function a uprobe is cheapest without changing what it sees.
 * x86_64 only: elsewhere every probe stays on the entry.
 */

/* What one instruction is to a uprobe placed on it. */
enum insn_kind {
	INSN_UNKNOWN,		/* not decoded here: single-stepped, and a stop */
	INSN_EMULATED,		/* the kernel emulates it: one trap */
	INSN_ENDBR,		/* endbr64: single-stepped, changes nothing */
	INSN_QUIET,		/* single-stepped; writes only flags or REGS given */
	INSN_WRITES,		/* decoded, but writes what a probe may read */
};

struct insn {
	enum insn_kind kind;
	unsigned int len;	/* bytes; 0 when unknown */
	const char *name;	/* "push", "jcc", "test", ... or "?" */
	bool test_rdi;		/* test %rdi,%rdi */
	bool je;		/* je rel8 / rel32 */
};

/*
 * Decode the instruction at CODE (LEN bytes available). FREE_REGS: the
 * registers (bit N: x86 register number N, rax = 0 ... r15 = 15) that an
 * instruction may write and still be INSN_QUIET.
 */
void insn_decode(const unsigned char *code, size_t len, unsigned int free_regs,
		 struct insn *in);

/* Registers an entry probe reading NR_ARGS arguments leaves free. */
unsigned int probe_free_regs(unsigned int nr_args);

struct probe_site {
	unsigned int skip;	/* bytes from the entry to the probe */
	const char *insn;	/* the instruction probed */
	bool emulated;		/* the kernel emulates it: no single step */
	bool past_null_test;	/* f(NULL) never reaches it */
};

/*
 * Where to probe a function whose first bytes are CODE: past a leading
 * endbr64 always; then past instructions that only set flags or free
 * registers, onto the first one the kernel emulates, never past a branch
 * (every call passes there once). NULL_IS_NOOP: f(NULL) does nothing
 * memlens counts, so a `test %rdi,%rdi; je` may be passed too when an
 * emulated instruction follows it. SIZE: the function's bytes (its
 * symbol's st_size, 0: not known): the probe stays on an instruction whole
 * inside them, never on the next function's. Nothing else of the function
 * is known here: see probe_site_branched_to().
 */
void probe_site_find(const unsigned char *code, size_t len, size_t size, unsigned int nr_args,
		     bool null_is_noop, struct probe_site *ps);

/* PS for a probe on the entry of the function whose first bytes are CODE. */
void probe_site_entry(const unsigned char *code, size_t len, struct probe_site *ps);

/* A range of code no branch may land in: (FROM, TO], positions in a text. */
struct branch_window {
	size_t from, to;
	bool hit;		/* set when a branch may land there */
};

/*
 * Mark the windows a direct branch or call (rel8, rel32) anywhere in TEXT
 * (N bytes) may land in, but for one from the window's bytes [FROM, TO)
 * onto TO, the probe (each call meets it once). Every byte is tried as the
 * start of one: data that only looks like a branch may mark a window, a
 * real branch always does. One pass for all NR windows.
 */
void probe_sites_branched_to(const unsigned char *text, size_t n, struct branch_window *w,
			     size_t nr);

#endif
