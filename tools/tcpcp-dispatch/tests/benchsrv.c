// SPDX-License-Identifier: GPL-2.0
/*
 * benchsrv - a small HTTP/1.1 back end for the tcpcp-dispatch tests and the
 * HAProxy benchmark: one process, epoll, keep-alive.
 *
 *   benchsrv NAME listen ADDR PORT     accept connections (HAProxy's back end)
 *   benchsrv NAME tcpcpd SOCKET PORT   serve the connections tcpcpd delivers
 *                                      for PORT (a registered application)
 *
 * GET or POST PATH[?size=N] is answered with N bytes (default 64) of the
 * pattern in bench.h, and the headers X-Backend: NAME and X-Body-Sum: the
 * sum of the request body's bytes.  "Connection: close" in a request: the
 * answer ends with a FIN.  The client's FIN is awaited before close(), so
 * that no unread byte makes the kernel reset.  Runs until SIGTERM; exit 0
 * then, 1 on failure, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "ctl.h"

#define HDR_MAX 4096

struct conn {
	int fd;
	char in[HDR_MAX];
	size_t in_len;
	uint64_t body_left; /* request body still to read */
	uint32_t body_sum;
	char out[256];
	size_t out_len, out_off;
	uint64_t send_left, send_off;
	unsigned int phase;
	bool close_after, closing;
};

static const char *name;
static uint8_t pat[BENCH_CHUNK + BENCH_PERIOD];
static int ep;
static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void conn_free(struct conn *c)
{
	/* tcpcpd may hold the same file still: close() alone leaves it in ep */
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

static void set_events(struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };

	ev.events = c->closing ? EPOLLIN : EPOLLIN | EPOLLRDHUP;
	if (c->out_off < c->out_len || c->send_left)
		ev.events = EPOLLOUT;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int conn_add(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->fd = fd;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		conn_free(c);
		return -1;
	}
	return 0;
}

/* A complete request head (NUL-terminated copy): set up the answer */
static void request(struct conn *c, char *head)
{
	char *p, *q;
	uint64_t size = 64;
	size_t plen;

	q = strchr(head, ' ');
	plen = q ? strcspn(q + 1, " ") : 0;
	c->phase = q ? bench_phase(q + 1, plen) : 0;
	if (q && (p = memmem(q + 1, plen, "?size=", 6)))
		size = strtoull(p + 6, NULL, 10);
	c->body_left = 0;
	c->close_after = false;
	for (p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		q = p + 2;
		if (!strncasecmp(q, "content-length:", 15))
			c->body_left = strtoull(q + 15, NULL, 10);
		else if (!strncasecmp(q, "connection:", 11) &&
			 !strncasecmp(q + 11 + strspn(q + 11, " "), "close", 5))
			c->close_after = true;
	}
	c->body_sum = 0;
	c->send_left = size;
	c->send_off = 0;
}

static void answer(struct conn *c)
{
	c->out_len = (size_t)snprintf(
		c->out, sizeof(c->out),
		"HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nX-Backend: %s\r\n"
		"X-Body-Sum: %u\r\n%s\r\n",
		(unsigned long long)c->send_left, name, c->body_sum,
		c->close_after ? "Connection: close\r\n" : "");
	c->out_off = 0;
}

/* 0: go on; -1: free the connection */
static int on_readable(struct conn *c)
{
	static char sink[65536];
	ssize_t n;
	char *end;

	for (;;) {
		if (c->closing) {
			n = recv(c->fd, sink, sizeof(sink), 0);
			if (n > 0)
				continue;
			return n == 0 || errno != EAGAIN ? -1 : 0;
		}
		if (c->out_off < c->out_len || c->send_left)
			return 0; /* answer first (no pipelining needed here) */
		if (c->body_left) {
			size_t want = c->body_left < sizeof(sink) ?
					      (size_t)c->body_left :
					      sizeof(sink);
			size_t have = c->in_len < want ? c->in_len : want;

			/* body bytes already read with the head come first */
			for (size_t i = 0; i < have; i++)
				c->body_sum += (uint8_t)c->in[i];
			memmove(c->in, c->in + have, c->in_len - have);
			c->in_len -= have;
			c->body_left -= have;
			if (!have) {
				n = recv(c->fd, sink, want, 0);
				if (n <= 0)
					return n == 0 || errno != EAGAIN ? -1 :
									   0;
				for (ssize_t i = 0; i < n; i++)
					c->body_sum += (uint8_t)sink[i];
				c->body_left -= (uint64_t)n;
			}
			if (!c->body_left)
				answer(c);
			continue;
		}
		end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
		if (end) {
			size_t hlen = (size_t)(end - c->in) + 4;
			char head[HDR_MAX + 1];

			memcpy(head, c->in, hlen);
			head[hlen] = '\0';
			memmove(c->in, c->in + hlen, c->in_len - hlen);
			c->in_len -= hlen;
			request(c, head);
			if (!c->body_left)
				answer(c);
			continue;
		}
		if (c->in_len == sizeof(c->in))
			return -1; /* a head this long is not ours */
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len,
			 0);
		if (n == 0) {
			/* the client is done: FIN back, then close */
			shutdown(c->fd, SHUT_WR);
			return -1;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->in_len += (size_t)n;
	}
}

static int on_writable(struct conn *c)
{
	ssize_t n;

	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | (c->send_left ? MSG_MORE : 0));
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)n;
	}
	while (c->send_left) {
		size_t at = (c->send_off + c->phase) % BENCH_PERIOD;
		size_t len = c->send_left < BENCH_CHUNK ? (size_t)c->send_left :
							  BENCH_CHUNK;

		n = send(c->fd, pat + at, len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		c->send_off += (uint64_t)n;
		c->send_left -= (uint64_t)n;
	}
	if (c->close_after && !c->closing) {
		shutdown(c->fd, SHUT_WR);
		c->closing = true;
	}
	return 0;
}

static int listen_on(const char *addr, int port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (void *)&ss;
	struct sockaddr_in6 *s6 = (void *)&ss;
	int fd, one = 1;

	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else {
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&ss, sizeof(ss)) < 0 || listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256], ev = { .events = EPOLLIN };
	static struct lmsg_deliver d;
	static uint8_t app[1024];
	struct lmsg_result res;
	int lfd = -1, ctl = -1, n, fd, ret;

	if (argc != 5 ||
	    (strcmp(argv[2], "listen") && strcmp(argv[2], "tcpcpd"))) {
		fprintf(stderr,
			"Usage: benchsrv NAME { listen ADDR | tcpcpd SOCKET } PORT\n");
		return 2;
	}
	name = argv[1];
	bench_pattern(pat, sizeof(pat));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!strcmp(argv[2], "listen")) {
		lfd = listen_on(argv[3], atoi(argv[4]));
		if (lfd < 0) {
			fprintf(stderr,
				"benchsrv: cannot listen on %s port %s: %s\n",
				argv[3], argv[4], strerror(errno));
			return 1;
		}
		ev.data.ptr = &lfd;
		epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	} else {
		ctl = ctl_connect(argv[3]);
		ret = ctl < 0 ?
			      ctl :
			      ctl_register(ctl, (uint16_t)atoi(argv[4]), &res);
		if (ret || (ret = -res.err)) {
			fprintf(stderr,
				"benchsrv: cannot register with %s: %s\n",
				argv[3], strerror(-ret));
			return 1;
		}
		ev.data.ptr = &ctl;
		epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &ev);
	}
	fprintf(stderr, "benchsrv %s: ready\n", name);
	while (!stop) {
		n = epoll_wait(ep, evs, 256, 1000);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (evs[i].data.ptr == &lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
						     SOCK_CLOEXEC)) >= 0)
					conn_add(fd);
				continue;
			}
			if (evs[i].data.ptr == &ctl) {
				/* all that wait: tcpcpd hands a DELIVER it cannot
				 * send to its handler instead */
				for (;;) {
					fd = -1;
					ret = ctl_recv_deliver(ctl, 0, &fd, &d,
							       app,
							       sizeof(app));
					if (ret == -ETIMEDOUT)
						break;
					if (ret) {
						fprintf(stderr,
							"benchsrv: tcpcpd: %s\n",
							strerror(-ret));
						return 1;
					}
					conn_add(fd);
				}
				continue;
			}
			if ((evs[i].events & EPOLLOUT) && on_writable(c) < 0) {
				conn_free(c);
				continue;
			}
			if ((evs[i].events &
			     (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
			    on_readable(c) < 0) {
				conn_free(c);
				continue;
			}
			if (on_writable(c) < 0) {
				conn_free(c);
				continue;
			}
			set_events(c);
		}
	}
	return 0;
}
