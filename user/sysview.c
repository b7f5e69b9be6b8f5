// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * System-wide session for memlens top and memlens hist. Hooks: allocator
 * uprobes on every distinct file in use that defines malloc (libc,
 * jemalloc, tcmalloc, static binaries; found in /proc/PID/maps of every
 * process, through /proc/PID/map_files so that those of other mount
 * namespaces count; new ones are hooked as they appear), memory syscall
 * tracepoints, page-fault perf events on every CPU, kmem:rss_stat.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocs.skel.h"
#include "bpf_compat.h"
#include "alloc_probes.h"
#include "alloc_threads.h"
#include "bpf_util.h"
#include "cli.h"
#include "procmaps.h"
#include "memcg.h"
#include "output.h"
#include "sysview.h"
#include "util.h"

#define CGROUP_SUPER_MAGIC 0x27e0eb
#define SYSTEM_WIDE_THREADS (64 * 1024)

/* A process that exited since the last interval: shown once more. */
struct exited_proc {
	uint32_t tgid;
	char comm[16];
};

/* The counters of a program a process ran before its exec: shown once. */
struct execed_proc {
	uint32_t tgid;
	struct proc_stats st;		/* st.comm: the old program's name */
};

struct sysview {
	const struct view_opts *opts;
	struct allocs_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link **fault_links;
	size_t nr_fault_links;
	struct alloc_hooks *hooks;		/* each allocator file once; -p: its own */
	uint8_t *seen_pids;			/* bitmap: maps already scanned */
	size_t seen_bytes;
	struct exited_proc *exited;
	size_t nr_exited, cap_exited;
	struct execed_proc *execed;
	size_t nr_execed, cap_execed;
	struct bpf_cost cost;			/* what the programs cost */
	uint64_t last_scan_ns;			/* /proc is read once per interval */
	struct error_key *err_keys;		/* the errors map as last sampled */
	uint64_t *err_counts;
	size_t nr_errs;
	uint64_t memcg;				/* --cgroup's id */
	struct pressure *pressure;		/* --reclaim */
	struct pressure_opts pressure_opts;
	struct alloc_threads said_threads;	/* as -v last said them */
	/* -p: the process exec'd; its new maps are looked at until settled. */
	bool follow_exec;
	bool thread_execed;			/* by another thread than the leader */
	uint64_t follow_until_ns;		/* or until then: it maps no allocator */
};

static int remember_execed(struct sysview *v, const struct exec_stats_event *x)
{
	struct execed_proc *p;

	if (array_grow((void **)&v->execed, v->nr_execed, &v->cap_execed, sizeof(*v->execed)))
		return -ENOMEM;
	p = &v->execed[v->nr_execed++];
	p->tgid = x->e.tgid;
	p->st = x->st;
	p->st.comm[sizeof(p->st.comm) - 1] = '\0';
	sanitize_name(p->st.comm);
	return 0;
}

/* How often and how long the maps of -p's process that exec'd are looked at. */
#define FOLLOW_EXEC_MS		5
#define FOLLOW_EXEC_FOR_NS	1000000000ULL

static int handle_event(void *ctx, void *data, size_t len)
{
	struct sysview *v = ctx;
	const struct event *e = data;

	if (len < sizeof(*e))
		return 0;
	if (e->type == EVENT_EXEC_STATS && len >= sizeof(struct exec_stats_event))
		return remember_execed(v, data);
	if (e->type == EVENT_EXEC && v->hooks && e->tgid == (uint32_t)v->opts->pid) {
		v->follow_exec = true;
		v->follow_until_ns = e->ts_ns + FOLLOW_EXEC_FOR_NS;
		if (e->flags & EVENT_F_THREAD_EXEC)
			v->thread_execed = true;
	} else if (e->type == EVENT_EXEC && e->tgid / 8 < v->seen_bytes) {
		/* Exec: it may map another allocator now. */
		v->seen_pids[e->tgid / 8] &= ~(1 << (e->tgid % 8));
	} else if (e->type == EVENT_EXIT && !sysview_exited(v, e->tgid)) {
		if (v->nr_exited == v->cap_exited) {
			size_t cap = v->cap_exited ? v->cap_exited * 2 : 64;
			struct exited_proc *x = realloc(v->exited, cap * sizeof(*x));

			if (!x)
				return -ENOMEM;
			v->exited = x;
			v->cap_exited = cap;
		}
		v->exited[v->nr_exited].tgid = e->tgid;
		memcpy(v->exited[v->nr_exited].comm, e->comm, sizeof(e->comm));
		v->exited[v->nr_exited].comm[sizeof(e->comm) - 1] = '\0';
		sanitize_name(v->exited[v->nr_exited].comm);
		v->nr_exited++;
	}
	return 0;
}

static int open_fault_event(uint64_t config, int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = config,
		.sample_period = 1,	/* every fault: counts are exact */
	};

	return syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Minor and major page-fault programs on every online CPU. */
static int attach_faults(struct sysview *v)
{
	static const uint64_t configs[] = { PERF_COUNT_SW_PAGE_FAULTS_MIN,
					    PERF_COUNT_SW_PAGE_FAULTS_MAJ };
	int ncpus = libbpf_num_possible_cpus();

	if (ncpus <= 0)
		return -EINVAL;
	v->fault_links = calloc(2 * ncpus, sizeof(*v->fault_links));
	if (!v->fault_links)
		return -ENOMEM;
	for (int cpu = 0; cpu < ncpus; cpu++) {
		for (int k = 0; k < 2; k++) {
			struct bpf_program *prog = k ? v->skel->progs.major_fault
						     : v->skel->progs.minor_fault;
			struct bpf_link *link;
			int fd = open_fault_event(configs[k], cpu);

			if (fd < 0 && errno == ENODEV)	/* CPU offline */
				continue;
			if (fd < 0) {
				error_msg("cannot open page-fault perf event on CPU %d: %s", cpu,
					  strerror(errno));
				return -errno;
			}
			link = bpf_program__attach_perf_event(prog, fd);
			if (!link) {
				int err = -errno;

				close(fd);
				error_msg("cannot attach page-fault program: %s", strerror(-err));
				return err;
			}
			v->fault_links[v->nr_fault_links++] = link;
		}
	}
	return 0;
}

/*
 * Hook the allocators PID maps that are not hooked yet. False if PID
 * should be looked at again: it has the dynamic loader mapped but no
 * allocator yet, as right after an exec.
 */
static bool hook_allocators_of(struct sysview *v, int pid)
{
	bool pending = false;

	/* Gone, or a kernel thread: settled. Errors are said, once an object. */
	if (alloc_hooks_scan(v->hooks, pid, &pending) < 0 && *alloc_hooks_error(v->hooks))
		error_msg("%s", alloc_hooks_error(v->hooks));
	return !pending;
}

static bool mark_seen(struct sysview *v, int pid)
{
	size_t byte = pid / 8;

	if (byte >= v->seen_bytes) {
		size_t n = (byte + 1) * 2;
		uint8_t *bits = realloc(v->seen_pids, n);

		if (!bits)
			return false;
		memset(bits + v->seen_bytes, 0, n - v->seen_bytes);
		v->seen_pids = bits;
		v->seen_bytes = n;
	}
	if (v->seen_pids[byte] & (1 << (pid % 8)))
		return false;
	v->seen_pids[byte] |= 1 << (pid % 8);
	return true;
}

/* Look at the maps of processes not seen before for allocators not hooked yet. */
static void scan_processes(struct sysview *v)
{
	struct dirent *de;
	DIR *dir = opendir("/proc");

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		int pid = atoi(de->d_name);

		if (pid > 0 && mark_seen(v, pid) && !hook_allocators_of(v, pid))
			v->seen_pids[pid / 8] &= ~(1 << (pid % 8));
	}
	closedir(dir);
}

/*
 * The allocators that define malloc: libc, jemalloc, tcmalloc, static
 * binaries. An operator new that calls malloc (libstdc++'s) needs no hook
 * of its own for counting: that would only double the cost of every new.
 */
static int attach_uprobes(struct sysview *v)
{
	int pid = v->opts->pid, n;

	/* One process: its own allocators, for it alone, like memlens leaks. */
	v->hooks = alloc_hooks_new(v->skel, pid ? pid : -1, false, ALLOC_DEFINES_MALLOC);
	if (!v->hooks)
		return -ENOMEM;
	if (!pid) {
		scan_processes(v);
		if (!alloc_hooks_count(v->hooks)) {
			error_msg("no process maps an allocator: nothing to hook (use --no-uprobes)");
			return -ENOENT;
		}
		return 0;
	}
	n = alloc_hooks_scan(v->hooks, pid, NULL);
	if (n < 0) {
		alloc_hooks_say_error(v->hooks, pid, n);
		return n;
	}
	if (!n) {
		error_msg("pid %d maps no allocator (no malloc symbol): use --no-uprobes", pid);
		return -ENOENT;
	}
	return 0;
}

static int load(struct sysview *v)
{
	const struct view_opts *o = v->opts;
	struct allocs_bpf *skel;
	uint32_t slots;
	int err;

	if (o->cgroup && memcg_resolve(o->cgroup, &v->memcg))
		return -ENOENT;
	if (thread_slots_from_env(&slots))
		return -EINVAL;
	skel = v->skel = allocs_bpf__open();
	if (!skel) {
		error_msg("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	skel_set_filters(skel, o->pid, o->comm, v->memcg);
	skel->rodata->capture_stacks = false;
	skel->rodata->track_mmaps = false;
	skel->rodata->proc_stats_on = true;
	skel->rodata->cost_on = v->opts->cost;
	allocs_compat_prepare(skel);
	allocs_thread_slots(skel, slots);
	alloc_probes_prepare(skel);
	/*
	 * Blocks of every process: those that exit with blocks still allocated
	 * (most do) would fill a plain hash for good. An LRU one evicts them;
	 * the frees of evicted blocks go uncounted (free_unknown).
	 */
	bpf_map__set_type(skel->maps.allocs, BPF_MAP_TYPE_LRU_HASH);
	bpf_map__set_max_entries(skel->maps.threads, SYSTEM_WIDE_THREADS);
	bpf_map__set_max_entries(skel->maps.syscalls, SYSTEM_WIDE_THREADS);
	/* Stacks are not taken here: keep their maps minimal. */
	bpf_map__set_max_entries(skel->maps.stacks, 1);
	err = skeleton_load_attach(skel->skeleton);
	if (err)
		return err;
	bpf_cost_init(&v->cost, bpf_map__fd(skel->maps.costs));
	return 0;
}

/* The reclaim tracer beside the allocation tracer, with the same filters. */
static int open_pressure(struct sysview *v)
{
	struct pressure_opts *po = &v->pressure_opts;

	po->pid = v->opts->pid;
	po->comm = v->opts->comm;
	po->memcg = v->memcg;
	/* top shows per-process counters: no episodes to group. */
	po->page_allocs = true;
	po->cost = v->opts->cost;
	return pressure_open(po, &v->pressure);
}

int sysview_open(struct view_opts *o, struct sysview **out)
{
	struct sysview *v;
	int err;

	if (check_privileges() || check_host_pids() || check_btf() || ensure_tracefs())
		return -EPERM;
	if (o->pid && (check_target_pid(&o->pid) ||
		       (!o->no_uprobes && check_user_memory(o->pid, "use --no-uprobes"))))
		return -ESRCH;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->opts = o;
	setup_libbpf_logging();
	catch_stop_signals();

	err = load(v);
	if (!err)
		err = attach_faults(v);
	if (!err && !o->no_uprobes)
		err = attach_uprobes(v);
	if (!err && o->reclaim)
		err = open_pressure(v);
	if (!err) {
		v->rb = ring_buffer__new(bpf_map__fd(v->skel->maps.events), handle_event, v, NULL);
		if (!v->rb)
			err = -errno;
	}
	if (err) {
		sysview_close(v);
		return err;
	}
	*out = v;
	return 0;
}

void sysview_close(struct sysview *v)
{
	if (!v)
		return;
	alloc_hooks_free(v->hooks);
	for (size_t i = 0; i < v->nr_fault_links; i++)
		bpf_link__destroy(v->fault_links[i]);
	pressure_close(v->pressure);
	ring_buffer__free(v->rb);
	allocs_bpf__destroy(v->skel);
	free(v->fault_links);
	free(v->err_keys);
	free(v->err_counts);
	free(v->seen_pids);
	free(v->exited);
	free(v->execed);
	free(v);
}

/*
 * -p's process exec'd: hook the allocators of the new image, which maps
 * them in the next milliseconds (it is not held), so that its row goes on
 * counting; until one is hooked, for a second at most. After an exec from
 * a thread other than the leader, the hooks it had are tied to the old
 * leader's task, gone: closed first (alloc_hooks_exec()), the new image's
 * made as for a new process. Closing takes some 100 ms, the screen waits.
 */
static void follow_exec(struct sysview *v)
{
	if (v->thread_execed) {
		alloc_hooks_exec(v->hooks);
		/* The second counts from now: closing may have taken more. */
		v->follow_until_ns = monotonic_ns() + FOLLOW_EXEC_FOR_NS;
	}
	v->thread_execed = false;
	v->follow_exec = !hook_allocators_of(v, v->opts->pid) &&
			 monotonic_ns() < v->follow_until_ns;
}

int sysview_poll(struct sysview *v, int timeout_ms, bool watch_stdin)
{
	struct pollfd fds[3] = {
		{ .fd = ring_buffer__epoll_fd(v->rb), .events = POLLIN },
		{ .fd = v->pressure ? pressure_fd(v->pressure) : -1, .events = POLLIN },
		{ .fd = watch_stdin ? STDIN_FILENO : -1, .events = POLLIN },
	};
	int n, err;

	if (v->follow_exec && timeout_ms > FOLLOW_EXEC_MS)
		timeout_ms = FOLLOW_EXEC_MS;
	n = output_poll(fds, 3, timeout_ms);
	if (n < 0)
		return n == -EINTR ? 0 : n;
	err = ring_buffer__consume(v->rb);
	if (err < 0)
		return err;
	if (v->pressure) {
		err = pressure_consume(v->pressure);
		if (err < 0)
			return err;
	}
	if (v->follow_exec)
		follow_exec(v);
	if (!v->opts->pid && !v->opts->no_uprobes &&
	    monotonic_ns() - v->last_scan_ns >= v->opts->interval_s * 1e9) {
		scan_processes(v);
		v->last_scan_ns = monotonic_ns();
	}
	return watch_stdin && (fds[2].revents & POLLIN) ? 1 : 0;
}

/* The whole errors map, once per sample: rows look their errors up in it. */
static void read_errors(struct sysview *v)
{
	int fd = bpf_map__fd(v->skel->maps.errors);
	struct error_key key, next;
	size_t cap = 0;
	int err;

	v->nr_errs = 0;
	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (v->nr_errs == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct error_key *k = realloc(v->err_keys, ncap * sizeof(*k));
			uint64_t *c;

			if (!k)
				return;
			v->err_keys = k;
			c = realloc(v->err_counts, ncap * sizeof(*c));
			if (!c)
				return;
			v->err_counts = c;
			cap = ncap;
		}
		if (bpf_map_lookup_elem(fd, &key, &v->err_counts[v->nr_errs]) == 0)
			v->err_keys[v->nr_errs++] = key;
	}
}

static int sample_cmp(const void *a, const void *b)
{
	const struct proc_sample *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

/*
 * Add the reclaim tracer's counters to the samples (sorted by tgid). A
 * process that stalled without being in the allocation maps (a kernel
 * thread, say) gets a row of its own; one that only allocated pages does not.
 */
static int join_pressure(struct sysview *v, struct proc_sample **s, size_t *nr, size_t *cap)
{
	struct pressure_proc *pp;
	size_t nr_pp, nr_alloc = *nr;
	int err;

	err = pressure_tick(v->pressure);
	if (!err)
		err = pressure_sample(v->pressure, &pp, &nr_pp);
	if (err)
		return err;
	for (size_t i = 0; i < nr_pp; i++) {
		struct proc_sample key = { .tgid = pp[i].tgid };
		struct proc_sample *cur = bsearch(&key, *s, nr_alloc, sizeof(key), sample_cmp);
		uint64_t stalls = 0;

		for (int k = 0; k < STALL_NR; k++)
			stalls += pp[i].stalls[k];
		/* Not in the allocation maps: shown if it stalled, while it lives. */
		if (!cur && ((!stalls && !pp[i].stall_in_progress_ns) ||
			     (kill(pp[i].tgid, 0) && errno == ESRCH)))
			continue;
		if (!cur) {
			if (array_grow((void **)s, *nr, cap, sizeof(**s))) {
				free(pp);
				return -ENOMEM;
			}
			cur = &(*s)[(*nr)++];
			memset(cur, 0, sizeof(*cur));
			cur->tgid = pp[i].tgid;
		}
		cur->pr = pp[i];
	}
	free(pp);
	qsort(*s, *nr, sizeof(**s), sample_cmp);
	return 0;
}

int sysview_sample(struct sysview *v, struct proc_sample **out, size_t *nr_out)
{
	int fd = bpf_map__fd(v->skel->maps.proc_stats);
	int rss_fd = bpf_map__fd(v->skel->maps.rss);
	struct proc_sample *s = NULL;
	struct proc_stats st;
	size_t nr = 0, cap = 0;
	uint32_t key, next;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		struct proc_sample *cur;

		key = next;
		if (bpf_map_lookup_elem(fd, &key, &st))
			continue;		/* deleted meanwhile */
		if (nr == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct proc_sample *ns = realloc(s, ncap * sizeof(*ns));

			if (!ns) {
				free(s);
				return -ENOMEM;
			}
			s = ns;
			cap = ncap;
		}
		cur = &s[nr++];
		memset(cur, 0, sizeof(*cur));
		cur->tgid = key;
		cur->st = st;
		cur->has_rss = bpf_map_lookup_elem(rss_fd, &key, &cur->rss) == 0;
	}
	if (nr)
		qsort(s, nr, sizeof(*s), sample_cmp);
	err = v->pressure ? join_pressure(v, &s, &nr, &cap) : 0;
	if (err) {
		free(s);
		return err;
	}
	read_errors(v);
	/*
	 * An exec the read already shows (its row begun anew) has the old
	 * program's counters in the ring buffer: taken now, so that this
	 * interval has both, not the new row against the old one's totals.
	 */
	ring_buffer__consume(v->rb);
	*out = s;
	*nr_out = nr;
	return 0;
}

bool sysview_pressure_totals(struct sysview *v, struct pressure_totals *t)
{
	if (!v->pressure)
		return false;
	pressure_totals(v->pressure, t);
	return true;
}

static const struct exited_proc *find_exited(const struct sysview *v, uint32_t tgid)
{
	for (size_t i = 0; i < v->nr_exited; i++)
		if (v->exited[i].tgid == tgid)
			return &v->exited[i];
	return NULL;
}

bool sysview_exited(const struct sysview *v, uint32_t tgid)
{
	return find_exited(v, tgid) != NULL;
}

bool sysview_target_gone(struct sysview *v)
{
	pid_t pid = v->opts->pid;

	if (!pid)
		return false;
	if (sysview_exited(v, pid))
		return true;
	if (!pid_gone(pid))
		return false;
	/* Reaped before its exit event was read: read it now. */
	ring_buffer__consume(v->rb);
	return true;
}

/* The command name of TGID, alive or exited since the last interval. */
static void sysview_comm(const struct sysview *v, uint32_t tgid, char comm[16])
{
	const struct exited_proc *x = find_exited(v, tgid);

	if (x)
		memcpy(comm, x->comm, 16);
	else if (read_comm(tgid, comm, 16))
		snprintf(comm, 16, "?");
}

void sysview_comm_of(void *ctx, uint32_t tgid, char comm[16])
{
	sysview_comm(ctx, tgid, comm);
}

static void forget_errors(struct sysview *v)
{
	int fd = bpf_map__fd(v->skel->maps.errors);
	struct error_key key, next, *doomed = NULL;
	size_t nr = 0;
	int err;

	for (err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		if (sysview_exited(v, key.tgid)) {
			struct error_key *d = realloc(doomed, (nr + 1) * sizeof(*d));

			if (!d)
				break;
			doomed = d;
			doomed[nr++] = key;
		}
	}
	for (size_t i = 0; i < nr; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	free(doomed);
}

void sysview_forget_exited(struct sysview *v)
{
	for (size_t i = 0; i < v->nr_exited; i++) {
		uint32_t tgid = v->exited[i].tgid;

		bpf_map_delete_elem(bpf_map__fd(v->skel->maps.proc_stats), &tgid);
		bpf_map_delete_elem(bpf_map__fd(v->skel->maps.rss), &tgid);
		for (uint32_t k = 0; k < HIST_NR; k++) {
			struct hist_key hk = { .tgid = tgid, .kind = k };

			bpf_map_delete_elem(bpf_map__fd(v->skel->maps.hists), &hk);
		}
		/* Its pid may be reused: look at the new process's maps. */
		if (tgid / 8 < v->seen_bytes)
			v->seen_pids[tgid / 8] &= ~(1 << (tgid % 8));
	}
	if (v->nr_exited)
		forget_errors(v);
	v->nr_exited = 0;
	v->nr_execed = 0;
}

size_t sysview_execed(const struct sysview *v, struct proc_sample *out, size_t max)
{
	size_t n = v->nr_execed < max ? v->nr_execed : max;

	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].tgid = v->execed[i].tgid;
		out[i].st = v->execed[i].st;
	}
	return n;
}

size_t sysview_nr_execed(const struct sysview *v)
{
	return v->nr_execed;
}

size_t sysview_errors(struct sysview *v, uint32_t tgid, struct error_key *keys,
		      uint64_t *counts, size_t max)
{
	size_t nr = 0;

	for (size_t i = 0; i < v->nr_errs && nr < max; i++) {
		if (v->err_keys[i].tgid != tgid)
			continue;
		keys[nr] = v->err_keys[i];
		counts[nr++] = v->err_counts[i];
	}
	return nr;
}

bool sysview_hist(struct sysview *v, uint32_t tgid, enum hist_kind kind, struct hist *h)
{
	struct hist_key key = { .tgid = tgid, .kind = kind };

	return bpf_map_lookup_elem(bpf_map__fd(v->skel->maps.hists), &key, h) == 0;
}

void sysview_stats(struct sysview *v, uint64_t stats[STAT_NR], uint64_t *bpf_ns)
{
	struct alloc_threads threads;

	percpu_array_sum(bpf_map__fd(v->skel->maps.stats), STAT_NR, stats);
	*bpf_ns = bpf_cost_ns(&v->cost);
	/* Read only to be said: no report counts them. */
	if (verbose) {
		alloc_threads_read(v->skel, NULL, &threads);
		alloc_threads_say(&threads, &v->said_threads);
	}
}
