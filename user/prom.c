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
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "prom.h"
#include "util.h"

#define REQUEST_MAX	4096
/* A client has this long for its whole request, and each write of ours. */
#define CLIENT_TIMEOUT_MS	2000

struct prom_server {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	char *text;			/* the last exposition, under lock */
	size_t len;
};

/*
 * Label values must be UTF-8, or the whole scrape is refused: a name cut
 * at 15 bytes, or set to any bytes with prctl, shows '?' for non-ASCII.
 */
void prom_print_label_value(FILE *out, const char *v)
{
	fputc('"', out);
	for (; v && *v; v++) {
		unsigned char c = *v;

		if (c == '\\' || c == '"')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c < 0x20 || c >= 0x7f)
			fputc('?', out);
		else
			fputc(c, out);
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

/* Read the request head, as much as fits, within one deadline. */
static ssize_t read_request(int fd, char *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t deadline = monotonic_ns() + CLIENT_TIMEOUT_MS * 1000000ULL;
	size_t got = 0;
	ssize_t n;

	while (got < len - 1 && !strstr(buf, "\r\n\r\n") && !strstr(buf, "\n\n")) {
		uint64_t now = monotonic_ns();

		if (now >= deadline || poll(&p, 1, (deadline - now) / 1000000 + 1) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + got, len - 1 - got);
		if (n <= 0)
			break;
		got += n;
		buf[got] = 0;
	}
	return got;
}

/* MSG_NOSIGNAL: a client gone mid-answer is no SIGPIPE; SO_SNDTIMEO bounds a stuck one. */
static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

/* The text to serve, copied: the lock is never held while a client is slow. */
static char *current_text(struct prom_server *s, size_t *len)
{
	char *copy = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->text) {
		copy = malloc(s->len + 1);
		if (copy) {
			memcpy(copy, s->text, s->len);
			*len = s->len;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return copy;
}

static void respond(struct prom_server *s, int fd)
{
	struct timeval tv = { .tv_sec = CLIENT_TIMEOUT_MS / 1000 };
	char req[REQUEST_MAX] = "", head[256], *text;
	bool metrics;
	size_t len;
	int n;

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (read_request(fd, req, sizeof(req)) <= 0)
		return;
	metrics = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13);
	if (!metrics) {
		n = snprintf(head, sizeof(head), "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
			     "Content-Length: 26\r\nConnection: close\r\n\r\nmemlens serves /metrics.\r\n");
		write_all(fd, head, n);
		return;
	}
	text = current_text(s, &len);
	if (!text) {
		/* Nothing rendered yet (the first interval): not an empty success. */
		n = snprintf(head, sizeof(head), "HTTP/1.0 503 Service Unavailable\r\n"
			     "Content-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n");
		write_all(fd, head, n);
		return;
	}
	n = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
		     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n", len);
	write_all(fd, head, n);
	write_all(fd, text, len);
	free(text);
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
	sigset_t all, old;
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
	if (pipe2(s->stop_pipe, O_CLOEXEC)) {
		err = -errno;
		goto fail;
	}
	pthread_mutex_init(&s->lock, NULL);
	/* Signals are the main loop's: the thread starts with them all blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&s->thread, NULL, serve, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_mutex_destroy(&s->lock);
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	close(s->listen_fd);
	free(s);
	error_msg("cannot serve metrics: %s", strerror(-err));
	return err;
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
	/* A pipe, not a socket: write(2), and the thread wakes and returns. */
	if (write(s->stop_pipe[1], "x", 1) != 1)
		error_msg("cannot stop the metrics server: %s", strerror(errno));
	pthread_join(s->thread, NULL);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	close(s->listen_fd);
	pthread_mutex_destroy(&s->lock);
	free(s->text);
	free(s);
}
