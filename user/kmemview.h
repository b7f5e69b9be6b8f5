/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The kmem session: loads bpf/kmem.bpf.c with the filters, attaches what
 * the kernel has, and reads the usage map into rows per cache and per
 * process, and the tracked objects of one cache by kernel stack.
 */
#ifndef MEMLENS_KMEMVIEW_H
#define MEMLENS_KMEMVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kmem.h"

struct kmem_opts {
	int pid;
	const char *comm;
	uint64_t memcg;
	const char *cache;		/* --cache: kernel stacks of this cache's objects */
	bool pages;			/* count page allocations */
	uint32_t max_objects;		/* 0: sized from the machine */
};

/* struct usage, in userspace's types. */
struct kmem_usage {
	uint64_t allocs;
	uint64_t alloc_bytes;
	uint64_t frees;
	uint64_t free_bytes;
	uint64_t untracked;		/* allocations the objects map had no room for */
	uint64_t untracked_bytes;
};

/* One process's part of a cache. */
struct kmem_proc {
	uint32_t tgid;
	char comm[16];		/* its name as the BPF side saw it allocate, "" if none */
	struct kmem_usage u;
};

/* One cache (a slab cache, a kmalloc size, a page order, vmalloc, percpu). */
struct kmem_cache_row {
	uint64_t id;
	char name[40];
	struct kmem_usage u;		/* summed over its processes, exited ones too */
	uint64_t untracked_frees;	/* objects allocated before memlens */
	uint64_t untracked_free_bytes;
	struct kmem_proc *procs;	/* sorted by outstanding bytes */
	size_t nr_procs;
};

/* The cache rows of one moment, sorted by id. */
struct kmem_sample {
	struct kmem_cache_row *rows;
	size_t nr;
	uint64_t stats[KSTAT_NR];
	uint64_t tracked;		/* objects in the map */
	uint32_t max_objects;		/* tracked at most: the table's slots and the map's entries */
	uint32_t slots;			/* the table's */
	uint64_t run_time_ns;		/* in the programs, for memlens' own cost */
	uint64_t recursion_misses;	/* program runs the kernel skipped */
};

/* Objects of the --cache cache that share a kernel stack. */
struct kmem_stack_group {
	int32_t stack_id;
	uint64_t count;
	uint64_t bytes;
	uint64_t oldest_ts_ns;
	uint64_t ips[KMEM_STACK_DEPTH];
	size_t nr_ips;
};

struct kmemview;
struct kmem_bpf;

/*
 * The size class of a --cache name of a kmalloc cache (kmalloc-N,
 * kmalloc-cg-N, kmalloc-rcl-N, dma-kmalloc-N; N in bytes, or as 1k): 0
 * for any other name.
 */
uint32_t kmem_kmalloc_size(const char *cache);

/* SLUB's sysfs: an entry per slab cache. */
#define KMEM_SLAB_DIR	"/sys/kernel/slab"

/*
 * SLUB merges caches of one object size and compatible flags into one
 * struct kmem_cache, named after the first of them: the tracepoints, and
 * so memlens, know that name alone. Each cache has an entry in SLAB_DIR
 * (/sys/kernel/slab): a directory of its own, or, for one that may merge,
 * a link to the directory of all those it merged with, of which SLABINFO
 * (/proc/slabinfo) lists the first.
 *
 * The name the objects of cache NAME go by, in INTO (LEN bytes), and in
 * *MERGED how many caches share it (1: NAME alone; a link left by a
 * merged cache destroyed since counts too). 0 if known; -ENOENT if
 * SLAB_DIR has no cache NAME; another negative errno if it cannot tell
 * (-ENODEV: no SLAB_DIR, as with SLAB before 6.8), INTO then NAME and
 * *MERGED as far as it was counted (1 if not).
 */
int kmem_cache_merged_into(const char *slab_dir, const char *slabinfo, const char *name,
			   char *into, size_t len, int *merged);

int kmemview_open(const struct kmem_opts *o, struct kmemview **out);
/* Stop tracing: the maps stay readable and hold still. */
void kmemview_detach(struct kmemview *v);
void kmemview_close(struct kmemview *v);
int kmemview_sample(struct kmemview *v, struct kmem_sample *s);
/*
 * Between samples, every few hundred milliseconds: when usage rows run
 * short (a burst of short-lived processes), those of exited processes are
 * made free without waiting for the next sample.
 */
int kmemview_upkeep(struct kmemview *v);
void kmem_sample_free(struct kmem_sample *s);
const struct kmem_cache_row *kmem_sample_find(const struct kmem_sample *s, uint64_t id);
/* Outstanding objects and bytes: allocated while traced, not freed yet. */
int64_t kmem_outstanding(const struct kmem_usage *u);
int64_t kmem_outstanding_bytes(const struct kmem_usage *u);
/*
 * Groups of the --cache objects by stack, most bytes first; after
 * kmemview_detach. CACHE_ID: that cache's row id, 0 if it was not seen.
 */
int kmemview_stacks(struct kmemview *v, struct kmem_stack_group **out, size_t *nr,
		    uint64_t *cache_id);
/* Tracepoints this kernel lacks, as one line; "" if none. */
const char *kmemview_missing(const struct kmemview *v);
const char *kmem_class_name(enum kmem_class c);
/* The default objects map size for IN_USE slab objects and MEM_TOTAL bytes of RAM. */
uint32_t kmem_objects_for(uint64_t in_use, uint64_t mem_total);
/* What went uncounted: full maps, failed stacks, skipped runs. */
uint64_t kmem_lost(const struct kmem_sample *s);
int kmem_rows_init(struct kmem_bpf *skel);

#endif
