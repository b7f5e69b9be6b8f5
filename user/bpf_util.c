// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Small helpers over libbpf shared by the subcommands. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "bpf_util.h"
#include "tpguard.h"
#include "util.h"

int percpu_lookup_sum(int fd, const void *key, uint64_t *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	*sum = 0;
	if (ncpus <= 0)
		return -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, vals))
		err = -errno;
	for (int c = 0; !err && c < ncpus; c++)
		*sum += vals[c];
	free(vals);
	return err;
}

int percpu_array_sum(int fd, uint32_t nr, uint64_t *out)
{
	for (uint32_t k = 0; k < nr; k++) {
		int err = percpu_lookup_sum(fd, &k, &out[k]);

		if (err && err != -ENOENT)
			return err;
	}
	return 0;
}

int skip_unusable_tracepoints(struct bpf_object *obj, char *not_traced, size_t len)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct tp_skips s;
	int err;

	not_traced[0] = 0;
	if (!btf) {
		err = -errno;
		error_msg("cannot read kernel BTF: %s", strerror(-err));
		return err;
	}
	err = tp_guard(obj, btf, &s);
	btf__free(btf);
	if (err) {
		error_msg("cannot check the tracepoints' arguments: %s", strerror(-err));
		return err;
	}
	snprintf(not_traced, len, "%s", s.names);
	if (s.lacking[0])
		info_msg("%s", s.lacking);
	if (s.differing[0])
		info_msg("%s", s.differing);
	/* Loading none would trace nothing, and say nothing of it. */
	return s.left_out && !s.kept ? -ENOENT : 0;
}

void prog_stats_sum(struct bpf_object *obj, uint64_t *run_time_ns, uint64_t *recursion_misses)
{
	struct bpf_program *prog;

	*run_time_ns = *recursion_misses = 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd < 0 || bpf_prog_get_info_by_fd(fd, &info, &len))
			continue;
		*run_time_ns += info.run_time_ns;
		*recursion_misses += info.recursion_misses;
	}
}

/*
 * A program the verifier refuses at a million instructions costs seconds
 * and, on some kernel builds, over a gigabyte of kernel memory in verifier
 * states. Two things bound it:
 * - Every program has a log buffer of its own, at BPF_LOG_STATS; without
 *   one, libbpf verifies a refused program a second time, at log level 1,
 *   only to print the log (two thirds of the time it took here).
 * - A watchdog thread follows the load: libbpf gives each program its fd
 *   when it is verified, and one that has taken VERIFY_PROG_DEADLINE_MS of
 *   the loading thread's CPU time (the verifier runs in it: a busy host
 *   slows it, but does not make it spend more) is interrupted by a signal
 *   (the verifier gives up with EAGAIN when it next looks), then every
 *   retry libbpf makes on EAGAIN, 1 ms apart.
 * memlens's own programs verify in milliseconds (memlens doctor --verifier).
 */
#define VERIFY_POLL_MS		20
/*
 * Room for more than the summary: the verifier also writes a line for
 * every call of a global function it checks (127 in the unwinder's loop),
 * and a log that overflows fails the load with ENOSPC, verified or not.
 * Pages never written are never touched.
 */
#define STATS_LOG_SIZE		(256 * 1024)
#define BPF_LOG_STATS		4

struct load_watch {
	pthread_t loader;
	clockid_t loader_cpu;
	struct bpf_object *obj;
	char (*logs)[STATS_LOG_SIZE];
	int nr;
	atomic_bool done;
	atomic_bool timed_out;
};

static void verify_interrupt(int sig)
{
	(void)sig;		/* only to make the verifier's bpf() return */
}

/* Read while libbpf loads: a program's fd is set once, when it is verified. */
static int verified_count(const struct load_watch *w)
{
	struct bpf_program *prog;
	int n = 0;

	bpf_object__for_each_program(prog, w->obj)
		n += bpf_program__fd(prog) >= 0;
	return n;
}

static uint64_t loader_cpu_ns(const struct load_watch *w)
{
	struct timespec ts;

	if (clock_gettime(w->loader_cpu, &ts))
		return monotonic_ns();
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *watch_load(void *arg)
{
	struct load_watch *w = arg;
	struct timespec poll = { 0, VERIFY_POLL_MS * 1000000L }, kick = { 0, 1000000L };
	uint64_t since = loader_cpu_ns(w);
	int seen = 0;

	while (!atomic_load(&w->done)) {
		int n = verified_count(w);

		if (n != seen && !atomic_load(&w->timed_out)) {
			seen = n;
			since = loader_cpu_ns(w);
		}
		/* Past the deadline, the retries too: a refused load ends. */
		if (loader_cpu_ns(w) - since >= VERIFY_PROG_DEADLINE_MS * 1000000ULL) {
			atomic_store(&w->timed_out, true);
			pthread_kill(w->loader, SIGALRM);
			nanosleep(&kick, NULL);
			continue;
		}
		nanosleep(&poll, NULL);
	}
	return NULL;
}

/* Every program a summary log, so that the watchdog sees it verified. */
static int give_stats_logs(struct bpf_object *obj, struct load_watch *w)
{
	struct bpf_program *prog;

	w->nr = 0;
	bpf_object__for_each_program(prog, obj)
		w->nr++;
	w->logs = calloc(w->nr ? w->nr : 1, sizeof(*w->logs));
	if (!w->logs)
		return -ENOMEM;
	w->nr = 0;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_log_buf(prog, w->logs[w->nr++], STATS_LOG_SIZE);
		bpf_program__set_log_level(prog, BPF_LOG_STATS);
	}
	return 0;
}

/* Each program's summary to FN: its log, with the verifier's error if it refused it. */
static void report_stats(const struct load_watch *w, int err, prog_stats_fn fn, void *ctx)
{
	struct bpf_program *prog;
	int i = 0;

	bpf_object__for_each_program(prog, w->obj)
		fn(prog, w->logs[i++], err, ctx);
}

/* With -v, libbpf's full verifier log instead, and no deadline. */
static int load_watched(struct bpf_object_skeleton *s, prog_stats_fn fn, void *ctx)
{
	struct sigaction sa = { .sa_handler = verify_interrupt }, old;
	struct load_watch w = { .loader = pthread_self(), .obj = *s->obj };
	pthread_t watcher;
	int err;

	if (verbose)
		return bpf_object__load_skeleton(s);
	err = give_stats_logs(*s->obj, &w);
	if (err)
		return err;
	/* Without a CPU clock of its own, the wall clock (loader_cpu_ns). */
	if (pthread_getcpuclockid(w.loader, &w.loader_cpu))
		w.loader_cpu = -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	err = pthread_create(&watcher, NULL, watch_load, &w);
	if (err) {
		sigaction(SIGALRM, &old, NULL);
		free(w.logs);
		return -err;
	}
	err = bpf_object__load_skeleton(s);
	atomic_store(&w.done, true);
	pthread_join(watcher, NULL);
	sigaction(SIGALRM, &old, NULL);
	if (fn)
		report_stats(&w, err, fn, ctx);
	free(w.logs);
	if (err && atomic_load(&w.timed_out))
		return -ETIMEDOUT;
	return err;
}

int skeleton_load(struct bpf_object_skeleton *s)
{
	return load_watched(s, NULL, NULL);
}

int skeleton_load_stats(struct bpf_object_skeleton *s, prog_stats_fn fn, void *ctx)
{
	bool was_verbose = verbose;
	int err;

	/* The summaries are what is asked for: never libbpf's full log instead. */
	verbose = false;
	err = load_watched(s, fn, ctx);
	verbose = was_verbose;
	return err;
}

void skeleton_load_error(int err)
{
	if (err == -ETIMEDOUT)
		error_msg("cannot load BPF programs: the verifier spent over %d ms of CPU on one "
			  "(run with -v for its log)", VERIFY_PROG_DEADLINE_MS);
	else
		error_msg("cannot load BPF programs: %s (run with -v for the verifier log)",
			  strerror(-err));
}

/*
 * bpf_object__attach_skeleton(), one program at a time, to name the one
 * that fails. The links go into the skeleton, which frees them on destroy.
 * A program attached by hand (its link set) or not auto-attached is left
 * alone; so is one whose section names no target (SEC("uprobe")), which
 * bpf_program__attach() refuses with EOPNOTSUPP where the skeleton skips it.
 */
static int attach_skeleton(struct bpf_object_skeleton *s)
{
	for (int i = 0; i < s->prog_cnt; i++) {
		/* The skeleton's own stride: its struct may be newer than ours. */
		struct bpf_prog_skeleton *ps = (void *)((char *)s->progs + i * s->prog_skel_sz);
		struct bpf_program *prog = *ps->prog;
		struct bpf_link **link = ps->link;
		const char *sec = bpf_program__section_name(prog);
		struct bpf_link *l;
		int err;

		if (!bpf_program__autoload(prog) || !bpf_program__autoattach(prog) || *link)
			continue;
		l = bpf_program__attach(prog);
		err = libbpf_get_error(l);
		if (err == -EOPNOTSUPP && !strchr(sec, '/'))
			continue;
		if (err) {
			error_msg("cannot attach %s (%s): %s", bpf_program__name(prog), sec,
				  strerror(-err));
			return err;
		}
		*link = l;
	}
	return 0;
}

int skeleton_load_attach(struct bpf_object_skeleton *s)
{
	int err = skeleton_load(s);

	if (err) {
		skeleton_load_error(err);
		return err;
	}
	return attach_skeleton(s);
}
