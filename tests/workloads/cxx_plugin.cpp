// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A plugin with an operator new of its own (built with -static-libstdc++
 * and -Bsymbolic: its news are libstdc++'s, copied in), dlopen'd by
 * cxx_dlopen.cpp after the program's first news: memlens publishes where
 * this new calls malloc only then, and every thread's view of its
 * process's sites must take them in.
 *
 *   leak_plugin   3 x new long[5]   40 bytes each
 */
static void *volatile keep[8];

extern "C" __attribute__((noinline)) void leak_plugin(void)
{
	for (int i = 0; i < 3; i++)
		keep[i] = new long[5];
}
