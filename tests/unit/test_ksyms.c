// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kernel symbols from a kallsyms text: text only, sorted, modules named. */
#include <stdlib.h>
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
