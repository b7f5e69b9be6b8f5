// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Kernel symbols from a kallsyms text: text only, sorted, modules named. */
#include <stdlib.h>
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
