/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef MEMLENS_CXX_FORWARD_H
#define MEMLENS_CXX_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "allocs.h"

struct elf_file;

/*
 * C++ operators that provably only hand the call on to the allocator, and
 * so need no probe of their own (doc/internals.md, "C++ operators left to
 * malloc and free"). x86_64 only: elsewhere nothing is proven.
 */
enum cxx_forward_kind {
	CXX_HOOKED,		/* nothing proven: hooked */
	CXX_TAIL,		/* [endbr64] quiet instructions, jmp TARGET */
	CXX_CALLS,		/* calls TARGET at SITEs, returns its result unchanged */
};

struct cxx_forward {
	enum cxx_forward_kind kind;
	char target[136];	/* "free@plt", "_ZdlPv@plt", "malloc@plt", "free" */
	unsigned int nr_sites;
	uint64_t site[NEW_SITES_MAX];	/* CXX_CALLS: file offsets of the return addresses */
	uint32_t slot[NEW_SITES_MAX];	/* the caller's return address at sp + SLOT there */
	char why[320];		/* for -v and doctor */
};

/*
 * Is the function at file offset OFF (SIZE bytes, 0: not known) of EF a
 * tail jump to one of TARGETS (NULL-terminated names), through the PLT or
 * straight to that function of EF, after instructions that touch neither
 * its first argument nor the stack? Into FW.
 */
void cxx_forward_tail(struct elf_file *ef, uint64_t off, uint64_t size,
		      const char *const *targets, struct cxx_forward *fw);

/*
 * Does it call CALLEE and return what it returns (not NULL) to its own
 * caller at once (`[test %rax,%rax; je]; pop/add %rsp...; ret`)? The
 * stack depth there is read from the code and must agree with the CFI,
 * which must also say that rbp is the caller's. Into FW, with each call's
 * return address and where the caller's return address is then.
 */
void cxx_forward_calls(struct elf_file *ef, uint64_t off, uint64_t size, const char *callee,
		       struct cxx_forward *fw);

#endif
