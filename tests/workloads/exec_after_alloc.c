// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Allocates 5 x 1000 bytes in before_exec(), never frees them, then execs
 * its arguments: those blocks die with the image and are no leak of the
 * program that runs next.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile kept[5];

void before_exec(void)
{
	for (int i = 0; i < 5; i++) {
		kept[i] = malloc(1000);
		memset(kept[i], 1, 1000);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	before_exec();
	execv(argv[1], argv + 1);
	return 127;
}
