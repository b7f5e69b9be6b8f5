#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of the fallbacks for older kernels, on this one:
# MEMLENS_DISABLE makes memlens act as if the kernel lacked a feature
# (user/kfeatures.h). Without uprobe_multi (before 6.6) every allocator
# function is its own classic uprobe: the key exact checks of e2e-leaks,
# e2e-allocators and e2e-top must come out the same. And a run that hooks
# no allocator is an error, on any kernel. Needs root. Prints TAP-style
# lines and "compat: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

CXXLEAK=$PWD/build/cxxleak
# memops under a name of this run's own, for the system-wide top.
NAME=cm-$$
FALLBACK_MSG="memlens: uprobe_multi disabled by MEMLENS_DISABLE: one uprobe per function"

require_root_and_build compat
[ -x "$CXXLEAK" ] || { echo "compat: $CXXLEAK missing: build first (make e2e)" >&2; exit 1; }
# The DWARF unwinder is another suite's matter: frame pointers here.
UNWIND=(--unwind fp)

# group REPORT FUNC: "allocations bytes" of the stacks through FUNC.
group() {
	jq -r --arg f "$2" '[.stacks[] | select(any(.frames[]; .symbol == $f))]
		| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# clean REPORT: what must be 0 when every call is seen once, entry and return.
clean() {
	jq -r '.stats | "\(.replaced) \(.missed_return) \(.events_lost)"' <<<"$1"
}

# links PID TYPE: how many BPF links of TYPE ("perf", "uprobe_multi", ...)
# process PID holds (or its memlens child: it runs under timeout(1)).
links() {
	local pid=$1 child
	child=$(pgrep -P "$pid" -x memlens | head -n 1)
	grep -hx "link_type:	$2" /proc/"${child:-$pid}"/fdinfo/* 2>/dev/null | wc -l
}

# The leaks of leaky.c, exactly, with the exit hold and the failed calls.
check_leaky() {
	local name=$1 r=$2
	check_eq "$name: all leak_* stacks: 13 blocks, 1156488 bytes" "13 1156488" "$(leaked "$r")"
	check_eq "$name: leak_here: 7 blocks, 28672 bytes" "7 28672" "$(group "$r" leak_here)"
	check_eq "$name: calloc and realloc" "1 3000 1 2000" \
		"$(group "$r" leak_calloc) $(group "$r" leak_realloc)"
	check_eq "$name: posix_memalign, through its own return probe" "1 512" \
		"$(group "$r" leak_aligned)"
	check_eq "$name: nothing freed is reported" "0 0" "$(group "$r" churn)"
	check_eq "$name: failed allocations counted" 60 "$(jq .stats.alloc_failed <<<"$r")"
	check_eq "$name: nothing replaced, missed or lost" "0 0 0" "$(clean "$r")"
}

test_command() {
	local out=$tmp/cmd.json err=$tmp/cmd.err rc r
	MEMLENS_DISABLE=uprobe_multi "$MEMLENS" leaks "${UNWIND[@]}" --json -t 0 -- "$LEAKY" \
		>"$out" 2>"$err"
	rc=$?
	r=$(tail -n 1 "$out")
	check_eq "no uprobe_multi, leaks -- CMD: exit code" 0 "$rc"
	check_eq "no uprobe_multi: said once, in one line" 1 "$(grep -cxF "$FALLBACK_MSG" "$err")"
	check_eq "no uprobe_multi, leaks -- CMD: report at exit, status 0" "true 0" \
		"$(jq -r '"\(.exited) \(.exit_status)"' <<<"$r")"
	check_leaky "no uprobe_multi, leaks -- CMD" "$r"
}

# Attached to a running leaky: a live report, classic links only, then
# the leaked-at-exit report.
test_attach_pid() {
	local out=$tmp/pid.json log=$tmp/leaky.out pid live final rc name="no uprobe_multi, leaks -p"
	start_waiting "$log" "$LEAKY" --wait || { not_ok "$name: workload did not start"; return; }
	pid=$work_pid
	MEMLENS_DISABLE=uprobe_multi start_memlens "$out" "tracing pid $pid" \
		leaks "${UNWIND[@]}" -p "$pid" --json -t 0 -i 0.2 ||
		{ not_ok "$name: memlens did not attach" "$(cat "$out.err")"; return; }
	# libc's 9 entries (aligned_alloc is memalign) and 8 returns, beside
	# the syscall tracepoints' perf links.
	check_eq "$name: no uprobe_multi link" "0 0" \
		"$(links "$memlens_pid" uprobe_multi) $(links "$memlens_pid" uretprobe_multi)"
	check "$name: a perf-event link per function instead" \
		test "$(links "$memlens_pid" perf)" -ge 17
	work_go "$log" || { not_ok "$name: workload did not finish"; return; }
	live=$(next_report "$out")
	check_eq "$name: live report, process running" false "$(jq .exited <<<"$live")"
	check_leaky "$name live" "$live"
	work_exit
	wait "$memlens_pid"
	rc=$?
	check_eq "$name: exits 0 when the process exits" 0 "$rc"
	final=$(tail -n 1 "$out")
	check_eq "$name: final report is leaked-at-exit" "true 0" \
		"$(jq -r '"\(.exited) \(.exit_status)"' <<<"$final")"
	check_leaky "$name at exit" "$final"
}

# A library dlopen'd just before exit: hooked later, and its leak resolved
# because the command is held at _exit.
test_dlopen_exit() {
	local out=$tmp/dl.json err=$tmp/dl.err rc r name="no uprobe_multi, dlopen then exit"
	MEMLENS_DISABLE=uprobe_multi "$MEMLENS" leaks "${UNWIND[@]}" --json -v -- "$DLOPEN_EXIT" "$DSO" \
		>"$out" 2>"$err"
	rc=$?
	r=$(tail -n 1 "$out")
	check_eq "$name: exit code" 0 "$rc"
	check_eq "$name: 3 x 512 bytes from leak_in_dso" "3 1536" "$(group "$r" leak_in_dso)"
	check "$name: held at _exit while its maps were read" \
		grep -q "held at _exit to read its maps" "$err"
}

# C++: libstdc++'s operator new and delete, and libc, each function its uprobe.
test_cxx() {
	local out=$tmp/cxx.json err=$tmp/cxx.err rc r name="no uprobe_multi, C++"
	MEMLENS_DISABLE=uprobe_multi "$MEMLENS" leaks "${UNWIND[@]}" --json -t 0 -- "$CXXLEAK" \
		>"$out" 2>"$err"
	rc=$?
	r=$(tail -n 1 "$out")
	check_eq "$name: exit code" 0 "$rc"
	check_eq "$name: new Foo x5, new int[25] x3, aligned new x2, nothrow new x4, malloc x2" \
		"5 240 3 300 2 256 4 192 2 600" \
		"$(for f in "leak_objects()" "leak_arrays()" "leak_aligned()" "leak_nothrow()" \
			leak_malloc; do group "$r" "$f"; done | xargs)"
	check_eq "$name: churn() freed all it allocated" "0 0" "$(group "$r" "churn()")"
	check_eq "$name: libstdc++ and libc hooked" 2 "$(grep -c "allocator hooked" "$err")"
	check_eq "$name: counted once: nothing replaced, unknown or missed" "0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.free_unknown) \(.missed_return)"' <<<"$r")"
}

# memops (tests/e2e-top.sh): 100 x malloc(100) and free, 4 mmaps of 64 KiB.
test_top_hist() {
	local top=$tmp/top.json hist=$tmp/hist.json tpid hpid mpid fd row n name="no uprobe_multi, top"
	mkfifo "$tmp/memops.in"
	exec {fd}<>"$tmp/memops.in"
	cp "$MEMOPS" "$tmp/$NAME"
	"$tmp/$NAME" 100 100 3 8192 4 65536 10 0 none <&$fd >"$tmp/memops.log" &
	pids+=($!)
	mpid=$!
	wait_for "$tmp/memops.log" ready || { not_ok "$name: memops did not start"; return; }
	MEMLENS_DISABLE=uprobe_multi "$MEMLENS" top --json -i 0.2 -c "$NAME" >"$top" 2>"$tmp/top.err" &
	tpid=$!
	pids+=("$tpid")
	MEMLENS_DISABLE=uprobe_multi "$MEMLENS" hist --json -c "$NAME" >"$hist" 2>"$tmp/hist.err" &
	hpid=$!
	pids+=("$hpid")
	if ! wait_for "$tmp/top.err" "tracing processes named $NAME" || ! wait_for "$tmp/hist.err" "tracing"; then
		not_ok "$name: memlens did not start" "$(cat "$tmp/top.err" "$tmp/hist.err")"
		return
	fi
	check_eq "$name: said once" 1 "$(grep -cxF "$FALLBACK_MSG" "$tmp/top.err")"
	echo go >&$fd
	wait_for "$tmp/memops.log" done || { not_ok "$name: memops did not finish"; return; }
	n=$(grep -c '"type":"memlens"' "$top")
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '"type":"memlens"' "$top")" -ge $((n + 2)) ] && break
		sleep 0.1
	done
	row=$(jq -c --argjson p "$mpid" 'select(.type == "process" and .pid == $p)' "$top" | tail -n 1)
	check_eq "$name: malloc calls and bytes, frees, none failed" "100 10000 100 10000 0" \
		"$(jq -r '.totals | "\(.allocs) \(.alloc_bytes) \(.frees) \(.free_bytes) \(.alloc_failed)"' <<<"$row")"
	check_eq "$name: anonymous mmaps" "4 262144" \
		"$(jq -r '.totals | "\(.mmap) \(.mmap_bytes)"' <<<"$row")"
	kill -INT "$hpid"
	wait "$hpid"
	check_eq "no uprobe_multi, hist: 100 allocations of 100 bytes" "100 64-127:100" \
		"$(jq -r --argjson p "$mpid" 'select(.type == "hist" and .pid == $p and .kind == "alloc_size")
			| "\(.total) " + ([.buckets[] | select(.count > 0) | "\(.low)-\(.high):\(.count)"]
			| join(" "))' "$hist" | tail -n 1)"
	echo exit >&$fd
	wait "$mpid"
	exec {fd}>&-
	kill -INT "$tpid"
	wait "$tpid"
	check_eq "$name: exit code after SIGINT" 0 "$?"
}

# A command with no allocator to hook and no dynamic loader to map one
# (static, stripped): an error, not a report of its mmaps. It goes on
# untraced, as after any error of a started command.
test_no_allocator() {
	local mode=$1 out=$tmp/none.json err=$tmp/none.err rec=$tmp/none.rec rc child
	local name="no allocator, -- CMD${mode:+ ($mode)}"
	# Two reports at most: the old behaviour ends too, but with exit 0.
	MEMLENS_DISABLE=$mode "$MEMLENS" leaks "${UNWIND[@]}" --json -i 0.5 -n 2 -- "$STATIC" \
		>"$out" 2>"$err"
	rc=$?
	child=$(sed -n 's/^memlens: pid \([0-9]*\) continues untraced$/\1/p' "$err")
	[ -n "$child" ] && kill "$child"
	check_eq "$name: exit code" 1 "$rc"
	check_eq "$name: message" \
		"memlens: pid $child maps no allocator (no malloc or operator new symbol): use --allocator PATH" \
		"$(grep -v -e '^memlens: tracing pid' -e 'continues untraced$' -e 'one uprobe per function$' "$err")"
	check_eq "$name: no report" "" "$(cat "$out")"
	MEMLENS_DISABLE=$mode "$MEMLENS" record "${UNWIND[@]}" -i 0.5 -n 2 -o "$rec" -- "$STATIC" \
		>/dev/null 2>"$err"
	rc=$?
	child=$(sed -n 's/^memlens: pid \([0-9]*\) continues untraced$/\1/p' "$err")
	[ -n "$child" ] && kill "$child"
	check_eq "$name: record: exit code, no file left" "1 no file" \
		"$rc $([ -e "$rec" ] && echo file || echo no file)"
}

# As on a 5.10 kernel: no task storage or bpf_get_current_task_btf (a
# per-CPU scratch buffer), no bpf_task_pt_regs (registers from the task's
# stack: the mmap leak's caller is found through them), and no
# uprobe_multi, no BPF atomics (every block in the map, and the return
# program built without the table). The default mode: the DWARF unwinder, which needs none of
# them, and finds glibc's frames below start_thread that frame pointers
# do not.
test_as_on_5_10() {
	local out=$tmp/old.json err=$tmp/old.err rc r name="as on 5.10"
	MEMLENS_DISABLE=uprobe_multi,task_storage,task_btf,task_pt_regs,bpf_atomics \
		"$MEMLENS" leaks --json -t 0 -- "$LEAKY" >"$out" 2>"$err"
	rc=$?
	r=$(tail -n 1 "$out")
	check_eq "$name: exit code" 0 "$rc"
	check_eq "$name: one uprobe per function, said once" 1 "$(grep -cxF "$FALLBACK_MSG" "$err")"
	check_eq "$name: the unwinder's stacks, through libc's clone3" 1 \
		"$(jq '[.stacks[] | select(.frames[0].symbol == "leak_calloc")
			| select(any(.frames[]; .symbol == "__clone3"))] | length' <<<"$r")"
	check_leaky "$name" "$r"
	check_eq "$name: leak_mmap_head's mapping, its caller from the task's registers" "1 8192" \
		"$(group "$r" leak_mmap_head)"
}

# The verifier's CPU deadline per program (MEMLENS_VERIFY_DEADLINE_MS, for
# emulated CPUs): 1 ms is too little for alloc_return or any program its
# size, and the load ends with one line; a value that is no number of
# milliseconds is warned about and the default kept.
test_verify_deadline() {
	local rc
	MEMLENS_VERIFY_DEADLINE_MS=1 "$MEMLENS" leaks "${UNWIND[@]}" -- "$LEAKY" \
		>/dev/null 2>"$tmp/deadline.err"
	rc=$?
	check_eq "verifier deadline of 1 ms: exit code" 1 "$rc"
	check "verifier deadline of 1 ms: one line naming the program" grep -Eqx \
		"memlens: cannot load BPF programs: the verifier spent over 1 ms of CPU on [a-z_0-9]+\(\) \(run with -v for its log\)" \
		"$tmp/deadline.err"
	MEMLENS_VERIFY_DEADLINE_MS=1ms "$MEMLENS" leaks "${UNWIND[@]}" --json -- "$LEAKY" \
		>/dev/null 2>"$tmp/deadline.err"
	rc=$?
	check_eq "verifier deadline '1ms': exit code" 0 "$rc"
	check "verifier deadline '1ms': warned, the default kept" grep -qx \
		"memlens: invalid MEMLENS_VERIFY_DEADLINE_MS '1ms': milliseconds, 1 to 3600000; 1000 used" \
		"$tmp/deadline.err"
}

test_command
test_verify_deadline
test_as_on_5_10
test_attach_pid
test_dlopen_exit
test_cxx
test_top_hist
test_no_allocator uprobe_multi
test_no_allocator ""
finish compat
