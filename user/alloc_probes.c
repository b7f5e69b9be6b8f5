// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Where the allocator entry points are hooked: uprobes by file offset. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocs.h"
#include "allocs.skel.h"
#include "alloc_probes.h"
#include "bpf_compat.h"
#include "cxx_forward.h"
#include "elfsym.h"
#include "kfeatures.h"
#include "kplan.h"
#include "probe_site.h"
#include "procmaps.h"
#include "util.h"

struct alloc_func {
	const char *name;
	bool required;
	bool has_return;	/* free() needs no return probe */
	struct bpf_program *(*entry)(struct allocs_bpf *skel);
	bool null_is_noop;	/* f(NULL) does nothing: probe past the NULL test */
	unsigned char nr_args;	/* registers its entry program reads */
	unsigned char kind;	/* enum alloc_kind, for the session program */
	bool exit_hold;		/* hooked only to hold a command at exit */
	bool marks_allocator;	/* an object that defines it is an allocator */
};

#define ENTRY_PROG(fn) \
	static struct bpf_program *fn##_prog(struct allocs_bpf *s) { return s->progs.fn; }
ENTRY_PROG(malloc_enter)
ENTRY_PROG(calloc_enter)
ENTRY_PROG(realloc_enter)
ENTRY_PROG(reallocarray_enter)
ENTRY_PROG(free_enter)
ENTRY_PROG(posix_memalign_enter)
ENTRY_PROG(memalign_enter)
ENTRY_PROG(valloc_enter)
ENTRY_PROG(pvalloc_enter)
ENTRY_PROG(exit_enter)
ENTRY_PROG(new_enter)
ENTRY_PROG(delete_enter)
ENTRY_PROG(new_unfollowed_enter)

#define FUNC(n, entry_fn, ...) { .name = n, .entry = entry_fn##_prog, __VA_ARGS__ }
#define NEW(n) FUNC(n, new_enter, .has_return = true, .marks_allocator = true, .nr_args = 1, \
		    .kind = KIND_NEW)
#define DELETE(n) FUNC(n, delete_enter, .has_return = true, .nr_args = 1, .kind = KIND_DELETE)

/*
 * In this order: where two names share an address (tcmalloc's free is its
 * operator delete), the first one is hooked.
 */
static const struct alloc_func alloc_funcs[] = {
	FUNC("malloc", malloc_enter, .required = true, .has_return = true,
	     .marks_allocator = true, .nr_args = 1, .kind = KIND_MALLOC),
	FUNC("free", free_enter, .required = true, .null_is_noop = true, .nr_args = 1),
	FUNC("calloc", calloc_enter, .required = true, .has_return = true, .nr_args = 2,
	     .kind = KIND_CALLOC),
	FUNC("realloc", realloc_enter, .required = true, .has_return = true, .nr_args = 2,
	     .kind = KIND_REALLOC),
	FUNC("reallocarray", reallocarray_enter, .has_return = true, .nr_args = 3,
	     .kind = KIND_REALLOCARRAY),
	FUNC("posix_memalign", posix_memalign_enter, .has_return = true, .nr_args = 3,
	     .kind = KIND_POSIX_MEMALIGN),
	FUNC("aligned_alloc", memalign_enter, .has_return = true, .nr_args = 2,
	     .kind = KIND_MEMALIGN),
	FUNC("memalign", memalign_enter, .has_return = true, .nr_args = 2, .kind = KIND_MEMALIGN),
	FUNC("valloc", valloc_enter, .has_return = true, .nr_args = 1, .kind = KIND_VALLOC),
	FUNC("pvalloc", pvalloc_enter, .has_return = true, .nr_args = 1, .kind = KIND_PVALLOC),
	/*
	 * jemalloc's own API: the same registers as malloc, realloc and free,
	 * the flags after them (alignment, zeroing, arena, tcache) not read;
	 * the size is the one asked for, as for memalign. None takes NULL,
	 * so no NULL test is passed. An object defining them is an allocator
	 * because it defines malloc. xallocx resizes in place and returns the
	 * usable size, not the size asked: not hooked (doc/internals.md).
	 */
	FUNC("mallocx", malloc_enter, .has_return = true, .nr_args = 1, .kind = KIND_MALLOC),
	FUNC("rallocx", realloc_enter, .has_return = true, .nr_args = 2, .kind = KIND_REALLOC),
	FUNC("dallocx", free_enter, .nr_args = 1),
	FUNC("sdallocx", free_enter, .nr_args = 1),
	FUNC("_exit", exit_enter, .exit_hold = true, .nr_args = 1),
	/* C++ (Itanium ABI, 64-bit size_t): plain, nothrow, aligned, both. */
	NEW("_Znwm"),
	NEW("_Znam"),
	NEW("_ZnwmRKSt9nothrow_t"),
	NEW("_ZnamRKSt9nothrow_t"),
	NEW("_ZnwmSt11align_val_t"),
	NEW("_ZnamSt11align_val_t"),
	NEW("_ZnwmSt11align_val_tRKSt9nothrow_t"),
	NEW("_ZnamSt11align_val_tRKSt9nothrow_t"),
	/* ... and sized delete. */
	DELETE("_ZdlPv"),
	DELETE("_ZdaPv"),
	DELETE("_ZdlPvm"),
	DELETE("_ZdaPvm"),
	DELETE("_ZdlPvRKSt9nothrow_t"),
	DELETE("_ZdaPvRKSt9nothrow_t"),
	DELETE("_ZdlPvSt11align_val_t"),
	DELETE("_ZdaPvSt11align_val_t"),
	DELETE("_ZdlPvmSt11align_val_t"),
	DELETE("_ZdaPvmSt11align_val_t"),
	DELETE("_ZdlPvSt11align_val_tRKSt9nothrow_t"),
	DELETE("_ZdaPvSt11align_val_tRKSt9nothrow_t"),
};

#define NR_FUNCS (sizeof(alloc_funcs) / sizeof(alloc_funcs[0]))

/* A link per function at most, when each is its own uprobe. */
struct alloc_probes {
	/* a link per offset without uprobe_multi: functions, tail jumps, _exit */
	struct bpf_link *entries[NR_FUNCS * 10];
	struct bpf_link *returns[NR_FUNCS];
	size_t nr_entries, nr_returns;
	int session_fd;		/* the session link (no libbpf link), or -1 */
};

static struct alloc_probes *probes_new(void)
{
	struct alloc_probes *ap = calloc(1, sizeof(*ap));

	if (ap)
		ap->session_fd = -1;
	return ap;
}

static void add_link(struct alloc_probes *ap, struct bpf_link *link, bool retprobe)
{
	if (retprobe)
		ap->returns[ap->nr_returns++] = link;
	else
		ap->entries[ap->nr_entries++] = link;
}

/*
 * One uprobe_multi link for PROG at the N offsets of the file, each with
 * its cookie if COOKIES: it costs one grace period to close, where a link
 * per offset costs one each.
 */
static int attach_multi(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
			const unsigned long *offsets, const __u64 *cookies, size_t n, int pid,
			bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offsets, .cookies = cookies,
		    .cnt = n, .retprobe = retprobe);
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_multi(prog, pid, path, NULL, &opts);
	if (!link)
		return -errno;
	add_link(ap, link, retprobe);
	return 0;
}

/*
 * Before uprobe_multi (6.6): a classic uprobe, a perf event, per offset.
 * Its pid filter is the address space of the pid's task, the process's
 * main thread: every thread of the process is seen while that thread
 * lives; once it has exited, none is (doc/memlens-doctor.md).
 */
static int attach_each(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
		       const unsigned long *offsets, const __u64 *cookies, size_t n, int pid,
		       bool retprobe)
{
	struct bpf_link *link;

	for (size_t i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe,
			    .bpf_cookie = cookies ? cookies[i] : 0);

		link = bpf_program__attach_uprobe_opts(prog, pid, path, offsets[i], &opts);
		if (!link)
			return -errno;	/* those attached are closed with AP */
		add_link(ap, link, retprobe);
	}
	return 0;
}

/* PROG at the N offsets of the file (each with its cookie if COOKIES), the way this kernel allows. */
static int attach_cookies(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
			  const unsigned long *offsets, const __u64 *cookies, size_t n, int pid,
			  bool retprobe)
{
	if (!n)
		return 0;
	if (bpf_program__expected_attach_type(prog) == BPF_TRACE_UPROBE_MULTI)
		return attach_multi(ap, prog, path, offsets, cookies, n, pid, retprobe);
	return attach_each(ap, prog, path, offsets, cookies, n, pid, retprobe);
}

static int attach_group(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
			const unsigned long *offsets, size_t n, int pid, bool retprobe)
{
	return attach_cookies(ap, prog, path, offsets, NULL, n, pid, retprobe);
}

/* One function hooked: where it begins, where its probe goes. */
struct placed {
	const struct alloc_func *f;
	uint64_t off;		/* entry, file offset */
	uint64_t size;		/* bytes, 0: not known */
	unsigned char code[64];	/* its first bytes */
	size_t len;
	struct probe_site ps;
	bool branched_to;	/* the probe stayed on the entry: see rule_out_branches() */
	struct cxx_forward fw;	/* a C++ operator that forwards (cxx_forward.c) */
	bool left;		/* not hooked: left to what it forwards to */
	const char *kept;	/* why one that forwards is hooked all the same */
	const char *unnamed;	/* left, but its calls not published: why */
	bool unfollowed;	/* a throwing new not proven to forward: entry counted only */
};

/*
 * MEMLENS_PROBES=entry: every probe on its function's entry, as before
 * memlens moved them onto instructions the kernel emulates: what that
 * saves (make bench), or a way around a placement in doubt.
 */
static bool probes_at_entry(void)
{
	const char *v = getenv("MEMLENS_PROBES");

	return v && !strcmp(v, "entry");
}

/* Where F's probe goes, from its first bytes alone (probe_site.c). */
static void place(struct elf_file *ef, struct placed *p)
{
	/* A function near the end of the file: what there is of it. */
	p->len = sizeof(p->code);
	while (p->len && elf_read_at(ef, p->off, p->code, p->len))
		p->len /= 2;
	if (probes_at_entry())
		probe_site_entry(p->code, p->len, &p->ps);
	else
		probe_site_find(p->code, p->len, p->size, p->f->nr_args, p->f->null_is_noop,
				&p->ps);
}

/*
 * A probe moved off the entry is exact only if no branch lands on it or on
 * the instructions passed: a loop back there would count a call twice.
 * Every direct branch in the function's executable segment is looked at,
 * in one pass for all functions; where one may land there, or the segment
 * cannot be read, the probe goes back to the entry. So does it where a
 * symbol starts in those bytes: a call through it (an alias, another
 * function's entry) would pass the entry. Indirect jumps (jump tables) and
 * branches from other segments are not looked at (doc/internals.md).
 */
static void rule_out_branches(struct elf_file *ef, struct placed *placed, size_t nr)
{
	struct branch_window w[NR_FUNCS];
	uint64_t start = 0, size = 0;
	unsigned char *text = NULL;
	size_t n = 0;

	for (size_t i = 0; i < nr; i++) {
		if (!placed[i].ps.skip)
			continue;
		if (!text && !elf_exec_segment(ef, placed[i].off, &start, &size)) {
			text = malloc(size ? size : 1);
			if (text && elf_read_at(ef, start, text, size)) {
				free(text);
				text = NULL;
			}
		}
		if (!text || placed[i].off < start || placed[i].off >= start + size ||
		    elf_symbol_within(ef, placed[i].off, placed[i].off + placed[i].ps.skip)) {
			placed[i].branched_to = true;
			continue;
		}
		w[n++] = (struct branch_window){ placed[i].off - start,
						 placed[i].off - start + placed[i].ps.skip, false };
	}
	if (text)
		probe_sites_branched_to(text, size, w, n);
	free(text);
	n = 0;
	for (size_t i = 0; i < nr; i++) {
		if (!placed[i].ps.skip)
			continue;
		if (!placed[i].branched_to && !w[n++].hit)
			continue;
		placed[i].branched_to = true;
		probe_site_entry(placed[i].code, placed[i].len, &placed[i].ps);
	}
}

/* What a delete may jump to, and be left to: free, or another delete. */
static const char *const delete_targets[] = {
	"free", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t",
	"_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t",
	"_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
	"_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t", NULL
};

/* MEMLENS_CXX_HOOKS=all: every C++ operator hooked, as before forwarders were proven. */
static bool hook_all_cxx(void)
{
	const char *v = getenv("MEMLENS_CXX_HOOKS");

	return v && !strcmp(v, "all");
}

#define NOTHROW "RKSt9nothrow_t"

/* Is NAME a nothrow variant of an operator (its mangled name ends so)? */
static bool is_nothrow(const char *name)
{
	size_t len = strlen(name), tail = strlen(NOTHROW);

	return len > tail && !strcmp(name + len - tail, NOTHROW);
}

/*
 * An operator new that may throw: no return probe ever. The kernel puts
 * its trampoline, which has no unwind info, in place of the return
 * address, and libgcc's unwinder, meeting it as an exception (bad_alloc,
 * or one from a new_handler) leaves the function, gives up: the program
 * calls std::terminate. The nothrow news catch what the new they call
 * throws, before it reaches their own frame's return address.
 */
static bool throwing_new(const struct alloc_func *f)
{
	return f->kind == KIND_NEW && !is_nothrow(f->name);
}

/*
 * Does P, a C++ operator, only forward (cxx_forward.c)? Deletes to free or
 * another delete; a new[] to the new of the same variant (same size asked,
 * same result); plain new and new[] to malloc; aligned new to
 * aligned_alloc; a nothrow new to the new it is the nothrow version of,
 * whose exception it turns into NULL (no block). Aligned new asks
 * aligned_alloc for the size rounded up to the alignment: the same for
 * every new the compiler emits (sizeof is a multiple of alignof, array
 * cookies too), not for a direct call operator new(37, align_val_t(64)),
 * whose block is reported as 64 bytes.
 */
static void find_forward(struct elf_file *ef, struct placed *p)
{
	const char *name = p->f->name;
	bool plain_new = !strcmp(name, "_Znwm") || !strcmp(name, "_Znam");
	bool aligned_new = !strcmp(name, "_ZnwmSt11align_val_t") ||
			   !strcmp(name, "_ZnamSt11align_val_t");
	size_t len = strlen(name), tail = strlen(NOTHROW);
	bool nothrow = is_nothrow(name);
	char same[64], throwing[64];
	const char *const new_targets[] = { same, plain_new ? "malloc" : NULL, NULL };

	memset(&p->fw, 0, sizeof(p->fw));
	if (p->f->kind == KIND_DELETE) {
		cxx_forward_tail(ef, p->off, p->size, delete_targets, &p->fw);
		return;
	}
	if (p->f->kind != KIND_NEW)
		return;
	/* _Znam...: _Znwm... */
	snprintf(same, sizeof(same), "_Znw%s", name + 4);
	if (!strncmp(name, "_Zna", 4))
		cxx_forward_tail(ef, p->off, p->size, new_targets, &p->fw);
	else if (plain_new)
		cxx_forward_tail(ef, p->off, p->size, new_targets + 1, &p->fw);
	if (p->fw.kind != CXX_HOOKED)
		return;
	if (plain_new) {
		cxx_forward_calls(ef, p->off, p->size, "malloc", &p->fw);
	} else if (aligned_new) {
		cxx_forward_calls(ef, p->off, p->size, "aligned_alloc", &p->fw);
	} else if (nothrow) {
		snprintf(throwing, sizeof(throwing), "%.*s", (int)(len - tail), name);
		cxx_forward_calls(ef, p->off, p->size, throwing, &p->fw);
	}
}

/* The C functions marked required are all in EF. */
static int check_required(struct elf_file *ef, const char *lib_name)
{
	uint64_t off;
	int err;

	for (size_t i = 0; i < NR_FUNCS; i++) {
		if (!alloc_funcs[i].required)
			continue;
		err = elf_func_offset(ef, alloc_funcs[i].name, &off);
		if (err) {
			error_msg("symbol %s not found in %s", alloc_funcs[i].name, lib_name);
			return err;
		}
	}
	return 0;
}

/*
 * Where each allocator function EF defines is probed, into PLACED (NR_FUNCS
 * entries at most); returns how many. Two names at one address are one.
 */
static size_t place_funcs(struct elf_file *ef, const char *lib_name, bool hold_at_exit,
			  struct placed *placed)
{
	size_t nr = 0;
	bool alias;

	for (size_t i = 0; i < NR_FUNCS; i++) {
		const struct alloc_func *f = &alloc_funcs[i];
		uint64_t off, size;

		if (f->exit_hold && !hold_at_exit)
			continue;
		if (elf_func_lookup(ef, f->name, &off, &size))
			continue;
		alias = false;
		for (size_t j = 0; j < nr; j++)
			alias = alias || placed[j].off == off;
		if (alias) {
			debug_msg("%s is an alias in %s: hooked once", f->name, lib_name);
			continue;
		}
		placed[nr] = (struct placed){ .f = f, .off = off, .size = size };
		place(ef, &placed[nr++]);
	}
	rule_out_branches(ef, placed, nr);
	for (size_t i = 0; i < nr; i++)
		find_forward(ef, &placed[i]);
	return nr;
}

/* "+9 push, emulated, past its NULL test" */
static void describe(const struct placed *p, char *buf, size_t size)
{
	size_t n;

	if (p->unfollowed) {
		const char *why = p->fw.why[0] ? p->fw.why : "no forward proven";

		snprintf(buf, size, "not followed, a return probe would stop C++ exceptions (%s): "
			 "calls counted (new_unfollowed), its own blocks not", why);
		return;
	}
	if (p->left && p->unnamed) {
		snprintf(buf, size, "not hooked, left to %s: %s; its stacks begin inside it (%s)",
			 p->fw.target, p->fw.why, p->unnamed);
		return;
	}
	if (p->left) {
		snprintf(buf, size, "not hooked, left to %s: %s", p->fw.target, p->fw.why);
		return;
	}
	n = snprintf(buf, size, "+%u %s, %s%s%s", p->ps.skip, p->ps.insn,
		 p->ps.emulated ? "emulated" : "single-stepped",
		 p->ps.past_null_test ? ", past its NULL test" : "",
		 p->branched_to ? ", at the entry: a branch or symbol may land past it" :
		 probes_at_entry() ? ", at the entry (MEMLENS_PROBES=entry)" : "");
	/* Why an operator that forwards is hooked, or why it was not proven to. */
	if (n < size && p->kept)
		snprintf(buf + n, size - n, "; hooked though it forwards to %s (%s)",
			 p->fw.target, p->kept);
	else if (n < size && p->fw.kind == CXX_HOOKED && p->fw.why[0])
		snprintf(buf + n, size - n, "; not left to what it calls: %s", p->fw.why);
}

/* The session program is loaded: --sample-bytes where the kernel has sessions. */
static bool sessions(struct allocs_bpf *skel)
{
	return bpf_program__fd(skel->progs.alloc_session) >= 0;
}

/* P has a return probe: a function that returns, followed. */
static bool has_return(const struct placed *p)
{
	return p->f->has_return && !p->unfollowed;
}

/* The program at P's entry. */
static struct bpf_program *entry_prog(struct allocs_bpf *skel, const struct placed *p)
{
	return p->unfollowed ? new_unfollowed_enter_prog(skel) : p->f->entry(skel);
}

/*
 * Its calls keep their return probe under sessions: realloc and delete,
 * whose returns do more than record a block; a function that only jumps
 * on (libstdc++'s new[]), whose callee would run at its stack pointer; one
 * whose size is not known, nor then its code (bpf/session.bpf.h).
 */
static bool keeps_return(const struct placed *p)
{
	unsigned int kind = p->f->kind;

	return kind == KIND_REALLOC || kind == KIND_REALLOCARRAY || kind == KIND_DELETE ||
	       !strcmp(p->ps.insn, "jmp") || !p->size || p->size > UINT32_MAX ||
	       p->ps.skip > 0xffff;
}

/*
 * Every function of EF with a return, in one session link of the
 * alloc_session program: the cookie of each says what it is.
 */
static int attach_session(struct alloc_probes *ap, struct allocs_bpf *skel,
			  const struct placed *placed, size_t nr, const char *lib_path, int pid)
{
	unsigned long offsets[NR_FUNCS];
	__u64 cookies[NR_FUNCS];
	size_t n = 0;
	int fd;

	for (size_t i = 0; i < nr; i++) {
		const struct placed *p = &placed[i];

		if (!has_return(p))
			continue;
		offsets[n] = p->off + p->ps.skip;
		cookies[n++] = SESSION_COOKIE(p->f->kind, keeps_return(p), p->ps.skip,
					      keeps_return(p) ? 0 : p->size);
	}
	if (!n)
		return 0;
	fd = uprobe_multi_link_create(bpf_program__fd(skel->progs.alloc_session),
				      MEMLENS_TRACE_UPROBE_SESSION, lib_path, offsets, cookies, n,
				      pid > 0 ? pid : 0);
	if (fd < 0)
		return fd;
	ap->session_fd = fd;
	return 0;
}

/* The calls to malloc of operator news left unhooked in one object. */
struct obj_sites {
	unsigned int nr;
	uint64_t off[NEW_SITES_MAX];	/* file offsets of the return addresses */
	uint32_t slot[NEW_SITES_MAX];
};

/* Why P's calls cannot be published into SITES, or NULL: they are, now. */
static const char *publish_calls(struct allocs_bpf *skel, const struct placed *p,
				 struct obj_sites *sites)
{
	if (!sites || !skel->rodata->new_sites_on)
		return "no one process to publish its calls for";
	if (sites->nr + p->fw.nr_sites > NEW_SITES_MAX)
		return "too many calls to publish";
	for (unsigned int k = 0; k < p->fw.nr_sites; k++) {
		sites->off[sites->nr] = p->fw.site[k];
		sites->slot[sites->nr++] = p->fw.slot[k];
	}
	return NULL;
}

/*
 * A throwing new never has a return probe (throwing_new()). One proven to
 * forward is left to what it calls in every mode: its block is counted
 * there, named from new's caller where its calls are published, else with
 * the stack beginning inside it. One not proven is not followed: an entry
 * probe counts its calls, and its blocks are counted only where it calls
 * a hooked allocator. Its calls first: a nothrow new's go through it.
 */
static void leave_throwing_new(struct allocs_bpf *skel, struct placed *p, bool whole_process,
			       struct obj_sites *sites)
{
	if (p->fw.kind == CXX_HOOKED) {
		p->unfollowed = true;
		return;
	}
	if (p->fw.kind == CXX_CALLS)
		p->unnamed = publish_calls(skel, p, sites);
	/* --allocator: what its PLT binds to is hooked only if it is that file. */
	if (!whole_process && strstr(p->fw.target, "@plt"))
		p->unnamed = "--allocator: its blocks are counted only where its PLT binds to "
			     "the allocator hooked";
	p->left = true;
}

/*
 * Which C++ operators are left unhooked (cxx_forward.c): every throwing new
 * (above); the others where proven, tail jumps always, a nothrow new that
 * calls new where SITES (not NULL) takes its calls, to be published for
 * the process before anything is attached. Under uprobe sessions too: a
 * call left unsampled is then malloc's, nothing nests in it. --allocator
 * and MEMLENS_CXX_HOOKS=all hook the others.
 */
static void leave_forwarders(struct allocs_bpf *skel, struct placed *placed, size_t nr,
			     bool whole_process, struct obj_sites *sites)
{
	bool all = hook_all_cxx();

	for (size_t i = 0; i < nr; i++)
		if (throwing_new(placed[i].f))
			leave_throwing_new(skel, &placed[i], whole_process, sites);
	for (size_t i = 0; i < nr; i++) {
		struct placed *p = &placed[i];

		if (p->fw.kind == CXX_HOOKED || throwing_new(p->f))
			continue;
		if (all) {
			p->kept = "MEMLENS_CXX_HOOKS=all";
			continue;
		}
		/* --allocator: what a PLT binds to may be another, unhooked allocator. */
		if (!whole_process && strstr(p->fw.target, "@plt")) {
			p->kept = "--allocator, and the PLT may bind elsewhere";
			continue;
		}
		if (p->fw.kind == CXX_CALLS) {
			p->kept = publish_calls(skel, p, sites);
			if (p->kept)
				continue;
		}
		p->left = true;
	}
}

/* Where each function of EF goes, said with -v. */
static size_t plan_funcs(struct allocs_bpf *skel, struct elf_file *ef, const char *lib_name,
			 bool hold_at_exit, bool whole_process, struct obj_sites *sites,
			 struct placed *placed)
{
	size_t nr = place_funcs(ef, lib_name, hold_at_exit, placed);
	char how[512];

	leave_forwarders(skel, placed, nr, whole_process, sites);
	for (size_t i = 0; i < nr; i++) {
		describe(&placed[i], how, sizeof(how));
		if (placed[i].left || placed[i].unfollowed)
			debug_msg("%s in %s: %s", placed[i].f->name, lib_name, how);
		else
			debug_msg("%s in %s: probed at %s", placed[i].f->name, lib_name, how);
	}
	return nr;
}

/*
 * Hook the functions planned. Failures are for the caller to say: it
 * knows whether they end the run.
 */
static int attach_placed(struct alloc_probes *ap, struct allocs_bpf *skel, struct placed *placed,
			 size_t nr, const char *lib_path, int pid)
{
	unsigned long group[NR_FUNCS];
	size_t n;
	int err;

	/* What is left to the function it forwards to is not attached at all. */
	n = 0;
	for (size_t i = 0; i < nr; i++)
		if (!placed[i].left)
			placed[n++] = placed[i];
	nr = n;
	/*
	 * Return probes first: every call whose entry we see then has its
	 * return seen too, or the thread's depth would stick. Under
	 * sessions, the entry and return of each call are one.
	 */
	n = 0;
	for (size_t i = 0; i < nr; i++)
		if (has_return(&placed[i]))
			group[n++] = placed[i].off + placed[i].ps.skip;
	if (sessions(skel))
		err = attach_session(ap, skel, placed, nr, lib_path, pid);
	else
		err = attach_group(ap, allocs_return_prog(skel), lib_path, group, n, pid, true);
	/* Then one link for each entry program, with all its functions. */
	for (size_t i = 0; i < nr && !err; i++) {
		bool first = true;

		if (sessions(skel) && has_return(&placed[i]))
			continue;

		for (size_t j = 0; j < i; j++)
			first = first && entry_prog(skel, &placed[j]) != entry_prog(skel, &placed[i]);
		if (!first)
			continue;
		n = 0;
		for (size_t j = i; j < nr; j++)
			if (entry_prog(skel, &placed[j]) == entry_prog(skel, &placed[i]) &&
			    !(sessions(skel) && has_return(&placed[j])))
				group[n++] = placed[j].off + placed[j].ps.skip;
		err = attach_group(ap, entry_prog(skel, &placed[i]), lib_path, group, n, pid, false);
	}
	return err;
}

static int attach_funcs(struct alloc_probes *ap, struct allocs_bpf *skel, struct elf_file *ef,
			const char *lib_path, const char *lib_name, int pid, bool hold_at_exit)
{
	struct placed placed[NR_FUNCS];
	size_t nr = plan_funcs(skel, ef, lib_name, hold_at_exit, false, NULL, placed);

	return attach_placed(ap, skel, placed, nr, lib_path, pid);
}

int alloc_probes_describe(const char *path,
			  void (*cb)(const struct alloc_probe_info *pi, void *arg), void *arg)
{
	struct placed placed[NR_FUNCS];
	struct elf_file *ef;
	char how[512];
	size_t nr;
	int err;

	err = elf_file_open(path, &ef);
	if (err)
		return err;
	nr = place_funcs(ef, path, false, placed);
	elf_file_close(ef);
	for (size_t i = 0; i < nr; i++) {
		struct placed *p = &placed[i];

		bool throws = throwing_new(p->f);

		p->unfollowed = throws && p->fw.kind == CXX_HOOKED;
		p->left = p->fw.kind == CXX_TAIL && (throws || !hook_all_cxx());
		describe(p, how, sizeof(how));
		if (p->fw.kind == CXX_CALLS && (throws || !hook_all_cxx())) {
			char probe[64];

			describe(p, probe, sizeof(probe));
			snprintf(how, sizeof(how), "leaks: not hooked, left to %s: %s; %s%s",
				 p->fw.target, p->fw.why,
				 throws ? "where its calls are not published (system-wide), "
					  "its stacks begin inside it" :
					  "where its calls are not published (system-wide), ",
				 throws ? "" : probe);
		}
		if (p->unfollowed)
			snprintf(how + strlen(how), sizeof(how) - strlen(how), " (leaks)");
		cb(&(struct alloc_probe_info){ p->f->name, p->off, p->ps.skip, p->ps.insn,
					       p->ps.emulated, how,
					       !p->left && !p->unfollowed &&
					       p->fw.kind != CXX_CALLS }, arg);
	}
	return 0;
}

/* Once a run: how the allocators will be hooked here, when not the usual way. */
static void say_uprobe_multi_missing(void)
{
	if (kfeature_disabled(KF_UPROBE_MULTI))
		info_msg("%s disabled by MEMLENS_DISABLE: one uprobe per function",
			 kfeature_name(KF_UPROBE_MULTI));
	else
		info_msg("this kernel lacks %s (%s): one uprobe per function",
			 kfeature_name(KF_UPROBE_MULTI), kfeature_since(KF_UPROBE_MULTI));
}

/*
 * The allocator programs are attached with uprobe_multi links where the
 * kernel has them: they must be loaded for it. A program loaded for
 * uprobe_multi cannot be a classic uprobe, nor the reverse: without
 * uprobe_multi they stay classic (attach_group()). Before loading SKEL.
 */
void alloc_probes_prepare(struct allocs_bpf *skel)
{
	static bool said;

	/* --sample-bytes: unsampled calls skip their return (session.bpf.h). */
	if (skel->rodata->sample_bytes && !strcmp(kplan_sampling().way, "uprobe_session")) {
		bpf_program__set_autoload(skel->progs.alloc_session, true);
		bpf_program__set_expected_attach_type(skel->progs.alloc_session,
						      MEMLENS_TRACE_UPROBE_SESSION);
		debug_msg("--sample-bytes: uprobe sessions: a call left unsampled skips its return "
			  "probe");
	} else if (skel->rodata->sample_bytes) {
		debug_msg("--sample-bytes: uprobe + uretprobe: no uprobe sessions (%s)",
			  kfeature_since(KF_UPROBE_SESSION));
	}
	if (!kfeature_has(KF_UPROBE_MULTI)) {
		if (!said)
			say_uprobe_multi_missing();
		said = true;
		return;
	}
	bpf_program__set_expected_attach_type(allocs_return_prog(skel), BPF_TRACE_UPROBE_MULTI);
	for (size_t i = 0; i < NR_FUNCS; i++)
		bpf_program__set_expected_attach_type(alloc_funcs[i].entry(skel),
						      BPF_TRACE_UPROBE_MULTI);
	bpf_program__set_expected_attach_type(new_unfollowed_enter_prog(skel),
					      BPF_TRACE_UPROBE_MULTI);
}

static int attach_profile(struct alloc_probes *ap, struct allocs_bpf *skel, struct elf_file *ef,
			  const char *lib_path, const char *lib_name, int pid, bool hold_at_exit,
			  bool all_objects);

/* Hook LIB_PATH: for memlens allocs (PROFILE), or for leaks and the others. */
static int probes_attach(struct allocs_bpf *skel, const char *lib_path, const char *lib_name,
			 int pid, bool hold_at_exit, bool profile, struct alloc_probes **out)
{
	struct alloc_probes *ap;
	struct elf_file *ef;
	int err;

	err = elf_file_open(lib_path, &ef);
	if (err) {
		error_msg("cannot read %s: %s", lib_name, strerror(-err));
		return err;
	}
	ap = probes_new();
	if (!ap) {
		elf_file_close(ef);
		return -ENOMEM;
	}
	err = check_required(ef, lib_name);
	if (!err) {
		err = profile ? attach_profile(ap, skel, ef, lib_path, lib_name, pid, hold_at_exit,
					       false)
			      : attach_funcs(ap, skel, ef, lib_path, lib_name, pid, hold_at_exit);
		if (err)
			error_msg("cannot attach uprobes to %s: %s", lib_name, strerror(-err));
	}
	elf_file_close(ef);
	if (err) {
		alloc_probes_detach(ap);
		return err;
	}
	*out = ap;
	return 0;
}

int alloc_probes_attach(struct allocs_bpf *skel, const char *lib_path,
			const char *lib_name, int pid, bool hold_at_exit,
			struct alloc_probes **out)
{
	return probes_attach(skel, lib_path, lib_name, pid, hold_at_exit, false, out);
}

/* What kind of allocator EF is: ALLOC_DEFINES_MALLOC, ALLOC_DEFINES_NEW. */
static unsigned int allocator_kind(struct elf_file *ef)
{
	unsigned int kind = 0;
	uint64_t off;

	for (size_t i = 0; i < NR_FUNCS; i++) {
		const struct alloc_func *f = &alloc_funcs[i];

		if (!f->marks_allocator || elf_func_offset(ef, f->name, &off))
			continue;
		kind |= f->entry == malloc_enter_prog ? ALLOC_DEFINES_MALLOC : ALLOC_DEFINES_NEW;
	}
	return kind;
}

int alloc_program_kind(const char *path, bool *dynamic)
{
	struct elf_file *ef;
	int kind;

	if (elf_file_open(path, &ef))
		return -ENOEXEC;
	kind = allocator_kind(ef);
	*dynamic = elf_has_interp(ef);
	elf_file_close(ef);
	return kind;
}

/* One file a process maps, looked at once: hooked if it is an allocator. */
struct mapped_object {
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	struct alloc_probes *probes;	/* NULL: not an allocator, or not hooked */
	struct obj_sites sites;		/* its operator new left to malloc */
};

struct alloc_hooks {
	struct allocs_bpf *skel;
	int pid;			/* hooks for this process, -1: every process */
	bool hold_at_exit;
	unsigned int flags;		/* objects of these kinds are hooked; options */
	struct mapped_object *objs;
	size_t nr_objs;
	size_t nr_hooked;
	char error[4096 + 128];	/* why the last scan failed, for its caller */
};

struct alloc_hooks *alloc_hooks_new(struct allocs_bpf *skel, int pid, bool hold_at_exit,
				    unsigned int flags)
{
	struct alloc_hooks *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->skel = skel;
	h->pid = pid;
	h->hold_at_exit = hold_at_exit;
	h->flags = flags;
	return h;
}

static void detach_all(struct alloc_probes **aps, size_t nr);

/* The NR objects OBJS, their probes detached, and freed. */
static void detach_objects(struct mapped_object *objs, size_t nr)
{
	struct alloc_probes **aps = calloc(nr + 1, sizeof(*aps));

	for (size_t i = 0; i < nr; i++) {
		if (aps)
			aps[i] = objs[i].probes;
		else
			alloc_probes_detach(objs[i].probes);
	}
	if (aps)
		detach_all(aps, nr);
	free(aps);
	free(objs);
}

void alloc_hooks_free(struct alloc_hooks *h)
{
	if (!h)
		return;
	detach_objects(h->objs, h->nr_objs);
	free(h);
}

/*
 * The old links go before the new are made: the kernel no longer puts
 * their breakpoints into the new image, but once the new links have put
 * them back, each call runs the old links' programs too (the handler
 * checks the thread group, which the old leader's task still names), and
 * every call would be counted twice. Closing them waits for grace periods
 * (some 100 ms here), while a process attached with -p runs on unhooked.
 */
void alloc_hooks_exec(struct alloc_hooks *h)
{
	if (!h || h->pid <= 0)
		return;
	detach_objects(h->objs, h->nr_objs);
	h->objs = NULL;
	h->nr_objs = 0;
	h->nr_hooked = 0;
}

size_t alloc_hooks_count(const struct alloc_hooks *h)
{
	return h->nr_hooked;
}

const char *alloc_hooks_error(const struct alloc_hooks *h)
{
	return h->error;
}

void alloc_hooks_say_error(const struct alloc_hooks *h, int pid, int err)
{
	const char *why = h->error[0] ? h->error : strerror(-err);

	if (h->nr_hooked)
		error_msg("cannot hook every allocator of pid %d: %s", pid, why);
	else
		error_msg("cannot hook any allocator of pid %d: %s", pid, why);
}

static const struct mapped_object *object_seen(const struct alloc_hooks *h,
					       const struct vma *v)
{
	for (size_t i = 0; i < h->nr_objs; i++) {
		const struct mapped_object *o = &h->objs[i];

		if (o->inode == v->inode && o->dev_major == v->dev_major &&
		    o->dev_minor == v->dev_minor)
			return o;
	}
	return NULL;
}

/* Where the sites of O are in the mapping V, into NS; how many are there. */
static unsigned int add_sites(struct new_sites *ns, const struct vma *v,
			      const struct mapped_object *o, unsigned int *no_room)
{
	unsigned int added = 0;

	for (unsigned int k = 0; k < o->sites.nr; k++) {
		uint64_t off = o->sites.off[k], ip;

		if (off < v->offset || off - v->offset >= v->end - v->start)
			continue;
		if (ns->nr >= NEW_SITES_MAX) {
			(*no_room)++;
			continue;
		}
		ip = v->start + off - v->offset;
		if (!ns->nr || ip < ns->lo)
			ns->lo = ip;
		if (ip >= ns->hi)
			ns->hi = ip + 1;
		ns->ip[ns->nr] = ip;
		ns->slot[ns->nr++] = o->sites.slot[k];
		added++;
	}
	return added;
}

/*
 * After a map update: the BPF side's returns look sites up from now on,
 * and each thread's cached view of its process's is out of date.
 */
static void sites_published(struct alloc_hooks *h)
{
	__atomic_fetch_add(&h->skel->bss->new_sites_gen, 1, __ATOMIC_RELEASE);
}

/*
 * The calls to malloc of the operator news left unhooked in process PID,
 * where its maps put them: O's, in its mapping V, added to what the BPF
 * side has. With the BPF side's kept as they are, an exec has removed them.
 */
static int publish_sites(struct alloc_hooks *h, int pid, const struct vma *v,
			 const struct mapped_object *o)
{
	int fd = bpf_map__fd(h->skel->maps.new_sites);
	struct new_sites ns = {};
	unsigned int no_room = 0;
	__u32 key = pid;
	int err = 0;

	if (bpf_map_lookup_elem(fd, &key, &ns))
		memset(&ns, 0, sizeof(ns));
	/* All of them, or new stays hooked: in V, the mapping of O's code. */
	if (add_sites(&ns, v, o, &no_room) != o->sites.nr)
		err = -ENOSPC;
	else if (bpf_map_update_elem(fd, &key, &ns, BPF_ANY))
		err = -errno;
	if (err)
		info_once("cannot publish where operator new calls malloc in pid %d (%s): "
			  "operator new stays hooked", pid, strerror(-err));
	else
		sites_published(h);
	return err;
}

/*
 * All of them for MAPS, the maps of PID, again: after an exec, the BPF
 * side has dropped those of the old image (bpf/allocs.bpf.c), and the
 * objects hooked then are not looked at again.
 */
static void republish_sites(struct alloc_hooks *h, int pid, const struct vma_list *maps)
{
	int fd = bpf_map__fd(h->skel->maps.new_sites);
	struct new_sites ns = {};
	unsigned int lost = 0;
	__u32 key = pid;

	for (size_t i = 0; i < maps->nr; i++) {
		const struct vma *v = &maps->v[i];
		const struct mapped_object *o;

		if (!v->exec || v->path[0] != '/')
			continue;
		o = object_seen(h, v);
		if (o && o->sites.nr)
			add_sites(&ns, v, o, &lost);
	}
	/* More objects with unhooked news than the map's room: say which stacks are off. */
	if (lost)
		info_once("cannot publish %u of the places operator new calls malloc in pid %d "
			  "(room for %d): stacks through them begin inside operator new",
			  lost, pid, NEW_SITES_MAX);
	if (!ns.nr)
		return;
	if (bpf_map_update_elem(fd, &key, &ns, BPF_ANY))
		info_once("cannot publish where operator new calls malloc in pid %d (%s): "
			  "its stacks begin inside operator new", pid, strerror(errno));
	else
		sites_published(h);
}

/*
 * Their calls could not be published after all: a nothrow new that calls
 * new is hooked (the new it calls has no return probe); a throwing new
 * stays left, its stacks beginning inside it.
 */
static void unpublished(struct placed *placed, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		struct placed *p = &placed[i];

		if (!p->left || p->fw.kind != CXX_CALLS)
			continue;
		if (throwing_new(p->f)) {
			p->unnamed = "its calls could not be published";
		} else {
			p->left = false;
			p->kept = "its calls could not be published";
		}
	}
}

/* Hook the file mapped at V in MAPS_PID if it is an allocator we want. */
static int hook_object(struct alloc_hooks *h, int maps_pid, const struct vma *v)
{
	struct mapped_object *objs, *o;
	char path[128];
	struct elf_file *ef;
	unsigned int kind;
	int err;

	objs = realloc(h->objs, (h->nr_objs + 1) * sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	h->objs = objs;
	o = &objs[h->nr_objs++];
	*o = (struct mapped_object){ .inode = v->inode, .dev_major = v->dev_major,
				     .dev_minor = v->dev_minor };
	vma_map_files_path(maps_pid, v, path, sizeof(path));
	if (elf_file_open(path, &ef))
		return 0;		/* not an ELF file, or gone: nothing to hook */
	kind = allocator_kind(ef);
	err = 0;
	if (kind & h->flags) {
		struct placed placed[NR_FUNCS];
		size_t nr;

		o->probes = probes_new();
		if (!o->probes) {
			err = -ENOMEM;
			goto out;
		}
		if (h->flags & ALLOC_PROFILE) {
			err = attach_profile(o->probes, h->skel, ef, path, v->path, h->pid,
					     h->hold_at_exit && (kind & ALLOC_DEFINES_MALLOC), true);
		} else {
			/* Its new's calls to malloc known in the process before new goes unhooked. */
			nr = plan_funcs(h->skel, ef, v->path,
					h->hold_at_exit && (kind & ALLOC_DEFINES_MALLOC), true,
					h->pid > 0 && maps_pid == h->pid ? &o->sites : NULL, placed);
			if (o->sites.nr && publish_sites(h, maps_pid, v, o)) {
				unpublished(placed, nr);
				o->sites.nr = 0;
			}
			err = attach_placed(o->probes, h->skel, placed, nr, path, h->pid);
		}
		if (err)
			snprintf(h->error, sizeof(h->error), "cannot attach uprobes to %s: %s",
				 v->path, strerror(-err));
		if (err) {
			alloc_probes_detach(o->probes);
			o->probes = NULL;
			goto out;
		}
		h->nr_hooked++;
		debug_msg("hooked %s (inode %llu), first seen in pid %d", v->path,
			  (unsigned long long)v->inode, maps_pid);
		if (h->flags & ALLOC_ANNOUNCE)
			info_once("allocator hooked: %s", v->path);
	}
out:
	elf_file_close(ef);
	return err;
}

int alloc_hooks_scan(struct alloc_hooks *h, int maps_pid, bool *pending)
{
	struct vma_list maps = {};
	size_t before = h->nr_hooked;
	bool has_allocator = false;
	int err;

	h->error[0] = '\0';
	err = vma_list_load(maps_pid, &maps);
	if (err)
		return err;	/* gone, or a kernel thread: no error of ours */
	for (size_t i = 0; i < maps.nr; i++) {
		const struct vma *v = &maps.v[i];
		const struct mapped_object *o;

		if (!v->exec || v->path[0] != '/')
			continue;
		o = object_seen(h, v);
		if (!o) {
			err = hook_object(h, maps_pid, v);
			if (err)
				break;
			o = &h->objs[h->nr_objs - 1];
		}
		if (o->probes)
			has_allocator = true;
	}
	if (!err && h->pid > 0 && maps_pid == h->pid)
		republish_sites(h, maps_pid, &maps);
	if (pending)
		*pending = !has_allocator && vma_find_interp(&maps);
	vma_list_free(&maps);
	if (err && !h->error[0])
		snprintf(h->error, sizeof(h->error), "%s", strerror(-err));	/* ENOMEM */
	return err ? err : (int)(h->nr_hooked - before);
}

/*
 * Closing a uprobe link waits for an RCU tasks-trace grace period (tens of
 * milliseconds here): one after the other, the hundred links of libc,
 * libstdc++ and jemalloc take ten seconds. Waits that overlap share grace
 * periods, so the links are closed from several threads at once.
 */
#define DETACH_THREADS 32

struct link_share {
	struct bpf_link **links;
	size_t nr, first;
};

static void *destroy_share(void *arg)
{
	struct link_share *sh = arg;

	for (size_t i = sh->first; i < sh->nr; i += DETACH_THREADS)
		bpf_link__destroy(sh->links[i]);
	return NULL;
}

static void destroy_links(struct bpf_link **links, size_t nr)
{
	struct link_share shares[DETACH_THREADS];
	pthread_t threads[DETACH_THREADS];
	bool started[DETACH_THREADS] = {};

	for (size_t t = 0; t < DETACH_THREADS && t < nr; t++) {
		shares[t] = (struct link_share){ links, nr, t };
		started[t] = !pthread_create(&threads[t], NULL, destroy_share, &shares[t]);
		if (!started[t])
			destroy_share(&shares[t]);	/* no thread: here, then */
	}
	for (size_t t = 0; t < DETACH_THREADS && t < nr; t++)
		if (started[t])
			pthread_join(threads[t], NULL);
}

/* Entries off before returns: no call is left whose return is unseen. */
static void detach_all(struct alloc_probes **aps, size_t nr)
{
	struct bpf_link **links;
	size_t total = 0, n;

	for (size_t i = 0; i < nr; i++)
		if (aps[i])
			total += aps[i]->nr_entries + aps[i]->nr_returns;
	links = malloc(total * sizeof(*links) + 1);
	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		for (size_t i = 0; i < nr; i++) {
			struct alloc_probes *ap = aps[i];
			struct bpf_link **src;
			size_t cnt;

			if (!ap)
				continue;
			if (!pass && ap->session_fd >= 0)
				close(ap->session_fd);
			src = pass ? ap->returns : ap->entries;
			cnt = pass ? ap->nr_returns : ap->nr_entries;
			if (!links) {		/* no memory: one by one */
				for (size_t k = 0; k < cnt; k++)
					bpf_link__destroy(src[k]);
				continue;
			}
			memcpy(links + n, src, cnt * sizeof(*links));
			n += cnt;
		}
		if (links)
			destroy_links(links, n);
	}
	free(links);
	for (size_t i = 0; i < nr; i++)
		free(aps[i]);
}

void alloc_probes_detach(struct alloc_probes *ap)
{
	if (ap)
		detach_all(&ap, 1);
}

/*
 * --- memlens allocs: an entry probe per allocation function, no return ---
 *
 * Nested calls are told from outer ones by the BPF side
 * (bpf/alloc_profile.bpf.h), from each function's code range, which the
 * cookie carries. Two things it cannot tell, a call at the stack pointer
 * of the one before, are settled here from the ELF file: a function that
 * only jumps on to a hooked one is not hooked; a tail jump to a hooked one
 * from inside a hooked function gets a probe of its own.
 */

/* An allocation function: hooked by memlens allocs (not free, delete, _exit). */
static bool allocates(const struct alloc_func *f)
{
	return f->has_return && f->kind != KIND_DELETE;
}

static const struct alloc_func *allocation_named(const char *name)
{
	for (size_t i = 0; i < NR_FUNCS; i++)
		if (allocates(&alloc_funcs[i]) && !strcmp(alloc_funcs[i].name, name))
			return &alloc_funcs[i];
	return NULL;
}

/* What attach_profile() looks at a file with. */
struct profile_file {
	struct elf_file *ef;
	const struct placed *placed;	/* its functions */
	size_t nr;
	bool all_objects;		/* every allocator mapped is hooked, not --allocator's */
};

/*
 * Is an allocation function of that name hooked, wherever the GOT slot is
 * bound? Every object that defines one is, unless --allocator names one
 * file: then this file's own, if it defines it. The BPF side checks where
 * the slot is bound at each jump (profile_tail()): an interposer's is not
 * this file's.
 */
static const struct alloc_func *slot_target_hooked(const struct profile_file *pf,
						   const char *name)
{
	const struct alloc_func *f = name ? allocation_named(name) : NULL;

	if (!f || pf->all_objects)
		return f;
	for (size_t i = 0; i < pf->nr; i++)
		if (pf->placed[i].f == f)
			return f;
	return NULL;
}

/* A jump of an allocation function to a hooked one, decoded. */
struct jump {
	unsigned int len;
	const struct alloc_func *to;
	__u64 cookie;			/* TAIL_COOKIE() */
};

/*
 * Is the jump at file offset OFF, bytes C (AVAIL of them), one to a hooked
 * allocation function: jmp rel32 or rel8, jcc rel32 or rel8 (COND_OK),
 * or jmp *slot(%rip) (-fno-plt), to one of this file's or through a GOT
 * slot? Its cookie says which function, for the BPF side to check.
 */
static bool jumps_to_hooked(const struct profile_file *pf, uint64_t off, const unsigned char *c,
			    size_t avail, bool cond_ok, struct jump *j)
{
	uint64_t vaddr, target, slot = 0;
	unsigned int cc = 0;
	__u64 flags = 0;
	int32_t rel;

	memset(j, 0, sizeof(*j));
	if (avail >= 5 && c[0] == 0xe9) {
		memcpy(&rel, c + 1, 4);
		j->len = 5;
	} else if (avail >= 2 && c[0] == 0xeb) {
		rel = (int8_t)c[1];
		j->len = 2;
	} else if (cond_ok && avail >= 6 && c[0] == 0x0f && (c[1] & 0xf0) == 0x80) {
		memcpy(&rel, c + 2, 4);
		j->len = 6;
		cc = c[1] & 0xf;
		flags = TAIL_COND;
	} else if (cond_ok && avail >= 2 && (c[0] & 0xf0) == 0x70) {
		rel = (int8_t)c[1];
		j->len = 2;
		cc = c[0] & 0xf;
		flags = TAIL_COND;
	} else if (avail >= 6 && c[0] == 0xff && c[1] == 0x25) {
		memcpy(&rel, c + 2, 4);
		j->len = 6;
	} else {
		return false;
	}
	if (elf_offset_vaddr(pf->ef, off, &vaddr))
		return false;
	target = vaddr + j->len + rel;
	if (c[0] == 0xff) {
		slot = target;
	} else {
		for (size_t i = 0; i < pf->nr; i++) {
			const struct placed *p = &pf->placed[i];
			uint64_t at;

			if (!allocates(p->f) || elf_offset_vaddr(pf->ef, p->off, &at) || at != target)
				continue;
			j->to = p->f;
			j->cookie = TAIL_COOKIE(p->f->kind, flags, cc, (int64_t)(target - vaddr));
			return true;
		}
		slot = elf_plt_slot(pf->ef, target);
	}
	if (!slot || !(j->to = slot_target_hooked(pf, elf_slot_symbol(pf->ef, slot))))
		return false;
	j->cookie = TAIL_COOKIE(j->to->kind, flags | TAIL_VIA_SLOT, cc, (int64_t)(slot - vaddr));
	return true;
}

/*
 * A function that only forwards: endbr64 (or nothing), then a jump to a
 * hooked allocation function, with the caller's stack pointer and return
 * address: hooking it too would count the call twice (libstdc++'s new[] is
 * `endbr64; jmp new@plt`).
 */
static bool forwards_to_hooked(const struct profile_file *pf, const struct placed *p,
			       const char **to)
{
	unsigned int at = 0;
	struct jump j;

	if (p->len >= 4 && !memcmp(p->code, "\xf3\x0f\x1e\xfa", 4))
		at = 4;
	if (p->len <= at || !jumps_to_hooked(pf, p->off + at, p->code + at, p->len - at, false, &j))
		return false;
	*to = j.to->name;
	return true;
}

#define MAX_TAILS 8

/*
 * Where the instructions of CODE, decoded one after the other from its
 * first byte, reach AT: 1 at an instruction's first byte, 0 inside one,
 * -1 if an instruction before it is not one the decoder knows.
 */
static int decoded_to(const unsigned char *code, size_t size, uint64_t at)
{
	uint64_t i = 0;

	while (i < at) {
		struct insn in;

		insn_decode(code + i, size - i, ~0u, &in);
		if (!in.len)
			return -1;
		i += in.len;
	}
	return i == at;
}

/*
 * The tail jumps of P to hooked allocation functions, into TAILS (file
 * offsets, cookies): a jump at an instruction boundary with the frame all
 * popped (the CFA at rsp + 8). Either a row of the call frame information
 * begins there, which only an instruction boundary can (glibc's
 * realloc(NULL, n) jumps to malloc so), or the instructions from the
 * function's entry decode to it in a row at rsp + 8 (a function that never
 * pushes: clang's `valloc: mov; mov; jmp memalign@plt`). Bytes that only
 * look like such a jump are neither. A jump that may be one but cannot be
 * proven is said: a call through it counts twice.
 */
static size_t find_tails(const struct profile_file *pf, const struct placed *p, uint64_t *tails,
			 __u64 *cookies, const char *lib_name)
{
	unsigned char *code;
	uint64_t vaddr;
	size_t n = 0;

	if (!p->size || p->size > 1 << 16 || elf_offset_vaddr(pf->ef, p->off, &vaddr))
		return 0;
	code = malloc(p->size);
	if (!code || elf_read_at(pf->ef, p->off, code, p->size)) {
		free(code);
		return 0;
	}
	for (uint64_t i = 1; i + 2 <= p->size && n < MAX_TAILS; i++) {
		struct jump j;
		uint64_t row;
		int at, cfa;

		if (i == p->ps.skip ||
		    !jumps_to_hooked(pf, p->off + i, code + i, p->size - i, true, &j))
			continue;
		cfa = elf_frame_entry_cfa(pf->ef, vaddr + i, &row);
		if (!cfa)
			continue;	/* its frame is still there: not a tail jump */
		/* Rows begin at instructions: decoded from there, or from the entry. */
		if (cfa < 0 || row < vaddr || row > vaddr + i)
			row = vaddr;
		at = row == vaddr + i ? 1 : decoded_to(code + (row - vaddr), p->size - (row - vaddr),
						    vaddr + i - row);
		if (!at)
			continue;	/* bytes inside an instruction */
		if (at < 0 || cfa < 0) {
			info_once("%s in %s: a jump to %s at +%llu may be a tail jump that cannot "
				  "be proven one (%s): a call through it would count twice",
				  p->f->name, lib_name, j.to->name, (unsigned long long)i,
				  cfa < 0 ? "no call frame information" : "an instruction not decoded");
			continue;
		}
		debug_msg("%s in %s: a tail jump to %s at +%llu: probed", p->f->name, lib_name,
			  j.to->name, (unsigned long long)i);
		tails[n] = p->off + i;
		cookies[n++] = j.cookie;
	}
	free(code);
	return n;
}

/*
 * memlens allocs: what EF defines of the allocation functions, entries
 * only. ALL_OBJECTS: every allocator the process maps is hooked, not
 * --allocator's file alone.
 */
static int attach_profile(struct alloc_probes *ap, struct allocs_bpf *skel, struct elf_file *ef,
			  const char *lib_path, const char *lib_name, int pid, bool hold_at_exit,
			  bool all_objects)
{
	struct placed placed[NR_FUNCS];
	struct profile_file pf = { ef, placed, 0, all_objects };
	unsigned long offsets[NR_FUNCS], tails[NR_FUNCS * MAX_TAILS], exits[1];
	uint64_t found[MAX_TAILS];
	__u64 cookies[NR_FUNCS], tail_cookies[NR_FUNCS * MAX_TAILS], found_cookies[MAX_TAILS];
	size_t nr, n = 0, nt = 0, ne = 0;
	const char *to;
	char how[128];
	int err;

	nr = place_funcs(ef, lib_name, hold_at_exit, placed);
	pf.nr = nr;
	for (size_t i = 0; i < nr; i++) {
		const struct placed *p = &placed[i];
		bool sized = p->size && p->size <= UINT32_MAX && p->ps.skip <= 0xffff;

		if (p->f->exit_hold) {
			exits[ne++] = p->off + p->ps.skip;
			continue;
		}
		if (!allocates(p->f))
			continue;
		if (forwards_to_hooked(&pf, p, &to)) {
			debug_msg("%s in %s only jumps to %s: not hooked", p->f->name, lib_name, to);
			continue;
		}
		describe(p, how, sizeof(how));
		debug_msg("%s in %s: probed at %s", p->f->name, lib_name, how);
		if (!sized)
			info_once("%s in %s: its size is not known: a call it makes to another "
				  "allocation function counts again", p->f->name, lib_name);
		offsets[n] = p->off + p->ps.skip;
		/* Its start (ip - skip) always: a tail jump's target is told by it. */
		cookies[n++] = SESSION_COOKIE(p->f->kind, 0, p->ps.skip <= 0xffff ? p->ps.skip : 0,
					      sized ? p->size : 0);
		for (size_t k = find_tails(&pf, p, found, found_cookies, lib_name); k; k--) {
			tails[nt] = found[k - 1];
			tail_cookies[nt++] = found_cookies[k - 1];
		}
	}
	err = attach_cookies(ap, skel->progs.profile_enter, lib_path, offsets, cookies, n, pid,
			     false);
	if (!err)
		err = attach_cookies(ap, skel->progs.profile_tail, lib_path, tails, tail_cookies, nt,
				     pid, false);
	if (!err)
		err = attach_group(ap, skel->progs.exit_enter, lib_path, exits, ne, pid, false);
	return err;
}

void alloc_profile_prepare(struct allocs_bpf *skel)
{
	skel->rodata->profiling = true;		/* the thread slots hold its state */
	bpf_program__set_autoload(skel->progs.profile_enter, true);
	bpf_program__set_autoload(skel->progs.profile_tail, true);
	if (!kfeature_has(KF_UPROBE_MULTI))
		return;
	bpf_program__set_expected_attach_type(skel->progs.profile_enter, BPF_TRACE_UPROBE_MULTI);
	bpf_program__set_expected_attach_type(skel->progs.profile_tail, BPF_TRACE_UPROBE_MULTI);
}

int alloc_profile_attach(struct allocs_bpf *skel, const char *lib_path, const char *lib_name,
			 int pid, bool hold_at_exit, struct alloc_probes **out)
{
	return probes_attach(skel, lib_path, lib_name, pid, hold_at_exit, true, out);
}
