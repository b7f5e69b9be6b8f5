// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The floor of make bench: empty BPF programs (return 0) on uprobes, what
 * any tracer pays before doing anything. floor PID LIB SITE... attaches to
 * LIB for PID, at each SITE: OFFSET (an entry probe) or rOFFSET (a return
 * probe), file offsets in hex; says "tracing pid PID" and waits for
 * SIGINT or SIGTERM. One uprobe_multi link per kind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static int empty_prog(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_UPROBE_MULTI);

	return bpf_prog_load(BPF_PROG_TYPE_KPROBE, "floor", "GPL", insns, 2, &opts);
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

static void stop(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	unsigned long entries[64], returns[64];
	unsigned int ne = 0, nr = 0;
	int prog, pid;
	sigset_t set;

	if (argc < 4) {
		fprintf(stderr, "usage: floor PID LIB [r]OFFSET...\n");
		return 2;
	}
	pid = atoi(argv[1]);
	for (int i = 3; i < argc && ne < 64 && nr < 64; i++) {
		if (argv[i][0] == 'r')
			returns[nr++] = strtoul(argv[i] + 1, NULL, 16);
		else
			entries[ne++] = strtoul(argv[i], NULL, 16);
	}
	prog = empty_prog();
	if (prog < 0 || attach(prog, argv[2], returns, nr, pid, true) < 0 ||
	    attach(prog, argv[2], entries, ne, pid, false) < 0) {
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
