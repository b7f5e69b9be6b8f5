// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Small helpers over libbpf shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "bpf_util.h"
#include "util.h"

int percpu_lookup_sum(int fd, const void *key, uint64_t *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	*sum = 0;
	if (ncpus <= 0)
		return -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, vals))
		err = -errno;
	for (int c = 0; !err && c < ncpus; c++)
		*sum += vals[c];
	free(vals);
	return err;
}

int percpu_array_sum(int fd, uint32_t nr, uint64_t *out)
{
	for (uint32_t k = 0; k < nr; k++) {
		int err = percpu_lookup_sum(fd, &k, &out[k]);

		if (err && err != -ENOENT)
			return err;
	}
	return 0;
}

int skip_missing_tracepoints(struct bpf_object *obj, char *missing, size_t len)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct bpf_program *prog;
	char name[128];
	size_t used = 0;

	missing[0] = 0;
	if (!btf)
		return -errno;
	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (!bpf_program__autoload(prog) || strncmp(sec, "raw_tp/", 7))
			continue;
		snprintf(name, sizeof(name), "btf_trace_%s", sec + 7);
		if (btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0)
			continue;
		bpf_program__set_autoload(prog, false);
		used += snprintf(missing + used, len - used, "%s%s", used ? ", " : "", sec + 7);
		if (used >= len)
			used = len - 1;
	}
	btf__free(btf);
	if (used)
		info_msg("this kernel lacks %s: not traced", missing);
	return 0;
}

void prog_stats_sum(struct bpf_object *obj, uint64_t *run_time_ns, uint64_t *recursion_misses)
{
	struct bpf_program *prog;

	*run_time_ns = *recursion_misses = 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_prog_get_info_by_fd(fd, &info, &len))
			continue;
		*run_time_ns += info.run_time_ns;
		*recursion_misses += info.recursion_misses;
	}
}

int skeleton_load_attach(struct bpf_object_skeleton *s)
{
	int err = bpf_object__load_skeleton(s);

	if (err) {
		error_msg("cannot load BPF programs: %s (run with -v for the verifier log)",
			  strerror(-err));
		return err;
	}
	err = bpf_object__attach_skeleton(s);
	if (err)
		error_msg("cannot attach tracepoints: %s", strerror(-err));
	return err;
}
