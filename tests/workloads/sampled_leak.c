// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A known leak among freed noise, for the sampling tests: leak_512()
 * leaks exactly 10000 blocks of 512 bytes and leak_big() one of 1 MiB,
 * while churn() mallocs and frees 4 blocks of 16 to 4096 bytes after each
 * leak (40000 in all). One thread.
 */
#include <stdio.h>
#include <stdlib.h>

#define LEAKS		10000
#define CHURN_EACH	4

static void *kept[LEAKS + 1];

void *leak_512(void)
{
	return malloc(512);
}

void *leak_big(void)
{
	return malloc(1 << 20);
}

void churn(unsigned int round)
{
	void *p[CHURN_EACH];

	for (unsigned int j = 0; j < CHURN_EACH; j++)
		p[j] = malloc(16 + (round * 7 + j * 131) % 4081);
	for (unsigned int j = 0; j < CHURN_EACH; j++)
		free(p[j]);
}

int main(void)
{
	for (unsigned int i = 0; i < LEAKS; i++) {
		kept[i] = leak_512();
		churn(i);
	}
	kept[LEAKS] = leak_big();
	printf("done %p\n", kept[0]);
	return 0;
}
