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
 * The peer (client.c) checks every byte and times every read.  Its stall: the
 * largest gap between two consecutive reads of one connection from the
 * start of the move to the read that brought b's first byte (max and median
 * over connections); also the largest gap of the whole run and the largest
 * before the move (the baseline).
 *
 * Printed per N: p50/p99 of each call, the library's syscalls per
 * connection (counted by wrapping libc calls at link time), freeze to
 * activated (first dump to last activation) and its phases, the peer's
 * stall, and with -p pcapcheck's verdict and max_stall_ms on a capture
 * taken at the peer.  At the end (report.c): CPU time per connection per
 * phase (thread CPU time in the library's calls, summed over the batch),
 * syscalls per move and, with -b native,repair, the ratio native/repair
 * (the comparison in a VM: selftests/vm/bench-vm.sh).
 *
 * Usage: bench [-p] [-s] [-w] [-b BACKEND[,BACKEND]] [N...]   (default 1
 * 100 1000 10000; BACKEND native, repair or auto, default the library's
 * choice; -s: all dumps, then the transfer, then all creates, instead of
 * creating as the ICIs arrive; -w: one unreported move per backend first)
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "stream.h"
#include "tcpcp.h"

bool opt_pcap;
/*
 * -s: the dump at a, the transfer and the create at b one after the other,
 * not overlapped.  For CPU time under TCG, where a context switch between
 * a and b empties the emulated TLB and so costs the next call.
 */
static bool opt_serial;

int cmpd(const void *a, const void *b)
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

int xio(int fd, void *p, size_t len, bool rd)
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

void nonblock(int fd)
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

/* One ICI over the channel from a to b: length, stream offset, bytes */
static int send_ici(int ch, void *ici, size_t len, uint64_t tx)
{
	uint32_t l32 = len;
	int ret;

	ret = xio(ch, &l32, sizeof(l32), false) ||
	      xio(ch, &tx, sizeof(tx), false) || xio(ch, ici, len, false);
	free(ici);
	return ret;
}

static int recv_ici(int ch, void **ici, uint32_t *len, uint64_t *tx)
{
	if (xio(ch, len, sizeof(*len), true) || xio(ch, tx, sizeof(*tx), true))
		return -1;
	*ici = malloc(*len);
	return !*ici || xio(ch, *ici, *len, true) ? -1 : 0;
}

/* Host b: create all, report, wait for the route, activate all, stream on */
static int taker(struct lab *l, int ch, int n, double *tc, double *ta,
		 double *cc, double *ca)
{
	struct side_stats st = { 0 };
	int *fd = calloc(n, sizeof(int)), i, left;
	uint64_t *tx = calloc(n, sizeof(uint64_t));
	uint16_t *rx = calloc(n, sizeof(uint16_t));
	uint32_t *len = calloc(n, sizeof(uint32_t));
	void **ici = calloc(n, sizeof(void *));
	double t, c0, end;
	uint8_t buf[PAYLOAD];
	ssize_t r;
	char c;

	if (!fd || !tx || !rx || !len || !ici || lab_enter(l, "b"))
		return 1;
	/* -s: every ICI in before the first create */
	for (i = 0; opt_serial && i < n; i++)
		if (recv_ici(ch, &ici[i], &len[i], &tx[i]))
			return 2;
	st.ru_create = rusage_s();
	for (i = 0; i < n; i++) {
		if (!opt_serial && recv_ici(ch, &ici[i], &len[i], &tx[i]))
			return 2;
		t = now_s();
		c0 = cpu_s();
		nsys = 0;
		fd[i] = tcpcp_create_ex(ici[i], len[i], -1, 0, NULL);
		st.sys_create += nsys;
		cc[i] = cpu_s() - c0;
		tc[i] = now_s() - t;
		free(ici[i]);
		if (fd[i] < 0) {
			fprintf(stderr, "create: %s\n", strerror(-fd[i]));
			return 3;
		}
	}
	st.ru_create = rusage_s() - st.ru_create;
	c = 'c';
	if (write(ch, &c, 1) != 1 || read(ch, &c, 1) != 1) /* routed */
		return 4;
	st.t_first_act = now_s();
	st.ru_act = rusage_s();
	for (i = 0; i < n; i++) {
		t = now_s();
		c0 = cpu_s();
		nsys = 0;
		if (tcpcp_activate_ex(fd[i]))
			return 5;
		st.sys_act += nsys;
		ca[i] = cpu_s() - c0;
		ta[i] = now_s() - t;
	}
	st.ru_act = rusage_s() - st.ru_act;
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
	    xio(ch, ta, n * sizeof(double), false) ||
	    xio(ch, cc, n * sizeof(double), false) ||
	    xio(ch, ca, n * sizeof(double), false))
		return 8;
	return 0;
}

static int run(int n, int backend, struct row *row)
{
	double *td = calloc(n, sizeof(double)), *tc = calloc(n, sizeof(double));
	double *ta = calloc(n, sizeof(double)), t0, t, c0, wall = now_s();
	/* per call thread CPU time, phase p of connection i at [p * n + i] */
	double *cpu = calloc(PH_N * n, sizeof(double));
	void **ici = calloc(n, sizeof(void *));
	size_t *len = calloc(n, sizeof(size_t));
	int *fd = calloc(n, sizeof(int)), lfd, i, sp[2], ctl[2], res[2];
	uint64_t *tx = calloc(n, sizeof(uint64_t));
	unsigned long sys_dump = 0, sys_disc = 0;
	char pcap[300], c;
	struct side_stats st;
	pid_t cl = -1, tk = -1, dump = -1;
	struct lab l;
	int ret = 1, one = 1, p;

	memset(row, 0, sizeof(*row));
	row->n = n;
	row->backend = backend;
	row->pcap_stall = -1;
	if (!td || !tc || !ta || !cpu || !ici || !len || !fd || !tx ||
	    lab_up(&l, "bench"))
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
		_exit(taker(&l, sp[1], n, tc, ta, cpu + PH_CREATE * n,
			    cpu + PH_ACT * n));
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
	row->ru[PH_DUMP] = rusage_s();
	for (i = 0; i < n; i++) {
		t = now_s();
		c0 = cpu_s();
		nsys = 0;
		if (tcpcp_dump(fd[i], 0, &ici[i], &len[i]))
			goto out;
		sys_dump += nsys;
		cpu[PH_DUMP * n + i] = cpu_s() - c0;
		td[i] = now_s() - t;
		/* b creates as the ICIs arrive, unless -s */
		if (!opt_serial && send_ici(sp[0], ici[i], len[i], tx[i]))
			goto out;
	}
	row->ru[PH_DUMP] = rusage_s() - row->ru[PH_DUMP];
	for (i = 0; opt_serial && i < n; i++)
		if (send_ici(sp[0], ici[i], len[i], tx[i]))
			goto out;
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
	row->ru[PH_DISCARD] = rusage_s();
	for (i = 0; i < n; i++) {
		c0 = cpu_s();
		nsys = 0;
		if (tcpcp_discard(fd[i]))
			goto out;
		sys_disc += nsys;
		close(fd[i]);
		cpu[PH_DISCARD * n + i] = cpu_s() - c0;
	}
	row->ru[PH_DISCARD] = rusage_s() - row->ru[PH_DISCARD];
	row->discarded = now_s() - t0;
	if (write(sp[0], "g", 1) != 1)
		goto out;
	if (xio(sp[0], &st, sizeof(st), true) ||
	    xio(sp[0], tc, n * sizeof(double), true) ||
	    xio(sp[0], ta, n * sizeof(double), true) ||
	    xio(sp[0], cpu + PH_CREATE * n, n * sizeof(double), true) ||
	    xio(sp[0], cpu + PH_ACT * n, n * sizeof(double), true) ||
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
	row->sys[PH_DUMP] = (double)sys_dump / n;
	row->sys[PH_CREATE] = (double)st.sys_create / n;
	row->sys[PH_ACT] = (double)st.sys_act / n;
	row->sys[PH_DISCARD] = (double)sys_disc / n;
	for (p = 0; p < PH_N; p++) {
		double q[2];

		for (i = 0; i < n; i++)
			row->cpu[p] += cpu[p * n + i];
		pct(cpu + p * n, n, q);
		row->cpu_p50[p] = q[0];
	}
	row->ru[PH_CREATE] = st.ru_create;
	row->ru[PH_ACT] = st.ru_act;
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
	free(cpu);
	free(ici);
	free(len);
	free(fd);
	free(tx);
	return ret;
}

static int usage(void)
{
	fprintf(stderr, "Usage: bench [-p] [-s] [-w] [-b BACKEND[,BACKEND...]] "
			"[N...]\n  BACKEND: native, repair or auto\n");
	return 2;
}

/* "-b native,repair": the backends to compare, each available one once */
static int parse_backends(char *arg, int *be, int max)
{
	int nb = 0, b, i;
	char *tok, *save;

	for (tok = strtok_r(arg, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "native"))
			b = TCPCP_BACKEND_NATIVE;
		else if (!strcmp(tok, "repair"))
			b = TCPCP_BACKEND_REPAIR;
		else if (!strcmp(tok, "auto"))
			b = TCPCP_BACKEND_AUTO;
		else
			return -1;
		if (tcpcp_set_backend(b)) {
			printf("bench: backend %s not available here: left "
			       "out\n",
			       tok);
			continue;
		}
		b = tcpcp_backend();
		for (i = 0; i < nb && be[i] != b; i++)
			;
		if (i == nb && nb < max)
			be[nb++] = b;
	}
	return nb;
}

/* Three processes hold N sockets each, a few more fds besides */
static void raise_nofile(const int *ns, int nn)
{
	struct rlimit rl;
	rlim_t need = 0;
	int i;

	/* raise the hard limit only if needed: it needs CAP_SYS_RESOURCE */
	for (i = 0; i < nn; i++)
		if (ns[i] + 64 > need)
			need = ns[i] + 64;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= need)
		return;
	rl.rlim_cur = need;
	if (rl.rlim_max < need)
		rl.rlim_max = need;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		fprintf(stderr,
			"bench: cannot raise RLIMIT_NOFILE to %llu: %s\n",
			(unsigned long long)need, strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	int def[] = { 1, 100, 1000, 10000 }, *ns = def, nn = 4, i, j, k;
	int be[2] = { 0 }, nb = 0, opt, ret = 0;
	bool warm = false;
	const char *why;
	struct row *rows;

	while ((opt = getopt(argc, argv, "pswb:")) != -1) {
		switch (opt) {
		case 'p':
			opt_pcap = true;
			break;
		case 'w':
			warm = true;
			break;
		case 's':
			opt_serial = true;
			break;
		case 'b':
			nb = parse_backends(optarg, be, 2);
			if (nb < 0)
				return usage();
			if (!nb) {
				printf("bench: skipped: no backend of '-b' is "
				       "available\n");
				return 4;
			}
			break;
		default:
			return usage();
		}
	}
	if (!nb)
		be[nb++] = tcpcp_backend();
	why = lab_missing(opt_pcap);
	if (*why) {
		printf("bench: skipped: %s\n", why);
		return 4;
	}
	if (optind < argc) {
		nn = argc - optind;
		ns = calloc(nn, sizeof(int));
		for (i = 0; ns && i < nn; i++)
			if ((ns[i] = atoi(argv[optind + i])) < 1)
				return usage();
	}
	rows = calloc(nn * nb, sizeof(*rows));
	if (!ns || !rows)
		return 1;
	raise_nofile(ns, nn);
	lab_init();
	printf("tcpcp bench, backend%s", nb > 1 ? "s" : "");
	for (j = 0; j < nb; j++)
		printf("%s %s", j ? "," : "", tcpcp_backend_name(be[j]));
	printf("; per connection %d bytes unread at a, %d bytes per pass of "
	       "at least\nmax(%.0f ms, N * %.0f us) streamed to the peer for "
	       "%.1f s before and after the move; times in ms%s\n",
	       PAYLOAD, CHUNK, PERIOD * 1000, PERIOD_CONN * 1e6, PHASE,
	       opt_serial ? ";\n-s: dump all, transfer, create all (the "
			    "freeze includes the transfer)" :
			    "");
	report_clocks();
	/*
	 * Under TCG the first run of a code path pays for its translation:
	 * without a warm-up the first backend's N=1 pays for the second's.
	 */
	for (j = 0; warm && j < nb; j++) {
		struct row r;

		tcpcp_set_backend(be[j]);
		printf("warm-up, not reported: N=1 with %s: %s\n",
		       tcpcp_backend_name(be[j]),
		       run(1, be[j], &r) ? "failed" : "done");
		fflush(stdout);
	}
	/* each N with every backend in turn: same VM, same workload */
	for (i = k = 0; i < nn; i++)
		for (j = 0; j < nb; j++, k++) {
			tcpcp_set_backend(be[j]);
			ret |= run(ns[i], be[j], &rows[k]);
			print_head();
			print_row(&rows[k]);
			fflush(stdout);
		}
	report(rows, nn * nb);
	lab_cleanup_all();
	return ret;
}
