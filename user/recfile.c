// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The recording format of doc/recording.md: its writer, used by `memlens
 * record`, and its reader, used by `memlens report` and fuzzed by
 * tests/fuzz. The reader trusts nothing: every length is bounded by the
 * bytes left, every reference is checked, and a snapshot that frees what
 * is not outstanding (or allocates what is) is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "recfile.h"
#include "util.h"

/* --- little helpers shared by writer and reader -------------------------- */

struct byte_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static void buf_put(struct byte_buf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *data;

		while (cap < b->len + n)
			cap *= 2;
		data = realloc(b->data, cap);
		if (!data) {
			b->err = -ENOMEM;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void buf_varint(struct byte_buf *b, uint64_t v)
{
	uint8_t out[10];
	size_t n = 0;

	do {
		out[n] = v & 0x7f;
		v >>= 7;
		if (v)
			out[n] |= 0x80;
		n++;
	} while (v);
	buf_put(b, out, n);
}

static void buf_string(struct byte_buf *b, const char *s)
{
	size_t n = s ? strnlen(s, REC_MAX_STRING - 1) : 0;

	buf_varint(b, n);
	buf_put(b, s, n);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The checksum covers the record's type and length too. */
static uint32_t record_crc(const uint8_t *type_len, const uint8_t *payload, size_t len)
{
	uLong crc = crc32(0, type_len, 8);

	return crc32(crc, payload, len);
}

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t hash_u64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * Ids by hash, open addressing. Several ids may share a hash: callers
 * compare the candidates themselves (EQ).
 */
struct id_index {
	uint64_t *hash;
	uint32_t *id1;		/* id + 1; 0 marks a free slot */
	size_t cap, nr;
};

static int64_t index_find(const struct id_index *x, uint64_t h,
			  bool (*eq)(const void *ctx, uint32_t id), const void *ctx)
{
	if (!x->cap)
		return -1;
	for (size_t i = h & (x->cap - 1); x->id1[i]; i = (i + 1) & (x->cap - 1))
		if (x->hash[i] == h && eq(ctx, x->id1[i] - 1))
			return x->id1[i] - 1;
	return -1;
}

static void index_place(struct id_index *x, uint64_t h, uint32_t id)
{
	size_t i = h & (x->cap - 1);

	while (x->id1[i])
		i = (i + 1) & (x->cap - 1);
	x->hash[i] = h;
	x->id1[i] = id + 1;
	x->nr++;
}

static int index_add(struct id_index *x, uint64_t h, uint32_t id)
{
	if ((x->nr + 1) * 2 > x->cap) {
		struct id_index bigger = { .cap = x->cap ? x->cap * 2 : 64 };

		bigger.hash = calloc(bigger.cap, sizeof(*bigger.hash));
		bigger.id1 = calloc(bigger.cap, sizeof(*bigger.id1));
		if (!bigger.hash || !bigger.id1) {
			free(bigger.hash);
			free(bigger.id1);
			return -ENOMEM;
		}
		for (size_t i = 0; i < x->cap; i++)
			if (x->id1[i])
				index_place(&bigger, x->hash[i], x->id1[i] - 1);
		free(x->hash);
		free(x->id1);
		*x = bigger;
	}
	index_place(x, h, id);
	return 0;
}

static void index_free(struct id_index *x)
{
	free(x->hash);
	free(x->id1);
}

static int alloc_cmp_addr(const void *a, const void *b)
{
	const struct rec_alloc *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool alloc_same(const struct rec_alloc *a, const struct rec_alloc *b)
{
	return a->size == b->size && a->ts_ns == b->ts_ns && a->stack_id == b->stack_id;
}

/* --- writer ------------------------------------------------------------- */

/* A frame as written: strings as ids + 1, 0 for none. */
struct wframe {
	uint64_t addr, offset;
	uint32_t module, symbol, file;
	int32_t line;
};

struct rec_writer {
	FILE *f;
	int err;
	uint64_t bytes;
	char **strings;
	size_t nr_strings, strings_cap;
	struct id_index string_index;
	struct wframe *frames;
	size_t nr_frames, frames_cap;
	struct id_index frame_index;
	uint64_t *stacks;
	size_t nr_stacks, stacks_cap;
	struct id_index stack_index;
	struct rec_alloc *prev;	/* the last snapshot's blocks, by address */
	size_t nr_prev;
	/* What the next snapshot introduces, written just before it. */
	struct byte_buf new_strings, new_frames, new_stacks;
	size_t nr_new_strings, nr_new_frames, nr_new_stacks;
	uint64_t nr_snapshots;
};

static void write_record(struct rec_writer *w, uint32_t type, const struct byte_buf *payload)
{
	uint8_t head[12];

	if (w->err)
		return;
	if (payload->err) {
		w->err = payload->err;
		return;
	}
	put_le32(head, type);
	put_le32(head + 4, payload->len);
	put_le32(head + 8, record_crc(head, payload->data, payload->len));
	if (fwrite(head, 1, sizeof(head), w->f) != sizeof(head) ||
	    fwrite(payload->data, 1, payload->len, w->f) != payload->len)
		w->err = -EIO;
	w->bytes += sizeof(head) + payload->len;
}

static int open_output(const char *path, FILE **out)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	*out = fdopen(fd, "w");
	if (!*out) {
		int err = -errno;

		close(fd);
		return err;
	}
	return 0;
}

int rec_writer_open(const char *path, const struct rec_session *sess, struct rec_writer **out)
{
	uint8_t header[REC_HEADER_LEN] = REC_MAGIC;
	struct byte_buf b = {};
	struct rec_writer *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	err = open_output(path, &w->f);
	if (err) {
		free(w);
		return err;
	}
	header[8] = REC_VERSION_MAJOR;
	header[10] = REC_VERSION_MINOR;
	if (fwrite(header, 1, sizeof(header), w->f) != sizeof(header))
		w->err = -EIO;
	w->bytes = sizeof(header);
	buf_varint(&b, sess->pid);
	buf_string(&b, sess->comm);
	buf_string(&b, sess->command);
	buf_string(&b, sess->hostname);
	buf_string(&b, sess->kernel);
	buf_string(&b, sess->version);
	buf_varint(&b, sess->start_wall_ns);
	buf_varint(&b, sess->interval_ns);
	write_record(w, REC_SESSION, &b);
	free(b.data);
	if (!w->err && fflush(w->f))
		w->err = -errno;
	*out = w;
	return 0;
}

struct string_key {
	const struct rec_writer *w;
	const char *s;
};

static bool string_eq(const void *ctx, uint32_t id)
{
	const struct string_key *k = ctx;

	return !strncmp(k->w->strings[id], k->s, REC_MAX_STRING - 1);
}

/* S's id + 1 (0 for NULL), added to the next STRINGS record if new. */
static uint32_t string_ref(struct rec_writer *w, const char *s)
{
	struct string_key key = { w, s };
	uint64_t h;
	int64_t id;
	char *copy;

	if (!s)
		return 0;
	/* Longer strings are cut when written: look them up as cut. */
	h = hash_bytes(s, strnlen(s, REC_MAX_STRING - 1));
	id = index_find(&w->string_index, h, string_eq, &key);
	if (id >= 0)
		return id + 1;
	copy = strndup(s, REC_MAX_STRING - 1);
	if (!copy || array_grow((void **)&w->strings, w->nr_strings, &w->strings_cap,
				sizeof(*w->strings)) ||
	    index_add(&w->string_index, h, w->nr_strings)) {
		free(copy);
		w->err = -ENOMEM;
		return 0;
	}
	w->strings[w->nr_strings] = copy;
	buf_string(&w->new_strings, copy);
	w->nr_new_strings++;
	return ++w->nr_strings;
}

struct frame_key {
	const struct rec_writer *w;
	const struct wframe *f;
};

static bool frame_eq(const void *ctx, uint32_t id)
{
	const struct frame_key *k = ctx;
	const struct wframe *a = &k->w->frames[id], *b = k->f;

	return a->addr == b->addr && a->offset == b->offset && a->module == b->module &&
	       a->symbol == b->symbol && a->file == b->file && a->line == b->line;
}

static uint32_t frame_ref(struct rec_writer *w, const struct frame_info *fi)
{
	struct wframe f = {
		.addr = fi->addr,
		.offset = fi->sym_offset,
		.module = string_ref(w, fi->module),
		.symbol = string_ref(w, fi->symbol),
		.file = string_ref(w, fi->file),
		.line = fi->line > 0 ? fi->line : 0,
	};
	struct frame_key key = { w, &f };
	uint64_t h = hash_bytes(&f, sizeof(f));
	int64_t id = index_find(&w->frame_index, h, frame_eq, &key);

	if (id >= 0)
		return id;
	if (array_grow((void **)&w->frames, w->nr_frames, &w->frames_cap, sizeof(*w->frames)) ||
	    index_add(&w->frame_index, h, w->nr_frames)) {
		w->err = -ENOMEM;
		return 0;
	}
	w->frames[w->nr_frames] = f;
	buf_varint(&w->new_frames, f.addr);
	buf_varint(&w->new_frames, f.module);
	buf_varint(&w->new_frames, f.symbol);
	buf_varint(&w->new_frames, f.offset);
	buf_varint(&w->new_frames, f.file);
	buf_varint(&w->new_frames, f.line);
	w->nr_new_frames++;
	return w->nr_frames++;
}

struct stack_key {
	const struct rec_writer *w;
	uint64_t id;
};

static bool stack_eq(const void *ctx, uint32_t index)
{
	const struct stack_key *k = ctx;

	return k->w->stacks[index] == k->id;
}

/* The index of stack ID in the recording; its frames are written the first time. */
static uint32_t stack_ref(struct rec_writer *w, uint64_t stack_id,
			  const struct sym_stack *(*stack)(void *ctx, uint64_t id), void *ctx)
{
	struct stack_key key = { w, stack_id };
	uint64_t h = hash_u64(stack_id);
	int64_t index = index_find(&w->stack_index, h, stack_eq, &key);
	uint32_t refs[MAX_STACK_DEPTH];
	const struct sym_stack *st;
	size_t depth;

	if (index >= 0)
		return index;
	if (array_grow((void **)&w->stacks, w->nr_stacks, &w->stacks_cap, sizeof(*w->stacks)) ||
	    index_add(&w->stack_index, h, w->nr_stacks)) {
		w->err = -ENOMEM;
		return 0;
	}
	w->stacks[w->nr_stacks] = stack_id;
	st = stack_id ? stack(ctx, stack_id) : NULL;
	depth = st ? st->nr : 0;
	if (depth > MAX_STACK_DEPTH)
		depth = MAX_STACK_DEPTH;
	/* Frames first: their strings and frames go into the records before. */
	for (size_t i = 0; i < depth; i++)
		refs[i] = frame_ref(w, &st->frames[i]);
	buf_varint(&w->new_stacks, stack_id);
	buf_varint(&w->new_stacks, depth);
	for (size_t i = 0; i < depth; i++)
		buf_varint(&w->new_stacks, refs[i]);
	w->nr_new_stacks++;
	return w->nr_stacks++;
}

/* A table record: its count, then the entries gathered in ENTRIES. */
static void flush_table(struct rec_writer *w, uint32_t type, struct byte_buf *entries,
			size_t *count)
{
	struct byte_buf b = {};

	if (!*count)
		return;
	buf_varint(&b, *count);
	buf_put(&b, entries->data, entries->len);
	if (entries->err)
		b.err = entries->err;
	write_record(w, type, &b);
	free(b.data);
	entries->len = 0;
	*count = 0;
}

/* Ascending addresses as deltas: small numbers, one or two bytes each. */
static void put_addr(struct byte_buf *b, uint64_t addr, uint64_t *last)
{
	buf_varint(b, addr - *last);
	*last = addr;
}

static void put_snapshot_head(struct byte_buf *b, const struct rec_snapshot *snap)
{
	buf_varint(b, snap->wall_ns);
	buf_varint(b, snap->mono_ns);
	buf_varint(b, snap->exited);
	buf_varint(b, snap->exit_code);
	buf_string(b, snap->comm);
	buf_varint(b, STAT_NR);
	for (int i = 0; i < STAT_NR; i++)
		buf_varint(b, snap->stats[i]);
	buf_varint(b, snap->threads_tracked);
}

/* Sort by address; should one address come twice, the later block is kept. */
static size_t sort_unique(struct rec_alloc *a, size_t nr)
{
	size_t n = 0;

	qsort(a, nr, sizeof(*a), alloc_cmp_addr);
	for (size_t i = 0; i < nr; i++) {
		if (n && a[n - 1].addr == a[i].addr) {
			if (a[i].ts_ns > a[n - 1].ts_ns)
				a[n - 1] = a[i];
			continue;
		}
		a[n++] = a[i];
	}
	return n;
}

/* Blocks of PREV that are not in CUR as they were: freed (or replaced). */
static size_t put_freed(struct byte_buf *b, const struct rec_writer *w,
			const struct rec_alloc *cur, size_t nr)
{
	uint64_t last = 0;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < w->nr_prev; i++) {
		const struct rec_alloc *p = &w->prev[i];

		while (j < nr && cur[j].addr < p->addr)
			j++;
		if (j < nr && cur[j].addr == p->addr && alloc_same(&cur[j], p))
			continue;
		if (b)
			put_addr(b, p->addr, &last);
		n++;
	}
	return n;
}

/* Blocks of CUR that PREV did not have as they are: allocated since. */
static size_t put_allocated(struct byte_buf *b, struct rec_writer *w, const struct rec_snapshot *snap,
			    const struct rec_alloc *cur, size_t nr,
			    const struct sym_stack *(*stack)(void *ctx, uint64_t id), void *ctx)
{
	uint64_t last = 0;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < nr; i++) {
		const struct rec_alloc *c = &cur[i];

		while (j < w->nr_prev && w->prev[j].addr < c->addr)
			j++;
		if (j < w->nr_prev && w->prev[j].addr == c->addr && alloc_same(&w->prev[j], c))
			continue;
		n++;
		if (!b) {
			stack_ref(w, c->stack_id, stack, ctx);
			continue;
		}
		put_addr(b, c->addr, &last);
		buf_varint(b, c->size);
		buf_varint(b, snap->mono_ns > c->ts_ns ? snap->mono_ns - c->ts_ns : 0);
		buf_varint(b, stack_ref(w, c->stack_id, stack, ctx));
	}
	return n;
}

int rec_writer_snapshot(struct rec_writer *w, const struct rec_snapshot *snap,
			struct rec_alloc *allocs, size_t nr,
			const struct sym_stack *(*stack)(void *ctx, uint64_t id), void *ctx)
{
	struct byte_buf b = {};
	struct rec_alloc *copy;

	if (w->err)
		return w->err;
	nr = sort_unique(allocs, nr);
	/* Blocks allocated after the snapshot was timed would have a negative age. */
	for (size_t i = 0; i < nr; i++)
		if (allocs[i].ts_ns > snap->mono_ns)
			allocs[i].ts_ns = snap->mono_ns;
	/* A first pass names the new stacks, so that they precede the snapshot. */
	put_allocated(NULL, w, snap, allocs, nr, stack, ctx);
	flush_table(w, REC_STRINGS, &w->new_strings, &w->nr_new_strings);
	flush_table(w, REC_FRAMES, &w->new_frames, &w->nr_new_frames);
	flush_table(w, REC_STACKS, &w->new_stacks, &w->nr_new_stacks);

	put_snapshot_head(&b, snap);
	buf_varint(&b, put_freed(NULL, w, allocs, nr));
	put_freed(&b, w, allocs, nr);
	buf_varint(&b, put_allocated(NULL, w, snap, allocs, nr, stack, ctx));
	put_allocated(&b, w, snap, allocs, nr, stack, ctx);
	write_record(w, REC_SNAPSHOT, &b);
	free(b.data);

	copy = realloc(w->prev, (nr ? nr : 1) * sizeof(*copy));
	if (!copy)
		w->err = -ENOMEM;
	else {
		memcpy(copy, allocs, nr * sizeof(*copy));
		w->prev = copy;
		w->nr_prev = nr;
	}
	if (!w->err && fflush(w->f))
		w->err = -errno;
	w->nr_snapshots++;
	return w->err;
}

static void writer_free(struct rec_writer *w)
{
	for (size_t i = 0; i < w->nr_strings; i++)
		free(w->strings[i]);
	free(w->strings);
	index_free(&w->string_index);
	free(w->frames);
	index_free(&w->frame_index);
	free(w->stacks);
	index_free(&w->stack_index);
	free(w->prev);
	free(w->new_strings.data);
	free(w->new_frames.data);
	free(w->new_stacks.data);
	free(w);
}

int rec_writer_close(struct rec_writer *w, uint64_t *bytes_written)
{
	struct byte_buf b = {};
	int err;

	buf_varint(&b, w->nr_snapshots);
	write_record(w, REC_END, &b);
	free(b.data);
	if (fclose(w->f) && !w->err)
		w->err = -errno;
	err = w->err;
	if (bytes_written)
		*bytes_written = w->bytes;
	writer_free(w);
	return err;
}

void rec_writer_abandon(struct rec_writer *w)
{
	if (!w)
		return;
	fclose(w->f);
	writer_free(w);
}

/* --- reader ------------------------------------------------------------- */

struct rec_stack {
	uint64_t id;
	struct sym_stack frames;
};

/* A snapshot's deltas: ranges of the recording's freed and allocated arrays. */
struct snapshot_delta {
	size_t freed, nr_freed;
	size_t allocated, nr_allocated;
};

struct recording {
	struct rec_session session;
	char **strings;		/* every string read, to free */
	size_t nr_strings, strings_cap;
	const char **names;	/* the string table frames refer to */
	size_t nr_names, names_cap;
	struct frame_info *frames;
	size_t nr_frames, frames_cap;
	struct rec_stack *stacks;
	size_t nr_stacks, stacks_cap;
	struct id_index stack_index;
	struct rec_snapshot *snaps;
	struct snapshot_delta *deltas;
	size_t nr_snaps, snaps_cap, deltas_cap;
	uint64_t *freed;
	size_t nr_freed, freed_cap;
	struct rec_alloc *allocated;
	size_t nr_allocated, allocated_cap;
	/* Only while parsing: the outstanding blocks, to check each snapshot. */
	struct rec_alloc *live;
	size_t nr_live;
	bool have_session, have_end;
};

/* A bounded view of bytes being parsed; the first error sticks. */
struct cursor {
	const uint8_t *p, *end;
	const char *err;
};

static uint64_t get_varint(struct cursor *c)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t byte;

		if (c->p >= c->end) {
			c->err = c->err ? c->err : "record ends inside a number";
			return 0;
		}
		byte = *c->p++;
		if (shift == 63 && byte > 1) {
			c->err = c->err ? c->err : "number out of range";
			return 0;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	c->err = c->err ? c->err : "number too long";
	return 0;
}

/* A varint that must not exceed MAX. */
static uint64_t get_bounded(struct cursor *c, uint64_t max, const char *what)
{
	uint64_t v = get_varint(c);

	if (!c->err && v > max) {
		c->err = what;
		return 0;
	}
	return v;
}

/* A count of entries each at least MIN_BYTES long: never more than the bytes left. */
static size_t get_count(struct cursor *c, size_t min_bytes)
{
	return get_bounded(c, (size_t)(c->end - c->p) / min_bytes, "count larger than its record");
}

/* A string, copied NUL-terminated into the recording's string pool. */
static char *get_string(struct cursor *c, struct recording *r)
{
	size_t n = get_bounded(c, REC_MAX_STRING, "string too long");
	char *s;

	if (c->err)
		return NULL;
	if (n > (size_t)(c->end - c->p)) {
		c->err = "record ends inside a string";
		return NULL;
	}
	if (memchr(c->p, 0, n)) {
		c->err = "string holds a NUL byte";
		return NULL;
	}
	if (array_grow((void **)&r->strings, r->nr_strings, &r->strings_cap, sizeof(*r->strings)) ||
	    !(s = strndup((const char *)c->p, n))) {
		c->err = "out of memory";
		return NULL;
	}
	c->p += n;
	r->strings[r->nr_strings++] = s;
	return s;
}

static void parse_session(struct cursor *c, struct recording *r)
{
	struct rec_session *s = &r->session;

	s->pid = get_bounded(c, INT32_MAX, "pid out of range");
	s->comm = get_string(c, r);
	s->command = get_string(c, r);
	s->hostname = get_string(c, r);
	s->kernel = get_string(c, r);
	s->version = get_string(c, r);
	s->start_wall_ns = get_varint(c);
	s->interval_ns = get_varint(c);
}

/* STRINGS entries are strings; frames refer to them by position. */
static void parse_strings(struct cursor *c, struct recording *r)
{
	size_t n = get_count(c, 1);

	for (size_t i = 0; i < n && !c->err; i++) {
		const char *s = get_string(c, r);

		if (c->err)
			return;
		if (array_grow((void **)&r->names, r->nr_names, &r->names_cap, sizeof(*r->names))) {
			c->err = "out of memory";
			return;
		}
		r->names[r->nr_names++] = s;
	}
}

/* A string reference: 0 for none, else position + 1 in the string table. */
static const char *get_string_ref(struct cursor *c, const struct recording *r)
{
	uint64_t ref = get_bounded(c, r->nr_names, "frame names a string not defined before");

	return ref && !c->err ? r->names[ref - 1] : NULL;
}

static void parse_frames(struct cursor *c, struct recording *r)
{
	size_t n = get_count(c, 6);

	for (size_t i = 0; i < n && !c->err; i++) {
		struct frame_info f;

		f.addr = get_varint(c);
		f.module = get_string_ref(c, r);
		f.symbol = get_string_ref(c, r);
		f.sym_offset = get_varint(c);
		f.file = get_string_ref(c, r);
		f.line = get_bounded(c, INT32_MAX, "line number out of range");
		if (c->err)
			return;
		if (array_grow((void **)&r->frames, r->nr_frames, &r->frames_cap, sizeof(*r->frames))) {
			c->err = "out of memory";
			return;
		}
		r->frames[r->nr_frames++] = f;
	}
}

struct stack_id_key {
	const struct recording *r;
	uint64_t id;
};

static bool stack_id_eq(const void *ctx, uint32_t index)
{
	const struct stack_id_key *k = ctx;

	return k->r->stacks[index].id == k->id;
}

static int64_t find_stack(const struct recording *r, uint64_t id)
{
	struct stack_id_key key = { r, id };

	return index_find(&r->stack_index, hash_u64(id), stack_id_eq, &key);
}

static void parse_one_stack(struct cursor *c, struct recording *r)
{
	struct rec_stack st = { .id = get_varint(c) };
	size_t depth = get_bounded(c, MAX_STACK_DEPTH, "stack deeper than memlens records");

	if (!c->err && find_stack(r, st.id) >= 0)
		c->err = "stack defined twice";
	if (c->err)
		return;
	st.frames.nr = depth;
	st.frames.frames = calloc(depth ? depth : 1, sizeof(*st.frames.frames));
	if (!st.frames.frames ||
	    array_grow((void **)&r->stacks, r->nr_stacks, &r->stacks_cap, sizeof(*r->stacks)) ||
	    index_add(&r->stack_index, hash_u64(st.id), r->nr_stacks)) {
		free(st.frames.frames);
		c->err = "out of memory";
		return;
	}
	/* Owned by the table from here on, even if a frame below is bad. */
	r->stacks[r->nr_stacks++] = st;
	for (size_t i = 0; i < depth && !c->err; i++) {
		uint64_t ref = get_bounded(c, r->nr_frames ? r->nr_frames - 1 : 0,
					   "stack names a frame not defined before");

		if (!r->nr_frames && !c->err)
			c->err = "stack names a frame not defined before";
		if (!c->err)
			st.frames.frames[i] = r->frames[ref];
	}
}

static void parse_stacks(struct cursor *c, struct recording *r)
{
	size_t n = get_count(c, 2);

	for (size_t i = 0; i < n && !c->err; i++)
		parse_one_stack(c, r);
}

/*
 * OUT = CUR less FREED plus ALLOCATED, all sorted by address. A freed
 * block that is not outstanding, or an allocated one that already is,
 * makes the snapshot inconsistent: -EINVAL with WHY.
 */
static int apply_delta(const struct rec_alloc *cur, size_t nr_cur, const uint64_t *freed,
		       size_t nr_freed, const struct rec_alloc *allocated, size_t nr_allocated,
		       struct rec_alloc *out, size_t *nr_out, const char **why)
{
	size_t i = 0, f = 0, a = 0, n = 0;

	for (; i < nr_cur; i++) {
		if (f < nr_freed && freed[f] < cur[i].addr)
			break;
		if (f < nr_freed && freed[f] == cur[i].addr) {
			f++;
			continue;
		}
		while (a < nr_allocated && allocated[a].addr < cur[i].addr)
			out[n++] = allocated[a++];
		if (a < nr_allocated && allocated[a].addr == cur[i].addr) {
			*why = "snapshot allocates a block that is already outstanding";
			return -EINVAL;
		}
		out[n++] = cur[i];
	}
	if (f < nr_freed) {
		*why = "snapshot frees a block that is not outstanding";
		return -EINVAL;
	}
	while (a < nr_allocated)
		out[n++] = allocated[a++];
	*nr_out = n;
	return 0;
}

static void parse_freed(struct cursor *c, struct recording *r, struct snapshot_delta *d)
{
	uint64_t addr = 0;

	d->freed = r->nr_freed;
	d->nr_freed = get_count(c, 1);
	if (c->err)
		return;
	if (r->nr_freed + d->nr_freed > r->freed_cap) {
		size_t cap = r->nr_freed + d->nr_freed + 64;
		uint64_t *p = realloc(r->freed, cap * sizeof(*p));

		if (!p) {
			c->err = "out of memory";
			return;
		}
		r->freed = p;
		r->freed_cap = cap;
	}
	for (size_t i = 0; i < d->nr_freed && !c->err; i++) {
		uint64_t delta = get_varint(c);

		if ((i && !delta) || addr + delta < addr)
			c->err = "addresses not in ascending order";
		addr += delta;
		r->freed[r->nr_freed + i] = addr;
	}
	r->nr_freed += d->nr_freed;
}

static void parse_allocated(struct cursor *c, struct recording *r, const struct rec_snapshot *s,
			    struct snapshot_delta *d)
{
	uint64_t addr = 0;

	d->allocated = r->nr_allocated;
	d->nr_allocated = get_count(c, 4);
	if (c->err)
		return;
	if (r->nr_allocated + d->nr_allocated > r->allocated_cap) {
		size_t cap = r->nr_allocated + d->nr_allocated + 64;
		struct rec_alloc *p = realloc(r->allocated, cap * sizeof(*p));

		if (!p) {
			c->err = "out of memory";
			return;
		}
		r->allocated = p;
		r->allocated_cap = cap;
	}
	for (size_t i = 0; i < d->nr_allocated && !c->err; i++) {
		struct rec_alloc *a = &r->allocated[r->nr_allocated + i];
		uint64_t delta = get_varint(c), age, stack;

		if ((i && !delta) || addr + delta < addr)
			c->err = "addresses not in ascending order";
		addr += delta;
		a->addr = addr;
		a->size = get_varint(c);
		age = get_bounded(c, s->mono_ns, "block allocated before the clock started");
		a->ts_ns = s->mono_ns - age;
		stack = get_bounded(c, r->nr_stacks ? r->nr_stacks - 1 : 0,
				    "block names a stack not defined before");
		if (!r->nr_stacks && !c->err)
			c->err = "block names a stack not defined before";
		a->stack_id = c->err ? 0 : r->stacks[stack].id;
	}
	r->nr_allocated += d->nr_allocated;
}

static void parse_snapshot_head(struct cursor *c, struct recording *r, struct rec_snapshot *s)
{
	size_t nr_stats;

	s->wall_ns = get_varint(c);
	s->mono_ns = get_varint(c);
	s->exited = get_bounded(c, 1, "bad exit flag");
	s->exit_code = get_bounded(c, UINT32_MAX, "exit status out of range");
	s->comm = get_string(c, r);
	/* A newer memlens may count more: those are skipped. */
	nr_stats = get_count(c, 1);
	for (size_t i = 0; i < nr_stats && !c->err; i++) {
		uint64_t v = get_varint(c);

		if (i < STAT_NR)
			s->stats[i] = v;
	}
	s->threads_tracked = get_varint(c);
}

/* A snapshot's blocks in the recording's arrays (which are NULL while empty). */
static const uint64_t *delta_freed(const struct recording *r, const struct snapshot_delta *d)
{
	return d->nr_freed ? r->freed + d->freed : NULL;
}

static const struct rec_alloc *delta_allocated(const struct recording *r,
					       const struct snapshot_delta *d)
{
	return d->nr_allocated ? r->allocated + d->allocated : NULL;
}

/* Check the snapshot against what is outstanding so far, and move on to it. */
static void check_snapshot(struct cursor *c, struct recording *r, const struct snapshot_delta *d)
{
	struct rec_alloc *next = malloc((r->nr_live + d->nr_allocated + 1) * sizeof(*next));
	size_t nr_next;

	if (!next) {
		c->err = "out of memory";
		return;
	}
	if (apply_delta(r->live, r->nr_live, delta_freed(r, d), d->nr_freed,
			delta_allocated(r, d), d->nr_allocated, next, &nr_next, &c->err)) {
		free(next);
		return;
	}
	free(r->live);
	r->live = next;
	r->nr_live = nr_next;
}

static void parse_snapshot(struct cursor *c, struct recording *r)
{
	struct rec_snapshot s = {};
	struct snapshot_delta d = {};

	parse_snapshot_head(c, r, &s);
	parse_freed(c, r, &d);
	parse_allocated(c, r, &s, &d);
	if (!c->err)
		check_snapshot(c, r, &d);
	if (c->err)
		return;
	if (array_grow((void **)&r->snaps, r->nr_snaps, &r->snaps_cap, sizeof(*r->snaps)) ||
	    array_grow((void **)&r->deltas, r->nr_snaps, &r->deltas_cap, sizeof(*r->deltas))) {
		c->err = "out of memory";
		return;
	}
	r->snaps[r->nr_snaps] = s;
	r->deltas[r->nr_snaps++] = d;
}

static void parse_end(struct cursor *c, struct recording *r)
{
	if (get_varint(c) != r->nr_snaps && !c->err)
		c->err = "end record counts other snapshots than the file holds";
	r->have_end = true;
}

static void parse_record(struct cursor *c, struct recording *r, uint32_t type)
{
	if (!r->have_session && type != REC_SESSION) {
		c->err = "first record is not the session";
		return;
	}
	switch (type) {
	case REC_SESSION:
		if (r->have_session)
			c->err = "second session record";
		else
			parse_session(c, r);
		r->have_session = true;
		break;
	case REC_STRINGS:
		parse_strings(c, r);
		break;
	case REC_FRAMES:
		parse_frames(c, r);
		break;
	case REC_STACKS:
		parse_stacks(c, r);
		break;
	case REC_SNAPSHOT:
		parse_snapshot(c, r);
		break;
	case REC_END:
		parse_end(c, r);
		break;
	default:
		if (type < REC_OPTIONAL)
			c->err = "record of a type this memlens does not know: made by a newer one?";
		/* An optional extension: skipped whole. */
		break;
	}
	/* Bytes after the fields we know are a later minor version's: ignored. */
}

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_header(const uint8_t *data, size_t len, char *err, size_t err_len)
{
	if (len < REC_MAGIC_LEN || memcmp(data, REC_MAGIC, REC_MAGIC_LEN))
		return fail(err, err_len, "not a memlens recording (no MLNSREC header)");
	if (len < REC_HEADER_LEN)
		return fail(err, err_len, "truncated: %zu bytes, the header alone has %d", len,
			    REC_HEADER_LEN);
	if (data[8] != REC_VERSION_MAJOR || data[9])
		return fail(err, err_len, "format version %u.%u: this memlens reads version %d",
			    data[8] | data[9] << 8, data[10] | data[11] << 8, REC_VERSION_MAJOR);
	if (get_le32(data + 12))
		return fail(err, err_len, "corrupt header: reserved bytes are not zero");
	return 0;
}

static int parse_records(const uint8_t *data, size_t len, struct recording *r, char *err,
			 size_t err_len)
{
	size_t off = REC_HEADER_LEN;

	while (off < len) {
		struct cursor c;
		uint32_t type, size;

		if (r->have_end)
			return fail(err, err_len, "corrupt: data after the end record, at byte %zu", off);
		if (len - off < 12)
			return fail(err, err_len, "truncated: record header at byte %zu cut short", off);
		type = get_le32(data + off);
		size = get_le32(data + off + 4);
		if (size > REC_MAX_RECORD)
			return fail(err, err_len, "corrupt: record at byte %zu claims %u bytes", off, size);
		if (size > len - off - 12)
			return fail(err, err_len, "truncated: record at byte %zu needs %u bytes, %zu left",
				    off, size, len - off - 12);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
		/* The fuzzer could never forge a checksum: it tests what lies behind. */
		if (record_crc(data + off, data + off + 12, size) != get_le32(data + off + 8))
			return fail(err, err_len, "corrupt: checksum mismatch in the record at byte %zu",
				    off);
#endif
		c = (struct cursor){ .p = data + off + 12, .end = data + off + 12 + size };
		parse_record(&c, r, type);
		if (c.err)
			return fail(err, err_len, "corrupt: %s (record type %u at byte %zu)", c.err,
				    type, off);
		off += 12 + size;
	}
	if (!r->have_session)
		return fail(err, err_len, "truncated: no session record");
	if (!r->have_end)
		return fail(err, err_len, "truncated after %zu snapshot%s: no end record (was memlens record killed?)",
			    r->nr_snaps, r->nr_snaps == 1 ? "" : "s");
	return 0;
}

int recording_parse(const void *data, size_t len, struct recording **out, char *err,
		    size_t err_len)
{
	struct recording *r;
	int ret;

	*out = NULL;
	ret = parse_header(data, len, err, err_len);
	if (ret)
		return ret;
	r = calloc(1, sizeof(*r));
	if (!r)
		return fail(err, err_len, "out of memory");
	ret = parse_records(data, len, r, err, err_len);
	free(r->live);
	r->live = NULL;
	if (ret) {
		recording_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

static int read_whole(int fd, uint8_t **data, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got;

		if (n == cap) {
			uint8_t *bigger = cap * 2 <= REC_MAX_FILE ? realloc(buf, cap * 2) : NULL;

			if (!bigger) {
				free(buf);
				return cap * 2 > REC_MAX_FILE ? -EFBIG : -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int e = -errno;

			free(buf);
			return e;
		}
		if (!got)
			break;
		n += got;
	}
	*data = buf;
	*len = n;
	return 0;
}

int recording_load(const char *path, struct recording **out, char *err, size_t err_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (fd < 0) {
		ret = -errno;
		fail(err, err_len, "%s", strerror(-ret));
		return ret;
	}
	ret = read_whole(fd, &data, &len);
	close(fd);
	if (ret) {
		fail(err, err_len, "%s", strerror(-ret));
		return ret;
	}
	ret = recording_parse(data, len, out, err, err_len);
	free(data);
	return ret;
}

void recording_free(struct recording *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nr_strings; i++)
		free(r->strings[i]);
	free(r->strings);
	free(r->names);
	free(r->frames);
	for (size_t i = 0; i < r->nr_stacks; i++)
		free(r->stacks[i].frames.frames);
	free(r->stacks);
	index_free(&r->stack_index);
	free(r->snaps);
	free(r->deltas);
	free(r->freed);
	free(r->allocated);
	free(r->live);
	free(r);
}

const struct rec_session *recording_session(const struct recording *r)
{
	return &r->session;
}

size_t recording_nr_snapshots(const struct recording *r)
{
	return r->nr_snaps;
}

const struct sym_stack *recording_stack(const struct recording *r, uint64_t stack_id)
{
	int64_t index = find_stack(r, stack_id);

	return index >= 0 ? &r->stacks[index].frames : NULL;
}

int recording_replay(const struct recording *r, int (*fn)(const struct rec_view *v, void *ctx),
		     void *ctx)
{
	struct rec_alloc *live = NULL, *next;
	size_t nr_live = 0;
	const char *why;
	int ret = 0;

	for (size_t i = 0; i < r->nr_snaps && !ret; i++) {
		const struct snapshot_delta *d = &r->deltas[i];
		struct rec_view v = { .index = i, .snap = &r->snaps[i] };

		next = malloc((nr_live + d->nr_allocated + 1) * sizeof(*next));
		if (!next) {
			ret = -ENOMEM;
			break;
		}
		/* Checked when parsed: cannot fail here. */
		apply_delta(live, nr_live, delta_freed(r, d), d->nr_freed, delta_allocated(r, d),
			    d->nr_allocated, next, &nr_live, &why);
		free(live);
		live = next;
		v.allocs = live;
		v.nr = nr_live;
		ret = fn(&v, ctx);
	}
	free(live);
	return ret;
}
