#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens leaks under the allocators real programs use:
# C++ operator new/delete (libstdc++), jemalloc and tcmalloc (preloaded and
# linked, with their own operator new), jemalloc's own API (mallocx,
# rallocx, dallocx, sdallocx), a static binary, libraries of another mount
# namespace, and Rust. The workloads (tests/workloads/cxxleak.cpp,
# jemalloc_api.c, rustleak.rs) leak exactly known blocks from known functions;
# the reports must show exactly those, each counted once, from the
# function that called new or malloc. Needs root.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

LIBDIR=/usr/lib/$(gcc -print-multiarch)
JEMALLOC=$(readlink -f "$LIBDIR/libjemalloc.so.2")
TCMALLOC=$(readlink -f "$LIBDIR/libtcmalloc_minimal.so.4")
CXXLEAK=$PWD/build/cxxleak
CXXLEAK_JEMALLOC=$PWD/build/cxxleak_jemalloc
CXXLEAK_TCMALLOC=$PWD/build/cxxleak_tcmalloc
CXXLEAK_STATIC=$PWD/build/cxxleak_static
RUSTLEAK=$PWD/build/rustleak
CXX_THROW=$PWD/build/cxx_throw
CXX_DLOPEN=$PWD/build/cxx_dlopen
CXX_PLUGIN=$PWD/build/libcxx_plugin.so
HELD_BY_NEW=$PWD/build/held_by_new
JEMALLOC_API=$PWD/build/jemalloc_api

require_root_and_build e2e-allocators
# No skipping: a missing workload (rustc absent at build time) fails loudly.
for f in "$CXXLEAK" "$CXXLEAK_JEMALLOC" "$CXXLEAK_TCMALLOC" "$CXXLEAK_STATIC" "$RUSTLEAK" \
	"$CXX_THROW" "$CXX_DLOPEN" "$CXX_PLUGIN" "$HELD_BY_NEW" "$JEMALLOC_API" "$JEMALLOC" "$TCMALLOC"; do
	if [ ! -e "$f" ]; then
		echo "e2e-allocators: $f missing: make e2e (rustc, g++, libjemalloc2 and" \
			"libtcmalloc-minimal4 are needed)" >&2
		exit 1
	fi
done

# The leaks cxxleak.cpp makes, exactly, each from the function that made it.
check_cxx_leaks() {
	local name=$1 r=$2
	check_eq "$name: leak_objects(): 5 x new Foo, 240 bytes" "5 240" "$(first "$r" "leak_objects()")"
	check_eq "$name: leak_arrays(): 3 x new int[25], 300 bytes" "3 300" \
		"$(first "$r" "leak_arrays()")"
	check_eq "$name: leak_aligned(): 2 x aligned new, 256 bytes" "2 256" \
		"$(first "$r" "leak_aligned()")"
	check_eq "$name: leak_nothrow(): 4 x nothrow new, 192 bytes" "4 192" \
		"$(first "$r" "leak_nothrow()")"
	check_eq "$name: leak_malloc: 2 x malloc(300)" "2 600" "$(first "$r" leak_malloc)"
	check_eq "$name: each called from main" "main main main main main" \
		"$(for f in "leak_objects()" "leak_arrays()" "leak_aligned()" "leak_nothrow()" \
			leak_malloc; do callers "$r" "$f"; done | xargs)"
	check_eq "$name: churn() freed all it allocated" "0 0" "$(first "$r" "churn()")"
	check_eq "$name: no allocator function as the caller" 0 \
		"$(jq '[.stacks[].frames[0].symbol // "" | select(test("^operator (new|delete)|^malloc$|^je_|^tc_|^__libc_"))] | length' <<<"$r")"
	check_eq "$name: counted once: nothing replaced, unknown, untracked or missed" "0 0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.free_unknown) \(.free_untracked) \(.missed_return)"' <<<"$r")"
}

# Under jemalloc and tcmalloc, whose operator new is not proven to forward
# to a hooked allocator: a new that may throw has no return probe (it would
# stop a C++ exception, see test_exceptions), so its blocks are not seen.
# The rest is exact; its calls are counted (new_unfollowed), and so are the
# deletes of its blocks (free_unknown): jemalloc's plain new and new[], 28
# calls, whose aligned news call aligned_alloc; all 50 news of tcmalloc,
# and 2 made outside cxxleak.cpp's own code.
# check_unfollowed_leaks NAME REPORT ALLOCATOR (jemalloc or tcmalloc)
check_unfollowed_leaks() {
	local name=$1 r=$2 lost="0 0" unknown=40 calls=52
	[ "$3" = jemalloc ] && lost="2 256" && unknown=20 && calls=28
	# --allocator: its aligned new's calls are not published, and the
	# blocks are counted with operator new as their first frame.
	[ "$3" = jemalloc-allocator ] && unknown=20 && calls=28
	check_eq "$name: leak_objects(), leak_arrays(): new not followed" "0 0 0 0" \
		"$(first "$r" "leak_objects()") $(first "$r" "leak_arrays()")"
	check_eq "$name: leak_aligned(): 2 x aligned new, 256 bytes, or not followed" "$lost" \
		"$(first "$r" "leak_aligned()")"
	check_eq "$name: leak_nothrow(): 4 x nothrow new, 192 bytes" "4 192" \
		"$(first "$r" "leak_nothrow()")"
	check_eq "$name: leak_malloc: 2 x malloc(300)" "2 600" "$(first "$r" leak_malloc)"
	check_eq "$name: churn() freed all it allocated" "0 0" "$(first "$r" "churn()")"
	check_eq "$name: calls of a throwing new counted as not followed" "$calls" \
		"$(jq .stats.new_unfollowed <<<"$r")"
	check_eq "$name: the deletes of their blocks unknown, nothing else lost" "0 $unknown 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.free_unknown) \(.free_untracked) \(.missed_return)"' <<<"$r")"
}

# run_cmd NAME CMD...: memlens leaks [LEAKS_OPTS] -- CMD; sets report (the
# last JSON report) and err (memlens' stderr file).
LEAKS_OPTS=()
run_cmd() {
	local name=$1 rc
	shift
	err=$tmp/$name.err
	"$MEMLENS" leaks -v --json -t 0 "${LEAKS_OPTS[@]}" -- "$@" >"$tmp/$name.json" 2>"$err"
	rc=$?
	report=$(tail -n 1 "$tmp/$name.json")
	check_eq "$name: memlens exit code" 0 "$rc"
	check_eq "$name: the final report, at exit" true "$(jq .exited <<<"$report")"
}

hooked() {
	grep -qx "memlens: allocator hooked: $2" "$1"
}

test_libstdcxx() {
	local libstdcxx
	libstdcxx=$(readlink -f "$LIBDIR/libstdc++.so.6")
	run_cmd libstdc++ "$CXXLEAK"
	check_cxx_leaks "libstdc++ on glibc" "$report"
	check "libstdc++ on glibc: libstdc++ hooked" hooked "$err" "$libstdcxx"
	check "libstdc++ on glibc: libc hooked" hooked "$err" "$(readlink -f "$LIBDIR/libc.so.6")"
	check_eq "libstdc++ on glibc: nothing else hooked" 2 "$(grep -c "allocator hooked" "$err")"
}

# said LOG FUNC HOW: -v said how FUNC of libstdc++ is hooked, or why not.
said() {
	grep -qxF "memlens: $2 in $(readlink -f "$LIBDIR/libstdc++.so.6"): $3" "$1"
}

# libstdc++'s operator new, new[], nothrow new and delete only forward to
# malloc and free (or to each other): left unhooked, the leaks are the same, from the
# same callers, counted once, with either unwinder. In the frame-pointer
# walk new's caller would be lost (libstdc++ keeps no frame pointer) but
# for where new calls malloc, published for the process. And as before,
# with every operator hooked (MEMLENS_CXX_HOOKS=all).
test_forwarders() {
	local u
	for u in fp dwarf; do
		LEAKS_OPTS=(--unwind "$u")
		run_cmd "forward-$u" "$CXXLEAK"
		check_cxx_leaks "libstdc++, --unwind $u" "$report"
		check "--unwind $u: -v: delete left to free" said "$err" _ZdlPv \
			"not hooked, left to free@plt: jmp free@plt at +4"
		check "--unwind $u: -v: sized delete left to delete" said "$err" _ZdlPvm \
			"not hooked, left to _ZdlPv@plt: jmp _ZdlPv@plt at +4"
		check "--unwind $u: -v: sized aligned delete left to aligned delete" said "$err" \
			_ZdlPvmSt11align_val_t "not hooked, left to _ZdlPvSt11align_val_t@plt: jmp _ZdlPvSt11align_val_t@plt at +7"
		check "--unwind $u: -v: new[] left to new" said "$err" _Znam \
			"not hooked, left to _Znwm@plt: jmp _Znwm@plt at +4"
		check "--unwind $u: -v: new left to malloc" said "$err" _Znwm \
			"not hooked, left to malloc@plt: calls malloc@plt at +23 and returns what it returns; its caller's return address at sp+8 there (code and CFI agree)"
		check "--unwind $u: -v: nothrow new left to new" said "$err" _ZnwmRKSt9nothrow_t \
			"not hooked, left to _Znwm@plt: calls _Znwm@plt at +8 and returns what it returns; its caller's return address at sp+8 there (code and CFI agree)"
		check "--unwind $u: -v: aligned new left to aligned_alloc" said "$err" \
			_ZnwmSt11align_val_t "not hooked, left to aligned_alloc@plt: calls aligned_alloc@plt at +65 and returns what it returns; its caller's return address at sp+24 there, its rbp below (code and CFI agree)"
		LEAKS_OPTS=(--unwind "$u")
		MEMLENS_CXX_HOOKS=all run_cmd "hook-all-$u" "$CXXLEAK"
		check_cxx_leaks "libstdc++, every operator hooked, --unwind $u" "$report"
		check "MEMLENS_CXX_HOOKS=all, --unwind $u: -v: delete hooked" said "$err" _ZdlPv \
			"probed at +4 jmp, emulated; hooked though it forwards to free@plt (MEMLENS_CXX_HOOKS=all)"
		check "MEMLENS_CXX_HOOKS=all, --unwind $u: -v: new left all the same" said "$err" \
			_Znwm "not hooked, left to malloc@plt: calls malloc@plt at +23 and returns what it returns; its caller's return address at sp+8 there (code and CFI agree)"
	done
	LEAKS_OPTS=()
	check_eq "doctor: libstdc++'s operators left to malloc and free" \
		"_Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZnwmSt11align_val_t _ZnamSt11align_val_t _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZdlPvSt11align_val_t _ZdaPvSt11align_val_t _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t _ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t" \
		"$("$MEMLENS" doctor --json | jq -r --arg l "$(readlink -f "$LIBDIR/libstdc++.so.6")" \
			'[.probes[$l][] | select(.hooked | not) | .function] | join(" ")')"
}

# A plugin dlopen'd after the program's first news, with an operator new
# of its own (cxx_plugin.cpp): where it calls malloc is published then,
# and each thread's cached view of its process's sites (bpf/allocs.bpf.c,
# new_site()) must take it in, or the plugin's stacks begin inside its
# new. With thread slots and with every thread in the hash map
# (MEMLENS_THREAD_SLOTS=0), and either unwinder.
test_plugin_new() {
	local u slots name
	for u in fp dwarf; do
		for slots in 1024 0; do
			name="plugin-$u-$slots"
			LEAKS_OPTS=(--unwind "$u")
			MEMLENS_THREAD_SLOTS=$slots run_cmd "$name" "$CXX_DLOPEN" "$CXX_PLUGIN"
			check "$name: -v: the plugin's own new left to malloc" grep -qF \
				"memlens: _Znwm in $CXX_PLUGIN: not hooked, left to malloc@plt: calls malloc@plt" \
				"$err"
			check_eq "$name: leak_plugin: 3 x new long[5], from main" "3 120 main" \
				"$(first "$report" leak_plugin) $(callers "$report" leak_plugin)"
			check_eq "$name: leak_main(): 4 x new long[7], from main" "4 224 main" \
				"$(first "$report" "leak_main()") $(callers "$report" "leak_main()")"
			check_eq "$name: no allocator function as the caller" 0 \
				"$(jq '[.stacks[].frames[0].symbol // "" | select(test("^operator new|^malloc$"))] | length' <<<"$report")"
		done
	done
	LEAKS_OPTS=()
}

# Operator new failing (cxx_throw.cpp): each variant asked for 4 PiB throws
# std::bad_alloc, or gives NULL, and the program goes on. A return probe on
# a new that throws puts the kernel's trampoline, which has no unwind info,
# where the unwinder looks for the caller, and the program is killed by
# std::terminate: memlens before this test killed it in every mode. No
# throwing new has one now: libstdc++'s are left to malloc and
# aligned_alloc, and the 3 blocks of aligned new are exact, from their
# caller, exactly and sampled, with uprobe sessions and without.
test_exceptions() {
	local mode name
	for mode in exact sessions uretprobe; do
		name=throw-$mode
		case $mode in
		exact) LEAKS_OPTS=() ;;
		*) LEAKS_OPTS=(--sample-bytes 1) ;;
		esac
		if [ "$mode" = uretprobe ]; then
			MEMLENS_DISABLE=uprobe_session run_cmd "$name" "$CXX_THROW"
		else
			run_cmd "$name" "$CXX_THROW"
		fi
		check_eq "$name: the program exits 0" 0 "$(jq .exit_status <<<"$report")"
		check "$name: it saw each new fail" grep -qx "5 of 5 failures seen" "$tmp/$name.json"
		check_eq "$name: the 5 failures counted" 5 "$(jq .stats.alloc_failed <<<"$report")"
		check_eq "$name: leak_aligned64(): 3 x new A (alignas(64)), 192 bytes" "3 192" \
			"$(first "$report" "leak_aligned64()")"
		check_eq "$name: called from main" main "$(callers "$report" "leak_aligned64()")"
		check_eq "$name: nothing replaced, unknown, missed or unfollowed" "0 0 0 0" \
			"$(jq -r '.stats | "\(.replaced) \(.free_unknown) \(.missed_return) \(.new_unfollowed)"' <<<"$report")"
	done
	check "-v: aligned new left to aligned_alloc" said "$err" _ZnwmSt11align_val_t \
		"not hooked, left to aligned_alloc@plt: calls aligned_alloc@plt at +65 and returns what it returns; its caller's return address at sp+24 there, its rbp below (code and CFI agree)"
	LEAKS_OPTS=()
	# jemalloc's new is not proven to forward: not followed, its calls counted.
	run_cmd throw-jemalloc env LD_PRELOAD="$JEMALLOC" "$CXX_THROW"
	check_eq "jemalloc preloaded: the program exits 0" 0 "$(jq .exit_status <<<"$report")"
	check "jemalloc preloaded: it saw each new fail" grep -qx "5 of 5 failures seen" \
		"$tmp/throw-jemalloc.json"
	check_eq "jemalloc preloaded: its plain news' calls counted, not followed" 2 \
		"$(jq .stats.new_unfollowed <<<"$report")"
	check "jemalloc preloaded: -v says why" grep -qF \
		"memlens: _Znwm in $JEMALLOC: not followed, a return probe would stop C++ exceptions" "$err"
}

# Every output shows C++ names demangled.
test_outputs() {
	local out=$tmp/cxx.folded svg=$tmp/cxx.svg prof=$tmp/cxx.pb.gz
	"$MEMLENS" leaks --folded --svg "$svg" --pprof "$prof" -- "$CXXLEAK" >"$out" 2>/dev/null
	check_eq "--folded: leak_objects() demangled, 240 bytes" 1 \
		"$(grep -c ';main;leak_objects() 240$' "$out")"
	check "--svg: leak_objects() demangled" grep -q "<title>leak_objects() (" "$svg"
	check "--pprof: leak_objects() demangled, 240 bytes" \
		pprof_has "$prof" inuse_space "leak_objects()" 240
	"$MEMLENS" leaks -t 0 -- "$CXXLEAK" >"$tmp/cxx.txt" 2>/dev/null
	check "text: leak_nothrow() demangled" grep -q " leak_nothrow()+0x" "$tmp/cxx.txt"
	check_eq "text: no mangled C++ name left" 0 "$(grep -c ' _Z' "$tmp/cxx.txt")"
}

# jemalloc and tcmalloc, preloaded into the command (through env(1): an
# exec memlens follows) and linked: their own malloc and operator new.
test_preloaded_and_linked() {
	local lib name
	for lib in "$JEMALLOC" "$TCMALLOC"; do
		name=$(basename "$lib" | sed 's/\.so.*//')
		run_cmd "$name-preloaded" env LD_PRELOAD="$lib" "$CXXLEAK"
		check_unfollowed_leaks "$name preloaded" "$report" "${name#lib}"
		check "$name preloaded: hooked" hooked "$err" "$lib"
	done
	run_cmd jemalloc-linked "$CXXLEAK_JEMALLOC"
	check_unfollowed_leaks "jemalloc linked" "$report" jemalloc
	check "jemalloc linked: hooked" hooked "$err" "$JEMALLOC"
	# A block held only by an object of a new not followed: memory
	# memlens never saw allocated may hold pointers, and is scanned.
	run_cmd held-by-new "$HELD_BY_NEW"
	check_eq "jemalloc linked, a block held by a new not followed: still reachable" \
		"1 4000 still_reachable" \
		"$(jq -r '.stats.new_unfollowed as $n | .stacks[] | select(.frames[0].symbol == "held_here()")
			  | "\($n) \(.bytes) \(.classes | keys | join(","))"' <<<"$report")"
	run_cmd tcmalloc-linked "$CXXLEAK_TCMALLOC"
	check_unfollowed_leaks "tcmalloc linked" "$report" tcmalloc
	check "tcmalloc linked: hooked" hooked "$err" "$TCMALLOC"
}

test_static() {
	run_cmd static "$CXXLEAK_STATIC"
	check_cxx_leaks "static binary" "$report"
	check "static binary: the executable's own malloc and new hooked" \
		hooked "$err" "$CXXLEAK_STATIC"
	check_eq "static binary: nothing else hooked" 1 "$(grep -c "allocator hooked" "$err")"
}

# attach NAME LAUNCHER...: LAUNCHER... $CXXLEAK --wait, traced with -p
# once it is ready; sets report to a report taken after its work.
attach() {
	local name=$1 out=$tmp/$1.json log=$tmp/$1.log
	shift
	report=
	err=$out.err
	start_waiting "$log" "$@" "$CXXLEAK" --wait || { not_ok "$name: workload did not start"; return 1; }
	start_memlens "$out" "tracing pid $work_pid" leaks -p "$work_pid" --json -t 0 -i 0.2 ||
		{ not_ok "$name: memlens did not attach" "$(cat "$err")"; return 1; }
	work_go "$log" || { not_ok "$name: workload did not finish"; return 1; }
	report=$(next_report "$out")
	[ -n "$report" ] || { not_ok "$name: no report after the work"; return 1; }
	cp "/proc/$work_pid/maps" "$tmp/$name.maps"
	work_exit
	wait "$memlens_pid"
	check_eq "$name: memlens exits 0 when the process exits" 0 "$?"
}

test_attach_preloaded() {
	attach jemalloc-pid env LD_PRELOAD="$JEMALLOC" || return
	check_unfollowed_leaks "leaks -p, jemalloc preloaded" "$report" jemalloc
	check "leaks -p, jemalloc preloaded: hooked" hooked "$err" "$JEMALLOC"
}

# in_other_namespace CMD...: CMD in its own mount namespace, where copies
# of libc and libstdc++ are bind-mounted over the usual paths, as in a
# container: hooking the paths as memlens sees them would hook the wrong
# files and find nothing.
NS_MOUNTS="mount --bind '$tmp/libc-copy' '$(readlink -f "$LIBDIR/libc.so.6")' &&
	mount --bind '$tmp/libstdcxx-copy' '$(readlink -f "$LIBDIR/libstdc++.so.6")'"
in_other_namespace() {
	exec unshare -m sh -c "$NS_MOUNTS && exec \"\$@\"" sh "$@"
}

# mapped_inode MAPS LIB: inode of the code of LIB in a copy of /proc/PID/maps.
mapped_inode() {
	awk -v lib="$2" '$2 ~ /x/ && index($6, lib) {print $5; exit}' "$1"
}

test_other_namespace() {
	local inodes
	cp "$(readlink -f "$LIBDIR/libc.so.6")" "$tmp/libc-copy"
	cp "$(readlink -f "$LIBDIR/libstdc++.so.6")" "$tmp/libstdcxx-copy"
	attach other-ns-pid in_other_namespace || return
	check_eq "leaks -p, another mount namespace: the process mapped the copies" \
		"$(stat -c %i "$tmp/libc-copy") $(stat -c %i "$tmp/libstdcxx-copy")" \
		"$(mapped_inode "$tmp/other-ns-pid.maps" libc.so) $(mapped_inode "$tmp/other-ns-pid.maps" libstdc++.so)"
	check_cxx_leaks "leaks -p, another mount namespace" "$report"
	# A command that enters such a namespace: memlens follows nsenter's
	# exec. (Not sh -c "mount ... && exec": there dash, after it forks
	# mount, frees one block memlens never saw allocated, with memlens
	# before this change too, and free_unknown would be 1.)
	in_other_namespace sleep 600 &
	holder=$!
	pids+=("$holder")
	for ((i = 0; i < 100; i++)); do
		[ "$(nsenter -t "$holder" -m stat -L -c %i "$LIBDIR/libc.so.6")" == \
			"$(stat -c %i "$tmp/libc-copy")" ] && break
		sleep 0.05
	done
	run_cmd other-ns-cmd nsenter -t "$holder" -m "$CXXLEAK"
	check_cxx_leaks "leaks -- CMD, another mount namespace" "$report"
	check "leaks -- CMD, another mount namespace: the copy of libc hooked" \
		grep -q "hooked $(readlink -f "$LIBDIR/libc.so.6") (inode $(stat -c %i "$tmp/libc-copy"))" \
		"$err"
	kill "$holder"
}

# Rust: Box and Vec, attributed to the Rust functions, names demangled
# without their hash.
test_rust() {
	run_cmd rust "$RUSTLEAK"
	check_eq "rust: leak_boxes: 6 x Box<Node>, 144 bytes, from leak_boxes itself" "6 144" \
		"$(first "$report" rustleak::leaks::leak_boxes)"
	check_eq "rust: leak_boxes called from main" "rustleak::main" \
		"$(callers "$report" rustleak::leaks::leak_boxes)"
	check_eq "rust: leak_vecs: 3 x Vec<u8> of 1000, through leak_vecs" "3 3000" \
		"$(jq -r '[.stacks[] | select(any(.frames[]; .symbol == "rustleak::leaks::leak_vecs"))]
			| "\(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$report")"
	check_eq "rust: churn freed all it allocated" 0 \
		"$(jq '[.stacks[] | select(any(.frames[]; .symbol == "rustleak::leaks::churn"))] | length' <<<"$report")"
	check_eq "rust: no mangled name, no hash" 0 \
		"$(jq '[.stacks[].frames[].symbol // "" | select(test("^_[ZR]|::h[0-9a-f]{16}$"))] | length' <<<"$report")"
}

# --allocator PATH: that file alone is hooked, whatever the process maps.
test_allocator_option() {
	local r err=$tmp/allocator.err rc
	"$MEMLENS" leaks --json -t 0 --allocator "$JEMALLOC" -- \
		env LD_PRELOAD="$JEMALLOC" "$CXXLEAK" >"$tmp/allocator.json" 2>"$err"
	rc=$?
	check_eq "--allocator: exit code" 0 "$rc"
	r=$(tail -n 1 "$tmp/allocator.json")
	check_unfollowed_leaks "--allocator jemalloc, preloaded" "$r" jemalloc-allocator
	check_eq "--allocator: aligned new's blocks counted, from inside new" "2 256" \
		"$(first "$r" "operator new(unsigned long, std::align_val_t)")"
	check "--allocator: named at start" grep -q "allocator $JEMALLOC; Ctrl-C to stop" "$err"
	check_eq "--allocator: nothing else hooked" 0 "$(grep -c "allocator hooked" "$err")"
}

# top_counts NAME BINARY [LAUNCHER...]: memlens top -p on BINARY --wait
# across its work; the process's allocator totals, exactly what cxxleak.cpp
# does: 86 allocations of 11828 bytes, 70 frees of 10240, each once. Or
# TOP_EXPECT, where operator new is not followed (check_unfollowed_leaks):
# without its blocks, and the frees of those.
top_counts() {
	local name=$1 bin=$2 out=$tmp/top-$1.json log=$tmp/top-$1.log fd tpid mpid row
	local expect=${TOP_EXPECT:-86 11828 70 10240}
	shift 2
	rm -f "$tmp/top.in"
	mkfifo "$tmp/top.in"
	exec {fd}<>"$tmp/top.in"
	"$@" "$bin" --wait <&$fd >"$log" &
	tpid=$!
	pids+=("$tpid")
	wait_for "$log" ready || { not_ok "top $name: workload did not start"; return; }
	"$MEMLENS" top -p "$tpid" --json -i 0.2 >"$out" 2>"$out.err" &
	mpid=$!
	pids+=("$mpid")
	wait_for "$out.err" "tracing" || { not_ok "top $name: no start" "$(cat "$out.err")"; return; }
	echo go >&$fd
	wait_for "$log" done || { not_ok "top $name: workload did not finish"; return; }
	# Two more interval rows: the last one taken wholly after the work.
	n=$(grep -c '"type":"memlens"' "$out")
	for ((i = 0; i < 100; i++)); do
		[ "$(grep -c '"type":"memlens"' "$out")" -ge $((n + 2)) ] && break
		sleep 0.1
	done
	row=$(jq -c --argjson p "$tpid" 'select(.type == "process" and .pid == $p)' "$out" | tail -n 1)
	check_eq "top -p, $name: allocations, bytes, frees, bytes freed" "$expect" \
		"$(jq -r '.totals | "\(.allocs) \(.alloc_bytes) \(.frees) \(.free_bytes)"' <<<"$row")"
	echo exit >&$fd
	wait "$tpid"
	kill -TERM "$mpid"
	wait "$mpid"
	check_eq "top -p, $name: exits 0 on SIGTERM" 0 "$?"
	exec {fd}>&-
}

# The leaks jemalloc_api.c makes through jemalloc's own API, exactly, each
# from the function that made it, the size the one asked for; the blocks
# dallocx and sdallocx free, and those rallocx moves, gone.
check_jemalloc_api() {
	local name=$1 r=$2
	check_eq "$name: leak_mallocx(): 100 x mallocx(1000)" "100 100000" \
		"$(first "$r" leak_mallocx)"
	check_eq "$name: leak_mallocx_aligned(): 4 x mallocx(100, align 64 | zero), 400 bytes" \
		"4 400" "$(first "$r" leak_mallocx_aligned)"
	check_eq "$name: leak_rallocx(): 10 x malloc(2000) moved by rallocx to 8000" "10 80000" \
		"$(first "$r" leak_rallocx)"
	check_eq "$name: each called from main" "main main main" \
		"$(for f in leak_mallocx leak_mallocx_aligned leak_rallocx; do callers "$r" "$f"; done |
			xargs)"
	check_eq "$name: churn() freed all it allocated (dallocx, sdallocx, rallocx)" "0 0" \
		"$(first "$r" churn)"
	check_eq "$name: nothing replaced, unknown, untracked or missed" "0 0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.free_unknown) \(.free_untracked) \(.missed_return)"' <<<"$r")"
}

# jemalloc's mallocx and rallocx allocate as malloc and realloc do, its
# dallocx and sdallocx free as free does: hooked with them, exactly and
# with every block sampled (--sample-bytes 1), with uprobe sessions and
# without. Before, their leaks were not seen, rallocx's old blocks and the
# blocks of dallocx were leaks, and an address handed out again replaced one.
test_jemalloc_api() {
	local mode
	LEAKS_OPTS=()
	run_cmd jemalloc-api "$JEMALLOC_API"
	check_jemalloc_api jemalloc-api "$report"
	check_eq "jemalloc-api: the leaks held, still reachable; nothing definitely lost" \
		"114 180400 0" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol // "" | startswith("leak_"))] as $l
			| "\([$l[].classes.still_reachable.allocations // 0] | add)"
			+ " \([$l[].classes.still_reachable.bytes // 0] | add)"
			+ " \([.stacks[].classes.definitely_lost.allocations // 0] | add)"' <<<"$report")"
	check "jemalloc-api: -v: mallocx probed" said_of "$err" mallocx "$JEMALLOC" "+0 push, emulated"
	check "jemalloc-api: -v: rallocx probed" said_of "$err" rallocx "$JEMALLOC" "+2 jmp, emulated"
	check "jemalloc-api: -v: dallocx probed" said_of "$err" dallocx "$JEMALLOC" "+0 push, emulated"
	check "jemalloc-api: -v: sdallocx probed" said_of "$err" sdallocx "$JEMALLOC" "+10 jcc, emulated"
	LEAKS_OPTS=(--sample-bytes 1)
	for mode in sessions uretprobe; do
		if [ "$mode" = uretprobe ]; then
			MEMLENS_DISABLE=uprobe_session run_cmd "jemalloc-api-$mode" "$JEMALLOC_API"
		else
			run_cmd "jemalloc-api-$mode" "$JEMALLOC_API"
		fi
		check_jemalloc_api "jemalloc-api, --sample-bytes 1, $mode" "$report"
		check_eq "jemalloc-api, --sample-bytes 1, $mode: every block sampled" 0 \
			"$(jq .stats.unsampled <<<"$report")"
	done
	LEAKS_OPTS=()
}

# said_of LOG FUNC FILE HOW: -v said FUNC of FILE is probed so.
said_of() {
	grep -qxF "memlens: $2 in $3: probed at $4" "$1"
}

# memlens top shares the allocator hooks: those that define malloc.
test_top() {
	top_counts "libstdc++ on glibc" "$CXXLEAK"
	# Without 50 blocks of new (6116 bytes), 40 of them freed (5320 bytes).
	TOP_EXPECT="36 5712 30 4920" top_counts "tcmalloc preloaded" "$CXXLEAK" \
		env LD_PRELOAD="$TCMALLOC"
	# Without 28 blocks of plain new and new[] (2020 bytes), 20 freed (1480).
	TOP_EXPECT="58 9808 50 8760" top_counts "jemalloc linked" "$CXXLEAK_JEMALLOC"
	# jemalloc_api.c: 264 calls of 322400 bytes, 150 blocks of 142000 freed
	# (those of dallocx, sdallocx and rallocx's old blocks).
	TOP_EXPECT="264 322400 150 142000" top_counts "jemalloc's own API" "$JEMALLOC_API"
	top_counts "static binary" "$CXXLEAK_STATIC"
}

test_libstdcxx
test_forwarders
test_plugin_new
test_exceptions
test_outputs
test_preloaded_and_linked
test_static
test_attach_preloaded
test_other_namespace
test_rust
test_allocator_option
test_jemalloc_api
test_top
finish e2e-allocators
