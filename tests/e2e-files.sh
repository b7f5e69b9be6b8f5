#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of the files memlens opens to symbolize and unwind,
# named by the traced process or by its debug links: a FIFO where a
# separate debug file would be (beside the binary by .gnu_debuglink, or
# under /usr/lib/debug/.build-id in a private mount namespace) is passed
# over, never waited on: the report comes, exact, and Ctrl-C ends memlens
# at any time. The real /usr/lib/debug is never written.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

if [ "$(id -u)" != 0 ] || [ ! -x "$MEMLENS_BIN" ] || [ ! -x "$LEAKY" ]; then
	echo "files: must run as root, with ./memlens and build/leaky built" >&2
	exit 1
fi

# leak_here REPORT: "groups allocations bytes" of the stacks through leak_here.
leak_here() {
	jq -r '[.stacks[] | select(any(.frames[]; .symbol == "leak_here"))]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# A copy of leaky without DWARF (its symbol table kept: leak_here is
# named), linked to a separate debug file DEBUG that is a FIFO.
dir=$tmp/bin
mkdir "$dir"
copy=$dir/leaky
cp "$LEAKY" "$copy"
objcopy --only-keep-debug "$copy" "$dir/leaky.debug"
strip --strip-debug "$copy"
objcopy --add-gnu-debuglink="$dir/leaky.debug" "$copy"

# leak_here's file, from the debug file found by the link (beside, then in .debug/).
leak_file() {
	"$MEMLENS" leaks -j -- "$copy" 2>/dev/null | tail -n 1 |
		jq -r '[.stacks[] | select(.frames[0].symbol == "leak_here")][0].frames[0].file'
}
check_eq "debug link to a debug file beside the binary: file:line" \
	"tests/workloads/leaky.c" "$(leak_file)"
mkdir "$dir/.debug"
mv "$dir/leaky.debug" "$dir/.debug/"
check_eq "debug link to a debug file in .debug/: file:line" "tests/workloads/leaky.c" "$(leak_file)"
echo "not the debug file" >"$dir/.debug/leaky.debug"
check_eq "debug link to a file of another CRC: not taken" null "$(leak_file)"
rm -r "$dir/.debug"
mkfifo "$dir/leaky.debug"

# A run to the end, under a time limit: the FIFO must not hold it up.
timeout -k 5 60 "$MEMLENS_BIN" leaks -j -- "$copy" >"$tmp/link.json" 2>"$tmp/link.err"
check_eq "debug link to a FIFO: memlens finishes (exit code)" 0 $?
check_eq "debug link to a FIFO: leak_here, exact" "1 7 28672" "$(leak_here "$(tail -n 1 "$tmp/link.json")")"
check_eq "debug link to a FIFO: still a FIFO" fifo "$(stat -c %F "$dir/leaky.debug")"

# Ctrl-C while the command waits (--wait: a line on stdin, which never
# comes) and reports come every second: memlens ends, with a last report.
mkfifo "$tmp/never"
exec 8<>"$tmp/never"
# Not fd 8, the FIFO's writer: the command sees its end when the test closes it, and exits.
"$MEMLENS_BIN" leaks -j -i 1 -- "$copy" --wait <"$tmp/never" 8>&- >"$tmp/int.json" \
	2>"$tmp/int.err" &
memlens_pid=$!
pids+=("$memlens_pid")
wait_for "$tmp/int.err" "Ctrl-C to stop" 30
sleep 2.5	# past the first reports: the module is symbolized, or hangs
kill -INT "$memlens_pid"
for ((i = 0; i < 100; i++)); do
	kill -0 "$memlens_pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$memlens_pid" 2>/dev/null; then
	not_ok "debug link to a FIFO: Ctrl-C ends memlens within 10 s" "still running"
	kill -KILL "$memlens_pid"
	pkill -KILL -P "$memlens_pid"
else
	ok "debug link to a FIFO: Ctrl-C ends memlens within 10 s"
fi
wait "$memlens_pid"
rc=$?
check_eq "debug link to a FIFO, Ctrl-C: exit code" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/#   /' "$tmp/int.err"
exec 8>&-
check "debug link to a FIFO, Ctrl-C: the command, let go, ends at its input's end" \
	timeout 10 bash -c 'while pgrep -f "$1 --wait" >/dev/null; do sleep 0.1; done' _ "$copy"
check "debug link to a FIFO, Ctrl-C: reports every second, then the last one" \
	test "$(grep -c '^{' "$tmp/int.json")" -ge 3

# The build-id path under /usr/lib/debug, a FIFO: in a mount namespace of
# its own, with a directory of ours bound over /usr/lib/debug.
id=$(readelf -n "$copy" | awk '/Build ID:/ { print $3 }')
objcopy --remove-section=.gnu_debuglink "$copy" "$dir/leaky-id"
mkdir -p "$tmp/debug/.build-id/${id:0:2}"
mkfifo "$tmp/debug/.build-id/${id:0:2}/${id:2}.debug"
timeout -k 5 60 unshare -m sh -c 'mount --make-rprivate / &&
	mount --bind "$1" /usr/lib/debug && exec "$2" leaks -j -- "$3"' \
	sh "$tmp/debug" "$MEMLENS_BIN" "$dir/leaky-id" >"$tmp/id.json" 2>"$tmp/id.err"
check_eq "build-id debug file a FIFO: memlens finishes (exit code)" 0 $?
check_eq "build-id debug file a FIFO: leak_here, exact" "1 7 28672" \
	"$(leak_here "$(tail -n 1 "$tmp/id.json")")"

# memlens report of a FIFO or a device node: refused without opening it,
# where an open would wait for a writer or run the device's driver.
mkfifo "$tmp/rec.fifo"
expect_error "report of a FIFO, no writer: not waited on" 1 \
	"memlens: $tmp/rec.fifo: not a memlens recording (not a regular file)" \
	timeout -k 5 10 "$MEMLENS_BIN" report "$tmp/rec.fifo"
# A writer waits in its open() until a reader opens the FIFO.
sh -c 'exec 2>/dev/null; echo x >"$1"' sh "$tmp/rec.fifo" &
writer=$!
pids+=("$writer")
expect_error "report of a FIFO with a writer" 1 \
	"memlens: $tmp/rec.fifo: not a memlens recording (not a regular file)" \
	timeout -k 5 10 "$MEMLENS_BIN" report "$tmp/rec.fifo"
sleep 0.3
check "report of a FIFO with a writer: never opened (the writer still waits)" kill -0 "$writer"
kill "$writer" 2>/dev/null
mknod "$tmp/rec.null" c 1 3
expect_error "report of a device node" 1 \
	"memlens: $tmp/rec.null: not a memlens recording (not a regular file)" \
	timeout -k 5 10 "$MEMLENS_BIN" report "$tmp/rec.null"

finish files
