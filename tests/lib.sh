# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Shared by the end-to-end suites: counters, checks, waits, the memlens
# wrapper, workloads and cleanup. Sourced, not run.

MEMLENS_BIN=$PWD/memlens
LEAKY=$PWD/build/leaky
STATIC=$PWD/build/static_wait
DLOPEN_EXIT=$PWD/build/dlopen_exit
EXEC_AFTER_ALLOC=$PWD/build/exec_after_alloc
MAP_CALLS=$PWD/build/map_calls
INLINE_LEAK=$PWD/build/inline_leak
DSO=$PWD/build/libdso_leak.so
MEMOPS=$PWD/build/memops
CGROUP_V1_MEMORY=/sys/fs/cgroup/memory
PRESSURE=$PWD/build/pressure
KMEMLOAD=$PWD/build/kmemload
pass=0
fail=0
pids=()

tmp=$(mktemp -d /tmp/memlens-e2e.XXXXXX)
chmod 755 "$tmp"
# memlens under a time limit: a hang fails a test instead of the whole run.
MEMLENS=$tmp/memlens-limited
printf '#!/bin/sh\nexec timeout -k 5 120 "%s" "$@"\n' "$MEMLENS_BIN" >"$MEMLENS"
chmod 755 "$MEMLENS"
# memcg_make DIR LIMIT: a v1 memory cgroup of LIMIT (64M) without swap, so
# that pressure reclaims or kills instead of swapping; exits the suite
# (named in the message) where it cannot be made.
memcg_make() {
	if ! mkdir "$1"; then
		echo "$(basename "$0" .sh): cannot create the v1 memory cgroup $1" >&2
		exit 1
	fi
	echo "$2" >"$1/memory.limit_in_bytes"
	echo 0 >"$1/memory.swappiness"
	[ -e "$1/memory.memsw.limit_in_bytes" ] && echo "$2" >"$1/memory.memsw.limit_in_bytes"
	return 0
}

# memcg_remove DIR: kill what is left in the memory cgroup DIR, then remove
# it (the suites that make pressure in a small cgroup of their own).
memcg_remove() {
	local i
	[ -d "$1" ] || return 0
	xargs -r kill -KILL <"$1/cgroup.procs" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		[ -s "$1/cgroup.procs" ] || break
		sleep 0.1
	done
	rmdir "$1"
}

# A suite may define suite_cleanup, run first, even on failure.
# memlens runs under timeout(1): TERM reaches memlens through it, so that
# it detaches; a KILL would only orphan it.
cleanup() {
	declare -F suite_cleanup >/dev/null && suite_cleanup
	for p in "${pids[@]}"; do
		pkill -TERM -P "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.3
	for p in "${pids[@]}"; do
		pkill -KILL -P "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}

not_ok() {
	local line

	fail=$((fail + 1))
	echo "not ok - $1"
	shift
	for line in "$@"; do
		echo "#   $line"
	done
}

# wait_exit PID SECS: PID's exit code, or 124 (and PID stopped) if it is
# still running after SECS. TERM: timeout(1) passes it on to memlens.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1"
		wait "$1" 2>/dev/null
		return 124
	fi
	wait "$1"
}

# check DESC CMD...: passes if CMD succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc" "failed: $*"; fi
}

# jq_true [JQ OPTIONS] FILTER: the JSON on stdin satisfies FILTER.
jq_true() {
	local out

	# No input gives no output and exit 0: a check of nothing is no pass.
	out=$(jq -e "$@") && [ -n "$out" ]
}

# leaked REPORT: "blocks bytes" of the stacks through a leak_* function.
leaked() {
	jq -r '[.stacks[] | select(any(.frames[]; .symbol // "" | startswith("leak_")))]
		| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# first REPORT FUNC (a leaks or allocs JSON report): "allocations bytes" of the stacks whose first frame,
# the immediate caller of the allocator, is FUNC.
first() {
	jq -r --arg f "$2" '[.stacks[] | select(.frames[0].symbol == $f)]
		| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# callers REPORT FUNC: the distinct frames below FUNC in those stacks.
callers() {
	jq -r --arg f "$2" '[.stacks[] | select(.frames[0].symbol == $f) | .frames[1].symbol]
		| unique | join(",")' <<<"$1"
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}

# wait_for FILE PATTERN [SECONDS]: until a line of FILE matches.
wait_for() {
	local i
	for ((i = 0; i < ${3:-30} * 10; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

wait_for_lines() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# start_memlens OUT READY ARGS...: memlens ARGS in the background, stdout
# to OUT and stderr to OUT.err, once READY shows there; sets memlens_pid.
start_memlens() {
	local out=$1 ready=$2
	shift 2
	"$MEMLENS" "$@" >"$out" 2>"$out.err" 8<&- &
	memlens_pid=$!
	pids+=("$memlens_pid")
	wait_for "$out.err" "$ready" 30
}

# floor_start TP: an empty BPF program of another tool (build/floor) on raw
# tracepoint TP, which fires often; sets floor_pid and floor_id; fails if
# it is not loaded, or if its runs are timed already (another tool keeps
# the kernel's run-time statistics on: nothing to tell), said in a skip.
# floor_timed: "RUNS NS" the statistics took of it, "0 0" while nobody
# keeps them on (memlens times its own programs: bpf/cost.bpf.h).
floor_start() {
	local before

	floor_id=
	before=$(bpftool prog show -j | jq -c 'map(.id)')
	"$PWD/build/floor" -t "$1" 2>"$tmp/floor.err" &
	floor_pid=$!
	pids+=("$floor_pid")
	if ! wait_for "$tmp/floor.err" "tracing 1 raw tracepoints" 10; then
		not_ok "another tool's program on $1 (build/floor)" "$(cat "$tmp/floor.err")"
		return 1
	fi
	floor_id=$(bpftool prog show -j | jq --argjson b "$before" \
		'[.[] | select(.name == "floor_tp" and (.id as $i | $b | index($i) | not)) | .id] | first')
	if [ "$floor_id" = null ] || [ -z "$floor_id" ]; then
		not_ok "another tool's program on $1 (build/floor)" "not among bpftool's programs"
		return 1
	fi
	sleep 0.3
	if [ "$(floor_timed)" != "0 0" ]; then
		ok "another tool's program runs untimed # SKIP the kernel's run-time statistics are on"
		return 1
	fi
}

floor_timed() {
	bpftool prog show id "$floor_id" -j |
		jq -r 'if has("error") then "error: \(.error)" else "\(.run_cnt // 0) \(.run_time_ns // 0)" end'
}

# floor_stop: the program of floor_start gone.
floor_stop() {
	kill "$floor_pid" 2>/dev/null
	wait "$floor_pid" 2>/dev/null
}

# start_waiting LOG CMD...: CMD, a workload in its --wait mode, in the
# background with its stdin on a fifo (fd 8), until it prints "ready" into
# LOG; sets work_pid. Then work_go and work_exit drive it.
start_waiting() {
	local log=$1
	shift
	rm -f "$tmp/work.in" "$log"
	mkfifo "$tmp/work.in"
	# Ours read-write (no open blocks); its stdin read-only and no fd 8:
	# when we close ours, it reads EOF.
	exec 8<>"$tmp/work.in"
	"$@" <"$tmp/work.in" 8<&- >"$log" &
	work_pid=$!
	pids+=("$work_pid")
	wait_for "$log" ready
}

# work_go LOG: the workload does its work, until it prints "done" into LOG.
work_go() {
	echo go >&8
	wait_for "$1" done
}

# work_exit: the workload, done with its work, exits; waited for 30 s at
# most (then killed: a failure, not a hang), the fifo closed.
work_exit() {
	local i
	echo exit >&8
	exec 8>&-
	for ((i = 0; i < 300; i++)); do
		kill -0 "$work_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$work_pid" 2>/dev/null; then
		not_ok "workload $work_pid did not exit when told to"
		kill -KILL "$work_pid"
	fi
	wait "$work_pid"
}

# work_stop: the workload ends wherever it is in its handshake.
work_stop() {
	kill "$work_pid"
	wait "$work_pid" 2>/dev/null
	exec 8>&-
}

# next_report OUT: the first report memlens writes into OUT wholly after
# now (the second line from now), or nothing within 30 s.
next_report() {
	local n
	n=$(wc -l <"$1")
	wait_for_lines "$1" $((n + 2)) && sed -n "$((n + 2))p" "$1"
}

# live_and_last OUT COMMAND ARGS...: memlens COMMAND ARGS -p on leaky
# --wait, attached before its work: its live report after the work in
# $live, its last, at exit, in $last. leaky makes no allocator call after
# its work.
live_and_last() {
	local out=$1 log=$1.leaky
	shift
	start_waiting "$log" "$LEAKY" --wait || return
	start_memlens "$out" "tracing pid $work_pid" "$@" -p "$work_pid" || return
	work_go "$log" || return
	live=$(next_report "$out")
	work_exit
	wait "$memlens_pid"
	last=$(tail -n 1 "$out")
}

# stop_memlens: SIGTERM, through timeout(1); memlens prints its last report.
stop_memlens() {
	kill -TERM "$memlens_pid"
	wait "$memlens_pid"
}

# check_pid_exit VIEW START TYPE: memlens VIEW -p ends when its process
# exits, as top does: one last interval (JSON lines of TYPE; not at the
# end of -i 60), "pid N exited", exit 0. START: its line on stderr.
check_pid_exit() {
	local view=$1 start=$2 type=$3 out=$tmp/pidexit.json err=$tmp/pidexit.err p m rc

	sleep 60 &
	p=$!
	pids+=("$p")
	"$MEMLENS" "$view" -p "$p" -j -i 60 >"$out" 2>"$err" &
	m=$!
	pids+=("$m")
	wait_for "$err" "$start" || { not_ok "-p exit: no start" "$(cat "$err")"; return; }
	kill "$p"
	wait "$p" 2>/dev/null
	wait_exit "$m" 10
	rc=$?
	check_eq "-p exit: memlens ends with its process, exit 0" 0 "$rc"
	check_eq "-p exit: one last interval" 1 "$(grep -c "\"type\":\"$type\"" "$out")"
	check "-p exit: says the process exited" grep -q "pid $p exited" "$err"
}

# chromium_headless ARGS...: Debian's chromium, headless, offline, as root.
chromium_headless() {
	local profile
	profile=$(mktemp -d "$tmp/chromium.XXXXXX")
	timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$profile" "$@" 2>/dev/null
}

# check_flame_svg DESC SVG FRAME: the flame graph loads in a browser as an
# SVG document (not an error page) with FRAME's box, and renders (a
# screenshot that is not blank).
check_flame_svg() {
	local desc=$1 svg=$2 frame=$3 png=$tmp/flame.png
	chromium_headless --dump-dom "file://$svg" >"$tmp/flame.dom"
	check "$desc: in Chromium, an SVG document with a frame $frame" \
		grep -q "<title>$frame (" "$tmp/flame.dom"
	check "$desc: in Chromium, no error page" grep -q "^<svg" "$tmp/flame.dom"
	rm -f "$png"
	chromium_headless --screenshot="$png" --window-size=1200,800 "file://$svg" >/dev/null
	check "$desc: in Chromium, a screenshot that is not blank" python3 -c '
import sys, zlib, struct
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
# Decompress the image data: a blank page is one colour, very compressible.
idat = b""
pos = 8
while pos < len(data):
	n, kind = struct.unpack(">I4s", data[pos:pos + 8])
	if kind == b"IDAT":
		idat += data[pos + 8:pos + 8 + n]
	pos += 12 + n
raw = zlib.decompress(idat)
assert len(set(raw)) > 16, "too few distinct bytes: blank"
' "$png"
}

# pprof_has FILE SAMPLE_INDEX FUNCTION VALUE: `go tool pprof -top` on FILE
# shows FUNCTION with flat VALUE (*_space in bytes, *_objects).
pprof_has() {
	local file=$1 index=$2 func=$3 want=$4 out unit=
	case $index in *_space) unit=-unit=B ;; esac	# "28672B", not "28kB"
	# Its own HOME and cache, no toolchain download; the profile's names.
	out=$(HOME=$tmp GOCACHE=$tmp/gocache GOFLAGS= GOTOOLCHAIN=local \
		go tool pprof -top -symbolize=none -nodefraction=0 $unit \
		-sample_index="$index" "$file" 2>/dev/null) || return 1
	# Rows: flat flat% sum% cum cum% name
	awk -v f="$func" -v v="$want" '
		NF >= 6 && $2 ~ /%$/ {
			flat = $1; sub(/B$/, "", flat)
			name = $0
			sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +/, "", name)
			if (name == f && flat == v) found = 1
		}
		END { exit !found }' <<<"$out"
}

# expect_error DESC RC MESSAGE CMD...: exit code RC, stderr exactly MESSAGE.
expect_error() {
	local desc=$1 want_rc=$2 want_msg=$3 rc
	shift 3
	"$@" >"$tmp/err.out" 2>"$tmp/err.err"
	rc=$?
	check_eq "$desc: exit code" "$want_rc" "$rc"
	check_eq "$desc: message" "$want_msg" "$(cat "$tmp/err.err")"
}

# The process maps a different file at the usual libc path: a copy of libc
# bind-mounted in its own mount namespace, as in a container. Hooking the
# path as memlens sees it would hook the wrong file and find nothing.
in_other_libc_namespace() {
	local libc copy=$tmp/libc-copy.so.6
	libc=$(ldd "$LEAKY" | awk '/libc\.so/ {print $3}')
	libc=$(readlink -f "$libc")
	cp "$libc" "$copy"
	exec unshare -m sh -c "mount --bind '$copy' '$libc' && exec \"\$@\"" sh "$@"
}

# start_static: the statically linked waiter, once it has exec'd (until
# then the pid is a fork of this shell, with a libc); sets static_pid.
start_static() {
	"$STATIC" &
	static_pid=$!
	pids+=("$static_pid")
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink "/proc/$static_pid/exe")" == "$STATIC" ] && return 0
		sleep 0.05
	done
	return 1
}

# require_root_and_build SUITE: exit unless root and the binaries exist.
require_root_and_build() {
	if [ "$(id -u)" != 0 ]; then
		echo "$1: must run as root (loads BPF programs)" >&2
		exit 1
	fi
	for f in "$MEMLENS_BIN" "$LEAKY" "$STATIC" "$DLOPEN_EXIT" "$MEMOPS" "$EXEC_AFTER_ALLOC" \
		"$MAP_CALLS" "$INLINE_LEAK" "$PRESSURE" "$KMEMLOAD"; do
		[ -x "$f" ] || {
			echo "$1: $f missing: build first (make e2e)" >&2
			exit 1
		}
	done
}

# finish SUITE: the closing line, and the exit code.
finish() {
	echo "$1: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
