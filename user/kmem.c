// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens kmem: kernel allocations by cache and by the process that made
 * them. Slab caches, kmalloc size classes, vmap areas and percpu
 * allocations are tracked object by object, so that what a process
 * allocated and has not freed is known whichever task frees it; pages are
 * counted by order. Every interval a table sorted by growth; with --cache,
 * the outstanding objects of that cache by kernel stack at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "kmemview.h"
#include "flameset.h"
#include "ksyms.h"
#include "output.h"
#include "pprof.h"
#include "stack_report.h"
#include "memcg.h"
#include "subcommands.h"
#include "util.h"

#define PROCS_PER_CACHE	5

enum kmem_sort {
	KSORT_GROWTH,		/* outstanding bytes */
	KSORT_OBJECTS,		/* outstanding objects */
	KSORT_ALLOCS,		/* allocations per second */
	KSORT_FREES,
	KSORT_NR,
};

static const char *const sort_names[KSORT_NR] = { "growth", "objects", "allocs", "frees" };

struct kmem_env {
	struct view_opts o;		/* filters, interval, count, json */
	struct kmem_opts ko;
	enum kmem_sort sort;
	unsigned long long rows;
	bool per_process;
	unsigned long long max_objects;
	bool folded;			/* --cache report as folded lines */
	const char *svg;		/* --cache report as a flame graph */
	const char *pprof;		/* --cache report as a pprof heap profile */
	char merged_into[KMEM_CACHE_NAME_LEN];	/* --cache's, if SLUB merged it */
};

static const char kmem_usage[] =
"Usage: memlens kmem [OPTIONS]\n"
"\n"
"Kernel allocations by cache and by the process that made them: slab\n"
"caches, kmalloc size classes, vmap areas (vmalloc), percpu, and pages by\n"
"order. Objects are tracked from allocation to free, whichever task frees\n"
"them: OUTSTANDING is what was allocated since memlens started and is\n"
"still allocated, the growth of the session. For pages, the allocations\n"
"minus the frees seen.\n"
"\n";

enum {
	OPT_CACHE = CLI_CMD_KEYS,
	OPT_NO_PAGES,
	OPT_MAX_OBJECTS,
};

static const struct cli_opt kmem_opts[] = {
	{ "cache", OPT_CACHE, "NAME", 0,
	  "at the end, the outstanding objects of this cache\n"
	  "(dentry, filp, kmalloc-64, ...) by kernel stack" },
	{ "folded", CLI_FOLDED, NULL, 0,
	  "with --cache: the report as folded stacks\n"
	  "(\"cache;caller;...;kmem_cache_alloc BYTES\" a line)" },
	{ "svg", CLI_SVG, "FILE", 0,
	  "with --cache: the report also as an interactive\n"
	  "flame graph in FILE" },
	{ "pprof", CLI_PPROF, "FILE", 0,
	  "with --cache: the report also as a pprof heap profile\n"
	  "(inuse_space, inuse_objects) in FILE" },
	{ "processes", 'P', NULL, 0, "a row per process and cache, not per cache" },
	{ "sort", 's', "KEY", 0, "growth, objects, allocs or frees (default growth)" },
	{ "rows", 'r', "N", 0, "rows per table (default 20, 0 = all)" },
	{ "no-pages", OPT_NO_PAGES, NULL, 0, "do not count page allocations (the hottest hook)" },
	{ "max-objects", OPT_MAX_OBJECTS, "N", 0,
	  "objects tracked at most, up to 128 bytes of kernel\n"
	  "memory each, allocated at start (default: twice the\n"
	  "slab objects in use, at least 131072, at most what\n"
	  "1/128 of RAM holds; -v tells)" },
	{},
};

const struct cli_cmd kmem_cli = {
	.name = "kmem",
	.usage = kmem_usage,
	.tables = (const struct cli_opt *const[]){
		cli_view_filters, kmem_opts, cli_verbose_help, NULL,
	},
};

static int parse_kmem_opt(void *ctx, int opt, const char *arg)
{
	struct kmem_env *env = ctx;

	switch (opt) {
	case OPT_CACHE:
		/* Not a path: the name looked up in /sys/kernel/slab. */
		if (!*arg || strlen(arg) >= KMEM_CACHE_NAME_LEN || strchr(arg, '/') || *arg == '.') {
			error_msg("invalid cache name '%s'", arg);
			return -EINVAL;
		}
		env->ko.cache = arg;
		return 1;
	case 'P':
		env->per_process = true;
		return 1;
	case 's':
		for (int k = 0; k < KSORT_NR; k++) {
			if (!strcmp(arg, sort_names[k])) {
				env->sort = k;
				return 1;
			}
		}
		error_msg("invalid sort key '%s' (see memlens kmem --help)", arg);
		return -EINVAL;
	case 'r':
		return parse_uint(arg, "rows", 1 << 20, &env->rows) ? -EINVAL : 1;
	case OPT_NO_PAGES:
		env->ko.pages = false;
		return 1;
	case CLI_FOLDED:
		env->folded = true;
		return 1;
	case CLI_SVG:
		env->svg = arg;
		return 1;
	case CLI_PPROF:
		env->pprof = arg;
		return 1;
	case OPT_MAX_OBJECTS:
		if (parse_uint(arg, "max-objects", KMEM_MAX_OBJECTS_LIMIT, &env->max_objects))
			return -EINVAL;
		if (!env->max_objects) {
			error_msg("invalid max-objects '0': at least 1 object must be tracked");
			return -EINVAL;
		}
		env->ko.max_objects = env->max_objects;
		return 1;
	}
	return 0;
}

static const struct view_cmd kmem_cmd = {
	.cli = &kmem_cli,
	.parse_opt = parse_kmem_opt,
};

/* --- Names of processes, alive or gone ------------------------------- */

struct comm_entry {
	uint32_t tgid;
	char comm[16];
};

struct comm_cache {
	struct comm_entry *e;
	size_t nr, cap;
};

/*
 * The name of process P, read once (processes that exit keep theirs): the
 * kernel's while it runs; once it has exited, the name its allocating
 * task had when the BPF side first counted it.
 */
static const char *comm_of(struct comm_cache *c, const struct kmem_proc *p)
{
	struct comm_entry *e;

	/* The idle task, interrupted: swapper/N to the kernel. */
	if (!p->tgid)
		return "swapper";
	for (size_t i = 0; i < c->nr; i++)
		if (c->e[i].tgid == p->tgid)
			return c->e[i].comm;
	if (array_grow((void **)&c->e, c->nr, &c->cap, sizeof(*c->e)))
		return "?";
	e = &c->e[c->nr++];
	e->tgid = p->tgid;
	if (!read_comm(p->tgid, e->comm, sizeof(e->comm)))
		return e->comm;
	snprintf(e->comm, sizeof(e->comm), "%s", p->comm[0] ? p->comm : "?");
	sanitize_name(e->comm);
	return e->comm;
}

/* --- One interval ---------------------------------------------------- */

/* A cache, or one process in it, over one interval. */
struct kmem_line {
	const struct kmem_cache_row *row;
	const struct kmem_proc *proc;	/* -P: this process's part */
	double allocs_per_s, frees_per_s;
	bool known;			/* outstanding is known: false for pages, filtered */
	bool cut;			/* a full map may have cut its counts */
	int64_t outstanding, outstanding_bytes;
};

static bool is_pages(uint64_t id)
{
	return KMEM_ID_CLASS(id) == KMEM_PAGE;
}

/*
 * Counts a full map may have cut: allocations the objects map had no room
 * for are left out of OUTSTANDING (they are U's own, so the row knows),
 * and while the usage map is full, any row may miss allocations.
 */
static bool usage_cut(const struct kmem_usage *u, const struct kmem_sample *s)
{
	return u->untracked || s->stats[KSTAT_USAGE_FULL];
}

/*
 * Pages are not tracked: a page order's growth is its allocations minus
 * every free, known only unfiltered and for the whole order.
 */
static void line_totals(struct kmem_line *l, bool filtered)
{
	const struct kmem_usage *u = l->proc ? &l->proc->u : &l->row->u;

	l->known = true;
	l->outstanding = kmem_outstanding(u);
	l->outstanding_bytes = kmem_outstanding_bytes(u);
	if (!is_pages(l->row->id))
		return;
	l->known = !filtered && !l->proc;
	l->outstanding -= l->row->untracked_frees;
	l->outstanding_bytes -= l->row->untracked_free_bytes;
	if (!l->known)
		l->outstanding = l->outstanding_bytes = 0;
}

static const struct kmem_proc *find_proc(const struct kmem_cache_row *r, uint32_t tgid)
{
	for (size_t i = 0; r && i < r->nr_procs; i++)
		if (r->procs[i].tgid == tgid)
			return &r->procs[i];
	return NULL;
}

/* Filtered, frees are those of the traced processes' objects only. */
static void line_rates(struct kmem_line *l, const struct kmem_sample *prev, double secs,
		       bool filtered)
{
	const struct kmem_cache_row *old = kmem_sample_find(prev, l->row->id);
	uint64_t allocs, frees, old_allocs = 0, old_frees = 0;

	if (l->proc) {
		const struct kmem_proc *p = find_proc(old, l->proc->tgid);

		allocs = l->proc->u.allocs;
		frees = l->proc->u.frees;
		if (p) {
			old_allocs = p->u.allocs;
			old_frees = p->u.frees;
		}
	} else {
		allocs = l->row->u.allocs;
		frees = l->row->u.frees + (filtered ? 0 : l->row->untracked_frees);
		if (old) {
			old_allocs = old->u.allocs;
			old_frees = old->u.frees + (filtered ? 0 : old->untracked_frees);
		}
	}
	l->allocs_per_s = (allocs - old_allocs) / secs;
	l->frees_per_s = (frees - old_frees) / secs;
}

static enum kmem_sort current_sort;

static int line_cmp(const void *a, const void *b)
{
	const struct kmem_line *x = a, *y = b;
	double vx, vy;

	switch (current_sort) {
	case KSORT_OBJECTS:
		vx = x->outstanding, vy = y->outstanding;
		break;
	case KSORT_ALLOCS:
		vx = x->allocs_per_s, vy = y->allocs_per_s;
		break;
	case KSORT_FREES:
		vx = x->frees_per_s, vy = y->frees_per_s;
		break;
	default:
		vx = x->outstanding_bytes, vy = y->outstanding_bytes;
	}
	if (vx != vy)
		return vx > vy ? -1 : 1;
	if (x->row->id != y->row->id)
		return x->row->id < y->row->id ? -1 : 1;
	if (!x->proc || !y->proc)
		return 0;
	return x->proc->tgid < y->proc->tgid ? -1 : x->proc->tgid > y->proc->tgid;
}

/* Lines of CUR: a cache each, or (-P) a process in a cache each, sorted. */
static size_t build_lines(const struct kmem_env *env, const struct kmem_sample *cur,
			  const struct kmem_sample *prev, double secs, struct kmem_line **out)
{
	size_t nr = 0, cap = 0;
	struct kmem_line *lines = NULL;

	bool filtered = env->o.pid || env->o.comm || env->o.cgroup;

	for (size_t i = 0; i < cur->nr; i++) {
		const struct kmem_cache_row *r = &cur->rows[i];
		size_t n = env->per_process ? r->nr_procs : 1;

		/* Filtered, a cache only others allocate from is not news. */
		if (filtered && !r->u.allocs)
			continue;
		for (size_t j = 0; j < n; j++) {
			struct kmem_line *l;

			if (array_grow((void **)&lines, nr, &cap, sizeof(*lines)))
				break;
			l = &lines[nr++];
			l->row = r;
			l->proc = env->per_process ? &r->procs[j] : NULL;
			line_totals(l, filtered);
			line_rates(l, prev, secs, filtered);
			l->cut = usage_cut(l->proc ? &l->proc->u : &r->u, cur);
		}
	}
	current_sort = env->sort;
	/* None when every traced process exited with nothing outstanding: lines is NULL. */
	if (nr)
		qsort(lines, nr, sizeof(*lines), line_cmp);
	*out = lines;
	return nr;
}

static void print_header_text(const struct kmem_env *env, const struct kmem_sample *s,
			      double secs, double bpf_ms_per_s)
{
	char when[16];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("memlens kmem  %s UTC  every %.1fs  sorted by %s  tracked objects %" PRIu64
	       " of %" PRIu32 "  cost %.2f ms/s  lost %" PRIu64 "\n", when, secs,
	       sort_names[env->sort], s->tracked, s->max_objects, bpf_ms_per_s, kmem_lost(s));
	if (env->per_process)
		printf("%7s %-15s ", "PID", "COMM");
	printf("%-24s %10s %10s %11s %10s", "CACHE", "ALLOCS/s", "FREES/s", "OUTSTANDING",
	       "OUT BYTES");
	if (!env->per_process)
		printf("  %s", "TOP PROCESS (outstanding)");
	putchar('\n');
}

/* A row's counts, or its top process's, marked '*' where a full map may have cut them. */
static void print_line_text(const struct kmem_env *env, const struct kmem_line *l,
			    const struct kmem_sample *s, struct comm_cache *comms)
{
	char bytes[16], mark = l->cut ? '*' : ' ';
	const struct kmem_proc *top = l->row->nr_procs ? &l->row->procs[0] : NULL;

	if (l->proc)
		printf("%7u %-15s ", l->proc->tgid, comm_of(comms, l->proc));
	human_bytes(l->outstanding_bytes < 0 ? -l->outstanding_bytes : l->outstanding_bytes,
		    bytes, sizeof(bytes));
	printf("%-24s %10.0f %10.0f ", l->row->name, l->allocs_per_s, l->frees_per_s);
	if (l->known)
		printf("%11" PRId64 "%c%s%9s", l->outstanding, mark,
		       l->outstanding_bytes < 0 ? "-" : " ", bytes);
	else
		printf("%11s%c%10s", "-", mark, "-");
	if (!env->per_process && top && !is_pages(l->row->id))
		printf("  %u %s (%" PRId64 "%s)", top->tgid, comm_of(comms, top),
		       kmem_outstanding(&top->u), usage_cut(&top->u, s) ? "*" : "");
	else if (!env->per_process && top)
		printf("  %u %s (%" PRIu64 " allocated)", top->tgid, comm_of(comms, top),
		       top->u.allocs);
	putchar('\n');
}

static void print_proc_json(const struct kmem_proc *p, bool pages, const struct kmem_sample *s,
			    struct comm_cache *comms)
{
	printf("{\"pid\":%u,\"comm\":", p->tgid);
	json_print_string(stdout, comm_of(comms, p));
	printf(",\"cut\":%s,\"untracked_allocs\":%" PRIu64, usage_cut(&p->u, s) ? "true" : "false",
	       p->u.untracked);
	printf(",\"allocs\":%" PRIu64 ",\"alloc_bytes\":%" PRIu64, p->u.allocs, p->u.alloc_bytes);
	if (pages) {
		fputs(",\"frees\":null,\"outstanding\":null,\"outstanding_bytes\":null}", stdout);
		return;
	}
	printf(",\"frees\":%" PRIu64 ",\"outstanding\":%" PRId64 ",\"outstanding_bytes\":%" PRId64
	       "}", p->u.frees, kmem_outstanding(&p->u), kmem_outstanding_bytes(&p->u));
}

/*
 * A cache's object, or with -P a process's part of it ("type":"process",
 * with its pid, its own counters and no processes list).
 */
static void print_line_json(const struct kmem_line *l, const struct kmem_sample *s,
			    const char *when, double secs, struct comm_cache *comms)
{
	const struct kmem_cache_row *r = l->row;
	const struct kmem_usage *u = l->proc ? &l->proc->u : &r->u;
	bool pages = is_pages(r->id);
	size_t n = r->nr_procs < PROCS_PER_CACHE ? r->nr_procs : PROCS_PER_CACHE;

	printf("{\"type\":\"%s\",\"time\":\"%s\",\"interval_s\":%.3f,",
	       l->proc ? "process" : "cache", when, secs);
	if (l->proc) {
		printf("\"pid\":%u,\"comm\":", l->proc->tgid);
		json_print_string(stdout, comm_of(comms, l->proc));
		putchar(',');
	}
	fputs("\"name\":", stdout);
	json_print_string(stdout, r->name);
	printf(",\"cut\":%s", l->cut ? "true" : "false");
	printf(",\"class\":\"%s\",\"allocs\":%" PRIu64 ",\"frees\":%" PRIu64
	       ",\"untracked_allocs\":%" PRIu64 ",\"allocs_per_s\":%.1f,\"frees_per_s\":%.1f,",
	       kmem_class_name(KMEM_ID_CLASS(r->id)), u->allocs, u->frees, u->untracked,
	       l->allocs_per_s, l->frees_per_s);
	if (!l->proc)
		printf("\"untracked_frees\":%" PRIu64 ",", r->untracked_frees);
	if (l->known)
		printf("\"outstanding\":%" PRId64 ",\"outstanding_bytes\":%" PRId64,
		       l->outstanding, l->outstanding_bytes);
	else
		fputs("\"outstanding\":null,\"outstanding_bytes\":null", stdout);
	if (l->proc) {
		fputs("}\n", stdout);
		return;
	}
	fputs(",\"processes\":[", stdout);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putchar(',');
		print_proc_json(&r->procs[i], pages, s, comms);
	}
	fputs("]}\n", stdout);
}

/* Under a table with a '*': which map was full, and what that cut. */
static void print_cut_note(const struct kmem_sample *s)
{
	if (s->stats[KSTAT_OBJECTS_FULL])
		printf("* the objects map (%" PRIu32 " entries, %" PRIu32 " objects with the table's "
		       "%" PRIu32 " slots) was full: %" PRIu64 " allocations counted but not "
		       "tracked, and not in OUTSTANDING (raise --max-objects)\n",
		       s->max_objects - s->slots, s->max_objects, s->slots,
		       s->stats[KSTAT_OBJECTS_FULL]);
	if (s->stats[KSTAT_USAGE_FULL])
		printf("* the usage map was full: %" PRIu64 " allocations or frees not counted, in any row\n",
		       s->stats[KSTAT_USAGE_FULL]);
}

static void print_interval(const struct kmem_env *env, const struct kmem_sample *cur,
			   const struct kmem_sample *prev, double secs, struct comm_cache *comms,
			   const char *missing)
{
	double bpf_ms_per_s = (cur->run_time_ns - prev->run_time_ns) / 1e6 / secs;
	struct kmem_line *lines;
	size_t nr = build_lines(env, cur, prev, secs, &lines);
	size_t shown = env->rows && env->rows < nr ? env->rows : nr;
	char when[32];
	time_t t = time(NULL);
	struct tm tm;
	bool cut = false;

	if (!env->o.json) {
		print_header_text(env, cur, secs, bpf_ms_per_s);
		for (size_t i = 0; i < shown; i++) {
			print_line_text(env, &lines[i], cur, comms);
			cut |= lines[i].cut;
		}
		if (cut)
			print_cut_note(cur);
		putchar('\n');
		free(lines);
		output_check(stdout, "stdout");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("{\"type\":\"kmem\",\"time\":\"%s\",\"interval_s\":%.3f,\"caches\":%zu,"
	       "\"tracked_objects\":%" PRIu64 ",\"max_objects\":%" PRIu32 ",\"bpf_ms_per_s\":%.3f,"
	       "\"not_traced\":", when, secs, cur->nr, cur->tracked, cur->max_objects, bpf_ms_per_s);
	json_print_string(stdout, missing);
	printf(",\"lost\":{\"objects_map_full\":%" PRIu64 ",\"usage_map_full\":%" PRIu64
	       ",\"caches_map_full\":%" PRIu64 ",\"stack_failed\":%" PRIu64
	       ",\"recursion_misses\":%" PRIu64 "},\"untracked_frees\":%" PRIu64
	       ",\"replaced\":%" PRIu64 "}\n", cur->stats[KSTAT_OBJECTS_FULL],
	       cur->stats[KSTAT_USAGE_FULL], cur->stats[KSTAT_CACHES_FULL],
	       cur->stats[KSTAT_STACK_FAILED], cur->recursion_misses,
	       cur->stats[KSTAT_FREES_UNTRACKED], cur->stats[KSTAT_REPLACED]);
	for (size_t i = 0; i < shown; i++)
		print_line_json(&lines[i], cur, when, secs, comms);
	free(lines);
	output_check(stdout, "stdout");
}

/* --- --cache: outstanding objects by kernel stack --------------------- */

/* What a full map cut from the --cache report: the cache's row, read now. */
struct stack_cut {
	bool cut;
	uint64_t untracked;		/* its allocations not tracked: not in the report */
};

static void print_stack_groups(const struct kmem_env *env, const struct kmem_stack_group *g,
			       size_t nr, const struct ksyms *ks, const struct stack_cut *c)
{
	char sym[256], bytes[16];
	uint64_t now = monotonic_ns();

	if (env->o.json) {
		fputs("{\"type\":\"stacks\",\"cache\":", stdout);
		json_print_string(stdout, env->ko.cache);
		printf(",\"cut\":%s,\"untracked_allocs\":%" PRIu64 ",\"groups\":[",
		       c->cut ? "true" : "false", c->untracked);
	} else {
		printf("%s: outstanding objects by kernel stack%s\n", env->ko.cache,
		       nr ? "" : ": none seen");
		if (c->cut)
			printf("* a full map cut this report: %" PRIu64 " allocations of %s not "
			       "tracked, not in it (raise --max-objects)\n", c->untracked,
			       env->ko.cache);
	}
	for (size_t i = 0; i < nr && (!env->rows || i < env->rows); i++) {
		double age = now > g[i].oldest_ts_ns ? (now - g[i].oldest_ts_ns) / 1e9 : 0;

		if (env->o.json)
			printf("%s{\"count\":%" PRIu64 ",\"bytes\":%" PRIu64
			       ",\"oldest_age_s\":%.3f,\"frames\":[", i ? "," : "", g[i].count,
			       g[i].bytes, age);
		else
			printf("  %" PRIu64 " objects, %s, oldest %.1fs%s\n", g[i].count,
			       human_bytes(g[i].bytes, bytes, sizeof(bytes)), age,
			       g[i].stack_id < 0 ? ", stack lost" : "");
		for (size_t f = 0; f < g[i].nr_ips; f++) {
			ksyms_format(ks, g[i].ips[f], sym, sizeof(sym));
			if (env->o.json) {
				if (f)
					putchar(',');
				json_print_string(stdout, sym);
			} else {
				printf("    #%-2zu %s\n", f, sym);
			}
		}
		if (env->o.json)
			fputs("]}", stdout);
	}
	if (env->o.json)
		fputs("]}\n", stdout);
	output_check(stdout, "stdout");
}

/* The groups as a flame graph: the cache at the root, then callers down to the allocator. */
static int flame_stack_groups(const struct kmem_env *env, const struct kmem_stack_group *g,
			      size_t nr, const struct ksyms *ks)
{
	char labels[KMEM_STACK_DEPTH][128], title[128];
	const char *frames[KMEM_STACK_DEPTH + 2];
	struct flame_set set = {};
	int err = 0;

	for (size_t i = 0; i < nr && !err; i++) {
		size_t n = 0;

		frames[n++] = env->ko.cache;
		/* ips[0] is the innermost frame: the root goes first. */
		for (size_t f = g[i].nr_ips; f-- > 0; n++) {
			const char *name = ksyms_name(ks, g[i].ips[f]);

			if (name)
				snprintf(labels[f], sizeof(labels[f]), "%s", name);
			else
				snprintf(labels[f], sizeof(labels[f]), "0x%llx",
					 (unsigned long long)g[i].ips[f]);
			frames[n] = labels[f];
		}
		if (!g[i].nr_ips)
			frames[n++] = "[stack lost]";
		err = flame_set_add(&set, frames, n, g[i].bytes);
	}
	if (!err && env->folded)
		flame_set_print_folded(stdout, &set);
	if (!err && env->svg) {
		snprintf(title, sizeof(title), "Outstanding %s objects by kernel stack", env->ko.cache);
		err = flame_set_write_svg(&set, env->svg, title, "bytes");
		if (err)
			output_lost(env->svg, err);
	}
	flame_set_free(&set);
	return err;
}

struct kmem_profile {
	const struct kmem_env *env;
	const struct pprof_sample *samples;
	size_t nr;
};

static int emit_profile(FILE *f, void *ctx)
{
	const struct kmem_profile *p = ctx;
	char comment[128];

	snprintf(comment, sizeof(comment), "memlens kmem: outstanding %s objects by kernel stack",
		 p->env->ko.cache);
	return pprof_write_heap(f, p->samples, p->nr, realtime_ns(), comment);
}

/* The groups as a heap profile: kernel functions, leaf (the allocator) first. */
static int write_stack_profile(const struct kmem_env *env, const struct kmem_stack_group *g,
			       size_t nr, const struct ksyms *ks)
{
	struct pprof_sample *samples = calloc(nr + 1, sizeof(*samples));
	struct pprof_frame *frames = calloc(nr * KMEM_STACK_DEPTH + 1, sizeof(*frames));
	struct kmem_profile p = { env, samples, nr };
	int err = -ENOMEM;

	if (samples && frames) {
		for (size_t i = 0; i < nr; i++) {
			struct pprof_frame *f = &frames[i * KMEM_STACK_DEPTH];

			for (size_t j = 0; j < g[i].nr_ips; j++)
				f[j] = (struct pprof_frame){ .function = ksyms_name(ks, g[i].ips[j]),
							     .addr = g[i].ips[j] };
			samples[i] = (struct pprof_sample){ .frames = f, .nr = g[i].nr_ips,
							    .objects = g[i].count, .bytes = g[i].bytes };
		}
		err = write_file_atomic(env->pprof, emit_profile, &p);
	}
	if (err)
		output_lost(env->pprof, err);
	free(samples);
	free(frames);
	return err;
}

/* Whether a full map cut the row of cache ID, as it is now. */
static int stack_cut_of(struct kmemview *v, uint64_t id, struct stack_cut *c)
{
	const struct kmem_cache_row *row;
	struct kmem_sample s;
	int err = kmemview_sample(v, &s);

	if (err)
		return err;
	row = id ? kmem_sample_find(&s, id) : NULL;
	c->cut = row && usage_cut(&row->u, &s);
	c->untracked = row ? row->u.untracked : 0;
	kmem_sample_free(&s);
	return 0;
}

/*
 * memlens' own frames at the top of each stack of G (the program and the
 * tracepoint's glue): the stack begins at the allocator, as the kernel's
 * own code called it, and does not change with memlens' build.
 */
static void cut_tracing_frames(struct kmem_stack_group *g, size_t nr, const struct ksyms *ks)
{
	for (size_t i = 0; i < nr; i++) {
		size_t n = 0;

		while (n < g[i].nr_ips && ksyms_tracing_frame(ksyms_name(ks, g[i].ips[n])))
			n++;
		/* All of them: keep what there is rather than nothing. */
		if (!n || n == g[i].nr_ips)
			continue;
		memmove(g[i].ips, g[i].ips + n, (g[i].nr_ips - n) * sizeof(g[i].ips[0]));
		g[i].nr_ips -= n;
	}
}

static int print_stacks(const struct kmem_env *env, struct kmemview *v)
{
	struct kmem_stack_group *g;
	struct stack_cut cut;
	struct ksyms ks = {};
	uint64_t id;
	size_t nr;
	int err;

	err = kmemview_stacks(v, &g, &nr, &id);
	if (!err) {
		err = stack_cut_of(v, id, &cut);
		if (err)
			free(g);
	}
	if (err) {
		error_msg("kmem: cannot read the objects of %s", env->ko.cache);
		return err;
	}
	if (!id)
		info_msg("no cache named %s allocated while traced (merged caches go by the "
			 "name of the one they were merged into)", env->ko.cache);
	/* --folded, --svg, --pprof: the files have no room for the mark. */
	if (cut.cut && (env->folded || env->svg || env->pprof))
		info_msg("a full map cut the %s report: %" PRIu64 " allocations not tracked, not "
			 "in it (raise --max-objects)", env->ko.cache, cut.untracked);
	/* Without kallsyms, ksyms_format and ksyms_find fall back on addresses. */
	if (ksyms_load(&ks))
		info_msg("cannot read /proc/kallsyms: stacks as addresses");
	cut_tracing_frames(g, nr, &ks);
	if (!env->folded)
		print_stack_groups(env, g, nr, &ks, &cut);
	if (env->folded || env->svg)
		err = flame_stack_groups(env, g, nr, &ks);
	if (!err && env->pprof)
		err = write_stack_profile(env, g, nr, &ks);
	ksyms_free(&ks);
	free(g);
	return err;
}

/* --- The session ----------------------------------------------------- */

/*
 * Rows of exited processes looked at this often between samples, when
 * short (kmemview_upkeep(): once a second while none are found).
 */
#define UPKEEP_MS	250

/*
 * Until END_NS, or less: a signal, stdout's reader gone (< 0), or -p's
 * process gone (*GONE), which TARGET polls readable for (without a pidfd,
 * the pid is looked at every 100 ms). Then top ends too. The usage rows
 * are looked after meanwhile.
 */
static int wait_interval(const struct kmem_env *env, struct kmemview *v, int target,
			 uint64_t end_ns, bool *gone)
{
	for (;;) {
		uint64_t now = monotonic_ns();
		int ms, err;

		if (env->o.pid && pid_exited(target, env->o.pid)) {
			*gone = true;
			return 0;
		}
		if (now >= end_ns || stop_requested())
			return 0;
		ms = (end_ns - now + 999999) / 1000000;
		if (ms > UPKEEP_MS)
			ms = UPKEEP_MS;
		if (env->o.pid && target < 0 && ms > 100)
			ms = 100;
		err = output_wait(target, ms);
		if (err < 0)
			return err;
		/* What fails here would fail the next sample too: the session ends, said once. */
		err = kmemview_upkeep(v);
		if (err)
			return err;
	}
}

static int run(struct kmem_env *env, struct kmemview *v)
{
	struct kmem_sample prev = {}, cur;
	struct comm_cache comms = {};
	uint64_t prev_ns = monotonic_ns(), interval_ns = env->o.interval_s * 1e9;
	uint64_t next = prev_ns + interval_ns;
	int target = env->o.pid ? pid_watch(env->o.pid) : -1;
	unsigned long long reports = 0;
	int err = 0;

	while (!stop_requested()) {
		bool gone = false;
		uint64_t now;

		err = wait_interval(env, v, target, next, &gone);
		if (err < 0)
			break;
		now = monotonic_ns();
		err = kmemview_sample(v, &cur);
		if (err)
			break;
		/* --folded: stdout is the folded stacks alone, at the end. */
		if (!env->folded)
			print_interval(env, &cur, &prev, (now - prev_ns) / 1e9, &comms,
				       kmemview_missing(v));
		err = output_check(stdout, "stdout");
		kmem_sample_free(&prev);
		prev = cur;
		prev_ns = now;
		next += interval_ns;
		/* Late (a long sample, a slow stdout): no burst of short intervals. */
		if (next <= monotonic_ns())
			next = monotonic_ns() + interval_ns;
		if (gone)
			info_msg("pid %d exited", env->o.pid);
		if (err || gone || (env->o.count && ++reports >= env->o.count))
			break;
	}
	if (target >= 0)
		close(target);
	/* Read the objects once they hold still. */
	kmemview_detach(v);
	if (!err && env->ko.cache)
		err = print_stacks(env, v) ?: output_check(stdout, "stdout");
	kmem_sample_free(&prev);
	free(comms.e);
	return err;
}

/*
 * --cache NAME as the kernel knows it: a cache SLUB merged into another
 * allocates as that one, by its name (kmem_cache_merged_into), and so is
 * traced; a name the kernel has no cache of is an error. Said either way.
 */
static int resolve_cache(struct kmem_env *env)
{
	const char *name = env->ko.cache, *into = env->merged_into;
	int merged, err;

	if (!name || kmem_kmalloc_size(name))
		return 0;
	err = kmem_cache_merged_into(KMEM_SLAB_DIR, "/proc/slabinfo", name, env->merged_into,
				     sizeof(env->merged_into), &merged);
	if (err == -ENOENT) {
		error_msg("kmem: no slab cache named %s now (see /sys/kernel/slab; a module's "
			  "caches are there once it is loaded)", name);
		return err;
	}
	if (err == -ENODEV)
		return 0;	/* no SLUB in sysfs: the name as given, as the kernel may know it */
	if (err) {
		info_msg("cannot tell whether slab cache %s is merged into another: %s", name,
			 strerror(-err));
		return 0;
	}
	if (merged == 1)
		return 0;
	if (!strcmp(into, name)) {
		info_msg("%d other slab cache%s merged into %s: the report is of their objects too",
			 merged - 1, merged == 2 ? " is" : "s are", name);
		return 0;
	}
	/* Its objects are kmalloc's then, which --cache tells apart by size alone. */
	if (kmem_kmalloc_size(into)) {
		error_msg("kmem: %s is merged into %s, whose objects memlens tells by size only: "
			  "--cache %s for all of them", name, into, into);
		return -EINVAL;
	}
	info_msg("%s is one of %d slab caches merged into %s: the kernel allocates them as one, "
		 "and the report is of all their objects", name, merged, into);
	env->ko.cache = into;
	return 0;
}

int cmd_kmem(int argc, char **argv)
{
	struct kmem_env env = {
		.o.interval_s = 1, .rows = 20, .ko.pages = true,
	};
	struct kmemview *v;
	int err;

	if (cli_parse_view(argc, argv, &kmem_cmd, &env.o, &env))
		return EXIT_USAGE;
	if (env.folded && env.o.json) {
		error_msg("kmem: --folded and --json are two outputs: choose one");
		return EXIT_USAGE;
	}
	if (report_check_outputs("kmem", env.svg, env.pprof, NULL))
		return EXIT_USAGE;
	if ((env.folded || env.svg || env.pprof) && !env.ko.cache) {
		error_msg("kmem: --folded, --svg and --pprof are for the --cache stack report: name a cache");
		return EXIT_USAGE;
	}
	if ((env.svg && check_output_path(env.svg)) || (env.pprof && check_output_path(env.pprof)))
		return 1;
	if (check_privileges() || check_host_pids() || check_btf())
		return 1;
	if (env.o.pid && check_target_pid(&env.o.pid))
		return 1;
	if (env.o.cgroup && memcg_resolve(env.o.cgroup, &env.ko.memcg))
		return 1;
	if (resolve_cache(&env))
		return 1;
	env.ko.pid = env.o.pid;
	env.ko.comm = env.o.comm;
	setup_libbpf_logging();
	catch_stop_signals();
	ignore_sigpipe();
	err = kmemview_open(&env.ko, &v);
	if (err)
		return 1;
	info_msg("tracing kernel allocations of %s; Ctrl-C to stop",
		 env.o.pid ? "one process" : env.o.comm || env.o.cgroup ? "matching processes" :
		 "all processes");
	err = run(&env, v);
	if (err && !output_failed())
		error_msg("kmem: %s", strerror(-err));
	kmemview_close(v);
	return err || output_failed() ? 1 : 0;
}
