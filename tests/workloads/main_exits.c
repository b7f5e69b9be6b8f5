// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The main thread starts a worker and calls pthread_exit(): the process
 * runs on in the worker, its leader a zombie with no memory and no stack.
 * Once the leader is a zombie the worker keeps 7 x malloc(4096) in a
 * global (still reachable), loses 3 x malloc(1000) (definitely lost) and
 * exits. With --wait it says "ready" first, and goes on at a line on
 * stdin. With a library's path, it then dlopens it and calls its
 * leak_in_dso() (dso_leak.c): code mapped after the leader is gone.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "handshake.h"

void *volatile kept[7];
void *volatile dropped;
static const char *dso;

__attribute__((noinline)) void leak_in_worker(int i)
{
	kept[i] = malloc(4096);
	memset(kept[i], 1, 4096);
}

__attribute__((noinline)) void lose_in_worker(void)
{
	dropped = malloc(1000);
	memset(dropped, 2, 1000);
	dropped = NULL;
}

/* The leader's state in /proc: 'Z' once it is a zombie. */
static char leader_state(void)
{
	char path[64], buf[512], *p, state = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", getpid());
	f = fopen(path, "re");
	if (!f)
		return 0;
	p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
	fclose(f);
	if (!p || sscanf(p, ") %c", &state) != 1)
		return 0;
	return state;
}

/*
 * The stack below here, where malloc's frames were, zeroed: exit()'s own
 * frames would otherwise hold its stale words, and a lost block's address
 * among them would make it reachable.
 */
__attribute__((noinline)) void scrub_stack(void)
{
	volatile char junk[16384];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0;
}

static void *worker(void *wait)
{
	while (leader_state() != 'Z')
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	if (wait) {
		say("ready\n");
		wait_line();
	}
	for (int i = 0; i < 7; i++)
		leak_in_worker(i);
	for (int i = 0; i < 3; i++)
		lose_in_worker();
	if (dso) {
		void *h = dlopen(dso, RTLD_NOW);
		void (*leak)(void) = h ? (void (*)(void))dlsym(h, "leak_in_dso") : NULL;

		if (!leak)
			_exit(2);
		leak();
	}
	scrub_stack();
	exit(0);
}

int main(int argc, char **argv)
{
	const char *wait = NULL;
	pthread_t t;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--wait"))
			wait = "";
		else
			dso = argv[i];
	}
	if (pthread_create(&t, NULL, worker, (void *)wait))
		return 1;
	pthread_exit(NULL);
}
