#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens top and memlens hist: the real BPF programs
# against tests/workloads/memops.c, which makes exactly known allocator
# calls, brk growths, anonymous mmaps and munmaps, fresh-page touches and
# major faults. Needs root. Prints TAP-style lines and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

CGROUP_NAME=memlens-e2e.$$
CGROUP=/sys/fs/cgroup/memory/$CGROUP_NAME
# memops under a name of this run's own, so -c sees no other run's.
NAME=mo-$$
# Major faults need a page cache to drop: a file on disk, not on a tmpfs /tmp.
MAJOR_DIR=$PWD/build
# Faults memops takes besides the pages it touches (its code and stack,
# the first time they run after the handshake).
FAULT_SLACK=16

suite_cleanup() {
	local p
	rm -f "$MAJOR_DIR"/major-*."$$"
	if [ -d "$CGROUP" ]; then
		for p in $(cat "$CGROUP/cgroup.procs" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
		sleep 0.2
		rmdir "$CGROUP" 2>/dev/null
	fi
}

# start_memops NAME ARGS...: memops ARGS waiting at its handshake; sets
# NAME_pid and NAME_fd (write "go" to start it, another line to end it).
start_memops() {
	local name=$1 fd
	shift
	mkfifo "$tmp/$name.in"
	exec {fd}<>"$tmp/$name.in"
	${LAUNCHER:-} "$MEMOPS" "$@" <&$fd >"$tmp/$name.log" &
	pids+=($!)
	eval "${name}_pid=$! ${name}_fd=$fd"
	wait_for "$tmp/$name.log" ready
}

# last_row FILE PID: the last JSON row of process PID in FILE.
last_row() {
	jq -c --argjson p "$2" 'select(.type == "process" and .pid == $p)' "$1" | tail -n 1
}

# totals ROW KEYS...: the totals named, space-separated.
totals() {
	local row=$1
	shift
	for k in "$@"; do
		printf '%s ' "$(jq -r ".totals.$k" <<<"$row")"
	done
}

# in_range DESC LOW HIGH VALUE
in_range() {
	if [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected $2..$3, got $4"
	fi
}

# hist_of FILE PID KIND: "total low-high:count ..." of a hist JSON line.
hist_of() {
	jq -r --argjson p "$2" --arg k "$3" \
		'select(.type == "hist" and .pid == $p and .kind == $k)
		 | "\(.total) " + ([.buckets[] | select(.count > 0)
		 | "\(.low)-\(.high):\(.count)"] | join(" "))' "$1" | tail -n 1
}

# A: 100 x malloc(100), 3 brk growths of 8192, 4 mmaps of 64 KiB, 10 pages
# touched, 32 major faults. B: 250 x malloc(3000), 5 x 4096 of brk, 7 mmaps
# of 128 KiB, 20 pages touched, no major faults. Both at once, kept apart.
test_two_processes() {
	local top=$tmp/top.json hist=$tmp/hist.json tpid hpid a b n
	start_memops A 100 100 3 8192 4 65536 10 32 "$MAJOR_DIR/major-a.$$" ||
		{ not_ok "top: memops A did not start"; return; }
	start_memops B 250 3000 5 4096 7 131072 20 0 none ||
		{ not_ok "top: memops B did not start"; return; }
	"$MEMLENS" top --json -i 0.2 -c "$NAME" >"$top" 2>"$tmp/top.err" &
	tpid=$!
	pids+=("$tpid")
	"$MEMLENS" hist --json -c "$NAME" >"$hist" 2>"$tmp/hist.err" &
	hpid=$!
	pids+=("$hpid")
	if ! wait_for "$tmp/top.err" "tracing processes named $NAME" || ! wait_for "$tmp/hist.err" "tracing"; then
		not_ok "top: memlens did not start" "$(cat "$tmp/top.err" "$tmp/hist.err")"
		return
	fi
	echo go >&$A_fd
	echo go >&$B_fd
	wait_for "$tmp/A.log" done && wait_for "$tmp/B.log" done ||
		{ not_ok "top: memops did not finish"; return; }
	# Two more intervals: one wholly after the work.
	n=$(grep -c '"type":"memlens"' "$top")
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '"type":"memlens"' "$top")" -ge $((n + 2)) ] && break
		sleep 0.1
	done
	a=$(last_row "$top" "$A_pid")
	b=$(last_row "$top" "$B_pid")

	check_eq "top A: malloc calls and bytes, frees, nothing outstanding" "100 10000 100 10000 0 " \
		"$(totals "$a" allocs alloc_bytes frees free_bytes alloc_failed)"
	check_eq "top A: outstanding bytes" 0 "$(jq .outstanding_bytes <<<"$a")"
	check_eq "top A: brk growths, the shrink, bytes" "3 24576 1 8192 0 " \
		"$(totals "$a" brk_grow brk_grow_bytes brk_shrink brk_shrink_bytes brk_failed)"
	check_eq "top A: anonymous mmaps; munmaps (+1: the file mapping); 1 failed" \
		"4 262144 5 393216 1 " "$(totals "$a" mmap mmap_bytes munmap munmap_bytes mmap_failed)"
	check_eq "top A: the failed mmap's errno" '[{"syscall":"mmap","errno":12,"error":"ENOMEM","count":1}]' \
		"$(jq -c .errors <<<"$a")"
	check_eq "top A: one major fault per page read after dropping the cache" "32 0 " \
		"$(totals "$a" majflt_user majflt_kernel)"
	in_range "top A: minor faults: the 10 pages touched" 10 $((10 + FAULT_SLACK)) \
		"$(jq .totals.minflt_user <<<"$a")"
	in_range "top A: kernel-mode minor faults: the 10 pages read(2) filled" 10 $((10 + FAULT_SLACK)) \
		"$(jq .totals.minflt_kernel <<<"$a")"
	check "top A: rss known" jq_true '.rss_bytes > 0' <<<"$a"

	check_eq "top B: malloc calls and bytes, frees" "250 750000 250 750000 0 " \
		"$(totals "$b" allocs alloc_bytes frees free_bytes alloc_failed)"
	check_eq "top B: brk growths, the shrink, bytes" "5 20480 1 4096 0 " \
		"$(totals "$b" brk_grow brk_grow_bytes brk_shrink brk_shrink_bytes brk_failed)"
	check_eq "top B: anonymous mmaps and munmaps, 1 failed" "7 917504 7 917504 1 " \
		"$(totals "$b" mmap mmap_bytes munmap munmap_bytes mmap_failed)"
	check_eq "top B: no major faults" "0 0 " "$(totals "$b" majflt_user majflt_kernel)"
	in_range "top B: minor faults: the 20 pages touched" 20 $((20 + FAULT_SLACK)) \
		"$(jq .totals.minflt_user <<<"$b")"
	in_range "top B: kernel-mode minor faults: the 20 pages read(2) filled" 20 $((20 + FAULT_SLACK)) \
		"$(jq .totals.minflt_kernel <<<"$b")"
	check_eq "top -c: only the two processes of that name" \
		"$(printf '%s\n' "$A_pid" "$B_pid" | sort -n | tr '\n' ' ')" \
		"$(jq -r 'select(.type == "process") | .pid' "$top" | sort -nu | tr '\n' ' ')"
	check "top: own cost line with events and losses" \
		jq_true 'select(.type == "memlens") | .events_per_s >= 0 and .lost.events_lost == 0' \
		< <(grep '"type":"memlens"' "$top" | tail -n 1)

	# Exit: shown once more as exited, then gone.
	echo exit >&$A_fd
	wait "$A_pid"
	check "top: an exited process is shown as exited" \
		wait_for "$top" "\"pid\":$A_pid,[^}]*\"exited\":true" 10
	n=$(wc -l <"$top")
	sleep 0.6
	check_eq "top: then it drops out" "" \
		"$(tail -n +$((n + 1)) "$top" | jq -r --argjson p "$A_pid" 'select(.pid == $p) | .pid')"
	check "top: B still shown" grep -q "\"pid\":$B_pid" <(tail -n +$((n + 1)) "$top")

	kill -INT "$hpid"
	wait "$hpid"
	check_eq "hist A: 100 allocations of 100 bytes" "100 64-127:100" \
		"$(hist_of "$hist" "$A_pid" alloc_size)"
	check_eq "hist A: 4 mmaps of 64 KiB" "4 65536-131071:4" "$(hist_of "$hist" "$A_pid" mmap_size)"
	check_eq "hist A: 100 lifetimes" "100" "$(hist_of "$hist" "$A_pid" lifetime | cut -d' ' -f1)"
	check_eq "hist B: 250 allocations of 3000 bytes" "250 2048-4095:250" \
		"$(hist_of "$hist" "$B_pid" alloc_size)"
	check_eq "hist B: 7 mmaps of 128 KiB" "7 131072-262143:7" "$(hist_of "$hist" "$B_pid" mmap_size)"
	check_eq "hist: the exited process keeps its name" "$NAME" \
		"$(jq -r --argjson p "$A_pid" 'select(.pid == $p) | .comm' "$hist" | sort -u)"
	echo exit >&$B_fd
	wait "$B_pid"
	kill -INT "$tpid"
	wait "$tpid"
	check_eq "top: exit code after SIGINT" 0 "$?"
}

# A libc first seen while memlens runs, from another mount namespace (a
# copy bind-mounted over the usual path): hooked, and its mallocs counted.
test_new_libc() {
	local out=$tmp/newlibc.json tpid r
	"$MEMLENS" top -v --json -i 0.2 -c "$NAME" >"$out" 2>"$tmp/newlibc.err" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$tmp/newlibc.err" "tracing" || { not_ok "new libc: no start"; return; }
	LEAKY=$MEMOPS LAUNCHER=in_other_libc_namespace start_memops G 40 500 0 0 0 0 0 0 none ||
		{ not_ok "new libc: memops did not start"; return; }
	check_eq "new libc: the process maps the copy, not the host's libc" \
		"$(stat -c %i "$tmp/libc-copy.so.6")" \
		"$(awk '$2 ~ /x/ && /libc\.so/ {print $5}' "/proc/$G_pid/maps")"
	wait_for "$tmp/newlibc.err" "first seen in pid $G_pid" ||
		{ not_ok "new libc: not hooked" "$(grep hooked "$tmp/newlibc.err")"; return; }
	echo go >&$G_fd
	wait_for "$tmp/G.log" done || { not_ok "new libc: memops did not finish"; return; }
	sleep 0.5
	r=$(last_row "$out" "$G_pid")
	check_eq "new libc: its 40 mallocs of 500 bytes counted" "40 20000 40 " \
		"$(totals "$r" allocs alloc_bytes frees)"
	echo exit >&$G_fd
	wait "$G_pid"
	kill -INT "$tpid"
	wait "$tpid"
}

# Tracepoints and perf events only: the same counts, no allocator calls.
test_no_uprobes() {
	local out=$tmp/nou.json r tpid
	start_memops C 100 100 2 4096 3 65536 5 8 "$MAJOR_DIR/major-c.$$" ||
		{ not_ok "--no-uprobes: memops did not start"; return; }
	"$MEMLENS" top --json --no-uprobes -p "$C_pid" -i 0.2 >"$out" 2>"$tmp/nou.err" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$tmp/nou.err" "without uprobes" || { not_ok "--no-uprobes: no start"; return; }
	echo go >&$C_fd
	wait_for "$tmp/C.log" done || { not_ok "--no-uprobes: memops did not finish"; return; }
	echo exit >&$C_fd
	wait "$C_pid"
	wait_for "$out" '"exited":true' 5
	r=$(last_row "$out" "$C_pid")
	check_eq "--no-uprobes: no allocator calls seen" "0 0 " "$(totals "$r" allocs frees)"
	check_eq "--no-uprobes: brk, mmap, munmap, major faults exact" "2 8192 3 196608 4 8 1 " \
		"$(totals "$r" brk_grow brk_grow_bytes mmap mmap_bytes munmap majflt_user mmap_failed)"
	check "--no-uprobes: said in the cost line" \
		jq_true 'select(.type == "memlens") | .uprobes == false' < <(grep '"type":"memlens"' "$out" | tail -n 1)
	kill -INT "$tpid"
	wait "$tpid"
}

# Only the tasks of one v1 memory cgroup.
test_cgroup() {
	local out=$tmp/cg.json tpid
	mkdir "$CGROUP" || { not_ok "--cgroup: cannot create $CGROUP"; return; }
	start_memops D 10 100 1 4096 1 65536 1 0 none || { not_ok "--cgroup: no memops"; return; }
	start_memops E 10 100 1 4096 1 65536 1 0 none || { not_ok "--cgroup: no memops"; return; }
	echo "$D_pid" >"$CGROUP/cgroup.procs"
	"$MEMLENS" top --json --no-uprobes --cgroup "$CGROUP_NAME" -i 0.2 >"$out" 2>"$tmp/cg.err" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$tmp/cg.err" "tracing" || { not_ok "--cgroup: no start" "$(cat "$tmp/cg.err")"; return; }
	echo go >&$D_fd
	echo go >&$E_fd
	wait_for "$tmp/D.log" done && wait_for "$tmp/E.log" done || { not_ok "--cgroup: no finish"; return; }
	sleep 0.5
	check_eq "--cgroup: only the process in the cgroup" "$D_pid" \
		"$(jq -r 'select(.type == "process") | .pid' "$out" | sort -u | tr '\n' ' ' | xargs)"
	check_eq "--cgroup: its brk and mmap" "1 1 " "$(totals "$(last_row "$out" "$D_pid")" brk_grow mmap)"
	check "--cgroup: the start line says what is traced" grep -qx \
		"memlens: tracing the tasks of cgroup $CGROUP_NAME without uprobes; Ctrl-C to stop" \
		"$tmp/cg.err"
	echo exit >&$D_fd
	echo exit >&$E_fd
	wait "$D_pid" "$E_pid"
	kill -INT "$tpid"
	wait "$tpid"
	rmdir "$CGROUP"
}

# --prom: the counters as Prometheus metrics, scraped with curl on loopback.
test_prom() {
	local port=$((20000 + $$ % 10000)) url m labels idle fd i
	start_memops P 10 100 1 4096 1 65536 1 0 none || { not_ok "--prom: no memops"; return; }
	start_memlens "$tmp/prom.json" tracing top -j -i 0.3 -c "$NAME" --prom "$port" ||
		{ not_ok "--prom: no start" "$(cat "$tmp/prom.json.err")"; return; }
	echo go >&$P_fd
	wait_for "$tmp/P.log" done || { not_ok "--prom: memops did not finish"; return; }
	sleep 1
	url=http://127.0.0.1:$port/metrics
	m=$(curl -s --max-time 5 "$url")
	labels="pid=\"$P_pid\",comm=\"$NAME\""
	check_eq "--prom: malloc calls, a counter" "memlens_allocs_total{$labels} 10" \
		"$(grep "^memlens_allocs_total{$labels}" <<<"$m")"
	check_eq "--prom: brk growth and mmap" \
		"memlens_brk_grow_total{$labels} 1 memlens_mmap_total{$labels} 1" \
		"$(grep -E "^memlens_(brk_grow|mmap)_total\{$labels\}" <<<"$m" | paste -sd ' ')"
	check_eq "--prom: the size histogram: 10 of 100 bytes, le 127, sum and count" \
		"10 10 1000 10" \
		"$(for s in '_bucket{'"$labels"',le="127"}' '_bucket{'"$labels"',le="+Inf"}' \
			"_sum{$labels}" "_count{$labels}"; do
			grep -F "memlens_alloc_size_bytes$s " <<<"$m" | awk '{print $2}'
		done | xargs)"
	check "--prom: TYPE lines and memlens' own losses" grep -q \
		'^# TYPE memlens_allocs_total counter$' <<<"$m"
	check "--prom: a valid exposition (one TYPE a family, histograms whole)" \
		tests/prom_check.py <<<"$m"
	check "--prom: every loss counter" grep -q '^memlens_lost_total{reason="allocs_map_full"} 0$' \
		<<<"$m"
	check_eq "--prom: another path is 404" 404 \
		"$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/")"

	# 20 connections that send nothing: a scrape is still answered at once
	# (it was refused behind them, 2 s each), and they time out, counted.
	idle=()
	for ((i = 0; i < 20; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port" && idle+=("$fd")
	done
	check_eq "--prom: 20 idle connections open" 20 "${#idle[@]}"
	m=$(curl -s --max-time 1 "$url")
	check_eq "--prom: a scrape beside 20 idle connections, within 1 s" \
		"memlens_allocs_total{$labels} 10" "$(grep "^memlens_allocs_total{$labels}" <<<"$m")"
	check "--prom: still a valid exposition" tests/prom_check.py <<<"$m"
	sleep 2.5
	m=$(curl -s --max-time 1 "$url")
	check_eq "--prom: the idle ones timed out after 2 s, counted" \
		"memlens_prom_dropped_total{reason=\"timeout\"} 20 memlens_prom_dropped_total{reason=\"too_many\"} 0" \
		"$(grep '^memlens_prom_dropped_total' <<<"$m" | paste -sd ' ')"
	for fd in "${idle[@]}"; do
		exec {fd}>&-
	done
	echo exit >&$P_fd
	wait "$P_pid"
	stop_memlens
	check_eq "--prom: exits 0 on SIGTERM, the server thread stopped" 0 $?
	expect_error "--prom: a bad address" 2 \
		"memlens: invalid --prom 'x:y': expected PORT, HOST:PORT or [V6]:PORT" \
		"$MEMLENS_BIN" top --prom x:y
}

# top and its --reclaim tracer time their own programs, not the host's:
# another tool's program runs untimed meanwhile (see e2e-kmem), and the
# cost line counts top's.
test_own_cost() {
	local out=$tmp/own-cost.txt tpid

	floor_start kmem_cache_free || { floor_stop; return; }
	start_memops OC 10 100 1 4096 1 65536 1 0 none || { not_ok "own cost: no memops"; floor_stop; return; }
	"$MEMLENS" top -n 3 -i 0.3 --reclaim -p "$OC_pid" >"$out" 2>"$tmp/own-cost.err" &
	tpid=$!
	pids+=("$tpid")
	if wait_for "$tmp/own-cost.err" tracing; then
		echo go >&$OC_fd
		wait "$tpid"
		check_eq "own cost: top --reclaim exits 0 after -n 3" 0 "$?"
	else
		not_ok "own cost: top --reclaim starts"
		kill "$tpid" 2>/dev/null
		wait "$tpid" 2>/dev/null
		echo go >&$OC_fd
	fi
	check_eq "own cost: another tool's program runs untimed while top --reclaim runs" "0 0" \
		"$(floor_timed)"
	check "own cost: top's, above 0 in an interval" grep -Eq \
		'^memlens cost: [0-9]+ events/s, (0\.0[1-9]|0\.[1-9]|[1-9])[0-9.]* ms/s in BPF programs' "$out"
	floor_stop
	wait_for "$tmp/OC.log" done
	echo exit >&$OC_fd
	wait "$OC_pid"
}

# Piped: periodic tables with a header and memlens' own cost.
test_plain_table() {
	local out=$tmp/plain.txt
	local tpid
	start_memops F 10 100 1 4096 1 65536 1 0 none || { not_ok "plain: no memops"; return; }
	"$MEMLENS" top -n 4 -i 0.3 -p "$F_pid" -s allocs >"$out" 2>"$tmp/plain.err" &
	tpid=$!
	wait_for "$tmp/plain.err" tracing || { not_ok "plain: no start"; return; }
	echo go >&$F_fd
	wait "$tpid"
	check_eq "plain: exit code after -n 4" 0 "$?"
	check_eq "plain: four tables" 4 "$(grep -c '^memlens top ' "$out")"
	check "plain: sorted by allocs" grep -q "sorted by allocs" "$out"
	check "plain: cost line" grep -Eq '^memlens cost: [0-9]+ events/s, [0-9.]+ ms/s in BPF programs, 0 lost' "$out"
	check "plain: column header" grep -Eq '^ +PID COMM +ALLOC/s +BYTES/s' "$out"
	check "plain: the process's row" grep -Eq "^ *$F_pid $NAME " "$out"
	wait_for "$tmp/F.log" done
	echo exit >&$F_fd
	wait "$F_pid"
}

# On a terminal (tmux): the table redraws, keys change the sort, q quits.
test_live_terminal() {
	local session=memlens-e2e-$$ screen
	if ! command -v tmux >/dev/null; then
		not_ok "live: tmux is not installed"
		return
	fi
	tmux new-session -d -s "$session" -x 160 -y 40 "$MEMLENS_BIN top -i 0.3 -c $NAME"
	sleep 2
	screen=$(tmux capture-pane -p -t "$session")
	check "live: the table is drawn, sorted by bytes" grep -q "sorted by bytes" <<<"$screen"
	check "live: the key line" grep -q "q)uit" <<<"$screen"
	tmux send-keys -t "$session" n
	sleep 0.5
	screen=$(tmux capture-pane -p -t "$session")
	check "live: key n sorts by minor faults" grep -q "sorted by minflt" <<<"$screen"
	tmux send-keys -t "$session" q
	for ((i = 0; i < 30; i++)); do
		tmux has-session -t "$session" 2>/dev/null || break
		sleep 0.1
	done
	if tmux has-session -t "$session" 2>/dev/null; then
		not_ok "live: q quits"
		tmux kill-session -t "$session"
	else
		ok "live: q quits"
	fi
}

# -p: when the process exits, top shows its last counters and ends, long
# before its next interval.
test_pid_exit_ends() {
	local out=$tmp/end.json tpid r
	start_memops H 10 1000 0 0 0 0 0 0 none || { not_ok "-p end: no memops"; return; }
	"$MEMLENS" top -j -i 60 -p "$H_pid" >"$out" 2>"$tmp/end.err" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$tmp/end.err" tracing || { not_ok "-p end: no start"; return; }
	echo go >&$H_fd
	wait_for "$tmp/H.log" done || { not_ok "-p end: memops did not finish"; return; }
	echo exit >&$H_fd
	wait "$H_pid"
	wait_exit "$tpid" 10
	check_eq "-p end: top ends with its process, exit 0" 0 "$?"
	r=$(last_row "$out" "$H_pid")
	check_eq "-p end: the last interval has the process's counts" "10 10000 10 10000 " \
		"$(totals "$r" allocs alloc_bytes frees free_bytes)"
	check_eq "-p end: shown as exited" true "$(jq .exited <<<"$r")"
}

# Ctrl-C before the next interval: what happened since the last one is
# printed, not lost; JSON and tables.
test_sigint_last_interval() {
	local out tpid r mode
	for mode in json text; do
		out=$tmp/int.$mode
		start_memops I 10 1000 0 0 0 0 0 0 none || { not_ok "SIGINT: no memops"; return; }
		if [ $mode = json ]; then
			"$MEMLENS" top -j -i 60 -p "$I_pid" >"$out" 2>"$out.err" &
		else
			"$MEMLENS" top -i 60 -p "$I_pid" >"$out" 2>"$out.err" &
		fi
		tpid=$!
		pids+=("$tpid")
		wait_for "$out.err" tracing || { not_ok "SIGINT $mode: no start"; return; }
		echo go >&$I_fd
		wait_for "$tmp/I.log" done || { not_ok "SIGINT $mode: memops did not finish"; return; }
		kill -INT "$tpid"
		wait_exit "$tpid" 10
		check_eq "SIGINT $mode: exit 0" 0 "$?"
		if [ $mode = json ]; then
			r=$(last_row "$out" "$I_pid")
			check_eq "SIGINT json: the partial interval's counts" "10 10000 10 10000 " \
				"$(totals "$r" allocs alloc_bytes frees free_bytes)"
			check_eq "SIGINT json: one interval, the partial one" 1 \
				"$(grep -c '"type":"memlens"' "$out")"
		else
			check_eq "SIGINT text: one table, the partial interval's" 1 \
				"$(grep -c '^memlens top ' "$out")"
			check "SIGINT text: the process's row" grep -Eq "^ *$I_pid $NAME " "$out"
		fi
		echo exit >&$I_fd
		wait "$I_pid"
		rm -f "$tmp/I.in" "$tmp/I.log"
	done
}

# Frees of blocks from before top began: not in FREE/s (their sizes are
# unknown), counted in the memlens line, so that fewer frees than
# allocations do not read as a leak.
test_free_unknown() {
	local out=$tmp/fu fd pid tj tt
	mkfifo "$tmp/fu.in"
	exec {fd}<>"$tmp/fu.in"
	"$PWD/build/free_old" <&$fd >"$tmp/fu.log" &
	pid=$!
	pids+=("$pid")
	wait_for "$tmp/fu.log" ready || { not_ok "free_unknown: no free_old"; return; }
	"$MEMLENS" top -j -i 60 -p "$pid" >"$out.json" 2>"$out.json.err" &
	tj=$!
	"$MEMLENS" top -i 60 -p "$pid" >"$out.text" 2>"$out.text.err" &
	tt=$!
	pids+=("$tj" "$tt")
	wait_for "$out.json.err" tracing && wait_for "$out.text.err" tracing ||
		{ not_ok "free_unknown: no start"; return; }
	echo go >&$fd
	wait_for "$tmp/fu.log" done || { not_ok "free_unknown: no frees"; return; }
	kill -INT "$tj" "$tt"
	wait_exit "$tj" 10
	wait_exit "$tt" 10
	check_eq "free_unknown json: 25 frees of older blocks, none in the process's frees" "25 0" \
		"$(jq -r 'select(.type == "memlens") | .free_unknown' "$out.json" | tail -n 1) $(jq -s --argjson p "$pid" '[.[] | select(.type == "process" and .pid == $p) | .totals.frees] | add // 0' "$out.json")"
	check "free_unknown text: the memlens line counts them" grep -q \
		"^memlens cost: .* 0 lost; 25 frees of blocks allocated before tracing (or evicted), not in FREE/s$" \
		"$out.text"
	echo exit >&$fd
	wait "$pid"
}

# A shell allocates, then execs memops: its allocations are the shell's,
# shown once under its name; the memops row has memops's own counts alone:
# its calloc of 11 pointers, 10 + 10 malloc(1000) and their 20 frees.
# With "thread", the shell execs exec_after_alloc, which allocates and
# execs memops from a thread other than its leader: the kernel tied the
# hooks to the old leader's task, and top before showed memops's row
# with nothing. They are made anew ("hooked" a second time, under -v),
# some 100 ms after the exec: not held, memops made its first calls
# before. What it does once told to go is counted exactly.
# wait_hooked_again ERR: -v said libc "hooked" twice in ERR, within 10 s.
wait_hooked_again() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '^memlens: hooked .*libc' "$1")" -ge 2 ] && return 0
		sleep 0.1
	done
	return 1
}

test_exec_row() {
	local how=$1 out=$tmp/exec-$1.json err=$tmp/exec-$1.err tpid sh_pid fd r i
	local via=() before="0 0 0 0 " lines
	[ "$how" = thread ] && via=("$EXEC_AFTER_ALLOC" --thread)
	mkfifo "$tmp/exec-$how.in"
	exec {fd}<>"$tmp/exec-$how.in"
	bash -c 'read -r l; for ((i = 0; i < 200; i++)); do a[i]=$RANDOM$i; done
		exec "$@" 10 1000 0 0 0 0 0 0 none' bash "${via[@]}" "$MEMOPS" <&$fd \
		>"$tmp/exec-$how.log" &
	sh_pid=$!
	pids+=("$sh_pid")
	"$MEMLENS" top -v -j -i 0.3 -p "$sh_pid" >"$out" 2>"$err" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$err" tracing || { not_ok "exec $how: no start" "$(cat "$err")"; return; }
	echo start >&$fd
	wait_for "$tmp/exec-$how.log" ready || { not_ok "exec $how: memops did not start"; return; }
	if [ "$how" = thread ]; then
		wait_hooked_again "$err" || { not_ok "exec $how: not hooked again" "$(cat "$err")"; return; }
		# A row printed since: memops's counts until it goes.
		lines=$(wc -l <"$out")
		for ((i = 0; i < 100; i++)); do
			r=$(tail -n +$((lines + 1)) "$out" | jq -c --argjson p "$sh_pid" --arg n "$NAME" \
				'select(.type == "process" and .pid == $p and .comm == $n)' | tail -n 1)
			[ -n "$r" ] && break
			sleep 0.1
		done
		before=$(totals "$r" allocs alloc_bytes frees free_bytes)
	fi
	echo go >&$fd
	wait_for "$tmp/exec-$how.log" done || { not_ok "exec $how: memops did not finish"; return; }
	echo exit >&$fd
	wait "$sh_pid"
	wait_exit "$tpid" 10
	check_eq "exec $how: top ends with the process" 0 "$?"
	r=$(jq -c --argjson p "$sh_pid" --arg n "$NAME" \
		'select(.type == "process" and .pid == $p and .comm == $n)' "$out" | tail -n 1)
	if [ "$how" = leader ]; then
		check_eq "exec $how: the memops row has memops's own counts" "21 20088 20 20000 " \
			"$(totals "$r" allocs alloc_bytes frees free_bytes)"
	else
		check_eq "exec $how: the memops row, once it went: 10 malloc(1000), 10 frees" \
			"10 10000 10 10000" "$(paste -d' ' <(echo $before) \
			<(echo $(totals "$r" allocs alloc_bytes frees free_bytes)) |
			awk '{print $5 - $1, $6 - $2, $7 - $3, $8 - $4}')"
	fi
	check_eq "exec $how: the shell's row closed once, under its name, with its allocations" "bash" \
		"$(jq -r --argjson p "$sh_pid" 'select(.type == "process" and .pid == $p and
			.exited and .comm != $n and .totals.allocs > 200) | .comm' --arg n "$NAME" "$out")"
	exec {fd}>&-
}

# orphans_said FILE: the last count of threads with state -v said in FILE.
orphans_said() {
	sed -n 's/^memlens: threads: \([0-9]*\) with their state in a thread slot, \([0-9]*\) in the map$/\1 \2/p' \
		"$1" | tail -n 1
}

# A thread's state (its thread slot, or its entry in the map) goes at its
# exec also when the new image no longer matches: a process that
# allocates, then execs another name (-c) or leaves the cgroup and execs
# (--cgroup). Else the program it runs then would hold it until it exits.
test_unmatched_exec() {
	local slots=$1 what=$2 name=orph-$$ err=$tmp/orph.$1.$2.err tpid filter i opid ofd
	local sleepers=() where="1 0"
	[ "$slots" = 0 ] && where="0 1"
	mkdir -p "$tmp/orph.m" "$tmp/orph.e"
	cp "$MEMOPS" "$tmp/orph.m/$name"
	cp "$EXEC_AFTER_ALLOC" "$tmp/orph.e/$name"
	if [ "$what" = cgroup ]; then
		mkdir "$CGROUP" || { not_ok "unmatched: cannot create $CGROUP"; return; }
		filter=(--cgroup "$CGROUP_NAME")
	else
		filter=(-c "$name")
	fi
	# ERR emptied first: the last round's "tracing" would be waited for.
	: >"$err"
	MEMLENS_THREAD_SLOTS=$slots "$MEMLENS" top -j -v -i 0.2 "${filter[@]}" >/dev/null 2>"$err" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$err" tracing || { not_ok "unmatched: no start" "$(cat "$err")"; return; }
	# The control: a process that matches has its thread said, until it exits.
	MEMOPS=$tmp/orph.m/$name start_memops "O$slots$what" 10 1000 0 0 0 0 0 0 none ||
		{ not_ok "unmatched: no memops"; return; }
	eval "opid=\$O$slots${what}_pid ofd=\$O$slots${what}_fd"
	[ "$what" = cgroup ] && echo "$opid" >"$CGROUP/cgroup.procs"
	echo go >&$ofd
	wait_for "$tmp/O$slots$what.log" done || { not_ok "unmatched: memops did not finish"; return; }
	wait_for "$err" "threads: ${where% *} with their state in a thread slot, ${where#* } in the map" ||
		{ not_ok "$what, $slots slots: a matching thread said" "$(cat "$err")"; return; }
	echo exit >&$ofd
	wait "$opid"
	wait_for "$err" "threads: 0 with their state in a thread slot, 0 in the map" ||
		{ not_ok "$what, $slots slots: its exit said" "$(cat "$err")"; return; }
	for ((i = 0; i < 5; i++)); do
		if [ "$what" = cgroup ]; then
			# Allocates in the cgroup, leaves it, execs sleep.
			bash -c 'echo $$ >"$0/cgroup.procs"; for ((i = 0; i < 100; i++)); do a[i]=$RANDOM$i; done
				echo $$ >"$0/../cgroup.procs"; exec sleep 600' "$CGROUP" &
		else
			# Allocates as NAME, execs sleep.
			"$tmp/orph.e/$name" /bin/sleep 600 &
		fi
		sleepers+=($!)
		pids+=($!)
	done
	for i in "${sleepers[@]}"; do
		wait_for "/proc/$i/comm" '^sleep$' 5
	done
	sleep 0.6
	check_eq "$what, $slots slots: no state left to the programs they exec'd" "0 0" \
		"$(orphans_said "$err")"
	kill "${sleepers[@]}"
	wait "${sleepers[@]}" 2>/dev/null
	kill -INT "$tpid"
	wait "$tpid"
	[ "$what" = cgroup ] && rmdir "$CGROUP"
}

test_errors() {
	local gone static_pid
	true &
	gone=$!
	wait "$gone"
	expect_error "top: no such pid" 1 "memlens: pid $gone does not exist" "$MEMLENS" top -p "$gone"
	# Before: "pid 2 maps no allocator (no malloc symbol): use --no-uprobes".
	expect_error "top: a kernel thread" 1 \
		"memlens: pid 2 is a kernel thread: it has no user memory (memlens kmem -p 2 shows its kernel allocations)" \
		"$MEMLENS" top -p 2
	expect_error "top: sorting by stall without --reclaim" 2 \
		"memlens: top: sorting by stall needs --reclaim" "$MEMLENS" top -s stall
	expect_error "top: no such cgroup" 1 \
		"memlens: cgroup /sys/fs/cgroup/memory/no-such-group does not exist" \
		"$MEMLENS" top --cgroup no-such-group
	expect_error "top: not a cgroup" 1 \
		"memlens: /tmp is not in a cgroup v1 hierarchy (the memory controller is at /sys/fs/cgroup/memory)" \
		"$MEMLENS" top --cgroup /tmp
	expect_error "top: a cgroup of another hierarchy than memory's" 1 \
		"memlens: /sys/fs/cgroup/cpu is not a memory cgroup: it is in another cgroup v1 hierarchy than the memory controller's (/sys/fs/cgroup/memory)" \
		"$MEMLENS" top --cgroup /sys/fs/cgroup/cpu
	expect_error "top: comm too long" 2 \
		"memlens: invalid comm 'averyveryverylongname': a command name has 1 to 15 characters" \
		"$MEMLENS" top -c averyveryverylongname
	expect_error "top: bad sort key" 2 "memlens: invalid sort key 'nope' (see memlens top --help)" \
		"$MEMLENS" top -s nope
	expect_error "top: unknown option" 2 "memlens: top: unknown option '--bogus' (see memlens top --help)" \
		"$MEMLENS" top --bogus
	expect_error "hist: stray argument" 2 \
		"memlens: hist: unexpected argument 'extra' (see memlens hist --help)" \
		"$MEMLENS" hist extra
	start_static
	expect_error "top: statically linked target without symbols" 1 \
		"memlens: pid $static_pid maps no allocator (no malloc symbol): use --no-uprobes" \
		"$MEMLENS" top -p "$static_pid"
	kill "$static_pid"
}

require_root_and_build e2e-top
cp "$MEMOPS" "$tmp/$NAME"
MEMOPS=$tmp/$NAME

test_two_processes
test_new_libc
test_no_uprobes
test_cgroup
test_plain_table
test_own_cost
test_prom
test_live_terminal
test_pid_exit_ends
test_sigint_last_interval
test_exec_row leader
test_exec_row thread
test_free_unknown
test_unmatched_exec 1024 comm
test_unmatched_exec 0 comm
test_unmatched_exec 1024 cgroup
test_errors

finish e2e-top
