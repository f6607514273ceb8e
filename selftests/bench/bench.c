// SPDX-License-Identifier: GPL-2.0
/*
 * bench: what a move costs per connection with the backend in force.
 *
 * In a fresh lab the peer opens N connections to the service on a and sends
 * 1000 bytes on each (left unread, so every ICI carries a receive queue).
 * Then all N are frozen and dumped at a (tcpcp_dump), created at b
 * (tcpcp_create_ex), the service is re-routed to b, a discards them and b
 * activates them (tcpcp_activate) and echoes the bytes, which the peer
 * verifies.  Printed per N: p50/p99 of each call, the library's syscalls
 * per connection (counted by wrapping libc calls at link time), and the
 * freeze-to-activated time: first dump to last activation.
 *
 * Usage: bench [N...]   (default 1 100 1000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labkit.h"
#include "tcpcp.h"

#define PAYLOAD 1000

/* ---- syscall counting: the library's libc calls, via ld --wrap ---- */
static unsigned long nsys;

#define WRAP(ret, name, proto, args)       \
	ret __real_##name proto;           \
	ret __wrap_##name proto;           \
	ret __wrap_##name proto            \
	{                                  \
		nsys++;                    \
		return __real_##name args; \
	}

WRAP(int, socket, (int d, int t, int p), (d, t, p))
WRAP(int, setsockopt, (int s, int l, int n, const void *v, socklen_t len),
     (s, l, n, v, len))
WRAP(int, getsockopt, (int s, int l, int n, void *v, socklen_t *len),
     (s, l, n, v, len))
WRAP(int, bind, (int s, const struct sockaddr *a, socklen_t l), (s, a, l))
WRAP(int, connect, (int s, const struct sockaddr *a, socklen_t l), (s, a, l))
WRAP(int, getsockname, (int s, struct sockaddr *a, socklen_t *l), (s, a, l))
WRAP(int, getpeername, (int s, struct sockaddr *a, socklen_t *l), (s, a, l))
WRAP(ssize_t, send, (int s, const void *b, size_t n, int f), (s, b, n, f))
WRAP(ssize_t, recv, (int s, void *b, size_t n, int f), (s, b, n, f))
WRAP(ssize_t, sendto,
     (int s, const void *b, size_t n, int f, const struct sockaddr *a,
      socklen_t l),
     (s, b, n, f, a, l))
WRAP(int, shutdown, (int s, int h), (s, h))
WRAP(int, ioctl, (int fd, unsigned long r, void *a), (fd, r, a))
WRAP(int, close, (int fd), (fd))
WRAP(int, nanosleep, (const struct timespec *t, struct timespec *r), (t, r))

static double ms(double s)
{
	return s * 1000;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void pct(const char *what, double *v, int n, unsigned long sys)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("  %-16s p50 %8.3f ms  p99 %8.3f ms  %6.1f syscalls/conn\n",
	       what, ms(v[n / 2]),
	       ms(v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1]),
	       (double)sys / n);
}

static int xio(int fd, void *p, size_t len, bool rd)
{
	uint8_t *b = p;
	ssize_t n;

	while (len) {
		n = rd ? read(fd, b, len) : write(fd, b, len);
		if (n <= 0)
			return -1;
		b += n;
		len -= n;
	}
	return 0;
}

/* The peer: n connections, PAYLOAD bytes each, then expect the echo */
static int client(struct lab *l, int n, int go)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(LAB_PORT) };
	uint8_t buf[PAYLOAD], back[PAYLOAD];
	int *fd = calloc(n, sizeof(int)), i;
	char c;

	inet_pton(AF_INET, LAB_S4, &sa.sin_addr);
	if (!fd || lab_enter(l, "peer"))
		return 1;
	for (i = 0; i < n; i++) {
		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 ||
		    connect(fd[i], (struct sockaddr *)&sa, sizeof(sa)))
			return 2;
		memset(buf, i, sizeof(buf));
		if (xio(fd[i], buf, sizeof(buf), false))
			return 3;
	}
	if (read(go, &c, 1) != 1) /* the server has them all */
		return 4;
	for (i = 0; i < n; i++) {
		memset(buf, i, sizeof(buf));
		if (xio(fd[i], back, sizeof(back), true) ||
		    memcmp(buf, back, sizeof(buf)))
			return 5;
		close(fd[i]);
	}
	return 0;
}

struct side_stats {
	double t_first_act, t_last_act;
	unsigned long sys_create, sys_act;
};

/* Host b: create all, report, wait for the route, activate all, echo */
static int taker(struct lab *l, int ch, int n, double *tc, double *ta)
{
	struct side_stats st = { 0 };
	int *fd = calloc(n, sizeof(int)), i;
	uint8_t buf[PAYLOAD];
	uint32_t len;
	void *ici;
	double t;
	char c;

	if (!fd || lab_enter(l, "b"))
		return 1;
	for (i = 0; i < n; i++) {
		if (xio(ch, &len, sizeof(len), true) || !(ici = malloc(len)) ||
		    xio(ch, ici, len, true))
			return 2;
		t = now_s();
		nsys = 0;
		fd[i] = tcpcp_create_ex(ici, len, -1, 0, NULL);
		st.sys_create += nsys;
		tc[i] = now_s() - t;
		free(ici);
		if (fd[i] < 0) {
			fprintf(stderr, "create: %s\n", strerror(-fd[i]));
			return 3;
		}
	}
	c = 'c';
	if (write(ch, &c, 1) != 1 || read(ch, &c, 1) != 1) /* routed */
		return 4;
	st.t_first_act = now_s();
	for (i = 0; i < n; i++) {
		t = now_s();
		nsys = 0;
		if (tcpcp_activate_ex(fd[i]))
			return 5;
		st.sys_act += nsys;
		ta[i] = now_s() - t;
	}
	st.t_last_act = now_s();
	for (i = 0; i < n; i++) {
		int fl = fcntl(fd[i], F_GETFL);

		fcntl(fd[i], F_SETFL, fl & ~O_NONBLOCK);
		if (xio(fd[i], buf, sizeof(buf), true) ||
		    xio(fd[i], buf, sizeof(buf), false))
			return 6;
	}
	if (xio(ch, &st, sizeof(st), false) ||
	    xio(ch, tc, n * sizeof(double), false) ||
	    xio(ch, ta, n * sizeof(double), false))
		return 7;
	for (i = 0; i < n; i++)
		close(fd[i]);
	return 0;
}

static int run(int n)
{
	double *td = calloc(n, sizeof(double)), *tc = calloc(n, sizeof(double));
	double *ta = calloc(n, sizeof(double)), t0, t;
	int *fd = calloc(n, sizeof(int)), lfd, i, sp[2], go[2], ret = 1;
	unsigned long sys_dump = 0;
	struct side_stats st;
	pid_t cl = -1, tk = -1;
	struct lab l;
	char c;

	if (!td || !tc || !ta || !fd || lab_up(&l, "bench"))
		return 1;
	if (lab_enter(&l, "a") || (lfd = listen_on(AF_INET, LAB_PORT)) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || pipe(go))
		goto out;
	listen(lfd, 4096);
	cl = fork();
	if (cl == 0)
		_exit(client(&l, n, go[0]));
	tk = fork();
	if (tk == 0)
		_exit(taker(&l, sp[1], n, tc, ta));
	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, 10000) <= 0 ||
		    (fd[i] = accept(lfd, NULL, NULL)) < 0)
			goto out;
	}
	/* wait until every connection's bytes arrived (unread) */
	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = fd[i], .events = POLLIN };

		poll(&p, 1, 5000);
	}
	usleep(20000);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		void *ici;
		size_t len;
		uint32_t l32;

		t = now_s();
		nsys = 0;
		if (tcpcp_dump(fd[i], 0, &ici, &len))
			goto out;
		sys_dump += nsys;
		td[i] = now_s() - t;
		l32 = len;
		if (xio(sp[0], &l32, sizeof(l32), false) ||
		    xio(sp[0], ici, len, false))
			goto out;
		free(ici);
	}
	if (read(sp[0], &c, 1) != 1 || lab_route(&l, 'b'))
		goto out;
	for (i = 0; i < n; i++) {
		tcpcp_discard(fd[i]);
		close(fd[i]);
	}
	if (write(sp[0], "g", 1) != 1 || write(go[1], "g", 1) != 1)
		goto out;
	if (xio(sp[0], &st, sizeof(st), true) ||
	    xio(sp[0], tc, n * sizeof(double), true) ||
	    xio(sp[0], ta, n * sizeof(double), true))
		goto out;
	if (lab_wait(cl, 30) != 0) {
		fprintf(stderr, "bench: the peer saw wrong data\n");
		goto out;
	}
	printf("N = %d connections (1000 unread bytes each)\n", n);
	pct("tcpcp_get", td, n, sys_dump);
	pct("tcpcp_create", tc, n, st.sys_create);
	pct("tcpcp_activate", ta, n, st.sys_act);
	printf("  freeze to activated: %.1f ms (first dump to last activation), "
	       "activation of all: %.1f ms\n",
	       ms(st.t_last_act - t0), ms(st.t_last_act - st.t_first_act));
	ret = 0;
out:
	if (ret)
		fprintf(stderr, "bench: N=%d failed\n", n);
	if (tk > 0)
		lab_wait(tk, 30);
	if (cl > 0)
		lab_wait(cl, 1);
	lab_down(&l);
	return ret;
}

int main(int argc, char **argv)
{
	struct rlimit rl = { 8192, 8192 };
	int def[] = { 1, 100, 1000 }, i, ret = 0;
	const char *why = lab_missing(false);

	if (*why) {
		printf("bench: skipped: %s\n", why);
		return 4;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	lab_init();
	printf("tcpcp bench, backend %s\n",
	       tcpcp_backend_name(tcpcp_backend()));
	if (argc > 1)
		for (i = 1; i < argc; i++)
			ret |= run(atoi(argv[i]));
	else
		for (i = 0; i < 3; i++)
			ret |= run(def[i]);
	lab_cleanup_all();
	return ret;
}
