#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# End-to-end tests of memlens doctor: every feature it reports checked
# against what this host shows by other means, computed here (bpftool's
# probes and BTF dump, sysfs, mountinfo, a securityfs mounted in a private
# mount namespace), not against one kernel build's answers; each command's
# plan against the rules; the JSON; MEMLENS_DISABLE turning commands
# reduced or unavailable with their reasons named; usage errors.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

if [ "$(id -u)" != 0 ] || [ ! -x "$MEMLENS_BIN" ]; then
	echo "doctor: must run as root, with ./memlens built" >&2
	exit 1
fi
for c in bpftool jq unshare "${CLANG:-clang}"; do
	if ! command -v "$c" >/dev/null; then
		echo "doctor: $c missing: make deps" >&2
		echo "doctor: 0 passed, 1 failed"
		exit 1
	fi
done

COMMANDS="leaks allocs top hist reclaim kmem record report"

# here OUT FEATURE: the HERE column of FEATURE's row in the text output OUT.
here() {
	awk -v f="$2" '$1 == f { print $2; exit }' "$1"
}

# detail OUT FEATURE: the DETAIL column of FEATURE's row.
detail() {
	awk -v f="$2" '$1 == f { sub(/^[^ ]+ +[^ ]+ +[^ ]+ */, ""); print; exit }' "$1"
}

# mode OUT CMD: full, reduced or unavailable, from CMD's line of OUT.
mode() {
	sed -n "s/^$2: \([a-z]*\).*/\1/p" "$1"
}

yesno() {
	if "$@"; then echo yes; else echo no; fi
}

# --- This host, seen by other means ------------------------------------
#
# What each feature should be here, found without memlens: want[F] is
# yes or no. A doctor that answers wrong on this host disagrees with it.

bpftool feature probe kernel -j >"$tmp/probe.json" 2>/dev/null
bpftool btf dump file /sys/kernel/btf/vmlinux >"$tmp/btf.raw" 2>/dev/null
bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$tmp/btf.c" 2>/dev/null
check "bpftool: the kernel's features probed" jq_true '.map_types | length > 0' "$tmp/probe.json"
check "bpftool: the kernel's BTF dumped" grep -q "^\[1\] " "$tmp/btf.raw"

# map_type NAME, helper NAME: what bpftool's own probes found.
map_type() {
	jq -e --arg k "have_$1_map_type" '.map_types[$k] == true' "$tmp/probe.json" >/dev/null
}
helper() {
	jq -e --arg h "$1" '.helpers.kprobe_available_helpers | index($h) != null' \
		"$tmp/probe.json" >/dev/null
}
# config NAME: y, n, or "" when bpftool could not read the kernel config.
config() {
	jq -r --arg k "$1" '.system_config | if has($k) then (.[$k] // "n") else "" end
		| if . == "y" or . == "n" then . else "" end' "$tmp/probe.json"
}
# btf_enum NAME: an enumerator of this kernel's BTF.
btf_enum() {
	grep -q "^	'$1' val=" "$tmp/btf.raw"
}
btf_kind() {
	grep -q "^\[[0-9]*\] $1 '$2' " "$tmp/btf.raw"
}
# The mounts, one "DIR TYPE SUPER_OPTIONS" line each.
mounts() {
	awk '{ split($0, h, " - "); split(h[2], t, " "); print $5, t[1], t[3] }' /proc/self/mountinfo
}

declare -A want
want[btf]=$(yesno test -r /sys/kernel/btf/vmlinux)
want[ringbuf]=$(yesno map_type ringbuf)
want[task_storage]=$(yesno map_type task_storage)
want[task_btf]=$(yesno helper bpf_get_current_task_btf)
want[task_pt_regs]=$(yesno helper bpf_task_pt_regs)
want[uprobes]=$(yesno test -d /sys/bus/event_source/devices/uprobe)
want[kprobes]=$(yesno test -d /sys/bus/event_source/devices/kprobe)
want[perf_sw]=$(yesno test -d /sys/bus/event_source/devices/software)
# The PMUs exist exactly with their CONFIG_*_EVENTS, where the config is known.
for f in uprobes:UPROBE kprobes:KPROBE; do
	c=$(config "CONFIG_${f#*:}_EVENTS")
	[ -z "$c" ] || check_eq "host: ${f%:*} PMU as CONFIG_${f#*:}_EVENTS=$c says" \
		"$([ "$c" = y ] && echo yes || echo no)" "${want[${f%:*}]}"
done
# A session is a uprobe_multi link of its own attach type (6.13): the
# kernel knows the type when its BTF has the enumerator; every kernel with
# it has the pid check memlens requires too.
want[uprobe_session]=no
btf_enum BPF_TRACE_UPROBE_SESSION && [ "${want[uprobes]}" = yes ] && want[uprobe_session]=yes

tracefs_dir=$(mounts | awk '$2 == "tracefs" { print $1; exit }')
if [ -n "$tracefs_dir" ] || grep -qw tracefs /proc/filesystems; then
	want[tracefs]=yes
else
	want[tracefs]=no
fi
memcg_v1_dir=$(mounts | awk '$2 == "cgroup" && ("," $3 ",") ~ /,memory,/ { print $1; exit }')
want[memcg_v1]=$(yesno test -n "$memcg_v1_dir")
cgroup2_dir=$(mounts | awk '$2 == "cgroup2" { print $1; exit }')
want[memcg_v2]=no
[ -n "$cgroup2_dir" ] && grep -qw memory "$cgroup2_dir/cgroup.controllers" 2>/dev/null &&
	want[memcg_v2]=yes

# kmem:rss_stat in tracefs where it is mounted, else in BTF.
if [ -n "$tracefs_dir" ]; then
	want[rss_stat]=$(yesno test -d "$tracefs_dir/events/kmem/rss_stat")
else
	want[rss_stat]=$(yesno btf_kind TYPEDEF btf_trace_rss_stat)
fi
# mm_struct's rss_stat member as the C dump of BTF declares it.
rss_line=$(awk '/^struct mm_struct \{/, /^\};/' "$tmp/btf.c" | grep -E '[ *]rss_stat(\[|;)')
want[rss_percpu]=$(yesno grep -q 'struct percpu_counter rss_stat\[' <<<"$rss_line")
want[rss_atomic]=$(yesno grep -q 'struct mm_rss_stat rss_stat;' <<<"$rss_line")
check "host: mm_struct.rss_stat found in the BTF dump" test -n "$rss_line"

# fentry: an empty fentry program on bpf_fentry_test1, loaded and attached
# by bpftool in a private mount namespace (its pins vanish with it).
want_fentry_err=
if btf_kind FUNC bpf_fentry_test1; then
	printf '%s\n' '__attribute__((section("fentry/bpf_fentry_test1"), used))' \
		'int probe(void *ctx) { return 0; }' \
		'char _license[] __attribute__((section("license"), used)) = "GPL";' \
		>"$tmp/fentry.c"
	mkdir -p "$tmp/bpffs"
	if "${CLANG:-clang}" -O2 -target bpf -c "$tmp/fentry.c" -o "$tmp/fentry.o" &&
		unshare -m sh -c "mount -t bpf bpf '$tmp/bpffs' &&
			bpftool prog load '$tmp/fentry.o' '$tmp/bpffs/probe' autoattach" \
			>"$tmp/fentry.log" 2>&1; then
		want[fentry]=yes
	else
		want[fentry]=no
		want_fentry_err=$(sed -n 's/^libbpf: prog .probe.: BPF program load failed: //p' \
			"$tmp/fentry.log" | head -n 1)
	fi
else
	want[fentry]=no
fi

# bpf_atomics: a compare-and-swap, compiled by clang and loaded by bpftool.
printf '%s\n' '__attribute__((section("kprobe/probe"), used))' \
	'int probe(void *ctx) { volatile long v = 0; return __sync_val_compare_and_swap(&v, 0, 1); }' \
	'char _license[] __attribute__((section("license"), used)) = "GPL";' >"$tmp/cas.c"
mkdir -p "$tmp/bpffs"
want[bpf_atomics]=no
"${CLANG:-clang}" -O2 -target bpf -mcpu=v3 -c "$tmp/cas.c" -o "$tmp/cas.o" &&
	unshare -m sh -c "mount -t bpf bpf '$tmp/bpffs' && bpftool prog load '$tmp/cas.o' '$tmp/bpffs/cas'" \
		>"$tmp/cas.log" 2>&1 && want[bpf_atomics]=yes

# lockdown: the bracketed word of a securityfs mounted in a private mount
# namespace; memlens reads it without mounting anything.
if unshare -m sh -c 'mount -t securityfs none /sys/kernel/security' 2>/dev/null; then
	want_lockdown=$(unshare -m sh -c 'mount -t securityfs none /sys/kernel/security &&
		cat /sys/kernel/security/lockdown' 2>/dev/null | sed -n 's/.*\[\([a-z]*\)\].*/\1/p')
	want_lockdown=${want_lockdown:-none}
else
	want_lockdown=unknown
fi

mounts_before=$(wc -l </proc/self/mountinfo)
securityfs_before=$(grep -c ' - securityfs ' /proc/self/mountinfo)
"$MEMLENS" doctor >"$tmp/text" 2>"$tmp/text.err"
rc=$?
unavailable=$(grep -cE '^[a-z]+: unavailable' "$tmp/text")
check_eq "doctor: exit code 1 exactly when a command is unavailable" \
	"$([ "$unavailable" -gt 0 ] && echo 1 || echo 0)" "$rc"
check_eq "doctor: nothing on stderr" "" "$(cat "$tmp/text.err")"
check_eq "doctor: first line, the kernel" "Linux $(uname -r) $(uname -m)" "$(head -n 1 "$tmp/text")"
# Looking at lockdown reads securityfs without mounting it anywhere.
check_eq "doctor: mounts nothing" "$mounts_before" "$(wc -l </proc/self/mountinfo)"
check_eq "doctor: no securityfs mounted" "$securityfs_before" \
	"$(grep -c ' - securityfs ' /proc/self/mountinfo)"

for f in btf ringbuf task_btf task_storage task_pt_regs uprobe_session uprobes tracefs \
	 memcg_v1 memcg_v2 perf_sw kprobes fentry rss_stat rss_percpu rss_atomic \
	 bpf_atomics; do
	check_eq "doctor: $f as the host shows it" "${want[$f]}" "$(here "$tmp/text" "$f")"
done
check_eq "doctor: lockdown as securityfs shows it" "$want_lockdown" "$(here "$tmp/text" lockdown)"

# uprobe_multi: no probe but memlens's own tells the pid check apart (6.6
# to 6.9 lack it, and backports blur releases): what must hold instead.
um=$(here "$tmp/text" uprobe_multi)
check "doctor: uprobe_multi yes or no" grep -qE '^(yes|no)$' <<<"$um"
if [ "$um" = yes ]; then
	check "doctor: uprobe_multi only where BTF has BPF_TRACE_UPROBE_MULTI" \
		btf_enum BPF_TRACE_UPROBE_MULTI
	check_eq "doctor: uprobe_multi only with uprobes" yes "${want[uprobes]}"
fi
[ "$(here "$tmp/text" uprobe_session)" = yes ] &&
	check_eq "doctor: uprobe_session implies uprobe_multi" yes "$um"

# The details where the host says what they must be.
if [ -n "$tracefs_dir" ]; then
	check_eq "doctor: tracefs where it is" "mounted at $tracefs_dir" "$(detail "$tmp/text" tracefs)"
fi
if [ -n "$memcg_v1_dir" ]; then
	check_eq "doctor: the v1 memory controller where it is" "at $memcg_v1_dir" \
		"$(detail "$tmp/text" memcg_v1)"
fi
if [ "${want[rss_percpu]}" = yes ]; then
	check_eq "doctor: the rss_stat layout BTF shows" \
		"mm_struct.rss_stat: struct percpu_counter[]" "$(detail "$tmp/text" rss_percpu)"
fi
if [ "${want[kprobes]}" = no ]; then
	check_eq "doctor: why no kprobes" "no kprobe PMU (CONFIG_KPROBES)" "$(detail "$tmp/text" kprobes)"
fi
if ! btf_kind FUNC bpf_fentry_test1; then
	check_eq "doctor: fentry not tried without bpf_fentry_test1" \
		"unknown: no bpf_fentry_test1 in BTF to try it on" "$(detail "$tmp/text" fentry)"
elif [ -n "$want_fentry_err" ]; then
	check_eq "doctor: fentry refused at load, as bpftool was" "load: $want_fentry_err" \
		"$(detail "$tmp/text" fentry)"
fi

for c in $COMMANDS; do
	check "doctor: $c full, reduced or unavailable" \
		grep -qE "^$c: (full$|reduced: .|unavailable: .)" "$tmp/text"
done
check_eq "doctor: one line per command" 8 "$(grep -cE '^[a-z]+: (full|reduced|unavailable)' "$tmp/text")"
check_eq "doctor: report always runs" "report: full" "$(grep '^report: ' "$tmp/text")"

# --- JSON -------------------------------------------------------------

"$MEMLENS" doctor --json >"$tmp/json"
check_eq "doctor --json: exit code as the text's" "$rc" $?
check "doctor --json: one valid JSON object" jq_true 'type == "object"' "$tmp/json"
check_eq "doctor --json: one line" 1 "$(wc -l <"$tmp/json")"
check_eq "doctor --json: kernel release" "$(uname -r)" "$(jq -r .kernel "$tmp/json")"
check_eq "doctor --json: machine" "$(uname -m)" "$(jq -r .machine "$tmp/json")"
check "doctor --json: features are booleans, lockdown a string" jq_true \
	'(.features | del(.lockdown) | [.[] | type] | unique) == ["boolean"] and
	 (.features.lockdown | type) == "string"' "$tmp/json"
check_eq "doctor --json: the lockdown of the table" "$(here "$tmp/text" lockdown)" \
	"$(jq -r .features.lockdown "$tmp/json")"
check_eq "doctor --json: the same features as the table" \
	"$(awk 'NR > 3 && NF >= 2 && $1 != "lockdown" { print $1 "=" ($2 == "yes") } /^$/ && NR > 3 { exit }' "$tmp/text")" \
	"$(jq -r '.features | del(.lockdown) | to_entries[] | "\(.key)=\(if .value then 1 else 0 end)"' "$tmp/json")"
check_eq "doctor --json: every command" "$(echo $COMMANDS | tr ' ' '\n' | sort)" \
	"$(jq -r '.commands | keys[]' "$tmp/json")"
check_eq "doctor --json: the modes of the text" \
	"$(for c in $COMMANDS; do echo "$c=$(mode "$tmp/text" "$c")"; done | sort)" \
	"$(jq -r '.commands | to_entries[] | "\(.key)=\(.value.mode)"' "$tmp/json" | sort)"
check "doctor --json: reasons exactly for the commands not in full" jq_true \
	'[.commands[] | (.mode == "full") == (.reasons == [])] | all' "$tmp/json"
# The ways each command takes follow from the features (user/kplan.c).
check "doctor --json: the hooks uprobe_multi gives" jq_true \
	'.features.uprobe_multi as $m | [.commands.leaks, .commands.top]
	 | all(.ways.hooks == (if $m then "uprobe_multi" else "uprobe" end))' "$tmp/json"
check "doctor --json: task storage as scratch where both it and task_btf are" jq_true \
	'.features as $f | .commands.leaks.ways.scratch ==
	 (if $f.task_storage and $f.task_btf then "task_storage" else "percpu" end)' "$tmp/json"
check "doctor --json: leaks and record keep blocks in a table where BPF atomics are" jq_true \
	'.features.bpf_atomics as $a
	 | ([.commands.leaks, .commands.record] | all(.ways.blocks == (if $a then "table" else "map" end)))
	   and ([.commands.allocs, .commands.top] | all(.ways.blocks == null))' "$tmp/json"
check "doctor --json: top reads rss_stat in the layout BTF shows" jq_true \
	'.features as $f | .commands.top.ways.rss ==
	 (if ($f.rss_stat | not) then "none" elif $f.rss_percpu then "percpu_counter"
	  elif $f.rss_atomic then "atomic" else "none" end)' "$tmp/json"
check "doctor --json: details are strings" jq_true \
	'[.details[] | type] | unique == ["string"]' "$tmp/json"

# --- MEMLENS_DISABLE --------------------------------------------------
#
# A feature disabled only takes away: where the host runs a command in
# full, the reasons are exactly those of the features disabled; where it
# does not, they are there besides the host's own.

# base CMD: CMD's mode on this host, nothing disabled.
base() {
	mode "$tmp/text" "$1"
}

TS="no task storage (5.11): a per-CPU stack buffer, which a preempted program can share (6.0): a stack so mixed is dropped and counted"
UM="no uprobe_multi (6.6): one uprobe and one uretprobe per function, slower to attach, more links"
MEMLENS_DISABLE=task_storage,uprobe_multi "$MEMLENS" doctor >"$tmp/reduced" 2>"$tmp/reduced.err"
check_eq "disable task_storage,uprobe_multi: exit code as without" "$rc" $?
check_eq "disable task_storage,uprobe_multi: no warning" "" "$(cat "$tmp/reduced.err")"
check_eq "disable task_storage,uprobe_multi: uprobe_multi shown missing" no \
	"$(here "$tmp/reduced" uprobe_multi)"
check_eq "disable task_storage,uprobe_multi: said why" "disabled by MEMLENS_DISABLE" \
	"$(detail "$tmp/reduced" uprobe_multi)"
for c in leaks record allocs; do
	case $(base $c) in
	full)
		check_eq "disable task_storage,uprobe_multi: $c reduced for both" \
			"$c: reduced: $TS; $UM" "$(grep "^$c: " "$tmp/reduced")"
		;;
	reduced)
		check "disable task_storage,uprobe_multi: $c names both" grep -qF -e "$TS" \
			<<<"$(grep "^$c: reduced: .*$UM" "$tmp/reduced")"
		;;
	esac
done
case $(base top) in
full)
	check_eq "disable task_storage,uprobe_multi: top reduced for uprobe_multi alone" \
		"top: reduced: $UM" "$(grep '^top: ' "$tmp/reduced")"
	;;
reduced)
	check "disable task_storage,uprobe_multi: top names uprobe_multi" \
		grep -qF "$UM" <<<"$(grep '^top: reduced: ' "$tmp/reduced")"
	;;
esac
for c in reclaim kmem report; do
	check_eq "disable task_storage,uprobe_multi: $c as without" "$(base $c)" "$(mode "$tmp/reduced" $c)"
done
MEMLENS_DISABLE=task_storage,uprobe_multi "$MEMLENS" doctor --json >"$tmp/reduced.json"
check "disable task_storage,uprobe_multi: JSON leaks takes percpu and uprobe" jq_true \
	'.commands.leaks.ways | .scratch == "percpu" and .hooks == "uprobe"' "$tmp/reduced.json"
if [ "$(base leaks)" = full ]; then
	check "disable task_storage,uprobe_multi: JSON leaks reduced, two reasons" jq_true \
		'.commands.leaks | .mode == "reduced" and (.reasons | length) == 2' "$tmp/reduced.json"
fi
check "disable task_storage,uprobe_multi: JSON features false" jq_true \
	'.features.task_storage == false and .features.uprobe_multi == false' "$tmp/reduced.json"

# A name that is no feature: one warning, the rest of the list still taken.
MEMLENS_DISABLE=task_storge,uprobe_multi "$MEMLENS" doctor >"$tmp/typo" 2>"$tmp/typo.err"
check_eq "disable a typo: exit code as without" "$rc" $?
check_eq "disable a typo: one warning, naming it" \
	"memlens: MEMLENS_DISABLE names no feature 'task_storge' (memlens doctor lists them)" \
	"$(cat "$tmp/typo.err")"
check_eq "disable a typo: task_storage as without" "$(here "$tmp/text" task_storage)" \
	"$(here "$tmp/typo" task_storage)"
check_eq "disable a typo: uprobe_multi still disabled" "disabled by MEMLENS_DISABLE" \
	"$(detail "$tmp/typo" uprobe_multi)"

NOBTF="unavailable: no kernel BTF (/sys/kernel/btf/vmlinux, CONFIG_DEBUG_INFO_BTF)"
MEMLENS_DISABLE=btf "$MEMLENS" doctor >"$tmp/nobtf"
check_eq "disable btf: exit code 1, some command cannot run" 1 $?
for c in leaks allocs top hist reclaim kmem record; do
	check "disable btf: $c unavailable, for BTF first" grep -qF "$c: $NOBTF" "$tmp/nobtf"
done
check_eq "disable btf: report still full (offline)" "report: full" "$(grep '^report: ' "$tmp/nobtf")"

MEMLENS_DISABLE=ringbuf "$MEMLENS" doctor >"$tmp/norb"
check_eq "disable ringbuf: exit code 1" 1 $?
check "disable ringbuf: kmem unavailable" \
	grep -qF "kmem: unavailable: no BPF ring buffer (5.8)" "$tmp/norb"

MEMLENS_DISABLE=tracefs "$MEMLENS" doctor >"$tmp/notracefs"
check_eq "disable tracefs: exit code 1" 1 $?
for c in leaks top; do
	check "disable tracefs: $c unavailable" grep -q "^$c: unavailable: .*no tracefs" "$tmp/notracefs"
done
check_eq "disable tracefs: reclaim does not need it" "$(base reclaim)" "$(mode "$tmp/notracefs" reclaim)"

MEMLENS_DISABLE=rss_percpu "$MEMLENS" doctor --json >"$tmp/norss.json"
if [ "$(jq -r .commands.top.ways.rss "$tmp/json")" = percpu_counter ]; then
	check "disable rss_percpu: top reduced, no layout known" jq_true \
		'.commands.top | .mode != "full" and .ways.rss == "none" and
		 any(.reasons[]; test("rss_stat in a layout"))' "$tmp/norss.json"
else
	check_eq "disable rss_percpu: top reads rss_stat as without" \
		"$(jq -r .commands.top.ways.rss "$tmp/json")" "$(jq -r .commands.top.ways.rss "$tmp/norss.json")"
fi

MEMLENS_DISABLE=memcg_v1 "$MEMLENS" doctor >"$tmp/nomemcg"
if [ "${want[memcg_v2]}" = no ]; then
	check "disable memcg_v1: reclaim has no memcg stalls" \
		grep -q '^reclaim: reduced: .*no memory cgroup controller: no memory cgroup reclaim stalls' \
		"$tmp/nomemcg"
else
	check "disable memcg_v1: reclaim has the v2 controller's stalls" \
		sh -c "! grep -q 'no memory cgroup reclaim stalls' '$tmp/nomemcg'"
fi
if [ "$(base kmem)" != unavailable ]; then
	check "disable memcg_v1: kmem --cgroup refused" \
		grep -q '^kmem: reduced: .*no cgroup v1 memory controller: --cgroup' "$tmp/nomemcg"
fi

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
		'[.programs[].mode] | unique == ["allocs-dwarf","allocs-fp","kmem","kmem-cache",
		  "kmem-kmalloc","leaks-dwarf","leaks-dwarf-sampled","leaks-fp","leaks-fp-sampled",
		  "reclaim","reclaim-stacks","top"]' "$out"
	check "$name: allocs' entry program is counted" jq_true \
		'any(.programs[]; .mode == "allocs-dwarf" and .program == "profile_enter")' "$out"
	check "$name: nothing refused, nothing over budget" jq_true \
		'.refused == 0 and .over_budget == 0 and .budget == 100000' "$out"
	check "$name: every program loaded, with its count" jq_true \
		'all(.programs[]; .error == null and .insns > 0 and .insns <= 100000)' "$out"
	# map_only_return where the kernel lacks BPF atomics.
	check "$name: alloc_return with the unwinder is counted" jq_true \
		'any(.programs[]; .mode == "leaks-dwarf" and
		     (.program == "alloc_return" or .program == "map_only_return"))' "$out"
}

verifier_budget "--verifier" MEMLENS_NOTHING=1
verifier_budget "--verifier as on 5.10" \
	MEMLENS_DISABLE=task_storage,task_btf,task_pt_regs,uprobe_multi,bpf_atomics
"$MEMLENS" doctor --verifier >"$tmp/verifier.txt"
# The uretprobe, or where the kernel has uprobe sessions (6.13+) the sampled session program.
check "--verifier: a table with the largest program named" \
	grep -Eq '^largest: (alloc_return|map_only_return|alloc_session) \(leaks-[a-z-]+\), [0-9]+ insns, [0-9.]+% of the verifier.s limit; budget 10%: 0 over, 0 refused$' \
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
