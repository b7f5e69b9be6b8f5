// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Frees of blocks allocated before a tracer came, for memlens top: 25 x
 * malloc(100), then "ready"; after a line on stdin 25 free()s and nothing
 * else, then "done", and it exits after another line.
 */
#include <stdlib.h>
#include "handshake.h"

#define NR 25

int main(void)
{
	void *volatile blocks[NR];

	for (int i = 0; i < NR; i++)
		blocks[i] = malloc(100);
	say("ready\n");
	wait_line();
	for (int i = 0; i < NR; i++)
		free(blocks[i]);
	say("done\n");
	wait_line();
	return 0;
}
