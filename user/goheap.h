/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Go heap allocations (memlens allocs): the uprobe on runtime.mallocgc,
 * and the allocation profile read back from the go_allocs map.
 */
#ifndef MEMLENS_GOHEAP_H
#define MEMLENS_GOHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stack_report.h"

struct allocs_bpf;
struct go_probes;

enum go_kind {
	GO_NOT,		/* not a Go program, or not readable */
	GO_SYMBOLS,	/* a Go program with runtime.mallocgc in its symbol table */
	GO_STRIPPED,	/* a Go program without it (go build -ldflags=-s, strip) */
};

/* Is the executable at PATH a Go program, and can its allocator be found? */
enum go_kind go_program_kind(const char *path);
/* The same: a Go program with runtime.mallocgc in its symbol table. */
bool go_binary(const char *path);
/*
 * Attach the mallocgc uprobe of SKEL to the Go executable at PATH (shown
 * as NAME) for process PID; HOLD_AT_EXIT also hooks runtime.exit to hold
 * a command memlens started until its maps are read. Errors are reported.
 */
int go_probes_attach(struct allocs_bpf *skel, const char *path, const char *name, int pid,
		     bool hold_at_exit, struct go_probes **out);
void go_probes_detach(struct go_probes *gp);
/*
 * Where in a Go function's code a probe fires once per call: past the
 * prologue's stack-bound check (cmp 0x10(%r14),%rsp or, for big frames,
 * lea -N(%rsp),%r12; cmp 0x10(%r14),%r12; then jbe). When the goroutine's
 * stack must grow, the check jumps to morestack, which copies the stack
 * and restarts the function from its entry: a probe on the first
 * instruction would count that call twice. 0 if the code is not that shape.
 */
size_t go_probe_skip(const unsigned char *code, size_t len);
/*
 * The allocation profile of process TGID in the go_allocs map MAP_FD, by
 * stack; sampled calls (SAMPLE_BYTES) weighed by their size. Sorted by bytes.
 */
int go_allocs_read(int map_fd, uint32_t tgid, uint64_t sample_bytes,
		   struct stack_group **groups, size_t *nr_groups);
/* Remove process TGID's entries from MAP_FD: it has exited. */
void go_allocs_delete(int map_fd, uint32_t tgid);
/*
 * ST without its leading runtime.* frames (mallocgc's callers makeslice,
 * newobject, growslice...), so that it starts at the function whose
 * allocation escaped, in VIEW. A stack of runtime frames only is left whole.
 */
const struct sym_stack *go_user_stack(const struct sym_stack *st, struct sym_stack *view);

#endif
