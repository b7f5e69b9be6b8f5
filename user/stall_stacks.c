// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Stall stacks: the BPF side's (process, kind, user stack, kernel stack)
 * aggregates, symbolized and rendered. User frames resolve through a
 * symbolizer per process, made at its first stall while it still runs
 * (its mappings are kept after it exits); kernel frames through kallsyms,
 * read once. Symbolized stacks are cached by (process, id) for user
 * stacks, by id for kernel ones.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ksyms.h"
#include "procmaps.h"
#include "stall_stacks.h"
#include "symbolize.h"
#include "util.h"

/* A code mapping read at exec: struct vma without its 4 KiB path buffer. */
struct early_map {
	uint64_t start, end, offset, inode, ctime_ns;
	unsigned int dev_major, dev_minor;
	char *path;
};

struct stalled_sym {
	uint32_t tgid;
	char comm[16];
	struct symbolizer *sym;		/* NULL: its mappings could not be read */
	bool borrowed;			/* the caller's (stall_stacks_use) */
	bool early;			/* read before its first stall, read again then */
	bool gone;			/* early, and found exited by stall_stacks_prune() */
	/* Early: its code mappings then, no file opened until they are needed. */
	struct early_map *code;
	size_t nr_code;
};

struct cached_stack {
	uint32_t tgid;			/* 0 for a kernel stack */
	int32_t id;
	struct sym_stack st;
};

struct stall_stacks {
	struct pressure *p;
	struct stalled_sym *procs;
	size_t nr_procs, cap_procs;
	/* Pointers, so that rows keep theirs as the cache grows. */
	struct cached_stack **cache;
	size_t nr_cache, cap_cache;
	struct ksyms ks;
	bool ks_loaded;
	unsigned int nr_unread;		/* processes gone before their mappings were read */
	unsigned int nr_early_only;	/* gone by their first stall: read early only */
	unsigned int nr_early;		/* entries read early that have not stalled yet */
	unsigned int nr_early_skipped;	/* not read early: STALL_STACKS_MAX_EARLY reached */
};

static void early_maps_free(struct stalled_sym *ps)
{
	for (size_t i = 0; i < ps->nr_code; i++)
		free(ps->code[i].path);
	free(ps->code);
	ps->code = NULL;
	ps->nr_code = 0;
}

struct stall_stacks *stall_stacks_new(struct pressure *p)
{
	struct stall_stacks *s = calloc(1, sizeof(*s));

	if (s)
		s->p = p;
	return s;
}

void stall_stacks_free(struct stall_stacks *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nr_procs; i++) {
		if (!s->procs[i].borrowed)
			symbolizer_free(s->procs[i].sym);
		early_maps_free(&s->procs[i]);
	}
	for (size_t i = 0; i < s->nr_cache; i++) {
		free(s->cache[i]->st.frames);
		free(s->cache[i]);
	}
	free(s->procs);
	free(s->cache);
	ksyms_free(&s->ks);
	free(s);
}

static struct stalled_sym *find_proc(const struct stall_stacks *s, uint32_t tgid)
{
	for (size_t i = 0; i < s->nr_procs; i++)
		if (s->procs[i].tgid == tgid)
			return &s->procs[i];
	return NULL;
}

static void set_comm(struct stalled_sym *ps, const char *comm)
{
	memset(ps->comm, 0, sizeof(ps->comm));
	memcpy(ps->comm, comm, sizeof(ps->comm) - 1);
	sanitize_name(ps->comm);
}

static struct stalled_sym *add_proc(struct stall_stacks *s, uint32_t tgid, const char *comm)
{
	struct stalled_sym *ps;

	if (array_grow((void **)&s->procs, s->nr_procs, &s->cap_procs, sizeof(*ps)))
		return NULL;		/* its stacks show addresses only */
	ps = &s->procs[s->nr_procs++];
	memset(ps, 0, sizeof(*ps));
	ps->tgid = tgid;
	set_comm(ps, comm);
	return ps;
}

/*
 * The mappings of TGID that map code from a file, into PS, each with its
 * file's ctime (by map_files: the very file, none opened); -errno.
 */
static int read_code_maps(uint32_t tgid, struct stalled_sym *ps)
{
	struct vma_list all = {};
	int err = vma_list_load(tgid, &all);
	size_t cap = 0;

	for (size_t i = 0; !err && i < all.nr; i++) {
		const struct vma *v = &all.v[i];
		char link[128];
		struct early_map *m;
		struct stat st;

		if (!v->exec || !v->path[0])
			continue;
		err = array_grow((void **)&ps->code, ps->nr_code, &cap, sizeof(*ps->code));
		if (err)
			break;
		m = &ps->code[ps->nr_code];
		*m = (struct early_map){ v->start, v->end, v->offset, v->inode, 0,
					 v->dev_major, v->dev_minor, strdup(v->path) };
		if (!m->path) {
			err = -ENOMEM;
			break;
		}
		vma_map_files_path(tgid, v, link, sizeof(link));
		if (!stat(link, &st))
			m->ctime_ns = (uint64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		ps->nr_code++;
	}
	vma_list_free(&all);
	if (!err && !ps->nr_code)
		err = -ESRCH;		/* a zombie's maps are empty */
	if (err)
		early_maps_free(ps);
	return err;
}

/* Drop entry I, of a process that never stalled. */
static void drop_proc(struct stall_stacks *s, size_t i)
{
	early_maps_free(&s->procs[i]);
	s->procs[i] = s->procs[--s->nr_procs];
}

void stall_stacks_early(struct stall_stacks *s, uint32_t tgid, const char *comm)
{
	struct stalled_sym *ps = find_proc(s, tgid);

	/* Stalled already, under the mappings read then (or record's). */
	if (ps && !ps->early)
		return;
	if (ps) {
		/* Exec'd again before any stall: the new program's mappings. */
		early_maps_free(ps);
		set_comm(ps, comm);
	} else if (s->nr_early >= STALL_STACKS_MAX_EARLY) {
		s->nr_early_skipped++;
		return;
	} else {
		ps = add_proc(s, tgid, comm);
		if (!ps)
			return;
		s->nr_early++;
	}
	ps->early = true;
	ps->gone = false;
	/* Only /proc/PID/maps: an exec costs memlens no ELF file opened. */
	if (!read_code_maps(tgid, ps)) {
		debug_msg("pid %u: mappings read before its first stall", tgid);
		return;
	}
	/* Gone already: nothing to keep, and no room taken. */
	drop_proc(s, ps - s->procs);
	s->nr_early--;
}

void stall_stacks_prune(struct stall_stacks *s)
{
	for (size_t i = 0; i < s->nr_procs;) {
		struct stalled_sym *ps = &s->procs[i];

		if (!ps->early) {
			i++;
			continue;
		}
		/*
		 * Found gone at the last call: every event it sent before it
		 * exited has been read since (the caller drains the ring
		 * between two calls), so it will not stall any more.
		 */
		if (ps->gone) {
			drop_proc(s, i);
			s->nr_early--;
			continue;
		}
		/* Gone, or a zombie with no thread left: its events all sent. */
		ps->gone = process_exited(ps->tgid);
		i++;
	}
}

/*
 * A symbolizer that opens files as process PID sees them, holding the code
 * mappings PS read early if any (its files opened now: through PID while
 * it runs, else at their paths if they are the very files); NULL if out
 * of memory.
 */
static struct symbolizer *early_symbolizer(uint32_t pid, const struct stalled_sym *ps)
{
	struct vma_list code = {};
	struct symbolizer *sym = symbolizer_new(pid);

	if (!sym || !ps->nr_code)
		return sym;
	code.v = calloc(ps->nr_code, sizeof(*code.v));
	if (!code.v)
		return sym;
	for (size_t i = 0; i < ps->nr_code; i++) {
		const struct early_map *m = &ps->code[i];
		struct vma *v = &code.v[code.nr++];

		*v = (struct vma){ .start = m->start, .end = m->end, .offset = m->offset,
				   .inode = m->inode, .dev_major = m->dev_major,
				   .dev_minor = m->dev_minor, .exec = true, .ctime_ns = m->ctime_ns };
		snprintf(v->path, sizeof(v->path), "%s", m->path);
	}
	symbolizer_add_maps(sym, &code);
	vma_list_free(&code);
	return sym;
}

/* Add PID's mappings as they are now to SYM: false if it has no code mapped (gone, a zombie). */
static bool add_live_maps(struct symbolizer *sym, uint32_t pid)
{
	struct vma_list maps = {};
	bool code = false;

	if (vma_list_load(pid, &maps))
		return false;
	for (size_t i = 0; i < maps.nr && !code; i++)
		code = maps.v[i].exec;
	code = code && !symbolizer_add_maps(sym, &maps);
	vma_list_free(&maps);
	return code;
}

/*
 * The mappings of process TGID as they are now, through its thread TID if
 * its leader has none (a leader that called pthread_exit() is a zombie,
 * with empty maps, while its threads run), laid over those read at its
 * exec: an OOM victim read as it exits can show its maps half torn down,
 * or files that no longer open, and what was read at exec still names its
 * program. *LIVE: whether they could be read now; NULL if nothing names
 * any code of it.
 */
static struct symbolizer *read_maps(uint32_t tgid, uint32_t tid, const struct stalled_sym *ps,
				    bool *live)
{
	uint32_t ids[] = { tgid, tid && tid != tgid ? tid : 0 };
	struct symbolizer *sym = NULL;

	*live = false;
	for (size_t i = 0; i < 2 && ids[i]; i++) {
		symbolizer_free(sym);
		sym = early_symbolizer(ids[i], ps);
		if (sym && add_live_maps(sym, ids[i])) {
			*live = true;
			return sym;
		}
	}
	if (sym && symbolizer_has_code(sym))
		return sym;
	symbolizer_free(sym);
	return NULL;
}

void stall_stacks_seen(struct stall_stacks *s, uint32_t tgid, uint32_t tid, const char *comm)
{
	struct stalled_sym *ps = find_proc(s, tgid);
	bool live;

	if (ps && !ps->early)
		return;
	if (!ps)
		ps = add_proc(s, tgid, comm);
	if (!ps)
		return;
	if (ps->early)
		s->nr_early--;
	ps->early = false;
	/*
	 * Read now, while it runs, with the libraries it has loaded. One
	 * OOM-killed a few ms after its first stall may be gone already when
	 * memlens, on a loaded machine, gets here: its mappings from before,
	 * if any, name its program's own frames.
	 */
	ps->sym = read_maps(tgid, tid, ps, &live);
	if (ps->sym && !live) {
		s->nr_early_only++;
		debug_msg("pid %u: gone by its first stall: mappings as read before", tgid);
	} else if (!ps->sym) {
		s->nr_unread++;
		debug_msg("pid %u: mappings not read: stacks without symbols", tgid);
	}
	early_maps_free(ps);
}

unsigned int stall_stacks_unread(const struct stall_stacks *s)
{
	return s->nr_unread;
}

unsigned int stall_stacks_early_only(const struct stall_stacks *s)
{
	return s->nr_early_only;
}

unsigned int stall_stacks_early_skipped(const struct stall_stacks *s)
{
	return s->nr_early_skipped;
}

void stall_stacks_use(struct stall_stacks *s, uint32_t tgid, struct symbolizer *sym)
{
	struct stalled_sym *ps = find_proc(s, tgid);

	if (!ps) {
		if (array_grow((void **)&s->procs, s->nr_procs, &s->cap_procs, sizeof(*ps)))
			return;
		ps = &s->procs[s->nr_procs++];
		memset(ps, 0, sizeof(*ps));
		ps->tgid = tgid;
		read_comm(tgid, ps->comm, sizeof(ps->comm));
	} else if (!ps->borrowed) {
		symbolizer_free(ps->sym);
	}
	if (ps->early)
		s->nr_early--;
	early_maps_free(ps);
	ps->sym = sym;
	ps->borrowed = true;
	ps->early = false;
}

struct symbolizer *stall_stacks_symbolizer(const struct stall_stacks *s, uint32_t tgid)
{
	const struct stalled_sym *ps = find_proc(s, tgid);

	return ps ? ps->sym : NULL;
}

static const struct cached_stack *cache_find(const struct stall_stacks *s, uint32_t tgid,
					     int32_t id)
{
	for (size_t i = 0; i < s->nr_cache; i++)
		if (s->cache[i]->tgid == tgid && s->cache[i]->id == id)
			return s->cache[i];
	return NULL;
}

static void resolve_kernel(struct stall_stacks *s, uint64_t addr, struct frame_info *fi)
{
	const struct ksym *k = ksyms_name(&s->ks, addr) ? ksyms_find(&s->ks, addr) : NULL;

	memset(fi, 0, sizeof(*fi));
	fi->addr = addr;
	fi->module = "vmlinux";
	if (!k)
		return;
	fi->symbol = k->name;
	fi->sym_offset = addr - k->addr;
	if (k->module)
		fi->module = k->module;
}

/* memlens' own frames at the top of a kernel stack: not where the task stalled. */
static void cut_tracing_frames(struct sym_stack *st)
{
	size_t n = 0;

	while (n < st->nr && ksyms_tracing_frame(st->frames[n].symbol))
		n++;
	/* All of them: keep what there is rather than nothing. */
	if (n == st->nr)
		return;
	memmove(st->frames, st->frames + n, (st->nr - n) * sizeof(*st->frames));
	st->nr -= n;
}

/* The frames of stack ID, of process TGID (0: a kernel stack), symbolized once. */
static const struct sym_stack *stack_of(struct stall_stacks *s, uint32_t tgid, int32_t id)
{
	const struct cached_stack *hit = cache_find(s, tgid, id);
	struct stalled_sym *ps = tgid ? find_proc(s, tgid) : NULL;
	uint64_t ips[RECLAIM_STACK_DEPTH];
	struct cached_stack *c;
	size_t nr;

	if (hit)
		return &hit->st;
	nr = pressure_stack_ips(s->p, id, ips);
	if (!nr)
		return NULL;
	if (!tgid && !s->ks_loaded) {
		/* Without kallsyms, kernel frames are addresses. */
		if (ksyms_load(&s->ks))
			debug_msg("no kernel symbols: kernel frames as addresses");
		s->ks_loaded = true;
	}
	/* A frame-pointer walk through code without them reads data: cut there. */
	if (ps && ps->sym)
		nr = symbolizer_code_frames(ps->sym, ips, nr) ?: 1;
	else if (ps)
		nr = 1;		/* its mappings unread: only the first frame is sure */
	c = calloc(1, sizeof(*c));
	if (!c || array_grow((void **)&s->cache, s->nr_cache, &s->cap_cache, sizeof(*s->cache)))
		goto nomem;
	c->st.frames = calloc(nr, sizeof(*c->st.frames));
	if (!c->st.frames)
		goto nomem;
	c->tgid = tgid;
	c->id = id;
	c->st.nr = nr;
	for (size_t i = 0; i < nr; i++) {
		if (!tgid)
			resolve_kernel(s, ips[i], &c->st.frames[i]);
		else if (ps && ps->sym)
			symbolizer_resolve(ps->sym, ips[i], &c->st.frames[i]);
		else
			c->st.frames[i].addr = ips[i];
	}
	if (!tgid)
		cut_tracing_frames(&c->st);
	s->cache[s->nr_cache++] = c;
	return &c->st;
nomem:
	free(c);
	return NULL;
}

static void resolve_row(struct stall_stacks *s, struct stall_stack_row *r)
{
	const struct stalled_sym *ps = find_proc(s, r->key.tgid);

	if (ps)
		memcpy(r->comm, ps->comm, sizeof(r->comm));
	else if (read_comm(r->key.tgid, r->comm, sizeof(r->comm)))
		strcpy(r->comm, "?");
	r->user = r->key.ustack >= 0 ? stack_of(s, r->key.tgid, r->key.ustack) : NULL;
	r->user_unnamed = ps && !ps->sym;
	r->kernel = r->key.kstack >= 0 ? stack_of(s, 0, r->key.kstack) : NULL;
}

int stall_stacks_read(struct stall_stacks *s, struct stall_stack_row **out, size_t *nr_out)
{
	struct pressure_stack *agg;
	struct stall_stack_row *rows;
	size_t nr;
	int err;

	err = pressure_stacks(s->p, &agg, &nr);
	if (err)
		return err;
	rows = calloc(nr + 1, sizeof(*rows));
	if (!rows) {
		free(agg);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		rows[i].key = agg[i].key;
		rows[i].val = agg[i].val;
		resolve_row(s, &rows[i]);
	}
	free(agg);
	err = stall_stack_rows_sort(rows, nr);
	if (err) {
		free(rows);
		return err;
	}
	*out = rows;
	*nr_out = nr;
	return 0;
}

int stall_stacks_of_episode(struct stall_stacks *s, struct episode *e,
			    struct stall_stack_row **out, size_t *nr_out)
{
	struct stall_stack_row *rows = calloc(e->nr_stacks + 1, sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	episode_sort_stacks(e);
	for (size_t i = 0; i < e->nr_stacks; i++) {
		rows[i].key = e->stacks[i].key;
		rows[i].val = e->stacks[i].val;
		resolve_row(s, &rows[i]);
	}
	*out = rows;
	*nr_out = e->nr_stacks;
	return 0;
}
