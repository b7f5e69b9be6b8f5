/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What this kernel offers memlens, probed once and cached: the loaders use
 * it to choose the cheaper way a feature allows (DWARF or frame-pointer
 * stacks, uprobe_multi or one uprobe per function, task storage or a
 * per-CPU scratch buffer), and `memlens doctor` prints it.
 *
 * MEMLENS_DISABLE=name,name... makes memlens act as if the kernel lacked
 * those features (names as kfeature_name() gives them), so that every
 * fallback can be tested on a kernel that has everything. It is parsed
 * once (again only if it changes); a word that names no feature gets one
 * warning on stderr.
 */
#ifndef MEMLENS_KFEATURES_H
#define MEMLENS_KFEATURES_H

#include <stdbool.h>
#include <linux/bpf.h>

enum kfeature {
	KF_BTF,			/* /sys/kernel/btf/vmlinux: CO-RE, tp_btf */
	KF_RINGBUF,		/* BPF_MAP_TYPE_RINGBUF, 5.8 */
	KF_TASK_BTF,		/* bpf_get_current_task_btf(), 5.11 */
	KF_TASK_STORAGE,	/* BPF_MAP_TYPE_TASK_STORAGE, 5.11 */
	KF_TASK_PT_REGS,	/* bpf_task_pt_regs(), 5.15 */
	KF_UPROBE_MULTI,	/* uprobe_multi links, 6.6 */
	KF_UPROBE_SESSION,	/* uprobe_multi sessions (attach type 57), 6.13 */
	KF_UPROBES,		/* the uprobe PMU: allocator hooks, 4.17 */
	KF_TRACEFS,		/* tracefs mounted or mountable: syscall tracepoints */
	KF_MEMCG_V1,		/* a cgroup v1 hierarchy with the memory controller */
	KF_MEMCG_V2,		/* the memory controller enabled at the cgroup2 root */
	KF_PERF_SW,		/* software perf events: top's page-fault counts */
	KF_KPROBES,		/* the kprobe PMU (CONFIG_KPROBES): memlens needs none */
	KF_FENTRY,		/* fentry programs attach: memlens needs none either */
	KF_RSS_STAT,		/* the kmem:rss_stat tracepoint, 5.5 */
	KF_RSS_PERCPU,		/* mm_struct.rss_stat[] of struct percpu_counter, 6.2 */
	KF_RSS_ATOMIC,		/* mm_struct.rss_stat a struct mm_rss_stat, before 6.2 */
	KF_ATTACH_COOKIE,	/* bpf_get_attach_cookie() on uprobes: memlens allocs, 5.15 */
	KF_BPF_ATOMICS,		/* BPF compare-and-swap: kmem's object table, 5.12 */
	KF_NR,
};

enum klockdown {
	KLOCKDOWN_UNKNOWN,
	KLOCKDOWN_NONE,
	KLOCKDOWN_INTEGRITY,
	KLOCKDOWN_CONFIDENTIALITY,
};

/* Does the kernel have F (and MEMLENS_DISABLE does not name it)? */
bool kfeature_has(enum kfeature f);
/* Short name of F: "uprobe_multi", "task_storage", ... */
const char *kfeature_name(enum kfeature f);
/* The kernel version that brought F, for messages: "6.6". */
const char *kfeature_since(enum kfeature f);
/* Is F named in MEMLENS_DISABLE? (The first call warns of unknown names.) */
bool kfeature_disabled(enum kfeature f);
/*
 * More about F for memlens doctor, after kfeature_has(F): where it is
 * ("mounted at /sys/kernel/tracing"), why it is missing ("load: Operation
 * not permitted"), or "".
 */
const char *kfeature_detail(enum kfeature f);
struct btf;
/* This kernel's vmlinux BTF, loaded once (kfeatures_release frees it), or NULL. */
const struct btf *kvmlinux_btf(void);
/* Does vmlinux BTF have raw tracepoint NAME (a btf_trace_NAME typedef)? */
bool ktracepoint_has(const char *name);
/* The lockdown mode, from securityfs (not mounted anywhere to read it). */
enum klockdown klockdown(void);
const char *klockdown_name(enum klockdown mode);
/*
 * Is RELEASE ("6.18.44-fc", as uname gives it) older than VERSION ("5.11")?
 * False when either does not parse.
 */
bool krelease_before(const char *release, const char *version);
/* Free the vmlinux BTF the probes keep between them. */
void kfeatures_release(void);

/* Not in libbpf 1.4's UAPI copy: uprobe_multi sessions (Linux 6.13). */
#define MEMLENS_TRACE_UPROBE_SESSION	57

/*
 * A uprobe_multi link of TYPE (BPF_TRACE_UPROBE_MULTI or a session) by a
 * raw BPF_LINK_CREATE: libbpf 1.4 knows no sessions. COOKIES may be NULL.
 * The link's fd, or a negative errno.
 */
int uprobe_multi_link_create(int prog, enum bpf_attach_type type, const char *path,
			     const unsigned long *offsets, const __u64 *cookies, unsigned int cnt,
			     int pid);

#endif
