// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdbool.h>
#include "unit.h"

int unit_passed, unit_failed;

static const struct {
	const char *name;
	void (*run)(void);
} suites[] = {
	{ "procmaps", test_procmaps },
	{ "elfsym", test_elfsym },
	{ "probe_site", test_probe_site },
	{ "symbolize", test_symbolize },
	{ "stack_cache", test_stack_cache },
	{ "stack_report", test_stack_report },
	{ "sampling", test_sampling },
	{ "goheap", test_goheap },
	{ "util", test_util },
	{ "episodes", test_episodes },
	{ "reclaim_bpf", test_reclaim_bpf },
	{ "ksyms", test_ksyms },
	{ "kernel_names", test_kernel_names },
	{ "kmem_merged", test_kmem_merged },
	{ "kmem_bpf", test_kmem_bpf },
	{ "flamegraph", test_flamegraph },
	{ "pprof", test_pprof },
	{ "recfile", test_recfile },
	{ "unwind_table", test_unwind_table },
	{ "cxx_forward", test_cxx_forward },
	{ "demangle", test_demangle },
	{ "kplan", test_kplan },
	{ "tpguard", test_tpguard },
	{ "alloc_session", test_alloc_session },
	{ "cli", test_cli },
	{ "reachability", test_reachability },
	{ "freeze", test_freeze },
	{ "suppress", test_suppress },
	{ "stall_stacks", test_stall_stacks },
};

/* With arguments, only the suites they name. */
static bool wanted(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return argc < 2;
}

int main(int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		int failed = unit_failed;

		if (!wanted(suites[i].name, argc, argv))
			continue;
		suites[i].run();
		printf("%s %s\n", unit_failed == failed ? "ok" : "not ok", suites[i].name);
	}
	printf("unit: %d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}
