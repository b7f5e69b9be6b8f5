// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Where a session's groups come from: the outstanding blocks of the
 * allocs map and the table of recent blocks in front of it (memlens
 * leaks, record), grouped by stack here, or the Go
 * allocation profile of the go_allocs map, counted by stack in BPF
 * (memlens allocs, goheap.c). Hooking differs with them: the allocators
 * a process maps, or runtime.mallocgc.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "alloc_probes.h"
#include "alloc_session.h"
#include "allocs.skel.h"
#include "goheap.h"
#include "kfeatures.h"
#include "kplan.h"
#include "procmaps.h"
#include "stack_cache.h"
#include "util.h"

/* --- the table of recent blocks in front of the allocs map ----------- */

static size_t table_ways(const struct alloc_snapshot *snap)
{
	return (size_t)snap->buckets * ALLOC_WAYS;
}

/* The bucket of the block at ADDR, as the BPF side finds it (bucket_of()). */
static struct alloc_bucket *table_bucket(struct alloc_snapshot *snap, uint64_t addr)
{
	return &snap->table[alloc_bucket_index(addr, snap->buckets - 1)];
}

/* The address of the block a way's WORD holds whole, 0 if none: empty, or marked. */
static uint64_t way_block(uint64_t word)
{
	uint64_t addr = word & ALLOC_WAY_ADDR;

	return addr & ALLOC_WAY_BITS ? 0 : addr;
}

static size_t table_bytes(uint32_t buckets)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return ((size_t)buckets * sizeof(struct alloc_bucket) + page - 1) / page * page;
}

/*
 * The table's buckets for leaks and record (include/allocs.h), in front of
 * a map of MAX blocks (--max-allocs): the table is a cache, whose blocks
 * come on top of MAX, never a share of it (a block whose bucket is full
 * goes to the map, which must have room for it). The largest power of two
 * whose ways are at most half of MAX, at most ALLOC_BUCKETS_DEFAULT (a
 * bigger table holds more blocks, but misses the CPU's caches more often),
 * at least 2; none without BPF atomics. MEMLENS_ALLOC_BUCKETS sets it, 0
 * none: the tests send most blocks, or every one, to the map with it, the
 * bench compares.
 */
static int table_buckets(size_t max, uint32_t *buckets)
{
	const char *env = getenv("MEMLENS_ALLOC_BUCKETS");
	unsigned long long n;

	*buckets = 0;
	if (!env || !*env) {
		for (n = 1; n * 2 * ALLOC_WAYS <= max / 2 && n * 2 <= ALLOC_BUCKETS_DEFAULT; n *= 2)
			;
	} else if (parse_uint(env, "MEMLENS_ALLOC_BUCKETS", ALLOC_BUCKETS_MAX, &n)) {
		return -EINVAL;
	} else if (n == 1 || (n & (n - 1))) {
		error_msg("invalid MEMLENS_ALLOC_BUCKETS '%s': 0 (no table) or a power of two "
			  "from 2 to %u", env, ALLOC_BUCKETS_MAX);
		return -EINVAL;
	}
	if (n >= 2 && !strcmp(kplan_alloc_blocks().way, "table"))
		*buckets = n;
	return 0;
}

static void table_evict_init(struct alloc_session *s);

/* Map the loaded table, to read its blocks, take out those of a gone image and move old ones. */
static int table_map(struct alloc_session *s)
{
	void *p;

	if (!s->snap.buckets)
		return 0;
	p = mmap(NULL, table_bytes(s->snap.buckets), PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(s->skel->maps.alloc_table), 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		error_msg("cannot map the table of recent blocks: %s", strerror(-err));
		return err;
	}
	s->snap.table = p;
	table_evict_init(s);
	debug_msg("blocks: a table of %" PRIu32 " recent ones (%zu KiB) in front of a map of %" PRIu32,
		  (uint32_t)table_ways(&s->snap), table_bytes(s->snap.buckets) >> 10,
		  bpf_map__max_entries(s->skel->maps.allocs));
	return 0;
}

/*
 * Append the table's blocks to SNAP's raw entries from TOTAL on, as
 * process TGID's, marked as the table's: the new total. A way's info is
 * taken only between two equal reads of its word (the same claim), without
 * the busy bit of a return program still writing it.
 */
size_t table_read(struct alloc_snapshot *snap, size_t total, uint32_t tgid)
{
	for (uint32_t i = 0; i < snap->buckets; i++) {
		for (int j = 0; j < ALLOC_WAYS; j++) {
			struct alloc_way *w = &snap->table[i].way[j];
			uint64_t word = __atomic_load_n(&w->addr, __ATOMIC_ACQUIRE);
			uint64_t addr = way_block(word);

			/* Marked ways are passed by: one moving out is read from the map. */
			if (!addr)
				continue;
			snap->vals[total] = w->info;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&w->addr, __ATOMIC_RELAXED) != word)
				continue;
			snap->keys[total++] = (struct alloc_key){
				.tgid = tgid, .pad = ALLOC_KEY_IN_TABLE, .addr = addr,
			};
		}
	}
	return total;
}

/*
 * Take the block at ADDR allocated at TS_NS out of the table, unless the
 * way holds another since it was read (the new image of an exec'd process
 * runs on: it may have been handed the address again).
 */
void table_drop(struct alloc_snapshot *snap, uint64_t addr, uint64_t ts_ns)
{
	struct alloc_bucket *b = table_bucket(snap, addr);

	for (int j = 0; j < ALLOC_WAYS; j++) {
		struct alloc_way *w = &b->way[j];
		uint64_t want = __atomic_load_n(&w->addr, __ATOMIC_ACQUIRE);

		if ((want & ALLOC_WAY_ADDR) != addr || w->info.ts_ns != ts_ns)
			continue;
		/* The word read: fails if the way was emptied and claimed since. */
		if (__atomic_compare_exchange_n(&w->addr, &want, want & ~ALLOC_WAY_ADDR, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return;
	}
}

static void spilled_add(struct alloc_bucket *b, int n)
{
	__atomic_fetch_add(&b->way[0].spilled, n, __ATOMIC_RELAXED);
}

/*
 * Wait until every BPF program running now has returned: an update of a
 * map of maps from userspace returns after the kernel's synchronize_rcu(),
 * and the programs run inside RCU read-side sections.
 */
static int wait_for_programs(struct alloc_session *s)
{
	__u32 zero = 0;
	int fd = s->snap.grace_fd;

	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.grace), &zero, &fd, BPF_ANY))
		return -errno;
	return 0;
}

/*
 * Delete from the map the copy of a block that userspace made, KEY
 * allocated at TS_NS, if it is still that: not a block allocated at the
 * address since, nor one its call put back (ALLOC_F_RESTORED). A program
 * could put another there between the lookup and the delete (a failed
 * realloc of the block, in those microseconds), which would go with it:
 * as with the map's own batched deletes at exec, not ruled out.
 */
static void map_drop(struct alloc_session *s, struct alloc_bucket *b, const struct alloc_key *key,
		     uint64_t ts_ns)
{
	int fd = bpf_map__fd(s->skel->maps.allocs);
	struct alloc_info info;

	if (bpf_map_lookup_elem(fd, key, &info) || info.ts_ns != ts_ns ||
	    (info.flags & ALLOC_F_RESTORED))
		return;
	if (!bpf_map_delete_elem(fd, key))
		spilled_add(b, -1);
}

struct table_move {
	struct alloc_way *way;
	struct alloc_bucket *bucket;
	uint64_t word, ts_ns;	/* the way's word as it was marked, its block's time */
};

/*
 * Move the block of way W in bucket B, allocated before CUTOFF_NS, to the
 * map: a copy put there first (none if the map has the address already;
 * the bucket's count raised before), then the way marked
 * ALLOC_WAY_MOVING by compare-and-swap of the word it was read with, which
 * the programs' frees and inserts pass by (a free then finds the copy).
 * True if the block is on its way: finish_move() lets go of the way once
 * no program that read it before the mark can still be running.
 */
static bool start_move(struct alloc_session *s, struct alloc_bucket *b, struct alloc_way *w,
		       uint64_t cutoff_ns, struct table_move *m)
{
	uint64_t word = __atomic_load_n(&w->addr, __ATOMIC_ACQUIRE), want = word;
	uint64_t addr = way_block(word);
	struct alloc_key key = { .tgid = s->skel->rodata->targ_tgid, .addr = addr };
	struct alloc_info info;

	if (!addr)
		return false;
	info = w->info;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	/* The same word: the same claim, so the info read is whole. */
	if (__atomic_load_n(&w->addr, __ATOMIC_RELAXED) != word || info.ts_ns >= cutoff_ns)
		return false;
	spilled_add(b, 1);
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.allocs), &key, &info, BPF_NOEXIST)) {
		spilled_add(b, -1);	/* full, or a block there already: it stays */
		return false;
	}
	/*
	 * Fails if the way changed since it was read: its block freed (and
	 * the address perhaps handed out again, a claim of a later
	 * generation): the copy goes.
	 */
	if (!__atomic_compare_exchange_n(&w->addr, &want, word | ALLOC_WAY_MOVING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		map_drop(s, b, &key, info.ts_ns);
		return false;
	}
	*m = (struct table_move){ .way = w, .bucket = b, .word = word, .ts_ns = info.ts_ns };
	return true;
}

/*
 * After the wait: a way still marked is emptied, its block in the map
 * alone. One that is not was emptied by a program that took the block out
 * after reading the way before the mark (a free, realloc or munmap, with
 * its plain store), and the copy goes, unless that call put the block back
 * (ALLOC_F_RESTORED).
 */
static bool finish_move(struct alloc_session *s, const struct table_move *m)
{
	struct alloc_key key = {
		.tgid = s->skel->rodata->targ_tgid, .addr = m->word & ALLOC_WAY_ADDR,
	};
	uint64_t want = m->word | ALLOC_WAY_MOVING;

	if (__atomic_compare_exchange_n(&m->way->addr, &want, m->word & ~ALLOC_WAY_ADDR, false,
					__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return true;
	map_drop(s, m->bucket, &key, m->ts_ns);
	return false;
}

/*
 * Can blocks move out of the table here: an inner map to wait for the
 * programs with, and a first wait that works. Else they stay, said.
 */
static void table_evict_init(struct alloc_session *s)
{
	struct alloc_snapshot *snap = &s->snap;
	int fd, err;

	snap->moves = calloc(table_ways(snap), sizeof(*snap->moves));
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "grace_inner", sizeof(__u32), sizeof(__u32), 1,
			    NULL);
	err = fd < 0 ? -errno : 0;
	snap->grace_fd = fd;
	if (!err && snap->moves)
		err = wait_for_programs(s);
	snap->can_evict = !err && snap->moves;
	if (!snap->can_evict)
		info_msg("blocks: none will move from the table of recent ones to the map "
			 "(long-lived ones fill it): %s", strerror(err ? -err : ENOMEM));
}

/*
 * Keep the table for recent blocks: those allocated before CUTOFF_NS move
 * to the map, where a process's long-lived blocks would otherwise stay,
 * filling the table for good (doc/internals.md, "The table of recent
 * blocks"). The programs' frees empty a way with a plain store after
 * reading it, so a way is let go only after every program running when
 * it was marked has returned. Moves whose wait failed stay marked, their
 * blocks in the map, until a later wait works.
 */
static void table_evict(struct alloc_session *s, uint64_t cutoff_ns)
{
	struct alloc_snapshot *snap = &s->snap;
	size_t moved = 0;
	int err;

	if (!snap->can_evict)
		return;
	if (!snap->nr_moves) {
		for (uint32_t i = 0; i < snap->buckets; i++)
			for (int j = 0; j < ALLOC_WAYS; j++)
				snap->nr_moves += start_move(s, &snap->table[i], &snap->table[i].way[j],
							     cutoff_ns, &snap->moves[snap->nr_moves]);
	}
	if (!snap->nr_moves)
		return;
	err = wait_for_programs(s);
	if (err) {
		/* Said once: it may fail at every report. */
		if (!snap->wait_failed)
			error_msg("cannot wait for the BPF programs: %s; %zu blocks of the table of "
				  "recent blocks left in the map", strerror(-err), snap->nr_moves);
		snap->wait_failed = true;
		return;
	}
	for (size_t i = 0; i < snap->nr_moves; i++)
		moved += finish_move(s, &snap->moves[i]);
	snap->nr_moves = 0;
	snap->evicted += moved;
	if (moved)
		debug_msg("blocks: %zu moved from the table to the map, %" PRIu64 " in all", moved,
			  snap->evicted);
}

/* N blocks at KEYS deleted from the map: their buckets' counts go down with them. */
static void table_unspill(struct alloc_snapshot *snap, const struct alloc_key *keys, uint32_t n)
{
	for (uint32_t i = 0; i < n && snap->buckets; i++)
		spilled_add(table_bucket(snap, keys[i].addr), -1);
}

/* --- the snapshot: outstanding blocks, as read from the allocs map ---- */

int snapshot_resize(struct alloc_snapshot *snap, size_t cap)
{
	struct alloc_key *keys = realloc(snap->keys, cap * sizeof(*keys));
	struct alloc_info *vals;
	struct alloc_rec *recs;

	if (!keys)
		return -ENOMEM;
	snap->keys = keys;
	vals = realloc(snap->vals, cap * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	snap->vals = vals;
	recs = realloc(snap->recs, cap * sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	snap->recs = recs;
	snap->cap = cap;
	return 0;
}

void snapshot_free(struct alloc_snapshot *snap)
{
	free(snap->keys);
	free(snap->vals);
	free(snap->recs);
	if (snap->table)
		munmap(snap->table, table_bytes(snap->buckets));
	if (snap->table && snap->grace_fd >= 0)
		close(snap->grace_fd);
	free(snap->moves);
}

void snapshot_keep(struct alloc_snapshot *snap, size_t total, uint32_t tgid,
		   uint64_t sample_bytes)
{
	snap->nr = 0;
	for (size_t i = 0; i < total; i++) {
		const struct alloc_info *v = &snap->vals[i];
		/* Mappings the program makes are tracked exactly, never sampled. */
		bool exact = v->kind == KIND_MMAP || v->kind == KIND_MREMAP ||
			     (v->flags & ALLOC_F_UNSAMPLED);

		if (snap->keys[i].tgid != tgid)
			continue;
		snap->keys[snap->nr] = snap->keys[i];
		snap->recs[snap->nr++] = (struct alloc_rec){
			.addr = snap->keys[i].addr,
			.stack_id = v->stack_id,
			.size = v->size,
			.ts_ns = v->ts_ns,
			.sample_bytes = exact ? 0 : sample_bytes,
		};
	}
}

uint32_t snapshot_old_image(struct alloc_snapshot *snap, uint64_t exec_ts)
{
	uint32_t count = 0;

	for (size_t i = 0; i < snap->nr; i++) {
		if (snap->recs[i].ts_ns >= exec_ts)
			continue;
		snap->keys[count] = snap->keys[i];
		snap->recs[count++] = snap->recs[i];
	}
	snap->nr = count;
	return count;
}

/*
 * Buffers for one read of the allocs map. A batched read of a hash map
 * returns whole buckets, and entries move between buckets already read and
 * not yet read while the process runs: leave room beyond max_entries.
 */
static int snapshot_init(struct alloc_session *s)
{
	size_t max = bpf_map__max_entries(s->skel->maps.allocs);

	return snapshot_resize(&s->snap, max + max / 8 + 64 + table_ways(&s->snap));
}

/*
 * Outstanding allocations of the target, read in batches. Afterwards
 * keys[0..nr) and recs[0..nr) describe the target's blocks, and
 * vals[0..*TOTAL) every block read, whoever's.
 */
static int snapshot_read(struct alloc_session *s, size_t *total_out)
{
	struct alloc_snapshot *snap = &s->snap;
	int fd = bpf_map__fd(s->skel->maps.allocs);
	struct alloc_key batch;
	size_t total;
	bool first;
	int err;

restart:
	total = 0;
	first = true;
	for (;;) {
		__u32 count = snap->cap - total;

		err = count ? bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
						   snap->keys + total, snap->vals + total,
						   &count, NULL) : -1;
		if (!count && !err)
			errno = ENOSPC;
		first = false;
		total += count;
		if (err && errno == ENOENT)
			break;
		if (err && errno == ENOSPC) {
			/* More than we made room for: read it all again. */
			err = snapshot_resize(snap, snap->cap * 2);
			if (err)
				return err;
			goto restart;
		}
		if (err)
			return -errno;
	}
	if (snap->cap - total < table_ways(snap)) {
		err = snapshot_resize(snap, total + table_ways(snap));
		if (err)
			return err;
	}
	total = table_read(snap, total, s->skel->rodata->targ_tgid);
	snapshot_keep(snap, total, s->skel->rodata->targ_tgid, s->opts->sample_bytes);
	*total_out = total;
	return 0;
}

/* --- outstanding blocks: memlens leaks and record --------------------- */

/*
 * memlens leaks of a Go program sees only what its C code (cgo) mallocs:
 * say so. The runtime's own mmaps are its heap arenas (hundreds of MB
 * reserved up front), not leaks: they are not tracked.
 */
static bool check_go_program(struct alloc_session *s)
{
	char path[4096], name[4096 + 64];
	char **cmd = s->opts->cmd;
	enum go_kind kind;

	if (cmd) {
		if (resolve_command(cmd[0], path, sizeof(path)))
			return false;
	} else {
		snprintf(path, sizeof(path), "/proc/%d/exe", s->opts->pid);
	}
	kind = go_program_kind(path);
	if (kind == GO_NOT)
		return false;
	snprintf(name, sizeof(name), "%s", cmd ? cmd[0] : path);
	info_msg("%s is a Go program: memlens leaks sees only what C code in it mallocs; "
		 "its Go heap is for memlens allocs%s", name,
		 kind == GO_STRIPPED ? ", which needs its symbol table (this one is stripped)" : "");
	return true;
}

static int outstanding_check_target(struct alloc_session *s)
{
	size_t max = s->opts->max_allocs ? s->opts->max_allocs : DEFAULT_MAX_ALLOCS;
	int err = table_buckets(max, &s->snap.buckets);

	if (err)
		return err;
	s->go_program = check_go_program(s);
	snprintf(s->allocator, sizeof(s->allocator), "%s",
		 s->opts->allocator ? s->opts->allocator : "");
	return 0;
}

static void outstanding_configure(struct alloc_session *s)
{
	if (s->opts->max_allocs)
		bpf_map__set_max_entries(s->skel->maps.allocs, s->opts->max_allocs);
	/* The Go runtime maps its heap arenas itself: not blocks to report. */
	s->skel->rodata->track_mmaps = !s->go_program;
	/* Operator new may go unhooked where its calls to malloc are published. */
	s->skel->rodata->new_sites_on = !s->opts->allocator;
	if (s->snap.buckets) {
		bpf_map__set_max_entries(s->skel->maps.alloc_table, s->snap.buckets);
		s->skel->rodata->alloc_bucket_mask = s->snap.buckets - 1;
	}
}

static int say_no_allocator(int pid)
{
	error_msg("pid %d maps no allocator (no malloc or operator new symbol): "
		  "use --allocator PATH", pid);
	return -ENOENT;
}

/*
 * -p with --allocator PATH: does process PID map that very file? Its
 * probes are on the file (its inode): one the process does not map (not
 * loaded, another copy in its mount namespace) would see nothing, and
 * the report would show its mmaps alone.
 */
static int check_allocator_mapped(int pid, const char *path)
{
	struct vma_list maps = {};
	struct stat st;
	bool mapped = false;
	int err;

	if (stat(path, &st))
		return 0;	/* said by the attach */
	err = vma_list_load(pid, &maps);
	if (err)
		return 0;	/* gone: its exit is reported */
	for (size_t i = 0; i < maps.nr && !mapped; i++)
		mapped = vma_maps_file(&maps.v[i], &st);
	vma_list_free(&maps);
	if (mapped)
		return 0;
	error_msg("pid %d does not map %s: nothing of it would be seen (--allocator)", pid, path);
	return -ENOENT;
}

/* --allocator PATH for process TARGET. */
static int hook_allocator_file(struct alloc_session *s, int target, bool profile)
{
	const char *path = s->opts->allocator;
	bool started = s->opts->cmd != NULL;

	if (profile)
		return alloc_profile_attach(s->skel, path, path, target, started, &s->probes);
	return alloc_probes_attach(s->skel, path, path, target, started, &s->probes);
}

/*
 * A thread other than the leader exec'd. The kernel tied every hook made
 * for the process to its old leader's task, gone now: each is closed,
 * first (alloc_hooks_exec() says why), and made anew. The scan of the new
 * maps that follows hooks the allocators found there; --allocator's file,
 * which the new image may not map yet, is hooked here as at the start.
 * A process gone meanwhile is no error: its exit is reported.
 */
static int rehook_allocators(struct alloc_session *s, bool profile)
{
	int pid = s->skel->rodata->targ_tgid, err;

	alloc_hooks_exec(s->hooks);
	if (!s->opts->allocator)
		return 0;
	alloc_probes_detach(s->probes);
	s->probes = NULL;
	if (process_exited(pid))
		return 0;
	err = hook_allocator_file(s, pid, profile);
	return err && process_exited(pid) ? 0 : err;
}

/*
 * --allocator PATH, hooked before the command runs; or the allocators the
 * process maps: those of a running process now, those of a command as it
 * maps them (it is held at exec and at every new code mapping until they
 * are hooked). PROFILE: allocs' entry probes only.
 */
static int hook_allocators(struct alloc_session *s, int target, bool profile)
{
	const char *path = s->opts->allocator;
	bool started = s->opts->cmd != NULL;
	int n;

	if (path && !started && check_allocator_mapped(target, path))
		return -ENOENT;
	if (path)
		return hook_allocator_file(s, target, profile);
	s->hooks = alloc_hooks_new(s->skel, target, started,
				   ALLOC_DEFINES_MALLOC | ALLOC_DEFINES_NEW | ALLOC_ANNOUNCE |
				   (profile ? ALLOC_PROFILE : 0));
	if (!s->hooks)
		return -ENOMEM;
	if (started)
		return 0;
	n = alloc_hooks_scan(s->hooks, target, NULL);
	if (n < 0) {
		alloc_hooks_say_error(s->hooks, target, n);
		return n;
	}
	return n ? 0 : say_no_allocator(target);
}

static int outstanding_hook(struct alloc_session *s, int target)
{
	int err = table_map(s);

	if (err)
		return err;
	if (snapshot_init(s))
		return -ENOMEM;
	return hook_allocators(s, target, false);
}

/* The old image's blocks went with it: a report of mmaps alone would mislead. */
static int outstanding_rehook(struct alloc_session *s)
{
	int err = rehook_allocators(s, false);

	if (err)
		s->no_allocator = err;
	return err;
}

/*
 * New code in the process: hook any allocator it brings. Files are opened
 * through /proc/PID/map_files, so that an allocator in another mount
 * namespace, or one replaced on disk since, is the one hooked.
 *
 * A run that hooks no allocator would report mmaps only, as if nothing
 * were malloc'd: it ends, when every hook failed, or when the process
 * has no allocator and no dynamic loader to map one (static, stripped).
 * With a dynamic loader, the allocator may come later (dlopen).
 */
static void outstanding_new_code(struct alloc_session *s)
{
	int pid = s->skel->rodata->targ_tgid, err;
	bool pending = false;

	if (!s->hooks)
		return;
	err = alloc_hooks_scan(s->hooks, pid, &pending);
	/* Gone, even while its maps were read: its exit is reported. */
	if (err < 0 && (!*alloc_hooks_error(s->hooks) || pid_gone(pid)))
		return;
	if (err < 0)
		alloc_hooks_say_error(s->hooks, pid, err);
	if (alloc_hooks_count(s->hooks) || s->go_program)
		return;
	if (err < 0)
		s->no_allocator = err;
	else if (!pending)
		s->no_allocator = say_no_allocator(pid);
}

/*
 * The end of a command that never mapped an allocator, though it had a
 * dynamic loader to: no report of its mmaps alone.
 */
static int outstanding_check_hooked(struct alloc_session *s)
{
	if (!s->hooks || alloc_hooks_count(s->hooks) || s->go_program)
		return 0;
	s->no_allocator = say_no_allocator(s->skel->rodata->targ_tgid);
	return s->no_allocator;
}

/*
 * The blocks outstanding now; those whose stacks are one once cut where
 * they stop being code go under one id, before they are grouped or recorded.
 * Stacks no block refers to are reclaimed first (stack_cache_reclaim()):
 * the map keeps room for new stacks however long the session.
 */
static int outstanding_read(struct alloc_session *s)
{
	uint64_t read_ns = monotonic_ns(), age_ns;
	size_t total;
	int err = snapshot_read(s, &total);

	if (err) {
		error_msg("cannot read outstanding allocations: %s", strerror(-err));
		return err;
	}
	err = stack_cache_reclaim(s->stacks, s->snap.vals, total, read_ns);
	if (err)
		debug_msg("stacks not reclaimed: %s", strerror(-err));
	for (size_t i = 0; i < s->snap.nr; i++)
		s->snap.recs[i].stack_id = stack_cache_report_id(s->stacks,
								 s->snap.recs[i].stack_id);
	/* What lived through an interval, and a second at least, is no recent block. */
	age_ns = s->opts->interval_s > 1 ? s->opts->interval_s * 1e9 : 1e9;
	if (!s->exited && read_ns > age_ns)
		table_evict(s, read_ns - age_ns);
	return 0;
}

static int outstanding_group(struct alloc_session *s, struct stack_report *r)
{
	return group_by_stack(s->snap.recs, s->snap.nr, r->now_ns, s->opts->show->min_age_s * 1e9,
			      &r->groups, &r->nr_groups);
}

/*
 * Take the first COUNT blocks of the snapshot out of the table and the
 * map, wherever each was read; the snapshot is spent.
 */
static int snapshot_drop(struct alloc_session *s, uint32_t count)
{
	struct alloc_snapshot *snap = &s->snap;
	uint32_t n = 0;
	int err = 0;

	for (uint32_t i = 0; i < count; i++) {
		if (snap->keys[i].pad == ALLOC_KEY_IN_TABLE)
			table_drop(snap, snap->keys[i].addr, snap->recs[i].ts_ns);
		else
			snap->keys[n++] = snap->keys[i];
	}
	snap->nr = 0;
	/* N becomes how many were deleted, all of them or up to a failure. */
	if (n && bpf_map_delete_batch(bpf_map__fd(s->skel->maps.allocs), snap->keys, &n, NULL))
		err = -errno;
	table_unspill(snap, snap->keys, n);
	return err;
}

/*
 * The process exec'd: what the old image allocated went with it. Blocks of
 * the new image (allocated after the exec) stay.
 */
static int outstanding_drop_old_image(struct alloc_session *s)
{
	size_t total;
	int err = snapshot_read(s, &total);
	__u32 count;

	if (err)
		return err;
	count = snapshot_old_image(&s->snap, s->exec_ts);
	err = snapshot_drop(s, count);
	if (err)
		error_msg("cannot remove the old image's allocations: %s", strerror(-err));
	debug_msg("exec: %u blocks of the old image dropped", count);
	return 0;
}

/* The process is gone: its blocks leave the map with its last report. */
static void outstanding_forget(struct alloc_session *s)
{
	int err = snapshot_drop(s, s->snap.nr);

	if (err)
		error_msg("cannot remove exited pid's allocations: %s", strerror(-err));
}

const struct group_source outstanding_blocks = {
	.kind = REPORT_OUTSTANDING,
	.unwind_tables = true,
	.check_target = outstanding_check_target,
	.configure = outstanding_configure,
	.hook = outstanding_hook,
	.rehook = outstanding_rehook,
	.new_code = outstanding_new_code,
	.check_hooked = outstanding_check_hooked,
	.read = outstanding_read,
	.group = outstanding_group,
	.drop_old_image = outstanding_drop_old_image,
	.forget = outstanding_forget,
};

/* --- a Go program's allocation profile: memlens allocs ---------------- */

/*
 * The image process PID runs: /proc/PID/exe (the very file, in whatever
 * mount namespace), and its name.
 */
static int go_program_of(struct alloc_session *s, int pid)
{
	ssize_t n;

	snprintf(s->program, sizeof(s->program), "/proc/%d/exe", pid);
	n = readlink(s->program, s->program_name, sizeof(s->program_name) - 1);
	if (n < 0)
		return -errno;
	s->program_name[n] = '\0';
	return 0;
}

/* The executable of the target: -p's, or the command we will start. */
static int go_check_target(struct alloc_session *s)
{
	char **cmd = s->opts->cmd;
	char *name = s->program_name;
	int err;

	if (cmd) {
		err = resolve_command(cmd[0], s->program, sizeof(s->program));
		if (err) {
			error_msg("cannot run %s: %s", cmd[0], strerror(-err));
			return err;
		}
		snprintf(name, sizeof(s->program_name), "%s", s->program);
	} else {
		err = go_program_of(s, s->opts->pid);
		if (err) {
			error_msg("cannot read %s: %s", s->program, strerror(-err));
			return err;
		}
	}
	if (!go_binary(s->program)) {
		error_msg("%s is not a Go program (no runtime.mallocgc symbol; stripped Go programs "
			  "have none either): see memlens leaks", name);
		return -ENOEXEC;
	}
	snprintf(s->allocator, sizeof(s->allocator), "runtime.mallocgc in %s", name);
	return 0;
}

static void go_configure(struct alloc_session *s)
{
	s->skel->rodata->track_mmaps = false;
	s->skel->rodata->profiling = true;	/* samplers in thread slots: struct profile_thread */
	if (s->opts->max_stacks)
		bpf_map__set_max_entries(s->skel->maps.go_allocs, s->opts->max_stacks);
}

static int go_hook(struct alloc_session *s, int target)
{
	return go_probes_attach(s->skel, s->program, s->program_name, target,
				s->opts->cmd != NULL, &s->go_probes);
}

/*
 * After an exec from a thread (see rehook_allocators()): the new image,
 * /proc/PID/exe, whatever it is now (a Go server that re-execs itself, or
 * another program). What the old one allocated stays in the profile,
 * named with the symbols of the files mapped when it is read.
 */
static int go_rehook(struct alloc_session *s)
{
	int pid = s->skel->rodata->targ_tgid, err;

	go_probes_detach(s->go_probes);
	s->go_probes = NULL;
	err = go_program_of(s, pid);
	if (err)
		return process_exited(pid) ? 0 : err;
	if (!go_binary(s->program)) {
		info_once("pid %d exec'd %s, not a Go program: its allocations are not seen",
			  pid, s->program_name);
		return 0;
	}
	snprintf(s->allocator, sizeof(s->allocator), "runtime.mallocgc in %s", s->program_name);
	err = go_hook(s, pid);
	return err && process_exited(pid) ? 0 : err;
}

/*
 * An allocation profile (a go_allocs-like map, FD) by stack, WHAT it is
 * for the error; ids that became one once cut where they stop being code
 * are added up.
 */
static int read_profile(struct alloc_session *s, struct stack_report *r, int fd, const char *what)
{
	int err;

	err = go_allocs_read(fd, r->pid, s->opts->sample_bytes, &r->groups, &r->nr_groups);
	if (err) {
		error_msg("cannot read %s: %s", what, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < r->nr_groups; i++)
		r->groups[i].stack_id = stack_cache_report_id(s->stacks, r->groups[i].stack_id);
	merge_groups(r->groups, &r->nr_groups);
	r->stats[STAT_STACK_NOT_CODE] = stack_cache_not_code(s->stacks);
	return 0;
}

static int go_group(struct alloc_session *s, struct stack_report *r)
{
	return read_profile(s, r, bpf_map__fd(s->skel->maps.go_allocs), "Go allocations");
}

static void go_forget(struct alloc_session *s)
{
	go_allocs_delete(bpf_map__fd(s->skel->maps.go_allocs), s->skel->rodata->targ_tgid);
}

/* A Go stack starts at the function that allocated, past the runtime's frames. */
static const struct sym_stack *go_view(struct alloc_session *s, const struct sym_stack *st)
{
	return go_user_stack(st, &s->go_view);
}

const struct group_source go_alloc_profile = {
	.kind = REPORT_ALLOCATED,
	.unwind_tables = false,
	.check_target = go_check_target,
	.configure = go_configure,
	.hook = go_hook,
	.rehook = go_rehook,
	.group = go_group,
	/* No .drop_old_image: before the exec it was our fork, with no Go allocations. */
	.forget = go_forget,
	.view = go_view,
};

/* --- a C, C++ or Rust program's allocation profile: memlens allocs --- */

#define STRIPPED_GO	"%s is a Go program without its symbol table (stripped): its Go heap " \
			"(runtime.mallocgc) cannot be found, "

/*
 * A static program that defines no allocator can map none: no Go symbols
 * either (it would be go_alloc_profile's), a stripped Go program then.
 */
static int profile_check_program(struct alloc_session *s)
{
	char **cmd = s->opts->cmd;
	char path[4096], name[4096];
	bool dynamic = true, stripped_go;
	int kind;

	if (cmd) {
		if (resolve_command(cmd[0], path, sizeof(path)))
			return 0;	/* said when it is started */
		snprintf(name, sizeof(name), "%s", cmd[0]);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/exe", s->opts->pid);
		snprintf(name, sizeof(name), "pid %d", s->opts->pid);
	}
	kind = alloc_program_kind(path, &dynamic);
	stripped_go = go_program_kind(path) == GO_STRIPPED;
	if (stripped_go && (kind != 0 || dynamic))
		info_msg(STRIPPED_GO "only what C code in it mallocs is profiled", name);
	if (kind != 0 || dynamic)
		return 0;
	if (stripped_go)
		error_msg(STRIPPED_GO "and it has no C allocator: nothing to profile", name);
	else
		error_msg("%s defines no allocator (malloc, operator new) and loads none; nor has "
			  "it runtime.mallocgc: nothing to profile", name);
	return -ENOENT;
}

/* Cookies carry each function's kind and code range (bpf/alloc_profile.bpf.h). */
static int profile_check_target(struct alloc_session *s)
{
	if (!kfeature_has(KF_ATTACH_COOKIE)) {
		error_msg("allocs: this kernel lacks attach cookies on uprobes (%s), which memlens "
			  "allocs needs for a program that mallocs; memlens leaks works without",
			  kfeature_since(KF_ATTACH_COOKIE));
		return -EOPNOTSUPP;
	}
	snprintf(s->allocator, sizeof(s->allocator), "%s",
		 s->opts->allocator ? s->opts->allocator : "");
	return s->opts->allocator ? 0 : profile_check_program(s);
}

static void profile_configure(struct alloc_session *s)
{
	s->skel->rodata->track_mmaps = false;
	alloc_profile_prepare(s->skel);
	if (s->opts->max_stacks)
		bpf_map__set_max_entries(s->skel->maps.alloc_profile, s->opts->max_stacks);
}

/* As for leaks, with entry probes only. */
static int profile_hook(struct alloc_session *s, int target)
{
	return hook_allocators(s, target, true);
}

static int profile_rehook(struct alloc_session *s)
{
	return rehook_allocators(s, true);
}

static int profile_group(struct alloc_session *s, struct stack_report *r)
{
	return read_profile(s, r, bpf_map__fd(s->skel->maps.alloc_profile),
			    "the allocation profile");
}

static void profile_forget(struct alloc_session *s)
{
	go_allocs_delete(bpf_map__fd(s->skel->maps.alloc_profile), s->skel->rodata->targ_tgid);
}

const struct group_source alloc_profile = {
	.kind = REPORT_ALLOCATED,
	.unwind_tables = true,
	.check_target = profile_check_target,
	.configure = profile_configure,
	.hook = profile_hook,
	.rehook = profile_rehook,
	.new_code = outstanding_new_code,
	.check_hooked = outstanding_check_hooked,
	.group = profile_group,
	/* No .drop_old_image: what the old image allocated was allocated while traced. */
	.forget = profile_forget,
};
