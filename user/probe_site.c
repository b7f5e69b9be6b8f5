// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Where a uprobe is cheapest. A uprobe traps on its int3; then the kernel
 * either emulates the instruction it replaced or copies it out of line and
 * single-steps it: a second trap, ~20 us instead of ~5 us on a VM. What
 * x86_64 kernels emulate (arch/x86/kernel/uprobes.c, branch_setup_xol_ops()
 * and push_setup_xol_ops(), every kernel since 4.17):
 * - push of a register: 50+r, and 41 50+r for r8..r15 (no other prefix);
 * - jmp rel8/rel32, call rel32, jcc rel8/rel32, nop (90), with no 66 prefix.
 * Nothing else: not endbr64, test, cmp, mov, lea, sub.
 *
 * A probe may move from the entry onto a later instruction only when every
 * call passes there exactly once and sees there what it saw at the entry:
 * the arguments the program reads, %rsp (the return address a return probe
 * takes, the CFA the unwinder starts from) and %rbp. So only straight-line
 * code is passed: instructions that set flags, read memory or write
 * registers nobody reads at the probe, and never a branch, a store or a
 * stack operation. Branches into the code passed are ruled out by the
 * caller (probe_sites_branched_to()).
 */
#include <string.h>
#include "probe_site.h"

#define REG_RAX 0
#define REG_RSP 4
#define REG_RBP 5
#define REG_R10 10
#define REG_R11 11

/* System V argument registers, in order: rdi, rsi, rdx, rcx, r8, r9. */
static const unsigned char arg_regs[] = { 7, 6, 2, 1, 8, 9 };

unsigned int probe_free_regs(unsigned int nr_args)
{
	unsigned int regs = 1u << REG_RAX | 1u << REG_R10 | 1u << REG_R11;

	for (unsigned int i = nr_args; i < sizeof(arg_regs); i++)
		regs |= 1u << arg_regs[i];
	return regs;
}

/* Bytes of a ModRM operand (ModRM, SIB, displacement), 64-bit addressing. */
static unsigned int modrm_len(const unsigned char *p, size_t len)
{
	unsigned int mod = p[0] >> 6, rm = p[0] & 7, n = 1;

	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (len < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4;		/* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= len ? n : 0;
}

static void set(struct insn *in, enum insn_kind kind, unsigned int len, const char *name)
{
	in->kind = len ? kind : INSN_UNKNOWN;
	in->len = len;
	in->name = len ? name : "?";
}

/* The emulated ones: push reg, relative jumps and calls, nop. */
static bool decode_emulated(const unsigned char *c, size_t len, struct insn *in)
{
	unsigned char op = c[0];

	if (op >= 0x50 && op <= 0x57) {
		set(in, INSN_EMULATED, 1, "push");
	} else if (op == 0x41 && len >= 2 && c[1] >= 0x50 && c[1] <= 0x57) {
		set(in, INSN_EMULATED, 2, "push");
	} else if (op == 0x90) {
		set(in, INSN_EMULATED, 1, "nop");
	} else if (op == 0xeb) {
		set(in, INSN_EMULATED, len >= 2 ? 2 : 0, "jmp");
	} else if (op >= 0x70 && op <= 0x7f) {
		set(in, INSN_EMULATED, len >= 2 ? 2 : 0, "jcc");
		in->je = op == 0x74;
	} else if (op == 0xe9 || op == 0xe8) {
		set(in, INSN_EMULATED, len >= 5 ? 5 : 0, op == 0xe9 ? "jmp" : "call");
	} else if (op == 0x0f && len >= 2 && c[1] >= 0x80 && c[1] <= 0x8f) {
		set(in, INSN_EMULATED, len >= 6 ? 6 : 0, "jcc");
		in->je = c[1] == 0x84;
	} else {
		return false;
	}
	return true;
}

/*
 * ALU operations on a register or memory: OP r/m,r (01 09 21 29 31 89) and
 * OP r,r/m (03 0b 23 2b 33 8b); cmp (38-3b) and test (84 85) only read.
 */
static void decode_alu(const unsigned char *c, size_t len, unsigned int rex,
		       unsigned int free_regs, struct insn *in)
{
	unsigned char op = c[0];
	unsigned int m, dst;
	bool to_rm = !(op & 2);

	m = len >= 2 ? modrm_len(c + 1, len - 1) : 0;
	if (!m)
		return;
	if ((op >= 0x38 && op <= 0x3b) || op == 0x84 || op == 0x85) {
		set(in, INSN_QUIET, 1 + m, op >= 0x84 ? "test" : "cmp");
	} else if (to_rm && c[1] >> 6 != 3) {
		set(in, INSN_WRITES, 1 + m, "store");
	} else {
		dst = to_rm ? (c[1] & 7) | (rex & 1) << 3 : (c[1] >> 3 & 7) | (rex & 4) << 1;
		set(in, free_regs >> dst & 1 ? INSN_QUIET : INSN_WRITES, 1 + m,
		    (op & 0xfc) == 0x88 ? "mov" : "alu");
	}
}

/* 80/81/83 /N (add ... cmp with an immediate), c1 /N (shifts), f6/f7 /0 (test). */
static void decode_group(const unsigned char *c, size_t len, unsigned int rex,
			 unsigned int free_regs, struct insn *in)
{
	unsigned char op = c[0];
	unsigned int m, ext, rm, imm = op == 0x81 || op == 0xf7 ? 4 : 1;
	bool test = op == 0xf6 || op == 0xf7;

	m = len >= 2 ? modrm_len(c + 1, len - 1) : 0;
	if (!m || 1 + m + imm > len)
		return;
	ext = c[1] >> 3 & 7;
	rm = (c[1] & 7) | (rex & 1) << 3;
	if (test && ext > 1)
		return;		/* not, neg, mul, div */
	if (test || ((op & 0xfc) == 0x80 && ext == 7))
		set(in, INSN_QUIET, 1 + m + imm, test ? "test" : "cmp");
	else if (c[1] >> 6 != 3)
		set(in, INSN_WRITES, 1 + m + imm, "store");
	else
		set(in, free_regs >> rm & 1 ? INSN_QUIET : INSN_WRITES, 1 + m + imm,
		    op == 0xc1 ? "shift" : "alu");
}

void insn_decode(const unsigned char *code, size_t len, unsigned int free_regs,
		 struct insn *in)
{
	const unsigned char *c = code;
	unsigned int rex = 0, pre = 0;

	memset(in, 0, sizeof(*in));
	set(in, INSN_UNKNOWN, 0, "?");
	if (len >= 4 && !memcmp(code, "\xf3\x0f\x1e\xfa", 4)) {
		set(in, INSN_ENDBR, 4, "endbr64");
		return;
	}
	if (len && decode_emulated(code, len, in))
		return;
	/* Padding's operand-size and segment prefixes; %fs/%gs reads; then REX. */
	while (len > pre + 1 && c[pre] == 0x66 && (c[pre + 1] == 0x66 || c[pre + 1] == 0x2e))
		pre++;
	if (len > pre + 1 && c[pre] == 0x66 && c[pre + 1] == 0x0f)
		pre++;
	if (len > pre && (c[pre] == 0x64 || c[pre] == 0x65 || c[pre] == 0x2e))
		pre++;
	if (len > pre && c[pre] >= 0x40 && c[pre] <= 0x4f)
		rex = c[pre++];
	if (len <= pre)
		return;
	c += pre;
	len -= pre;
	switch (c[0]) {
	case 0x01: case 0x03: case 0x09: case 0x0b: case 0x21: case 0x23:
	case 0x29: case 0x2b: case 0x31: case 0x33: case 0x38: case 0x39:
	case 0x3a: case 0x3b: case 0x84: case 0x85: case 0x89: case 0x8b:
		decode_alu(c, len, rex, free_regs, in);
		break;
	case 0x80: case 0x81: case 0x83: case 0xc1: case 0xf6: case 0xf7:
		decode_group(c, len, rex, free_regs, in);
		break;
	case 0x8d: {	/* lea: computes an address, reads nothing */
		unsigned int m = len >= 2 ? modrm_len(c + 1, len - 1) : 0;
		unsigned int dst = m ? (c[1] >> 3 & 7) | (rex & 4) << 1 : 0;

		if (m)
			set(in, free_regs >> dst & 1 ? INSN_QUIET : INSN_WRITES, 1 + m, "lea");
		break;
	}
	case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
		unsigned int imm = rex & 8 ? 8 : 4, dst = (c[0] & 7) | (rex & 1) << 3;

		if (1 + imm <= len)
			set(in, free_regs >> dst & 1 ? INSN_QUIET : INSN_WRITES, 1 + imm, "mov");
		break;
	}
	case 0x3c: case 0xa8:
		if (len >= 2)
			set(in, INSN_QUIET, 2, c[0] == 0x3c ? "cmp" : "test");
		break;
	case 0x3d: case 0xa9:
		if (len >= 5)
			set(in, INSN_QUIET, 5, c[0] == 0x3d ? "cmp" : "test");
		break;
	/*
	 * Never passed by a probe (INSN_UNKNOWN), but their lengths let a
	 * function be decoded from its entry, and -v name them.
	 */
	case 0xc3:
		set(in, INSN_UNKNOWN, 1, "ret");
		break;
	case 0xff:
		if (len >= 2 && ((c[1] >> 3 & 7) == 2 || (c[1] >> 3 & 7) == 4)) {
			unsigned int m = modrm_len(c + 1, len - 1);

			set(in, INSN_UNKNOWN, m ? 1 + m : 0,
			    (c[1] >> 3 & 7) == 2 ? (c[1] >> 6 == 3 ? "call *reg" : "call *mem")
						 : (c[1] >> 6 == 3 ? "jmp *reg" : "jmp *mem"));
		}
		break;
	case 0x0f:	/* nopw/nopl, multi-byte padding */
		if (len >= 3 && c[1] == 0x1f) {
			unsigned int m = modrm_len(c + 2, len - 2);

			set(in, INSN_UNKNOWN, m ? 2 + m : 0, "nop");
		}
		break;
	case 0x05: case 0x0d: case 0x25: case 0x2d: case 0x35:	/* op %eax,imm32 */
		if (len >= 5)
			set(in, free_regs & 1u << REG_RAX ? INSN_QUIET : INSN_WRITES, 5, "alu");
		break;
	}
	if (in->len)
		in->len += pre;
	if (in->kind == INSN_QUIET && rex == 0x48 && c[0] == 0x85 && c[1] == 0xff)
		in->test_rdi = true;
}

#define MAX_PASSED 16	/* instructions passed at most: a prologue, not a body */

void probe_site_find(const unsigned char *code, size_t len, size_t size, unsigned int nr_args,
		     bool null_is_noop, struct probe_site *ps)
{
	unsigned int free_regs = probe_free_regs(nr_args);
	size_t pos = 0;
	struct insn in, prev = {};

	memset(ps, 0, sizeof(*ps));
	ps->insn = "?";
	/* Past its end are another function's bytes, or padding. */
	if (size && size < len)
		len = size;
#if defined(__x86_64__)
	for (int n = 0; n < MAX_PASSED && pos < len; n++) {
		insn_decode(code + pos, len - pos, free_regs, &in);
		if (in.kind == INSN_ENDBR && pos == 0) {
			pos = ps->skip = in.len;	/* always: it changes nothing */
			continue;
		}
		if (in.kind == INSN_EMULATED) {
			ps->skip = pos;
			if (null_is_noop && prev.test_rdi && in.je && pos + in.len < len) {
				struct insn next;

				insn_decode(code + pos + in.len, len - pos - in.len, free_regs, &next);
				if (next.kind == INSN_EMULATED) {
					ps->skip = pos + in.len;
					ps->past_null_test = true;
				}
			}
			break;
		}
		if (in.kind != INSN_QUIET)
			break;		/* unknown, or writes what the probe reads */
		prev = in;
		pos += in.len;
	}
	if (ps->skip >= len)	/* a function that is only endbr64 */
		ps->skip = 0;
#else
	(void)null_is_noop;
	(void)prev;
	return;		/* the entry, and nothing said of it */
#endif
	insn_decode(code + ps->skip, len - ps->skip, free_regs, &in);
	ps->insn = in.name;
	ps->emulated = in.kind == INSN_EMULATED;
}

void probe_site_entry(const unsigned char *code, size_t len, struct probe_site *ps)
{
	struct insn in;

	memset(ps, 0, sizeof(*ps));
	insn_decode(code, len, 0, &in);
	ps->insn = in.name;
#if defined(__x86_64__)
	ps->emulated = in.kind == INSN_EMULATED;
#endif
}

/*
 * A branch at SRC to TARGET. Onto the probe (TO) from the bytes passed
 * ([FROM, TO), a jump over them) the flow still meets the probe once per
 * call; from anywhere else (a loop head after it) a second time.
 */
static void mark(struct branch_window *w, size_t nr, size_t src, size_t target)
{
	for (size_t i = 0; i < nr; i++) {
		if (target <= w[i].from || target > w[i].to)
			continue;
		if (target == w[i].to && src >= w[i].from && src < w[i].to)
			continue;
		w[i].hit = true;
	}
}

void probe_sites_branched_to(const unsigned char *text, size_t n, struct branch_window *w,
			     size_t nr)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char op = text[i];
		int32_t rel;

		if ((op == 0xeb || (op >= 0x70 && op <= 0x7f)) && i + 2 <= n) {
			mark(w, nr, i, i + 2 + (int8_t)text[i + 1]);
		} else if ((op == 0xe8 || op == 0xe9) && i + 5 <= n) {
			memcpy(&rel, text + i + 1, 4);
			mark(w, nr, i, i + 5 + (int64_t)rel);
		}
		if (op == 0x0f && i + 6 <= n && text[i + 1] >= 0x80 && text[i + 1] <= 0x8f) {
			memcpy(&rel, text + i + 2, 4);
			mark(w, nr, i, i + 6 + (int64_t)rel);
		}
	}
}
