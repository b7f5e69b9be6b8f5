/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The handshake of the test workloads: lines on stdout say where they are
 * ("ready", "done"), a line on stdin lets them go on. write(2) and read(2)
 * only: stdio buffers would be allocations of their own.
 */
#ifndef MEMLENS_HANDSHAKE_H
#define MEMLENS_HANDSHAKE_H

#include <string.h>
#include <unistd.h>

static inline void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		_exit(3);
}

static inline void wait_line(void)
{
	char c;

	while (read(0, &c, 1) == 1 && c != '\n')
		;
}

#endif
