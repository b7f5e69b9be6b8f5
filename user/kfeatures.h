/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What this kernel offers memlens, probed once and cached: the loaders use
 * it to choose the cheaper way a feature allows (DWARF or frame-pointer
 * stacks, uprobe_multi or one uprobe per function, task storage or a
 * per-CPU scratch buffer), and `memlens doctor` prints it.
 *
 * MEMLENS_DISABLE=name,name... makes memlens act as if the kernel lacked
 * those features (names as kfeature_name() gives them), so that every
 * fallback can be tested on a kernel that has everything.
 */
#ifndef MEMLENS_KFEATURES_H
#define MEMLENS_KFEATURES_H

#include <stdbool.h>

enum kfeature {
	KF_BTF,			/* /sys/kernel/btf/vmlinux: CO-RE, tp_btf */
	KF_RINGBUF,		/* BPF_MAP_TYPE_RINGBUF, 5.8 */
	KF_TASK_BTF,		/* bpf_get_current_task_btf(), 5.11 */
	KF_TASK_STORAGE,	/* BPF_MAP_TYPE_TASK_STORAGE, 5.11 */
	KF_TASK_PT_REGS,	/* bpf_task_pt_regs(), 5.15 */
	KF_BPF_LOOP,		/* bpf_loop(), 5.17: the DWARF unwinder */
	KF_UPROBE_MULTI,	/* uprobe_multi links, 6.6 */
	KF_UPROBE_SESSION,	/* uprobe_multi sessions (attach type 57), 6.13 */
	KF_NR,
};

/* Does the kernel have F (and MEMLENS_DISABLE does not name it)? */
bool kfeature_has(enum kfeature f);
/* Short name of F: "uprobe_multi", "bpf_loop", ... */
const char *kfeature_name(enum kfeature f);
/* The kernel version that brought F, for messages: "6.6". */
const char *kfeature_since(enum kfeature f);
/* Is F named in MEMLENS_DISABLE? */
bool kfeature_disabled(enum kfeature f);

#endif
