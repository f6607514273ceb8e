/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the tcpcp VM tests: a private network namespace with
 * loopback up, connected pairs over loopback, ICI dumps, a capture of what
 * leaves over lo.
 */
#ifndef TCPCP_VM_UTIL_H
#define TCPCP_VM_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "linux/tcpcp.h"

/* 0 on success, -errno; leaves the caller in a new netns with lo up */
static inline int vm_netns(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s, ret = 0;

	if (unshare(CLONE_NEWNET))
		return -errno;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return -errno;
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
	close(s);
	return ret;
}

static inline int vm_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static inline socklen_t vm_loopback(int family, struct sockaddr_storage *ss,
				    uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(port);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return sizeof(*a);
}

static inline uint16_t vm_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &l))
		return 0;
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A connected pair over loopback: *c the client, *s the accepted server */
static inline int vm_pair(int family, int *c, int *s)
{
	struct sockaddr_storage ss;
	socklen_t l = vm_loopback(family, &ss, 0);
	int lfd, one = 1;

	*c = -1;
	*s = -1;
	lfd = socket(family, SOCK_STREAM, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&ss, l) || listen(lfd, 1))
		goto fail;
	l = sizeof(ss);
	if (getsockname(lfd, (struct sockaddr *)&ss, &l))
		goto fail;
	*c = socket(family, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, (struct sockaddr *)&ss, l))
		goto fail;
	*s = accept(lfd, NULL, NULL);
	if (*s < 0)
		goto fail;
	setsockopt(*c, SOL_TCP, TCP_NODELAY, &one, sizeof(one));
	close(lfd); /* frees the port for the moved endpoint */
	return 0;
fail:
	close(lfd);
	return -errno;
}

/* getsockopt(TCP_ICI) into a malloc'd buffer */
static inline int vm_dump(int s, void **ici, socklen_t *len)
{
	socklen_t l = 64;
	void *buf = NULL;

	for (int i = 0; i < 3; i++) {
		buf = realloc(buf, l);
		if (!getsockopt(s, SOL_TCP, TCP_ICI, buf, &l)) {
			*ici = buf;
			*len = l;
			return 0;
		}
		if (errno != ERANGE)
			break;
	}
	free(buf);
	return -errno;
}

static inline int vm_fn(int s, int fn)
{
	return setsockopt(s, SOL_TCP, TCP_CP_FN, &fn, sizeof(fn)) ? -errno : 0;
}

/* setsockopt(TCP_ICI) on a new socket; returns the fd or -errno */
static inline int vm_create(int family, const void *ici, socklen_t len)
{
	int d = socket(family, SOCK_STREAM, 0), err;

	if (d < 0)
		return -errno;
	if (setsockopt(d, SOL_TCP, TCP_ICI, ici, len)) {
		err = -errno;
		close(d);
		return err;
	}
	return d;
}

static inline double vm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read exactly n bytes within ms milliseconds */
static inline int vm_read_all(int fd, void *buf, size_t n, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&p, 1, ms) <= 0)
			return -ETIMEDOUT;
		r = read(fd, (char *)buf + got, n - got);
		if (r <= 0)
			return r ? -errno : -EPIPE;
		got += r;
	}
	return 0;
}

/* Capture of TCP segments on lo, outgoing direction only */
struct vm_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint32_t len; /* payload bytes */
	bool has_ts;
	uint32_t tsval, tsecr;
};

static inline int vm_cap_open(void)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ALL),
		.sll_ifindex = (int)if_nametoindex("lo"),
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		close(fd);
		return -errno;
	}
	return fd;
}

static inline void vm_parse_ts(const uint8_t *opt, int n, struct vm_seg *g)
{
	for (int i = 0; i < n;) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || opt[i + 1] < 2 || i + opt[i + 1] > n)
			break;
		if (opt[i] == 8 && opt[i + 1] == 10) {
			g->has_ts = true;
			g->tsval = ntohl(*(const uint32_t *)(opt + i + 2));
			g->tsecr = ntohl(*(const uint32_t *)(opt + i + 6));
		}
		i += opt[i + 1];
	}
}

/* Next outgoing TCP segment within ms; 1 got one, 0 none, -errno */
static inline int vm_cap_next(int fd, int ms, struct vm_seg *g)
{
	uint8_t pkt[2048];
	struct sockaddr_ll from;
	socklen_t fl;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	double end = vm_now() + ms / 1000.0;

	for (;;) {
		int left = (int)((end - vm_now()) * 1000);
		const uint8_t *ip, *th;
		ssize_t n;
		int iplen, thl;

		if (left < 0)
			left = 0;
		if (poll(&p, 1, left) <= 0)
			return 0;
		fl = sizeof(from);
		n = recvfrom(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from,
			     &fl);
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (from.sll_pkttype != PACKET_OUTGOING || n < 14 + 20)
			continue;
		ip = pkt + 14;
		if ((ip[0] >> 4) == 4 && ip[9] == IPPROTO_TCP) {
			iplen = (ip[0] & 15) * 4;
			n -= 14;
			n = n < ntohs(*(const uint16_t *)(ip + 2)) ?
				    n :
				    ntohs(*(const uint16_t *)(ip + 2));
		} else if ((ip[0] >> 4) == 6 && ip[6] == IPPROTO_TCP) {
			iplen = 40;
			n = 40 + ntohs(*(const uint16_t *)(ip + 4));
		} else {
			continue;
		}
		th = ip + iplen;
		thl = (th[12] >> 4) * 4;
		if (thl < 20 || iplen + thl > n)
			continue;
		memset(g, 0, sizeof(*g));
		g->sport = ntohs(*(const uint16_t *)th);
		g->dport = ntohs(*(const uint16_t *)(th + 2));
		g->seq = ntohl(*(const uint32_t *)(th + 4));
		g->ack = ntohl(*(const uint32_t *)(th + 8));
		g->flags = th[13];
		g->len = (uint32_t)(n - iplen - thl);
		vm_parse_ts(th + 20, thl - 20, g);
		return 1;
	}
}

#endif /* TCPCP_VM_UTIL_H */
