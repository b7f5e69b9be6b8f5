/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_ALLOC_PROBES_H
#define MEMLENS_ALLOC_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct allocs_bpf;
struct alloc_probes;

/*
 * Attach the allocator uprobes of SKEL to the library at LIB_PATH (opened
 * as given, e.g. through /proc/PID/map_files), shown to the user as
 * LIB_NAME, for process PID (-1: every process). HOLD_AT_EXIT also hooks
 * _exit, where the BPF side stops a command memlens started until its maps
 * are read.
 */
int alloc_probes_attach(struct allocs_bpf *skel, const char *lib_path,
			const char *lib_name, int pid, bool hold_at_exit,
			struct alloc_probes **out);
void alloc_probes_detach(struct alloc_probes *ap);
/*
 * Before loading SKEL: its allocator programs are for uprobe_multi links,
 * or for one uprobe per function where the kernel has none (said once).
 */
void alloc_probes_prepare(struct allocs_bpf *skel);

/*
 * memlens allocs: an entry probe on each allocation function of LIB_PATH
 * (bpf/alloc_profile.bpf.h), as alloc_probes_attach() hooks for leaks.
 */
int alloc_profile_attach(struct allocs_bpf *skel, const char *lib_path, const char *lib_name,
			 int pid, bool hold_at_exit, struct alloc_probes **out);
/*
 * What the program file at PATH defines (ALLOC_DEFINES_*), and in
 * *DYNAMIC whether it has a dynamic loader to map an allocator; -ENOEXEC
 * if it is no ELF file.
 */
int alloc_program_kind(const char *path, bool *dynamic);
/* Before loading SKEL: its memlens allocs programs are loaded, for uprobe_multi where it is. */
void alloc_profile_prepare(struct allocs_bpf *skel);

/* What makes a mapped object an allocator worth hooking; and options. */
enum {
	ALLOC_DEFINES_MALLOC = 1,	/* libc, jemalloc, tcmalloc, a static binary */
	ALLOC_DEFINES_NEW = 2,		/* libstdc++, or any of those with C++ */
	ALLOC_ANNOUNCE = 4,		/* say which files are hooked */
	ALLOC_PROFILE = 8,		/* for memlens allocs: entries only */
};

/*
 * The allocators of processes, found in their maps: every mapped file
 * (executable included) that defines malloc or a C++ operator new, of the
 * kinds in FLAGS, hooked for PID (-1: every process) with what it defines.
 * Each file is looked at once. Every object that defines malloc is hooked,
 * not only the one the process resolves malloc to: the others are never
 * called, or call the winner, and a nested call is not counted twice.
 */
struct alloc_hooks;

struct alloc_hooks *alloc_hooks_new(struct allocs_bpf *skel, int pid, bool hold_at_exit,
				    unsigned int flags);
void alloc_hooks_free(struct alloc_hooks *h);
/*
 * A thread of H's process other than its leader exec'd: its hooks go, and
 * the next scan hooks the new image anew, the files hooked before too.
 * The kernel ties a uprobe attached for one process to the task of its
 * leader, and hooks only that task's mm (uprobe_multi's filter; a perf
 * event's task). That thread goes on under the process's pid in a task
 * of its own, and the old leader's task, gone, has no mm: hooks kept
 * would see nothing the new image does. (Where the leader execs, its
 * task stays, and so do the hooks.) They are closed before the scan makes
 * new ones: see alloc_hooks_exec(). Hooks for every process have no task.
 * alloc_hooks_count() still counts those that went: the process had an
 * allocator, and a new one may not be mapped yet.
 */
void alloc_hooks_exec(struct alloc_hooks *h);
/*
 * Hook the allocators MAPS_PID maps that are not hooked yet; returns how
 * many were, or a negative errno. PENDING (if not NULL): MAPS_PID maps no
 * allocator yet but the dynamic loader, as right after an exec.
 */
int alloc_hooks_scan(struct alloc_hooks *h, int maps_pid, bool *pending);
/* Objects hooked so far. */
size_t alloc_hooks_count(const struct alloc_hooks *h);
/*
 * Why the last alloc_hooks_scan() failed, for a message: "cannot attach
 * uprobes to PATH: ERROR", ...; "" when it did not, or when the process
 * could not be read (gone).
 */
const char *alloc_hooks_error(const struct alloc_hooks *h);
/* Say in one line why a scan of PID failed with ERR. */
void alloc_hooks_say_error(const struct alloc_hooks *h, int pid, int err);
/* Where one allocator function is probed, for -v and memlens doctor. */
struct alloc_probe_info {
	const char *func;
	uint64_t entry;		/* file offset */
	unsigned int skip;	/* bytes past the entry */
	const char *insn;	/* the instruction probed: "push", "jcc", ... */
	bool emulated;		/* the kernel emulates it: no single step */
	const char *how;	/* "+9 push, emulated, past its NULL test" */
	bool hooked;		/* false: a C++ operator left to what it forwards to */
};

/* CB for each allocator function the ELF file at PATH defines. */
int alloc_probes_describe(const char *path,
			  void (*cb)(const struct alloc_probe_info *pi, void *arg), void *arg);

#endif
