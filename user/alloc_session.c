// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The tracing session of memlens leaks, record and allocs: load
 * allocs.bpf.c, start or attach to the process, hook its allocator (the
 * group source says which), answer the events of the ring buffer (exec,
 * new code, the command held at _exit), and every interval report the
 * groups by stack (stack_report.c) or record them (recfile.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "alloc_probes.h"
#include "alloc_session.h"
#include "alloc_threads.h"
#include "allocs.skel.h"
#include "bpf_compat.h"
#include "bpf_util.h"
#include "goheap.h"
#include "output.h"
#include "reach_report.h"
#include "recfile.h"
#include "sampling.h"
#include "stack_cache.h"
#include "suppress.h"
#include "symbolize.h"
#include "stall_stacks.h"
#include "unwind_table.h"
#include "util.h"

static void unwinder_update(struct alloc_session *s)
{
	int err;

	if (!s->unwinder)
		return;
	err = unwinder_refresh(s->unwinder);
	if (err)
		debug_msg("unwind tables not updated: %s", strerror(-err));
}

/*
 * Has the session seen every block of its command? Not if an allocation
 * went by unfollowed (an operator new memlens does not follow) or was
 * dropped: memory it never saw may then hold the only pointer to a
 * block, and the heap it does not know is scanned as roots, as with -p.
 * (free_unknown is no witness: glibc frees blocks of its own at thread
 * exit, never allocated through an entry point.)
 */
static bool all_blocks_seen(struct alloc_session *s)
{
	static const int unseen[] = {
		STAT_NEW_UNFOLLOWED, STAT_ALLOCS_FULL, STAT_THREADS_FULL, STAT_MISSED_RETURN,
	};
	uint64_t stats[STAT_NR];

	/* Not held: code it maps is hooked a moment late, its first calls unseen. */
	if (!s->child.can_hold)
		return false;
	percpu_array_sum(bpf_map__fd(s->skel->maps.stats), STAT_NR, stats);
	for (size_t i = 0; i < sizeof(unseen) / sizeof(unseen[0]); i++)
		if (stats[unseen[i]])
			return false;
	return true;
}

/*
 * Our command held at _exit, its blocks final: classed now, while its
 * threads can be stopped and read, for the report that comes at its exit.
 */
static void scan_at_exit(struct alloc_session *s)
{
	if (s->opts->scan == SCAN_NONE || !s->source->read || !s->child.holder)
		return;
	s->scan.max_pause_ns = s->opts->scan_max_pause_ns;
	if (!s->source->read(s))
		leak_scan_run(&s->scan, s->child.pid, &s->child, all_blocks_seen(s), s->snap.recs,
			      s->snap.nr);
}

/*
 * A thread other than the leader exec'd: every hook is made anew
 * (rehook_allocators() in group_source.c says why). A failure is said by
 * the attach, and here: leaks ends, its report would show the new image's
 * mmaps alone; allocs goes on, its profile has what was seen before.
 */
static void thread_execed(struct alloc_session *s)
{
	int err = s->source->rehook(s);

	if (err)
		error_msg("pid %d exec'd from a thread other than its leader, and could not be "
			  "hooked again: its allocations are not seen from here on",
			  s->skel->rodata->targ_tgid);
}

/*
 * After a batch of events: hook what new code brought (exec, a new
 * executable mapping), load its unwind tables, read the maps of a command
 * held at _exit; then let the threads of our command held meanwhile
 * (hold_thread() in allocs.bpf.c) go on. Symbols can wait. Each thread is
 * held on its own: the others run on, and one is let go only once what
 * its event brought is hooked.
 */
static void answer_events(struct alloc_session *s)
{
	do {
		if (s->new_code) {
			s->new_code = false;
			s->maps_dirty = true;
			if (s->thread_execed)
				thread_execed(s);
			s->thread_execed = false;
			if (s->source->new_code)
				s->source->new_code(s);
			unwinder_update(s);
		}
		if (s->exiting) {
			s->exiting = false;
			scan_at_exit(s);
			symbolizer_refresh(s->sym);
			s->maps_dirty = false;
		}
	} while (ring_buffer__consume(s->rb) > 0 && (s->new_code || s->exiting));
	/* Not traced: session_close() lets it go once the hooks are off. */
	if (s->no_allocator)
		return;
	for (size_t i = 0; i < s->nr_held; i++)
		spawn_unhold(&s->child, s->held[i]);
	s->nr_held = 0;
}

/* A thread of our command held for event E, to let go once answered. */
static void held(struct alloc_session *s, const struct event *e, const char *where)
{
	if (s->child.pid <= 0 || (pid_t)e->tgid != s->child.pid || !s->child.can_hold)
		return;
	if (!(e->flags & EVENT_F_HELD)) {
		if (e->tid)
			debug_msg("thread %u blocks SIGURG and SIGWINCH: not held at %s", e->tid,
				  where);
		return;
	}
	debug_msg("thread %u held at %s (%s)", e->tid, where,
		  e->hold_sig == SIGURG ? "SIGURG" : "SIGWINCH");
	if (array_grow((void **)&s->held, s->nr_held, &s->held_cap, sizeof(*s->held))) {
		/* Never left held: let it go now, hooked or not. */
		spawn_unhold(&s->child, e->tid);
		return;
	}
	s->held[s->nr_held++] = e->tid;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct alloc_session *s = ctx;
	const struct event *e = data;

	if (len < sizeof(*e))
		return 0;
	switch (e->type) {
	case EVENT_EXIT:
		s->exited = true;
		s->exit_code = e->exit_code;
		break;
	case EVENT_MAPS_CHANGED:
		s->new_code = true;
		held(s, e, "new code");
		break;
	case EVENT_EXEC:
		s->exec_ts = e->ts_ns;
		s->new_code = true;
		if (e->flags & EVENT_F_THREAD_EXEC)
			s->thread_execed = true;
		held(s, e, "exec");
		break;
	case EVENT_EXITING:
		/* Our command, held at _exit: read its maps, let it go. */
		s->exiting = true;
		held(s, e, "_exit to read its maps");
		break;
	}
	return 0;
}

static bool uses_unwind_tables(const struct alloc_session *s)
{
	return s->source->unwind_tables && !s->opts->unwind_fp;
}

static int open_bpf(struct alloc_session *s, int target)
{
	struct session_opts *o = s->opts;

	s->skel = allocs_bpf__open();
	if (!s->skel) {
		error_msg("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	s->skel->rodata->targ_tgid = target;
	s->skel->rodata->hold_at_exit = o->cmd && s->child.can_hold;
	/* New code: allocators to hook, unwind tables to load, before it runs. */
	s->skel->rodata->hold_for_maps = o->cmd && s->child.can_hold;
	if (uses_unwind_tables(s)) {
		s->skel->rodata->unwind_tables = true;
		bpf_map__set_max_entries(s->skel->maps.unwind_rows,
					 o->unwind_rows ? o->unwind_rows : UNWIND_DEFAULT_ROWS);
	}
	allocs_leaks_programs(s->skel);
	allocs_compat_prepare(s->skel);
	allocs_thread_slots(s->skel, s->thread_slots);
	s->skel->rodata->sample_bytes = o->sample_bytes;
	alloc_probes_prepare(s->skel);
	if (o->max_stacks)
		bpf_map__set_max_entries(s->skel->maps.stacks, o->max_stacks);
	s->source->configure(s);
	if (o->sample_bytes)
		sample_fill_quantiles((__u32 *)s->skel->rodata->sample_quantiles);
	return 0;
}

/*
 * Did the verifier refuse (or take too long over) a program that takes
 * stacks with the unwinder: the allocators' return, the syscalls' exits?
 * Not a refusal: EPERM, ENOENT (no such tracepoint), ENOMEM and the like,
 * which the same load without the unwinder would meet again.
 */
static bool unwinder_refused(int err)
{
	const char *prog = libbpf_failed_prog();
	size_t len = strlen(prog);

	if (err != -ETIMEDOUT && err != -E2BIG && err != -EACCES && err != -EINVAL &&
	    err != -ENOSPC)
		return false;
	if (!strcmp(prog, "alloc_return"))
		return true;
	return len > 7 && !strcmp(prog + len - 7, "_return");
}

/*
 * Load the programs; if the verifier refuses the unwinder (or takes too
 * long over it), the same without it: frame-pointer stacks, said once.
 */
static int load_bpf(struct alloc_session *s, int target)
{
	int err = open_bpf(s, target);

	if (err)
		return err;	/* said */
	err = skeleton_load(s->skel->skeleton);
	if (err && uses_unwind_tables(s) && unwinder_refused(err)) {
		int refused = err;

		allocs_bpf__destroy(s->skel);
		s->opts->unwind_fp = true;
		err = open_bpf(s, target);
		if (err)
			return err;	/* said */
		err = skeleton_load(s->skel->skeleton);
		if (!err)
			info_msg("the verifier refused the DWARF unwinder (%s): frame-pointer stacks",
				 refused == -ETIMEDOUT ? "too slow" : strerror(-refused));
	}
	if (err) {
		skeleton_load_error(err);
		return err;
	}
	err = attach_skeleton(s->skel->skeleton);
	if (err)
		return err;
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.events), handle_event, s, NULL);
	if (!s->rb) {
		error_msg("cannot open ring buffer: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* The frames a report shows of a stack: the source's view of them. */
static const struct sym_stack *report_stack(void *ctx, uint64_t id)
{
	struct alloc_session *s = ctx;
	const struct sym_stack *st = stack_cache_get(s->stacks, id);

	return s->source->view ? s->source->view(s, st) : st;
}

int alloc_session_group(struct alloc_session *s, struct stack_report *r)
{
	int err = s->source->group(s, r);

	if (err)
		return err;
	report_add_totals(r);
	return 0;
}

/* The groups of R, in every output asked for. */
static int render_report(struct alloc_session *s, struct stack_report *r, bool final)
{
	const struct report_opts *show = s->opts->show;
	int err;

	err = alloc_session_group(s, r);
	if (err)
		return err;
	if (r->scan && s->opts->supp)
		suppressions_apply(s->opts->supp, r);
	if (r->scan)
		reach_sort_groups(r->groups, r->nr_groups);
	/* Folded reports one after another would add up: the FINAL one only. */
	err = report_write_outputs(r, show->folded && final, show->svg, show->pprof);
	if (show->json)
		report_print_json(stdout, r);
	else if (!show->folded)
		report_print_text(stdout, r);
	else if (final)
		report_print_losses(stderr, r);	/* folded lines have no room for them */
	free(r->groups);
	return output_check(stdout, "stdout") ?: err;
}

/*
 * record --stalls: the process's stalls by stack so far, before the
 * snapshot they go with. The stall events are read to keep the ring
 * buffer from filling; the aggregates are in the maps.
 */
static int record_stalls(struct alloc_session *s)
{
	uint32_t pid = s->skel->rodata->targ_tgid;
	struct rec_stall_sum sum = {};
	const char *names[REC_STALL_LOSSES];
	uint64_t counts[REC_STALL_LOSSES];
	struct stall_stack_row *rows;
	struct pressure_totals t;
	struct pressure_proc *pp;
	struct rec_stall *stalls;
	size_t nr, n = 0;
	int err;

	err = pressure_consume(s->pressure);
	if (!err)
		err = pressure_sample(s->pressure, &pp, &nr);
	if (err)
		return err;
	for (size_t i = 0; i < nr; i++)
		for (int k = 0; pp[i].tgid == pid && k < STALL_NR; k++)
			sum.stalls += pp[i].stalls[k];
	free(pp);
	/* Filtered to the process: its stalls are all the map had no room for. */
	pressure_totals(s->pressure, &t);
	sum.lost = t.stats[RSTAT_STALL_STACKS_FULL];
	/* Lost stacks, begins, events: every loss counter of the tracer. */
	sum.nr_losses = pressure_lost_each(&t, names, counts, REC_STALL_LOSSES);
	for (size_t i = 0; i < sum.nr_losses; i++)
		sum.losses[i] = (struct rec_stall_loss){ names[i], counts[i] };
	err = stall_stacks_read(s->stall_stacks, &rows, &nr);
	if (err)
		return err;
	stalls = calloc(nr + 1, sizeof(*stalls));
	if (!stalls) {
		free(rows);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		if (rows[i].key.tgid != pid)
			continue;
		stalls[n++] = (struct rec_stall){
			.kind = rows[i].key.kind, .count = rows[i].val.count,
			.total_ns = rows[i].val.total_ns, .max_ns = rows[i].val.max_ns,
			.user = rows[i].user ? *rows[i].user : (struct sym_stack){},
			.kernel = rows[i].kernel ? *rows[i].kernel : (struct sym_stack){},
		};
	}
	err = rec_writer_stalls(s->rec, stalls, n, &sum);
	free(stalls);
	free(rows);
	return err;
}

/* record --stalls: the reclaim tracer, filtered to TARGET, stacks on. */
static int open_pressure(struct alloc_session *s, int target)
{
	struct pressure_opts *po = &s->pressure_opts;
	int err;

	po->pid = target;
	po->stacks = true;
	err = pressure_open(po, &s->pressure);
	if (err)
		return err;
	s->stall_stacks = stall_stacks_new(s->pressure);
	if (!s->stall_stacks)
		return -ENOMEM;
	/* The session's symbolizer: it follows the process's exec and new mappings. */
	stall_stacks_use(s->stall_stacks, target, s->sym);
	return 0;
}

/*
 * memlens record: the snapshot goes into the file, every block as it is
 * (outstanding blocks: record has no other source), after the classes a
 * scan gave them: suppressions are memlens report's, applied when read.
 */
static int record_snapshot(struct alloc_session *s, const struct stack_report *r)
{
	struct rec_snapshot rs = {
		.wall_ns = realtime_ns(),
		.mono_ns = r->now_ns,
		.exited = r->exited,
		.exit_code = r->exit_code,
		.comm = r->comm,
		.threads_tracked = r->threads_tracked,
	};

	memcpy(rs.stats, r->stats, sizeof(rs.stats));
	if (s->pressure) {
		int err = record_stalls(s);

		if (err)
			return err;
	}
	if (r->scan) {
		int err = rec_writer_scan(s->rec, r->scan, s->snap.recs, s->snap.nr);

		if (err)
			return err;
	}
	/* An error is told once, when the recording is closed. */
	return rec_writer_snapshot(s->rec, &rs, s->snap.recs, s->snap.nr, report_stack, s);
}

/*
 * --scan: the blocks just read classed, for the last report or for every
 * one. At the exit, they were when the command was held at _exit.
 */
static void scan_blocks(struct alloc_session *s, bool final)
{
	int pid = s->skel->rodata->targ_tgid;

	if (s->opts->scan == SCAN_NONE)
		return;
	if (!s->exited && (final || s->opts->scan == SCAN_EACH)) {
		s->scan.max_pause_ns = s->opts->scan_max_pause_ns;
		leak_scan_run(&s->scan, pid, s->child.holder ? &s->child : NULL,
			      s->child.holder && all_blocks_seen(s), s->snap.recs, s->snap.nr);
	}
	if (s->scan.valid)
		leak_scan_apply(&s->scan, s->snap.recs, s->snap.nr);
}

/*
 * A report that should have a scan and has none says why, in one line:
 * the command killed before its _exit hold, or ended by exit_group
 * itself (no hold), the process gone, or the scan failed.
 */
static const char *no_scan_reason(struct alloc_session *s, bool final, char *buf, size_t len)
{
	if (s->opts->scan == SCAN_NONE || s->rec || s->scan.valid ||
	    (!final && s->opts->scan != SCAN_EACH))
		return NULL;
	if (s->scan.failed[0])
		return s->scan.failed;
	if (!s->exited)
		return "no scan was made";
	if (!s->opts->cmd)
		return "the process exited: nothing left to scan";
	if (WIFSIGNALED(s->exit_code))
		snprintf(buf, len, "the command was killed by signal %d (%s) before it reached _exit",
			 WTERMSIG(s->exit_code), strsignal(WTERMSIG(s->exit_code)));
	else
		snprintf(buf, len, "the command ended without stopping at _exit "
			 "(exit_group called directly, or not traced)");
	return buf;
}

/* FINAL: the last report of the session (exit, Ctrl-C, the -n-th). */
static int report(struct alloc_session *s, bool final)
{
	struct stack_report r = {
		.kind = s->source->kind,
		.malloc_profile = s->source == &alloc_profile,
		.pid = s->skel->rodata->targ_tgid,
		.comm = s->comm,
		.exited = s->exited,
		.exit_code = s->exit_code,
		.top = s->opts->show->top,
		.sample_bytes = s->opts->sample_bytes,
		.stack = report_stack,
		.ctx = s,
	};
	struct alloc_threads threads;
	uint64_t *unflushed;
	char no_scan[160];
	int err;

	if (!s->exited)
		symbolizer_refresh(s->sym);
	if (s->source->read) {
		err = s->source->read(s);
		if (err)
			return err;
		scan_blocks(s, final);
		r.scan = s->scan.valid ? &s->scan.st : NULL;
		r.no_scan = no_scan_reason(s, final, no_scan, sizeof(no_scan));
	}
	r.now_ns = monotonic_ns();
	r.wall_time = time(NULL);
	percpu_array_sum(bpf_map__fd(s->skel->maps.stats), STAT_NR, r.stats);
	/* After the stats: a thread that goes in between is missed, not counted twice. */
	unflushed = s->opts->sample_bytes ? r.stats : NULL;
	alloc_threads_read(s->skel, unflushed, &threads);
	if (s->unwinder) {
		struct unwinder_stats us;

		unwinder_get_stats(s->unwinder, &us);
		r.stats[STAT_UNWIND_TOO_BIG] = us.modules_too_big;
		r.stats[STAT_UNWIND_MAPS_DROPPED] = us.mappings_dropped;
	}
	/* Every outstanding block's stack is read by now: all cuts are counted. */
	r.stats[STAT_STACK_NOT_CODE] = stack_cache_not_code(s->stacks);
	/* Not a loss: no block referred to them. */
	r.stats[STAT_STACKS_RECLAIMED] = stack_cache_reclaimed(s->stacks);
	r.stats[STAT_FILES_GIVEN_UP] = open_given_up();
	r.stats[STAT_STACK_RECLAIMED_EARLY] = stack_cache_reclaimed_early(s->stacks);
	r.threads_tracked = threads.in_map + threads.in_slots;
	alloc_threads_say(&threads, &s->said_threads);
	if (s->rec)
		err = record_snapshot(s, &r);
	else
		err = render_report(s, &r, final);
	if (s->exited)
		s->source->forget(s);
	return err;
}

/* The header and session, once the target is known. */
static int begin_recording(struct alloc_session *s, int target)
{
	char host[256] = "";
	struct utsname uts = {};
	char *command = joined_command(s->opts->cmd);
	struct rec_session sess = {
		.pid = target,
		.comm = s->comm,
		.command = command ? command : "",
		.hostname = host,
		.kernel = uts.release,
		.version = MEMLENS_VERSION,
		.start_wall_ns = realtime_ns(),
		.interval_ns = s->opts->interval_s * 1e9,
		.sample_bytes = s->opts->sample_bytes,
	};
	int err;

	gethostname(host, sizeof(host) - 1);
	uname(&uts);
	err = rec_writer_begin(s->rec, &sess);
	free(command);
	return err;
}

/* After an error too, the file is readable: it is cut back to its last whole snapshot. */
static int close_recording(struct alloc_session *s)
{
	uint64_t bytes = 0;
	bool whole;
	int err;

	if (!s->rec)
		return 0;
	err = rec_writer_close(s->rec, &bytes, &whole);
	s->rec = NULL;
	if (err && !whole) {
		error_msg("cannot write %s: %s; written in place, it ends where the error came "
			  "(%" PRIu64 " bytes)", s->opts->output, strerror(-err), bytes);
		return err;
	}
	if (err && !bytes) {
		error_msg("cannot write %s: %s; nothing recorded, what was there is as it was",
			  s->opts->output, strerror(-err));
		return err;
	}
	if (err) {
		error_msg("cannot write %s: %s; it keeps the snapshots taken before (%" PRIu64 " bytes)",
			  s->opts->output, strerror(-err), bytes);
		return err;
	}
	info_msg("recorded %" PRIu64 " bytes into %s; render it with: memlens report %s", bytes,
		 s->opts->output, s->opts->output);
	return 0;
}

static void session_close(struct alloc_session *s)
{
	spawn_cancel(&s->child);
	/*
	 * Hooks and programs off first: no new hold at _exit, exec or a new
	 * code mapping once the holder lets the command go.
	 */
	alloc_probes_detach(s->probes);
	alloc_hooks_free(s->hooks);
	go_probes_detach(s->go_probes);
	ring_buffer__free(s->rb);
	allocs_bpf__destroy(s->skel);
	spawn_let_go(&s->child);
	rec_writer_abandon(s->rec, NULL);
	stall_stacks_free(s->stall_stacks);
	pressure_close(s->pressure);
	stack_cache_free(s->stacks);
	unwinder_free(s->unwinder);
	symbolizer_free(s->sym);
	snapshot_free(&s->snap);
	leak_scan_free(&s->scan);
	free(s->held);
}

static int session_start(struct alloc_session *s)
{
	const char *verb = s->opts->output ? "recording" : "tracing";
	char **cmd = s->opts->cmd;
	int target, err;

	err = s->source->check_target(s);
	if (!err)
		err = thread_slots_from_env(&s->thread_slots);
	if (err)
		return err;
	if (cmd) {
		err = spawn_stopped(&s->child, cmd);
		if (err) {
			error_msg("cannot start %s: %s", cmd[0], strerror(-err));
			return err;
		}
	}
	target = s->opts->pid ? s->opts->pid : s->child.pid;
	err = load_bpf(s, target);
	if (err)
		return err;
	spawn_hold_map(&s->child, bpf_map__fd(s->skel->maps.held));
	s->sym = symbolizer_new(target);
	s->stacks = stack_cache_new(bpf_map__fd(s->skel->maps.stacks), s->sym);
	if (!s->sym || !s->stacks)
		return -ENOMEM;
	if (uses_unwind_tables(s)) {
		s->unwinder = unwinder_new(target, bpf_map__fd(s->skel->maps.unwind_rows),
					   bpf_map__max_entries(s->skel->maps.unwind_rows),
					   bpf_map__fd(s->skel->maps.unwind_procs));
		if (!s->unwinder)
			return -ENOMEM;
		/* A running process: its tables before the first stack is taken. */
		if (s->opts->pid)
			unwinder_update(s);
	}
	err = s->source->hook(s, target);
	if (err)
		return err;
	/* Before the command runs: its first stalls are seen too. */
	if (s->opts->stalls) {
		err = open_pressure(s, target);
		if (err)
			return err;
	}
	if (cmd) {
		/* A stop asked for meanwhile: the command never runs (spawn_cancel()). */
		if (stop_requested()) {
			error_msg("stopped before %s started", cmd[0]);
			return -EINTR;
		}
		err = spawn_release(&s->child);
		if (err)
			return err;
	} else {
		symbolizer_refresh(s->sym);
	}
	read_comm(target, s->comm, sizeof(s->comm));
	if (s->opts->output) {
		err = begin_recording(s, target);
		if (err) {
			error_msg("cannot write %s: %s", s->opts->output, strerror(-err));
			return err;
		}
		s->rec_begun = true;
	}
	if (*s->allocator)
		info_msg("%s pid %d (%s), allocator %s; Ctrl-C to stop", verb, target,
			 cmd ? cmd[0] : s->comm, s->allocator);
	else
		info_msg("%s pid %d (%s); Ctrl-C to stop", verb, target, cmd ? cmd[0] : s->comm);
	return 0;
}

/* The process exec'd: the source drops what the old image left, the name is the new one's. */
static void exec_done(struct alloc_session *s)
{
	if (s->source->drop_old_image && s->source->drop_old_image(s))
		return;		/* tried again after the next events */
	read_comm(s->skel->rodata->targ_tgid, s->comm, sizeof(s->comm));
	s->exec_ts = 0;
}

static int check_hooked(struct alloc_session *s)
{
	return s->source->check_hooked ? s->source->check_hooked(s) : 0;
}

/*
 * Events in, answered, for up to MS milliseconds or until the process
 * exits; an error ends the wait (the last report meets it, if it lasts).
 */
static void wait_for_exit(struct alloc_session *s, int ms)
{
	uint64_t end = monotonic_ns() + ms * 1000000ULL;

	while (!s->exited && !s->no_allocator) {
		uint64_t now = monotonic_ns();

		if (now >= end ||
		    output_wait(ring_buffer__epoll_fd(s->rb), (end - now) / 1000000 + 1) < 0 ||
		    ring_buffer__poll(s->rb, 0) < 0)
			return;
		answer_events(s);
	}
}

/* The process exited: the last report, with our own child's wait status, more exact. */
static int report_exit(struct alloc_session *s)
{
	int status = spawn_reap(&s->child);

	if (status >= 0)
		s->exit_code = status;
	return check_hooked(s) ?: report(s, true);
}

static int run_loop(struct alloc_session *s)
{
	uint64_t interval_ns = s->opts->interval_s * 1e9;
	uint64_t next = monotonic_ns() + interval_ns;
	unsigned long long count = s->opts->count, reports = 0;
	int err;

	while (!stop_requested()) {
		uint64_t now = monotonic_ns();
		int timeout_ms = now >= next ? 0 : (next - now + 999999) / 1000000;

		/* record --stalls: its stall events read often enough not to fill their buffer. */
		if (s->pressure && timeout_ms > 100)
			timeout_ms = 100;
		err = output_wait(ring_buffer__epoll_fd(s->rb), timeout_ms);
		if (err < 0)
			return err;
		if (s->pressure) {
			err = pressure_consume(s->pressure);
			if (err)
				return err;
		}
		err = ring_buffer__poll(s->rb, 0);
		if (err < 0 && err != -EINTR) {
			error_msg("ring buffer: %s", strerror(-err));
			return err;
		}
		answer_events(s);
		if (s->no_allocator)
			return s->no_allocator;
		if (s->exited)
			return report_exit(s);
		if (s->maps_dirty) {
			unwinder_update(s);
			symbolizer_refresh(s->sym);
			s->maps_dirty = false;
		}
		if (s->exec_ts)
			exec_done(s);
		if (monotonic_ns() < next)
			continue;
		err = report(s, count && reports + 1 >= count);
		if (err)
			return err;
		next += interval_ns;
		if (count && ++reports >= count)
			return 0;
	}
	/*
	 * Ctrl-C on a terminal reaches the command too, and ends it as it
	 * ends memlens: its exit, if it comes at once, is the last report's
	 * (leaked at exit, and how it ended), not a scan of a pid gone.
	 */
	if (s->child.pid > 0)
		wait_for_exit(s, 200);
	if (s->exited)
		return report_exit(s);
	/* A last report of what is outstanding now. */
	return check_hooked(s) ?: report(s, true);
}

int alloc_session_run(struct session_opts *o)
{
	struct alloc_session s = {
		.opts = o,
		.source = o->source,
		.child = { .go_fd = -1, .exec_err_fd = -1 },
	};
	unsigned int said;
	int err;

	if (report_opts_check_files(o->show))
		return 1;
	if (check_privileges() || check_host_pids() || check_btf() || ensure_tracefs())
		return 1;
	if (o->pid && (check_target_pid(&o->pid) ||
		       check_user_memory(o->pid, "start the program under memlens instead")))
		return 1;
	setup_libbpf_logging();
	catch_stop_signals();
	ignore_sigpipe();

	/* Before any command starts: a path that cannot be written stops nothing. */
	if (o->output) {
		if (check_output_path(o->output))
			return 1;
		err = rec_writer_open(o->output, &s.rec);
		if (err) {
			error_msg("cannot write %s: %s", o->output, strerror(-err));
			return 1;
		}
	}
	said = errors_said();
	err = session_start(&s);
	if (!err)
		err = run_loop(&s);
	/* A failure none of the parts said (out of memory in a helper): one line. */
	if (err && errors_said() == said && !output_failed())
		error_msg("cannot go on: %s", strerror(-err));
	/*
	 * Nothing was recorded, or nothing worth it: no file is left behind;
	 * a device or a FIFO written in place is no file of ours.
	 */
	if (s.rec && ((err && !s.rec_begun) || s.no_allocator)) {
		rec_writer_abandon(s.rec, o->output);
		s.rec = NULL;
	}
	if (close_recording(&s))
		err = -EIO;
	session_close(&s);
	return err || output_failed() ? 1 : 0;
}
