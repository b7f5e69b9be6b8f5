// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The kmem session: load, attach, read usage by cache and process, stacks. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kmem.skel.h"
#include "bpf_util.h"
#include "kmemview.h"
#include "kplan.h"
#include "util.h"

/* One usage row as read: whose, and its counts. */
struct usage_entry {
	struct usage_key key;
	struct usage u;
};

/*
 * Is process TGID gone: asked once a pass for most processes, which have
 * rows in many caches, not once a row. Direct-mapped; KMEM_TGID_FREES,
 * never gone, marks an empty entry.
 */
#define GONE_MEMO_SIZE	4096

struct gone_memo {
	uint32_t tgid[GONE_MEMO_SIZE];
	bool gone[GONE_MEMO_SIZE];
};

struct kmemview {
	const struct kmem_opts *opts;
	struct kmem_bpf *skel;
	/*
	 * What exited processes had counted, by cache: their rows are
	 * retired and made free, so that a fork-heavy host does not fill the
	 * map, and their counts live on here.
	 */
	struct usage_entry *retired;
	size_t nr_retired, cap_retired;
	struct usage_row *rows;		/* the usage_rows array, mapped */
	uint32_t nr_rows;		/* its rows */
	uint64_t rows_listed;		/* listed free in free_rows, ever */
	uint64_t idle_until_ns;		/* no upkeep pass before: the last found none */
	/* Rows retired, not yet free: a program may still be adding to them. */
	struct quarantined {
		uint32_t row;
	} *quarantine;
	size_t nr_quarantine, cap_quarantine;
	struct gone_memo memo;		/* of the pass at hand */
	struct bpf_cost cost;		/* what the programs cost */
	uint32_t max_objects;		/* tracked at most: slots and map entries */
	uint32_t slots;			/* of the object table, 0: none (no BPF atomics) */
	char missing[512];
};

static const char *const class_names[KMEM_CLASS_NR] = {
	[KMEM_SLAB] = "slab",
	[KMEM_KMALLOC] = "kmalloc",
	[KMEM_PAGE] = "pages",
	[KMEM_VMALLOC] = "vmalloc",
	[KMEM_PERCPU] = "percpu",
};

const char *kmem_class_name(enum kmem_class c)
{
	return c < KMEM_CLASS_NR ? class_names[c] : "?";
}

/* The name of a cache id: "dentry", "kmalloc-64", "pages:order0", "vmalloc". */
static const char *kmem_cache_name(uint64_t id, const char *slab_name, char *buf, size_t len)
{
	unsigned long long low = KMEM_ID_LOW(id);

	switch (KMEM_ID_CLASS(id)) {
	case KMEM_SLAB:
		if (slab_name && *slab_name)
			snprintf(buf, len, "%s", slab_name);
		else
			snprintf(buf, len, "slab@%llx", (unsigned long long)id);
		break;
	case KMEM_KMALLOC:
		snprintf(buf, len, "kmalloc-%llu", low);
		break;
	case KMEM_PAGE:
		snprintf(buf, len, "pages:order%llu", low);
		break;
	default:
		snprintf(buf, len, "%s", kmem_class_name(KMEM_ID_CLASS(id)));
	}
	return buf;
}

int64_t kmem_outstanding(const struct kmem_usage *u)
{
	return (int64_t)(u->allocs - u->untracked - u->frees);
}

int64_t kmem_outstanding_bytes(const struct kmem_usage *u)
{
	return (int64_t)(u->alloc_bytes - u->untracked_bytes - u->free_bytes);
}

static void usage_sum(struct kmem_usage *sum, const struct kmem_usage *u)
{
	sum->allocs += u->allocs;
	sum->alloc_bytes += u->alloc_bytes;
	sum->frees += u->frees;
	sum->free_bytes += u->free_bytes;
	sum->untracked += u->untracked;
	sum->untracked_bytes += u->untracked_bytes;
}

/*
 * --cache kmalloc-N (or kmalloc-cg-N, -rcl-, dma-kmalloc-N: the kmalloc
 * tracepoint tells only the size class): its stacks are asked for by
 * size, the rest by name. N as the kernel names them, 1k for 1024 too.
 */
uint32_t kmem_kmalloc_size(const char *cache)
{
	static const char *const prefixes[] = {
		"kmalloc-cg-", "kmalloc-rcl-", "kmalloc-dma-", "dma-kmalloc-", "kmalloc-",
	};
	unsigned long long n;
	char *end;

	for (size_t i = 0; cache && i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t len = strlen(prefixes[i]);

		if (strncmp(cache, prefixes[i], len))
			continue;
		if (!isdigit((unsigned char)cache[len]))
			return 0;
		n = strtoull(cache + len, &end, 10);
		if (*end == 'k' && n <= UINT32_MAX / 1024) {
			n *= 1024;
			end++;
		}
		return *end || !n || n > UINT32_MAX ? 0 : n;
	}
	return 0;
}

/* The link SLAB_DIR/NAME, in BUF: -EINVAL for a directory, -ENOENT for none. */
static int slab_link(const char *slab_dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", slab_dir, name);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* How many entries of SLAB_DIR link to TARGET. */
static int slab_links_to(const char *slab_dir, const char *target)
{
	char link[PATH_MAX];
	struct dirent *de;
	DIR *dir = opendir(slab_dir);
	int n = 0;

	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		/* A cache of its own is a directory: no readlink of it. */
		if (de->d_name[0] == '.' || (de->d_type != DT_LNK && de->d_type != DT_UNKNOWN))
			continue;
		if (!slab_link(slab_dir, de->d_name, link, sizeof(link)) && !strcmp(link, target))
			n++;
	}
	closedir(dir);
	return n;
}

/* The cache SLABINFO lists of those linked to TARGET, in INTO; -ESRCH if none. */
static int slab_listed(const char *slabinfo, const char *slab_dir, const char *target,
		       char *into, size_t len)
{
	char line[512], name[256], link[PATH_MAX];
	FILE *f = fopen(slabinfo, "re");
	int err = -ESRCH;

	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s", name) != 1 || !strcmp(name, "slabinfo") || name[0] == '#')
			continue;
		if (slab_link(slab_dir, name, link, sizeof(link)) || strcmp(link, target))
			continue;
		err = snprintf(into, len, "%s", name) < (int)len ? 0 : -ENAMETOOLONG;
	}
	fclose(f);
	return err;
}

int kmem_cache_merged_into(const char *slab_dir, const char *slabinfo, const char *name,
			   char *into, size_t len, int *merged)
{
	char target[PATH_MAX];
	struct stat st;
	int err;

	snprintf(into, len, "%s", name);
	*merged = 1;
	err = slab_link(slab_dir, name, target, sizeof(target));
	if (err == -EINVAL)
		return 0;		/* a directory: a cache that does not merge */
	if (err == -ENOENT && stat(slab_dir, &st))
		return -ENODEV;		/* no SLUB in sysfs: cannot tell */
	if (err)
		return err;
	err = slab_links_to(slab_dir, target);
	if (err >= 0) {
		*merged = err;
		err = slab_listed(slabinfo, slab_dir, target, into, len);
	}
	if (!err)
		return 0;
	snprintf(into, len, "%s", name);
	/* NAME is a cache: what is missing now (slabinfo) only keeps from telling. */
	return err == -ENOENT ? -ENODEV : err;
}

uint32_t kmem_objects_for(uint64_t in_use, uint64_t mem_total)
{
	uint64_t cap = mem_total / KMEM_OBJECTS_MEM_SHARE / KMEM_OBJECT_BYTES;
	uint64_t n = 2 * in_use;

	if (cap > KMEM_MAX_OBJECTS_LIMIT)
		cap = KMEM_MAX_OBJECTS_LIMIT;
	if (n > cap)
		n = cap;
	return n < KMEM_MAX_OBJECTS ? KMEM_MAX_OBJECTS : n;
}

/* The first number in PATH, or 0. */
static uint64_t read_u64(const char *path)
{
	unsigned long long n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &n) != 1)
		n = 0;
	fclose(f);
	return n;
}

/* Objects in use in every slab cache, from SLUB's sysfs; 0 if not there. */
static uint64_t sysfs_slab_objects(void)
{
	DIR *d = opendir(KMEM_SLAB_DIR);
	struct dirent *de;
	char path[320];
	uint64_t sum = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		/* Merged caches are links to the cache they share: counted once. */
		if (de->d_name[0] == '.' || de->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), KMEM_SLAB_DIR "/%s/objects", de->d_name);
		sum += read_u64(path);
	}
	closedir(d);
	return sum;
}

/* A "Name:   N kB" line of /proc/meminfo, in bytes; 0 if not there. */
static uint64_t meminfo_bytes(const char *name)
{
	unsigned long long kb = 0;
	size_t len = strlen(name);
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ':' &&
		    sscanf(line + len + 1, "%llu", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/*
 * The objects map can need as many entries as objects are allocated while
 * traced and not freed yet, by every traced process: sized from the slab
 * objects in use now, which the host's own churn and a growth of the
 * session's size fit in twice over. Without SLUB's sysfs, the Slab of
 * /proc/meminfo at 256 bytes an object stands in.
 */
static uint32_t default_max_objects(void)
{
	uint64_t in_use = sysfs_slab_objects(), mem_total = meminfo_bytes("MemTotal");
	const char *source = KMEM_SLAB_DIR;
	uint32_t n;

	if (!in_use) {
		in_use = meminfo_bytes("Slab") / 256;
		source = "Slab in /proc/meminfo / 256";
	}
	n = kmem_objects_for(in_use, mem_total);
	debug_msg("kmem: %" PRIu32 " objects tracked at most: twice the %" PRIu64
		  " slab objects in use (%s), at least %u, at most 1/%u of MemTotal (%" PRIu64
		  " MiB) at %u bytes an entry or %u", n, in_use, source, KMEM_MAX_OBJECTS,
		  KMEM_OBJECTS_MEM_SHARE, mem_total >> 20, KMEM_OBJECT_BYTES, KMEM_MAX_OBJECTS_LIMIT);
	return n;
}

/* The kernel memory a map holds, as its fdinfo says; 0 if not known. */
static uint64_t map_memlock(int fd)
{
	unsigned long long bytes = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &bytes) == 1)
			break;
	fclose(f);
	return bytes;
}

/*
 * The object table in front of the objects map, which keeps room for all
 * MAX objects: a table slot holds one object, and two live objects whose
 * addresses share a slot cannot both be there, so the table is a cache,
 * never a share of MAX (the map cut by the table's size filled before
 * MAX objects: some 7% of them spilled past it at MAX live objects). Its
 * slots: the largest power of two up to half of MAX, at most
 * KMEM_SLOTS_DEFAULT (a bigger table holds more, but an allocation's
 * slot misses the CPU caches more often), at least 2. MEMLENS_KMEM_SLOTS
 * (a power of two from 2, fewer than MAX, at most KMEM_SLOTS_MAX) sets it:
 * the tests make it tiny to send most objects to the map. 0 where the kernel lacks BPF atomics: every object in the map.
 */
static int object_slots(uint32_t max, uint32_t *slots)
{
	const char *env = getenv("MEMLENS_KMEM_SLOTS");
	unsigned long long n;

	*slots = 0;
	if (strcmp(kplan_kmem_objects().way, "slots"))
		return 0;
	if (!env || !*env) {
		for (n = 1; n * 2 <= max / 2 && n * 2 <= KMEM_SLOTS_DEFAULT; n *= 2)
			;
		*slots = n >= 2 ? n : 0;
		return 0;
	}
	if (parse_uint(env, "MEMLENS_KMEM_SLOTS", KMEM_SLOTS_MAX, &n))
		return -EINVAL;
	if (n < 2 || (n & (n - 1)) || n >= max) {
		error_msg("invalid MEMLENS_KMEM_SLOTS '%s': a power of two from 2, fewer than the %" PRIu32
			  " objects tracked", env, max);
		return -EINVAL;
	}
	*slots = n;
	return 0;
}

/* The usage_rows array's mapping: whole pages. */
static size_t rows_size(const struct kmemview *v)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return (v->nr_rows * sizeof(struct usage_row) + page - 1) / page * page;
}

/*
 * How many usage rows: KMEM_MAX_USAGE, or MEMLENS_KMEM_ROWS (1 to that),
 * which the tests make small to have rows of exited processes used again.
 */
static int usage_rows(uint32_t *rows)
{
	const char *env = getenv("MEMLENS_KMEM_ROWS");
	unsigned long long n;

	*rows = KMEM_MAX_USAGE;
	if (!env || !*env)
		return 0;
	if (parse_uint(env, "MEMLENS_KMEM_ROWS", KMEM_MAX_USAGE, &n))
		return -EINVAL;
	if (!n) {
		error_msg("invalid MEMLENS_KMEM_ROWS '0': at least 1 row");
		return -EINVAL;
	}
	*rows = n;
	return 0;
}

/* Every usage row free: listed in free_rows, whence the programs make rows. */
int kmem_rows_init(struct kmem_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.free_rows);
	uint32_t n = bpf_map__max_entries(skel->maps.usage_rows);

	for (uint32_t row = 0; row < n; row++)
		if (bpf_map_update_elem(fd, NULL, &row, 0))
			return -errno;
	return 0;
}

/* Load with an objects map of MAX_OBJECTS entries, 0: the machine's default. */
static int load(struct kmemview *v, uint32_t max_objects)
{
	const struct kmem_opts *o = v->opts;
	struct kmem_bpf *skel;
	int err;

	skel = v->skel = kmem_bpf__open();
	if (!skel) {
		error_msg("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel_set_filters(skel, o->pid, o->comm, o->memcg);
	skel->rodata->stack_kmalloc_size = kmem_kmalloc_size(o->cache);
	if (o->cache && !skel->rodata->stack_kmalloc_size)
		strncpy((char *)skel->rodata->stack_cache_name, o->cache,
			sizeof(skel->rodata->stack_cache_name) - 1);
	v->max_objects = max_objects ? max_objects : default_max_objects();
	err = object_slots(v->max_objects, &v->slots);
	if (!err)
		err = usage_rows(&v->nr_rows);
	if (err)
		return err;
	bpf_map__set_max_entries(skel->maps.usage_rows, v->nr_rows);
	bpf_map__set_max_entries(skel->maps.usage_index, v->nr_rows);
	bpf_map__set_max_entries(skel->maps.free_rows, v->nr_rows);
	/* N objects at most, as --max-objects says: those the table has no slot for. */
	bpf_map__set_max_entries(skel->maps.objects, v->max_objects - v->slots);
	/* Without atomics the table stays unused: one slot, no branch reaches it. */
	bpf_map__set_max_entries(skel->maps.object_slots, v->slots ? v->slots : 1);
	skel->rodata->slot_mask = v->slots ? v->slots - 1 : 0;
	kplan_kmem_programs(skel, v->slots);
	/* Stacks only for --cache: the map is preallocated, keep it minimal. */
	if (!o->cache)
		bpf_map__set_max_entries(skel->maps.stacks, 1);
	if (!o->pages)
		bpf_program__set_autoload(skel->progs.page_alloc, false);
	/* Page frees are everyone's: shown only unfiltered, not hooked else. */
	if (!o->pages || o->pid || o->comm || o->memcg)
		bpf_program__set_autoload(skel->progs.page_free, false);
	err = skip_unusable_tracepoints(skel->obj, v->missing, sizeof(v->missing));
	if (err == -ENOENT)
		error_msg("none of the tracepoints that show kernel allocations can be traced on this "
			  "kernel");
	if (err)
		return err;
	skel->rodata->cost_on = true;
	err = skeleton_load(skel->skeleton);
	if (err) {
		skeleton_load_error(err);
		return err;
	}
	err = kmem_rows_init(skel);
	if (err) {
		error_msg("cannot set up the usage rows: %s", strerror(-err));
		return err;
	}
	v->rows_listed = v->nr_rows;
	v->rows = mmap(NULL, rows_size(v), PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(skel->maps.usage_rows), 0);
	if (v->rows == MAP_FAILED) {
		err = -errno;
		v->rows = NULL;
		error_msg("cannot map the usage rows: %s", strerror(-err));
		return err;
	}
	err = attach_skeleton(skel->skeleton);
	if (err)
		return err;
	bpf_cost_init(&v->cost, bpf_map__fd(skel->maps.costs));
	debug_msg("kmem: objects map: %" PRIu32 " entries, %" PRIu64 " KiB of kernel memory",
		  v->max_objects - v->slots, map_memlock(bpf_map__fd(skel->maps.objects)) >> 10);
	debug_msg("kmem: object table: %" PRIu32 " slots, %" PRIu64 " KiB of kernel memory%s",
		  v->slots, map_memlock(bpf_map__fd(skel->maps.object_slots)) >> 10,
		  v->slots ? "" : " (unused: every object in the map)");
	return 0;
}

int kmemview_open(const struct kmem_opts *o, struct kmemview **out)
{
	struct kmemview *v = calloc(1, sizeof(*v));
	int err;

	if (!v)
		return -ENOMEM;
	v->opts = o;
	err = load(v, o->max_objects);
	/*
	 * The machine's default may be more kernel memory than this memory
	 * cgroup (a unit's MemoryMax) allows: the old fixed size then, said.
	 */
	if ((err == -ENOMEM || err == -EPERM) && !o->max_objects &&
	    v->max_objects > KMEM_MAX_OBJECTS) {
		info_msg("kmem: no kernel memory for %" PRIu32 " tracked objects: %u instead "
			 "(--max-objects N sets it)", v->max_objects, KMEM_MAX_OBJECTS);
		if (v->rows)
			munmap(v->rows, rows_size(v));
		v->rows = NULL;
		kmem_bpf__destroy(v->skel);
		v->skel = NULL;
		err = load(v, KMEM_MAX_OBJECTS);
	}
	if (err) {
		kmemview_close(v);
		return err;
	}
	*out = v;
	return 0;
}

void kmemview_detach(struct kmemview *v)
{
	kmem_bpf__detach(v->skel);
}

void kmemview_close(struct kmemview *v)
{
	if (!v)
		return;
	if (v->rows)
		munmap(v->rows, rows_size(v));
	kmem_bpf__destroy(v->skel);
	free(v->retired);
	free(v->quarantine);
	free(v);
}

const char *kmemview_missing(const struct kmemview *v)
{
	return v->missing;
}

/* The id of the slab cache --cache names, once BPF has seen it; 0 before. */
static uint64_t stack_cache_id(struct kmemview *v)
{
	int fd = bpf_map__fd(v->skel->maps.caches);
	uint64_t key, next, *prev = NULL;
	struct cache_info info;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &info) && info.want_stacks)
			return key;
	}
	return 0;
}

static int by_outstanding_bytes(const void *a, const void *b)
{
	const struct kmem_proc *x = a, *y = b;
	int64_t ox = kmem_outstanding_bytes(&x->u), oy = kmem_outstanding_bytes(&y->u);

	if (ox != oy)
		return ox > oy ? -1 : 1;
	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

static int by_id(const void *a, const void *b)
{
	const struct kmem_cache_row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Names of the slab caches. */
static void name_rows(struct kmemview *v, struct kmem_sample *s)
{
	int fd = bpf_map__fd(v->skel->maps.caches);
	struct cache_info info;

	for (size_t i = 0; i < s->nr; i++) {
		struct kmem_cache_row *r = &s->rows[i];
		bool known = KMEM_ID_CLASS(r->id) == KMEM_SLAB &&
			     !bpf_map_lookup_elem(fd, &r->id, &info);

		if (known) {
			info.name[sizeof(info.name) - 1] = 0;
			sanitize_name(info.name);
		}
		kmem_cache_name(r->id, known ? info.name : NULL, r->name, sizeof(r->name));
	}
}

static int by_cache(const void *a, const void *b)
{
	const struct usage_entry *x = a, *y = b;

	if (x->key.cache != y->key.cache)
		return x->key.cache < y->key.cache ? -1 : 1;
	return x->key.tgid < y->key.tgid ? -1 : x->key.tgid > y->key.tgid;
}

/*
 * Has U, counted in CACHE, nothing outstanding: no tracked object keeps
 * its row. Pages are not tracked, and their frees go to KMEM_TGID_FREES,
 * so a process's page rows never balance: they go at its exit, else every
 * process that ever took a page would hold a row until the map is full.
 */
static bool balanced(uint64_t cache, const struct usage *u)
{
	return KMEM_ID_CLASS(cache) == KMEM_PAGE || u->allocs - u->untracked == u->frees;
}

/* Fold U, of an exited process, into the retired counts of CACHE. */
static int fold_retired(struct kmemview *v, uint64_t cache, const struct usage *u)
{
	struct usage_entry *r = NULL;

	for (size_t i = 0; i < v->nr_retired && !r; i++)
		if (v->retired[i].key.cache == cache)
			r = &v->retired[i];
	if (!r) {
		if (array_grow((void **)&v->retired, v->nr_retired, &v->cap_retired, sizeof(*r)))
			return -ENOMEM;
		r = &v->retired[v->nr_retired++];
		memset(r, 0, sizeof(*r));
		r->key.tgid = KMEM_TGID_EXITED;
		r->key.cache = cache;
	}
	r->u.allocs += u->allocs;
	r->u.alloc_bytes += u->alloc_bytes;
	r->u.frees += u->frees;
	r->u.free_bytes += u->free_bytes;
	r->u.untracked += u->untracked;
	r->u.untracked_bytes += u->untracked_bytes;
	return 0;
}

/*
 * Retire row ROW of KEY, an exited process's: out of the index, so that
 * no program finds it there, then RETIRED, so that no CPU's front leads
 * to it, and kept apart until no program that found it before can still
 * be counting in it. Of its next generation: the objects still out that
 * name it name the one before, and their frees count as the exited
 * processes' (the BPF side's usage_free()).
 */
static int retire(struct kmemview *v, uint32_t row, const struct usage_key *key)
{
	uint64_t word = __atomic_load_n(&v->rows[row].word, __ATOMIC_ACQUIRE);
	struct quarantined *q;

	if (array_grow((void **)&v->quarantine, v->nr_quarantine, &v->cap_quarantine,
		       sizeof(*q)))
		return -ENOMEM;
	if (bpf_map_delete_elem(bpf_map__fd(v->skel->maps.usage_index), key) && errno != ENOENT)
		return -errno;
	__atomic_store_n(&v->rows[row].word, ROW_WORD(ROW_RETIRED, ROW_GEN(word) + 1),
			 __ATOMIC_RELEASE);
	q = &v->quarantine[v->nr_quarantine++];
	q->row = row;
	return 0;
}

/*
 * Wait until every BPF program running now has returned: an update of a
 * map of maps from userspace returns only after an RCU grace period
 * (the kernel's maybe_wait_bpf_programs()), and the programs of raw
 * tracepoints run inside an RCU read-side section.
 */
static int wait_for_programs(struct kmemview *v)
{
	int inner = bpf_map__fd(v->skel->maps.grace_inner);
	uint32_t zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(v->skel->maps.grace), &zero, &inner, 0))
		return -errno;
	return 0;
}

/* Row R's key and counts, each counter read whole while programs add to it. */
static void read_row(const struct usage_row *r, struct usage_entry *e)
{
	const volatile struct usage *u = &r->u;

	e->key = (struct usage_key){ .tgid = r->tgid, .cache = r->cache };
	e->u.allocs = u->allocs;
	e->u.alloc_bytes = u->alloc_bytes;
	e->u.frees = u->frees;
	e->u.free_bytes = u->free_bytes;
	e->u.untracked = u->untracked;
	e->u.untracked_bytes = u->untracked_bytes;
	memcpy(e->u.comm, r->u.comm, sizeof(e->u.comm));
}

/*
 * The rows retired (by an earlier report, or by this upkeep pass), after
 * every program that could have found them before has returned: their
 * counts to the retired ones, the rows zeroed, their generation kept, and
 * listed free.
 */
static int release_quarantined(struct kmemview *v)
{
	int fd = bpf_map__fd(v->skel->maps.free_rows);
	size_t i;
	int err;

	if (!v->nr_quarantine)
		return 0;
	err = wait_for_programs(v);
	for (i = 0; i < v->nr_quarantine && !err; i++) {
		struct quarantined *q = &v->quarantine[i];
		struct usage_row *r = &v->rows[q->row];
		uint64_t word = __atomic_load_n(&r->word, __ATOMIC_ACQUIRE);

		err = fold_retired(v, r->cache, &r->u);
		if (err)
			break;
		/* All but the state word, which goes from RETIRED to FREE whole. */
		r->cache = 0;
		r->tgid = 0;
		memset(&r->u, 0, sizeof(r->u));
		__atomic_store_n(&r->word, ROW_WORD(ROW_FREE, ROW_GEN(word)), __ATOMIC_RELEASE);
		/* Zeroed and FREE: one not listed is tried again, its counts 0. */
		if (bpf_map_update_elem(fd, NULL, &q->row, 0)) {
			err = -errno;
			break;
		}
		v->rows_listed++;
	}
	memmove(v->quarantine, v->quarantine + i, (v->nr_quarantine - i) * sizeof(*v->quarantine));
	v->nr_quarantine -= i;
	return err;
}

/*
 * Are rows running short: fewer than half free? Then the rows of exited
 * processes go whether or not objects of theirs are still out (those of
 * maple_node, which the kernel frees in batches no tracepoint sees, are
 * out until their addresses are allocated again), and between reads too.
 */
static bool rows_short(const struct kmemview *v)
{
	uint64_t taken = __atomic_load_n(&v->skel->data_rows->rows_taken, __ATOMIC_RELAXED);

	return v->rows_listed - taken < v->nr_rows / 2;
}

static void gone_memo_clear(struct gone_memo *m)
{
	for (size_t i = 0; i < GONE_MEMO_SIZE; i++)
		m->tgid[i] = KMEM_TGID_FREES;
}

/*
 * Has process TGID exited (and been reaped)? Asked of the system once a
 * pass. The rows of frees of no one's and of exited processes are no
 * process's; KMEM_TGID_FREES also marks an empty entry.
 */
static bool gone_once(struct gone_memo *m, uint32_t tgid)
{
	size_t i = tgid % GONE_MEMO_SIZE;

	if (tgid == KMEM_TGID_FREES || tgid == KMEM_TGID_EXITED)
		return false;
	if (m->tgid[i] != tgid) {
		m->tgid[i] = tgid;
		m->gone[i] = pid_gone(tgid);
	}
	return m->gone[i];
}

/*
 * While rows are short: the rows of exited processes retired, then, after
 * a grace period, free, in one pass; those a report retired, too. A pass
 * that finds none to retire (the rows are the live processes') is not
 * tried again for UPKEEP_IDLE_NS: looking costs a kill() a process.
 */
#define UPKEEP_IDLE_NS	1000000000ULL

int kmemview_upkeep(struct kmemview *v)
{
	uint64_t now = monotonic_ns();
	int err = 0;

	if (!rows_short(v))
		return 0;
	if (now >= v->idle_until_ns) {
		size_t before = v->nr_quarantine;

		gone_memo_clear(&v->memo);
		for (uint32_t row = 0; row < v->nr_rows && !err; row++) {
			const struct usage_row *r = &v->rows[row];
			uint64_t word = __atomic_load_n(&r->word, __ATOMIC_ACQUIRE);
			struct usage_key key = { .tgid = r->tgid, .cache = r->cache };

			/* Short: a gone process's rows go, objects of theirs out or not. */
			if (ROW_STATE(word) == ROW_LIVE && gone_once(&v->memo, key.tgid))
				err = retire(v, row, &key);
		}
		v->idle_until_ns = v->nr_quarantine > before ? 0 : now + UPKEEP_IDLE_NS;
	}
	return err ?: release_quarantined(v);
}

static int read_usage(struct kmemview *v, struct usage_entry **out, size_t *nr_out)
{
	struct usage_entry *e = NULL;
	size_t nr = 0, cap = 0;
	bool is_short, gone;
	int err;

	err = release_quarantined(v);
	if (err)
		return err;
	is_short = rows_short(v);
	gone_memo_clear(&v->memo);
	for (uint32_t row = 0; row < v->nr_rows; row++) {
		const struct usage_row *r = &v->rows[row];
		uint32_t state = ROW_STATE(__atomic_load_n(&r->word, __ATOMIC_ACQUIRE));

		/* A new row shows once made: one made twice at once goes back free. */
		if (state == ROW_FREE || state == ROW_NEW)
			continue;
		if (array_grow((void **)&e, nr, &cap, sizeof(*e))) {
			free(e);
			return -ENOMEM;
		}
		/*
		 * Gone before its counts are read: what they say is then final.
		 * A gone process's row goes with nothing outstanding, or any
		 * while rows are short.
		 */
		gone = state == ROW_LIVE && gone_once(&v->memo, r->tgid);
		read_row(r, &e[nr]);
		if (gone && (is_short || balanced(e[nr].key.cache, &e[nr].u)) &&
		    !retire(v, row, &e[nr].key))
			state = ROW_RETIRED;
		/* Retired: its counts are the exited processes' of its cache. */
		if (state == ROW_RETIRED)
			e[nr].key.tgid = KMEM_TGID_EXITED;
		nr++;
	}
	for (size_t i = 0; i < v->nr_retired; i++) {
		if (array_grow((void **)&e, nr, &cap, sizeof(*e))) {
			free(e);
			return -ENOMEM;
		}
		e[nr++] = v->retired[i];
	}
	/* An empty map and nothing retired: e is NULL, which qsort may not get. */
	if (nr)
		qsort(e, nr, sizeof(*e), by_cache);
	*out = e;
	*nr_out = nr;
	return 0;
}

/*
 * The name of process TGID as the BPF side saw it: at its last exec if it
 * exec'd while traced, else that of its first allocation counted in U.
 */
static void proc_comm(int exec_comms, uint32_t tgid, const struct usage *u, char comm[16])
{
	struct kmem_comm c;

	if (!bpf_map_lookup_elem(exec_comms, &tgid, &c))
		memcpy(comm, c.comm, sizeof(c.comm));
	else
		memcpy(comm, u->comm, sizeof(u->comm));
	comm[15] = '\0';
}

/* Entries E[0..N) of one cache into row R: its processes and its totals. */
static int fill_row(struct kmem_cache_row *r, const struct usage_entry *e, size_t n,
		    int exec_comms)
{
	r->id = e[0].key.cache;
	r->procs = calloc(n, sizeof(*r->procs));
	if (!r->procs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct usage *u = &e[i].u;

		if (e[i].key.tgid == KMEM_TGID_FREES) {
			r->untracked_frees += u->frees;
			r->untracked_free_bytes += u->free_bytes;
			continue;
		}
		/* Retired this time or before: in the totals, in no process row. */
		if (e[i].key.tgid == KMEM_TGID_EXITED) {
			struct kmem_usage x = {
				u->allocs, u->alloc_bytes, u->frees, u->free_bytes,
				u->untracked, u->untracked_bytes,
			};

			usage_sum(&r->u, &x);
			continue;
		}
		r->procs[r->nr_procs].tgid = e[i].key.tgid;
		proc_comm(exec_comms, e[i].key.tgid, u, r->procs[r->nr_procs].comm);
		r->procs[r->nr_procs].u = (struct kmem_usage){
			u->allocs, u->alloc_bytes, u->frees, u->free_bytes,
			u->untracked, u->untracked_bytes,
		};
		usage_sum(&r->u, &r->procs[r->nr_procs++].u);
	}
	qsort(r->procs, r->nr_procs, sizeof(*r->procs), by_outstanding_bytes);
	return 0;
}

int kmemview_sample(struct kmemview *v, struct kmem_sample *s)
{
	struct usage_entry *e;
	size_t nr, groups = 0;
	int64_t gone;
	int err;

	memset(s, 0, sizeof(*s));
	s->max_objects = v->max_objects;
	s->slots = v->slots;
	err = read_usage(v, &e, &nr);
	if (err)
		return err;
	for (size_t i = 0; i < nr; i++)
		groups += !i || e[i].key.cache != e[i - 1].key.cache;
	s->rows = calloc(groups ? groups : 1, sizeof(*s->rows));
	if (!s->rows) {
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0, end; i < nr && !err; i = end) {
		for (end = i + 1; end < nr && e[end].key.cache == e[i].key.cache; end++)
			;
		err = fill_row(&s->rows[s->nr++], &e[i], end - i,
			       bpf_map__fd(v->skel->maps.exec_comms));
	}
	free(e);
	if (err) {
		kmem_sample_free(s);
		return err;
	}
	name_rows(v, s);
	percpu_array_sum(bpf_map__fd(v->skel->maps.kstats), KSTAT_NR, s->stats);
	/* Read one counter after another: a free can show without its allocation. */
	gone = (int64_t)s->stats[KSTAT_FREES] + s->stats[KSTAT_REPLACED] + s->stats[KSTAT_OBJECTS_FULL];
	s->tracked = (int64_t)s->stats[KSTAT_ALLOCS] > gone ? s->stats[KSTAT_ALLOCS] - gone : 0;
	s->run_time_ns = bpf_cost_ns(&v->cost);
	s->recursion_misses = prog_misses_sum(v->skel->obj);
	return 0;
}

void kmem_sample_free(struct kmem_sample *s)
{
	for (size_t i = 0; i < s->nr; i++)
		free(s->rows[i].procs);
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

const struct kmem_cache_row *kmem_sample_find(const struct kmem_sample *s, uint64_t id)
{
	struct kmem_cache_row key = { .id = id };

	/* The first sample's predecessor has no rows, and rows == NULL. */
	if (!s->nr)
		return NULL;
	return bsearch(&key, s->rows, s->nr, sizeof(key), by_id);
}

uint64_t kmem_lost(const struct kmem_sample *s)
{
	return s->stats[KSTAT_OBJECTS_FULL] + s->stats[KSTAT_USAGE_FULL] +
	       s->stats[KSTAT_CACHES_FULL] + s->stats[KSTAT_STACK_FAILED] + s->recursion_misses;
}

static int by_bytes(const void *a, const void *b)
{
	const struct kmem_stack_group *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->stack_id - y->stack_id;
}

static struct kmem_stack_group *group_of(struct kmem_stack_group **groups, size_t *nr,
					 size_t *cap, int32_t stack_id)
{
	for (size_t i = 0; i < *nr; i++)
		if ((*groups)[i].stack_id == stack_id)
			return &(*groups)[i];
	if (array_grow((void **)groups, *nr, cap, sizeof(**groups)))
		return NULL;
	memset(&(*groups)[*nr], 0, sizeof(**groups));
	(*groups)[*nr].stack_id = stack_id;
	return &(*groups)[(*nr)++];
}

/* OBJ counted in its stack's group: -ENOMEM if no group could be made. */
static int stack_group_add(struct kmem_stack_group **groups, size_t *nr, size_t *cap,
			   const struct object *obj)
{
	struct kmem_stack_group *g = group_of(groups, nr, cap, obj->stack_id < 0 ? -1 : obj->stack_id);

	if (!g)
		return -ENOMEM;
	g->count++;
	g->bytes += obj->size;	/* the --cache cache's: a slab cache, in bytes */
	if (!g->oldest_ts_ns || obj->ts_ns < g->oldest_ts_ns)
		g->oldest_ts_ns = obj->ts_ns;
	return 0;
}

int kmemview_stacks(struct kmemview *v, struct kmem_stack_group **out, size_t *nr_out,
		    uint64_t *cache_id)
{
	int fd = bpf_map__fd(v->skel->maps.objects);
	int stacks_fd = bpf_map__fd(v->skel->maps.stacks);
	uint32_t kmalloc_size = kmem_kmalloc_size(v->opts->cache);
	uint64_t want = kmalloc_size ? KMEM_ID(KMEM_KMALLOC, kmalloc_size) : stack_cache_id(v);
	struct object_key key, next, *prev = NULL;
	struct kmem_stack_group *groups = NULL, *g;
	size_t nr = 0, cap = 0;
	struct object obj;

	*cache_id = want;
	/* Objects that get a stack are in the map, never in the object table. */
	while (want && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &obj) || obj.cache != want)
			continue;
		if (stack_group_add(&groups, &nr, &cap, &obj)) {
			free(groups);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < nr; i++) {
		g = &groups[i];
		if (g->stack_id < 0 || bpf_map_lookup_elem(stacks_fd, &g->stack_id, g->ips))
			continue;
		while (g->nr_ips < KMEM_STACK_DEPTH && g->ips[g->nr_ips])
			g->nr_ips++;
	}
	/* Nothing outstanding: groups is NULL. */
	if (nr)
		qsort(groups, nr, sizeof(*groups), by_bytes);
	*out = groups;
	*nr_out = nr;
	return 0;
}
