#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of the stack unwinder of memlens leaks (bpf/unwind.bpf.h,
# user/unwind_table.c): leaks in code without frame pointers, and through
# libc (strdup), must be reported with their whole call chain, frame by
# frame (tests/workloads/unwind_leak.c). Needs root. Prints TAP-style lines
# and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

UNWIND_LEAK=$PWD/build/unwind_leak
UNWIND_LEAK_FP=$PWD/build/unwind_leak_fp
DSO_NOFP=$PWD/build/libdso_leak_nofp.so

# The chain below main, as glibc 2.36 (with libc6-dbg symbols) has it.
BELOW_MAIN="main __libc_start_call_main __libc_start_main@@GLIBC_2.34 _start"

# group REPORT FUNC: "groups allocations bytes" of the stacks whose first frame is FUNC.
group() {
	jq -r --arg f "$2" '[.stacks[] | select(.frames[0].symbol == $f)]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# chain REPORT FUNC: the symbols of the stack whose first frame is FUNC, in order.
chain() {
	jq -r --arg f "$2" '[.stacks[] | select(.frames[0].symbol == $f)][0]
		| [.frames[] | .symbol // "?"] | join(" ")' <<<"$1"
}

# The unwinder's counters, all of them: "unknown_pc no_row failed too_big dropped".
unwind_stats() {
	jq -r '.stats | "\(.unwind_unknown_pc) \(.unwind_no_row) \(.unwind_failed) \(.unwind_tables_too_big) \(.unwind_mappings_dropped)"' <<<"$1"
}

# The leaks of unwind_leak.c, each with its exact chain.
check_chains() {
	local name=$1 r=$2
	check_eq "$name: inner: 3 x 1000 bytes, one stack" "1 3 3000" "$(group "$r" inner)"
	check_eq "$name: inner's chain down to main and below" "inner middle outer $BELOW_MAIN" \
		"$(chain "$r" inner)"
	check_eq "$name: strdup (malloc inside libc): 2 x 24 bytes, one stack" "1 2 48" \
		"$(group "$r" __strdup)"
	check_eq "$name: strdup's chain through libc down to main" \
		"__strdup dup_name dups $BELOW_MAIN" "$(chain "$r" __strdup)"
	check_eq "$name: a thread's leak: 777 bytes" "1 1 777" "$(group "$r" thread_leak)"
	check_eq "$name: the thread's chain down to clone3" \
		"thread_leak thread_main start_thread __clone3" "$(chain "$r" thread_leak)"
	check_eq "$name: no stack cut short, no table left out" "0 0 0 0 0" "$(unwind_stats "$r")"
	check_eq "$name: no loss" "0 0 0 0" \
		"$(jq -r '.stats | "\(.stacks_map_full) \(.stack_failed) \(.stack_collision) \(.events_lost)"' <<<"$r")"
}

# Without frame pointers: the chains the frame-pointer walk cannot follow.
test_no_frame_pointers() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- "$UNWIND_LEAK" 2>"$tmp/nofp.err" | tail -n 1)
	check_eq "no frame pointers: leaked at exit" "true 0" \
		"$(jq -r '"\(.exited) \(.exit_status)"' <<<"$r")"
	check_chains "no frame pointers" "$r"
	# What the unwinder is for: the frame-pointer walk loses the callers.
	r=$("$MEMLENS" leaks --unwind fp --json -t 0 -- "$UNWIND_LEAK" 2>/dev/null | tail -n 1)
	check_eq "--unwind fp, no frame pointers: inner's callers are lost" "inner" \
		"$(chain "$r" inner)"
	check_eq "--unwind fp: strdup's caller is lost" "__strdup" "$(chain "$r" __strdup)"
}

# The same program with frame pointers: the same chains, table or not.
test_frame_pointers() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- "$UNWIND_LEAK_FP" 2>/dev/null | tail -n 1)
	check_chains "frame pointers" "$r"
	r=$("$MEMLENS" leaks --unwind fp --json -t 0 -- "$UNWIND_LEAK_FP" 2>/dev/null | tail -n 1)
	check_eq "--unwind fp, frame pointers: inner's chain, frame by frame, into libc" \
		"inner middle outer main __libc_start_call_main" "$(chain "$r" inner)"
}

# Deep chains: the frame-pointer walk takes four frames at a time
# (fp_walk(), fp_frames()), the table's walk one; a stack holds 127.
test_deep() {
	local r m deep21 n
	deep21=$(printf 'deep %.0s' {1..21})
	r=$("$MEMLENS" leaks --unwind fp --json -t 0 -- "$UNWIND_LEAK_FP" --deep 20 2>/dev/null | tail -n 1)
	check_eq "--unwind fp, 20 deep: every frame, once, in order" \
		"${deep21}main __libc_start_call_main" "$(chain "$r" deep_leak | sed 's/^deep_leak //')"
	r=$("$MEMLENS" leaks --json -t 0 -- "$UNWIND_LEAK_FP" --deep 20 2>/dev/null | tail -n 1)
	check_eq "tables, 20 deep: every frame, once, in order" "${deep21}$BELOW_MAIN" \
		"$(chain "$r" deep_leak | sed 's/^deep_leak //')"
	r=$("$MEMLENS" leaks --json -t 0 -- "$UNWIND_LEAK" --deep 20 2>/dev/null | tail -n 1)
	check_eq "tables, no frame pointers, 20 deep: every frame, once, in order" \
		"${deep21}$BELOW_MAIN" "$(chain "$r" deep_leak | sed 's/^deep_leak //')"
	for m in fp dwarf; do
		r=$("$MEMLENS" leaks --unwind $m --json -t 0 -- "$UNWIND_LEAK_FP" --deep 150 2>/dev/null |
			tail -n 1)
		n=$(jq -r '[.stacks[] | select(.frames[0].symbol == "deep_leak")][0]
			| "\(.allocations) \(.bytes) \(.frames | length) \([.frames[1:][] | .symbol] | unique)"' <<<"$r")
		check_eq "--unwind $m, 150 deep: the leak, its first 127 frames" \
			'1 555 127 ["deep"]' "$n"
	done
}

# A library without frame pointers loaded with dlopen, leaking at once:
# its table is in before its code runs (the command is held at the mmap).
test_dlopen() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- "$DLOPEN_EXIT" "$DSO_NOFP" 2>/dev/null | tail -n 1)
	check_eq "dlopen: 3 x 512 bytes in the library" "1 3 1536" "$(group "$r" leak_in_dso)"
	check_eq "dlopen: the chain through the library down to main" "leak_in_dso $BELOW_MAIN" \
		"$(chain "$r" leak_in_dso)"
	check_eq "dlopen: no stack cut short" "0 0 0 0 0" "$(unwind_stats "$r")"
}

# Code in an anonymous executable mapping (a JIT): the stack stops there, counted.
test_jit() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- "$UNWIND_LEAK" --jit 2>/dev/null | tail -n 1)
	check_eq "jit: malloc(4242) from generated code: one stack" "1 1 4242" \
		"$(jq -r '[.stacks[] | select(.bytes == 4242)]
			| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$r")"
	check_eq "jit: the stack stops at the generated code, in no module" "1 null" \
		"$(jq -r '[.stacks[] | select(.bytes == 4242)][0].frames | "\(length) \(.[0].module)"' <<<"$r")"
	check_eq "jit: counted as an unknown pc, nothing else" "1 0 0 0 0" "$(unwind_stats "$r")"
	check_eq "jit: the other chains as before" "inner middle outer $BELOW_MAIN" \
		"$(chain "$r" inner)"
}

# A table that does not fit: that module is walked by frame pointer, counted and shown.
test_too_big() {
	local r text
	# 100 rows: unwind_leak's own table fits, ld.so's and libc's do not.
	r=$("$MEMLENS" leaks --json -t 0 --unwind-rows 100 -- "$UNWIND_LEAK" 2>"$tmp/big.err" |
		tail -n 1)
	check_eq "--unwind-rows 100: ld.so's and libc's tables too big" 2 \
		"$(jq .stats.unwind_tables_too_big <<<"$r")"
	check_eq "--unwind-rows 100: the program's own frames still unwound" "inner middle outer main" \
		"$(chain "$r" inner | cut -d' ' -f1-4)"
	check "--unwind-rows 100: said at load" grep -q "needs [0-9]* rows, .* left (raise --unwind-rows)" \
		"$tmp/big.err"
	text=$("$MEMLENS" leaks -t 0 --unwind-rows 100 -- "$UNWIND_LEAK" 2>/dev/null)
	check "--unwind-rows 100: the text report says so" grep -q \
		"LOST: 2 modules walked by frame pointer: unwind table full (raise --unwind-rows)" \
		<<<"$text"
}

# Attached to a running process: its tables are read before the first stack.
test_attach_pid() {
	local out=$tmp/pid.json log=$tmp/unwind.out
	start_waiting "$log" "$UNWIND_LEAK" --wait || { not_ok "-p: workload did not start"; return; }
	start_memlens "$out" "tracing pid $work_pid" leaks -p "$work_pid" --json -t 0 -i 3600 ||
		{ not_ok "-p: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "-p: workload did not finish"; return; }
	work_exit
	wait "$memlens_pid"
	check_chains "-p" "$(tail -n 1 "$out")"
}

test_errors() {
	expect_error "--unwind with a bad mode" 2 "memlens: leaks: --unwind is dwarf or fp, not 'lr'" \
		"$MEMLENS_BIN" leaks --unwind lr -- "$UNWIND_LEAK"
	expect_error "--unwind-rows 0" 2 "memlens: leaks: --unwind-rows must be at least 1" \
		"$MEMLENS_BIN" leaks --unwind-rows 0 -- "$UNWIND_LEAK"
	expect_error "--unwind-rows with fp" 2 \
		"memlens: leaks: --unwind-rows sizes the tables of --unwind dwarf, not fp" \
		"$MEMLENS_BIN" leaks --unwind fp --unwind-rows 8 -- "$UNWIND_LEAK"
}

require_root_and_build e2e-unwind
for f in "$UNWIND_LEAK" "$UNWIND_LEAK_FP" "$DSO_NOFP"; do
	[ -e "$f" ] || {
		echo "e2e-unwind: $f missing: build first (make e2e)" >&2
		exit 1
	}
done

test_no_frame_pointers
test_frame_pointers
test_deep
test_dlopen
test_jit
test_too_big
test_attach_pid
test_errors

finish e2e-unwind
