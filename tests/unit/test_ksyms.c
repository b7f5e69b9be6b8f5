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
	CHECK(ksyms_tracing_frame("bpf_prog_54cf5238f41c2366_kmem_cache_alloc"));
	CHECK(ksyms_tracing_frame("bpf_trace_run5"));
	CHECK(ksyms_tracing_frame("__bpf_trace_kmem_cache_alloc"));
	CHECK(ksyms_tracing_frame("__traceiter_kmem_cache_alloc"));
	CHECK(!ksyms_tracing_frame("kmem_cache_alloc_noprof"));
	CHECK(!ksyms_tracing_frame(NULL));
	CHECK_U64(kmem_kmalloc_size("kmalloc-1k"), 1024);
	CHECK_U64(kmem_kmalloc_size("kmalloc-1024"), 1024);
	CHECK_U64(kmem_kmalloc_size("kmalloc-96"), 96);
	CHECK_U64(kmem_kmalloc_size("kmalloc-cg-8k"), 8192);
	CHECK_U64(kmem_kmalloc_size("kmalloc-rcl-2k"), 2048);
	CHECK_U64(kmem_kmalloc_size("dma-kmalloc-512"), 512);
	CHECK_U64(kmem_kmalloc_size("kmalloc-dma-64"), 64);
	CHECK_U64(kmem_kmalloc_size("kmalloc-1kb"), 0);
	CHECK_U64(kmem_kmalloc_size("kmalloc-k"), 0);
	CHECK_U64(kmem_kmalloc_size("kmalloc-0"), 0);
	CHECK_U64(kmem_kmalloc_size("kmalloc--1"), 0);
	CHECK_U64(kmem_kmalloc_size("kmalloc_buckets"), 0);
	CHECK_U64(kmem_kmalloc_size("filp"), 0);
	CHECK_U64(kmem_kmalloc_size(NULL), 0);
}
