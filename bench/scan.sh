#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The reachability scan of memlens leaks: its speed (MB of heap scanned per
# second) and how long it stops the process, for a live heap of MB MiB
# (default 1024) in 1 KiB blocks (1M blocks: --max-allocs raised), from a
# table a global points to (tests/workloads/reach_graphs.c big=MB). Twice:
# at the exit of a command memlens started (its _exit hold), and on a
# running process by -p (seized, interrupted, scanned, detached) at Ctrl-C.
set -u
cd "$(dirname "$0")/.."
MB=${MB:-1024}
GRAPHS=$PWD/build/reach_graphs
MAX_ALLOCS=$((MB * 1024 + 65536))
tmp=$(mktemp -d /tmp/memlens-scanbench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

wait_for() {
	local i
	for ((i = 0; i < 6000; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: timed out waiting for '$2' in $1" >&2
	exit 1
}

# show WHAT REPORT: the scan's figures from a JSON report.
show() {
	jq -r --arg what "$1" '.scan as $s
		| "\($what): \(.outstanding_bytes) bytes in \(.outstanding_allocations) blocks; \($s.bytes_scanned) bytes scanned in \($s.scan_ms | floor) ms (\($s.bytes_scanned / $s.scan_ms / 1000 | floor) MB/s), process paused \($s.pause_ms | floor) ms (\($s.pause_ms / ($s.bytes_scanned / 1073741824) | floor) ms per GiB)"' <<<"$2"
}

echo "reachability scan, $MB MiB of live heap in 1 KiB blocks, each run measured here, now"
r=$(./memlens leaks --json -t 1 -i 3600 --max-allocs "$MAX_ALLOCS" -- "$GRAPHS" big="$MB" 2>/dev/null |
	tail -n 1)
show "leaks -- CMD, at its exit" "$r"

mkfifo "$tmp/in"
exec 3<>"$tmp/in"
"$GRAPHS" --wait big="$MB" <&3 >"$tmp/graphs.out" &
pid=$!
wait_for "$tmp/graphs.out" ready
./memlens leaks --json -t 1 -i 3600 --max-allocs "$MAX_ALLOCS" --scan end -p "$pid" \
	>"$tmp/pid.json" 2>"$tmp/pid.err" &
mpid=$!
wait_for "$tmp/pid.err" "tracing pid"
echo go >&3
wait_for "$tmp/graphs.out" done
kill -INT "$mpid"
wait "$mpid"
show "leaks -p, at Ctrl-C" "$(tail -n 1 "$tmp/pid.json")"
grep -q '^S\|^R' <(awk '/^State:/ {print $2}' "/proc/$pid/status") &&
	echo "leaks -p: the process runs on after the scan"
echo exit >&3
wait "$pid"
