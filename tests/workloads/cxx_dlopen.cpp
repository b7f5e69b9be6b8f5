// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cxx_dlopen PLUGIN: news through libstdc++, then through a plugin's own
 * operator new (cxx_plugin.cpp), then through libstdc++ again:
 *
 *   leak_main     2 x 2 x new long[7]   56 bytes each
 *   leak_plugin   3 x new long[5]       40 bytes each (in the plugin)
 */
#include <cstdio>
#include <dlfcn.h>

static void *volatile keep[8];
static int kept;

__attribute__((noinline)) void leak_main(void)
{
	for (int i = 0; i < 2; i++)
		keep[kept++] = new long[7];
}

int main(int argc, char **argv)
{
	void *h;
	void (*leak_plugin)(void);

	if (argc != 2) {
		fprintf(stderr, "usage: cxx_dlopen PLUGIN\n");
		return 2;
	}
	leak_main();
	h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "cxx_dlopen: %s\n", dlerror());
		return 1;
	}
	leak_plugin = (void (*)(void))dlsym(h, "leak_plugin");
	if (!leak_plugin) {
		fprintf(stderr, "cxx_dlopen: %s\n", dlerror());
		return 1;
	}
	leak_plugin();
	leak_main();
	return 0;
}
