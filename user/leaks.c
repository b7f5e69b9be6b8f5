// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * memlens leaks: outstanding allocations of one process grouped by call
 * stack, reported every interval and when the process exits.
 *
 * memlens allocs: the same session for a Go program, whose heap is
 * garbage-collected: the allocations it makes by call stack (goheap.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocs.h"
#include "allocs.skel.h"
#include "bpf_compat.h"
#include "alloc_probes.h"
#include "bpf_util.h"
#include "cli.h"
#include "goheap.h"
#include "procmaps.h"
#include "recfile.h"
#include "report.h"
#include "sampling.h"
#include "stack_cache.h"
#include "subcommands.h"
#include "symbolize.h"
#include "unwind_table.h"
#include "util.h"

struct leaks_env {
	int pid;
	char **cmd;		/* -- CMD ARGS..., NULL with -p */
	double interval_s;
	unsigned long long count;	/* reports before exiting, 0 = no limit */
	struct report_opts show;	/* how reports are shown: -t, -a, -j, --folded, ... */
	const char *allocator;	/* --allocator: the one file to hook, not those found */
	bool record_mode;	/* memlens record: snapshots into a file, no report */
	const char *output;	/* record -o FILE */
	const char *report_opt;	/* a rendering option given to record, for its error */
	unsigned long long max_allocs;
	unsigned long long max_stacks;
	bool unwind_fp;		/* --unwind fp: frame pointers only */
	bool unwind_set;	/* --unwind or --unwind-rows given */
	unsigned long long unwind_rows;
	unsigned long long sample_bytes;	/* --sample-bytes R, 0 = every allocation */
	bool go;		/* memlens allocs: a Go program's allocation profile */
	const char *name;	/* of the subcommand, for messages */
};

struct alloc_snapshot {
	struct alloc_key *keys;
	struct alloc_info *vals;
	struct alloc_rec *recs;
	size_t cap;
	size_t nr;
};

/* Everything one tracing session holds. */
struct leaks_session {
	struct leaks_env *env;
	struct allocs_bpf *skel;
	struct alloc_probes *probes;	/* --allocator PATH */
	struct alloc_hooks *hooks;	/* the allocators found in the process's maps */
	struct go_probes *go_probes;	/* memlens allocs */
	struct sym_stack go_view;	/* a stack without its runtime frames */
	struct ring_buffer *rb;
	struct symbolizer *sym;
	struct stack_cache *stacks;
	struct unwinder *unwinder;	/* NULL with --unwind fp */
	struct alloc_snapshot snap;
	struct rec_writer *rec;	/* memlens record */
	struct rec_alloc *rec_allocs;
	char comm[64];
	pid_t child;		/* started by us, 0 with -p */
	int go_fd;		/* write end of the child's start pipe */
	int exec_err_fd;	/* read end: errno if the child's exec failed */
	bool maps_dirty;	/* new executable mappings since the last read */
	uint64_t exec_ts;	/* the process exec'd at this time: drop older blocks */
	bool exited;
	bool go_program;	/* leaks of a Go program: its mmaps are its heap */
	/* Events of this batch, answered by answer_events(). */
	bool new_code;		/* exec or new executable mappings */
	bool exiting;		/* our command stopped at _exit */
	bool held;		/* our command stopped until answered */
	int exit_code;
	int no_allocator;	/* -errno: no allocator could be hooked, the run ends */
	bool rec_begun;		/* the recording has its header: keep what it has */
};

static const char leaks_usage[] =
"Usage: memlens leaks [OPTIONS] -p PID\n"
"       memlens leaks [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Report the outstanding allocations of one process by call stack: every\n"
"interval, at Ctrl-C, and as leaked-at-exit when the process exits.\n"
"\n";

static const char record_usage[] =
"Usage: memlens record [OPTIONS] -o FILE -p PID\n"
"       memlens record [OPTIONS] -o FILE -- COMMAND [ARGS...]\n"
"\n"
"Record a leaks session into FILE: the outstanding allocations of one process\n"
"at every interval, at Ctrl-C and at its exit, with their stacks symbolized, so\n"
"that `memlens report FILE` renders any leaks view later, on any machine, after\n"
"the process and its binaries are gone.\n"
"\n";

static const char allocs_usage[] =
"Usage: memlens allocs [OPTIONS] -p PID\n"
"       memlens allocs [OPTIONS] -- COMMAND [ARGS...]\n"
"\n"
"Report the heap allocations a Go program makes (runtime.mallocgc), by call\n"
"stack: which functions' values escape to the heap. Go frees nothing one by\n"
"one, so this counts allocations made while traced, not outstanding memory.\n"
"Reported every interval, at Ctrl-C, and when the process exits.\n"
"\n";

enum {
	OPT_ALLOCATOR = CLI_CMD_KEYS, OPT_MAX_ALLOCS, OPT_MAX_STACKS, OPT_UNWIND, OPT_UNWIND_ROWS,
	OPT_SAMPLE_BYTES,
};

/*
 * leaks, record and allocs share one parser (parse_args): each takes the
 * others' options only to say whose they are (check_record_args, the Go
 * checks), hence the CLI_HIDDEN entries.
 */
static const struct cli_opt leaks_opts[] = {
	{ "pid", 'p', "PID", 0, "trace a running process" },
	{ "interval", 'i', "SECS", 0, "seconds between reports (default 5)" },
	{ "count", 'n', "N", 0, "stop after N interval reports" },
	{ "top", 't', "N", 0, "show the N stacks with most bytes (default 10, 0 = all)" },
	{ "min-age", 'a', "SECS", 0, "only count allocations older than SECS" },
	{ "json", 'j', NULL, 0, "one JSON object per report" },
	{ "folded", CLI_FOLDED, NULL, 0,
	  "folded stacks instead (\"comm;main;f;g BYTES\" a line),\n"
	  "for flamegraph.pl or speedscope: the last report only" },
	{ "svg", CLI_SVG, "FILE", 0,
	  "also write an interactive flame graph to FILE at\n"
	  "every report (the last one stays)" },
	{ "pprof", CLI_PPROF, "FILE", 0,
	  "also write a pprof heap profile (inuse_space,\n"
	  "inuse_objects) to FILE at every report" },
	{ "allocator", OPT_ALLOCATOR, "PATH", 0,
	  "hook the allocator in PATH (malloc, free, ..., operator\n"
	  "new and delete) instead of those found in the process" },
	{ "libc", OPT_ALLOCATOR, "PATH", CLI_ALIAS, "the same as --allocator PATH" },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", 0,
	  "outstanding allocations tracked (default 262144)" },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "unwind", OPT_UNWIND, "MODE", 0,
	  "how stacks are walked: dwarf (default: by the CFI\n"
	  "of each module, by frame pointer where a module\n"
	  "has none) or fp (frame pointers only, cheapest)" },
	{ "unwind-rows", OPT_UNWIND_ROWS, "N", 0,
	  "unwind table rows for all modules (default 524288)" },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average\n"
	  "(Poisson, by bytes), not every one: cheaper, and the\n"
	  "counts and bytes shown are estimates (default 0 = exact)" },
	{ "output", 'o', "FILE", CLI_HIDDEN, NULL },
	{},
};

static const struct cli_opt record_opts[] = {
	{ "output", 'o', "FILE", 0,
	  "the recording: a new file, mode 0600, renamed over\n"
	  "whatever was at that path" },
	{ "pid", 'p', "PID", 0, "trace a running process" },
	{ "interval", 'i', "SECS", 0, "seconds between snapshots (default 5)" },
	{ "count", 'n', "N", 0, "stop after N interval snapshots" },
	{ "allocator", OPT_ALLOCATOR, "PATH", 0, "as for memlens leaks" },
	{ "libc", OPT_ALLOCATOR, "PATH", CLI_ALIAS | CLI_JOIN, NULL },
	{ "unwind", OPT_UNWIND, "MODE", CLI_JOIN, NULL },
	{ "unwind-rows", OPT_UNWIND_ROWS, "N", CLI_JOIN, NULL },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", 0,
	  "outstanding allocations tracked (default 262144)" },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average\n"
	  "(Poisson, by bytes), not every one: cheaper, and the\n"
	  "counts and bytes shown are estimates (default 0 = exact)" },
	/* memlens report's: a recording is rendered there. */
	{ "top", 't', "N", CLI_HIDDEN, NULL },
	{ "min-age", 'a', "SECS", CLI_HIDDEN, NULL },
	{ "json", 'j', NULL, CLI_HIDDEN, NULL },
	{ "folded", CLI_FOLDED, NULL, CLI_HIDDEN, NULL },
	{ "svg", CLI_SVG, "FILE", CLI_HIDDEN, NULL },
	{ "pprof", CLI_PPROF, "FILE", CLI_HIDDEN, NULL },
	{},
};

static const struct cli_opt allocs_opts[] = {
	{ "pid", 'p', "PID", 0, "trace a running Go program" },
	{ "interval", 'i', "SECS", 0, "seconds between reports (default 5)" },
	{ "count", 'n', "N", 0, "stop after N interval reports" },
	{ "top", 't', "N", 0, "show the N stacks with most bytes (default 10, 0 = all)" },
	{ "json", 'j', NULL, 0, "one JSON object per report" },
	{ "folded", CLI_FOLDED, NULL, 0, "folded stacks instead: the last report only" },
	{ "svg", CLI_SVG, "FILE", 0, "also write a flame graph to FILE at every report" },
	{ "pprof", CLI_PPROF, "FILE", 0,
	  "also write a pprof profile (alloc_space, alloc_objects)" },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "distinct stacks stored (default 16384)" },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "R", 0,
	  "track one allocation every R bytes on average:\n"
	  "estimates (default 0 = every allocation)" },
	/* memlens leaks' and record's: a Go heap needs none of them. */
	{ "output", 'o', "FILE", CLI_HIDDEN, NULL },
	{ "min-age", 'a', "SECS", CLI_HIDDEN, NULL },
	{ "allocator", OPT_ALLOCATOR, "PATH", CLI_HIDDEN, NULL },
	{ "libc", OPT_ALLOCATOR, "PATH", CLI_HIDDEN | CLI_ALIAS, NULL },
	{ "max-allocs", OPT_MAX_ALLOCS, "N", CLI_HIDDEN, NULL },
	{ "unwind", OPT_UNWIND, "MODE", CLI_HIDDEN, NULL },
	{ "unwind-rows", OPT_UNWIND_ROWS, "N", CLI_HIDDEN, NULL },
	{},
};

const struct cli_cmd leaks_cli = {
	.name = "leaks",
	.usage = leaks_usage,
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ leaks_opts, cli_verbose_help, NULL },
};

const struct cli_cmd record_cli = {
	.name = "record",
	.usage = record_usage,
	.epilog = "\nA Go program's heap is not malloc's: see memlens allocs.\n",
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ record_opts, cli_verbose_help, NULL },
};

const struct cli_cmd allocs_cli = {
	.name = "allocs",
	.usage = allocs_usage,
	.stop_at_operand = true,
	.tables = (const struct cli_opt *const[]){ allocs_opts, cli_verbose_help, NULL },
};

static int check_record_args(const struct leaks_env *env)
{
	if (!env->record_mode && env->output) {
		error_msg("%s: -o FILE is an option of memlens record", env->name);
		return -EINVAL;
	}
	if (!env->record_mode)
		return 0;
	if (!env->output) {
		error_msg("record: give the file to write with -o FILE");
		return -EINVAL;
	}
	if (env->report_opt) {
		error_msg("record: --%s is an option of memlens report, which renders the recording",
			  env->report_opt);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct leaks_env *env, const struct cli_cmd *cli)
{
	struct cli_parser p;
	unsigned long long v;
	int opt, err;

	if (cli_parser_init(&p, cli))
		return -E2BIG;
	while ((opt = cli_next(&p, argc, argv)) != -1) {
		if (opt == CLI_BAD)
			return -EINVAL;
		err = report_opts_parse(&env->show, opt, optarg);
		if (err < 0)
			return err;
		if (err) {
			/* Record renders nothing: those options belong to report. */
			env->report_opt = cli_key_name(cli, opt);
			continue;
		}
		switch (opt) {
		case 'p':
			if (parse_uint(optarg, "pid", 0x3fffffff, &v))
				return -EINVAL;
			env->pid = v;
			break;
		case 'o':
			env->output = optarg;
			break;
		case 'i':
			if (parse_interval(optarg, &env->interval_s))
				return -EINVAL;
			break;
		case 'n':
			if (parse_uint(optarg, "count", 1ULL << 32, &env->count))
				return -EINVAL;
			break;
		case OPT_ALLOCATOR:
			env->allocator = optarg;
			break;
		case OPT_MAX_ALLOCS:
			if (parse_uint(optarg, "max-allocs", 1ULL << 26, &env->max_allocs))
				return -EINVAL;
			break;
		case OPT_MAX_STACKS:
			if (parse_uint(optarg, "max-stacks", 1ULL << 22, &env->max_stacks))
				return -EINVAL;
			break;
		case OPT_UNWIND:
			if (strcmp(optarg, "dwarf") && strcmp(optarg, "fp")) {
				error_msg("%s: --unwind is dwarf or fp, not '%s'", env->name, optarg);
				return -EINVAL;
			}
			env->unwind_fp = !strcmp(optarg, "fp");
			env->unwind_set = true;
			break;
		case OPT_UNWIND_ROWS:
			if (parse_uint(optarg, "unwind-rows", UNWIND_MAX_ROWS, &env->unwind_rows))
				return -EINVAL;
			env->unwind_set = true;
			if (env->unwind_rows < 1) {
				error_msg("%s: --unwind-rows must be at least 1", env->name);
				return -EINVAL;
			}
			break;
		case OPT_SAMPLE_BYTES:
			if (parse_uint(optarg, "sample-bytes", SAMPLE_MAX_BYTES, &env->sample_bytes))
				return -EINVAL;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			cli_print_help(cli, stdout);
			exit(0);
		default:
			bad_option(env->name, '?', argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (check_record_args(env))
		return -EINVAL;
	if (optind < argc)
		env->cmd = &argv[optind];
	if (!env->pid == !env->cmd) {
		error_msg("%s: give either -p PID or -- COMMAND (see memlens %s --help)", env->name,
			  env->name);
		return -EINVAL;
	}
	if ((env->max_allocs && env->max_allocs < 1) || (env->max_stacks && env->max_stacks < 1)) {
		error_msg("map sizes must be at least 1");
		return -EINVAL;
	}
	if (env->show.folded && env->show.json) {
		error_msg("%s: --folded and --json are two outputs: choose one", env->name);
		return -EINVAL;
	}
	if (env->go &&
	    (env->show.min_age_s || env->allocator || env->max_allocs || env->unwind_set)) {
		/* Go keeps frame pointers: its stacks need no unwind tables. */
		error_msg("allocs: --min-age, --allocator, --max-allocs and --unwind* are for memlens leaks");
		return -EINVAL;
	}
	if (env->unwind_fp && env->unwind_rows) {
		error_msg("%s: --unwind-rows sizes the tables of --unwind dwarf, not fp", env->name);
		return -EINVAL;
	}
	return 0;
}

/*
 * Fork the command stopped before exec, so the probes are in place for its
 * first instruction: it execs when we close GO_FD.
 */
static int spawn_stopped(struct leaks_session *s)
{
	int go[2], exec_err[2], fork_err;
	sigset_t mask;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(go, O_CLOEXEC) || pipe2(exec_err, O_CLOEXEC))
		return -errno;
	block_stop_signals(&mask);
	pid = fork();
	fork_err = errno;
	if (pid == 0) {
		int err;

		close(go[1]);
		close(exec_err[0]);
		reset_signals_for_exec();
		sigprocmask(SIG_SETMASK, &mask, NULL);
		/* Should memlens die while holding us at _exit, go on. */
		prctl(PR_SET_PDEATHSIG, SIGCONT);
		/*
		 * One byte is the go signal; EOF means we gave up: do not run.
		 * Not _exit(): it is hooked for this pid, and would hold us.
		 */
		do
			n = read(go[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			syscall(SYS_exit_group, 127);
		execvp(s->env->cmd[0], s->env->cmd);
		err = errno;
		/* If this fails the parent reads EOF, then our exit status. */
		n = write(exec_err[1], &err, sizeof(err));
		(void)n;
		syscall(SYS_exit_group, 127);
	}
	sigprocmask(SIG_SETMASK, &mask, NULL);
	close(go[0]);
	close(exec_err[1]);
	if (pid < 0) {
		close(go[1]);
		close(exec_err[0]);
		return -fork_err;
	}
	s->child = pid;
	s->go_fd = go[1];
	s->exec_err_fd = exec_err[0];
	return 0;
}

/* The command died before it was released (a Ctrl-C, a kill): say how. */
static int child_gone(struct leaks_session *s)
{
	int status = 0;

	while (waitpid(s->child, &status, 0) < 0 && errno == EINTR)
		;
	s->child = 0;
	if (WIFSIGNALED(status))
		error_msg("%s was ended by %s before it started", s->env->cmd[0],
			  strsignal(WTERMSIG(status)));
	else
		error_msg("%s ended before it started", s->env->cmd[0]);
	return -ESRCH;
}

/* Release the command; fails if its exec did. */
static int release_child(struct leaks_session *s)
{
	int err = 0;
	ssize_t n;

	n = write(s->go_fd, "g", 1);
	close(s->go_fd);
	s->go_fd = -1;
	if (n != 1)
		return child_gone(s);
	n = read(s->exec_err_fd, &err, sizeof(err));
	close(s->exec_err_fd);
	s->exec_err_fd = -1;
	if (n == sizeof(err)) {
		error_msg("cannot run %s: %s", s->env->cmd[0], strerror(err));
		waitpid(s->child, NULL, 0);
		s->child = 0;
		return -err;
	}
	return 0;
}

static int say_no_allocator(int pid)
{
	error_msg("pid %d maps no allocator (no malloc or operator new symbol): "
		  "use --allocator PATH", pid);
	return -ENOENT;
}

/*
 * New code in the process: hook any allocator it brings. Files are opened
 * through /proc/PID/map_files, so that an allocator in another mount
 * namespace, or one replaced on disk since, is the one hooked.
 *
 * A run that hooks no allocator would report mmaps only, as if nothing
 * were malloc'd: it ends, when every hook failed, or when the process
 * has no allocator and no dynamic loader to map one (static, stripped).
 * With a dynamic loader, the allocator may come later (dlopen).
 */
static void hook_new_code(struct leaks_session *s)
{
	int pid = s->skel->rodata->targ_tgid, err;
	bool pending = false;

	if (!s->hooks)
		return;
	err = alloc_hooks_scan(s->hooks, pid, &pending);
	if (err < 0 && !*alloc_hooks_error(s->hooks))
		return;		/* gone: its exit is reported */
	if (err < 0)
		alloc_hooks_say_error(s->hooks, pid, err);
	if (alloc_hooks_count(s->hooks) || s->go_program)
		return;
	if (err < 0)
		s->no_allocator = err;
	else if (!pending)
		s->no_allocator = say_no_allocator(pid);
}

static void unwinder_update(struct leaks_session *s)
{
	int err;

	if (!s->unwinder)
		return;
	err = unwinder_refresh(s->unwinder);
	if (err)
		debug_msg("unwind tables not updated: %s", strerror(-err));
}

/*
 * After a batch of events: hook what new code brought (exec, a new
 * executable mapping), load its unwind tables, read the maps of a command
 * stopped at _exit; then let our command, held meanwhile (maps_changed()
 * in allocs.bpf.c), go on. Symbols can wait.
 *
 * One SIGCONT, once no event came in during the work: a SIGCONT discards
 * a SIGSTOP still pending, so answering each hold in turn, or before the
 * events that arrived meanwhile, could let another thread's new code run
 * before it is hooked.
 */
static void answer_events(struct leaks_session *s)
{
	do {
		if (s->new_code) {
			s->new_code = false;
			s->maps_dirty = true;
			hook_new_code(s);
			unwinder_update(s);
		}
		if (s->exiting) {
			s->exiting = false;
			symbolizer_refresh(s->sym);
			s->maps_dirty = false;
		}
	} while (ring_buffer__consume(s->rb) > 0 && (s->new_code || s->exiting));
	/* Not traced: session_close() lets it go once the hooks are off. */
	if (s->no_allocator)
		return;
	if (s->held && s->child > 0)
		kill(s->child, SIGCONT);
	s->held = false;
}

static void new_code(struct leaks_session *s, const struct event *e)
{
	s->new_code = true;
	if ((e->flags & EVENT_F_HELD) && s->child > 0 && (pid_t)e->tgid == s->child)
		s->held = true;
}

/*
 * The file COMMAND names, as execvp() finds it: itself if it has a slash,
 * else the first executable of that name in $PATH.
 */
static int resolve_command(const char *command, char *path, size_t len)
{
	const char *dirs = getenv("PATH"), *end;

	if (strchr(command, '/')) {
		snprintf(path, len, "%s", command);
		return access(path, X_OK) ? -errno : 0;
	}
	for (dirs = dirs && *dirs ? dirs : "/usr/local/bin:/usr/bin:/bin"; *dirs; dirs = end) {
		int n;

		end = strchrnul(dirs, ':');
		n = end - dirs;
		snprintf(path, len, "%.*s/%s", n ? n : 1, n ? dirs : ".", command);
		if (*end)
			end++;
		if (access(path, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/*
 * The executable of the target, for memlens allocs: /proc/PID/exe (the
 * very file, in whatever mount namespace), or the command we will start.
 */
static int find_program(struct leaks_session *s, char *path, size_t len, char *name,
			size_t name_len)
{
	ssize_t n;
	int err;

	if (s->env->cmd) {
		err = resolve_command(s->env->cmd[0], path, len);
		if (err) {
			error_msg("cannot run %s: %s", s->env->cmd[0], strerror(-err));
			return err;
		}
		snprintf(name, name_len, "%s", path);
	} else {
		snprintf(path, len, "/proc/%d/exe", s->env->pid);
		n = readlink(path, name, name_len - 1);
		if (n < 0) {
			error_msg("cannot read %s: %s", path, strerror(errno));
			return -errno;
		}
		name[n] = '\0';
	}
	if (!go_binary(path)) {
		error_msg("%s is not a Go program (no runtime.mallocgc symbol; stripped Go programs "
			  "have none either): see memlens leaks", name);
		return -ENOEXEC;
	}
	return 0;
}

/*
 * memlens leaks of a Go program sees only what its C code (cgo) mallocs:
 * say so. The runtime's own mmaps are its heap arenas (hundreds of MB
 * reserved up front), not leaks: they are not tracked.
 */
static bool check_go_program(struct leaks_session *s)
{
	char path[4096], name[4096 + 64];

	if (s->env->cmd) {
		if (resolve_command(s->env->cmd[0], path, sizeof(path)))
			return false;
	} else {
		snprintf(path, sizeof(path), "/proc/%d/exe", s->env->pid);
	}
	if (!go_binary(path))
		return false;
	snprintf(name, sizeof(name), "%s", s->env->cmd ? s->env->cmd[0] : path);
	info_msg("%s is a Go program: memlens leaks sees only what C code in it mallocs; "
		 "its Go heap is for memlens allocs", name);
	return true;
}

static int handle_event(void *ctx, void *data, size_t len)
{
	struct leaks_session *s = ctx;
	const struct event *e = data;

	if (len < sizeof(*e))
		return 0;
	switch (e->type) {
	case EVENT_EXIT:
		s->exited = true;
		s->exit_code = e->exit_code;
		break;
	case EVENT_MAPS_CHANGED:
		new_code(s, e);
		break;
	case EVENT_EXEC:
		s->exec_ts = e->ts_ns;
		new_code(s, e);
		break;
	case EVENT_EXITING:
		/* Our command, stopped at _exit: read its maps, let it go. */
		debug_msg("pid %d held at _exit to read its maps", e->tgid);
		s->exiting = true;
		s->held = true;
		break;
	}
	return 0;
}

/* Go keeps frame pointers; the others unwind by CFI unless told fp. */
static bool uses_unwind_tables(const struct leaks_env *env)
{
	return !env->unwind_fp && !env->go;
}

static int open_bpf(struct leaks_session *s, int target)
{
	struct leaks_env *env = s->env;

	s->skel = allocs_bpf__open();
	if (!s->skel) {
		error_msg("cannot open BPF object: %s", strerror(errno));
		return -errno;
	}
	s->skel->rodata->targ_tgid = target;
	s->skel->rodata->hold_at_exit = env->cmd != NULL;
	/* New code: allocators to hook, unwind tables to load, before it runs. */
	s->skel->rodata->hold_for_maps = env->cmd != NULL;
	if (uses_unwind_tables(env)) {
		s->skel->rodata->unwind_tables = true;
		bpf_map__set_max_entries(s->skel->maps.unwind_rows,
					 env->unwind_rows ? env->unwind_rows : UNWIND_DEFAULT_ROWS);
	}
	allocs_leaks_programs(s->skel);
	allocs_compat_prepare(s->skel);
	alloc_probes_prepare(s->skel);
	if (env->max_allocs)
		bpf_map__set_max_entries(s->skel->maps.allocs, env->max_allocs);
	if (env->max_stacks)
		bpf_map__set_max_entries(s->skel->maps.stacks, env->max_stacks);
	/* The Go runtime maps its heap arenas itself: not blocks to report. */
	s->skel->rodata->track_mmaps = !env->go && !s->go_program;
	if (env->go) {
		if (env->max_stacks)
			bpf_map__set_max_entries(s->skel->maps.go_allocs, env->max_stacks);
	}
	s->skel->rodata->sample_bytes = env->sample_bytes;
	if (env->sample_bytes)
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
static int load_bpf(struct leaks_session *s, int target)
{
	int err = open_bpf(s, target);

	if (!err)
		err = skeleton_load(s->skel->skeleton);
	if (err && uses_unwind_tables(s->env) && unwinder_refused(err)) {
		int refused = err;

		allocs_bpf__destroy(s->skel);
		s->env->unwind_fp = true;
		err = open_bpf(s, target);
		if (!err)
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

static uint64_t count_threads(struct leaks_session *s)
{
	int fd = bpf_map__fd(s->skel->maps.threads);
	__u32 key, next;
	uint64_t n = 0;

	for (int err = bpf_map_get_next_key(fd, NULL, &next); !err;
	     err = bpf_map_get_next_key(fd, &key, &next)) {
		key = next;
		n++;
	}
	return n;
}

static int snapshot_resize(struct alloc_snapshot *snap, size_t cap)
{
	struct alloc_key *keys = realloc(snap->keys, cap * sizeof(*keys));
	struct alloc_info *vals;
	struct alloc_rec *recs;

	if (!keys)
		return -ENOMEM;
	snap->keys = keys;
	vals = realloc(snap->vals, cap * sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	snap->vals = vals;
	recs = realloc(snap->recs, cap * sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	snap->recs = recs;
	snap->cap = cap;
	return 0;
}

/*
 * Buffers for one read of the allocs map. A batched read of a hash map
 * returns whole buckets, and entries move between buckets already read and
 * not yet read while the process runs: leave room beyond max_entries.
 */
static int snapshot_init(struct leaks_session *s)
{
	size_t max = bpf_map__max_entries(s->skel->maps.allocs);

	return snapshot_resize(&s->snap, max + max / 8 + 64);
}

static void snapshot_free(struct alloc_snapshot *snap)
{
	free(snap->keys);
	free(snap->vals);
	free(snap->recs);
}

/*
 * Outstanding allocations of the target, read in batches. Afterwards
 * keys[0..nr) and recs[0..nr) describe the target's blocks.
 */
static int snapshot_read(struct leaks_session *s)
{
	struct alloc_snapshot *snap = &s->snap;
	int fd = bpf_map__fd(s->skel->maps.allocs);
	__u32 tgid = s->skel->rodata->targ_tgid;
	struct alloc_key batch;
	size_t total;
	bool first;
	int err;

restart:
	total = 0;
	first = true;
	for (;;) {
		__u32 count = snap->cap - total;

		err = count ? bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
						   snap->keys + total, snap->vals + total,
						   &count, NULL) : -1;
		if (!count && !err)
			errno = ENOSPC;
		first = false;
		total += count;
		if (err && errno == ENOENT)
			break;
		if (err && errno == ENOSPC) {
			/* More than we made room for: read it all again. */
			err = snapshot_resize(snap, snap->cap * 2);
			if (err)
				return err;
			goto restart;
		}
		if (err)
			return -errno;
	}
	snap->nr = 0;
	for (size_t i = 0; i < total; i++) {
		const struct alloc_info *v = &snap->vals[i];
		/* Mappings the program makes are tracked exactly, never sampled. */
		bool exact = v->kind == KIND_MMAP || v->kind == KIND_MREMAP ||
			     (v->flags & ALLOC_F_UNSAMPLED);

		if (snap->keys[i].tgid != tgid)
			continue;
		snap->keys[snap->nr] = snap->keys[i];
		snap->recs[snap->nr++] = (struct alloc_rec){
			.stack_id = v->stack_id,
			.size = v->size,
			.ts_ns = v->ts_ns,
			.sample_bytes = exact ? 0 : s->env->sample_bytes,
		};
	}
	return 0;
}

/*
 * The process exec'd: what the old image allocated went with it. Blocks of
 * the new image (allocated after the exec) stay.
 */
static void drop_old_image(struct leaks_session *s)
{
	struct alloc_snapshot *snap = &s->snap;
	__u32 count = 0;

	if (s->env->go) {
		/* Before the exec it was our fork: no Go allocations to drop. */
		read_comm(s->skel->rodata->targ_tgid, s->comm, sizeof(s->comm));
		s->exec_ts = 0;
		return;
	}
	if (snapshot_read(s))
		return;
	for (size_t i = 0; i < snap->nr; i++)
		if (snap->recs[i].ts_ns < s->exec_ts)
			snap->keys[count++] = snap->keys[i];
	if (count && bpf_map_delete_batch(bpf_map__fd(s->skel->maps.allocs), snap->keys,
					  &count, NULL))
		error_msg("cannot remove the old image's allocations: %s", strerror(errno));
	debug_msg("exec: %u blocks of the old image dropped", count);
	read_comm(s->skel->rodata->targ_tgid, s->comm, sizeof(s->comm));
	s->exec_ts = 0;
}

/* The process is gone: its blocks leave the map with its last report. */
static void snapshot_delete(struct leaks_session *s)
{
	__u32 count = s->snap.nr;

	if (count && bpf_map_delete_batch(bpf_map__fd(s->skel->maps.allocs), s->snap.keys,
					  &count, NULL))
		error_msg("cannot remove exited pid's allocations: %s", strerror(errno));
}

/* A Go stack starts at the function that allocated, past the runtime's frames. */
static const struct sym_stack *report_stack(void *ctx, uint64_t id)
{
	struct leaks_session *s = ctx;
	const struct sym_stack *st = stack_cache_get(s->stacks, id);

	return s->env->go ? go_user_stack(st, &s->go_view) : st;
}

/*
 * Blocks whose stacks are one once cut where they stop being code go
 * under one id, before they are grouped or recorded.
 */
static void snapshot_report_ids(struct leaks_session *s)
{
	for (size_t i = 0; i < s->snap.nr; i++)
		s->snap.recs[i].stack_id = stack_cache_report_id(s->stacks,
								 s->snap.recs[i].stack_id);
}

/* A Go program's groups, by the same ids: those that became one are added up. */
static void go_report_ids(struct leaks_session *s, struct leak_report *r)
{
	for (size_t i = 0; i < r->nr_groups; i++)
		r->groups[i].stack_id = stack_cache_report_id(s->stacks, r->groups[i].stack_id);
	merge_groups(r->groups, &r->nr_groups);
}

/* R's groups: outstanding blocks (read before), or a Go program's allocations. */
static int group_report(struct leaks_session *s, struct leak_report *r)
{
	int err;

	if (s->env->go) {
		err = go_allocs_read(bpf_map__fd(s->skel->maps.go_allocs), r->pid,
				     s->env->sample_bytes, &r->groups, &r->nr_groups);
		if (err) {
			error_msg("cannot read Go allocations: %s", strerror(-err));
			return err;
		}
		go_report_ids(s, r);
		r->stats[STAT_STACK_NOT_CODE] = stack_cache_not_code(s->stacks);
		return 0;
	}
	return group_by_stack(s->snap.recs, s->snap.nr, r->now_ns, s->env->show.min_age_s * 1e9,
			      &r->groups, &r->nr_groups);
}

/* The groups of R, in every output asked for. */
static int render_report(struct leaks_session *s, struct leak_report *r, bool final)
{
	int err;

	err = group_report(s, r);
	if (err)
		return err;
	for (size_t i = 0; i < r->nr_groups; i++) {
		r->total_count += r->groups[i].count;
		r->total_bytes += r->groups[i].bytes;
		r->total_samples += r->groups[i].samples;
	}
	/* Folded reports one after another would add up: the FINAL one only. */
	err = report_write_outputs(r, s->env->show.folded && final, s->env->show.svg,
				   s->env->show.pprof);
	if (s->env->show.json)
		report_print_json(stdout, r);
	else if (!s->env->show.folded)
		report_print_text(stdout, r);
	free(r->groups);
	return err;
}

/* memlens record: the snapshot goes into the file, every block as it is. */
static int record_snapshot(struct leaks_session *s, const struct leak_report *r)
{
	const struct alloc_snapshot *snap = &s->snap;
	struct rec_snapshot rs = {
		.wall_ns = realtime_ns(),
		.mono_ns = r->now_ns,
		.exited = r->exited,
		.exit_code = r->exit_code,
		.comm = r->comm,
		.threads_tracked = r->threads_tracked,
	};
	struct rec_alloc *allocs;

	memcpy(rs.stats, r->stats, sizeof(rs.stats));
	allocs = realloc(s->rec_allocs, (snap->nr + 1) * sizeof(*allocs));
	if (!allocs)
		return -ENOMEM;
	s->rec_allocs = allocs;
	for (size_t i = 0; i < snap->nr; i++)
		allocs[i] = (struct rec_alloc){
			.addr = snap->keys[i].addr,
			.size = snap->recs[i].size,
			.ts_ns = snap->recs[i].ts_ns,
			.stack_id = snap->recs[i].stack_id,
			.sample_bytes = snap->recs[i].sample_bytes,
		};
	/* An error is told once, when the recording is closed. */
	return rec_writer_snapshot(s->rec, &rs, allocs, snap->nr, report_stack, s);
}

/* FINAL: the last report of the session (exit, Ctrl-C, the -n-th). */
static int report(struct leaks_session *s, bool final)
{
	struct leak_report r = {
		.pid = s->skel->rodata->targ_tgid,
		.comm = s->comm,
		.exited = s->exited,
		.exit_code = s->exit_code,
		.top = s->env->show.top,
		.sample_bytes = s->env->sample_bytes,
		.allocated = s->env->go,
		.stack = report_stack,
		.ctx = s,
	};
	int err;

	if (!s->exited)
		symbolizer_refresh(s->sym);
	if (!s->env->go) {
		err = snapshot_read(s);
		if (err) {
			error_msg("cannot read outstanding allocations: %s", strerror(-err));
			return err;
		}
		snapshot_report_ids(s);
	}
	r.now_ns = monotonic_ns();
	r.wall_time = time(NULL);
	percpu_array_sum(bpf_map__fd(s->skel->maps.stats), STAT_NR, r.stats);
	if (s->unwinder) {
		struct unwinder_stats us;

		unwinder_get_stats(s->unwinder, &us);
		r.stats[STAT_UNWIND_TOO_BIG] = us.modules_too_big;
		r.stats[STAT_UNWIND_MAPS_DROPPED] = us.mappings_dropped;
	}
	/* Every outstanding block's stack is read by now: all cuts are counted. */
	r.stats[STAT_STACK_NOT_CODE] = stack_cache_not_code(s->stacks);
	r.threads_tracked = count_threads(s);
	if (s->rec)
		err = record_snapshot(s, &r);
	else
		err = render_report(s, &r, final);
	if (s->exited && s->env->go)
		go_allocs_delete(bpf_map__fd(s->skel->maps.go_allocs), r.pid);
	else if (s->exited)
		snapshot_delete(s);
	return err;
}

/* The command line as one string, for the recording's header. */
static char *joined_command(char **cmd)
{
	size_t len = 1;
	char *s;

	for (char **a = cmd; a && *a; a++)
		len += strlen(*a) + 1;
	s = calloc(1, len);
	for (char **a = cmd; s && a && *a; a++) {
		if (a != cmd)
			strcat(s, " ");
		strcat(s, *a);
	}
	return s;
}

/* The header and session, once the target is known. */
static int begin_recording(struct leaks_session *s, int target)
{
	char host[256] = "";
	struct utsname uts = {};
	char *command = joined_command(s->env->cmd);
	struct rec_session sess = {
		.pid = target,
		.comm = s->comm,
		.command = command ? command : "",
		.hostname = host,
		.kernel = uts.release,
		.version = MEMLENS_VERSION,
		.start_wall_ns = realtime_ns(),
		.interval_ns = s->env->interval_s * 1e9,
		.sample_bytes = s->env->sample_bytes,
	};
	int err;

	gethostname(host, sizeof(host) - 1);
	uname(&uts);
	err = rec_writer_begin(s->rec, &sess);
	free(command);
	return err;
}

/* After an error too, the file is readable: it is cut back to its last whole snapshot. */
static int close_recording(struct leaks_session *s)
{
	uint64_t bytes = 0;
	int err;

	if (!s->rec)
		return 0;
	err = rec_writer_close(s->rec, &bytes);
	s->rec = NULL;
	if (err) {
		error_msg("cannot write %s: %s; it keeps the snapshots taken before (%" PRIu64 " bytes)",
			  s->env->output, strerror(-err), bytes);
		return err;
	}
	info_msg("recorded %" PRIu64 " bytes into %s; render it with: memlens report %s", bytes,
		 s->env->output, s->env->output);
	return 0;
}

static void session_close(struct leaks_session *s)
{
	if (s->go_fd >= 0) {
		/* Never released: the command exits without running. */
		close(s->go_fd);
		if (s->child > 0)
			waitpid(s->child, NULL, 0);
	}
	/*
	 * Hooks and programs off first: no new stop at _exit, exec or a new
	 * code mapping after the SIGCONT below.
	 */
	alloc_probes_detach(s->probes);
	alloc_hooks_free(s->hooks);
	go_probes_detach(s->go_probes);
	ring_buffer__free(s->rb);
	allocs_bpf__destroy(s->skel);
	if (s->go_fd < 0 && s->child > 0) {
		/* Never leave it stopped, whatever happened to us. */
		kill(s->child, SIGCONT);
		info_msg("pid %d continues untraced", s->child);
	}
	if (s->exec_err_fd >= 0)
		close(s->exec_err_fd);
	rec_writer_abandon(s->rec);
	free(s->rec_allocs);
	stack_cache_free(s->stacks);
	unwinder_free(s->unwinder);
	symbolizer_free(s->sym);
	snapshot_free(&s->snap);
}

/*
 * --allocator PATH, hooked before the command runs; or the allocators the
 * process maps: those of a running process now, those of a command as it
 * maps them (it is held at exec and at every new code mapping until they
 * are hooked).
 */
static int hook_allocators(struct leaks_session *s, int target)
{
	const char *path = s->env->allocator;
	int n;

	if (path)
		return alloc_probes_attach(s->skel, path, path, target, s->env->cmd != NULL,
					   &s->probes);
	s->hooks = alloc_hooks_new(s->skel, target, s->env->cmd != NULL,
				   ALLOC_DEFINES_MALLOC | ALLOC_DEFINES_NEW | ALLOC_ANNOUNCE);
	if (!s->hooks)
		return -ENOMEM;
	if (s->env->cmd)
		return 0;
	n = alloc_hooks_scan(s->hooks, target, NULL);
	if (n < 0) {
		alloc_hooks_say_error(s->hooks, target, n);
		return n;
	}
	return n ? 0 : say_no_allocator(target);
}

static int session_start(struct leaks_session *s)
{
	char lib_path[4096 + 64], lib_name[4096 + 64];
	const char *verb = s->env->record_mode ? "recording" : "tracing";
	int target, err = 0;

	if (s->env->go)
		err = find_program(s, lib_path, sizeof(lib_path), lib_name, sizeof(lib_name));
	else
		s->go_program = check_go_program(s);
	if (s->env->go && err)
		return err;
	if (s->env->cmd) {
		err = spawn_stopped(s);
		if (err) {
			error_msg("cannot start %s: %s", s->env->cmd[0], strerror(-err));
			return err;
		}
	}
	target = s->env->pid ? s->env->pid : s->child;
	err = load_bpf(s, target);
	if (err)
		return err;
	s->sym = symbolizer_new(target);
	s->stacks = stack_cache_new(bpf_map__fd(s->skel->maps.stacks), s->sym);
	if (!s->sym || !s->stacks || (!s->env->go && snapshot_init(s)))
		return -ENOMEM;
	if (uses_unwind_tables(s->env)) {
		s->unwinder = unwinder_new(target, bpf_map__fd(s->skel->maps.unwind_rows),
					   bpf_map__max_entries(s->skel->maps.unwind_rows),
					   bpf_map__fd(s->skel->maps.unwind_procs));
		if (!s->unwinder)
			return -ENOMEM;
		/* A running process: its tables before the first stack is taken. */
		if (s->env->pid)
			unwinder_update(s);
	}
	if (s->env->go)
		err = go_probes_attach(s->skel, lib_path, lib_name, target, s->env->cmd != NULL,
				       &s->go_probes);
	else
		err = hook_allocators(s, target);
	if (err)
		return err;
	if (s->env->cmd) {
		err = release_child(s);
		if (err)
			return err;
	} else {
		symbolizer_refresh(s->sym);
	}
	read_comm(target, s->comm, sizeof(s->comm));
	if (s->env->record_mode) {
		err = begin_recording(s, target);
		if (err)
			return err;
		s->rec_begun = true;
	}
	if (s->env->go || s->env->allocator)
		info_msg("%s pid %d (%s), allocator %s%s; Ctrl-C to stop", verb, target,
			 s->env->cmd ? s->env->cmd[0] : s->comm,
			 s->env->go ? "runtime.mallocgc in " : "",
			 s->env->go ? lib_name : s->env->allocator);
	else
		info_msg("%s pid %d (%s); Ctrl-C to stop", verb, target,
			 s->env->cmd ? s->env->cmd[0] : s->comm);
	return 0;
}

/* Our own child: its wait status is more exact than the kernel's exit code. */
static void reap_child(struct leaks_session *s)
{
	int status;

	if (s->child <= 0)
		return;
	if (waitpid(s->child, &status, 0) == s->child)
		s->exit_code = status;
	s->child = 0;
}

/*
 * The end of a command that never mapped an allocator, though it had a
 * dynamic loader to: no report of its mmaps alone.
 */
static int check_hooked(struct leaks_session *s)
{
	if (!s->hooks || alloc_hooks_count(s->hooks) || s->go_program)
		return 0;
	s->no_allocator = say_no_allocator(s->skel->rodata->targ_tgid);
	return s->no_allocator;
}

static int run_loop(struct leaks_session *s)
{
	uint64_t interval_ns = s->env->interval_s * 1e9;
	uint64_t next = monotonic_ns() + interval_ns;
	unsigned long long reports = 0;
	int err;

	while (!stop_requested()) {
		uint64_t now = monotonic_ns();
		int timeout_ms = now >= next ? 0 : (next - now + 999999) / 1000000;

		err = ring_buffer__poll(s->rb, timeout_ms);
		if (err < 0 && err != -EINTR) {
			error_msg("ring buffer: %s", strerror(-err));
			return err;
		}
		answer_events(s);
		if (s->no_allocator)
			return s->no_allocator;
		if (s->exited) {
			reap_child(s);
			return check_hooked(s) ?: report(s, true);
		}
		if (s->maps_dirty) {
			unwinder_update(s);
			symbolizer_refresh(s->sym);
			s->maps_dirty = false;
		}
		if (s->exec_ts)
			drop_old_image(s);
		if (monotonic_ns() < next)
			continue;
		err = report(s, s->env->count && reports + 1 >= s->env->count);
		if (err)
			return err;
		next += interval_ns;
		if (s->env->count && ++reports >= s->env->count)
			return 0;
	}
	/* Ctrl-C: a last report of what is outstanding now. */
	return check_hooked(s) ?: report(s, true);
}

static int run_leaks(struct leaks_env *env)
{
	struct leaks_session s = { .env = env, .go_fd = -1, .exec_err_fd = -1 };
	int err;

	if (report_opts_check_files(&env->show))
		return 1;
	if (check_privileges() || check_btf() || ensure_tracefs())
		return 1;
	if (env->pid && check_pid(env->pid))
		return 1;
	if (env->pid) {
		int tgid = pid_tgid(env->pid);

		if (tgid > 0 && tgid != env->pid) {
			info_msg("%d is a thread of process %d: tracing the process", env->pid, tgid);
			env->pid = tgid;
		}
	}
	setup_libbpf_logging();
	catch_stop_signals();
	ignore_sigpipe();

	/* Before any command starts: a path that cannot be written stops nothing. */
	if (env->output) {
		err = rec_writer_open(env->output, &s.rec);
		if (err) {
			error_msg("cannot write %s: %s", env->output, strerror(-err));
			return 1;
		}
	}
	err = session_start(&s);
	if (!err)
		err = run_loop(&s);
	/* Nothing was recorded, or nothing worth it: no file is left behind. */
	if (s.rec && ((err && !s.rec_begun) || s.no_allocator)) {
		rec_writer_abandon(s.rec);
		s.rec = NULL;
		unlink(env->output);
	}
	if (close_recording(&s))
		err = -EIO;
	session_close(&s);
	return err ? 1 : 0;
}

int cmd_leaks(int argc, char **argv)
{
	struct leaks_env env = { .interval_s = 5, .show.top = 10, .name = "leaks" };

	if (parse_args(argc, argv, &env, &leaks_cli))
		return EXIT_USAGE;
	return run_leaks(&env);
}

int cmd_record(int argc, char **argv)
{
	struct leaks_env env = { .interval_s = 5, .record_mode = true, .name = "record" };

	if (parse_args(argc, argv, &env, &record_cli))
		return EXIT_USAGE;
	return run_leaks(&env);
}

int cmd_allocs(int argc, char **argv)
{
	struct leaks_env env = { .interval_s = 5, .show.top = 10, .go = true, .name = "allocs" };

	if (parse_args(argc, argv, &env, &allocs_cli))
		return EXIT_USAGE;
	return run_leaks(&env);
}
