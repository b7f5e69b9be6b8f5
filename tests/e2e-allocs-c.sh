#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens allocs on programs that malloc (C, C++,
# Rust): one entry probe per allocator call, no return or free probe. The
# workload tests/workloads/allocs_known.cpp makes exactly known calls, each
# from its own function; every one must be counted once, with its size,
# from the function that called the allocator, whatever the allocator
# (glibc, libstdc++'s operator new, jemalloc and its own API, tcmalloc) and
# the unwinder. Needs root.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

LIBDIR=/usr/lib/$(gcc -print-multiarch)
JEMALLOC=$(readlink -f "$LIBDIR/libjemalloc.so.2")
TCMALLOC=$(readlink -f "$LIBDIR/libtcmalloc_minimal.so.4")
KNOWN=$PWD/build/allocs_known
RUSTLEAK=$PWD/build/rustleak
GOALLOC=$PWD/build/goalloc
CET=$PWD/build/libcet_alloc.so
TAILS=$PWD/build/allocs_tails
BUMP=$PWD/build/libbump_alloc.so
BUMP_NOPLT=$PWD/build/libbump_alloc_noplt.so
INTERPOSE=$PWD/build/libinterpose_malloc.so
JEMALLOC_API=$PWD/build/jemalloc_api

require_root_and_build e2e-allocs-c
for f in "$KNOWN" "$RUSTLEAK" "$JEMALLOC" "$TCMALLOC" "$CET" "$TAILS" "$BUMP" "$BUMP_NOPLT" \
	"$INTERPOSE" "$JEMALLOC_API"; do
	if [ ! -e "$f" ]; then
		echo "e2e-allocs-c: $f missing: make e2e (g++, rustc, libjemalloc2 and" \
			"libtcmalloc-minimal4 are needed)" >&2
		exit 1
	fi
done

# run_allocs NAME ARGS... -- CMD: memlens allocs --json -t 0, every call
# (--sample-bytes 0, unless ARGS say otherwise); sets report
# (the last JSON report) and err (memlens' stderr file).
run_allocs() {
	local name=$1 rc
	shift
	err=$tmp/$name.err
	"$MEMLENS" allocs -v --json -t 0 --sample-bytes 0 "$@" >"$tmp/$name.json" 2>"$err"
	rc=$?
	report=$(tail -n 1 "$tmp/$name.json")
	check_eq "$name: memlens exit code" 0 "$rc"
	check_eq "$name: the final report, at exit, an allocation profile" "true allocated" \
		"$(jq -r '"\(.exited) \(.profile)"' <<<"$report")"
}

# The calls allocs_known makes, each counted once with the size asked for.
check_known() {
	local name=$1 r=$2
	check_eq "$name: leak_here(): 7 x malloc(4096)" "7 28672" "$(first "$r" "leak_here()")"
	check_eq "$name: calloc_here(): calloc(3, 100)" "1 300" "$(first "$r" "calloc_here()")"
	check_eq "$name: realloc_null(): realloc(NULL, 40) once, not again as malloc" "1 40" \
		"$(first "$r" "realloc_null()")"
	check_eq "$name: realloc_grow(): realloc to 500, then 1000" "2 1500" \
		"$(first "$r" "realloc_grow()")"
	check_eq "$name: realloc_zero(): realloc(p, 0) allocates nothing" "0 0" \
		"$(first "$r" "realloc_zero()")"
	check_eq "$name: malloc_for(): the first blocks of both, 10 and 20" "2 30" \
		"$(first "$r" "malloc_for(unsigned long)")"
	check_eq "$name: aligned_here(): posix_memalign, aligned_alloc, memalign" "3 480" \
		"$(first "$r" "aligned_here()")"
	check_eq "$name: new_one(): new Pair once" "1 16" "$(first "$r" "new_one()")"
	check_eq "$name: new_array(): new char[77] once, not again as new nor malloc" "1 77" \
		"$(first "$r" "new_array()")"
	check_eq "$name: new_nothrow(): new (nothrow) char[33] once" "1 33" \
		"$(first "$r" "new_nothrow()")"
	check_eq "$name: new_aligned(): aligned new once" "1 64" "$(first "$r" "new_aligned()")"
	check_eq "$name: new_aligned_array(): aligned new[] once" "1 128" \
		"$(first "$r" "new_aligned_array()")"
	check_eq "$name: each called from main" "$(printf 'main %.0s' {1..10})" \
		"$(for f in "leak_here()" "calloc_here()" "realloc_null()" "realloc_grow()" \
			"aligned_here()" "new_one()" "new_array()" "new_nothrow()" "new_aligned()" \
			"new_aligned_array()"; do callers "$r" "$f"; done | xargs -n1 printf '%s ')"
	check_eq "$name: no allocator function as the caller" 0 \
		"$(jq '[.stacks[].frames[0].symbol // "" | select(test("^operator new|^malloc$|^realloc$|^je_|^tc_|^__libc_"))] | length' <<<"$r")"
}

test_glibc() {
	run_allocs glibc -- "$KNOWN"
	check_known "glibc dwarf" "$report"
	check "glibc: new[] only jumps to new: not hooked" \
		grep -q "_Znam in .*libstdc++.* only jumps to _Znwm: not hooked" "$err"
	check "glibc: realloc's tail jump to malloc probed" \
		grep -q "realloc in .*libc.so.6: a tail jump to malloc at +[0-9]*: probed" "$err"
	check_eq "glibc: no return probe, no free probe: no leaks counter shown" "null null null" \
		"$(jq -r '.stats | "\(.frees) \(.free_unknown) \(.missed_return)"' <<<"$report")"
	run_allocs glibc-fp --unwind fp -- "$KNOWN"
	check_known "glibc fp" "$report"
	# Before 6.6: a uprobe per function, each with its cookie (perf link).
	MEMLENS_DISABLE=uprobe_multi run_allocs classic -- "$KNOWN"
	check_known "one uprobe per function (MEMLENS_DISABLE=uprobe_multi)" "$report"
}

test_other_allocators() {
	run_allocs tcmalloc -- env LD_PRELOAD="$TCMALLOC" "$KNOWN"
	check_known "tcmalloc preloaded" "$report"
	run_allocs jemalloc -- env LD_PRELOAD="$JEMALLOC" "$KNOWN"
	check_known "jemalloc preloaded" "$report"
	# jemalloc's own API (jemalloc_api.c): mallocx and rallocx are counted
	# as malloc and realloc are, with the size asked for.
	run_allocs jemalloc-api -- "$JEMALLOC_API"
	check_eq "jemalloc API: leak_mallocx(): 100 x mallocx(1000)" "100 100000" \
		"$(first "$report" leak_mallocx)"
	check_eq "jemalloc API: leak_mallocx_aligned(): 4 x mallocx(100, align 64 | zero)" "4 400" \
		"$(first "$report" leak_mallocx_aligned)"
	check_eq "jemalloc API: leak_rallocx(): 10 x malloc(2000), 10 x rallocx to 8000" \
		"20 100000" "$(first "$report" leak_rallocx)"
	check_eq "jemalloc API: churn(): malloc(500), mallocx(300) 50 times, mallocx(100), rallocx to 4000 20 times" \
		"140 122000" "$(first "$report" churn)"
	run_allocs allocator --allocator "$(readlink -f "$LIBDIR/libc.so.6")" -- "$KNOWN"
	check_eq "--allocator libc: leak_here(), 7 x 4096" "7 28672" "$(first "$report" "leak_here()")"
	check_eq "--allocator libc: realloc_null() once" "1 40" "$(first "$report" "realloc_null()")"
	check_eq "--allocator libc: operator new's 3 mallocs, libstdc++ not hooked" "3 126" \
		"$(first "$report" "operator new(unsigned long)")"
	check_eq "--allocator libc: aligned new's 2 aligned_allocs" "2 192" \
		"$(first "$report" "operator new(unsigned long, std::align_val_t)")"
	# Built with -fcf-protection: endbr64 passed; its memalign is a jmp to aligned_alloc.
	run_allocs cet --allocator "$CET" -- env LD_PRELOAD="$CET" "$KNOWN"
	check_eq "CET-built allocator: leak_here(), calloc_here(), realloc_null(), aligned_here()" \
		"7 28672|1 300|1 40|3 480" \
		"$(for f in "leak_here()" "calloc_here()" "realloc_null()" "aligned_here()"; do
			first "$report" "$f"; done | paste -sd '|')"
	check "CET-built allocator: malloc probed past endbr64, on its push" \
		grep -q "malloc in $CET: probed at +4 push, emulated" "$err"
	check "CET-built allocator: memalign only jumps to aligned_alloc: not hooked" \
		grep -q "memalign in $CET only jumps to aligned_alloc: not hooked" "$err"
}

# tails_of REPORT: "allocations bytes" of allocs_tails' functions, in order.
tails_of() {
	local f
	for f in realloc_null valloc_here aligned_here pvalloc_here malloc_here impossible_here; do
		first "$1" "$f"
	done | paste -sd '|'
}

# Tail jumps between allocator functions, each call counted once: through
# the PLT from a function that never pushes (clang), through GOT slots
# (-fno-plt), and through a PLT slot bound to an interposer not hooked.
test_tail_jumps() {
	run_allocs bump --allocator "$BUMP" -- env LD_PRELOAD="$BUMP" "$TAILS"
	check_eq "clang bump allocator: realloc(NULL) x 4, valloc, aligned_alloc, pvalloc, malloc, once each" \
		"4 160|1 100|1 128|1 4096|1 10|0 0" "$(tails_of "$report")"
	check "clang bump allocator: valloc's jmp memalign@plt, no push before it, probed" \
		grep -q "valloc in $BUMP: a tail jump to memalign at +8: probed" "$err"
	run_allocs noplt --allocator "$BUMP_NOPLT" -- env LD_PRELOAD="$BUMP_NOPLT" "$TAILS"
	check_eq "-fno-plt bump allocator: jmp *slot(%rip), each call once" \
		"4 160|1 100|1 128|1 4096|1 10|0 0" "$(tails_of "$report")"
	check "-fno-plt bump allocator: aligned_alloc only jumps to memalign: not hooked" \
		grep -q "aligned_alloc in $BUMP_NOPLT only jumps to memalign: not hooked" "$err"
	# Before 6.6: the tail jumps' cookies on one uprobe each.
	MEMLENS_DISABLE=uprobe_multi run_allocs noplt-classic --allocator "$BUMP_NOPLT" -- \
		env LD_PRELOAD="$BUMP_NOPLT" "$TAILS"
	check_eq "-fno-plt bump allocator, one uprobe each (MEMLENS_DISABLE=uprobe_multi)" \
		"4 160|1 100|1 128|1 4096|1 10|0 0" "$(tails_of "$report")"
	run_allocs interposed --allocator "$BUMP" -- \
		env LD_PRELOAD="$INTERPOSE $BUMP" "$TAILS"
	check_eq "interposed malloc: realloc(NULL)'s jump lands unhooked, no call lost; malloc not this allocator's" \
		"4 160|1 100|1 128|1 4096|0 0|0 0" "$(tails_of "$report")"
	check_eq "interposed malloc: the first jumps through lazy slots (malloc, memalign, aligned_alloc@plt), known by kind" 3 \
		"$(jq -r .stats.tail_unbound <<<"$report")"
}

# Calls that cannot succeed: counted apart, their bytes in no total.
test_impossible() {
	run_allocs impossible -- "$TAILS"
	check_eq "impossible calls: none counted, 4 in alloc_impossible" "0 0 4" \
		"$(first "$report" impossible_here) $(jq -r .stats.alloc_impossible <<<"$report")"
	check_eq "impossible calls: the header's bytes are the stats line's" \
		"$(jq -r .stats.alloc_bytes <<<"$report")" \
		"$(jq -r '[.stacks[].bytes] | add' <<<"$report")"
}

test_outputs() {
	local prof=$tmp/known.pb.gz raw
	"$MEMLENS" allocs --sample-bytes 0 -t 3 --pprof "$prof" -- "$KNOWN" >"$tmp/known.txt" 2>/dev/null
	check "text: header, an allocation profile" grep -Eq "^== [0-9:]+ UTC pid [0-9]+ \(allocs_known\): [0-9]+ bytes in [0-9]+ allocations made while traced \(allocation profile, at exit\)" \
		"$tmp/known.txt"
	check "text: leak_here()'s group" grep -q "^28672 bytes in 7 allocations, stack" "$tmp/known.txt"
	check "--pprof: alloc_space of leak_here(), 28672" \
		pprof_has "$prof" alloc_space "leak_here()" 28672
	check "--pprof: alloc_objects of leak_here(), 7" \
		pprof_has "$prof" alloc_objects "leak_here()" 7
	raw=$(HOME=$tmp GOCACHE=$tmp/gocache GOFLAGS= GOTOOLCHAIN=local \
		go tool pprof -raw -symbolize=none "$prof" 2>&1)
	check_eq "--pprof: pprof -raw reads the sample types, alloc_space the default" \
		"alloc_objects/count alloc_space/bytes[dflt]" "$(sed -n '/^Samples:/{n;p}' <<<"$raw")"
	check "--pprof: pprof -raw: leak_here()'s sample, 7 calls of 28672 bytes" \
		grep -qE '^ +7 +28672: ' <<<"$raw"
	"$MEMLENS" allocs --sample-bytes 0 --folded --svg "$tmp/known.svg" -- "$KNOWN" \
		>"$tmp/known.folded" 2>/dev/null
	check "--folded: leak_here()'s line" grep -qE "^allocs_known;.*;main;leak_here\(\) 28672$" \
		"$tmp/known.folded"
	check "--svg: titled Allocations" grep -q "Allocations of [0-9]* (allocs_known)" "$tmp/known.svg"
}

# allocs -p: leaky --wait, attached to before its work: its 13 calls from
# leak_* (7 + 3 + 1 + 1 + 1, its mmaps not counted) live and at exit.
test_pid() {
	local out=$tmp/pid.json log=$tmp/leaky.out live r
	start_waiting "$log" "$LEAKY" --wait || { not_ok "allocs -p: leaky did not start"; return; }
	start_memlens "$out" "tracing pid $work_pid" allocs -p "$work_pid" --sample-bytes 0 \
		--json -t 0 -i 0.2 || { not_ok "allocs -p: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "allocs -p: leaky did not finish its work"; return; }
	live=$(next_report "$out")
	check_eq "allocs -p: live, leak_* calls exact" "false 13 1087860" \
		"$(jq -r '"\(.exited) " + ([.stacks[] | select(any(.frames[]; .symbol // "" | startswith("leak_")))]
			| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)")' <<<"$live")"
	work_exit
	wait "$memlens_pid"
	r=$(tail -n 1 "$out")
	check_eq "allocs -p: at exit, the same" "true 13 1087860" \
		"$(jq -r '"\(.exited) " + ([.stacks[] | select(any(.frames[]; .symbol // "" | startswith("leak_")))]
			| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)")' <<<"$r")"
}

# pid_reports OUT ARGS...: allocs ARGS -p on leaky --wait (live_and_last).
pid_reports() {
	live_and_last "$1" allocs --json -t 0 -i 0.2 "${@:2}"
}

# allocs -p, sampled: a live report counts the calls each thread's sampler
# let pass, which stay in its per-thread state until the thread goes
# (bpf/sampling.bpf.h): as many calls as the exact run counts, live and at
# exit. At 2^40 bytes a sample, leaky's megabyte is let pass.
test_pid_sampled() {
	local live last n

	pid_reports "$tmp/pid_exact.json" --sample-bytes 0 ||
		{ not_ok "allocs -p, sampled: the exact run failed"; return; }
	n=$(jq -r .stats.allocs <<<"$live")
	pid_reports "$tmp/pid_sampled.json" --sample-bytes 1099511627776 ||
		{ not_ok "allocs -p, sampled: the sampled run failed"; return; }
	check_eq "allocs -p, sampled: live, calls sampled and let pass add up to the exact run's ($n)" \
		"false $n" "$(jq -r '"\(.exited) \(.stats.sampled + .stats.unsampled)"' <<<"$live")"
	check "allocs -p, sampled: live, the calls let pass counted" jq_true '.stats.unsampled > 0' <<<"$live"
	check_eq "allocs -p, sampled: at exit, the same" "true $n" \
		"$(jq -r '"\(.exited) \(.stats.sampled + .stats.unsampled)"' <<<"$last")"
}

# Each thread's state in a thread slot, as leaks keeps its (e2e-leaks
# test_thread_slots), or in the map when another thread holds the slot:
# exact counts either way, and both at once (leaky's three threads, one
# slot); -v says where leaky's thread is, live; and the calls its sampler
# let pass are read from the slot as from the map.
test_thread_slots() {
	local n where live last
	for n in 1 0; do
		MEMLENS_THREAD_SLOTS=$n run_allocs "slots$n" -- "$KNOWN"
		check_known "$n thread slots" "$report"
		check_eq "$n thread slots: every thread's state gone at exit" "0 0" \
			"$(jq -r '.stats | "\(.threads_map_full) \(.threads_tracked)"' <<<"$report")"
		# leaky's three threads: with one slot, those that find it held in the map.
		MEMLENS_THREAD_SLOTS=$n run_allocs "slots${n}_leaky" -- "$LEAKY"
		check_eq "$n thread slots, three threads: leak_* calls exact, every state gone" \
			"13 1087860 0 0" "$(jq -r '([.stacks[] | select(any(.frames[];
				.symbol // "" | startswith("leak_")))] | "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)")
				+ " \(.stats.threads_map_full) \(.stats.threads_tracked)"' <<<"$report")"
	done
	for n in 1024 1 0; do
		where="1 with their state in a thread slot, 0 in the map"
		[ "$n" = 0 ] && where="0 with their state in a thread slot, 1 in the map"
		MEMLENS_THREAD_SLOTS=$n pid_reports "$tmp/slots.json" -v --sample-bytes 2048 ||
			{ not_ok "$n thread slots: the run failed"; continue; }
		check "$n thread slots, live: -v says $where" \
			grep -q "^memlens: threads: $where$" "$tmp/slots.json.err"
		check "$n thread slots, live: calls let pass" jq_true '.stats.unsampled > 0' <<<"$live"
		check_eq "$n thread slots, live: the calls let pass read from the thread's state" \
			"$(jq '.stats.sampled + .stats.unsampled' <<<"$last")" \
			"$(jq '.stats.sampled + .stats.unsampled' <<<"$live")"
	done
}

# An exec from a thread other than the leader (exec_after_alloc --thread):
# the hooks, tied to the old leader's task, are made anew, the allocators
# found and --allocator's file alike; with the latter memlens before saw
# none of leaky's calls. The old image's were made while traced: they stay.
test_exec_from_thread() {
	local how name libc
	libc=$(readlink -f "$LIBDIR/libc.so.6")
	for how in found named; do
		name="exec from a thread, allocators $how"
		if [ $how = found ]; then
			run_allocs exec-found -- "$EXEC_AFTER_ALLOC" --thread "$LEAKY"
		else
			run_allocs exec-named --allocator "$libc" -- "$EXEC_AFTER_ALLOC" --thread "$LEAKY"
		fi
		check_eq "$name: the old image's before_exec(), 5 x malloc(1000)" "5 5000" \
			"$(first "$report" before_exec)"
		check_eq "$name: the new image's leak_* calls" "13 1087860" \
			"$(leaked "$report")"
	done
}

test_rust() {
	run_allocs rust -- "$RUSTLEAK"
	check_eq "rust: leak_boxes(): 6 x Box<Node>, 144 bytes, from leak_boxes itself" "6 144" \
		"$(first "$report" rustleak::leaks::leak_boxes)"
	check_eq "rust: churn(): 10 x Box<Node> from churn itself" "10 240" \
		"$(first "$report" rustleak::leaks::churn)"
	check_eq "rust: 3 + 10 Vec<u8> of 1000, through RawVec, from leak_vecs and churn" \
		"13 13000 rustleak::leaks::churn,rustleak::leaks::leak_vecs" \
		"$(first "$report" "<alloc::raw_vec::RawVecInner>::try_allocate_in") $(callers "$report" "<alloc::raw_vec::RawVecInner>::try_allocate_in")"
}

test_sampled() {
	local r
	run_allocs sampled --sample-bytes 1 -- "$KNOWN"
	check_known "--sample-bytes 1" "$report"
	check_eq "--sample-bytes 1: every call sampled, none let pass" 0 \
		"$(jq -r .stats.unsampled <<<"$report")"
	r=$("$MEMLENS" allocs --json -t 0 -- "$KNOWN" 2>/dev/null | tail -n 1)
	check_eq "by default: sampled every 524288 bytes, estimates" "524288 true" \
		"$(jq -r '"\(.sample_bytes) \(.estimated)"' <<<"$r")"
	check_eq "by default: calls sampled and passed add up to the exact run's" \
		"$(jq -r '.stats.allocs' <<<"$report")" \
		"$(jq -r '.stats.sampled + .stats.unsampled' <<<"$r")"
	# At 1024 bytes, each 4096-byte call is sampled with p = 1 - exp(-4):
	# all 7 missed with p = exp(-28); weighed 1.019 each.
	r=$("$MEMLENS" allocs --json -t 0 --sample-bytes 1024 -- "$KNOWN" 2>/dev/null | tail -n 1)
	local samples
	samples=$(jq -r '[.stacks[] | select(.frames[0].symbol == "leak_here()")] | map(.samples) | add // 0' <<<"$r")
	check "--sample-bytes 1024: leak_here() sampled (samples $samples > 0)" test "$samples" -gt 0
	check_eq "--sample-bytes 1024: leak_here()'s samples weighed 1 / (1 - exp(-4)) each" \
		"$(jq -r --argjson s "$samples" -n '$s / (1 - (-4 | exp)) | round')" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol == "leak_here()")] | map(.allocations) | add // 0' <<<"$r")"
}

test_errors() {
	expect_error "no attach cookies (MEMLENS_DISABLE)" 1 \
		"memlens: allocs: this kernel lacks attach cookies on uprobes (5.15), which memlens allocs needs for a program that mallocs; memlens leaks works without" \
		env MEMLENS_DISABLE=attach_cookie "$MEMLENS" allocs -- "$KNOWN"
	expect_error "--min-age" 2 "memlens: allocs: --min-age and --max-allocs are for memlens leaks" \
		"$MEMLENS" allocs -a 1 -- "$KNOWN"
	if [ -x "$GOALLOC" ]; then
		expect_error "a Go program with --unwind" 2 \
			"memlens: allocs: $GOALLOC is a Go program: --allocator and --unwind* are for programs that malloc" \
			"$MEMLENS" allocs --unwind fp -- "$GOALLOC"
	fi
}

test_glibc
test_other_allocators
test_tail_jumps
test_impossible
test_outputs
test_pid
test_pid_sampled
test_thread_slots
test_exec_from_thread
test_rust
test_sampled
test_errors
finish e2e-allocs-c
