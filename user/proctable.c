// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Rows of memlens top and hist: per-process counters, their rates over an interval, sorting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proctable.h"

#define PAGE_SIZE 4096

static const char *const ps_names[PS_NR] = {
	[PS_ALLOCS] = "allocs",
	[PS_ALLOC_BYTES] = "alloc_bytes",
	[PS_FREES] = "frees",
	[PS_FREE_BYTES] = "free_bytes",
	[PS_ALLOC_FAILED] = "alloc_failed",
	[PS_BRK_GROW] = "brk_grow",
	[PS_BRK_GROW_BYTES] = "brk_grow_bytes",
	[PS_BRK_SHRINK] = "brk_shrink",
	[PS_BRK_SHRINK_BYTES] = "brk_shrink_bytes",
	[PS_BRK_FAILED] = "brk_failed",
	[PS_MMAP] = "mmap",
	[PS_MMAP_BYTES] = "mmap_bytes",
	[PS_MUNMAP] = "munmap",
	[PS_MUNMAP_BYTES] = "munmap_bytes",
	[PS_MREMAP] = "mremap",
	[PS_MMAP_FAILED] = "mmap_failed",
	[PS_MINFLT_USER] = "minflt_user",
	[PS_MINFLT_KERNEL] = "minflt_kernel",
	[PS_MAJFLT_USER] = "majflt_user",
	[PS_MAJFLT_KERNEL] = "majflt_kernel",
};

static const char *const rss_names[RSS_NR] = {
	[RSS_FILE] = "file",
	[RSS_ANON] = "anon",
	[RSS_SWAP] = "swap",
	[RSS_SHMEM] = "shmem",
};

static const struct {
	const char *name;
	char hotkey;
} sorts[SORT_NR] = {
	[SORT_ALLOCS] = { "allocs", 'a' },
	[SORT_BYTES] = { "bytes", 'b' },
	[SORT_FREES] = { "frees", 'f' },
	[SORT_OUTSTANDING] = { "outstanding", 'o' },
	[SORT_BRK] = { "brk", 'k' },
	[SORT_MMAP] = { "mmap", 'm' },
	[SORT_MINFLT] = { "minflt", 'n' },
	[SORT_MAJFLT] = { "majflt", 'j' },
	[SORT_RSS] = { "rss", 'r' },
	[SORT_STALL] = { "stall", 'w' },
	[SORT_PID] = { "pid", 'p' },
};

const char *proc_stat_name(enum proc_stat ps)
{
	return ps < PS_NR ? ps_names[ps] : "?";
}

const char *rss_member_name(enum rss_member m)
{
	return m < RSS_NR ? rss_names[m] : "?";
}

const char *sort_name(enum sort_key key)
{
	return key < SORT_NR ? sorts[key].name : "?";
}

char sort_hotkey(enum sort_key key)
{
	return key < SORT_NR ? sorts[key].hotkey : '?';
}

int sort_by_name(const char *name, enum sort_key *key)
{
	for (int i = 0; i < SORT_NR; i++) {
		if (!strcmp(name, sorts[i].name)) {
			*key = i;
			return 0;
		}
	}
	return -EINVAL;
}

int sort_by_hotkey(char c, enum sort_key *key)
{
	for (int i = 0; i < SORT_NR; i++) {
		if (c == sorts[i].hotkey) {
			*key = i;
			return 0;
		}
	}
	return -EINVAL;
}

struct proc_row *proctable_find(const struct proc_row *rows, size_t nr, uint32_t tgid)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].tgid == tgid)
			return (struct proc_row *)&rows[mid];
		if (rows[mid].tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int64_t rss_bytes(const struct rss_info *rss)
{
	int64_t pages = rss->pages[RSS_FILE] + rss->pages[RSS_ANON] + rss->pages[RSS_SHMEM];

	return pages > 0 ? pages * PAGE_SIZE : 0;
}

/* Counters that only grow: a smaller one means a new process with the pid. */
static uint64_t since(uint64_t now, uint64_t before)
{
	return now >= before ? now - before : now;
}

static void add_pressure(struct proc_row *r, const struct proc_sample *s,
			 const struct proc_row *prev)
{
	static const struct pressure_proc zero;
	const struct pressure_proc *old = prev ? &prev->pr : &zero;

	r->pr = s->pr;
	for (int k = 0; k < STALL_NR; k++) {
		r->stalls += since(s->pr.stalls[k], old->stalls[k]);
		r->stall_ns += since(s->pr.stall_ns[k], old->stall_ns[k]);
		r->reclaimed += since(s->pr.reclaimed[k], old->reclaimed[k]);
	}
	r->page_allocs = since(s->pr.page_allocs, old->page_allocs);
	r->in_progress_before = old->stall_in_progress_ns;
}

int proctable_build(const struct proc_sample *cur, size_t nr,
		    const struct proc_row *prev, size_t nr_prev,
		    void (*comm_of)(void *ctx, uint32_t tgid, char comm[16]), void *ctx,
		    struct proc_row **out)
{
	struct proc_row *rows = calloc(nr ? nr : 1, sizeof(*rows));

	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		const struct proc_sample *s = &cur[i];
		const struct proc_row *p = proctable_find(prev, nr_prev, s->tgid);
		struct proc_row *r = &rows[i];

		r->tgid = s->tgid;
		r->total = s->st;
		for (int k = 0; k < PS_NR; k++)
			r->delta.v[k] = p && s->st.v[k] >= p->total.v[k] ?
					s->st.v[k] - p->total.v[k] : s->st.v[k];
		r->outstanding = s->st.v[PS_ALLOC_BYTES] > s->st.v[PS_FREE_BYTES] ?
				 s->st.v[PS_ALLOC_BYTES] - s->st.v[PS_FREE_BYTES] : 0;
		r->rss = s->rss;
		r->rss_bytes = s->has_rss ? rss_bytes(&s->rss) : -1;
		add_pressure(r, s, p);
		/* Every time: exec and prctl rename, pids are reused. */
		comm_of(ctx, s->tgid, r->comm);
	}
	*out = rows;
	return 0;
}

static uint64_t sort_value(const struct proc_row *r, enum sort_key key)
{
	switch (key) {
	case SORT_ALLOCS:
		return r->delta.v[PS_ALLOCS];
	case SORT_BYTES:
		return r->delta.v[PS_ALLOC_BYTES];
	case SORT_FREES:
		return r->delta.v[PS_FREES];
	case SORT_OUTSTANDING:
		return r->outstanding;
	case SORT_BRK:
		return r->delta.v[PS_BRK_GROW_BYTES];
	case SORT_MMAP:
		return r->delta.v[PS_MMAP_BYTES];
	case SORT_MINFLT:
		return r->delta.v[PS_MINFLT_USER] + r->delta.v[PS_MINFLT_KERNEL];
	case SORT_MAJFLT:
		return r->delta.v[PS_MAJFLT_USER] + r->delta.v[PS_MAJFLT_KERNEL];
	case SORT_RSS:
		return r->rss_bytes > 0 ? r->rss_bytes : 0;
	case SORT_STALL:
		return r->stall_ns;
	default:
		return 0;
	}
}

static enum sort_key current_sort;

/* Largest first; ties (and --sort pid) by pid, ascending. */
static int row_cmp(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;
	uint64_t vx = sort_value(x, current_sort), vy = sort_value(y, current_sort);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

void proctable_sort(struct proc_row *rows, size_t nr, enum sort_key key)
{
	current_sort = key;
	qsort(rows, nr, sizeof(*rows), row_cmp);
}
