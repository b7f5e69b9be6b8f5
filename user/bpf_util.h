/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_BPF_UTIL_H
#define MEMLENS_BPF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "cost.h"

struct bpf_object;
struct bpf_object_skeleton;

/*
 * SUMS[0..WORDS) = the value of KEY in per-CPU map FD (array or hash), WORDS
 * u64s, each summed over CPUs.
 */
int percpu_lookup_sum_words(int fd, const void *key, uint64_t *sums, size_t words);
/* *SUM = the u64 of KEY in per-CPU map FD, summed over CPUs. */
int percpu_lookup_sum(int fd, const void *key, uint64_t *sum);
/* OUT[k] = sum over CPUs of entry k of a per-CPU array of u64 with NR entries. */
int percpu_array_sum(int fd, uint32_t nr, uint64_t *out);
/*
 * Leave out the raw_tp programs of OBJ still to load that this kernel
 * cannot run as written (tpguard.h): its BTF lacks the tracepoint, or
 * types the arguments they read otherwise. Says so in a line per reason:
 * the rest still works. The tracepoints left out, comma-separated, into
 * NOT_TRACED. 0; -ENOENT when none of them is left (nothing said: the
 * caller knows what that means); else negative errno, said.
 */
int skip_unusable_tracepoints(struct bpf_object *obj, char *not_traced, size_t len);
/*
 * The process filters of bpf/common.bpf.h into SKEL's rodata, before it is
 * loaded: every BPF object has them, each in its own skeleton type. memlens
 * never traces itself: its reports would allocate, and be traced.
 */
#define skel_set_filters(skel, pid, comm, memcg) do {					\
	(skel)->rodata->targ_tgid = (pid);						\
	(skel)->rodata->self_tgid = getpid();						\
	(skel)->rodata->filter_comm = (comm) != NULL;					\
	if (comm)									\
		strncpy((char *)(skel)->rodata->targ_comm, (comm),			\
			sizeof((skel)->rodata->targ_comm) - 1);				\
	(skel)->rodata->targ_memcg = (memcg);						\
} while (0)

/*
 * CPU time the verifier may spend on one program: one it would refuse
 * after a million instructions costs ten seconds and, in verifier states,
 * over a gigabyte of kernel memory on some kernel builds. memlens's own
 * take a small fraction of it, even in a guest under emulation (the
 * README's kernel matrix; memlens doctor --verifier).
 */
#define VERIFY_PROG_DEADLINE_MS	1000
/* Load skeleton S, no program over the deadline: 0, -ETIMEDOUT, or the load's error. */
int skeleton_load(struct bpf_object_skeleton *s);
struct bpf_program;
typedef void (*prog_stats_fn)(struct bpf_program *prog, const char *log, int load_err,
			      void *ctx);
/*
 * skeleton_load(), then FN for every program with its BPF_LOG_STATS log
 * and the load's error; libbpf_failed_prog() names the one refused.
 */
int skeleton_load_stats(struct bpf_object_skeleton *s, prog_stats_fn fn, void *ctx);
/* The verifier's reason in LOG, the last line before its summary, into WHY. */
void verifier_log_reason(const char *log, char *why, size_t len);
/* Attach every program of S that has a target, naming the one that fails. */
int attach_skeleton(struct bpf_object_skeleton *s);
/* One line for an error of skeleton_load(). */
void skeleton_load_error(int err);
/* Load and attach skeleton S (skel->skeleton), with one message on failure. */
int skeleton_load_attach(struct bpf_object_skeleton *s);
/*
 * The keys of hash map FD, of KEY_SIZE bytes, each once, into *OUT
 * (malloc'd), sorted by CMP. BPF may delete while we walk, and
 * bpf_map_get_next_key() on a deleted key starts over from the first one:
 * a walk can give a key twice and, under churn, go on for long. So: at
 * most twice MAX_ENTRIES steps, then repeats dropped.
 */
int map_keys(int fd, size_t key_size, size_t max_entries,
	     int (*cmp)(const void *, const void *), void **out, size_t *nr_out);
/* Over the loaded programs of OBJ: runs the kernel skipped (recursion_misses). */
uint64_t prog_misses_sum(struct bpf_object *obj);

/*
 * What a view's programs cost, from their own counters (bpf/cost.bpf.h):
 * the costs map, its counters summed over CPUs at the last read, and the
 * run time estimated so far.
 */
struct bpf_cost {
	int fd;
	struct cost_cpu last;
	uint64_t ns;
};

/* Start with the costs map FD, at zero. */
void bpf_cost_init(struct bpf_cost *c, int fd);
/* The costs map's counters, summed over CPUs. */
int bpf_cost_read(int fd, struct cost_cpu *sum);
/* Add to C's run time what NOW, read after C's last, says of the runs since. */
void bpf_cost_add(struct bpf_cost *c, const struct cost_cpu *now);
/*
 * The programs' run time so far, in ns: what was added since the last
 * read is its timed runs' mean time for all its runs (a read without a
 * timed run takes the mean of all of them). It stays if the map cannot be read.
 */
uint64_t bpf_cost_ns(struct bpf_cost *c);

#endif
