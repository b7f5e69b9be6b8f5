#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of the reachability scan (memlens leaks --scan): graphs
# of blocks whose class is known (tests/workloads/reach_graphs.c), each
# class asserted exactly, in blocks and bytes, for the blocks the workload
# makes (stacks through graph_*); the same run under valgrind (a declared
# dependency: its absence fails) gives the same totals. Then -p: the
# process scanned live, stopped by ptrace only while read, running on
# after, even when memlens is killed in the middle of a scan. Then memlens
# record: the classes kept in the recording, rendered by report as leaks
# gave them live; report --suppressions. Needs root.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

GRAPHS=$PWD/build/reach_graphs
MAIN_EXITS=$PWD/build/main_exits
DSO_LEAK=$PWD/build/libdso_leak.so
require_root_and_build e2e-reachable
for f in "$GRAPHS" "$MAIN_EXITS" "$DSO_LEAK"; do
	[ -x "$f" ] || { echo "e2e-reachable: $f missing: build first (make e2e)" >&2; exit 1; }
done

# classes REPORT: "definite ind possible reachable" as BLOCKS/BYTES, over
# the stacks through a graph_* function (glibc's own blocks left out).
classes() {
	jq -r '[.stacks[] | select(any(.frames[]; .symbol // "" | startswith("graph_")))] as $s
		| ["definitely_lost", "indirectly_lost", "possibly_lost", "still_reachable"]
		| map(. as $c | "\($s | map(.classes[$c].allocations // 0) | add // 0)/\($s | map(.classes[$c].bytes // 0) | add // 0)")
		| join(" ")' <<<"$1"
}

# valgrind_classes GRAPH...: the same from valgrind's XML, its records
# through a graph_* function (a definite record's bytes are direct ones).
valgrind_classes() {
	local xml=$tmp/vg.xml
	timeout -k 5 120 valgrind --leak-check=full --show-leak-kinds=all --run-libc-freeres=no \
		--xml=yes --xml-file="$xml" "$GRAPHS" "$@" >/dev/null 2>&1 || return 1
	python3 - "$xml" <<'PY'
import re, sys
import xml.etree.ElementTree as ET
kinds = ["Leak_DefinitelyLost", "Leak_IndirectlyLost", "Leak_PossiblyLost", "Leak_StillReachable"]
tot = {k: [0, 0] for k in kinds}
for e in ET.parse(sys.argv[1]).getroot().iter("error"):
	kind = e.findtext("kind")
	if kind not in tot:
		continue
	if not any((f.findtext("fn") or "").startswith("graph_") for f in e.iter("frame")):
		continue
	w = e.find("xwhat")
	nbytes = int(w.findtext("leakedbytes"))
	m = re.search(r"\((\d+) direct", w.findtext("text"))
	if m:
		nbytes = int(m.group(1))
	tot[kind][0] += int(w.findtext("leakedblocks"))
	tot[kind][1] += nbytes
print(" ".join("%d/%d" % tuple(tot[k]) for k in kinds))
PY
}

# One graph at a time, and all together: memlens's classes, exactly, and valgrind's.
test_graph() {
	local graph=$1 want=$2 r rc
	r=$("$MEMLENS" leaks --json -t 0 -i 1000 -- "$GRAPHS" "$graph" 2>"$tmp/err")
	rc=$?
	check_eq "$graph: memlens exits 0" 0 "$rc"
	check_eq "$graph: classes (definite indirect possible reachable)" "$want" "$(classes "$r")"
	check_eq "$graph: nothing left unscanned, the scan whole" "0 false" \
		"$(jq -r '"\(.scan.not_scanned.allocations) \(.scan.partial)"' <<<"$r")"
	# A declared dependency (scripts/install-deps.sh): missing is a failure, not a pass.
	if command -v valgrind >/dev/null; then
		check_eq "$graph: valgrind's classes of the same blocks" "$want" \
			"$(valgrind_classes "$graph")"
	else
		not_ok "$graph: valgrind's classes of the same blocks: valgrind missing"
	fi
}

test_graphs() {
	test_graph list "1/48 2/64 0/0 0/0"
	test_graph global "0/0 0/0 0/0 1/100"
	test_graph interior "0/0 0/0 1/96 0/0"
	test_graph register "0/0 0/0 0/0 1/72"
	test_graph stack "0/0 0/0 0/0 1/88"
	test_graph cycle "1/40 1/56 0/0 0/0"
	test_graph all "2/88 3/120 1/96 3/260"
}

# The text report: totals by class, what the scan read and how long the process stopped.
test_text() {
	local out=$tmp/text.out
	"$MEMLENS" leaks -t 0 -- "$GRAPHS" list global >"$out" 2>/dev/null
	check "text: totals by class" grep -q '^reachability: definitely lost 48 bytes in 1 blocks, indirectly lost 64 bytes in 2 blocks, possibly lost 0 bytes in 0 blocks, still reachable [0-9]* bytes in [0-9]* blocks, suppressed 0 bytes in 0 blocks$' "$out"
	check "text: bytes scanned, the pause" grep -Eq '^scan: [1-9][0-9]* bytes scanned \([1-9][0-9]* of roots\) in [0-9.]+ ms, process paused [0-9.]+ ms, 1 threads$' "$out"
	check "text: the stack of the lost head first, its class on its line" grep -m1 -q \
		'^48 bytes in 1 allocations, oldest [0-9.]*s ago, stack [0-9a-f]*: definitely lost 48 bytes in 1 blocks$' "$out"
	"$MEMLENS" leaks -t 0 --scan none -- "$GRAPHS" list >"$out" 2>/dev/null
	check "--scan none: no scan" bash -c "! grep -q '^reachability:' '$out'"
}

# --pprof: a sample type per class, after inuse_objects and inuse_space.
test_pprof() {
	local pb=$tmp/graphs.pb.gz
	"$MEMLENS" leaks --pprof "$pb" -- "$GRAPHS" list global >/dev/null 2>&1
	check "pprof: definitely_lost_space, the list's head" pprof_has "$pb" definitely_lost_space graph_alloc 48
	check "pprof: indirectly_lost_objects, the list's 2 others" pprof_has "$pb" indirectly_lost_objects graph_alloc 2
	check "pprof: still_reachable_space, the global's block" pprof_has "$pb" still_reachable_space graph_alloc 100
	check "pprof: inuse_space all of them" pprof_has "$pb" inuse_space graph_alloc 212
}

# -p: scanned live at every report, the blocks made after memlens attached.
test_pid() {
	local out=$tmp/pid.json log=$tmp/graphs.out r state
	start_waiting "$log" "$GRAPHS" --wait all || { not_ok "-p: workload did not start"; return; }
	start_memlens "$out" "tracing pid $work_pid" leaks -p "$work_pid" --json -t 0 -i 0.3 \
		--scan each || { not_ok "-p: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "-p: workload did not finish"; return; }
	r=$(next_report "$out")
	check_eq "-p: classes, live" "2/88 3/120 1/96 3/260" "$(classes "$r")"
	check_eq "-p: 3 threads stopped and scanned" "3 0 false" \
		"$(jq -r '"\(.scan.threads) \(.scan.threads_not_stopped) \(.scan.partial)"' <<<"$r")"
	check "-p: pause and bytes scanned reported" jq_true '.scan.pause_ms > 0 and .scan.bytes_scanned > 0' <<<"$r"
	stop_memlens
	state=$(awk '/^State:/ {print $2} /^TracerPid:/ {print $2}' "/proc/$work_pid/status" | xargs)
	check_eq "-p: the process runs on after the scans (not stopped), untraced" "running 0" \
		"${state/[RSD] /running }"
	check_eq "-p: the last report (Ctrl-C) scanned too, the same classes" \
		"2/88 3/120 1/96 3/260" "$(classes "$(tail -n 1 "$out")")"
	work_exit
	check_eq "-p: the workload exits 0 once told" 0 "$?"
}

# memlens killed (SIGKILL) while it scans a large heap: the kernel detaches, the process runs on.
test_killed_in_scan() {
	local out=$tmp/kill.json log=$tmp/big.out state i scanning=0
	start_waiting "$log" "$GRAPHS" --wait big=40 || { not_ok "killed: workload did not start"; return; }
	start_memlens "$out" "tracing pid $work_pid" leaks -p "$work_pid" --json -t 1 -i 0.5 \
		--scan each --max-allocs 400000 || { not_ok "killed: memlens did not attach"; return; }
	work_go "$log" || { not_ok "killed: workload did not finish"; return; }
	# Until memlens is seen tracing it: in a scan.
	for ((i = 0; i < 500; i++)); do
		[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$work_pid/status")" != 0 ] && { scanning=1; break; }
		sleep 0.01
	done
	check_eq "killed: memlens caught in a scan" 1 "$scanning"
	pkill -KILL -P "$memlens_pid"
	wait "$memlens_pid" 2>/dev/null
	sleep 0.2
	state=$(awk '/^State:/ {print $2} /^TracerPid:/ {print $2}' "/proc/$work_pid/status" | xargs)
	check_eq "killed: the process is neither stopped nor traced" "running 0" \
		"${state/[RSD] /running }"
	work_exit
	check_eq "killed: the workload exits 0 once told" 0 "$?"
}

# A process traced already (strace -f): not seized, no thread stopped: the
# scan is partial and says why, and calls nothing lost.
test_traced() {
	local out=$tmp/traced.json log=$tmp/traced.out r spid i
	start_waiting "$log" "$GRAPHS" --wait all || { not_ok "traced: workload did not start"; return; }
	strace -f -qq -o /dev/null -p "$work_pid" &
	spid=$!
	for ((i = 0; i < 100; i++)); do
		[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$work_pid/status")" != 0 ] && break
		sleep 0.05
	done
	start_memlens "$out" "tracing pid $work_pid" leaks -p "$work_pid" --json -t 0 -i 0.3 \
		--scan each || { not_ok "traced: memlens did not attach" "$(cat "$out.err")"; kill "$spid"; return; }
	work_go "$log" || { not_ok "traced: workload did not finish"; kill "$spid"; return; }
	r=$(next_report "$out")
	check_eq "traced: partial (threads not stopped), nothing called lost" \
		"true threads_not_stopped 3 0 0 0" \
		"$(jq -r '.scan | "\(.partial) \(.partial_reason) \(.threads_not_stopped) \(.definitely_lost.allocations) \(.indirectly_lost.allocations) \(.possibly_lost.allocations)"' <<<"$r")"
	stop_memlens
	kill "$spid"
	wait "$spid" 2>/dev/null
	work_exit
	check_eq "traced: the workload exits 0 once told" 0 "$?"
}

# A bound on the pause: a scan cut there says so, and claims nothing lost.
test_max_pause() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -i 1000 --scan-max-pause 1 --max-allocs 400000 -- \
		"$GRAPHS" big=200 list 2>/dev/null | tail -n 1)
	check_eq "--scan-max-pause 1: partial, nothing called lost" "true 0 0" \
		"$(jq -r '"\(.scan.partial) \(.scan.definitely_lost.allocations) \(.scan.indirectly_lost.allocations)"' <<<"$r")"
	check "--scan-max-pause 1: the blocks not reached are not scanned" \
		jq_true '.scan.not_scanned.allocations > 0' <<<"$r"
}

# --suppressions FILE (LSan's syntax) and the default list: lost blocks counted as suppressed.
test_suppressions() {
	local supp=$tmp/graphs.supp r
	printf '# the list is known\nleak:^graph_list$\n\n' >"$supp"
	r=$("$MEMLENS" leaks --json -t 0 --suppressions "$supp" -- "$GRAPHS" list cycle 2>/dev/null)
	check_eq "suppressions: a function: its list's 3 blocks suppressed, the cycle still lost" \
		"3/112 1/40 1/56" "$(jq -r '.scan | "\(.suppressed.allocations)/\(.suppressed.bytes) \(.definitely_lost.allocations)/\(.definitely_lost.bytes) \(.indirectly_lost.allocations)/\(.indirectly_lost.bytes)"' <<<"$r")"
	check_eq "suppressions: the stack says so" "3" \
		"$(jq '[.stacks[] | select(any(.frames[]; .symbol == "graph_list")) | .classes.suppressed.allocations] | add' <<<"$r")"
	printf 'leak:reach_graphs$\n' >"$supp"
	r=$("$MEMLENS" leaks -t 0 --suppressions "$supp" -- "$GRAPHS" list interior 2>/dev/null)
	check "suppressions: a module, anchored: every lost block of the program" grep -q \
		'^reachability: definitely lost 0 bytes in 0 blocks, indirectly lost 0 bytes in 0 blocks, possibly lost 0 bytes in 0 blocks, still reachable [0-9]* bytes in [0-9]* blocks, suppressed 208 bytes in 4 blocks$' \
		<<<"$r"
	# A thread's DTV: "possibly lost" to valgrind and to the scan, suppressed by default.
	r=$("$MEMLENS" leaks --json -t 0 -- "$GRAPHS" register 2>/dev/null)
	check_eq "default suppressions: the thread's DTV (_dl_allocate_tls)" "1 0" \
		"$(jq -r '[.stacks[] | select(any(.frames[]; .symbol == "_dl_allocate_tls"))][0].classes
			| "\(.suppressed.allocations) \(.possibly_lost.allocations // 0)"' <<<"$r")"
	expect_error "--suppressions missing" 2 \
		"memlens: leaks: cannot read suppressions $tmp/none: No such file or directory" \
		"$MEMLENS_BIN" leaks --suppressions "$tmp/none" -- true
	printf 'leak:x\nrace:y\n' >"$supp"
	expect_error "--suppressions, a line of another kind" 2 \
		"memlens: leaks: $supp:2: not a suppression (leak:PATTERN): race:y" \
		"$MEMLENS_BIN" leaks --suppressions "$supp" -- true
}

# A command killed before its _exit hold: no scan, and one line (and no_scan) says why.
test_not_scanned() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- sh -c 'kill -KILL $$' 2>/dev/null)
	check_eq "killed command: no_scan says why, no scan" \
		"the command was killed by signal 9 (Killed) before it reached _exit null" \
		"$(jq -r '"\(.no_scan) \(.scan)"' <<<"$r")"
	r=$("$MEMLENS" leaks -t 0 -- sh -c 'kill -KILL $$' 2>/dev/null)
	check "killed command: the text report says it in one line" grep -qx \
		'reachability: not scanned: the command was killed by signal 9 (Killed) before it reached _exit' \
		<<<"$r"
}

test_errors() {
	expect_error "--scan bogus" 2 "memlens: leaks: --scan is end, each or none, not 'bogus'" \
		"$MEMLENS_BIN" leaks --scan bogus -- true
	expect_error "--scan with --sample-bytes" 2 \
		"memlens: leaks: --scan needs every block: not with --sample-bytes" \
		"$MEMLENS_BIN" leaks --scan end --sample-bytes 4096 -- true
}

# A report's classes, whatever the run: per stack its frames' symbols, bytes,
# allocations and classes, in one order (stack ids and addresses differ by run).
stack_classes() {
	jq -c '[.stacks[] | {f: [.frames[].symbol], bytes, allocations, classes}] | sort_by(tostring)' <<<"$1"
}

# The scan's totals by class, and its threads and partial flag: what does not vary by run.
scan_classes() {
	jq -c '.scan | del(.bytes_scanned, .roots_bytes, .bytes_unreadable, .scan_ms, .pause_ms)' <<<"$1"
}

# The sample types of a pprof profile, in order.
pprof_types() {
	HOME=$tmp GOCACHE=$tmp/gocache GOFLAGS= GOTOOLCHAIN=local go tool pprof -raw "$1" 2>/dev/null |
		sed -n '/^Samples:/{n;p;q}'
}

# Text lines of classes: the totals, and each stack's classes (its id cut), sorted.
text_classes() {
	grep '^reachability:' "$1"
	grep -E '^[0-9]+ bytes in [0-9]+ allocations' "$1" | sed 's/, oldest [^,]*, stack [0-9a-f]*//' | sort
}

# in_worker REPORT FUNC: "allocations bytes class-allocations class-bytes"
# of the stacks that begin at FUNC, for the class CLASS ($3).
in_worker() {
	jq -r --arg f "$2" --arg c "$3" '[.stacks[] | select(.frames[0].symbol == $f)]
		| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0) \(map(.classes[$c].allocations // 0) | add // 0) \(map(.classes[$c].bytes // 0) | add // 0)"' <<<"$1"
}

# A program whose main thread called pthread_exit() (main_exits.c): the
# leader, a zombie, has no registers, no stack and no memory, and never
# stops. The scan leaves it out and reads the process through the thread
# it stopped; before, it waited a second for the leader, then read
# nothing: PARTIAL, every block "not scanned". A library it dlopens then
# is read through that thread too (the leader's /proc/PID/maps is empty):
# before, its frames went unnamed and its stacks stopped there. -p cannot
# find the allocators of such a process: said.
test_main_exited() {
	local r pid fd
	r=$("$MEMLENS" leaks --json -t 0 -- "$MAIN_EXITS" "$DSO_LEAK" 2>/dev/null | tail -n 1)
	check_eq "main thread exited: threads scanned, not stopped, partial" "1 0 false" \
		"$(jq -r '.scan | "\(.threads) \(.threads_not_stopped) \(.partial)"' <<<"$r")"
	check_eq "main thread exited: leak_in_worker(), 7 x 4096 still reachable" \
		"7 28672 7 28672" "$(in_worker "$r" leak_in_worker still_reachable)"
	check_eq "main thread exited: lose_in_worker(), 3 x 1000 definitely lost" \
		"3 3000 3 3000" "$(in_worker "$r" lose_in_worker definitely_lost)"
	check_eq "main thread exited, dlopen after: leak_in_dso(), 3 x 512 from worker, 2 lost" \
		"3 1536 2 1024 worker" \
		"$(in_worker "$r" leak_in_dso definitely_lost) $(callers "$r" leak_in_dso)"
	mkfifo "$tmp/main_exits.in"
	exec {fd}<>"$tmp/main_exits.in"
	"$MAIN_EXITS" --wait <&$fd >"$tmp/main_exits.out" &
	pid=$!
	if wait_for "$tmp/main_exits.out" ready 30; then
		expect_error "main thread exited, -p" 1 \
			"memlens: pid $pid's main thread has exited (pthread_exit) and its other threads run on: /proc/$pid shows none of its memory, and its allocators cannot be found; start the program under memlens instead" \
			"$MEMLENS" leaks -p "$pid" -n 1
	else
		not_ok "main thread exited, -p: main_exits did not start"
	fi
	echo >&$fd
	exec {fd}>&-
	wait "$pid"
}

# record, then report: the classes the live leaks gave, exactly, in JSON, text and pprof.
test_record() {
	local live rep rec=$tmp/graphs.mlr pb=$tmp/rec.pb.gz
	live=$("$MEMLENS" leaks --json -t 0 -- "$GRAPHS" all 2>/dev/null)
	"$MEMLENS" record -o "$rec" -- "$GRAPHS" all 2>/dev/null
	check_eq "record: exits 0" 0 "$?"
	rep=$("$MEMLENS_BIN" report --json -t 0 "$rec")
	check_eq "record: the graphs' classes, as live" "2/88 3/120 1/96 3/260" "$(classes "$rep")"
	check_eq "record: every stack's classes equal the live run's" "$(stack_classes "$live")" \
		"$(stack_classes "$rep")"
	check_eq "record: the scan's totals by class equal the live run's" "$(scan_classes "$live")" \
		"$(scan_classes "$rep")"
	check "record: bytes scanned and the pause kept" \
		jq_true '.scan.bytes_scanned > .scan.roots_bytes and .scan.roots_bytes > 0 and .scan.pause_ms > 0' <<<"$rep"
	"$MEMLENS" leaks -t 0 -- "$GRAPHS" all >"$tmp/live.txt" 2>/dev/null
	"$MEMLENS_BIN" report -t 0 "$rec" >"$tmp/rep.txt"
	check_eq "record: the text's classes, totals and per stack, as live" \
		"$(text_classes "$tmp/live.txt")" "$(text_classes "$tmp/rep.txt")"
	check "record: the text says what the scan read and the pause" grep -Eq \
		'^scan: [1-9][0-9]* bytes scanned \([1-9][0-9]* of roots\) in [0-9.]+ ms, process paused [0-9.]+ ms, 3 threads$' \
		"$tmp/rep.txt"
	"$MEMLENS" record -o "$rec" -- "$GRAPHS" list global interior 2>/dev/null
	"$MEMLENS_BIN" report --pprof "$pb" "$rec" >/dev/null
	check "record: pprof definitely_lost_space, the list's head" pprof_has "$pb" definitely_lost_space graph_alloc 48
	check "record: pprof indirectly_lost_objects, the list's 2 others" pprof_has "$pb" indirectly_lost_objects graph_alloc 2
	check "record: pprof possibly_lost_space, the interior's block" pprof_has "$pb" possibly_lost_space graph_alloc 96
	check "record: pprof still_reachable_space, the global's block" pprof_has "$pb" still_reachable_space graph_alloc 100
	"$MEMLENS" leaks --pprof "$tmp/live.pb.gz" -- "$GRAPHS" list global interior >/dev/null 2>&1
	check_eq "record: pprof sample types, a pair per class, as live" \
		"inuse_objects/count inuse_space/bytes[dflt] definitely_lost_objects/count definitely_lost_space/bytes indirectly_lost_objects/count indirectly_lost_space/bytes possibly_lost_objects/count possibly_lost_space/bytes still_reachable_objects/count still_reachable_space/bytes suppressed_objects/count suppressed_space/bytes" \
		"$(pprof_types "$pb")"
	check_eq "record: pprof sample types equal the live profile's" "$(pprof_types "$tmp/live.pb.gz")" \
		"$(pprof_types "$pb")"
	check "record: pprof inuse_space all of them" pprof_has "$pb" inuse_space graph_alloc 308
	"$MEMLENS" record --scan none -o "$rec" -- "$GRAPHS" list 2>/dev/null
	check "record --scan none: no classes" bash -c "! '$MEMLENS_BIN' report '$rec' | grep -q '^reachability:'"
}

# record -p --scan each: every snapshot scanned live; the last one's classes as leaks -p gives them.
test_record_pid() {
	local out=$tmp/rec-pid.out log=$tmp/graphs-rec.out rec=$tmp/pid.mlr r
	start_waiting "$log" "$GRAPHS" --wait all || { not_ok "record -p: workload did not start"; return; }
	start_memlens "$out" "recording pid $work_pid" record -o "$rec" -p "$work_pid" -i 0.3 \
		--scan each || { not_ok "record -p: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "record -p: workload did not finish"; return; }
	sleep 1
	stop_memlens
	work_exit
	r=$("$MEMLENS_BIN" report --json -t 0 "$rec")
	check_eq "record -p: classes of the last snapshot" "2/88 3/120 1/96 3/260" "$(classes "$r")"
	check_eq "record -p: 3 threads stopped and scanned" "3 0 false" \
		"$(jq -r '"\(.scan.threads) \(.scan.threads_not_stopped) \(.scan.partial)"' <<<"$r")"
	check "record -p: every snapshot scanned" bash -c \
		"'$MEMLENS_BIN' report --all --json '$rec' | jq -e -s 'length > 1 and all(.scan.bytes_scanned > 0)' >/dev/null"
}

# Suppressions are report's: one recording judged again with another file.
test_record_suppressions() {
	local supp=$tmp/rec.supp rec=$tmp/supp.mlr q
	q='.scan | "\(.suppressed.allocations)/\(.suppressed.bytes) \(.definitely_lost.allocations)/\(.definitely_lost.bytes) \(.indirectly_lost.allocations)/\(.indirectly_lost.bytes)"'
	printf 'leak:^graph_list$\n' >"$supp"
	"$MEMLENS" record -o "$rec" -- "$GRAPHS" list cycle 2>/dev/null
	check_eq "report: the recording's lost blocks, default suppressions only" "0/0 2/88 3/120" \
		"$(jq -r "$q" <<<"$("$MEMLENS_BIN" report --json "$rec")")"
	check_eq "report --suppressions: the list's 3 blocks suppressed, as leaks does" "3/112 1/40 1/56" \
		"$(jq -r "$q" <<<"$("$MEMLENS_BIN" report --json --suppressions "$supp" "$rec")")"
	expect_error "report --suppressions missing" 2 \
		"memlens: report: cannot read suppressions $tmp/none: No such file or directory" \
		"$MEMLENS_BIN" report --suppressions "$tmp/none" "$rec"
	expect_error "record --suppressions: report's" 2 \
		"memlens: record: --suppressions is an option of memlens report, which applies it to the recording" \
		"$MEMLENS_BIN" record -o "$tmp/x.mlr" --suppressions "$supp" -- true
	expect_error "record --scan bogus" 2 "memlens: record: --scan is end, each or none, not 'bogus'" \
		"$MEMLENS_BIN" record -o "$tmp/x.mlr" --scan bogus -- true
}

test_graphs
test_text
test_pprof
test_pid
test_killed_in_scan
test_traced
test_max_pause
test_suppressions
test_not_scanned
test_errors
test_main_exited
test_record
test_record_pid
test_record_suppressions
finish e2e-reachable
