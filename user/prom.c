// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Prometheus text exposition (format 0.0.4) over a minimal HTTP/1.0
 * server: one thread, one connection at a time, GET /metrics only. The
 * view renders the text once per interval; scrapes read the last one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "prom.h"
#include "util.h"

#define REQUEST_MAX	4096
#define CLIENT_TIMEOUT_MS	2000

struct prom_server {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	char *text;			/* the last exposition, under lock */
	size_t len;
};

void prom_print_label_value(FILE *out, const char *v)
{
	fputc('"', out);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

/* "9464", "127.0.0.1:9464", "[::1]:9464" into HOST and PORT. */
static int parse_spec(const char *spec, char *host, size_t host_len, char *port, size_t port_len)
{
	const char *colon = strrchr(spec, ':');
	size_t n;

	if (!colon) {
		snprintf(host, host_len, "127.0.0.1");
		snprintf(port, port_len, "%s", spec);
	} else {
		n = colon - spec;
		if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
			spec++, n -= 2;
		if (!n || n >= host_len)
			return -EINVAL;
		memcpy(host, spec, n);
		host[n] = 0;
		snprintf(port, port_len, "%s", colon + 1);
	}
	if (!*port || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
		return -EINVAL;
	return 0;
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int fd, one = 1, err;

	err = getaddrinfo(host, port, &hints, &ai);
	if (err)
		return err == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return err;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Read the request head, as much as fits: only its first line matters. */
static ssize_t read_request(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	while (got < len - 1 && !strstr(buf, "\r\n\r\n") && !strstr(buf, "\n\n")) {
		if (poll(&p, 1, CLIENT_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += n;
		buf[got] = 0;
	}
	return got;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static void respond(struct prom_server *s, int fd)
{
	char req[REQUEST_MAX] = "", head[256];
	bool metrics;
	int n;

	if (read_request(fd, req, sizeof(req)) <= 0)
		return;
	metrics = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13);
	if (!metrics) {
		n = snprintf(head, sizeof(head), "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
			     "Content-Length: 26\r\nConnection: close\r\n\r\nmemlens serves /metrics.\r\n");
		write_all(fd, head, n);
		return;
	}
	pthread_mutex_lock(&s->lock);
	n = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
		     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n", s->len);
	write_all(fd, head, n);
	write_all(fd, s->text ? s->text : "", s->len);
	pthread_mutex_unlock(&s->lock);
}

static void *serve(void *arg)
{
	struct prom_server *s = arg;
	struct pollfd fds[2] = {
		{ .fd = s->listen_fd, .events = POLLIN },
		{ .fd = s->stop_pipe[0], .events = POLLIN },
	};

	for (;;) {
		int fd;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & POLLIN))
			continue;
		fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		respond(s, fd);
		close(fd);
	}
	return NULL;
}

int prom_start(const char *spec, struct prom_server **out)
{
	char host[256], port[16];
	struct prom_server *s;
	int err;

	if (parse_spec(spec, host, sizeof(host), port, sizeof(port))) {
		error_msg("invalid --prom '%s': expected PORT, HOST:PORT or [V6]:PORT", spec);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->listen_fd = listen_on(host, port);
	if (s->listen_fd < 0) {
		err = s->listen_fd;
		error_msg("cannot listen on %s:%s: %s", host, port, strerror(-err));
		free(s);
		return err;
	}
	pthread_mutex_init(&s->lock, NULL);
	if (pipe2(s->stop_pipe, O_CLOEXEC) || (errno = pthread_create(&s->thread, NULL, serve, s))) {
		err = -errno;
		close(s->listen_fd);
		free(s);
		error_msg("cannot serve metrics: %s", strerror(-err));
		return err;
	}
	*out = s;
	return 0;
}

void prom_publish(struct prom_server *s, char *text, size_t len)
{
	char *old;

	pthread_mutex_lock(&s->lock);
	old = s->text;
	s->text = text;
	s->len = len;
	pthread_mutex_unlock(&s->lock);
	free(old);
}

void prom_stop(struct prom_server *s)
{
	if (!s)
		return;
	write_all(s->stop_pipe[1], "x", 1);
	pthread_join(s->thread, NULL);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->text);
	free(s);
}
