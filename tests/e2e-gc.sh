#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of the stack map's reclaim: stacks no outstanding block
# refers to leave the map, so that a long memlens leaks keeps room for new
# ones (a leak late in a run still has its stack) and memlens' memory stays
# bounded. tests/workloads/stack_churn.c allocates from hundreds to
# hundreds of thousands of distinct stacks, then leaks from leak_again()
# (a stack reclaimed halfway, then taken again) and leak_late(). Needs
# root. Prints TAP-style lines and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

CHURN=$PWD/build/stack_churn

# leak FUNC REPORT: "groups allocations bytes" of the stacks whose first frame is FUNC.
leak() {
	jq -r --arg f "$1" '[.stacks[] | select(.frames[0].symbol == $f)]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$2"
}

# check_leaks NAME REPORT: both leaks, to the byte, each under its stack; no stack lost.
check_leaks() {
	local name=$1 r=$2
	check_eq "$name: leak_late: 5 x 4096 bytes, one stack" "1 5 20480" "$(leak leak_late "$r")"
	check_eq "$name: leak_again: 3 x 2048 bytes, one stack" "1 3 6144" "$(leak leak_again "$r")"
	check_eq "$name: no stack lost (stack not captured)" 0 \
		"$(jq '[.stacks[] | select(.frames | length == 0)] | length' <<<"$r")"
	check_eq "$name: stacks_map_full, stack_failed, stack_collision" "0 0 0" \
		"$(jq -r '.stats | "\(.stacks_map_full) \(.stack_failed) \(.stack_collision)"' <<<"$r")"
}

# VmRSS of process PID in kB.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# leaks -p through 320 distinct stacks (5 maps' worth), 25 a second, in a
# map of 64: each goes within two rounds of its block's free, and the map
# holds what comes in meanwhile, should memlens lag by two seconds on a
# busy machine. 321 stacks go: the 320, and leak_again's, freed halfway
# (it is stored again after).
test_attach_pid() {
	local out=$tmp/pid.json log=$tmp/churn.out r
	start_waiting "$log" "$CHURN" --wait 320 5 200 8
	start_memlens "$out" "tracing pid" leaks --max-stacks 64 -i 0.2 --json -p "$work_pid"
	work_go "$log"
	r=$(next_report "$out")
	work_exit
	stop_memlens
	check_leaks "-p, --max-stacks 64" "$r"
	check_eq "-p, --max-stacks 64: stacks_reclaimed, every stack no block refers to" 321 \
		"$(jq .stats.stacks_reclaimed <<<"$r")"
}

# A recording of the same: leak_again's stack, reclaimed and taken again,
# is one stack of the recording (a second definition would be refused),
# named by the snapshots before and after it was reclaimed.
test_record() {
	local rec=$tmp/churn.rec log=$tmp/churn-rec.out r first
	start_waiting "$log" "$CHURN" --wait 320 5 200 8
	start_memlens "$tmp/rec.out" "recording pid" record -o "$rec" --max-stacks 64 -i 0.2 \
		-p "$work_pid"
	work_go "$log"
	work_exit
	wait "$memlens_pid"
	check "record: exit status 0" [ $? -eq 0 ]
	r=$("$MEMLENS" report --json "$rec" 2>"$tmp/report.err")
	check "record: memlens report reads it" [ -n "$r" ]
	check_leaks "record, last snapshot" "$r"
	check_eq "record: stacks_reclaimed, every stack no block refers to" 321 \
		"$(jq .stats.stacks_reclaimed <<<"$r")"
	# Snapshot by snapshot (those before "go" have nothing): there, gone, there again.
	check_eq "record: leak_again in the snapshots: 3 x 2048, none, 3 x 2048" \
		"1 3 6144,0 0 0,1 3 6144," \
		"$("$MEMLENS" report --all --json "$rec" | while read -r snap; do leak leak_again "$snap"; done |
			uniq | sed '1{/^0 0 0$/d}' | tr '\n' ,)"
}

# Accelerated: 300000 distinct stacks (a day of a service's new stacks),
# as fast as the unwinder takes them (some 10000 a second), 256 blocks
# outstanding at a time, in a map that never fills (524288: without
# reclaim every stack would stay). memlens keeps taking stacks, and every
# one of them is reclaimed (and leak_again's first): each is stored once
# and goes once, two rounds after its block's free (the 2 s pause is 20
# intervals), and one put back is not counted. Its RSS, read at half,
# three quarters and the end of the churn (limbo full long before, at 2
# MB), grows by less than 1024 kB over those 150000 stacks: 7 bytes a
# stack, where keeping each one's frames would cost 1 kB or more. Not
# read after the pause: the last stacks going at once may leave a peak
# behind (allocator fragmentation), once, whatever the number of stacks.
test_rss() {
	local out=$tmp/rss.json log=$tmp/rss.out r pid rss_half rss_q3 rss_end rss_done
	start_waiting "$log" "$CHURN" --wait 300000 1000 20 256
	start_memlens "$out" "tracing pid" leaks --max-stacks 524288 -i 0.1 --json -p "$work_pid"
	pid=$(pgrep -P "$memlens_pid" -x memlens)
	echo go >&8
	wait_for "$log" half 60
	rss_half=$(rss_kb "$pid")
	wait_for "$log" q3 60
	rss_q3=$(rss_kb "$pid")
	wait_for "$log" churned 60
	rss_end=$(rss_kb "$pid")
	wait_for "$log" done 60
	rss_done=$(rss_kb "$pid")
	r=$(next_report "$out")
	work_exit
	stop_memlens
	echo "# memlens VmRSS: ${rss_half} kB halfway, ${rss_q3} kB at 3/4, ${rss_end} kB at the end of the churn, ${rss_done} kB after the pause"
	check "300000 stacks: memlens' RSS grows by less than 1024 kB from half to the end of the churn" \
		[ $((rss_end - rss_half)) -lt 1024 ]
	check "300000 stacks: ... and by less than 512 kB in the last quarter" \
		[ $((rss_end - rss_q3)) -lt 512 ]
	check_leaks "300000 stacks" "$r"
	check_eq "300000 stacks: stacks_reclaimed, every stack no block refers to" 300001 \
		"$(jq .stats.stacks_reclaimed <<<"$r")"
	check_eq "300000 stacks: stack_reclaimed_early" 0 "$(jq .stats.stack_reclaimed_early <<<"$r")"
}

test_attach_pid
test_record
test_rss

echo "e2e-gc: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
