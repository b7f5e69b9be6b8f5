#!/bin/sh
# Regenerate vmlinux/ARCH/vmlinux.h from the running kernel's BTF.
# CO-RE relocations make one header good for other kernels too; remake it
# only to reach types or fields this kernel's header lacks.
set -eu
arch=${1:-$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')}
btf=${BTF:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen-vmlinux: no BTF at $btf" >&2; exit 1; }
mkdir -p "vmlinux/$arch"
bpftool btf dump file "$btf" format c > "vmlinux/$arch/vmlinux.h.tmp"
mv "vmlinux/$arch/vmlinux.h.tmp" "vmlinux/$arch/vmlinux.h"
echo "gen-vmlinux: wrote vmlinux/$arch/vmlinux.h from $btf ($(uname -r))"
