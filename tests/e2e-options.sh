#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of the command lines as the help tells them: for every
# command memlens --help lists, every option its --help lists, by its long
# and its short name, with a sample value chosen by the value's name, is
# taken (the option, then --help: exit 0 and the help); an option no help
# of the command lists is refused with one line and exit 2, never taken
# silently; an unknown option gets its one-line error. What the options do
# is for the other suites: these only ask whether the parser and the help
# say the same thing.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

if [ ! -x "$MEMLENS_BIN" ]; then
	echo "options: ./memlens missing: build first (make memlens)" >&2
	echo "options: 0 passed, 1 failed"
	exit 1
fi

# A process to name where an option wants a PID: parsing only checks the number.
sleep 1000 &
sleep_pid=$!
pids+=("$sleep_pid")
libc=$(readlink -f "$(ldd /bin/sleep | awk '/libc\.so/ {print $3}')")

# value_for NAME METAVAR: a value the parser takes for --NAME METAVAR.
value_for() {
	case $2 in
	PID) echo "$sleep_pid" ;;
	SECS | N) echo 1 ;;
	R) echo 4096 ;;
	FILE) echo "$tmp/out.$1" ;;
	PATH) if [ "$1" = cgroup ]; then echo /sys/fs/cgroup; else echo "$libc"; fi ;;
	MODE) echo fp ;;
	WHEN) echo end ;;
	MS) echo 100 ;;
	KEY) echo allocs ;;	# a sort key of both top and kmem
	COMM) echo sleep ;;
	NAME) echo dentry ;;
	'[HOST:]PORT') echo 127.0.0.1:9464 ;;
	*) return 1 ;;
	esac
}

# options HELP: "SHORT|LONG|METAVAR" for each option HELP lists (SHORT may be
# empty): its option lines, the column before the help, split at ", ".
options() {
	awk '
	/^  -/ || /^      --/ {
		s = $0
		sub(/^ +/, "", s)
		i = index(s, "  ")
		if (i) s = substr(s, 1, i - 1)
		n = split(s, parts, ", ")
		short = ""
		for (k = 1; k <= n; k++) {
			p = parts[k]
			if (p ~ /^-[A-Za-z0-9]$/) { short = p; continue }
			if (p !~ /^--/) continue
			name = p; meta = ""
			j = index(p, " ")
			if (j) { name = substr(p, 1, j - 1); meta = substr(p, j + 1) }
			print short "|" substr(name, 3) "|" meta
			short = ""
		}
	}' "$1"
}

# takes CMD DESC ARGS...: memlens CMD ARGS... --help prints CMD's help, exit 0.
takes() {
	local cmd=$1 desc=$2 rc
	shift 2
	timeout -k 5 20 "$MEMLENS_BIN" "$cmd" "$@" --help >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$tmp/err" ] && cmp -s "$tmp/out" "$tmp/help.$cmd"; then
		ok "$cmd $desc: taken"
	else
		not_ok "$cmd $desc: taken" "exit $rc" "stderr: $(head -c 300 "$tmp/err")"
	fi
}

# refuses CMD DESC ARGS...: exit 2, one line on stderr, nothing on stdout.
refuses() {
	local cmd=$1 desc=$2 rc
	shift 2
	timeout -k 5 10 "$MEMLENS_BIN" "$cmd" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$tmp/err")" = 1 ] && [ ! -s "$tmp/out" ]; then
		ok "$cmd $desc: refused in one line"
	else
		not_ok "$cmd $desc: refused in one line" "exit $rc" \
			"stderr: $(head -c 300 "$tmp/err")" "stdout: $(head -c 300 "$tmp/out")"
	fi
}

"$MEMLENS_BIN" --help >"$tmp/main-help"
check_eq "memlens --help: exit code" 0 $?
commands=$(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }' \
	"$tmp/main-help")
check "memlens --help lists commands, leaks among them" grep -qx leaks <<<"$commands"

# Every option name some command lists: each other command must refuse it.
for cmd in $commands; do
	"$MEMLENS_BIN" "$cmd" --help >"$tmp/help.$cmd" 2>"$tmp/err"
	check_eq "$cmd --help: exit code" 0 $?
	check "$cmd --help: the usage first" grep -q "^Usage: memlens $cmd" "$tmp/help.$cmd"
	check "$cmd --help: nothing on stderr" test ! -s "$tmp/err"
	options "$tmp/help.$cmd" >"$tmp/opts.$cmd"
	check "$cmd --help: lists --help" grep -qx -- '-h|help|' "$tmp/opts.$cmd"
done
sort -u -t'|' -k2,2 "$tmp"/opts.* >"$tmp/all-opts"

for cmd in $commands; do
	while IFS='|' read -r short name meta; do
		args=()
		if [ -n "$meta" ]; then
			if ! value=$(value_for "$name" "$meta"); then
				not_ok "$cmd --$name $meta: a sample value for $meta (add it to value_for)"
				continue
			fi
			args=("$value")
		fi
		takes "$cmd" "--$name${meta:+ $meta}" "--$name" "${args[@]}"
		[ -n "$short" ] && takes "$cmd" "$short${meta:+ $meta}" "$short" "${args[@]}"
	done <"$tmp/opts.$cmd"

	# The options of the others that this one does not list: never taken
	# silently (record -t, say, is refused as an option of report). After
	# what the command needs, so that an option taken would not fail on
	# some later check instead: it would run, and time out.
	case $cmd in
	leaks | allocs) base=(-p "$sleep_pid") ;;
	record) base=(-o "$tmp/rec.mlr" -p "$sleep_pid") ;;
	report) base=("$tmp/none.mlr") ;;
	*) base=() ;;
	esac
	while IFS='|' read -r short name meta; do
		grep -q "|$name|" "$tmp/opts.$cmd" && continue
		args=()
		[ -n "$meta" ] && args=("$(value_for "$name" "$meta")")
		refuses "$cmd" "--$name (not in its help)" "${base[@]}" "--$name" "${args[@]}"
	done <"$tmp/all-opts"

	expect_error "$cmd --no-such-option" 2 \
		"memlens: $cmd: unknown option '--no-such-option' (see memlens $cmd --help)" \
		"$MEMLENS_BIN" "$cmd" --no-such-option
	check "$cmd --no-such-option: nothing on stdout" test ! -s "$tmp/err.out"
	expect_error "$cmd -Z" 2 "memlens: $cmd: unknown option '-Z' (see memlens $cmd --help)" \
		"$MEMLENS_BIN" "$cmd" -Z
	# Inside a cluster, by its letter: not the word before it, nor the cluster.
	expect_error "$cmd -ZZ" 2 "memlens: $cmd: unknown option '-Z' (see memlens $cmd --help)" \
		"$MEMLENS_BIN" "$cmd" -ZZ
done
expect_error "top -jx" 2 "memlens: top: unknown option '-x' (see memlens top --help)" \
	"$MEMLENS_BIN" top -jx
expect_error "top --json -xj" 2 "memlens: top: unknown option '-x' (see memlens top --help)" \
	"$MEMLENS_BIN" top --json -xj
expect_error "top -jp" 2 "memlens: top: option '-p' needs a value (see memlens top --help)" \
	"$MEMLENS_BIN" top -jp
expect_error "top --pid" 2 "memlens: top: option '--pid' needs a value (see memlens top --help)" \
	"$MEMLENS_BIN" top --pid

# Issue 14: -p 0 is no process, and no reason to ask for a command instead.
for cmd in leaks allocs record top hist reclaim kmem; do
	extra=()
	[ "$cmd" = record ] && extra=(-o "$tmp/rec0.mlr")
	expect_error "$cmd -p 0" 2 "memlens: $cmd: -p 0 is not a process id" \
		"$MEMLENS_BIN" "$cmd" "${extra[@]}" -p 0
done

# -p TID, a thread's id, names its process, as for leaks: said in one line,
# then traced (an old memlens traced nothing, or failed with ESRCH).
if [ "$(id -u)" = 0 ] && [ -x "$LEAKY" ]; then
	# leaky --wait has a sleeping thread.
	start_waiting "$tmp/tid.log" "$LEAKY" --wait
	tid=$(ls "/proc/$work_pid/task" | grep -v "^$work_pid\$" | head -n 1)
	for cmd in top hist kmem reclaim; do
		timeout -k 5 30 "$MEMLENS_BIN" "$cmd" -p "$tid" -n 1 -i 0.1 >/dev/null 2>"$tmp/tid.err"
		check_eq "$cmd -p TID: exit code" 0 $?
		check_eq "$cmd -p TID: the thread's process traced, said first" \
			"memlens: $tid is a thread of process $work_pid: tracing the process" \
			"$(head -n 1 "$tmp/tid.err")"
	done
	work_stop
else
	ok "-p TID of top, hist, kmem, reclaim # SKIP needs root and build/leaky"
fi

# --prom's port is 1 to 65535: not taken modulo 2^32 (4294967297 was port
# 1), and 0, a port the kernel would pick and memlens never say, refused.
expect_error "top --prom 4294967297" 2 \
	"memlens: invalid --prom port '4294967297': expected a whole number up to 65535" \
	timeout -k 5 20 "$MEMLENS_BIN" top -n 1 -i 0.1 --prom 4294967297
expect_error "top --prom 0" 2 \
	"memlens: invalid --prom '0': port 0 is no port (the kernel would pick one)" \
	timeout -k 5 20 "$MEMLENS_BIN" top -n 1 -i 0.1 --prom 0
expect_error "top --prom HOST:0" 2 \
	"memlens: invalid --prom '127.0.0.1:0': port 0 is no port (the kernel would pick one)" \
	timeout -k 5 20 "$MEMLENS_BIN" top -n 1 -i 0.1 --prom 127.0.0.1:0

# Two outputs of one report: refused, as leaks and reclaim refuse them
# (an old kmem dropped -j silently).
expect_error "kmem --cache --folded -j" 2 "memlens: kmem: --folded and --json are two outputs: choose one" \
	timeout -k 5 20 "$MEMLENS_BIN" kmem --cache filp --folded -j -n 1 -i 0.1

# -n 0 stops after no update at all: refused, where an old memlens took it
# for "never stop". No test, doc or script used it so.
for cmd in leaks allocs record top hist reclaim kmem; do
	extra=()
	[ "$cmd" = record ] && extra=(-o "$tmp/rec0.mlr")
	expect_error "$cmd -n 0" 2 \
		"memlens: $cmd: -n 0 is no count: give 1 or more (without -n it runs until Ctrl-C)" \
		timeout -k 5 10 "$MEMLENS_BIN" "$cmd" "${extra[@]}" -n 0 -i 0.1 -p "$sleep_pid"
done

# --svg and --pprof naming one file: one would replace the other.
for cmd in leaks kmem reclaim; do
	extra=()
	case $cmd in
	leaks) extra=(-p "$sleep_pid") ;;
	kmem) extra=(--cache filp) ;;
	esac
	expect_error "$cmd --svg F --pprof F" 2 \
		"memlens: $cmd: --svg and --pprof both name $tmp/same.out: give each its own file" \
		timeout -k 5 10 "$MEMLENS_BIN" "$cmd" "${extra[@]}" -n 1 --svg "$tmp/same.out" --pprof "$tmp/same.out"
done

# A map of 0 entries is no size: refused, not taken for the default.
for opt in max-allocs max-stacks; do
	expect_error "leaks --$opt 0" 2 "memlens: invalid $opt '0': a map of at least 1 entry" \
		"$MEMLENS_BIN" leaks "--$opt" 0 -p 1
done
expect_error "allocs --max-stacks 0" 2 "memlens: invalid max-stacks '0': a map of at least 1 entry" \
	"$MEMLENS_BIN" allocs --max-stacks 0 -p 1

# The drift of issue 15: leaks took --sample-bytes, its help did not say so.
check "leaks --help lists --sample-bytes" grep -q '^      --sample-bytes R  ' "$tmp/help.leaks"

finish options
