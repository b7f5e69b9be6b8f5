// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <bpf/bpf.h>
#include <stdlib.h>
#include <unistd.h>
#include "allocs.h"
#include "goheap.h"
#include "stack_report.h"
#include "unit.h"

/* Where the mallocgc probe goes: past the prologue's stack-bound check. */
static void test_probe_skip(void)
{
	/* go1.19.8 runtime.mallocgc: cmp 0x10(%r14),%rsp; jbe rel32; sub $0x70,%rsp */
	static const unsigned char mallocgc[16] = {
		0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86, 0xbe, 0x08, 0x00, 0x00,
		0x48, 0x83, 0xec, 0x70 };
	static const unsigned char short_jbe[16] = {
		0x49, 0x3b, 0x66, 0x10, 0x76, 0x2a, 0x55 };		/* ...; jbe rel8; push %rbp */
	/* A big frame: lea -0x1000(%rsp),%r12; cmp 0x10(%r14),%r12; jbe rel32 */
	static const unsigned char big_frame[24] = {
		0x4c, 0x8d, 0xa4, 0x24, 0x00, 0xf0, 0xff, 0xff, 0x4d, 0x3b, 0x66, 0x10,
		0x0f, 0x86, 0x10, 0x00, 0x00, 0x00 };
	static const unsigned char big_frame8[16] = {
		0x4c, 0x8d, 0x64, 0x24, 0x80, 0x4d, 0x3b, 0x66, 0x10, 0x76, 0x05 };
	/* A nosplit function has no check: probe at the entry. */
	static const unsigned char nosplit[16] = { 0x55, 0x48, 0x89, 0xe5 };
	static const unsigned char no_jbe[16] = { 0x49, 0x3b, 0x66, 0x10, 0x90 };
	static const unsigned char lea_other[16] = {
		0x4c, 0x8d, 0x64, 0x24, 0x80, 0x4d, 0x3b, 0x66, 0x18, 0x76, 0x05 };

	CHECK_U64(go_probe_skip(mallocgc, sizeof(mallocgc)), 10);
	CHECK_U64(go_probe_skip(short_jbe, sizeof(short_jbe)), 6);
	CHECK_U64(go_probe_skip(big_frame, sizeof(big_frame)), 18);
	CHECK_U64(go_probe_skip(big_frame8, sizeof(big_frame8)), 11);
	CHECK_U64(go_probe_skip(nosplit, sizeof(nosplit)), 0);
	CHECK_U64(go_probe_skip(no_jbe, sizeof(no_jbe)), 0);
	CHECK_U64(go_probe_skip(lea_other, sizeof(lea_other)), 0);
	CHECK_U64(go_probe_skip(mallocgc, 8), 0);	/* the jbe cut off */
}

/* Reports start at the function that allocated, past mallocgc's runtime callers. */
static void test_user_stack(void)
{
	struct frame_info frames[] = {
		{ .symbol = "runtime.makeslice" },
		{ .symbol = "main.escapes" },
		{ .symbol = "main.main" },
		{ .symbol = "runtime.main" },
	};
	struct frame_info runtime_only[] = {
		{ .symbol = "runtime.newobject" },
		{ .symbol = "runtime.schedinit" },
	};
	struct frame_info unknown_first[] = {
		{ .addr = 0x1234 },
		{ .symbol = "main.f" },
	};
	struct sym_stack st = { .nr = 4, .frames = frames }, view;
	struct sym_stack rt = { .nr = 2, .frames = runtime_only };
	struct sym_stack un = { .nr = 2, .frames = unknown_first };
	const struct sym_stack *out;

	out = go_user_stack(&st, &view);
	CHECK(out == &view);
	CHECK_U64(out->nr, 3);
	CHECK_STR(out->frames[0].symbol, "main.escapes");
	CHECK_STR(out->frames[2].symbol, "runtime.main");	/* only leading ones go */
	CHECK(go_user_stack(&rt, &view) == &rt);		/* the runtime's own, whole */
	CHECK(go_user_stack(&un, &view) == &un);		/* unknown frame: kept */
	CHECK(go_user_stack(NULL, &view) == NULL);
}

/*
 * Sampled calls are scaled back; calls tracked unsampled (the thread's
 * sampler could not be had) weigh 1 and are no samples; other pids stay out.
 */
static void test_read_estimates(void)
{
	struct go_alloc_key keys[] = {
		{ .stack_id = 7, .size = 512, .tgid = 42 },
		{ .stack_id = 7, .size = 512, .tgid = 42, .flags = ALLOC_F_UNSAMPLED },
		{ .stack_id = 7, .size = 512, .tgid = 43 },
	};
	__u64 calls[] = { 3, 2, 100 };
	struct stack_group *g;
	size_t n;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_HASH, "go_allocs", sizeof(keys[0]), sizeof(calls[0]), 8,
			    NULL);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	for (size_t i = 0; i < 3; i++)
		CHECK(!bpf_map_update_elem(fd, &keys[i], &calls[i], BPF_ANY));
	CHECK(!go_allocs_read(fd, 42, 2048, &g, &n));
	CHECK_U64(n, 1);
	/* 3 x 4.520812 + 2 = 15.56 -> 16; 3 x 512 x 4.520812 + 2 x 512 = 7967.97 -> 7968. */
	CHECK_U64(g[0].count, 16);
	CHECK_U64(g[0].bytes, 7968);
	CHECK_U64(g[0].samples, 3);
	free(g);
	close(fd);
}

void test_goheap(void)
{
	test_probe_skip();
	test_user_stack();
	test_read_estimates();
}
