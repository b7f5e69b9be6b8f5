#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens reclaim --stacks: which code paid for memory
# pressure. build/stallwork, in a v1 memory cgroup of 64 MiB that this
# suite creates and removes, stalls in two known functions:
# write_through_cache() writes 160 MiB through the page cache into a file
# in the suite's temp dir (memcg reclaim in the write path), then
# touch_anon() touches 32 MiB of new anonymous memory (memcg reclaim in
# the page fault path). Both must be on the user stacks, each with its
# kernel path, and the stalls by stack must add up to the process's.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

require_root_and_build e2e-stall-stacks
STALLWORK=$PWD/build/stallwork
[ -x "$STALLWORK" ] || {
	echo "e2e-stall-stacks: $STALLWORK missing: build first (make e2e)" >&2
	exit 1
}

CG_NAME=memlens-stall-stacks-$$
CG=$CGROUP_V1_MEMORY/$CG_NAME

suite_cleanup() {
	memcg_remove "$CG"
}

memcg_make "$CG" 64M
mkdir "$tmp/work"

# stallwork_run: the workload in the cgroup from its first instruction; sets work.
stallwork_run() {
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$STALLWORK" "$tmp/work" 160 32 \
		>"$tmp/work.out" &
	work=$!
	wait "$work"
	check_eq "stallwork ran to its end" "0 done" "$? $(cat "$tmp/work.out")"
	rm -f "$tmp/work/stallwork.data"
}

# --- JSON, SVG, pprof -------------------------------------------------------

out=$tmp/stacks.json
svg=$tmp/stalls.svg
pb=$tmp/stalls.pb.gz
if ! start_memlens "$out" "tracing memory pressure" reclaim --stacks -j --cgroup "$CG_NAME" \
	-i 0.5 -g 0.3 --svg "$svg" --pprof "$pb"; then
	not_ok "memlens reclaim --stacks starts" "$(cat "$out.err")"
	finish e2e-stall-stacks
	exit 1
fi
stallwork_run
sleep 1
stop_memlens
check_eq "reclaim --stacks exits 0 on SIGTERM" 0 $?

summary=$(jq -c 'select(.type == "summary")' "$out")
proc=$(jq -c --argjson p "$work" '.processes[] | select(.pid == $p)' <<<"$summary")
stalls=$(jq '[.stalls[].count] | add' <<<"$proc")
check "stallwork stalled" test "${stalls:-0}" -gt 0
check_eq "the stalls by stack add up to the process's ($stalls)" "$stalls" \
	"$(jq '[.stacks[].count] | add' <<<"$proc")"
check "the time by stack adds up to the process's" jq_true \
	'(([.stacks[].total_ms] | add) - ([.stalls[].total_ms] | add) | fabs) < 0.001 * (.stacks | length) + 0.001' \
	<<<"$proc"
check "every stack's max is within its total" jq_true \
	'all(.stacks[]; .max_ms > 0 and .max_ms <= .total_ms + 0.0005)' <<<"$proc"
check_eq "no stack lost, no map full" "0 0 0" \
	"$(jq -r '.lost | "\(.user_stacks_lost) \(.kernel_stacks_lost) \(.stall_stacks_map_full)"' \
		<<<"$summary")"

# user frame names of a stack, innermost first; kernel frame names the same.
users='[.user[]?.symbol]'
kernels='[.kernel[]?.symbol]'
writes=$(jq -c "[.stacks[] | select($users | index(\"write_through_cache\"))]" <<<"$proc")
anons=$(jq -c "[.stacks[] | select($users | index(\"touch_anon\"))]" <<<"$proc")
check "write_through_cache is on user stacks that stalled" jq_true 'length > 0' <<<"$writes"
check "touch_anon is on user stacks that stalled" jq_true 'length > 0' <<<"$anons"
check "every stack is one of the two" jq_true \
	"all(.stacks[]; ($users | index(\"write_through_cache\")) or ($users | index(\"touch_anon\")))" \
	<<<"$proc"
check "write_through_cache: called from main, no touch_anon" jq_true \
	"all(.[]; ($users | index(\"main\")) > ($users | index(\"write_through_cache\"))
	  and ($users | index(\"touch_anon\")) == null)" <<<"$writes"
# It may also stall writing back (sync_file_range): not the write path.
check "write_through_cache: in write(2), the kernel's write path (vfs_write, generic_perform_write)" \
	jq_true "[.[] | select(.user[0].symbol | test(\"write\$\"))] as \$w | (\$w | length) > 0
	 and all(\$w[]; ($kernels | index(\"vfs_write\")) and ($kernels | index(\"generic_perform_write\")))" \
	<<<"$writes"
check "touch_anon: the fault is in it (its innermost user frame), the page fault path" jq_true \
	"all(.[]; $users[0] == \"touch_anon\" and ($kernels | index(\"handle_mm_fault\"))
	  and ($kernels | index(\"vfs_write\")) == null)" <<<"$anons"
check "kernel stacks begin where the task stalled, not in memlens' BPF program" jq_true \
	"all(.stacks[]; $kernels[0] == \"try_to_free_mem_cgroup_pages\")" <<<"$proc"
check "memcg stalls only" jq_true 'all(.stacks[]; .kind == "memcg")' <<<"$proc"

# stall %: each interval's share of its wall time; over the intervals, the
# process's whole stall time (a stall in progress at an interval's end
# counts there in part, and the rest in the next).
check "stall %: the intervals' shares add up to the stall time" jq_true -s --argjson p "$work" \
	'([.[] | select(.type == "interval") as $i | $i.processes[] | select(.pid == $p)
	   | .stall_pct * $i.interval_s * 10] | add) as $pct
	 | ([.[] | select(.type == "summary") | .processes[] | select(.pid == $p)
	   | .stalls[].total_ms] | add) as $ms
	 | $pct > 0 and (($pct - $ms) | fabs) <= 0.05 + 0.005 * $ms' "$out"
check "stall %: one thread, at most 100% of any interval" jq_true -s --argjson p "$work" \
	'all(.[] | select(.type == "interval") | .processes[] | select(.pid == $p);
	     .stall_pct >= 0 and .stall_pct <= 100)' "$out"

episode=$(jq -c 'select(.type == "episode")' "$out" | head -n 1)
check "an episode lists the stacks that paid beside who caused it" jq_true --argjson p "$work" \
	"(.stacks | length) > 0 and (.stacks | length) <= 3 and .stacks[0].pid == \$p
	 and (.stacks[0] | $users | index(\"write_through_cache\") or index(\"touch_anon\"))
	 and .allocated[0].pid == \$p" <<<"$episode"
check "episodes' stacks are sorted by time" jq_true \
	'[.stacks[].total_ms] as $t | $t == ($t | sort | reverse)' <<<"$episode"

check_flame_svg "svg" "$svg" "write_through_cache"
check "svg: touch_anon's box too" grep -q "<title>touch_anon (" "$svg"
check "svg: the kernel's frames, marked" grep -q "<title>vfs_write_\[k\] (" "$svg"

# pprof: the innermost frame of every stack is where reclaim began; the
# two functions have what their stacks add up to.
pprof_top() {
	HOME=$tmp GOCACHE=$tmp/gocache GOFLAGS= GOTOOLCHAIN=local \
		go tool pprof -top -symbolize=none -nodefraction=0 -sample_index="$1" "$pb" 2>/dev/null
}
# pprof_cum INDEX FUNCTION: FUNCTION's cum column.
pprof_cum() {
	pprof_top "$1" | awk -v f="$2" 'NF >= 6 && $2 ~ /%$/ && $6 == f { print $4 }'
}
check "pprof: every stall under try_to_free_mem_cgroup_pages ($stalls)" \
	pprof_has "$pb" stalls try_to_free_mem_cgroup_pages "$stalls"
check_eq "pprof: write_through_cache's stalls" "$(jq '[.[].count] | add' <<<"$writes")" \
	"$(pprof_cum stalls write_through_cache)"
check_eq "pprof: touch_anon's stalls" "$(jq '[.[].count] | add' <<<"$anons")" \
	"$(pprof_cum stalls touch_anon)"
check "pprof: sample types stalls/count and stall_time/nanoseconds" \
	grep -q "Type: stall_time" <(pprof_top stall_time)
check "pprof: stall_time is the default" \
	grep -q "Type: stall_time" <(HOME=$tmp GOCACHE=$tmp/gocache GOFLAGS= GOTOOLCHAIN=local \
		go tool pprof -top -symbolize=none "$pb" 2>/dev/null)

# --- folded ------------------------------------------------------------------

out=$tmp/stacks.folded
start_memlens "$out" "tracing memory pressure" reclaim --folded --cgroup "$CG_NAME" -i 0.5
stallwork_run
sleep 1
stop_memlens
check_eq "--folded exits 0 on SIGTERM" 0 $?
check "folded: folded lines only (no interval, no summary)" \
	awk '!/^[^ ]+ [0-9]+$/ { exit 1 } END { exit NR == 0 }' "$out"
check "folded: the write path, root first" grep -qE \
	'^stallwork;(.*;)?main;write_through_cache;[^ ]*vfs_write_\[k\];.*try_to_free_mem_cgroup_pages_\[k\] [0-9]+$' \
	"$out"
check "folded: the fault path" grep -qE \
	'^stallwork;(.*;)?main;touch_anon;[^ ]*handle_mm_fault_\[k\];.*try_to_free_mem_cgroup_pages_\[k\] [0-9]+$' \
	"$out"

# --- text --------------------------------------------------------------------

out=$tmp/stacks.txt
start_memlens "$out" "tracing memory pressure" reclaim --stacks --cgroup "$CG_NAME" -i 0.5 -g 0.3
stallwork_run
sleep 1
stop_memlens
check_eq "text: exits 0 on SIGTERM" 0 $?
check "text: the summary's stacks" grep -q "^  stacks that paid most:" "$out"
check "text: a stack's count, total and max" grep -qE \
	"^    #1 memcg: [0-9]+ stalls, [0-9.]+ ms, max [0-9.]+ ms$" "$out"
check "text: the episode's stacks, with their pid" grep -qE \
	"^    #1 pid $work \(stallwork\) memcg: [0-9]+ stalls" "$out"
check "text: write_through_cache with its file and line" grep -qE \
	"write_through_cache\+0x[0-9a-f]+ \(.*stallwork\) .*stallwork.c:[0-9]+$" "$out"

# --- record --stalls, report --stalls ----------------------------------------

# The same workload recorded, reclaim beside it: the recording's stalls by
# stack add up to what reclaim counts for the process, exactly.
out=$tmp/beside.json
rec=$tmp/stalls.mlr
start_memlens "$out" "tracing memory pressure" reclaim -j --cgroup "$CG_NAME" -i 0.5
"$MEMLENS" record --stalls -i 0.5 -o "$rec" -- \
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$STALLWORK" "$tmp/work" 160 32 \
	>"$tmp/work.out" 2>"$tmp/record.err"
check_eq "record --stalls: the command ran to its end" "0 done" "$? $(cat "$tmp/work.out")"
rm -f "$tmp/work/stallwork.data"
sleep 1
stop_memlens
recpid=$(jq -r 'select(.type == "stalls") | .pid' <("$MEMLENS" report --stalls -j "$rec"))
stalls=$(jq --argjson p "${recpid:-0}" 'select(.type == "summary") | .processes[]
	| select(.pid == $p) | [.stalls[].count] | add' "$out")
"$MEMLENS" report --stalls -j -t 0 "$rec" >"$tmp/report.json"
check_eq "report --stalls: exit 0" 0 $?
check "report --stalls: the recorded process stalled" test "${stalls:-0}" -gt 0
check_eq "report --stalls: the stalls by stack add up to reclaim's count ($stalls), none lost" \
	"$stalls $stalls 0" "$(jq -r '"\([.stacks[].count] | add) \(.stalls) \(.lost)"' "$tmp/report.json")"
check "report --stalls: both functions, each with its kernel path" jq_true \
	"any(.stacks[]; ($users | index(\"write_through_cache\")) and ($kernels | index(\"vfs_write\")))
	 and any(.stacks[]; $users[0] == \"touch_anon\" and ($kernels | index(\"handle_mm_fault\")))" \
	"$tmp/report.json"
check "report --stalls --folded: root first, under the name it exec'd" grep -qE \
	'^stallwork;(.*;)?main;write_through_cache;.*vfs_write_\[k\];' \
	<("$MEMLENS" report --stalls --folded "$rec" 2>/dev/null)
check "report --stalls: text, the recording's header and the stacks" grep -q \
	"^reclaim stalls: $stalls, 0 of them in no stack (map full); by stack, the [0-9]* of [0-9]* that paid most:" \
	<("$MEMLENS" report --stalls "$rec" 2>/dev/null)
check_eq "report --stalls: every loss counter of the reclaim tracer recorded" \
	"unmatched_ends procs_map_full threads_map_full hists_map_full page_allocs_map_full events_lost user_stacks_lost kernel_stacks_lost stall_stacks_map_full recursion_misses" \
	"$(jq -r '.losses | keys_unsorted | join(" ")' "$tmp/report.json")"
check "report --stalls: text, the tracer's losses after the stacks" grep -qE \
	"^lost by the reclaim tracer: (none|[a-z_]+ [0-9]+(, [a-z_]+ [0-9]+)*)$" \
	<("$MEMLENS" report --stalls "$rec" 2>/dev/null)
check "report: the allocations as before (touch_anon's 32 MiB mmap)" grep -q \
	"^33554432 bytes in 1 allocations" <("$MEMLENS" report "$rec" 2>/dev/null)
expect_error "report --stalls of a recording without them" 1 \
	"memlens: $tmp/plain.mlr: the recording holds no stalls (record them with memlens record --stalls)" \
	sh -c "\"$MEMLENS_BIN\" record -o $tmp/plain.mlr -- true 2>/dev/null && exec \"$MEMLENS_BIN\" report --stalls $tmp/plain.mlr"
expect_error "report --stalls with --timeline" 2 \
	"memlens: report: --stalls are the recording's stalls, not a snapshot's" \
	"$MEMLENS_BIN" report --stalls --timeline "$rec"

# --- a process gone before its mappings were read ---------------------------
# A hog OOM-killed a few ms after its first stall, while memlens is stopped:
# memlens reads the stall once the hog has exited, too late for its
# mappings. Its stacks are still counted, with addresses for user frames,
# and memlens says so instead of leaving them unnamed silently.
out=$tmp/gone.json
start_memlens "$out" "tracing memory pressure" reclaim --stacks -j --cgroup "$CG_NAME" -i 0.5
ml=$(pgrep -P "$memlens_pid" memlens)	# $MEMLENS is timeout, memlens its child
kill -STOP "$ml"
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$PRESSURE" anon 256 1000 >/dev/null 2>&1 &
hog=$!
wait "$hog" 2>/dev/null	# no "Killed" notice
hog_rc=$?
kill -CONT "$ml"
sleep 1
stop_memlens
check_eq "gone: the hog was OOM-killed" 137 "$hog_rc"
proc=$(jq -c --argjson p "$hog" 'select(.type == "summary") | .processes[] | select(.pid == $p)' "$out")
check_eq "gone: the hog's stalls by stack add up to its stalls" \
	"$(jq '[.stalls[].count] | add' <<<"$proc")" "$(jq '[.stacks[].count] | add' <<<"$proc")"
check "gone: each of its stacks says its user frames are unnamed, gives the first's address" jq_true \
	'(.stacks | length) > 0 and all(.stacks[]; .user_unnamed == true and (.user | length) == 1
	 and all(.user[]; .symbol == null and (.addr | startswith("0x")))
	 and ([.kernel[].symbol] | index("handle_mm_fault")))' <<<"$proc"
check_eq "gone: memlens says how many processes it could not name" \
	"memlens: 1 process(es) exited before their mappings were read (or they could not be read): their user frames are addresses" \
	"$(grep "exited before" "$out.err")"

# --- a process whose mappings were read at its exec -------------------------
# With a filter, memlens reads a matching process's mappings when it
# exec's. The same hog, waiting after its exec until memlens has read them,
# is killed while memlens is stopped: its first stall is read once it is
# gone, and main is named all the same, from the mappings read at exec.
out=$tmp/exec.json
start_memlens "$out" "tracing memory pressure" reclaim -v --stacks -j --cgroup "$CG_NAME" -i 0.5
ml=$(pgrep -P "$memlens_pid" memlens)
rm -f "$tmp/hog.in"
mkfifo "$tmp/hog.in"
exec 9<>"$tmp/hog.in"
sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG" "$PRESSURE" anon 256 1000 wait \
	<"$tmp/hog.in" >/dev/null 2>&1 9<&- &
hog=$!
if wait_for "$out.err" "pid $hog: mappings read before its first stall"; then
	kill -STOP "$ml"
	echo go >&9
else
	not_ok "exec: memlens read the hog's mappings at its exec" "$(cat "$out.err")"
	kill -TERM "$hog"
fi
wait "$hog" 2>/dev/null	# no "Killed" notice
hog_rc=$?
exec 9>&-
kill -CONT "$ml"
sleep 1
stop_memlens
check_eq "exec: the hog was OOM-killed after memlens read its mappings" 137 "$hog_rc"
proc=$(jq -c --argjson p "$hog" 'select(.type == "summary") | .processes[] | select(.pid == $p)' "$out")
check "exec: each of its stacks names main, not marked unnamed" jq_true \
	'(.stacks | length) > 0 and all(.stacks[]; .user[0].symbol == "main"
	 and .user_unnamed == null and ([.kernel[].symbol] | index("handle_mm_fault")))' <<<"$proc"
check_eq "exec: memlens says where the names came from" \
	"memlens: 1 process(es) exited before their first stall was read: their user frames are named from their mappings at exec (or at -p's start), those in libraries loaded since are addresses" \
	"$(grep "first stall was read" "$out.err")"
check_eq "exec: and that none went unnamed" "" "$(grep "exited before their mappings" "$out.err")"

# --- what is read at exec is let go -----------------------------------------
# A process read at its exec costs a read of its maps, no file opened, and
# one that exits without a stall is forgotten.
out=$tmp/churn.json
start_memlens "$out" "tracing memory pressure" reclaim -v --stacks -j --cgroup "$CG_NAME" -i 0.5
ml=$(pgrep -P "$memlens_pid" memlens)
sleep 0.5
before=$(ls "/proc/$ml/fd" | wc -l)
# No seq: it would exec in the cgroup too.
sh -c 'echo $$ >"$0/cgroup.procs" && i=0 && while [ $i -lt 80 ]; do sleep 2 & i=$((i + 1)); done; wait' \
	"$CG"
check_eq "churn: 80 processes alive at once, each read at its exec" 80 \
	"$(grep -c "mappings read before its first stall" "$out.err")"
# 1100 more, 100 at a time, each read while it lives: more than the 1024
# held at once, so a prune that forgot nothing would say so.
sh -c 'echo $$ >"$0/cgroup.procs" && b=0 && while [ $b -lt 11 ]; do
	i=0; while [ $i -lt 100 ]; do sleep 0.3 & i=$((i + 1)); done; wait; b=$((b + 1)); done' "$CG"
sleep 1
after=$(ls "/proc/$ml/fd" | wc -l)
check "churn: 1100 more, 100 at a time: memlens holds no file of them ($before open before, $after after)" \
	test "$after" -le "$before"
stop_memlens
check_eq "churn: none left unread for want of room" "" "$(grep "not read at once" "$out.err")"

# --- errors ------------------------------------------------------------------

expect_error "--folded with --json" 2 \
	"memlens: reclaim: --folded and --json are two outputs: choose one" \
	"$MEMLENS_BIN" reclaim --folded -j

finish e2e-stall-stacks
