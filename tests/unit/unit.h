/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A minimal test harness: CHECK counts, main() prints "N passed, N failed". */
#ifndef MEMLENS_UNIT_H
#define MEMLENS_UNIT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

extern int unit_passed, unit_failed;

struct bpf_program;

/*
 * Run raw_tp program PROG with BPF_PROG_TEST_RUN, in this task, as if its
 * tracepoint fired with the NR arguments ARGS.
 */
int unit_fire(struct bpf_program *prog, const uint64_t *args, size_t nr);

#define CHECK(cond) do {							\
	if (cond) {								\
		unit_passed++;							\
	} else {								\
		unit_failed++;							\
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
	}									\
} while (0)

#define CHECK_STR(a, b) do {							\
	const char *a_ = (a), *b_ = (b);					\
	if (a_ && b_ && !strcmp(a_, b_)) {					\
		unit_passed++;							\
	} else {								\
		unit_failed++;							\
		fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
			a_ ? a_ : "(null)", b_ ? b_ : "(null)");		\
	}									\
} while (0)

#define CHECK_U64(a, b) do {							\
	uint64_t a_ = (a), b_ = (b);						\
	if (a_ == b_) {								\
		unit_passed++;							\
	} else {								\
		unit_failed++;							\
		fprintf(stderr, "%s:%d: %s == %" PRIu64 ", expected %" PRIu64 "\n", \
			__FILE__, __LINE__, #a, a_, b_);			\
	}									\
} while (0)

void test_procmaps(void);
void test_reachability(void);
void test_freeze(void);
void test_suppress(void);
void test_elfsym(void);
void test_probe_site(void);
void test_symbolize(void);
void test_stack_cache(void);
void test_stack_report(void);
void test_sampling(void);
void test_goheap(void);
void test_util(void);
void test_episodes(void);
void test_reclaim_bpf(void);
void test_ksyms(void);
void test_kernel_names(void);
void test_kmem_merged(void);
void test_recfile(void);
void test_unwind_table(void);
void test_cxx_forward(void);
void test_kmem_bpf(void);
void test_flamegraph(void);
void test_pprof(void);
void test_demangle(void);
void test_kplan(void);
void test_tpguard(void);
void test_alloc_session(void);
void test_cli(void);
void test_stall_stacks(void);

#endif
