#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Overhead of memlens, measured in one run, as ratios (bench/README.md).
# First the allocation tracers on mallocbench (free + malloc of 16..4096
# bytes over 1000 live blocks): untraced; the floor, empty BPF programs
# (build/floor) on the three sites memlens probes (malloc's entry and
# return, free past its NULL test); each memlens mode; the least an exact
# leak tracer does there (build/handoff bare: no stack); and bpftrace,
# heaptrack and libbpf-tools' memleak where they are on PATH. Runs are
# interleaved, ROUNDS of each, and the medians compared: ns added per
# malloc+free pair, and that against the floor's (memlens allocs: its
# entry probes alone, no return, no free). Then the cost of each
# kind of probe, 2 threads, a C++ new/delete loop, a CET-built allocator
# against the same without CET, and sqlite3 on a generated script.
set -u
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-20000}
ROUNDS=${ROUNDS:-3}
BENCH=$PWD/build/mallocbench
tmp=$(mktemp -d /tmp/memlens-bench.XXXXXX)
# The kernel's BPF statistics, on for the handoff rows only, go back as
# they were first thing on any exit (stats_was is set only while they are on).
stats_was=
trap '[ -n "$stats_was" ] && sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	kill $(jobs -p) 2>/dev/null; wait 2>/dev/null
	mountpoint -q "$tmp/tmpfs" 2>/dev/null && umount "$tmp/tmpfs"; rm -rf "$tmp"' EXIT
libc=$(readlink -f "$(ldd "$BENCH" | awk '/libc\.so/ {print $3}')")

wait_for() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Where memlens probes libc's malloc and free (doctor), and free's entry.
site() {
	./memlens doctor --json | jq -r --arg l "$libc" --arg f "$1" --arg w "$2" \
		'.probes[$l][] | select(.function == $f)
		 | if $w == "entry" then .entry else .entry + .probe end | "\(.)"' |
		xargs printf '%x'
}
MALLOC=$(site malloc probe)
FREE=$(site free probe)
FREE_ENTRY=$(site free entry)

# Tracers: each is given the pid and says "tracing pid PID" once attached.
floor_tracer() { exec build/floor "$1" "$libc" "$MALLOC" "r$MALLOC" "$FREE"; }
emulated_tracer() { exec build/floor "$1" "$libc" "$MALLOC"; }
stepped_tracer() { exec build/floor "$1" "$libc" "$FREE_ENTRY"; }
return_tracer() { exec build/floor "$1" "$libc" "$MALLOC" "r$MALLOC"; }
# The floor of --sample-bytes with uprobe sessions: malloc's entry skips its return, free.
skipfloor_tracer() { exec build/floor "$1" "$libc" "s$MALLOC" "$FREE"; }
# Entries alone, no return: malloc and free as plain uprobes.
entries_tracer() { exec build/floor "$1" "$libc" "$MALLOC" "$FREE"; }
leaks_tracer() { exec ./memlens leaks -i 3600 --unwind fp -p "$1"; }
# The least an exact leak tracer does, no stack (bench/handoff.bpf.c): a lower bound.
bare_tracer() { exec build/handoff bare "$1" "$libc" "$MALLOC" "$FREE"; }
# Without the table of recent blocks in front of the allocs map: every block in the map.
maponly_tracer() { MEMLENS_ALLOC_BUCKETS=0 exec ./memlens leaks -i 3600 --unwind fp -p "$1"; }
# Without thread slots: every thread's state in the threads hash map.
noslots_tracer() { MEMLENS_THREAD_SLOTS=0 exec ./memlens leaks -i 3600 --unwind fp -p "$1"; }
sampled_tracer() { exec ./memlens leaks -i 3600 --unwind fp --sample-bytes 65536 -p "$1"; }
uretprobe_tracer() {
	MEMLENS_DISABLE=uprobe_session exec ./memlens leaks -i 3600 --unwind fp \
		--sample-bytes 65536 -p "$1"
}
dwarf_tracer() { exec ./memlens leaks -i 3600 -p "$1"; }
allocs_tracer() { exec ./memlens allocs -i 3600 --unwind fp -p "$1"; }
allocs_dwarf_tracer() { exec ./memlens allocs -i 3600 -p "$1"; }
allocs_exact_tracer() { exec ./memlens allocs -i 3600 --unwind fp --sample-bytes 0 -p "$1"; }
hist_tracer() { ./memlens hist -i 3600 2>&1 | sed -u "s/tracing all processes/tracing pid $1/"; }
top_tracer() { ./memlens top --json -i 3600 2>&1 >/dev/null | sed -u "s/tracing all processes/tracing pid $1/"; }
bpftrace_tracer() {
	sed -e "s|LIBC|$libc|g" -e "s|PID|$1|g" bench/bpftrace-leaks.bt >"$tmp/leaks.bt"
	exec bpftrace -p "$1" "$tmp/leaks.bt"
}
memleak_tracer() { "$MEMLEAK" -p "$1" 3600 2>&1 | sed -u "s/Attaching to pid $1.*/tracing pid $1/"; }
# C++: every operator new and delete hooked, as before those that only
# forward to malloc and free were left to them (user/cxx_forward.c).
cxx_all_tracer() { MEMLENS_CXX_HOOKS=all exec ./memlens leaks -i 3600 --unwind fp -p "$1"; }
cxx_all_dwarf_tracer() { MEMLENS_CXX_HOOKS=all exec ./memlens leaks -i 3600 -p "$1"; }
# ... and each probe on its function's entry, as before probes moved onto
# instructions the kernel emulates: the single steps issue 17 found (then
# a throwing new was hooked too, on its endbr64, with a return probe).
cxx_before_tracer() {
	MEMLENS_CXX_HOOKS=all MEMLENS_PROBES=entry exec ./memlens leaks -i 3600 --unwind fp -p "$1"
}
libc_only_tracer() { exec ./memlens leaks -i 3600 --unwind fp --allocator "$libc" -p "$1"; }
cet_tracer() { exec ./memlens leaks -i 3600 --unwind fp --allocator "$PWD/build/libcet_alloc.so" -p "$1"; }
nocet_tracer() { exec ./memlens leaks -i 3600 --unwind fp --allocator "$PWD/build/libnocet_alloc.so" -p "$1"; }

# rate TRACER CMD...: pairs/s CMD prints with TRACER attached before its
# loop ("none": untraced; "heaptrack": CMD run under heaptrack).
rate() {
	local tracer=$1 pid tpid
	shift
	if [ "$tracer" = none ]; then
		"$@" | awk '/pairs_per_sec/ {print $2}'
		return
	fi
	if [ "$tracer" = heaptrack ]; then
		heaptrack -o "$tmp/ht" "$@" 2>/dev/null | awk '/pairs_per_sec/ {print $2}'
		rm -f "$tmp"/ht*
		return
	fi
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	exec 3<>"$tmp/in"
	"$@" --wait <&3 >"$tmp/bench.out" &
	pid=$!
	wait_for "$tmp/bench.out" ready
	"${tracer}_tracer" "$pid" >"$tmp/trace.out" 2>&1 &
	tpid=$!
	wait_for "$tmp/trace.out" "tracing pid $pid"
	echo go >&3
	wait "$pid"
	kill -INT "$tpid" 2>/dev/null
	pkill -INT -P "$tpid" 2>/dev/null
	wait "$tpid"
	exec 3>&-
	awk '/pairs_per_sec/ {print $2}' "$tmp/bench.out"
}

declare -A runs
# measure NAME TRACER CMD...: one more run of NAME.
measure() {
	local name=$1
	shift
	runs[$name]+="$(rate "$@") "
}
med() { median ${runs[$1]}; }
# ns added per pair by NAME over BASE.
added() { awk -v t="$(med "$1")" -v b="$(med "$2")" 'BEGIN { printf "%.0f", 1e9 / t - 1e9 / b }'; }
# The lowest and highest of NAME's per-round ratios to the floor, each round's
# ns added against that round's untraced run: how far one ratio can be
# trusted on this machine. The floor's row: each round's against its median.
spread() {
	awk -v t="${runs[$1]}" -v f="${runs[floor]}" -v b="${runs[none]}" -v fm="$(added floor none)" \
	    -v self="$([ "$1" = floor ] && echo 1)" 'BEGIN {
		n = split(t, tv); split(f, fv); split(b, bv)
		for (i = 1; i <= n; i++) {
			r = (1e9 / tv[i] - 1e9 / bv[i]) / (self ? fm : 1e9 / fv[i] - 1e9 / bv[i])
			if (i == 1 || r < lo)
				lo = r
			if (i == 1 || r > hi)
				hi = r
		}
		printf "%.2f to %.2f", lo, hi
	}'
}

# A system-wide tracer, started for a measurement and stopped after it.
start_tracer() {
	"$@" >/dev/null 2>"$tmp/tracer.err" &
	tracer=$!
	wait_for "$tmp/tracer.err" "tracing"
}

stop_tracer() {
	kill -INT "$tracer"
	wait "$tracer"
}

# memlens kmem tracks every slab object of the host: a metadata-heavy loop
# (create, fstat, close, unlink) allocates and frees a dentry, an inode, a
# file and their LSM blobs a round. Each round runs it untraced, under the
# floor (empty programs on the raw tracepoints kmem hooks: what the
# kernel's tracepoints cost before any BPF work) and under memlens kmem,
# three times each, the three sides in an order that turns round by round
# (a side last in every round would pay for whatever grows as the loop
# goes on); KMEM_ROUNDS of them (at least 6: one ratio here is good to a
# tenth at best) give the medians and a range. The loop runs twice: in
# the temporary directory's file system (ext4 here), whose inode
# allocator makes a round's speed move by two times and more with what
# was deleted in the last minutes, and in a tmpfs of its own, where it
# is steady (and twice as fast, so the same BPF time weighs twice as
# much): the line to compare two builds by.
KMEM_ROUNDS=${KMEM_ROUNDS:-$((ROUNDS > 6 ? ROUNDS : 6))}
KMEM_TPS=$(sed -n 's|^SEC("raw_tp/\([a-z_]*\)").*|\1|p' bpf/kmem.bpf.c | sort -u)
fs_dir=$tmp
# A fresh directory a run: negative dentries pile up in a used one.
fs_rounds() {
	local dir
	dir=$(mktemp -d "$fs_dir/fs.XXXXXX")
	build/fsbench "$dir" 20000 | awk '{print $2}'
	rm -rf "$dir"
}
# fs_runs NAME: three more runs of NAME, and their median as its round's.
fs_runs() {
	local one=()
	one=("$(fs_rounds)" "$(fs_rounds)" "$(fs_rounds)")
	runs[$1]+="${one[*]} "
	runs[$1_round]+="$(median "${one[@]}") "
}
fs_side() {
	case $1 in
	none)	fs_runs fs_none ;;
	floor)	start_tracer build/floor -t $KMEM_TPS
		fs_runs fs_floor
		stop_tracer ;;
	kmem)	start_tracer ./memlens kmem --json -i 3600
		fs_runs fs_kmem
		stop_tracer ;;
	esac
}
# kmem_round R: the three sides, the first of them the R-th.
kmem_round() {
	local sides=(none floor kmem) i

	for ((i = 0; i < 3; i++)); do fs_side "${sides[($1 + i) % 3]}"; done
}
# The ratio of NAME's median to the untraced one, and the range of its rounds' ratios.
fs_ratio() {
	awk -v t="$(med "$1")" -v b="$(med fs_none)" -v tr="${runs[$1_round]}" \
	    -v br="${runs[fs_none_round]}" 'BEGIN {
		n = split(tr, tv); split(br, bv)
		for (i = 1; i <= n; i++) {
			r = tv[i] / bv[i]
			if (i == 1 || r < lo)
				lo = r
			if (i == 1 || r > hi)
				hi = r
		}
		printf "%.0f/s, ratio %.3f (rounds %.2f to %.2f)", t, t / b, lo, hi
	}'
}
# kmem_lines_in DIR WHAT: the rounds in DIR, and their lines.
kmem_lines_in() {
	local r n

	fs_dir=$1
	for n in fs_none fs_floor fs_kmem; do runs[$n]=; runs[${n}_round]=; done
	for ((r = 0; r < KMEM_ROUNDS; r++)); do kmem_round $r; done
	printf 'create+fstat+close+unlink rounds (fsbench) on %s, %d rounds of 3 runs each way, medians:\n' \
		"$2" "$KMEM_ROUNDS"
	printf '  untraced %.0f/s; empty programs on kmem'"'"'s %d tracepoints %s;\n' \
		"$(med fs_none)" "$(wc -w <<<"$KMEM_TPS")" "$(fs_ratio fs_floor)"
	printf '  memlens kmem %s\n' "$(fs_ratio fs_kmem)"
}
kmem_line() {
	kmem_lines_in "$tmp" "$(findmnt -n -o FSTYPE -T "$tmp" || stat -f -c %T "$tmp") ($tmp)"
	mkdir "$tmp/tmpfs"
	if ! mount -t tmpfs -o size=256m memlens-bench "$tmp/tmpfs"; then
		echo "bench: no tmpfs for the kmem line's second run" >&2
		return 1
	fi
	kmem_lines_in "$tmp/tmpfs" tmpfs
	umount "$tmp/tmpfs"
}
# ONLY=kmem: that line alone.
if [ "${ONLY:-}" = kmem ]; then
	kmem_line
	exit 0
fi

# The C++ new/delete loop: every operator hooked, the way before (with
# each probe on its entry too, or where probes go now), against those that
# only forward left to malloc and free (the default), with either unwinder;
# and hooking malloc and free alone.
cxx_round() {
	measure cxx_none none build/newbench "$PAIRS"
	measure cxx_before cxx_before build/newbench "$PAIRS"
	measure cxx_all cxx_all build/newbench "$PAIRS"
	measure cxx_leaks leaks build/newbench "$PAIRS"
	measure cxx_libc libc_only build/newbench "$PAIRS"
	measure cxx_all_dwarf cxx_all_dwarf build/newbench "$PAIRS"
	measure cxx_dwarf dwarf build/newbench "$PAIRS"
}
cxx_line() {
	awk -v n="$(med cxx_none)" -v a="$(added cxx_all cxx_none)" -v l="$(added cxx_leaks cxx_none)" \
	    -v c="$(added cxx_libc cxx_none)" -v ad="$(added cxx_all_dwarf cxx_none)" \
	    -v d="$(added cxx_dwarf cxx_none)" -v b="$(added cxx_before cxx_none)" 'BEGIN {
		printf "C++ delete[] + new[] (newbench): untraced %d pairs/s; memlens leaks --unwind fp:\n", n
		printf "  every operator hooked (MEMLENS_CXX_HOOKS=all) +%d ns/pair; each probe on its\n", a
		printf "  entry (MEMLENS_PROBES=entry), as issue 17 found them, +%d ns/pair; those that\n", b
		printf "  forward left to malloc and free +%d ns/pair: %.2f of the first, %.2f of the\n", l, l / a, l / b
		printf "  second; hooking malloc and free alone\n"
		printf "  (--allocator libc) +%d ns/pair (%.2f); DWARF unwinder: +%d ns/pair against +%d (%.2f)\n", c, c / a, d, ad, d / ad
	}'
}
# ONLY=cxx: that line alone, its rows interleaved as in the whole run.
if [ "${ONLY:-}" = cxx ]; then
	for ((r = 0; r < ROUNDS; r++)); do cxx_round; done
	cxx_line
	exit 0
fi

# The same allocator built with and without CET (-fcf-protection), hooked with --allocator.
cet_round() {
	measure cet_none none env LD_PRELOAD="$PWD/build/libcet_alloc.so" "$BENCH" "$PAIRS"
	measure cet cet env LD_PRELOAD="$PWD/build/libcet_alloc.so" "$BENCH" "$PAIRS"
	measure nocet_none none env LD_PRELOAD="$PWD/build/libnocet_alloc.so" "$BENCH" "$PAIRS"
	measure nocet nocet env LD_PRELOAD="$PWD/build/libnocet_alloc.so" "$BENCH" "$PAIRS"
}
cet_line() {
	awk -v c="$(added cet cet_none)" -v n="$(added nocet nocet_none)" 'BEGIN {
		printf "CET-built allocator (--allocator, preloaded): +%d ns/pair, without CET +%d ns/pair: ratio %.2f\n", c, n, c / n
	}'
}
# ONLY=cet: that line alone, its rows interleaved as in the whole run.
if [ "${ONLY:-}" = cet ]; then
	for ((r = 0; r < ROUNDS; r++)); do cet_round; done
	cet_line
	exit 0
fi

# The mallocbench table: each of ROWS against untraced runs and the floor.
print_table() {
	local fl a t
	local -A label=(
		[floor]="floor (empty programs on memlens's probe sites)"
		[leaks]="memlens leaks --unwind fp"
		[maponly]="  the same, every block in the hash map (no table of recent blocks)"
		[noslots]="  the same, every thread's state in the hash map (no thread slots)"
		[bare]="  the least it could do: size to the return, block in a warm table, no stack, no clock"
		[sampled]="memlens leaks --unwind fp --sample-bytes 65536"
		[uretprobe]="  the same without uprobe sessions"
		[skipfloor]="  its floor: empty session on malloc's entry, skipping the return, and free"
		[entries]="  empty uprobes on malloc's entry and free, no return probe"
		[dwarf]="memlens leaks (DWARF unwinder)"
		[allocs]="memlens allocs --unwind fp (entries only, sampled every 512 KiB)"
		[allocs_dwarf]="  the same with the DWARF unwinder"
		[allocs_exact]="  --unwind fp --sample-bytes 0 (every call's stack)"
		[hist]="memlens hist (system-wide)"
		[top]="memlens top (system-wide)"
		[bpftrace]="bpftrace, same bookkeeping (free at entry)"
		[heaptrack]="heaptrack (LD_PRELOAD, in-process)"
		[memleak]="memleak -p ($MEMLEAK)"
	)
	fl=$(added floor none)
	printf 'mallocbench: free + malloc of 16..4096 B, 1000 live blocks, %d pairs, 1 thread;\n' "$PAIRS"
	printf 'medians of %d interleaved runs; untraced %s pairs/s\n\n' "$ROUNDS" "$(med none)"
	printf '| tracer | ns/pair added | vs floor | range over rounds |\n|---|---|---|---|\n'
	for t in $ROWS; do
		a=$(added "$t" none)
		awk -v l="${label[$t]}" -v a="$a" -v f="$fl" -v s="$(spread "$t")" \
			'BEGIN { printf "| %s | %d | %.2f | %s |\n", l, a, a / f, s }'
	done
	for t in $MISSING; do
		echo "| $t | not on PATH | | |"
	done
}

ROWS="floor leaks maponly noslots bare sampled skipfloor uretprobe dwarf allocs allocs_dwarf allocs_exact hist top"
# The sampled mode's own floor is an empty session (6.13): none without.
if [ "$(./memlens doctor --json | jq .features.uprobe_session)" != true ]; then
	ROWS=${ROWS/ skipfloor/}
fi
MISSING=
for t in bpftrace heaptrack; do
	if command -v $t >/dev/null; then ROWS+=" $t"; else MISSING+=" $t"; fi
done
MEMLEAK=$(command -v memleak || command -v memleak-bpfcc || true)
if [ -n "$MEMLEAK" ]; then ROWS+=" memleak"; else MISSING+=" memleak"; fi
# ONLY=table: the table alone, of the rows in TABLE_ROWS (default all; the
# floor always): longer runs of fewer rows (PAIRS=200000) resolve a ratio
# better than the whole run can on a noisy machine.
if [ "${ONLY:-}" = table ]; then
	ROWS="floor $(tr ' ' '\n' <<<"${TABLE_ROWS:-$ROWS}" | grep -vx floor | xargs)"
	for ((r = 0; r < ROUNDS; r++)); do
		measure none none "$BENCH" "$PAIRS"
		for t in $ROWS; do measure "$t" "$t" "$BENCH" "$PAIRS"; done
	done
	print_table
	exit 0
fi
for ((r = 0; r < ROUNDS; r++)); do
	measure none none "$BENCH" "$PAIRS"
	for t in $ROWS; do measure "$t" "$t" "$BENCH" "$PAIRS"; done
	for t in emulated stepped return; do measure "$t" "$t" "$BENCH" "$PAIRS"; done
	measure none2 none "$BENCH" "$PAIRS" --threads 2
	measure floor2 floor "$BENCH" "$PAIRS" --threads 2
	measure leaks2 leaks "$BENCH" "$PAIRS" --threads 2
	cxx_round
	cet_round
done

print_table
em=$(added emulated none)
st=$(added stepped none)
re=$(( $(added return none) - em ))
printf '\nper probe: entry on an emulated instruction (malloc +0x0 push) %d ns, entry\n' "$em"
printf 'single-stepped (free +0x0 test) %d ns, return probe %d ns\n' "$st" "$re"
awk -v f="$(added floor2 none2)" -v l="$(added leaks2 none2)" 'BEGIN {
	printf "2 threads: floor +%d ns/pair, memlens leaks --unwind fp +%d ns/pair (%.2f of the floor)\n", f, l, l / f
}'
cxx_line
cet_line

# A value from an allocator's entry to its return: the per-thread map
# memlens kept every thread's calls in, the thread slot it keeps them in
# now, task storage, against a uprobe session's cookie (build/handoff), by
# the kernel's BPF statistics, per malloc call: each program's run time,
# less that of empty programs on the same probes (what the statistics and
# the dispatch cost): an entry and a return probe for the first three, a
# session for the cookie.
handoff_ns() {
	local mode=$1 pid tpid
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	exec 3<>"$tmp/in"
	"$BENCH" "$PAIRS" --wait <&3 >"$tmp/bench.out" &
	pid=$!
	wait_for "$tmp/bench.out" ready
	build/handoff "$mode" "$pid" "$libc" "$MALLOC" >"$tmp/trace.out" 2>&1 &
	tpid=$!
	wait_for "$tmp/trace.out" "tracing pid $pid"
	echo go >&3
	wait "$pid"
	bpftool prog show -j | jq --argjson n "$PAIRS" \
		'[.[] | select(.name | test("^(map|task|slot|empty)_(enter|return)$|^(cookie|empty)_session$"))
		  | .run_time_ns] | add / $n | floor'
	kill -INT "$tpid"
	wait "$tpid"
	exec 3>&-
}
if [ "$(./memlens doctor --json | jq .features.uprobe_session)" = true ]; then
	stats_was=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	for ((r = 0; r < ROUNDS; r++)); do
		for m in map slot task pair cookie session; do runs[h_$m]+="$(handoff_ns $m) "; done
	done
	sysctl -qw kernel.bpf_stats_enabled="$stats_was"
	stats_was=
	awk -v m="$(med h_map)" -v s="$(med h_slot)" -v t="$(med h_task)" -v p="$(med h_pair)" \
	    -v c="$(med h_cookie)" -v e="$(med h_session)" 'BEGIN {
		printf "size from entry to return, BPF time per call: less an empty entry and return (%d ns),\n", p
		printf "  per-thread map %d ns, thread slot %d ns, task storage %d ns;", m - p, s - p, t - p
		printf " less an empty session (%d ns), session cookie %d ns\n", e, c - e
	}'
else
	echo "no uprobe sessions here: no row of the size from entry to return"
fi

# sqlite3 on a generated script (inserts, an index, queries): seconds,
# untraced and under memlens leaks -p, which attaches while sqlite3
# waits for its input.
sqlite_secs() {
	local tracer=$1 pid tpid t0 t1
	rm -f "$tmp/sql.in"
	mkfifo "$tmp/sql.in"
	sqlite3 :memory: <"$tmp/sql.in" >/dev/null &
	pid=$!
	exec 4>"$tmp/sql.in"
	if [ "$tracer" != none ]; then
		# Not with the FIFO's write end: sqlite3 would never see its end.
		"${tracer}_tracer" "$pid" >"$tmp/trace.out" 2>&1 4>&- &
		tpid=$!
		wait_for "$tmp/trace.out" "tracing pid $pid"
	fi
	t0=$(date +%s.%N)
	cat "$tmp/script.sql" >&4
	exec 4>&-
	wait "$pid"
	t1=$(date +%s.%N)
	if [ "$tracer" != none ]; then
		kill -INT "$tpid"
		wait "$tpid"
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}
if command -v sqlite3 >/dev/null; then
	awk 'BEGIN {
		print "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);"
		print "BEGIN;"
		for (i = 0; i < 5000; i++)
			printf "INSERT INTO t(name, v) VALUES (%cname-%d-%s%c, %d.5);\n", 39, i, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26), 39, i % 977
		print "COMMIT;"
		print "CREATE INDEX tv ON t(v);"
		print "SELECT v, count(*), group_concat(name) FROM t GROUP BY v ORDER BY 2 DESC LIMIT 5;"
		print "SELECT count(*) FROM t a JOIN t b ON a.v = b.v WHERE a.id < 500;"
	}' >"$tmp/script.sql"
	for ((r = 0; r < ROUNDS; r++)); do
		runs[sql_none]+="$(sqlite_secs none) "
		runs[sql_leaks]+="$(sqlite_secs leaks) "
	done
	awk -v n="$(med sql_none)" -v l="$(med sql_leaks)" 'BEGIN {
		printf "sqlite3 on a generated script: %.2f s untraced, %.2f s under memlens leaks --unwind fp (%.1fx)\n", n, l, l / n
	}'
else
	echo "sqlite3 not on PATH: no sqlite3 row"
fi
echo

# The cost to everything else, measured alternately untraced and traced
# (3 rounds of 3 runs each way, the median of each side):
# - a null syscall in a process memlens does not trace, while memlens
#   leaks traces another one (the syscall tracepoints are global);
# - mmap + 16 page faults + munmap rounds under memlens top --no-uprobes,
#   which counts every process's syscalls and faults.
# alternate MEASURE TRACER...: prints "untraced traced" medians.
alternate() {
	local measure=$1 base=() traced=()
	shift
	for round in 1 2 3; do
		for i in 1 2 3; do base+=("$($measure)"); done
		start_tracer "$@"
		for i in 1 2 3; do traced+=("$($measure)"); done
		stop_tracer
	done
	echo "$(median "${base[@]}") $(median "${traced[@]}")"
}

syscall_ns() {
	build/syscallbench 1000000 | awk '{print $2}'
}

fault_rounds() {
	build/faultbench 20000 | awk '{print $2}'
}

sleep 3600 &
other=$!
read -r sys_base sys_traced < <(alternate syscall_ns ./memlens leaks -i 3600 -p "$other")
kill "$other"
read -r fb_base fb_traced < <(alternate fault_rounds ./memlens top --no-uprobes --json -i 3600)

awk -v b="$sys_base" -v t="$sys_traced" 'BEGIN {
	printf "null syscall, untraced process: %.1f ns alone, %.1f ns while memlens leaks traces another pid (ratio %.3f)\n", b, t, t / b
}'
awk -v b="$fb_base" -v t="$fb_traced" 'BEGIN {
	printf "mmap+16 faults+munmap rounds: %.0f/s untraced, %.0f/s under memlens top --no-uprobes (ratio %.3f)\n", b, t, t / b
}'

# memlens reclaim counts every page allocation of the host (mm_page_alloc):
# the same fault-heavy loop allocates 16 pages a round.
read -r rc_base rc_traced < <(alternate fault_rounds ./memlens reclaim --json -i 3600)
awk -v b="$rc_base" -v t="$rc_traced" 'BEGIN {
	printf "mmap+16 faults+munmap rounds: %.0f/s untraced, %.0f/s under memlens reclaim (ratio %.3f)\n", b, t, t / b
}'

# reclaim --stacks takes stacks where stalls begin, never on the page
# allocator's path: the same loop under each, alternately, in one run.
stacks_rounds() {
	local plain=() stacks=()
	for round in 1 2 3; do
		start_tracer ./memlens reclaim --json -i 3600
		for i in 1 2 3; do plain+=("$(fault_rounds)"); done
		stop_tracer
		start_tracer ./memlens reclaim --stacks --json -i 3600
		for i in 1 2 3; do stacks+=("$(fault_rounds)"); done
		stop_tracer
	done
	echo "$(median "${plain[@]}") $(median "${stacks[@]}")"
}
read -r rs_plain rs_stacks < <(stacks_rounds)
awk -v b="$rs_plain" -v t="$rs_stacks" 'BEGIN {
	printf "mmap+16 faults+munmap rounds: %.0f/s under memlens reclaim, %.0f/s under reclaim --stacks (ratio %.3f)\n", b, t, t / b
}'

kmem_line
