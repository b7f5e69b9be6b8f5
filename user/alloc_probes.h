/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_ALLOC_PROBES_H
#define MEMLENS_ALLOC_PROBES_H

#include <stdbool.h>
#include <stddef.h>

struct allocs_bpf;
struct alloc_probes;

/*
 * Attach the allocator uprobes of SKEL to the library at LIB_PATH (opened
 * as given, e.g. through /proc/PID/map_files), shown to the user as
 * LIB_NAME, for process PID (-1: every process). HOLD_AT_EXIT also hooks
 * _exit, where the BPF side stops a command memlens started until its maps
 * are read.
 */
int alloc_probes_attach(struct allocs_bpf *skel, const char *lib_path,
			const char *lib_name, int pid, bool hold_at_exit,
			struct alloc_probes **out);
void alloc_probes_detach(struct alloc_probes *ap);
/*
 * The libc process PID maps: NAME as the process names it, PATH to open
 * that very file from here. Errors are reported, a missing libc with HINT.
 */
int alloc_probes_find_libc(int pid, const char *hint, char *path, size_t path_len,
			   char *name, size_t name_len);
/* Where in free()'s code a probe is cheapest; see alloc_probes.c. */
size_t free_probe_skip(const unsigned char *code, size_t len);

#endif
