#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Fetch Debian's cloud kernels for the kernel matrix (tests/kernels.sh)
# without installing them: apt-get download and dpkg -x into a cache under
# build/kernels/, one directory per kernel, reused on the next run.
#
#   5.10  bullseye            linux-image-cloud-amd64
#   6.1   bookworm            linux-image-cloud-amd64
#   6.12  bookworm-backports  linux-image-cloud-amd64
#
# Each suite gets a private apt configuration (its own sources list, lists
# and cache under build/kernels/apt/SUITE), so the host's apt sources are
# neither read nor changed. Every network step is bounded: apt's own
# timeout and retries, and timeout(1) around it (FETCH_TIMEOUT seconds,
# 300). Prints the package of each kernel, cached or fetched: the
# metapackage's current ABI changes with Debian's point releases. A kernel
# that cannot be fetched gets one line on stderr naming it and the step,
# the same line in CACHE_DIR/NAME.fetch-error (tests/kernels.sh shows it),
# and the exit code is 1; the others are still fetched.
# Usage: scripts/fetch-kernels.sh [CACHE_DIR]   (default build/kernels)
set -u

cache=${1:-build/kernels}
mkdir -p "$cache" || exit 1
cache=$(cd "$cache" && pwd) || exit 1
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=http://deb.debian.org/debian
limit=${FETCH_TIMEOUT:-300}
failed=0

# run LOG CMD...: CMD with its output into LOG; its exit code into rc.
run() {
	log=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	return $rc
}

# fail NAME STEP: the one line saying why NAME was not fetched, from the
# last run's exit code and LOG: apt's first warning or error, else its
# last line.
fail() {
	why=$(grep -m 1 '^[WE]:' "$log" 2>/dev/null || tail -n 1 "$log" 2>/dev/null)
	[ "$rc" = 124 ] && why="timed out after $limit s"
	echo "fetch-kernels: $1: $2 failed${why:+: $why}" | tr -d '\r' |
		tee "$cache/$1.fetch-error" >&2
	return 1
}

# fetch NAME SUITE: the kernel of SUITE's cloud metapackage into $cache/NAME.
# Each step is checked: set -e does nothing in a function called with ||.
fetch() {
	name=$1 suite=$2
	dir=$cache/$name
	apt=$cache/apt/$suite
	if [ -s "$dir/vmlinuz" ]; then
		rm -f "$cache/$name.fetch-error"
		echo "fetch-kernels: $name: $(cat "$dir/version" 2>/dev/null || echo "version unknown") (cached)"
		return 0
	fi
	run "$cache/$name.fetch.log" mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" \
		"$apt/deb" "$apt/empty" || { fail "$name" "mkdir $apt"; return 1; }
	echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
	set -- -q -o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts="$apt/empty" \
		-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
		-o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts="$apt/empty" \
		-o Acquire::Languages=none -o APT::Sandbox::User=root \
		-o Acquire::http::Timeout=30 -o Acquire::Retries=2
	echo "fetch-kernels: $name: apt-get update ($suite)"
	run "$apt/update.log" timeout -k 10 "$limit" apt-get "$@" update ||
		{ fail "$name" "apt-get update ($suite)"; return 1; }
	# The metapackage names the current ABI's image. apt-get update
	# ignores an index it could not fetch (a warning, exit 0): then
	# there is no image, and update.log's first warning says why.
	image=$(apt-cache "$@" depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
	if [ -z "$image" ]; then
		rc=1
		fail "$name" "apt-cache depends linux-image-cloud-amd64 ($suite)"
		return 1
	fi
	version=$(apt-cache "$@" policy "$image" | sed -n 's/^ *Candidate: //p')
	echo "fetch-kernels: $name: $image $version"
	rm -f "$apt/deb"/*.deb
	run "$apt/download.log" timeout -k 10 "$limit" \
		sh -c 'cd "$1" && shift && exec apt-get "$@" download "$0"' "$image" "$apt/deb" "$@" ||
		{ fail "$name" "apt-get download $image"; return 1; }
	rm -rf "$dir.tmp"
	log=$cache/$name.fetch.log
	run "$log" mkdir -p "$dir.tmp/root" || { fail "$name" "mkdir $dir.tmp"; return 1; }
	run "$log" dpkg -x "$apt/deb"/*.deb "$dir.tmp/root" ||
		{ fail "$name" "dpkg -x $image"; return 1; }
	run "$log" cp "$dir.tmp/root"/boot/vmlinuz-* "$dir.tmp/vmlinuz" ||
		{ fail "$name" "cp vmlinuz from $image"; return 1; }
	run "$log" cp "$dir.tmp/root"/boot/config-* "$dir.tmp/config" ||
		{ fail "$name" "cp config from $image"; return 1; }
	echo "$image $version" >"$dir.tmp/version"
	rm -rf "$dir.tmp/root" "$apt/deb"/*.deb "$dir"
	run "$log" mv "$dir.tmp" "$dir" || { fail "$name" "mv $dir.tmp $dir"; return 1; }
	rm -f "$cache/$name.fetch-error" "$log"
}

fetch 5.10 bullseye || failed=1
fetch 6.1 bookworm || failed=1
fetch 6.12 bookworm-backports || failed=1
exit $failed
