#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens leaks: load the real BPF programs against
# workloads with exactly known allocations (tests/workloads/leaky.c) and
# check the reports to the byte. Needs root. Prints TAP-style lines and
# "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

# group REPORT FUNC: "groups allocations bytes" of the stacks through FUNC.
group() {
	jq -r --arg f "$2" '[.stacks[] | select(any(.frames[]; .symbol == $f))]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# frame REPORT FUNC N: symbol of frame N of the stack through FUNC.
frame() {
	jq -r --arg f "$2" --argjson n "$3" \
		'[.stacks[] | select(any(.frames[]; .symbol == $f))][0].frames[$n].symbol' <<<"$1"
}

frame_module() {
	jq -r --arg f "$2" --argjson n "$3" \
		'[.stacks[] | select(any(.frames[]; .symbol == $f))][0].frames[$n].module' <<<"$1"
}

# The leaks leaky.c makes, exactly, with the immediate caller of each.
check_leaks() {
	local name=$1 r=$2
	check_eq "$name: leak_here: 7 blocks, 28672 bytes, one stack" "1 7 28672" "$(group "$r" leak_here)"
	check_eq "$name: leak_here is the immediate caller" "leak_here worker_a" \
		"$(frame "$r" leak_here 0) $(frame "$r" leak_here 1)"
	check_eq "$name: realloc grown then shrunk: 2000 bytes" "1 1 2000" "$(group "$r" leak_realloc)"
	check_eq "$name: realloc caller" "leak_realloc" "$(frame "$r" leak_realloc 0)"
	check_eq "$name: calloc(3, 1000)" "1 1 3000" "$(group "$r" leak_calloc)"
	check_eq "$name: calloc caller" "leak_calloc worker_b" \
		"$(frame "$r" leak_calloc 0) $(frame "$r" leak_calloc 1)"
	check_eq "$name: posix_memalign 512" "1 1 512" "$(group "$r" leak_aligned)"
	check_eq "$name: malloc through mmap: 1 MiB" "1 1 1048576" "$(group "$r" leak_large)"
	check_eq "$name: anonymous mmap: 64 KiB" "1 1 65536" "$(group "$r" leak_mmap)"
	check_eq "$name: mmap caller behind the libc wrapper" "leak_mmap worker_b" \
		"$(frame "$r" leak_mmap 1) $(frame "$r" leak_mmap 2)"
	check_eq "$name: head of a mapping unmapped: the other 2 pages" "1 1 8192" \
		"$(group "$r" leak_mmap_head)"
	check_eq "$name: no thread stacks, no ld.so mappings" "0 0 0 0 0 0" \
		"$(group "$r" pthread_create) $(group "$r" _dl_map_object)"
	check_eq "$name: nothing freed is reported (no churn stack)" "0 0 0" "$(group "$r" churn)"
	check_eq "$name: all leak_* stacks together: 13 blocks, 1156488 bytes" "13 1156488" \
		"$(leaked "$r")"
	check_eq "$name: file:line of leak_here" "leaky.c" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol == "leak_here")][0].frames[0].file' <<<"$r" | xargs basename)"
	# 20 churn rounds x (malloc(huge), calloc overflow, realloc(p, huge)).
	check_eq "$name: failed allocations counted, not recorded" "60" "$(jq .stats.alloc_failed <<<"$r")"
	check_eq "$name: no loss, no double allocation" "0 0 0 0 0 0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.allocs_map_full) \(.stacks_map_full) \(.stack_failed) \(.stack_collision) \(.threads_map_full) \(.missed_return) \(.events_lost)"' <<<"$r")"
}

test_command() {
	local out=$tmp/cmd.json err=$tmp/cmd.err rc r
	"$MEMLENS" leaks --json -t 0 -- "$LEAKY" >"$out" 2>"$err"
	rc=$?
	check_eq "leaks -- CMD: exit code" 0 "$rc"
	check_eq "leaks -- CMD: one report, at exit" 1 "$(wc -l <"$out")"
	r=$(tail -n 1 "$out")
	check_eq "leaks -- CMD: report is leaked-at-exit with status 0" "true 0" \
		"$(jq -r '"\(.exited) \(.exit_status)"' <<<"$r")"
	check_leaks "leaks -- CMD" "$r"
	check_eq "leaks -- CMD: thread state cleaned at exit" 0 "$(jq .stats.threads_tracked <<<"$r")"
	check_eq "leaks -- CMD: every frame symbolized by the time of the exit report" \
		"true" "$(jq '[.stacks[] | select(any(.frames[]; .symbol // "" | startswith("leak_"))) | .frames[] | .module != null] | all' <<<"$r")"
}

# test_attach_pid NAME [LAUNCHER...]: leaky --wait started through
# LAUNCHER, memlens attached to it by pid while it waits (a handshake), a
# live report after its work, and the leaked-at-exit report.
# Blocks of an image replaced by exec are gone, not leaks of the new one.
# Also where a thread other than the leader execs (--thread): the kernel
# tied the hooks to the old leader's task, gone with it, and memlens before
# it hooked the new image anew saw 3 of its 13 leaks (those made by mmap).
test_exec() {
	local r how name args libc
	libc=$(ldd "$LEAKY" | awk '/libc\.so/ {print $3}')
	for how in leader thread allocator; do
		case $how in
		leader)
			name=exec
			args=(-- "$EXEC_AFTER_ALLOC") ;;
		thread)
			name="exec from a thread"
			args=(-- "$EXEC_AFTER_ALLOC" --thread) ;;
		allocator)
			# The file named, not found, is hooked anew too (memlens
			# before kept its old hooks, and saw 3 leaks, the mmaps).
			name="exec from a thread, --allocator libc"
			args=(--allocator "$libc" -- "$EXEC_AFTER_ALLOC" --thread) ;;
		esac
		r=$("$MEMLENS" leaks --json -t 0 "${args[@]}" "$LEAKY" 2>"$tmp/exec.err" | tail -n 1)
		# Hooked anew at an exec from a thread: said once all the same.
		if [ $how = thread ]; then
			check_eq "$name: libc's hooking said once" 1 \
				"$(grep -c '^memlens: allocator hooked: .*libc' "$tmp/exec.err")"
		fi
		check_eq "$name: the old image's 5 blocks are not reported" "0 0 0" \
			"$(group "$r" before_exec)"
		check_eq "$name: the new image's leaks are" "13 1156488" \
			"$(leaked "$r")"
		check_eq "$name: comm of the new image" "leaky" "$(jq -r .comm <<<"$r")"
		# Old links kept while new ones hooked the same files ran too: each
		# call counted twice, a return lost per call (the review of 19e4867).
		check_eq "$name: no return missed, nothing replaced" "0 0" \
			"$(jq -r '.stats | "\(.missed_return) \(.replaced)"' <<<"$r")"
	done
}

# The same under -p, the leader exec'ing: not held, so the hooks it had
# must hold on at once (a memlens that made them anew at every exec let
# leaky run unhooked, and said it mapped no allocator). leaky --wait goes
# on at once after "ready", and exits 1 s after "done", once memlens has
# had time to read its maps for the symbols.
test_exec_attached() {
	local r rc pid m fd fifo=$tmp/exec-p.in out=$tmp/exec-p.json err=$tmp/exec-p.err
	local said=$tmp/exec-p.out
	mkfifo "$fifo"
	bash -c 'read x; exec "$0" "$1" --wait' "$EXEC_AFTER_ALLOC" "$LEAKY" <"$fifo" >"$said" &
	pid=$!
	exec {fd}>"$fifo"
	"$MEMLENS" leaks --json -t 0 -p "$pid" >"$out" 2>"$err" &
	m=$!
	if ! wait_for "$err" "tracing pid $pid" 30; then
		not_ok "exec under -p: memlens attached" "$(cat "$err")"
		kill "$m" "$pid" 2>/dev/null
		exec {fd}>&-
		return
	fi
	echo go >&"$fd"
	wait_for "$said" ready 30 && echo >&"$fd"
	wait_for "$said" done 30 && sleep 1
	echo >&"$fd"
	exec {fd}>&-
	wait "$m"
	rc=$?
	wait "$pid" 2>/dev/null
	r=$(tail -n 1 "$out")
	check_eq "exec under -p: exit code, the process exited" "0 true" "$rc $(jq .exited <<<"$r")"
	check_eq "exec under -p: the new image's leaks are" "13 1156488" \
		"$(leaked "$r")"
}

# memlens traces one process: a shell that runs leaky and goes on forked
# it, and the report says so (before, nothing did); leaky's threads are
# no processes. Its leaks are in no report.
test_children() {
	local r out=$tmp/children.txt
	r=$("$MEMLENS" leaks --json -t 0 -- bash -c "$LEAKY; $LEAKY; true" 2>/dev/null | tail -n 1)
	check_eq "children: a shell that forked leaky twice: 2 untraced, no leak_* of theirs" "2 0" \
		"$(jq -r '"\(.stats.children_untraced) \([.stacks[] | select(any(.frames[];
			.symbol // "" | startswith("leak_")))] | length)"' <<<"$r")"
	r=$("$MEMLENS" leaks --json -t 0 -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_eq "children: leaky, three threads and no child: none" 0 \
		"$(jq .stats.children_untraced <<<"$r")"
	"$MEMLENS" leaks -t 0 -- bash -c "$LEAKY; true" >"$out" 2>/dev/null
	check "children, text: a NOTE line says so" grep -qx \
		"NOTE: 1 child process not traced: memlens traces one process (trace a child with -p PID)" \
		"$out"
	check_eq "children, text: not a loss" 0 "$(grep -c '^LOST' "$out")"
}

# One munmap of two mappings side by side frees both; an mremap of part of
# a mapping moves that part, and the rest stays where it was, with the
# stack of its mmap (tests/workloads/map_calls.c).
test_map_calls() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- "$MAP_CALLS" 2>"$tmp/map_calls.err" | tail -n 1)
	check_eq "map calls: two mappings side by side, one munmap: nothing left" "0 0 0" \
		"$(group "$r" unmap_side_by_side)"
	check_eq "map calls: 2 of 8 pages mremapped to 4: the 4 and the 6 left" \
		"mremap 16384,__mmap 24576" \
		"$(jq -r '[.stacks[] | select(any(.frames[]; .symbol == "mremap_part"))
			| "\(.frames[0].symbol) \(.bytes)"] | sort | reverse | join(",")' <<<"$r")"
	check_eq "map calls: a failed mremap of 2 of 8 pages: the mapping as it was, one block" \
		"1 1 32768" "$(group "$r" mremap_fails)"
}

# Code inlined into the function a frame is named after: the line is the
# function's own, that of the call of the inlined code.
test_inlined_line() {
	local r line
	line=$(grep -n 'CALL \*/$' tests/workloads/inline_leak.c | cut -d: -f1)
	r=$("$MEMLENS" leaks --json -t 0 -- "$INLINE_LEAK" 2>/dev/null | tail -n 1)
	check_eq "inlined: leak_inlined's 3 x 100 bytes, at the line of its call" \
		"3 300 leak_inlined inline_leak.c:$line" \
		"$(jq -r '.stacks[] | select(.frames[0].symbol == "leak_inlined")
			| "\(.allocations) \(.bytes) \(.frames[0].symbol) \(.frames[0].file | split("/") | last):\(.frames[0].line)"' <<<"$r")"
	line=$(grep -n 'OUTER \*/$' tests/workloads/inline_leak.c | cut -d: -f1)
	check_eq "inlined two deep: leak_nested's 2 x 200 bytes, at the line of its call" \
		"2 400 leak_nested inline_leak.c:$line" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol == "leak_nested")]
			| "\(map(.allocations) | add) \(map(.bytes) | add) leak_nested \(map("\(.frames[0].file | split("/") | last):\(.frames[0].line)") | unique | join(","))"' <<<"$r")"
}

# A library loaded with dlopen just before exit: its leak still resolves,
# because memlens holds a command it started at _exit to read its maps.
test_dlopen_exit() {
	local out=$tmp/dl.json err=$tmp/dl.err rc r
	"$MEMLENS" leaks --json -v -- "$DLOPEN_EXIT" "$DSO" >"$out" 2>"$err"
	rc=$?
	r=$(tail -n 1 "$out")
	check_eq "dlopen then exit: exit code" 0 "$rc"
	check_eq "dlopen then exit: the process exited normally" "true 0" \
		"$(jq -r '"\(.exited) \(.exit_status)"' <<<"$r")"
	check_eq "dlopen then exit: 3 x 512 bytes from leak_in_dso in the library" \
		"1 3 1536 $DSO" \
		"$(group "$r" leak_in_dso) $(frame_module "$r" leak_in_dso 0)"
	check_eq "dlopen then exit: caller in the main program" "main" "$(frame "$r" leak_in_dso 1)"
	check "dlopen then exit: held at _exit while its maps were read" \
		grep -q "held at _exit to read its maps" "$err"
}

test_attach_pid() {
	local name=$1 out=$tmp/pid.json log=$tmp/leaky.out pid live final rc
	shift
	start_waiting "$log" "$@" "$LEAKY" --wait || { not_ok "$name: workload did not start"; return; }
	pid=$work_pid
	awk '$2 ~ /x/ && /libc\.so/ {print $5}' "/proc/$pid/maps" >"$tmp/libc-inode"
	start_memlens "$out" "tracing pid $pid" leaks -p "$pid" --json -t 0 -i 0.2 ||
		{ not_ok "$name: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "$name: workload did not finish"; return; }
	live=$(next_report "$out")
	[ -n "$live" ] || { not_ok "$name: no report after the work" "$(cat "$out.err")"; return; }
	check_eq "$name: live report, process running" "false" "$(jq .exited <<<"$live")"
	check_leaks "$name live" "$live"
	# Only the main thread is left; the workers' state went with them.
	check_eq "$name: exited threads' state cleaned" 1 "$(jq .stats.threads_tracked <<<"$live")"

	work_exit
	wait "$memlens_pid"
	rc=$?
	check_eq "$name: memlens exits 0 when the process exits" 0 "$rc"
	final=$(tail -n 1 "$out")
	check_eq "$name: final report is leaked-at-exit" "true 0" \
		"$(jq -r '"\(.exited) \(.exit_status)"' <<<"$final")"
	check_leaks "$name at exit" "$final"
}

test_other_namespace() {
	test_attach_pid "leaks -p, libc of another mount namespace" in_other_libc_namespace
	check_eq "leaks -p, libc of another mount namespace: the process mapped the copy" \
		"$(stat -c %i "$tmp/libc-copy.so.6")" "$(cat "$tmp/libc-inode")"
}

# A launcher for test_attach_pid: the workload from a copy that is
# deleted while it runs, before memlens reads its symbols.
run_deleted() {
	local copy=$tmp/leaky-deleted
	cp "$1" "$copy"
	shift
	(sleep 0.5; rm -f "$copy") &
	exec "$copy" "$@"
}

test_deleted_binary() {
	test_attach_pid "leaks -p, binary deleted while it runs" run_deleted
	check "binary deleted while it runs: it was" test ! -e "$tmp/leaky-deleted"
}

# A stripped binary whose symbols and DWARF are in a separate file, found
# through .gnu_debuglink: the same exact report.
test_debuglink() {
	local dir=$tmp/debuglink r
	mkdir -p "$dir"
	cp "$LEAKY" "$dir/leaky"
	objcopy --only-keep-debug "$dir/leaky" "$dir/leaky.debug"
	strip --strip-all "$dir/leaky"
	objcopy --add-gnu-debuglink="$dir/leaky.debug" "$dir/leaky"
	check_eq "debuglink: the binary has no symbols left" "no symbols" \
		"$(nm "$dir/leaky" 2>&1 | grep -o 'no symbols')"
	r=$("$MEMLENS" leaks --json -t 0 -- "$dir/leaky" 2>/dev/null | tail -n 1)
	check_leaks "stripped, symbols in .gnu_debuglink" "$r"

	# -p, stopped by a signal: the debug file is read after it, for the
	# last report, as every file that names its frames.
	start_waiting "$dir/leaky.log" "$dir/leaky" --wait || return
	start_memlens "$dir/out.json" "tracing pid $work_pid" leaks --json -p "$work_pid" || return
	work_go "$dir/leaky.log"
	stop_memlens
	check_eq "debuglink, -p stopped by SIGTERM: exit code" 0 $?
	r=$(tail -n 1 "$dir/out.json")
	check_leaks "debuglink, -p stopped by SIGTERM" "$r"
	check_eq "debuglink, -p stopped by SIGTERM: no file given up" "0 0" \
		"$(jq .stats.files_given_up <<<"$r") $(grep -c 'given up' "$dir/out.json.err")"
	work_exit
}

test_text_output() {
	local out=$tmp/text.out
	"$MEMLENS" leaks -- "$LEAKY" >"$out" 2>/dev/null
	check "text: leaked-at-exit header" grep -q "^== [0-9:]* UTC pid [0-9]* (leaky): .* (leaked at exit)" "$out"
	check "text: leak_here group line" grep -q "^28672 bytes in 7 allocations" "$out"
	check "text: frame with symbol, module and file:line" \
		grep -Eq "^	#0  0x[0-9a-f]+ leak_here\+0x[0-9a-f]+ \(.*/leaky\) .*leaky.c:[0-9]+$" "$out"
	check "text: stats line" grep -q "^stats: allocs=" "$out"
}

# start_waiting_leaky: leaky --wait at its handshake (lib.sh); sets pid.
# Stop signals as a terminal and a shell send them.
test_stop_signals() {
	local log=$tmp/sig.log err=$tmp/sig.err pid r rc st
	# A stop signal to the process group, as a terminal's Ctrl-C: memlens
	# and the command both get it. The command's death is the last
	# report's. TERM: the command, a background job, ignores INT.
	rm -f "$tmp/work.in"
	mkfifo "$tmp/work.in"
	exec 8<>"$tmp/work.in"
	# memlens itself: timeout(1), which $MEMLENS goes through, passes signals on.
	setsid "$MEMLENS_BIN" leaks --json -- "$LEAKY" --wait <"$tmp/work.in" >"$log" 2>"$err" 8<&- &
	pid=$!
	pids+=("$pid")
	wait_for "$log" ready || { not_ok "group SIGTERM: leaky did not start"; return; }
	echo go >&8
	wait_for "$log" done || { not_ok "group SIGTERM: leaky did not work"; return; }
	kill -TERM -- "-$pid"
	wait_exit "$pid" 30
	rc=$?
	exec 8>&-
	r=$(grep '^{' "$log" | tail -n 1)
	check_eq "group SIGTERM: exit code" 0 "$rc"
	check_eq "group SIGTERM: the last report is the command's death" "true 15 1 7 28672" \
		"$(jq -r '"\(.exited) \(.exit_signal) \(.stacks | map(select(.frames[0].symbol == "leak_here")) | length) \(.stacks[] | select(.frames[0].symbol == "leak_here") | "\(.allocations) \(.bytes)")"' <<<"$r")"
	check_eq "group SIGTERM: no scan of a pid gone, nothing said of it running on" 0 \
		"$(grep -c 'scan of pid .* failed\|continues untraced' "$err")"

	# A SIGHUP ignored when memlens started (nohup) stays ignored; a
	# SIGINT a shell's background job ignores does not.
	start_waiting_leaky || { not_ok "nohup: workload did not start"; return; }
	: >"$err"
	(trap '' HUP INT; exec "$MEMLENS_BIN" leaks --json -i 3600 -p "$pid" >"$log" 2>"$err") &
	st=$!
	pids+=("$st")
	wait_for "$err" "tracing pid $pid"
	kill -HUP "$st"
	sleep 0.5
	check_eq "nohup: a SIGHUP does not stop it: running, no report yet" "S 0" \
		"$(awk '{print $3}' "/proc/$st/stat") $(grep -c '^{' "$log")"
	kill -INT "$st"
	wait_exit "$st" 30
	check_eq "nohup: a SIGINT ignored at start then stops it, one report" "0 1" \
		"$? $(grep -c '^{' "$log")"

	# A second stop signal at once is the same stop (passed on by a
	# wrapper: timeout(1), an init): one last report (a later one ends
	# memlens at once: tests/unit/test_util.c). The process runs on. ERR
	# emptied first: the last run's "tracing pid" would be waited for.
	: >"$err"
	"$MEMLENS_BIN" leaks --json -i 3600 -p "$pid" >"$log" 2>"$err" &
	st=$!
	pids+=("$st")
	wait_for "$err" "tracing pid $pid"
	kill -INT "$st"
	kill -TERM "$st"
	wait_exit "$st" 30
	check_eq "two stop signals at once: exit 0, one report" "0 1" "$? $(grep -c '^{' "$log")"
	check_eq "after the stop: the process runs on, not stopped nor traced" "S 0" \
		"$(awk '{print $3}' "/proc/$pid/stat") $(awk '/^TracerPid/ {print $2}' "/proc/$pid/status")"
	work_go "$tmp/opt.log" || { not_ok "second stop signal: workload did not finish"; return; }
	work_exit
}

start_waiting_leaky() {
	start_waiting "$tmp/opt.log" "$LEAKY" --wait && pid=$work_pid
}

test_options() {
	local r out=$tmp/opt.json err=$tmp/opt.err pid mpid tid rc
	r=$("$MEMLENS" leaks --json --min-age 3600 -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_eq "--min-age 3600: nothing old enough, though allocations were seen" "0 0 0 true" \
		"$(jq -r '"\(.outstanding_allocations) \(.outstanding_bytes) \(.stacks | length) \(.stats.allocs >= 13)"' <<<"$r")"
	r=$("$MEMLENS" leaks --json --top 2 -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_eq "--top 2: two stacks shown of more" "2 true" \
		"$(jq -r '"\(.stacks | length) \(.stacks_total > 2)"' <<<"$r")"
	check_eq "--top 2: the largest first" "true" \
		"$(jq '.stacks[0].bytes >= .stacks[1].bytes' <<<"$r")"

	# -n: reports at an interval, then memlens stops; the process goes on.
	start_waiting_leaky || { not_ok "options: workload did not start"; return; }
	work_go "$tmp/opt.log" || { not_ok "options: workload did not finish"; return; }
	"$MEMLENS" leaks -p "$pid" --json -n 2 -i 0.1 >"$out" 2>"$err"
	rc=$?
	check_eq "-n 2: exit code" 0 "$rc"
	check_eq "-n 2: two live reports" "2 false" \
		"$(jq -s -r '"\(length) \(map(.exited) | any)"' "$out")"
	check "-n 2: the process is still running" kill -0 "$pid"

	# SIGINT (Ctrl-C): a last report of what is outstanding now. ERR emptied
	# first: the -n run's "tracing pid" would be waited for, and the signal
	# sent before this memlens could catch it (exit 130, no report).
	: >"$err"
	"$MEMLENS" leaks -p "$pid" --json -i 3600 >"$out" 2>"$err" &
	mpid=$!
	wait_for "$err" "tracing pid $pid"
	kill -INT "$mpid"
	wait "$mpid"
	rc=$?
	check_eq "SIGINT: exit code" 0 "$rc"
	check_eq "SIGINT: one report, process not exited" "1 false" \
		"$(jq -s -r '"\(length) \(.[0].exited)"' "$out")"
	work_exit

	# A thread id given to -p means its process: leaky --wait has a
	# sleeping thread.
	start_waiting_leaky || { not_ok "options: workload did not start"; return; }
	tid=$(ls "/proc/$pid/task" | grep -v "^$pid\$" | head -n 1)
	"$MEMLENS" leaks -p "$tid" -n 1 -i 0.1 >/dev/null 2>"$err"
	check_eq "-p TID: traces the thread's process" \
		"memlens: $tid is a thread of process $pid: tracing the process" "$(head -n 1 "$err")"
	check "-p TID: then tracing the process" grep -q "tracing pid $pid (leaky)" "$err"
	work_go "$tmp/opt.log" || { not_ok "options: workload did not finish"; return; }
	work_exit
}

# Full maps are counted and shown, never silent.
test_full_maps() {
	local r
	r=$("$MEMLENS" leaks --json --max-allocs 4 -- "$LEAKY" 2>/dev/null | tail -n 1)
	check "--max-allocs 4: allocs_map_full counted" jq_true '.stats.allocs_map_full > 0' <<<"$r"
	check_eq "--max-allocs 4: at most 4 outstanding" "true" "$(jq '.outstanding_allocations <= 4' <<<"$r")"
	r=$("$MEMLENS" leaks --json --max-stacks 2 -- "$LEAKY" 2>/dev/null | tail -n 1)
	check "--max-stacks 2: stacks_map_full counted" jq_true '.stats.stacks_map_full > 0' <<<"$r"
	"$MEMLENS" leaks --max-allocs 4 -- "$LEAKY" >"$tmp/full.txt" 2>/dev/null
	check "--max-allocs 4: text report says LOST" \
		grep -q "^LOST: [0-9]* allocations not tracked: outstanding map full" "$tmp/full.txt"
	# Folded lines have no room for it: stderr says it, once.
	"$MEMLENS" leaks --folded --max-allocs 4 -- "$LEAKY" >"$tmp/full.folded" 2>"$tmp/full.err"
	check_eq "--folded --max-allocs 4: stderr says LOST, once" 1 \
		"$(grep -c "^LOST: [0-9]* allocations not tracked: outstanding map full" "$tmp/full.err")"
	check_eq "--folded --max-allocs 4: nothing but folded lines on stdout" 0 \
		"$(grep -cvE '^[^ ;]+(;[^;]+)* [0-9]+$' "$tmp/full.folded")"
	# Frees memlens does not see (release(), an entry point it does not
	# hook): the blocks handed out again at a tracked address are said.
	"$MEMLENS" leaks -- "$PWD/build/unseen_free" >"$tmp/unseen.txt" 2>/dev/null
	check_eq "frees gone unseen: replaced 3, said" \
		"LOST: 3 blocks allocated at an address still tracked: their frees went unseen (an entry point memlens does not hook?)" \
		"$(grep '^LOST:' "$tmp/unseen.txt")"
}

# The table of recent blocks in front of the map (include/allocs.h): the
# same exact leaks with a table of 2 buckets, where most blocks spill to
# the map and frees look in both, and with none; a bad size is refused.
test_table() {
	local r
	if [ "$("$MEMLENS" doctor --json | jq -r .commands.leaks.ways.blocks)" = table ]; then
		"$MEMLENS" leaks -v --json -- "$LEAKY" >/dev/null 2>"$tmp/table.err"
		check "table: -v says its size" \
			grep -q "^memlens: blocks: a table of 4096 recent ones (256 KiB) in front of a map of 262144$" \
			"$tmp/table.err"
	else
		check "table: none without BPF atomics" sh -c \
			'"$1" leaks -v --json -- "$2" 2>&1 >/dev/null | grep -c "table of" | grep -qx 0' \
			sh "$MEMLENS" "$LEAKY"
	fi
	r=$(MEMLENS_ALLOC_BUCKETS=2 "$MEMLENS" leaks --json -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_leaks "table of 2 buckets" "$r"
	check_eq "table of 2 buckets: nothing lost or replaced" "0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.allocs_map_full) \(.missed_return)"' <<<"$r")"
	r=$(MEMLENS_ALLOC_BUCKETS=0 "$MEMLENS" leaks --json -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_leaks "no table" "$r"
	# The return program a kernel without BPF atomics loads (5.10, 5.11).
	r=$(MEMLENS_DISABLE=bpf_atomics "$MEMLENS" leaks --json -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_leaks "no BPF atomics" "$r"
	expect_error "table: a size not a power of two" 1 \
		"memlens: invalid MEMLENS_ALLOC_BUCKETS '3': 0 (no table) or a power of two from 2 to 1048576" \
		env MEMLENS_ALLOC_BUCKETS=3 "$MEMLENS" leaks -- "$LEAKY"
}

# Thread slots (bpf/allocs.bpf.c): the same exact leaks with one slot,
# where the first thread to call the allocator holds it and the other's
# state is in the threads map, and with none; a bad count is refused.
# Live, sampled, on leaky --wait: its main thread, the one left, has its
# state where -v says (its first call comes before its workers'), and
# the calls its sampler let pass are read from there: the live report
# counts as many calls as the last, since leaky makes none after its work.
test_thread_slots() {
	local r n where live last
	for n in 1 0; do
		r=$(MEMLENS_THREAD_SLOTS=$n "$MEMLENS" leaks --json -- "$LEAKY" 2>/dev/null | tail -n 1)
		check_leaks "$n thread slots" "$r"
		check_eq "$n thread slots: no call missed, every thread's state gone" "0 0 0" \
			"$(jq -r '.stats | "\(.threads_map_full) \(.missed_return) \(.threads_tracked)"' <<<"$r")"
	done
	for n in 1024 1 0; do
		where="1 with their state in a thread slot, 0 in the map"
		[ "$n" = 0 ] && where="0 with their state in a thread slot, 1 in the map"
		MEMLENS_THREAD_SLOTS=$n live_and_last "$tmp/slots.json" \
			leaks --json -t 0 -i 0.2 -v --sample-bytes 2048
		check "$n thread slots, live: -v says $where" \
			grep -q "^memlens: threads: $where$" "$tmp/slots.json.err"
		check_eq "$n thread slots, live: the calls let pass read from the thread's state" \
			"$(jq '.stats.sampled + .stats.unsampled' <<<"$last")" \
			"$(jq '.stats.sampled + .stats.unsampled' <<<"$live")"
	done
	expect_error "thread slots: a count not a power of two" 1 \
		"memlens: invalid MEMLENS_THREAD_SLOTS '3': 0 (none) or a power of two up to 65536" \
		env MEMLENS_THREAD_SLOTS=3 "$MEMLENS" leaks -- "$LEAKY"
}

# What lives through a report interval, and a second, moves from the
# table to the map, and is freed from there: 100 blocks kept until memlens
# (-i 0.2) says it moved blocks, then freed; leak_here's 7 x 4096 stay,
# moved too. With 2 buckets most blocks are in the map from the start.
table_evict_run() {
	local name=$1 log=$tmp/evict.log out=$tmp/evict.json r
	shift
	start_waiting "$log" "$PWD/build/table_evict" || return
	start_memlens "$out" "tracing pid $work_pid" leaks -v --json -i 0.2 -p "$work_pid" || return
	work_go "$log" || return
	check "$name: blocks moved from the table to the map" \
		wait_for "$out.err" "moved from the table to the map" 30
	echo go >&8
	wait_for "$log" freed || return
	work_exit
	wait "$memlens_pid"
	r=$(tail -n 1 "$out")
	check_eq "$name: leak_here: 7 blocks, 28672 bytes, nothing else of main" "1 7 28672 7" \
		"$(group "$r" leak_here) $(jq '[.stacks[] | select(any(.frames[]; .symbol == "main"))
			| .allocations] | add' <<<"$r")"
	check_eq "$name: the kept blocks freed from the map, none unknown" "100 0 0 0" \
		"$(jq -r '.stats | "\(.frees) \(.free_unknown) \(.replaced) \(.allocs_map_full)"' <<<"$r")"
}

test_table_evict() {
	if [ "$("$MEMLENS" doctor --json | jq -r .commands.leaks.ways.blocks)" != table ]; then
		ok "table eviction: no table on this kernel (skipped)"
		return
	fi
	table_evict_run "table eviction"
	MEMLENS_ALLOC_BUCKETS=2 table_evict_run "table eviction, 2 buckets"
}

# The command runs with the signals memlens found, not those memlens
# set up for itself; a Ctrl-C before its exec ends it and says so.
test_command_signals() {
	local mpid child i rc
	# Through timeout(1) as $MEMLENS is: it handles INT and QUIT.
	timeout 60 sh -c 'grep SigIgn /proc/$$/status' >"$tmp/sigign.untraced"
	"$MEMLENS" leaks -- sh -c "grep SigIgn /proc/\$\$/status >'$tmp/sigign.traced'" \
		>/dev/null 2>&1
	check_eq "leaks -- CMD: the command ignores the signals it would untraced" \
		"$(cat "$tmp/sigign.untraced")" "$(cat "$tmp/sigign.traced" 2>&1)"
	# Its own process group, as a terminal's Ctrl-C would reach it; TERM,
	# as a script's background jobs ignore INT.
	setsid "$MEMLENS_BIN" leaks -- "$LEAKY" >/dev/null 2>"$tmp/ctrlc.err" &
	mpid=$!
	pids+=("$mpid")
	for ((i = 0; i < 200; i++)); do
		child=$(pgrep -P "$mpid")
		[ -n "$child" ] && break
		sleep 0.01
	done
	# Frozen between fork and release (BPF loading takes far longer).
	kill -STOP "$mpid"
	check_eq "a signal before exec: the command waits to be released" \
		"$MEMLENS_BIN" "$(readlink "/proc/$child/exe")"
	kill -TERM -- "-$mpid"
	kill -CONT "$mpid"
	wait "$mpid"
	rc=$?
	check_eq "a signal before exec: exit code and message" \
		"1 memlens: stopped before $LEAKY started" "$rc $(cat "$tmp/ctrlc.err")"
}

test_errors() {
	local gone libm jemalloc static_pid zombie holder i
	true &
	gone=$!
	wait "$gone"
	expect_error "no such pid" 1 "memlens: pid $gone does not exist" \
		"$MEMLENS" leaks -p "$gone"
	expect_error "--folded with --json" 2 \
		"memlens: leaks: --folded and --json are two outputs: choose one" \
		"$MEMLENS" leaks --folded --json -- "$LEAKY"
	# In a PID namespace of its own (a container without the host's pids)
	# its programs would see pids it does not: refused, not a silent 0.
	expect_error "in a PID namespace of its own" 1 \
		"memlens: runs in a PID namespace of its own (a container?): its programs see the host's pids, it sees others; run it in the host's (docker --pid=host, hostPID)" \
		timeout 60 unshare -fp --mount-proc "$MEMLENS_BIN" leaks -- "$LEAKY"
	# Out of memory at start (a 50 MB address space): one line, not a
	# bare exit 1.
	(ulimit -v 50000; "$MEMLENS_BIN" leaks -- "$LEAKY" >/dev/null 2>"$tmp/nomem.err")
	check_eq "out of memory at start: exit 1, said in one line" "1 1" \
		"$? $(grep -c '^memlens: .*Cannot allocate memory' "$tmp/nomem.err")"
	expect_error "top in a PID namespace of its own" 1 \
		"memlens: runs in a PID namespace of its own (a container?): its programs see the host's pids, it sees others; run it in the host's (docker --pid=host, hostPID)" \
		timeout 60 unshare -fp --mount-proc "$MEMLENS_BIN" top -n 1
	expect_error "--svg where it cannot be written" 1 \
		"memlens: cannot write /nonexistent/x.svg: No such file or directory" \
		"$MEMLENS" leaks --svg /nonexistent/x.svg -- "$LEAKY"
	expect_error "no pid nor command" 2 \
		"memlens: leaks: give either -p PID or -- COMMAND (see memlens leaks --help)" \
		"$MEMLENS" leaks
	expect_error "bad interval" 2 \
		"memlens: invalid interval 'soon': expected seconds, for example 5 or 0.5" \
		"$MEMLENS" leaks -i soon -p 1
	expect_error "unknown option" 2 "memlens: leaks: unknown option '--bogus' (see memlens leaks --help)" \
		"$MEMLENS" leaks --bogus -p 1
	expect_error "option without its value" 2 \
		"memlens: leaks: option '-p' needs a value (see memlens leaks --help)" \
		"$MEMLENS" leaks -p
	expect_error "unknown subcommand" 2 "memlens: unknown command 'leak' (see memlens --help)" \
		"$MEMLENS" leak -p 1
	expect_error "command not found" 1 \
		"memlens: cannot run /nonexistent/cmd: No such file or directory" \
		"$MEMLENS" leaks -- /nonexistent/cmd
	libm=$(dirname "$(ldd "$LEAKY" | awk '/libc\.so/ {print $3}')")/libm.so.6
	expect_error "allocator symbol missing" 1 "memlens: symbol malloc not found in $libm" \
		"$MEMLENS" leaks --libc "$libm" -- "$LEAKY"
	# kthreadd: before, "maps no allocator ... use --allocator PATH".
	expect_error "a kernel thread" 1 \
		"memlens: pid 2 is a kernel thread: it has no user memory (memlens kmem -p 2 shows its kernel allocations)" \
		"$MEMLENS" leaks -p 2 -n 1
	# A zombie: sleep does not reap the child its shell started, which
	# exits once the shell is sleep (the shell itself would reap it).
	bash -c 'sleep 0.5 & echo $! >"$0"; exec sleep 30' "$tmp/zombie.pid" &
	holder=$!
	for ((i = 0; i < 50; i++)); do
		zombie=$(cat "$tmp/zombie.pid" 2>/dev/null)
		[ -n "$zombie" ] && grep -q '^State:.Z' "/proc/$zombie/status" 2>/dev/null && break
		sleep 0.1
	done
	expect_error "a zombie" 1 "memlens: pid $zombie has exited (a zombie its parent has not reaped)" \
		"$MEMLENS" leaks -p "$zombie" -n 1
	kill "$holder"
	wait "$holder" 2>/dev/null
	start_static
	# Static and stripped: no malloc symbol to hook (e2e-allocators.sh
	# traces a static binary that has its symbols).
	expect_error "statically linked target without symbols" 1 \
		"memlens: pid $static_pid maps no allocator (no malloc or operator new symbol): use --allocator PATH" \
		"$MEMLENS" leaks -p "$static_pid"
	# An allocator the process does not map (jemalloc): its probes would
	# see nothing, and the report would show mmaps alone.
	jemalloc=$(dirname "$libm")/libjemalloc.so.2
	expect_error "-p with an --allocator it does not map" 1 \
		"memlens: pid $static_pid does not map $jemalloc: nothing of it would be seen (--allocator)" \
		timeout 60 "$MEMLENS" leaks -p "$static_pid" --allocator "$jemalloc" -n 1 -i 0.2
	kill "$static_pid"
	cp "$MEMLENS_BIN" "$tmp/memlens"
	chmod 755 "$tmp/memlens"
	expect_error "not root" 1 \
		"memlens: needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run it as root" \
		setpriv --reuid=65534 --regid=65534 --clear-groups "$tmp/memlens" leaks -p 1
	# Hide the kernel's BTF in a private mount namespace.
	expect_error "no BTF" 1 \
		"memlens: kernel BTF not found at /sys/kernel/btf/vmlinux: this kernel needs CONFIG_DEBUG_INFO_BTF=y" \
		unshare -m sh -c "mount -t tmpfs none /sys/kernel/btf && exec '$MEMLENS' leaks -p 1"
	# /sys/kernel covered by a read-only tmpfs with the BTF put back and a
	# file where tracefs would be mounted: tracefs cannot be had.
	mkdir -p "$tmp/btf"
	expect_error "tracefs missing, cannot be mounted" 1 \
		"memlens: tracefs is not mounted and mounting it at /sys/kernel/tracing failed: Not a directory" \
		unshare -m sh -c "mount --bind /sys/kernel/btf '$tmp/btf' &&
			mount -t tmpfs none /sys/kernel && mkdir /sys/kernel/btf &&
			mount --bind '$tmp/btf' /sys/kernel/btf && touch /sys/kernel/tracing &&
			mount -o remount,ro /sys/kernel && exec '$MEMLENS' leaks -p 1"
}

# A fresh machine has no tracefs mounted: memlens mounts it itself.
test_tracefs_unmounted() {
	local r
	r=$(unshare -m sh -c "umount /sys/kernel/tracing 2>/dev/null; umount /sys/kernel/debug 2>/dev/null
		[ -e /sys/kernel/tracing/events ] && exit 9
		'$MEMLENS' leaks --json -- '$LEAKY' && test -e /sys/kernel/tracing/events/syscalls &&
		echo tracefs-mounted" 2>/dev/null)
	check_eq "tracefs unmounted: memlens mounts it and works" "1 7 28672" \
		"$(group "$(grep '^{' <<<"$r" | tail -n 1)" leak_here)"
	check_eq "tracefs unmounted: mounted afterwards" "tracefs-mounted" "$(tail -n 1 <<<"$r")"
}

# --folded and --svg: the same leaks as flame graph input, and drawn.
test_flame() {
	local out=$tmp/leaks.folded svg=$tmp/leaks.svg rc
	"$MEMLENS" leaks --folded --svg "$svg" -- "$LEAKY" >"$out" 2>"$tmp/folded.err"
	rc=$?
	check_eq "--folded: exit code" 0 "$rc"
	check "--folded: leak_here's stack, from the process down, 28672 bytes" \
		grep -qE '^leaky;(.*;)?worker_a;leak_here 28672$' "$out"
	check_eq "--folded: the leak_* stacks sum to 1156488 bytes" 1156488 \
		"$(awk '/;leak_/ { s += $NF } END { print s }' "$out")"
	check_eq "--folded: nothing but folded lines" 0 \
		"$(grep -cvE '^[^ ;]+(;[^;]+)* [0-9]+$' "$out")"
	check "--svg: an XML document" python3 -c \
		'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$svg"
	check_flame_svg "--svg" "$svg" leak_here
}

# --pprof: a heap profile that go tool pprof reads, with the leaks in it.
test_pprof() {
	local prof=$tmp/leaks.pb.gz rc
	"$MEMLENS" leaks --pprof "$prof" -- "$LEAKY" >/dev/null 2>"$tmp/pprof.err"
	rc=$?
	check_eq "--pprof: exit code" 0 "$rc"
	check "--pprof: go tool pprof finds leak_here's 28672 bytes" \
		pprof_has "$prof" inuse_space leak_here 28672
	check "--pprof: and its 7 objects" pprof_has "$prof" inuse_objects leak_here 7
	check "--pprof: leak_large's 1 MiB" pprof_has "$prof" inuse_space leak_large 1048576
	expect_error "--pprof to a directory that does not exist" 1 \
		"memlens: cannot write /nonexistent/x.pb.gz: No such file or directory" \
		"$MEMLENS_BIN" leaks --pprof /nonexistent/x.pb.gz -- "$LEAKY"
}

# memlens record, then memlens report once the process and its binary are
# gone: the same leaks, stacks, file:line, folded lines and profile.
test_record() {
	local dir=$tmp/rec rec=$tmp/rec/leaky.mlr rc r
	mkdir -p "$dir"
	cp "$LEAKY" "$dir/leaky-copy"
	"$MEMLENS" record -o "$rec" -- "$dir/leaky-copy" >"$dir/out" 2>"$dir/err"
	rc=$?
	check_eq "record -- CMD: exit code" 0 "$rc"
	check_eq "record: prints nothing on stdout" "" "$(cat "$dir/out")"
	check_eq "record: the file is the user's own (0600)" 600 "$(stat -c %a "$rec")"
	check "record: says where the recording is" grep -q "into $rec; render it with: memlens report $rec" "$dir/err"
	rm "$dir/leaky-copy"
	r=$("$MEMLENS" report -j -t 0 "$rec" | tail -n 1)
	check_eq "report -j: the leaked-at-exit snapshot" "true 0 leaky-copy" \
		"$(jq -r '"\(.exited) \(.exit_status) \(.comm)"' <<<"$r")"
	check_leaks "record, binary deleted, report" "$r"
	"$MEMLENS" report "$rec" >"$dir/text"
	check "report: the session line" grep -qE "^recording of pid [0-9]+ \(leaky-copy\) \"$dir/leaky-copy\" on .*: 1 snapshot, every 5.0s" "$dir/text"
	check "report: leak_here's group, as leaks prints it" grep -q "^28672 bytes in 7 allocations" "$dir/text"
	check "report: its frame with file:line" \
		grep -Eq "^	#0  0x[0-9a-f]+ leak_here\+0x[0-9a-f]+ \(.*/leaky-copy\) .*leaky.c:[0-9]+$" "$dir/text"

	# The same process recorded and traced live gives the same folded stacks.
	"$MEMLENS" record -o "$dir/plain.mlr" -- "$LEAKY" 2>/dev/null
	"$MEMLENS" report --folded "$dir/plain.mlr" | sort >"$dir/report.folded"
	"$MEMLENS" leaks --folded -- "$LEAKY" 2>/dev/null | sort >"$dir/live.folded"
	check "report --folded: the lines of leaks --folded, exactly" \
		diff "$dir/report.folded" "$dir/live.folded"
	check "report --folded: leak_here's line" grep -qE "^leaky;(.*;)?start_thread;worker_a;leak_here 28672$" \
		"$dir/report.folded"
	# Sampled: the blocks carry their weights; mappings stay exact.
	"$MEMLENS" record -o "$dir/sampled.mlr" --sample-bytes 4096 -- "$LEAKY" 2>/dev/null
	r=$("$MEMLENS" report -j -t 0 "$dir/sampled.mlr")
	check_eq "record --sample-bytes: the report is an estimate, of R 4096" "true 4096" \
		"$(jq -r '"\(.estimated) \(.sample_bytes)"' <<<"$r")"
	check_eq "record --sample-bytes: leak_mmap's mapping exact, 64 KiB" "1 1 65536" \
		"$(group "$r" leak_mmap)"
	check_eq "record --sample-bytes: the timeline's totals are the report's estimates" \
		"$(jq -r '"\(.outstanding_bytes) \(.outstanding_allocations) true"' <<<"$r")" \
		"$("$MEMLENS" report -T -j "$dir/sampled.mlr" | tail -n 1 |
			jq -r '"\(.outstanding_bytes) \(.outstanding_allocations) \(.estimated)"')"
	"$MEMLENS" report --pprof "$dir/rec.pb.gz" --svg "$dir/rec.svg" "$rec" >/dev/null
	check "report --pprof: go tool pprof finds leak_here's 28672 bytes" \
		pprof_has "$dir/rec.pb.gz" inuse_space leak_here 28672
	check "report --pprof: and its 7 objects" pprof_has "$dir/rec.pb.gz" inuse_objects leak_here 7
	check "report --svg: an XML document with leak_here's frame" python3 -c '
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
assert any(t.firstChild.data.startswith("leak_here (") for t in doc.getElementsByTagName("title"))
' "$dir/rec.svg"
}

# file_size FILE
file_size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# wait_growth FILE SIZE: until FILE is larger than SIZE (a snapshot was written), 10 s at most.
wait_growth() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(file_size "$1")" -gt "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# A recording of a running process over time: empty before the work, the
# leaks after it, leaked at exit; the timeline adds up.
test_record_timeline() {
	local rec=$tmp/timeline.mlr err=$tmp/timeline.err pid mpid size rc i n t
	start_waiting_leaky || { not_ok "timeline: workload did not start"; return; }
	"$MEMLENS" record -o "$rec" -p "$pid" -i 0.2 2>"$err" &
	mpid=$!
	pids+=("$mpid")
	wait_for "$err" "recording pid $pid" || { not_ok "timeline: record did not attach" "$(cat "$err")"; return; }
	# A snapshot is flushed whole: the file grows once one is taken.
	wait_growth "$rec" "$(file_size "$rec")" || { not_ok "timeline: no snapshot before the work"; return; }
	work_go "$tmp/opt.log" || { not_ok "timeline: workload did not finish"; return; }
	size=$(file_size "$rec")
	wait_growth "$rec" "$size" || { not_ok "timeline: no snapshot after the work"; return; }
	work_exit
	wait "$mpid"
	rc=$?
	check_eq "timeline: record exits 0 with the process" 0 "$rc"
	t=$("$MEMLENS" report -T -j "$rec")
	check_eq "timeline: the first snapshot, before the work, holds nothing" "0 0 false" \
		"$(head -n 1 <<<"$t" | jq -r '"\(.outstanding_bytes) \(.outstanding_allocations) \(.exited)"')"
	check_eq "timeline: the last is leaked at exit" "true" "$(tail -n 1 <<<"$t" | jq .exited)"
	# The timeline's totals are kept as the deltas are replayed; a report
	# groups the blocks themselves. They must agree at every snapshot.
	n=$(wc -l <<<"$t")
	for ((i = 1; i <= n; i++)); do
		echo "$("$MEMLENS" report -s "$i" -j -t 0 "$rec" | jq -c '[.outstanding_bytes, .outstanding_allocations, .stacks_total]')"
	done >"$tmp/timeline.reports"
	check_eq "timeline: bytes, blocks and stacks of every snapshot, as its report counts them" \
		"$(cat "$tmp/timeline.reports")" \
		"$(jq -c '[.outstanding_bytes, .outstanding_allocations, .stacks]' <<<"$t")"
	check_eq "timeline: nothing is freed after the work (leaky holds all until exit)" "0" \
		"$(jq -s '[.[] | select(.growth_bytes < 0)] | length' <<<"$t")"
	check_eq "report -s 1: no stacks then" 0 "$("$MEMLENS" report -s 1 -j "$rec" | jq '.stacks | length')"
	check_leaks "timeline, last snapshot" "$("$MEMLENS" report -j -t 0 "$rec")"
	check_eq "report --all: one report per snapshot" "$(wc -l <<<"$t")" \
		"$("$MEMLENS" report --all -j "$rec" | wc -l)"
	"$MEMLENS" report -T -t 3 "$rec" >"$tmp/timeline.txt"
	check "timeline text: leak_large grew most, 1 MiB" \
		grep -qE "^ +\+1048576 bytes +\+1 allocations +leak_large < worker_b < start_thread$" "$tmp/timeline.txt"
	check "timeline text: leak_here, 7 blocks" \
		grep -qE "^ +\+28672 bytes +\+7 allocations +leak_here < worker_a < start_thread$" "$tmp/timeline.txt"
}

# What a recording is left as when memlens record is stopped, killed, or
# runs out of disk; and the file it writes, whatever was at its path.
test_record_endings() {
	local dir=$tmp/endings rec pid mpid rc size
	mkdir -p "$dir"
	# An existing file, with a second link, and a symlink: replaced, not written into.
	echo keep >"$dir/old"
	chmod 644 "$dir/old"
	ln "$dir/old" "$dir/old.link"
	ln -s "$dir/target" "$dir/sym"
	echo keep >"$dir/target"
	"$MEMLENS" record -o "$dir/old" -- "$LEAKY" 2>/dev/null
	"$MEMLENS" record -o "$dir/sym" -- "$LEAKY" 2>"$dir/sym.err"
	check_eq "record over a file: a new file, 0600; its other link untouched; a link to a file refused, kept, its target untouched" \
		"600 keep keep symbolic link memlens: cannot write $dir/sym: a symbolic link to a file: give the file's own path" \
		"$(stat -c %a "$dir/old") $(cat "$dir/old.link") $(cat "$dir/target") $(stat -c %F "$dir/sym") $(cat "$dir/sym.err")"
	check "record over a file: readable" sh -c '"$1" report -j "$2" >/dev/null' sh "$MEMLENS_BIN" "$dir/old"

	# SIGKILL: no END. Refused, and read whole up to its last snapshot with --partial.
	rec=$dir/killed.mlr
	start_waiting_leaky || { not_ok "endings: workload did not start"; return; }
	"$MEMLENS_BIN" record -o "$rec" -p "$pid" -i 0.05 2>"$dir/killed.err" &
	mpid=$!
	pids+=("$mpid")
	wait_for "$dir/killed.err" "recording pid $pid" || { not_ok "endings: record did not attach"; return; }
	size=$(file_size "$rec")
	wait_growth "$rec" $((size + 200)) || { not_ok "endings: no snapshots written"; return; }
	kill -KILL "$mpid"
	wait "$mpid" 2>/dev/null
	work_stop
	"$MEMLENS_BIN" report "$rec" >/dev/null 2>"$dir/report.err"
	rc=$?
	check "killed recording: refused, exit 1, no end record" sh -c \
		'[ "$1" -eq 1 ] && grep -qE "truncated( after [0-9]+ snapshots?: no end record|: record)" "$2"' sh "$rc" "$dir/report.err"
	"$MEMLENS_BIN" report --partial -T -j "$rec" >"$dir/partial.json" 2>"$dir/partial.err"
	rc=$?
	check_eq "killed recording, --partial: exit 0" 0 "$rc"
	check "killed recording, --partial: says what was cut and what is shown" \
		grep -qE "^memlens: $rec: truncated.*: the [0-9]+ whole snapshots? shown$" "$dir/partial.err"
	check "killed recording, --partial: its snapshots" test "$(wc -l <"$dir/partial.json")" -ge 1

	# A full disk: the file is cut back to its last whole snapshot and ended.
	mkdir -p "$dir/small"
	if mount -t tmpfs -o size=4k memlens-e2e "$dir/small"; then
		small_mount=$dir/small
		rec=$dir/small/full.mlr
		start_waiting_leaky || { not_ok "endings: workload did not start"; return; }
		"$MEMLENS" record -o "$rec" -p "$pid" -i 0.01 >/dev/null 2>"$dir/full.err"
		rc=$?
		work_stop
		check_eq "full disk: record exits 1" 1 "$rc"
		check "full disk: one message, what is kept" grep -qE \
			"^memlens: cannot write $rec: No space left on device; it keeps the snapshots taken before \([0-9]+ bytes\)$" \
			"$dir/full.err"
		check "full disk: the recording reads, snapshots and all" sh -c \
			'"$1" report -T -j "$2" | jq -e -s "length >= 10" >/dev/null' sh "$MEMLENS_BIN" "$rec"
		umount "$dir/small" && small_mount=
	else
		not_ok "full disk: cannot mount a small tmpfs"
	fi
}

test_record_errors() {
	local rec=$tmp/rec/leaky.mlr bad=$tmp/bad.mlr size
	expect_error "record without -o" 2 "memlens: record: give the file to write with -o FILE" \
		"$MEMLENS_BIN" record -- "$LEAKY"
	expect_error "record with a rendering option" 2 \
		"memlens: record: --folded is an option of memlens report, which renders the recording" \
		"$MEMLENS_BIN" record -o "$tmp/x.mlr" --folded -- "$LEAKY"
	expect_error "record with a rendering option and its value" 2 \
		"memlens: record: --top is an option of memlens report, which renders the recording" \
		"$MEMLENS_BIN" record -o "$tmp/x.mlr" -t 3 -- "$LEAKY"
	expect_error "leaks -o" 2 "memlens: leaks: -o FILE is an option of memlens record" \
		"$MEMLENS_BIN" leaks -o "$tmp/x.mlr" -- "$LEAKY"
	expect_error "record into a directory that does not exist" 1 \
		"memlens: cannot write /nonexistent/x.mlr: No such file or directory" \
		"$MEMLENS_BIN" record -o /nonexistent/x.mlr -- "$LEAKY"
	expect_error "report of a file that does not exist" 1 \
		"memlens: $tmp/none.mlr: No such file or directory" "$MEMLENS_BIN" report "$tmp/none.mlr"
	expect_error "report of something else" 1 \
		"memlens: /etc/passwd: not a memlens recording (no MLNSREC header)" \
		"$MEMLENS_BIN" report /etc/passwd
	size=$(file_size "$rec")
	head -c $((size - 1)) "$rec" >"$bad"
	expect_error "report of a recording cut short" 1 \
		"memlens: $bad: truncated: record at byte $((size - 13)) needs 1 bytes, 0 left" \
		"$MEMLENS_BIN" report "$bad"
	head -c $((size - 13)) "$rec" >"$bad"
	expect_error "report of a recording never finished" 1 \
		"memlens: $bad: truncated after 1 snapshot: no end record (was memlens record killed?)" \
		"$MEMLENS_BIN" report "$bad"
	cp "$rec" "$bad"
	printf 'X' | dd of="$bad" bs=1 seek=$((size / 2)) conv=notrunc status=none
	check "report of a damaged recording: one line, exit 1, a checksum mismatch" sh -c \
		'"$1" report "$2" >/dev/null 2>"$3"; [ $? -eq 1 ] && [ $(wc -l <"$3") -eq 1 ] && grep -q "corrupt: checksum mismatch in the record at byte" "$3"' \
		sh "$MEMLENS_BIN" "$bad" "$tmp/bad.err"
	expect_error "report -s beyond the last snapshot" 1 \
		"memlens: $rec: no snapshot 5, the recording holds 1" "$MEMLENS_BIN" report -s 5 "$rec"
	expect_error "report --all --folded" 2 \
		"memlens: report: --folded, --svg and --pprof render one snapshot, not --all" \
		"$MEMLENS_BIN" report --all --folded "$rec"
	expect_error "report without a file" 2 \
		"memlens: report: give the recording to render (see memlens report --help)" \
		"$MEMLENS_BIN" report
}

# The small tmpfs of test_record_endings, should a test stop midway.
small_mount=
suite_cleanup() {
	[ -n "$small_mount" ] && umount "$small_mount"
}

require_root_and_build e2e-leaks

test_command
test_exec
test_exec_attached
test_children
test_map_calls
test_inlined_line
test_dlopen_exit
test_attach_pid "leaks -p"
test_other_namespace
test_deleted_binary
test_debuglink
test_text_output
test_options
test_stop_signals
test_full_maps
test_table
test_thread_slots
test_table_evict
test_tracefs_unmounted
test_flame
test_pprof
test_record
test_record_timeline
test_record_endings
test_record_errors
test_command_signals
test_errors

finish e2e-leaks
