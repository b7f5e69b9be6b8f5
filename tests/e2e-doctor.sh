#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens doctor: the features of this machine kind
# (kernel 6.18, lockdown integrity, cgroup v1 memory controller, no
# kprobes), exactly; the JSON; MEMLENS_DISABLE turning commands reduced or
# unavailable with their reasons named; usage errors.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

if [ "$(id -u)" != 0 ] || [ ! -x "$MEMLENS_BIN" ]; then
	echo "doctor: must run as root, with ./memlens built" >&2
	exit 1
fi

COMMANDS="leaks allocs top hist reclaim kmem record report"

# here OUT FEATURE: the HERE column of FEATURE's row in the text output OUT.
here() {
	awk -v f="$2" '$1 == f { print $2; exit }' "$1"
}

# mode OUT CMD: full, reduced or unavailable, from CMD's line of OUT.
mode() {
	sed -n "s/^$2: \([a-z]*\).*/\1/p" "$1"
}

# --- This host, as it is ----------------------------------------------

mounts_before=$(wc -l </proc/self/mountinfo)
"$MEMLENS" doctor >"$tmp/text" 2>"$tmp/text.err"
check_eq "doctor: exit code on this host" 0 $?
check_eq "doctor: nothing on stderr" "" "$(cat "$tmp/text.err")"
check_eq "doctor: first line, the kernel" "Linux $(uname -r) $(uname -m)" "$(head -n 1 "$tmp/text")"
# Looking at lockdown reads securityfs without mounting it anywhere.
check_eq "doctor: mounts nothing" "$mounts_before" "$(wc -l </proc/self/mountinfo)"
check "doctor: securityfs still not mounted" \
	sh -c '! grep -q " - securityfs " /proc/self/mountinfo'

for f in btf ringbuf task_btf task_storage task_pt_regs uprobe_multi uprobe_session \
	 uprobes tracefs memcg_v1 perf_sw bpf_stats rss_stat rss_percpu; do
	check_eq "doctor: $f here" yes "$(here "$tmp/text" "$f")"
done
for f in kprobes fentry memcg_v2 rss_atomic; do
	check_eq "doctor: $f not here" no "$(here "$tmp/text" "$f")"
done
check_eq "doctor: lockdown" integrity "$(here "$tmp/text" lockdown)"
check "doctor: fentry refused with EPERM" grep -q '^fentry .*Operation not permitted$' "$tmp/text"
check "doctor: tracefs where it is" grep -q '^tracefs .*mounted at /sys/kernel/tracing$' "$tmp/text"
check "doctor: the v1 memory controller where it is" \
	grep -q '^memcg_v1 .*at /sys/fs/cgroup/memory$' "$tmp/text"
check "doctor: the rss_stat layout BTF shows" \
	grep -q '^rss_percpu .*mm_struct.rss_stat: struct percpu_counter\[\]$' "$tmp/text"
for c in $COMMANDS; do
	check_eq "doctor: $c runs in full here" "$c: full" "$(grep "^$c: " "$tmp/text")"
done
check_eq "doctor: one line per command" 8 "$(grep -cE '^[a-z]+: (full|reduced|unavailable)' "$tmp/text")"

# --- JSON -------------------------------------------------------------

"$MEMLENS" doctor --json >"$tmp/json"
check_eq "doctor --json: exit code" 0 $?
check "doctor --json: one valid JSON object" jq_true 'type == "object"' "$tmp/json"
check_eq "doctor --json: one line" 1 "$(wc -l <"$tmp/json")"
check_eq "doctor --json: kernel release" "$(uname -r)" "$(jq -r .kernel "$tmp/json")"
check_eq "doctor --json: machine" "$(uname -m)" "$(jq -r .machine "$tmp/json")"
check "doctor --json: features are booleans, lockdown a string" jq_true \
	'(.features | del(.lockdown) | [.[] | type] | unique) == ["boolean"] and
	 .features.lockdown == "integrity"' "$tmp/json"
check "doctor --json: the facts of this host" jq_true \
	'.features | .btf and .uprobe_multi and .uprobe_session and .ringbuf and
	 .task_storage and .memcg_v1 and (.kprobes | not) and (.fentry | not) and
	 (.memcg_v2 | not)' "$tmp/json"
check_eq "doctor --json: the same features as the table" \
	"$(awk 'NR > 3 && NF >= 2 && $1 != "lockdown" { print $1 "=" ($2 == "yes") } /^$/ && NR > 3 { exit }' "$tmp/text")" \
	"$(jq -r '.features | del(.lockdown) | to_entries[] | "\(.key)=\(if .value then 1 else 0 end)"' "$tmp/json")"
check_eq "doctor --json: every command" "$(echo $COMMANDS | tr ' ' '\n' | sort)" \
	"$(jq -r '.commands | keys[]' "$tmp/json")"
check "doctor --json: every command full, without reasons" jq_true \
	'[.commands[] | .mode == "full" and .reasons == []] | all' "$tmp/json"
check "doctor --json: the ways leaks takes" jq_true \
	'.commands.leaks.ways == {"scratch":"task_storage","hooks":"uprobe_multi"}' \
	"$tmp/json"
check "doctor --json: top reads rss_stat as percpu_counter" jq_true \
	'.commands.top.ways.rss == "percpu_counter"' "$tmp/json"
check "doctor --json: details are strings" jq_true \
	'[.details[] | type] | unique == ["string"]' "$tmp/json"

# --- MEMLENS_DISABLE --------------------------------------------------

MEMLENS_DISABLE=task_storage,uprobe_multi "$MEMLENS" doctor >"$tmp/reduced"
check_eq "disable task_storage,uprobe_multi: exit code" 0 $?
check_eq "disable task_storage,uprobe_multi: uprobe_multi shown missing" no \
	"$(here "$tmp/reduced" uprobe_multi)"
check "disable task_storage,uprobe_multi: said why" \
	grep -q '^uprobe_multi .*disabled by MEMLENS_DISABLE$' "$tmp/reduced"
for c in leaks record allocs; do
	check_eq "disable task_storage,uprobe_multi: $c reduced" reduced "$(mode "$tmp/reduced" $c)"
	check "disable task_storage,uprobe_multi: $c names task storage" \
		grep -q "^$c: reduced: no task storage (5.11): a per-CPU stack buffer" "$tmp/reduced"
	check "disable task_storage,uprobe_multi: $c names uprobe_multi" \
		grep -q "^$c: reduced: .*; no uprobe_multi (6.6): one uprobe and one uretprobe per function" \
		"$tmp/reduced"
done
check_eq "disable task_storage,uprobe_multi: top reduced for uprobe_multi alone" \
	"top: reduced: no uprobe_multi (6.6): one uprobe and one uretprobe per function, slower to attach, more links" \
	"$(grep '^top: ' "$tmp/reduced")"
for c in reclaim kmem report; do
	check_eq "disable task_storage,uprobe_multi: $c still full" full "$(mode "$tmp/reduced" $c)"
done
MEMLENS_DISABLE=task_storage,uprobe_multi "$MEMLENS" doctor --json >"$tmp/reduced.json"
check "disable task_storage,uprobe_multi: JSON leaks reduced, two reasons, percpu, uprobe" jq_true \
	'.commands.leaks | .mode == "reduced" and (.reasons | length) == 2 and
	 .ways.scratch == "percpu" and .ways.hooks == "uprobe"' "$tmp/reduced.json"
check "disable task_storage,uprobe_multi: JSON features false" jq_true \
	'.features.task_storage == false and .features.uprobe_multi == false' "$tmp/reduced.json"

MEMLENS_DISABLE=btf "$MEMLENS" doctor >"$tmp/nobtf"
check_eq "disable btf: exit code 1, some command cannot run" 1 $?
for c in leaks allocs top hist reclaim kmem record; do
	check_eq "disable btf: $c unavailable" \
		"$c: unavailable: no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)" \
		"$(grep "^$c: " "$tmp/nobtf")"
done
check_eq "disable btf: report still full (offline)" "report: full" "$(grep '^report: ' "$tmp/nobtf")"

MEMLENS_DISABLE=ringbuf "$MEMLENS" doctor >"$tmp/norb"
check_eq "disable ringbuf: exit code 1" 1 $?
check_eq "disable ringbuf: kmem unavailable" "kmem: unavailable: no BPF ring buffer (5.8)" \
	"$(grep '^kmem: ' "$tmp/norb")"

MEMLENS_DISABLE=tracefs "$MEMLENS" doctor >"$tmp/notracefs"
check_eq "disable tracefs: exit code 1" 1 $?
for c in leaks top; do
	check "disable tracefs: $c unavailable" grep -q "^$c: unavailable: no tracefs" "$tmp/notracefs"
done
check_eq "disable tracefs: reclaim does not need it" full "$(mode "$tmp/notracefs" reclaim)"

MEMLENS_DISABLE=rss_percpu "$MEMLENS" doctor --json >"$tmp/norss.json"
check "disable rss_percpu: top reduced, no layout known" jq_true \
	'.commands.top | .mode == "reduced" and .ways.rss == "none" and
	 (.reasons[0] | test("rss_stat in a layout"))' "$tmp/norss.json"

MEMLENS_DISABLE=memcg_v1 "$MEMLENS" doctor >"$tmp/nomemcg"
check "disable memcg_v1: reclaim has no memcg stalls" \
	grep -q '^reclaim: reduced: no memory cgroup controller: no memory cgroup reclaim stalls' \
	"$tmp/nomemcg"
check "disable memcg_v1: kmem --cgroup refused" \
	grep -q '^kmem: reduced: no cgroup v1 memory controller: --cgroup' "$tmp/nomemcg"

# --- The verifier's cost of every program -----------------------------
# Every program of every object, in every mode, loads here within 10% of
# the verifier's limit; and so on a kernel without task storage,
# task_btf and bpf_task_pt_regs (5.10), as far as this kernel can say.

verifier_budget() {
	local name=$1 out=$tmp/verifier-$1.json
	shift
	env "$@" "$MEMLENS" doctor --verifier --json >"$out"
	check_eq "$name: exit code" 0 $?
	check "$name: every mode of allocs, reclaim and kmem" jq_true \
		'[.programs[].mode] | unique == ["kmem","leaks-dwarf","leaks-dwarf-sampled",
		  "leaks-fp","leaks-fp-sampled","reclaim","top"]' "$out"
	check "$name: nothing refused, nothing over budget" jq_true \
		'.refused == 0 and .over_budget == 0 and .budget == 100000' "$out"
	check "$name: every program loaded, with its count" jq_true \
		'all(.programs[]; .error == null and .insns > 0 and .insns <= 100000)' "$out"
	check "$name: alloc_return with the unwinder is counted" jq_true \
		'any(.programs[]; .mode == "leaks-dwarf" and .program == "alloc_return")' "$out"
}

verifier_budget "--verifier" MEMLENS_NOTHING=1
verifier_budget "--verifier as on 5.10" MEMLENS_DISABLE=task_storage,task_btf,task_pt_regs,uprobe_multi
"$MEMLENS" doctor --verifier >"$tmp/verifier.txt"
check "--verifier: a table with the largest program named" \
	grep -Eq '^largest: alloc_return \(leaks-[a-z-]+\), [0-9]+ insns, [0-9.]+% of the verifier.s limit; budget 10%: 0 over, 0 refused$' \
	"$tmp/verifier.txt"

# --- Usage and errors -------------------------------------------------

expect_error "unknown option" 2 \
	"memlens: doctor: unknown option '--bogus' (see memlens doctor --help)" \
	"$MEMLENS_BIN" doctor --bogus
expect_error "stray argument" 2 \
	"memlens: doctor: unexpected argument 'leaks' (see memlens doctor --help)" \
	"$MEMLENS_BIN" doctor leaks
expect_error "not root" 1 \
	"memlens: needs root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN): run it as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$MEMLENS_BIN" doctor
"$MEMLENS" doctor --help >"$tmp/help"
check_eq "--help: exit code" 0 $?
check "--help: usage on stdout" grep -q '^Usage: memlens doctor \[--json\] \[--verifier\]$' "$tmp/help"
check "memlens --help lists doctor" sh -c "'$MEMLENS_BIN' --help | grep -q '^  doctor '"

finish doctor
