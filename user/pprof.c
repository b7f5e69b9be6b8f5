// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pprof heap profiles.  The samples become a Profile message built in place
 * from arrays sized for the worst case (no frame shared with another), so
 * that nothing moves while messages point at each other; strings, functions
 * and locations are deduplicated through open-addressing hash tables of
 * indexes.  protobuf-c packs the message into one buffer, which zlib
 * compresses with a gzip header, as pprof files are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST	/* next_in is const: the packed buffer is only read */
#include <zlib.h>

#include "pprof.h"
#include "profile.pb-c.h"

/*
 * Hash slots hold 32-bit indexes; a cap far above real profiles (memlens
 * keeps thousands of stacks, not hundreds of millions of frames) keeps every
 * count and table size well inside that.
 */
#define PPROF_MAX_FRAMES	(1u << 26)

/* String table entries that exist before any frame's. */
enum {
	STR_EMPTY,		/* pprof requires "" at index 0 */
	STR_INUSE_OBJECTS,
	STR_COUNT,
	STR_INUSE_SPACE,
	STR_BYTES,
	STR_FIXED,
};

/* "0x" and 16 hex digits, NUL-terminated: an unknown function's name. */
#define PPROF_ADDR_NAME	19

#define PPROF_GZ_CHUNK	16384		/* deflate output per fwrite */
#define PPROF_GZ_IN_MAX	(1u << 30)	/* avail_in is a uInt, the buffer a size_t */

struct pprof_builder {
	struct Profile prof;
	struct Profile__ValueType types[2 + PPROF_MAX_EXTRA];
	struct Profile__ValueType *type_ptrs[2 + PPROF_MAX_EXTRA];
	int64_t comment;
	bool allocated;		/* alloc_* sample types instead of inuse_* */
	const struct pprof_extra *extra;	/* more sample types, NULL: none */
	size_t nr_values;	/* per sample: 2 + extra's */
	const struct pprof_types *names;	/* other sample types; NULL: the above */

	char **strs;
	struct Profile__Function *funcs;
	struct Profile__Function **func_ptrs;
	struct Profile__Location *locs;
	struct Profile__Location **loc_ptrs;
	struct Profile__Line *lines;		/* one per location */
	struct Profile__Line **line_ptrs;
	struct Profile__Sample *samples;
	struct Profile__Sample **sample_ptrs;
	struct Profile__Mapping *maps;		/* at most one per frame */
	struct Profile__Mapping **map_ptrs;
	struct Profile__Label *labels;		/* all samples' labels, back to back */
	struct Profile__Label **label_ptrs;
	size_t nr_labels;
	uint64_t *loc_ids;	/* all samples' location ids, back to back */
	int64_t *values;	/* two per sample, in sample_type order */
	char *addr_names;	/* PPROF_ADDR_NAME bytes per unknown function */
	size_t nr_addr_names;

	/* Slots hold an index + 1, so that 0 means empty. */
	uint32_t *str_hash;
	uint32_t *func_hash;
	uint32_t *loc_hash;
	size_t hash_mask;
};

/* What the samples hold, to size the builder's arrays. */
struct pprof_counts {
	size_t frames;
	size_t unknown;		/* frames without a function name */
	size_t labels;
};

struct func_key {
	int64_t name;
	int64_t file;
};

/* --- arguments --------------------------------------------------------- */

static int check_sample(const struct pprof_sample *s)
{
	if (s->nr && !s->frames)
		return -EINVAL;
	if (s->objects < 0 || s->bytes < 0)
		return -EINVAL;
	if (s->nr_labels && !s->labels)
		return -EINVAL;
	for (size_t i = 0; i < s->nr_labels; i++)
		if (!s->labels[i].key || !s->labels[i].value)
			return -EINVAL;
	return 0;
}

/* Validate the arguments and count the frames of all samples into *CNT. */
static int check_args(FILE *out, const struct pprof_sample *samples, size_t nr,
		      struct pprof_counts *cnt)
{
	size_t total = 0, unknown = 0, labels = 0;
	int err;

	if (!out || (nr && !samples))
		return -EINVAL;
	if (nr > PPROF_MAX_FRAMES)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		err = check_sample(&samples[i]);
		if (err)
			return err;
		/* Compared one by one so that the sum cannot wrap. */
		if (samples[i].nr > PPROF_MAX_FRAMES - total)
			return -ENOMEM;
		total += samples[i].nr;
		if (samples[i].nr_labels > PPROF_MAX_FRAMES - labels)
			return -ENOMEM;
		labels += samples[i].nr_labels;
		for (size_t f = 0; f < samples[i].nr; f++)
			unknown += !samples[i].frames[f].function;
	}
	cnt->frames = total;
	cnt->unknown = unknown;
	cnt->labels = labels;
	return 0;
}

/* --- building ---------------------------------------------------------- */

/* calloc() that never returns NULL for an empty profile's empty arrays. */
static void *zalloc(size_t n, size_t size)
{
	return calloc(n + 1, size);
}

static size_t hash_size(size_t entries)
{
	size_t size = 16;

	/* At most half full, so probes stay short and always find a free slot. */
	while (size < 2 * entries)
		size *= 2;
	return size;
}

static int builder_alloc(struct pprof_builder *b, size_t nr, const struct pprof_counts *cnt)
{
	size_t frames = cnt->frames;
	/*
	 * Every frame can bring a function name, a file name, a mapped file
	 * and a build ID; every label a key and a value; every extra
	 * sample type a type and a unit.
	 */
	size_t max_strs = STR_FIXED + 1 + 4 * frames + 2 * cnt->labels +
			  2 * PPROF_MAX_EXTRA;
	size_t slots = hash_size(max_strs);

	b->hash_mask = slots - 1;
	b->strs = zalloc(max_strs, sizeof(*b->strs));
	b->funcs = zalloc(frames, sizeof(*b->funcs));
	b->func_ptrs = zalloc(frames, sizeof(*b->func_ptrs));
	b->locs = zalloc(frames, sizeof(*b->locs));
	b->loc_ptrs = zalloc(frames, sizeof(*b->loc_ptrs));
	b->lines = zalloc(frames, sizeof(*b->lines));
	b->line_ptrs = zalloc(frames, sizeof(*b->line_ptrs));
	b->samples = zalloc(nr, sizeof(*b->samples));
	b->sample_ptrs = zalloc(nr, sizeof(*b->sample_ptrs));
	b->maps = zalloc(frames, sizeof(*b->maps));
	b->map_ptrs = zalloc(frames, sizeof(*b->map_ptrs));
	b->labels = zalloc(cnt->labels, sizeof(*b->labels));
	b->label_ptrs = zalloc(cnt->labels, sizeof(*b->label_ptrs));
	b->loc_ids = zalloc(frames, sizeof(*b->loc_ids));
	b->values = zalloc(b->nr_values * nr, sizeof(*b->values));
	b->addr_names = zalloc(cnt->unknown, PPROF_ADDR_NAME);
	b->str_hash = zalloc(slots, sizeof(*b->str_hash));
	b->func_hash = zalloc(slots, sizeof(*b->func_hash));
	b->loc_hash = zalloc(slots, sizeof(*b->loc_hash));
	if (!b->strs || !b->funcs || !b->func_ptrs || !b->locs || !b->loc_ptrs || !b->lines ||
	    !b->line_ptrs || !b->samples || !b->sample_ptrs || !b->loc_ids || !b->values ||
	    !b->maps || !b->map_ptrs || !b->labels || !b->label_ptrs ||
	    !b->addr_names || !b->str_hash || !b->func_hash || !b->loc_hash)
		return -ENOMEM;
	return 0;
}

static void builder_free(struct pprof_builder *b)
{
	free(b->strs);
	free(b->funcs);
	free(b->func_ptrs);
	free(b->locs);
	free(b->loc_ptrs);
	free(b->lines);
	free(b->line_ptrs);
	free(b->samples);
	free(b->sample_ptrs);
	free(b->maps);
	free(b->map_ptrs);
	free(b->labels);
	free(b->label_ptrs);
	free(b->loc_ids);
	free(b->values);
	free(b->addr_names);
	free(b->str_hash);
	free(b->func_hash);
	free(b->loc_hash);
}

static uint64_t hash_u64(uint64_t x)
{
	/* A multiply-xorshift mix: addresses differ mostly in their low bits. */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The slot of KEY in TABLE: the one holding it, or the empty one where it belongs. */
static uint32_t *hash_slot(const struct pprof_builder *b, uint32_t *table, uint64_t hash,
			   bool (*match)(const struct pprof_builder *b, uint32_t idx, const void *key),
			   const void *key)
{
	size_t i = hash & b->hash_mask;

	while (table[i] && !match(b, table[i] - 1, key))
		i = (i + 1) & b->hash_mask;
	return &table[i];
}

static bool str_match(const struct pprof_builder *b, uint32_t idx, const void *key)
{
	return !strcmp(b->strs[idx], key);
}

static bool func_match(const struct pprof_builder *b, uint32_t idx, const void *key)
{
	const struct func_key *k = key;

	return b->funcs[idx].name == k->name && b->funcs[idx].filename == k->file;
}

static bool loc_match(const struct pprof_builder *b, uint32_t idx, const void *key)
{
	return b->locs[idx].address == *(const uint64_t *)key;
}

/* The string table index of S; NULL is "" like pprof's unset fields. */
static int64_t str_index(struct pprof_builder *b, const char *s)
{
	uint32_t *slot;

	if (!s || !*s)
		return STR_EMPTY;
	slot = hash_slot(b, b->str_hash, hash_str(s), str_match, s);
	if (!*slot) {
		/* Borrowed, not copied: packing only reads, and ends before we return. */
		b->strs[b->prof.n_string_table] = (char *)s;
		*slot = ++b->prof.n_string_table;
	}
	return *slot - 1;
}

/*
 * An unknown function's name: its address.  pprof drops addresses unless
 * asked for them (-addresses), and would show every unknown frame as one
 * "<unknown>"; a name keeps them apart and tells where to look.
 */
static const char *addr_name(struct pprof_builder *b, uint64_t addr)
{
	char *name = b->addr_names + b->nr_addr_names++ * PPROF_ADDR_NAME;

	snprintf(name, PPROF_ADDR_NAME, "0x%" PRIx64, addr);
	return name;
}

/* The id of FRAME's Function.  Called once per Location, so at most once per unknown frame. */
static uint64_t func_id(struct pprof_builder *b, const struct pprof_frame *frame)
{
	struct Profile__Function *f;
	struct func_key key;
	uint32_t *slot;
	uint64_t hash;

	key.name = str_index(b, frame->function ? frame->function : addr_name(b, frame->addr));
	key.file = str_index(b, frame->file);
	hash = hash_u64((uint64_t)key.name * 0x9e3779b97f4a7c15ULL ^ (uint64_t)key.file);
	slot = hash_slot(b, b->func_hash, hash, func_match, &key);
	if (*slot)
		return b->funcs[*slot - 1].id;

	f = &b->funcs[b->prof.n_function];
	profile__function__init(f);
	f->id = b->prof.n_function + 1;	/* ids start at 1: 0 means none */
	f->name = key.name;
	f->system_name = key.name;
	f->filename = key.file;
	b->func_ptrs[b->prof.n_function] = f;
	*slot = ++b->prof.n_function;
	return f->id;
}

/*
 * The id of the Mapping FRAME's address is in, 0 for none. A process maps
 * tens of files, not thousands: a linear search is enough.
 */
static uint64_t map_id(struct pprof_builder *b, const struct pprof_frame *frame)
{
	struct Profile__Mapping *m;
	int64_t file;

	if (!frame->map_file || !*frame->map_file)
		return 0;
	file = str_index(b, frame->map_file);
	for (size_t i = 0; i < b->prof.n_mapping; i++) {
		m = &b->maps[i];
		if (m->filename == file && m->memory_start == frame->map_start) {
			m->has_functions |= frame->function != NULL;
			return m->id;
		}
	}
	m = &b->maps[b->prof.n_mapping];
	profile__mapping__init(m);
	m->id = b->prof.n_mapping + 1;
	m->memory_start = frame->map_start;
	m->memory_limit = frame->map_limit;
	m->file_offset = frame->map_offset;
	m->filename = file;
	m->build_id = str_index(b, frame->build_id);
	/* Symbolized here: readers need not look for the file. */
	m->has_functions = frame->function != NULL;
	m->has_filenames = m->has_line_numbers = true;
	b->map_ptrs[b->prof.n_mapping++] = m;
	return m->id;
}

/* The id of the Location at FRAME's address, made from FRAME if it is the first there. */
static uint64_t loc_id(struct pprof_builder *b, const struct pprof_frame *frame)
{
	struct Profile__Location *loc;
	struct Profile__Line *line;
	uint32_t *slot;
	size_t i;

	slot = hash_slot(b, b->loc_hash, hash_u64(frame->addr), loc_match, &frame->addr);
	if (*slot)
		return b->locs[*slot - 1].id;

	i = b->prof.n_location;
	loc = &b->locs[i];
	profile__location__init(loc);
	loc->id = i + 1;
	loc->address = frame->addr;
	loc->mapping_id = map_id(b, frame);
	line = &b->lines[i];
	profile__line__init(line);
	line->function_id = func_id(b, frame);
	line->line = frame->line;
	b->line_ptrs[i] = line;
	loc->line = &b->line_ptrs[i];
	loc->n_line = 1;
	b->loc_ptrs[i] = loc;
	*slot = ++b->prof.n_location;
	return loc->id;
}

static void add_sample(struct pprof_builder *b, const struct pprof_sample *s, size_t *nr_ids)
{
	size_t i = b->prof.n_sample;
	struct Profile__Sample *ps = &b->samples[i];

	profile__sample__init(ps);
	ps->location_id = &b->loc_ids[*nr_ids];
	for (size_t f = 0; f < s->nr; f++)
		ps->location_id[ps->n_location_id++] = loc_id(b, &s->frames[f]);
	*nr_ids += s->nr;
	/* In the order of sample_type. */
	ps->value = &b->values[b->nr_values * i];
	ps->value[0] = s->objects;
	ps->value[1] = s->bytes;
	for (size_t v = 2; v < b->nr_values; v++)
		ps->value[v] = b->extra->values[i * b->extra->nr + v - 2];
	ps->n_value = b->nr_values;
	ps->label = &b->label_ptrs[b->nr_labels];
	for (size_t l = 0; l < s->nr_labels; l++) {
		struct Profile__Label *label = &b->labels[b->nr_labels];

		profile__label__init(label);
		label->key = str_index(b, s->labels[l].key);
		label->str = str_index(b, s->labels[l].value);
		b->label_ptrs[b->nr_labels++] = label;
	}
	ps->n_label = s->nr_labels;
	b->sample_ptrs[i] = ps;
	b->prof.n_sample++;
}

static void add_header(struct pprof_builder *b, int64_t time_ns, const char *comment)
{
	static const char *const fixed[STR_FIXED] = {
		[STR_EMPTY] = "",
		[STR_INUSE_OBJECTS] = "inuse_objects",
		[STR_COUNT] = "count",
		[STR_INUSE_SPACE] = "inuse_space",
		[STR_BYTES] = "bytes",
	};
	/* The same slots, named as pprof names an allocation profile. */
	static const char *const fixed_alloc[STR_FIXED] = {
		[STR_EMPTY] = "",
		[STR_INUSE_OBJECTS] = "alloc_objects",
		[STR_COUNT] = "count",
		[STR_INUSE_SPACE] = "alloc_space",
		[STR_BYTES] = "bytes",
	};
	const char *const *names = b->allocated ? fixed_alloc : fixed;
	const char *typed[STR_FIXED];
	struct Profile *p = &b->prof;

	if (b->names) {
		typed[STR_EMPTY] = "";
		typed[STR_INUSE_OBJECTS] = b->names->count_type;
		typed[STR_COUNT] = b->names->count_unit;
		typed[STR_INUSE_SPACE] = b->names->value_type;
		typed[STR_BYTES] = b->names->value_unit;
		names = typed;
	}

	/* Index 0 is "" by definition, so it stays out of the hash (str_index() never looks it up). */
	b->strs[STR_EMPTY] = (char *)names[STR_EMPTY];
	p->n_string_table = 1;
	for (int i = STR_EMPTY + 1; i < STR_FIXED; i++)
		str_index(b, names[i]);

	profile__value_type__init(&b->types[0]);
	b->types[0].type = STR_INUSE_OBJECTS;
	b->types[0].unit = STR_COUNT;
	profile__value_type__init(&b->types[1]);
	b->types[1].type = STR_INUSE_SPACE;
	b->types[1].unit = STR_BYTES;
	b->type_ptrs[0] = &b->types[0];
	b->type_ptrs[1] = &b->types[1];
	for (size_t v = 2; v < b->nr_values; v++) {
		profile__value_type__init(&b->types[v]);
		b->types[v].type = str_index(b, b->extra->types[v - 2]);
		b->types[v].unit = str_index(b, b->extra->units[v - 2]);
		b->type_ptrs[v] = &b->types[v];
	}
	p->sample_type = b->type_ptrs;
	p->n_sample_type = b->nr_values;
	p->default_sample_type = STR_INUSE_SPACE;
	p->time_nanos = time_ns;

	if (comment && *comment) {
		b->comment = str_index(b, comment);
		p->comment = &b->comment;
		p->n_comment = 1;
	}
}

static void build(struct pprof_builder *b, const struct pprof_sample *samples, size_t nr,
		  int64_t time_ns, const char *comment)
{
	struct Profile *p = &b->prof;
	size_t nr_ids = 0;

	profile__init(p);
	p->string_table = b->strs;
	p->function = b->func_ptrs;
	p->location = b->loc_ptrs;
	p->mapping = b->map_ptrs;
	p->sample = b->sample_ptrs;
	add_header(b, time_ns, comment);
	for (size_t i = 0; i < nr; i++)
		add_sample(b, &samples[i], &nr_ids);
}

/* --- output ------------------------------------------------------------ */

/* Run deflate with FLUSH until it wants more input, writing what it makes to OUT. */
static int deflate_out(z_stream *zs, int flush, FILE *out)
{
	unsigned char chunk[PPROF_GZ_CHUNK];
	size_t len;

	do {
		zs->next_out = chunk;
		zs->avail_out = sizeof(chunk);
		if (deflate(zs, flush) == Z_STREAM_ERROR)
			return -EIO;
		len = sizeof(chunk) - zs->avail_out;
		if (fwrite(chunk, 1, len, out) != len)
			return -EIO;
	} while (zs->avail_out == 0);
	return 0;
}

static int gzip_write(FILE *out, const uint8_t *buf, size_t len)
{
	z_stream zs = {};
	int flush, err;
	size_t n;

	/* windowBits 15 + 16: a gzip header and trailer rather than zlib's. */
	err = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (err != Z_OK)
		return err == Z_MEM_ERROR ? -ENOMEM : -EIO;
	do {
		n = len < PPROF_GZ_IN_MAX ? len : PPROF_GZ_IN_MAX;
		zs.next_in = buf;
		zs.avail_in = n;
		buf += n;
		len -= n;
		flush = len ? Z_NO_FLUSH : Z_FINISH;
		err = deflate_out(&zs, flush, out);
	} while (!err && flush != Z_FINISH);
	deflateEnd(&zs);
	return err;
}

static int pack_and_write(FILE *out, const struct Profile *p)
{
	size_t len = profile__get_packed_size(p);
	uint8_t *buf = malloc(len + 1);	/* + 1: an empty message packs to 0 bytes */
	int err;

	if (!buf)
		return -ENOMEM;
	if (profile__pack(p, buf) != len) {
		err = -EIO;
		goto out;
	}
	err = gzip_write(out, buf, len);
	if (!err && fflush(out))
		err = -EIO;
out:
	free(buf);
	return err;
}

static int write_profile(struct pprof_builder *bp, FILE *out, const struct pprof_sample *samples,
			 size_t nr, int64_t time_ns, const char *comment);

int pprof_write_heap(FILE *out, const struct pprof_sample *samples, size_t nr, int64_t time_ns,
		     const char *comment)
{
	return pprof_write_profile(out, samples, nr, time_ns, comment, false);
}

int pprof_write_profile(FILE *out, const struct pprof_sample *samples, size_t nr, int64_t time_ns,
			const char *comment, bool allocated)
{
	return pprof_write_profile_extra(out, samples, nr, time_ns, comment, allocated, NULL);
}

int pprof_write_profile_extra(FILE *out, const struct pprof_sample *samples, size_t nr,
			      int64_t time_ns, const char *comment, bool allocated,
			      const struct pprof_extra *extra)
{
	struct pprof_builder b = { .allocated = allocated, .extra = extra };

	if (extra && extra->nr > PPROF_MAX_EXTRA)
		return -EINVAL;
	return write_profile(&b, out, samples, nr, time_ns, comment);
}

int pprof_write_typed(FILE *out, const struct pprof_sample *samples, size_t nr, int64_t time_ns,
		      const char *comment, const struct pprof_types *types)
{
	struct pprof_builder b = { .names = types };

	if (!types || !types->count_type || !types->count_unit || !types->value_type ||
	    !types->value_unit)
		return -EINVAL;
	return write_profile(&b, out, samples, nr, time_ns, comment);
}

static int write_profile(struct pprof_builder *bp, FILE *out, const struct pprof_sample *samples,
			 size_t nr, int64_t time_ns, const char *comment)
{
	struct pprof_builder b = *bp;
	struct pprof_counts cnt;
	int err;

	b.nr_values = 2 + (b.extra ? b.extra->nr : 0);
	err = check_args(out, samples, nr, &cnt);
	if (err)
		return err;
	err = builder_alloc(&b, nr, &cnt);
	if (err)
		goto out;
	build(&b, samples, nr, time_ns, comment);
	err = pack_and_write(out, &b.prof);
out:
	builder_free(&b);
	return err;
}
