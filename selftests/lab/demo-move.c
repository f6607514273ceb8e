// SPDX-License-Identifier: GPL-2.0
/*
 * demo-move: the programs of `make demo` (selftests/lab/demo.sh).
 *
 * demo-move serve FAMILY AT TOTAL DIR
 *	The service at host a, an "unmodified program": listens on the lab's
 *	service address (FAMILY 4 or 6) port 5000, accepts the peer, streams
 *	AT bytes each way (sent from stream SEED_S2C, received and verified
 *	against SEED_C2S, of TOTAL each way), then leaves the socket alone
 *	until SIGTERM, for tcpcp-move to take it.
 * demo-move handle HOST AT DIR
 *	tcpcpd's handler program at HOST: the moved socket on stdin/stdout.
 *	Resumes both streams where the previous holder stopped (DIR/state:
 *	tcpcp-move carries no application state, so the demo's service
 *	keeps its two offsets in a file) and streams to AT each way, then
 *	leaves the socket alone again; with AT 0 to the end: FIN, wait for
 *	the peer's FIN, close.
 *	Both write DIR/state ("TX RX TOTAL MOVES"), DIR/ready.HOST ("HOST PID
 *	FD TX RX") when they hold, DIR/done ("ok ..." or "FAIL: why") when the
 *	stream ended, and append what they do to DIR/events ("EPOCH HOST
 *	TEXT") for demo.sh to tell.
 * demo-move NAME
 *	The library-only demo (demo.sh --library): in the lab NAME the
 *	service's connection moves a -> b -> a with libtcpcp calls made by
 *	this program while both streams run, for IPv4 and IPv6.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "labkit.h"
#include "mover.h"
#include "tcpcp.h"

static const char *dir, *host;

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void event(const char *fmt, ...)
{
	char path[512];
	struct timespec ts;
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/events", dir);
	f = fopen(path, "a");
	if (!f)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "%lld.%06ld %s ", (long long)ts.tv_sec, ts.tv_nsec / 1000,
		host);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* Write DIR/name atomically (rename), so that a reader sees all or none */
static void put(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(const char *name, const char *fmt, ...)
{
	char path[512], tmp[520];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	rename(tmp, path);
}

static int fail(const char *why)
{
	event("FAILED: %s", why);
	put("done", "FAIL: %s\n", why);
	return 1;
}

/* Hand the socket over: offsets into DIR/state, then wait for SIGTERM */
static int hold(int fd, struct app *app)
{
	char name[64];
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	put("state", "%llu %llu %llu %u\n", (unsigned long long)app->tx,
	    (unsigned long long)app->rx, (unsigned long long)app->tx_total,
	    app->moves);
	event("%llu bytes sent and %llu received and verified; leaves the socket alone now",
	      (unsigned long long)app->tx, (unsigned long long)app->rx);
	snprintf(name, sizeof(name), "ready.%s", host);
	put(name, "%s %d %d %llu %llu\n", host, (int)getpid(), fd,
	    (unsigned long long)app->tx, (unsigned long long)app->rx);
	sigwait(&set, &sig);
	/* the endpoint was discarded after the move: close() sends nothing */
	close(fd);
	return 0;
}

static int serve(int family, uint64_t at, uint64_t total)
{
	struct app app = { .tx_total = total, .rx_total = total };
	char msg[200];
	int l, fd;

	l = listen_on(family == 6 ? AF_INET6 : AF_INET, LAB_PORT);
	if (l < 0)
		return fail("cannot listen on the service address");
	put("listening", "%d\n", (int)getpid());
	fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	close(l);
	if (fd < 0)
		return fail("accept failed");
	event("service accepted the peer's connection; streams %llu bytes each way",
	      (unsigned long long)total);
	if (app_pump(fd, &app, at, at, 0, 20, msg, sizeof(msg)))
		return fail(msg);
	return hold(fd, &app);
}

static int handle(uint64_t at)
{
	struct app app = { 0 };
	unsigned long long tx, rx, total;
	unsigned int moves;
	char path[512], msg[200];
	int fd, nul;
	FILE *f;

	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%llu %llu %llu %u", &tx, &rx, &total, &moves) != 4)
		return fail("no stream offsets in DIR/state");
	fclose(f);
	app.tx = tx;
	app.rx = rx;
	app.tx_total = app.rx_total = total;
	app.moves = moves + 1;
	/* one descriptor for the socket, not two (stdin and stdout) */
	fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
	nul = open("/dev/null", O_RDWR);
	if (fd < 0 || nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0)
		return fail("cannot take the socket from stdin");
	close(nul);
	event("handler started by tcpcpd with the live socket; resumes at %llu sent, %llu received (%s)",
	      tx, rx, getenv("TCPCP_MOVE_ID") ? getenv("TCPCP_MOVE_ID") : "?");
	if (at && at < total) {
		if (app_pump(fd, &app, at, at, 0, 20, msg, sizeof(msg)))
			return fail(msg);
		return hold(fd, &app);
	}
	if (app_finish(fd, &app, 20, msg, sizeof(msg)))
		return fail(msg);
	event("stream complete: %llu bytes sent, %llu received and verified, FIN both ways",
	      (unsigned long long)app.tx, (unsigned long long)app.rx);
	put("done", "ok tx=%llu rx=%llu moves=%u\n", (unsigned long long)app.tx,
	    (unsigned long long)app.rx, app.moves);
	return 0;
}

/* The library-only demo: libtcpcp calls in one program (mover.c) */
static int library_demo(const char *name)
{
	struct mv_scen sc = {
		.c2s = 8000000,
		.s2c = 8000000,
		.moves = 2,
		.verbose = true,
		.timeout = 20,
	};
	struct mv_result res;
	struct lab l;
	int ret, fam;

	lab_attach(&l, name);
	for (fam = 0; fam < 2; fam++) {
		sc.family = fam ? AF_INET6 : AF_INET;
		printf("\n%s: peer <-> service %s:%d, %llu bytes each way, backend %s\n",
		       fam ? "IPv6" : "IPv4", fam ? LAB_S6 : LAB_S4, LAB_PORT,
		       (unsigned long long)sc.s2c,
		       tcpcp_backend_name(tcpcp_backend()));
		fflush(stdout);
		ret = mv_run(&l, &sc, &res);
		printf("  verdict: %s\n",
		       ret ? "FAILED" : "moved a -> b -> a, connection intact");
		printf("    %s\n",
		       res.peer[0] ? res.peer : "peer: (no output)");
		printf("    pcapcheck at the peer: %s\n",
		       res.pcap[0] ? res.pcap : "(no output)");
		printf("    longest freeze (tcpcp_get to tcpcp_activate): %.1f ms\n",
		       res.max_freeze_ms);
		if (ret) {
			printf("    error: %s (capture kept: %s)\n", res.err,
			       res.pcapfile);
			return 1;
		}
		/* the same service port again for the next run */
		lab_route(&l, 'a');
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "Usage: demo-move serve FAMILY AT TOTAL DIR\n"
			"       demo-move handle HOST AT DIR\n"
			"       demo-move NAME\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "serve")) {
		dir = argv[5];
		host = "a";
		return serve(atoi(argv[2]), strtoull(argv[3], NULL, 0),
			     strtoull(argv[4], NULL, 0));
	}
	if (argc == 5 && !strcmp(argv[1], "handle")) {
		host = argv[2];
		dir = argv[4];
		return handle(strtoull(argv[3], NULL, 0));
	}
	if (argc == 2 && argv[1][0] != '-')
		return library_demo(argv[1]);
	return usage();
}
