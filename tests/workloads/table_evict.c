// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Blocks that outlive the table of recent blocks (include/allocs.h): 100
 * kept over a pause, in which memlens moves them to the map, then freed;
 * and 7 x malloc(4096) leaked by leak_here(), moved alike. Handshake
 * (handshake.h): "ready", a line; the blocks, "done", a line; the frees,
 * "freed", a line; exit.
 */
#include <stdlib.h>
#include "handshake.h"

#define KEPT 100

static void *kept[KEPT];
static void *volatile sink;

__attribute__((noinline)) static void leak_here(void)
{
	for (int i = 0; i < 7; i++)
		sink = malloc(4096);
}

int main(void)
{
	say("ready\n");
	wait_line();
	for (int i = 0; i < KEPT; i++)
		kept[i] = malloc(64 + i);
	leak_here();
	say("done\n");
	wait_line();
	for (int i = 0; i < KEPT; i++)
		free(kept[i]);
	say("freed\n");
	wait_line();
	return 0;
}
