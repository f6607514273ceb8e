// SPDX-License-Identifier: GPL-2.0
/*
 * peer: the client that stands for the unmodified peer host in the lab.
 *
 * Connects to ADDR:PORT, then at the same time sends N bytes of stream
 * seed-tx (optionally rate limited) and receives and verifies M bytes of
 * stream seed-rx.  It never resets the connection: it closes normally once
 * everything is sent and acknowledged, received and (with --expect-eof) the
 * server has closed its side.
 *
 * Exit 0 ok, 1 failure (data mismatch, timeout, socket error), 2 usage.
 * Prints one summary line: "peer: sent=N rcvd=M ok" or "... FAIL: why".
 *
 * peer --mark FILE -c ADDR -p PORT [--timeout SEC] makes sure a running
 * capture has caught up: it sends UDP datagrams carrying a unique token to
 * ADDR:PORT until the token appears in the capture file FILE (tcpdump -U -w
 * FILE, with a filter that lets the datagrams in, e.g. "tcp or udp port 9").
 * Everything that crossed the interface before is then in FILE too, and
 * tcpdump can be stopped.  Exit 0 when seen, 1 on timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "stream.h"

#define BUFSZ (256 * 1024)

struct opts {
	const char *addr;
	const char *bind_addr;
	unsigned int port;
	uint64_t send, recv;
	uint32_t seed_tx, seed_rx;
	uint64_t rate; /* bytes per second, 0 = unlimited */
	bool shut_after_send;
	bool expect_eof;
	double timeout;
	int ready_fd;
	const char *mark;
};

static uint64_t sent, rcvd;

static void usage(void)
{
	fprintf(stderr,
		"Usage: peer -c ADDR -p PORT --send N --recv M --seed-tx X --seed-rx Y\n"
		"            [--rate BPS] [--shut-after-send] [--expect-eof]\n"
		"            [--timeout SEC] [--ready-fd FD] [--bind ADDR]\n"
		"       peer --mark FILE -c ADDR -p PORT [--timeout SEC]\n"
		"N, M and BPS take k, M, G suffixes (powers of 1000).\n");
	exit(2);
}

static __attribute__((noreturn, format(printf, 1, 2))) void
fail(const char *fmt, ...)
{
	va_list ap;

	printf("peer: sent=%" PRIu64 " rcvd=%" PRIu64 " FAIL: ", sent, rcvd);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t parse_size(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-') {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: %s must be a number\n",
			s, what);
		usage();
	}
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1000ULL;
		end++;
		break;
	case 'm':
	case 'M':
		v *= 1000000ULL;
		end++;
		break;
	case 'g':
	case 'G':
		v *= 1000000000ULL;
		end++;
		break;
	}
	if (*end) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: %s must be a number\n",
			s, what);
		usage();
	}
	return v;
}

/* Fill *ss from a numeric IPv4 or IPv6 address. */
static socklen_t parse_addr(const char *s, unsigned int port,
			    struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		return sizeof(*sin6);
	}
	fprintf(stderr,
		"Error: argument \"%s\" is wrong: not an IPv4 or IPv6 address\n",
		s);
	usage();
	return 0;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "send", required_argument, NULL, 's' },
		{ "recv", required_argument, NULL, 'r' },
		{ "seed-tx", required_argument, NULL, 'x' },
		{ "seed-rx", required_argument, NULL, 'y' },
		{ "rate", required_argument, NULL, 'R' },
		{ "shut-after-send", no_argument, NULL, 'S' },
		{ "expect-eof", no_argument, NULL, 'E' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ready-fd", required_argument, NULL, 'f' },
		{ "bind", required_argument, NULL, 'b' },
		{ "mark", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool have_send = false, have_recv = false, have_tx = false,
	     have_rx = false;
	uint64_t v;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout = 60;
	o->ready_fd = -1;
	while ((c = getopt_long(argc, argv, "c:p:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->addr = optarg;
			break;
		case 'p':
			v = parse_size(optarg, "PORT");
			if (!v || v > 65535) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: PORT must be 1..65535\n",
					optarg);
				usage();
			}
			o->port = v;
			break;
		case 's':
			o->send = parse_size(optarg, "N");
			have_send = true;
			break;
		case 'r':
			o->recv = parse_size(optarg, "M");
			have_recv = true;
			break;
		case 'x':
			v = parse_size(optarg, "seed");
			if (v > UINT32_MAX)
				usage();
			o->seed_tx = v;
			have_tx = true;
			break;
		case 'y':
			v = parse_size(optarg, "seed");
			if (v > UINT32_MAX)
				usage();
			o->seed_rx = v;
			have_rx = true;
			break;
		case 'R':
			o->rate = parse_size(optarg, "BPS");
			break;
		case 'S':
			o->shut_after_send = true;
			break;
		case 'E':
			o->expect_eof = true;
			break;
		case 't':
			o->timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(o->timeout > 0)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: SEC must be > 0\n",
					optarg);
				usage();
			}
			break;
		case 'f':
			v = parse_size(optarg, "FD");
			if (v > INT32_MAX)
				usage();
			o->ready_fd = v;
			break;
		case 'b':
			o->bind_addr = optarg;
			break;
		case 'm':
			o->mark = optarg;
			break;
		default:
			usage();
		}
	}
	if (o->mark && optind == argc && o->addr && o->port)
		return;
	if (optind != argc || !o->addr || !o->port || !have_send ||
	    !have_recv || !have_tx || !have_rx) {
		fprintf(stderr,
			"Error: -c, -p, --send, --recv, --seed-tx and --seed-rx are required\n");
		usage();
	}
}

static int connect_to(const struct opts *o, double deadline)
{
	struct sockaddr_storage ss, bs;
	socklen_t sl, bl;
	struct pollfd pfd;
	int fd, err = 0, ms;

	sl = parse_addr(o->addr, o->port, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		fail("socket: %s", strerror(errno));
	if (o->bind_addr) {
		bl = parse_addr(o->bind_addr, 0, &bs);
		if (bs.ss_family != ss.ss_family) {
			fprintf(stderr,
				"Error: argument \"%s\" is wrong: --bind and -c "
				"need the same address family\n",
				o->bind_addr);
			usage();
		}
		if (bind(fd, (struct sockaddr *)&bs, bl))
			fail("bind %s: %s", o->bind_addr, strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		fail("connect %s port %u: %s", o->addr, o->port,
		     strerror(errno));
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		ms = (int)((deadline - now()) * 1000) + 1;
		if (ms <= 0)
			fail("timeout: connect %s port %u", o->addr, o->port);
		if (poll(&pfd, 1, ms) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll: %s", strerror(errno));
		}
		if (pfd.revents)
			break;
	}
	sl = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err)
		fail("connect %s port %u: %s", o->addr, o->port, strerror(err));
	return fd;
}

/* Bytes still in the send queue (unsent or not yet acknowledged). */
static int outq(int fd)
{
	int n = 0;

	if (ioctl(fd, SIOCOUTQ, &n))
		fail("ioctl SIOCOUTQ: %s", strerror(errno));
	return n;
}

/* Bytes the rate limit lets us send now (a chunk at a time). */
static uint64_t rate_allowed(const struct opts *o, double start, double t)
{
	uint64_t allowed = (uint64_t)((t - start) * (double)o->rate);

	return allowed > sent ? allowed - sent : 0;
}

/* Milliseconds until the rate limit lets the next chunk go. */
static int rate_wait_ms(const struct opts *o, double start, double t)
{
	uint64_t chunk = o->rate / 100 ? o->rate / 100 : 1;
	double due;

	if (chunk > o->send - sent)
		chunk = o->send - sent;
	due = start + (double)(sent + chunk) / (double)o->rate;
	return due > t ? (int)((due - t) * 1000) + 1 : 0;
}

static void run(const struct opts *o)
{
	static uint8_t txbuf[BUFSZ], rxbuf[BUFSZ];
	double start = now(), deadline = start + o->timeout, t;
	bool shut = false, eof = false, acked = false;
	uint64_t allowed, want;
	struct pollfd pfd;
	int fd, ms;
	ssize_t n;
	int64_t bad;

	fd = connect_to(o, deadline);
	if (o->ready_fd >= 0) {
		if (write(o->ready_fd, "ready\n", 6) != 6)
			fail("write to --ready-fd %d: %s", o->ready_fd,
			     strerror(errno));
		close(o->ready_fd);
	}
	start = now();

	for (;;) {
		bool send_done = sent == o->send;
		bool recv_done = rcvd == o->recv && (!o->expect_eof || eof);

		if (send_done && o->shut_after_send && !shut) {
			if (shutdown(fd, SHUT_WR))
				fail("shutdown: %s", strerror(errno));
			shut = true;
		}
		/* done when everything we sent has been acknowledged too */
		if (send_done && !acked)
			acked = outq(fd) == 0;
		if (send_done && recv_done && acked)
			break;

		t = now();
		if (t >= deadline)
			fail("timeout after %.1f s: sent %" PRIu64 "/%" PRIu64
			     ", received %" PRIu64 "/%" PRIu64 "%s%s",
			     o->timeout, sent, o->send, rcvd, o->recv,
			     send_done && !acked ?
				     ", send queue not acknowledged" :
				     "",
			     rcvd == o->recv && o->expect_eof && !eof ?
				     ", waiting for EOF" :
				     "");

		pfd.fd = fd;
		pfd.events = 0;
		ms = (int)((deadline - t) * 1000) + 1;
		if (!eof)
			pfd.events |= POLLIN;
		if (!send_done) {
			if (o->rate && rate_allowed(o, start, t) == 0) {
				/* sleep until the next chunk is due */
				int w = rate_wait_ms(o, start, t);

				if (w < ms)
					ms = w;
			} else {
				pfd.events |= POLLOUT;
			}
		} else if (!acked && ms > 5) {
			ms = 5; /* wait for the send queue to drain */
		}
		if (poll(&pfd, 1, ms) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll: %s", strerror(errno));
		}
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
			n = recv(fd, rxbuf, sizeof(rxbuf), MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				fail("recv at offset %" PRIu64 ": %s", rcvd,
				     strerror(errno));
			if (n == 0) {
				if (rcvd < o->recv)
					fail("EOF at offset %" PRIu64
					     ", expected %" PRIu64 " bytes",
					     rcvd, o->recv);
				eof = true;
			}
			if (n > 0) {
				if ((uint64_t)n > o->recv - rcvd)
					fail("received %" PRIu64
					     " bytes, more than the %" PRIu64
					     " expected",
					     rcvd + n, o->recv);
				bad = stream_check(o->seed_rx, rcvd, rxbuf, n);
				if (bad >= 0)
					fail("data mismatch at offset %" PRId64
					     " (got 0x%02x, "
					     "expected 0x%02x, seed %" PRIu32
					     ")",
					     bad, rxbuf[bad - rcvd],
					     stream_byte(o->seed_rx, bad),
					     o->seed_rx);
				rcvd += n;
			}
		}
		if (!send_done && (pfd.revents & (POLLOUT | POLLERR))) {
			want = o->send - sent;
			if (o->rate) {
				allowed = rate_allowed(o, start, now());
				if (want > allowed)
					want = allowed;
			}
			if (want > sizeof(txbuf))
				want = sizeof(txbuf);
			if (want) {
				stream_fill(o->seed_tx, sent, txbuf, want);
				n = send(fd, txbuf, want,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN && errno != EINTR)
					fail("send at offset %" PRIu64 ": %s",
					     sent, strerror(errno));
				if (n > 0)
					sent += n;
			}
		}
	}
	/* normal close: FIN (or nothing more if shut), never RST */
	if (close(fd))
		fail("close: %s", strerror(errno));
	printf("peer: sent=%" PRIu64 " rcvd=%" PRIu64 " ok\n", sent, rcvd);
}

/* Is tok in the file at or after *pos?  Moves *pos on past what was read. */
static bool file_has(const char *path, off_t *pos, const char *tok, size_t tlen)
{
	static char buf[1 << 16];
	bool found = false;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* not created yet */
	while (!found && (n = pread(fd, buf, sizeof(buf), *pos)) > 0) {
		found = memmem(buf, n, tok, tlen) != NULL;
		/* re-read the last tlen - 1 bytes: the token may span reads */
		*pos += (size_t)n >= tlen ? n - (off_t)(tlen - 1) : 0;
		if ((size_t)n < tlen)
			break;
	}
	close(fd);
	return found;
}

static void mark(const struct opts *o)
{
	double deadline = now() + o->timeout, next = 0;
	struct sockaddr_storage ss;
	struct timespec ts;
	char tok[64];
	off_t pos = 0;
	socklen_t sl;
	int fd;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(tok, sizeof(tok), "tcpcp-peer-mark-%d-%lld.%09ld",
		 (int)getpid(), (long long)ts.tv_sec, ts.tv_nsec);
	sl = parse_addr(o->addr, o->port, &ss);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket: %s", strerror(errno));
	for (;;) {
		if (now() >= next) {
			/* errors (e.g. ICMP port unreachable) do not matter */
			sendto(fd, tok, strlen(tok), MSG_DONTWAIT,
			       (struct sockaddr *)&ss, sl);
			next = now() + 0.2;
		}
		if (file_has(o->mark, &pos, tok, strlen(tok)))
			break;
		if (now() >= deadline)
			fail("timeout after %.1f s: marker to %s port %u not in %s",
			     o->timeout, o->addr, o->port, o->mark);
		poll(NULL, 0, 2);
	}
	close(fd);
	printf("peer: mark seen in %s\n", o->mark);
}

int main(int argc, char **argv)
{
	struct opts o;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_opts(argc, argv, &o);
	if (o.mark)
		mark(&o);
	else
		run(&o);
	return 0;
}
