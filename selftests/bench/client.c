// SPDX-License-Identifier: GPL-2.0
/*
 * bench's peer: N connections to the service, PAYLOAD bytes sent on each,
 * then every byte received checked and every read timed, for the stall the
 * move causes (see bench.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "stream.h"

/*
 * The control pipe from a: 'm' when the move begins, then the offset of
 * every connection's first byte from b (where a stopped)
 */
struct ctl {
	int fd;
	size_t got;
	bool moving;
	uint64_t *txm;
	int n;
};

static void ctl_drain(struct ctl *c)
{
	uint8_t buf[4096], *to = (uint8_t *)c->txm;
	size_t total = 1 + c->n * sizeof(uint64_t);
	ssize_t r, k;

	while (c->got < total && (r = read(c->fd, buf, sizeof(buf))) > 0)
		for (k = 0; k < r && c->got < total; k++, c->got++)
			if (c->got)
				to[c->got - 1] = buf[k];
			else
				c->moving = true;
}

/*
 * The peer: connect, send PAYLOAD each, then receive, check and time every
 * read until EOF on all.  Per connection: the largest gap between reads
 * (gap), and the largest gap from the start of the move up to the read
 * that brought b's first byte (mgap: the move's stall; the bytes a left
 * unsent may come from b before it).
 */
int client(struct lab *l, int n, int ctlfd, int res)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(LAB_PORT) };
	struct epoll_event ev, evs[256];
	int *fd = calloc(n, sizeof(int)), ep, i, k, left = n;
	uint64_t *rx = calloc(n, sizeof(uint64_t));
	double *last = calloc(n, sizeof(double)), end = now_s() + TIMEOUT, t;
	double *gap = calloc(n, sizeof(double)),
	       *mgap = calloc(n, sizeof(double));
	struct ctl c = { .fd = ctlfd,
			 .n = n,
			 .txm = malloc(n * sizeof(uint64_t)) };
	struct peer_stats ps = { 0 };
	uint8_t buf[65536];
	ssize_t r;

	inet_pton(AF_INET, LAB_S4, &sa.sin_addr);
	if (!fd || !rx || !last || !gap || !mgap || !c.txm ||
	    lab_enter(l, "peer"))
		return 1;
	memset(c.txm, 0xff, n * sizeof(uint64_t));
	nonblock(ctlfd);
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.u32 = n;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ctlfd, &ev))
		return 1;
	for (i = 0; i < n; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 ||
		    connect(fd[i], (struct sockaddr *)&sa, sizeof(sa)))
			return 2;
		stream_fill(SEED_C2S_BASE + i, 0, buf, PAYLOAD);
		if (xio(fd[i], buf, PAYLOAD, false))
			return 3;
		nonblock(fd[i]);
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev))
			return 3;
	}
	while (left) {
		k = epoll_wait(ep, evs, 256, 1000);
		if (now_s() > end) {
			fprintf(stderr, "peer: timeout, %d open\n", left);
			ps.rc = 4;
			break;
		}
		/* b's first bytes come after a wrote all of txm */
		ctl_drain(&c);
		for (int e = 0; e < k; e++) {
			i = evs[e].data.u32;
			if (i == n)
				continue;
			r = read(fd[i], buf, sizeof(buf));
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r < 0) {
				fprintf(stderr, "peer: read conn %d: %s\n", i,
					strerror(errno));
				ps.rc = 5;
				r = 0;
			}
			if (r == 0) {
				ps.eofs += !ps.rc;
				epoll_ctl(ep, EPOLL_CTL_DEL, fd[i], NULL);
				close(fd[i]);
				left--;
				continue;
			}
			if (stream_check(SEED_S2C_BASE + i, rx[i], buf, r) >=
			    0) {
				fprintf(stderr, "peer: conn %d: wrong byte\n",
					i);
				ps.rc = 6;
			}
			t = now_s();
			if (rx[i] && t - last[i] > gap[i])
				gap[i] = t - last[i];
			if (rx[i] && !c.moving && t - last[i] > ps.base_max)
				ps.base_max = t - last[i];
			/* from the move's start to b's first byte */
			if (rx[i] && c.moving && rx[i] <= c.txm[i] &&
			    t - last[i] > mgap[i])
				mgap[i] = t - last[i];
			if (rx[i] <= c.txm[i] && c.txm[i] < rx[i] + r)
				ps.moved++;
			if (rx[i] > c.txm[i] && t - last[i] > ps.after_max)
				ps.after_max = t - last[i];
			last[i] = t;
			rx[i] += r;
			ps.rx += r;
		}
	}
	qsort(gap, n, sizeof(double), cmpd);
	qsort(mgap, n, sizeof(double), cmpd);
	ps.gap_max = gap[n - 1];
	ps.move_max = mgap[n - 1];
	ps.move_p50 = mgap[n / 2];
	if (xio(res, &ps, sizeof(ps), false))
		return 7;
	return ps.rc;
}
