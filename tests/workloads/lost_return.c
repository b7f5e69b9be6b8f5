// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * An allocator call that never returns, then new calls from the same frame
 * (tests/e2e-probes.sh), run with signal_alloc.c preloaded: its
 * malloc(77777) raises SIGUSR1, whose handler siglongjmp()s back into
 * lost_return_here(), which then leaks exactly 7 x 4096 bytes from another
 * call site at the same stack pointer. memlens must count the first call's
 * return as missed, once, and take the new calls for outer ones, each
 * recorded, not for calls nested in the lost one.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>

#define SIGNAL_ALLOC_SIZE 77777	/* signal_alloc.c's */
#define NR_LEAKS 7

static sigjmp_buf jb;
static void *volatile sink;
void *leaks[NR_LEAKS];		/* global: still reachable, and outstanding at exit */

static void on_usr1(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/*
 * Every call here (sigsetjmp, both mallocs) is made at one stack pointer:
 * the frame is set up once in the prologue, nothing is pushed between.
 */
__attribute__((noinline)) void lost_return_here(void)
{
	int i;

	if (!sigsetjmp(jb, 1))
		sink = malloc(SIGNAL_ALLOC_SIZE);
	for (i = 0; i < NR_LEAKS; i++)
		leaks[i] = malloc(4096);
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		return 1;
	lost_return_here();
	/* The lost call handed out nothing: sink is still NULL. */
	return sink != NULL;
}
