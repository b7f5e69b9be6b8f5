#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of stacks that never lie: a frame-pointer walk (--unwind
# fp) through -O2 code that keeps pointers to data in rbp reads text and
# pointers to data for return addresses (tests/workloads/rbp_leak.c). No
# frame in a report may be outside an executable mapping of the process:
# such a walk is cut there, counted as stack_not_code, and the stacks that
# become one are one group, to the byte. Needs root. Prints TAP-style lines
# and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

RBP_LEAK=$PWD/build/rbp_leak

# fill_lists REPORT: "groups allocations bytes frames" of the stacks whose first frame is fill_lists.
fill_lists() {
	jq -r '[.stacks[] | select(.frames[0].symbol == "fill_lists")]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0) \(.[0].frames | length)"' \
		<<<"$1"
}

# not_code MAPS REPORT: the frames of REPORT whose return address (its byte
# before: the call) is in no executable mapping of MAPS, one a line.
not_code() {
	jq -r '.stacks[].frames[].addr' <<<"$2" | python3 -c '
import sys
code = []
for line in open(sys.argv[1]):
	f = line.split()
	if "x" in f[1]:
		lo, hi = (int(x, 16) for x in f[0].split("-"))
		code.append((lo, hi))
for a in sys.stdin:
	ip = int(a, 16)
	if not any(lo <= ip - 1 < hi for lo, hi in code):
		print(a.strip())
' "$1"
}

# The leak, exactly: 3 x 1000 bytes from one call site, three walks cut to one stack.
check_leak() {
	local name=$1 r=$2
	check_eq "$name: fill_lists: 3 x 1000 bytes, one stack of one frame" "1 3 3000 1" \
		"$(fill_lists "$r")"
	check_eq "$name: three walks cut short, counted" 3 "$(jq .stats.stack_not_code <<<"$r")"
	check_eq "$name: every frame in a module" "true" \
		"$(jq '[.stacks[].frames[] | .module != null] | all' <<<"$r")"
	check_eq "$name: stacks and totals add up" "true" \
		"$(jq '.stacks_total == (.stacks | length) and
			.outstanding_bytes == (.stacks | map(.bytes) | add) and
			.outstanding_allocations == (.stacks | map(.allocations) | add)' <<<"$r")"
	check_eq "$name: no loss" "0 0 0 0" \
		"$(jq -r '.stats | "\(.stacks_map_full) \(.stack_failed) \(.stack_collision) \(.events_lost)"' <<<"$r")"
}

# Attached by pid: its maps read while it waits, every frame checked against them.
test_attach_pid() {
	local out=$tmp/pid.json log=$tmp/rbp.out maps=$tmp/rbp.maps r live
	start_waiting "$log" "$RBP_LEAK" --wait || { not_ok "-p: workload did not start"; return; }
	cp "/proc/$work_pid/maps" "$maps"
	start_memlens "$out" "tracing pid $work_pid" leaks -p "$work_pid" --unwind fp --json -t 0 \
		-i 3600 || { not_ok "-p: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "-p: workload did not finish"; return; }
	work_exit
	wait "$memlens_pid"
	r=$(tail -n 1 "$out")
	check_eq "-p: leaked at exit" "true 0" "$(jq -r '"\(.exited) \(.exit_status)"' <<<"$r")"
	check_eq "-p: no frame outside an executable mapping" "" "$(not_code "$maps" "$r")"
	check_eq "-p: the frame is fill_lists' call of malloc" "fill_lists rbp_leak.c" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol == "fill_lists")][0].frames[0]
			| "\(.symbol) \(.file | split("/") | last)"' <<<"$r")"
	check_leak "-p" "$r"
}

# A command: the same, and the text report says what was cut.
test_command() {
	local r text
	r=$("$MEMLENS" leaks --unwind fp --json -t 0 -- "$RBP_LEAK" 2>/dev/null | tail -n 1)
	check_leak "-- CMD" "$r"
	text=$("$MEMLENS" leaks --unwind fp -t 0 -- "$RBP_LEAK" 2>/dev/null)
	check "-- CMD: text: the counter" grep -q " stack_not_code=3 " <<<"$text"
	check "-- CMD: text: the LOST line" grep -qx \
		"LOST: 3 stacks cut short: a return address in no executable mapping (code without frame pointers)" \
		<<<"$text"
	check "-- CMD: text: no [unknown] frame" bash -c '! grep -q "\[unknown\]" <<<"$1"' _ "$text"
	check_eq "-- CMD: folded: one line for fill_lists" "rbp_leak;fill_lists 3000" \
		"$("$MEMLENS" leaks --unwind fp --folded -- "$RBP_LEAK" 2>/dev/null | grep fill_lists)"
}

# Recorded, then rendered where the process is gone: the same stacks and counter.
test_recording() {
	local rec=$tmp/rbp.mlr r
	"$MEMLENS" record --unwind fp -o "$rec" -- "$RBP_LEAK" 2>/dev/null
	r=$("$MEMLENS" report --json -t 0 "$rec" 2>/dev/null | tail -n 1)
	check_leak "record, report" "$r"
}

# rbp into .bss, below the stack pointer: the walk goes down once (as to
# a goroutine's stack from cgo's C code), reads the lists there, and the
# frames that are not code are cut as on the stack.
test_below_sp() {
	local r
	r=$("$MEMLENS" leaks --unwind fp --json -t 0 -- "$RBP_LEAK" --global 2>/dev/null | tail -n 1)
	check_leak "rbp below sp" "$r"
}

require_root_and_build e2e-stacks
[ -x "$RBP_LEAK" ] || {
	echo "e2e-stacks: $RBP_LEAK missing: build first (make e2e)" >&2
	exit 1
}

test_attach_pid
test_command
test_recording
test_below_sp

finish e2e-stacks
