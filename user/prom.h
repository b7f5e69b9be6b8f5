/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A Prometheus text exposition endpoint: GET /metrics on a loopback port
 * by default, served from a thread with the text the view published last.
 */
#ifndef MEMLENS_PROM_H
#define MEMLENS_PROM_H

#include <stddef.h>
#include <stdio.h>

struct prom_server;

/*
 * Listen on SPEC: "PORT" (127.0.0.1), "HOST:PORT" or "[V6]:PORT". Reports
 * errors itself; -EINVAL for a bad SPEC, another negative errno else.
 */
int prom_start(const char *spec, struct prom_server **out);
/* Serve TEXT (LEN bytes, malloc'd; the server takes it) from now on. */
void prom_publish(struct prom_server *s, char *text, size_t len);
void prom_stop(struct prom_server *s);
/* "name{k=\"v\"}": a label value escaped as the format wants. */
void prom_print_label_value(FILE *out, const char *v);

#endif
