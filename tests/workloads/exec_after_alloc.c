// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Allocates 5 x 1000 bytes in before_exec(), never frees them, then execs
 * its arguments: those blocks die with the image and are no leak of the
 * program that runs next. With --thread first, a second thread execs,
 * while the first waits: the kernel makes it the leader (de_thread()),
 * under the process's pid, in a task that is not the leader's.
 */
#include <pthread.h>
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

static void *exec_args(void *argv)
{
	char **args = argv;

	execv(args[0], args);
	_exit(127);
}

int main(int argc, char **argv)
{
	pthread_t t;
	int thread = argc > 1 && !strcmp(argv[1], "--thread");

	if (argc < 2 + thread)
		return 2;
	before_exec();
	if (!thread) {
		execv(argv[1], argv + 1);
		return 127;
	}
	if (pthread_create(&t, NULL, exec_args, argv + 2))
		return 1;
	pthread_join(t, NULL);	/* the exec ends this thread */
	return 127;
}
