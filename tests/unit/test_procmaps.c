// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include "procmaps.h"
#include "unit.h"

static void test_parse_file_mapping(void)
{
	struct vma v;

	CHECK(vma_parse_line("7f3c1a200000-7f3c1a3b5000 r-xp 00028000 fe:01 1311 "
			     "    /usr/lib/x86_64-linux-gnu/libc.so.6\n", &v) == 0);
	CHECK_U64(v.start, 0x7f3c1a200000ULL);
	CHECK_U64(v.end, 0x7f3c1a3b5000ULL);
	CHECK_U64(v.offset, 0x28000);
	CHECK_U64(v.dev_major, 0xfe);
	CHECK_U64(v.dev_minor, 1);
	CHECK_U64(v.inode, 1311);
	CHECK(v.exec);
	CHECK(!v.deleted);
	CHECK_STR(v.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
}

static void test_parse_special(void)
{
	struct vma v;

	CHECK(vma_parse_line("55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 0 \n", &v) == 0);
	CHECK(!v.exec);
	CHECK_STR(v.path, "");

	CHECK(vma_parse_line("7ffd5e3f0000-7ffd5e411000 rw-p 00000000 00:00 0   [stack]", &v) == 0);
	CHECK_STR(v.path, "[stack]");

	/* Replaced on disk after it was mapped. */
	CHECK(vma_parse_line("400000-401000 r-xp 00001000 08:02 77 /opt/my app/bin (deleted)\n", &v) == 0);
	CHECK(v.deleted);
	CHECK_STR(v.path, "/opt/my app/bin");

	CHECK(vma_parse_line("garbage\n", &v) == -EINVAL);
	CHECK(vma_parse_line("2000-1000 r-xp 0 00:00 0\n", &v) == -EINVAL);
}

static void test_find(void)
{
	struct vma v[3] = {
		{ .start = 0x1000, .end = 0x2000 },
		{ .start = 0x3000, .end = 0x5000 },
		{ .start = 0x5000, .end = 0x6000 },
	};
	struct vma_list list = { .v = v, .nr = 3, .cap = 3 };

	CHECK(vma_find(&list, 0x0fff) == NULL);
	CHECK(vma_find(&list, 0x1000) == &v[0]);
	CHECK(vma_find(&list, 0x1fff) == &v[0]);
	CHECK(vma_find(&list, 0x2000) == NULL);
	CHECK(vma_find(&list, 0x4fff) == &v[1]);
	CHECK(vma_find(&list, 0x5000) == &v[2]);
	CHECK(vma_find(&list, 0x6000) == NULL);
}

static void test_libc(void)
{
	struct vma v[3] = {
		{ .start = 0x1000, .end = 0x2000, .exec = false, .path = "/lib/libc.so.6" },
		{ .start = 0x3000, .end = 0x4000, .exec = true, .path = "/lib/libcrypt.so.1" },
		{ .start = 0x5000, .end = 0x6000, .exec = true, .path = "/lib/libc.so.6" },
	};
	struct vma_list list = { .v = v, .nr = 3, .cap = 3 };

	CHECK(path_is_libc("/usr/lib/x86_64-linux-gnu/libc.so.6"));
	CHECK(path_is_libc("/lib/libc-2.31.so"));
	CHECK(path_is_libc("/lib/ld-musl-x86_64.so.1"));
	CHECK(path_is_libc("/usr/lib/libc.so"));
	CHECK(!path_is_libc("/usr/lib/libcurl.so.4"));
	CHECK(!path_is_libc("/usr/lib/libc.so.6.bak/x"));
	CHECK(vma_find_libc(&list) == &v[2]);
	CHECK(vma_find_interp(&list) == NULL);
	CHECK(path_is_interp("/lib64/ld-linux-x86-64.so.2"));
	CHECK(path_is_interp("/lib/ld-musl-x86_64.so.1"));
	CHECK(!path_is_interp("/usr/lib/libldap.so.2"));
}

/* Our own maps: the executable mapping of this very function is found. */
static void test_self(void)
{
	struct vma_list list = {};
	const struct vma *v;

	CHECK(vma_list_load(getpid(), &list) == 0);
	v = vma_find(&list, (uint64_t)(uintptr_t)test_self);
	CHECK(v != NULL);
	CHECK(v && v->exec);
	CHECK(v && strstr(v->path, "unit_tests") != NULL);
	CHECK(vma_find_libc(&list) != NULL);
	vma_list_free(&list);
	CHECK(vma_list_load(-5, &list) == -ENOENT);
}

void test_procmaps(void)
{
	test_parse_file_mapping();
	test_parse_special();
	test_find();
	test_libc();
	test_self();
}
