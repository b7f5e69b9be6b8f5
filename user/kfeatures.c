// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Kernel feature probes (kfeatures.h). Each loads the smallest program or
 * map that shows the feature, once, and closes it at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"

/* Not in libbpf 1.4's UAPI copy: uprobe_multi sessions (Linux 6.13). */
#define MEMLENS_TRACE_UPROBE_SESSION	57

struct kfeature_desc {
	const char *name;
	const char *since;
	bool (*probe)(void);
};

static bool probe_btf(void)
{
	return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

static bool probe_map(enum bpf_map_type type)
{
	return libbpf_probe_bpf_map_type(type, NULL) == 1;
}

static bool probe_ringbuf(void)
{
	return probe_map(BPF_MAP_TYPE_RINGBUF);
}

static bool probe_task_storage(void)
{
	return probe_map(BPF_MAP_TYPE_TASK_STORAGE);
}

static bool probe_helper(enum bpf_func_id id)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, id, NULL) == 1;
}

static bool probe_task_btf(void)
{
	return probe_helper(BPF_FUNC_get_current_task_btf);
}

static bool probe_task_pt_regs(void)
{
	return probe_helper(BPF_FUNC_task_pt_regs);
}

static bool probe_bpf_loop(void)
{
	return probe_helper(BPF_FUNC_loop);
}

/*
 * BPF_LINK_CREATE for a uprobe_multi-type link, by hand: libbpf 1.4 fills
 * the uprobe_multi fields for BPF_TRACE_UPROBE_MULTI only, not sessions.
 * The layout is the kernel's union bpf_attr.link_create.
 */
struct uprobe_multi_link_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 um_flags;
	__u32 pid;
	__u32 pad;
};

static int uprobe_multi_link_create(int prog, enum bpf_attach_type type, const char *path,
				    const unsigned long *offsets, unsigned int cnt, int pid)
{
	struct uprobe_multi_link_attr attr = {
		.prog_fd = prog,
		.attach_type = type,
		.path = (unsigned long)path,
		.offsets = (unsigned long)offsets,
		.cnt = cnt,
		.pid = pid,
	};
	long fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));

	return fd < 0 ? -errno : (int)fd;
}

/*
 * A uprobe_multi link on a directory: a kernel that knows the attach type
 * fails with EBADF on the path; one that does not fails on the type.
 * The first kernels with uprobe_multi filtered by thread, not process, and
 * -p needs the process: only those that refuse an invalid pid at once
 * (EINVAL; the old ones look for it, ESRCH) count, as in libbpf.
 */
static bool probe_uprobe_link(enum bpf_attach_type type)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, load, .expected_attach_type = type);
	unsigned long offset = 0;
	int prog, fd;
	bool ok = false;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns, 2, &load);
	if (prog < 0)
		return false;
	fd = uprobe_multi_link_create(prog, type, "/", &offset, 1, 0);
	if (fd >= 0)
		close(fd);
	if (fd == -EBADF) {
		fd = uprobe_multi_link_create(prog, type, "/", &offset, 1, -1);
		if (fd >= 0)
			close(fd);
		ok = fd == -EINVAL;
	}
	close(prog);
	return ok;
}

static bool probe_uprobe_multi(void)
{
	return probe_uprobe_link(BPF_TRACE_UPROBE_MULTI);
}

static bool probe_uprobe_session(void)
{
	return probe_uprobe_link(MEMLENS_TRACE_UPROBE_SESSION);
}

static const struct kfeature_desc features[KF_NR] = {
	[KF_BTF]		= { "btf", "5.4", probe_btf },
	[KF_RINGBUF]		= { "ringbuf", "5.8", probe_ringbuf },
	[KF_TASK_BTF]		= { "task_btf", "5.11", probe_task_btf },
	[KF_TASK_STORAGE]	= { "task_storage", "5.11", probe_task_storage },
	[KF_TASK_PT_REGS]	= { "task_pt_regs", "5.15", probe_task_pt_regs },
	[KF_BPF_LOOP]		= { "bpf_loop", "5.17", probe_bpf_loop },
	[KF_UPROBE_MULTI]	= { "uprobe_multi", "6.6", probe_uprobe_multi },
	[KF_UPROBE_SESSION]	= { "uprobe_session", "6.13", probe_uprobe_session },
};

const char *kfeature_name(enum kfeature f)
{
	return f < KF_NR ? features[f].name : "?";
}

const char *kfeature_since(enum kfeature f)
{
	return f < KF_NR ? features[f].since : "?";
}

bool kfeature_disabled(enum kfeature f)
{
	const char *list = getenv("MEMLENS_DISABLE");
	size_t len;

	if (!list || f >= KF_NR)
		return false;
	len = strlen(features[f].name);
	for (const char *p = list; *p; p += strcspn(p, ",")) {
		p += strspn(p, ", ");
		if (!strncmp(p, features[f].name, len) && (p[len] == ',' || !p[len]))
			return true;
	}
	return false;
}

bool kfeature_has(enum kfeature f)
{
	/* 0: not probed yet, 1: absent, 2: present. */
	static unsigned char cache[KF_NR];

	if (f >= KF_NR || kfeature_disabled(f))
		return false;
	if (!cache[f])
		cache[f] = features[f].probe() ? 2 : 1;
	return cache[f] == 2;
}
