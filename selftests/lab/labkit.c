// SPDX-License-Identifier: GPL-2.0
/* labkit: shared pieces of the lab tests, demo and benchmark (labkit.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "labkit.h"
#include "stream.h"

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void paths(struct lab *l)
{
	char exe[512], tmp[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		n = 0;
	exe[n] = 0;
	/* build/selftests/PROG: tools next to us, the tree two levels up */
	snprintf(tmp, sizeof(tmp), "%s", exe);
	snprintf(l->bin, sizeof(l->bin), "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s/../..", l->bin);
	if (!realpath(tmp, l->root))
		snprintf(l->root, sizeof(l->root), ".");
}

const char *lab_missing(bool pcapcheck)
{
	static char why[256];
	struct lab l;
	char p[700];
	const char *tools[] = { "peer", "pcapcheck" };
	unsigned int i;

	if (geteuid())
		return "needs root (network namespaces, TCP_REPAIR)";
	if (lab_sh("{ command -v ip && command -v tcpdump && command -v nft; } >/dev/null"))
		return "needs iproute2, tcpdump and nftables";
	paths(&l);
	for (i = 0; i < (pcapcheck ? 2 : 1); i++) {
		snprintf(p, sizeof(p), "%s/%s", l.bin, tools[i]);
		if (i == 1 && getenv("TCPCP_PCAPCHECK"))
			snprintf(p, sizeof(p), "%s", getenv("TCPCP_PCAPCHECK"));
		if (access(p, X_OK)) {
			snprintf(why, sizeof(why), "%s not built", p);
			return why;
		}
	}
	return "";
}

int lab_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static pid_t owner;

void lab_init(void)
{
	owner = getpid();
}

void lab_cleanup_all(void)
{
	if (getpid() != owner)
		return;
	lab_sh("for n in $(ip netns list 2>/dev/null | awk '/^tcpcp-%d-/ {print $1}'); "
	       "do ip netns del $n; done",
	       (int)owner);
}

int lab_up(struct lab *l, const char *tag)
{
	static unsigned int n;

	if (!owner)
		lab_init();
	memset(l, 0, sizeof(*l));
	paths(l);
	snprintf(l->name, sizeof(l->name), "tcpcp-%d-%s%u-%d", (int)owner, tag,
		 n++, (int)getpid());
	lab_down(l);
	if (lab_sh("%s/selftests/lab/lab.sh up %s", l->root, l->name)) {
		lab_down(l);
		return -1;
	}
	l->up = true;
	return 0;
}

void lab_attach(struct lab *l, const char *name)
{
	memset(l, 0, sizeof(*l));
	paths(l);
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->up = true;
}

void lab_down(struct lab *l)
{
	lab_sh("%s/selftests/lab/lab.sh down %s", l->root, l->name);
	l->up = false;
}

/* RTM_NEWROUTE with NLM_F_REPLACE: dst/plen via gw, main table */
static int nl_route(int nl, int family, const char *dst, int plen,
		    const char *gw)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		char attrs[64];
	} req;
	size_t alen = family == AF_INET ? 4 : 16;
	uint8_t a[16], g[16];
	struct rtattr *rta;
	char buf[512];
	ssize_t n;

	inet_pton(family, dst, a);
	inet_pton(family, gw, g);
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = RTM_NEWROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE |
			     NLM_F_REPLACE;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.rt.rtm_family = family;
	req.rt.rtm_dst_len = plen;
	req.rt.rtm_table = RT_TABLE_MAIN;
	req.rt.rtm_protocol = RTPROT_BOOT;
	req.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	req.rt.rtm_type = RTN_UNICAST;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
	rta->rta_type = RTA_DST;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), a, alen);
	req.nh.nlmsg_len =
		NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
	rta = (struct rtattr *)((char *)&req + req.nh.nlmsg_len);
	rta->rta_type = RTA_GATEWAY;
	rta->rta_len = RTA_LENGTH(alen);
	memcpy(RTA_DATA(rta), g, alen);
	req.nh.nlmsg_len += RTA_ALIGN(rta->rta_len);
	if (send(nl, &req, req.nh.nlmsg_len, 0) < 0)
		return -1;
	n = recv(nl, buf, sizeof(buf), 0);
	if (n < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)))
		return -1;
	return ((struct nlmsgerr *)NLMSG_DATA((struct nlmsghdr *)buf))->error ?
		       -1 :
		       0;
}

/* What lab.sh route does, over rtnetlink: a move must be quick */
int lab_route(struct lab *l, char host)
{
	const char *nh4 = host == 'b' ? "198.18.2.1" : "198.18.1.1";
	const char *nh6 = host == 'b' ? "fd00:7c:2::1" : "fd00:7c:1::1";
	int self, nl, ret;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -1;
	if (lab_enter(l, "gw")) {
		close(self);
		return -1;
	}
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	ret = setns(self, CLONE_NEWNET);
	close(self);
	if (nl < 0 || ret) {
		if (nl >= 0)
			close(nl);
		return -1;
	}
	ret = nl_route(nl, AF_INET, LAB_S4, 32, nh4);
	if (!ret)
		ret = nl_route(nl, AF_INET6, LAB_S6, 128, nh6);
	close(nl);
	return ret;
}

int lab_enter(struct lab *l, const char *host)
{
	char p[256];
	int fd, ret;

	snprintf(p, sizeof(p), "/var/run/netns/%s-%s", l->name, host);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

static pid_t spawn(struct lab *l, const char *host, char *const argv[],
		   int outfd, int errfd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (lab_enter(l, host))
		_exit(127);
	if (outfd >= 0)
		dup2(outfd, 1);
	if (errfd >= 0)
		dup2(errfd, 2);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * The captures running, so that lab_tcpdump_stop() can first make sure
 * everything sent is in the file: peer --mark sends UDP datagrams to port 9
 * of the host's gateway until one shows up in the file (tools.mk).
 */
#define MAX_DUMPS 8
static struct dump {
	pid_t pid;
	struct lab l;
	char host[16];
	char file[256];
} dumps[MAX_DUMPS];

static const char *gw_addr(const char *host)
{
	if (!strcmp(host, "a"))
		return "198.18.1.254";
	if (!strcmp(host, "b"))
		return "198.18.2.254";
	return "198.18.0.254";
}

pid_t lab_tcpdump(struct lab *l, const char *host, const char *file)
{
	char *argv[] = { "/usr/bin/tcpdump",
			 "--immediate-mode",
			 "-i",
			 "eth0",
			 "-s",
			 "0",
			 "-B",
			 "16384",
			 "-Z",
			 "root",
			 "-U",
			 "-n",
			 "-w",
			 (char *)file,
			 "tcp or udp port 9",
			 NULL };
	char log[600], buf[512];
	double end = now_s() + 5;
	int fd, n;
	pid_t pid;

	/* its messages go to FILE.log: a closed pipe would kill it (SIGPIPE) */
	snprintf(log, sizeof(log), "%s.log", file);
	fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	pid = spawn(l, host, argv, -1, fd);
	if (pid < 0) {
		close(fd);
		return -1;
	}
	/* "listening on eth0, ..." once the capture runs */
	for (;;) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = 0;
		if (strstr(buf, "listening on"))
			break;
		if (now_s() > end || waitpid(pid, NULL, WNOHANG) == pid) {
			close(fd);
			lab_tcpdump_stop(pid);
			return -1;
		}
		usleep(2000);
	}
	close(fd);
	for (n = 0; n < MAX_DUMPS; n++) {
		if (dumps[n].pid > 0)
			continue;
		dumps[n].pid = pid;
		dumps[n].l = *l;
		snprintf(dumps[n].host, sizeof(dumps[n].host), "%s", host);
		snprintf(dumps[n].file, sizeof(dumps[n].file), "%s", file);
		break;
	}
	return pid;
}

/* peer --mark: returns once everything sent before is in the capture */
static void dump_mark(struct dump *d)
{
	char path[600];
	char *argv[] = {
		path, "--mark", d->file,     "-c", (char *)gw_addr(d->host),
		"-p", "9",	"--timeout", "5",  NULL
	};
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid;

	snprintf(path, sizeof(path), "%s/peer", d->l.bin);
	pid = spawn(&d->l, d->host, argv, null, null);
	if (null >= 0)
		close(null);
	if (pid > 0)
		lab_wait(pid, 10);
}

void lab_tcpdump_stop(pid_t pid)
{
	siginfo_t si;
	int i;

	if (pid <= 0)
		return;
	for (i = 0; i < MAX_DUMPS; i++) {
		if (dumps[i].pid != pid)
			continue;
		/* still running? (WNOWAIT: lab_wait() below reaps it) */
		memset(&si, 0, sizeof(si));
		if (!waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) &&
		    !si.si_pid)
			dump_mark(&dumps[i]);
		dumps[i].pid = 0;
	}
	kill(pid, SIGINT);
	if (lab_wait(pid, 5) < 0)
		kill(pid, SIGKILL);
}

int lab_pcapcheck(struct lab *l, const char *file, int family, bool sfin,
		  bool cfin, char *out, size_t outlen)
{
	char cmd[1024];
	size_t got = 0;
	FILE *f;
	int st;

	char tool[600];

	snprintf(tool, sizeof(tool), "%s/pcapcheck", l->bin);
	if (getenv("TCPCP_PCAPCHECK")) /* another checker, for debugging */
		snprintf(tool, sizeof(tool), "%s", getenv("TCPCP_PCAPCHECK"));
	snprintf(cmd, sizeof(cmd), "%s --server %s%s%s:%d%s%s %s 2>&1", tool,
		 family == AF_INET6 ? "[" : "",
		 family == AF_INET6 ? LAB_S6 : LAB_S4,
		 family == AF_INET6 ? "]" : "", LAB_PORT,
		 sfin ? " --server-fin" : "", cfin ? " --client-fin" : "",
		 file);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	out[0] = 0;
	while (got < outlen - 1 && fgets(out + got, outlen - got, f))
		got = strlen(out);
	st = pclose(f);
	if (got && out[got - 1] == '\n')
		out[got - 1] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

pid_t lab_peer(struct lab *l, int family, uint64_t send, uint64_t recv,
	       const char *const *extra, int outfd)
{
	char path[600], s[32], r[32], tx[16], rx[16], port[16];
	char *argv[32];
	int n = 0;

	snprintf(path, sizeof(path), "%s/peer", l->bin);
	snprintf(s, sizeof(s), "%llu", (unsigned long long)send);
	snprintf(r, sizeof(r), "%llu", (unsigned long long)recv);
	snprintf(tx, sizeof(tx), "%u", SEED_C2S);
	snprintf(rx, sizeof(rx), "%u", SEED_S2C);
	snprintf(port, sizeof(port), "%u", LAB_PORT);
	argv[n++] = path;
	argv[n++] = "-c";
	argv[n++] = family == AF_INET6 ? LAB_S6 : LAB_S4;
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "--send";
	argv[n++] = s;
	argv[n++] = "--recv";
	argv[n++] = r;
	argv[n++] = "--seed-tx";
	argv[n++] = tx;
	argv[n++] = "--seed-rx";
	argv[n++] = rx;
	while (extra && *extra && n < 31)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	return spawn(l, "peer", argv, outfd, outfd);
}

int lab_wait(pid_t pid, double timeout)
{
	double end = now_s() + timeout;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
					       128 + WTERMSIG(st);
		if (r < 0 || now_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(2000);
	}
}

int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return -1;
	return ti.tcpi_state;
}

int listen_on(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, LAB_S4, &a->sin_addr);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, LAB_S6, &a->sin6_addr);
		sl = sizeof(*a);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ---- the server application ---- */

#define CHUNK 65536

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int app_pump(int fd, struct app *app, uint64_t tx_to, uint64_t rx_to,
	     int wait_state, double timeout, char *msg, size_t msglen)
{
	static uint8_t buf[CHUNK];
	double end = now_s() + timeout;
	struct pollfd pfd = { .fd = fd };
	ssize_t n;

	if (tx_to > app->tx_total)
		tx_to = app->tx_total;
	if (rx_to > app->rx_total)
		rx_to = app->rx_total;
	set_nonblock(fd);
	for (;;) {
		bool want_tx = app->tx < tx_to, want_rx = app->rx < rx_to;

		if (wait_state && tcp_state(fd) == wait_state)
			return 0;
		if (!wait_state && !want_tx && !want_rx)
			return 0;
		if (now_s() > end) {
			snprintf(msg, msglen,
				 "timeout at tx=%llu rx=%llu state=%d",
				 (unsigned long long)app->tx,
				 (unsigned long long)app->rx, tcp_state(fd));
			return -1;
		}
		pfd.events = (want_tx ? POLLOUT : 0) | (want_rx ? POLLIN : 0);
		if (poll(&pfd, 1, wait_state || !pfd.events ? 2 : 100) < 0 &&
		    errno != EINTR) {
			snprintf(msg, msglen, "poll: %s", strerror(errno));
			return -1;
		}
		if (want_rx && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			uint64_t want = rx_to - app->rx;
			int64_t bad;

			n = read(fd, buf, want < CHUNK ? want : CHUNK);
			if (n == 0)
				return 1;
			if (n < 0 && errno != EAGAIN) {
				snprintf(msg, msglen, "read at %llu: %s",
					 (unsigned long long)app->rx,
					 strerror(errno));
				return -1;
			}
			if (n > 0) {
				bad = stream_check(SEED_C2S, app->rx, buf, n);
				if (bad >= 0) {
					snprintf(msg, msglen,
						 "received byte %lld is wrong",
						 (long long)bad);
					return -1;
				}
				app->rx += n;
			}
		}
		if (want_tx && (pfd.revents & (POLLOUT | POLLERR))) {
			uint64_t want = tx_to - app->tx;

			if (want > CHUNK)
				want = CHUNK;
			stream_fill(SEED_S2C, app->tx, buf, want);
			n = send(fd, buf, want, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && errno != EAGAIN) {
				snprintf(msg, msglen, "send at %llu: %s",
					 (unsigned long long)app->tx,
					 strerror(errno));
				return -1;
			}
			if (n > 0)
				app->tx += n;
		}
	}
}

long app_burst(int fd, struct app *app, uint64_t len)
{
	static uint8_t buf[CHUNK];
	long done = 0;
	ssize_t n;

	if (len > app->tx_total - app->tx)
		len = app->tx_total - app->tx;
	while (len) {
		size_t want = len < CHUNK ? len : CHUNK;

		stream_fill(SEED_S2C, app->tx, buf, want);
		n = send(fd, buf, want, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0)
			break;
		app->tx += n;
		len -= n;
		done += n;
	}
	return done;
}

int app_finish(int fd, struct app *app, double timeout, char *msg,
	       size_t msglen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	double end = now_s() + timeout;
	uint8_t c[256];
	ssize_t n;
	int ret;

	ret = app_pump(fd, app, app->tx_total, app->rx_total, 0, timeout, msg,
		       msglen);
	if (ret == 1)
		snprintf(msg, msglen, "EOF after %llu of %llu bytes",
			 (unsigned long long)app->rx,
			 (unsigned long long)app->rx_total);
	if (ret)
		return -1;
	/* our FIN may already be out (FIN-WAIT states) */
	shutdown(fd, SHUT_WR);
	for (;;) {
		if (now_s() > end) {
			snprintf(msg, msglen, "no EOF from the peer");
			return -1;
		}
		poll(&pfd, 1, 100);
		n = read(fd, c, sizeof(c));
		if (n == 0)
			break;
		if (n > 0) {
			snprintf(msg, msglen, "data after the expected end");
			return -1;
		}
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(msg, msglen, "read for EOF: %s",
				 strerror(errno));
			return -1;
		}
	}
	close(fd);
	return 0;
}
