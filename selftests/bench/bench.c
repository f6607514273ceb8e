// SPDX-License-Identifier: GPL-2.0
/*
 * bench: what a move costs per connection with the backend in force, and
 * the stall the peer sees.
 *
 * In a fresh lab the peer opens N connections to the service on a and sends
 * 1000 bytes on each (left unread, so every ICI carries a receive queue).
 * The service streams to the peer on every connection (TCP_NODELAY, CHUNK
 * bytes per connection per pass, a pass at most every PERIOD or N *
 * PERIOD_CONN) for PHASE seconds.  Then a stops its application, dumps
 * every connection (tcpcp_dump) and b creates them as the ICIs arrive
 * (tcpcp_create_ex); the service is re-routed to b, a discards its sockets
 * and b activates them all (tcpcp_activate_ex), reads and checks the 1000
 * bytes and streams on from where a stopped for PHASE seconds, then closes.
 * The peer checks every byte and timestamps every read.  Its stall: the
 * largest gap between two consecutive reads of one connection from the
 * start of the move to the read that brought b's first byte (max and median
 * over connections); also the largest gap of the whole run and the largest
 * before the move (the baseline).
 *
 * Printed per N: p50/p99 of each call, the library's syscalls per
 * connection (counted by wrapping libc calls at link time), freeze to
 * activated (first dump to last activation) and its phases, the peer's
 * stall, and with -p pcapcheck's verdict and max_stall_ms on a capture
 * taken at the peer.
 *
 * Usage: bench [-p] [N...]   (default 1 100 1000 10000)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labkit.h"
#include "stream.h"
#include "tcpcp.h"

#define PAYLOAD 1000 /* peer -> service, left unread at a */
#define CHUNK 100 /* service -> peer per connection and pass */
#define PERIOD 0.001 /* s, shortest pass ... */
#define PERIOD_CONN 20e-6 /* ... or this per connection, whichever longer */
#define PHASE 1.0 /* s of streaming before and after the move */
#define MIN_PASSES 5 /* ... and at least this many passes */
#define TIMEOUT 600 /* s, for everything */
#define SEED_C2S_BASE 0x10000u /* + connection index */
#define SEED_S2C_BASE 0x20000u

/* the library's syscalls, counted by syscount.c (ld --wrap) */
extern unsigned long nsys;

static bool opt_pcap;

/* What the peer reports */
struct peer_stats {
	double gap_max; /* s, largest gap between two reads of a connection */
	double move_max, move_p50; /* s, the gap before b's first byte */
	double base_max; /* s, the largest gap before the move began */
	double after_max; /* s, the largest gap after b's first byte */
	int moved; /* connections whose move gap was seen */
	uint64_t rx; /* bytes received and verified, all connections */
	int eofs, rc;
};

/* What b reports */
struct side_stats {
	double t_first_act, t_last_act;
	unsigned long sys_create, sys_act;
	uint64_t tx; /* bytes a and b sent to the peer, all connections */
};

/* One row of the table */
struct row {
	int n;
	double get[2], create[2], act[2]; /* p50, p99 in s */
	double sys[3]; /* per connection: get, create, activate */
	double freeze, act_all; /* s */
	/* first dump to: last dump, last create, route, last discard */
	double dumped, created, routed, discarded;
	double sum_get, sum_create; /* s, all connections */
	struct peer_stats ps;
	double pcap_stall; /* ms, < 0 without a capture */
	char pcap[16];
	double wall; /* s */
	bool ok;
};

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* v sorted in place; p50 and p99 */
static void pct(double *v, int n, double out[2])
{
	int i99 = (n * 99) / 100;

	qsort(v, n, sizeof(*v), cmpd);
	out[0] = v[n / 2];
	out[1] = v[i99 < n ? i99 : n - 1];
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

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* One pass of the service: CHUNK more bytes on every connection */
static void pass(int *fd, uint64_t *tx, int n)
{
	uint8_t buf[CHUNK];
	ssize_t k;
	int i;

	for (i = 0; i < n; i++) {
		stream_fill(SEED_S2C_BASE + i, tx[i], buf, CHUNK);
		k = send(fd[i], buf, CHUNK, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			tx[i] += k;
	}
}

/* Stream for PHASE seconds and at least MIN_PASSES passes */
static void stream_phase(int *fd, uint64_t *tx, int n)
{
	double end = now_s() + PHASE, t, period = n * PERIOD_CONN;
	int passes = 0;

	if (period < PERIOD)
		period = PERIOD;

	while (passes < MIN_PASSES || now_s() < end) {
		t = now_s();
		pass(fd, tx, n);
		passes++;
		t = period - (now_s() - t);
		if (t > 0 && (passes < MIN_PASSES || now_s() + t < end))
			usleep(t * 1e6);
	}
}

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
static int client(struct lab *l, int n, int ctlfd, int res)
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

/* Host b: create all, report, wait for the route, activate all, stream on */
static int taker(struct lab *l, int ch, int n, double *tc, double *ta)
{
	struct side_stats st = { 0 };
	int *fd = calloc(n, sizeof(int)), i, left;
	uint64_t *tx = calloc(n, sizeof(uint64_t));
	uint16_t *rx = calloc(n, sizeof(uint16_t));
	double t, end;
	uint8_t buf[PAYLOAD];
	uint32_t len;
	ssize_t r;
	void *ici;
	char c;

	if (!fd || !tx || !rx || lab_enter(l, "b"))
		return 1;
	for (i = 0; i < n; i++) {
		if (xio(ch, &len, sizeof(len), true) ||
		    xio(ch, &tx[i], sizeof(tx[i]), true) ||
		    !(ici = malloc(len)) || xio(ch, ici, len, true))
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
	for (i = 0; i < n; i++)
		nonblock(fd[i]);
	stream_phase(fd, tx, n);
	/* the 1000 bytes a left unread came along in the ICIs */
	end = now_s() + TIMEOUT;
	for (left = n; left && now_s() < end;) {
		for (i = 0; i < n; i++) {
			if (rx[i] == PAYLOAD)
				continue;
			r = read(fd[i], buf, PAYLOAD - rx[i]);
			if (r <= 0)
				continue;
			if (stream_check(SEED_C2S_BASE + i, rx[i], buf, r) >= 0)
				return 6;
			rx[i] += r;
			if (rx[i] == PAYLOAD) {
				shutdown(fd[i], SHUT_WR);
				left--;
			}
		}
		if (left)
			usleep(1000);
	}
	if (left)
		return 7;
	for (i = 0; i < n; i++) {
		/* everything sent and read: close after the peer's FIN */
		struct pollfd p = { .fd = fd[i], .events = POLLIN };

		poll(&p, 1, 1000 * (end - now_s() > 0 ? end - now_s() : 0));
		close(fd[i]);
		st.tx += tx[i];
	}
	if (xio(ch, &st, sizeof(st), false) ||
	    xio(ch, tc, n * sizeof(double), false) ||
	    xio(ch, ta, n * sizeof(double), false))
		return 8;
	return 0;
}

/* Packets tcpdump lost ("N packets dropped by kernel" in FILE.log) */
static long pcap_dropped(const char *file)
{
	char log[320], line[256];
	long n = -1;
	FILE *f;

	snprintf(log, sizeof(log), "%s.log", file);
	f = fopen(log, "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "dropped by kernel"))
			n = atol(line);
	if (f)
		fclose(f);
	return n;
}

/*
 * pcapcheck's verdict and max_stall_ms; its exit status.  A capture that
 * lost packets (tcpdump falls behind at 1000 streams on 2 cores) is
 * "lossy": missing ACKs make pcapcheck see false violations and gaps.
 */
static int pcap_verdict(struct lab *l, const char *file, struct row *row)
{
	long dropped = pcap_dropped(file);
	char out[4096], *p;
	int rc;

	rc = lab_pcapcheck(l, file, AF_INET, true, true, out, sizeof(out));
	snprintf(row->pcap, sizeof(row->pcap), "%s",
		 dropped ? "lossy" :
		 rc == 0 ? "ok" :
		 rc == 1 ? "FAIL" :
			   "error");
	p = strstr(out, "max_stall_ms=");
	row->pcap_stall = p ? atof(p + 13) : -1;
	if (dropped)
		fprintf(stderr,
			"bench: N=%d: tcpdump dropped %ld packets (%s); "
			"pcapcheck: %s\n",
			row->n, dropped, dropped < 0 ? "no count" : "lossy",
			rc ? "FAIL (not trusted)" : "ok");
	else if (rc)
		fprintf(stderr, "bench: pcapcheck: %s\n", out);
	return dropped ? 0 : rc;
}

static int run(int n, struct row *row)
{
	double *td = calloc(n, sizeof(double)), *tc = calloc(n, sizeof(double));
	double *ta = calloc(n, sizeof(double)), t0, t, wall = now_s();
	int *fd = calloc(n, sizeof(int)), lfd, i, sp[2], ctl[2], res[2];
	uint64_t *tx = calloc(n, sizeof(uint64_t));
	unsigned long sys_dump = 0;
	char pcap[300], c;
	struct side_stats st;
	pid_t cl = -1, tk = -1, dump = -1;
	struct lab l;
	int ret = 1, one = 1;

	memset(row, 0, sizeof(*row));
	row->n = n;
	row->pcap_stall = -1;
	if (!td || !tc || !ta || !fd || !tx || lab_up(&l, "bench"))
		return 1;
	snprintf(pcap, sizeof(pcap), "/tmp/%s.pcap", l.name);
	if (lab_enter(&l, "a") || (lfd = listen_on(AF_INET, LAB_PORT)) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp) || pipe(ctl) || pipe(res))
		goto out;
	listen(lfd, 4096);
	if (opt_pcap && (dump = lab_tcpdump(&l, "peer", pcap)) < 0) {
		fprintf(stderr, "bench: tcpdump did not start\n");
		goto out;
	}
	fflush(stdout);
	cl = fork();
	if (cl == 0)
		_exit(client(&l, n, ctl[0], res[1]));
	tk = fork();
	if (tk == 0)
		_exit(taker(&l, sp[1], n, tc, ta));
	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, 10000) <= 0 ||
		    (fd[i] = accept(lfd, NULL, NULL)) < 0)
			goto out;
		nonblock(fd[i]);
		/* no Nagle: gaps at the peer are the move's, not ACK waits */
		setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* every connection's PAYLOAD arrived (unread) */
	for (i = 0; i < n; i++) {
		struct pollfd p = { .fd = fd[i], .events = POLLIN };

		poll(&p, 1, 5000);
	}
	stream_phase(fd, tx, n);
	/* the application at a stops; the peer starts its stall clock */
	fcntl(ctl[1], F_SETPIPE_SZ, 1 << 20);
	if (write(ctl[1], "m", 1) != 1)
		goto out;
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
		    xio(sp[0], &tx[i], sizeof(tx[i]), false) ||
		    xio(sp[0], ici, len, false))
			goto out;
		free(ici);
	}
	row->dumped = now_s() - t0;
	/* where a stopped, for the peer's move gap; before b sends anything */
	if (xio(ctl[1], tx, n * sizeof(uint64_t), false))
		goto out;
	if (read(sp[0], &c, 1) != 1)
		goto out;
	row->created = now_s() - t0;
	if (lab_route(&l, 'b'))
		goto out;
	row->routed = now_s() - t0;
	for (i = 0; i < n; i++) {
		tcpcp_discard(fd[i]);
		close(fd[i]);
	}
	row->discarded = now_s() - t0;
	if (write(sp[0], "g", 1) != 1)
		goto out;
	if (xio(sp[0], &st, sizeof(st), true) ||
	    xio(sp[0], tc, n * sizeof(double), true) ||
	    xio(sp[0], ta, n * sizeof(double), true) ||
	    xio(res[0], &row->ps, sizeof(row->ps), true))
		goto out;
	if (lab_wait(cl, 30) != 0 || row->ps.eofs != n || row->ps.rx != st.tx ||
	    row->ps.moved != n) {
		fprintf(stderr,
			"bench: the peer failed: rc %d, %d of %d streams ended, "
			"%llu of %llu bytes, move seen on %d\n",
			row->ps.rc, row->ps.eofs, n,
			(unsigned long long)row->ps.rx,
			(unsigned long long)st.tx, row->ps.moved);
		goto out;
	}
	cl = -1;
	for (i = 0; i < n; i++) {
		row->sum_get += td[i];
		row->sum_create += tc[i];
	}
	pct(td, n, row->get);
	pct(tc, n, row->create);
	pct(ta, n, row->act);
	row->sys[0] = (double)sys_dump / n;
	row->sys[1] = (double)st.sys_create / n;
	row->sys[2] = (double)st.sys_act / n;
	row->freeze = st.t_last_act - t0;
	row->act_all = st.t_last_act - st.t_first_act;
	ret = 0;
out:
	if (tk > 0 && lab_wait(tk, ret ? 5 : 60) != 0 && !ret) {
		fprintf(stderr, "bench: host b's process failed\n");
		ret = 1;
	}
	if (cl > 0)
		lab_wait(cl, ret ? 5 : 60);
	if (dump > 0) {
		lab_tcpdump_stop(dump);
		if (!ret && getenv("TCPCP_BENCH_KEEP"))
			fprintf(stderr, "bench: capture kept: %s\n", pcap);
		else if (!ret && pcap_verdict(&l, pcap, row)) {
			fprintf(stderr, "bench: capture kept: %s\n", pcap);
			ret = 2; /* the figures stand, the wire does not */
		} else {
			unlink(pcap);
			snprintf(pcap + strlen(pcap),
				 sizeof(pcap) - strlen(pcap), ".log");
			unlink(pcap);
		}
	}
	lab_down(&l);
	row->wall = now_s() - wall;
	row->ok = ret != 1;
	if (ret)
		fprintf(stderr, "bench: N=%d failed\n", n);
	free(td);
	free(tc);
	free(ta);
	free(fd);
	free(tx);
	return ret;
}

#define MS(x) ((x)*1000)

static void print_row(const struct row *r)
{
	if (!r->ok) {
		printf("%6d  failed (after %.1f s)\n", r->n, r->wall);
		return;
	}
	printf("%6d %6.3f %6.3f %6.3f %6.3f %6.3f %6.3f %4.0f %4.0f %4.0f"
	       " %9.1f %8.1f %8.1f %8.1f %8.1f %7.1f",
	       r->n, MS(r->get[0]), MS(r->get[1]), MS(r->create[0]),
	       MS(r->create[1]), MS(r->act[0]), MS(r->act[1]), r->sys[0],
	       r->sys[1], r->sys[2], MS(r->freeze), MS(r->act_all),
	       MS(r->ps.move_max), MS(r->ps.move_p50), MS(r->ps.after_max),
	       MS(r->ps.base_max));
	if (r->pcap_stall >= 0)
		printf(" %8.1f %-5s", r->pcap_stall, r->pcap);
	else if (opt_pcap)
		printf(" %8s %-5s", "-", r->pcap[0] ? r->pcap : "-");
	printf(" %6.1f\n", r->wall);
}

static void print_head(void)
{
	printf("%6s %13s %13s %13s %14s %9s %8s %34s%s %6s\n", "", "get ms",
	       "create ms", "activate ms", "syscalls/conn", "freeze->",
	       "activate", "peer: gap between reads, ms",
	       opt_pcap ? "  pcapcheck     " : "", "run");
	printf("%6s %6s %6s %6s %6s %6s %6s %4s %4s %4s %9s %8s %8s %8s %8s "
	       "%7s%s %6s\n",
	       "N", "p50", "p99", "p50", "p99", "p50", "p99", "get", "crt",
	       "act", "activ. ms", "all ms", "move max", "move p50", "after",
	       "base", opt_pcap ? " stall ms verdict" : "", "s");
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	rlim_t need = 0;
	int def[] = { 1, 100, 1000, 10000 }, *ns = def, nn = 4, i, ret = 0;
	const char *why;
	struct row *rows;

	if (argc > 1 && !strcmp(argv[1], "-p")) {
		opt_pcap = true;
		argc--;
		argv++;
	}
	why = lab_missing(opt_pcap);
	if (*why) {
		printf("bench: skipped: %s\n", why);
		return 4;
	}
	if (argc > 1) {
		nn = argc - 1;
		ns = calloc(nn, sizeof(int));
		for (i = 0; ns && i < nn; i++)
			if ((ns[i] = atoi(argv[i + 1])) < 1) {
				fprintf(stderr, "Usage: bench [-p] [N...]\n");
				return 2;
			}
	}
	rows = calloc(nn, sizeof(*rows));
	if (!ns || !rows)
		return 1;
	/*
	 * Three processes hold N sockets each, a few more fds besides.  Raise
	 * the hard limit only if needed: without CAP_SYS_RESOURCE it cannot.
	 */
	for (i = 0; i < nn; i++)
		if (ns[i] + 64 > need)
			need = ns[i] + 64;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need) {
		rl.rlim_cur = need;
		if (rl.rlim_max < need)
			rl.rlim_max = need;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr,
				"bench: cannot raise RLIMIT_NOFILE to %llu: "
				"%s\n",
				(unsigned long long)need, strerror(errno));
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	lab_init();
	printf("tcpcp bench, backend %s; per connection %d bytes unread at a, "
	       "%d bytes per pass of at least max(%.0f ms, N * %.0f us)\nstreamed to the peer for %.1f s "
	       "before and after the move; times in ms\n",
	       tcpcp_backend_name(tcpcp_backend()), PAYLOAD, CHUNK,
	       PERIOD * 1000, PERIOD_CONN * 1e6, PHASE);
	for (i = 0; i < nn; i++) {
		ret |= run(ns[i], &rows[i]);
		print_head();
		print_row(&rows[i]);
		fflush(stdout);
	}
	printf("\n");
	print_head();
	for (i = 0; i < nn; i++)
		print_row(&rows[i]);
	printf("\nfreeze->activated, ms from the first dump: all dumped at a, "
	       "all created at b,\nre-routed, all discarded at a, "
	       "first and last activation at b;\nthe time spent in all "
	       "tcpcp_dump and all tcpcp_create_ex calls\n");
	printf("%6s %9s %9s %9s %9s %9s %9s %9s %9s\n", "N", "dumped",
	       "created", "routed", "discarded", "act.first", "act.last",
	       "sum get", "sum crt");
	for (i = 0; i < nn; i++)
		if (rows[i].ok)
			printf("%6d %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f "
			       "%9.1f\n",
			       rows[i].n, MS(rows[i].dumped),
			       MS(rows[i].created), MS(rows[i].routed),
			       MS(rows[i].discarded),
			       MS(rows[i].freeze - rows[i].act_all),
			       MS(rows[i].freeze), MS(rows[i].sum_get),
			       MS(rows[i].sum_create));
	printf("get = tcpcp_dump at a, crt = tcpcp_create_ex at b, act = "
	       "tcpcp_activate_ex at b; freeze->activ. =\nfirst dump to last "
	       "activation; activate all = first to last activation.\n"
	       "Peer: gaps between consecutive reads of one connection; move = "
	       "the largest from the move's\nstart to the read with b's first "
	       "byte (max and median over connections);\nafter = the largest "
	       "gap after it (streaming at b); base = the largest gap before "
	       "the\nmove began (streaming at a)%s.\n",
	       opt_pcap ?
		       ";\npcapcheck = the capture at the peer: max_stall_ms "
		       "and verdict (no RST, no SYN, ...)" :
		       "");
	lab_cleanup_all();
	return ret;
}
