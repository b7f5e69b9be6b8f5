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
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "output.h"
#include "recfile.h"
#include "reclaim.h"
#include "sampling.h"
#include "util.h"

/* --- little helpers shared by writer and reader -------------------------- */

struct byte_buf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static void buf_put(struct byte_buf *b, const void *p, size_t n)
{
	if (b->err || !n)
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

/*
 * Keys read from a file are an attacker's to choose: a secret seed keeps
 * them from being picked to collide (one long probe chain, quadratic).
 */
static uint64_t hash_seed(void)
{
	static uint64_t seed;

#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	while (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		;
#endif
	return seed;
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= hash_seed();
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
	const struct alloc_rec *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static bool alloc_same(const struct alloc_rec *a, const struct alloc_rec *b)
{
	return a->size == b->size && a->ts_ns == b->ts_ns && a->stack_id == b->stack_id &&
	       a->sample_bytes == b->sample_bytes;
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
	/*
	 * The file's name beside PATH until its first snapshot is whole:
	 * only then is it renamed over what was at PATH (a failed run
	 * leaves the old recording there). "": at PATH already, or in place.
	 */
	char temp[4096];
	char *path;
	bool made;		/* a file of ours (renamed over PATH), not one written in place */
	uint64_t bytes;
	/*
	 * Where the last two complete snapshots end: an error cuts back to
	 * the last, or to the one before if END does not fit after it.
	 */
	uint64_t good_bytes[2];
	uint64_t good_snapshots[2];
	char **strings;
	size_t nr_strings, strings_cap;
	struct id_index string_index;
	struct wframe *frames;
	size_t nr_frames, frames_cap;
	struct id_index frame_index;
	uint64_t *stacks;
	size_t nr_stacks, stacks_cap;
	struct id_index stack_index;
	struct alloc_rec *prev;	/* the last snapshot's blocks, by address */
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
	/* What the reader would refuse is never written. */
	if (payload->len > REC_MAX_RECORD || w->bytes + sizeof(head) + payload->len > REC_MAX_FILE) {
		w->err = -EFBIG;
		return;
	}
	put_le32(head, type);
	put_le32(head + 4, payload->len);
	put_le32(head + 8, record_crc(head, payload->data, payload->len));
	errno = 0;
	if (fwrite(head, 1, sizeof(head), w->f) != sizeof(head) ||
	    fwrite(payload->data, 1, payload->len, w->f) != payload->len) {
		w->err = errno ? -errno : -EIO;
		return;
	}
	w->bytes += sizeof(head) + payload->len;
}

/* A new file, the user's own: paths and command lines can be private. */
static int open_output(struct rec_writer *w, const char *path)
{
	int fd = create_file_beside(path, 0600, w->temp, sizeof(w->temp)), err;

	if (fd < 0)
		return fd;
	w->made = w->temp[0];
	/* Until it takes its place, or goes: emptied then. */
	stop_removes_temp(STOP_TEMP_RECORDING, w->temp);
	w->path = strdup(path);
	w->f = fdopen(fd, "w");
	if (w->path && w->f)
		return 0;
	err = -errno;
	if (w->f)
		fclose(w->f);
	else
		close(fd);
	if (w->temp[0])
		unlink(w->temp);
	free(w->path);
	return err;
}

/* The file takes its place at its path, if it has not yet: an error is the writer's. */
static void take_place(struct rec_writer *w)
{
	int err;

	if (!w->temp[0])
		return;
	err = file_take_place(w->temp, w->path);
	if (err && !w->err)
		w->err = err;
	if (!err)
		w->temp[0] = '\0';
}

int rec_writer_open(const char *path, struct rec_writer **out)
{
	struct rec_writer *w;
	int err;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	err = open_output(w, path);
	if (err) {
		stop_removes_temp(STOP_TEMP_RECORDING, NULL);
		free(w);
		return err;
	}
	*out = w;
	return 0;
}

static void mark_good(struct rec_writer *w)
{
	if (!w->err && fflush(w->f))
		w->err = -errno;
	if (w->err)
		return;
	w->good_bytes[1] = w->good_bytes[0];
	w->good_snapshots[1] = w->good_snapshots[0];
	w->good_bytes[0] = w->bytes;
	w->good_snapshots[0] = w->nr_snapshots;
	if (w->nr_snapshots)
		take_place(w);
}

int rec_writer_begin(struct rec_writer *w, const struct rec_session *sess)
{
	uint8_t header[REC_HEADER_LEN] = REC_MAGIC;
	struct byte_buf b = {};

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
	buf_varint(&b, sess->sample_bytes);
	write_record(w, REC_SESSION, &b);
	free(b.data);
	mark_good(w);
	return w->err;
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
static size_t sort_unique(struct alloc_rec *a, size_t nr)
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
			const struct alloc_rec *cur, size_t nr)
{
	uint64_t last = 0;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < w->nr_prev; i++) {
		const struct alloc_rec *p = &w->prev[i];

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
			    const struct alloc_rec *cur, size_t nr,
			    const struct sym_stack *(*stack)(void *ctx, uint64_t id), void *ctx)
{
	uint64_t last = 0;
	size_t n = 0, j = 0;

	for (size_t i = 0; i < nr; i++) {
		const struct alloc_rec *c = &cur[i];

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
		buf_varint(b, c->sample_bytes);
	}
	return n;
}

int rec_writer_snapshot(struct rec_writer *w, const struct rec_snapshot *snap,
			struct alloc_rec *allocs, size_t nr,
			const struct sym_stack *(*stack)(void *ctx, uint64_t id), void *ctx)
{
	struct byte_buf b = {};
	struct alloc_rec *copy;

	if (w->err)
		return w->err;
	w->nr_snapshots++;
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
		if (nr)
			memcpy(copy, allocs, nr * sizeof(*copy));
		w->prev = copy;
		w->nr_prev = nr;
	}
	mark_good(w);
	return w->err;
}

/* One stack of a stall: its depth, then its frames' refs (made first by the caller). */
static void put_frame_refs(struct byte_buf *b, const uint32_t *refs, size_t depth)
{
	buf_varint(b, depth);
	for (size_t i = 0; i < depth; i++)
		buf_varint(b, refs[i]);
}

static size_t stall_depth(const struct sym_stack *st)
{
	return st->nr < MAX_STACK_DEPTH ? st->nr : MAX_STACK_DEPTH;
}

int rec_writer_stalls(struct rec_writer *w, const struct rec_stall *stalls, size_t nr,
		      const struct rec_stall_sum *sum)
{
	uint32_t *refs = calloc(nr * 2 * MAX_STACK_DEPTH + 1, sizeof(*refs));
	struct byte_buf b = {};

	if (!refs)
		return -ENOMEM;
	if (w->err)
		goto out;
	/* Frames first: their strings and frames go into the records before. */
	for (size_t i = 0; i < nr; i++) {
		uint32_t *u = &refs[i * 2 * MAX_STACK_DEPTH], *k = u + MAX_STACK_DEPTH;

		for (size_t f = 0; f < stall_depth(&stalls[i].user); f++)
			u[f] = frame_ref(w, &stalls[i].user.frames[f]);
		for (size_t f = 0; f < stall_depth(&stalls[i].kernel); f++)
			k[f] = frame_ref(w, &stalls[i].kernel.frames[f]);
	}
	flush_table(w, REC_STRINGS, &w->new_strings, &w->nr_new_strings);
	flush_table(w, REC_FRAMES, &w->new_frames, &w->nr_new_frames);
	buf_varint(&b, nr);
	for (size_t i = 0; i < nr; i++) {
		const uint32_t *u = &refs[i * 2 * MAX_STACK_DEPTH];

		buf_varint(&b, stalls[i].kind);
		buf_varint(&b, stalls[i].count);
		buf_varint(&b, stalls[i].total_ns);
		buf_varint(&b, stalls[i].max_ns);
		put_frame_refs(&b, u, stall_depth(&stalls[i].user));
		put_frame_refs(&b, u + MAX_STACK_DEPTH, stall_depth(&stalls[i].kernel));
	}
	buf_varint(&b, sum->stalls);
	buf_varint(&b, sum->lost);
	buf_varint(&b, sum->nr_losses);
	for (size_t i = 0; i < sum->nr_losses; i++) {
		buf_string(&b, sum->losses[i].name);
		buf_varint(&b, sum->losses[i].count);
	}
	write_record(w, REC_STALLS, &b);
	free(b.data);
out:
	free(refs);
	return w->err;
}

int rec_writer_scan(struct rec_writer *w, const struct reach_stats *st,
		    const struct alloc_rec *allocs, size_t nr)
{
	struct alloc_rec *sorted = malloc((nr + 1) * sizeof(*sorted));
	struct byte_buf b = {};
	uint64_t last = 0;
	size_t classed = 0;

	if (!sorted)
		return -ENOMEM;
	if (w->err)
		goto out;
	/* By address, as the snapshot that follows will have them. */
	memcpy(sorted, allocs, nr * sizeof(*sorted));
	nr = sort_unique(sorted, nr);
	for (size_t i = 0; i < nr; i++)
		classed += sorted[i].reach != REACH_NONE;
	buf_varint(&b, st->pause_ns);
	buf_varint(&b, st->scan_ns);
	buf_varint(&b, st->bytes_scanned);
	buf_varint(&b, st->bytes_unreadable);
	buf_varint(&b, st->roots_bytes);
	buf_varint(&b, st->threads);
	buf_varint(&b, st->threads_not_stopped);
	buf_varint(&b, st->partial);
	buf_varint(&b, classed);
	for (size_t i = 0; i < nr; i++) {
		if (sorted[i].reach == REACH_NONE)
			continue;
		put_addr(&b, sorted[i].addr, &last);
		buf_varint(&b, sorted[i].reach);
	}
	write_record(w, REC_SCAN, &b);
	free(b.data);
out:
	free(sorted);
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
	free(w->path);
	stop_removes_temp(STOP_TEMP_RECORDING, NULL);
	free(w);
}

/*
 * After a write error (a full disk), cut the file back to its last
 * complete snapshot, which frees the space END needs: what was recorded
 * stays readable.
 */
static void cut_back(struct rec_writer *w, int to)
{
	__fpurge(w->f);
	if (ftruncate(fileno(w->f), w->good_bytes[to]) ||
	    fseeko(w->f, w->good_bytes[to], SEEK_SET))
		return;
	w->bytes = w->good_bytes[to];
	w->nr_snapshots = w->good_snapshots[to];
	w->err = 0;
}

static void write_end(struct rec_writer *w)
{
	struct byte_buf b = {};

	buf_varint(&b, w->nr_snapshots);
	write_record(w, REC_END, &b);
	free(b.data);
	if (!w->err && fflush(w->f))
		w->err = -errno;
}

int rec_writer_close(struct rec_writer *w, uint64_t *bytes_written, bool *cut_back_whole)
{
	int first_err = w->err;
	int err;

	if (!w->err)
		write_end(w);
	if (w->err && !first_err)
		first_err = w->err;
	if (cut_back_whole)
		*cut_back_whole = w->made;
	/*
	 * Cut back only a file of ours: a device, a FIFO or a descriptor
	 * written in place (/dev/stdout appended to a file) holds what was
	 * there before memlens, at offsets it does not know.
	 */
	for (int to = 0; w->made && w->err && to < 2; to++) {
		cut_back(w, to);
		if (!w->err)
			write_end(w);
	}
	if (fclose(w->f) && !w->err)
		w->err = -errno;
	/*
	 * Ended: whole, or cut back to what reads. Not one snapshot kept after
	 * an error (a disk full at once): what was at the path stays.
	 */
	if (first_err && !w->nr_snapshots && w->temp[0]) {
		unlink(w->temp);
		w->temp[0] = '\0';
		w->bytes = 0;
	} else {
		take_place(w);
	}
	err = first_err ? first_err : w->err;
	if (bytes_written)
		*bytes_written = w->bytes;
	writer_free(w);
	return err;
}

void rec_writer_abandon(struct rec_writer *w, const char *path)
{
	if (!w)
		return;
	/* Not at PATH yet: what is there stays. */
	if (w->temp[0])
		unlink(w->temp);
	else if (path)
		remove_file_made(path, fileno(w->f));
	fclose(w->f);
	writer_free(w);
}

/* --- reader ------------------------------------------------------------- */

/* A stack as read: its frames are built the first time it is looked up. */
struct rec_stack {
	uint64_t id;
	uint32_t first_ref;	/* in the recording's frame_refs */
	uint32_t depth;
};

/* A stall as read: its stacks as ranges of the recording's stall_refs. */
struct rec_stall_read {
	uint32_t kind;
	uint64_t count, total_ns, max_ns;
	uint32_t user_ref, user_depth, kernel_ref, kernel_depth;
};

/* A SCAN record as read: its classed blocks, a range of the recording's scan_addr and scan_cls. */
struct rec_scan_read {
	struct reach_stats st;
	size_t first, nr;
};

/* A block as read: its stack as the stack table's index. */
struct rec_block {
	uint64_t addr, size, ts_ns, sample_bytes;
	uint32_t stack;
};

/* A snapshot's deltas: ranges of the recording's freed and allocated arrays. */
struct snapshot_delta {
	size_t freed, nr_freed;
	size_t allocated, nr_allocated;
};

/* The outstanding blocks of one stack, as counted in a replay. */
struct stack_tally {
	uint32_t blocks, sampled;
	uint64_t exact_nr, exact_bytes;	/* blocks tracked one for one */
	double est_nr, est_bytes;	/* what the sampled ones stand for */
};

/* A stack's blocks as group_by_stack() estimates them: the exact part, plus the rest rounded. */
static uint64_t tally_nr(const struct stack_tally *t)
{
	return t->exact_nr + sample_round(t->est_nr);
}

static uint64_t tally_bytes(const struct stack_tally *t)
{
	return t->exact_bytes + sample_round(t->est_bytes);
}

/*
 * The blocks outstanding at one point of a replay, by address: open
 * addressing (seeded hash, linear probing, deletion by backward shift),
 * so that a snapshot costs its deltas, not all that is outstanding.
 */
struct live_set {
	struct rec_block *slots;
	bool *used;
	size_t cap, nr;
	/*
	 * What the blocks stand for: the sum of the stacks' rounded estimates,
	 * modulo 2^64 as a file's sizes can be anything; what is added for a
	 * stack is taken back exactly.
	 */
	uint64_t est_nr, est_bytes;
	struct stack_tally *per_stack;	/* by stack index */
	size_t per_stack_cap;
	size_t stacks;		/* stacks with blocks */
};

struct recording {
	struct rec_session session;
	char **strings;		/* every string read, to free */
	size_t nr_strings, strings_cap;
	const char **names;	/* the string table frames refer to */
	size_t nr_names, names_cap;
	struct frame_info *frames;
	size_t nr_frames, frames_cap;
	uint32_t *frame_refs;	/* every stack's frames, one after another */
	size_t nr_frame_refs, frame_refs_cap;
	struct rec_stack *stacks;
	size_t nr_stacks, stacks_cap;
	struct id_index stack_index;
	struct sym_stack **built;	/* per stack, once looked up */
	struct rec_snapshot *snaps;
	size_t nr_snaps, snaps_cap;
	struct snapshot_delta *deltas;
	size_t deltas_cap;
	uint64_t *freed;
	size_t nr_freed, freed_cap;
	struct rec_block *allocated;
	size_t nr_allocated, allocated_cap;
	struct live_set live;	/* only while parsing: to check each snapshot */
	/* The last STALLS record: its stalls, their frames as refs until looked up. */
	struct rec_stall_read *stall_reads;
	size_t nr_stalls, stalls_cap;
	uint32_t *stall_refs;
	size_t nr_stall_refs, stall_refs_cap;
	struct rec_stall *stalls;	/* built by recording_stalls() */
	struct rec_stall_sum stall_sum;
	bool have_stalls;
	struct frame_info *stall_frames;
	/* SCAN records; a snapshot's is the one read since the snapshot before. */
	struct rec_scan_read *scans;
	size_t nr_scans, scans_cap;
	uint64_t *scan_addr;	/* every scan's classed blocks, by address */
	uint8_t *scan_cls;
	size_t nr_scan_blocks, scan_addr_cap, scan_cls_cap;
	size_t pending_scan;	/* index + 1 of a SCAN no snapshot took yet; 0: none */
	size_t *snap_scan;	/* per snapshot, index + 1 of its SCAN; 0: none */
	size_t snap_scan_cap;
	bool have_session, have_end;
	char warning[256];	/* a partial recording: what was cut */
};

/* --- the live set --- */

static bool live_grow(struct live_set *ls)
{
	struct live_set bigger = { .cap = ls->cap ? ls->cap * 2 : 1024 };

	bigger.slots = malloc(bigger.cap * sizeof(*bigger.slots));
	bigger.used = calloc(bigger.cap, sizeof(*bigger.used));
	if (!bigger.slots || !bigger.used) {
		free(bigger.slots);
		free(bigger.used);
		return false;
	}
	for (size_t i = 0; i < ls->cap; i++) {
		size_t j;

		if (!ls->used[i])
			continue;
		j = hash_u64(ls->slots[i].addr) & (bigger.cap - 1);
		while (bigger.used[j])
			j = (j + 1) & (bigger.cap - 1);
		bigger.slots[j] = ls->slots[i];
		bigger.used[j] = true;
	}
	free(ls->slots);
	free(ls->used);
	ls->slots = bigger.slots;
	ls->used = bigger.used;
	ls->cap = bigger.cap;
	return true;
}

static int64_t live_find(const struct live_set *ls, uint64_t addr)
{
	if (!ls->cap)
		return -1;
	for (size_t i = hash_u64(addr) & (ls->cap - 1); ls->used[i]; i = (i + 1) & (ls->cap - 1))
		if (ls->slots[i].addr == addr)
			return i;
	return -1;
}

/*
 * Count block B in or out of its stack's tally. A sampled block stands for
 * sample_weight() blocks; each stack's estimate is rounded once, as
 * group_by_stack() does, so that a timeline's totals are a report's.
 */
static bool count_stack(struct live_set *ls, const struct rec_block *b, int sign)
{
	struct stack_tally *t;

	if (b->stack >= ls->per_stack_cap) {
		size_t cap = ls->per_stack_cap ? ls->per_stack_cap : 256;
		struct stack_tally *p;

		while (cap <= b->stack)
			cap *= 2;
		p = realloc(ls->per_stack, cap * sizeof(*p));
		if (!p)
			return false;
		memset(p + ls->per_stack_cap, 0, (cap - ls->per_stack_cap) * sizeof(*p));
		ls->per_stack = p;
		ls->per_stack_cap = cap;
	}
	t = &ls->per_stack[b->stack];
	ls->est_nr -= tally_nr(t);
	ls->est_bytes -= tally_bytes(t);
	t->blocks += sign;
	if (!b->sample_bytes) {
		t->exact_nr += sign;
		t->exact_bytes += sign * b->size;
	} else {
		double w = sample_weight(b->size, b->sample_bytes);

		t->sampled += sign;
		t->est_nr += sign * w;
		t->est_bytes += sign * w * b->size;
		if (!t->sampled) {
			/* No rounding error outlives the stack's last sample. */
			t->est_nr = 0;
			t->est_bytes = 0;
		}
	}
	ls->est_nr += tally_nr(t);
	ls->est_bytes += tally_bytes(t);
	if (sign > 0 && t->blocks == 1)
		ls->stacks++;
	if (sign < 0 && !t->blocks)
		ls->stacks--;
	return true;
}

/* 0, -EEXIST if the address is outstanding already, -ENOMEM. */
static int live_add(struct live_set *ls, const struct rec_block *b)
{
	size_t i;

	if (live_find(ls, b->addr) >= 0)
		return -EEXIST;
	if (((ls->nr + 1) * 2 > ls->cap && !live_grow(ls)) || !count_stack(ls, b, 1))
		return -ENOMEM;
	i = hash_u64(b->addr) & (ls->cap - 1);
	while (ls->used[i])
		i = (i + 1) & (ls->cap - 1);
	ls->slots[i] = *b;
	ls->used[i] = true;
	ls->nr++;
	return 0;
}

/* 0, or -ENOENT if the address is not outstanding. */
static int live_del(struct live_set *ls, uint64_t addr)
{
	int64_t found = live_find(ls, addr);
	size_t i, j;

	if (found < 0)
		return -ENOENT;
	i = found;
	count_stack(ls, &ls->slots[i], -1);
	ls->nr--;
	/* Shift the blocks after it back, so that no probe chain breaks. */
	for (j = (i + 1) & (ls->cap - 1); ls->used[j]; j = (j + 1) & (ls->cap - 1)) {
		size_t home = hash_u64(ls->slots[j].addr) & (ls->cap - 1);

		if (((j - home) & (ls->cap - 1)) >= ((j - i) & (ls->cap - 1))) {
			ls->slots[i] = ls->slots[j];
			i = j;
		}
	}
	ls->used[i] = false;
	return 0;
}

static void live_free(struct live_set *ls)
{
	free(ls->slots);
	free(ls->used);
	free(ls->per_stack);
	memset(ls, 0, sizeof(*ls));
}

/* Snapshot D applied to LS: -EINVAL with WHY if it contradicts it. */
static int live_apply(struct live_set *ls, const struct recording *r,
		      const struct snapshot_delta *d, const char **why)
{
	int err;

	for (size_t i = 0; i < d->nr_freed; i++) {
		if (live_del(ls, r->freed[d->freed + i])) {
			*why = "snapshot frees a block that is not outstanding";
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < d->nr_allocated; i++) {
		err = live_add(ls, &r->allocated[d->allocated + i]);
		if (err) {
			*why = err == -EEXIST ? "snapshot allocates a block that is already outstanding"
					      : "out of memory";
			return -EINVAL;
		}
	}
	return 0;
}

/* --- parsing --- */

/* A bounded view of bytes being parsed; the first error sticks. */
struct cursor {
	const uint8_t *p, *end;
	const char *err;
};

static void cursor_fail(struct cursor *c, const char *why)
{
	if (!c->err)
		c->err = why;
}

static uint64_t get_varint(struct cursor *c)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		uint8_t byte;

		if (c->p >= c->end) {
			cursor_fail(c, "record ends inside a number");
			return 0;
		}
		byte = *c->p++;
		if (shift == 63 && byte > 1) {
			cursor_fail(c, "number out of range");
			return 0;
		}
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	cursor_fail(c, "number too long");
	return 0;
}

/* A varint that must not exceed MAX. */
static uint64_t get_bounded(struct cursor *c, uint64_t max, const char *what)
{
	uint64_t v = get_varint(c);

	if (!c->err && v > max) {
		cursor_fail(c, what);
		return 0;
	}
	return v;
}

/* A count of entries each at least MIN_BYTES long: never more than the bytes left. */
static size_t get_count(struct cursor *c, size_t min_bytes)
{
	return get_bounded(c, (size_t)(c->end - c->p) / min_bytes, "count larger than its record");
}

/* Room for NR more elements of SIZE in *ARR: doubling, so that appends stay linear. */
static bool reserve(void **arr, size_t nr, size_t more, size_t *cap, size_t size)
{
	size_t want = nr + more, n = *cap ? *cap : 64;
	void *p;

	if (want <= *cap)
		return true;
	while (n < want)
		n *= 2;
	p = realloc(*arr, n * size);
	if (!p)
		return false;
	*arr = p;
	*cap = n;
	return true;
}

#define RESERVE(c, arr, nr, more, cap)						\
	(reserve((void **)&(arr), (nr), (more), &(cap), sizeof(*(arr))) ||	\
	 (cursor_fail((c), "out of memory"), false))

/* A string, copied NUL-terminated into the recording's string pool. */
static char *get_string(struct cursor *c, struct recording *r)
{
	size_t n = get_bounded(c, REC_MAX_STRING, "string too long");
	char *s;

	if (c->err)
		return NULL;
	if (n > (size_t)(c->end - c->p)) {
		cursor_fail(c, "record ends inside a string");
		return NULL;
	}
	if (memchr(c->p, 0, n)) {
		cursor_fail(c, "string holds a NUL byte");
		return NULL;
	}
	if (!RESERVE(c, r->strings, r->nr_strings, 1, r->strings_cap))
		return NULL;
	s = strndup((const char *)c->p, n);
	if (!s) {
		cursor_fail(c, "out of memory");
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
	s->sample_bytes = get_varint(c);
}

/* STRINGS entries are strings; frames refer to them by position. */
static void parse_strings(struct cursor *c, struct recording *r)
{
	size_t n = get_count(c, 1);

	if (!RESERVE(c, r->names, r->nr_names, n, r->names_cap))
		return;
	for (size_t i = 0; i < n && !c->err; i++) {
		const char *s = get_string(c, r);

		if (!c->err)
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

	if (!RESERVE(c, r->frames, r->nr_frames, n, r->frames_cap))
		return;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct frame_info f = {};	/* no mapping: recordings keep none */

		f.addr = get_varint(c);
		f.module = get_string_ref(c, r);
		f.symbol = get_string_ref(c, r);
		f.sym_offset = get_varint(c);
		f.file = get_string_ref(c, r);
		f.line = get_bounded(c, INT32_MAX, "line number out of range");
		if (!c->err)
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
	struct rec_stack st = { .id = get_varint(c), .first_ref = r->nr_frame_refs };

	st.depth = get_bounded(c, MAX_STACK_DEPTH, "stack deeper than memlens records");
	if (!c->err && find_stack(r, st.id) >= 0)
		cursor_fail(c, "stack defined twice");
	if (c->err || !RESERVE(c, r->frame_refs, r->nr_frame_refs, st.depth, r->frame_refs_cap))
		return;
	for (size_t i = 0; i < st.depth && !c->err; i++) {
		uint64_t ref = get_varint(c);

		if (!c->err && ref >= r->nr_frames)
			cursor_fail(c, "stack names a frame not defined before");
		r->frame_refs[st.first_ref + i] = ref;
	}
	if (c->err || !RESERVE(c, r->stacks, r->nr_stacks, 1, r->stacks_cap))
		return;
	if (index_add(&r->stack_index, hash_u64(st.id), r->nr_stacks)) {
		cursor_fail(c, "out of memory");
		return;
	}
	r->nr_frame_refs += st.depth;
	r->stacks[r->nr_stacks++] = st;
}

static bool get_stall_stack(struct cursor *c, struct recording *r, uint32_t *first,
			    uint32_t *depth)
{
	*depth = get_bounded(c, MAX_STACK_DEPTH, "stall stack deeper than memlens records");
	*first = r->nr_stall_refs;
	if (c->err || !RESERVE(c, r->stall_refs, r->nr_stall_refs, *depth, r->stall_refs_cap))
		return false;
	for (size_t i = 0; i < *depth && !c->err; i++) {
		uint64_t ref = get_varint(c);

		if (!c->err && ref >= r->nr_frames)
			cursor_fail(c, "stall names a frame not defined before");
		r->stall_refs[r->nr_stall_refs++] = ref;
	}
	return !c->err;
}

/*
 * The tracer's loss counters by name. Past REC_STALL_LOSSES (a later
 * memlens's), the rest are summed into one "other", never dropped.
 */
static void get_stall_losses(struct cursor *c, struct recording *r)
{
	struct rec_stall_sum *sum = &r->stall_sum;
	size_t n = get_count(c, 2);

	for (size_t i = 0; i < n && !c->err; i++) {
		const char *name = get_string(c, r);
		uint64_t count = get_varint(c);
		struct rec_stall_loss *l = &sum->losses[sum->nr_losses];

		if (c->err)
			return;
		if (sum->nr_losses < REC_STALL_LOSSES - 1 || n == REC_STALL_LOSSES) {
			*l = (struct rec_stall_loss){ name, count };
			sum->nr_losses++;
			continue;
		}
		if (sum->nr_losses == REC_STALL_LOSSES - 1)
			sum->losses[sum->nr_losses++] = (struct rec_stall_loss){ "other", 0 };
		sum->losses[REC_STALL_LOSSES - 1].count += count;
	}
}

/* A STALLS record: the stalls so far, replacing those of the one before. */
static void parse_stalls(struct cursor *c, struct recording *r)
{
	size_t n = get_count(c, 6);

	r->nr_stalls = 0;
	r->nr_stall_refs = 0;
	r->have_stalls = false;
	if (!RESERVE(c, r->stall_reads, 0, n, r->stalls_cap))
		return;
	for (size_t i = 0; i < n && !c->err; i++) {
		struct rec_stall_read *s = &r->stall_reads[i];

		s->kind = get_bounded(c, STALL_NR - 1, "stall kind out of range");
		s->count = get_varint(c);
		s->total_ns = get_varint(c);
		s->max_ns = get_varint(c);
		if (!get_stall_stack(c, r, &s->user_ref, &s->user_depth) ||
		    !get_stall_stack(c, r, &s->kernel_ref, &s->kernel_depth))
			return;
		r->nr_stalls = i + 1;
	}
	r->stall_sum.stalls = get_varint(c);
	r->stall_sum.lost = get_varint(c);
	r->stall_sum.nr_losses = 0;
	if (c->p < c->end)	/* 1.2: the tracer's losses by name */
		get_stall_losses(c, r);
	r->have_stalls = !c->err;
}

static void parse_stacks(struct cursor *c, struct recording *r)
{
	size_t n = get_count(c, 2);

	for (size_t i = 0; i < n && !c->err; i++)
		parse_one_stack(c, r);
}

/* Ascending addresses, each the one before plus a delta that is not 0. */
static uint64_t get_addr(struct cursor *c, uint64_t *last, size_t i)
{
	uint64_t delta = get_varint(c);

	if (!c->err && ((i && !delta) || *last + delta < *last))
		cursor_fail(c, "addresses not in ascending order");
	*last += delta;
	return *last;
}

static void parse_freed(struct cursor *c, struct recording *r, struct snapshot_delta *d)
{
	uint64_t addr = 0;

	d->freed = r->nr_freed;
	d->nr_freed = get_count(c, 1);
	if (c->err || !RESERVE(c, r->freed, r->nr_freed, d->nr_freed, r->freed_cap))
		return;
	for (size_t i = 0; i < d->nr_freed && !c->err; i++)
		r->freed[r->nr_freed + i] = get_addr(c, &addr, i);
	r->nr_freed += d->nr_freed;
}

static void parse_allocated(struct cursor *c, struct recording *r, const struct rec_snapshot *s,
			    struct snapshot_delta *d)
{
	uint64_t addr = 0;

	d->allocated = r->nr_allocated;
	d->nr_allocated = get_count(c, 5);
	if (c->err || !RESERVE(c, r->allocated, r->nr_allocated, d->nr_allocated, r->allocated_cap))
		return;
	for (size_t i = 0; i < d->nr_allocated && !c->err; i++) {
		struct rec_block *b = &r->allocated[r->nr_allocated + i];
		uint64_t age;

		b->addr = get_addr(c, &addr, i);
		b->size = get_varint(c);
		age = get_bounded(c, s->mono_ns, "block allocated before the clock started");
		b->ts_ns = s->mono_ns - age;
		b->stack = get_varint(c);
		if (!c->err && b->stack >= r->nr_stacks)
			cursor_fail(c, "block names a stack not defined before");
		b->sample_bytes = get_varint(c);
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

/* A SCAN record: the classes of the blocks of the snapshot that follows it. */
static void parse_scan(struct cursor *c, struct recording *r)
{
	struct rec_scan_read sc = { .first = r->nr_scan_blocks };
	uint64_t addr = 0;

	sc.st.pause_ns = get_varint(c);
	sc.st.scan_ns = get_varint(c);
	sc.st.bytes_scanned = get_varint(c);
	sc.st.bytes_unreadable = get_varint(c);
	sc.st.roots_bytes = get_varint(c);
	sc.st.threads = get_bounded(c, UINT32_MAX, "thread count out of range");
	sc.st.threads_not_stopped = get_bounded(c, sc.st.threads, "more threads not stopped than threads");
	sc.st.partial = get_bounded(c, 1, "bad partial flag");
	sc.st.done = true;
	sc.nr = get_count(c, 2);
	if (c->err || !RESERVE(c, r->scan_addr, r->nr_scan_blocks, sc.nr, r->scan_addr_cap) ||
	    !RESERVE(c, r->scan_cls, r->nr_scan_blocks, sc.nr, r->scan_cls_cap) ||
	    !RESERVE(c, r->scans, r->nr_scans, 1, r->scans_cap))
		return;
	for (size_t i = 0; i < sc.nr && !c->err; i++) {
		uint64_t cls;

		r->scan_addr[sc.first + i] = get_addr(c, &addr, i);
		cls = get_varint(c);
		/* A class a newer memlens knows and this one does not: not scanned, for it. */
		r->scan_cls[sc.first + i] = cls < REACH_NR ? cls : REACH_NONE;
	}
	if (c->err)
		return;
	r->nr_scan_blocks += sc.nr;
	r->scans[r->nr_scans++] = sc;
	r->pending_scan = r->nr_scans;
}

/* The blocks the pending scan classes are outstanding at the snapshot it goes with. */
static void check_scan(struct cursor *c, const struct recording *r)
{
	const struct rec_scan_read *sc;

	if (!r->pending_scan)
		return;
	sc = &r->scans[r->pending_scan - 1];
	for (size_t i = 0; i < sc->nr; i++)
		if (live_find(&r->live, r->scan_addr[sc->first + i]) < 0) {
			cursor_fail(c, "scan classes a block its snapshot does not hold");
			return;
		}
}

static void parse_snapshot(struct cursor *c, struct recording *r)
{
	struct rec_snapshot s = {};
	struct snapshot_delta d = {};

	parse_snapshot_head(c, r, &s);
	parse_freed(c, r, &d);
	parse_allocated(c, r, &s, &d);
	/* Checked against what is outstanding: a replay can then not fail. */
	if (!c->err)
		live_apply(&r->live, r, &d, &c->err);
	if (!c->err)
		check_scan(c, r);
	if (c->err || !RESERVE(c, r->snaps, r->nr_snaps, 1, r->snaps_cap) ||
	    !RESERVE(c, r->deltas, r->nr_snaps, 1, r->deltas_cap) ||
	    !RESERVE(c, r->snap_scan, r->nr_snaps, 1, r->snap_scan_cap))
		return;
	r->snap_scan[r->nr_snaps] = r->pending_scan;
	r->pending_scan = 0;
	r->snaps[r->nr_snaps] = s;
	r->deltas[r->nr_snaps++] = d;
}

static void parse_end(struct cursor *c, struct recording *r)
{
	if (get_varint(c) != r->nr_snaps)
		cursor_fail(c, "end record counts other snapshots than the file holds");
	r->have_end = true;
}

static void parse_record(struct cursor *c, struct recording *r, uint32_t type)
{
	if (!r->have_session && type != REC_SESSION) {
		cursor_fail(c, "first record is not the session");
		return;
	}
	switch (type) {
	case REC_SESSION:
		if (r->have_session)
			cursor_fail(c, "second session record");
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
	case REC_STALLS:
		parse_stalls(c, r);
		break;
	case REC_SCAN:
		parse_scan(c, r);
		break;
	default:
		if (type < REC_OPTIONAL)
			cursor_fail(c, "record of a type this memlens does not know: made by a newer one?");
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

/*
 * The file ends early: an error, or with PARTIAL, a warning if at least one
 * snapshot is whole (what a killed memlens record leaves).
 */
static int cut_short(struct recording *r, bool partial, char *err, size_t err_len,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	if (!partial || !r->nr_snaps)
		return -EINVAL;
	snprintf(r->warning, sizeof(r->warning), "%s: the %zu whole snapshot%s shown", err,
		 r->nr_snaps, r->nr_snaps == 1 ? "" : "s");
	*err = 0;
	return 0;
}

static int parse_records(const uint8_t *data, size_t len, struct recording *r, bool partial,
			 char *err, size_t err_len)
{
	size_t off = REC_HEADER_LEN;

	while (off < len) {
		struct cursor c;
		uint32_t type, size;

		if (r->have_end)
			return fail(err, err_len, "corrupt: data after the end record, at byte %zu", off);
		if (len - off < 12)
			return cut_short(r, partial, err, err_len,
					 "truncated: record header at byte %zu cut short", off);
		type = get_le32(data + off);
		size = get_le32(data + off + 4);
		if (size > len - off - 12)
			return cut_short(r, partial, err, err_len,
					 "truncated: record at byte %zu needs %u bytes, %zu left", off,
					 size, len - off - 12);
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
		return cut_short(r, partial, err, err_len,
				 "truncated after %zu snapshot%s: no end record (was memlens record killed?)",
				 r->nr_snaps, r->nr_snaps == 1 ? "" : "s");
	return 0;
}

int recording_parse(const void *data, size_t len, bool partial, struct recording **out,
		    char *err, size_t err_len)
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
	ret = parse_records(data, len, r, partial, err, err_len);
	live_free(&r->live);
	if (!ret) {
		r->built = calloc(r->nr_stacks + 1, sizeof(*r->built));
		if (!r->built)
			ret = fail(err, err_len, "out of memory");
	}
	if (ret) {
		recording_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

/* Read FD whole: SIZE bytes as fstat said, or fewer if it shrank meanwhile. */
static int read_whole(int fd, size_t size, uint8_t **data, size_t *len)
{
	uint8_t *buf = malloc(size ? size : 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	while (n < size) {
		ssize_t got = read(fd, buf + n, size - n);

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

/* A regular file of a size memlens reads, that starts like a recording. */
static int check_file(int fd, struct stat *st, char *err, size_t err_len)
{
	uint8_t head[REC_HEADER_LEN];
	ssize_t n;

	if (fstat(fd, st))
		return fail(err, err_len, "%s", strerror(errno));
	if (!S_ISREG(st->st_mode))
		return fail(err, err_len, "not a memlens recording (not a regular file)");
	if ((uint64_t)st->st_size > REC_MAX_FILE)
		return fail(err, err_len, "%lld bytes: larger than a recording can be",
			    (long long)st->st_size);
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return fail(err, err_len, "%s", strerror(errno));
	return parse_header(head, n, err, err_len);
}

int recording_load(const char *path, bool partial, struct recording **out, char *err,
		   size_t err_len)
{
	/* A FIFO or a device is not opened: the open would block, or run its driver. */
	int fd = open_regular(path);
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	int ret;

	*out = NULL;
	if (fd == -EINVAL || fd == -EISDIR)
		return fail(err, err_len, "not a memlens recording (not a regular file)");
	if (fd < 0) {
		fail(err, err_len, "%s", strerror(-fd));
		return fd;
	}
	ret = check_file(fd, &st, err, err_len);
	if (!ret) {
		ret = read_whole(fd, st.st_size, &data, &len);
		if (ret)
			fail(err, err_len, "%s", strerror(-ret));
	}
	close(fd);
	if (!ret)
		ret = recording_parse(data, len, partial, out, err, err_len);
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
	free(r->frame_refs);
	for (size_t i = 0; r->built && i < r->nr_stacks; i++) {
		if (r->built[i])
			free(r->built[i]->frames);
		free(r->built[i]);
	}
	free(r->built);
	free(r->stacks);
	index_free(&r->stack_index);
	free(r->snaps);
	free(r->deltas);
	free(r->freed);
	free(r->allocated);
	live_free(&r->live);
	free(r->stall_reads);
	free(r->stall_refs);
	free(r->stalls);
	free(r->stall_frames);
	free(r->scans);
	free(r->scan_addr);
	free(r->scan_cls);
	free(r->snap_scan);
	free(r);
}

const struct rec_stall *recording_stalls(struct recording *r, size_t *nr,
					 struct rec_stall_sum *sum)
{
	static struct rec_stall none;
	struct frame_info *f;

	*nr = 0;
	*sum = r->stall_sum;
	if (!r->have_stalls)
		return NULL;
	/* A process that never stalled: a record with no entry. */
	if (!r->nr_stalls)
		return &none;
	if (!r->stalls) {
		r->stalls = calloc(r->nr_stalls, sizeof(*r->stalls));
		r->stall_frames = calloc(r->nr_stall_refs + 1, sizeof(*r->stall_frames));
		if (!r->stalls || !r->stall_frames) {
			free(r->stalls);
			r->stalls = NULL;
			return NULL;
		}
		f = r->stall_frames;
		for (size_t i = 0; i < r->nr_stall_refs; i++)
			f[i] = r->frames[r->stall_refs[i]];
		for (size_t i = 0; i < r->nr_stalls; i++) {
			const struct rec_stall_read *s = &r->stall_reads[i];
			struct rec_stall *out = &r->stalls[i];

			out->kind = s->kind;
			out->count = s->count;
			out->total_ns = s->total_ns;
			out->max_ns = s->max_ns;
			out->user = (struct sym_stack){ s->user_depth, f + s->user_ref };
			out->kernel = (struct sym_stack){ s->kernel_depth, f + s->kernel_ref };
		}
	}
	*nr = r->nr_stalls;
	return r->stalls;
}

const struct rec_session *recording_session(const struct recording *r)
{
	return &r->session;
}

size_t recording_nr_snapshots(const struct recording *r)
{
	return r->nr_snaps;
}

const char *recording_warning(const struct recording *r)
{
	return r->warning;
}

/* A stack's frames, built on first use: a file's frame refs cost 4 bytes each until then. */
const struct sym_stack *recording_stack(const struct recording *r, uint64_t stack_id)
{
	int64_t index = find_stack(r, stack_id);
	const struct rec_stack *st;
	struct sym_stack *built;

	if (index < 0)
		return NULL;
	if (r->built[index])
		return r->built[index];
	st = &r->stacks[index];
	built = calloc(1, sizeof(*built));
	if (!built)
		return NULL;
	built->frames = calloc(st->depth + 1, sizeof(*built->frames));
	if (!built->frames) {
		free(built);
		return NULL;
	}
	for (size_t i = 0; i < st->depth; i++)
		built->frames[i] = r->frames[r->frame_refs[st->first_ref + i]];
	built->nr = st->depth;
	r->built[index] = built;
	return built;
}

/* The class scan SC gave the block at ADDR: its blocks are by address. */
static uint8_t scan_class(const struct recording *r, const struct rec_scan_read *sc, uint64_t addr)
{
	size_t lo = sc->first, hi = sc->first + sc->nr;

	/* Indices, not a pointer: a scan that classed nothing has no array at all. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->scan_addr[mid] < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < sc->first + sc->nr && r->scan_addr[lo] == addr ? r->scan_cls[lo] : REACH_NONE;
}

/* The outstanding blocks of LS, in VIEW's array, with their classes if a scan went with it. */
static int materialize(const struct recording *r, const struct live_set *ls,
		       struct alloc_rec **buf, struct rec_view *view)
{
	size_t scan = r->snap_scan[view->index];
	const struct rec_scan_read *sc = scan ? &r->scans[scan - 1] : NULL;
	struct alloc_rec *out = realloc(*buf, (ls->nr + 1) * sizeof(*out));
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	*buf = out;
	for (size_t i = 0; i < ls->cap; i++) {
		const struct rec_block *b = &ls->slots[i];

		if (ls->used[i])
			out[n++] = (struct alloc_rec){ b->addr, b->size, b->ts_ns,
						       r->stacks[b->stack].id, b->sample_bytes,
						       sc ? scan_class(r, sc, b->addr) : REACH_NONE };
	}
	view->allocs = out;
	view->nr = n;
	view->scan = sc ? &sc->st : NULL;
	return 0;
}

int recording_replay(const struct recording *r, bool (*want_blocks)(size_t index, void *ctx),
		     int (*fn)(const struct rec_view *v, void *ctx), void *ctx)
{
	struct live_set ls = {};
	struct alloc_rec *buf = NULL;
	const char *why;
	int ret = 0;

	for (size_t i = 0; i < r->nr_snaps && !ret; i++) {
		struct rec_view v = { .index = i, .snap = &r->snaps[i] };

		/* Checked when parsed: fails only for want of memory. */
		if (live_apply(&ls, r, &r->deltas[i], &why)) {
			ret = -ENOMEM;
			break;
		}
		v.nr_live = ls.est_nr;
		v.live_bytes = ls.est_bytes;
		v.live_stacks = ls.stacks;
		if (want_blocks(i, ctx))
			ret = materialize(r, &ls, &buf, &v);
		if (!ret)
			ret = fn(&v, ctx);
	}
	free(buf);
	live_free(&ls);
	return ret;
}
