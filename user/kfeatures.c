// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Kernel feature probes (kfeatures.h). Each loads the smallest program or
 * map that shows the feature, once, and closes it at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/mount.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"
#include "util.h"

/* A probe that has more to say fills DETAIL (kfeature_detail). */
struct kfeature_desc {
	const char *name;
	const char *since;
	bool (*probe)(void);
	bool (*probe_detail)(char *detail, size_t len);
};

#define DETAIL_LEN	128

static char details[KF_NR][DETAIL_LEN];

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

static bool probe_attach_cookie(void)
{
	return probe_helper(BPF_FUNC_get_attach_cookie);
}

/* A compare-and-swap on the stack: the verifier of 5.12 and later takes it. */
static bool probe_bpf_atomics(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		{ .code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = BPF_REG_10, .src_reg = BPF_REG_1,
		  .off = -8, .imm = BPF_CMPXCHG },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, NULL, "GPL", insns,
				 sizeof(insns) / sizeof(insns[0]), NULL);

	if (prog < 0)
		return false;
	close(prog);
	return true;
}

static bool probe_task_btf(void)
{
	return probe_helper(BPF_FUNC_get_current_task_btf);
}

static bool probe_task_pt_regs(void)
{
	return probe_helper(BPF_FUNC_task_pt_regs);
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

int uprobe_multi_link_create(int prog, enum bpf_attach_type type, const char *path,
			     const unsigned long *offsets, const __u64 *cookies, unsigned int cnt,
			     int pid)
{
	struct uprobe_multi_link_attr attr = {
		.prog_fd = prog,
		.attach_type = type,
		.path = (unsigned long)path,
		.offsets = (unsigned long)offsets,
		.cookies = (unsigned long)cookies,
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
	fd = uprobe_multi_link_create(prog, type, "/", &offset, NULL, 1, 0);
	if (fd >= 0)
		close(fd);
	if (fd == -EBADF) {
		fd = uprobe_multi_link_create(prog, type, "/", &offset, NULL, 1, -1);
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

static bool pmu_exists(const char *pmu)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/event_source/devices/%s/type", pmu);
	return access(path, R_OK) == 0;
}

static bool probe_uprobes(void)
{
	return pmu_exists("uprobe");
}

static bool probe_kprobes(char *detail, size_t len)
{
	if (pmu_exists("kprobe"))
		return true;
	snprintf(detail, len, "no kprobe PMU (CONFIG_KPROBES)");
	return false;
}

/*
 * One mount of /proc/self/mountinfo: its mount point and, after the
 * " - " separator, its type and super options. Escaped characters
 * (\040) stay escaped: the paths that matter here have none.
 */
struct mount_entry {
	char dir[256];
	char type[32];
	char opts[256];
};

static bool parse_mountinfo_line(const char *line, struct mount_entry *m)
{
	const char *sep = strstr(line, " - ");

	if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", m->dir) != 1)
		return false;
	return sscanf(sep + 3, "%31s %*s %255s", m->type, m->opts) == 2;
}

/* The first mount for which MATCH(m, ctx) holds, into *M: 0 or -ENOENT. */
static int find_mount(bool (*match)(const struct mount_entry *m, const void *ctx),
		      const void *ctx, struct mount_entry *m)
{
	char line[1024];
	int err = -ENOENT;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return -errno;
	while (err && fgets(line, sizeof(line), f))
		if (parse_mountinfo_line(line, m) && match(m, ctx))
			err = 0;
	fclose(f);
	return err;
}

/* Is WORD one of the comma-separated words of LIST? */
static bool has_word(const char *list, const char *word, const char *seps)
{
	size_t len = strlen(word);

	for (const char *p = list; *p; p += strcspn(p, seps)) {
		p += strspn(p, seps);
		if (!strncmp(p, word, len) && (!p[len] || strchr(seps, p[len])))
			return true;
	}
	return false;
}

static bool is_type(const struct mount_entry *m, const void *type)
{
	return !strcmp(m->type, type);
}

static bool is_memcg_v1(const struct mount_entry *m, const void *ctx)
{
	(void)ctx;
	return !strcmp(m->type, "cgroup") && has_word(m->opts, "memory", ",");
}

/* Is filesystem type NAME in /proc/filesystems: could it be mounted? */
static bool fs_known(const char *name)
{
	char line[128], type[64];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "nodev %63s", type) == 1 && !strcmp(type, name);
	fclose(f);
	return found;
}

/* memlens mounts tracefs when it has to (ensure_tracefs): mountable will do. */
static bool probe_tracefs(char *detail, size_t len)
{
	struct mount_entry m;

	if (!find_mount(is_type, "tracefs", &m)) {
		snprintf(detail, len, "mounted at %s", m.dir);
		return true;
	}
	if (fs_known("tracefs")) {
		snprintf(detail, len, "not mounted: memlens mounts it at /sys/kernel/tracing");
		return true;
	}
	snprintf(detail, len, "not in /proc/filesystems (CONFIG_TRACING)");
	return false;
}

static bool probe_memcg_v1(char *detail, size_t len)
{
	struct mount_entry m;

	if (find_mount(is_memcg_v1, NULL, &m))
		return false;
	snprintf(detail, len, "at %s", m.dir);
	return true;
}

static bool probe_memcg_v2(char *detail, size_t len)
{
	char path[300], line[512] = "";
	struct mount_entry m;
	FILE *f;

	if (find_mount(is_type, "cgroup2", &m)) {
		snprintf(detail, len, "no cgroup2 mounted");
		return false;
	}
	snprintf(path, sizeof(path), "%s/cgroup.controllers", m.dir);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	if (has_word(line, "memory", " \n")) {
		snprintf(detail, len, "at %s", m.dir);
		return true;
	}
	snprintf(detail, len, "not enabled in %s", m.dir);
	return false;
}

/* As top opens them: system-wide, on one CPU; disabled, closed at once. */
static bool probe_perf_sw(char *detail, size_t len)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_PAGE_FAULTS_MIN,
		.disabled = 1,
	};
	long fd = syscall(SYS_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);

	if (fd < 0) {
		snprintf(detail, len, "perf_event_open: %s", strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

/*
 * Kernel BTF, loaded once for the probes that look into it (a few MB,
 * tens of milliseconds); kfeatures_release() frees it.
 */
static struct btf *vmlinux_btf;

const struct btf *kvmlinux_btf(void)
{
	if (!vmlinux_btf && access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		vmlinux_btf = btf__load_vmlinux_btf();
	if (!vmlinux_btf || libbpf_get_error(vmlinux_btf)) {
		vmlinux_btf = NULL;
		return NULL;
	}
	return vmlinux_btf;
}

void kfeatures_release(void)
{
	btf__free(vmlinux_btf);
	vmlinux_btf = NULL;
}

bool ktracepoint_has(const char *name)
{
	const struct btf *btf = kvmlinux_btf();
	char type[128];

	if (!btf)
		return false;
	snprintf(type, sizeof(type), "btf_trace_%s", name);
	return btf__find_by_name_kind(btf, type, BTF_KIND_TYPEDEF) >= 0;
}

static bool probe_rss_stat(void)
{
	return ktracepoint_has("rss_stat");
}

/*
 * Member NAME of struct ID, looked for in its anonymous members too
 * (mm_struct keeps its fields in one): the member's type id or -ENOENT.
 */
static int member_type(const struct btf *btf, int id, const char *name)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *m;

	if (!t || !btf_is_composite(t))
		return -ENOENT;
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++) {
		const char *mname = btf__name_by_offset(btf, m->name_off);
		int found;

		if (mname && *mname) {
			if (!strcmp(mname, name))
				return m->type;
			continue;
		}
		found = member_type(btf, btf__resolve_type(btf, m->type), name);
		if (found >= 0)
			return found;
	}
	return -ENOENT;
}

/* The struct mm_struct.rss_stat is, or is an array of: its name or "". */
static const char *rss_stat_struct(void)
{
	const struct btf *btf = kvmlinux_btf();
	const struct btf_type *t;
	int mm, type;

	if (!btf)
		return "";
	mm = btf__find_by_name_kind(btf, "mm_struct", BTF_KIND_STRUCT);
	type = mm < 0 ? mm : member_type(btf, mm, "rss_stat");
	if (type < 0)
		return "";
	t = btf__type_by_id(btf, btf__resolve_type(btf, type));
	if (t && btf_is_array(t))
		t = btf__type_by_id(btf, btf__resolve_type(btf, btf_array(t)->type));
	if (!t || !btf_is_struct(t))
		return "";
	return btf__name_by_offset(btf, t->name_off);
}

static bool probe_rss_percpu(char *detail, size_t len)
{
	if (strcmp(rss_stat_struct(), "percpu_counter"))
		return false;
	snprintf(detail, len, "mm_struct.rss_stat: struct percpu_counter[]");
	return true;
}

static bool probe_rss_atomic(char *detail, size_t len)
{
	if (strcmp(rss_stat_struct(), "mm_rss_stat"))
		return false;
	snprintf(detail, len, "mm_struct.rss_stat: struct mm_rss_stat { atomic_long_t count[] }");
	return true;
}

/*
 * The one function fentry is tried on: bpf_fentry_test1 exists for BPF's
 * own tests (BPF_PROG_TEST_RUN) and nothing else calls it, so the
 * trampoline touches no path the host runs. Without it, fentry is not
 * tried anywhere else and counts as absent, its detail saying why.
 */
static bool probe_fentry(char *detail, size_t len)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, load, .expected_attach_type = BPF_TRACE_FENTRY);
	const struct btf *btf = kvmlinux_btf();
	int id, prog, link;

	id = btf ? btf__find_by_name_kind(btf, "bpf_fentry_test1", BTF_KIND_FUNC) : -ENOENT;
	if (id <= 0) {
		snprintf(detail, len, "unknown: no bpf_fentry_test1 in BTF to try it on");
		return false;
	}
	load.attach_btf_id = id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, NULL, "GPL", insns, 2, &load);
	if (prog < 0) {
		snprintf(detail, len, "load: %s", strerror(-prog));
		return false;
	}
	link = bpf_link_create(prog, 0, BPF_TRACE_FENTRY, NULL);
	close(prog);
	if (link < 0) {
		snprintf(detail, len, "attach: %s", strerror(-link));
		return false;
	}
	close(link);
	return true;
}

static const struct kfeature_desc features[KF_NR] = {
	[KF_BTF]		= { "btf", "5.4", probe_btf },
	[KF_RINGBUF]		= { "ringbuf", "5.8", probe_ringbuf },
	[KF_TASK_BTF]		= { "task_btf", "5.11", probe_task_btf },
	[KF_TASK_STORAGE]	= { "task_storage", "5.11", probe_task_storage },
	[KF_TASK_PT_REGS]	= { "task_pt_regs", "5.15", probe_task_pt_regs },
	[KF_UPROBE_MULTI]	= { "uprobe_multi", "6.6", probe_uprobe_multi },
	[KF_UPROBE_SESSION]	= { "uprobe_session", "6.13", probe_uprobe_session },
	[KF_UPROBES]		= { "uprobes", "4.17", probe_uprobes },
	[KF_TRACEFS]		= { "tracefs", "4.1", .probe_detail = probe_tracefs },
	[KF_MEMCG_V1]		= { "memcg_v1", "2.6.25", .probe_detail = probe_memcg_v1 },
	[KF_MEMCG_V2]		= { "memcg_v2", "4.5", .probe_detail = probe_memcg_v2 },
	[KF_PERF_SW]		= { "perf_sw", "2.6.31", .probe_detail = probe_perf_sw },
	[KF_KPROBES]		= { "kprobes", "4.17", .probe_detail = probe_kprobes },
	[KF_FENTRY]		= { "fentry", "5.5", .probe_detail = probe_fentry },
	[KF_RSS_STAT]		= { "rss_stat", "5.5", probe_rss_stat },
	[KF_RSS_PERCPU]		= { "rss_percpu", "6.2", .probe_detail = probe_rss_percpu },
	[KF_RSS_ATOMIC]		= { "rss_atomic", "2.6.34", .probe_detail = probe_rss_atomic },
	[KF_ATTACH_COOKIE]	= { "attach_cookie", "5.15", probe_attach_cookie },
	[KF_BPF_ATOMICS]	= { "bpf_atomics", "5.12", probe_bpf_atomics },
};

const char *kfeature_name(enum kfeature f)
{
	return f < KF_NR ? features[f].name : "?";
}

const char *kfeature_since(enum kfeature f)
{
	return f < KF_NR ? features[f].since : "?";
}

/*
 * MEMLENS_DISABLE, parsed once: the features it names. The text parsed is
 * kept and compared at each call (a getenv and a strcmp), so that a change
 * of the variable (the unit tests setenv between calls) is parsed again.
 * A word that names no feature is warned about when its text is parsed:
 * once, as the variable does not change in a run.
 */
static struct {
	bool parsed;
	char *text;		/* what was parsed; NULL: the variable was unset */
	bool off[KF_NR];
} disable;

static void parse_disable(const char *list)
{
	static const char seps[] = ", ";

	memset(disable.off, 0, sizeof(disable.off));
	free(disable.text);
	disable.text = list ? strdup(list) : NULL;
	disable.parsed = true;
	if (!list)
		return;
	for (const char *p = list + strspn(list, seps); *p; p += strspn(p, seps)) {
		size_t len = strcspn(p, seps);
		bool known = false;

		for (int f = 0; f < KF_NR; f++) {
			if (strlen(features[f].name) == len && !strncmp(p, features[f].name, len)) {
				disable.off[f] = true;
				known = true;
			}
		}
		if (!known)
			error_msg("MEMLENS_DISABLE names no feature '%.*s' (memlens doctor lists them)",
				  (int)len, p);
		p += len;
	}
}

bool kfeature_disabled(enum kfeature f)
{
	const char *list = getenv("MEMLENS_DISABLE");
	bool same = list ? disable.text && !strcmp(list, disable.text) : !disable.text;

	if (!disable.parsed || !same)
		parse_disable(list);
	return f < KF_NR && disable.off[f];
}

static bool run_probe(enum kfeature f)
{
	if (features[f].probe_detail)
		return features[f].probe_detail(details[f], DETAIL_LEN);
	return features[f].probe();
}

const char *kfeature_detail(enum kfeature f)
{
	if (f >= KF_NR)
		return "";
	if (kfeature_disabled(f))
		return "disabled by MEMLENS_DISABLE";
	return details[f];
}

bool kfeature_has(enum kfeature f)
{
	/* 0: not probed yet, 1: absent, 2: present. */
	static unsigned char cache[KF_NR];

	if (f >= KF_NR || kfeature_disabled(f))
		return false;
	if (!cache[f])
		cache[f] = run_probe(f) ? 2 : 1;
	return cache[f] == 2;
}

static const char *const lockdown_names[] = {
	[KLOCKDOWN_UNKNOWN] = "unknown",
	[KLOCKDOWN_NONE] = "none",
	[KLOCKDOWN_INTEGRITY] = "integrity",
	[KLOCKDOWN_CONFIDENTIALITY] = "confidentiality",
};

const char *klockdown_name(enum klockdown mode)
{
	return mode <= KLOCKDOWN_CONFIDENTIALITY ? lockdown_names[mode] : "unknown";
}

/*
 * securityfs/lockdown as an fd. Where securityfs is not mounted, a mount
 * of it that is never attached anywhere (fsopen, fsmount: 5.2): no mount
 * namespace sees it, and it is gone when its fd is closed.
 */
static int open_lockdown(void)
{
	int fd = open("/sys/kernel/security/lockdown", O_RDONLY | O_CLOEXEC);
	int fs, mnt;

	if (fd >= 0 || errno != ENOENT)
		return fd;
	fs = syscall(SYS_fsopen, "securityfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		close(fs);
		return -1;
	}
	mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY);
	close(fs);
	if (mnt < 0)
		return -1;
	fd = openat(mnt, "lockdown", O_RDONLY | O_CLOEXEC);
	close(mnt);
	return fd;
}

/* "none [integrity] confidentiality": the mode in brackets. */
static enum klockdown parse_lockdown(const char *text)
{
	for (int m = KLOCKDOWN_NONE; m <= KLOCKDOWN_CONFIDENTIALITY; m++) {
		char word[32];

		snprintf(word, sizeof(word), "[%s]", lockdown_names[m]);
		if (strstr(text, word))
			return m;
	}
	return KLOCKDOWN_UNKNOWN;
}

enum klockdown klockdown(void)
{
	static enum klockdown mode = KLOCKDOWN_UNKNOWN;
	static bool probed;
	char text[128];
	ssize_t n;
	int fd;

	if (probed)
		return mode;
	probed = true;
	fd = open_lockdown();
	if (fd < 0) {
		/* securityfs there but no lockdown file: no lockdown LSM. */
		if (errno == ENOENT)
			mode = KLOCKDOWN_NONE;
		return mode;
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n > 0) {
		text[n] = 0;
		mode = parse_lockdown(text);
	}
	return mode;
}

bool krelease_before(const char *release, const char *version)
{
	unsigned int rmaj, rmin, vmaj, vmin;

	if (sscanf(release, "%u.%u", &rmaj, &rmin) != 2 ||
	    sscanf(version, "%u.%u", &vmaj, &vmin) != 2)
		return false;
	return rmaj < vmaj || (rmaj == vmaj && rmin < vmin);
}
