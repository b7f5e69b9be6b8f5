// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * How each subcommand runs on this kernel (kplan.h): the rules, and the
 * plan of each subcommand made of them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"
#include "kplan.h"
#include "tpguard.h"
#include "kmem.skel.h"
#include "reclaim.skel.h"

struct kplan_way kplan_hooks(void)
{
	if (kfeature_has(KF_UPROBE_MULTI))
		return (struct kplan_way){ "uprobe_multi", NULL };
	return (struct kplan_way){ "uprobe", "no uprobe_multi (6.6): one uprobe and one "
				   "uretprobe per function, slower to attach, more links" };
}

/*
 * With --sample-bytes, a call the sampler lets pass needs no return probe:
 * uprobe sessions skip it; without them every call takes both traps.
 */
struct kplan_way kplan_sampling(void)
{
	if (kfeature_has(KF_UPROBE_SESSION) && kfeature_has(KF_UPROBE_MULTI))
		return (struct kplan_way){ "uprobe_session", NULL };
	/* Not a reduction: what is seen is the same, at a higher cost. */
	return (struct kplan_way){ "uretprobe", NULL };
}

/*
 * Without task storage, a per-CPU buffer. Exact where there is no task
 * storage (before 5.11): uprobe programs ran with preemption off until
 * 6.0, and only since then under migrate_disable() alone. Where task
 * storage is missing on a later kernel (MEMLENS_DISABLE, a kernel built
 * without it), a program can be preempted mid-stack by another task's on
 * the same CPU: the BPF side drops such a stack and counts it.
 */
struct kplan_way kplan_scratch(void)
{
	struct utsname u;

	/* Task storage is looked up by bpf_get_current_task_btf(): both came in 5.11. */
	if (kfeature_has(KF_TASK_STORAGE) && kfeature_has(KF_TASK_BTF))
		return (struct kplan_way){ "task_storage", NULL };
	if (!uname(&u) && krelease_before(u.release, "5.11"))
		return (struct kplan_way){ "percpu", NULL };
	return (struct kplan_way){ "percpu", "no task storage (5.11): a per-CPU stack buffer, "
				   "which a preempted program can share (6.0): a stack so "
				   "mixed is dropped and counted" };
}

/* The layout of mm_struct.rss_stat decides how resident memory is read. */
struct kplan_way kplan_rss(void)
{
	if (!kfeature_has(KF_RSS_STAT))
		return (struct kplan_way){ "none", "no kmem:rss_stat tracepoint (5.5): "
					   "no resident memory" };
	if (kfeature_has(KF_RSS_PERCPU))
		return (struct kplan_way){ "percpu_counter", NULL };
	if (kfeature_has(KF_RSS_ATOMIC))
		return (struct kplan_way){ "atomic", NULL };
	return (struct kplan_way){ "none", "mm_struct.rss_stat in a layout memlens does not "
				   "know: no resident memory" };
}

/*
 * kmem claims a slot of its direct-mapped object table with a BPF
 * compare-and-swap (5.12); without, every object goes to the hash map,
 * as before the table: the same counts, more BPF time an event.
 */
struct kplan_way kplan_kmem_objects(void)
{
	if (kfeature_has(KF_BPF_ATOMICS))
		return (struct kplan_way){ "slots", NULL };
	return (struct kplan_way){ "hash", "no BPF atomics (5.12): every object in the hash "
				   "map, more BPF time a free" };
}

/*
 * leaks and record keep recent blocks in a small table in front of their
 * hash map, claimed by a BPF compare-and-swap (5.12) at the allocator's
 * return; without, every block goes to the hash map, as before the table.
 */
struct kplan_way kplan_alloc_blocks(void)
{
	if (kfeature_has(KF_BPF_ATOMICS))
		return (struct kplan_way){ "table", NULL };
	return (struct kplan_way){ "map", "no BPF atomics (5.12): every block in the hash map, "
				   "more BPF time an allocation and a free" };
}

void kplan_kmem_programs(struct kmem_bpf *skel, bool slots)
{
	struct bpf_program *with[] = {
		skel->progs.kmem_cache_alloc, skel->progs.kmem_cache_free,
		skel->progs.kmalloc, skel->progs.kfree,
	}, *without[] = {
		skel->progs.kmem_cache_alloc_hash, skel->progs.kmem_cache_free_hash,
		skel->progs.kmalloc_hash, skel->progs.kfree_hash,
	};

	for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++)
		bpf_program__set_autoload(slots ? without[i] : with[i], false);
}

/* Why no BPF subcommand can run on this kernel, or NULL. */
static const char *kplan_blocker(void)
{
	if (!kfeature_has(KF_BTF))
		return "no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)";
	if (!kfeature_has(KF_RINGBUF))
		return "no BPF ring buffer (5.8)";
	if (klockdown() == KLOCKDOWN_CONFIDENTIALITY)
		return "lockdown confidentiality: BPF may not read kernel memory";
	return NULL;
}

static void add_reason(struct kplan *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A reduction; once a plan is unavailable, only what stops it is kept. */
static void add_reason(struct kplan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->mode == KPLAN_UNAVAILABLE || p->nr_reasons >= KPLAN_MAX_REASONS)
		return;
	p->mode = KPLAN_REDUCED;
	va_start(ap, fmt);
	vsnprintf(p->reasons[p->nr_reasons++], KPLAN_REASON_LEN, fmt, ap);
	va_end(ap);
}

static void add_blocker(struct kplan *p, const char *reason)
{
	if (p->mode != KPLAN_UNAVAILABLE)
		p->nr_reasons = 0;
	p->mode = KPLAN_UNAVAILABLE;
	if (p->nr_reasons < KPLAN_MAX_REASONS)
		snprintf(p->reasons[p->nr_reasons++], KPLAN_REASON_LEN, "%s", reason);
}

static void add_way(struct kplan *p, const char *rule, struct kplan_way w)
{
	if (p->nr_ways < KPLAN_MAX_WAYS) {
		p->ways[p->nr_ways].rule = rule;
		p->ways[p->nr_ways++].way = w.way;
	}
	if (w.reason)
		add_reason(p, "%s", w.reason);
}

/*
 * The raw_tp programs of OBJ this kernel cannot run as written, by the
 * loaders' rule (tpguard.h): its BTF lacks their tracepoint, or passes
 * other arguments. The loaders leave those out and run without; without
 * any left, they refuse to run.
 */
static void plan_tracepoints(struct kplan *p, struct bpf_object *obj)
{
	const struct btf *btf = kvmlinux_btf();
	struct tp_skips s;
	int err;

	/* Without BTF no tracepoint can be looked up: the blocker says it. */
	if (!kfeature_has(KF_BTF) || !btf)
		return;
	if (!obj) {
		add_blocker(p, "cannot open its BPF object");
		return;
	}
	err = tp_guard(obj, btf, &s);
	if (err) {
		add_blocker(p, "cannot check its tracepoints' arguments");
		return;
	}
	if (s.left_out && !s.kept) {
		add_blocker(p, "none of its tracepoints can be traced on this kernel");
		if (s.lacking[0])
			add_blocker(p, s.lacking);
		if (s.differing[0])
			add_blocker(p, s.differing);
		return;
	}
	if (s.lacking[0])
		add_reason(p, "%s", s.lacking);
	if (s.differing[0])
		add_reason(p, "%s", s.differing);
}

/* What every allocation tracer needs: uprobes and the syscall tracepoints. */
static void plan_alloc_base(struct kplan *p, bool uprobes_needed)
{
	if (!kfeature_has(KF_TRACEFS))
		add_blocker(p, "no tracefs (CONFIG_TRACING): the syscall tracepoints cannot be "
			    "attached");
	if (kfeature_has(KF_UPROBES))
		return;
	if (uprobes_needed)
		add_blocker(p, "no uprobes (CONFIG_UPROBE_EVENTS): no allocator can be hooked");
	else
		add_reason(p, "no uprobes (CONFIG_UPROBE_EVENTS): runs only with --no-uprobes, "
			   "without allocator calls");
}

/* --cgroup names a directory of the v1 memory hierarchy (memcg.c). */
static void plan_cgroup_option(struct kplan *p)
{
	if (!kfeature_has(KF_MEMCG_V1))
		add_reason(p, "no cgroup v1 memory controller: --cgroup, which takes a v1 "
			   "memory cgroup, is refused");
}

/* leaks, record, allocs: stacks of one process's allocations. */
static void plan_stacks_cmd(struct kplan *p)
{
	plan_alloc_base(p, true);
	add_way(p, "scratch", kplan_scratch());
	add_way(p, "hooks", kplan_hooks());
	add_way(p, "sampling", kplan_sampling());
}

/*
 * allocs: as leaks; each allocator function's kind and code ride on its
 * probe's attach cookie (bpf/alloc_profile.bpf.h). Go programs need none.
 */
static void plan_allocs(struct kplan *p)
{
	plan_stacks_cmd(p);
	if (!kfeature_has(KF_ATTACH_COOKIE))
		add_reason(p, "no attach cookies on uprobes (5.15): Go programs only, a program "
			   "that mallocs is refused");
}

/* top, hist: every process, counters and histograms, no stacks. */
static void plan_system_cmd(struct kplan *p)
{
	plan_alloc_base(p, false);
	if (!kfeature_has(KF_PERF_SW))
		add_blocker(p, "no software perf events: page faults cannot be counted");
	add_way(p, "hooks", kplan_hooks());
	add_way(p, "rss", kplan_rss());
	plan_cgroup_option(p);
}

static void plan_reclaim(struct kplan *p)
{
	struct reclaim_bpf *skel = reclaim_bpf__open();

	plan_tracepoints(p, skel ? skel->obj : NULL);
	reclaim_bpf__destroy(skel);
	if (!kfeature_has(KF_MEMCG_V1) && !kfeature_has(KF_MEMCG_V2))
		add_reason(p, "no memory cgroup controller: no memory cgroup reclaim stalls");
	/* The rss of OOM victims. */
	add_way(p, "rss", kplan_rss());
	plan_cgroup_option(p);
}

static void plan_kmem(struct kplan *p)
{
	struct kmem_bpf *skel = kmem_bpf__open();

	plan_tracepoints(p, skel ? skel->obj : NULL);
	kmem_bpf__destroy(skel);
	add_way(p, "objects", kplan_kmem_objects());
	plan_cgroup_option(p);
}

const char *const kplan_commands[] = {
	"leaks", "allocs", "top", "hist", "reclaim", "kmem", "record", "report",
};
const size_t kplan_nr_commands = sizeof(kplan_commands) / sizeof(kplan_commands[0]);

int kplan_command(const char *cmd, struct kplan *p)
{
	const char *blocker = kplan_blocker();

	memset(p, 0, sizeof(*p));
	/* report reads a file: it needs nothing of the kernel. */
	if (!strcmp(cmd, "report"))
		return 0;
	if (blocker)
		add_blocker(p, blocker);
	if (!strcmp(cmd, "leaks") || !strcmp(cmd, "record")) {
		plan_stacks_cmd(p);
		add_way(p, "blocks", kplan_alloc_blocks());
	} else if (!strcmp(cmd, "allocs"))
		plan_allocs(p);
	else if (!strcmp(cmd, "top") || !strcmp(cmd, "hist"))
		plan_system_cmd(p);
	else if (!strcmp(cmd, "reclaim"))
		plan_reclaim(p);
	else if (!strcmp(cmd, "kmem"))
		plan_kmem(p);
	else
		return -ENOENT;
	return 0;
}

const char *kplan_mode_name(enum kplan_mode mode)
{
	switch (mode) {
	case KPLAN_FULL:
		return "full";
	case KPLAN_REDUCED:
		return "reduced";
	default:
		return "unavailable";
	}
}
