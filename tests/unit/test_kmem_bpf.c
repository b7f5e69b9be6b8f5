// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The kmem programs run with BPF_PROG_TEST_RUN on synthetic tracepoint
 * arguments, in this process: kmalloc and kfree, an address allocated
 * again without a free seen, vmap areas, percpu, pages, untracked frees,
 * and a full objects map; the programs' own cost counters. Fake
 * addresses: the programs only use them as keys. Needs root (loads BPF),
 * as make check does. Also the session's pure parts: the default size of
 * the objects map, an empty sample, the estimate of the programs' cost.
 */
#include <errno.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kmem.skel.h"
#include "kmem.h"
#include "kmemview.h"
#include "bpf_util.h"
#include "unit.h"

static struct kmem_bpf *load(uint32_t max_objects)
{
	struct kmem_bpf *skel = kmem_bpf__open();

	if (!skel)
		return NULL;
	if (max_objects)
		bpf_map__set_max_entries(skel->maps.objects, max_objects);
	if (kmem_bpf__load(skel) || kmem_rows_init(skel)) {
		kmem_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

static struct usage usage_of(struct kmem_bpf *skel, uint32_t tgid, uint64_t cache)
{
	struct usage_key key = { .tgid = tgid, .cache = cache };
	struct usage_row r = {};
	uint32_t row;

	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.usage_index), &key, &row))
		bpf_map_lookup_elem(bpf_map__fd(skel->maps.usage_rows), &row, &r);
	return r.u;
}

static uint64_t kstat(struct kmem_bpf *skel, enum kmem_stat stat)
{
	uint32_t key = stat;
	uint64_t sum;

	if (percpu_lookup_sum(bpf_map__fd(skel->maps.kstats), &key, &sum))
		return UINT64_MAX;
	return sum;
}

#define OBJ_A	0xffff888012340000ULL
#define OBJ_B	0xffff888012340040ULL
#define OBJ_C	0xffff888012340080ULL
#define OBJ_D	0xffff8880123400c0ULL

/* This thread on the CPU it runs on, its affinity before in *ALL: per-CPU state stays one CPU's. */
static void pin_to_this_cpu(cpu_set_t *all)
{
	cpu_set_t one;

	CHECK(sched_getaffinity(0, sizeof(*all), all) == 0);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	CHECK(sched_setaffinity(0, sizeof(one), &one) == 0);
}

/* kmalloc/kfree: counted for this process, by size class; a reuse settles the old one. */
static void test_kmalloc(struct kmem_bpf *skel)
{
	uint64_t a[6] = { 0x1, OBJ_A, 50, 64, 0xcc0, 0 }, b[6] = { 0x1, OBJ_B, 60, 64, 0xcc0, 0 };
	uint64_t free_a[2] = { 0x1, OBJ_A }, unknown[2] = { 0x1, 0xffff888099990000ULL };
	uint64_t k64 = KMEM_ID(KMEM_KMALLOC, 64);
	uint32_t tgid = getpid();
	struct usage u;

	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, b, 6) == 0);
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	u = usage_of(skel, tgid, k64);
	CHECK_U64(u.allocs, 2);
	CHECK_U64(u.alloc_bytes, 128);
	CHECK_U64(u.frees, 1);
	CHECK_U64(u.free_bytes, 64);
	CHECK_U64(u.untracked, 0);
	/* B allocated again, its free never seen (kfree_bulk): settled then. */
	CHECK(unit_fire(skel->progs.kmalloc, b, 6) == 0);
	u = usage_of(skel, tgid, k64);
	CHECK_U64(u.allocs, 3);
	CHECK_U64(u.frees, 2);
	CHECK_U64(kstat(skel, KSTAT_REPLACED), 1);
	/* A free of what was never seen allocated: untracked, no cache to name. */
	CHECK(unit_fire(skel->progs.kfree, unknown, 2) == 0);
	CHECK_U64(kstat(skel, KSTAT_FREES_UNTRACKED), 1);
	CHECK_U64(kstat(skel, KSTAT_FREES), 1);
	/* NULL is no allocation. */
	a[1] = 0;
	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK_U64(usage_of(skel, tgid, k64).allocs, 3);
}

/* vmap areas and percpu: each in its own address space, freed by address. */
static void test_vmalloc_percpu(struct kmem_bpf *skel)
{
	uint64_t va[6] = { 0xffffc90000100000ULL, 3 * 4096, 4096, 0, 0, 0 };
	uint64_t va_failed[6] = { 0xffffc90000200000ULL, 4096, 4096, 0, 0, 1 };
	uint64_t va_free[3] = { 0xffffc90000100000ULL, 0, 0 };
	uint64_t va_huge[6] = { 0xffffc90100000000ULL, 5ULL << 30, 4096, 0, 0, 0 };
	uint64_t va_huge_free[3] = { 0xffffc90100000000ULL, 0, 0 };
	uint64_t pcpu[10] = { 0x1, 0, 0, 8, 8, 0, 0, 0x2a000, 16, 0xcc0 };
	uint64_t pcpu_free[3] = { 0, 0, 0x2a000 };
	uint64_t vm = KMEM_ID(KMEM_VMALLOC, 0), pc = KMEM_ID(KMEM_PERCPU, 0);
	uint32_t tgid = getpid();

	CHECK(unit_fire(skel->progs.alloc_vmap_area, va, 6) == 0);
	CHECK(unit_fire(skel->progs.alloc_vmap_area, va_failed, 6) == 0);
	CHECK_U64(usage_of(skel, tgid, vm).allocs, 1);
	CHECK_U64(usage_of(skel, tgid, vm).alloc_bytes, 3 * 4096);
	CHECK(unit_fire(skel->progs.free_vmap_area_noflush, va_free, 3) == 0);
	CHECK_U64(usage_of(skel, tgid, vm).frees, 1);
	/* 5 GiB: its size kept in pages, freed whole. */
	CHECK(unit_fire(skel->progs.alloc_vmap_area, va_huge, 6) == 0);
	CHECK_U64(usage_of(skel, tgid, vm).alloc_bytes, 3 * 4096 + (5ULL << 30));
	CHECK_U64(usage_of(skel, tgid, vm).untracked, 0);
	CHECK(unit_fire(skel->progs.free_vmap_area_noflush, va_huge_free, 3) == 0);
	CHECK_U64(usage_of(skel, tgid, vm).frees, 2);
	CHECK_U64(usage_of(skel, tgid, vm).free_bytes, 3 * 4096 + (5ULL << 30));
	CHECK(unit_fire(skel->progs.percpu_alloc_percpu, pcpu, 10) == 0);
	CHECK_U64(usage_of(skel, tgid, pc).alloc_bytes, 16);
	/* The same number as a slab address would be another object: not freed there. */
	CHECK(unit_fire(skel->progs.percpu_free_percpu, pcpu_free, 3) == 0);
	CHECK_U64(usage_of(skel, tgid, pc).frees, 1);
}

/* Pages: allocations by order for this process, frees by order for all. */
static void test_pages(struct kmem_bpf *skel)
{
	uint64_t alloc2[4] = { 0xffffea0000001000ULL, 2, 0xcc0, 0 };
	uint64_t failed[4] = { 0, 2, 0xcc0, 0 }, free2[2] = { 0xffffea0000001000ULL, 2 };
	uint64_t o2 = KMEM_ID(KMEM_PAGE, 2);

	CHECK(unit_fire(skel->progs.page_alloc, alloc2, 4) == 0);
	CHECK(unit_fire(skel->progs.page_alloc, failed, 4) == 0);
	CHECK(unit_fire(skel->progs.page_free, free2, 2) == 0);
	CHECK_U64(usage_of(skel, getpid(), o2).allocs, 1);
	CHECK_U64(usage_of(skel, getpid(), o2).alloc_bytes, 4 * 4096);
	CHECK_U64(usage_of(skel, KMEM_TGID_FREES, o2).frees, 1);
	CHECK_U64(usage_of(skel, KMEM_TGID_FREES, o2).free_bytes, 4 * 4096);
}

/*
 * A retired row (its process exited: out of the index, RETIRED) is not
 * used again, though this CPU's front still names it: the next
 * allocation of that key makes a new row. A freed object counts in the
 * row its allocation used.
 */
static void test_row_retired(struct kmem_bpf *skel)
{
	uint64_t a[6] = { 0x1, OBJ_D, 50, 256, 0xcc0, 0 }, free_a[2] = { 0x1, OBJ_D };
	struct usage_key key = { .tgid = getpid(), .cache = KMEM_ID(KMEM_KMALLOC, 256) };
	int index = bpf_map__fd(skel->maps.usage_index), rows = bpf_map__fd(skel->maps.usage_rows);
	uint32_t old, now;
	struct usage_row r;
	cpu_set_t all;

	/* On one CPU: the front is per CPU, and the point is one that names the row. */
	pin_to_this_cpu(&all);
	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK(bpf_map_lookup_elem(index, &key, &old) == 0);
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	CHECK(bpf_map_lookup_elem(rows, &old, &r) == 0);
	CHECK_U64(r.u.allocs, 1);
	CHECK_U64(r.u.frees, 1);
	CHECK(bpf_map_delete_elem(index, &key) == 0);
	r.word = ROW_WORD(ROW_RETIRED, 1);
	CHECK(bpf_map_update_elem(rows, &old, &r, 0) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK(bpf_map_lookup_elem(index, &key, &now) == 0);
	CHECK(now != old);
	CHECK_U64(usage_of(skel, key.tgid, key.cache).allocs, 1);
	CHECK(bpf_map_lookup_elem(rows, &old, &r) == 0);
	CHECK_U64(r.u.allocs, 1);
	CHECK_U64(r.word, ROW_WORD(ROW_RETIRED, 1));
	/* Its free: in the new row, which its allocation used. */
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	CHECK_U64(usage_of(skel, key.tgid, key.cache).frees, 1);
	CHECK(bpf_map_lookup_elem(rows, &old, &r) == 0);
	CHECK_U64(r.u.frees, 1);
	CHECK(sched_setaffinity(0, sizeof(all), &all) == 0);
}

/* A full objects map: the allocation is counted, as untracked, never outstanding. */
static void test_full(void)
{
	struct kmem_bpf *skel = load(1);
	uint64_t a[6] = { 0x1, OBJ_A, 50, 64, 0xcc0, 0 }, b[6] = { 0x1, OBJ_B, 60, 64, 0xcc0, 0 };
	uint64_t free_b[2] = { 0x1, OBJ_B };
	struct usage u;

	CHECK(skel != NULL);
	if (!skel)
		return;
	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, b, 6) == 0);
	CHECK(unit_fire(skel->progs.kfree, free_b, 2) == 0);
	u = usage_of(skel, getpid(), KMEM_ID(KMEM_KMALLOC, 64));
	CHECK_U64(u.allocs, 2);
	CHECK_U64(u.untracked, 1);
	CHECK_U64(u.frees, 0);
	CHECK_U64(kstat(skel, KSTAT_OBJECTS_FULL), 1);
	/* Outstanding: allocs - untracked - frees = the one tracked. */
	CHECK_U64(u.allocs - u.untracked - u.frees, 1);
	kmem_bpf__destroy(skel);
}

/* Entries of the objects map. */
static unsigned int map_entries(struct kmem_bpf *skel)
{
	int fd = bpf_map__fd(skel->maps.objects);
	struct object_key key, next, *prev = NULL;
	unsigned int n = 0;

	for (; !bpf_map_get_next_key(fd, prev, &next); prev = &key, n++)
		key = next;
	return n;
}

/*
 * The object table (4 slots) in front of the map: objects live in their
 * slot; one that gets a stack (--cache kmalloc-128) lives in the map,
 * with its age, and settles a stale object of its address in the slot.
 */
static void test_slots(void)
{
	struct kmem_bpf *skel = kmem_bpf__open();
	uint64_t a64[6] = { 0x1, OBJ_A, 50, 64, 0xcc0, 0 }, a128[6] = { 0x1, OBJ_A, 100, 128, 0xcc0, 0 };
	uint64_t free_a[2] = { 0x1, OBJ_A };
	uint64_t k64 = KMEM_ID(KMEM_KMALLOC, 64), k128 = KMEM_ID(KMEM_KMALLOC, 128);
	struct object_key key = { .addr = OBJ_A, .class = KMEM_SLAB };
	uint32_t tgid = getpid();
	struct object obj;

	CHECK(skel != NULL);
	if (!skel)
		return;
	skel->rodata->slot_mask = 3;
	skel->rodata->stack_kmalloc_size = 128;
	bpf_map__set_max_entries(skel->maps.object_slots, 4);
	CHECK(kmem_bpf__load(skel) == 0);
	CHECK(kmem_rows_init(skel) == 0);
	/* In its slot, not the map; freed from there. */
	CHECK(unit_fire(skel->progs.kmalloc, a64, 6) == 0);
	CHECK_U64(map_entries(skel), 0);
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	CHECK_U64(usage_of(skel, tgid, k64).frees, 1);
	CHECK_U64(kstat(skel, KSTAT_FREES), 1);
	/* Allocated again, its free not seen: then a kmalloc-128 at that address. */
	CHECK(unit_fire(skel->progs.kmalloc, a64, 6) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, a128, 6) == 0);
	CHECK_U64(kstat(skel, KSTAT_REPLACED), 1);
	CHECK_U64(usage_of(skel, tgid, k64).frees, 2);
	CHECK_U64(map_entries(skel), 1);
	CHECK(bpf_map_lookup_elem(bpf_map__fd(skel->maps.objects), &key, &obj) == 0);
	CHECK_U64(obj.cache, k128);
	CHECK(obj.ts_ns != 0);
	/* Its free finds it in the map (the slot says one is there), not the stale one. */
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	CHECK_U64(usage_of(skel, tgid, k128).frees, 1);
	CHECK_U64(usage_of(skel, tgid, k64).frees, 2);
	CHECK_U64(kstat(skel, KSTAT_FREES), 2);
	CHECK_U64(kstat(skel, KSTAT_FREES_UNTRACKED), 0);
	CHECK_U64(map_entries(skel), 0);
	kmem_bpf__destroy(skel);
}

/*
 * A table of one slot pair: two objects live in it (the old direct-mapped
 * table of two slots put these two in one slot, and the second in the
 * map), a third goes to the map. An address stale in the second slot,
 * allocated again while the first is free, is settled, not kept twice.
 */
static void test_slot_pair(void)
{
	struct kmem_bpf *skel = kmem_bpf__open();
	uint64_t a[6] = { 0x1, OBJ_A, 50, 64, 0xcc0, 0 }, b[6] = { 0x1, OBJ_B, 60, 64, 0xcc0, 0 };
	uint64_t c[6] = { 0x1, OBJ_C, 60, 64, 0xcc0, 0 };
	uint64_t free_a[2] = { 0x1, OBJ_A }, free_b[2] = { 0x1, OBJ_B }, free_c[2] = { 0x1, OBJ_C };
	uint64_t k64 = KMEM_ID(KMEM_KMALLOC, 64);
	uint32_t tgid = getpid();

	CHECK(skel != NULL);
	if (!skel)
		return;
	skel->rodata->slot_mask = 1;
	bpf_map__set_max_entries(skel->maps.object_slots, 2);
	CHECK(kmem_bpf__load(skel) == 0);
	CHECK(kmem_rows_init(skel) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, b, 6) == 0);
	CHECK_U64(map_entries(skel), 0);
	CHECK(unit_fire(skel->progs.kmalloc, c, 6) == 0);
	CHECK_U64(map_entries(skel), 1);
	/* A's slot free; B freed unseen and allocated again: into A's old slot. */
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	CHECK(unit_fire(skel->progs.kmalloc, b, 6) == 0);
	CHECK_U64(kstat(skel, KSTAT_REPLACED), 1);
	CHECK_U64(usage_of(skel, tgid, k64).frees, 2);
	CHECK(unit_fire(skel->progs.kfree, free_b, 2) == 0);
	CHECK(unit_fire(skel->progs.kfree, free_c, 2) == 0);
	/* Once each: a copy of B left in its old slot would be freed again. */
	CHECK(unit_fire(skel->progs.kfree, free_b, 2) == 0);
	CHECK_U64(usage_of(skel, tgid, k64).allocs, 4);
	CHECK_U64(usage_of(skel, tgid, k64).frees, 4);
	CHECK_U64(kstat(skel, KSTAT_FREES), 3);
	CHECK_U64(kstat(skel, KSTAT_FREES_UNTRACKED), 1);
	CHECK_U64(map_entries(skel), 0);
	kmem_bpf__destroy(skel);
}

/*
 * A row that moved on: its process exited, and userspace made it free
 * while an object of it was still out (retire, then release: RETIRED of
 * the next generation, then zeroed, FREE, listed first). Another key
 * takes the row; the old object's free counts as the exited processes'
 * in its own cache, not in the row's new owner. With SLOTS, in the object
 * table (the slot keeps the cache), else in the objects map.
 */
static void test_row_moved_on(bool slots)
{
	struct kmem_bpf *skel = kmem_bpf__open();
	uint64_t a[6] = { 0x1, OBJ_A, 50, 64, 0xcc0, 0 }, b[6] = { 0x1, OBJ_B, 100, 128, 0xcc0, 0 };
	uint64_t free_a[2] = { 0x1, OBJ_A }, free_b[2] = { 0x1, OBJ_B };
	uint64_t k64 = KMEM_ID(KMEM_KMALLOC, 64), k128 = KMEM_ID(KMEM_KMALLOC, 128);
	struct usage_key key = { .tgid = getpid(), .cache = k64 };
	int index, rows, queue, n, i;
	uint32_t row, others[3], now;
	struct usage_row r;

	CHECK(skel != NULL);
	if (!skel)
		return;
	if (slots) {
		skel->rodata->slot_mask = 3;
		bpf_map__set_max_entries(skel->maps.object_slots, 4);
	}
	bpf_map__set_max_entries(skel->maps.usage_rows, 4);
	bpf_map__set_max_entries(skel->maps.usage_index, 4);
	bpf_map__set_max_entries(skel->maps.free_rows, 4);
	CHECK(kmem_bpf__load(skel) == 0);
	CHECK(kmem_rows_init(skel) == 0);
	index = bpf_map__fd(skel->maps.usage_index);
	rows = bpf_map__fd(skel->maps.usage_rows);
	queue = bpf_map__fd(skel->maps.free_rows);
	CHECK(unit_fire(skel->progs.kmalloc, a, 6) == 0);
	CHECK(bpf_map_lookup_elem(index, &key, &row) == 0);
	/* Retired and released, as kmemview.c does, and first in the free list. */
	CHECK(bpf_map_delete_elem(index, &key) == 0);
	memset(&r, 0, sizeof(r));
	r.word = ROW_WORD(ROW_FREE, 1);
	CHECK(bpf_map_update_elem(rows, &row, &r, 0) == 0);
	for (n = 0; n < 3 && !bpf_map_lookup_and_delete_elem(queue, NULL, &others[n]); n++)
		;
	CHECK_U64(n, 3);
	CHECK(bpf_map_update_elem(queue, NULL, &row, 0) == 0);
	for (i = 0; i < n; i++)
		CHECK(bpf_map_update_elem(queue, NULL, &others[i], 0) == 0);
	/* A kmalloc-128 takes the row, of its new generation. */
	CHECK(unit_fire(skel->progs.kmalloc, b, 6) == 0);
	key.cache = k128;
	CHECK(bpf_map_lookup_elem(index, &key, &now) == 0);
	CHECK_U64(now, row);
	CHECK(unit_fire(skel->progs.kfree, free_a, 2) == 0);
	CHECK_U64(usage_of(skel, key.tgid, k128).frees, 0);
	CHECK_U64(usage_of(skel, KMEM_TGID_EXITED, k64).frees, 1);
	CHECK_U64(usage_of(skel, KMEM_TGID_EXITED, k64).free_bytes, 64);
	/* The new owner's own object: in its row. */
	CHECK(unit_fire(skel->progs.kfree, free_b, 2) == 0);
	CHECK_U64(usage_of(skel, key.tgid, k128).frees, 1);
	CHECK_U64(kstat(skel, KSTAT_FREES), 2);
	CHECK_U64(kstat(skel, KSTAT_USAGE_FULL), 0);
	CHECK_U64(skel->data_rows->rows_taken, 3);
	kmem_bpf__destroy(skel);
}

/*
 * The per-CPU front of the caches map: a cache seen before is not looked
 * up again (its size changed in the map does not show), until a struct
 * kmem_cache is freed (a kmem_cache_free from the cache of caches). S and
 * CACHES are no kernel addresses: reads of them fail, S is registered
 * with size 0 and no name. The front is per CPU: every run on one CPU,
 * this test's, or a run on another would miss it and pass or fail by
 * chance.
 */
static void test_cache_front(struct kmem_bpf *skel)
{
	cpu_set_t all;
	uint64_t s = 0x1234000, caches = 0x1235000;
	uint64_t a[5] = { 0x1, OBJ_A + 0x1000, s, 0xcc0, 0 }, b[5] = { 0x1, OBJ_A + 0x2000, s, 0xcc0, 0 };
	uint64_t c[5] = { 0x1, OBJ_A + 0x3000, s, 0xcc0, 0 };
	uint64_t free_cache[3] = { 0x1, OBJ_A + 0x4000, caches };
	int fd = bpf_map__fd(skel->maps.caches);
	struct cache_info info;
	uint32_t tgid = getpid();

	pin_to_this_cpu(&all);
	CHECK(unit_fire(skel->progs.kmem_cache_alloc, a, 5) == 0);
	CHECK(bpf_map_lookup_elem(fd, &s, &info) == 0);
	CHECK_U64(info.size, 0);
	info.size = 96;
	CHECK(bpf_map_update_elem(fd, &s, &info, BPF_EXIST) == 0);
	/* From the front: still 0 bytes. */
	CHECK(unit_fire(skel->progs.kmem_cache_alloc, b, 5) == 0);
	CHECK_U64(usage_of(skel, tgid, s).allocs, 2);
	CHECK_U64(usage_of(skel, tgid, s).alloc_bytes, 0);
	/* A struct kmem_cache freed: the front asks the map again. */
	skel->bss->caches_cache = caches;
	CHECK(unit_fire(skel->progs.kmem_cache_free, free_cache, 3) == 0);
	CHECK_U64(skel->bss->caches_epoch, 1);
	CHECK(unit_fire(skel->progs.kmem_cache_alloc, c, 5) == 0);
	CHECK_U64(usage_of(skel, tgid, s).allocs, 3);
	CHECK_U64(usage_of(skel, tgid, s).alloc_bytes, 96);
	CHECK(sched_setaffinity(0, sizeof(all), &all) == 0);
}

/* The objects map: twice the slab objects in use, within its floor and RAM's share. */
static void test_objects_for(void)
{
	uint64_t gib = 1ULL << 30;

	/* 24 GiB and 478,533 objects in use: this test's machine, unloaded. */
	CHECK_U64(kmem_objects_for(478533, 24 * gib), 957066);
	/* Few objects in use: the floor, the old default. */
	CHECK_U64(kmem_objects_for(1000, 24 * gib), KMEM_MAX_OBJECTS);
	CHECK_U64(kmem_objects_for(0, 0), KMEM_MAX_OBJECTS);
	/* 1 GiB: 1/128 of it at 128 bytes an entry is 65,536, under the floor. */
	CHECK_U64(kmem_objects_for(500000, gib), KMEM_MAX_OBJECTS);
	/* 16 GiB: 1/128 of it holds 1,048,576 entries. */
	CHECK_U64(kmem_objects_for(3000000, 16 * gib), 1048576);
	/* 1 TiB: the limit. */
	CHECK_U64(kmem_objects_for(100000000, 1024 * gib), KMEM_MAX_OBJECTS_LIMIT);
}

/* The sample before the first has no rows (NULL): nothing is found in it. */
static void test_find_empty(void)
{
	struct kmem_sample empty = {};
	struct kmem_cache_row row = { .id = 7 };
	struct kmem_sample one = { .rows = &row, .nr = 1 };

	CHECK(kmem_sample_find(&empty, 7) == NULL);
	CHECK(kmem_sample_find(&one, 7) == &row);
	CHECK(kmem_sample_find(&one, 8) == NULL);
}

/* The estimate of the programs' run time from their counters (bpf_cost_add()). */
static void test_cost_estimate(void)
{
	struct bpf_cost c;
	struct cost_cpu now = { .runs = 600 };

	bpf_cost_init(&c, -1);
	/* No run timed yet: the runs wait for the first. */
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 0);
	now = (struct cost_cpu){ .runs = 1000, .timed = 10, .timed_ns = 2000 };
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 1000 * 200);
	/* No run timed since: the mean of all timed runs. */
	now.runs = 1100;
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 1100 * 200);
	/* The interval's own mean: 2 runs of 300 ns. */
	now = (struct cost_cpu){ .runs = 1200, .timed = 12, .timed_ns = 2600 };
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 1100 * 200 + 100 * 300);
	/* An hour at a million runs a second: no overflow. */
	now.runs += 3600000000ULL;
	now.timed += 3600000000ULL / COST_PERIOD;
	now.timed_ns += 3600000000ULL / COST_PERIOD * 250;
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 1100 * 200 + 100 * 300 + 3600000000ULL * 250);
	/* Nothing ran: nothing added. */
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 1100 * 200 + 100 * 300 + 3600000000ULL * 250);
	/* A count lower than at the last read (a nested run's update lost): no wrap. */
	now.runs--;
	bpf_cost_add(&c, &now);
	CHECK_U64(c.ns, 1100 * 200 + 100 * 300 + 3600000000ULL * 250);
}

/*
 * The programs count every run and time about one in COST_PERIOD, only
 * where the loader asks (cost_on): kmem does, the default object (as
 * leaks's) counts nothing.
 */
static void test_cost(struct kmem_bpf *untimed)
{
	uint64_t free_a[2] = { 0x1, OBJ_A };
	struct kmem_bpf *skel = kmem_bpf__open();
	const uint64_t runs = 100 * COST_PERIOD;
	struct cost_cpu sum;
	struct bpf_cost c;

	CHECK(bpf_cost_read(bpf_map__fd(untimed->maps.costs), &sum) == 0);
	CHECK_U64(sum.runs, 0);
	CHECK(skel != NULL);
	if (!skel)
		return;
	skel->rodata->cost_on = true;
	CHECK(kmem_bpf__load(skel) == 0);
	CHECK(kmem_rows_init(skel) == 0);
	bpf_cost_init(&c, bpf_map__fd(skel->maps.costs));
	for (uint64_t i = 0; i < runs; i++)
		unit_fire(skel->progs.kfree, free_a, 2);
	CHECK(bpf_cost_read(bpf_map__fd(skel->maps.costs), &sum) == 0);
	CHECK_U64(sum.runs, runs);
	/* 32 to 95 runs apart, the first of each CPU's up to 63 runs in. */
	CHECK(sum.timed >= runs / 96 && sum.timed <= runs / 32 + libbpf_num_possible_cpus());
	CHECK(sum.timed_ns > 0);
	CHECK(bpf_cost_ns(&c) > 0);
	kmem_bpf__destroy(skel);
}

void test_kmem_bpf(void)
{
	struct kmem_bpf *skel;

	test_objects_for();
	test_find_empty();
	test_cost_estimate();
	skel = load(0);
	CHECK(skel != NULL);
	if (!skel) {
		fprintf(stderr, "kmem_bpf: cannot load (root needed): %s\n", strerror(errno));
		return;
	}
	test_kmalloc(skel);
	test_vmalloc_percpu(skel);
	test_pages(skel);
	test_row_retired(skel);
	test_cache_front(skel);
	test_cost(skel);
	kmem_bpf__destroy(skel);
	test_full();
	test_slots();
	test_slot_pair();
	test_row_moved_on(false);
	test_row_moved_on(true);
}
