// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * handoff MODE PID LIB OFFSET [FREE]: attach bench/handoff.bpf.c's programs
 * for MODE at the function at OFFSET (hex, a file offset) of LIB in PID,
 * say "tracing pid PID", and wait for SIGINT or SIGTERM (FREE, bare's
 * alone, is free's probe site):
 *   map      an entry and a return probe, the value in a per-thread map
 *   slot     the same, the value in a thread slot (an array element)
 *   task     the same, the value in task storage
 *   pair     an entry and a return probe whose programs do nothing
 *   cookie   a uprobe session, the value in its cookie
 *   session  a uprobe session whose program does nothing
 *   bare     the least an exact leak tracer does: the thread slot's entry
 *            and return, the return putting the block in a small table,
 *            and an entry probe at FREE taking it out
 * Sessions are attached with a raw BPF_LINK_CREATE (libbpf 1.4 has no
 * uprobe.session), as memlens does (kfeatures.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "handoff.skel.h"
#include "kfeatures.h"

static void stop(int sig)
{
	(void)sig;
}

/* Load only PROG (and PROG2 and PROG3, if any) of SKEL. */
static int load_only(struct handoff_bpf *skel, struct bpf_program *prog, struct bpf_program *prog2,
		     struct bpf_program *prog3)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == prog || p == prog2 || p == prog3);
	return handoff_bpf__load(skel);
}

/* PROG at OFF of LIB in PID: an entry probe, or a return probe if RET. */
static int attach_at(struct bpf_program *prog, const char *lib, unsigned long off, int pid,
		     bool ret)
{
	LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = &off, .cnt = 1, .retprobe = ret);

	return bpf_program__attach_uprobe_multi(prog, pid, lib, NULL, &opts) ? 0 : -errno;
}

/* ENTER and RET as an entry and a return probe. */
static int attach_pair(struct handoff_bpf *skel, struct bpf_program *enter, struct bpf_program *ret,
		       const char *lib, unsigned long off, int pid)
{
	int err = load_only(skel, enter, ret, NULL);

	if (!err)
		err = attach_at(enter, lib, off, pid, false);
	if (!err)
		err = attach_at(ret, lib, off, pid, true);
	return err;
}

/* The bare tracer: slot_enter and bare_return at OFF, bare_free at FREE_OFF. */
static int attach_bare(struct handoff_bpf *skel, const char *lib, unsigned long off,
		       unsigned long free_off, int pid)
{
	int err = load_only(skel, skel->progs.slot_enter, skel->progs.bare_return,
			    skel->progs.bare_free);

	if (!err)
		err = attach_at(skel->progs.slot_enter, lib, off, pid, false);
	if (!err)
		err = attach_at(skel->progs.bare_return, lib, off, pid, true);
	if (!err)
		err = attach_at(skel->progs.bare_free, lib, free_off, pid, false);
	return err;
}

static int attach(const char *mode, struct handoff_bpf *skel, const char *lib,
		  unsigned long off, unsigned long free_off, int pid)
{
	struct bpf_program *prog;
	int err;

	if (!strcmp(mode, "bare"))
		return attach_bare(skel, lib, off, free_off, pid);
	if (!strcmp(mode, "map"))
		return attach_pair(skel, skel->progs.map_enter, skel->progs.map_return, lib, off, pid);
	if (!strcmp(mode, "task"))
		return attach_pair(skel, skel->progs.task_enter, skel->progs.task_return, lib, off, pid);
	if (!strcmp(mode, "slot"))
		return attach_pair(skel, skel->progs.slot_enter, skel->progs.slot_return, lib, off, pid);
	if (!strcmp(mode, "pair"))
		return attach_pair(skel, skel->progs.empty_enter, skel->progs.empty_return, lib, off, pid);
	if (!strcmp(mode, "cookie"))
		prog = skel->progs.cookie_session;
	else if (!strcmp(mode, "session"))
		prog = skel->progs.empty_session;
	else
		return -EINVAL;
	bpf_program__set_expected_attach_type(prog, MEMLENS_TRACE_UPROBE_SESSION);
	err = load_only(skel, prog, NULL, NULL);
	if (err)
		return err;
	err = uprobe_multi_link_create(bpf_program__fd(prog), MEMLENS_TRACE_UPROBE_SESSION, lib,
				       &off, NULL, 1, pid);
	return err < 0 ? err : 0;
}

int main(int argc, char **argv)
{
	struct handoff_bpf *skel;
	bool bare = argc > 1 && !strcmp(argv[1], "bare");
	int pid, err;

	if (argc != (bare ? 6 : 5)) {
		fprintf(stderr, "usage: handoff map|slot|task|pair|cookie|session PID LIB OFFSET\n"
				"       handoff bare PID LIB OFFSET FREE\n");
		return 2;
	}
	pid = atoi(argv[2]);
	skel = handoff_bpf__open();
	if (!skel) {
		fprintf(stderr, "handoff: open: %s\n", strerror(errno));
		return 1;
	}
	err = attach(argv[1], skel, argv[3], strtoul(argv[4], NULL, 16),
		     bare ? strtoul(argv[5], NULL, 16) : 0, pid);
	if (err) {
		fprintf(stderr, "handoff: %s: %s\n", argv[1], strerror(-err));
		return 1;
	}
	printf("tracing pid %d\n", pid);
	fflush(stdout);
	signal(SIGINT, stop);
	signal(SIGTERM, stop);
	pause();
	handoff_bpf__destroy(skel);
	return 0;
}
