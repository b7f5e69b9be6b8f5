// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Loads a library, leaks 3 x 512 bytes through it and exits at once: the
 * library's code is mapped for only a moment before the process is gone,
 * the case where memlens must still name the leak's stack.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	void (*leak)(void);
	void *dso;

	if (argc < 2)
		return 2;
	dso = dlopen(argv[1], RTLD_NOW);
	if (!dso)
		return 1;
	leak = (void (*)(void))dlsym(dso, "leak_in_dso");
	if (!leak)
		return 1;
	leak();
	_exit(0);
}
