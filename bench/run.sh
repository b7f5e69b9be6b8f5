#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Overhead of memlens leaks on malloc+free, measured in one run:
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

# Every other process pays for the syscall hooks (tp_btf sys_enter/exit):
# a null syscall in a process memlens does not trace, without and with
# memlens attached to another one. Median of 5 runs each.
syscall_ns() {
	for i in 1 2 3 4 5; do build/syscallbench 1000000 | awk '{print $2}'; done | sort -n | sed -n 3p
}
sys_base=$(syscall_ns)
sleep 600 &
other=$!
./memlens leaks -i 3600 -p "$other" >/dev/null 2>"$tmp/other.err" &
mpid=$!
wait_for "$tmp/other.err" "tracing pid $other"
sys_traced=$(syscall_ns)
kill -INT "$mpid"
wait "$mpid"
kill "$other"

base=$("$BENCH" "$PAIRS" | awk '{print $2}')
memlens=$(traced memlens_tracer)
bpftrace=$(traced bpftrace_tracer)

awk -v n="$PAIRS" -v b="$base" -v m="$memlens" -v t="$bpftrace" 'BEGIN {
	printf "malloc(64)+free pairs: %d, each run measured here, now\n", n
	printf "%-28s %12.0f pairs/s\n", "untraced", b
	printf "%-28s %12.0f pairs/s  ratio %.4f  +%.0f ns/pair\n", "memlens leaks -p", m, m / b, 1e9 / m - 1e9 / b
	printf "%-28s %12.0f pairs/s  ratio %.4f  +%.0f ns/pair\n", "bpftrace (same bookkeeping)", t, t / b, 1e9 / t - 1e9 / b
	printf "memlens / bpftrace throughput: %.3f\n", m / t
}'
awk -v b="$sys_base" -v t="$sys_traced" 'BEGIN {
	printf "null syscall, untraced process: %.1f ns alone, %.1f ns while memlens traces another pid (ratio %.3f)\n", b, t, t / b
}'
