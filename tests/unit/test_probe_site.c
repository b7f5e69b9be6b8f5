// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Where allocator probes go: the instruction decoder and the placement. */
#include <stdbool.h>
#include <string.h>
#include "probe_site.h"
#include "unit.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct decode_case {
	const char *what;
	unsigned char code[16];
	size_t len;
	enum insn_kind kind;
	unsigned int ilen;
};

/* What the kernel emulates, and what it single-steps, each decoded. */
static void test_decode(void)
{
	static const struct decode_case cases[] = {
		{ "push %rbp", { 0x55 }, 1, INSN_EMULATED, 1 },
		{ "push %r12", { 0x41, 0x54 }, 2, INSN_EMULATED, 2 },
		{ "rex.W push: single-stepped", { 0x48, 0x55 }, 2, INSN_UNKNOWN, 0 },
		{ "jmp rel32", { 0xe9, 1, 2, 3, 4 }, 5, INSN_EMULATED, 5 },
		{ "jmp rel8", { 0xeb, 0x10 }, 2, INSN_EMULATED, 2 },
		{ "call rel32", { 0xe8, 1, 2, 3, 4 }, 5, INSN_EMULATED, 5 },
		{ "ja rel32", { 0x0f, 0x87, 0x93, 0, 0, 0 }, 6, INSN_EMULATED, 6 },
		{ "jne rel8", { 0x75, 0x75 }, 2, INSN_EMULATED, 2 },
		{ "nop", { 0x90 }, 1, INSN_EMULATED, 1 },
		{ "jmp rel32, cut short", { 0xe9, 1, 2 }, 3, INSN_UNKNOWN, 0 },
		{ "nopl: single-stepped, a stop", { 0x0f, 0x1f, 0x40, 0x00 }, 4, INSN_UNKNOWN, 4 },
		{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, INSN_ENDBR, 4 },
		{ "test %rdi,%rdi", { 0x48, 0x85, 0xff }, 3, INSN_QUIET, 3 },
		{ "cmpb $0,rip", { 0x80, 0x3d, 1, 2, 3, 4, 0 }, 7, INSN_QUIET, 7 },
		{ "cmp $0x1000,%rdi", { 0x48, 0x81, 0xff, 0, 0x10, 0, 0 }, 7, INSN_QUIET, 7 },
		{ "mov $1,%eax", { 0xb8, 1, 0, 0, 0 }, 5, INSN_QUIET, 5 },
		{ "mov rip,%rax", { 0x48, 0x8b, 0x05, 1, 2, 3, 4 }, 7, INSN_QUIET, 7 },
		{ "mov rip,%rdx (free: rdx unread)", { 0x48, 0x8b, 0x15, 1, 2, 3, 4 }, 7,
		  INSN_QUIET, 7 },
		{ "mov %rdi,%rax", { 0x48, 0x89, 0xf8 }, 3, INSN_QUIET, 3 },
		{ "mov %rax,%rdi: the argument", { 0x48, 0x89, 0xc7 }, 3, INSN_WRITES, 3 },
		{ "mov %rdi,%rbx", { 0x48, 0x89, 0xfb }, 3, INSN_WRITES, 3 },
		{ "mov %rax,(%rdi): a store", { 0x48, 0x89, 0x07 }, 3, INSN_WRITES, 3 },
		{ "sub $8,%rsp", { 0x48, 0x83, 0xec, 0x08 }, 4, INSN_WRITES, 4 },
		{ "shr $0x1a,%rax", { 0x48, 0xc1, 0xe8, 0x1a }, 4, INSN_QUIET, 4 },
		{ "and $imm,%eax", { 0x25, 0xf0, 0, 0, 0 }, 5, INSN_QUIET, 5 },
		{ "add %fs:0,%rax", { 0x64, 0x48, 0x03, 0x04, 0x25, 0, 0, 0, 0 }, 9,
		  INSN_QUIET, 9 },
		{ "cmp 0x1b0(%rax),%rcx", { 0x48, 0x3b, 0x88, 0xb0, 1, 0, 0 }, 7, INSN_QUIET, 7 },
		{ "lea -0x10(%rdi),%rsi (free: rsi unread)", { 0x48, 0x8d, 0x77, 0xf0 }, 4,
		  INSN_QUIET, 4 },
		{ "lea -0x10(%rdi),%rdi: the argument", { 0x48, 0x8d, 0x7f, 0xf0 }, 4,
		  INSN_WRITES, 4 },
		{ "neg %rdi", { 0x48, 0xf7, 0xdf }, 3, INSN_UNKNOWN, 0 },
		{ "ret: a stop, its length known", { 0xc3 }, 1, INSN_UNKNOWN, 1 },
		{ "jmp *0x2de7(%rip): a stop", { 0xff, 0x25, 0xe7, 0x2d, 0, 0 }, 6, INSN_UNKNOWN, 6 },
		{ "call *0x2de5(%rip): a stop", { 0xff, 0x15, 0xe5, 0x2d, 0, 0 }, 6, INSN_UNKNOWN, 6 },
		{ "cs nopw 0x0(%rax,%rax,1): padding", { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 },
		  10, INSN_UNKNOWN, 10 },
		{ "cs nopw, cut short", { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0 }, 6, INSN_UNKNOWN, 0 },
	};
	struct insn in;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		insn_decode(cases[i].code, cases[i].len, probe_free_regs(1), &in);
		if (in.kind != cases[i].kind || in.len != cases[i].ilen)
			fprintf(stderr, "decode %s: kind %d len %u\n", cases[i].what, in.kind,
				in.len);
		CHECK(in.kind == cases[i].kind && in.len == cases[i].ilen);
	}
	/* calloc(nmemb, size) reads %rsi: writing it is not quiet. */
	insn_decode((const unsigned char *)"\x48\x89\xfe", 3, probe_free_regs(2), &in);
	CHECK(in.kind == INSN_WRITES);
}

struct site_case {
	const char *what;
	unsigned char code[64];
	unsigned int nr_args;
	bool null_is_noop;
	unsigned int skip;
	const char *insn;
	bool emulated, past_null_test;
};

/*
 * The symbol's size bounds the walk: the push after a 7-byte function
 * (endbr64; test %rdi,%rdi) is the next function's, never its probe.
 */
static void test_find_size(void)
{
	static const unsigned char code[] = { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0x55 };
	struct probe_site ps;

	probe_site_find(code, sizeof(code), 0, 1, false, &ps);
	CHECK(ps.skip == 7 && ps.emulated);	/* size unknown: what the bytes say */
	probe_site_find(code, sizeof(code), 7, 1, false, &ps);
	CHECK(ps.skip == 4 && !ps.emulated);
	CHECK_STR(ps.insn, "test");
	probe_site_find(code, sizeof(code), 4, 1, false, &ps);	/* only endbr64 */
	CHECK(ps.skip == 0 && !ps.emulated);
	probe_site_find(code, sizeof(code), 6, 1, false, &ps);	/* ends inside the test */
	CHECK(ps.skip == 4 && !ps.emulated);
}

/* The first bytes of real allocators (Debian 12), and where they are probed. */
static void test_find(void)
{
	static const struct site_case cases[] = {
		{ "glibc malloc: push", { 0x41, 0x54, 0x55, 0x53 }, 1, false, 0, "push", true, false },
		{ "glibc free: past its NULL test",
		  { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0, 0, 0, 0x55, 0x48, 0x8d, 0x77, 0xf0 },
		  1, true, 9, "push", true, true },
		{ "the same, NULL not a no-op: the je",
		  { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0, 0, 0, 0x55 }, 1, false, 3, "jcc", true, false },
		{ "NULL test, then a mov: the je",
		  { 0x48, 0x85, 0xff, 0x74, 0x10, 0x48, 0x89, 0xfb }, 1, true, 3, "jcc", true, false },
		{ "test of another register: the je, not past it",
		  { 0x48, 0x85, 0xf6, 0x74, 0x10, 0x55 }, 1, true, 3, "jcc", true, false },
		{ "glibc posix_memalign: cmpb, then push",
		  { 0x80, 0x3d, 1, 2, 0x14, 0, 0, 0x41, 0x54 }, 3, false, 7, "push", true, false },
		{ "glibc memalign: cmpb, je",
		  { 0x80, 0x3d, 0x71, 0x0e, 0x14, 0, 0, 0x74, 0x07 }, 2, false, 7, "jcc", true, false },
		{ "libstdc++ new: endbr64; test; mov $1,%eax; push",
		  { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0xb8, 1, 0, 0, 0, 0x53 },
		  1, false, 12, "push", true, false },
		{ "libstdc++ delete: endbr64; jmp free@plt",
		  { 0xf3, 0x0f, 0x1e, 0xfa, 0xe9, 0x87, 0x2f, 0xff, 0xff }, 1, true, 4, "jmp", true, false },
		{ "CET: endbr64; push", { 0xf3, 0x0f, 0x1e, 0xfa, 0x55 }, 1, false, 4, "push", true, false },
		{ "CET: endbr64; mov %rdi,%rbx: past endbr64 only",
		  { 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x89, 0xfb, 0x55 }, 1, false, 4, "mov", false, false },
		{ "jemalloc malloc: cmp; ja",
		  { 0x48, 0x81, 0xff, 0, 0x10, 0, 0, 0x0f, 0x87, 0x93, 0, 0, 0 }, 1, false, 7,
		  "jcc", true, false },
		{ "jemalloc free: ten instructions to its jne",
		  { 0x48, 0x89, 0xf8, 0x48, 0x8b, 0x15, 0x0e, 0x53, 0x0a, 0x00, 0x48, 0x89, 0xf9,
		    0x48, 0xc1, 0xe8, 0x1a, 0x48, 0x81, 0xe1, 0, 0, 0, 0xc0, 0x25, 0xf0, 0, 0, 0,
		    0x64, 0x48, 0x03, 0x04, 0x25, 0, 0, 0, 0, 0x48, 0x01, 0xd0, 0x48, 0x3b, 0x88,
		    0xb0, 0x01, 0, 0, 0x0f, 0x85, 0x8a, 0, 0, 0 }, 1, true, 48, "jcc", true, false },
		{ "the same with two arguments read: rdx is one, at the entry",
		  { 0x48, 0x89, 0xf8, 0x48, 0x8b, 0x15, 0x0e, 0x53, 0x0a, 0x00, 0x48, 0x89, 0xf9 },
		  3, false, 0, "mov", false, false },
		{ "tcmalloc malloc: mov rip,%rax; test; jne",
		  { 0x48, 0x8b, 0x05, 0x59, 0xab, 0, 0, 0x48, 0x85, 0xc0, 0x75, 0x75 }, 1, false,
		  10, "jcc", true, false },
		{ "sub from %rsp: stays at the entry",
		  { 0x48, 0x83, 0xec, 0x08, 0x55 }, 1, false, 0, "alu", false, false },
	};
	struct probe_site ps;

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct site_case *c = &cases[i];

		probe_site_find(c->code, sizeof(c->code), 0, c->nr_args, c->null_is_noop, &ps);
		if (ps.skip != c->skip || ps.emulated != c->emulated ||
		    ps.past_null_test != c->past_null_test)
			fprintf(stderr, "find %s: +%u %s emulated %d past %d\n", c->what, ps.skip,
				ps.insn, ps.emulated, ps.past_null_test);
		CHECK(ps.skip == c->skip && ps.emulated == c->emulated &&
		      ps.past_null_test == c->past_null_test);
		CHECK_STR(ps.insn, c->insn);
	}
	/* The bytes run out inside a passed instruction: back to what was known. */
	probe_site_find(cases[1].code, 5, 0, 1, true, &ps);
	CHECK_U64(ps.skip, 0);
	test_find_size();
	probe_site_entry((const unsigned char *)"\x48\x85\xff", 3, &ps);
	CHECK(ps.skip == 0 && !ps.emulated);
	CHECK_STR(ps.insn, "test");
}

/* A branch into the code passed keeps the probe at the entry. */
static void test_branches(void)
{
	unsigned char text[300] = {};
	struct branch_window w[2] = { { 100, 109, false }, { 200, 204, false } };

	/* jne rel8 at 150 back to 105; call rel32 at 10 to 200 (the entry: fine). */
	text[150] = 0x75;
	text[151] = (unsigned char)(105 - 152);
	text[10] = 0xe8;
	text[11] = 200 - 15;
	probe_sites_branched_to(text, sizeof(text), w, 2);
	CHECK(w[0].hit && !w[1].hit);
	/* jcc rel32 at 250 to 204, the probe itself. */
	text[250] = 0x0f;
	text[251] = 0x84;
	text[252] = (unsigned char)(204 - 256);
	text[253] = text[254] = text[255] = 0xff;
	w[0].hit = w[1].hit = false;
	probe_sites_branched_to(text, sizeof(text), w, 2);
	CHECK(w[0].hit && w[1].hit);
}

/*
 * A branch landing exactly on the probe instruction: from after it (a loop
 * head) the probe runs again in one call, refused; from the bytes passed
 * (a jump over them) every call still meets it once, kept.
 */
static void test_branch_onto_probe(void)
{
	unsigned char text[300] = {};
	struct branch_window w = { 100, 109, false };

	/* jmp rel8 at 120 back to 109, the probe: a loop head. */
	text[120] = 0xeb;
	text[121] = (unsigned char)(109 - 122);
	probe_sites_branched_to(text, sizeof(text), &w, 1);
	CHECK(w.hit);
	/* jcc rel32 at 30, before the entry, to 109. */
	memset(text, 0, sizeof(text));
	w.hit = false;
	text[30] = 0x0f;
	text[31] = 0x85;
	text[32] = 109 - 36;
	probe_sites_branched_to(text, sizeof(text), &w, 1);
	CHECK(w.hit);
	/* jmp rel8 at 104, inside the window, onto the probe: kept. */
	memset(text, 0, sizeof(text));
	w.hit = false;
	text[104] = 0xeb;
	text[105] = 109 - 106;
	probe_sites_branched_to(text, sizeof(text), &w, 1);
	CHECK(!w.hit);
	/* jmp rel8 at 100, the entry itself, onto the probe: kept. */
	text[104] = text[105] = 0;
	text[100] = 0xeb;
	text[101] = 109 - 102;
	probe_sites_branched_to(text, sizeof(text), &w, 1);
	CHECK(!w.hit);
	/* ... but from the window to a byte before the probe: a hit, as before. */
	text[101] = 107 - 102;
	probe_sites_branched_to(text, sizeof(text), &w, 1);
	CHECK(w.hit);
}

void test_probe_site(void)
{
	test_decode();
	test_find();
	test_branches();
	test_branch_onto_probe();
}
