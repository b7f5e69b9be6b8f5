// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Readable names for mangled symbols: C++ (Itanium ABI) and Rust, legacy
 * (whose hash suffix is dropped) and v0, with libiberty's demangler, the
 * one binutils and GDB use (Debian's libiberty-dev).
 */
#include <stdlib.h>
#include <string.h>
#include <libiberty/demangle.h>
#include "demangle.h"

char *demangle(const char *name)
{
	/* Not mangled: C names, and the demangler's time, spared. */
	if (!name || (strncmp(name, "_Z", 2) && strncmp(name, "_R", 2)))
		return NULL;
	return cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
}
