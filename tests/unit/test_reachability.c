// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The reachability core on a synthetic memory image: every class, as valgrind gives it. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "reachability.h"
#include "unit.h"

#define BASE	0x10000ULL
#define SIZE	0x4000ULL

struct image {
	uint8_t mem[SIZE];
	uint64_t hole;		/* an unreadable page, 0: none */
};

static ssize_t image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct image *im = ctx;

	if (addr < BASE || addr >= BASE + SIZE)
		return -14;
	if (addr + len > BASE + SIZE)
		len = BASE + SIZE - addr;
	if (im->hole && addr >= im->hole && addr < im->hole + 4096)
		return -14;
	if (im->hole && addr < im->hole && addr + len > im->hole)
		len = im->hole - addr;
	memcpy(buf, im->mem + (addr - BASE), len);
	return len;
}

/* Ranges one after another, as process_vm_readv: short from the first that fails. */
static ssize_t image_readv(void *ctx, const struct reach_range *r, size_t n, void *buf)
{
	size_t done = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = r[i].end - r[i].start;
		ssize_t got = image_read(ctx, r[i].start, (char *)buf + done, len);

		if (got < 0)
			return done ? (ssize_t)done : got;
		done += got;
		if ((size_t)got < len)
			break;
	}
	return done;
}

static void put(struct image *im, uint64_t at, uint64_t val)
{
	memcpy(im->mem + (at - BASE), &val, sizeof(val));
}

enum { A, B, C, D, H, N1, N2, X, Y, R, E, T, U, NR };

static const uint64_t addr[NR] = {
	[A] = 0x11000, [B] = 0x11100, [C] = 0x11200, [D] = 0x11300,
	[H] = 0x11600, [N1] = 0x11400, [N2] = 0x11500,
	[X] = 0x11700, [Y] = 0x11800, [R] = 0x11900, [E] = 0x11a00,
	[T] = 0x12000, [U] = 0x12100,
};
static const uint64_t size[NR] = {
	[A] = 64, [B] = 32, [C] = 64, [D] = 48, [H] = 16, [N1] = 16, [N2] = 16,
	[X] = 32, [Y] = 32, [R] = 8, [E] = 8, [T] = 64, [U] = 24,
};

/* Globals at BASE; blocks above; the graph as the comments say. */
static void build(struct image *im)
{
	memset(im, 0, sizeof(*im));
	put(im, BASE + 0x00, addr[A]);		/* global -> A: reachable */
	put(im, addr[A] + 8, addr[B]);		/* A -> B: reachable */
	put(im, BASE + 0x08, addr[C] + 16);	/* global -> inside C: possibly */
	put(im, addr[C], addr[D]);		/* C -> D: possibly too */
	put(im, addr[H], addr[N1]);		/* H -> N1 -> N2, no root: H definitely */
	put(im, addr[N1], addr[N2]);
	put(im, addr[X], addr[Y]);		/* X <-> Y, no root: X definitely */
	put(im, addr[Y] + 8, addr[X]);
	put(im, BASE + 0x81, addr[E]);		/* unaligned: not a pointer */
	put(im, addr[T] + 16, addr[U]);		/* T in a root range -> U */
}

static void check_classes(const uint8_t *cls)
{
	CHECK_U64(cls[A], REACH_REACHABLE);
	CHECK_U64(cls[B], REACH_REACHABLE);
	CHECK_U64(cls[C], REACH_POSSIBLE);
	CHECK_U64(cls[D], REACH_POSSIBLE);
	CHECK_U64(cls[H], REACH_DEFINITE);
	CHECK_U64(cls[N1], REACH_INDIRECT);
	CHECK_U64(cls[N2], REACH_INDIRECT);
	CHECK_U64(cls[X], REACH_DEFINITE);
	CHECK_U64(cls[Y], REACH_INDIRECT);
	CHECK_U64(cls[R], REACH_REACHABLE);
	CHECK_U64(cls[E], REACH_DEFINITE);
	CHECK_U64(cls[T], REACH_REACHABLE);
	CHECK_U64(cls[U], REACH_REACHABLE);
}

static void test_graph(void)
{
	static struct image im;
	struct reach_range roots[] = { { BASE, BASE + 0x100 }, { addr[T] + 8, addr[T] + 40 } };
	uint64_t words[] = { 0, 12345, addr[R] };
	uint8_t cls[NR];
	struct reach_result res = { .cls = cls };
	struct reach_input in = {
		.addr = addr, .size = size, .nr = NR, .roots = roots, .nr_roots = 2,
		.words = words, .nr_words = 3, .read = image_read, .ctx = &im,
	};

	build(&im);
	memset(cls, 0xff, sizeof(cls));
	CHECK(reach_classify(&in, &res) == 0);
	check_classes(cls);
	/* Small blocks read many in a call: the same classes. */
	in.readv = image_readv;
	memset(cls, 0xff, sizeof(cls));
	CHECK(reach_classify(&in, &res) == 0);
	check_classes(cls);
	in.readv = NULL;
	CHECK(reach_classify(&in, &res) == 0);
	CHECK(!res.partial);
	/*
	 * Roots 0x100 + 32, then A, B, C, D, T, U, R; then the cliques: N1
	 * (the lowest), N2, H, N1 again (no longer a head), X, Y, E.
	 */
	CHECK_U64(res.bytes_scanned, 0x100 + 32 + 64 + 32 + 64 + 48 + 64 + 24 + 8 +
		  16 + 16 + 16 + 16 + 32 + 32 + 8);
	CHECK_U64(res.bytes_unreadable, 0);
}

/* The head of a list at the highest address: still the one definitely lost. */
static void test_list_order(void)
{
	static struct image im;
	uint64_t a[3] = { 0x11500, 0x11000, 0x11200 }, s[3] = { 16, 16, 16 };
	uint8_t cls[3];
	struct reach_result res = { .cls = cls };
	struct reach_input in = { .addr = a, .size = s, .nr = 3, .read = image_read, .ctx = &im };

	memset(&im, 0, sizeof(im));
	put(&im, a[0], a[1]);
	put(&im, a[1] + 8, a[2]);
	CHECK(reach_classify(&in, &res) == 0);
	CHECK_U64(cls[0], REACH_DEFINITE);
	CHECK_U64(cls[1], REACH_INDIRECT);
	CHECK_U64(cls[2], REACH_INDIRECT);
}

/*
 * A page that cannot be read is skipped and counted; the rest is scanned.
 * In a root, what it held is unseen: partial, nothing called lost.
 */
static void test_unreadable(void)
{
	static struct image im;
	struct reach_range roots[] = { { BASE, BASE + 0x2000 } };
	uint64_t a[2] = { 0x13000, 0x13100 }, s[2] = { 8, 8 };
	uint8_t cls[2];
	struct reach_result res = { .cls = cls };
	struct reach_input in = { .addr = a, .size = s, .nr = 2, .roots = roots, .nr_roots = 1,
				  .read = image_read, .ctx = &im };

	memset(&im, 0, sizeof(im));
	im.hole = BASE;
	put(&im, BASE + 8, a[0]);		/* in the hole: unseen */
	put(&im, BASE + 0x1008, a[1]);
	CHECK(reach_classify(&in, &res) == 0);
	CHECK_U64(cls[0], REACH_NONE);
	CHECK_U64(cls[1], REACH_REACHABLE);
	CHECK(res.partial);
	CHECK_U64(res.why, REACH_CUT_UNREADABLE);
	CHECK_U64(res.bytes_unreadable, 4096);
	CHECK_U64(res.roots_unreadable, 4096);
	CHECK_U64(res.bytes_scanned, 4096 + 8);
	/* A block in the hole, read in a batch: one by one after it, and counted. */
	a[0] = BASE + 0x100;
	put(&im, BASE + 0x1010, a[0]);
	in.readv = image_readv;
	CHECK(reach_classify(&in, &res) == 0);
	CHECK_U64(cls[0], REACH_REACHABLE);
	CHECK_U64(cls[1], REACH_REACHABLE);
	CHECK_U64(res.bytes_unreadable, 4096 + 8);
	/* A lost block that cannot be read: lost all the same, the scan whole. */
	roots[0].start = BASE + 0x1000;
	a[0] = BASE + 0x200;
	CHECK(reach_classify(&in, &res) == 0);
	CHECK(!res.partial);
	CHECK_U64(cls[0], REACH_DEFINITE);
	CHECK_U64(cls[1], REACH_REACHABLE);
	CHECK_U64(res.bytes_unreadable, 8);
	CHECK_U64(res.roots_unreadable, 0);
}

/* Not allowed to read (EPERM): the scan stops, partial, nothing lost. */
static ssize_t refused_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx, (void)addr, (void)buf, (void)len;
	return -1;	/* -EPERM */
}

static void test_read_refused(void)
{
	static struct image im;
	struct reach_range roots[] = { { BASE, BASE + 0x100 } };
	uint64_t words[] = { addr[R] };
	uint8_t cls[NR];
	struct reach_result res = { .cls = cls };
	struct reach_input in = {
		.addr = addr, .size = size, .nr = NR, .roots = roots, .nr_roots = 1,
		.words = words, .nr_words = 1, .read = refused_read, .ctx = &im,
	};

	build(&im);
	CHECK(reach_classify(&in, &res) == 0);
	CHECK(res.partial);
	CHECK_U64(res.why, REACH_CUT_READ_ERROR);
	CHECK_U64(res.read_err, 1);
	CHECK_U64(cls[R], REACH_REACHABLE);
	CHECK_U64(cls[H], REACH_NONE);
	CHECK_U64(cls[A], REACH_NONE);
	CHECK_STR(reach_partial_name(res.why), "read_error");
}

/* Threads not stopped: their stacks unseen, what they hold may be anything. */
static void test_threads_unseen(void)
{
	static struct image im;
	struct reach_range roots[] = { { BASE, BASE + 0x100 }, { addr[T] + 8, addr[T] + 40 } };
	uint8_t cls[NR];
	struct reach_result res = { .cls = cls };
	struct reach_input in = {
		.addr = addr, .size = size, .nr = NR, .roots = roots, .nr_roots = 2,
		.read = image_read, .ctx = &im, .threads_unseen = true,
	};

	build(&im);
	CHECK(reach_classify(&in, &res) == 0);
	CHECK(res.partial);
	CHECK_U64(res.why, REACH_CUT_THREADS);
	CHECK_U64(cls[A], REACH_REACHABLE);
	CHECK_U64(cls[U], REACH_REACHABLE);
	CHECK_U64(cls[H], REACH_NONE);
	CHECK_U64(cls[C], REACH_NONE);
	CHECK_STR(reach_partial_name(res.why), "threads_not_stopped");
}

/* A deadline already past: only what registers reach is sure, the rest not scanned. */
static void test_deadline(void)
{
	static struct image im;
	struct reach_range roots[] = { { BASE, BASE + 0x100 } };
	uint64_t words[] = { addr[R] };
	uint8_t cls[NR];
	struct reach_result res = { .cls = cls };
	struct reach_input in = {
		.addr = addr, .size = size, .nr = NR, .roots = roots, .nr_roots = 1,
		.words = words, .nr_words = 1, .read = image_read, .ctx = &im, .deadline_ns = 1,
	};

	build(&im);
	CHECK(reach_classify(&in, &res) == 0);
	CHECK(res.partial);
	CHECK_U64(res.why, REACH_CUT_DEADLINE);
	CHECK_U64(cls[R], REACH_REACHABLE);
	CHECK_U64(cls[A], REACH_NONE);
	CHECK_U64(cls[H], REACH_NONE);
	CHECK_U64(res.bytes_scanned, 0);
}

/*
 * glibc's arena points at the chunk after a block; for a 40-byte request
 * that header is 8 bytes before the block's end: not an interior pointer
 * with malloc_chunks, one without (valgrind's malloc has no such word).
 */
static void test_malloc_chunks(void)
{
	static struct image im;
	struct reach_range roots[] = { { BASE, BASE + 0x100 } };
	uint64_t a[2] = { 0x11000, 0x11100 }, s[2] = { 40, 48 };
	uint8_t cls[2];
	struct reach_result res = { .cls = cls };
	struct reach_input in = { .addr = a, .size = s, .nr = 2, .roots = roots, .nr_roots = 1,
				  .read = image_read, .ctx = &im, .malloc_chunks = true };

	memset(&im, 0, sizeof(im));
	put(&im, BASE, a[0] + 32);		/* chunk of 48: the next header at +32 */
	put(&im, BASE + 8, a[1] + 40);		/* 48 fills no prev_size: +40 is the program's */
	CHECK(reach_classify(&in, &res) == 0);
	CHECK_U64(cls[0], REACH_DEFINITE);
	CHECK_U64(cls[1], REACH_POSSIBLE);
	in.malloc_chunks = false;
	CHECK(reach_classify(&in, &res) == 0);
	CHECK_U64(cls[0], REACH_POSSIBLE);
}

/*
 * A thread whose stack is a malloc'd block (a coroutine): its stack root
 * ends with that block, not with the mapping; the block after it stays
 * out of the roots. Roots of this process, a fake thread.
 */
static void test_stack_in_block(void)
{
	size_t len = 1 << 20;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t base = (uintptr_t)map;
	struct reach_range blocks[2] = { { base + 0x1000, base + 0x3000 },
					 { base + 0x8000, base + 0x8100 } };
	struct reach_thread t = { .tid = getpid(), .stopped = true, .sp = base + 0x2000 };
	struct reach_range *roots = NULL;
	size_t nr = 0;
	bool seen = false;

	CHECK(map != MAP_FAILED);
	if (map == MAP_FAILED)
		return;
	map[0] = 1;
	CHECK(reach_roots(getpid(), &t, 1, blocks, 2, false, &roots, &nr) == 0);
	for (size_t i = 0; i < nr; i++) {
		CHECK(roots[i].end <= blocks[1].start || roots[i].start >= blocks[1].end);
		if (roots[i].start <= t.sp && t.sp < roots[i].end) {
			seen = true;
			CHECK_U64(roots[i].start, t.sp - 128);
			CHECK_U64(roots[i].end, blocks[0].end);
		}
	}
	CHECK(seen);
	free(roots);
	munmap(map, len);
}

static void test_names(void)
{
	CHECK_STR(reach_class_name(REACH_DEFINITE), "definitely_lost");
	CHECK_STR(reach_class_name(REACH_REACHABLE), "still_reachable");
	CHECK_STR(reach_class_name(REACH_NONE), "not_scanned");
}

void test_reachability(void)
{
	test_graph();
	test_list_order();
	test_unreadable();
	test_read_refused();
	test_threads_unseen();
	test_deadline();
	test_malloc_chunks();
	test_stack_in_block();
	test_names();
}
