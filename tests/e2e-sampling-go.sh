#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of sampled stack capture (memlens leaks --sample-bytes)
# and of Go heap allocations (memlens allocs), with the real BPF programs.
# Needs root and Debian's golang (/usr/bin/go) to build the Go workload.
# Prints TAP-style lines and "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

SAMPLED_LEAK=$PWD/build/sampled_leak
GOALLOC=$PWD/build/goalloc

# group REPORT FUNC: "groups allocations bytes" of the stacks through FUNC.
group() {
	jq -r --arg f "$2" '[.stacks[] | select(any(.frames[]; .symbol == $f))]
		| "\(length) \(map(.allocations) | add // 0) \(map(.bytes) | add // 0)"' <<<"$1"
}

# leaf REPORT FUNC FIELD: FIELD summed over the stacks whose frame 0 is FUNC.
leaf() {
	jq -r --arg f "$2" "[.stacks[] | select(.frames[0].symbol == \$f) | .$3] | add // 0" <<<"$1"
}

# commas N: N with thousands separated as the flame graph shows them.
commas() {
	sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"
}

# within DESC LOW HIGH VALUE
within() {
	if [ "$4" -ge "$2" ] && [ "$4" -le "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2 to $3" "actual:   $4"
	fi
}

# --- sampling --------------------------------------------------------------
#
# sampled_leak leaks exactly N = 10000 blocks of S = 512 bytes from
# leak_512(), among 40000 blocks of 16 to 4096 bytes that churn() frees,
# and one of 1 MiB from leak_big(). Sampled every R = 2048 bytes on
# average (a Poisson process on each thread's allocated bytes), each
# 512-byte block is tracked with probability p = 1 - exp(-S/R) =
# 0.221199, independently of the others (sample points in disjoint byte
# ranges of a Poisson process are independent), so the samples K are
# Binomial(N, p): mean 2212.0, standard deviation sqrt(N p (1 - p)) =
# 41.5. The estimate K / p has standard deviation sqrt(N (1 - p) / p) =
# 187.6. The bounds are 5 standard deviations: a correct tracer falls
# outside with probability 6e-7. The table of 4096 quantiles the BPF side
# draws from changes p by less than 1/4096 (unit-tested), far inside.
N=10000
SAMPLES_LOW=2004		# 2212.0 - 5 x 41.5
SAMPLES_HIGH=2420
EST_LOW=9062			# 10000 - 5 x 187.6
EST_HIGH=10938
# Allocator calls the workload makes: its own, and stdio's buffer.
CALLS=$((N + 4 * N + 1 + 1))

# The mean number of calls tracked at R = 2048, and its 5-sigma bounds:
# leak_512's, churn's sizes, leak_big (always), and stdio's buffer (0 or 1).
sampled_calls_bounds() {
	awk -v n="$N" 'BEGIN {
		r = 2048
		for (i = 0; i < n; i++) {
			p = 1 - exp(-512 / r); m += p; v += p * (1 - p)
			for (j = 0; j < 4; j++) {
				p = 1 - exp(-(16 + (i * 7 + j * 131) % 4081) / r); m += p; v += p * (1 - p)
			}
		}
		m += 1
		printf "%.1f %d %d\n", m, m - 5 * sqrt(v), m + 5 * sqrt(v) + 1
	}'
}

test_exact() {
	local r
	r=$("$MEMLENS" leaks --json -t 0 -- "$SAMPLED_LEAK" 2>/dev/null | tail -n 1)
	check_eq "exact: leak_512: 10000 blocks, 5120000 bytes, one stack" "1 10000 5120000" \
		"$(group "$r" leak_512)"
	check_eq "exact: leak_big: 1 MiB" "1 1 1048576" "$(group "$r" leak_big)"
	check_eq "exact: nothing of churn" "0 0 0" "$(group "$r" churn)"
	check_eq "exact: not an estimate, no sampling counted" "false 0 0 0 0" \
		"$(jq -r '"\(.estimated) \(.stats.sampled) \(.stats.unsampled) \(.stats.free_untracked) \(.stats.free_unknown)"' <<<"$r")"
	check_eq "exact: every allocator call recorded (and 2 ld.so mmaps)" "$((CALLS + 2))" \
		"$(jq .stats.allocs <<<"$r")"
}

test_sampled() {
	local r k est bytes w
	r=$("$MEMLENS" leaks --json -t 0 --sample-bytes 2048 -- "$SAMPLED_LEAK" 2>/dev/null | tail -n 1)
	check_eq "sampled: an estimate, sampled every 2048 bytes" "true 2048" \
		"$(jq -r '"\(.estimated) \(.sample_bytes)"' <<<"$r")"
	k=$(leaf "$r" leak_512 samples)
	est=$(leaf "$r" leak_512 allocations)
	bytes=$(leaf "$r" leak_512 bytes)
	within "sampled: leak_512 samples K in $SAMPLES_LOW..$SAMPLES_HIGH (5 sigma of Binomial(10000, 0.2212))" \
		"$SAMPLES_LOW" "$SAMPLES_HIGH" "$k"
	within "sampled: leak_512 estimate in $EST_LOW..$EST_HIGH (10000 within 5 sigma)" \
		"$EST_LOW" "$EST_HIGH" "$est"
	within "sampled: leak_512 bytes in $((EST_LOW * 512))..$((EST_HIGH * 512))" \
		$((EST_LOW * 512)) $((EST_HIGH * 512)) "$bytes"
	# Each sample weighs w = 1 / (1 - exp(-512/2048)) = 4.520812: the
	# estimate is K w and the bytes K 512 w, rounded (to within 1: sums in
	# another order).
	check_eq "sampled: estimate = K x 4.520812, bytes = K x 512 x 4.520812" "ok" \
		"$(awk -v k="$k" -v e="$est" -v b="$bytes" 'BEGIN {
			w = 1 / (1 - exp(-512 / 2048))
			d1 = e - k * w; d2 = b - k * 512 * w
			print (d1 * d1 <= 1 && d2 * d2 <= 1) ? "ok" : "off: " k * w " " k * 512 * w }')"
	check_eq "sampled: leak_big (1 MiB >> R, always sampled) exactly" "1 1 1048576" \
		"$(group "$r" leak_big)"
	check_eq "sampled: nothing of churn" "0 0 0" "$(group "$r" churn)"
	check_eq "sampled: every allocator call seen, sampled or not" "$CALLS" \
		"$(jq '.stats.sampled + .stats.unsampled' <<<"$r")"
	# Calls tracked: a sum of independent Bernoulli(1 - exp(-size/R)) over
	# every call's size, within 5 standard deviations (the sizes are known).
	read -r mean low high < <(sampled_calls_bounds)
	within "sampled: calls tracked in $low..$high (mean $mean: 1 - exp(-size/R) at every size)" \
		"$low" "$high" "$(jq .stats.sampled <<<"$r")"
	check_eq "sampled: churn's 40000 frees: of tracked blocks, or untracked; none unknown" "0 40000" \
		"$(jq -r '"\(.stats.free_unknown) \(.stats.frees + .stats.free_untracked)"' <<<"$r")"
	# Reported: the samples, and the 2 ld.so mmaps, tracked exactly: no samples.
	check_eq "sampled: every tracked block freed or reported" \
		"$(jq '.stats.allocs - .stats.frees' <<<"$r")" "$(jq '.samples + 2' <<<"$r")"
	check_eq "sampled: the exact blocks are the 2 mappings, not samples" 2 \
		"$(jq '[.stacks[] | select(.samples == 0) | .allocations] | add' <<<"$r")"
	check_eq "sampled: no loss, entry and return balanced, thread state gone" "0 0 0 0 0 0 0" \
		"$(jq -r '.stats | "\(.replaced) \(.allocs_map_full) \(.stack_failed) \(.threads_map_full) \(.missed_return) \(.events_lost) \(.threads_tracked)"' <<<"$r")"
}

test_sampled_text() {
	local out=$tmp/sampled.txt
	"$MEMLENS" leaks -t 3 --sample-bytes 2048 -- "$SAMPLED_LEAK" >"$out" 2>/dev/null
	check "sampled text: header says estimated, from how many samples" \
		grep -Eq "^== .* allocations outstanding \(leaked at exit\), estimated from [0-9]+ samples, [0-9]+ stacks" "$out"
	check "sampled text: group line with its samples" \
		grep -Eq "^[0-9]+ bytes in [0-9]+ allocations \(estimated from [0-9]+ samples\), oldest" "$out"
	check "sampled text: what sampling saved" \
		grep -Eq "^sampling: [0-9]+ of $CALLS allocator calls tracked \([0-9.]+%\), one sample every 2048 bytes on average" "$out"
}

# The same estimates in every output: pprof and the flame graph beside the JSON.
test_sampled_outputs() {
	local r prof=$tmp/sampled.pb.gz svg=$tmp/sampled.svg folded=$tmp/sampled.folded est bytes
	r=$("$MEMLENS" leaks --json -t 0 --sample-bytes 2048 --pprof "$prof" --svg "$svg" \
		-- "$SAMPLED_LEAK" 2>/dev/null | tail -n 1)
	est=$(leaf "$r" leak_512 allocations)
	bytes=$(leaf "$r" leak_512 bytes)
	check "sampled --pprof: leak_512's estimated bytes ($bytes)" \
		pprof_has "$prof" inuse_space leak_512 "$bytes"
	check "sampled --pprof: and estimated objects ($est)" pprof_has "$prof" inuse_objects leak_512 "$est"
	check "sampled --svg: leak_512's box weighs the estimate" \
		grep -q "<title>leak_512 ($(commas "$bytes") bytes" "$svg"
	check "sampled --svg: titled an estimate" grep -q "leaked at exit, estimated" "$svg"
	"$MEMLENS" leaks --folded --sample-bytes 2048 -- "$SAMPLED_LEAK" >"$folded" 2>/dev/null
	within "sampled --folded: leak_512's bytes within the bound" $((EST_LOW * 512)) $((EST_HIGH * 512)) \
		"$(awk '/;leak_512 / { print $NF }' "$folded")"
}

# leaky (two threads, every allocator function, realloc nesting, failures)
# under sampling: big blocks and mappings exact, calls balanced; also with
# one thread slot, the other thread's state in the threads map.
test_sampled_leaky() {
	local r name=${1:-sampled leaky}
	r=$("$MEMLENS" leaks --json -t 0 --sample-bytes 2048 -- "$LEAKY" 2>/dev/null | tail -n 1)
	check_eq "$name: malloc of 1 MiB, exactly" "1 1 1048576" "$(group "$r" leak_large)"
	check_eq "$name: mmap is never sampled: 64 KiB" "1 1 65536" "$(group "$r" leak_mmap)"
	check_eq "$name: failed allocations still counted" "60" "$(jq .stats.alloc_failed <<<"$r")"
	check_eq "$name: no missed return, no unknown free, thread state gone" "0 0 0" \
		"$(jq -r '.stats | "\(.missed_return) \(.free_unknown) \(.threads_tracked)"' <<<"$r")"
}

test_sampling_errors() {
	expect_error "--sample-bytes not a number" 2 \
		"memlens: invalid sample-bytes 'x': expected a whole number up to 1099511627776" \
		"$MEMLENS" leaks --sample-bytes x -- "$SAMPLED_LEAK"
	expect_error "--sample-bytes too big" 2 \
		"memlens: invalid sample-bytes '1099511627777': expected a whole number up to 1099511627776" \
		"$MEMLENS" leaks --sample-bytes 1099511627777 -- "$SAMPLED_LEAK"
}

# --- Go ---------------------------------------------------------------------
#
# tests/workloads/goalloc: escapes() makes 1000 slices of 640 bytes that
# escape, stays() 1000 that do not, deep() 640 bytes at each of 2000
# levels of recursion on a goroutine whose stack grows on the way.

# Go's caches under build/ (called from within the workload's directory).
GO_BUILD_DIR=$PWD/build
go_env() {
	env HOME="$tmp" GOPATH="$GO_BUILD_DIR/gopath" GOCACHE="$GO_BUILD_DIR/gocache" GOFLAGS=-mod=mod \
		GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0 "$@"
}

build_go() {
	local rc
	(cd tests/workloads/goalloc && go_env go build -gcflags=-m -o "$GOALLOC" .) >"$tmp/gc.out" 2>&1
	rc=$?
	check_eq "go build of the Go workload" 0 "$rc"
	check "go build -gcflags=-m: escapes' slices escape" \
		grep -q "main.go:32:17: make(\[\]byte, size) escapes to heap" "$tmp/gc.out"
	check "go build -gcflags=-m: stays' slices do not" \
		grep -q "main.go:40:14: make(\[\]byte, size) does not escape" "$tmp/gc.out"
	(cd tests/workloads/goalloc && go_env go build -ldflags=-s -o "$tmp/goalloc-stripped" .) \
		>/dev/null 2>&1
	[ "$rc" -eq 0 ]
}

check_go_profile() {
	local name=$1 r=$2
	check_eq "$name: main.escapes: 1000 allocations of 640 bytes, one stack" "1 1000 640000" \
		"$(group "$r" main.escapes)"
	check_eq "$name: the stack starts at main.escapes, past runtime.makeslice" \
		"main.escapes main.work" \
		"$(jq -r '[.stacks[] | select(any(.frames[]; .symbol == "main.escapes"))][0]
			| "\(.frames[0].symbol) \(.frames[1].symbol)"' <<<"$r")"
	check_eq "$name: main.stays allocates nothing on the heap" "0 0 0" "$(group "$r" main.stays)"
	check_eq "$name: main.deep: 2000 x 640 bytes, each counted once though its stack grew" \
		"2000 1280000" "$(leaf "$r" main.deep allocations) $(leaf "$r" main.deep bytes)"
	check_eq "$name: an allocation profile, exact" "allocated false" \
		"$(jq -r '"\(.profile) \(.estimated)"' <<<"$r")"
	check_eq "$name: nothing lost" "0 0 0 0" \
		"$(jq -r '.stats | "\(.allocs_map_full) \(.stacks_map_full) \(.stack_failed) \(.stack_collision)"' <<<"$r")"
}

test_go_command() {
	local out=$tmp/go.json err=$tmp/go.err rc r
	"$MEMLENS" allocs --sample-bytes 0 --json -t 0 -v -- "$GOALLOC" >"$out" 2>"$err"
	rc=$?
	check_eq "allocs -- CMD: exit code" 0 "$rc"
	r=$(tail -n 1 "$out")
	# The workload prints a line of its own on the same stdout.
	check_eq "allocs -- CMD: one report, at exit, status 0" "1 true 0" \
		"$(grep -c '^{"time"' "$out") $(jq -r '"\(.exited) \(.exit_status)"' <<<"$r")"
	check_go_profile "allocs -- CMD" "$r"
	check "allocs: mallocgc probed past its stack check" \
		grep -Eq "runtime.mallocgc in .*: probed at \+[0-9]+, past its stack check" "$err"
	check "allocs: held at runtime.exit while its maps were read" \
		grep -q "held at _exit to read its maps" "$err"
}

# goalloc execs itself from a thread other than the leader: the kernel tied
# mallocgc's hook to the old leader's task, and memlens before saw none of
# the new image's allocations (main.escapes: 0 0 0).
test_go_exec_from_thread() {
	local out=$tmp/go-exec.json err=$tmp/go-exec.err rc r
	"$MEMLENS" allocs --sample-bytes 0 --json -t 0 -v -- "$GOALLOC" --exec-from-thread \
		>"$out" 2>"$err"
	rc=$?
	r=$(tail -n 1 "$out")
	check_eq "allocs, exec from a thread: exit code, the program's" "0 0" \
		"$rc $(jq -r .exit_status <<<"$r")"
	check_go_profile "allocs, exec from a thread" "$r"
	# Else the new image ran a while unhooked, and the counts fall short:
	# held at both execs, memlens's fork's and the thread's.
	check_eq "allocs, exec from a thread: held at each exec" 2 "$(grep -c "held at exec" "$err")"
	# Into a program that is not Go: said, not an error.
	"$MEMLENS" allocs --sample-bytes 0 --json -t 0 -- "$GOALLOC" --exec-from-thread \
		"$(readlink -f /bin/true)" >"$out" 2>"$err"
	check_eq "allocs, exec from a thread into true: exit code" 0 "$?"
	check_eq "allocs, exec from a thread into true: said once" 1 "$(grep -cx \
		"memlens: pid [0-9]* exec'd $(readlink -f /bin/true), not a Go program: its allocations are not seen" \
		"$err")"
}

test_go_text_pprof() {
	local out=$tmp/go.txt prof=$tmp/go.pb.gz
	"$MEMLENS" allocs --sample-bytes 0 -t 3 --pprof "$prof" -- "$GOALLOC" >"$out" 2>/dev/null
	check "allocs text: header" grep -Eq "^== [0-9:]+ UTC pid [0-9]+ \(goalloc\): [0-9]+ bytes in [0-9]+ allocations made while traced \(Go heap allocation profile, at exit\)" "$out"
	check "allocs text: main.escapes' group" grep -q "^640000 bytes in 1000 allocations, stack" "$out"
	check "allocs text: frame with symbol and module" \
		grep -Eq "^	#0  0x[0-9a-f]+ main.escapes\+0x[0-9a-f]+ \(.*/goalloc\)" "$out"
	check "allocs --pprof: alloc_space of main.escapes, 640000" \
		pprof_has "$prof" alloc_space main.escapes 640000
	check "allocs --pprof: alloc_objects of main.escapes, 1000" \
		pprof_has "$prof" alloc_objects main.escapes 1000
	"$MEMLENS" allocs --sample-bytes 0 --folded --svg "$tmp/go.svg" -- "$GOALLOC" >"$tmp/go.folded" 2>/dev/null
	check "allocs --folded: main.escapes' line, from the goroutine's root down" \
		grep -qx "goalloc;runtime.goexit.abi0;runtime.main;main.main;main.work;main.escapes 640000" \
		"$tmp/go.folded"
	check "allocs --svg: main.escapes' box, 640000 bytes" \
		grep -q "<title>main.escapes (640,000 bytes" "$tmp/go.svg"
	check "allocs --svg: titled Go heap allocations" grep -q "Go heap allocations of [0-9]* (goalloc)" \
		"$tmp/go.svg"
}

test_go_pid() {
	local out=$tmp/gopid.json log=$tmp/goalloc.out live r
	start_waiting "$log" "$GOALLOC" --wait || { not_ok "allocs -p: Go workload did not start"; return; }
	start_memlens "$out" "tracing pid $work_pid" allocs --sample-bytes 0 -p "$work_pid" --json -t 0 -i 0.2 ||
		{ not_ok "allocs -p: memlens did not attach" "$(cat "$out.err")"; return; }
	work_go "$log" || { not_ok "allocs -p: Go workload did not finish"; return; }
	live=$(next_report "$out")
	[ -n "$live" ] || { not_ok "allocs -p: no report after the work" "$(cat "$out.err")"; return; }
	check_eq "allocs -p: live report, process running" "false" "$(jq .exited <<<"$live")"
	check_go_profile "allocs -p live" "$live"
	work_exit
	wait "$memlens_pid"
	r=$(tail -n 1 "$out")
	check_eq "allocs -p: final report at exit" "true" "$(jq .exited <<<"$r")"
	check_eq "allocs -p: at exit, the same escapes" "1 1000 640000" "$(group "$r" main.escapes)"
}

# Sampled Go allocations: N = 1000 of S = 640 at R = 2048: p = 1 - exp(-0.3125)
# = 0.268384, estimate standard deviation sqrt(N (1 - p) / p) = 52.2, so
# 5 sigma is 739..1261.
test_go_sampled() {
	local r est
	r=$("$MEMLENS" allocs --json -t 0 --sample-bytes 2048 -- "$GOALLOC" 2>/dev/null | tail -n 1)
	est=$(leaf "$r" main.escapes allocations)
	check_eq "allocs sampled: an estimate" "true 2048" "$(jq -r '"\(.estimated) \(.sample_bytes)"' <<<"$r")"
	within "allocs sampled: main.escapes estimate in 739..1261 (1000 within 5 sigma)" 739 1261 "$est"
	check_eq "allocs sampled: bytes = 640 x the estimate, within rounding" "true" \
		"$(jq --argjson e "$est" '[.stacks[] | select(.frames[0].symbol == "main.escapes") | .bytes] | add
			| (. - 640 * $e) | fabs <= 640' <<<"$r")"
	check "allocs sampled: most calls left untracked" jq_true '.stats.unsampled > .stats.sampled' <<<"$r"
}

test_go_errors() {
	# A C program is profiled through its allocator (tests/e2e-allocs-c.sh).
	expect_error "allocs of a stripped Go program" 1 \
		"memlens: $tmp/goalloc-stripped is a Go program without its symbol table (stripped): its Go heap (runtime.mallocgc) cannot be found, and it has no C allocator: nothing to profile" \
		"$MEMLENS" allocs -- "$tmp/goalloc-stripped"
	expect_error "allocs --min-age" 2 \
		"memlens: allocs: --min-age and --max-allocs are for memlens leaks" \
		"$MEMLENS" allocs --min-age 1 -- "$GOALLOC"
	expect_error "allocs --unwind of a Go program" 2 \
		"memlens: allocs: $GOALLOC is a Go program: --allocator and --unwind* are for programs that malloc" \
		"$MEMLENS" allocs --unwind fp -- "$GOALLOC"
	expect_error "allocs --allocator of a Go program" 2 \
		"memlens: allocs: $GOALLOC is a Go program: --allocator and --unwind* are for programs that malloc" \
		"$MEMLENS" allocs --allocator "$LEAKY" -- "$GOALLOC"
	expect_error "allocs -o" 2 "memlens: allocs: -o FILE is an option of memlens record" \
		"$MEMLENS" allocs -o "$tmp/allocs.rec" -- "$GOALLOC"
	expect_error "allocs without a target" 2 \
		"memlens: allocs: give either -p PID or -- COMMAND (see memlens allocs --help)" \
		"$MEMLENS" allocs
	expect_error "allocs of a command that does not exist" 1 \
		"memlens: cannot run /nonexistent/go: No such file or directory" \
		"$MEMLENS" allocs -- /nonexistent/go
	"$MEMLENS" leaks --json -- "$GOALLOC" >"$tmp/leaksgo.json" 2>"$tmp/leaksgo.err"
	# Pure Go: no malloc at all, and the runtime's arenas are not leaks.
	check_eq "leaks of a Go program: its heap arenas are not blocks" "0 0" \
		"$(tail -n 1 "$tmp/leaksgo.json" | jq -r '"\(.stats.allocs) \(.stats.alloc_bytes)"')"
	check "leaks of a Go program: says where its heap is" \
		grep -q "memlens: $GOALLOC is a Go program: memlens leaks sees only what C code in it mallocs; its Go heap is for memlens allocs" \
		"$tmp/leaksgo.err"
}

require_root_and_build e2e-sampling-go
[ -x "$SAMPLED_LEAK" ] || { echo "e2e-sampling-go: $SAMPLED_LEAK missing: build first (make e2e)" >&2; exit 1; }

test_exact
test_sampled
test_sampled_text
test_sampled_outputs
test_sampled_leaky
MEMLENS_THREAD_SLOTS=1 test_sampled_leaky "sampled leaky, one thread slot"
test_sampling_errors
# C called from Go (cgo), walked by frame pointer: from the C stack back
# down into the goroutine's, to the Go code that called C.
test_cgo_stack() {
	local bin=$tmp/cgoleak r
	(cd tests/workloads/cgoleak && go_env env CGO_ENABLED=1 go build -o "$bin" .) \
		>"$tmp/cgo.out" 2>&1 || { not_ok "go build of the cgo workload" "$(cat "$tmp/cgo.out")"; return; }
	r=$("$MEMLENS" leaks --unwind fp --json -t 0 -- "$bin" 2>/dev/null | tail -n 1)
	check_eq "cgo: cleak's leak, 5 x 1000 bytes, through goCaller and main.main" \
		"1 5 5000 main.goCaller main.main" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol | test("Cfunc_cleak$"))]
			| "\(length) \(map(.allocations) | add) \(map(.bytes) | add) "
			+ ([.[0].frames[].symbol | select(. == "main.goCaller" or . == "main.main")]
			   | join(" "))' <<<"$r")"
}

# The same stripped (go build -ldflags=-s): still a Go program, whose
# runtime's heap arenas are not leaks, and whose Go heap cannot be
# profiled without runtime.mallocgc's symbol: said, and its C profiled.
test_cgo_stripped() {
	local bin=$tmp/cgoleak-stripped r
	(cd tests/workloads/cgoleak && go_env env CGO_ENABLED=1 go build -ldflags=-s -o "$bin" .) \
		>"$tmp/cgo.out" 2>&1 || { not_ok "go build of the stripped cgo workload" "$(cat "$tmp/cgo.out")"; return; }
	r=$("$MEMLENS" leaks --json -t 0 -- "$bin" 2>"$tmp/cgos.err" | tail -n 1)
	check_eq "cgo stripped: leaks: cleak's 5 x 1000 bytes; no mmap of the Go runtime" "5 5000 0" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol | test("Cfunc_cleak$"))] as $c
			| "\($c | map(.allocations) | add) \($c | map(.bytes) | add) "
			+ "\([.stacks[] | select(.frames[0].symbol | test("mmap"))] | length)"' <<<"$r")"
	check "cgo stripped: leaks says it is a Go program without symbols" grep -qx \
		"memlens: $bin is a Go program: memlens leaks sees only what C code in it mallocs; its Go heap is for memlens allocs, which needs its symbol table (this one is stripped)" \
		"$tmp/cgos.err"
	r=$("$MEMLENS" allocs --sample-bytes 0 --json -t 0 -- "$bin" 2>"$tmp/cgos.err" | tail -n 1)
	check_eq "cgo stripped: allocs profiles its C: cleak 5 calls, 5000 bytes" "5 5000" \
		"$(jq -r '[.stacks[] | select(.frames[0].symbol | test("Cfunc_cleak$"))]
			| "\(map(.allocations) | add) \(map(.bytes) | add)"' <<<"$r")"
	check "cgo stripped: allocs says its Go heap cannot be found" grep -qx \
		"memlens: $bin is a Go program without its symbol table (stripped): its Go heap (runtime.mallocgc) cannot be found, only what C code in it mallocs is profiled" \
		"$tmp/cgos.err"
}

if build_go; then
	test_cgo_stack
	test_cgo_stripped
	test_go_command
	test_go_exec_from_thread
	test_go_text_pprof
	test_go_pid
	test_go_sampled
	test_go_errors
fi

finish e2e-sampling-go
