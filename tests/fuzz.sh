#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Fuzzing of the recording reader (`memlens report`) with libFuzzer, ASan
# and UBSan, for a bounded time (FUZZ_SECONDS, default 60), from seeds:
# the unit tests' recordings (plain, with STALLS, with SCAN records) and a
# real one of build/leaky (scanned at its exit: a SCAN record). Then the
# real memlens reads what the fuzzer made: a clear error or a report,
# never a crash. Needs root (the real recording loads BPF).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

FUZZER=$PWD/build/fuzz_recording
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

make_seeds() {
	mkdir -p "$tmp/seeds" "$tmp/corpus"
	MEMLENS_FUZZ_SEEDS=$tmp/seeds build/unit_tests recfile >/dev/null
	check "seed: the unit tests' sample recording" test -s "$tmp/seeds/unit.mlr"
	check "seed: the unit tests' recording with STALLS records" test -s "$tmp/seeds/stalls.mlr"
	check "seed: the unit tests' recording with SCAN records" test -s "$tmp/seeds/scan.mlr"
	"$MEMLENS" record -o "$tmp/seeds/leaky.mlr" -- "$LEAKY" 2>/dev/null
	"$MEMLENS_BIN" report "$tmp/seeds/leaky.mlr" >"$tmp/seed.txt"
	check "seed: a recording of leaky, with leak_here" grep -q "^28672 bytes in 7 allocations" "$tmp/seed.txt"
	check "seed: leaky's recording has its scan's classes" grep -q "^reachability: definitely lost" "$tmp/seed.txt"
}

test_fuzz() {
	local log=$tmp/fuzz.log runs rc
	MEMLENS_FUZZ_PPROF=$tmp/fuzz.pb.gz timeout -k 5 $((FUZZ_SECONDS + 60)) "$FUZZER" \
		-max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-artifact_prefix="$tmp/" "$tmp/corpus" "$tmp/seeds" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log")
	check_eq "fuzz: ${FUZZ_SECONDS}s of libFuzzer without a crash, leak or UB (exit code)" 0 "$rc"
	[ "$rc" -eq 0 ] || grep -E -A12 "ERROR|runtime error" "$log" | head -40 | sed 's/^/#   /' 
	check "fuzz: at least 10000 inputs tried (${runs:-0})" test "${runs:-0}" -ge 10000
	check_eq "fuzz: no crashing input left behind" "" \
		"$(find "$tmp" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*')"
}

# The fuzzer's inputs with their checksums made right, as the real
# binary checks them: else nearly all stop at the first checksum.
fix_checksums() {
	python3 - "$tmp/corpus" "$tmp/fixed" <<'PY'
import os, struct, sys, zlib
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for name in os.listdir(src):
	data = bytearray(open(os.path.join(src, name), "rb").read())
	off = 16
	while off + 12 <= len(data):
		size = struct.unpack_from("<I", data, off + 4)[0]
		if off + 12 + size > len(data):
			break
		crc = zlib.crc32(bytes(data[off + 12:off + 12 + size]), zlib.crc32(bytes(data[off:off + 8])))
		struct.pack_into("<I", data, off + 8, crc)
		off += 12 + size
	open(os.path.join(dst, name), "wb").write(data)
PY
}

# The corpus through the real binary: each file is refused in one line
# (exit 1) or rendered (exit 0); nothing else.
test_corpus_with_memlens() {
	local n=0 bad=0 rendered=0 rc f
	fix_checksums
	for f in "$tmp"/fixed/* "$tmp"/seeds/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		"$MEMLENS_BIN" report --all -t 0 "$f" >/dev/null 2>"$tmp/report.err"
		rc=$?
		[ "$rc" -eq 0 ] && rendered=$((rendered + 1))
		if [ "$rc" -eq 0 ] || { [ "$rc" -eq 1 ] && [ "$(wc -l <"$tmp/report.err")" -eq 1 ]; }; then
			continue
		fi
		bad=$((bad + 1))
		echo "# $f: exit $rc: $(head -c 300 "$tmp/report.err")"
	done
	check_eq "memlens report on the $n corpus files ($rendered rendered): exit 0, or 1 with one line" 0 "$bad"
}

require_root_and_build fuzz
[ -x "$FUZZER" ] || { echo "fuzz: $FUZZER missing: build first (make check)" >&2; exit 1; }
make_seeds
test_fuzz
test_corpus_with_memlens
finish fuzz
