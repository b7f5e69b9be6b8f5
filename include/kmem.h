/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Shared between bpf/kmem.bpf.c and userspace: the kernel allocations
 * memlens kmem counts, by allocating process and by cache.
 */
#ifndef MEMLENS_KMEM_H
#define MEMLENS_KMEM_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define KMEM_MAX_USAGE		(64 * 1024)
/*
 * The objects map, preallocated: by default twice the slab objects in use
 * at start (kmemview.c), at least KMEM_MAX_OBJECTS, and at most what
 * 1/KMEM_OBJECTS_MEM_SHARE of RAM holds at KMEM_OBJECT_BYTES an entry
 * (a 96-byte element and its share of the buckets), or the limit.
 */
#define KMEM_MAX_OBJECTS	(128 * 1024)	/* ~12 MiB */
#define KMEM_MAX_OBJECTS_LIMIT	(4 * 1024 * 1024)	/* ~400 MiB: no more by a typo */
#define KMEM_OBJECT_BYTES	128
#define KMEM_OBJECTS_MEM_SHARE	128
#define KMEM_MAX_STACKS		4096		/* only with --cache: ~2 MiB */
#define KMEM_STACK_DEPTH	64
#define KMEM_MAX_CACHES		4096
/* Names of processes at their last exec (exec_comms), the least recent out first. */
#define KMEM_MAX_EXEC_COMMS	16384

struct kmem_comm {
	char comm[16];
};
#define KMEM_CACHE_NAME_LEN	32

/*
 * What a "cache" is: a slab cache by its struct kmem_cache address, or one
 * of the classes below, in the top byte of an id a kernel address (0xff..)
 * never has.
 */
enum kmem_class {
	KMEM_SLAB,		/* kmem_cache_alloc: the id is the cache's address */
	KMEM_KMALLOC,		/* kmalloc: low bits, the size class */
	KMEM_PAGE,		/* page allocator: low bits, the order */
	KMEM_VMALLOC,		/* vmap areas: vmalloc, vmap, ioremap */
	KMEM_PERCPU,		/* percpu allocations */
	KMEM_CLASS_NR,
};

#define KMEM_CLASS_SHIFT	56
#define KMEM_ID(class, low)	(((__u64)(class) << KMEM_CLASS_SHIFT) | (__u64)(low))
#define KMEM_ID_CLASS(id)	((id) >> KMEM_CLASS_SHIFT == 0xff ? KMEM_SLAB : \
				 (enum kmem_class)((id) >> KMEM_CLASS_SHIFT))
#define KMEM_ID_LOW(id)		((id) & ((1ULL << KMEM_CLASS_SHIFT) - 1))

/* Frees of objects not tracked (allocated before memlens), and of pages. */
#define KMEM_TGID_FREES		0xfffffffeu
/*
 * Exited processes whose rows were made free while objects of theirs were
 * still out (a row holds the counts of one process in one cache, and
 * there are KMEM_MAX_USAGE of them): those objects' frees, by cache.
 */
#define KMEM_TGID_EXITED	0xfffffffdu

struct usage_key {
	__u32 tgid;		/* the allocating process, or KMEM_TGID_FREES */
	__u32 pad;
	__u64 cache;		/* a KMEM_ID, or a slab cache's address */
};

/*
 * Counters of one process in one cache; frees are those of its own
 * objects. Allocations the objects map had no room for are counted, and
 * counted again as untracked: their frees will not be seen as theirs.
 */
struct usage {
	__u64 allocs;
	__u64 alloc_bytes;
	__u64 frees;
	__u64 free_bytes;
	__u64 untracked;
	__u64 untracked_bytes;
	/*
	 * The allocating task's name when the row was made, at its first
	 * event: a process that has exited by the report (a cron job, a
	 * shell's child) is still named.
	 */
	char comm[16];
};

/*
 * A row of the usage_rows array: one process's counters in one cache.
 * An event finds its row with array lookups only: the slot or map entry
 * of a tracked object keeps its row's number, and each CPU remembers the
 * rows it used last (usage_fronts), checked against the row's own key.
 * The usage_index hash finds the others; free_rows lists the rows to
 * make new ones from. Userspace retires the rows of exited processes:
 * those with nothing outstanding, and when rows run short the others too.
 * A row retired goes out of the index and becomes RETIRED of its next
 * generation; once every program running before has returned (an RCU
 * grace period: at the next report, or in the same upkeep pass when rows
 * run short), it is read a last time, zeroed and listed free. An object keeps the generation of its row (struct
 * row_ref): the free of one whose row has moved on counts under
 * KMEM_TGID_EXITED.
 */
enum usage_row_state {
	ROW_FREE,
	ROW_LIVE,
	ROW_RETIRED,
	ROW_NEW,		/* being made: in the index, or about to go back free */
};

#define ROW_NONE	0xffffffffu	/* no row: the usage map was full */

/* A usage row as an object names it: its index and its generation then. */
struct row_ref {
	__u32 idx;		/* or ROW_NONE */
	__u32 gen;
};

/*
 * A row's state and generation, in one word: read and written whole, so
 * that a row is never seen in a state of another generation.
 */
#define ROW_WORD(state, gen)	((__u64)(gen) << 32 | (state))
#define ROW_STATE(word)		((__u32)(word))
#define ROW_GEN(word)		((__u32)((word) >> 32))

struct usage_row {
	__u64 word;		/* ROW_WORD(enum usage_row_state, generation) */
	__u64 cache;
	__u32 tgid;
	__u32 pad;
	struct usage u;
};

struct object_key {
	__u64 addr;		/* object, struct page, vmap area or percpu pointer */
	__u32 class;		/* enum kmem_class: the address spaces differ */
	__u32 pad;
};

/* An object allocated while traced, not freed yet. */
struct object {
	__u64 cache;
	__u64 ts_ns;
	struct row_ref row;	/* its usage row: whose process */
	__u32 size;		/* bytes; a vmap area's in pages (PAGE_SIZE) */
	__s32 stack_id;		/* in the stacks map; negative: none */
};

/*
 * A slot of the object table in front of the objects map (slab objects
 * only): ADDR 0 is a free slot. Slots come in pairs, one cache line each;
 * an object takes the first free slot of its pair. The allocation that
 * claims a slot with a compare-and-swap owns it until the free of that
 * address; an object whose two slots others hold goes to the objects map,
 * and the pair's first slot counts those in SPILLED, so that a free that
 * finds its address in neither slot and no spilled object knows without a
 * hash lookup that it is not tracked. 32 bytes, no age or stack: what an
 * allocation costs is its pair's cache miss, and the table's size sets
 * how often it misses (bench/README.md). Objects that get a stack
 * (--cache) go to the objects map.
 */
struct object_slot {
	__u64 addr;		/* first: compared and swapped */
	__u64 cache;		/* for a free after its row has moved on */
	struct row_ref row;	/* its usage row */
	__u32 bytes;
	__u32 spilled;		/* first of a pair: its objects in the objects map */
};

/* The BPF side and userspace agree on these by their sizes. */
_Static_assert(sizeof(struct object) == 32, "struct object: 32 bytes");
_Static_assert(sizeof(struct object_slot) == 32, "struct object_slot: a pair to a cache line");
_Static_assert(sizeof(struct usage_row) == 88, "struct usage_row: 88 bytes");

/*
 * Of the objects tracked at most (--max-objects), the largest power of two
 * up to half go to the table, by default at most KMEM_SLOTS_DEFAULT: 8 MiB,
 * where twice as much made an allocation 40% dearer
 * (bench/README.md). MEMLENS_KMEM_SLOTS can go up to KMEM_SLOTS_MAX.
 */
#define KMEM_SLOTS_DEFAULT	(256 * 1024)	/* 32 bytes a slot: 8 MiB */
#define KMEM_SLOTS_MAX		(1024 * 1024)	/* 32 MiB */

/* A slab cache seen allocating: its name, and whether to take stacks. */
struct cache_info {
	char name[KMEM_CACHE_NAME_LEN];
	__u64 name_ptr;		/* s->name when registered: a reused address differs */
	__u32 size;		/* bytes per object, with metadata */
	__u32 want_stacks;	/* its name is --cache's */
};

enum kmem_stat {
	KSTAT_ALLOCS,
	KSTAT_FREES,		/* frees of objects allocated while traced */
	KSTAT_FREES_UNTRACKED,	/* frees of objects allocated before, or not tracked */
	KSTAT_OBJECTS_FULL,	/* objects map full: allocation counted, not tracked */
	KSTAT_USAGE_FULL,	/* usage map full: an allocation or free not counted */
	KSTAT_CACHES_FULL,	/* cache names map full: a cache shows by address */
	KSTAT_STACK_FAILED,	/* no stack (map full, collision): object kept */
	KSTAT_REPLACED,		/* an address allocated twice without a free seen */
	KSTAT_NR,
};

#endif /* MEMLENS_KMEM_H */
