/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * How each subcommand runs on this kernel: one small rule per choice a
 * loader makes (which hooks, which scratch buffer, which
 * rss_stat layout), each giving the way it takes and, when that way is a
 * reduction, why. Loaders call the rules; memlens doctor prints them all.
 * The rules look at kfeatures only, so MEMLENS_DISABLE steers them too.
 */
#ifndef MEMLENS_KPLAN_H
#define MEMLENS_KPLAN_H

#include <stdbool.h>
#include <stddef.h>

struct kplan_way {
	const char *way;	/* "dwarf", "fp", "uprobe_multi", ... */
	const char *reason;	/* why this way is a reduction, or NULL */
};

/* Allocator hooks: "uprobe_multi" or "uprobe" (one uprobe and uretprobe per function). */
struct kplan_way kplan_hooks(void);
/* --sample-bytes: "uprobe_session" (no return probe for unsampled calls) or "uretprobe". */
struct kplan_way kplan_sampling(void);
/* Scratch buffer for one stack: "task_storage" or "percpu". */
struct kplan_way kplan_scratch(void);
/* Resident memory from kmem:rss_stat: "percpu_counter", "atomic" or "none". */
struct kplan_way kplan_rss(void);
/* How leaks and record keep outstanding blocks: a "table" in front of the hash map, or the "map". */
struct kplan_way kplan_alloc_blocks(void);
/* How kmem keeps its slab objects: "slots" in front of the hash map, or "hash". */
struct kplan_way kplan_kmem_objects(void);
struct kmem_bpf;
/* Leave out the slab programs of the way not taken: with the table or *_hash. */
void kplan_kmem_programs(struct kmem_bpf *skel, bool slots);

enum kplan_mode {
	KPLAN_FULL,
	KPLAN_REDUCED,
	KPLAN_UNAVAILABLE,
};

#define KPLAN_MAX_REASONS	8
#define KPLAN_MAX_WAYS		6
#define KPLAN_REASON_LEN	512

struct kplan {
	enum kplan_mode mode;
	unsigned int nr_reasons;
	/* Reductions; when unavailable, only what stops the command. */
	char reasons[KPLAN_MAX_REASONS][KPLAN_REASON_LEN];
	unsigned int nr_ways;
	struct {
		const char *rule;	/* "stacks", "hooks", "scratch", "rss" */
		const char *way;
	} ways[KPLAN_MAX_WAYS];
};

/* The subcommands a plan is made for, in the order memlens --help lists them. */
extern const char *const kplan_commands[];
extern const size_t kplan_nr_commands;

/* The plan of subcommand CMD on this kernel into *PLAN: 0 or -ENOENT. */
int kplan_command(const char *cmd, struct kplan *plan);
const char *kplan_mode_name(enum kplan_mode mode);

#endif
