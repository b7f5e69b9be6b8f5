// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The reachability scan (reachability.h), after valgrind's memcheck
 * (mc_leakcheck.c): blocks sorted by address, a mark stack, roots scanned
 * first with their pointers "definite", then the blocks they reach, then
 * the blocks left unreached as heads of lost structures (cliques).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "reachability.h"
#include "util.h"

#define WORD		sizeof(uint64_t)
#define CHUNK		(256 * 1024)
/* Blocks read in one call (process_vm_readv takes up to IOV_MAX = 1024 ranges). */
#define BATCH		512
#define BATCH_MAX	1024
#define PAGE		4096ULL
/* x86-64's red zone: a leaf function keeps locals up to 128 bytes below its stack pointer. */
#define RED_ZONE	128
/* The static TLS blocks below a thread pointer that is in no block nor stack, and its TCB above. */
#define TLS_BELOW	(64 * 1024)
#define TLS_ABOVE	(4 * 1024)

static const char *const class_names[REACH_NR] = {
	[REACH_NONE] = "not_scanned",
	[REACH_DEFINITE] = "definitely_lost",
	[REACH_INDIRECT] = "indirectly_lost",
	[REACH_POSSIBLE] = "possibly_lost",
	[REACH_REACHABLE] = "still_reachable",
	[REACH_SUPPRESSED] = "suppressed",
};

const char *reach_class_name(enum reach_class c)
{
	return c < REACH_NR ? class_names[c] : "?";
}

const char *reach_partial_name(enum reach_partial why)
{
	switch (why) {
	case REACH_WHOLE:
		return NULL;
	case REACH_CUT_DEADLINE:
		return "max_pause";
	case REACH_CUT_READ_ERROR:
		return "read_error";
	case REACH_CUT_THREADS:
		return "threads_not_stopped";
	case REACH_CUT_UNREADABLE:
		return "roots_unreadable";
	}
	return "?";
}

/* valgrind's states; a clique leader stays unreached: definitely lost. */
enum {
	ST_UNREACHED,
	ST_POSSIBLE,
	ST_REACHABLE,
	ST_INDIRECT,
};

struct scan {
	const struct reach_input *in;
	struct reach_result *out;
	uint32_t *order;	/* input indices by address */
	uint64_t *addr;		/* sorted */
	uint64_t *end;
	uint8_t *state;		/* by sorted position */
	uint32_t *stack;
	size_t sp;
	uint64_t lo, hi;	/* no block outside */
	unsigned int ticks;
	enum reach_partial cut;	/* the scan stopped short: why */
	uint64_t buf[CHUNK / WORD];
};

static const uint64_t *sort_addr;

static int cmp_order(const void *a, const void *b)
{
	uint64_t x = sort_addr[*(const uint32_t *)a], y = sort_addr[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

static bool sorted_by_addr(const uint64_t *addr, size_t nr)
{
	for (size_t i = 1; i < nr; i++)
		if (addr[i] < addr[i - 1])
			return false;
	return true;
}

/* The sorted position of the block W points into (or at, for an empty block), or -1. */
static long find_block(const struct scan *s, uint64_t w)
{
	size_t lo = 0, hi = s->in->nr;

	if (w < s->lo || w >= s->hi)
		return -1;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->addr[mid] <= w)
			lo = mid;
		else
			hi = mid;
	}
	if (s->addr[lo] > w)
		return -1;
	if (w < s->end[lo] || w == s->addr[lo])
		return lo;
	return -1;
}

/* Every block is pushed at most four times (possible, reachable; unreached, indirect): room for all. */
static void push(struct scan *s, long i)
{
	s->stack[s->sp++] = i;
}

/*
 * Where glibc's malloc puts the header of the chunk after block I: its
 * arena (top, bins) and free chunks point there, and with a request that
 * uses the next chunk's prev_size field (a size 8 past a multiple of 16)
 * that is inside block I, 8 bytes before its end. Not the program's
 * pointer: valgrind, whose malloc is its own, never sees one.
 */
static uint64_t next_chunk_offset(const struct scan *s, long i)
{
	uint64_t size = s->end[i] - s->addr[i];
	uint64_t chunk = (size + 8 + 15) & ~15ULL;

	return (chunk < 32 ? 32 : chunk) - 16;
}

/*
 * A word W seen in a root (CLIQUE -1, PRIOR_DEFINITE) or in a block: as
 * lc_push_without_clique_if_a_chunk_ptr and lc_push_with_clique_if_a_chunk_ptr.
 */
static void mark(struct scan *s, uint64_t w, bool prior_definite, long clique)
{
	long i = find_block(s, w);

	if (i < 0)
		return;
	if (w != s->addr[i] && s->in->malloc_chunks && w == s->addr[i] + next_chunk_offset(s, i))
		return;
	if (clique >= 0) {
		/* Start or interior alike, as valgrind. */
		if (s->state[i] == ST_UNREACHED && i != clique) {
			s->state[i] = ST_INDIRECT;
			push(s, i);
		}
		return;
	}
	if (s->state[i] == ST_REACHABLE)
		return;
	if (w == s->addr[i] && prior_definite) {
		s->state[i] = ST_REACHABLE;
		push(s, i);
	} else if (s->state[i] == ST_UNREACHED) {
		s->state[i] = ST_POSSIBLE;
		push(s, i);
	}
}

static bool past_deadline(struct scan *s)
{
	if (!s->in->deadline_ns || s->cut)
		return s->cut;
	/* The first call looks: a deadline already past scans nothing. */
	if (s->ticks++ % 64)
		return false;
	if (monotonic_ns() >= s->in->deadline_ns)
		s->cut = REACH_CUT_DEADLINE;
	return s->cut;
}

/*
 * An unmapped page (EFAULT, EIO) or the process gone (ESRCH) is a hole;
 * anything else (EPERM: not allowed to read it) would make every block
 * lost: the scan stops, partial.
 */
static bool read_failed(struct scan *s, ssize_t n)
{
	if (n >= 0 || n == -EFAULT || n == -EIO || n == -ESRCH)
		return false;
	s->cut = REACH_CUT_READ_ERROR;
	s->out->read_err = -n;
	return true;
}

/*
 * The pointer-aligned words of [START, END), read in chunks; unreadable
 * pages skipped, counted (in a root or a block a root reaches, CLIQUE -1,
 * what they hold is unseen: the scan is partial).
 */
static void scan_range(struct scan *s, uint64_t start, uint64_t end, bool prior_definite,
		       long clique)
{
	uint64_t a = (start + WORD - 1) & ~(uint64_t)(WORD - 1);

	while (a + WORD <= end && !past_deadline(s)) {
		size_t len = end - a < CHUNK ? (end - a) & ~(WORD - 1) : CHUNK;
		ssize_t n = s->in->read(s->in->ctx, a, s->buf, len);

		if (read_failed(s, n))
			return;
		if (n < (ssize_t)WORD) {
			uint64_t next = (a & ~(PAGE - 1)) + PAGE;

			if (next > end)
				next = end;
			s->out->bytes_unreadable += next - a;
			if (clique < 0)
				s->out->roots_unreadable += next - a;
			a = next;
			continue;
		}
		n &= ~(ssize_t)(WORD - 1);
		for (size_t k = 0; k < (size_t)n / WORD; k++)
			mark(s, s->buf[k], prior_definite, clique);
		s->out->bytes_scanned += n;
		a += n;
	}
}

/* The words of block I, read already into BUF. */
static void scan_words(struct scan *s, long i, const uint64_t *buf, size_t len, long clique)
{
	bool prior_definite = s->state[i] != ST_POSSIBLE;

	for (size_t k = 0; k < len / WORD; k++)
		mark(s, buf[k], prior_definite, clique);
	s->out->bytes_scanned += len;
}

/*
 * Blocks BATCH[0..N), aligned and small, read in one call (one
 * process_vm_readv for many blocks: the syscall, not the words, is what
 * small blocks cost); those past a read that stopped short, one by one.
 */
static void scan_batch(struct scan *s, const long *batch, size_t n, long clique)
{
	struct reach_range r[BATCH];
	ssize_t got;
	size_t off = 0, k = 0;

	for (size_t j = 0; j < n; j++)
		r[j] = (struct reach_range){ s->addr[batch[j]],
					     s->addr[batch[j]] + ((s->end[batch[j]] - s->addr[batch[j]]) & ~(WORD - 1)) };
	got = s->in->readv(s->in->ctx, r, n, s->buf);
	for (; k < n && got >= 0 && off + (r[k].end - r[k].start) <= (size_t)got; k++) {
		scan_words(s, batch[k], s->buf + off / WORD, r[k].end - r[k].start, clique);
		off += r[k].end - r[k].start;
	}
	for (; k < n; k++)
		scan_range(s, s->addr[batch[k]], s->end[batch[k]],
			   s->state[batch[k]] != ST_POSSIBLE, clique);
}

static void process_stack(struct scan *s, long clique)
{
	long batch[BATCH];

	while (s->sp && !past_deadline(s)) {
		size_t n = 0, bytes = 0;

		while (s->sp && n < BATCH && s->in->readv) {
			long i = s->stack[s->sp - 1];
			uint64_t len = (s->end[i] - s->addr[i]) & ~(WORD - 1);

			if ((s->addr[i] & (WORD - 1)) || len > CHUNK - bytes)
				break;
			batch[n++] = i;
			bytes += len;
			s->sp--;
		}
		if (n) {
			scan_batch(s, batch, n, clique);
			continue;
		}
		n = s->stack[--s->sp];
		scan_range(s, s->addr[n], s->end[n], s->state[n] != ST_POSSIBLE, clique);
	}
}

/* Blocks a root range overlaps (a TLS block, a stack) are in use: reachable. */
static void mark_overlapped(struct scan *s, const struct reach_range *r)
{
	long i = find_block(s, r->start);
	size_t k = i < 0 ? 0 : i;

	if (i < 0) {
		/* The first block starting inside R, if any. */
		size_t lo = 0, hi = s->in->nr;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (s->addr[mid] < r->start)
				lo = mid + 1;
			else
				hi = mid;
		}
		k = lo;
	}
	for (; k < s->in->nr && s->addr[k] < r->end; k++) {
		if (s->state[k] == ST_REACHABLE)
			continue;
		s->state[k] = ST_REACHABLE;
		push(s, k);
	}
}

/*
 * Small root ranges from R on (the heap between known blocks, with -p)
 * read many in a call: how many were scanned, 0 if R's first is better
 * read alone.
 */
static size_t scan_root_batch(struct scan *s, const struct reach_range *r, size_t nr)
{
	struct reach_range w[BATCH];
	size_t n = 0, bytes = 0, off = 0, k;
	ssize_t got;

	if (!s->in->readv)
		return 0;
	for (; n < nr && n < BATCH; n++) {
		uint64_t start = (r[n].start + WORD - 1) & ~(uint64_t)(WORD - 1);
		uint64_t end = r[n].end & ~(uint64_t)(WORD - 1);

		if (end < start)
			end = start;
		if (end - start > CHUNK - bytes)
			break;
		w[n] = (struct reach_range){ start, end };
		bytes += end - start;
	}
	if (n < 2)
		return 0;
	got = s->in->readv(s->in->ctx, w, n, s->buf);
	for (k = 0; k < n && got >= 0 && off + (w[k].end - w[k].start) <= (size_t)got; k++) {
		for (size_t j = 0; j < (w[k].end - w[k].start) / WORD; j++)
			mark(s, s->buf[off / WORD + j], true, -1);
		s->out->bytes_scanned += w[k].end - w[k].start;
		off += w[k].end - w[k].start;
	}
	for (; k < n; k++)
		scan_range(s, w[k].start, w[k].end, true, -1);
	return n;
}

static void scan_roots(struct scan *s)
{
	const struct reach_input *in = s->in;

	for (size_t i = 0; i < in->nr_words; i++)
		mark(s, in->words[i], true, -1);
	for (size_t i = 0; i < in->nr_roots; i++)
		mark_overlapped(s, &in->roots[i]);
	process_stack(s, -1);
	for (size_t i = 0; i < in->nr_roots && !past_deadline(s); ) {
		size_t n = scan_root_batch(s, &in->roots[i], in->nr_roots - i);

		if (!n) {
			scan_range(s, in->roots[i].start, in->roots[i].end, true, -1);
			n = 1;
		}
		process_stack(s, -1);
		i += n;
	}
}

/* The heads of lost structures, in address order: each marks what it reaches indirectly lost. */
static void scan_cliques(struct scan *s)
{
	for (size_t i = 0; i < s->in->nr && !s->cut; i++) {
		if (s->state[i] != ST_UNREACHED)
			continue;
		push(s, i);
		process_stack(s, i);
	}
}

static uint8_t final_class(const struct scan *s, size_t i)
{
	static const uint8_t cls[] = {
		[ST_UNREACHED] = REACH_DEFINITE,
		[ST_POSSIBLE] = REACH_POSSIBLE,
		[ST_REACHABLE] = REACH_REACHABLE,
		[ST_INDIRECT] = REACH_INDIRECT,
	};

	/* Partial: a block not reached may still be. */
	if (s->out->why && s->state[i] != ST_REACHABLE)
		return REACH_NONE;
	return cls[s->state[i]];
}

static void scan_free(struct scan *s)
{
	free(s->order);
	free(s->addr);
	free(s->end);
	free(s->state);
	free(s->stack);
	free(s);
}

int reach_classify(const struct reach_input *in, struct reach_result *out)
{
	struct scan *s = calloc(1, sizeof(*s));
	size_t nr = in->nr;

	out->bytes_scanned = out->bytes_unreadable = out->roots_unreadable = 0;
	out->partial = false;
	out->why = REACH_WHOLE;
	out->read_err = 0;
	if (!s)
		return -ENOMEM;
	s->in = in;
	s->out = out;
	s->order = malloc((nr + 1) * sizeof(*s->order));
	s->addr = malloc((nr + 1) * sizeof(*s->addr));
	s->end = malloc((nr + 1) * sizeof(*s->end));
	s->state = calloc(nr + 1, 1);
	s->stack = malloc((4 * nr + 1) * sizeof(*s->stack));
	if (!s->order || !s->addr || !s->end || !s->state || !s->stack) {
		scan_free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++)
		s->order[i] = i;
	sort_addr = in->addr;
	if (!sorted_by_addr(in->addr, nr))
		qsort(s->order, nr, sizeof(*s->order), cmp_order);
	for (size_t i = 0; i < nr; i++) {
		s->addr[i] = in->addr[s->order[i]];
		s->end[i] = s->addr[i] + in->size[s->order[i]];
		if (!i || s->addr[i] < s->lo)
			s->lo = s->addr[i];
		if (s->end[i] + 1 > s->hi)
			s->hi = s->end[i] + 1;
	}
	if (nr)
		scan_roots(s);
	/* The first cause; lost blocks are not told apart in a partial scan. */
	out->why = s->cut ? s->cut : in->threads_unseen ? REACH_CUT_THREADS :
		   out->roots_unreadable ? REACH_CUT_UNREADABLE : REACH_WHOLE;
	if (nr && !out->why)
		scan_cliques(s);
	for (size_t i = 0; i < nr; i++)
		out->cls[s->order[i]] = final_class(s, i);
	out->partial = out->why != REACH_WHOLE;
	scan_free(s);
	return 0;
}

/* --- a process: its memory and its roots --------------------------------- */

ssize_t reach_read_process(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct reach_mem *m = ctx;
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	if (!m->use_fd) {
		n = process_vm_readv(m->pid, &local, 1, &remote, 1, 0);
		if (n >= 0 || errno == EFAULT || errno == ESRCH)
			return n < 0 ? -errno : n;
		/* Not built in (CONFIG_CROSS_MEMORY_ATTACH), or refused: the file. */
		m->use_fd = true;
	}
	if (m->mem_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/mem", m->pid);
		m->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (m->mem_fd < 0)
			return -errno;
	}
	n = pread(m->mem_fd, buf, len, addr);
	return n < 0 ? -errno : n;
}

ssize_t reach_readv_process(void *ctx, const struct reach_range *r, size_t n, void *buf)
{
	struct reach_mem *m = ctx;
	struct iovec remote[BATCH_MAX], local = { .iov_base = buf };
	ssize_t got;

	if (m->use_fd || n > BATCH_MAX)
		return -ENOSYS;
	for (size_t i = 0; i < n; i++) {
		remote[i] = (struct iovec){ (void *)(uintptr_t)r[i].start, r[i].end - r[i].start };
		local.iov_len += r[i].end - r[i].start;
	}
	got = process_vm_readv(m->pid, &local, 1, remote, n, 0);
	return got < 0 ? -errno : got;
}

/* One line of /proc/PID/maps, with what the roots need of it. */
struct map {
	uint64_t start, end, offset;
	bool r, w, x;
	char kind;		/* 'f' a file, 'a' anonymous, 'h' [heap], 's' [stack], 'o' other [...] */
	char path[256];
};

static int load_maps(pid_t pid, struct map **out, size_t *nr_out)
{
	char path[64], line[4096 + 128], perms[8];
	struct map *maps = NULL, m;
	size_t nr = 0, cap = 0;
	int pos;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		memset(&m, 0, sizeof(m));
		pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*x:%*x %*u %n",
			   &m.start, &m.end, perms, &m.offset, &pos) < 4 || strlen(perms) != 4)
			continue;
		m.r = perms[0] == 'r';
		m.w = perms[1] == 'w';
		m.x = perms[2] == 'x';
		snprintf(m.path, sizeof(m.path), "%.*s", (int)strcspn(line + pos, "\n"),
			 pos ? line + pos : "");
		m.kind = !m.path[0] ? 'a' : !strcmp(m.path, "[heap]") ? 'h' :
			 !strncmp(m.path, "[stack", 6) ? 's' : m.path[0] == '[' ? 'o' : 'f';
		if (array_grow((void **)&maps, nr, &cap, sizeof(*maps))) {
			fclose(f);
			free(maps);
			return -ENOMEM;
		}
		maps[nr++] = m;
	}
	fclose(f);
	*out = maps;
	*nr_out = nr;
	return 0;
}

struct roots {
	struct reach_range *r;
	size_t nr, cap;
	int err;
};

static void add_root(struct roots *rs, uint64_t start, uint64_t end)
{
	if (start >= end || rs->err)
		return;
	if (array_grow((void **)&rs->r, rs->nr, &rs->cap, sizeof(*rs->r))) {
		rs->err = -ENOMEM;
		return;
	}
	rs->r[rs->nr++] = (struct reach_range){ start, end };
}

static const struct map *map_of(const struct map *maps, size_t nr, uint64_t addr)
{
	for (size_t i = 0; i < nr; i++)
		if (addr >= maps[i].start && addr < maps[i].end)
			return &maps[i];
	return NULL;
}

/* The first of the blocks B (sorted, apart) that ends after ADDR. */
static size_t first_ending_after(const struct reach_range *b, size_t nr, uint64_t addr)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool overlaps_block(const struct reach_range *b, size_t nr, uint64_t start, uint64_t end)
{
	size_t i = first_ending_after(b, nr, start);

	return i < nr && b[i].start < end;
}

/* [START, END) less the blocks (sorted) in it. */
static void add_outside_blocks(struct roots *rs, const struct reach_range *b, size_t nr,
			       uint64_t start, uint64_t end)
{
	for (size_t i = first_ending_after(b, nr, start); i < nr && b[i].start < end && start < end;
	     i++) {
		if (b[i].start > start)
			add_root(rs, start, b[i].start);
		if (b[i].end > start)
			start = b[i].end;
	}
	add_root(rs, start, end);
}

/* .data, .got, .bss of every module; the RELRO before them (pointers ld.so wrote). */
static void module_roots(struct roots *rs, const struct map *m, size_t nr,
			 const struct reach_range *b, size_t nr_b)
{
	for (size_t i = 0; i < nr; i++) {
		if (m[i].kind != 'f' || !m[i].w)
			continue;
		add_root(rs, m[i].start, m[i].end);
		if (i && m[i - 1].end == m[i].start && !strcmp(m[i - 1].path, m[i].path) &&
		    m[i - 1].r && !m[i - 1].w && !m[i - 1].x && m[i - 1].offset)
			add_root(rs, m[i - 1].start, m[i - 1].end);
		/* The rest of .bss, anonymous; an adjacent mapping of blocks is not it. */
		if (i + 1 < nr && m[i + 1].kind == 'a' && m[i + 1].w && m[i + 1].start == m[i].end &&
		    !overlaps_block(b, nr_b, m[i + 1].start, m[i + 1].end))
			add_root(rs, m[i + 1].start, m[i + 1].end);
	}
}

/* The block (B sorted) ADDR is in, or -1. */
static long block_of(const struct reach_range *b, size_t nr, uint64_t addr)
{
	size_t k = first_ending_after(b, nr, addr);

	return k < nr && b[k].start <= addr ? (long)k : -1;
}

/* M holds a thread's stack: one whose stack pointer is in M and in no block. */
static bool is_thread_stack(const struct map *m, const struct reach_thread *t, size_t nr,
			    const struct reach_range *b, size_t nr_b)
{
	for (size_t i = 0; i < nr; i++)
		if (t[i].stopped && t[i].sp >= m->start && t[i].sp < m->end &&
		    block_of(b, nr_b, t[i].sp) < 0)
			return true;
	return false;
}

/*
 * A thread's stack from its stack pointer up (to the end of its mapping,
 * or of the block it is in), and its TLS: the block at
 * its thread pointer (ld.so's static TLS of the first thread), or around
 * it in its mapping when no block holds it; another thread's TLS is at
 * the top of its stack mapping, scanned with it.
 */
static void thread_roots(struct roots *rs, const struct map *m, size_t nr,
			 const struct reach_thread *t, size_t nr_t,
			 const struct reach_range *b, size_t nr_b)
{
	for (size_t i = 0; i < nr_t; i++) {
		const struct map *sm, *tm;
		uint64_t fs = t[i].fs_base;
		long in_block;
		size_t k;

		if (!t[i].stopped)
			continue;
		sm = map_of(m, nr, t[i].sp);
		in_block = sm ? block_of(b, nr_b, t[i].sp) : -1;
		if (in_block >= 0) {
			k = in_block;
			/*
			 * A stack in a malloc'd block (a coroutine's, ucontext):
			 * up to the block's end, not the heap's; the block is
			 * reachable (a root overlaps it), held by that thread.
			 */
			add_root(rs, t[i].sp - RED_ZONE > b[k].start ? t[i].sp - RED_ZONE : b[k].start,
				 b[k].end);
			sm = NULL;
		} else if (sm) {
			add_root(rs, t[i].sp - RED_ZONE > sm->start ? t[i].sp - RED_ZONE : sm->start,
				 sm->end);
		}
		tm = fs ? map_of(m, nr, fs) : NULL;
		if (!tm || tm == sm || (tm->kind == 'f' && tm->w) ||
		    is_thread_stack(tm, t, nr_t, b, nr_b))
			continue;
		k = first_ending_after(b, nr_b, fs);
		if (k < nr_b && b[k].start <= fs)
			add_root(rs, b[k].start, b[k].end);
		else
			add_root(rs, fs - TLS_BELOW > tm->start ? fs - TLS_BELOW : tm->start,
				 fs + TLS_ABOVE < tm->end ? fs + TLS_ABOVE : tm->end);
	}
}

static int cmp_range(const void *a, const void *b)
{
	const struct reach_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

/* Sorted, overlaps merged: no byte scanned twice. */
static void merge_ranges(struct reach_range *r, size_t *nr)
{
	size_t n = 0;

	qsort(r, *nr, sizeof(*r), cmp_range);
	for (size_t i = 0; i < *nr; i++) {
		if (n && r[i].start <= r[n - 1].end) {
			if (r[i].end > r[n - 1].end)
				r[n - 1].end = r[i].end;
			continue;
		}
		r[n++] = r[i];
	}
	*nr = n;
}

int reach_roots(pid_t pid, const struct reach_thread *t, size_t nr_threads,
		const struct reach_range *blocks, size_t nr_blocks, bool unknown_heap,
		struct reach_range **roots, size_t *nr_roots)
{
	struct reach_range *b = malloc((nr_blocks + 1) * sizeof(*b));
	struct roots rs = {};
	struct map *m;
	size_t nr;
	int err;

	if (!b)
		return -ENOMEM;
	memcpy(b, blocks, nr_blocks * sizeof(*b));
	for (size_t i = 1; i < nr_blocks; i++)
		if (cmp_range(&b[i - 1], &b[i]) > 0) {
			qsort(b, nr_blocks, sizeof(*b), cmp_range);
			break;
		}
	err = load_maps(pid, &m, &nr);
	if (err) {
		free(b);
		return err;
	}
	module_roots(&rs, m, nr, b, nr_blocks);
	thread_roots(&rs, m, nr, t, nr_threads, b, nr_blocks);
	for (size_t i = 0; unknown_heap && i < nr; i++)
		if ((m[i].kind == 'a' || m[i].kind == 'h') && m[i].w && m[i].r &&
		    !is_thread_stack(&m[i], t, nr_threads, b, nr_blocks))
			add_outside_blocks(&rs, b, nr_blocks, m[i].start, m[i].end);
	free(m);
	free(b);
	if (rs.err) {
		free(rs.r);
		return rs.err;
	}
	merge_ranges(rs.r, &rs.nr);
	*roots = rs.r;
	*nr_roots = rs.nr;
	return 0;
}

int reach_scan_process(pid_t pid, const struct reach_thread *t, size_t nr_threads,
		       const uint64_t *addr, const uint64_t *size, size_t nr, bool unknown_heap,
		       uint64_t deadline_ns, uint8_t *cls, struct reach_stats *st)
{
	struct reach_mem mem = { .pid = pid, .mem_fd = -1 };
	struct reach_range *blocks = malloc((nr + 1) * sizeof(*blocks)), *roots = NULL;
	uint64_t *words = malloc((nr_threads * 32 + 1) * sizeof(*words));
	uint64_t start = monotonic_ns();
	struct reach_result res = { .cls = cls };
	struct reach_input in = {
		.addr = addr, .size = size, .nr = nr,
		.words = words, .read = reach_read_process, .readv = reach_readv_process,
		.ctx = &mem,
		.deadline_ns = deadline_ns,
		.malloc_chunks = true,
	};
	size_t nr_roots = 0;
	int err = -ENOMEM;

	if (!blocks || !words)
		goto out;
	for (size_t i = 0; i < nr; i++)
		blocks[i] = (struct reach_range){ addr[i], addr[i] + size[i] };
	for (size_t i = 0; i < nr_threads; i++) {
		if (t[i].exited)
			continue;	/* no roots, and nothing unseen */
		st->threads++;
		if (!t[i].stopped) {
			st->threads_not_stopped++;
			in.threads_unseen = true;
			continue;
		}
		memcpy(words + in.nr_words, t[i].regs, t[i].nr_regs * sizeof(*words));
		in.nr_words += t[i].nr_regs;
	}
	err = reach_roots(pid, t, nr_threads, blocks, nr, unknown_heap, &roots, &nr_roots);
	if (err)
		goto out;
	in.roots = roots;
	in.nr_roots = nr_roots;
	for (size_t i = 0; i < nr_roots; i++)
		st->roots_bytes += roots[i].end - roots[i].start;
	debug_msg("reachability scan: roots of pid %d in %.1f ms", pid, (monotonic_ns() - start) / 1e6);
	err = reach_classify(&in, &res);
	st->bytes_scanned = res.bytes_scanned;
	st->bytes_unreadable = res.bytes_unreadable;
	st->roots_unreadable = res.roots_unreadable;
	st->read_err = res.read_err;
	st->why = res.why;
	st->partial = res.partial;
	st->done = !err;
out:
	st->scan_ns = monotonic_ns() - start;
	if (mem.mem_fd >= 0)
		close(mem.mem_fd);
	free(blocks);
	free(words);
	free(roots);
	return err;
}
