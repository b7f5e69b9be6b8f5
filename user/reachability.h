/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which outstanding blocks are really lost: a scan of a stopped process's
 * memory from its roots (modules' writable segments, threads' stacks,
 * registers and TLS), marking the blocks pointers reach, as valgrind's
 * memcheck does. The core (reach_classify) knows blocks, root ranges,
 * register words and a way to read memory: no process, so that it can be
 * tested on a synthetic image. reach_scan_process() gives it a process.
 */
#ifndef MEMLENS_REACHABILITY_H
#define MEMLENS_REACHABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "freeze.h"	/* struct reach_thread: a stopped thread, as freeze.c reads it */

/* A block's class, valgrind's names. */
enum reach_class {
	REACH_NONE,		/* not scanned, or a partial scan did not reach it */
	REACH_DEFINITE,		/* no pointer to it anywhere: definitely lost */
	REACH_INDIRECT,		/* pointed to only from lost blocks: indirectly lost */
	REACH_POSSIBLE,		/* reached only through interior pointers: possibly lost */
	REACH_REACHABLE,	/* a start pointer from a root, or from such a block */
	REACH_SUPPRESSED,	/* lost, and its stack matches a suppression */
	REACH_NR,
};

/* The class's name in reports ("definitely_lost", ...); "not_scanned" for REACH_NONE. */
const char *reach_class_name(enum reach_class c);

/* Why a scan is partial: only REACH_REACHABLE is sure, the rest REACH_NONE. */
enum reach_partial {
	REACH_WHOLE,
	REACH_CUT_DEADLINE,	/* the deadline (--scan-max-pause) came */
	REACH_CUT_READ_ERROR,	/* a read failed, not for an unmapped page: stopped there */
	REACH_CUT_THREADS,	/* threads not stopped: their stacks and registers unseen */
	REACH_CUT_UNREADABLE,	/* roots (or blocks they reach) could not be read */
};

/* Its name in JSON ("max_pause", ...); NULL for REACH_WHOLE. */
const char *reach_partial_name(enum reach_partial why);

struct reach_range {
	uint64_t start;
	uint64_t end;
};

/* Read LEN bytes at ADDR of the scanned memory: bytes read (short at an unreadable page), or -errno. */
typedef ssize_t (*reach_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);
/* Read the N ranges R one after another into BUF: bytes read, short from the first that fails; -errno. */
typedef ssize_t (*reach_readv_fn)(void *ctx, const struct reach_range *r, size_t n, void *buf);

struct reach_input {
	const uint64_t *addr;	/* the blocks, in any order */
	const uint64_t *size;
	size_t nr;
	const struct reach_range *roots;	/* scanned as roots; blocks they overlap are reachable */
	size_t nr_roots;
	const uint64_t *words;	/* roots too: the threads' registers */
	size_t nr_words;
	reach_read_fn read;
	reach_readv_fn readv;	/* many small blocks in one call; NULL: READ each */
	void *ctx;
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC: stop there, a partial scan; 0: none */
	bool threads_unseen;	/* some threads' stacks and registers are not roots: partial */
	/*
	 * glibc's malloc: a word at a block's next chunk header (block +
	 * chunk size - 16, inside it when the request fills the chunk) is
	 * the arena's or a free chunk's, not a pointer into the block.
	 */
	bool malloc_chunks;
};

struct reach_result {
	uint8_t *cls;		/* nr entries, the class of input block i */
	uint64_t bytes_scanned;	/* read and looked at, roots and blocks */
	uint64_t bytes_unreadable;	/* in ranges that could not be read */
	uint64_t roots_unreadable;	/* of them, in roots or blocks reached from roots */
	bool partial;		/* WHY: only REACH_REACHABLE is sure */
	enum reach_partial why;
	int read_err;		/* REACH_CUT_READ_ERROR: the errno */
};

/*
 * Classify IN's blocks into OUT->cls (allocated by the caller, IN->nr
 * entries). Pointer-aligned words only. A start pointer from a root or a
 * reachable block makes a block reachable; an interior pointer only
 * possibly; blocks still unreached are then definitely lost in address
 * order, each marking what it reaches (interior pointers too) indirectly
 * lost, a cycle's lowest block the definite one. A page that cannot be
 * read (-EFAULT, -EIO, -ESRCH) is skipped and counted; in the roots, or
 * in blocks they reach, it makes the scan partial. Any other error of
 * READ stops the scan, partial. 0 or -ENOMEM.
 */
int reach_classify(const struct reach_input *in, struct reach_result *out);

/* Where a scan's time and memory went, for the report. */
struct reach_stats {
	uint64_t pause_ns;	/* the process stopped (from the first thread stopped to the last let go) */
	uint64_t scan_ns;
	uint64_t bytes_scanned;
	uint64_t bytes_unreadable;
	uint64_t roots_bytes;	/* of the roots, stacks included */
	uint32_t threads;
	uint32_t threads_not_stopped;	/* running through the scan: their stacks and registers unseen */
	int seize_err;		/* why a thread could not be seized (errno), 0 */
	uint64_t roots_unreadable;
	int read_err;
	enum reach_partial why;
	bool partial;
	bool done;		/* a scan was made */
};

/*
 * The roots of process PID: writable mappings of its modules (.data, .got,
 * .bss) and the RELRO just before them, each thread's stack from its stack
 * pointer (less the 128-byte red zone) to the end of its mapping, its TLS
 * (the block or mapping at its thread pointer). UNKNOWN_HEAP: also every
 * anonymous writable mapping and the heap, less the blocks BLOCKS knows
 * (-p: blocks allocated before memlens attached hold pointers too).
 * *ROOTS is malloc'd.
 */
int reach_roots(pid_t pid, const struct reach_thread *t, size_t nr_threads,
		const struct reach_range *blocks, size_t nr_blocks, bool unknown_heap,
		struct reach_range **roots, size_t *nr_roots);

/* Read process PID's memory: process_vm_readv, else /proc/PID/mem. */
struct reach_mem {
	pid_t pid;
	int mem_fd;		/* /proc/PID/mem, opened at the first need; -1 */
	bool use_fd;
};
ssize_t reach_read_process(void *ctx, uint64_t addr, void *buf, size_t len);
ssize_t reach_readv_process(void *ctx, const struct reach_range *r, size_t n, void *buf);

/*
 * Classify the NR blocks at ADDR/SIZE of process PID, stopped with its
 * threads T (whose registers are read): classes into CLS. DEADLINE_NS
 * (CLOCK_MONOTONIC, 0: none) bounds the scan, the roots read included.
 * 0 or -errno.
 */
int reach_scan_process(pid_t pid, const struct reach_thread *t, size_t nr_threads,
		       const uint64_t *addr, const uint64_t *size, size_t nr, bool unknown_heap,
		       uint64_t deadline_ns, uint8_t *cls, struct reach_stats *st);

#endif
