/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* log2 histograms, as every BPF object of memlens fills them. */
#ifndef MEMLENS_LOG2HIST_H
#define MEMLENS_LOG2HIST_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Slot i counts values in [2^(i-1), 2^i), slot 0 the zeros. */
#define HIST_SLOTS		64

struct hist {
	__u64 slots[HIST_SLOTS];
};

#endif /* MEMLENS_LOG2HIST_H */
