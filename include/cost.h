/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Shared between bpf/cost.bpf.h and userspace (bpf_util.c): what memlens's
 * programs cost, counted and timed on a CPU by the programs themselves.
 */
#ifndef MEMLENS_COST_H
#define MEMLENS_COST_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* About one run in COST_PERIOD is timed: at random, 1/2 to 3/2 of it apart (32 to 95). */
#define COST_PERIOD	64

struct cost_cpu {
	__u64 runs;		/* program runs on this CPU */
	__u64 timed;		/* of them, timed */
	__u64 timed_ns;		/* their time */
	__u64 start_ns;		/* when the run being timed began, 0: none */
	__u32 skip;		/* runs left before the next timed one */
	__u32 pad;
};

#endif /* MEMLENS_COST_H */
