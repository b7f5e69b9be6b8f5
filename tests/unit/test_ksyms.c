// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Kernel symbols from a kallsyms text: text only, sorted, modules named;
 * and the names --cache takes (kmalloc classes, caches SLUB merged).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "kmemview.h"
#include "ksyms.h"
#include "unit.h"

static const char kallsyms[] =
	"ffffffff81000200 T do_sys_openat2\n"
	"ffffffff81000000 T _stext\n"
	"ffffffff81100000 D some_data\n"		/* data: not a frame */
	"ffffffff81000100 t path_openat\n"
	"ffffffffc0001000 t ext4_foo\t[ext4]\n"
	"ffffffff81000180 W weak_one\n"
	"garbage line\n";

void test_ksyms(void)
{
	FILE *f = fmemopen((void *)kallsyms, sizeof(kallsyms) - 1, "r");
	struct ksyms k;
	char buf[128];

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(ksyms_read(f, &k) == 0);
	fclose(f);
	CHECK_U64(k.nr, 5);
	CHECK_STR(ksyms_format(&k, 0xffffffff81000123, buf, sizeof(buf)), "path_openat+0x23");
	CHECK_STR(ksyms_format(&k, 0xffffffff81000180, buf, sizeof(buf)), "weak_one+0x0");
	CHECK_STR(ksyms_format(&k, 0xffffffff81000250, buf, sizeof(buf)), "do_sys_openat2+0x50");
	CHECK_STR(ksyms_format(&k, 0xffffffffc0001010, buf, sizeof(buf)), "ext4_foo+0x10 [ext4]");
	CHECK_STR(ksyms_name(&k, 0xffffffff81000123), "path_openat");
	/* Far past the last symbol: no name rather than a wrong one. */
	CHECK(ksyms_name(&k, 0xffffffffc0001000ULL + (2 << 20)) == NULL);
	/* Below the first symbol: no name, the address. */
	CHECK_STR(ksyms_format(&k, 0xffffffff80000000, buf, sizeof(buf)), "0xffffffff80000000");
	ksyms_free(&k);
	CHECK_U64(k.nr, 0);
}

/* memlens' own frames at the top of a kernel stack, and --cache's kmalloc names. */
void test_kernel_names(void)
{
	static const char *const tracing[] = {
		"bpf_prog_54cf5238f41c2366_kmem_cache_alloc", "bpf_trace_run5",
		"__bpf_trace_kmem_cache_alloc", "__traceiter_kmem_cache_alloc",
	};
	static const struct {
		const char *name;
		uint32_t size;
	} kmalloc[] = {
		{ "kmalloc-1k", 1024 }, { "kmalloc-1024", 1024 }, { "kmalloc-96", 96 },
		{ "kmalloc-cg-8k", 8192 }, { "kmalloc-rcl-2k", 2048 }, { "dma-kmalloc-512", 512 },
		{ "kmalloc-dma-64", 64 }, { "kmalloc-1kb", 0 }, { "kmalloc-k", 0 },
		{ "kmalloc-0", 0 }, { "kmalloc--1", 0 }, { "kmalloc_buckets", 0 }, { "filp", 0 },
	};

	for (size_t i = 0; i < sizeof(tracing) / sizeof(tracing[0]); i++)
		CHECK(ksyms_tracing_frame(tracing[i]));
	CHECK(!ksyms_tracing_frame("kmem_cache_alloc_noprof"));
	CHECK(!ksyms_tracing_frame(NULL));
	for (size_t i = 0; i < sizeof(kmalloc) / sizeof(kmalloc[0]); i++)
		CHECK_U64(kmem_kmalloc_size(kmalloc[i].name), kmalloc[i].size);
	CHECK_U64(kmem_kmalloc_size(NULL), 0);
}

/*
 * --cache's merged caches, on a tree laid out as SLUB's sysfs: "dentry"
 * a directory (it does not merge), "a", "first" and "c" links to one
 * directory (merged, "first" the first, which slabinfo lists), "lone"
 * the only link to another (an id with flags, as SLUB makes some).
 */
static const char *const slab_dirs[] = { "dentry", ":0000056", ":A-0000064" };
static const char *const slab_links[][2] = {
	{ "a", ":0000056" }, { "first", ":0000056" }, { "c", ":0000056" }, { "lone", ":A-0000064" },
};

static void slab_tree(const char *slab, bool make)
{
	char path[192];

	for (size_t i = 0; i < sizeof(slab_links) / sizeof(slab_links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", slab, slab_links[i][0]);
		if (make)
			CHECK(symlink(slab_links[i][1], path) == 0);
		else
			unlink(path);
	}
	for (size_t i = 0; i < sizeof(slab_dirs) / sizeof(slab_dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", slab, slab_dirs[i]);
		if (make)
			CHECK(mkdir(path, 0700) == 0);
		else
			rmdir(path);
	}
}

void test_kmem_merged(void)
{
	char dir[] = "/tmp/memlens-unit.XXXXXX", slab[128], info[128], into[32];
	int merged;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(slab, sizeof(slab), "%s/slab", dir);
	snprintf(info, sizeof(info), "%s/slabinfo", dir);
	CHECK(kmem_cache_merged_into(slab, info, "a", into, sizeof(into), &merged) == -ENODEV);
	CHECK_STR(into, "a");
	CHECK(mkdir(slab, 0700) == 0);
	slab_tree(slab, true);
	/* No slabinfo: merged with two others, into which is not known. */
	CHECK(kmem_cache_merged_into(slab, info, "a", into, sizeof(into), &merged) == -ENODEV);
	CHECK_STR(into, "a");
	CHECK_U64(merged, 3);
	f = fopen(info, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("slabinfo - version: 2.1\n# name <active_objs> ...\n"
		      "dentry 10 10 192 21 1 : tunables 0 0 0 : slabdata 1 1 0\n"
		      "first 5 5 56 73 1 : tunables 0 0 0 : slabdata 1 1 0\n"
		      "lone 1 1 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n", f);
		fclose(f);
	}
	CHECK(kmem_cache_merged_into(slab, info, "a", into, sizeof(into), &merged) == 0);
	CHECK_STR(into, "first");
	CHECK_U64(merged, 3);
	CHECK(kmem_cache_merged_into(slab, info, "first", into, sizeof(into), &merged) == 0);
	CHECK_STR(into, "first");
	CHECK_U64(merged, 3);
	CHECK(kmem_cache_merged_into(slab, info, "lone", into, sizeof(into), &merged) == 0);
	CHECK_STR(into, "lone");
	CHECK_U64(merged, 1);
	CHECK(kmem_cache_merged_into(slab, info, "dentry", into, sizeof(into), &merged) == 0);
	CHECK_STR(into, "dentry");
	CHECK_U64(merged, 1);
	CHECK(kmem_cache_merged_into(slab, info, "nope", into, sizeof(into), &merged) == -ENOENT);
	CHECK_STR(into, "nope");
	/* The first's name too long for INTO: not known, INTO the name asked. */
	CHECK(kmem_cache_merged_into(slab, info, "c", into, 3, &merged) == -ENAMETOOLONG);
	CHECK_STR(into, "c");
	unlink(info);
	slab_tree(slab, false);
	rmdir(slab);
	rmdir(dir);
}
