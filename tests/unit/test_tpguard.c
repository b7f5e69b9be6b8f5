// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The raw tracepoint guard against synthetic kernel BTF, and its generated table. */
#include <errno.h>
#include <stdarg.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "kmem.skel.h"
#include "reclaim.skel.h"
#include "tpguard.h"
#include "unit.h"

/* A synthetic kernel's types, by what they are. */
struct kbtf {
	struct btf *btf;
	int int_, uint, ulong_gcc, ulong_clang, size_t_, voidp, cvoidp, charp;
	int task, kmem_cache, page;
};

static int ptr_to_struct(struct btf *btf, const char *name)
{
	return btf__add_ptr(btf, btf__add_fwd(btf, name, BTF_FWD_STRUCT));
}

static void kbtf_init(struct kbtf *k)
{
	struct btf *b = k->btf = btf__new_empty();

	k->int_ = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	k->uint = btf__add_int(b, "unsigned int", 4, 0);
	/* gcc's DWARF and clang's spell the same type two ways. */
	k->ulong_gcc = btf__add_int(b, "long unsigned int", 8, 0);
	k->ulong_clang = btf__add_int(b, "unsigned long", 8, 0);
	k->size_t_ = btf__add_typedef(b, "size_t", k->ulong_gcc);
	k->voidp = btf__add_ptr(b, 0);
	k->cvoidp = btf__add_ptr(b, btf__add_const(b, 0));
	k->charp = btf__add_ptr(b, btf__add_const(b, btf__add_int(b, "char", 1, BTF_INT_SIGNED)));
	k->task = ptr_to_struct(b, "task_struct");
	k->kmem_cache = ptr_to_struct(b, "kmem_cache");
	k->page = ptr_to_struct(b, "page");
}

/* typedef void (*btf_trace_TP)(void *, PARAMS...): PARAMS ends with -1. */
static void add_tp(struct kbtf *k, const char *tp, ...)
{
	char name[128];
	va_list ap;
	int proto = btf__add_func_proto(k->btf, 0), id;

	btf__add_func_param(k->btf, "__data", k->voidp);
	va_start(ap, tp);
	while ((id = va_arg(ap, int)) >= 0)
		btf__add_func_param(k->btf, NULL, id);
	va_end(ap);
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	btf__add_typedef(k->btf, name, btf__add_ptr(k->btf, proto));
}

static void test_normalize(void)
{
	char out[64];

	tp_type_normalize("long unsigned int", out, sizeof(out));
	CHECK_STR(out, "unsigned long");
	tp_type_normalize("unsigned long", out, sizeof(out));
	CHECK_STR(out, "unsigned long");
	tp_type_normalize("long long unsigned int", out, sizeof(out));
	CHECK_STR(out, "unsigned long long");
	tp_type_normalize("short int", out, sizeof(out));
	CHECK_STR(out, "short");
	tp_type_normalize("signed int", out, sizeof(out));
	CHECK_STR(out, "int");
	tp_type_normalize("const struct kmem_cache *", out, sizeof(out));
	CHECK_STR(out, "struct kmem_cache *");
	tp_type_normalize("const  char*", out, sizeof(out));
	CHECK_STR(out, "char *");
	tp_type_normalize("unsigned char", out, sizeof(out));
	CHECK_STR(out, "unsigned char");
	tp_type_normalize("gfp_t", out, sizeof(out));
	CHECK_STR(out, "gfp_t");
}

/* The table is the sources': what kmem.bpf.c and reclaim.bpf.c read, in vmlinux.h's words. */
static void test_table(void)
{
	const struct tp_args *a = tp_args_find("kmem_cache_alloc", "kmem_cache_alloc");

	CHECK(a && a->nr == 3);
	if (a) {
		CHECK_STR(a->types[0], "long unsigned int");
		CHECK_STR(a->types[1], "const void *");
		CHECK_STR(a->types[2], "struct kmem_cache *");
	}
	a = tp_args_find("mark_victim", "oom_mark_victim");
	CHECK(a && a->nr == 2);
	if (a) {
		CHECK_STR(a->types[0], "struct task_struct *");
		CHECK_STR(a->types[1], "uid_t");
	}
	a = tp_args_find("kmalloc", "kmalloc");
	CHECK(a && a->nr == 4 && !strcmp(a->types[3], "size_t"));
	CHECK(!tp_args_find("kmem_cache_alloc", "no_such_program"));
}

/* Every raw_tp program of every object has its entry: none goes unchecked. */
static void check_covered(struct bpf_object *obj)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		const char *sec = bpf_program__section_name(prog);

		if (strncmp(sec, "raw_tp/", 7))
			continue;
		if (!tp_args_find(sec + 7, bpf_program__name(prog))) {
			fprintf(stderr, "no tp_args entry for %s\n", sec);
			CHECK(false);
			continue;
		}
		CHECK(true);
	}
}

static void test_covered(void)
{
	struct kmem_bpf *k = kmem_bpf__open();
	struct reclaim_bpf *r = reclaim_bpf__open();

	CHECK(k && r);
	if (k)
		check_covered(k->obj);
	if (r)
		check_covered(r->obj);
	kmem_bpf__destroy(k);
	reclaim_bpf__destroy(r);
}

static void test_compare(void)
{
	const struct tp_args *victim = tp_args_find("mark_victim", "oom_mark_victim");
	const struct tp_args *alloc = tp_args_find("kmem_cache_alloc", "kmem_cache_alloc");
	const struct tp_args *cfree = tp_args_find("kmem_cache_free", "kmem_cache_free");
	const struct tp_args *kmalloc = tp_args_find("kmalloc", "kmalloc");
	struct kbtf k;
	char kargs[256];
	int uid;

	if (!victim || !alloc || !cfree || !kmalloc) {
		CHECK(false);
		return;
	}
	kbtf_init(&k);
	uid = btf__add_typedef(k.btf, "uid_t", k.uint);
	/* The same proto: 6.18's mark_victim. */
	add_tp(&k, "mark_victim", k.task, uid, -1);
	CHECK(tp_args_check(k.btf, victim, kargs, sizeof(kargs)) == 0);
	btf__free(k.btf);

	/* Fewer params: 5.10's mark_victim(int pid). */
	kbtf_init(&k);
	add_tp(&k, "mark_victim", k.int_, -1);
	CHECK(tp_args_check(k.btf, victim, kargs, sizeof(kargs)) == -EPROTO);
	CHECK_STR(kargs, "int");
	/* No such tracepoint at all. */
	CHECK(tp_args_check(k.btf, alloc, kargs, sizeof(kargs)) == -ENOENT);
	btf__free(k.btf);

	/* As many params, another type: 5.10's kmem_cache_alloc reads bytes_req third. */
	kbtf_init(&k);
	add_tp(&k, "kmem_cache_alloc", k.ulong_gcc, k.cvoidp, k.size_t_, k.size_t_, k.uint, -1);
	CHECK(tp_args_check(k.btf, alloc, kargs, sizeof(kargs)) == -EPROTO);
	CHECK_STR(kargs, "long unsigned int, const void *, size_t, size_t, unsigned int");
	/* Another pointer type: 6.1's kmem_cache_free(..., const char *name). */
	add_tp(&k, "kmem_cache_free", k.ulong_gcc, k.cvoidp, k.charp, -1);
	CHECK(tp_args_check(k.btf, cfree, kargs, sizeof(kargs)) == -EPROTO);
	CHECK_STR(kargs, "long unsigned int, const void *, const char *");
	btf__free(k.btf);

	/*
	 * Harmless: clang's "unsigned long" for gcc's "long unsigned int", a
	 * pointer without const, more params than the program reads.
	 */
	kbtf_init(&k);
	add_tp(&k, "kmem_cache_alloc", k.ulong_clang, k.cvoidp, k.kmem_cache, k.uint, k.int_, -1);
	CHECK(tp_args_check(k.btf, alloc, kargs, sizeof(kargs)) == 0);
	add_tp(&k, "kmem_cache_free", k.ulong_clang, k.voidp, k.kmem_cache, -1);
	CHECK(tp_args_check(k.btf, cfree, kargs, sizeof(kargs)) == 0);
	add_tp(&k, "kmalloc", k.ulong_clang, k.cvoidp, k.size_t_, k.size_t_, k.uint, -1);
	CHECK(tp_args_check(k.btf, kmalloc, kargs, sizeof(kargs)) == 0);
	btf__free(k.btf);
}

/* The guard over a whole object: what it leaves out, and the lines it says. */
static void test_guard(void)
{
	struct reclaim_bpf *r = reclaim_bpf__open();
	struct tp_skips s;
	struct kbtf k;

	if (!r) {
		CHECK(false);
		return;
	}
	kbtf_init(&k);
	add_tp(&k, "mark_victim", k.int_, -1);
	add_tp(&k, "mm_page_alloc", k.page, k.uint, k.uint, k.int_, -1);
	add_tp(&k, "mm_compaction_begin", k.ulong_gcc, k.ulong_gcc, k.ulong_gcc, k.ulong_gcc, -1);
	CHECK(tp_guard(r->obj, k.btf, &s) == 0);
	CHECK(s.kept == 1 && s.left_out > 2);
	CHECK(bpf_program__autoload(r->progs.page_alloc));
	CHECK(!bpf_program__autoload(r->progs.oom_mark_victim));
	CHECK(!bpf_program__autoload(r->progs.compaction_begin));
	CHECK(strstr(s.names, "mark_victim") && strstr(s.names, "mm_vmscan_kswapd_wake"));
	CHECK(strstr(s.lacking, "this kernel lacks mm_vmscan_direct_reclaim_begin, ") == s.lacking);
	CHECK_STR(s.differing, "this kernel's mm_compaction_begin (long unsigned int, long "
		  "unsigned int, long unsigned int, long unsigned int), mark_victim (int) have "
		  "other arguments: not traced");
	/* Programs left out already are not looked at again. */
	CHECK(tp_guard(r->obj, k.btf, &s) == 0 && s.kept == 1 && !s.left_out);
	reclaim_bpf__destroy(r);

	/* One: the brief form. */
	r = reclaim_bpf__open();
	bpf_program__set_autoload(r->progs.compaction_begin, false);
	CHECK(tp_guard(r->obj, k.btf, &s) == 0);
	CHECK_STR(s.differing, "this kernel's mark_victim has other arguments (int): not traced");
	reclaim_bpf__destroy(r);
	btf__free(k.btf);
}

void test_tpguard(void)
{
	test_normalize();
	test_table();
	test_covered();
	test_compare();
	test_guard();
}
