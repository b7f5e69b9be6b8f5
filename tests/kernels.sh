#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The kernel matrix: Debian's cloud kernels 5.10 (bullseye), 6.1 (bookworm)
# and 6.12 (bookworm-backports) booted under QEMU (TCG, one CPU each), and
# the host, each running the smoke suite tests/smoke.sh with the static
# memlens (make static). Prints the matrix (rows: kernels, columns: smoke
# tests, cells ok/FAIL/skip) with the first error line memlens printed for
# every FAIL, and compares it with tests/kernels.expected.
#
# A cell counts as passed when it is what the expected file says, FAIL
# included, and as failed when it is not: a regression (expected ok, now
# FAIL) and an improvement (expected FAIL, now ok) alike, so that the
# expected file is kept honest. --update rewrites it from this run.
#
# Usage: tests/kernels.sh [--update] [ROW...]     (rows: 5.10 6.1 6.12 host)
# Needs root, qemu-system-x86 and busybox-static (make deps), the kernels
# (scripts/fetch-kernels.sh, run from here: a kernel it cannot fetch is
# one failed test, its row FAIL with the reason, the other rows run), and
# build/memlens-static and the workloads (make check-kernels builds them).
# KERNELS_GUEST_TIMEOUT: seconds a guest may run (default 200), then it is
# killed and its missing tests are FAIL. KERNELS_JOBS: runs at once (2).
set -u
cd "$(dirname "$0")/.." || exit 1

KDIR=build/kernels
RUN=$KDIR/run
EXPECTED=tests/kernels.expected
TESTS=(leaks-dwarf leaks-fp leaks-pid allocs top hist reclaim kmem report doctor verifier)
GUEST_TIMEOUT=${KERNELS_GUEST_TIMEOUT:-200}
JOBS=${KERNELS_JOBS:-2}
WORKLOADS="leaky memops pressure kmemload"
update=0
rows=()
for a in "$@"; do
	case $a in
	--update) update=1 ;;
	5.10 | 6.1 | 6.12 | host) rows+=("$a") ;;
	*)
		echo "usage: tests/kernels.sh [--update] [5.10|6.1|6.12|host...]" >&2
		exit 2
		;;
	esac
done
[ ${#rows[@]} -gt 0 ] || rows=(5.10 6.1 6.12 host)

# abort MESSAGE: the suite cannot run at all; one failed test.
abort() {
	echo "kernels: $1" >&2
	echo "kernels: 0 passed, 1 failed"
	exit 1
}

[ "$(id -u)" = 0 ] || abort "must run as root (loads BPF programs)"
for c in qemu-system-x86_64 busybox jq; do
	command -v $c >/dev/null || abort "$c missing: make deps"
done
busybox sh -c 'exit 0' || abort "busybox has no sh"
[ -x build/memlens-static ] || abort "build/memlens-static missing: make check-kernels"
for w in $WORKLOADS; do
	[ -x "build/$w" ] || abort "build/$w missing: make check-kernels"
done

start=$(date +%s)
scripts/fetch-kernels.sh "$KDIR" || echo "kernels: some kernels could not be fetched" >&2

# Interrupted: each run's timeout(1) passes the TERM on to its QEMU or
# smoke suite, which end at once.
cleanup() {
	local f
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
	done
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the initramfs: busybox, memlens, the workloads, their libraries --

rm -rf "$RUN"
mkdir -p "$RUN"
root=$RUN/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,memlens}
cp "$(command -v busybox)" "$root/bin/busybox"
cp build/memlens-static "$root/memlens/memlens"
for w in $WORKLOADS; do
	cp "build/$w" "$root/memlens/"
done
cp tests/smoke.sh "$root/smoke.sh"
# The host's merged /usr: /lib and /lib64 as the same links.
for d in lib lib64; do
	if [ -L /$d ]; then
		ln -s "$(readlink /$d)" "$root/$d"
		mkdir -p "$root/$(readlink -f /$d)"
	fi
done
for lib in $(for w in $WORKLOADS; do ldd "build/$w"; done |
	awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
	real=$(readlink -f "$lib")
	mkdir -p "$root$(dirname "$real")"
	cp "$real" "$root$real"
	if [ ! -e "$root$lib" ]; then
		mkdir -p "$root$(dirname "$lib")"
		ln -s "$real" "$root$lib"
	fi
done
cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo 1 >/proc/sys/kernel/printk
# A v1 memory controller where the kernel has one, else a v2 hierarchy.
mount -t tmpfs cgroup /sys/fs/cgroup
mkdir /sys/fs/cgroup/memory
if ! mount -t cgroup -o memory memory /sys/fs/cgroup/memory 2>/dev/null; then
	rmdir /sys/fs/cgroup/memory
	mkdir /sys/fs/cgroup/unified
	mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified &&
		echo +memory >/sys/fs/cgroup/unified/cgroup.subtree_control &&
		export SMOKE_CGROUP2=/sys/fs/cgroup/unified
fi
echo "smoke: kernel $(uname -r)"
# An emulated CPU (TCG) runs the verifier 20-50 times slower than the
# host, and counts a loaded host's time as its own: memlens's deadline
# of 1 s of CPU per program is a native CPU's.
export MEMLENS_VERIFY_DEADLINE_MS=20000
SMOKE_TIMEOUT=60 sh /smoke.sh /memlens /dev/ttyS1
sync
poweroff -f
INIT
chmod 755 "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null) >"$RUN/initramfs.cpio" ||
	abort "cannot build the initramfs"

# --- the runs ----------------------------------------------------------

# unfetched ROW: why ROW's kernel is not there, as fetch-kernels.sh said.
unfetched() {
	local why

	why=$(sed 's/^fetch-kernels: [^:]*: //' "$KDIR/$1.fetch-error" 2>/dev/null)
	echo "kernel not fetched: ${why:-scripts/fetch-kernels.sh gave no reason}"
}

# run_row ROW: its console into $RUN/ROW.console, its results into
# $RUN/ROW.data; a guest killed after GUEST_TIMEOUT seconds.
run_row() {
	local row=$1 t0 rc
	t0=$(date +%s)
	: >"$RUN/$row.data"
	if [ "$row" = host ]; then
		mkdir -p "$RUN/bin"
		cp build/memlens-static "$RUN/bin/memlens"
		for w in $WORKLOADS; do
			cp "build/$w" "$RUN/bin/"
		done
		timeout -k 5 "$GUEST_TIMEOUT" busybox sh tests/smoke.sh "$PWD/$RUN/bin" \
			"$RUN/host.data" </dev/null >"$RUN/host.console" 2>&1 &
		echo $! >"$RUN/$row.pid"
		wait $!
		rc=$?
	elif [ ! -s "$KDIR/$row/vmlinuz" ]; then
		unfetched "$row" >"$RUN/$row.unfetched"
		cp "$RUN/$row.unfetched" "$RUN/$row.console"
		rc=1
	else
		timeout -k 5 "$GUEST_TIMEOUT" qemu-system-x86_64 -M pc -cpu max -m 1G -smp 1 \
			-nodefaults -display none -no-reboot \
			-kernel "$KDIR/$row/vmlinuz" -initrd "$RUN/initramfs.cpio" \
			-append "console=ttyS0 panic=-1 quiet loglevel=1" \
			-serial "file:$RUN/$row.console" -serial "file:$RUN/$row.data" \
			</dev/null >"$RUN/$row.qemu" 2>&1 &
		echo $! >"$RUN/$row.pid"
		wait $!
		rc=$?
	fi
	rm -f "$RUN/$row.pid"
	echo "$rc $(($(date +%s) - t0))" >"$RUN/$row.run"
}

# At most JOBS at once: a guest takes one core.
for row in "${rows[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	echo "kernels: starting $row"
	run_row "$row" &
done
wait

# --- the verdicts --------------------------------------------------------

# block ROW TEST: TEST's block in ROW's results.
block() {
	tr -d '\r' <"$RUN/$1.data" 2>/dev/null | sed -n "/^@@begin $2\$/,/^@@end $2\$/p"
}

# first_error BLOCK: the first error line memlens printed, else the
# tracepoints it left out (every such line: each says why), else the first
# line that is not progress (a reduction it announced).
first_error() {
	local lines
	lines=$(grep '^E ' <<<"$1" | cut -c3- |
		grep -v -e 'memlens: tracing' -e 'memlens: recording' -e 'allocator hooked' \
			-e 'memlens: recorded')
	grep -m 1 -i -E 'cannot|failed|error|refused|invalid|unknown|no such' <<<"$lines" ||
		grep ': not traced$' <<<"$lines" | paste -s -d '|' | sed 's/|memlens: / | /g' |
		grep . || head -n 1 <<<"$lines"
}

meta_of() {
	grep "^M $2=" <<<"$1" | head -n 1 | cut -d= -f2-
}

# leak_totals JSON: "allocations bytes" of the stacks through leak_*.
leak_totals() {
	jq -r '[.stacks[] | select(any(.frames[]; .symbol // "" | startswith("leak_")))]
		| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1" 2>/dev/null
}

# leaks_exact JSON: why the report is not leaky's exactly, or nothing.
leaks_exact() {
	local got
	[ -n "$1" ] || { echo "no report"; return; }
	got=$(leak_totals "$1")
	[ "$got" = "13 1156488" ] ||
		{ echo "leak_* stacks: $got, not 13 blocks, 1156488 bytes"; return; }
	got=$(jq -r '"\(.exited) \(.exit_status)"' <<<"$1")
	[ "$got" = "true 0" ] || echo "not the leaked-at-exit report ($got)"
}

# allocs_exact JSON: why the profile is not leaky's allocator calls exactly
# (7 + 3 + 1 + 1 + 1 calls from leak_*, its mmaps not counted), or nothing.
allocs_exact() {
	local got
	[ -n "$1" ] || { echo "no report"; return; }
	got=$(leak_totals "$1")
	[ "$got" = "13 1087860" ] ||
		{ echo "leak_* stacks: $got, not 13 calls, 1087860 bytes"; return; }
	got=$(jq -r '"\(.exited) \(.exit_status) \(.profile)"' <<<"$1")
	[ "$got" = "true 0 allocated" ] || echo "not the allocation profile at exit ($got)"
}

# content_check TEST: why the output in $b (last line $r, workload $pid)
# is not what TEST expects, into why; nothing when it is.
content_check() {
	case $1 in
	leaks-dwarf | leaks-fp | leaks-pid)
		why=$(leaks_exact "$r")
		;;
	allocs)
		why=$(allocs_exact "$r")
		;;
	top)
		[ -n "$r" ] || why="no row of the workload"
		[ -n "$why" ] || why=$(jq -r '.totals
			| [[.allocs, .alloc_bytes, .frees, .free_bytes, .alloc_failed]
			   == [250, 750000, 250, 750000, 0],
			   [.brk_grow, .brk_grow_bytes, .brk_shrink, .brk_shrink_bytes, .brk_failed]
			   == [5, 20480, 1, 4096, 0],
			   [.mmap, .mmap_bytes, .munmap, .munmap_bytes, .mmap_failed]
			   == [7, 917504, 7, 917504, 1]]
			| if all then "" else "totals: malloc, brk, mmap exact: \(.)" end' <<<"$r" 2>&1)
		;;
	hist)
		why=$(grep '^O ' <<<"$b" | cut -c3- | jq -rs --argjson p "${pid:-0}" '
			def h(k): [.[] | select(.pid == $p and .kind == k)] | last
				| if . == null then "none" else "\(.total) " + ([.buckets[]
				| select(.count > 0) | "\(.low)-\(.high):\(.count)"] | join(" ")) end;
			if h("alloc_size") == "250 2048-4095:250" and h("mmap_size") == "7 131072-262143:7"
			then "" else "alloc_size \(h("alloc_size")), mmap_size \(h("mmap_size"))" end' 2>&1)
		;;
	reclaim)
		local hog hog_rc
		hog=$(meta_of "$b" hog)
		hog_rc=$(meta_of "$b" hog_rc)
		if [ -z "$hog" ]; then
			why="memlens did not start"
		elif [ "$(meta_of "$b" exec_read)" != yes ]; then
			why="memlens -v did not say it read the hog's mappings at its exec"
		elif [ "$hog_rc" != 137 ]; then
			why="the hog was not OOM-killed (exit $hog_rc)"
		else
			# --stacks: the hog's stalls by stack add up to its
			# stalls, each with its page fault in main (pressure's
			# touch_anon is inlined there) under handle_mm_fault:
			# named from the mappings memlens read at its exec even
			# if it reads the first stall after the hog is killed.
			why=$(grep '^O ' <<<"$b" | cut -c3- | jq -rs --argjson p "$hog" '
				[.[] | select(.type == "oom")] as $o
				| ([.[] | select(.type == "summary") | .processes[]
				    | select(.pid == $p)] | first) as $h
				| if ($o | length) != 1 or $o[0].pid != $p
				  then "OOM kills seen: \([$o[].pid])"
				  elif $h == null then "no stalls of the hog"
				  elif ([$h.stalls[].count] | add) != ([$h.stacks[].count] | add)
				  then "stalls by stack: \([$h.stacks[].count] | add) of \([$h.stalls[].count] | add)"
				  elif any($h.stacks[]; .user[0].symbol != "main"
				      or ([.kernel[].symbol] | index("handle_mm_fault")) == null)
				  then "a stack not the fault in main: \([$h.stacks[] | [.user[0].symbol, .kernel[0].symbol]])"
				  else "" end' 2>&1)
			# What memlens -v said of the hog's mappings, to tell why.
			[ -z "$why" ] || why="$why ($(grep "^E memlens: pid $hog:" <<<"$b" |
				cut -c3- | paste -sd';' -))"
		fi
		;;
	kmem)
		# A free in an interrupt that comes while the same program runs
		# on its CPU is skipped by the kernel and counted as a recursion
		# miss (filp is freed in RCU callbacks on 6.1), and an allocation
		# whose object the map could not take then is counted untracked
		# (its free finds nothing): the counts must add up exactly, the
		# frees missing no more than those two losses explain, as
		# tests/e2e-kmem.sh allows for inodes.
		why=$(grep '^O ' <<<"$b" | cut -c3- | jq -rs '
			([.[] | select(.type == "kmem") | .lost.recursion_misses] | max // 0) as $m
			| [.[] | select(.name == "filp")] | last
			| if . == null then "no filp row"
			  elif .allocs == 237 and .frees <= 200
			       and .outstanding == .allocs - (.untracked_allocs // 0) - .frees
			       and 200 - .frees <= $m + (.untracked_allocs // 0)
			       and .outstanding >= 37 - (.untracked_allocs // 0) then ""
			  else "filp: outstanding \(.outstanding), allocs \(.allocs), frees \(.frees)"
			       + " (\($m) recursion misses, \(.untracked_allocs) untracked allocs),"
			       + " not 37, 237, 200" end' 2>&1)
		;;

	report)
		why=$(leaks_exact "$r")
		;;
	esac
}

# verdict ROW TEST: prints "ok", "skip REASON" or "FAIL REASON".
verdict() {
	local b rc why="" err lib ver n r pid
	if [ -s "$RUN/$1.unfetched" ]; then
		echo "FAIL $(cat "$RUN/$1.unfetched")"
		return
	fi
	b=$(block "$1" "$2")
	if [ -z "$b" ]; then
		if grep -q '^@@done' "$RUN/$1.data" 2>/dev/null; then
			echo "FAIL not run"
		else
			read -r rc _ <"$RUN/$1.run"
			case $rc in
			124 | 137) echo "FAIL killed after ${GUEST_TIMEOUT} s, before this test" ;;
			*) echo "FAIL no result: the run ended early ($(tail -n 1 "$RUN/$1.console" | tr -d '\r'))" ;;
			esac
		fi
		return
	fi
	rc=$(sed -n 's/^@@rc //p' <<<"$b")
	if [ "$rc" = skip ]; then
		echo "skip $(meta_of "$b" note)"
		return
	fi
	r=$(grep '^O ' <<<"$b" | cut -c3- | tail -n 1)
	pid=$(meta_of "$b" pid)
	if [ "$2" = report ] && [ "$(meta_of "$b" record_rc)" != 0 ]; then
		why="record: exit code $(meta_of "$b" record_rc)"
	elif [ "$rc" != 0 ]; then
		why="exit code $rc"
	else
		content_check "$2"
	fi
	if [ -z "$why" ]; then
		echo ok
		return
	fi
	err=$(first_error "$b")
	lib=$(meta_of "$b" libbpf)
	ver=$(meta_of "$b" verifier)
	n=$(meta_of "$b" processed | awk '{print $2}')
	echo "FAIL $why${err:+: $err}${lib:+ | $lib}${ver:+ | verifier: $ver}${n:+ ($n insns)}"
}

declare -A cell reason expected
for row in "${rows[@]}"; do
	for t in "${TESTS[@]}"; do
		v=$(verdict "$row" "$t")
		cell[$row,$t]=${v%% *}
		reason[$row,$t]=${v#* }
		[ "$v" = ok ] && reason[$row,$t]=
	done
done

# The expected file: a header line "kernel TEST...", then a row each.
if [ -f "$EXPECTED" ]; then
	header=()
	while read -r first rest; do
		case $first in '#'* | '') continue ;; esac
		if [ "$first" = kernel ]; then
			read -r -a header <<<"$rest"
			continue
		fi
		read -r -a vals <<<"$rest"
		for i in "${!header[@]}"; do
			expected[$first,${header[$i]}]=${vals[$i]:-}
		done
	done <"$EXPECTED"
fi

# --- the matrix ----------------------------------------------------------

# The verifier's cost of every program, per kernel, where doctor tells it
# (less the programs not tried after a refusal); then the matrix.
for row in "${rows[@]}"; do
	b=$(block "$row" verifier)
	if grep -q '^O ' <<<"$b"; then
		echo
		echo "verifier cost on $row (memlens doctor --verifier):"
		grep '^O ' <<<"$b" | cut -c3- | grep -v ' not tried$'
		n=$(grep -c '^O .* not tried$' <<<"$b")
		[ "$n" -eq 0 ] || echo "($n programs not tried after a refusal)"
	fi
done


printf '\n%-6s' kernel
for t in "${TESTS[@]}"; do printf ' %-11s' "$t"; done
printf '\n'
for row in "${rows[@]}"; do
	printf '%-6s' "$row"
	for t in "${TESTS[@]}"; do
		v=${cell[$row,$t]}
		e=${expected[$row,$t]:-ok}
		[ "$v" = "$e" ] || v="$v!"
		printf ' %-11s' "$v"
	done
	printf '\n'
done
echo "(! = not what $EXPECTED says)"
echo
for row in "${rows[@]}"; do
	k=$(sed -n 's/^@@kernel //p' "$RUN/$row.data" 2>/dev/null | tr -d '\r')
	read -r rc secs <"$RUN/$row.run"
	echo "$row: ${k:-kernel did not report}, ${secs} s, exit $rc"
	if [ -s "$RUN/$row.unfetched" ]; then
		echo "  every test: FAIL $(cat "$RUN/$row.unfetched")"
		continue
	fi
	for t in "${TESTS[@]}"; do
		[ -n "${reason[$row,$t]}" ] && echo "  $t: ${cell[$row,$t]} ${reason[$row,$t]}"
	done
done


# --- against the expected file ---------------------------------------------

passed=0
failed=0
echo
for row in "${rows[@]}"; do
	# Not run at all: one failure, whatever its cells expected.
	if [ -s "$RUN/$row.unfetched" ]; then
		failed=$((failed + 1))
		echo "not ok - $row: $(cat "$RUN/$row.unfetched")"
		continue
	fi
	for t in "${TESTS[@]}"; do
		v=${cell[$row,$t]}
		e=${expected[$row,$t]:-ok}
		if [ "$v" = "$e" ]; then
			passed=$((passed + 1))
			echo "ok - $row $t: $v"
		elif [ "$v" = ok ]; then
			failed=$((failed + 1))
			echo "not ok - $row $t: IMPROVED: expected $e, now ok: update $EXPECTED"
		else
			failed=$((failed + 1))
			echo "not ok - $row $t: REGRESSION: expected $e, now $v: ${reason[$row,$t]}"
		fi
	done
done

# A run cut short fails on its own, whatever its missing cells expected.
for row in "${rows[@]}"; do
	[ -s "$RUN/$row.unfetched" ] && continue
	if ! grep -q '^@@done' "$RUN/$row.data" 2>/dev/null; then
		read -r rc secs <"$RUN/$row.run"
		failed=$((failed + 1))
		echo "not ok - $row: the smoke suite did not finish (exit $rc after $secs s)"
	fi
done

if [ "$update" = 1 ]; then
	{
		echo "# Expected results of tests/kernels.sh, a row per kernel (host: the"
		echo "# machine running it), written by tests/kernels.sh --update."
		echo "# ok, FAIL or skip; a cell that differs fails the run, either way."
		printf '%-6s' kernel
		printf ' %s' "${TESTS[@]}"
		printf '\n'
		for row in 5.10 6.1 6.12 host; do
			printf '%-6s' "$row"
			for t in "${TESTS[@]}"; do
				v=${cell[$row,$t]:-}
				# A row not run keeps what it expected.
				[ -s "$RUN/$row.unfetched" ] && v=
				printf ' %s' "${v:-${expected[$row,$t]:-ok}}"
			done
			printf '\n'
		done
		echo
		echo "# Why, when this file was written:"
		for row in "${rows[@]}"; do
			[ -s "$RUN/$row.unfetched" ] && continue
			for t in "${TESTS[@]}"; do
				[ -n "${reason[$row,$t]}" ] &&
					echo "#   $row $t: ${reason[$row,$t]}"
			done
		done
	} >"$EXPECTED.new"
	mv "$EXPECTED.new" "$EXPECTED"
	echo "kernels: $EXPECTED updated"
fi

echo "kernels: $(($(date +%s) - start)) s"
echo "kernels: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
