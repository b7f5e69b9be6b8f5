// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof.h"
#include "profile.pb-c.h"
#include "stack_report.h"
#include "unit.h"

/* Frames and samples below are written positionally: the mapping and label fields left 0. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

void test_pprof(void);

/* A writer's output, gzipped, in a malloc'ed buffer; *ERR its return. */
static unsigned char *render(const struct pprof_sample *samples, size_t nr, const char *comment,
			     size_t *len, int *err)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f) {
		*err = -errno;
		return NULL;
	}
	*err = pprof_write_heap(f, samples, nr, 1234567890123LL, comment);
	fclose(f);
	return (unsigned char *)buf;
}

/* Inflate a gzip stream; NULL if it is not one, or is cut short. */
static unsigned char *gunzip(const unsigned char *in, size_t in_len, size_t *out_len)
{
	z_stream zs = {};
	size_t cap = 4096, len = 0;
	unsigned char *out = malloc(cap), *tmp;
	int ret;

	/* 15 + 32: detect zlib or gzip, so a missing gzip header is checked separately. */
	if (!out || inflateInit2(&zs, 15 + 32) != Z_OK) {
		free(out);
		return NULL;
	}
	zs.next_in = (unsigned char *)in;
	zs.avail_in = in_len;
	do {
		if (len == cap) {
			tmp = realloc(out, cap *= 2);
			if (!tmp)
				break;
			out = tmp;
		}
		zs.next_out = out + len;
		zs.avail_out = cap - len;
		ret = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
	} while (ret == Z_OK);
	inflateEnd(&zs);
	if (ret != Z_STREAM_END) {
		free(out);
		return NULL;
	}
	*out_len = len;
	return out;
}

/* Write, gunzip and unpack a profile; NULL (and a failed CHECK) on any error. */
static struct Profile *roundtrip(const struct pprof_sample *samples, size_t nr, const char *comment)
{
	struct Profile *p = NULL;
	unsigned char *gz, *raw = NULL;
	size_t gz_len = 0, raw_len = 0;
	int err;

	gz = render(samples, nr, comment, &gz_len, &err);
	CHECK_U64(err, 0);
	CHECK(gz && gz_len > 2 && gz[0] == 0x1f && gz[1] == 0x8b);	/* gzip, not zlib */
	if (!err && gz)
		raw = gunzip(gz, gz_len, &raw_len);
	CHECK(raw != NULL);
	if (raw)
		p = profile__unpack(NULL, raw_len, raw);
	CHECK(p != NULL);
	free(raw);
	free(gz);
	return p;
}

static const char *str(const struct Profile *p, int64_t idx)
{
	if (idx < 0 || (uint64_t)idx >= p->n_string_table)
		return NULL;
	return p->string_table[idx];
}

static const struct Profile__Location *location(const struct Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_location; i++) {
		if (p->location[i]->id == id)
			return p->location[i];
	}
	return NULL;
}

static const struct Profile__Function *function(const struct Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_function; i++) {
		if (p->function[i]->id == id)
			return p->function[i];
	}
	return NULL;
}

/* The Function of a location's (only) line; NULL if it has none. */
static const struct Profile__Function *loc_function(const struct Profile *p, uint64_t loc_id)
{
	const struct Profile__Location *loc = location(p, loc_id);

	if (!loc || loc->n_line != 1)
		return NULL;
	return function(p, loc->line[0]->function_id);
}

/* Check that location LOC_ID is FRAME: address, function name, file and line. */
static void check_frame(const struct Profile *p, uint64_t loc_id, const struct pprof_frame *frame)
{
	const struct Profile__Location *loc = location(p, loc_id);
	const struct Profile__Function *fn = loc_function(p, loc_id);

	CHECK(loc != NULL);
	if (!loc || !fn)
		return;
	CHECK_U64(loc->address, frame->addr);
	CHECK_U64(loc->line[0]->line, frame->line);
	CHECK_STR(str(p, fn->name), frame->function);
	CHECK_STR(str(p, fn->filename), frame->file ? frame->file : "");
}

static void check_header(const struct Profile *p)
{
	CHECK(p->n_string_table > 0);
	CHECK_STR(str(p, 0), "");
	CHECK_U64(p->n_sample_type, 2);
	if (p->n_sample_type != 2)
		return;
	CHECK_STR(str(p, p->sample_type[0]->type), "inuse_objects");
	CHECK_STR(str(p, p->sample_type[0]->unit), "count");
	CHECK_STR(str(p, p->sample_type[1]->type), "inuse_space");
	CHECK_STR(str(p, p->sample_type[1]->unit), "bytes");
	CHECK_STR(str(p, p->default_sample_type), "inuse_space");
	CHECK_U64(p->time_nanos, 1234567890123ULL);
}

static void check_values(const struct Profile__Sample *s, const struct pprof_sample *want)
{
	CHECK_U64(s->n_location_id, want->nr);
	CHECK_U64(s->n_value, 2);
	if (s->n_value != 2)
		return;
	CHECK_U64(s->value[0], want->objects);
	CHECK_U64(s->value[1], want->bytes);
}

/* Whether every sample has as many locations as written: indexing them is then safe. */
static bool depths_match(const struct Profile *p, const struct pprof_sample *samples, size_t nr)
{
	if (p->n_sample != nr)
		return false;
	for (size_t i = 0; i < nr; i++) {
		if (p->sample[i]->n_location_id != samples[i].nr)
			return false;
	}
	return true;
}

static const struct pprof_frame leak_here = { "leak_here", "leaky.c", 12, 0x401136 };
static const struct pprof_frame main_a = { "main", "leaky.c", 30, 0x401200 };
static const struct pprof_frame main_b = { "main", "leaky.c", 31, 0x401208 };
static const struct pprof_frame helper = { "helper", NULL, 0, 0x401180 };
static const struct pprof_frame grow = { "grow", "vec.c", 7, 0x401300 };
static const struct pprof_frame unknown = { NULL, NULL, 0, 0x7f1234567890 };

static void test_stacks(void)
{
	/* Automatic: a static array cannot be initialized from other objects in ISO C. */
	const struct pprof_frame s1[] = { leak_here, main_a };
	const struct pprof_frame s2[] = { grow, main_b };
	const struct pprof_frame s3[] = { leak_here, helper, main_a };
	const struct pprof_frame s4[] = { unknown, grow, main_b };
	const struct pprof_frame s5[] = { unknown, main_a };
	const struct pprof_sample samples[] = {
		{ s1, 2, 7, 28672 },
		{ s2, 2, 1, 100 },
		{ s3, 3, 3, 3 * 4096 },
		{ s4, 3, 0, 0 },
		{ s5, 2, 2, 64 },
	};
	struct Profile *p = roundtrip(samples, 5, "memlens leaks, pid 42");

	if (!p)
		return;
	check_header(p);
	CHECK_U64(p->n_comment, 1);
	if (p->n_comment == 1)
		CHECK_STR(str(p, p->comment[0]), "memlens leaks, pid 42");
	CHECK_U64(p->n_sample, 5);
	for (size_t i = 0; i < p->n_sample && i < 5; i++) {
		check_values(p->sample[i], &samples[i]);
		for (size_t f = 0; f < p->sample[i]->n_location_id && f < samples[i].nr; f++) {
			if (samples[i].frames[f].function)
				check_frame(p, p->sample[i]->location_id[f], &samples[i].frames[f]);
		}
	}
	CHECK(depths_match(p, samples, 5));
	if (depths_match(p, samples, 5)) {
		const struct Profile__Sample **s = (const struct Profile__Sample **)p->sample;
		const struct Profile__Function *unk = loc_function(p, s[3]->location_id[0]);

		/* Same address, same Location; same function and file, same Function. */
		CHECK_U64(s[0]->location_id[0], s[2]->location_id[0]);
		CHECK_U64(s[0]->location_id[1], s[2]->location_id[2]);
		CHECK_U64(s[1]->location_id[0], s[3]->location_id[1]);
		CHECK(s[0]->location_id[1] != s[1]->location_id[1]);
		CHECK(loc_function(p, s[0]->location_id[1]) != NULL);
		CHECK(loc_function(p, s[0]->location_id[1]) == loc_function(p, s[1]->location_id[1]));
		/* An unknown function is named after its address, which pprof would not show. */
		CHECK(unk != NULL);
		if (unk) {
			CHECK_STR(str(p, unk->name), "0x7f1234567890");
			CHECK_STR(str(p, unk->filename), "");
		}
		CHECK(location(p, s[3]->location_id[0]) != NULL);
		CHECK_U64(s[3]->location_id[0], s[4]->location_id[0]);
	}
	/* leak_here, main_a, main_b, helper, grow, unknown; leak_here, main, helper, grow, unknown. */
	CHECK_U64(p->n_location, 6);
	CHECK_U64(p->n_function, 5);
	for (size_t i = 0; i < p->n_location; i++)
		CHECK(p->location[i]->id != 0);
	for (size_t i = 0; i < p->n_function; i++)
		CHECK(p->function[i]->id != 0);
	profile__free_unpacked(p, NULL);
}

/* Same name in another file is another function (two static functions). */
static void test_same_name(void)
{
	static const struct pprof_frame a[] = { { "init", "a.c", 1, 0x1000 } };
	static const struct pprof_frame b[] = { { "init", "b.c", 1, 0x2000 } };
	static const struct pprof_sample samples[] = { { a, 1, 1, 8 }, { b, 1, 1, 16 } };
	struct Profile *p = roundtrip(samples, 2, NULL);
	const struct Profile__Function *fa, *fb;

	if (!p)
		return;
	CHECK_U64(p->n_comment, 0);
	CHECK_U64(p->n_function, 2);
	CHECK_U64(p->n_sample, 2);
	if (p->n_sample != 2 || p->sample[0]->n_location_id != 1 || p->sample[1]->n_location_id != 1) {
		CHECK(!"two one-frame samples");
		profile__free_unpacked(p, NULL);
		return;
	}
	fa = loc_function(p, p->sample[0]->location_id[0]);
	fb = loc_function(p, p->sample[1]->location_id[0]);
	CHECK(fa && fb && fa != fb);
	if (fa && fb)
		CHECK_U64(fa->name, fb->name);	/* one string */
	profile__free_unpacked(p, NULL);
}

/* Many stacks over few functions: deduplication holds through hash collisions. */
static void test_many(void)
{
	enum { NR = 2000, DEPTH = 4, FUNCS = 50 };
	static struct pprof_frame frames[NR][DEPTH];
	static struct pprof_sample samples[NR];
	static char names[FUNCS][16];
	struct Profile *p;
	size_t bad = 0;

	for (int i = 0; i < FUNCS; i++)
		snprintf(names[i], sizeof(names[i]), "fn%d", i);
	for (int i = 0; i < NR; i++) {
		for (int d = 0; d < DEPTH; d++) {
			int fn = (i * 7 + d * 13) % FUNCS;

			frames[i][d] = (struct pprof_frame){ names[fn], "many.c", fn + 1, 0x10000 + fn * 16 };
		}
		samples[i] = (struct pprof_sample){ frames[i], DEPTH, i, 16 * i };
	}
	p = roundtrip(samples, NR, NULL);
	if (!p)
		return;
	CHECK_U64(p->n_sample, NR);
	CHECK_U64(p->n_function, FUNCS);
	CHECK_U64(p->n_location, FUNCS);
	/* "", 4 sample type strings, "many.c", the names. */
	CHECK_U64(p->n_string_table, 1 + 4 + 1 + FUNCS);
	for (size_t i = 0; i < p->n_sample && i < NR; i++) {
		const struct Profile__Sample *s = p->sample[i];

		for (size_t d = 0; d < s->n_location_id && d < DEPTH; d++) {
			const struct Profile__Function *fn = loc_function(p, s->location_id[d]);

			if (!fn || strcmp(str(p, fn->name), frames[i][d].function))
				bad++;
		}
		if (s->n_value != 2 || s->value[1] != (int64_t)(16 * i))
			bad++;
	}
	CHECK_U64(bad, 0);
	profile__free_unpacked(p, NULL);
}

static void test_empty(void)
{
	struct Profile *p = roundtrip(NULL, 0, NULL);

	if (!p)
		return;
	check_header(p);
	CHECK_U64(p->n_sample, 0);
	CHECK_U64(p->n_location, 0);
	CHECK_U64(p->n_function, 0);
	profile__free_unpacked(p, NULL);
}

static void test_bad_args(void)
{
	static const struct pprof_frame f[] = { { "main", "m.c", 1, 0x10 } };
	const struct pprof_sample no_frames = { NULL, 1, 1, 1 };
	const struct pprof_sample negative = { f, 1, 1, -1 };
	const struct pprof_sample ok = { f, 1, 1, 1 };
	unsigned char *buf;
	size_t len = 0;
	int err;

	CHECK_U64(pprof_write_heap(NULL, &ok, 1, 0, NULL), -EINVAL);
	buf = render(NULL, 1, NULL, &len, &err);
	CHECK_U64(err, -EINVAL);
	CHECK_U64(len, 0);	/* nothing written on a refusal */
	free(buf);
	buf = render(&no_frames, 1, NULL, &len, &err);
	CHECK_U64(err, -EINVAL);
	free(buf);
	buf = render(&negative, 1, NULL, &len, &err);
	CHECK_U64(err, -EINVAL);
	free(buf);
}

/* A full disk is reported, not lost in stdio's buffer. */
static void test_write_error(void)
{
	static const struct pprof_frame f[] = { { "main", "m.c", 1, 0x10 } };
	const struct pprof_sample ok = { f, 1, 1, 1 };
	FILE *full = fopen("/dev/full", "w");

	if (!full)	/* no /dev/full in this sandbox: nothing to check */
		return;
	CHECK_U64(pprof_write_heap(full, &ok, 1, 0, NULL), -EIO);
	fclose(full);
}

static struct frame_info report_frames[] = {
	{ .addr = 0x401136, .module = "/bin/app", .symbol = "leak_here", .sym_offset = 0x16 },
	{ .addr = 0x7f0000001000, .module = "/lib/libc.so.6", .sym_offset = 0x29d90 },
	{ .addr = 0x10 },
};
static const struct sym_stack report_stack = { .nr = 3, .frames = report_frames };

static const struct sym_stack *report_stack_of(void *ctx, uint64_t id)
{
	(void)ctx;
	(void)id;
	return &report_stack;
}

/* A function's name in a profile memlens wrote: as in the flame graph. */
static const char *name_of(const struct Profile *p, uint64_t addr)
{
	for (size_t i = 0; i < p->n_location; i++) {
		if (p->location[i]->address != addr)
			continue;
		const struct Profile__Function *fn = loc_function(p, p->location[i]->id);

		return fn ? str(p, fn->name) : NULL;
	}
	return NULL;
}

/* A frame in a module without a symbol is named after where in the module it is. */
static void test_report_names(void)
{
	char path[] = "/tmp/memlens-pprof-XXXXXX";
	struct stack_group g = { .stack_id = 1, .count = 2, .bytes = 64 };
	struct stack_report r = { .pid = 1, .comm = "app", .groups = &g, .nr_groups = 1,
				 .stack = report_stack_of };
	unsigned char gz[4096], *raw;
	struct Profile *p = NULL;
	size_t gz_len, raw_len = 0;
	int fd = mkstemp(path);
	FILE *f;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	CHECK_U64(report_write_pprof(&r, path), 0);
	f = fopen(path, "r");
	gz_len = f ? fread(gz, 1, sizeof(gz), f) : 0;
	if (f)
		fclose(f);
	unlink(path);
	raw = gunzip(gz, gz_len, &raw_len);
	if (raw)
		p = profile__unpack(NULL, raw_len, raw);
	CHECK(p != NULL);
	if (p) {
		CHECK_STR(name_of(p, 0x401136), "leak_here");
		CHECK_STR(name_of(p, 0x7f0000001000), "[libc.so.6+0x29d90]");
		CHECK_STR(name_of(p, 0x10), "0x10");
		profile__free_unpacked(p, NULL);
	}
	free(raw);
}

/*
 * Mappings and labels: frames in one mapping share it (one Mapping, its
 * range, offset and build ID), a frame of no mapping has none, and each
 * sample carries its labels as strings.
 */
static void test_mappings_labels(void)
{
	static const struct pprof_frame f[] = {
		{ .function = "leak_here", .addr = 0x401136, .map_file = "/bin/leaky",
		  .map_start = 0x401000, .map_limit = 0x402000, .map_offset = 0x1000,
		  .build_id = "4448" },
		{ .function = "main", .addr = 0x401200, .map_file = "/bin/leaky",
		  .map_start = 0x401000, .map_limit = 0x402000, .map_offset = 0x1000,
		  .build_id = "4448" },
		{ .function = "malloc", .addr = 0x7f0000001000, .map_file = "/lib/libc.so.6",
		  .map_start = 0x7f0000000000, .map_limit = 0x7f0000100000, .map_offset = 0x26000 },
		{ .addr = 0x1234 },
	};
	static const struct pprof_label tags[] = { { "pid", "4242" }, { "comm", "leaky" } };
	const struct pprof_sample samples[] = {
		{ .frames = f, .nr = 2, .objects = 7, .bytes = 28672, .labels = tags, .nr_labels = 2 },
		{ .frames = f + 2, .nr = 2, .objects = 1, .bytes = 10, .labels = tags, .nr_labels = 1 },
	};
	struct Profile *p = roundtrip(samples, 2, NULL);
	const struct Profile__Mapping *m;

	if (!p)
		return;
	CHECK_U64(p->n_mapping, 2);
	m = p->mapping[0];
	CHECK_U64(m->id, 1);
	CHECK_U64(m->memory_start, 0x401000);
	CHECK_U64(m->memory_limit, 0x402000);
	CHECK_U64(m->file_offset, 0x1000);
	CHECK_STR(str(p, m->filename), "/bin/leaky");
	CHECK_STR(str(p, m->build_id), "4448");
	CHECK(m->has_functions && m->has_filenames && m->has_line_numbers);
	m = p->mapping[1];
	CHECK_U64(m->file_offset, 0x26000);
	CHECK_STR(str(p, m->build_id), "");
	CHECK_U64(location(p, p->sample[0]->location_id[0])->mapping_id, 1);
	CHECK_U64(location(p, p->sample[0]->location_id[1])->mapping_id, 1);
	CHECK_U64(location(p, p->sample[1]->location_id[0])->mapping_id, 2);
	CHECK_U64(location(p, p->sample[1]->location_id[1])->mapping_id, 0);
	CHECK_U64(p->sample[0]->n_label, 2);
	CHECK_STR(str(p, p->sample[0]->label[0]->key), "pid");
	CHECK_STR(str(p, p->sample[0]->label[0]->str), "4242");
	CHECK_STR(str(p, p->sample[0]->label[1]->key), "comm");
	CHECK_STR(str(p, p->sample[0]->label[1]->str), "leaky");
	CHECK_U64(p->sample[1]->n_label, 1);
	profile__free_unpacked(p, NULL);
}

void test_pprof(void)
{
	test_mappings_labels();
	test_report_names();
	test_stacks();
	test_same_name();
	test_many();
	test_empty();
	test_bad_args();
	test_write_error();
}
