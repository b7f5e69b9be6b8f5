/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* memlens top's processes as Prometheus text exposition (top --prom). */
#ifndef MEMLENS_TOP_PROM_H
#define MEMLENS_TOP_PROM_H

#include <stddef.h>
#include <stdint.h>
#include "proctable.h"
#include "sysview.h"

/* The exposition of ROWS into *TEXT (malloc'd, *LEN bytes): 0 or negative errno. */
int top_prom_render(struct sysview *v, const struct proc_row *rows, size_t nr,
		    const uint64_t stats[STAT_NR], char **text, size_t *len);

#endif
