/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Heap profiles in pprof's format (profile.proto, gzipped), for
 * `go tool pprof` and the other tools that read it.
 */
#ifndef MEMLENS_PPROF_H
#define MEMLENS_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pprof_frame {
	const char *function;	/* NULL: unknown (then the address is shown, as "0x<hex>") */
	const char *file;	/* NULL: unknown */
	int64_t line;		/* 0: unknown */
	uint64_t addr;		/* the instruction address */
	/*
	 * The mapping ADDR is in: the file mapped (NULL: none, no Mapping),
	 * its range and file offset (0s if unknown), its build ID in hex.
	 */
	const char *map_file;
	uint64_t map_start, map_limit, map_offset;
	const char *build_id;
};

/* A string label of a sample: "pid" "4242", "comm" "leaky". */
struct pprof_label {
	const char *key;
	const char *value;
};

/* One stack of a heap profile: FRAMES[0] is the leaf (the allocator's caller), as pprof orders locations. */
struct pprof_sample {
	const struct pprof_frame *frames;
	size_t nr;
	int64_t objects;	/* outstanding allocations */
	int64_t bytes;		/* outstanding bytes */
	const struct pprof_label *labels;
	size_t nr_labels;
};

/* Sample types after the two (a scan's classes), NR values a sample. */
#define PPROF_MAX_EXTRA 16
struct pprof_extra {
	const char *const *types;	/* "definitely_lost_space", ... */
	const char *const *units;	/* "bytes", "count" */
	size_t nr;
	const int64_t *values;		/* sample i's at values[i * nr] */
};

/*
 * Write a gzip-compressed profile.proto to OUT: sample types inuse_objects/count and inuse_space/bytes
 * (default sample type inuse_space), time_nanos TIME_NS, COMMENT (may be NULL) in the comment list.
 * Functions and locations are deduplicated (same function+file = one Function; same addr = one Location).
 * Returns 0 or negative errno (-EINVAL bad arguments, -ENOMEM, -EIO write/compress errors).
 *
 * OUT must not be NULL; SAMPLES may be NULL only when NR is 0, and a
 * sample's FRAMES only when its NR is 0 (a sample without frames still
 * counts in the totals).  Negative OBJECTS or BYTES are -EINVAL.  A frame
 * whose FUNCTION is NULL gets a Function named after ADDR ("0x401136"),
 * with its FILE and LINE, because pprof shows no address by default.  The
 * first frame seen at an address defines that Location.  Strings are
 * written as given: pprof expects UTF-8.  OUT is flushed so that write
 * errors are reported; it is not closed.  Frames with the same MAP_FILE
 * and MAP_START share one Mapping (ids from 1), which their Location
 * names; a sample's LABELS become its string Labels.
 */
int pprof_write_heap(FILE *out, const struct pprof_sample *samples, size_t nr, int64_t time_ns, const char *comment);
/* The same; ALLOCATED names the sample types alloc_objects and alloc_space (an allocation profile). */
int pprof_write_profile(FILE *out, const struct pprof_sample *samples, size_t nr, int64_t time_ns,
			const char *comment, bool allocated);
/* The same with EXTRA's sample types after the two (EXTRA NULL: none; at most PPROF_MAX_EXTRA). */
int pprof_write_profile_extra(FILE *out, const struct pprof_sample *samples, size_t nr,
			      int64_t time_ns, const char *comment, bool allocated,
			      const struct pprof_extra *extra);

/*
 * Names of the two sample types, in pprof_sample's order: OBJECTS under
 * COUNT_TYPE/COUNT_UNIT, BYTES under VALUE_TYPE/VALUE_UNIT (the default),
 * for profiles that are not of memory ("stalls"/"count",
 * "stall_time"/"nanoseconds").
 */
struct pprof_types {
	const char *count_type, *count_unit;
	const char *value_type, *value_unit;
};

/* The same with the sample types TYPES (none NULL: -EINVAL). */
int pprof_write_typed(FILE *out, const struct pprof_sample *samples, size_t nr, int64_t time_ns,
		      const char *comment, const struct pprof_types *types);

#endif
