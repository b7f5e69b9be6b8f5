// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kernel allocation tracer behind `memlens kmem`.
 *
 * Every allocation of the slab (kmem_cache_alloc, kmalloc), vmap areas
 * and percpu allocators is counted per allocating process and cache, and
 * tracked by address until its free, which is counted for the process
 * that allocated it, whichever task frees it. Page allocations are counted
 * per process and order, not tracked: page cache pages would fill any map.
 * For --cache, a kernel stack is kept with each object of that cache.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "kmem.h"
#include "common.bpf.h"
#include "cost.bpf.h"

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1 << PAGE_SHIFT)

/* --cache: kernel stacks for the objects of this slab cache, or kmalloc size. */
const volatile char stack_cache_name[KMEM_CACHE_NAME_LEN];
const volatile __u32 stack_kmalloc_size;
/*
 * The object table in front of the objects map: slot_mask + 1 slots, a
 * power of two; 0 without BPF atomics (5.12), and the branches that use
 * it are dead code the verifier never sees.
 */
const volatile __u32 slot_mask;
/*
 * Rows taken from free_rows, less those given back at once: userspace,
 * which lists them free, knows from it how many are left between reads.
 * In a section of its own: a row made does not take the line of the
 * globals every slab event reads (.bss) from the other CPUs.
 */
__u64 rows_taken SEC(".data.rows");

/* The usage rows (include/kmem.h), what finds them, and the free ones. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KMEM_MAX_USAGE);
	__type(key, __u32);
	__type(value, struct usage_row);
	/* Userspace reads the rows in place, and marks one retired with one store. */
	__uint(map_flags, BPF_F_MMAPABLE);
} usage_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KMEM_MAX_USAGE);
	__type(key, struct usage_key);
	__type(value, __u32);
} usage_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, KMEM_MAX_USAGE);
	__type(value, __u32);
} free_rows SEC(".maps");

/*
 * Updated by userspace to wait for the programs running then: an update
 * of a map of maps returns after an RCU grace period. Never read here.
 */
struct grace_inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} grace_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct grace_inner_map);
} grace SEC(".maps");

/*
 * Every map here is preallocated (no BPF_F_NO_PREALLOC): an element
 * allocated at run time comes from kmalloc, which this very tracer hooks
 * (the allocation would be charged to the task at hand, tracked, and need
 * another), and a burst of inserts finds the per-CPU element cache empty.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KMEM_MAX_OBJECTS);
	__type(key, struct object_key);
	__type(value, struct object);
} objects SEC(".maps");

/*
 * Pairs of slots picked by address (slot_pair_of()): array lookups the
 * verifier inlines, no hashing helper, no bucket lock, no element
 * freelist. Most slab objects live and die in a slot; the objects map
 * takes the rest.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);	/* set by userspace */
	__type(key, __u32);
	__type(value, struct object_slot);
	/* Page-aligned: two slots a cache line, none across two. */
	__uint(map_flags, BPF_F_MMAPABLE);
} object_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KMEM_MAX_CACHES);
	__type(key, __u64);
	__type(value, struct cache_info);
} caches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, KMEM_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, KMEM_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/*
 * Each traced process's name at its last exec: one that has exited by the
 * report is named after the program it ran, not after the shell it was
 * forked from, which the name its first allocations saw may be.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KMEM_MAX_EXEC_COMMS);
	__type(key, __u32);
	__type(value, struct kmem_comm);
} exec_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KSTAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} kstats SEC(".maps");

static __always_inline void stat_add(__u32 stat, __u64 n)
{
	__u64 *val = bpf_map_lookup_elem(&kstats, &stat);

	/* Atomic: an interrupt's program may run in the middle of this one. */
	if (val)
		__sync_fetch_and_add(val, n);
}

/*
 * The process an allocation is charged to: the current one, also for an
 * allocation made in interrupt context (that cannot be told here: x86's
 * preempt_count is a per-CPU variable kallsyms lists only with
 * KALLSYMS_ALL). False if it is not traced. The task only for a filter
 * that reads it: unfiltered, one helper call an event, not two.
 */
static __always_inline bool charged_tgid(__u32 *tgid)
{
	*tgid = current_tgid();
	return task_traced(*tgid, task_to_filter());
}

static __always_inline struct usage_row *row_at(__u32 idx)
{
	return bpf_map_lookup_elem(&usage_rows, &idx);
}

/*
 * Row IDX, if it is the row of TGID in CACHE, live or just made; *REF
 * names it, with the generation of the state read.
 */
static __always_inline struct usage_row *row_of(__u32 idx, __u32 tgid, __u64 cache,
						struct row_ref *ref)
{
	struct usage_row *r = row_at(idx);
	__u64 word;

	if (!r)
		return NULL;
	word = READ_ONCE_U64(r->word);
	if ((ROW_STATE(word) != ROW_LIVE && ROW_STATE(word) != ROW_NEW) ||
	    r->tgid != tgid || r->cache != cache)
		return NULL;
	ref->idx = idx;
	ref->gen = ROW_GEN(word);
	return r;
}

/*
 * A new row for KEY, from the free list, named in *REF; NULL, counted
 * under KSTAT_USAGE_FULL, when there is none. NEW while it goes into the
 * index: programs take it, userspace does not show or retire it yet (the
 * row made second of two at once goes back free). Its generation is the
 * one userspace left it with.
 */
static __always_inline struct usage_row *row_new(struct usage_key *key, struct row_ref *ref)
{
	struct usage_row *r;
	__u32 idx, gen, *won;

	if (bpf_map_pop_elem(&free_rows, &idx)) {
		stat_add(KSTAT_USAGE_FULL, 1);
		return NULL;
	}
	__sync_fetch_and_add(&rows_taken, 1);
	r = row_at(idx);
	if (!r)
		return NULL;
	gen = ROW_GEN(READ_ONCE_U64(r->word));
	r->tgid = key->tgid;
	r->cache = key->cache;
	bpf_get_current_comm(r->u.comm, sizeof(r->u.comm));
	barrier();
	WRITE_ONCE_U64(r->word, ROW_WORD(ROW_NEW, gen));
	if (!bpf_map_update_elem(&usage_index, key, &idx, BPF_NOEXIST)) {
		WRITE_ONCE_U64(r->word, ROW_WORD(ROW_LIVE, gen));
		ref->idx = idx;
		ref->gen = gen;
		return r;
	}
	/*
	 * Made first on another CPU (or the index is full): this one goes
	 * back. A push that fails (a lock not taken, from 6.15) loses the
	 * row to the free list, not a count.
	 */
	WRITE_ONCE_U64(r->word, ROW_WORD(ROW_FREE, gen));
	if (!bpf_map_push_elem(&free_rows, &idx, 0))
		__sync_fetch_and_add(&rows_taken, -1);
	won = bpf_map_lookup_elem(&usage_index, key);
	if (!won) {
		stat_add(KSTAT_USAGE_FULL, 1);
		return NULL;
	}
	return row_of(*won, key->tgid, key->cache, ref);
}

/*
 * Each CPU's rows used last, direct-mapped by key: a hint, which the row's
 * own key confirms. Plain writes: a program that interrupts one and reads
 * an entry half written finds a row whose key is not its own, and goes to
 * the index.
 */
#define USAGE_FRONT_BITS	8

struct usage_front {
	__u64 cache;
	__u32 tgid;
	__u32 row;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << USAGE_FRONT_BITS);
	__type(key, __u32);
	__type(value, struct usage_front);
} usage_fronts SEC(".maps");

/* The row of TGID in CACHE, made on first use, named in *REF (idx ROW_NONE: none). */
static __always_inline struct usage_row *usage_of(__u32 tgid, __u64 cache, struct row_ref *ref)
{
	struct usage_key key = { .tgid = tgid, .cache = cache };
	__u32 idx = (__u32)(((cache ^ tgid) * 0x9e3779b97f4a7c15ULL) >> (64 - USAGE_FRONT_BITS));
	struct usage_front *f = bpf_map_lookup_elem(&usage_fronts, &idx);
	struct usage_row *r;
	__u32 *found;

	ref->idx = ROW_NONE;
	if (f && f->tgid == tgid && f->cache == cache) {
		r = row_of(f->row, tgid, cache, ref);
		if (r)
			return r;
	}
	found = bpf_map_lookup_elem(&usage_index, &key);
	if (!found || !(r = row_of(*found, tgid, cache, ref)))
		r = row_new(&key, ref);
	if (!r) {
		ref->idx = ROW_NONE;
		return NULL;
	}
	if (f) {
		f->tgid = tgid;
		f->cache = cache;
		f->row = ref->idx;
	}
	return r;
}

static __always_inline void usage_alloc(struct usage_row *r, __u64 bytes, bool tracked)
{
	if (!r)
		return;
	__sync_fetch_and_add(&r->u.allocs, 1);
	__sync_fetch_and_add(&r->u.alloc_bytes, bytes);
	if (!tracked) {
		__sync_fetch_and_add(&r->u.untracked, 1);
		__sync_fetch_and_add(&r->u.untracked_bytes, bytes);
	}
}

static __always_inline void row_free(struct usage_row *r, __u64 bytes)
{
	if (!r)
		return;
	__sync_fetch_and_add(&r->u.frees, 1);
	__sync_fetch_and_add(&r->u.free_bytes, bytes);
}

/* A free counted by key: frees of untracked objects, and of pages. */
static __always_inline void usage_free_key(__u32 tgid, __u64 cache, __u64 bytes)
{
	struct row_ref ref;

	row_free(usage_of(tgid, cache, &ref), bytes);
}

/*
 * The free of an object whose row has moved on: under the exited
 * processes' key, in its CACHE. A global function, verified once in each
 * program that calls it rather than at each of their call sites.
 */
__noinline int exited_free(__u64 cache, __u64 bytes)
{
	usage_free_key(KMEM_TGID_EXITED, cache, bytes);
	return 0;
}

/*
 * A free of a tracked object of CACHE, counted in the row REF it kept (of
 * index IDX, generation GEN); if that row has moved on (its process
 * exited, and the row was made free while this object was out), as the
 * exited processes'. A row in its generation is not free: it is read a
 * last time after a grace period.
 */
static __always_inline void usage_free(__u32 idx, __u32 gen, __u64 cache, __u64 bytes)
{
	struct usage_row *r;

	if (idx == ROW_NONE)
		return;
	r = row_at(idx);
	if (r && ROW_GEN(READ_ONCE_U64(r->word)) == gen)
		row_free(r, bytes);
	else
		exited_free(cache, bytes);
}

/*
 * An object's size as struct object keeps it, in 32 bits: a vmap area's
 * in pages (always whole: alloc_vmap_area() takes no other size), any
 * other's in bytes (slab and percpu objects, kmallocs: far below 4 GiB).
 */
static __always_inline __u32 object_size(enum kmem_class space, __u64 bytes)
{
	return space == KMEM_VMALLOC ? bytes >> PAGE_SHIFT : bytes;
}

static __always_inline __u64 object_bytes(enum kmem_class space, __u32 size)
{
	return space == KMEM_VMALLOC ? (__u64)size << PAGE_SHIFT : size;
}

/*
 * The two slots of slab object ADDR: the table is a set of slot pairs,
 * each in one cache line (32-byte slots, a page-aligned array), and an
 * object takes the first free slot of its pair. A live object that holds
 * a slot for long (a dentry in the dcache) then sends only the objects
 * whose other slot is taken too to the map. The first slot counts the
 * pair's objects in the map (spilled). False without the table.
 */
struct slot_pair {
	struct object_slot *a, *b;
};

static __always_inline bool slot_pair_of(__u64 addr, struct slot_pair *p, bool touch)
{
	/* Fibonacci hashing of the address without its always-zero low bits. */
	__u32 idx = (__u32)(((addr >> 3) * 0x9e3779b97f4a7c15ULL) >> 32) & slot_mask & ~1u;
	__u32 idx_b = idx | 1;

	if (!slot_mask)
		return false;
	p->a = bpf_map_lookup_elem(&object_slots, &idx);
	p->b = bpf_map_lookup_elem(&object_slots, &idx_b);
	if (!p->a || !p->b)
		return false;
	/*
	 * The pair's line, asked for now: its cache miss, what a slab event
	 * costs (bench/README.md), then overlaps with the work up to the
	 * first locked instruction, which would wait for it. Volatile: the
	 * load stays.
	 */
	if (touch)
		(void)READ_ONCE_U64(p->a->addr);
	return true;
}

/*
 * An object in SLOT that is not live: its address is being allocated
 * again, so it was freed where no tracepoint looks (kfree_bulk,
 * kmem_cache_free_bulk: kfree_rcu's batches). Its free is counted now.
 */
static __always_inline void slot_replaced(struct object_slot *slot)
{
	stat_add(KSTAT_REPLACED, 1);
	usage_free(slot->row.idx, slot->row.gen, slot->cache, slot->bytes);
}

/*
 * SLOT emptied if it still holds KEY's address, which is being allocated:
 * a stale one. Only the allocation of a freed address can see it, so no
 * free races with the write.
 */
static __always_inline void slot_drop_stale(struct object_slot *slot, struct object_key *key)
{
	if (READ_ONCE_U64(slot->addr) != key->addr)
		return;
	slot_replaced(slot);
	__sync_val_compare_and_swap(&slot->addr, key->addr, 0);
}

/*
 * The slot of pair P that KEY's address takes: a free one, claimed with a
 * compare-and-swap, or the one that holds that very address, stale. NULL:
 * both hold other live objects.
 */
static __always_inline struct object_slot *slot_take(struct slot_pair *p, struct object_key *key)
{
	__u64 prev = __sync_val_compare_and_swap(&p->a->addr, 0, key->addr);

	if (prev == key->addr) {
		slot_replaced(p->a);
		return p->a;
	}
	if (!prev) {
		/* The address may be stale in the other slot. */
		slot_drop_stale(p->b, key);
		return p->a;
	}
	prev = __sync_val_compare_and_swap(&p->b->addr, 0, key->addr);
	if (prev == key->addr)
		slot_replaced(p->b);
	else if (prev)
		return NULL;
	return p->b;
}

/*
 * Track OBJ at KEY's address in pair P: true. False: both slots hold
 * other live objects, the objects map takes this one. The object is not
 * handed out before this program returns, so no free of it can race with
 * the fields' writes.
 */
static __always_inline bool slot_claim(struct slot_pair *p, struct object_key *key,
				       const struct object *obj)
{
	struct object_slot *slot = slot_take(p, key);
	struct object *old;

	if (!slot)
		return false;
	if (p->a->spilled && (old = bpf_map_lookup_elem(&objects, key))) {
		/* Spilled once, freed unseen, allocated again: one object. */
		stat_add(KSTAT_REPLACED, 1);
		usage_free(old->row.idx, old->row.gen, old->cache, old->size);
		if (!bpf_map_delete_elem(&objects, key))
			__sync_fetch_and_add(&p->a->spilled, -1);
	}
	slot->row = obj->row;
	slot->bytes = obj->size;
	slot->cache = obj->cache;
	return true;
}

/*
 * An allocation of BYTES at ADDR in CACHE: counted, and tracked until its
 * free. An address still tracked was freed where no tracepoint looks
 * (kfree_bulk, kmem_cache_free_bulk: kfree_rcu's batches): its free is
 * counted now.
 */
static __always_inline void track(void *ctx, enum kmem_class space, __u64 addr, __u64 cache, __u64 bytes,
		  bool want_stack, struct slot_pair *slots)
{
	struct object_key key = { .addr = addr, .class = space };
	struct object obj = { .cache = cache, .size = object_size(space, bytes), .stack_id = -1 };
	struct object *old;
	struct usage_row *u;
	__u32 tgid;
	long err;

	if (!addr || !charged_tgid(&tgid))
		return;
	/* Age and stack only for --cache, its one reader: a clock read saved per event. */
	if (want_stack) {
		obj.ts_ns = bpf_ktime_get_ns();
		obj.stack_id = bpf_get_stackid(ctx, &stacks, 0);
		if (obj.stack_id < 0)
			stat_add(KSTAT_STACK_FAILED, 1);
	}
	/* Before the claim's compare-and-swap, while the slot's line comes in. */
	u = usage_of(tgid, cache, &obj.row);
	stat_add(KSTAT_ALLOCS, 1);
	/* An object with a stack needs its age and stack: the map's entry has them. */
	if (slots && want_stack) {
		slot_drop_stale(slots->a, &key);
		slot_drop_stale(slots->b, &key);
	} else if (slots && slot_claim(slots, &key, &obj)) {
		usage_alloc(u, bytes, true);
		return;
	}
	/* One hash operation in the common case: the address is new. */
	err = bpf_map_update_elem(&objects, &key, &obj, BPF_NOEXIST);
	if (err == -EEXIST) {
		old = bpf_map_lookup_elem(&objects, &key);
		if (old) {
			stat_add(KSTAT_REPLACED, 1);
			usage_free(old->row.idx, old->row.gen, old->cache,
				   object_bytes(space, old->size));
		}
		err = bpf_map_update_elem(&objects, &key, &obj, BPF_ANY);
	} else if (!err && slots) {
		__sync_fetch_and_add(&slots->a->spilled, 1);
	}
	if (err)
		stat_add(KSTAT_OBJECTS_FULL, 1);
	/* Counted after the insert: an object not tracked is not outstanding. */
	usage_alloc(u, bytes, !err);
}

/*
 * A free: counted for the process that allocated the object, true. One not
 * tracked (allocated before memlens, or by a process not traced) is
 * counted by the caller, which knows its cache or not: false.
 */
static __always_inline bool untrack(enum kmem_class space, __u64 addr, struct slot_pair *slots)
{
	struct object_key key = { .addr = addr, .class = space };
	struct object_slot *slot = NULL;
	struct object *obj;

	if (slots && slots->a->addr == addr)
		slot = slots->a;
	else if (slots && slots->b->addr == addr)
		slot = slots->b;
	if (slot) {
		stat_add(KSTAT_FREES, 1);
		usage_free(slot->row.idx, slot->row.gen, slot->cache, slot->bytes);
		/* Only the freer of a live address writes it; atomic: after the reads. */
		__sync_val_compare_and_swap(&slot->addr, addr, 0);
		return true;
	}
	/* Nothing of this pair in the map: not tracked, no hash lookup. */
	obj = slots && !slots->a->spilled ? NULL : bpf_map_lookup_elem(&objects, &key);
	if (!obj) {
		stat_add(KSTAT_FREES_UNTRACKED, 1);
		return false;
	}
	stat_add(KSTAT_FREES, 1);
	usage_free(obj->row.idx, obj->row.gen, obj->cache, object_bytes(space, obj->size));
	if (!bpf_map_delete_elem(&objects, &key) && slots)
		__sync_fetch_and_add(&slots->a->spilled, -1);
	return true;
}

static bool is_stack_cache(const char *name)
{
	if (!stack_cache_name[0])
		return false;
	for (int i = 0; i < KMEM_CACHE_NAME_LEN; i++) {
		if (name[i] != stack_cache_name[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

/* Frees of a struct kmem_cache seen; the cache they come from, once named. */
__u64 caches_epoch;
__u64 caches_cache;


static __always_inline bool is_cache_of_caches(const char *name)
{
	static const char want[] = "kmem_cache";

	for (int i = 0; i < sizeof(want); i++)
		if (name[i] != want[i])
			return false;
	return true;
}

/*
 * The slab cache at S, registered on first sight: its name for userspace,
 * and whether its objects get a stack (--cache). A struct kmem_cache is a
 * slab object too: one destroyed and made again at the same address has
 * another name string, and is registered anew.
 */
static struct cache_info *cache_of(struct kmem_cache *s)
{
	__u64 id = (__u64)s, name_ptr = (__u64)BPF_CORE_READ(s, name);
	struct cache_info *info = bpf_map_lookup_elem(&caches, &id), fresh = {};

	if (info && info->name_ptr == name_ptr)
		return info;
	bpf_probe_read_kernel_str(fresh.name, sizeof(fresh.name), (const void *)name_ptr);
	fresh.name_ptr = name_ptr;
	fresh.size = BPF_CORE_READ(s, size);
	fresh.want_stacks = is_stack_cache(fresh.name);
	/* Named even where the map is full: the cache front depends on it. */
	if (is_cache_of_caches(fresh.name))
		caches_cache = id;
	if (bpf_map_update_elem(&caches, &id, &fresh, info ? BPF_EXIST : BPF_NOEXIST) == -EEXIST)
		return bpf_map_lookup_elem(&caches, &id);
	info = bpf_map_lookup_elem(&caches, &id);
	if (!info)
		stat_add(KSTAT_CACHES_FULL, 1);
	return info;
}

/*
 * A per-CPU direct-mapped cache of the caches map: an event of a cache
 * seen before on this CPU takes its size and --cache flag from here, with
 * no hash lookup and no read of s->name. The caches map checks s->name
 * because a struct kmem_cache freed and made again at the same address is
 * another cache; here, a free of a struct kmem_cache (a kmem_cache_free
 * from the cache of caches, which kmem sees anyway) bumps caches_epoch,
 * and an entry of an older epoch is not used. The programs of one CPU can
 * nest (an interrupt's allocation), so an entry is written under a
 * sequence count: odd while written, and a reader that sees it odd or
 * changed goes to the map.
 */
#define CACHE_FRONT_BITS	6

struct cache_front {
	__u64 seq;
	__u64 id;
	__u64 epoch;
	__u32 size;
	__u32 want_stacks;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1 << CACHE_FRONT_BITS);
	__type(key, __u32);
	__type(value, struct cache_front);
} cache_fronts SEC(".maps");

/* Cache S's object size and whether its objects get a stack. */
static __always_inline void cache_get(struct kmem_cache *s, __u32 *size, bool *want_stacks)
{
	__u64 id = (__u64)s, epoch = READ_ONCE_U64(caches_epoch), seq;
	__u32 idx = (__u32)((id * 0x9e3779b97f4a7c15ULL) >> (64 - CACHE_FRONT_BITS));
	struct cache_front *f = bpf_map_lookup_elem(&cache_fronts, &idx);
	struct cache_info *info;

	if (!f)
		goto slow;
	seq = READ_ONCE_U64(f->seq);
	barrier();
	if (!(seq & 1) && f->id == id && f->epoch == epoch) {
		*size = f->size;
		*want_stacks = f->want_stacks;
		barrier();
		if (READ_ONCE_U64(f->seq) == seq)
			return;
	}
slow:
	info = cache_of(s);
	if (!info) {
		*size = BPF_CORE_READ(s, size);
		*want_stacks = false;
		return;
	}
	*size = info->size;
	*want_stacks = info->want_stacks;
	/* Not over a write this program interrupted: that one finishes it. */
	if (!f || (READ_ONCE_U64(f->seq) & 1))
		return;
	__sync_fetch_and_add(&f->seq, 1);
	barrier();
	f->id = id;
	f->epoch = epoch;
	f->size = *size;
	f->want_stacks = *want_stacks;
	barrier();
	__sync_fetch_and_add(&f->seq, 1);
}

/* Slab object PTR's slot pair in *P, its line asked for: P, or NULL without the table. */
static __always_inline struct slot_pair *slots_of(const void *ptr, bool table, struct slot_pair *p)
{
	return table && ptr && slot_pair_of((__u64)ptr, p, true) ? p : NULL;
}

/*
 * The same for an allocation, whose line is asked for early only if every
 * allocation is traced: with a filter, most are not, and would pay the
 * miss for nothing (a free looks at its pair whoever frees).
 */
static __always_inline struct slot_pair *alloc_slots_of(const void *ptr, bool table,
							 struct slot_pair *p)
{
	bool unfiltered = !targ_tgid && !filter_comm && !targ_memcg;

	return table && ptr && slot_pair_of((__u64)ptr, p, unfiltered) ? p : NULL;
}

static __always_inline int cache_alloc(void *ctx, const void *ptr, struct kmem_cache *s,
				       struct slot_pair *slots)
{
	bool want_stacks;
	__u32 size;

	if (!ptr || !s)
		return 0;
	cache_get(s, &size, &want_stacks);
	track(ctx, KMEM_SLAB, (__u64)ptr, (__u64)s, size, want_stacks, slots);
	return 0;
}

static __always_inline int cache_free(const void *ptr, struct kmem_cache *s, struct slot_pair *slots)
{
	bool want_stacks, of_caches;
	__u32 size;

	if (!ptr || !s)
		return 0;
	/* A struct kmem_cache freed: what the front knows of that address is stale. */
	of_caches = (__u64)s == READ_ONCE_U64(caches_cache);
	if (of_caches)
		__sync_fetch_and_add(&caches_epoch, 1);
	if (untrack(KMEM_SLAB, (__u64)ptr, slots))
		return 0;
	/*
	 * Not tracked: counted under KMEM_TGID_FREES for its cache, named
	 * even if it frees only what was allocated before memlens. A tracked
	 * object's cache was named at its allocation.
	 */
	cache_get(s, &size, &want_stacks);
	/* Named just now: the cache of caches, first seen freeing a cache? */
	if (!of_caches && (__u64)s == READ_ONCE_U64(caches_cache))
		__sync_fetch_and_add(&caches_epoch, 1);
	usage_free_key(KMEM_TGID_FREES, (__u64)s, size);
	return 0;
}

/*
 * The slab programs come twice: with the object table, and *_hash without
 * it for kernels without BPF atomics (5.12), whose verifier refuses a
 * compare-and-swap anywhere in a program, reachable or not. The loader
 * loads one set (kplan_kmem_programs()).
 */
SEC("raw_tp/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	struct slot_pair pair, *slots = alloc_slots_of(ptr, true, &pair);

	cost_begin();
	cache_alloc(ctx, ptr, s, slots);
	return cost_end();
}

SEC("raw_tp/kmem_cache_free")
int BPF_PROG(kmem_cache_free, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	struct slot_pair pair, *slots = slots_of(ptr, true, &pair);

	cost_begin();
	cache_free(ptr, s, slots);
	return cost_end();
}

SEC("raw_tp/kmalloc")
int BPF_PROG(kmalloc, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc)
{
	struct slot_pair pair, *slots = alloc_slots_of(ptr, true, &pair);

	cost_begin();
	track(ctx, KMEM_SLAB, (__u64)ptr, KMEM_ID(KMEM_KMALLOC, bytes_alloc), bytes_alloc,
	      stack_kmalloc_size && bytes_alloc == stack_kmalloc_size, slots);
	return cost_end();
}

/* kfree frees any slab object, kmem_cache_alloc'd ones too. */
SEC("raw_tp/kfree")
int BPF_PROG(kfree, unsigned long call_site, const void *ptr)
{
	struct slot_pair pair, *slots = slots_of(ptr, true, &pair);

	cost_begin();
	if (ptr)
		untrack(KMEM_SLAB, (__u64)ptr, slots);
	return cost_end();
}

/* The same without the object table. */
SEC("raw_tp/kmem_cache_alloc")
int BPF_PROG(kmem_cache_alloc_hash, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	struct slot_pair pair, *slots = alloc_slots_of(ptr, false, &pair);

	cost_begin();
	cache_alloc(ctx, ptr, s, slots);
	return cost_end();
}

SEC("raw_tp/kmem_cache_free")
int BPF_PROG(kmem_cache_free_hash, unsigned long call_site, const void *ptr, struct kmem_cache *s)
{
	struct slot_pair pair, *slots = slots_of(ptr, false, &pair);

	cost_begin();
	cache_free(ptr, s, slots);
	return cost_end();
}

SEC("raw_tp/kmalloc")
int BPF_PROG(kmalloc_hash, unsigned long call_site, const void *ptr, size_t bytes_req,
	     size_t bytes_alloc)
{
	struct slot_pair pair, *slots = alloc_slots_of(ptr, false, &pair);

	cost_begin();
	track(ctx, KMEM_SLAB, (__u64)ptr, KMEM_ID(KMEM_KMALLOC, bytes_alloc), bytes_alloc,
	      stack_kmalloc_size && bytes_alloc == stack_kmalloc_size, slots);
	return cost_end();
}

SEC("raw_tp/kfree")
int BPF_PROG(kfree_hash, unsigned long call_site, const void *ptr)
{
	struct slot_pair pair, *slots = slots_of(ptr, false, &pair);

	cost_begin();
	if (ptr)
		untrack(KMEM_SLAB, (__u64)ptr, slots);
	return cost_end();
}

/* Pages: counted by process and order; frees by order. Not tracked. */
SEC("raw_tp/mm_page_alloc")
int BPF_PROG(page_alloc, struct page *page, unsigned int order)
{
	__u64 cache = KMEM_ID(KMEM_PAGE, order & 31);
	struct row_ref ref;
	__u32 tgid;

	cost_begin();
	if (page && charged_tgid(&tgid))
		usage_alloc(usage_of(tgid, cache, &ref), (__u64)PAGE_SIZE << (order & 31), true);
	return cost_end();
}

/* Every page freed, once: batched frees fire this too, per page or folio. */
SEC("raw_tp/mm_page_free")
int BPF_PROG(page_free, struct page *page, unsigned int order)
{
	__u64 cache = KMEM_ID(KMEM_PAGE, order & 31);

	cost_begin();
	/* Whoever allocated them: frees of pages go to the order's row. */
	usage_free_key(KMEM_TGID_FREES, cache, (__u64)PAGE_SIZE << (order & 31));
	return cost_end();
}

SEC("raw_tp/alloc_vmap_area")
int BPF_PROG(alloc_vmap_area, unsigned long addr, unsigned long size, unsigned long align,
	     unsigned long vstart, unsigned long vend, int failed)
{
	cost_begin();
	if (!failed)
		track(ctx, KMEM_VMALLOC, addr, KMEM_ID(KMEM_VMALLOC, 0), size, false, NULL);
	return cost_end();
}

SEC("raw_tp/free_vmap_area_noflush")
int BPF_PROG(free_vmap_area_noflush, unsigned long va_start)
{
	cost_begin();
	if (va_start)
		untrack(KMEM_VMALLOC, va_start, NULL);
	return cost_end();
}

SEC("raw_tp/percpu_alloc_percpu")
int BPF_PROG(percpu_alloc_percpu, unsigned long call_site, bool reserved, bool is_atomic,
	     size_t size, size_t align, void *base_addr, int off, void *ptr, size_t bytes_alloc)
{
	cost_begin();
	track(ctx, KMEM_PERCPU, (__u64)ptr, KMEM_ID(KMEM_PERCPU, 0), bytes_alloc, false, NULL);
	return cost_end();
}

SEC("raw_tp/percpu_free_percpu")
int BPF_PROG(percpu_free_percpu, void *base_addr, int off, void *ptr)
{
	cost_begin();
	if (ptr)
		untrack(KMEM_PERCPU, (__u64)ptr, NULL);
	return cost_end();
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct kmem_comm c;
	__u32 tgid;

	cost_begin();
	if (charged_tgid(&tgid)) {
		bpf_get_current_comm(c.comm, sizeof(c.comm));
		bpf_map_update_elem(&exec_comms, &tgid, &c, BPF_ANY);
	}
	return cost_end();
}

/*
 * A new process may have the pid of one that exec'd and is gone: its name
 * at that exec is not this one's.
 */
SEC("raw_tp/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);

	cost_begin();
	if (pid == tgid)
		bpf_map_delete_elem(&exec_comms, &tgid);
	return cost_end();
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
