# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make          build ./memlens (BPF objects embedded through skeletons)
# make static   build/memlens-static: one fully static binary to copy to a host
# make demo     install what is missing, build, show memlens leaks on a leaky demo
# make check    install what is missing, build, run unit and end-to-end tests
#               and the kernel matrix (every suite tests/run.sh lists)
# make e2e      the end-to-end suites only (tests/run.sh --e2e)
# make check-kernels  only the kernel matrix: Debian's 5.10, 6.1 and 6.12
#               under QEMU, and the host (tests/kernels.sh)
# make bench    overhead of memlens leaks vs. untraced and vs. bpftrace; leaks --scan speed
# make bench-unwind  the DWARF unwinder vs. the frame-pointer walk, per malloc+free
# make deps     install build and test dependencies (Debian 12, idempotent)
# make vmlinux  regenerate vmlinux/$(ARCH)/vmlinux.h from this kernel's BTF
# make install  [PREFIX=/usr/local] [DESTDIR=]: memlens, its man pages and
#               bash completion; make uninstall removes exactly those
# make man      the man pages, from doc/*.md, into build/man/
# make deb      build/deb/memlens_VERSION_amd64.deb (debian/, dpkg-buildpackage)

OUTPUT   := build
# CC and CXX are make's own (cc and g++, Debian's alternatives pick gcc), as
# libbpf-tools leaves them: `CC ?= gcc` would never apply, since make
# defines CC itself. `make CC=clang` or CC in the environment still wins.
# rustc from PATH, else from rustup's default place in this user's home;
# none at all fails the build of the Rust workload.
RUSTC    ?= $(firstword $(shell command -v rustc) $(wildcard $(HOME)/.cargo/bin/rustc) rustc)
LIBDIR   := /usr/lib/$(shell $(CC) -print-multiarch)
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# CFLAGS is the user's (make CFLAGS=-O0); ALL_CFLAGS adds what the sources
# need whatever it says, so every compile rule uses ALL_CFLAGS.
CFLAGS   ?= -O2 -g
ALL_CFLAGS := $(CPPFLAGS) $(CFLAGS) -Wall -Wextra -std=gnu11 -D_GNU_SOURCE
INCLUDES := -Iinclude -Iuser -I$(OUTPUT)
# libbpf is linked statically so that the binary carries the libbpf it was
# built with (1.4 from backports), not whatever the target host has.
# libiberty (the demangler) is a static library only.
LDLIBS   := -Wl,-Bstatic -lbpf -liberty -Wl,-Bdynamic -lelf -ldw -lz -lm

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall \
	      -Ivmlinux/$(ARCH) -Iinclude

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
LIB_SRCS  := $(filter-out user/memlens.c,$(wildcard user/*.c))
LIB_OBJS  := $(patsubst user/%.c,$(OUTPUT)/%.o,$(LIB_SRCS))
# pprof output: protobuf-c code generated from proto/profile.proto, and
# libprotobuf-c linked statically like libbpf.
PROTOC_C  ?= protoc-c
PROTO_GEN := $(OUTPUT)/profile.pb-c.c $(OUTPUT)/profile.pb-c.h
LIB_OBJS  += $(OUTPUT)/profile.pb-c.o
LDLIBS    += -Wl,-Bstatic -lprotobuf-c -Wl,-Bdynamic

# Test workloads: frame pointers everywhere so the leak stacks are exact.
WORKLOAD_CFLAGS := -O1 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
		   -fno-inline -fno-optimize-sibling-calls -fno-builtin -Wall -Wextra -pthread

.PHONY: all deps vmlinux check unit e2e demo bench bench-unwind clean static kernels check-kernels \
	man install uninstall deb
.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS) $(PROTO_GEN)
MAKEFLAGS += --no-print-directory

# The binary: ./memlens; the package build makes its own (debian/rules).
BIN ?= memlens

all: $(BIN)

deps:
	@./scripts/install-deps.sh

vmlinux:
	./scripts/gen-vmlinux.sh $(ARCH)

$(OUTPUT):
	mkdir -p $@

# The flags every object is built with: the file changes when they do, and
# objects depend on it, so `make CFLAGS=-O0` rebuilds them all. Written as
# make reads this file, not by a rule, so that `make -q` and `make -n`
# see an up-to-date tree as one.
FLAGS_LINE := $(CC) $(ALL_CFLAGS) $(INCLUDES) $(LDLIBS) | $(CLANG) $(BPF_CFLAGS)
FLAGS_QUOTED := '$(subst ','\'',$(FLAGS_LINE))'
$(shell mkdir -p $(OUTPUT) && printf '%s\n' $(FLAGS_QUOTED) | cmp -s - $(OUTPUT)/cflags || \
	printf '%s\n' $(FLAGS_QUOTED) >$(OUTPUT)/cflags)

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/*.bpf.h include/*.h vmlinux/$(ARCH)/vmlinux.h $(OUTPUT)/cflags | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/%.o: user/%.c user/*.h include/*.h $(SKELS) $(OUTPUT)/cflags | $(OUTPUT)
	$(CC) $(ALL_CFLAGS) $(INCLUDES) -c $< -o $@

# What each raw_tp program reads, in vmlinux.h's types: the table the
# tracepoint guard compares with the running kernel (user/tpguard.c).
$(OUTPUT)/tp_args.h: scripts/gen-tp-args.sh $(BPF_SRCS) vmlinux/$(ARCH)/vmlinux.h | $(OUTPUT)
	./scripts/gen-tp-args.sh vmlinux/$(ARCH)/vmlinux.h $(BPF_SRCS) >$@

$(OUTPUT)/tpguard.o: $(OUTPUT)/tp_args.h

# One pattern rule with two targets: protoc-c runs once for both.
$(OUTPUT)/%.pb-c.c $(OUTPUT)/%.pb-c.h: proto/%.proto | $(OUTPUT)
	$(PROTOC_C) --proto_path=proto --c_out=$(OUTPUT) $<

$(OUTPUT)/%.pb-c.o: $(OUTPUT)/%.pb-c.c $(OUTPUT)/%.pb-c.h $(OUTPUT)/cflags
	$(CC) $(ALL_CFLAGS) -I$(OUTPUT) -c $< -o $@

$(OUTPUT)/pprof.o: $(OUTPUT)/profile.pb-c.h
$(OUTPUT)/unit_tests: $(OUTPUT)/profile.pb-c.h

# LDFLAGS and CPPFLAGS are the user's too: dpkg-buildflags' hardening.
$(BIN): $(OUTPUT)/memlens.o $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Everything static, glibc too: one file that runs on any x86_64 Linux with
# BTF. pkg-config names what libdw.a and libelf.a need (bz2, lzma, zlib).
# The linker's two warnings are expected: dlopen (libdw's debuginfod
# client, which stays off) and getaddrinfo (--prom with a host name needs
# the host's NSS modules of the same glibc; numeric addresses always work).
STATIC_LDLIBS := -lbpf -liberty -lprotobuf-c \
		 $(shell pkg-config --static --libs libdw libelf zlib 2>/dev/null || \
			 echo -ldw -lelf -lbz2 -llzma -lz -lpthread) -lm

static: $(OUTPUT)/memlens-static

$(OUTPUT)/memlens-static: $(OUTPUT)/memlens.o $(LIB_OBJS)
	$(CC) $(ALL_CFLAGS) -static $^ $(STATIC_LDLIBS) -o $@

# --- tests -------------------------------------------------------------

$(OUTPUT)/unit_tests: tests/unit/*.c tests/unit/*.h $(LIB_OBJS) $(OUTPUT)/unwind_sample.so \
		      $(OUTPUT)/unwind_sample_nocfi.so $(OUTPUT)/cxx_sample.so $(OUTPUT)/cflags | $(OUTPUT)
	$(CC) $(ALL_CFLAGS) -fno-omit-frame-pointer $(INCLUDES) -Itests/unit \
		$(filter %.c,$^) $(LIB_OBJS) $(LDLIBS) -o $@

# Known CFI for the unwind table tests, and the same code without any.
$(OUTPUT)/unwind_sample.so: tests/unit/unwind_sample.S | $(OUTPUT)
	$(CC) -shared -nostdlib $< -o $@

$(OUTPUT)/cxx_sample.so: tests/unit/cxx_sample.S | $(OUTPUT)
	$(CC) -shared -nostdlib $< -o $@

$(OUTPUT)/unwind_sample_nocfi.so: $(OUTPUT)/unwind_sample.so
	objcopy --remove-section .eh_frame --remove-section .eh_frame_hdr $< $@

$(OUTPUT)/leaky: tests/workloads/leaky.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/reach_graphs: tests/workloads/reach_graphs.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

# The unwinder's test: the same program without and with frame pointers.
$(OUTPUT)/unwind_leak: tests/workloads/unwind_leak.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) -fomit-frame-pointer -momit-leaf-frame-pointer $(filter %.c,$^) -o $@

$(OUTPUT)/unwind_leak_fp: tests/workloads/unwind_leak.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

# -O2 without frame pointers, rbp holding pointers to data: what the
# frame-pointer walk reads for frames there must be cut (e2e-stacks.sh).
$(OUTPUT)/rbp_leak: tests/workloads/rbp_leak.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) -O2 -g -fomit-frame-pointer -momit-leaf-frame-pointer -fno-builtin -Wall -Wextra \
		$(filter %.c,$^) -o $@

$(OUTPUT)/libdso_leak.so: tests/workloads/dso_leak.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) -shared -fPIC $< -o $@

$(OUTPUT)/libdso_leak_nofp.so: tests/workloads/dso_leak.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) -fomit-frame-pointer -momit-leaf-frame-pointer -shared -fPIC $< -o $@

# One allocator built with and without CET (endbr64 first in every function).
$(OUTPUT)/libcet_alloc.so: tests/workloads/cet_alloc.c | $(OUTPUT)
	$(CC) -O2 -g -fcf-protection=full -Wall -Wextra -shared -fPIC $< -o $@

$(OUTPUT)/libnocet_alloc.so: tests/workloads/cet_alloc.c | $(OUTPUT)
	$(CC) -O2 -g -fcf-protection=none -Wall -Wextra -shared -fPIC $< -o $@

# Tail jumps between allocator functions (e2e-allocs-c.sh): clang's, through
# the PLT, one that never pushes; gcc's -fno-plt, through GOT slots; and an
# interposer of malloc alone.
$(OUTPUT)/libbump_alloc.so: tests/workloads/bump_alloc.c | $(OUTPUT)
	$(CLANG) -O2 -g -Wall -Wextra -shared -fPIC $< -o $@

$(OUTPUT)/libbump_alloc_noplt.so: tests/workloads/bump_alloc.c | $(OUTPUT)
	$(CC) -O2 -g -fno-plt -Wall -Wextra -shared -fPIC $< -o $@

$(OUTPUT)/libinterpose_malloc.so: tests/workloads/interpose_malloc.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC $< -o $@

# A malloc left by siglongjmp() from a signal handler, then new calls from
# the caller's frame at the same stack pointer (e2e-probes.sh).
$(OUTPUT)/libsignal_alloc.so: tests/workloads/signal_alloc.c tests/workloads/bump_alloc.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra -shared -fPIC $< -o $@

$(OUTPUT)/lost_return: tests/workloads/lost_return.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

# Blocks kept past the table of recent blocks, then freed (e2e-leaks.sh).
$(OUTPUT)/table_evict: tests/workloads/table_evict.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/allocs_tails: tests/workloads/allocs_tails.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/dlopen_exit: tests/workloads/dlopen_exit.c $(OUTPUT)/libdso_leak.so | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -ldl -o $@

# What a held command sees: threads in blocking calls, signal handlers (e2e-holds.sh).
$(OUTPUT)/hold_observer: tests/workloads/hold_observer.c tests/workloads/handshake.h \
			 $(OUTPUT)/libdso_leak.so $(OUTPUT)/libdso_leak_nofp.so | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -ldl -o $@

$(OUTPUT)/exec_after_alloc: tests/workloads/exec_after_alloc.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/main_exits: tests/workloads/main_exits.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -ldl -o $@

$(OUTPUT)/map_calls: tests/workloads/map_calls.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

# Inlining on, for the lines of inlined code.
$(OUTPUT)/inline_leak: tests/workloads/inline_leak.c | $(OUTPUT)
	$(CC) -O2 -g -fno-omit-frame-pointer -Wall -Wextra $< -o $@

$(OUTPUT)/sampled_leak: tests/workloads/sampled_leak.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/stack_churn: tests/workloads/stack_churn.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $(filter %.c,$^) -o $@

$(OUTPUT)/memops: tests/workloads/memops.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/free_old: tests/workloads/free_old.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/kmemload: tests/workloads/kmemload.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra $< -o $@

$(OUTPUT)/pressure: tests/workloads/pressure.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra $< -o $@

$(OUTPUT)/stallwork: tests/workloads/stallwork.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $< -o $@

# Stripped: a static binary without symbols, where no allocator can be found.
$(OUTPUT)/static_wait: tests/workloads/static_wait.c | $(OUTPUT)
	$(CC) -O2 -static -s $< -o $@

# The C++ leaks under each allocator: libstdc++ on glibc (and preloaded
# jemalloc or tcmalloc), jemalloc and tcmalloc linked, everything static.
CXXLEAK_SRC := tests/workloads/cxxleak.cpp tests/workloads/handshake.h

$(OUTPUT)/cxxleak: $(CXXLEAK_SRC) | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/cxxleak_jemalloc: $(CXXLEAK_SRC) | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -Wl,--no-as-needed $(LIBDIR)/libjemalloc.so.2 -o $@

$(OUTPUT)/cxxleak_tcmalloc: $(CXXLEAK_SRC) | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -Wl,--no-as-needed $(LIBDIR)/libtcmalloc_minimal.so.4 -o $@

$(OUTPUT)/cxxleak_static: $(CXXLEAK_SRC) | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) -static $< -o $@

# An allocator of its own with an entry point memlens does not hook.
$(OUTPUT)/unseen_free: tests/workloads/unseen_free.c | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) -fno-builtin $< -o $@

# A malloc'd block held only by an object of jemalloc's new, which memlens does not follow.
$(OUTPUT)/held_by_new: tests/workloads/held_by_new.cpp | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -Wl,--no-as-needed $(LIBDIR)/libjemalloc.so.2 -o $@

# jemalloc's own API: mallocx, rallocx, dallocx, sdallocx.
$(OUTPUT)/jemalloc_api: tests/workloads/jemalloc_api.c tests/workloads/handshake.h | $(OUTPUT)
	$(CC) $(WORKLOAD_CFLAGS) $(filter %.c,$^) -Wl,--no-as-needed $(LIBDIR)/libjemalloc.so.2 -o $@

# Every variant of operator new failing, and leaks through aligned new.
$(OUTPUT)/cxx_throw: tests/workloads/cxx_throw.cpp | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -o $@

# A plugin with an operator new of its own, dlopen'd after the program's first news.
$(OUTPUT)/libcxx_plugin.so: tests/workloads/cxx_plugin.cpp | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) -shared -fPIC -static-libstdc++ -Wl,-Bsymbolic $< -o $@

$(OUTPUT)/cxx_dlopen: tests/workloads/cxx_dlopen.cpp $(OUTPUT)/libcxx_plugin.so | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -ldl -o $@

$(OUTPUT)/allocs_known: tests/workloads/allocs_known.cpp | $(OUTPUT)
	$(CXX) $(WORKLOAD_CFLAGS) $< -o $@

$(OUTPUT)/rustleak: tests/workloads/rustleak.rs | $(OUTPUT)
	MAKEFLAGS= $(RUSTC) --edition 2021 -C opt-level=1 -C force-frame-pointers=yes -g $< -o $@

# The recording reader under libFuzzer, with ASan and UBSan (tests/fuzz.sh).
FUZZ_SRCS := user/cli.c user/recfile.c user/stack_report.c user/output.c user/alloc_stats.c user/pprof.c user/flameset.c user/flamegraph.c \
	     user/sampling.c user/util.c user/stall_report.c user/reach_report.c user/reachability.c user/suppress.c \
	     $(OUTPUT)/profile.pb-c.c
# Its own optimisation (-O1, as libFuzzer advises), the required flags of all.
$(OUTPUT)/fuzz_recording: tests/fuzz/fuzz_recording.c user/report.c $(FUZZ_SRCS) user/*.h \
			  include/*.h $(OUTPUT)/profile.pb-c.h $(OUTPUT)/cflags | $(OUTPUT)
	$(CLANG) $(ALL_CFLAGS) -O1 -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(INCLUDES) \
		$< $(FUZZ_SRCS) -lprotobuf-c -lbpf -lelf -lz -lm -o $@

unit: $(OUTPUT)/unit_tests
	$(OUTPUT)/unit_tests

E2E_DEPS := memlens $(OUTPUT)/fuzz_recording $(OUTPUT)/leaky $(OUTPUT)/static_wait $(OUTPUT)/dlopen_exit $(OUTPUT)/memops \
	    $(OUTPUT)/table_evict \
	    $(OUTPUT)/exec_after_alloc $(OUTPUT)/main_exits $(OUTPUT)/map_calls $(OUTPUT)/inline_leak $(OUTPUT)/pressure $(OUTPUT)/kmemload $(OUTPUT)/floor \
	    $(OUTPUT)/unwind_leak $(OUTPUT)/unwind_leak_fp $(OUTPUT)/libdso_leak_nofp.so \
	    $(OUTPUT)/rbp_leak \
	    $(OUTPUT)/cxxleak $(OUTPUT)/cxxleak_jemalloc $(OUTPUT)/cxxleak_tcmalloc \
	    $(OUTPUT)/cxxleak_static $(OUTPUT)/rustleak $(OUTPUT)/allocs_known $(OUTPUT)/cxx_throw \
	    $(OUTPUT)/cxx_dlopen \
	    $(OUTPUT)/held_by_new $(OUTPUT)/unseen_free $(OUTPUT)/free_old \
	    $(OUTPUT)/jemalloc_api \
	    $(OUTPUT)/sampled_leak $(OUTPUT)/stack_churn $(OUTPUT)/hold_observer \
	    $(OUTPUT)/reach_graphs \
	    $(OUTPUT)/stallwork \
	    $(OUTPUT)/libcet_alloc.so $(OUTPUT)/libnocet_alloc.so \
	    $(OUTPUT)/libbump_alloc.so $(OUTPUT)/libbump_alloc_noplt.so \
	    $(OUTPUT)/libinterpose_malloc.so $(OUTPUT)/allocs_tails \
	    $(OUTPUT)/libsignal_alloc.so $(OUTPUT)/lost_return

# The suites and their order are tests/run.sh's (make check runs them all).
e2e: $(E2E_DEPS)
	./tests/run.sh --e2e

# The kernel matrix: the static binary and the workloads go into each
# guest's initramfs. The kernels are fetched once, into build/kernels/.
KERNELS_DEPS := $(OUTPUT)/memlens-static $(OUTPUT)/leaky $(OUTPUT)/memops $(OUTPUT)/pressure \
		$(OUTPUT)/kmemload

kernels: | $(OUTPUT)
	./scripts/fetch-kernels.sh $(OUTPUT)/kernels

check-kernels: deps
	$(MAKE) $(KERNELS_DEPS) kernels
	./tests/kernels.sh

# make check does not fetch the kernels first: tests/kernels.sh does, and
# one it cannot fetch fails its row only, not every suite.
check: deps
	$(MAKE) $(OUTPUT)/unit_tests $(E2E_DEPS) $(KERNELS_DEPS)
	./tests/run.sh

demo: deps
	$(MAKE) memlens $(OUTPUT)/leaky
	./scripts/demo.sh

# --- benchmark ---------------------------------------------------------

$(OUTPUT)/mallocbench: bench/mallocbench.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra $< -o $@

# Frame pointers: the frame-pointer walk sees the same frames as the unwinder.
$(OUTPUT)/unwindbench: bench/unwindbench.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra -fno-omit-frame-pointer $< -o $@

$(OUTPUT)/syscallbench: bench/syscallbench.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra $< -o $@

$(OUTPUT)/faultbench: bench/faultbench.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra $< -o $@

$(OUTPUT)/fsbench: bench/fsbench.c | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra $< -o $@

$(OUTPUT)/newbench: bench/newbench.cpp | $(OUTPUT)
	$(CXX) -O2 -g -Wall -Wextra $< -o $@

# Empty programs on the probe sites: what any uprobe tracer pays at least.
$(OUTPUT)/floor: bench/floor.c $(OUTPUT)/kfeatures.o $(OUTPUT)/util.o | $(OUTPUT)
	$(CC) -O2 -g -Wall -Wextra -Iuser $< $(OUTPUT)/kfeatures.o $(OUTPUT)/util.o $(LDLIBS) -o $@

# A value from entry to return: per-thread map against a session's cookie.
$(OUTPUT)/handoff.bpf.o: bench/handoff.bpf.c vmlinux/$(ARCH)/vmlinux.h | $(OUTPUT)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/handoff: bench/handoff.c $(OUTPUT)/handoff.skel.h $(OUTPUT)/kfeatures.o $(OUTPUT)/util.o
	$(CC) -O2 -g -Wall -Wextra -I$(OUTPUT) -Iuser $< $(OUTPUT)/kfeatures.o $(OUTPUT)/util.o \
		$(LDLIBS) -o $@

bench: deps
	$(MAKE) memlens $(OUTPUT)/mallocbench $(OUTPUT)/syscallbench $(OUTPUT)/faultbench \
		$(OUTPUT)/fsbench $(OUTPUT)/reach_graphs $(OUTPUT)/newbench $(OUTPUT)/floor \
		$(OUTPUT)/handoff $(OUTPUT)/libcet_alloc.so $(OUTPUT)/libnocet_alloc.so
	./bench/run.sh
	./bench/scan.sh

# The unwinder against the frame-pointer walk, per malloc+free pair.
bench-unwind: deps
	$(MAKE) memlens $(OUTPUT)/unwindbench
	./bench/unwind.sh

# --- install, man pages, package ---------------------------------------

PREFIX      ?= /usr/local
SBINDIR     := $(PREFIX)/sbin
MAN8DIR     := $(PREFIX)/share/man/man8
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
VERSION     := $(shell sed -n 's/^\#define MEMLENS_VERSION "\(.*\)"$$/\1/p' user/util.h)
# memlens(8) from doc/memlens.md, memlens-CMD(8) from each command's page.
MAN_PAGES   := $(patsubst doc/%.md,$(OUTPUT)/man/%.8,$(wildcard doc/memlens.md doc/memlens-*.md))

man: $(MAN_PAGES)

$(OUTPUT)/man/%.8: doc/%.md scripts/gen-man.pl user/memlens.c
	@mkdir -p $(@D)
	./scripts/gen-man.pl $< $(VERSION) >$@

install: $(BIN) $(MAN_PAGES)
	install -D -m 755 $(BIN) $(DESTDIR)$(SBINDIR)/memlens
	install -d $(DESTDIR)$(MAN8DIR)
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(MAN8DIR)/
	install -D -m 644 completion/memlens $(DESTDIR)$(BASHCOMPDIR)/memlens

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/memlens $(DESTDIR)$(BASHCOMPDIR)/memlens \
		$(addprefix $(DESTDIR)$(MAN8DIR)/,$(notdir $(MAN_PAGES)))

# dpkg-buildpackage with debian/: debhelper builds (objects in
# build/debian/) and installs with PREFIX=/usr, Depends from the binary's
# libraries (dh_shlibdeps). The .deb, .buildinfo and .changes go to
# build/deb/, not to the parent directory; -nc: no `debian/rules clean`
# first. What debhelper leaves in debian/ is removed after.
DEB_LEFT := debian/.debhelper debian/memlens debian/files debian/*.substvars \
	    debian/debhelper-build-stamp debian/*.debhelper.log
deb:
	mkdir -p $(OUTPUT)/deb
	dpkg-buildpackage -b -us -uc -nc --buildinfo-option=-u$(OUTPUT)/deb \
		--buildinfo-file=$(OUTPUT)/deb/memlens_$(VERSION)_amd64.buildinfo \
		--changes-option=-u$(OUTPUT)/deb \
		--changes-file=$(OUTPUT)/deb/memlens_$(VERSION)_amd64.changes; \
	status=$$?; rm -rf $(DEB_LEFT); exit $$status

clean:
	rm -rf $(OUTPUT) memlens
