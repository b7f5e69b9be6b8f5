// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kernel-dependent choices before loading (bpf_compat.h), by kplan's rules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "allocs.h"
#include "allocs.skel.h"
#include "bpf_compat.h"
#include "kplan.h"
#include "util.h"

void allocs_leaks_programs(struct allocs_bpf *skel)
{
	bpf_program__set_autoload(skel->progs.minor_fault, false);
	bpf_program__set_autoload(skel->progs.major_fault, false);
	bpf_program__set_autoload(skel->progs.rss_stat, false);
	bpf_program__set_autoload(skel->progs.brk_enter, false);
	bpf_program__set_autoload(skel->progs.brk_return, false);
	bpf_program__set_autoload(skel->progs.process_fork, true);
}

void allocs_compat_prepare(struct allocs_bpf *skel)
{
	bool task_storage = !strcmp(kplan_scratch().way, "task_storage");

	skel->rodata->use_task_storage = task_storage;
	/* A map type the kernel lacks cannot even be created. */
	bpf_map__set_autocreate(skel->maps.stack_scratch, task_storage);
	bpf_map__set_autocreate(skel->maps.stack_scratch_cpu, !task_storage);
	skel->rodata->use_task_pt_regs = kfeature_has(KF_TASK_PT_REGS) &&
					 kfeature_has(KF_TASK_BTF);
	/* A verifier without atomics refuses the table's compare-and-swap, even unreached. */
	bpf_program__set_autoload(kfeature_has(KF_BPF_ATOMICS) ? skel->progs.map_only_return :
				  skel->progs.alloc_return, false);
}

struct bpf_program *allocs_return_prog(struct allocs_bpf *skel)
{
	return bpf_program__autoload(skel->progs.alloc_return) ? skel->progs.alloc_return :
								  skel->progs.map_only_return;
}

int thread_slots_from_env(uint32_t *slots)
{
	const char *env = getenv("MEMLENS_THREAD_SLOTS");
	unsigned long long n;

	*slots = THREAD_SLOTS_DEFAULT;
	if (!env || !*env)
		return 0;
	if (parse_uint(env, "MEMLENS_THREAD_SLOTS", THREAD_SLOTS_MAX, &n))
		return -EINVAL;
	if (n & (n - 1)) {
		error_msg("invalid MEMLENS_THREAD_SLOTS '%s': 0 (none) or a power of two "
			  "up to %u", env, THREAD_SLOTS_MAX);
		return -EINVAL;
	}
	*slots = n;
	return 0;
}

void allocs_thread_slots(struct allocs_bpf *skel, uint32_t slots)
{
	skel->rodata->thread_slots_on = slots > 0;
	skel->rodata->thread_slot_mask = slots ? slots - 1 : 0;
	bpf_map__set_max_entries(skel->maps.thread_slots, slots ? slots : 1);
}
