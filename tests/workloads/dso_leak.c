// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Built as build/libdso_leak.so: a library that leaks, loaded with dlopen. */
#include <stdlib.h>
#include <string.h>

void *volatile dso_sink;

void leak_in_dso(void)
{
	for (int i = 0; i < 3; i++) {
		dso_sink = malloc(512);
		memset(dso_sink, 1, 512);
	}
}
