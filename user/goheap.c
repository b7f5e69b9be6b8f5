// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Go heap allocations. Every heap allocation of a Go program goes through
 * runtime.mallocgc(size, typ, needzero); an entry uprobe sees its size
 * (RAX in Go's register ABI) and its stack. There is no return probe: a
 * uretprobe replaces the return address on the goroutine's stack, which Go
 * moves when it grows. Nothing frees a Go object one by one, so what comes
 * out is an allocation profile: which functions allocate on the heap,
 * i.e. whose values escape.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "allocs.h"
#include "allocs.skel.h"
#include "elfsym.h"
#include "goheap.h"
#include "sampling.h"
#include "util.h"

struct go_probes {
	struct bpf_link *links[2];
	size_t nr_links;
};

/*
 * Sections Go's linker writes, symbols or not: the first two into every
 * ELF executable (the pclntab is folded into .data.rel.ro in a PIE).
 */
static bool has_go_sections(struct elf_file *ef)
{
	return elf_has_section(ef, ".note.go.buildid") || elf_has_section(ef, ".go.buildinfo") ||
	       elf_has_section(ef, ".gopclntab");
}

enum go_kind go_program_kind(const char *path)
{
	enum go_kind kind = GO_NOT;
	struct elf_file *ef;
	uint64_t off;

	if (elf_file_open(path, &ef))
		return GO_NOT;
	if (!elf_func_offset(ef, "runtime.mallocgc", &off))
		kind = GO_SYMBOLS;
	else if (has_go_sections(ef))
		kind = GO_STRIPPED;
	elf_file_close(ef);
	return kind;
}

bool go_binary(const char *path)
{
	return go_program_kind(path) == GO_SYMBOLS;
}

/* The jbe to morestack that ends the check at CODE[I]: its length, or 0. */
static size_t jbe_len(const unsigned char *code, size_t len, size_t i)
{
	if (i + 2 <= len && code[i] == 0x76)				/* jbe rel8 */
		return 2;
	if (i + 6 <= len && code[i] == 0x0f && code[i + 1] == 0x86)	/* jbe rel32 */
		return 6;
	return 0;
}

size_t go_probe_skip(const unsigned char *code, size_t len)
{
	static const unsigned char cmp_rsp[] = { 0x49, 0x3b, 0x66, 0x10 };	/* cmp 0x10(%r14),%rsp */
	static const unsigned char cmp_r12[] = { 0x4d, 0x3b, 0x66, 0x10 };	/* cmp 0x10(%r14),%r12 */
	size_t i = 0, j;

	if (len >= 4 && !memcmp(code, cmp_rsp, 4)) {
		i = 4;
	} else if (len >= 5 && code[0] == 0x4c && code[1] == 0x8d && code[3] == 0x24) {
		/* lea disp(%rsp),%r12: modrm 0x64 (disp8) or 0xa4 (disp32), SIB 0x24 */
		if (code[2] == 0x64)
			i = 5;
		else if (code[2] == 0xa4)
			i = 8;
		else
			return 0;
		if (len < i + 4 || memcmp(code + i, cmp_r12, 4))
			return 0;
		i += 4;
	} else {
		return 0;
	}
	j = jbe_len(code, len, i);
	return j ? i + j : 0;
}

/*
 * PROG at OFF of PATH. exit_enter is shared with the allocator hooks,
 * which load it for uprobe_multi links where the kernel has them
 * (alloc_probes_prepare): one such link, of one offset, then; a classic
 * uprobe otherwise, as go_malloc_enter always is.
 */
static int attach_at(struct go_probes *gp, struct bpf_program *prog, const char *path,
		     uint64_t off, int pid)
{
	LIBBPF_OPTS(bpf_uprobe_multi_opts, multi, .offsets = &off, .cnt = 1);
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_link *link;

	if (bpf_program__expected_attach_type(prog) == BPF_TRACE_UPROBE_MULTI)
		link = bpf_program__attach_uprobe_multi(prog, pid, path, NULL, &multi);
	else
		link = bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts);
	if (!link)
		return -errno;
	gp->links[gp->nr_links++] = link;
	return 0;
}

/* mallocgc's probe, past its stack check; see go_probe_skip(). */
static int attach_mallocgc(struct go_probes *gp, struct allocs_bpf *skel, struct elf_file *ef,
			   const char *path, const char *name, int pid)
{
	unsigned char code[32];
	uint64_t off;
	size_t skip = 0;
	int err;

	if (elf_func_offset(ef, "runtime.mallocgc", &off)) {
		error_msg("%s has no symbol runtime.mallocgc: not a Go program, or a stripped one", name);
		return -ENOENT;
	}
	if (elf_read_at(ef, off, code, sizeof(code)) == 0)
		skip = go_probe_skip(code, sizeof(code));
	if (skip)
		debug_msg("runtime.mallocgc in %s: probed at +%zu, past its stack check", name, skip);
	else
		info_once("runtime.mallocgc in %s has an unknown prologue: probed at its entry, where "
			  "a call that grows its goroutine's stack is seen twice", name);
	err = attach_at(gp, skel->progs.go_malloc_enter, path, off + skip, pid);
	if (err)
		error_msg("cannot attach uprobe to runtime.mallocgc in %s: %s", name, strerror(-err));
	return err;
}

/*
 * runtime.exit makes the exit_group system call: a command we started is
 * held there until its maps are read (exit_enter). Its ABI0 body is
 * named runtime.exit.abi0 when an ABIInternal wrapper exists.
 */
static int attach_exit_hold(struct go_probes *gp, struct allocs_bpf *skel, struct elf_file *ef,
			    const char *path, const char *name, int pid)
{
	uint64_t off;
	int err;

	if (elf_func_offset(ef, "runtime.exit.abi0", &off) && elf_func_offset(ef, "runtime.exit", &off)) {
		info_once("%s has no runtime.exit: stacks of a short run may not resolve", name);
		return 0;
	}
	err = attach_at(gp, skel->progs.exit_enter, path, off, pid);
	if (err)
		error_msg("cannot attach uprobe to runtime.exit in %s: %s", name, strerror(-err));
	return err;
}

int go_probes_attach(struct allocs_bpf *skel, const char *path, const char *name, int pid,
		     bool hold_at_exit, struct go_probes **out)
{
	struct go_probes *gp;
	struct elf_file *ef;
	int err;

	err = elf_file_open(path, &ef);
	if (err) {
		error_msg("cannot read %s: %s", name, strerror(-err));
		return err;
	}
	gp = calloc(1, sizeof(*gp));
	if (!gp) {
		elf_file_close(ef);
		return -ENOMEM;
	}
	err = attach_mallocgc(gp, skel, ef, path, name, pid);
	if (!err && hold_at_exit)
		err = attach_exit_hold(gp, skel, ef, path, name, pid);
	elf_file_close(ef);
	if (err) {
		go_probes_detach(gp);
		return err;
	}
	*out = gp;
	return 0;
}

void go_probes_detach(struct go_probes *gp)
{
	if (!gp)
		return;
	while (gp->nr_links)
		bpf_link__destroy(gp->links[--gp->nr_links]);
	free(gp);
}

/* One entry of the go_allocs map. */
struct go_entry {
	struct go_alloc_key key;
	__u64 calls;
};

static int entry_cmp_stack(const void *a, const void *b)
{
	const struct go_entry *x = a, *y = b;

	return x->key.stack_id < y->key.stack_id ? -1 : x->key.stack_id > y->key.stack_id;
}

/* Process TGID's entries of MAP_FD, in *OUT (to free). */
static int read_entries(int map_fd, uint32_t tgid, struct go_entry **out, size_t *nr)
{
	struct go_entry *e = NULL, *bigger;
	struct go_alloc_key key, next;
	size_t n = 0, cap = 0;
	bool first = true;

	while (bpf_map_get_next_key(map_fd, first ? NULL : &key, &next) == 0) {
		key = next;
		first = false;
		if (key.tgid != tgid)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			bigger = realloc(e, cap * sizeof(*e));
			if (!bigger) {
				free(e);
				return -ENOMEM;
			}
			e = bigger;
		}
		e[n].key = key;
		/* Gone since get_next_key (deleted at exit): skipped. */
		if (bpf_map_lookup_elem(map_fd, &key, &e[n].calls) == 0)
			n++;
	}
	*out = e;
	*nr = n;
	return 0;
}

int go_allocs_read(int map_fd, uint32_t tgid, uint64_t sample_bytes,
		   struct stack_group **groups, size_t *nr_groups)
{
	struct go_entry *e = NULL;
	struct stack_group *g;
	double count = 0, bytes = 0;
	uint64_t exact_count = 0, exact_bytes = 0;
	size_t nr, n = 0;
	int err;

	*groups = NULL;
	*nr_groups = 0;
	err = read_entries(map_fd, tgid, &e, &nr);
	if (err || !nr) {
		free(e);
		return err;
	}
	qsort(e, nr, sizeof(*e), entry_cmp_stack);
	g = calloc(nr, sizeof(*g));
	if (!g) {
		free(e);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++) {
		bool sampled = sample_bytes && !(e[i].key.flags & ALLOC_F_UNSAMPLED);
		double w = sampled ? sample_weight(e[i].key.size, sample_bytes) : 1;

		if (!n || g[n - 1].stack_id != e[i].key.stack_id) {
			g[n++].stack_id = e[i].key.stack_id;
			count = bytes = 0;
			exact_count = exact_bytes = 0;
		}
		if (sampled)
			g[n - 1].samples += e[i].calls;
		if (!sample_bytes) {
			/* Every call: to the byte, as the stats line's alloc_bytes. */
			exact_count += e[i].calls;
			exact_bytes += e[i].calls * e[i].key.size;
			g[n - 1].count = exact_count;
			g[n - 1].bytes = exact_bytes;
			continue;
		}
		/* Rounded per group; exact (w = 1) when not sampled. */
		count += w * e[i].calls;
		bytes += w * e[i].calls * e[i].key.size;
		g[n - 1].count = sample_round(count);
		g[n - 1].bytes = sample_round(bytes);
	}
	free(e);
	sort_groups(g, n);
	*groups = g;
	*nr_groups = n;
	return 0;
}

void go_allocs_delete(int map_fd, uint32_t tgid)
{
	struct go_alloc_key key, next;
	bool first = true;

	while (bpf_map_get_next_key(map_fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (key.tgid == tgid && bpf_map_delete_elem(map_fd, &key) == 0)
			first = true;	/* the walk restarts: the deleted key is gone */
	}
}

const struct sym_stack *go_user_stack(const struct sym_stack *st, struct sym_stack *view)
{
	size_t skip = 0;

	if (!st)
		return NULL;
	while (skip < st->nr && st->frames[skip].symbol &&
	       !strncmp(st->frames[skip].symbol, "runtime.", 8))
		skip++;
	if (!skip || skip == st->nr)
		return st;
	view->nr = st->nr - skip;
	view->frames = st->frames + skip;
	return view;
}
