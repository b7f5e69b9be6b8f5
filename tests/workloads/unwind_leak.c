// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Leaks through call chains a frame-pointer walk cannot follow, for the
 * unwinder's end-to-end test (tests/e2e-unwind.sh). Built without frame
 * pointers (build/unwind_leak) and with them (build/unwind_leak_fp):
 *
 *   main -> outer -> middle -> inner     3 x malloc(1000)     3000 bytes
 *   main -> dups -> dup_name -> strdup   2 x 24 bytes (malloc inside libc,
 *                                        which has no frame pointers)
 *   thread_main -> thread_leak           1 x malloc(777)       777 bytes
 *                                                     6 blocks, 3825 bytes
 *
 * The loops run a volatile number of times, so that the compiler keeps
 * one call site each, and each leak has one stack.
 *
 * --jit: also malloc(4242) from machine code in an anonymous executable
 * mapping (as a JIT makes), where the unwinder must stop: that 4096-byte
 * mapping is a leak too. --deep N: also malloc(555) in deep_leak(), below
 * N + 1 recursive frames of deep() below main. --wait: say "ready", wait
 * for a line, work, say "done", wait for a line, exit (handshake.h), for
 * tracing with -p.
 * No stdio: its buffers would be allocations of their own.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "handshake.h"

static void *volatile sink;
static const char name[] = "twenty-three characters";	/* 23 + NUL = 24 bytes */
static volatile int inner_rounds = 3, dup_rounds = 2;

void inner(void)
{
	void *p = malloc(1000);

	memset(p, 1, 1000);
	sink = p;
}

void middle(void)
{
	inner();
	sink = NULL;
}

void outer(void)
{
	for (int i = 0; i < inner_rounds; i++)
		middle();
	sink = NULL;
}

void dup_name(void)
{
	sink = strdup(name);
	sink = NULL;
}

void dups(void)
{
	for (int i = 0; i < dup_rounds; i++)
		dup_name();
	sink = NULL;
}

void thread_leak(void)
{
	void *p = malloc(777);

	memset(p, 2, 777);
	sink = p;
}

void *thread_main(void *arg)
{
	thread_leak();
	return arg;
}

void deep_leak(void)
{
	void *p = malloc(555);

	memset(p, 3, 555);
	sink = p;
}

/* Not a tail call: each level keeps its frame. */
void __attribute__((noinline)) deep(int n)
{
	if (n > 0)
		deep(n - 1);
	else
		deep_leak();
	sink = NULL;
}

/* x86_64: sub $8,%rsp; mov $4242,%edi; call *%rsi; add $8,%rsp; ret */
static const unsigned char jit_code[] = {
	0x48, 0x83, 0xec, 0x08, 0xbf, 0x92, 0x10, 0x00, 0x00,
	0xff, 0xd6, 0x48, 0x83, 0xc4, 0x08, 0xc3,
};

static int jit_leak(void)
{
	void *(*code)(long, void *(*)(size_t));
	void *page;

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -1;
	memcpy(page, jit_code, sizeof(jit_code));
	if (mprotect(page, 4096, PROT_READ | PROT_EXEC))
		return -1;
	code = (void *(*)(long, void *(*)(size_t)))page;
	sink = code(0, malloc);
	return 0;
}

int main(int argc, char **argv)
{
	int wait = argc > 1 && !strcmp(argv[1], "--wait");
	int jit = argc > 1 && !strcmp(argv[1], "--jit");
	int depth = argc > 2 && !strcmp(argv[1], "--deep") ? atoi(argv[2]) : -1;
	pthread_t t;

	if (wait) {
		say("ready\n");
		wait_line();
	}
	outer();
	dups();
	if (pthread_create(&t, NULL, thread_main, NULL) || pthread_join(t, NULL))
		return 1;
	if (jit && jit_leak())
		return 1;
	if (depth >= 0)
		deep(depth);
	if (wait) {
		say("done\n");
		wait_line();
	}
	return 0;
}
