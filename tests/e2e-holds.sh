#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of how memlens holds a command it starts (user/hold.c,
# hold_thread() in bpf/allocs.bpf.c): at exec, at each new code mapping and
# at _exit one thread is held, and the program sees no signal for it (no
# EINTR, no handler call, nothing pending), whichever it blocks; the
# signals it is sent still reach it, once each, and a SIGSTOP still stops
# it; and if memlens is killed, the command goes on and ends by itself,
# even under another uid (tests/workloads/hold_observer.c). Needs root.
# Prints TAP-style lines and "e2e-holds: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

OBSERVER=$PWD/build/hold_observer
DSO_NOFP=$PWD/build/libdso_leak_nofp.so
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
LOADS=20
counts=

require_root_and_build e2e-holds
[ -x "$OBSERVER" ] || {
	echo "e2e-holds: $OBSERVER missing: build first (make e2e)" >&2
	exit 1
}

# holds ERR WHERE: how many "held at WHERE" lines memlens -v printed.
holds() {
	grep -c "held at $2" "$1"
}

# states PID: the state letter of each of PID's threads, sorted.
states() {
	cat /proc/"$1"/task/*/stat 2>/dev/null | sed 's/.*) //' | cut -d' ' -f1 | sort | tr -d '\n'
}

# gone PID: PID has ended (reaped, or a zombie of whoever adopted it).
gone() {
	[ ! -d /proc/"$1" ] || [ "$(states "$1")" = Z ]
}

# until_states PID PATTERN: until all of PID's threads match PATTERN (10 s).
until_states() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ "$(states "$1")" =~ ^$2$ ]] && return 0
		sleep 0.1
	done
	return 1
}

# The main thread maps new code LOADS + 2 times (libc, DSO, LOADS x DSO_NOFP)
# while three threads sit in epoll_wait, nanosleep and read: each mapping,
# the exec and _exit hold it; nobody sees a signal, and the leak is exact.
# MODE "block": the main thread blocks SIGURG (held with SIGWINCH).
test_unseen() {
	local mode=$1 out=$tmp/unseen-$1 rc
	"$MEMLENS" leaks -v -i 100 -- "$OBSERVER" loads "$DSO" "$DSO_NOFP" "$LOADS" \
		${mode/plain/} >"$out" 2>"$out.err"
	rc=$?
	check_eq "$mode: memlens exits 0" 0 "$rc"
	check_eq "$mode: no EINTR, no handler called, nothing pending" \
		"eintr=0 cont=0 urg=0 winch=0 pending=0" "$(grep eintr= "$out")"
	check_eq "$mode: held at exec, $((LOADS + 2)) new code mappings and _exit" \
		"1 $((LOADS + 2)) 1" \
		"$(holds "$out.err" exec) $(holds "$out.err" "new code") $(holds "$out.err" _exit)"
	# block: SIGWINCH from the library's mapping on (and at _exit), 22 holds.
	check_eq "$mode: held with SIGWINCH where SIGURG is blocked" \
		"$([ "$mode" = block ] && echo 22 || echo 0)" "$(grep -c 'held at .*(SIGWINCH)' "$out.err")"
	check_eq "$mode: the leak in the library, exact, its stack resolved" \
		"1536 bytes in 3 allocations|leak_in_dso+0x18 ($DSO)" \
		"$(grep -A1 '^1536 bytes' "$out" | sed -n '1s/,.*//p; 2s/.*#0  0x[0-9a-f]* //p' |
			sed 's/ tests.*//' | paste -sd'|')"
}

# signals PID LOG NAME: SIGURG, SIGWINCH, then SIGSTOP to the
# hold_observer waiting as PID (every thread must stop: it must not read
# its line), SIGCONT; the counts it prints then into $counts.
signals() {
	local pid=$1 log=$2
	kill -s URG "$pid"
	kill -s WINCH "$pid"
	sleep 0.3
	kill -s STOP "$pid"
	check "$3: SIGSTOP stops every thread" until_states "$pid" "[tT]{4}"
	echo go >&8
	sleep 0.5
	check_eq "$3: stopped, it does not read its line" "" "$(grep eintr= "$log")"
	kill -s CONT "$pid"
	wait_for "$log" eintr= 10
	exec 8>&-
	wait "$work_pid"
	check_eq "$3: exits 0" 0 $?
	counts=$(grep eintr= "$log")
}

# Signals sent to the command reach it once each, SIGURG and SIGWINCH
# included (the two that hold), and SIGSTOP stops it until SIGCONT: as
# they do without memlens (the stop interrupts its epoll_wait there too).
test_signals_pass() {
	local log=$tmp/signals pid mpid alone
	start_waiting "$log" "$OBSERVER" wait
	signals "$work_pid" "$log" alone
	alone=$counts
	check_eq "alone: each signal's handler called once, none pending" \
		"eintr=1 cont=1 urg=1 winch=1 pending=0" "$alone"
	start_waiting "$log" sh -c 'exec "$@" 2>"$0"' "$log.err" \
		"$MEMLENS" leaks -i 100 -- "$OBSERVER" wait
	mpid=$(pgrep -P "$work_pid")
	pid=$(pgrep -P "$mpid")
	check_eq "its tracer is a thread of memlens" "$mpid" \
		"$(awk '/^Tgid:/ { print $2 }' /proc/"$(awk '/^TracerPid:/ { print $2 }' \
			/proc/"$pid"/status)"/status)"
	signals "$pid" "$log" traced
	check_eq "traced: what it sees is what it sees alone" "$alone" "$counts"
}

# kill -9 memlens while the command, under uid 65534, runs or is held
# (memlens stopped first: its next new code mapping holds it, for good):
# the command goes on and ends by itself, never left stopped.
test_memlens_killed() {
	local held=$1 n=$2 out=$tmp/killed-$1-$2 pid mpid ran
	# A session of its own: memlens's death orphans no process group here
	# (the kernel would send a stopped one SIGCONT): as under a service manager.
	setsid "$MEMLENS" leaks -i 1 -- "${NOBODY[@]}" "$OBSERVER" loop "$DSO" 1500 \
		>"$out" 2>"$out.err" &
	pids+=($!)
	disown $!
	wait_for "$out" "^pid " 20
	mpid=$(pgrep -P "${pids[-1]}")
	pid=$(sed -n 's/^pid \([0-9]*\).*/\1/p' "$out")
	sleep 0.$((RANDOM % 5 + 2))
	if [ "$held" = held ]; then
		kill -s STOP "$mpid"
		check "$n: held, memlens stopped: its main thread waits for it" \
			until_states "$pid" "[SR]{3}t"
	fi
	kill -s KILL "$mpid"
	# 1.5 s of loading, then "done" and exit.
	wait_for "$out" "^done" 10
	ran=$?
	sleep 0.2
	check_eq "$n ($held): the command, uid 65534, goes on and ends" "0 65534 gone" \
		"$ran $(sed -n 's/^pid .* uid //p' "$out") $(gone "$pid" && echo gone)"
	if ! gone "$pid"; then
		not_ok "$n: pid $pid still there, threads $(states "$pid")"
		kill -KILL "$pid"
	fi
	wait 2>/dev/null
}

# The command gets every signal disposition memlens inherited, exactly:
# under a launcher that ignores SIGINT, SIGQUIT, SIGUSR1, 32 and 33 (a CI
# shell's), not the handlers of memlens or of glibc's threads. The
# launcher is memlens's parent (timeout(1) would handle INT and QUIT).
test_inherited_signals() {
	# The command reads its own status: a shell's, read by its child,
	# races with the shell's fork (dash blocks every signal around it).
	local ign=("$OBSERVER" ignore 2,3,10,32,33) show=(grep -E "^Sig(Ign|Blk)" /proc/self/status)
	check_eq "inherited: SigIgn and SigBlk as untraced under the same launcher" \
		"$("${ign[@]}" "${show[@]}" | paste -sd' ')" \
		"$(timeout -k 5 60 "${ign[@]}" "$MEMLENS_BIN" leaks -- "${show[@]}" 2>/dev/null |
			grep ^Sig | paste -sd' ')"
}

# memlens started with SIGCHLD ignored still sees its tracees' stops: a
# command that creates threads is not stuck at the first, and ends exact.
test_sigchld_ignored() {
	local out=$tmp/sigchld rc
	timeout -k 5 60 "$OBSERVER" ignore 17 "$MEMLENS_BIN" leaks -i 100 -- "$OBSERVER" loads \
		"$DSO" "$DSO_NOFP" "$LOADS" >"$out" 2>"$out.err"
	rc=$?
	check_eq "SIGCHLD ignored: exits 0, nothing seen, the leak exact" \
		"0|eintr=0 cont=0 urg=0 winch=0 pending=0|1536 bytes in 3 allocations" \
		"$rc|$(grep eintr= "$out")|$(grep '^1536 bytes' "$out" | sed 's/,.*//')"
}

# What ptrace cannot hide: a signal the program ignores (SIGWINCH and
# SIGCHLD by default, SIGUSR1 set to SIG_IGN) is discarded when sent to an
# untraced thread, but wakes a traced one: its epoll_wait returns EINTR,
# once per signal, though no handler runs.
test_ignored_signals_eintr() {
	check_eq "ignored signals: no EINTR untraced" "eintr=0" "$("$OBSERVER" ignored 5)"
	check_eq "ignored signals: one EINTR per signal traced (3 x 5)" "eintr=15" \
		"$("$MEMLENS" leaks -- "$OBSERVER" ignored 5 2>/dev/null | grep eintr=)"
}

# A thread other than the leader execs: the new image is held at its exec
# and at each new code mapping, and sees nothing of it.
test_exec_from_thread() {
	local out=$tmp/exec-thread rc
	timeout 60 "$MEMLENS" leaks -v -i 100 -- "$OBSERVER" exec_thread loads "$DSO" \
		"$DSO_NOFP" "$LOADS" >"$out" 2>"$out.err"
	rc=$?
	check_eq "exec from a thread: exits 0, nothing seen" \
		"0|eintr=0 cont=0 urg=0 winch=0 pending=0" "$rc|$(grep eintr= "$out")"
	check_eq "exec from a thread: held at both execs and $((LOADS + 3)) new code mappings" \
		"2 $((LOADS + 3))" "$(holds "$out.err" exec) $(holds "$out.err" "new code")"
}

test_unseen plain
test_unseen block
test_inherited_signals
test_sigchld_ignored
test_ignored_signals_eintr
for i in 1 2 3; do
	test_exec_from_thread
done
test_signals_pass
for i in 1 2 3; do
	test_memlens_killed held "$i"
	test_memlens_killed running "$i"
done

finish e2e-holds
