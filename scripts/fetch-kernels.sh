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
# neither read nor changed. Prints nothing for a kernel already cached.
# Usage: scripts/fetch-kernels.sh [CACHE_DIR]   (default build/kernels)
set -eu

cache=${1:-build/kernels}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
mirror=http://deb.debian.org/debian
failed=0

# fetch NAME SUITE: the kernel of SUITE's cloud metapackage into $cache/NAME.
fetch() {
	name=$1 suite=$2
	dir=$cache/$name
	[ -s "$dir/vmlinuz" ] && return 0
	apt=$cache/apt/$suite
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/deb" "$apt/empty"
	echo "deb [signed-by=$keyring] $mirror $suite main" >"$apt/sources.list"
	set -- -q -o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts="$apt/empty" \
		-o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
		-o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts="$apt/empty" \
		-o Acquire::Languages=none -o APT::Sandbox::User=root
	echo "fetch-kernels: $name: apt-get update ($suite)"
	apt-get "$@" update >"$apt/update.log" 2>&1 || {
		echo "fetch-kernels: $name: apt-get update failed:" >&2
		tail -n 3 "$apt/update.log" >&2
		return 1
	}
	# The metapackage names the current ABI's image.
	image=$(apt-cache "$@" depends linux-image-cloud-amd64 |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
	if [ -z "$image" ]; then
		echo "fetch-kernels: $name: no linux-image-*-cloud-amd64 in $suite" >&2
		return 1
	fi
	version=$(apt-cache "$@" policy "$image" | sed -n 's/^ *Candidate: //p')
	echo "fetch-kernels: $name: $image $version"
	rm -f "$apt/deb"/*.deb
	(cd "$apt/deb" && apt-get "$@" download "$image") >"$apt/download.log" 2>&1 || {
		echo "fetch-kernels: $name: apt-get download $image failed:" >&2
		tail -n 3 "$apt/download.log" >&2
		return 1
	}
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	dpkg -x "$apt/deb"/*.deb "$dir.tmp/root"
	cp "$dir.tmp/root"/boot/vmlinuz-* "$dir.tmp/vmlinuz"
	cp "$dir.tmp/root"/boot/config-* "$dir.tmp/config"
	echo "$image $version" >"$dir.tmp/version"
	rm -rf "$dir.tmp/root" "$apt/deb"/*.deb "$dir"
	mv "$dir.tmp" "$dir"
}

fetch 5.10 bullseye || failed=1
fetch 6.1 bookworm || failed=1
fetch 6.12 bookworm-backports || failed=1
exit $failed
