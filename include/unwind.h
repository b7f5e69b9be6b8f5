/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Unwind tables, shared between bpf/unwind.bpf.h and user/unwind_table.c.
 *
 * Userspace turns the DWARF CFI (.eh_frame, else .debug_frame) of every
 * executable file a process maps into rows of x86_64 rules, one row per
 * address range, sorted by address and appended to one BPF array. A
 * per-process list of executable mappings says where each module's rows
 * are. The BPF side unwinds from the allocator's registers with a binary
 * search per frame, into the same stack_trace the frame-pointer walk
 * fills, so stacks are still hashed and deduplicated in the kernel.
 */
#ifndef MEMLENS_UNWIND_H
#define MEMLENS_UNWIND_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Executable mappings of one process the unwinder knows; more are counted. */
#define UNWIND_MAX_MAPPINGS	256
#define UNWIND_MAPPING_STEPS	9	/* binary search steps over 256 mappings */
/* Rows of all modules together; userspace can change it before loading. */
#define UNWIND_DEFAULT_ROWS	(512 * 1024)
#define UNWIND_MAX_ROWS		(16 * 1024 * 1024)
#define UNWIND_ROW_STEPS	25	/* binary search steps over UNWIND_MAX_ROWS */
#define UNWIND_MAX_PROCS	64

/* How the CFA of a row is found (low nibble of unwind_row.rules). */
enum unwind_cfa_rule {
	UNWIND_CFA_NONE,	/* no CFI covers this address: stop */
	UNWIND_CFA_RSP,		/* CFA = rsp + cfa_off */
	UNWIND_CFA_RBP,		/* CFA = rbp + cfa_off */
	UNWIND_CFA_END,		/* return address undefined: the outermost frame */
	UNWIND_CFA_UNSUPPORTED,	/* an expression or another register: stop */
};

/* Where the caller's rbp is (high nibble of unwind_row.rules). */
enum unwind_rbp_rule {
	UNWIND_RBP_SAME,	/* unchanged */
	UNWIND_RBP_SAVED,	/* at CFA + rbp_off */
	UNWIND_RBP_LOST,	/* not recoverable: a later rbp-based CFA stops */
};

/*
 * The rules from address pc (an ELF virtual address of the module) up to
 * the next row's. The return address is always at CFA - 8 (rows where it
 * is not are UNWIND_CFA_UNSUPPORTED). Offsets are in units of 8 bytes, so
 * that a row takes 8 bytes and frames up to 256 KiB fit.
 */
struct unwind_row {
	__u32 pc;
	__s16 cfa_off8;
	__s8 rbp_off8;
	__u8 rules;		/* cfa rule | rbp rule << 4 */
};

/*
 * One executable mapping: ip - bias is the module's ELF address. With
 * nr_rows 0 the module has no table (no CFI, or the row array is full) and
 * the frame pointer is followed instead.
 */
struct unwind_mapping {
	__u64 start;
	__u64 end;
	__u64 bias;
	__u32 first_row;
	__u32 nr_rows;
};

/* The executable mappings of one process, sorted by start. */
struct unwind_proc {
	__u32 nr;
	__u32 pad;
	struct unwind_mapping maps[UNWIND_MAX_MAPPINGS];
};

/*
 * The walk in progress, in BPF's per-task scratch buffer (not on the BPF
 * stack: each frame is a function of its own, see bpf/unwind.bpf.h). The
 * registers of the frame at hand, and its mapping and row once found.
 */
struct unwind_walk {
	__u64 ip;
	__u64 sp;
	__u64 bp;
	__u32 bp_known;
	__u32 tgid;
	__u32 switched;		/* the frame-pointer walk went down a stack once */
	__u32 pad;
	struct unwind_mapping map;
	struct unwind_row row;
};

#endif /* MEMLENS_UNWIND_H */
