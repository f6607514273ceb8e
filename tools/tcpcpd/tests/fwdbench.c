// SPDX-License-Identifier: GPL-2.0
/*
 * fwdbench: the helper of tests/fwdbench.sh.
 *
 *   fwdbench install GW_ADDR PORT KEY_FILE MODE N VIA
 *       authenticate to the tcpcpd at GW_ADDR:PORT like an origin daemon
 *       and send N REDIRECTs in MODE (rule or nftmap) on one connection,
 *       pipelined: N - 1 fake connections (peers 10.x.y.z), and last the
 *       measured one, 198.18.0.1:40000 -> 198.18.100.1:5000, all via VIA.
 *       Waits for every REDIRECTED; prints "installed N in S s".
 *   fwdbench blast SECONDS
 *       send TCP segments 198.18.0.1:40000 -> 198.18.100.1:5000 (ACK, no
 *       payload) through a raw socket as fast as it can; prints the count.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int flush(int fd, struct buf *b)
{
	while (b->len > b->off) {
		ssize_t n = send(fd, b->p + b->off, b->len - b->off, 0);

		if (n <= 0)
			return -1;
		buf_consume(b, (size_t)n);
	}
	return 0;
}

/* Read one frame into m; 0 or -1 */
static int frame(int fd, struct proto_sess *s, struct buf *rb,
		 struct tcpcpd_msg *m)
{
	uint8_t tmp[65536];
	char why[160];
	long l;

	for (;;) {
		if (rb->len - rb->off >= 4) {
			l = proto_frame_len(rb->p + rb->off);
			if (l < 0)
				return -1;
			if (rb->len - rb->off >= (size_t)l) {
				if (proto_open(s, rb->p + rb->off, (size_t)l, m,
					       why, sizeof(why))) {
					fprintf(stderr, "fwdbench: %s\n", why);
					return -1;
				}
				buf_consume(rb, (size_t)l);
				return 0;
			}
		}
		ssize_t n = recv(fd, tmp, sizeof(tmp), 0);

		if (n <= 0 || buf_put(rb, tmp, (size_t)n))
			return -1;
	}
}

static int install(char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct buf wb = { 0 }, rb = { 0 };
	uint8_t key[TCPCPD_KEY_MAX];
	struct tcpcpd_msg m;
	struct proto_sess s;
	char why[200];
	size_t klen;
	long n = atol(argv[4]), i, bad = 0;
	int fd, mode = !strcmp(argv[3], "rule") ? TCPCPD_REDIR_RULE :
						  TCPCPD_REDIR_NFTMAP;
	double t0;

	if (proto_key_load(argv[2], key, &klen, why, sizeof(why))) {
		fprintf(stderr, "fwdbench: %s\n", why);
		return 1;
	}
	inet_pton(AF_INET, argv[0], &sa.sin_addr);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    proto_init(&s, key, klen, true) ||
	    proto_hello(&s, "fwdbench", &wb) || flush(fd, &wb) ||
	    frame(fd, &s, &rb, &m) || m.type != TCPCPD_HELLO) {
		perror("fwdbench: connect/HELLO");
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		m.type = TCPCPD_REDIRECT;
		m.mode = (uint8_t)mode;
		m.family = 4;
		memcpy(m.id, &i, sizeof(i));
		m.id[15] = 0x5a;
		inet_pton(AF_INET, "198.18.100.1", m.laddr);
		inet_pton(AF_INET, argv[5], m.via);
		m.lport = 5000;
		if (i == n - 1) {
			inet_pton(AF_INET, "198.18.0.1", m.raddr);
			m.rport = 40000;
		} else {
			m.raddr[0] = 10;
			m.raddr[1] = (uint8_t)(i >> 16);
			m.raddr[2] = (uint8_t)(i >> 8);
			m.raddr[3] = (uint8_t)i;
			m.rport = (uint16_t)(1024 + i % 60000);
		}
		if (proto_send(&s, &m, &wb))
			return 1;
		if (wb.len > 65536 && flush(fd, &wb))
			return 1;
	}
	if (flush(fd, &wb))
		return 1;
	for (i = 0; i < n; i++) {
		if (frame(fd, &s, &rb, &m) || m.type != TCPCPD_REDIRECTED) {
			fprintf(stderr, "fwdbench: answer %ld missing\n", i);
			return 1;
		}
		bad += m.err != 0;
	}
	printf("installed %ld in %.3f s (%ld refused)\n", n - bad, now() - t0,
	       bad);
	close(fd);
	return bad ? 1 : 0;
}

static int blast(char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct tcphdr th = { 0 };
	double end = now() + atof(argv[0]);
	unsigned long count = 0;
	struct mmsghdr mm[64];
	struct iovec iov = { &th, sizeof(th) };
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_TCP), i, n;

	if (fd < 0) {
		perror("fwdbench: raw socket");
		return 1;
	}
	inet_pton(AF_INET, "198.18.100.1", &to.sin_addr);
	th.source = htons(40000);
	th.dest = htons(5000);
	th.doff = 5;
	th.ack = 1;
	th.window = htons(1000);
	th.seq = htonl(1);
	th.ack_seq = htonl(1);
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < 64; i++) {
		mm[i].msg_hdr.msg_name = &to;
		mm[i].msg_hdr.msg_namelen = sizeof(to);
		mm[i].msg_hdr.msg_iov = &iov;
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (now() < end) {
		n = sendmmsg(fd, mm, 64, 0);
		if (n > 0)
			count += (unsigned long)n;
		else if (errno != ENOBUFS && errno != EAGAIN)
			break;
	}
	printf("sent %lu\n", count);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 8 && !strcmp(argv[1], "install"))
		return install(argv + 2);
	if (argc == 3 && !strcmp(argv[1], "blast"))
		return blast(argv + 2);
	fprintf(stderr,
		"usage: fwdbench install GW PORT KEY rule|nftmap N VIA | blast SECONDS\n");
	return 2;
}
