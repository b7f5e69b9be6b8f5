// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Where the allocator entry points are hooked: uprobes by file offset. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "allocs.skel.h"
#include "alloc_probes.h"
#include "elfsym.h"
#include "kfeatures.h"
#include "procmaps.h"
#include "util.h"

struct alloc_func {
	const char *name;
	bool required;
	bool has_return;	/* free() needs no return probe */
	struct bpf_program *(*entry)(struct allocs_bpf *skel);
	bool null_is_noop;	/* f(NULL) does nothing: probe past the NULL test */
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

#define FUNC(n, entry_fn, ...) { .name = n, .entry = entry_fn##_prog, __VA_ARGS__ }
#define NEW(n) FUNC(n, new_enter, .has_return = true, .marks_allocator = true)
#define DELETE(n) FUNC(n, delete_enter, .has_return = true)

/*
 * In this order: where two names share an address (tcmalloc's free is its
 * operator delete), the first one is hooked.
 */
static const struct alloc_func alloc_funcs[] = {
	FUNC("malloc", malloc_enter, .required = true, .has_return = true,
	     .marks_allocator = true),
	FUNC("free", free_enter, .required = true, .null_is_noop = true),
	FUNC("calloc", calloc_enter, .required = true, .has_return = true),
	FUNC("realloc", realloc_enter, .required = true, .has_return = true),
	FUNC("reallocarray", reallocarray_enter, .has_return = true),
	FUNC("posix_memalign", posix_memalign_enter, .has_return = true),
	FUNC("aligned_alloc", memalign_enter, .has_return = true),
	FUNC("memalign", memalign_enter, .has_return = true),
	FUNC("valloc", valloc_enter, .has_return = true),
	FUNC("pvalloc", pvalloc_enter, .has_return = true),
	FUNC("_exit", exit_enter, .exit_hold = true),
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
	struct bpf_link *entries[NR_FUNCS];
	struct bpf_link *returns[NR_FUNCS];
	size_t nr_entries, nr_returns;
};

static void add_link(struct alloc_probes *ap, struct bpf_link *link, bool retprobe)
{
	if (retprobe)
		ap->returns[ap->nr_returns++] = link;
	else
		ap->entries[ap->nr_entries++] = link;
}

/*
 * One uprobe_multi link for PROG at the N offsets of the file: it costs
 * one grace period to close, where a link per offset costs one each.
 */
static int attach_multi(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
			const unsigned long *offsets, size_t n, int pid, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offsets, .cnt = n,
		    .retprobe = retprobe);
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
		       const unsigned long *offsets, size_t n, int pid, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);
	struct bpf_link *link;

	for (size_t i = 0; i < n; i++) {
		link = bpf_program__attach_uprobe_opts(prog, pid, path, offsets[i], &opts);
		if (!link)
			return -errno;	/* those attached are closed with AP */
		add_link(ap, link, retprobe);
	}
	return 0;
}

/* PROG at the N offsets of the file, the way this kernel allows. */
static int attach_group(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
			const unsigned long *offsets, size_t n, int pid, bool retprobe)
{
	if (!n)
		return 0;
	if (bpf_program__expected_attach_type(prog) == BPF_TRACE_UPROBE_MULTI)
		return attach_multi(ap, prog, path, offsets, n, pid, retprobe);
	return attach_each(ap, prog, path, offsets, n, pid, retprobe);
}

/*
 * A uprobe on an instruction the kernel cannot emulate costs two traps (the
 * breakpoint, then a single step out of line): on a VM that is ~20us instead
 * of ~6us. glibc's free() begins with `test %rdi,%rdi; je`, which is not
 * emulated, followed by a push, which is. free(NULL) is ignored anyway, so
 * the probe goes on that push, where %rdi still holds the pointer. Returns
 * the bytes to skip, 0 when the code is not exactly that shape.
 */
size_t free_probe_skip(const unsigned char *code, size_t len)
{
	size_t i = 3;

#if defined(__x86_64__)
	if (len < 3 + 6 + 2)
		return 0;
	if (code[0] != 0x48 || code[1] != 0x85 || code[2] != 0xff)	/* test %rdi,%rdi */
		return 0;
	if (code[i] == 0x74)				/* je rel8 */
		i += 2;
	else if (code[i] == 0x0f && code[i + 1] == 0x84)	/* je rel32 */
		i += 6;
	else
		return 0;
	if (code[i] >= 0x50 && code[i] <= 0x57)		/* push %rax..%rdi */
		return i;
	if (code[i] == 0x41 && code[i + 1] >= 0x50 && code[i + 1] <= 0x57)	/* push %r8..%r15 */
		return i;
#else
	(void)code;
	(void)len;
	(void)i;
#endif
	return 0;
}

static uint64_t cheapest_probe_offset(struct elf_file *ef, const struct alloc_func *f,
				      uint64_t off, const char *lib_name)
{
	unsigned char code[16];
	size_t skip;

	if (!f->null_is_noop || elf_read_at(ef, off, code, sizeof(code)))
		return off;
	skip = free_probe_skip(code, sizeof(code));
	if (skip)
		debug_msg("%s in %s: probed at +%zu, past its NULL test", f->name, lib_name, skip);
	return off + skip;
}

/* Two names at one address (glibc's aligned_alloc is memalign): hook once. */
static bool seen_offset(const unsigned long *offsets, size_t nr, uint64_t off)
{
	for (size_t i = 0; i < nr; i++)
		if (offsets[i] == off)
			return true;
	return false;
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
 * Hook what EF defines of the allocator functions. Failures are for the
 * caller to say: it knows whether they end the run.
 */
static int attach_funcs(struct alloc_probes *ap, struct allocs_bpf *skel, struct elf_file *ef,
			const char *lib_path, const char *lib_name, int pid, bool hold_at_exit)
{
	unsigned long offsets[NR_FUNCS], probe_at[NR_FUNCS], group[NR_FUNCS];
	const struct alloc_func *funcs[NR_FUNCS];
	size_t nr = 0, n;
	int err;

	for (size_t i = 0; i < NR_FUNCS; i++) {
		const struct alloc_func *f = &alloc_funcs[i];
		uint64_t off;

		if (f->exit_hold && !hold_at_exit)
			continue;
		if (elf_func_offset(ef, f->name, &off))
			continue;
		if (seen_offset(offsets, nr, off)) {
			debug_msg("%s is an alias in %s: hooked once", f->name, lib_name);
			continue;
		}
		funcs[nr] = f;
		offsets[nr] = off;
		probe_at[nr++] = cheapest_probe_offset(ef, f, off, lib_name);
	}
	/*
	 * Return probes first: every call whose entry we see then has its
	 * return seen too, or the thread's depth would stick.
	 */
	n = 0;
	for (size_t i = 0; i < nr; i++)
		if (funcs[i]->has_return)
			group[n++] = probe_at[i];
	err = attach_group(ap, skel->progs.alloc_return, lib_path, group, n, pid, true);
	/* Then one link for each entry program, with all its functions. */
	for (size_t i = 0; i < nr && !err; i++) {
		bool first = true;

		for (size_t j = 0; j < i; j++)
			first = first && funcs[j]->entry != funcs[i]->entry;
		if (!first)
			continue;
		n = 0;
		for (size_t j = i; j < nr; j++)
			if (funcs[j]->entry == funcs[i]->entry)
				group[n++] = probe_at[j];
		err = attach_group(ap, funcs[i]->entry(skel), lib_path, group, n, pid, false);
	}
	return err;
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

	if (!kfeature_has(KF_UPROBE_MULTI)) {
		if (!said)
			say_uprobe_multi_missing();
		said = true;
		return;
	}
	bpf_program__set_expected_attach_type(skel->progs.alloc_return, BPF_TRACE_UPROBE_MULTI);
	for (size_t i = 0; i < NR_FUNCS; i++)
		bpf_program__set_expected_attach_type(alloc_funcs[i].entry(skel),
						      BPF_TRACE_UPROBE_MULTI);
}

int alloc_probes_attach(struct allocs_bpf *skel, const char *lib_path,
			const char *lib_name, int pid, bool hold_at_exit,
			struct alloc_probes **out)
{
	struct alloc_probes *ap;
	struct elf_file *ef;
	int err;

	err = elf_file_open(lib_path, &ef);
	if (err) {
		error_msg("cannot read %s: %s", lib_name, strerror(-err));
		return err;
	}
	ap = calloc(1, sizeof(*ap));
	if (!ap) {
		elf_file_close(ef);
		return -ENOMEM;
	}
	err = check_required(ef, lib_name);
	if (!err) {
		err = attach_funcs(ap, skel, ef, lib_path, lib_name, pid, hold_at_exit);
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

/* One file a process maps, looked at once: hooked if it is an allocator. */
struct mapped_object {
	uint64_t inode;
	unsigned int dev_major, dev_minor;
	struct alloc_probes *probes;	/* NULL: not an allocator, or not hooked */
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

void alloc_hooks_free(struct alloc_hooks *h)
{
	struct alloc_probes **aps;

	if (!h)
		return;
	aps = calloc(h->nr_objs + 1, sizeof(*aps));
	for (size_t i = 0; i < h->nr_objs; i++) {
		if (aps)
			aps[i] = h->objs[i].probes;
		else
			alloc_probes_detach(h->objs[i].probes);
	}
	if (aps)
		detach_all(aps, h->nr_objs);
	free(aps);
	free(h->objs);
	free(h);
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
	*o = (struct mapped_object){ v->inode, v->dev_major, v->dev_minor, NULL };
	vma_map_files_path(maps_pid, v, path, sizeof(path));
	if (elf_file_open(path, &ef))
		return 0;		/* not an ELF file, or gone: nothing to hook */
	kind = allocator_kind(ef);
	err = 0;
	if (kind & h->flags) {
		o->probes = calloc(1, sizeof(*o->probes));
		if (!o->probes) {
			err = -ENOMEM;
			goto out;
		}
		err = attach_funcs(o->probes, h->skel, ef, path, v->path, h->pid,
				   h->hold_at_exit && (kind & ALLOC_DEFINES_MALLOC));
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
			info_msg("allocator hooked: %s", v->path);
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
