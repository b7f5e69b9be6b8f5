/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The kernel-dependent choices made for a BPF object before it is loaded,
 * one place for every loader: what bpf/ code runs depends on rodata that
 * is set here from kfeatures, so that a kernel without a feature verifies
 * only the code that does without it; and the thread slots every loader
 * of allocs.bpf.c sizes.
 */
#ifndef MEMLENS_BPF_COMPAT_H
#define MEMLENS_BPF_COMPAT_H

#include <stdbool.h>
#include <stdint.h>
#include "kfeatures.h"

struct allocs_bpf;

/*
 * Scratch buffer (task storage or per CPU), user registers in syscalls
 * (bpf_task_pt_regs or the task's stack) and the allocators' return
 * program (with BPF atomics or without) for SKEL.
 */
void allocs_compat_prepare(struct allocs_bpf *skel);
/* The return program of the allocators SKEL loads: alloc_return or map_only_return. */
struct bpf_program *allocs_return_prog(struct allocs_bpf *skel);
/* The programs leaks (and record, allocs) loads: not top's counters, faults, rss; a fork counter. */
void allocs_leaks_programs(struct allocs_bpf *skel);
/*
 * Thread slots (bpf/allocs.bpf.c): THREAD_SLOTS_DEFAULT, or what
 * MEMLENS_THREAD_SLOTS says (0: none, every thread's state in the map; 1:
 * one thread in a slot, the others in the map), for the tests and the
 * bench. -EINVAL, said, if it says nothing of the kind.
 */
int thread_slots_from_env(uint32_t *slots);
/* SLOTS thread slots in SKEL (0: none). */
void allocs_thread_slots(struct allocs_bpf *skel, uint32_t slots);

#endif
