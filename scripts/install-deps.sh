#!/bin/sh
# Install what memlens needs to build and test on Debian 12, idempotently.
# libbpf-dev and bpftool come from bookworm-backports: stable's libbpf 1.1
# lacks BPF_UPROBE/BPF_URETPROBE and uprobe_multi. So does qemu-system-x86
# for the kernel matrix: bookworm's QEMU 7.2 double-faults 6.12 guests.
set -eu

BACKPORTS_LIST=/etc/apt/sources.list.d/memlens-bookworm-backports.sources
# liblzma-dev and libbz2-dev: what libdw.a needs for make static; go-md2man: make man.
BUILD_PKGS="make gcc clang llvm libelf-dev zlib1g-dev libdw-dev pkg-config protobuf-c-compiler
libprotobuf-c-dev libiberty-dev liblzma-dev libbz2-dev go-md2man"
# libc6-dbg: glibc's own function names in stacks (tests/e2e-unwind.sh asserts them).
# valgrind: the reachability scan's classes against memcheck's (tests/e2e-reachable.sh).
# strace: a process traced already, which a scan cannot seize (tests/e2e-reachable.sh).
# prometheus: a real server scrapes top --prom, promtool checks it (tests/e2e-tools.sh).
# debhelper, lintian: make deb and its check (tests/deb.sh).
TEST_PKGS="bpftrace procps jq util-linux tmux chromium python3 golang-go curl libclang-rt-14-dev
libc6-dbg g++ libjemalloc2 libtcmalloc-minimal4 busybox-static debian-archive-keyring man-db
prometheus debhelper lintian valgrind strace"
BACKPORTS_PKGS="libbpf-dev bpftool qemu-system-x86"

have_backports() {
	grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
}

libbpf_ok() {
	# libbpf >= 1.4 and bpftool >= 7.5 are what we build against.
	pkg-config --atleast-version=1.4.0 libbpf 2>/dev/null || return 1
	command -v bpftool >/dev/null 2>&1 || return 1
}

qemu_ok() {
	# QEMU >= 10 (bookworm-backports) boots 6.12 guests under TCG.
	v=$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge 1:10
}

missing_pkgs() {
	# One dpkg-query for all of them (make check and make demo run this
	# every time): a package it does not know is left out of its output.
	installed=" $(dpkg-query -W -f='${Package} ${Status}\n' $BUILD_PKGS $TEST_PKGS 2>/dev/null |
		sed -n 's/ install ok installed$//p' | tr '\n' ' ')"
	for p in $BUILD_PKGS $TEST_PKGS; do
		case "$installed" in
		*" $p "*) ;;
		*) printf '%s ' "$p" ;;
		esac
	done
}

# Nothing to do, nothing said: the usual case, checked first and cheaply.
missing=$(missing_pkgs)
if [ -z "$missing" ] && libbpf_ok && qemu_ok; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: must run as root (apt-get); missing: ${missing:-libbpf, bpftool or qemu}" >&2
	exit 1
fi

if ! have_backports; then
	echo "install-deps: adding bookworm-backports to apt sources"
	cat >"$BACKPORTS_LIST" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $BUILD_PKGS $TEST_PKGS
apt-get install -y -q --no-install-recommends -t bookworm-backports $BACKPORTS_PKGS
libbpf_ok || { echo "install-deps: libbpf >= 1.4 or bpftool still missing" >&2; exit 1; }
qemu_ok || { echo "install-deps: qemu-system-x86 >= 10 still missing" >&2; exit 1; }
echo "install-deps: done"
