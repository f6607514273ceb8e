// SPDX-License-Identifier: GPL-2.0
/*
 * testapp: the server application of the tcpcpd lab test.  It streams both
 * ways with the lab's peer client (deterministic streams, stream.h) and
 * keeps its two stream offsets as the application state that moves with
 * the socket.
 *
 *   testapp serve ADDR PORT SOCK DEST MOVE_AFTER TX_TOTAL RX_TOTAL REPORT
 *       accept one connection on ADDR:PORT, stream until MOVE_AFTER bytes
 *       went each way, hand the socket to tcpcpd (SOCK) for DEST; if the
 *       move fails, go on streaming here to the end (rollback check).
 *   testapp handle REPORT
 *       tcpcpd's handler: socket on stdin/stdout, state on fd 3.
 *   testapp register SOCK REPORT
 *       register with tcpcpd, take one delivered socket, go on streaming.
 *   testapp hold ADDR PORT AFTER TOTAL REPORT
 *       an "unmodified program": accept, stream AFTER bytes each way, print
 *       "ready PID FD" and sleep, leaving the socket alone (tcpcp-move
 *       takes it with pidfd_getfd).  The handler then finds no state on
 *       fd 3 and starts at TESTAPP_AT of TESTAPP_TOTAL (environment).
 *
 * Every mode appends one line to REPORT: "<mode> ok tx=N rx=M ..." or
 * "<mode> FAIL: why".  Exit 0 ok, 1 failure, 2 usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "stream.h"

#define SEED_S2C 1111 /* server -> peer, as the lab's peer expects */
#define SEED_C2S 2222
#define STATE_MAGIC 0x74617070

struct state {
	uint32_t magic, moves;
	uint64_t tx, rx, tx_total, rx_total;
};

static const char *report_path;
static const char *mode;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	FILE *f = fopen(report_path, "a");
	va_list ap;

	if (!f)
		return;
	fprintf(f, "%s ", mode);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fprintf(f, "\n");
	fclose(f);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Stream until tx/rx reach the limits (or the totals).  Returns 0 when the
 * limits are reached, -1 on a failure (reported).
 */
static int stream(int fd, struct state *st, uint64_t tx_lim, uint64_t rx_lim,
		  double timeout)
{
	static uint8_t buf[65536];
	double end = now() + timeout;
	int64_t bad;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (st->tx < tx_lim || st->rx < rx_lim) {
		struct pollfd p = { .fd = fd };
		ssize_t n;

		if (st->tx < tx_lim)
			p.events |= POLLOUT;
		if (st->rx < rx_lim)
			p.events |= POLLIN;
		if (now() > end) {
			report("FAIL: timeout at tx=%llu rx=%llu",
			       (unsigned long long)st->tx,
			       (unsigned long long)st->rx);
			return -1;
		}
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (p.revents & POLLIN) {
			size_t want = rx_lim - st->rx < sizeof(buf) ?
					      rx_lim - st->rx :
					      sizeof(buf);

			n = recv(fd, buf, want, 0);
			if (n == 0) {
				report("FAIL: EOF at rx=%llu",
				       (unsigned long long)st->rx);
				return -1;
			}
			if (n > 0) {
				bad = stream_check(SEED_C2S, st->rx, buf,
						   (size_t)n);
				if (bad >= 0) {
					report("FAIL: received byte %lld differs",
					       (long long)bad);
					return -1;
				}
				st->rx += (uint64_t)n;
			} else if (errno != EAGAIN) {
				report("FAIL: recv: %s", strerror(errno));
				return -1;
			}
		}
		if (p.revents & (POLLOUT | POLLERR | POLLHUP) &&
		    st->tx < tx_lim) {
			size_t want = tx_lim - st->tx < sizeof(buf) ?
					      tx_lim - st->tx :
					      sizeof(buf);

			stream_fill(SEED_S2C, st->tx, buf, want);
			n = send(fd, buf, want, MSG_NOSIGNAL);
			if (n > 0) {
				st->tx += (uint64_t)n;
			} else if (n < 0 && errno != EAGAIN) {
				report("FAIL: send: %s", strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

/* Stream to the end, close, report */
static int finish(int fd, struct state *st)
{
	if (stream(fd, st, st->tx_total, st->rx_total, 60))
		return 1;
	/* our FIN after all data: the peer waits for it (--expect-eof) */
	shutdown(fd, SHUT_WR);
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char b;

		/* wait for the peer's FIN so that our close sends no RST */
		while (poll(&p, 1, 30000) == 1 && recv(fd, &b, 1, 0) > 0)
			;
	}
	close(fd);
	report("ok tx=%llu rx=%llu moves=%u", (unsigned long long)st->tx,
	       (unsigned long long)st->rx, st->moves);
	return 0;
}

static int listen_on(const char *addr, const char *port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	int l, one = 1;
	socklen_t len;

	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(port));
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)atoi(port));
		len = sizeof(*sin6);
	} else {
		return -1;
	}
	l = socket(ss.ss_family, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&ss, len) || listen(l, 1)) {
		report("FAIL: listen: %s", strerror(errno));
		return -1;
	}
	printf("listening\n");
	fflush(stdout);
	return l;
}

static int hold(char **argv)
{
	uint64_t after = strtoull(argv[2], NULL, 0);
	struct state st = { .magic = STATE_MAGIC };
	int l = listen_on(argv[0], argv[1]), fd;

	st.tx_total = st.rx_total = strtoull(argv[3], NULL, 0);
	if (l < 0)
		return 1;
	fd = accept(l, NULL, NULL);
	close(l);
	if (fd < 0 || stream(fd, &st, after, after, 60))
		return 1;
	printf("ready %d %d\n", (int)getpid(), fd);
	fflush(stdout);
	report("ready tx=%llu rx=%llu", (unsigned long long)st.tx,
	       (unsigned long long)st.rx);
	for (;;)
		pause();
}

static int serve(char **argv)
{
	uint64_t after = strtoull(argv[4], NULL, 0);
	struct state st = { .magic = STATE_MAGIC };
	struct lmsg_result res;
	int l = listen_on(argv[0], argv[1]), fd, c, ret;

	st.tx_total = strtoull(argv[5], NULL, 0);
	st.rx_total = strtoull(argv[6], NULL, 0);
	if (l < 0)
		return 1;
	fd = accept(l, NULL, NULL);
	close(l);
	if (fd < 0) {
		report("FAIL: accept: %s", strerror(errno));
		return 1;
	}
	if (stream(fd, &st, after < st.tx_total ? after : st.tx_total,
		   after < st.rx_total ? after : st.rx_total, 60))
		return 1;
	c = ctl_connect(argv[2]);
	if (c < 0) {
		report("FAIL: tcpcpd: %s", strerror(-c));
		return 1;
	}
	st.moves++;
	ret = ctl_move(c, fd, argv[3], &st, sizeof(st), 0, 0, &res);
	close(c);
	if (ret || res.err) {
		/* the connection must go on here */
		st.moves--;
		report("move refused: %s (%s) in %s committed=%u",
		       strerror(ret ? -ret : res.err), ret ? "" : res.msg,
		       ctl_phase_name(res.phase), res.committed);
		if (res.committed)
			return 1;
		return finish(fd, &st);
	}
	report("moved tx=%llu rx=%llu dump=%u connect=%u prepare=%u redirect=%u commit=%u activate=%u us",
	       (unsigned long long)st.tx, (unsigned long long)st.rx,
	       res.t_us[PHASE_DUMP], res.t_us[PHASE_CONNECT],
	       res.t_us[PHASE_PREPARE], res.t_us[PHASE_REDIRECT],
	       res.t_us[PHASE_COMMIT], res.t_us[PHASE_ACTIVATE]);
	close(fd);
	return 0;
}

static int take_state(const void *p, size_t len, struct state *st)
{
	if (len != sizeof(*st)) {
		report("FAIL: application state of %zu bytes", len);
		return -1;
	}
	memcpy(st, p, sizeof(*st));
	if (st->magic != STATE_MAGIC) {
		report("FAIL: bad application state");
		return -1;
	}
	return 0;
}

static int handle(void)
{
	struct state st = { 0 };
	uint8_t b[sizeof(st) + 1];
	ssize_t n = read(3, b, sizeof(b));

	if (n == 0 && getenv("TESTAPP_AT") && getenv("TESTAPP_TOTAL")) {
		/* moved without state (tcpcp-move pid/fd): where hold stopped */
		st.tx = st.rx = strtoull(getenv("TESTAPP_AT"), NULL, 0);
		st.tx_total = st.rx_total =
			strtoull(getenv("TESTAPP_TOTAL"), NULL, 0);
		st.moves = 1;
	} else if (n < 0 || take_state(b, (size_t)n, &st)) {
		return 1;
	}
	return finish(0, &st);
}

static int do_register(const char *sock)
{
	struct lmsg_result res;
	struct lmsg_deliver d;
	struct state st = { 0 };
	uint8_t app[256];
	int c = ctl_connect(sock), fd, ret;

	if (c < 0 || ctl_register(c, 0, &res)) {
		report("FAIL: register");
		return 1;
	}
	printf("registered\n");
	fflush(stdout);
	ret = ctl_recv_deliver(c, 120000, &fd, &d, app, sizeof(app));
	if (ret) {
		report("FAIL: deliver: %s", strerror(-ret));
		return 1;
	}
	close(c);
	if (take_state(app, d.app_len, &st))
		return 1;
	return finish(fd, &st);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	mode = argv[1];
	if (!strcmp(mode, "serve") && argc == 10) {
		report_path = argv[9];
		return serve(argv + 2);
	}
	if (!strcmp(mode, "hold") && argc == 7) {
		report_path = argv[6];
		return hold(argv + 2);
	}
	if (!strcmp(mode, "handle") && argc == 3) {
		report_path = argv[2];
		return handle();
	}
	if (!strcmp(mode, "register") && argc == 4) {
		report_path = argv[3];
		return do_register(argv[2]);
	}
	fprintf(stderr, "usage: see the comment at the top of testapp.c\n");
	return 2;
}
