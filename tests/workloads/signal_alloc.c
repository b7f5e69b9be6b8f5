// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bump_alloc.c's allocator, whose malloc(SIGNAL_ALLOC_SIZE) raises SIGUSR1
 * before it allocates anything, preloaded and hooked with --allocator: the
 * program's handler siglongjmp()s out of the call, which then never
 * returns and its uretprobe never fires (tests/workloads/lost_return.c,
 * tests/e2e-probes.sh). free is a no-op: every block is outstanding until
 * exit.
 */
#include <signal.h>

/* The one size that raises SIGUSR1; lost_return.c asks for it. */
#define SIGNAL_ALLOC_SIZE 77777

/* Before the block is taken: a call left by siglongjmp() hands out none. */
#define BUMP_MALLOC_HOOK(n) do {		\
	if ((n) == SIGNAL_ALLOC_SIZE)		\
		raise(SIGUSR1);			\
} while (0)

#include "bump_alloc.c"
