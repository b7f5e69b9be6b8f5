// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include "demangle.h"
#include "unit.h"

static void check_demangled(const char *mangled, const char *want)
{
	char *got = demangle(mangled);

	CHECK_STR(got ? got : "(not demangled)", want);
	free(got);
}

void test_demangle(void)
{
	check_demangled("_Znwm", "operator new(unsigned long)");
	check_demangled("_ZdlPvmSt11align_val_t",
			"operator delete(void*, unsigned long, std::align_val_t)");
	check_demangled("_Z12leak_objectsv", "leak_objects()");
	check_demangled("_ZN3foo3BarIiE3bazEv", "foo::Bar<int>::baz()");
	/* Rust legacy: the hash goes, the $-escapes are undone. */
	check_demangled("_ZN8rustleak5leaks10leak_boxes17h0123456789abcdefE",
			"rustleak::leaks::leak_boxes");
	check_demangled("_ZN4core3ptr46drop_in_place$LT$alloc..vec..Vec$LT$u8$GT$$GT$17h0123456789abcdefE",
			"core::ptr::drop_in_place<alloc::vec::Vec<u8>>");
	/* Rust v0. */
	check_demangled("_RNvNtCs1234_8rustleak5leaks10leak_boxes", "rustleak::leaks::leak_boxes");
	/* C names are not mangled; neither is garbage. */
	CHECK(demangle("malloc") == NULL);
	CHECK(demangle("main") == NULL);
	CHECK(demangle(NULL) == NULL);
	CHECK(demangle("_Zgarbage!") == NULL);
}
