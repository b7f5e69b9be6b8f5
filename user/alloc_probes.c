// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Where the allocator entry points are hooked: uprobes by file offset. */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "allocs.skel.h"
#include "alloc_probes.h"
#include "elfsym.h"
#include "procmaps.h"
#include "util.h"

struct alloc_func {
	const char *name;
	bool required;
	bool has_return;	/* free() needs no return probe */
	struct bpf_program *(*entry)(struct allocs_bpf *skel);
	bool null_is_noop;	/* f(NULL) does nothing: probe past the NULL test */
	bool exit_hold;		/* hooked only to hold a command at exit */
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

#define FUNC(n, entry_fn, ...) { .name = n, .entry = entry_fn##_prog, __VA_ARGS__ }

static const struct alloc_func alloc_funcs[] = {
	FUNC("malloc", malloc_enter, .required = true, .has_return = true),
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
};

#define NR_FUNCS (sizeof(alloc_funcs) / sizeof(alloc_funcs[0]))

struct alloc_probes {
	struct bpf_link *links[2 * NR_FUNCS];
	size_t nr_links;
};

static int attach_one(struct alloc_probes *ap, struct bpf_program *prog, const char *path,
		      uint64_t offset, int pid, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_opts(prog, pid, path, offset, &opts);
	if (!link)
		return -errno;
	ap->links[ap->nr_links++] = link;
	return 0;
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
static bool seen_offset(const uint64_t *offsets, size_t nr, uint64_t off)
{
	for (size_t i = 0; i < nr; i++)
		if (offsets[i] == off)
			return true;
	return false;
}

int alloc_probes_attach(struct allocs_bpf *skel, const char *lib_path,
			const char *lib_name, int pid, bool hold_at_exit,
			struct alloc_probes **out)
{
	uint64_t offsets[NR_FUNCS];
	struct alloc_probes *ap;
	struct elf_file *ef;
	size_t nr_offsets = 0;
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
	for (size_t i = 0; i < NR_FUNCS; i++) {
		const struct alloc_func *f = &alloc_funcs[i];
		uint64_t off;

		if (f->exit_hold && !hold_at_exit)
			continue;
		err = elf_func_offset(ef, f->name, &off);
		if (err && f->required) {
			error_msg("symbol %s not found in %s", f->name, lib_name);
			goto fail;
		}
		if (err) {
			debug_msg("%s has no %s: not hooked", lib_name, f->name);
			continue;
		}
		if (seen_offset(offsets, nr_offsets, off)) {
			debug_msg("%s is an alias in %s: hooked once", f->name, lib_name);
			continue;
		}
		offsets[nr_offsets++] = off;
		off = cheapest_probe_offset(ef, f, off, lib_name);
		/*
		 * Return probe first: every call whose entry we see then has
		 * its return seen too, or the thread's depth would stick.
		 */
		if (f->has_return)
			err = attach_one(ap, skel->progs.alloc_return, lib_path, off, pid, true);
		if (!err)
			err = attach_one(ap, f->entry(skel), lib_path, off, pid, false);
		if (err) {
			error_msg("cannot attach uprobe to %s in %s: %s", f->name, lib_name,
				  strerror(-err));
			goto fail;
		}
	}
	elf_file_close(ef);
	*out = ap;
	return 0;
fail:
	elf_file_close(ef);
	alloc_probes_detach(ap);
	return err;
}

int alloc_probes_find_libc(int pid, const char *hint, char *path, size_t path_len,
			   char *name, size_t name_len)
{
	struct vma_list maps = {};
	const struct vma *libc;
	int err;

	err = vma_list_load(pid, &maps);
	if (err) {
		error_msg("cannot read /proc/%d/maps: %s", pid, strerror(-err));
		return err;
	}
	libc = vma_find_libc(&maps);
	if (libc) {
		vma_map_files_path(pid, libc, path, path_len);
		snprintf(name, name_len, "%s", libc->path);
	} else {
		error_msg("pid %d has no libc mapped (statically linked?): %s", pid, hint);
		err = -ENOENT;
	}
	vma_list_free(&maps);
	return err;
}

void alloc_probes_detach(struct alloc_probes *ap)
{
	if (!ap)
		return;
	/* Entries were attached after their returns: detach in reverse. */
	while (ap->nr_links)
		bpf_link__destroy(ap->links[--ap->nr_links]);
	free(ap);
}
