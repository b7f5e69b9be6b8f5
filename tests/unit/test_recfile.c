// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The recording format: what is written is read back exactly, snapshot by
 * snapshot, and a file cut short or damaged anywhere is refused with a
 * message, never read as something else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "recfile.h"
#include "reclaim.h"
#include "sampling.h"
#include "unit.h"

/* Frames below are written positionally: what a recording holds, the mapping fields left 0. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct frame_info leak_frames[] = {
	{ 0x401136, "/opt/app/leaky", "leak_here", 0x18, "leaky.c", 84 },
	{ 0x401208, "/opt/app/leaky", "worker_a", 0x1e, "leaky.c", 135 },
	{ 0x7f00000011f5, "/lib/libc.so.6", "start_thread", 0x305, NULL, 0 },
};
static struct frame_info other_frames[] = {
	{ 0x401300, "/opt/app/leaky", "leak_calloc", 0x10, "leaky.c", 98 },
	{ 0x7f00000011f5, "/lib/libc.so.6", "start_thread", 0x305, NULL, 0 },	/* shared */
	{ 0x7f0000009999, NULL, NULL, 0, NULL, 0 },				/* unknown */
};
static const struct sym_stack stacks[] = {
	{ 3, leak_frames },
	{ 3, other_frames },
};

/* Stack 0x10 is leak_here's, 0x20 leak_calloc's; 0x30 was never captured. */
static const struct sym_stack *test_stack(void *ctx, uint64_t id)
{
	(void)ctx;
	if (id == 0x10)
		return &stacks[0];
	if (id == 0x20)
		return &stacks[1];
	return NULL;
}

static const struct rec_session session = {
	.pid = 4242, .comm = "leaky", .command = "/opt/app/leaky --wait", .hostname = "db7",
	.kernel = "6.18.0", .version = "0.1", .start_wall_ns = 1700000000000000000ULL,
	.interval_ns = 5000000000ULL,
};

#define SEC 1000000000ULL

/*
 * Three snapshots: blocks come, go and are replaced at the same address
 * (freed and allocated again between two snapshots); the last is at exit.
 */
static int write_sample(const char *path)
{
	struct alloc_rec s1[] = {
		{ 0x5000, 4096, 1 * SEC, 0x10, 0, 0 },
		{ 0x1000, 4096, 2 * SEC, 0x10, 0, 0 },
		{ 0x3000, 3000, 3 * SEC, 0x20, 0, 0 },
	};
	struct alloc_rec s2[] = {
		{ 0x1000, 4096, 2 * SEC, 0x10, 0, 0 },	/* kept */
		{ 0x3000, 100, 9 * SEC, 0x30, 512, 0 },		/* replaced */
		{ 0x9000, 4096, 8 * SEC, 0x10, 0, 0 },	/* new */
		/* 0x5000 freed */
	};
	struct rec_snapshot snap = { .wall_ns = session.start_wall_ns + 5 * SEC,
				     .mono_ns = 5 * SEC, .comm = "leaky", .threads_tracked = 3 };
	struct rec_writer *w;
	uint64_t bytes;

	snap.stats[STAT_ALLOCS] = 3;
	if (rec_writer_open(path, &w))
		return -1;
	rec_writer_begin(w, &session);
	rec_writer_snapshot(w, &snap, s1, 3, test_stack, NULL);
	snap.wall_ns += 5 * SEC;
	snap.mono_ns = 10 * SEC;
	snap.stats[STAT_ALLOCS] = 7;
	snap.stats[STAT_FREES] = 2;
	rec_writer_snapshot(w, &snap, s2, 3, test_stack, NULL);
	snap.wall_ns += 1 * SEC;
	snap.mono_ns = 11 * SEC;
	snap.exited = true;
	snap.exit_code = 3 << 8;
	snap.comm = "leaky-renamed";
	rec_writer_snapshot(w, &snap, s2, 3, test_stack, NULL);
	return rec_writer_close(w, &bytes, NULL);
}

struct seen {
	size_t nr_views;
	uint64_t nr[4], bytes[4], stacks[4], exit_code[4], threads[4];
	bool totals_agree;
	bool s2_exact, s3_exact;
	uint64_t allocs_stat[4];
	bool exited[4];
	const char *comm[4];
};

static int by_addr(const void *a, const void *b)
{
	const struct alloc_rec *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The view's blocks, in no order, are exactly WANT (by address). */
static bool views_equal(const struct rec_view *v, const struct alloc_rec *want, size_t nr)
{
	struct alloc_rec sorted[8];

	if (v->nr != nr || nr > 8)
		return false;
	memcpy(sorted, v->allocs, nr * sizeof(*sorted));
	qsort(sorted, nr, sizeof(*sorted), by_addr);
	return !memcmp(sorted, want, nr * sizeof(*want));
}

static bool all_blocks(size_t index, void *ctx)
{
	(void)index;
	(void)ctx;
	return true;
}

/*
 * The view's totals are its blocks', estimated as a report does: exact
 * blocks count one for one, sampled ones weigh sample_weight(), and each
 * stack's estimate is rounded once.
 */
static bool totals_agree(const struct rec_view *v)
{
	uint64_t nr = 0, bytes = 0;

	for (size_t j = 0; j < v->nr; j++) {
		double est_nr = 0, est_bytes = 0;
		bool first = true;

		for (size_t k = 0; k < v->nr && first; k++)
			first = k >= j || v->allocs[k].stack_id != v->allocs[j].stack_id;
		if (!first)
			continue;
		for (size_t k = j; k < v->nr; k++) {
			const struct alloc_rec *a = &v->allocs[k];
			double w = sample_weight(a->size, a->sample_bytes);

			if (a->stack_id != v->allocs[j].stack_id)
				continue;
			if (!a->sample_bytes) {
				nr++;
				bytes += a->size;
				continue;
			}
			est_nr += w;
			est_bytes += w * a->size;
		}
		nr += sample_round(est_nr);
		bytes += sample_round(est_bytes);
	}
	return v->live_bytes == bytes && v->nr_live == nr;
}

static int collect(const struct rec_view *v, void *ctx)
{
	static const struct alloc_rec s1[] = {
		{ 0x1000, 4096, 2 * SEC, 0x10, 0, 0 },
		{ 0x3000, 3000, 3 * SEC, 0x20, 0, 0 },
		{ 0x5000, 4096, 1 * SEC, 0x10, 0, 0 },
	};
	static const struct alloc_rec s2[] = {	/* by address */
		{ 0x1000, 4096, 2 * SEC, 0x10, 0, 0 },
		{ 0x3000, 100, 9 * SEC, 0x30, 512, 0 },
		{ 0x9000, 4096, 8 * SEC, 0x10, 0, 0 },
	};
	struct seen *s = ctx;
	size_t i = v->index;

	if (i >= 4)
		return -1;
	s->nr_views++;
	s->nr[i] = v->nr;
	for (size_t j = 0; j < v->nr; j++)
		s->bytes[i] += v->allocs[j].size;
	/* The totals, kept as the deltas are applied, agree with the blocks. */
	s->totals_agree &= totals_agree(v);
	s->stacks[i] = v->live_stacks;
	s->exit_code[i] = v->snap->exit_code;
	s->threads[i] = v->snap->threads_tracked;
	if (i == 0)
		s->s2_exact = views_equal(v, s1, 3);
	if (i == 1)
		s->s2_exact = s->s2_exact && views_equal(v, s2, 3);
	if (i == 2)
		s->s3_exact = views_equal(v, s2, 3);
	s->allocs_stat[i] = v->snap->stats[STAT_ALLOCS];
	s->exited[i] = v->snap->exited;
	s->comm[i] = v->snap->comm;
	return 0;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	*data = malloc(n);
	*len = fread(*data, 1, n, f);
	fclose(f);
	return *len == (size_t)n ? 0 : -1;
}

static void test_round_trip(const uint8_t *data, size_t len)
{
	const struct rec_session *s;
	const struct sym_stack *st;
	struct recording *r;
	struct seen seen = {};
	char err[256] = "";

	CHECK(recording_parse(data, len, false, &r, err, sizeof(err)) == 0);
	if (!r) {
		fprintf(stderr, "recfile: %s\n", err);
		return;
	}
	s = recording_session(r);
	CHECK_U64(s->pid, 4242);
	CHECK_STR(s->command, "/opt/app/leaky --wait");
	CHECK_STR(s->hostname, "db7");
	CHECK_STR(s->kernel, "6.18.0");
	CHECK_STR(s->comm, "leaky");
	CHECK_STR(s->version, "0.1");
	CHECK_U64(s->start_wall_ns, 1700000000000000000ULL);
	CHECK_STR(recording_warning(r), "");
	CHECK_U64(s->interval_ns, 5 * SEC);
	CHECK_U64(recording_nr_snapshots(r), 3);

	st = recording_stack(r, 0x10);
	CHECK(st && st->nr == 3);
	if (st && st->nr == 3) {
		CHECK_STR(st->frames[0].symbol, "leak_here");
		CHECK_STR(st->frames[0].file, "leaky.c");
		CHECK_U64(st->frames[0].line, 84);
		CHECK_U64(st->frames[0].sym_offset, 0x18);
		CHECK_STR(st->frames[2].module, "/lib/libc.so.6");
		CHECK(st->frames[2].file == NULL);
	}
	st = recording_stack(r, 0x20);
	CHECK(st && st->nr == 3 && st->frames[2].symbol == NULL && st->frames[2].module == NULL &&
	      st->frames[2].addr == 0x7f0000009999);
	st = recording_stack(r, 0x30);
	CHECK(st && st->nr == 0);		/* named, never captured */
	CHECK(recording_stack(r, 0x40) == NULL);

	seen.totals_agree = true;
	CHECK(recording_replay(r, all_blocks, collect, &seen) == 0);
	CHECK_U64(seen.nr_views, 3);
	CHECK(seen.totals_agree);
	CHECK_U64(seen.stacks[0], 2);		/* 0x10 and 0x20 */
	CHECK_U64(seen.stacks[1], 2);		/* 0x10 and 0x30 */
	CHECK_U64(seen.exit_code[2], 3 << 8);
	CHECK_U64(seen.threads[1], 3);
	CHECK_U64(seen.bytes[0], 4096 + 4096 + 3000);
	CHECK_U64(seen.bytes[1], 4096 + 100 + 4096);
	CHECK(seen.s2_exact);
	CHECK(seen.s3_exact);
	CHECK_U64(seen.allocs_stat[0], 3);
	CHECK_U64(seen.allocs_stat[1], 7);
	CHECK(!seen.exited[1] && seen.exited[2]);
	CHECK_STR(seen.comm[2], "leaky-renamed");
	recording_free(r);
}

/* Every prefix of the file is refused: a reader never takes half a recording for one. */
static void test_truncations(const uint8_t *data, size_t len)
{
	size_t refused = 0, said_truncated = 0;

	for (size_t n = 0; n < len; n++) {
		struct recording *r;
		char err[256] = "";

		if (recording_parse(data, n, false, &r, err, sizeof(err)) && !r && *err)
			refused++;
		else
			recording_free(r);
		if (strstr(err, "truncated") || (n < REC_MAGIC_LEN && strstr(err, "not a memlens")))
			said_truncated++;
	}
	CHECK_U64(refused, len);
	CHECK_U64(said_truncated, len);
}

/*
 * Any one damaged byte anywhere is caught, by the header checks or a
 * checksum, but the minor version's (bytes 10 and 11): any minor version
 * of format 1 reads.
 */
static void test_damage(const uint8_t *data, size_t len)
{
	uint8_t *copy = malloc(len);
	size_t refused = 0, by_checksum = 0;

	for (size_t i = 0; i < len; i++) {
		if (i == 10 || i == 11)
			continue;
		struct recording *r;
		char err[256] = "";

		memcpy(copy, data, len);
		copy[i] ^= 0x5a;
		if (recording_parse(copy, len, false, &r, err, sizeof(err)) && *err)
			refused++;
		else
			recording_free(r);
		if (strstr(err, "checksum"))
			by_checksum++;
	}
	CHECK_U64(refused, len - 2);
	/* Payload bytes are most of the file: those fail their checksum. */
	CHECK(by_checksum > len / 2);
	free(copy);
}

/* A record appended by hand: TYPE and PAYLOAD, with a right checksum. */
static size_t append_record(uint8_t *buf, size_t len, uint32_t type, const void *payload,
			    uint32_t size)
{
	uint8_t *p = buf + len;
	uLong crc;

	for (int i = 0; i < 4; i++) {
		p[i] = type >> (8 * i);
		p[4 + i] = size >> (8 * i);
	}
	memcpy(p + 12, payload, size);
	crc = crc32(crc32(0, p, 8), p + 12, size);
	for (int i = 0; i < 4; i++)
		p[8 + i] = crc >> (8 * i);
	return len + 12 + size;
}

static bool parse_says(const uint8_t *data, size_t len, const char *want)
{
	struct recording *r;
	char err[256] = "";
	int ret = recording_parse(data, len, false, &r, err, sizeof(err));

	recording_free(r);
	if (!want)
		return ret == 0;
	if (!strstr(err, want))
		fprintf(stderr, "recfile: \"%s\" does not say \"%s\"\n", err, want);
	return ret && strstr(err, want);
}

/* A 1.1 STALLS record ends at its lost count: read, without the tracer's losses. */
static void test_stalls_1_1(uint8_t *buf, size_t body)
{
	uint8_t stalls[] = { 0, 7, 1 }, end[] = { 3 };	/* no entry, 7 stalls, 1 lost */
	size_t n = append_record(buf, body, REC_STALLS, stalls, sizeof(stalls));
	struct recording *rec = NULL;
	struct rec_stall_sum sum;
	char err[256] = "";

	n = append_record(buf, n, REC_END, end, sizeof(end));
	CHECK(recording_parse(buf, n, false, &rec, err, sizeof(err)) == 0);
	if (!rec)
		return;
	CHECK(recording_stalls(rec, &n, &sum) != NULL);
	CHECK_U64(n, 0);
	CHECK_U64(sum.stalls, 7);
	CHECK_U64(sum.lost, 1);
	CHECK_U64(sum.nr_losses, 0);
	recording_free(rec);
}

/* Versions and record types: what a newer memlens may write. */
static void test_versions(const uint8_t *data, size_t len)
{
	/* The END record is the last 12 + 1 bytes (the snapshot count, 3). */
	size_t body = len - 13, n;
	uint8_t *buf = malloc(len + 256);
	uint8_t end[] = { 3 }, junk[] = { 1, 2, 3 };

	memcpy(buf, data, len);
	buf[8] = 2;
	CHECK(parse_says(buf, len, "format version 2.2: this memlens reads version 1"));
	buf[8] = 1;
	buf[10] = 7;				/* a newer minor version reads */
	CHECK(parse_says(buf, len, NULL));
	buf[10] = 0;

	n = append_record(buf, body, REC_OPTIONAL + 5, junk, sizeof(junk));
	n = append_record(buf, n, REC_END, end, sizeof(end));
	CHECK(parse_says(buf, n, NULL));	/* an extension is skipped */
	n = append_record(buf, body, 77, junk, sizeof(junk));
	n = append_record(buf, n, REC_END, end, sizeof(end));
	CHECK(parse_says(buf, n, "does not know"));
	test_stalls_1_1(buf, body);
	memcpy(buf, data, len);
	n = append_record(buf, len, REC_END, end, sizeof(end));
	CHECK(parse_says(buf, n, "data after the end record"));
	end[0] = 2;
	n = append_record(buf, body, REC_END, end, sizeof(end));
	CHECK(parse_says(buf, n, "end record counts other snapshots"));
	CHECK(parse_says(buf, body, "truncated after 3 snapshots"));
	CHECK(parse_says((const uint8_t *)"hello world, not a recording", 28, "not a memlens recording"));
	free(buf);
}

/* Snapshots that contradict what is outstanding are refused. */
static void test_inconsistent(const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(len + 256);
	/* wall, mono, exited, status, comm "", 0 stats, threads, 1 freed at 0x77, 0 new */
	uint8_t bad_free[] = { 1, 1, 0, 0, 0, 0, 0, 1, 0x77, 0 };
	/* ... 0 freed, 1 new at 0x1000 (outstanding already), size 1, age 0, stack 0, exact */
	uint8_t bad_new[] = { 1, 1, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x20, 1, 0, 0, 0 };
	uint8_t bad_stack[] = { 1, 1, 0, 0, 0, 0, 0, 0, 1, 0x77, 1, 0, 0x7f, 0 };
	uint8_t deep_stack[] = { 1, 0x11, 0x80, 0x01 };	/* 1 stack, id 0x11, 128 frames */
	uint8_t twice[] = { 1, 0x10, 0 };		/* stack 0x10 again, no frames */
	/* 0 freed, 2 new at 0x7000 and 0x7000 + 0: not ascending */
	uint8_t unordered[] = { 1, 1, 0, 0, 0, 0, 0, 0, 2, 0x80, 0xe0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0 };
	uint8_t nul[] = { 1, 2, 'a', 0 };		/* one string: "a\0" */
	size_t body = len - 13;

	memcpy(buf, data, len);
	CHECK(parse_says(buf, append_record(buf, body, REC_SNAPSHOT, bad_free, sizeof(bad_free)),
			 "frees a block that is not outstanding"));
	CHECK(parse_says(buf, append_record(buf, body, REC_SNAPSHOT, bad_new, sizeof(bad_new)),
			 "allocates a block that is already outstanding"));
	CHECK(parse_says(buf, append_record(buf, body, REC_SNAPSHOT, bad_stack, sizeof(bad_stack)),
			 "names a stack not defined before"));
	CHECK(parse_says(buf, append_record(buf, body, REC_STACKS, deep_stack, sizeof(deep_stack)),
			 "stack deeper than memlens records"));
	CHECK(parse_says(buf, append_record(buf, body, REC_STACKS, twice, sizeof(twice)),
			 "stack defined twice"));
	CHECK(parse_says(buf, append_record(buf, body, REC_SNAPSHOT, unordered, sizeof(unordered)),
			 "addresses not in ascending order"));
	CHECK(parse_says(buf, append_record(buf, body, REC_STRINGS, nul, sizeof(nul)),
			 "string holds a NUL byte"));
	free(buf);
}

/* With PARTIAL, what a killed memlens record leaves reads up to its last whole snapshot. */
static void test_partial(const uint8_t *data, size_t len)
{
	struct recording *r;
	char err[256] = "";

	CHECK(recording_parse(data, len - 20, true, &r, err, sizeof(err)) == 0);
	if (r) {
		CHECK_U64(recording_nr_snapshots(r), 2);
		CHECK(strstr(recording_warning(r), "truncated: record at byte") != NULL);
		CHECK(strstr(recording_warning(r), ": the 2 whole snapshots shown") != NULL);
		recording_free(r);
	}
	CHECK(recording_parse(data, len - 13, true, &r, err, sizeof(err)) == 0);
	if (r) {
		CHECK_U64(recording_nr_snapshots(r), 3);
		CHECK(strstr(recording_warning(r), "truncated after 3 snapshots: no end record") != NULL);
		recording_free(r);
	}
	/* Cut before the first snapshot: nothing to show, refused. */
	CHECK(recording_parse(data, 40, true, &r, err, sizeof(err)) != 0 && !r);
}

static struct frame_info kernel_frames[] = {
	{ 0xffffffff815cab0a, "vmlinux", "try_to_free_mem_cgroup_pages", 0x1ca, NULL, 0 },
	{ 0xffffffff816dd0ec, "vmlinux", "vfs_write", 0x29c, NULL, 0 },
};

/*
 * record --stalls: STALLS records before snapshots, each the stalls so far;
 * the last one is what is read, its frames shared with the stacks' table.
 * A recording without one has none.
 */
static void test_stalls(const uint8_t *plain, size_t plain_len)
{
	char path[] = "/tmp/memlens-recstalls-XXXXXX";
	struct rec_stall first[] = {
		{ STALL_MEMCG, 1, 10, 10, { 3, leak_frames }, { 2, kernel_frames } },
	};
	struct rec_stall later[] = {
		{ STALL_MEMCG, 99, 8500000, 900000, { 3, leak_frames }, { 2, kernel_frames } },
		{ STALL_DIRECT, 32, 3800000, 200000, { 0, NULL }, { 1, kernel_frames } },
	};
	struct alloc_rec blocks[] = { { 0x1000, 4096, 1 * SEC, 0x10, 0 } };
	struct rec_snapshot snap = { .wall_ns = session.start_wall_ns + SEC, .mono_ns = 2 * SEC,
				     .comm = "leaky" };
	/* record --stalls writes every loss counter of the tracer (1.2). */
	struct rec_stall_sum later_sum = { 133, 2, 3, {
		{ "user_stacks_lost", 5 }, { "threads_map_full", 1 }, { "events_lost", 0 } } };
	const struct rec_stall *st;
	struct rec_stall_sum sum;
	struct recording *rec = NULL;
	struct rec_writer *w;
	char err[256] = "";
	uint64_t bytes;
	size_t nr = 7;
	int fd = mkstemp(path);

	CHECK(fd >= 0 && rec_writer_open(path, &w) == 0);
	if (fd < 0)
		return;
	close(fd);
	rec_writer_begin(w, &session);
	CHECK(rec_writer_stalls(w, first, 1, &(struct rec_stall_sum){ 1, 0 }) == 0);
	rec_writer_snapshot(w, &snap, blocks, 1, test_stack, NULL);
	CHECK(rec_writer_stalls(w, later, 2, &later_sum) == 0);
	snap.mono_ns = 3 * SEC;
	rec_writer_snapshot(w, &snap, blocks, 1, test_stack, NULL);
	CHECK(rec_writer_close(w, &bytes, NULL) == 0);
	CHECK(recording_load(path, false, &rec, err, sizeof(err)) == 0);
	/* The fuzzer starts from this file too (tests/fuzz.sh): STALLS records to mutate. */
	if (getenv("MEMLENS_FUZZ_SEEDS")) {
		char seed[4096];

		snprintf(seed, sizeof(seed), "%s/stalls.mlr", getenv("MEMLENS_FUZZ_SEEDS"));
		CHECK(rename(path, seed) == 0);
	}
	unlink(path);
	if (!rec)
		return;
	CHECK_U64(recording_nr_snapshots(rec), 2);
	st = recording_stalls(rec, &nr, &sum);
	CHECK_U64(nr, 2);
	CHECK_U64(sum.stalls, 133);
	CHECK_U64(sum.lost, 2);
	CHECK_U64(sum.nr_losses, 3);
	if (sum.nr_losses == 3) {
		CHECK_STR(sum.losses[0].name, "user_stacks_lost");
		CHECK_U64(sum.losses[0].count, 5);
		CHECK_STR(sum.losses[1].name, "threads_map_full");
		CHECK_U64(sum.losses[1].count, 1);
		CHECK_STR(sum.losses[2].name, "events_lost");
		CHECK_U64(sum.losses[2].count, 0);
	}
	if (st && nr == 2) {
		CHECK_U64(st[0].kind, STALL_MEMCG);
		CHECK_U64(st[0].count, 99);
		CHECK_U64(st[0].total_ns, 8500000);
		CHECK_U64(st[0].max_ns, 900000);
		CHECK_U64(st[0].user.nr, 3);
		CHECK_STR(st[0].user.frames[0].symbol, "leak_here");
		CHECK_STR(st[0].user.frames[2].module, "/lib/libc.so.6");
		CHECK_U64(st[0].user.frames[1].line, 135);
		CHECK_U64(st[0].kernel.nr, 2);
		CHECK_STR(st[0].kernel.frames[1].symbol, "vfs_write");
		CHECK_U64(st[0].kernel.frames[1].sym_offset, 0x29c);
		CHECK_U64(st[1].kind, STALL_DIRECT);
		CHECK_U64(st[1].user.nr, 0);
		CHECK_U64(st[1].kernel.frames[0].addr, 0xffffffff815cab0a);
	}
	recording_free(rec);

	/* A kind past enum stall_kind: a malformed record, not a row to index by it. */
	strcpy(path, "/tmp/memlens-recstalls-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0 && rec_writer_open(path, &w) == 0);
	if (fd >= 0) {
		struct rec_stall bad[] = {
			{ STALL_NR, 1, 10, 10, { 0, NULL }, { 1, kernel_frames } },
		};

		close(fd);
		rec_writer_begin(w, &session);
		CHECK(rec_writer_stalls(w, bad, 1, &(struct rec_stall_sum){ 1, 0 }) == 0);
		rec_writer_snapshot(w, &snap, blocks, 1, test_stack, NULL);
		CHECK(rec_writer_close(w, &bytes, NULL) == 0);
		rec = NULL;
		CHECK(recording_load(path, false, &rec, err, sizeof(err)) == -EINVAL);
		CHECK(strstr(err, "stall kind out of range") != NULL);
		recording_free(rec);
		unlink(path);
	}

	/* A recording without STALLS (all of version 1.0): none, not an error. */
	CHECK(recording_parse(plain, plain_len, false, &rec, err, sizeof(err)) == 0);
	if (rec) {
		CHECK(recording_stalls(rec, &nr, &sum) == NULL);
		CHECK_U64(nr, 0);
		recording_free(rec);
	}
}

/* What a replay of a recording with SCAN records saw: per snapshot, its scan and classes. */
struct seen_scan {
	size_t nr_views;
	struct reach_stats st[3];
	bool has_scan[3];
	uint64_t cls[3][4];	/* by address order: 0x1000, 0x2000, 0x3000, 0x4000 */
};

static int collect_scan(const struct rec_view *v, void *ctx)
{
	struct seen_scan *s = ctx;

	if (v->index >= 3)
		return -1;
	s->nr_views++;
	s->has_scan[v->index] = v->scan != NULL;
	if (v->scan)
		s->st[v->index] = *v->scan;
	for (size_t j = 0; j < v->nr; j++)
		if (v->allocs[j].addr % 0x1000 == 0 && v->allocs[j].addr / 0x1000 - 1 < 4)
			s->cls[v->index][v->allocs[j].addr / 0x1000 - 1] = v->allocs[j].reach;
	return 0;
}

/*
 * record --scan: a SCAN record before the snapshot it classes; a snapshot
 * without one has no scan; the classes and the scan's figures read back
 * exactly. A SCAN that classes a block its snapshot does not hold is refused.
 */
static void test_scan(const uint8_t *plain, size_t plain_len)
{
	char path[] = "/tmp/memlens-recscan-XXXXXX";
	struct alloc_rec blocks[] = {
		{ 0x3000, 300, 1 * SEC, 0x20, 0, REACH_POSSIBLE },
		{ 0x1000, 100, 1 * SEC, 0x10, 0, REACH_DEFINITE },
		{ 0x4000, 400, 1 * SEC, 0x10, 0, REACH_NONE },
		{ 0x2000, 200, 1 * SEC, 0x10, 0, REACH_INDIRECT },
	};
	const struct reach_stats st = {
		.pause_ns = 1234567, .scan_ns = 765432, .bytes_scanned = 1ULL << 33,
		.bytes_unreadable = 4096, .roots_bytes = 130392, .threads = 3,
		.threads_not_stopped = 1, .partial = true,
	};
	struct rec_snapshot snap = { .wall_ns = session.start_wall_ns + SEC, .mono_ns = 2 * SEC,
				     .comm = "leaky" };
	/* SCAN: stats 0 ..., 1 classed block at 0x9000 (not outstanding), definite */
	uint8_t bad_scan[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0xa0, 0x02, 1 };
	/* SNAPSHOT: wall, mono, exited, status, comm "", 0 stats, threads, 0 freed, 0 new */
	uint8_t snapshot[] = { 1, 1, 0, 0, 0, 0, 0, 0, 0 }, end[] = { 4 };
	struct seen_scan seen = {};
	struct recording *rec = NULL;
	struct rec_writer *w;
	char err[256] = "";
	uint8_t *data = NULL, *buf;
	size_t len = 0, n;
	uint64_t bytes;
	int fd = mkstemp(path);

	CHECK(fd >= 0 && rec_writer_open(path, &w) == 0);
	if (fd < 0)
		return;
	close(fd);
	rec_writer_begin(w, &session);
	rec_writer_snapshot(w, &snap, blocks, 4, test_stack, NULL);	/* not scanned */
	/* Classes as the scan found them, in the order the session read the blocks. */
	blocks[0] = (struct alloc_rec){ 0x3000, 300, 1 * SEC, 0x20, 0, REACH_POSSIBLE };
	blocks[1] = (struct alloc_rec){ 0x1000, 100, 1 * SEC, 0x10, 0, REACH_DEFINITE };
	blocks[2] = (struct alloc_rec){ 0x4000, 400, 1 * SEC, 0x10, 0, REACH_NONE };
	blocks[3] = (struct alloc_rec){ 0x2000, 200, 1 * SEC, 0x10, 0, REACH_INDIRECT };
	CHECK(rec_writer_scan(w, &st, blocks, 4) == 0);
	CHECK(blocks[0].addr == 0x3000);	/* not reordered */
	snap.mono_ns = 3 * SEC;
	rec_writer_snapshot(w, &snap, blocks, 4, test_stack, NULL);
	blocks[2].reach = REACH_REACHABLE;	/* 0x3000: the snapshot sorted them */
	CHECK(rec_writer_scan(w, &(struct reach_stats){ .threads = 1 }, blocks, 4) == 0);
	snap.mono_ns = 4 * SEC;
	rec_writer_snapshot(w, &snap, blocks, 4, test_stack, NULL);
	CHECK(rec_writer_close(w, &bytes, NULL) == 0);
	CHECK(read_file(path, &data, &len) == 0);
	/* The fuzzer starts from this file too (tests/fuzz.sh): SCAN records to mutate. */
	if (getenv("MEMLENS_FUZZ_SEEDS")) {
		char seed[4096];

		snprintf(seed, sizeof(seed), "%s/scan.mlr", getenv("MEMLENS_FUZZ_SEEDS"));
		CHECK(rename(path, seed) == 0);
	}
	unlink(path);
	CHECK(data && recording_parse(data, len, false, &rec, err, sizeof(err)) == 0);
	if (rec) {
		CHECK(recording_replay(rec, all_blocks, collect_scan, &seen) == 0);
		CHECK_U64(seen.nr_views, 3);
		CHECK(!seen.has_scan[0]);
		CHECK_U64(seen.cls[0][0] + seen.cls[0][1] + seen.cls[0][2] + seen.cls[0][3], 0);
		CHECK(seen.has_scan[1] && seen.has_scan[2]);
		CHECK_U64(seen.st[1].pause_ns, 1234567);
		CHECK_U64(seen.st[1].scan_ns, 765432);
		CHECK_U64(seen.st[1].bytes_scanned, 1ULL << 33);
		CHECK_U64(seen.st[1].bytes_unreadable, 4096);
		CHECK_U64(seen.st[1].roots_bytes, 130392);
		CHECK_U64(seen.st[1].threads, 3);
		CHECK_U64(seen.st[1].threads_not_stopped, 1);
		CHECK(seen.st[1].partial && seen.st[1].done);
		CHECK_U64(seen.cls[1][0], REACH_DEFINITE);
		CHECK_U64(seen.cls[1][1], REACH_INDIRECT);
		CHECK_U64(seen.cls[1][2], REACH_POSSIBLE);
		CHECK_U64(seen.cls[1][3], REACH_NONE);
		CHECK(!seen.st[2].partial && seen.st[2].threads == 1);
		CHECK_U64(seen.cls[2][2], REACH_REACHABLE);
		recording_free(rec);
	}
	/* A SCAN of a block its snapshot does not hold; a SCAN left pending by a cut is ignored. */
	buf = malloc(len + 256);
	if (data && buf) {
		memcpy(buf, data, len - 13);
		n = append_record(buf, len - 13, REC_SCAN, bad_scan, sizeof(bad_scan));
		n = append_record(buf, n, REC_SNAPSHOT, snapshot, sizeof(snapshot));
		n = append_record(buf, n, REC_END, end, sizeof(end));
		CHECK(parse_says(buf, n, "scan classes a block its snapshot does not hold"));
		n = append_record(buf, len - 13, REC_SCAN, bad_scan, sizeof(bad_scan));
		CHECK(recording_parse(buf, n, true, &rec, err, sizeof(err)) == 0);
		if (rec)
			CHECK_U64(recording_nr_snapshots(rec), 3);
		recording_free(rec);
	}
	free(buf);
	free(data);

	/* A recording without SCAN (all of versions 1.0 and 1.1): no scan, every block unclassed. */
	memset(&seen, 0, sizeof(seen));
	CHECK(recording_parse(plain, plain_len, false, &rec, err, sizeof(err)) == 0);
	if (rec) {
		CHECK(recording_replay(rec, all_blocks, collect_scan, &seen) == 0);
		CHECK(!seen.has_scan[0] && !seen.has_scan[1] && !seen.has_scan[2]);
		recording_free(rec);
	}
}

void test_recfile(void)
{
	char path[] = "/tmp/memlens-recfile-XXXXXX";
	const char *seed_dir = getenv("MEMLENS_FUZZ_SEEDS");
	int fd = mkstemp(path);
	uint8_t *data = NULL;
	size_t len = 0;

	if (fd < 0 || write_sample(path) || read_file(path, &data, &len)) {
		CHECK(!"sample recording written and read");
		return;
	}
	close(fd);
	test_round_trip(data, len);
	test_truncations(data, len);
	test_damage(data, len);
	test_versions(data, len);
	test_inconsistent(data, len);
	test_partial(data, len);
	test_stalls(data, len);
	test_scan(data, len);
	/* The fuzzer starts from this file (tests/fuzz.sh). */
	if (seed_dir) {
		char seed[4096];

		snprintf(seed, sizeof(seed), "%s/unit.mlr", seed_dir);
		CHECK(rename(path, seed) == 0);
	}
	unlink(path);
	free(data);
}
