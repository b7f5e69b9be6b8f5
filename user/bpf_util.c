// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Small helpers over libbpf shared by the subcommands. */
#include <errno.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_util.h"

int percpu_array_sum(int fd, uint32_t nr, uint64_t *out)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpus <= 0)
		return -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t k = 0; k < nr; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int c = 0; c < ncpus; c++)
			out[k] += vals[c];
	}
	free(vals);
	return 0;
}
