#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Overhead of memlens, measured in one run. First, memlens leaks on malloc+free:
# untraced, under `memlens leaks -p`, and under the same bookkeeping in
# bpftrace (bench/bpftrace-leaks.bt). Prints pairs/s, ratios and the ns
# each tracer adds per malloc+free pair. Uprobe traps dominate on this
# kind of VM (several us each), so the added ns say more than the ratio.
set -u
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-200000}
BENCH=$PWD/build/mallocbench
tmp=$(mktemp -d /tmp/memlens-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
libc=$(ldd "$BENCH" | awk '/libc\.so/ {print $3}')

wait_for() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

memlens_tracer() {
	exec ./memlens leaks -i 3600 -p "$1"
}

# Sampled: one allocation in about 1000 of these is tracked (64 KiB / 64 B).
memlens_sampled_tracer() {
	exec ./memlens leaks -i 3600 --sample-bytes 65536 -p "$1"
}

bpftrace_tracer() {
	sed -e "s|LIBC|$libc|g" -e "s|PID|$1|g" bench/bpftrace-leaks.bt >"$tmp/leaks.bt"
	exec bpftrace -p "$1" "$tmp/leaks.bt"
}

# traced TRACER: pairs/s of the benchmark with TRACER attached before the loop.
traced() {
	local tracer=$1 pid tpid
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	exec 3<>"$tmp/in"
	"$BENCH" "$PAIRS" --wait <&3 >"$tmp/bench.out" &
	pid=$!
	wait_for "$tmp/bench.out" ready
	"$tracer" "$pid" >"$tmp/trace.out" 2>&1 &
	tpid=$!
	wait_for "$tmp/trace.out" "tracing pid $pid"
	echo go >&3
	wait "$pid"
	kill -INT "$tpid"
	wait "$tpid"
	exec 3>&-
	awk '/pairs_per_sec/ {print $2}' "$tmp/bench.out"
}

base=$("$BENCH" "$PAIRS" | awk '{print $2}')
memlens=$(traced memlens_tracer)
sampled=$(traced memlens_sampled_tracer)
bpftrace=$(traced bpftrace_tracer)

awk -v n="$PAIRS" -v b="$base" -v m="$memlens" -v s="$sampled" -v t="$bpftrace" 'BEGIN {
	printf "malloc(64)+free pairs: %d, each run measured here, now\n", n
	printf "%-28s %12.0f pairs/s\n", "untraced", b
	printf "%-28s %12.0f pairs/s  ratio %.4f  +%.0f ns/pair\n", "memlens leaks -p", m, m / b, 1e9 / m - 1e9 / b
	printf "%-28s %12.0f pairs/s  ratio %.4f  +%.0f ns/pair\n", "  --sample-bytes 65536", s, s / b, 1e9 / s - 1e9 / b
	printf "%-28s %12.0f pairs/s  ratio %.4f  +%.0f ns/pair\n", "bpftrace (same bookkeeping)", t, t / b, 1e9 / t - 1e9 / b
	printf "memlens / bpftrace throughput: %.3f\n", m / t
}'
# The cost to everything else, measured alternately untraced and traced
# (3 rounds of 3 runs each way, the median of each side):
# - a null syscall in a process memlens does not trace, while memlens
#   leaks traces another one (the syscall tracepoints are global);
# - mmap + 16 page faults + munmap rounds under memlens top --no-uprobes,
#   which counts every process's syscalls and faults.
start_tracer() {
	"$@" >/dev/null 2>"$tmp/tracer.err" &
	tracer=$!
	wait_for "$tmp/tracer.err" "tracing"
}

stop_tracer() {
	kill -INT "$tracer"
	wait "$tracer"
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# alternate MEASURE TRACER...: prints "untraced traced" medians.
alternate() {
	local measure=$1 base=() traced=()
	shift
	for round in 1 2 3; do
		for i in 1 2 3; do base+=("$($measure)"); done
		start_tracer "$@"
		for i in 1 2 3; do traced+=("$($measure)"); done
		stop_tracer
	done
	echo "$(median "${base[@]}") $(median "${traced[@]}")"
}

syscall_ns() {
	build/syscallbench 1000000 | awk '{print $2}'
}

fault_rounds() {
	build/faultbench 20000 | awk '{print $2}'
}

sleep 3600 &
other=$!
read -r sys_base sys_traced < <(alternate syscall_ns ./memlens leaks -i 3600 -p "$other")
kill "$other"
read -r fb_base fb_traced < <(alternate fault_rounds ./memlens top --no-uprobes --json -i 3600)

awk -v b="$sys_base" -v t="$sys_traced" 'BEGIN {
	printf "null syscall, untraced process: %.1f ns alone, %.1f ns while memlens leaks traces another pid (ratio %.3f)\n", b, t, t / b
}'
awk -v b="$fb_base" -v t="$fb_traced" 'BEGIN {
	printf "mmap+16 faults+munmap rounds: %.0f/s untraced, %.0f/s under memlens top --no-uprobes (ratio %.3f)\n", b, t, t / b
}'

# memlens reclaim counts every page allocation of the host (mm_page_alloc):
# the same fault-heavy loop allocates 16 pages a round.
read -r rc_base rc_traced < <(alternate fault_rounds ./memlens reclaim --json -i 3600)
awk -v b="$rc_base" -v t="$rc_traced" 'BEGIN {
	printf "mmap+16 faults+munmap rounds: %.0f/s untraced, %.0f/s under memlens reclaim (ratio %.3f)\n", b, t, t / b
}'

# reclaim --stacks takes stacks where stalls begin, never on the page
# allocator's path: the same loop under each, alternately, in one run.
stacks_rounds() {
	local plain=() stacks=()
	for round in 1 2 3; do
		start_tracer ./memlens reclaim --json -i 3600
		for i in 1 2 3; do plain+=("$(fault_rounds)"); done
		stop_tracer
		start_tracer ./memlens reclaim --stacks --json -i 3600
		for i in 1 2 3; do stacks+=("$(fault_rounds)"); done
		stop_tracer
	done
	echo "$(median "${plain[@]}") $(median "${stacks[@]}")"
}
read -r rs_plain rs_stacks < <(stacks_rounds)
awk -v b="$rs_plain" -v t="$rs_stacks" 'BEGIN {
	printf "mmap+16 faults+munmap rounds: %.0f/s under memlens reclaim, %.0f/s under reclaim --stacks (ratio %.3f)\n", b, t, t / b
}'

# memlens kmem tracks every slab object of the host: a metadata-heavy loop
# (create, fstat, close, unlink) allocates and frees a dentry, an inode, a
# file and their LSM blobs a round.
# A fresh directory a run: negative dentries pile up in a used one.
fs_rounds() {
	local dir
	dir=$(mktemp -d "$tmp/fs.XXXXXX")
	build/fsbench "$dir" 20000 | awk '{print $2}'
	rmdir "$dir"
}
read -r km_base km_traced < <(alternate fs_rounds ./memlens kmem --json -i 3600)
awk -v b="$km_base" -v t="$km_traced" 'BEGIN {
	printf "create+fstat+close+unlink rounds: %.0f/s untraced, %.0f/s under memlens kmem (ratio %.3f)\n", b, t, t / b
}'
