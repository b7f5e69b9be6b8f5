/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_DEMANGLE_H
#define MEMLENS_DEMANGLE_H

/*
 * NAME demangled (C++, Rust legacy without its hash, Rust v0), to free();
 * NULL if NAME is not a mangled name.
 */
char *demangle(const char *name);

#endif
