// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What the unit tests of BPF programs share: firing a raw tracepoint program. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"

int unit_fire(struct bpf_program *prog, const uint64_t *args, size_t nr)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = args, .ctx_size_in = nr * sizeof(*args));

	return bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
}
