// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The verifier's cost of every program (verifier_cost.h). Each mode opens
 * its object afresh, configures it as its subcommand does, gives every
 * program a log buffer at BPF_LOG_STATS (the summary lines only) and loads
 * it without attaching. Maps are made as small as they can be: their size
 * does not change what the verifier explores.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "allocs.h"
#include "allocs.skel.h"
#include "bpf_compat.h"
#include "kmem.skel.h"
#include "kplan.h"
#include "reclaim.skel.h"
#include "alloc_probes.h"
#include "bpf_util.h"
#include "kfeatures.h"
#include "sampling.h"
#include "util.h"
#include "verifier_cost.h"

struct allocs_mode {
	const char *name;
	bool stacks;		/* leaks: stacks and blocks */
	bool dwarf;		/* the unwinder */
	bool sampled;		/* --sample-bytes */
	bool proc_stats;	/* top and hist */
	bool hold;		/* -- CMD */
	bool profile;		/* allocs of a program that mallocs: entry probes */
};

static const struct allocs_mode allocs_modes[] = {
	{ "leaks-dwarf", .stacks = true, .dwarf = true, .hold = true },
	{ "leaks-fp", .stacks = true, .hold = true },
	{ "leaks-dwarf-sampled", .stacks = true, .dwarf = true, .sampled = true },
	{ "leaks-fp-sampled", .stacks = true, .sampled = true },
	{ "top", .proc_stats = true },
	{ "allocs-dwarf", .stacks = true, .dwarf = true, .hold = true, .profile = true },
	{ "allocs-fp", .stacks = true, .hold = true, .profile = true },
};

/*
 * Every filter on: the most code the verifier can be shown. Each object
 * has them under the same names (bpf/common.bpf.h).
 */
#define set_all_filters(skel) do {						\
	(skel)->rodata->targ_tgid = 1;						\
	(skel)->rodata->filter_comm = true;					\
	(skel)->rodata->targ_memcg = 1;						\
} while (0)

/* "processed 123 insns (limit 1000000) ... peak_states 45 ..." */
static long log_number(const char *log, const char *key)
{
	const char *p = strstr(log, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

#define MAX_PROGS	64

struct cost_ctx {
	const char *mode;
	int nr;
	bool logged[MAX_PROGS];
	struct prog_cost costs[MAX_PROGS];
};

static void collect_cost(struct bpf_program *prog, const char *log, int load_err, void *arg)
{
	struct cost_ctx *cc = arg;
	struct prog_cost *c;

	if (!bpf_program__autoload(prog) || cc->nr >= MAX_PROGS)
		return;
	c = &cc->costs[cc->nr];
	cc->logged[cc->nr++] = *log;
	c->mode = cc->mode;
	snprintf(c->prog, sizeof(c->prog), "%s", bpf_program__name(prog));
	c->insns = log_number(log, "processed ");
	c->peak_states = log_number(log, "peak_states ");
	c->total_states = log_number(log, "total_states ");
	c->usec = log_number(log, "verification time ");
	if (load_err)
		verifier_log_reason(log, c->why, sizeof(c->why));
}

/*
 * libbpf loads the programs one after another, stops at the first it
 * cannot, and then closes every one it had loaded: the refused program is
 * the last with a log, those before it were verified, those after it were
 * not tried.
 */
static bool blame_refusal(struct cost_ctx *cc, int load_err)
{
	int refused = -1;

	for (int i = 0; i < cc->nr; i++)
		if (cc->logged[i])
			refused = i;
	/* Nothing reached the verifier: the object failed (maps, relocations). */
	if (refused < 0)
		return false;
	for (int i = 0; i < cc->nr; i++) {
		if (i == refused)
			cc->costs[i].err = load_err;
		else if (i > refused)
			cc->costs[i].err = -ECANCELED;
		if (i != refused)
			cc->costs[i].why[0] = 0;
	}
	return true;
}

static int load_costs(struct bpf_object_skeleton *skel, const char *mode,
		      void (*fn)(const struct prog_cost *c, void *ctx), void *ctx)
{
	struct cost_ctx *cc = calloc(1, sizeof(*cc));
	int err;

	if (!cc)
		return -ENOMEM;
	cc->mode = mode;
	err = skeleton_load_stats(skel, collect_cost, cc);
	if (err && !blame_refusal(cc, err)) {
		free(cc);
		return err;
	}
	for (int i = 0; i < cc->nr; i++)
		fn(&cc->costs[i], ctx);
	free(cc);
	return err == -ENOMEM ? err : 0;
}

static int allocs_cost(const struct allocs_mode *m,
		       void (*fn)(const struct prog_cost *c, void *ctx), void *ctx)
{
	struct allocs_bpf *skel;
	int err;

	/* Without attach cookies allocs profiles Go programs only: nothing more to load. */
	if (m->profile && !kfeature_has(KF_ATTACH_COOKIE))
		return 0;
	skel = allocs_bpf__open();
	if (!skel)
		return -errno;
	set_all_filters(skel);
	skel->rodata->capture_stacks = m->stacks;
	skel->rodata->track_mmaps = m->stacks && !m->profile;
	skel->rodata->new_sites_on = m->stacks && !m->profile;		/* leaks */
	skel->rodata->proc_stats_on = m->proc_stats;
	skel->rodata->cost_on = m->proc_stats;		/* top's, timed: hist's is less */
	skel->rodata->hold_at_exit = m->hold;
	skel->rodata->hold_for_maps = m->hold;
	skel->rodata->unwind_tables = m->dwarf;
	if (m->sampled) {
		skel->rodata->sample_bytes = 65536;
		sample_fill_quantiles((__u32 *)skel->rodata->sample_quantiles);
	}
	if (m->stacks)
		allocs_leaks_programs(skel);
	allocs_compat_prepare(skel);
	allocs_thread_slots(skel, 64);
	alloc_probes_prepare(skel);
	if (m->profile)
		alloc_profile_prepare(skel);
	bpf_map__set_max_entries(skel->maps.allocs, 64);
	/* leaks' table of recent blocks, where the kernel has the atomics it needs. */
	if (m->stacks && !m->profile && !strcmp(kplan_alloc_blocks().way, "table")) {
		bpf_map__set_max_entries(skel->maps.alloc_table, 64);
		skel->rodata->alloc_bucket_mask = 63;
	}
	bpf_map__set_max_entries(skel->maps.stacks, 64);
	bpf_map__set_max_entries(skel->maps.threads, 64);
	bpf_map__set_max_entries(skel->maps.syscalls, 64);
	bpf_map__set_max_entries(skel->maps.proc_stats, 64);
	bpf_map__set_max_entries(skel->maps.rss, 64);
	err = load_costs(skel->skeleton, m->name, fn, ctx);
	allocs_bpf__destroy(skel);
	return err;
}

/* An object of raw tracepoints: those this kernel cannot give it left out, as its loader does. */
static int tracepoint_costs(struct bpf_object_skeleton *skel, const char *mode,
			    void (*fn)(const struct prog_cost *c, void *ctx), void *ctx)
{
	char missing[512];
	int err = skip_unusable_tracepoints(*skel->obj, missing, sizeof(missing));

	/* None usable: none to cost; doctor's plan says why. */
	if (err == -ENOENT)
		return 0;
	return err ? err : load_costs(skel, mode, fn, ctx);
}

/* reclaim, and reclaim --stacks: stall stacks taken where stalls begin. */
static int reclaim_cost(const char *mode, bool stacks,
			void (*fn)(const struct prog_cost *c, void *ctx), void *ctx)
{
	struct reclaim_bpf *skel = reclaim_bpf__open();
	int err;

	if (!skel)
		return -errno;
	set_all_filters(skel);
	skel->rodata->capture_stacks = stacks;
	skel->rodata->cost_on = true;
	bpf_map__set_max_entries(skel->maps.stall_stack_ips, 1);
	err = tracepoint_costs(skel->skeleton, mode, fn, ctx);
	reclaim_bpf__destroy(skel);
	return err;
}

/*
 * kmem, and kmem --cache with a slab cache's name and with a kmalloc
 * size: the stacks of one cache's objects are taken on its own paths.
 */
static int kmem_cost(const char *mode, const char *cache, __u32 kmalloc_size,
		     void (*fn)(const struct prog_cost *c, void *ctx), void *ctx)
{
	struct kmem_bpf *skel = kmem_bpf__open();
	int err;

	if (!skel)
		return -errno;
	set_all_filters(skel);
	skel->rodata->cost_on = true;
	bpf_map__set_max_entries(skel->maps.objects, 64);
	/* The table's programs where the kernel has BPF atomics, with a table to use. */
	if (!strcmp(kplan_kmem_objects().way, "slots")) {
		bpf_map__set_max_entries(skel->maps.object_slots, 64);
		skel->rodata->slot_mask = 63;
	}
	kplan_kmem_programs(skel, !strcmp(kplan_kmem_objects().way, "slots"));
	if (cache)
		strncpy((char *)skel->rodata->stack_cache_name, cache,
			sizeof(skel->rodata->stack_cache_name) - 1);
	skel->rodata->stack_kmalloc_size = kmalloc_size;
	if (!cache && !kmalloc_size)
		bpf_map__set_max_entries(skel->maps.stacks, 1);
	err = tracepoint_costs(skel->skeleton, mode, fn, ctx);
	kmem_bpf__destroy(skel);
	return err;
}

int verifier_costs(void (*fn)(const struct prog_cost *c, void *ctx), void *ctx)
{
	int err = 0;

	for (size_t i = 0; !err && i < sizeof(allocs_modes) / sizeof(allocs_modes[0]); i++)
		err = allocs_cost(&allocs_modes[i], fn, ctx);
	if (!err)
		err = reclaim_cost("reclaim", false, fn, ctx);
	if (!err)
		err = reclaim_cost("reclaim-stacks", true, fn, ctx);
	if (!err)
		err = kmem_cost("kmem", NULL, 0, fn, ctx);
	if (!err)
		err = kmem_cost("kmem-cache", "filp", 0, fn, ctx);
	if (!err)
		err = kmem_cost("kmem-kmalloc", NULL, 64, fn, ctx);
	return err;
}
