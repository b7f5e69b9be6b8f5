// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The threads allocs.bpf.c keeps state for (alloc_threads.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocs.h"
#include "allocs.skel.h"
#include "alloc_threads.h"
#include "bpf_util.h"
#include "util.h"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The calls the sampler SS let pass that are not in STATS yet, added to them. */
static void add_sampler(uint64_t *stats, const struct sample_state *ss)
{
	stats[STAT_UNSAMPLED] += ss->unsampled;
	stats[STAT_UNSAMPLED_BYTES] += ss->unsampled_bytes;
}

/*
 * The threads with state in MAP (leaks' threads, or allocs'
 * profile_threads), each once though threads go while it is walked
 * (map_keys()); and into STATS, if not NULL, the calls each one's sampler
 * let pass that are not in them yet: the BPF side counts them in the
 * thread's state (struct sample_state, first in each value of MAP) and
 * moves them to the stats when it goes.
 */
static uint64_t read_map_threads(struct bpf_map *map, uint64_t *stats)
{
	int fd = bpf_map__fd(map);
	uint32_t *tids;
	void *val;
	size_t nr;

	if (map_keys(fd, sizeof(*tids), bpf_map__max_entries(map), cmp_u32, (void **)&tids, &nr))
		return 0;
	val = stats ? calloc(1, bpf_map__value_size(map)) : NULL;
	for (size_t i = 0; val && i < nr; i++) {
		if (bpf_map_lookup_elem(fd, &tids[i], val))
			continue;	/* gone since: flushed into the stats */
		add_sampler(stats, val);
	}
	free(tids);
	free(val);
	return nr;
}

/*
 * The threads that hold a thread slot (bpf/allocs.bpf.c), and into STATS,
 * if not NULL, the calls each one's sampler let pass that are not in them
 * yet, as read_map_threads() adds those of the threads in a map.
 * All elements in one batch; one at a time if the kernel refuses that.
 */
static uint64_t read_thread_slots(struct bpf_map *map, uint64_t *stats)
{
	__u32 nr = bpf_map__max_entries(map), count = nr, batch, *keys;
	size_t size = bpf_map__value_size(map);
	int fd = bpf_map__fd(map);
	uint64_t held = 0;
	char *vals;

	keys = calloc(nr, sizeof(*keys));
	vals = calloc(nr, size);
	if (!keys || !vals)
		goto out;
	if (bpf_map_lookup_batch(fd, NULL, &batch, keys, vals, &count, NULL) && errno != ENOENT) {
		for (count = 0; count < nr; count++)
			if (bpf_map_lookup_elem(fd, &count, vals + (size_t)count * size))
				break;
	}
	for (__u32 i = 0; i < count; i++) {
		const struct thread_slot_head *head = (const void *)(vals + (size_t)i * size);

		if (!head->tid)
			continue;
		held++;
		if (stats)
			add_sampler(stats, &head->sample);
	}
out:
	free(keys);
	free(vals);
	return held;
}

void alloc_threads_read(struct allocs_bpf *skel, uint64_t *stats, struct alloc_threads *t)
{
	t->in_map = read_map_threads(skel->maps.threads, stats) +
		    read_map_threads(skel->maps.profile_threads, stats);
	t->in_slots = read_thread_slots(skel->maps.thread_slots, stats);
}

void alloc_threads_say(const struct alloc_threads *now, struct alloc_threads *said)
{
	if (now->in_slots != said->in_slots || now->in_map != said->in_map)
		debug_msg("threads: %" PRIu64 " with their state in a thread slot, %" PRIu64
			  " in the map", now->in_slots, now->in_map);
	*said = *now;
}
