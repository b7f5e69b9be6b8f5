#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of what memlens does to the paths it writes (-o, --svg,
# --pprof): a regular file is replaced whole; a device node, a FIFO or a
# link is written where it is and stays what it was; a directory is
# refused before anything is traced. Output that is lost (stdout on a
# full device, a reader that went away, a file that cannot be written)
# ends memlens in one line with exit code 1, hooks removed. Device nodes
# are made in the test's own directory (mknod): no test writes to a real
# one.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

if [ "$(id -u)" != 0 ] || [ ! -x "$MEMLENS_BIN" ] || [ ! -x "$LEAKY" ]; then
	echo "output: must run as root, with ./memlens and build/leaky built" >&2
	exit 1
fi

# kind PATH: what is at PATH, without following a link.
kind() {
	stat -c %F "$1"
}

mknod "$tmp/null" c 1 3
mknod "$tmp/full" c 1 7
chmod 666 "$tmp/null" "$tmp/full"

# A device node: written in place, still the device after.
"$MEMLENS" leaks --svg "$tmp/null" --pprof "$tmp/null" -- "$LEAKY" >"$tmp/null.out" 2>&1
check_eq "--svg and --pprof to a device node: exit code" 0 $?
check_eq "--svg and --pprof to a device node: still a device" "character special file" \
	"$(kind "$tmp/null")"
"$MEMLENS" record -o "$tmp/null" -- "$LEAKY" >"$tmp/recnull.out" 2>&1
check_eq "record -o a device node: exit code" 0 $?
check_eq "record -o a device node: still a device" "character special file" "$(kind "$tmp/null")"

# A link to a regular file: refused before anything runs; the link and
# its target stay as they were.
echo old >"$tmp/target.pb.gz"
ln -s "$tmp/target.pb.gz" "$tmp/link.pb.gz"
expect_error "--pprof to a link to a file" 1 \
	"memlens: cannot write $tmp/link.pb.gz: a symbolic link to a file: give the file's own path" \
	"$MEMLENS" leaks --pprof "$tmp/link.pb.gz" -- "$LEAKY"
check_eq "--pprof to a link to a file: the link and its target kept" "symbolic link old" \
	"$(kind "$tmp/link.pb.gz") $(cat "$tmp/target.pb.gz")"

# A link to a device, as /dev/stdout is: written in place, still a link.
ln -s "$tmp/null" "$tmp/link-null"
"$MEMLENS" leaks --svg "$tmp/link-null" -- "$LEAKY" >/dev/null 2>&1
check_eq "--svg to a link to a device: exit code" 0 $?
check_eq "--svg to a link to a device: the link and the device kept" \
	"symbolic link character special file" "$(kind "$tmp/link-null") $(kind "$tmp/null")"
"$MEMLENS" leaks --svg /dev/stdout -- "$LEAKY" 2>/dev/null | cat >"$tmp/stdout.out"
check "--svg /dev/stdout on a pipe: the flame graph comes through it" grep -q '^<svg' "$tmp/stdout.out"
"$MEMLENS" leaks --svg /dev/stdout -- "$LEAKY" >"$tmp/stdout.file" 2>/dev/null
check_eq "--svg /dev/stdout to a file: exit code" 0 $?
check "--svg /dev/stdout to a file: the flame graph is in it" grep -q '^<svg' "$tmp/stdout.file"

# A run that fails removes the recording it made, never the device it wrote.
"$MEMLENS" record -o "$tmp/null" -- "$tmp/no-such-command" >/dev/null 2>&1
check_eq "record -o a device, the command missing: exit code, the device kept" \
	"1 character special file" "$? $(kind "$tmp/null")"
"$MEMLENS" record -o "$tmp/made.rec" -- "$tmp/no-such-command" >/dev/null 2>&1
check_eq "record -o a new file, the command missing: no file left" "1 no" \
	"$? $([ -e "$tmp/made.rec" ] && echo yes || echo no)"
# Nor the recording that was at the path: the new one takes its place only
# once its first snapshot is whole; a run that ends on success replaces it.
mkdir "$tmp/kept"
"$MEMLENS" record -o "$tmp/kept/a.rec" -- "$LEAKY" >/dev/null 2>&1
was=$(cksum <"$tmp/kept/a.rec")
"$MEMLENS" record -o "$tmp/kept/a.rec" -- "$tmp/no-such-command" >/dev/null 2>&1
check_eq "record -o over a recording, the command missing: it stays, nothing beside it" \
	"1 $was a.rec" "$? $(cksum <"$tmp/kept/a.rec") $(ls "$tmp/kept")"
"$MEMLENS" record -o "$tmp/kept/a.rec" -- "$LEAKY" >/dev/null 2>&1
check_eq "record -o over a recording, a run that works: replaced, nothing beside it" \
	"0 new a.rec" "$? $([ "$(cksum <"$tmp/kept/a.rec")" != "$was" ] && echo new) $(ls "$tmp/kept")"
"$MEMLENS" report "$tmp/kept/a.rec" >/dev/null 2>&1
check_eq "record -o over a recording: the new one reads" 0 $?
# An output written in place is never cut back: /dev/stdout appended to a
# file that holds 100 KiB already, whose size limit stops the recording,
# keeps those 100 KiB (before the fix: cut to the recording's 100 bytes).
head -c 102400 /dev/zero | tr '\0' A >"$tmp/appended"
cp "$tmp/appended" "$tmp/appended.was"
(trap '' XFSZ; ulimit -f 101; "$MEMLENS" record -o /dev/stdout -- "$LEAKY" >>"$tmp/appended" \
	2>"$tmp/appended.err")
check_eq "record -o /dev/stdout >> a file, its limit reached: exit 1, what was there kept" \
	"1 same" "$? $(cmp -s -n 102400 "$tmp/appended" "$tmp/appended.was" && echo same)"
check "record -o /dev/stdout >> a file, its limit reached: said, not cut back" grep -q \
	"^memlens: cannot write /dev/stdout: File too large; written in place, it ends where the error came" \
	"$tmp/appended.err"

# A disk that fills before the first snapshot is whole (sampled_leak's
# 10001 blocks, a page free): the old recording stays.
suite_cleanup() {
	umount "$tmp/small" 2>/dev/null
}
mkdir "$tmp/small"
if mount -t tmpfs -o size=8k memlens-e2e "$tmp/small"; then
	cp "$tmp/kept/a.rec" "$tmp/small/a.rec"
	was=$(cksum <"$tmp/small/a.rec")
	"$MEMLENS" record -o "$tmp/small/a.rec" -- "$PWD/build/sampled_leak" >/dev/null \
		2>"$tmp/small.err"
	check_eq "record -o over a recording, the disk full at once: exit 1, it stays, nothing beside it" \
		"1 $was a.rec" "$? $(cksum <"$tmp/small/a.rec") $(ls "$tmp/small")"
	check_eq "record -o over a recording, the disk full at once: one line" \
		"memlens: cannot write $tmp/small/a.rec: No space left on device; nothing recorded, what was there is as it was" \
		"$(grep 'cannot write' "$tmp/small.err")"
	# --svg and --pprof to a full disk say why, as every other output does.
	dd if=/dev/zero of="$tmp/small/fill" bs=1k 2>/dev/null
	expect_error "report --svg to a full disk" 1 \
		"memlens: cannot write $tmp/small/a.svg: No space left on device" \
		"$MEMLENS" report --svg "$tmp/small/a.svg" "$tmp/kept/a.rec"
	expect_error "report --pprof to a full disk" 1 \
		"memlens: cannot write $tmp/small/a.pb.gz: No space left on device" \
		"$MEMLENS" report --pprof "$tmp/small/a.pb.gz" "$tmp/kept/a.rec"
	umount "$tmp/small"
else
	not_ok "a tmpfs of 4 KiB for the full-disk test"
fi

# Standard descriptors closed by whoever started memlens: none of its own
# files takes their place (the recording would get its messages), and the
# command gets them closed, as without memlens.
"$MEMLENS" record -o "$tmp/closed.rec" -- "$LEAKY" 2>&-
check_eq "record with stderr closed: exit code" 0 $?
"$MEMLENS" report -j "$tmp/closed.rec" >"$tmp/closed.json" 2>"$tmp/closed.err"
check_eq "record with stderr closed: the recording reads, leak_here whole" "0 28672" \
	"$? $(jq -s '[.[-1].stacks[] | select(.frames[].symbol // "" | startswith("leak_here")) | .bytes] | add' \
		"$tmp/closed.json")"
# (The test builtin: an echo's redirection would open its fd 1 for it.)
(ulimit -Sn 100; "$MEMLENS" leaks -- sh -c \
	'for fd in 0 1; do [ -e /proc/$$/fd/$fd ] && echo $fd open >&3 || echo $fd closed >&3; done
	 ulimit -Sn >&3' <&- >&- 2>"$tmp/closed-cmd.err" 3>"$tmp/closed-cmd.out")
check_eq "leaks with stdin and stdout closed: exit 1, its report not written, said" \
	"1 memlens: cannot write stdout: Bad file descriptor" "$? $(tail -n 1 "$tmp/closed-cmd.err")"
check_eq "leaks with stdin and stdout closed: the command has them closed, and its descriptor limit" \
	"0 closed 1 closed 100" "$(xargs <"$tmp/closed-cmd.out")"

# A terminal that hangs up (an ssh session gone) under record: the SIGHUP
# is the clean stop it is, the last snapshot goes to the file, exit 0.
sleep 100 &
pids+=($!)
python3 - "$MEMLENS_BIN" "$tmp/hup.rec" $! >"$tmp/hup.out" <<'PY'
import os, pty, sys, time
memlens, out, target = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(memlens, [memlens, "record", "-i", "1", "-o", out, "-p", target])
time.sleep(2.5)
os.close(fd)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
PY
check_eq "record on a terminal that hangs up: exit 0, the recording reads" "0 0" \
	"$(cat "$tmp/hup.out") $("$MEMLENS" report "$tmp/hup.rec" >/dev/null 2>&1; echo $?)"

# A FIFO: the recording goes through it to its reader, whole.
mkfifo "$tmp/fifo"
# A reader that gives up: a memlens that replaced the FIFO would leave it waiting.
timeout 60 cat "$tmp/fifo" >"$tmp/from-fifo.rec" &
reader=$!
# A FIFO without a reader is refused (ENXIO): wait until cat has it open.
for ((i = 0; i < 100; i++)); do
	find /proc/[0-9]*/fd -lname "$tmp/fifo" 2>/dev/null | grep -q . && break
	sleep 0.1
done
"$MEMLENS" record -o "$tmp/fifo" -- "$LEAKY" >/dev/null 2>"$tmp/fifo.err"
check_eq "record -o a FIFO: exit code" 0 $?
wait "$reader"
check_eq "record -o a FIFO: still a FIFO" "fifo" "$(kind "$tmp/fifo")"
"$MEMLENS" report -j "$tmp/from-fifo.rec" >"$tmp/from-fifo.json" 2>"$tmp/from-fifo.err"
check_eq "record -o a FIFO: the reader has the whole recording" "28672" \
	"$(jq -s '[.[-1].stacks[] | select(.frames[].symbol // "" | startswith("leak_here")) | .bytes] | add' \
		"$tmp/from-fifo.json")"

# A directory: refused before anything runs.
expect_error "--svg to a directory" 1 "memlens: cannot write $tmp: Is a directory" \
	"$MEMLENS" leaks --svg "$tmp" -- "$LEAKY"
expect_error "--pprof to a directory (kmem)" 1 "memlens: cannot write $tmp: Is a directory" \
	"$MEMLENS" kmem --cache dentry --pprof "$tmp"
expect_error "--svg in a directory that does not exist (reclaim)" 1 \
	"memlens: cannot write $tmp/no-such-dir/a.svg: No such file or directory" \
	"$MEMLENS" reclaim --svg "$tmp/no-such-dir/a.svg"
expect_error "--pprof to a directory (reclaim)" 1 "memlens: cannot write $tmp: Is a directory" \
	"$MEMLENS" reclaim --pprof "$tmp"
expect_error "record -o a directory" 1 "memlens: cannot write $tmp: Is a directory" \
	"$MEMLENS" record -o "$tmp" -- "$LEAKY"

# Lost output ends the run: exit code 1, one line, last; the device stays.
# lost DESC LINE OUT CMD...: CMD with stdout on OUT.
lost() {
	local desc=$1 line=$2 out=$3 rc
	shift 3
	"$@" >"$out" 2>"$tmp/full.err"
	rc=$?
	check_eq "$desc: exit code" 1 "$rc"
	check_eq "$desc: the one line, last" "$line 1" \
		"$(tail -n 1 "$tmp/full.err") $(grep -c 'cannot write\|reader went away' "$tmp/full.err")"
	check_eq "$desc: still a device" "character special file" "$(kind "$tmp/full")"
}
full_stdout() {
	local desc=$1 line=$2
	shift 2
	lost "$desc" "$line" "$tmp/full" "$@"
}
nospace="memlens: cannot write stdout: No space left on device"
full_stdout "leaks > full" "$nospace" "$MEMLENS" leaks -- "$LEAKY"
full_stdout "leaks -j > full" "$nospace" "$MEMLENS" leaks -j -- "$LEAKY"
full_stdout "top -n 1 > full" "$nospace" "$MEMLENS" top -n 1 -i 1
# hist prints only processes that allocated: one that does, meanwhile.
(while :; do "$LEAKY" >/dev/null 2>&1; done) &
busy=$!
pids+=("$busy")
full_stdout "hist -n 1 > full" "$nospace" "$MEMLENS" hist -n 1 -i 1 -c leaky
kill "$busy"
wait "$busy" 2>/dev/null
full_stdout "kmem -n 1 > full" "$nospace" "$MEMLENS" kmem -n 1
full_stdout "reclaim -n 1 > full" "$nospace" "$MEMLENS" reclaim -n 1
full_stdout "doctor > full" "$nospace" "$MEMLENS" doctor
full_stdout "--complete > full" "$nospace" "$MEMLENS" --complete
full_stdout "--complete leaks > full" "$nospace" "$MEMLENS" --complete leaks
# The help and the version too: an old memlens said nothing and exit 0.
full_stdout "--help > full" "$nospace" "$MEMLENS" --help
full_stdout "--version > full" "$nospace" "$MEMLENS" --version
for cmd in leaks allocs top hist reclaim kmem record report doctor; do
	full_stdout "$cmd --help > full" "$nospace" "$MEMLENS" "$cmd" --help
done
"$MEMLENS" record -o "$tmp/leaky.rec" -- "$LEAKY" >/dev/null 2>&1
full_stdout "report > full" "$nospace" "$MEMLENS" report "$tmp/leaky.rec"
full_stdout "report -j --all > full" "$nospace" "$MEMLENS" report -j --all "$tmp/leaky.rec"
# Output files on the full device: the same, the device kept.
nospace_file="memlens: cannot write $tmp/full: No space left on device"
lost "leaks --svg full" "$nospace_file" "$tmp/null" "$MEMLENS" leaks --svg "$tmp/full" -- "$LEAKY"
lost "leaks --pprof full" "$nospace_file" "$tmp/null" "$MEMLENS" leaks --pprof "$tmp/full" -- "$LEAKY"
lost "kmem --pprof full" "$nospace_file" "$tmp/null" "$MEMLENS" kmem --cache dentry -n 1 --pprof "$tmp/full"
lost "report --svg full" "$nospace_file" "$tmp/null" "$MEMLENS" report --svg "$tmp/full" "$tmp/leaky.rec"
# An output that is the recording read, or the other output: refused before
# anything is written (an old memlens replaced the recording with a profile).
sum=$(md5sum <"$tmp/leaky.rec")
expect_error "report --svg REC --pprof REC REC" 2 \
	"memlens: report: --svg and --pprof both name $tmp/leaky.rec: give each its own file" \
	"$MEMLENS" report --svg "$tmp/leaky.rec" --pprof "$tmp/leaky.rec" "$tmp/leaky.rec"
expect_error "report --pprof REC REC, another path to it" 2 \
	"memlens: report: --pprof $tmp/./leaky.rec is the recording read: write elsewhere" \
	"$MEMLENS" report --pprof "$tmp/./leaky.rec" "$tmp/leaky.rec"
ln "$tmp/leaky.rec" "$tmp/hard.rec"
expect_error "report --svg LINK REC, a hard link to it" 2 \
	"memlens: report: --svg $tmp/hard.rec is the recording read: write elsewhere" \
	"$MEMLENS" report --svg "$tmp/hard.rec" "$tmp/leaky.rec"
check_eq "report with the recording as output: the recording kept" "$sum" "$(md5sum <"$tmp/leaky.rec")"
expect_error "report --svg F --pprof ./F, F new" 2 \
	"memlens: report: --svg and --pprof both name $tmp/./new.out: give each its own file" \
	"$MEMLENS" report --svg "$tmp/new.out" --pprof "$tmp/./new.out" "$tmp/leaky.rec"
check "report --svg F --pprof ./F: F not made" test ! -e "$tmp/new.out"
expect_error "report --svg X X, X missing: the recording missing, not an output clash" 1 \
	"memlens: $tmp/missing.rec: No such file or directory" \
	"$MEMLENS" report --svg "$tmp/missing.rec" "$tmp/missing.rec"
"$MEMLENS" report --svg "$tmp/null" --pprof "$tmp/null" "$tmp/leaky.rec" >/dev/null 2>&1
check_eq "report --svg and --pprof one device node: written in place, exit code" 0 $?
# The command, started, goes on untraced: said after.
"$MEMLENS" record -o "$tmp/full" -- "$LEAKY" >"$tmp/null" 2>"$tmp/full.err"
check_eq "record -o full: exit code" 1 $?
check_eq "record -o full: one line" "memlens: cannot write $tmp/full: No space left on device" \
	"$(grep 'cannot write' "$tmp/full.err")"
check_eq "record -o full: still a device" "character special file" "$(kind "$tmp/full")"

# memlens_links PID: the BPF links process PID holds.
memlens_links() {
	bpftool -j link show | jq --argjson p "$1" '[.[] | select(any(.pids[]?; .pid == $p))] | length'
}

# The reader goes away (| head -1) while memlens waits between reports:
# it ends at once, exit code 1, one line, its uprobes gone.
start_waiting "$tmp/work.log" "$LEAKY" --wait
start=$(date +%s%N)
# SIGINT after 20 s: what an old memlens needed to stop (and it said 0).
timeout -s INT 20 sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/head.pid" \
	"$MEMLENS_BIN" leaks -j -i 1 -p "$work_pid" 2>"$tmp/head.err" 8<&- | head -n 1 >"$tmp/head.out"
rc=${PIPESTATUS[0]}
secs=$((($(date +%s%N) - start) / 1000000000))
check_eq "leaks -p | head -1: exit code" 1 "$rc"
check "leaks -p | head -1: ends within 10 s (took $secs s)" test "$secs" -lt 10
check_eq "leaks -p | head -1: the one line, last" \
	"memlens: stdout: the reader went away (Broken pipe) 1" \
	"$(tail -n 1 "$tmp/head.err") $(grep -c 'reader went away' "$tmp/head.err")"
check "leaks -p | head -1: head had the first report" grep -q '^{' "$tmp/head.out"
check_eq "leaks -p | head -1: no link of memlens left" 0 "$(memlens_links "$(cat "$tmp/head.pid")")"
check "leaks -p | head -1: the target keeps running" kill -0 "$work_pid"
work_stop
# top's live view, the same.
start=$(date +%s%N)
timeout -s INT 20 "$MEMLENS_BIN" top -j -i 1 2>"$tmp/tophead.err" | head -n 1 >/dev/null
rc=${PIPESTATUS[0]}
secs=$((($(date +%s%N) - start) / 1000000000))
check_eq "top -j | head -1: exit code" 1 "$rc"
check "top -j | head -1: ends within 10 s (took $secs s)" test "$secs" -lt 10
check_eq "top -j | head -1: the one line, last" \
	"memlens: stdout: the reader went away (Broken pipe)" "$(tail -n 1 "$tmp/tophead.err")"

finish output
