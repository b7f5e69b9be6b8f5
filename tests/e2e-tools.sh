#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# memlens' output read by the tools SREs already run, not by scripts of
# ours: a real Prometheus (Debian's) scrapes memlens top --prom every
# second and answers a query for a workload's exact allocation count;
# promtool checks the exposition against Prometheus' conventions; go tool
# pprof -raw reads leaks' heap profile: sample types, pid and comm labels,
# mappings with build IDs. Needs root, prometheus, promtool, go (make deps).
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

# memops under a name of this run's own, so that the query finds no other's.
NAME=ml-tools-$$
cp "$MEMOPS" "$tmp/$NAME"
prom_pid=

suite_cleanup() {
	# Prometheus stopped and its data removed (rm -rf "$tmp" does, after).
	if [ -n "$prom_pid" ]; then
		kill -TERM "$prom_pid" 2>/dev/null
		wait "$prom_pid" 2>/dev/null
	fi
}

# free_port: a TCP port nothing listens on, on loopback.
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# prom_query EXPR: the value of the one series EXPR selects, or nothing.
prom_query() {
	curl -s --max-time 5 "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .data.result | length == 1 then .data.result[0].value[1] else empty end'
}

# wait_query EXPR VALUE: until EXPR is VALUE (30 s at most); the last value seen.
wait_query() {
	local i v=
	for ((i = 0; i < 60; i++)); do
		v=$(prom_query "$1")
		[ "$v" = "$2" ] && break
		sleep 0.5
	done
	printf '%s\n' "$v"
}

test_prometheus() {
	local mport pport fd m labels n=1234 size=100
	mport=$(free_port)
	pport=$(free_port)
	cat >"$tmp/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: memlens
    static_configs:
      - targets: ['127.0.0.1:$mport']
CONF
	promtool check config "$tmp/prometheus.yml" >"$tmp/promtool-config.log" 2>&1 ||
		{ not_ok "prometheus: promtool check config" "$(cat "$tmp/promtool-config.log")"; return; }
	prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prometheus-data" \
		--web.listen-address="127.0.0.1:$pport" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
	prom_pid=$!
	wait_for_ready "http://127.0.0.1:$pport/-/ready" ||
		{ not_ok "prometheus: not ready in 30 s" "$(tail -n 5 "$tmp/prometheus.log")"; return; }
	ok "prometheus: started on 127.0.0.1:$pport, data in the test's directory"

	# memops: N mallocs of SIZE bytes and as many frees after "go", nothing else.
	mkfifo "$tmp/work.in"
	exec {fd}<>"$tmp/work.in"
	"$tmp/$NAME" "$n" "$size" 0 0 0 0 0 0 none <&$fd >"$tmp/work.log" &
	work_pid=$!
	pids+=("$work_pid")
	wait_for "$tmp/work.log" ready || { not_ok "prometheus: memops not ready"; return; }
	start_memlens "$tmp/top.out" tracing top -j -i 1 -c "$NAME" --prom "127.0.0.1:$mport" ||
		{ not_ok "prometheus: memlens top did not start" "$(cat "$tmp/top.out.err")"; return; }
	check_eq "prometheus: scrapes memlens (up is 1)" 1 "$(wait_query "up{job=\"memlens\"}" 1)"
	echo go >&$fd
	wait_for "$tmp/work.log" done || { not_ok "prometheus: memops did not finish"; return; }

	labels="pid=\"$work_pid\",comm=\"$NAME\""
	check_eq "prometheus: memlens_allocs_total{$labels}, queried: memops' $n mallocs" \
		"$n" "$(wait_query "memlens_allocs_total{$labels}" "$n")"
	check_eq "prometheus: memlens_alloc_bytes_total: $n x $size bytes" \
		$((n * size)) "$(wait_query "memlens_alloc_bytes_total{$labels}" $((n * size)))"
	check_eq "prometheus: memlens_frees_total: as many frees" \
		"$n" "$(wait_query "memlens_frees_total{$labels}" "$n")"
	check_eq "prometheus: the size histogram's count in the le=\"127\" bucket" \
		"$n" "$(wait_query "memlens_alloc_size_bytes_bucket{$labels,le=\"127\"}" "$n")"
	sleep 2	# two more scrapes: counted once, not again
	check_eq "prometheus: still $n two scrapes later" "$n" \
		"$(prom_query "memlens_allocs_total{$labels}")"
	check_eq "prometheus: one series of the workload for its pid and comm" 1 \
		"$(prom_query "count(memlens_allocs_total{comm=\"$NAME\"})")"

	m=$(curl -s --max-time 5 "http://127.0.0.1:$mport/metrics")
	promtool check metrics <<<"$m" >"$tmp/promtool.log" 2>&1
	check_eq "promtool check metrics: exit 0, no problem named" "0 " \
		"$? $(cat "$tmp/promtool.log")"

	echo exit >&$fd
	exec {fd}>&-
	wait "$work_pid"
	stop_memlens
	kill -TERM "$prom_pid"
	wait "$prom_pid"
	check_eq "prometheus: stopped by SIGTERM, exit 0" 0 $?
	prom_pid=
	rm -rf "$tmp/prometheus-data"
	check "prometheus: its data removed" test ! -e "$tmp/prometheus-data"
}

# wait_for_ready URL: until URL answers 200 (30 s at most).
wait_for_ready() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1")" = 200 ] && return 0
		sleep 0.1
	done
	return 1
}

# pprof_raw FILE: go tool pprof -raw of FILE, without symbolizing anything.
pprof_raw() {
	HOME=$tmp GOCACHE=$tmp/gocache GOFLAGS= GOTOOLCHAIN=local \
		go tool pprof -raw -symbolize=none "$1" 2>&1
}

# build_id FILE: its GNU build ID as readelf shows it.
build_id() {
	readelf -n "$1" | awk '/Build ID:/ { print $3 }'
}

# The heap profile of leaks as continuous profilers (Pyroscope, Parca)
# and go tool pprof read it: sample types, pid and comm labels on every
# sample, one Mapping per executable mapping with its file, offset and
# build ID, each location in its mapping.
test_pprof() {
	local raw pid nr libc ld exe_off sym addr start limit off mapping
	"$MEMLENS" leaks --pprof "$tmp/leaky.pb.gz" -- "$LEAKY" >"$tmp/leaks.out" 2>"$tmp/leaks.err" ||
		{ not_ok "pprof: memlens leaks failed" "$(cat "$tmp/leaks.err")"; return; }
	pid=$(sed -n 's/^memlens: tracing pid \([0-9]*\) .*/\1/p' "$tmp/leaks.err")
	raw=$(pprof_raw "$tmp/leaky.pb.gz")
	# After the two of a heap profile, the exit scan's classes (e2e-reachable checks them).
	check_eq "pprof -raw: the sample types, inuse_space the default" \
		"inuse_objects/count inuse_space/bytes[dflt]$(for c in definitely_lost indirectly_lost \
			possibly_lost still_reachable suppressed; do printf ' %s_objects/count %s_space/bytes' $c $c; done)" \
		"$(sed -n '/^Samples:/{n;p}' <<<"$raw")"
	nr=$(grep -cE '^ +[0-9]+( +[0-9]+)+: ' <<<"$raw")
	check_eq "pprof -raw: every sample ($nr) labelled with leaky's pid and comm" \
		"$nr comm:[leaky] pid:[$pid]" \
		"$(grep -E '^ +comm:' <<<"$raw" | sort | uniq -c | awk '{ print $1, $2, $3 }')"
	check_eq "pprof -raw: leak_here's sample, 7 objects of 28672 bytes, labelled" \
		"7 28672 comm:[leaky] pid:[$pid]" \
		"$(awk '/^ +7 +28672 .*: / { v = $1 " " $2; getline; print v, $1, $2 }' <<<"$raw")"
	libc=$(readlink -f "$(ldd "$LEAKY" | awk '/libc\.so/ { print $3 }')")
	ld=$(readlink -f "$(ldd "$LEAKY" | awk '/ld-linux/ { print $1 }')")
	# The file offset of leaky's executable segment, as its program headers say.
	exe_off=$(readelf -lW "$LEAKY" | awk '$1 == "LOAD" && / R E / { print $2 }')
	check_eq "pprof -raw: the mappings: file, build ID (readelf's), all symbolized" \
		"$(printf '%s\n' "$LEAKY $(build_id "$LEAKY") [FN][FL][LN]" \
			"$libc $(build_id "$libc") [FN][FL][LN]" "$ld $(build_id "$ld") [FN][FL][LN]" |
			LC_ALL=C sort)" \
		"$(sed -n '/^Mappings/,$p' <<<"$raw" | awk 'NR > 1 { print $3, $4, $5 }' | LC_ALL=C sort)"
	mapping=$(sed -n '/^Mappings/,$p' <<<"$raw" | awk -v l="$LEAKY" '$3 == l { print $2 }')
	IFS=/ read -r start limit off <<<"$mapping"
	check_eq "pprof -raw: leaky's mapping at its executable segment's file offset" \
		"$((exe_off))" "$((off))"
	# leak_here's return address, in the file: its symbol + 0x18 (nm), the
	# location's address less the mapping's start plus its offset.
	sym=$(nm "$LEAKY" | awk '$3 == "leak_here" { print "0x" $1 }')
	addr=$(awk '$3 == "M=1" && $4 == "leak_here" { print $2 }' <<<"$raw")
	check_eq "pprof -raw: leak_here's location in mapping 1, at leak_here+0x18 in the file" \
		"$((sym + 0x18))" "$((addr - start + off))"
	check "pprof -raw: the location inside its mapping" test $((addr)) -ge $((start)) -a $((addr)) -lt $((limit))
}

test_prometheus
test_pprof

echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
