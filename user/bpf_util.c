// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Small helpers over libbpf shared by the subcommands. */
#include <errno.h>
#include <stddef.h>
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

int percpu_lookup_sum_words(int fd, const void *key, uint64_t *sums, size_t words)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	memset(sums, 0, words * sizeof(*sums));
	if (ncpus <= 0)
		return -EINVAL;
	vals = calloc((size_t)ncpus * words, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, key, vals))
		err = -errno;
	for (int c = 0; !err && c < ncpus; c++)
		for (size_t w = 0; w < words; w++)
			sums[w] += vals[(size_t)c * words + w];
	free(vals);
	return err;
}

int percpu_lookup_sum(int fd, const void *key, uint64_t *sum)
{
	return percpu_lookup_sum_words(fd, key, sum, 1);
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

int map_keys(int fd, size_t key_size, size_t max_entries,
	     int (*cmp)(const void *, const void *), void **out, size_t *nr_out)
{
	size_t steps = 2 * max_entries, nr = 0, cap = 0;
	char *keys = NULL, *next = malloc(key_size);

	if (!next)
		return -ENOMEM;
	while (nr < steps && !bpf_map_get_next_key(fd, nr ? keys + (nr - 1) * key_size : NULL, next)) {
		if (array_grow((void **)&keys, nr, &cap, key_size)) {
			free(keys);
			free(next);
			return -ENOMEM;
		}
		memcpy(keys + nr++ * key_size, next, key_size);
	}
	free(next);
	*out = keys;
	*nr_out = sort_dedupe(keys, nr, key_size, cmp);
	return 0;
}

uint64_t prog_misses_sum(struct bpf_object *obj)
{
	struct bpf_program *prog;
	uint64_t misses = 0;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(prog);

		if (fd >= 0 && !bpf_prog_get_info_by_fd(fd, &info, &len))
			misses += info.recursion_misses;
	}
	return misses;
}

void bpf_cost_init(struct bpf_cost *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
}

int bpf_cost_read(int fd, struct cost_cpu *sum)
{
	uint64_t words[sizeof(*sum) / sizeof(uint64_t)];
	__u32 zero = 0;
	int err = percpu_lookup_sum_words(fd, &zero, words, sizeof(words) / sizeof(words[0]));

	memset(sum, 0, sizeof(*sum));
	if (err)
		return err;
	/* Only the counts add up over CPUs: start_ns and skip are each CPU's own. */
	sum->runs = words[offsetof(struct cost_cpu, runs) / sizeof(uint64_t)];
	sum->timed = words[offsetof(struct cost_cpu, timed) / sizeof(uint64_t)];
	sum->timed_ns = words[offsetof(struct cost_cpu, timed_ns) / sizeof(uint64_t)];
	return 0;
}

/* NOW less LAST, 0 if less: a count a nested run's update overwrote. */
static uint64_t since(uint64_t now, uint64_t last)
{
	return now > last ? now - last : 0;
}

void bpf_cost_add(struct bpf_cost *c, const struct cost_cpu *now)
{
	uint64_t runs = since(now->runs, c->last.runs);
	uint64_t timed = since(now->timed, c->last.timed);
	uint64_t timed_ns = since(now->timed_ns, c->last.timed_ns);

	if (!timed) {
		timed = now->timed;
		timed_ns = now->timed_ns;
	}
	/* No run timed yet: these runs wait for one. */
	if (!timed)
		return;
	/* In double: ns times runs overflows 64 bits over an hour's interval. */
	c->ns += (double)timed_ns * runs / timed;
	c->last = *now;
}

uint64_t bpf_cost_ns(struct bpf_cost *c)
{
	struct cost_cpu now;

	if (!bpf_cost_read(c->fd, &now))
		bpf_cost_add(c, &now);
	return c->ns;
}

/*
 * A program the verifier refuses at a million instructions costs seconds
 * and, on some kernel builds, over a gigabyte of kernel memory in verifier
 * states. Two things bound it:
 * - Every program has a log buffer of its own: without one, libbpf
 *   verifies a refused program a second time, at log level 1, only to
 *   print the log (two thirds of the time it took here).
 * - A watchdog thread follows the load. Once libbpf has come to the maps
 *   (what comes before is libbpf's own work: kernel BTF), the loading
 *   thread's CPU time is spent on relocations, which libbpf speaks of, and
 *   in the verifier, which is silent until it is done with a program, when
 *   libbpf gives the program its fd. CPU time spent with neither (a busy
 *   host slows the verifier, but does not make it spend more) past
 *   VERIFY_PROG_DEADLINE_MS makes the watchdog interrupt the load with a
 *   signal: the verifier gives up with EAGAIN when it next looks; then
 *   every retry libbpf makes on EAGAIN, 1 ms apart.
 * The signal is a real-time one of memlens's own, unblocked in the loading
 * thread only while it loads, and what is left of it is taken back after.
 */
#define VERIFY_POLL_MS		20
/*
 * Room for more than the summary: the verifier also writes a line for
 * every call of a global function it checks (127 in the unwinder's loop),
 * and a log that overflows fails the load with ENOSPC, verified or not.
 * With -v, the whole log (level 1). Pages never written are never touched.
 */
#define STATS_LOG_SIZE		(64 * 1024)
#define VERBOSE_LOG_SIZE	(16 * 1024 * 1024)
#define BPF_LOG_LEVEL1		1
#define BPF_LOG_STATS		4

struct load_watch {
	uint64_t deadline_ns;		/* of CPU per program: see verify_deadline_ms() */
	pthread_t loader;
	clockid_t loader_cpu;
	struct bpf_object *obj;
	char *logs;
	size_t log_size;
	int nr;
	atomic_bool done;
	atomic_bool timed_out;
};

static int verify_signal(void)
{
	return SIGRTMIN;
}

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
	/* A quarter of the deadline at most: a short one is kept, not missed between polls. */
	uint64_t poll_ns = w->deadline_ns / 4 < VERIFY_POLL_MS * 1000000ULL ?
			   w->deadline_ns / 4 : VERIFY_POLL_MS * 1000000ULL;
	struct timespec poll = { 0, (long)(poll_ns > 1000000 ? poll_ns : 1000000) };
	struct timespec kick = { 0, 1000000L };
	uint64_t since = 0;
	unsigned int seen = 0;

	while (!atomic_load(&w->done)) {
		/* Progress: a program verified, or libbpf speaking. */
		unsigned int n = verified_count(w) + libbpf_message_count();

		if (!since && libbpf_reached_maps())
			since = loader_cpu_ns(w);
		if (since && n != seen && !atomic_load(&w->timed_out)) {
			seen = n;
			since = loader_cpu_ns(w);
		}
		/* Past the deadline, the retries too: a refused load ends. */
		if (since && loader_cpu_ns(w) - since >= w->deadline_ns) {
			atomic_store(&w->timed_out, true);
			pthread_kill(w->loader, verify_signal());
			nanosleep(&kick, NULL);
			continue;
		}
		nanosleep(&poll, NULL);
	}
	return NULL;
}

static char *prog_log(const struct load_watch *w, int i)
{
	return w->logs + (size_t)i * w->log_size;
}

/* Every program a log buffer, so that libbpf never loads one twice. */
static int give_logs(struct bpf_object *obj, struct load_watch *w)
{
	struct bpf_program *prog;
	int level = verbose ? BPF_LOG_LEVEL1 | BPF_LOG_STATS : BPF_LOG_STATS;

	w->log_size = verbose ? VERBOSE_LOG_SIZE : STATS_LOG_SIZE;
	w->nr = 0;
	bpf_object__for_each_program(prog, obj)
		w->nr++;
	w->logs = calloc(w->nr ? w->nr : 1, w->log_size);
	if (!w->logs)
		return -ENOMEM;
	w->nr = 0;
	bpf_object__for_each_program(prog, obj) {
		bpf_program__set_log_buf(prog, prog_log(w, w->nr++), w->log_size);
		bpf_program__set_log_level(prog, level);
	}
	return 0;
}

/* The summary the verifier ends every log with, at any level. */
static bool summary_line(const char *line)
{
	static const char *const starts[] = { "verification time ", "stack depth ", "processed " };

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (!strncmp(line, starts[i], strlen(starts[i])))
			return true;
	return false;
}

void verifier_log_reason(const char *log, char *why, size_t len)
{
	const char *line = log, *reason = NULL;
	int reason_len = 0;

	while (*line) {
		int n = strcspn(line, "\n");

		if (n && !summary_line(line)) {
			reason = line;
			reason_len = n;
		}
		line += n + (line[n] == '\n');
	}
	snprintf(why, len, "%.*s", reason ? reason_len : 0, reason ? reason : "");
}

/* Why the last load failed, in the verifier's words: for skeleton_load_error(). */
static char refusal_why[160];

/*
 * libbpf prints the log of a program it could not load only when the log
 * buffer is its own: these are ours. The reason goes into the one-line
 * error; with -v the whole log, between libbpf's own markers.
 */
static void tell_refusal(const struct load_watch *w)
{
	const char *name = libbpf_failed_prog();
	struct bpf_program *prog;
	int i = 0;

	bpf_object__for_each_program(prog, w->obj) {
		const char *log = prog_log(w, i++);

		if (!*name || strcmp(bpf_program__name(prog), name) || !*log)
			continue;
		verifier_log_reason(log, refusal_why, sizeof(refusal_why));
		if (verbose)
			fprintf(stderr, "libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s"
				"-- END PROG LOAD LOG --\n", name, log);
		return;
	}
}

/* Each program's log to FN, with the load's error. */
static void report_logs(const struct load_watch *w, int err, prog_stats_fn fn, void *ctx)
{
	struct bpf_program *prog;
	int i = 0;

	bpf_object__for_each_program(prog, w->obj)
		fn(prog, prog_log(w, i++), err, ctx);
}

/* The load itself, with the verify signal caught and unblocked in this thread only. */
static int load_interruptible(struct bpf_object_skeleton *s)
{
	struct sigaction sa = { .sa_handler = verify_interrupt }, old_sa;
	struct timespec now = {};
	sigset_t set, old_mask;
	int sig = verify_signal(), err;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigaction(sig, &sa, &old_sa);
	pthread_sigmask(SIG_UNBLOCK, &set, &old_mask);
	err = bpf_object__load_skeleton(s);
	/* A kick sent as the load ended: taken back, never left pending. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	while (sigtimedwait(&set, NULL, &now) == sig)
		;
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(sig, &old_sa, NULL);
	return err;
}

/*
 * The CPU the verifier may spend on one program: VERIFY_PROG_DEADLINE_MS,
 * or MEMLENS_VERIFY_DEADLINE_MS where the CPU is far slower than what
 * that was set for: an emulated one (QEMU without KVM runs the verifier
 * 20 to 50 times slower, and its guest counts the host's load as its own
 * CPU time). A value that is not one is warned about, as MEMLENS_DISABLE's
 * unknown words are, and the default kept.
 */
static unsigned long long deadline_ms;	/* of the last load, for its error */

static unsigned long long verify_deadline_ms(void)
{
	const char *env = getenv("MEMLENS_VERIFY_DEADLINE_MS");
	unsigned long long ms;
	char *end;

	if (!env || !*env)
		return VERIFY_PROG_DEADLINE_MS;
	errno = 0;
	ms = strtoull(env, &end, 10);
	if (errno || end == env || *end || *env == '-' || !ms || ms > 3600 * 1000) {
		error_msg("invalid MEMLENS_VERIFY_DEADLINE_MS '%s': milliseconds, 1 to 3600000; "
			  "%d used", env, VERIFY_PROG_DEADLINE_MS);
		return VERIFY_PROG_DEADLINE_MS;
	}
	return ms;
}

static int load_watched(struct bpf_object_skeleton *s, prog_stats_fn fn, void *ctx)
{
	struct load_watch w = { .loader = pthread_self(), .obj = *s->obj };
	pthread_t watcher;
	int err;

	deadline_ms = verify_deadline_ms();
	w.deadline_ns = deadline_ms * 1000000ULL;
	libbpf_load_begins();
	refusal_why[0] = 0;
	err = give_logs(*s->obj, &w);
	if (err)
		return err;
	/* Without a CPU clock of its own, the wall clock (loader_cpu_ns). */
	if (pthread_getcpuclockid(w.loader, &w.loader_cpu))
		w.loader_cpu = -1;
	err = pthread_create(&watcher, NULL, watch_load, &w);
	if (err) {
		free(w.logs);
		return -err;
	}
	err = load_interruptible(s);
	atomic_store(&w.done, true);
	pthread_join(watcher, NULL);
	if (err)
		tell_refusal(&w);
	if (fn)
		report_logs(&w, err, fn, ctx);
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

	/* The summaries are what is asked for, not the whole log. */
	verbose = false;
	err = load_watched(s, fn, ctx);
	verbose = was_verbose;
	return err;
}

void skeleton_load_error(int err)
{
	const char *prog = libbpf_failed_prog();

	if (err == -ETIMEDOUT)
		error_msg("cannot load BPF programs: the verifier spent over %llu ms of CPU on %s%s "
			  "(run with -v for its log)", deadline_ms,
			  *prog ? prog : "one", *prog ? "()" : "");
	else if (*refusal_why)
		error_msg("cannot load BPF programs: %s() refused: %s: %s (run with -v for the "
			  "verifier log)", prog, strerror(-err), refusal_why);
	else
		error_msg("cannot load BPF programs: %s%s%s%s (run with -v for the verifier log)",
			  *prog ? prog : "", *prog ? "() " : "", *prog ? "refused: " : "",
			  strerror(-err));
}

/*
 * bpf_object__attach_skeleton(), one program at a time, to name the one
 * that fails. The links go into the skeleton, which frees them on destroy.
 * A program attached by hand (its link set) or not auto-attached is left
 * alone; so is one whose section names no target (SEC("uprobe")), which
 * bpf_program__attach() refuses with EOPNOTSUPP where the skeleton skips it.
 */
int attach_skeleton(struct bpf_object_skeleton *s)
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
