/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_BPF_UTIL_H
#define MEMLENS_BPF_UTIL_H

#include <stdint.h>

/* OUT[k] = sum over CPUs of entry k of a per-CPU array of u64 with NR entries. */
int percpu_array_sum(int fd, uint32_t nr, uint64_t *out);

#endif
