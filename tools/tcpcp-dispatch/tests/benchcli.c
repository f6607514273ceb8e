// SPDX-License-Identifier: GPL-2.0
/*
 * benchcli - HTTP/1.1 clients for the tcpcp-dispatch tests and the HAProxy
 * benchmark: one process, epoll, many connections at once.
 *
 *   benchcli -a ADDR -p PORT [-c CONC] [-n CONNS | -t SECONDS] [-r REQS]
 *            [-s SIZE] [-b SRCADDR] HOST=NAME...
 *
 * Keeps CONC connections open (default 1) until CONNS connections were
 * made (default CONC) or SECONDS passed.  Connection k sends REQS requests
 * (default 1) one after the other on the same connection (keep-alive),
 * GET /kK-R?size=SIZE with the Host of pair k mod the number of pairs, and
 * checks every answer: status 200, X-Backend the pair's NAME, the body
 * (bench.h) complete and right.  After its last answer the client closes.
 *
 * Prints one line of figures: conns, reqs, errors, bytes, secs,
 * conns_per_s, mbyte_per_s, ttfb_p50_us, ttfb_p99_us, ttfb_max_us (time
 * from connect() to the first byte of the first answer).  Exit 0 when
 * every check passed, 1 otherwise, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define HDR_MAX 2048
#define MAX_PAIRS 16

struct conn {
	int fd;
	unsigned int k, req; /* connection number, requests answered */
	unsigned int pair, phase;
	char hdr[HDR_MAX];
	size_t hlen;
	bool in_body;
	uint64_t body_left, body_off;
	uint64_t t0;
	bool got_first;
};

static struct sockaddr_storage dst, src;
static socklen_t dst_len;
static bool have_src;
static unsigned int conc = 1, reqs = 1, nconns, npairs;
static double seconds;
static uint64_t size = 64;
static char *hosts[MAX_PAIRS], *names[MAX_PAIRS];
static uint8_t pat[BENCH_CHUNK + BENCH_PERIOD];
static int ep;

static uint64_t started, done, errors, nreqs, bytes;
static uint32_t *ttfb;
static size_t nttfb, ttfb_cap;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void fail(struct conn *c, const char *what)
{
	if (errors++ < 10)
		fprintf(stderr, "benchcli: connection %u request %u (%s): %s\n",
			c->k, c->req, hosts[c->pair], what);
}

static int parse_addr(const char *s, int port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	return -1;
}

static int send_request(struct conn *c)
{
	char req[512], path[64];
	int n;

	n = snprintf(path, sizeof(path), "/k%u-%u", c->k, c->req);
	c->phase = bench_phase(path, (size_t)n);
	n = snprintf(req, sizeof(req),
		     "GET %s?size=%llu HTTP/1.1\r\nHost: %s\r\n\r\n", path,
		     (unsigned long long)size, hosts[c->pair]);
	c->hlen = 0;
	c->in_body = false;
	/* small: it fits the send buffer of a fresh connection */
	return send(c->fd, req, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

static void conn_start(void)
{
	struct epoll_event ev = { .events = EPOLLOUT };
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c)
		exit(1);
	c->k = (unsigned int)started++;
	c->pair = c->k % npairs;
	c->t0 = now_us();
	c->fd = socket(dst.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("benchcli: socket");
		exit(1);
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (have_src && bind(c->fd, (void *)&src, dst_len) < 0) {
		perror("benchcli: bind");
		exit(1);
	}
	if (connect(c->fd, (void *)&dst, dst_len) < 0 && errno != EINPROGRESS) {
		fail(c, strerror(errno));
		close(c->fd);
		free(c);
		done++;
		return;
	}
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void conn_end(struct conn *c, const char *err)
{
	if (err)
		fail(c, err);
	close(c->fd);
	free(c);
	done++;
}

/* Parse the head in c->hdr; 0 ok */
static const char *head_check(struct conn *c)
{
	char *p, *end = memmem(c->hdr, c->hlen, "\r\n\r\n", 4);
	bool be_ok = false, have_len = false;

	*end = '\0';
	if (strncmp(c->hdr, "HTTP/1.1 200 ", 13))
		return "status is not 200";
	for (p = strstr(c->hdr, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		char *h = p + 2;

		if (!strncasecmp(h, "content-length:", 15)) {
			c->body_left = strtoull(h + 15, NULL, 10);
			have_len = true;
		} else if (!strncasecmp(h, "x-backend:", 10)) {
			h += 10 + strspn(h + 10, " ");
			be_ok = !strncmp(h, names[c->pair],
					 strlen(names[c->pair])) &&
				(h[strlen(names[c->pair])] == '\r' ||
				 !h[strlen(names[c->pair])]);
		}
	}
	if (!have_len || c->body_left != size)
		return "wrong Content-Length";
	if (!be_ok)
		return "answered by the wrong back end";
	return NULL;
}

/* Body bytes: check them against the pattern */
static bool body_check(struct conn *c, const uint8_t *p, size_t n)
{
	while (n) {
		size_t at = (c->body_off + c->phase) % BENCH_PERIOD;
		size_t len = n < BENCH_CHUNK ? n : BENCH_CHUNK;

		if (memcmp(p, pat + at, len))
			return false;
		p += len;
		n -= len;
		c->body_off += len;
	}
	return true;
}

static void record_ttfb(struct conn *c)
{
	if (nttfb == ttfb_cap) {
		ttfb_cap = ttfb_cap ? 2 * ttfb_cap : 4096;
		ttfb = realloc(ttfb, ttfb_cap * sizeof(*ttfb));
		if (!ttfb)
			exit(1);
	}
	ttfb[nttfb++] = (uint32_t)(now_us() - c->t0);
}

static void on_event(struct conn *c, uint32_t events)
{
	static uint8_t buf[1 << 18];
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	const char *err;
	ssize_t n;

	if (!c->req && !c->got_first && !c->hlen && !c->in_body &&
	    (events & EPOLLOUT)) {
		int e = 0;
		socklen_t l = sizeof(e);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
		if (e || send_request(c)) {
			conn_end(c, e ? strerror(e) : "cannot send");
			return;
		}
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_end(c, n ? strerror(errno) : "closed early");
			return;
		}
		if (!c->got_first) {
			c->got_first = true;
			record_ttfb(c);
		}
		bytes += (uint64_t)n;
		for (uint8_t *p = buf; n > 0;) {
			size_t take;

			if (!c->in_body) {
				take = (size_t)n < HDR_MAX - c->hlen ?
					       (size_t)n :
					       HDR_MAX - c->hlen;
				memcpy(c->hdr + c->hlen, p, take);
				c->hlen += take;
				char *end =
					memmem(c->hdr, c->hlen, "\r\n\r\n", 4);

				if (!end) {
					if (c->hlen == HDR_MAX) {
						conn_end(c, "head too long");
						return;
					}
					p += take;
					n -= (ssize_t)take;
					continue;
				}
				/* what came after the head is body */
				take -= c->hlen - (size_t)(end + 4 - c->hdr);
				c->hlen = (size_t)(end + 4 - c->hdr);
				p += take;
				n -= (ssize_t)take;
				err = head_check(c);
				if (err) {
					conn_end(c, err);
					return;
				}
				c->in_body = true;
				c->body_off = 0;
			}
			take = (uint64_t)n < c->body_left ?
				       (size_t)n :
				       (size_t)c->body_left;
			if (!body_check(c, p, take)) {
				conn_end(c, "body differs");
				return;
			}
			p += take;
			n -= (ssize_t)take;
			c->body_left -= take;
			if (c->body_left)
				continue;
			nreqs++;
			if (++c->req == reqs) {
				if (n)
					conn_end(c, "bytes after the answer");
				else
					conn_end(c, NULL);
				return;
			}
			if (n || send_request(c)) {
				conn_end(c, n ? "bytes after the answer" :
						"cannot send");
				return;
			}
		}
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *srcaddr = NULL;
	struct epoll_event evs[256];
	int port = 0, o;
	uint64_t t0, deadline, t;

	while ((o = getopt(argc, argv, "a:p:c:n:t:r:s:b:")) != -1) {
		switch (o) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'c':
			conc = (unsigned int)atoi(optarg);
			break;
		case 'n':
			nconns = (unsigned int)atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
			reqs = (unsigned int)atoi(optarg);
			break;
		case 's':
			size = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			srcaddr = optarg;
			break;
		default:
			return 2;
		}
	}
	for (; optind < argc && npairs < MAX_PAIRS; optind++) {
		char *eq = strchr(argv[optind], '=');

		if (!eq)
			return 2;
		*eq = '\0';
		hosts[npairs] = argv[optind];
		names[npairs++] = eq + 1;
	}
	if (!addr || !port || !conc || !reqs || !npairs ||
	    parse_addr(addr, port, &dst, &dst_len) ||
	    (srcaddr && parse_addr(srcaddr, 0, &src, &dst_len))) {
		fprintf(stderr,
			"Usage: benchcli -a ADDR -p PORT [-c CONC] [-n CONNS | -t SECONDS]\n"
			"                [-r REQS] [-s SIZE] [-b SRCADDR] HOST=NAME...\n");
		return 2;
	}
	have_src = srcaddr;
	if (!nconns && !seconds)
		nconns = conc;
	signal(SIGPIPE, SIG_IGN);
	bench_pattern(pat, sizeof(pat));
	ep = epoll_create1(EPOLL_CLOEXEC);
	t0 = now_us();
	deadline = seconds ? t0 + (uint64_t)(seconds * 1e6) : UINT64_MAX;
	for (;;) {
		int n;

		t = now_us();
		while (started - done < conc && t < deadline &&
		       (!nconns || started < nconns))
			conn_start();
		if (started == done && (t >= deadline || started == nconns))
			break;
		n = epoll_wait(ep, evs, 256, 1000);
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		/* a run by time waits at most 30 s for the connections left */
		if (seconds && now_us() > deadline + 30000000) {
			fprintf(stderr, "benchcli: %llu connections hang\n",
				(unsigned long long)(started - done));
			errors += started - done;
			break;
		}
	}
	t = now_us();
	qsort(ttfb, nttfb, sizeof(*ttfb), cmp_u32);
	{
		double secs = (double)(t - t0) / 1e6;

		printf("conns=%llu reqs=%llu errors=%llu bytes=%llu secs=%.3f "
		       "conns_per_s=%.0f mbyte_per_s=%.1f ttfb_p50_us=%u "
		       "ttfb_p99_us=%u ttfb_max_us=%u\n",
		       (unsigned long long)done, (unsigned long long)nreqs,
		       (unsigned long long)errors, (unsigned long long)bytes,
		       secs, (double)done / secs, (double)bytes / secs / 1e6,
		       nttfb ? ttfb[nttfb / 2] : 0,
		       nttfb ? ttfb[nttfb * 99 / 100] : 0,
		       nttfb ? ttfb[nttfb - 1] : 0);
	}
	return errors || nreqs != done * reqs ? 1 : 0;
}
