#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make deb, and the package installed on this machine as a user installs
# it: apt-get install ./memlens_VERSION_amd64.deb; /usr/sbin/memlens
# doctor and leaks give what the tree's binary gives; apt-get purge
# leaves no file of it. The package is removed on failure too. A memlens
# package or a /usr/sbin/memlens already there is left alone: the suite
# fails without touching them. Needs root, apt, debhelper, lintian.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

version=$(./memlens --version | awk '{print $2}')
deb=build/deb/memlens_${version}_amd64.deb
installed_by_us=
# Written before the install, removed after the purge: a run killed with
# SIGKILL (no trap runs) leaves it, and the next run purges what that one
# installed instead of refusing to run ever after.
marker=/var/tmp/memlens-deb-test.installed

purge() {
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q memlens >/dev/null 2>&1 ||
		dpkg --purge memlens >/dev/null 2>&1
}

suite_cleanup() {
	if [ -n "$installed_by_us" ] && dpkg -s memlens >/dev/null 2>&1; then
		purge
	fi
	[ -n "$installed_by_us" ] && ! dpkg -s memlens >/dev/null 2>&1 && rm -f "$marker"
}
# Killed, the EXIT trap still runs: the package goes.
trap 'exit 143' TERM INT HUP

# Addresses, ages, stack ids, times and pids: what differs from run to run;
# and a stack's classes: a word left over in the program's memory can keep
# one of leaky's blocks reachable in one run and not in the next
# (tests/e2e-reachable.sh asserts the classes, on graphs built not to).
normalize() {
	sed -E -e 's/0x[0-9a-f]{16} //' -e 's/oldest [0-9.]+s ago, stack [0-9a-f]+/oldest -/' \
		-e 's/^([0-9]+ bytes in [0-9]+ allocations, oldest -): .*/\1/' \
		-e 's/^== [0-9:]+ UTC pid [0-9]+/== pid/' -e 's/pid [0-9]+/pid N/g'
}

# src_line PATTERN: the line of leaky.c that PATTERN (grep's) is on.
src_line() {
	grep -n -m1 -- "$1" tests/workloads/leaky.c | cut -d: -f1
}

# leaks of build/leaky by BIN: its totals and each group's size, sorted
# (which thread the loader's allocations come from differs by run).
leaks_of() {
	timeout -k 5 120 "$1" leaks -- "$LEAKY" 2>&1 | normalize |
		grep -E '^(== pid|[0-9]+ bytes in|process exited)' | LC_ALL=C sort
}

if [ -e "$marker" ] && dpkg -s memlens >/dev/null 2>&1; then
	echo "# a killed run of this suite left its package installed: purged"
	purge
fi
rm -f "$marker"
if dpkg -s memlens >/dev/null 2>&1 || [ -e /usr/sbin/memlens ]; then
	not_ok "a memlens package or /usr/sbin/memlens is here already: not touched, nothing tested"
	echo "deb: $pass passed, $fail failed"
	exit 1
fi

make -s deb >"$tmp/deb.log" 2>&1
check_eq "make deb: exit 0" 0 $?
check "make deb: $deb" test -f "$deb"
check_eq "make deb: nothing left in the parent directory" "" \
	"$(ls ../memlens_* 2>/dev/null)"
check_eq "make deb: debhelper's files in debian/ removed" "" \
	"$(git status --porcelain --ignored -- debian)"
check_eq "the package: Depends from the binary's libraries (dh_shlibdeps)" \
	"libc6 (>= 2.34), libdw1 (>= 0.159), libelf1 (>= 0.144), zlib1g (>= 1:1.2.3.3)" \
	"$(dpkg-deb -f "$deb" Depends)"
check_eq "the package: name, version, architecture, section" "memlens $version amd64 admin" \
	"$(dpkg-deb -f "$deb" Package Version Architecture Section | awk '{print $2}' | xargs)"
lintian "$deb" >"$tmp/lintian.log" 2>&1
check_eq "lintian: no error and no warning" "" "$(grep -E '^[EW]: ' "$tmp/lintian.log")"

installed_by_us=1
: >"$marker"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$deb" >"$tmp/apt.log" 2>&1
check_eq "apt-get install ./$deb: exit 0" 0 $?
check_eq "dpkg: memlens $version installed" "install ok installed $version" \
	"$(dpkg-query -W -f '${Status} ${Version}' memlens 2>&1)"
files=$(dpkg -L memlens | while read -r f; do [ -d "$f" ] || echo "$f"; done | LC_ALL=C sort)
check_eq "dpkg -L: the binary, a man page each, the completion, the docs" \
	"/usr/sbin/memlens
/usr/share/bash-completion/completions/memlens
/usr/share/doc/memlens/README.md.gz
/usr/share/doc/memlens/changelog.gz
/usr/share/doc/memlens/copyright
/usr/share/doc/memlens/install.md
/usr/share/doc/memlens/internals.md.gz
/usr/share/doc/memlens/recording.md.gz
$(for c in memlens-allocs memlens-doctor memlens-hist memlens-kmem memlens-leaks \
	memlens-reclaim memlens-record memlens-report memlens-top memlens; do
	echo "/usr/share/man/man8/$c.8.gz"; done)" "$files"
check_eq "man -w memlens-leaks: the installed page" "/usr/share/man/man8/memlens-leaks.8.gz" \
	"$(man -w memlens-leaks 2>&1)"
check_eq "/usr/sbin/memlens --version" "memlens $version" "$(/usr/sbin/memlens --version)"
check_eq "/usr/sbin/memlens doctor: what ./memlens doctor says" "$(./memlens doctor 2>&1)" \
	"$(/usr/sbin/memlens doctor 2>&1)"
leaks=$(leaks_of /usr/sbin/memlens)
check_eq "/usr/sbin/memlens leaks: leak_here's 7 x 4096 bytes, exact stack" \
	"28672 bytes in 7 allocations, oldest -
	#0  leak_here+0x18 ($LEAKY) tests/workloads/leaky.c:$(src_line 'touch(malloc(4096), 4096);')
	#1  worker_a+0x1e ($LEAKY) tests/workloads/leaky.c:$(src_line '^	leak_here();')" \
	"$(timeout -k 5 120 /usr/sbin/memlens leaks -- "$LEAKY" 2>&1 | normalize |
		grep -A2 '^28672 bytes')"
check_eq "/usr/sbin/memlens leaks: the totals and groups of ./memlens leaks" \
	"$(leaks_of ./memlens)" "$leaks"

DEBIAN_FRONTEND=noninteractive apt-get purge -y -q memlens >"$tmp/purge.log" 2>&1
check_eq "apt-get purge memlens: exit 0" 0 $?
check_eq "dpkg -L memlens: not installed" "dpkg-query: package 'memlens' is not installed" \
	"$(dpkg -L memlens 2>&1 | head -n 1)"
left=$(for f in $files; do [ -e "$f" ] && echo "$f"; done)
check_eq "no file of the package left" "" "$left"
check "no /usr/share/doc/memlens left" test ! -e /usr/share/doc/memlens

echo "deb: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
