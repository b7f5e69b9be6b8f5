#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Cost of the DWARF unwinder against the frame-pointer walk, per
# malloc+free pair: build/unwindbench (frame pointers, so that both walks
# see the same DEPTH frames in the program; libc below main only the
# unwinder follows) under `memlens leaks -p --unwind fp` and under
# `--unwind dwarf`, each run measured here, now. Prints pairs/s, the ns
# each tracer adds per pair over the untraced run, and the ratio of the
# two added costs (dwarf / fp). Uprobe traps (several us here) dominate
# those, so it also prints what the stack capture itself costs: the run
# time of the uretprobe program that takes the stack (alloc_return), per
# run, from the kernel's BPF statistics (kernel.bpf_stats_enabled is set
# for the run and restored). Run it on an idle machine: other tests
# running at the same time make the figures meaningless.
set -u
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-100000}
DEPTH=${DEPTH:-10}
BENCH=$PWD/build/unwindbench
tmp=$(mktemp -d /tmp/memlens-unwindbench.XXXXXX)
stats_was=$(sysctl -n kernel.bpf_stats_enabled)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1

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

# alloc_return_ids: ids of the loaded alloc_return programs, one a line.
alloc_return_ids() {
	bpftool prog show -j | jq -r '.[] | select(.name == "alloc_return") | .id' | sort
}

# prog_ns ID: ns per run of program ID ("nan" if it never ran).
prog_ns() {
	bpftool prog show id "$1" -j | jq -r \
		'if (.run_cnt // 0) == 0 then "nan" else .run_time_ns / .run_cnt end'
}

# traced MODE: "pairs/s ns-per-alloc_return" of the benchmark under
# memlens leaks --unwind MODE.
traced() {
	local mode=$1 pid tpid
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	exec 3<>"$tmp/in"
	"$BENCH" "$PAIRS" "$DEPTH" --wait <&3 >"$tmp/bench.out" &
	pid=$!
	wait_for "$tmp/bench.out" ready
	alloc_return_ids >"$tmp/ids.before"
	./memlens leaks --unwind "$mode" -i 3600 --json -p "$pid" >"$tmp/trace.out" 2>"$tmp/trace.err" &
	tpid=$!
	wait_for "$tmp/trace.err" "tracing pid $pid"
	# Ours is the one that was not there before (other memlens may run).
	alloc_return_ids | comm -13 "$tmp/ids.before" - >"$tmp/ids.new"
	echo go >&3
	wait "$pid"
	ns=nan
	[ "$(wc -l <"$tmp/ids.new")" -eq 1 ] && ns=$(prog_ns "$(cat "$tmp/ids.new")")
	kill -INT "$tpid"
	wait "$tpid"
	exec 3>&-
	echo "$(awk '/pairs_per_sec/ {print $2}' "$tmp/bench.out") $ns"
}

base=$("$BENCH" "$PAIRS" "$DEPTH" | awk '{print $2}')
fp=$(traced fp)
dwarf=$(traced dwarf)

read -r fp fp_ns <<<"$fp"
read -r dwarf dwarf_ns <<<"$dwarf"
awk -v n="$PAIRS" -v d="$DEPTH" -v b="$base" -v f="$fp" -v w="$dwarf" \
    -v fns="$fp_ns" -v wns="$dwarf_ns" 'BEGIN {
	printf "malloc(64)+free pairs: %d at depth %d, each run measured here, now\n", n, d
	printf "%-32s %12.0f pairs/s\n", "untraced", b
	printf "%-32s %12.0f pairs/s  +%.0f ns/pair\n", "memlens leaks --unwind fp", f, 1e9 / f - 1e9 / b
	printf "%-32s %12.0f pairs/s  +%.0f ns/pair\n", "memlens leaks --unwind dwarf", w, 1e9 / w - 1e9 / b
	printf "time per traced pair, dwarf / fp: %.3f\n", (1e9 / w) / (1e9 / f)
	printf "added cost per pair, dwarf / fp: %.3f\n", (1e9 / w - 1e9 / b) / (1e9 / f - 1e9 / b)
	printf "stack capture (alloc_return, BPF run time): fp %.0f ns, dwarf %.0f ns, dwarf / fp %.2f\n",
		fns, wns, wns / fns
}'
