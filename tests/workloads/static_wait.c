// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Statically linked: no libc mapping for memlens to hook. Waits to be killed. */
#include <unistd.h>

int main(void)
{
	pause();
	return 0;
}
