#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens reclaim: memory pressure made inside a v1
# memory cgroup of 64 MiB that this suite creates and removes, so that
# nothing outside it is pushed.
#
#   1. a reader of a 512 MiB sparse file (page cache, charged to the
#      cgroup): memcg reclaim stalls of that pid, with the pages reclaimed;
#   2. a process that touches 256 MiB of anonymous memory with
#      oom_score_adj 1000: the OOM kill, with its pid and cgroup.
#
# MEMLENS_GLOBAL_PRESSURE=1 adds a test of kswapd and global direct
# reclaim: it fills the page cache of the whole machine (off by default).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

require_root_and_build e2e-reclaim

CG_NAME=memlens-e2e-$$
CG=$CGROUP_V1_MEMORY/$CG_NAME
SPARSE=$PWD/build/reclaim-sparse-$$
FILE_PAGES=$((512 * 1024 * 1024 / 4096))

suite_cleanup() {
	memcg_remove "$CG"
	rm -f "$SPARSE" "$SPARSE.top" "$SPARSE.big"
}

# in_cgroup CMD... &: CMD as a member of the test cgroup from its first
# instruction, with the pid $! names. Only in the background: it execs.
in_cgroup() {
	exec sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$@"
}

# start_reclaim OUT ARGS...: memlens reclaim ARGS, once it traces.
start_reclaim() {
	local out=$1
	shift
	start_memlens "$out" "tracing memory pressure" reclaim "$@"
}

# With swap, the hog would swap instead of being killed: none for the cgroup.
memcg_make "$CG" 64M
# Sparse: the page cache is filled with zeroes, nothing is read from disk.
truncate -s 512M "$SPARSE"

# --- reader and OOM victim, JSON --------------------------------------

out=$tmp/reclaim.json
if ! start_reclaim "$out" -j --cgroup "$CG_NAME" -i 0.5 -g 0.3; then
	not_ok "memlens reclaim starts" "$(cat "$out.err")"
	finish e2e-reclaim
	exit 1
fi
in_cgroup "$PRESSURE" read "$SPARSE" &
reader=$!
wait "$reader"
check_eq "reader read the whole file" 0 $?
# Apart by more than the gap: an episode each.
sleep 1
in_cgroup "$PRESSURE" anon 256 1000 >"$tmp/hog.out" &
hog=$!
wait "$hog" 2>/dev/null
check_eq "the hog was killed (SIGKILL)" 137 $?
sleep 1
stop_memlens
check_eq "memlens reclaim exits 0 on SIGTERM" 0 $?

summary=$(jq -c 'select(.type == "summary")' "$out")
reader_memcg=$(jq -c --argjson p "$reader" \
	'.processes[] | select(.pid == $p) | .stalls[] | select(.kind == "memcg")' <<<"$summary")
check "reader: memcg reclaim stalls" jq_true '.count > 0' <<<"$reader_memcg"
check "reader: pages reclaimed" jq_true '.reclaimed > 0' <<<"$reader_memcg"
check "reader: histogram holds every stall" jq_true '.hist_us.total == .count' <<<"$reader_memcg"
check "reader: stalled only in memcg reclaim" jq_true --argjson p "$reader" \
	'[.processes[] | select(.pid == $p) | .stalls[].kind] == ["memcg"]' <<<"$summary"
check_eq "reader: its memory cgroup" "\"/$CG_NAME\"" \
	"$(jq -c --argjson p "$reader" '.processes[] | select(.pid == $p) | .memcg' <<<"$summary")"
# Every page of the file is a page cache page the reader allocated, plus
# its own few (exec, stack, page tables).
reader_pages=$(jq --argjson p "$reader" '.processes[] | select(.pid == $p) | .allocated' \
	<<<"$summary")
check "reader: allocated the file's $FILE_PAGES pages, and at most 1024 more ($reader_pages)" \
	test "$reader_pages" -ge "$FILE_PAGES" -a "$reader_pages" -le $((FILE_PAGES + 1024))
check_eq "only processes of the cgroup" "[$reader,$hog]" \
	"$(jq -c '[.processes[].pid] | sort' <<<"$summary")"
# Runs the kernel skipped (recursion_misses: an interrupt's page
# allocation while the same program runs on its CPU, anywhere on the host)
# are reported, not asserted; the exact counts here would show them.
check_eq "nothing lost: no map full, no event dropped" "0" \
	"$(jq '[.lost | del(.recursion_misses)[]] | add' <<<"$summary")"
check_eq "every tracepoint hooked" '""' "$(jq -c '.not_traced' <<<"$summary")"

oom=$(jq -c 'select(.type == "oom")' "$out")
check_eq "one OOM kill" 1 "$(jq -s length <<<"$oom")"
check_eq "OOM: the victim's pid" "$hog" "$(jq '.pid' <<<"$oom")"
check_eq "OOM: its cgroup" "\"/$CG_NAME\"" "$(jq -c '.memcg' <<<"$oom")"
check_eq "OOM: its oom_score_adj" 1000 "$(jq '.oom_score_adj' <<<"$oom")"
check_eq "OOM: its name" '"pressure"' "$(jq -c '.comm' <<<"$oom")"
check "OOM: its anonymous rss near the limit" jq_true \
	'.rss_kb.anon > 32768 and .rss_kb.anon <= 65536' <<<"$oom"
check_eq "summary counts the OOM kill" 1 "$(jq '.oom_kills' <<<"$summary")"

episodes=$(jq -c 'select(.type == "episode")' "$out")
check_eq "two episodes: the reader's, the hog's" 2 "$(jq -s length <<<"$episodes")"
first=$(jq -c 'select(.id == 1)' <<<"$episodes")
check "episode 1: the reader stalled" jq_true --argjson p "$reader" \
	'.stalled | map(.pid) == [$p]' <<<"$first"
check "episode 1: the reader allocated most" jq_true --argjson p "$reader" \
	'.allocated[0].pid == $p and .allocated[0].pages > 0' <<<"$first"
check "episode 1: no OOM kill" jq_true '.oom_kills == []' <<<"$first"
check "episode 1: a timeline with stalls in it" jq_true \
	'(.timeline | length) > 0 and ([.timeline[].stalls] | add) == .stalls' <<<"$first"
second=$(jq -c 'select(.id == 2)' <<<"$episodes")
check "episode 2: the OOM kill of the hog" jq_true --argjson p "$hog" \
	".oom_kills == [{\"pid\": \$p, \"memcg\": \"/$CG_NAME\"}]" <<<"$second"
# The stream (episodes) and the in-kernel counters (summary) agree.
check_eq "episodes hold every stall the summary counts" \
	"$(jq '[.processes[].stalls[].count] | add' <<<"$summary")" \
	"$(jq -s '[.[].stalls] | add' <<<"$episodes")"
check_eq "episodes hold every reclaimed page the summary counts" \
	"$(jq '[.processes[].stalls[].reclaimed] | add' <<<"$summary")" \
	"$(jq -s '[.[].reclaimed.memcg] | add' <<<"$episodes")"
check "intervals: the reader's stalls with its cgroup" jq_true -s --argjson p "$reader" \
	"[.[] | select(.type == \"interval\") | .processes[] | select(.pid == \$p and .stalls.memcg > 0)
	  | .memcg] | unique == [\"/$CG_NAME\"]" <"$out"

# --- top --reclaim: the reclaim tracer beside the allocation view ----

out=$tmp/top.json
truncate -s 512M "$SPARSE.top"		# a file of its own: none of it cached
start_memlens "$out" "tracing" top --reclaim --no-uprobes -j --cgroup "$CG_NAME" -i 0.5
in_cgroup "$PRESSURE" read "$SPARSE.top" &
reader=$!
wait "$reader"
sleep 1.2
stop_memlens
check_eq "top --reclaim exits 0 on SIGTERM" 0 $?
# The reader's own row: the shell it was before exec has one of its own.
last=$(jq -c --argjson p "$reader" 'select(.type == "process" and .pid == $p and .comm == "pressure")' \
	"$out" | tail -n 1)
check "top --reclaim: the reader's memcg stalls and pages reclaimed" jq_true \
	'.reclaim.stalls.memcg > 0 and .reclaim.reclaimed > 0 and .reclaim.stall_ms.memcg > 0' \
	<<<"$last"
check "top --reclaim: the reader's stall %, in some interval, within one thread's 100%" jq_true -s \
	--argjson p "$reader" '[.[] | select(.type == "process" and .pid == $p) | .reclaim.stall_pct]
	 | any(. > 0) and all(. >= 0 and . <= 100)' "$out"
check "top --reclaim: the reader's page allocations, the file's and a few" jq_true \
	".reclaim.page_allocs >= $FILE_PAGES and .reclaim.page_allocs <= $((FILE_PAGES + 1024))" \
	<<<"$last"
check_eq "top --reclaim: nothing lost" 0 \
	"$(jq -s '[.[] | select(.type == "memlens") | .reclaim_lost | del(.recursion_misses)[]] | add' \
		"$out")"
rm -f "$SPARSE.top"

# --- the same as text -------------------------------------------------

out=$tmp/reclaim.txt
start_reclaim "$out" --cgroup "$CG_NAME" -i 0.5 -g 0.3
in_cgroup "$PRESSURE" anon 256 1000 >/dev/null &
hog=$!
wait "$hog" 2>/dev/null
sleep 1
stop_memlens
check "text: the OOM kill line" grep -q \
	"OOM kill: pid $hog (pressure) in memcg /$CG_NAME, .*oom_score_adj 1000; by pid $hog (pressure)" \
	"$out"
check "text: the episode" grep -q "^episode 1: .* stalls" "$out"
check "text: who paid" grep -qE "^ +$hog pressure +/$CG_NAME +[0-9]+ " "$out"
check "text: the timeline" grep -q "timeline (a row each 100 ms)" "$out"
check "text: the summary's histogram" grep -q "usecs" "$out"

# --- started mid-stall; Ctrl-C ----------------------------------------

# Four readers in memcg reclaim all the time: memlens always starts with
# stalls in progress. Their ends alone are seen: no loss, the part of each
# stall after the start is timed (issue 14: "lost 17" in idle intervals).
readers=()
for ((i = 0; i < 4; i++)); do
	in_cgroup sh -c 'while "$0" read "$1"; do :; done' "$PRESSURE" "$SPARSE" &
	readers+=($!)
	pids+=($!)
done
sleep 1
begun=0
for ((run = 1; run <= 3; run++)); do
	out=$tmp/midstall.$run.json
	"$MEMLENS" reclaim -j -i 0.5 -n 2 --cgroup "$CG_NAME" >"$out" 2>"$out.err"
	check_eq "mid-stall start $run: exit 0" 0 $?
	summary=$(jq -c 'select(.type == "summary")' "$out")
	check_eq "mid-stall start $run: nothing lost, in any interval or the summary" 0 \
		"$(jq -s '[.[] | select(.lost) | .lost | del(.recursion_misses)[]] | add' "$out")"
	check "mid-stall start $run: stalls seen" jq_true '.stalls > 0' <<<"$summary"
	begun=$((begun + $(jq '.stalls_begun_before // 0' <<<"$summary")))
done
check "mid-stall: stalls in progress at the start were timed ($begun)" test "$begun" -gt 0

# Ctrl-C before the first interval: that interval is printed, then the summary.
out=$tmp/sigint.json
start_reclaim "$out" -j -i 60 --cgroup "$CG_NAME"
sleep 1
kill -INT "$memlens_pid"
wait "$memlens_pid"
check_eq "SIGINT: exit 0" 0 $?
check_eq "SIGINT: the partial interval first, the summary last" "interval summary" \
	"$(jq -r .type "$out" | sed -n '1p;$p' | paste -sd ' ')"
check_eq "SIGINT: one interval" 1 "$(jq -r .type "$out" | grep -c '^interval$')"
check "SIGINT: the partial interval has the readers' stalls" jq_true -s \
	'map(select(.type == "interval"))[0] | .stalls > 0 and .interval_s < 30' "$out"
kill "${readers[@]}" 2>/dev/null
xargs -r kill -KILL <"$CG/cgroup.procs" 2>/dev/null
wait "${readers[@]}" 2>/dev/null

# --- errors -------------------------------------------------------------

expect_error "no such cgroup" 1 \
	"memlens: cgroup $CGROUP_V1_MEMORY/memlens-no-such-cgroup does not exist" \
	"$MEMLENS_BIN" reclaim --cgroup memlens-no-such-cgroup
expect_error "no such pid" 1 "memlens: pid 999999999 does not exist" \
	"$MEMLENS_BIN" reclaim -p 999999999
expect_error "bad gap" 2 \
	"memlens: invalid gap 'x': expected seconds, for example 5 or 0.5" \
	"$MEMLENS_BIN" reclaim --gap x
expect_error "a gap shorter than a tick" 2 \
	"memlens: reclaim: --gap 0.01 is shorter than --tick 0.2: an episode would end between the ticks that count it" \
	"$MEMLENS_BIN" reclaim --gap 0.01 --tick 0.2
# A tick above the default gap (1 s) without --gap: the gap is the tick.
"$MEMLENS_BIN" reclaim --tick 2 -i 0.2 -n 1 >/dev/null 2>"$tmp/tick2.err"
check_eq "--tick 2 without --gap: runs" 0 $?
expect_error "no uprobes here" 2 \
	"memlens: reclaim: unknown option '--no-uprobes' (see memlens reclaim --help)" \
	"$MEMLENS_BIN" reclaim --no-uprobes

# --- its own cost ---------------------------------------------------------

# reclaim times its own programs, not the host's (bpf/cost.bpf.h): another
# tool's program on a tracepoint it hooks too runs untimed meanwhile, and
# reclaim's cost is there (see e2e-kmem).
test_own_cost() {
	local out=$tmp/own-cost.json reader

	floor_start mm_page_alloc || { floor_stop; return; }
	if ! start_reclaim "$out" -j --cgroup "$CG_NAME" -i 0.3; then
		not_ok "own cost: reclaim starts" "$(cat "$out.err")"
		floor_stop
		return
	fi
	in_cgroup "$PRESSURE" read "$SPARSE" &
	reader=$!
	wait "$reader"
	sleep 0.7
	check_eq "own cost: another tool's program runs untimed while reclaim runs" "0 0" \
		"$(floor_timed)"
	stop_memlens
	floor_stop
	check "own cost: reclaim's, over the reader's intervals, above 0" jq_true -s \
		'map(select(.type == "interval") | .bpf_ms_per_s) | add > 0' <"$out"
}
test_own_cost

# -p: ends when its process exits, as top does.
check_pid_exit reclaim "tracing memory pressure" interval

# --- a process that exits within an interval ------------------------------

# Page allocations are read ten times an interval, and a process that has
# exited leaves the map at one of those reads: its last count must still
# be in the interval's row. 20 MiB of anonymous memory touched, under the
# limit, begun just after a report and over in a fraction of the interval.
test_exited_in_interval() {
	local out=$tmp/exited.json toucher pages

	if ! start_reclaim "$out" -j --cgroup "$CG_NAME" -i 1; then
		not_ok "exited: reclaim starts" "$(cat "$out.err")"
		return
	fi
	wait_for_lines "$out" 1 || { not_ok "exited: no first interval"; stop_memlens; return; }
	in_cgroup "$PRESSURE" anon 20 0 >"$tmp/toucher.out" &
	toucher=$!
	wait "$toucher"
	check_eq "exited: the toucher survived" "survived" "$(cat "$tmp/toucher.out")"
	wait_for_lines "$out" 4
	stop_memlens
	pages=$(jq -s --argjson p "$toucher" \
		'[.[] | select(.type == "interval") | .processes[] | select(.pid == $p)
		  | .allocated] | add // 0' "$out")
	check "exited: its 5120 pages in the interval rows, at most 1024 more ($pages)" \
		test "$pages" -ge 5120 -a "$pages" -le 6144
}
test_exited_in_interval

# --- opt-in: the whole machine ------------------------------------------

if [ "${MEMLENS_GLOBAL_PRESSURE:-0}" = 1 ]; then
	# A sparse file larger than memory, read outside any limit: the page
	# cache fills free memory, then kswapd (and maybe direct reclaim) frees it.
	mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	truncate -s $((mem_kb * 1024 + 4 * 1024 * 1024 * 1024)) "$SPARSE.big"
	out=$tmp/global.json
	start_reclaim "$out" -j -c pressure -i 1
	"$PRESSURE" read "$SPARSE.big"
	sleep 2
	stop_memlens
	rm -f "$SPARSE.big"
	summary=$(jq -c 'select(.type == "summary")' "$out")
	check "global: kswapd woke" jq_true '.kswapd.wakes > 0' <<<"$summary"
	check "global: kswapd reclaimed pages" jq_true '.kswapd.reclaimed > 0' <<<"$summary"
	echo "# global: direct reclaim stalls of the reader:" \
		"$(jq -c '[.processes[].stalls[] | select(.kind == "direct") | .count] | add' \
			<<<"$summary")"
fi

finish e2e-reclaim
