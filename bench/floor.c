// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor of make bench: empty BPF programs (return 0) on uprobes, what
 * any tracer pays before doing anything. floor PID LIB SITE... attaches to
 * LIB for PID, at each SITE: OFFSET (an entry probe) or rOFFSET (a return
 * probe) or sOFFSET (a uprobe session whose entry returns 1: the return
 * skipped, as --sample-bytes does for a call it lets pass), file offsets
 * in hex; says "tracing pid PID" and waits for SIGINT or SIGTERM. One
 * uprobe_multi link per kind.
 * floor -t TP... attaches the empty program to raw tracepoints instead
 * (kmem_cache_alloc, kfree, ...), as memlens kmem does its own, and says
 * "tracing N raw tracepoints" on stderr; floor -s -t TP... with the
 * kernel's run-time statistics on (BPF_STATS_RUN_TIME), as memlens had
 * them before it timed its own programs (bpf/cost.bpf.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"

static void stop(int sig)
{
	(void)sig;
}

/* A program that returns RET at once, for links of attach type TYPE. */
static int empty_prog(enum bpf_attach_type type, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type);

	return bpf_prog_load(BPF_PROG_TYPE_KPROBE, "floor", "GPL", insns, 2, &opts);
}

/* Empty programs on raw tracepoints: the kernel's cost before any BPF work. */
static int raw_tp_floor(int argc, char **argv)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "floor_tp", "GPL", insns, 2, NULL);

	if (prog < 0) {
		fprintf(stderr, "floor: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		if (bpf_raw_tracepoint_open(argv[i], prog) < 0) {
			fprintf(stderr, "floor: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
	}
	fprintf(stderr, "tracing %d raw tracepoints\n", argc);
	signal(SIGINT, stop);
	signal(SIGTERM, stop);
	pause();
	return 0;
}

static int attach(int prog, const char *lib, unsigned long *offs, unsigned int n, int pid,
		  bool ret)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .uprobe_multi.path = lib,
		    .uprobe_multi.offsets = offs, .uprobe_multi.cnt = n,
		    .uprobe_multi.pid = pid, .uprobe_multi.flags = ret ? BPF_F_UPROBE_MULTI_RETURN : 0);

	if (!n)
		return 0;
	return bpf_link_create(prog, 0, BPF_TRACE_UPROBE_MULTI, &opts);
}

/* Sessions: a raw link (libbpf 1.4 knows none), of an entry that skips the return. */
static int attach_sessions(const char *lib, unsigned long *offs, unsigned int n, int pid)
{
	int prog;

	if (!n)
		return 0;
	prog = empty_prog(MEMLENS_TRACE_UPROBE_SESSION, 1);
	if (prog < 0)
		return prog;
	return uprobe_multi_link_create(prog, MEMLENS_TRACE_UPROBE_SESSION, lib, offs, NULL, n, pid);
}

int main(int argc, char **argv)
{
	unsigned long entries[64], returns[64], sessions[64];
	unsigned int ne = 0, nr = 0, ns = 0;
	int prog, pid;
	sigset_t set;

	if (argc > 3 && !strcmp(argv[1], "-s") && !strcmp(argv[2], "-t")) {
		if (bpf_enable_stats(BPF_STATS_RUN_TIME) < 0) {
			fprintf(stderr, "floor: statistics: %s\n", strerror(errno));
			return 1;
		}
		return raw_tp_floor(argc - 3, argv + 3);
	}
	if (argc > 2 && !strcmp(argv[1], "-t"))
		return raw_tp_floor(argc - 2, argv + 2);
	if (argc < 4) {
		fprintf(stderr, "usage: floor PID LIB [r|s]OFFSET... | floor [-s] -t TP...\n");
		return 2;
	}
	pid = atoi(argv[1]);
	for (int i = 3; i < argc && ne < 64 && nr < 64 && ns < 64; i++) {
		if (argv[i][0] == 'r')
			returns[nr++] = strtoul(argv[i] + 1, NULL, 16);
		else if (argv[i][0] == 's')
			sessions[ns++] = strtoul(argv[i] + 1, NULL, 16);
		else
			entries[ne++] = strtoul(argv[i], NULL, 16);
	}
	prog = empty_prog(BPF_TRACE_UPROBE_MULTI, 0);
	if (prog < 0 || attach(prog, argv[2], returns, nr, pid, true) < 0 ||
	    attach(prog, argv[2], entries, ne, pid, false) < 0 ||
	    attach_sessions(argv[2], sessions, ns, pid) < 0) {
		fprintf(stderr, "floor: %s\n", strerror(errno));
		return 1;
	}
	printf("tracing pid %d\n", pid);
	fflush(stdout);
	signal(SIGINT, stop);
	signal(SIGTERM, stop);
	sigemptyset(&set);
	pause();
	return 0;
}
