// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Prometheus text exposition (format 0.0.4) over a minimal HTTP/1.0
 * server: one thread multiplexing up to MAX_CLIENTS connections with
 * poll(2), each with a deadline, GET /metrics only. The view renders the
 * text once per interval; scrapes read the last one.
 */
#include <errno.h>
#include <inttypes.h>
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
#include <unistd.h>
#include "prom.h"
#include "util.h"

#define REQUEST_MAX	4096
/* A connection has this long for its request and our answer. */
#define CLIENT_TIMEOUT_MS	2000
/* Connections served at once; beyond, the oldest idle one is dropped. */
#define MAX_CLIENTS	32

/*
 * One connection: its request as read so far, then its answer as written so
 * far. Free when fd < 0.
 */
struct client {
	int fd;
	uint64_t deadline_ns;		/* the whole exchange, from accept */
	size_t got;
	char req[REQUEST_MAX];
	char *out;			/* the answer, once the request is in */
	size_t out_len, out_off;
};

struct prom_server {
	int listen_fd;
	int stop_pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	char *text;			/* the last exposition, under lock */
	size_t len;
	/* The server thread's own: */
	struct client *clients;		/* MAX_CLIENTS */
	uint64_t timed_out, evicted;	/* connections dropped unanswered */
	/* Out of descriptors: the listener, still readable, waits till then. */
	uint64_t accept_after_ns;
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
	if (!*port || strspn(port, "0123456789") != strlen(port))
		return -EINVAL;
	return 0;
}

/*
 * SPEC's port, whole (PORT may have been cut to fit), in 1..65535 and
 * written back into PORT without leading zeros: 0 would be a port the
 * kernel picks, never said.
 */
static int check_port(const char *spec, char *port, size_t port_len)
{
	const char *colon = strrchr(spec, ':');
	unsigned long long v;

	if (parse_uint(colon ? colon + 1 : spec, "--prom port", 65535, &v))
		return -EINVAL;
	if (!v) {
		error_msg("invalid --prom '%s': port 0 is no port (the kernel would pick one)", spec);
		return -EINVAL;
	}
	snprintf(port, port_len, "%u", (unsigned int)v);
	return 0;
}

static int listen_on(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *ai;
	int fd, one = 1, err;

	err = getaddrinfo(host, port, &hints, &ai);
	if (err)
		return err == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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

static void client_close(struct client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->got = c->out_len = c->out_off = 0;
	c->req[0] = 0;
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

/* The server's own counters, after the view's: connections it gave up. */
static int own_metrics(const struct prom_server *s, char *buf, size_t len)
{
	return snprintf(buf, len,
			"# HELP memlens_prom_dropped_total Connections to this endpoint closed "
			"unanswered: too slow, or the oldest idle one when %d were open.\n"
			"# TYPE memlens_prom_dropped_total counter\n"
			"memlens_prom_dropped_total{reason=\"timeout\"} %" PRIu64 "\n"
			"memlens_prom_dropped_total{reason=\"too_many\"} %" PRIu64 "\n",
			MAX_CLIENTS, s->timed_out, s->evicted);
}

/* The whole answer to C's request, in one buffer: it is sent as the socket takes it. */
static int build_answer(struct prom_server *s, struct client *c)
{
	bool metrics = !strncmp(c->req, "GET /metrics ", 13) ||
		       !strncmp(c->req, "GET /metrics?", 13);
	char head[256], own[512], *text = NULL;
	size_t len = 0;
	int n, m = 0;

	if (!metrics)
		n = snprintf(head, sizeof(head), "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
			     "Content-Length: 26\r\nConnection: close\r\n\r\nmemlens serves /metrics.\r\n");
	else if (!(text = current_text(s, &len)))
		/* Nothing rendered yet (the first interval): not an empty success. */
		n = snprintf(head, sizeof(head), "HTTP/1.0 503 Service Unavailable\r\n"
			     "Content-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n");
	else {
		m = own_metrics(s, own, sizeof(own));
		n = snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\n"
			     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n", len + m);
	}
	c->out = malloc(n + len + m);
	if (!c->out) {
		free(text);
		return -ENOMEM;
	}
	memcpy(c->out, head, n);
	if (text)
		memcpy(c->out + n, text, len);
	memcpy(c->out + n + len, own, m);
	c->out_len = n + len + m;
	free(text);
	return 0;
}

/* Write what the socket takes; false once C is done with (answered, or gone). */
static bool client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		/* MSG_NOSIGNAL: a client gone mid-answer is no SIGPIPE. */
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		c->out_off += n;
	}
	return false;
}

/* Read what has come; once the head is in (or the client stopped sending), answer. */
static bool client_read(struct prom_server *s, struct client *c)
{
	ssize_t n;

	while (c->got < REQUEST_MAX - 1 && !strstr(c->req, "\r\n\r\n") &&
	       !strstr(c->req, "\n\n")) {
		n = read(c->fd, c->req + c->got, REQUEST_MAX - 1 - c->got);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			break;
		c->got += n;
		c->req[c->got] = 0;
	}
	if (!c->got || build_answer(s, c))
		return false;
	return client_write(c);
}

/* A slot for a new connection: a free one, else the oldest still reading. */
static struct client *client_slot(struct prom_server *s)
{
	struct client *oldest = NULL;

	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &s->clients[i];

		if (c->fd < 0)
			return c;
		if (!c->out && (!oldest || c->deadline_ns < oldest->deadline_ns))
			oldest = c;
	}
	if (oldest) {
		client_close(oldest);
		s->evicted++;
	}
	return oldest;
}

static void accept_clients(struct prom_server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct client *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				s->accept_after_ns = monotonic_ns() + 100000000ULL;
			return;
		}
		c = client_slot(s);
		if (!c) {		/* every slot answering: this one waits no turn */
			close(fd);
			s->evicted++;
			continue;
		}
		c->fd = fd;
		c->deadline_ns = monotonic_ns() + CLIENT_TIMEOUT_MS * 1000000ULL;
	}
}

/* Poll the listener, the stop pipe and every connection; the nearest deadline bounds the wait. */
static int wait_events(struct prom_server *s, struct pollfd *fds, int *slot_of)
{
	uint64_t now = monotonic_ns(), first = UINT64_MAX;
	int n = 2;

	/* A negative fd is left out by poll(). */
	fds[0] = (struct pollfd){ .fd = now < s->accept_after_ns ? -1 : s->listen_fd,
				  .events = POLLIN };
	if (now < s->accept_after_ns)
		first = s->accept_after_ns;
	fds[1] = (struct pollfd){ .fd = s->stop_pipe[0], .events = POLLIN };
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &s->clients[i];

		if (c->fd < 0)
			continue;
		fds[n] = (struct pollfd){ .fd = c->fd, .events = c->out ? POLLOUT : POLLIN };
		slot_of[n++] = i;
		if (c->deadline_ns < first)
			first = c->deadline_ns;
	}
	if (poll(fds, n, first == UINT64_MAX ? -1 :
		 first <= now ? 0 : (int)((first - now) / 1000000 + 1)) < 0 && errno != EINTR)
		return -errno;
	return n;
}

/*
 * Every connection at once, none blocking another: an idle client holds a
 * slot until its deadline, or until a new connection needs the slot.
 */
static void *serve(void *arg)
{
	struct prom_server *s = arg;
	struct pollfd fds[2 + MAX_CLIENTS];
	int slot_of[2 + MAX_CLIENTS];

	for (;;) {
		int n = wait_events(s, fds, slot_of);
		uint64_t now = monotonic_ns();

		if (n < 0 || fds[1].revents)
			break;
		for (int k = 2; k < n; k++) {
			struct client *c = &s->clients[slot_of[k]];

			if (!fds[k].revents)
				continue;
			if (!(c->out ? client_write(c) : client_read(s, c)))
				client_close(c);
		}
		for (int i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &s->clients[i];

			if (c->fd >= 0 && c->deadline_ns <= now) {
				client_close(c);
				s->timed_out++;
			}
		}
		if (fds[0].revents & POLLIN)
			accept_clients(s);
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_close(&s->clients[i]);
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
	if (check_port(spec, port, sizeof(port)))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s)
		s->clients = calloc(MAX_CLIENTS, sizeof(*s->clients));
	if (!s || !s->clients) {
		free(s);
		return -ENOMEM;
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->listen_fd = listen_on(host, port);
	if (s->listen_fd < 0) {
		err = s->listen_fd;
		error_msg("cannot listen on %s:%s: %s", host, port, strerror(-err));
		free(s->clients);
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
	free(s->clients);
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
	free(s->clients);
	free(s);
}
