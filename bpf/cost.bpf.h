/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What memlens's own programs cost (top, reclaim, kmem), timed by the
 * programs themselves on a sample of their runs. The kernel's run-time
 * statistics (BPF_ENABLE_STATS) would time every run of every BPF program
 * on the host, another tool's as much as memlens's, with two clock reads
 * a run: on this VM 7% of the file-system loop's throughput under
 * memlens kmem, on average (bench/README.md). Here every run is counted
 * and about one in COST_PERIOD, at random, is timed; userspace takes the
 * timed runs' mean for all of them (bpf_cost_add()). What a run costs
 * outside cost_begin() and cost_end() (the program's entry, what its
 * declarations compute, the counters) is not in it (doc/internals.md).
 *
 * The counters are per CPU and not atomic: a program that interrupts
 * another on the same CPU (an interrupt's allocation, a preempted uprobe
 * program) may lose an update of the other's, end its timed run, or
 * count it a second time. It is an estimate.
 */
#ifndef MEMLENS_COST_BPF_H
#define MEMLENS_COST_BPF_H

#include "cost.h"

/* Set by the views that show a cost (top, reclaim, kmem); the others pay nothing. */
const volatile bool cost_on;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cost_cpu);
} costs SEC(".maps");

/*
 * The run's state is in the CPU's counters, not on the program's stack: a
 * timed and an untimed run then reach the program's body in one state,
 * and the verifier walks it once, not twice.
 */
static __always_inline struct cost_cpu *cost_this_cpu(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&costs, &zero);
}

/* At a program's start: count the run, and time it if its turn has come. */
static __always_inline void cost_begin(void)
{
	struct cost_cpu *cpu;

	if (!cost_on)
		return;
	cpu = cost_this_cpu();
	if (!cpu)
		return;
	/* Not the first run of each CPU: a cold one, that would weigh for many. */
	if (!cpu->runs++)
		cpu->skip = bpf_get_prandom_u32() % COST_PERIOD;
	if (cpu->skip) {
		cpu->skip--;
		return;
	}
	cpu->skip = COST_PERIOD / 2 - 1 + bpf_get_prandom_u32() % COST_PERIOD;
	cpu->start_ns = bpf_ktime_get_ns();
}

/* At its end: the time of a timed run. 0, a program's return value. */
static __always_inline int cost_end(void)
{
	struct cost_cpu *cpu;
	__u64 start_ns, now;

	if (!cost_on)
		return 0;
	cpu = cost_this_cpu();
	if (!cpu)
		return 0;
	/*
	 * Taken and cleared before the clock is read: a program that ran
	 * in between on this CPU and ended the run itself would otherwise
	 * leave 0 here, and the run would count the uptime.
	 */
	start_ns = cpu->start_ns;
	if (!start_ns)
		return 0;
	cpu->start_ns = 0;
	now = bpf_ktime_get_ns();
	/* The time first: a reader between the two sees a run less, not a run of 0 ns. */
	if (now > start_ns)
		cpu->timed_ns += now - start_ns;
	cpu->timed++;
	return 0;
}

#endif /* MEMLENS_COST_BPF_H */
