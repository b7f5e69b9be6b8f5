#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The kernel matrix's smoke suite, run inside each guest kernel and on the
# host (tests/kernels.sh). POSIX sh with busybox applets only: in a guest
# there is nothing else. It judges nothing: each test's exit code, stderr
# and the relevant lines of its output go to OUT as a block, checked on the
# host side with jq (tests/kernels.sh):
#
#   @@begin TEST
#   @@rc N
#   M key=value        facts of the run (pids, exit codes of workloads)
#   E line             stderr of memlens
#   O line             output of memlens (JSON lines)
#   @@end TEST
#
# Usage: smoke.sh BINDIR OUT
#   BINDIR  memlens (the static one), leaky, memops, pressure, kmemload
#   OUT     a file or a serial port (/dev/ttyS1 in a guest)
# SMOKE_TIMEOUT: seconds one memlens command may take (default 90).
# SMOKE_TESTS: which tests (default all); SMOKE_KEEP=1 keeps the work dir.
set -u

bin=$1
out=$2
limit=${SMOKE_TIMEOUT:-90}
work=$(mktemp -d "${TMPDIR:-/tmp}/memlens-smoke.XXXXXX") || exit 1
# Unique names: on the host, other runs' workloads must not match ours.
tag=$$
cg=
bg_pids=

cleanup() {
	for p in $bg_pids; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		sleep 0.2
		rmdir "$cg" 2>/dev/null
	fi
	[ -n "${SMOKE_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# memlens under a time limit: a hang fails a test, not the whole run.
# A command, not a function, so that $! of "$ML ... &" is timeout's pid
# (or memlens's: busybox's timeout execs it), which TERM reaches.
ML="timeout -k 5 $limit $bin/memlens"
ml() {
	$ML "$@"
}

say() {
	echo "smoke: $*"
}

# CMD & track: CMD, started in the background, is killed at the end if
# still there. Not a function that runs "$@" &: sh gives such a command
# /dev/null for stdin, whatever the function's call redirected. The
# workloads' fifos stay open in memlens and in them, harmlessly: they are
# told to go on and to exit by lines, not by EOF.
track() {
	bg_pids="$bg_pids $!"
}

# alive PID: PID runs (a zombie does not).
alive() {
	case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in
	"" | Z*) return 1 ;;
	esac
}

# wait_for FILE PATTERN SECONDS [PID]: until a line of FILE matches; not
# once PID (the process that would write it) is gone.
wait_for() {
	i=0
	while [ "$i" -lt $(($3 * 10)) ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		[ -z "${4:-}" ] || alive "$4" || return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# wait_gone PID SECONDS: until PID is gone or a zombie, then reaped (its
# exit code returned); killed after SECONDS.
wait_gone() {
	i=0
	while [ "$i" -lt $(($2 * 10)) ]; do
		alive "$1" || break
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
}

meta() {
	echo "$2" >>"$work/$1.meta"
}

# emit TEST [FILTER]: the test's block into OUT, its output filtered by
# FILTER (a command line, split at spaces, reading stdin), capped.
emit() {
	t=$1
	f=${2:-cat}
	{
		echo "@@begin $t"
		echo "@@rc $(cat "$work/$t.rc" 2>/dev/null || echo none)"
		[ -f "$work/$t.meta" ] && sed 's/^/M /' "$work/$t.meta"
		[ -f "$work/$t.err" ] && head -n 40 "$work/$t.err" | sed 's/^/E /'
		[ -f "$work/$t.out" ] && $f <"$work/$t.out" | tail -n 200 | sed 's/^/O /'
		echo "@@end $t"
	} >>"$out"
	say "$t: exit code $(cat "$work/$t.rc" 2>/dev/null || echo none)"
}

# diag TEST ARGS...: when TEST's memlens could not load its programs, the
# same command again with -v (ARGS put it where the subcommand takes it),
# and the lines that say why into TEST's facts: libbpf's, the verifier's
# refusal and its count of instructions processed.
diag() {
	t=$1
	shift
	grep -q 'run with -v' "$work/$t.err" 2>/dev/null || return 0
	timeout -k 2 20 "$bin/memlens" "$@" >/dev/null 2>"$work/$t.diag" </dev/null
	l=$(grep -m 1 -E "libbpf: (prog|map) '[^']*': .*(failed|fail|error|invalid)" "$work/$t.diag")
	[ -n "$l" ] && meta "$t" "libbpf=$l"
	# The log ends with the refusal, then "processed N insns ...".
	l=$(grep -m 1 -B 3 -e '-- END PROG LOAD LOG --' "$work/$t.diag" |
		grep -v -e 'END PROG LOAD LOG' -e '^processed ' -e '^ *$' | tail -n 1)
	[ -n "$l" ] && meta "$t" "verifier=$l"
	l=$(grep -m 1 -B 3 -e '-- END PROG LOAD LOG --' "$work/$t.diag" | grep '^processed ')
	[ -n "$l" ] && meta "$t" "processed=$l"
}

# --- leaks -- CMD, each unwinder --------------------------------------

test_leaks_cmd() {
	t=leaks-$1
	say "$t"
	ml leaks --json -t 0 --unwind "$1" -- "$bin/leaky" >"$work/$t.out" 2>"$work/$t.err"
	echo $? >"$work/$t.rc"
	diag "$t" leaks -v --unwind "$1" -- "$bin/leaky"
	emit "$t"
}

# --- allocs -- CMD: leaky's allocator calls, entry probes only -------

test_allocs() {
	t=allocs
	say "$t"
	ml allocs --sample-bytes 0 --json -t 0 -- "$bin/leaky" >"$work/$t.out" 2>"$work/$t.err"
	echo $? >"$work/$t.rc"
	diag "$t" allocs -v -- "$bin/leaky"
	emit "$t"
}

# --- leaks -p: attach to leaky --wait, its work, its exit -------------

test_leaks_pid() {
	t=leaks-pid
	say "$t"
	mkfifo "$work/lp.in"
	exec 8<>"$work/lp.in"
	"$bin/leaky" --wait <"$work/lp.in" >"$work/lp.log" &
	track
	w=$!
	meta $t "pid=$w"
	if wait_for "$work/lp.log" ready 30 "$w"; then
		$ML leaks -p "$w" --json -t 0 -i 0.2 --unwind fp >"$work/$t.out" 2>"$work/$t.err" &
		track
		m=$!
		wait_for "$work/$t.err" "tracing pid $w" 60 "$m" || meta $t "note=memlens did not attach"
		echo go >&8
		wait_for "$work/lp.log" "done" 30 "$w" || meta $t "note=workload did not finish"
		sleep 0.5
		echo exit >&8
		exec 8>&-
		wait_gone "$w" 30
		meta $t "work_rc=$?"
		wait_gone "$m" 30
		echo $? >"$work/$t.rc"
	else
		meta $t "note=workload did not start"
		exec 8>&-
	fi
	emit "$t"
}

# --- top and hist at once, on one memops of a name of its own ---------

# memops: 250 x malloc(3000), 5 brk growths of 4096 and a shrink, 7
# anonymous mmaps of 128 KiB, 20 pages touched, no major faults (no disk
# here), one failed mmap.
test_top_hist() {
	name=mo$tag
	say "top, hist"
	ln -s "$bin/memops" "$work/$name"
	mkfifo "$work/mo.in"
	exec 7<>"$work/mo.in"
	"$work/$name" 250 3000 5 4096 7 131072 20 0 none <"$work/mo.in" >"$work/mo.log" &
	track
	w=$!
	meta top "pid=$w"
	meta hist "pid=$w"
	if ! wait_for "$work/mo.log" ready 30 "$w"; then
		meta top "note=workload did not start"
		meta hist "note=workload did not start"
		exec 7>&-
		emit top
		emit hist
		return
	fi
	# One after the other: two loads at once on a guest's one slow CPU
	# would time each other's verifier.
	$ML top --json -i 0.2 -c "$name" >"$work/top.out" 2>"$work/top.err" &
	track
	tp=$!
	wait_for "$work/top.err" "tracing processes named $name" 60 "$tp"
	$ML hist --json -c "$name" >"$work/hist.out" 2>"$work/hist.err" &
	track
	hp=$!
	wait_for "$work/hist.err" "tracing processes named $name" 60 "$hp"
	echo go >&7
	wait_for "$work/mo.log" "done" 30 "$w" || meta top "note=workload did not finish"
	# Two more intervals: one wholly after the work.
	sleep 1
	echo exit >&7
	exec 7>&-
	wait_gone "$w" 30
	sleep 0.5
	kill -TERM "$tp" "$hp" 2>/dev/null
	wait_gone "$tp" 30
	echo $? >"$work/top.rc"
	wait_gone "$hp" 30
	echo $? >"$work/hist.rc"
	diag top top -v -n 1 -i 0.1
	diag hist hist -v -p "$$"
	emit top "grep \"pid\":$w,"
	emit hist "grep \"type\":\"hist\""
}

# --- reclaim: a hog OOM-killed in a 64 MiB memory cgroup --------------

test_reclaim() {
	t=reclaim
	name=prs$tag
	say "$t"
	ln -s "$bin/pressure" "$work/$name"
	if [ -d /sys/fs/cgroup/memory ] && mkdir "/sys/fs/cgroup/memory/sm-$tag" 2>/dev/null; then
		cg=/sys/fs/cgroup/memory/sm-$tag
		echo 64M >"$cg/memory.limit_in_bytes"
		echo 0 >"$cg/memory.swappiness"
		[ -e "$cg/memory.memsw.limit_in_bytes" ] && echo 64M >"$cg/memory.memsw.limit_in_bytes"
		filter="--cgroup sm-$tag"
		meta $t "cgroup=v1"
	elif [ -n "${SMOKE_CGROUP2:-}" ] && mkdir "$SMOKE_CGROUP2/sm-$tag" 2>/dev/null; then
		# No v1 memory controller (6.12 without CONFIG_MEMCG_V1): a v2
		# group, and memlens filtered by the hog's name.
		cg=$SMOKE_CGROUP2/sm-$tag
		echo 64M >"$cg/memory.max"
		[ -e "$cg/memory.swap.max" ] && echo 0 >"$cg/memory.swap.max"
		filter="-c $name"
		meta $t "cgroup=v2"
	else
		meta $t "note=no memory cgroup"
		echo skip >"$work/$t.rc"
		emit $t
		return
	fi
	$ML reclaim -v --stacks -j $filter -i 0.5 -g 0.3 >"$work/$t.out" 2>"$work/$t.err" &
	track
	m=$!
	if wait_for "$work/$t.err" "tracing memory pressure" 60 "$m"; then
		# The hog waits after its exec until memlens has read its
		# mappings: named even if memlens reads its first stall late.
		mkfifo "$work/hog.in"
		sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$work/$name" anon 256 1000 wait \
			<"$work/hog.in" >/dev/null 2>&1 &
		h=$!
		exec 9>"$work/hog.in"
		meta $t "hog=$h"
		if wait_for "$work/$t.err" "pid $h: mappings read before its first stall" 60 "$m"; then
			meta $t "exec_read=yes"
		else
			meta $t "exec_read=no"
		fi
		echo go >&9
		exec 9>&-
		wait "$h"
		meta $t "hog_rc=$?"
		sleep 1
	fi
	kill -TERM "$m" 2>/dev/null
	wait_gone "$m" 30
	echo $? >"$work/$t.rc"
	rmdir "$cg" 2>/dev/null && cg=
	diag $t reclaim -v -n 1 -i 0.1
	emit $t "grep -e \"type\":\"oom\" -e \"type\":\"summary\""
}

# --- kmem -p: kmemload's 37 files held open, exact --------------------

test_kmem() {
	t=kmem
	say "$t"
	mkdir "$work/kfiles"
	mkfifo "$work/km.in"
	exec 6<>"$work/km.in"
	"$bin/kmemload" "$work/kfiles" 200 37 <"$work/km.in" >"$work/km.log" &
	track
	w=$!
	meta $t "pid=$w"
	if wait_for "$work/km.log" ready 30 "$w"; then
		$ML kmem -p "$w" -j -i 0.3 --cache filp --no-pages >"$work/$t.out" 2>"$work/$t.err" &
		track
		m=$!
		wait_for "$work/$t.err" "tracing kernel allocations" 60 "$m"
		echo go >&6
		wait_for "$work/km.log" "done" 60 "$w" || meta $t "note=workload did not finish"
		# RCU grace periods, and two intervals after the work.
		sleep 1.5
		kill -TERM "$m" 2>/dev/null
		wait_gone "$m" 30
		echo $? >"$work/$t.rc"
		diag $t kmem -v -n 1 -i 0.1
		echo close >&6
		wait_for "$work/km.log" closed 30 "$w"
		echo exit >&6
	fi
	exec 6>&-
	wait_gone "$w" 30
	emit $t "grep -e \"name\":\"filp\" -e \"type\":\"kmem\""
}

# --- record, then report from the recording ---------------------------

test_record_report() {
	say "record, report"
	ml record -o "$work/rec.mlr" --unwind fp -- "$bin/leaky" >/dev/null 2>"$work/report.err"
	meta report "record_rc=$?"
	# record's, then report's: one column. The report's last line is checked.
	ml report --json -t 0 "$work/rec.mlr" >"$work/report.out" 2>>"$work/report.err"
	echo $? >"$work/report.rc"
	emit report "tail -n 1"
}

test_doctor() {
	say "doctor"
	ml doctor >"$work/doctor.out" 2>"$work/doctor.err"
	echo $? >"$work/doctor.rc"
	emit doctor
	# The verifier's cost of every program: refused or over budget, exit 1.
	ml doctor --verifier >"$work/verifier.out" 2>"$work/verifier.err"
	echo $? >"$work/verifier.rc"
	emit verifier
}

{
	echo "@@kernel $(uname -r)"
	echo "@@start"
} >>"$out"
for t in ${SMOKE_TESTS:-leaks_cmd_dwarf leaks_cmd_fp leaks_pid allocs top_hist reclaim kmem record_report \
	doctor}; do
	case $t in
	leaks_cmd_*) test_leaks_cmd "${t#leaks_cmd_}" ;;
	*) "test_$t" ;;
	esac
done
echo "@@done" >>"$out"
say "done"
