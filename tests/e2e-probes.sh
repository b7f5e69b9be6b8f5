#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of where the allocator probes go (user/probe_site.c),
# and of --sample-bytes with uprobe sessions (bpf/session.bpf.h), which
# must see what the uprobe + uretprobe fallback sees.
#
# Where the probes go (user/probe_site.c):
# past a leading endbr64 always, onto an instruction the kernel emulates
# where one is provably reached once per call, and the counts exactly what
# they are with the probe on the entry. tests/workloads/cet_alloc.c is one
# allocator built with -fcf-protection=full (build/libcet_alloc.so) and
# without (build/libnocet_alloc.so), preloaded into leaky.c and hooked with
# --allocator. Needs root.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

CET=$PWD/build/libcet_alloc.so
NOCET=$PWD/build/libnocet_alloc.so
SIGNAL_ALLOC=$PWD/build/libsignal_alloc.so
LOST_RETURN=$PWD/build/lost_return
LIBDIR=/usr/lib/$(gcc -print-multiarch)

require_root_and_build e2e-probes
for f in "$CET" "$NOCET" "$SIGNAL_ALLOC" "$LOST_RETURN"; do
	[ -e "$f" ] || { echo "e2e-probes: $f missing: make e2e" >&2; exit 1; }
done

# group REPORT FUNC: "stacks allocations bytes" of the stacks through FUNC.
group() {
	jq -r --arg f "$2" '[.stacks[] | select(any(.frames[]; .symbol == $f))]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# probed ERR FUNC LIB: how FUNC of LIB is probed, as -v says it.
probed() {
	sed -n "s|^memlens: $2 in $3: probed at ||p" "$1"
}

# leaky.c's leaks made through the allocator LIB, preloaded, alone hooked.
test_allocator() {
	local name=$1 lib=$2 out=$tmp/$1.json err=$tmp/$1.err r rc
	"$MEMLENS" leaks -v --json -t 0 --allocator "$lib" -- \
		env LD_PRELOAD="$lib" "$LEAKY" >"$out" 2>"$err"
	rc=$?
	check_eq "$name: exit code" 0 "$rc"
	r=$(tail -n 1 "$out")
	check_eq "$name: leak_here: 7 x 4096 from one stack" "1 7 28672" "$(group "$r" leak_here)"
	check_eq "$name: leak_here is the immediate caller" leak_here \
		"$(jq -r '[.stacks[] | select(any(.frames[]; .symbol == "leak_here"))][0].frames[0].symbol' <<<"$r")"
	check_eq "$name: realloc grown then shrunk" "1 1 2000" "$(group "$r" leak_realloc)"
	check_eq "$name: calloc(3, 1000)" "1 1 3000" "$(group "$r" leak_calloc)"
	check_eq "$name: posix_memalign 512" "1 1 512" "$(group "$r" leak_aligned)"
	check_eq "$name: malloc(1 MiB)" "1 1 1048576" "$(group "$r" leak_large)"
	check_eq "$name: churn freed all it allocated" "0 0 0" "$(group "$r" churn)"
	check_eq "$name: failed allocations counted" 60 "$(jq .stats.alloc_failed <<<"$r")"
	check_eq "$name: nothing replaced, lost or missed" "0 0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.missed_return) \(.events_lost) \(.stack_failed)"' <<<"$r")"
	cp "$err" "$tmp/$name.verbose"
}

test_cet() {
	local err=$tmp/cet.verbose
	test_allocator cet "$CET"
	check_eq "CET: malloc past its endbr64, on the push" "+4 push, emulated" \
		"$(probed "$err" malloc "$CET")"
	check_eq "CET: free past endbr64 and its NULL test" "+9 push, emulated, past its NULL test" \
		"$(probed "$err" free "$CET")"
	check_eq "CET: memalign on its jmp" "+4 jmp, emulated" "$(probed "$err" memalign "$CET")"
	check_eq "CET: all 7 functions probed on an emulated instruction, past endbr64" 7 \
		"$(grep -c "in $CET: probed at +[1-9][0-9]* [a-z]*, emulated" "$err")"
	check_eq "CET: nothing single-stepped" 0 "$(grep -c "in $CET: .*single-stepped" "$err")"
}

test_nocet() {
	local err=$tmp/nocet.verbose
	test_allocator nocet "$NOCET"
	check_eq "no CET: malloc on its entry, a push" "+0 push, emulated" \
		"$(probed "$err" malloc "$NOCET")"
	check_eq "no CET: free past its NULL test" "+5 push, emulated, past its NULL test" \
		"$(probed "$err" free "$NOCET")"
}

# MEMLENS_PROBES=entry: the same allocator probed on every entry, as before
# probes moved, single-stepping its endbr64s, and the same counts.
test_entry() {
	local err=$tmp/cet-entry.verbose
	MEMLENS_PROBES=entry test_allocator cet-entry "$CET"
	check_eq "MEMLENS_PROBES=entry: malloc on its endbr64" \
		"+0 endbr64, single-stepped, at the entry (MEMLENS_PROBES=entry)" \
		"$(probed "$err" malloc "$CET")"
	check_eq "MEMLENS_PROBES=entry: all 7 functions probed on their entry" 7 \
		"$(grep -c "in $CET: probed at +0 endbr64, single-stepped, at the entry" "$err")"
	MEMLENS_PROBES=entrY "$MEMLENS" leaks -- "$LEAKY" >/dev/null 2>"$tmp/probes-bad.err"
	check_eq "MEMLENS_PROBES=entrY: usage error, one line" "2 1" \
		"$? $(grep -c "invalid MEMLENS_PROBES 'entrY'" "$tmp/probes-bad.err")"
}

# doctor says where the probes of the system's allocators go.
test_doctor() {
	local j libstdcxx jemalloc tcmalloc
	j=$("$MEMLENS" doctor --json)
	libstdcxx=$(readlink -f "$LIBDIR/libstdc++.so.6")
	jemalloc=$(readlink -f "$LIBDIR/libjemalloc.so.2")
	tcmalloc=$(readlink -f "$LIBDIR/libtcmalloc_minimal.so.4")
	check_eq "doctor: glibc free past its NULL test" "9 push true" \
		"$(jq -r --arg l "$(readlink -f "$LIBDIR/libc.so.6")" '.probes[$l][]
			| select(.function == "free") | "\(.probe) \(.insn) \(.emulated)"' <<<"$j")"
	check_eq "doctor: libstdc++ (CET-built): every probe past its endbr64" 0 \
		"$(jq --arg l "$libstdcxx" '[.probes[$l][] | select(.probe < 4)] | length' <<<"$j")"
	check_eq "doctor: libstdc++ operator new and delete emulated" "true true" \
		"$(jq -r --arg l "$libstdcxx" '[.probes[$l][] | select(.function == "_Znwm" or .function == "_ZdlPv") | .emulated] | join(" ")' <<<"$j")"
	check_eq "doctor: jemalloc malloc and free emulated" "true true" \
		"$(jq -r --arg l "$jemalloc" '[.probes[$l][] | select(.function == "malloc" or .function == "free") | .emulated] | join(" ")' <<<"$j")"
	check_eq "doctor: jemalloc's own API hooked, each probe emulated" \
		"mallocx true true rallocx true true dallocx true true sdallocx true true" \
		"$(jq -r --arg l "$jemalloc" '[.probes[$l][] | select(.function | test("^(m|r|d|sd)allocx$"))
			| "\(.function) \(.hooked) \(.emulated)"] | join(" ")' <<<"$j")"
	check_eq "doctor: tcmalloc malloc and free emulated" "true true" \
		"$(jq -r --arg l "$tcmalloc" '[.probes[$l][] | select(.function == "malloc" or .function == "free") | .emulated] | join(" ")' <<<"$j")"
	check_eq "doctor: the table says it" 1 \
		"$("$MEMLENS" doctor | grep -c "^  free .* +9 push, emulated, past its NULL test$")"
}

# A malloc that never returns (left by siglongjmp() from a SIGUSR1 handler),
# then 7 x 4096 from another call site of the same frame, at the stack
# pointer of the lost call's entry (tests/workloads/lost_return.c). Only the
# uretprobe trampoline in the return slot there makes an entry nested: a
# caller's return address means the outer call was lost, counted once, and
# the new calls are outer ones, each recorded. The code before f038de0 took
# any return address but the lost call's own for a nested call, and so
# recorded none of the 7 blocks.
test_lost_return() {
	local out=$tmp/lost-return.json err=$tmp/lost-return.err r rc
	"$MEMLENS" leaks -v --json -t 0 --allocator "$SIGNAL_ALLOC" -- \
		env LD_PRELOAD="$SIGNAL_ALLOC" "$LOST_RETURN" >"$out" 2>"$err"
	rc=$?
	check_eq "lost return: exit code" 0 "$rc"
	r=$(tail -n 1 "$out")
	check_eq "lost return: the new calls' 7 x 4096 from one stack" "1 7 28672" \
		"$(group "$r" lost_return_here)"
	check_eq "lost return: lost_return_here is the immediate caller" lost_return_here \
		"$(jq -r '[.stacks[] | select(any(.frames[]; .symbol == "lost_return_here"))][0].frames[0].symbol' <<<"$r")"
	check_eq "lost return: the lost call's return missed once" 1 "$(jq .stats.missed_return <<<"$r")"
}

# sampled NAME R CMD...: leaks --sample-bytes R -- CMD; sets report and err.
sampled() {
	local name=$1 r=$2 rc
	shift 2
	err=$tmp/$name.err
	"$MEMLENS" leaks -v --json -t 0 --sample-bytes "$r" -- "$@" >"$tmp/$name.json" 2>"$err"
	rc=$?
	report=$(tail -n 1 "$tmp/$name.json")
	check_eq "$name: exit code" 0 "$rc"
}

# What the sampler was asked of: calls, bytes, missed returns.
sampler_stats() {
	jq -r '.stats | "\(.unsampled) \(.unsampled_bytes) \(.missed_return)"' <<<"$1"
}

# With a period no call reaches, every call is let pass, and under sessions
# without its return: the sampler is asked once per outer call (not for a
# malloc made by operator new), as with the fallback; the allocator's own
# mmaps inside those calls are not the program's.
test_sessions_unsampled() {
	local bin fallback
	sampled leaky-sessions 1000000000000 "$LEAKY"
	check "sessions: -v says so" grep -qx \
		"memlens: --sample-bytes: uprobe sessions: a call left unsampled skips its return probe" "$err"
	check_eq "sessions: leaky: no block from malloc's own mmaps (arenas, 1 MiB)" 0 \
		"$(jq '[.stacks[] | select(any(.frames[]; .symbol == "alloc_new_heap" or
			.symbol == "sysmalloc" or .symbol == "leak_large"))] | length' <<<"$report")"
	check_eq "sessions: leaky: its own mmaps still are" "1 1 65536 1 1 8192" \
		"$(group "$report" leak_mmap) $(group "$report" leak_mmap_head)"
	fallback=$(MEMLENS_DISABLE=uprobe_session "$MEMLENS" leaks -v --json -t 0 \
		--sample-bytes 1000000000000 -- "$LEAKY" 2>"$tmp/fallback.err" | tail -n 1)
	check "fallback: -v says so" grep -qx \
		"memlens: --sample-bytes: uprobe + uretprobe: no uprobe sessions (6.13)" "$tmp/fallback.err"
	check_eq "sessions: leaky: calls and bytes let pass as with the fallback" \
		"$(sampler_stats "$fallback")" "$(sampler_stats "$report")"
	for bin in cxxleak cxxleak_jemalloc jemalloc_api cxxleak_tcmalloc; do
		sampled "$bin-sessions" 1000000000000 "$PWD/build/$bin"
		fallback=$(MEMLENS_DISABLE=uprobe_session "$MEMLENS" leaks --json -t 0 \
			--sample-bytes 1000000000000 -- "$PWD/build/$bin" 2>/dev/null | tail -n 1)
		check_eq "sessions: $bin: calls let pass as with the fallback (none twice)" \
			"$(sampler_stats "$fallback")" "$(sampler_stats "$report")"
	done
	# tcmalloc's operator news are not followed (no return probe on a new
	# that may throw, none proven to forward): 52 of its 91 outer calls,
	# counted as such; the sampler sees the other 39.
	check_eq "sessions: cxxleak_tcmalloc: 39 outer calls, 78418 bytes; 52 news not followed" \
		"39 78418 0 52" "$(sampler_stats "$report") $(jq .stats.new_unfollowed <<<"$report")"
	# jemalloc_api.c's 264 calls through malloc, mallocx and rallocx (322400
	# bytes) and libstdc++'s 72704 at start, each asked once.
	check_eq "sessions: jemalloc_api: 265 outer calls, 395104 bytes" "265 395104 0" \
		"$(sampler_stats "$(tail -n 1 "$tmp/jemalloc_api-sessions.json")")"
}

# live_sampled OUT: leaks -v -p --sample-bytes 10^12 on leaky --wait (live_and_last).
live_sampled() {
	live_and_last "$1" leaks -v --json -t 0 -i 0.2 --sample-bytes 1000000000000
}

# A live report counts the calls let pass that are still in the per-thread
# state of a thread alive (bpf/sampling.bpf.h), sessions and fallback
# alike: as many as the report at exit, when every thread's are in the stats.
test_sessions_live() {
	local live last sessions

	live_sampled "$tmp/live-sessions.json" || { not_ok "sessions, live: the run failed"; return; }
	sessions=$live
	check_eq "sessions, live: calls and bytes let pass, as at exit" \
		"$(sampler_stats "$last")" "$(sampler_stats "$live")"
	MEMLENS_DISABLE=uprobe_session live_sampled "$tmp/live-fallback.json" ||
		{ not_ok "sessions, live: the fallback run failed"; return; }
	check "fallback, live: -v says so" grep -qx \
		"memlens: --sample-bytes: uprobe + uretprobe: no uprobe sessions (6.13)" "$tmp/live-fallback.json.err"
	check_eq "fallback, live: calls and bytes let pass, as at exit" \
		"$(sampler_stats "$last")" "$(sampler_stats "$live")"
	check_eq "sessions, live: as with the fallback" "$(sampler_stats "$live")" "$(sampler_stats "$sessions")"
}

# With a period of one byte every call is sampled at its entry: the report
# is the exact one.
test_sessions_all_sampled() {
	sampled leaky-all 1 "$LEAKY"
	check_eq "sessions, all sampled: leak_here 7 x 4096" "1 7 28672" "$(group "$report" leak_here)"
	check_eq "sessions, all sampled: realloc, calloc, posix_memalign, 1 MiB" \
		"1 1 2000 1 1 3000 1 1 512 1 1 1048576" \
		"$(group "$report" leak_realloc) $(group "$report" leak_calloc) $(group "$report" leak_aligned) $(group "$report" leak_large)"
	check_eq "sessions, all sampled: churn freed all" "0 0 0" "$(group "$report" churn)"
	sampled cxx-all 1 "$PWD/build/cxxleak"
	check_eq "sessions, all sampled: C++ leaks from their callers" \
		"5 240 3 300 2 256 4 192 2 600" \
		"$(for f in "leak_objects()" "leak_arrays()" "leak_aligned()" "leak_nothrow()" leak_malloc; do
			jq -r --arg f "$f" '[.stacks[] | select(.frames[0].symbol == $f)]
				| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$report"
		done | xargs)"
}

# calloc(2^62 + 1, 4) fails, but a * b wraps to 4: the sampler must see an
# overflowing size (always sampled, so the failure is counted), as the
# uretprobe path does, not a 4-byte call let pass without its return.
test_sessions_calloc_wraps() {
	sampled calloc-wraps 1000000000000 "$LEAKY" --calloc-wraps
	check_eq "sessions: 100 callocs whose size wraps: all failed, none let pass" "100 0" \
		"$(jq -r '.stats | "\(.alloc_failed) \(.unsampled)"' <<<"$report")"
}

test_sessions_doctor() {
	check_eq "doctor: sampling by sessions" uprobe_session \
		"$("$MEMLENS" doctor --json | jq -r .commands.leaks.ways.sampling)"
	check_eq "doctor, sessions disabled: the fallback" uretprobe \
		"$(MEMLENS_DISABLE=uprobe_session "$MEMLENS" doctor --json | jq -r .commands.leaks.ways.sampling)"
}

test_cet
test_nocet
test_entry
test_doctor
test_lost_return
if [ "$(jq -r .features.uprobe_session <("$MEMLENS" doctor --json))" = true ]; then
	test_sessions_unsampled
	test_sessions_live
	test_sessions_all_sampled
	test_sessions_calloc_wraps
	test_sessions_doctor
else
	echo "# no uprobe sessions on this kernel: their tests skipped"
fi
finish e2e-probes
