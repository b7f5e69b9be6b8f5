#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# memlens' output read by the tools SREs already run, not by scripts of
# ours: a real Prometheus (Debian's) scrapes memlens top --prom every
# second and answers a query for a workload's exact allocation count;
# promtool checks the exposition against Prometheus' conventions. Needs
# root, prometheus and promtool (make deps).
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

test_prometheus

echo "tools: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
