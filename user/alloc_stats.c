// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens' own counters (enum alloc_stat, include/allocs.h): their names in
 * text, JSON and Prometheus, and which of them are losses, for each kind
 * of view.
 */
#include <inttypes.h>
#include "alloc_stats.h"

static const char *const stat_names[STAT_NR] = {
	[STAT_ALLOCS] = "allocs",
	[STAT_ALLOC_BYTES] = "alloc_bytes",
	[STAT_FREES] = "frees",
	[STAT_FREE_BYTES] = "free_bytes",
	[STAT_FREE_UNKNOWN] = "free_unknown",
	[STAT_ALLOC_FAILED] = "alloc_failed",
	[STAT_REPLACED] = "replaced",
	[STAT_ALLOCS_FULL] = "allocs_map_full",
	[STAT_STACKS_FULL] = "stacks_map_full",
	[STAT_STACK_FAILED] = "stack_failed",
	[STAT_STACK_COLLISION] = "stack_collision",
	[STAT_THREADS_FULL] = "threads_map_full",
	[STAT_MISSED_RETURN] = "missed_return",
	[STAT_EVENTS_LOST] = "events_lost",
	[STAT_PROCS_FULL] = "procs_map_full",
	[STAT_HISTS_FULL] = "hists_map_full",
	[STAT_ERRORS_FULL] = "errors_map_full",
	[STAT_EVENTS] = "events",
	[STAT_UNWIND_UNKNOWN_PC] = "unwind_unknown_pc",
	[STAT_UNWIND_NO_ROW] = "unwind_no_row",
	[STAT_UNWIND_FAILED] = "unwind_failed",
	[STAT_UNWIND_TOO_BIG] = "unwind_tables_too_big",
	[STAT_UNWIND_MAPS_DROPPED] = "unwind_mappings_dropped",
	[STAT_SAMPLED] = "sampled",
	[STAT_UNSAMPLED] = "unsampled",
	[STAT_UNSAMPLED_BYTES] = "unsampled_bytes",
	[STAT_FREE_UNTRACKED] = "free_untracked",
	[STAT_STACK_NOT_CODE] = "stack_not_code",
	[STAT_STACKS_RECLAIMED] = "stacks_reclaimed",
	[STAT_FILES_GIVEN_UP] = "files_given_up",
	[STAT_STACK_RECLAIMED_EARLY] = "stack_reclaimed_early",
	[STAT_ALLOC_IMPOSSIBLE] = "alloc_impossible",
	[STAT_TAIL_UNBOUND] = "tail_unbound",
	[STAT_NEW_UNFOLLOWED] = "new_unfollowed",
	[STAT_CHILDREN_UNTRACED] = "children_untraced",
};

const char *alloc_stat_name(enum alloc_stat stat)
{
	return stat < STAT_NR ? stat_names[stat] : "?";
}

/* What a report cannot show because it was never recorded, and why. */
static const char *const stat_losses[STAT_NR] = {
	[STAT_REPLACED] = "blocks allocated at an address still tracked: their frees went unseen (an entry point memlens does not hook?)",
	[STAT_ALLOCS_FULL] = "allocations not tracked: outstanding map full (raise --max-allocs)",
	[STAT_STACKS_FULL] = "stacks not stored: stack map full (raise --max-stacks)",
	[STAT_STACK_FAILED] = "stacks not captured: the walk failed, or its buffer was not its own",
	[STAT_STACK_COLLISION] = "stacks not stored: hash collision",
	[STAT_THREADS_FULL] = "allocator calls missed: thread map full",
	[STAT_MISSED_RETURN] = "allocator returns missed",
	[STAT_EVENTS_LOST] = "events lost: ring buffer full",
	[STAT_PROCS_FULL] = "process events not counted: process map full",
	[STAT_HISTS_FULL] = "histogram values not counted: histogram map full",
	[STAT_ERRORS_FULL] = "syscall errors not counted: error map full",
	[STAT_UNWIND_UNKNOWN_PC] = "stacks cut short: a frame in no known module (JIT code?)",
	[STAT_UNWIND_NO_ROW] = "stacks cut short: a frame without a CFI rule memlens follows",
	[STAT_UNWIND_FAILED] = "stacks cut short: user stack unreadable or corrupt",
	[STAT_UNWIND_TOO_BIG] = "modules walked by frame pointer: unwind table full (raise --unwind-rows)",
	[STAT_UNWIND_MAPS_DROPPED] = "executable mappings without unwind table: too many",
	[STAT_STACK_NOT_CODE] = "stacks cut short: a return address in no executable mapping (code without frame pointers)",
	[STAT_FILES_GIVEN_UP] = "files not read to name frames: no answer in time (a hung file system?)",
	[STAT_STACK_RECLAIMED_EARLY] = "stacks not captured: reclaimed before their block was stored (a task held up for seconds)",
	[STAT_NEW_UNFOLLOWED] = "operator new calls not followed, so that C++ exceptions pass (memlens doctor): their blocks not counted unless the new calls a hooked allocator",
};

const char *alloc_stat_loss(enum alloc_stat stat)
{
	return stat < STAT_NR ? stat_losses[stat] : NULL;
}

/*
 * A system-wide view counts; it shows no stacks, so stack losses take
 * nothing from what it shows, nor files given up naming frames.
 */
bool alloc_stat_is_loss(int stat)
{
	return stat != STAT_EVENTS && stat > STAT_ALLOC_FAILED && stat != STAT_REPLACED &&
	       stat != STAT_STACKS_FULL && stat != STAT_STACK_FAILED &&
	       stat != STAT_STACK_COLLISION && stat != STAT_STACK_NOT_CODE &&
	       stat != STAT_STACKS_RECLAIMED && stat != STAT_FILES_GIVEN_UP &&
	       stat != STAT_STACK_RECLAIMED_EARLY && stat != STAT_CHILDREN_UNTRACED;
}

uint64_t alloc_stats_lost(const uint64_t *stats)
{
	uint64_t n = 0;

	for (int i = 0; i < STAT_NR; i++)
		if (alloc_stat_is_loss(i))
			n += stats[i];
	return n;
}

void alloc_stats_print_lost_json(FILE *out, const uint64_t *stats)
{
	for (int i = 0, first = 1; i < STAT_NR; i++) {
		if (!alloc_stat_is_loss(i))
			continue;
		fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", alloc_stat_name(i), stats[i]);
		first = 0;
	}
}

/*
 * Does the counter mean something in a report of allocations made (memlens
 * allocs: entry probes only, nothing freed, no return seen), or in one of
 * blocks outstanding (leaks, record)? Those of the other are not shown.
 */
bool alloc_stat_in_report(int stat, bool allocated)
{
	switch (stat) {
	case STAT_FREES: case STAT_FREE_BYTES: case STAT_FREE_UNKNOWN:
	case STAT_ALLOC_FAILED: case STAT_REPLACED: case STAT_MISSED_RETURN:
	case STAT_PROCS_FULL: case STAT_HISTS_FULL: case STAT_ERRORS_FULL: case STAT_FREE_UNTRACKED: case STAT_STACKS_RECLAIMED:
	case STAT_STACK_RECLAIMED_EARLY:
		return !allocated;
	case STAT_ALLOC_IMPOSSIBLE: case STAT_TAIL_UNBOUND:
		return allocated;
	case STAT_NEW_UNFOLLOWED:
		return !allocated;
	default:
		return stat >= 0 && stat < STAT_NR;
	}
}
