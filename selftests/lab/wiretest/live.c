// SPDX-License-Identifier: GPL-2.0
/*
 * Live wire tests: a real connection over loopback in a network namespace of
 * our own (unshare; it goes away with the test process), captured with
 * tcpdump, between peer and a small server here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "live.h"
#include "stream.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *bin_path(const char *tool)
{
	static char path[PATH_MAX + 64];
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return tool;
	self[n] = 0;
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	snprintf(path, sizeof(path), "%s/%s", self, tool);
	return path;
}

static pid_t spawn(char *const argv[], int outfd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		if (outfd >= 0) {
			dup2(outfd, 1);
			dup2(outfd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Collect what fd gives until EOF or the deadline; returns bytes read. */
static size_t slurp(int fd, char *out, size_t outlen, double deadline,
		    const char *until)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;
	int ms;

	out[0] = 0;
	while (got < outlen - 1) {
		ms = (int)((deadline - now()) * 1000);
		if (ms <= 0 || poll(&pfd, 1, ms) <= 0)
			break;
		n = read(fd, out + got, outlen - 1 - got);
		if (n <= 0)
			break;
		got += n;
		out[got] = 0;
		if (until && strstr(out, until))
			break;
	}
	return got;
}

/* Wait for pid until the deadline (then kill it); returns the exit status. */
static int reap(pid_t pid, double deadline)
{
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		poll(NULL, 0, 5);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int run_tool(char *const argv[], char *out, size_t outlen, double timeout)
{
	double deadline = now() + timeout;
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = spawn(argv, p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	slurp(p[0], out, outlen, deadline, NULL);
	close(p[0]);
	return reap(pid, deadline);
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!ret)
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return ret;
}

static socklen_t mkaddr(int family, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

void live_init(struct live *l)
{
	memset(l, 0, sizeof(*l));
	l->lfd = l->peer_fd = l->td_fd = -1;
	l->tcpdump = l->peer = -1;
}

const char *live_start(struct live *l, int family)
{
	char *td[] = { "/usr/bin/tcpdump",
		       "-i",
		       "lo",
		       "-n",
		       "-s",
		       "0",
		       "-B",
		       "16384",
		       "-U",
		       "-Z",
		       "root",
		       "-w",
		       l->pcap,
		       "tcp port 8080 or udp port 9",
		       NULL };
	struct sockaddr_storage ss;
	char buf[1024];
	socklen_t sl;
	int p[2], one = 1;

	live_init(l);
	l->family = family;
	l->addr = family == AF_INET ? "127.0.0.1" : "::1";
	if (geteuid())
		return "needs root (network namespace, tcpdump)";
	if (access(td[0], X_OK))
		return "needs /usr/bin/tcpdump";
	if (unshare(CLONE_NEWNET))
		return "unshare(CLONE_NEWNET) failed";
	if (lo_up())
		return "cannot set lo up in the new namespace";
	strcpy(l->dir, "/tmp/tcpcp-wiretest-XXXXXX");
	if (!mkdtemp(l->dir))
		return "mkdtemp failed";
	snprintf(l->pcap, sizeof(l->pcap), "%s/cap.pcap", l->dir);

	if (pipe2(p, O_CLOEXEC))
		return "pipe failed";
	l->tcpdump = spawn(td, p[1]);
	close(p[1]);
	/* "listening on lo, ..." once the capture runs */
	slurp(p[0], buf, sizeof(buf), now() + 10, "listening on");
	l->td_fd = p[0]; /* kept open: tcpdump reports on it when it stops */
	if (!strstr(buf, "listening on"))
		return "tcpdump did not start";

	l->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sl = mkaddr(family, LIVE_PORT, &ss);
	setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->lfd < 0 || bind(l->lfd, (struct sockaddr *)&ss, sl) ||
	    listen(l->lfd, 4))
		return "cannot listen on loopback";
	return NULL;
}

int live_peer(struct live *l, const char *const *args)
{
	char *argv[32];
	int n = 0, p[2];

	argv[n++] = (char *)bin_path("peer");
	argv[0] = strdup(argv[0]);
	argv[n++] = "-c";
	argv[n++] = (char *)l->addr;
	argv[n++] = "-p";
	argv[n++] = "8080";
	while (*args && n < 31)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	l->peer = spawn(argv, p[1]);
	free(argv[0]);
	close(p[1]);
	l->peer_fd = p[0];
	return l->peer > 0 ? 0 : -1;
}

/*
 * Serve one connection: send @nsend bytes of stream seed_tx, receive and check
 * @nrecv bytes of seed_rx; mode LIVE_RST resets after the first bytes
 * arrive.  Returns NULL or what went wrong.
 */
const char *live_serve(struct live *l, uint64_t nsend, uint64_t nrecv,
		       uint32_t seed_tx, uint32_t seed_rx, int mode)
{
	static uint8_t buf[65536];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	double deadline = now() + 30;
	uint64_t sent = 0, rcvd = 0;
	struct pollfd pfd = { .fd = l->lfd, .events = POLLIN };
	bool eof = false, shut = false;
	ssize_t n;
	int fd;

	if (poll(&pfd, 1, 10000) != 1)
		return "no connection from peer";
	fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return "accept failed";
	while (!(eof && shut) && now() < deadline) {
		if (sent == nsend && !shut && mode != LIVE_RST) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		pfd.fd = fd;
		pfd.events = (eof ? 0 : POLLIN) | (sent < nsend ? POLLOUT : 0);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0 && errno != EAGAIN) {
				close(fd);
				return "recv failed";
			}
			if (n == 0)
				eof = true;
			if (n > 0) {
				if (rcvd + n > nrecv ||
				    stream_check(seed_rx, rcvd, buf, n) >= 0) {
					close(fd);
					return "server received wrong bytes";
				}
				rcvd += n;
				if (mode == LIVE_RST) {
					/* close with SO_LINGER 0: the kernel sends RST */
					setsockopt(fd, SOL_SOCKET, SO_LINGER,
						   &lg, sizeof(lg));
					close(fd);
					return NULL;
				}
			}
		}
		if ((pfd.revents & POLLOUT) && sent < nsend) {
			n = nsend - sent < sizeof(buf) ? nsend - sent :
							 sizeof(buf);
			stream_fill(seed_tx, sent, buf, n);
			n = write(fd, buf, n);
			if (n > 0)
				sent += n;
		}
	}
	close(fd);
	if (!eof || !shut)
		return "server timed out";
	return NULL;
}

/* Wait for peer, flush the capture through a marker, stop tcpdump. */
int live_finish(struct live *l, char *out, size_t outlen)
{
	char *mark[] = { (char *)bin_path("peer"),
			 "--mark",
			 l->pcap,
			 "-c",
			 (char *)l->addr,
			 "-p",
			 "9",
			 "--timeout",
			 "10",
			 NULL };
	char buf[256];
	int rc;

	if (l->peer <= 0)
		return -1;
	slurp(l->peer_fd, out, outlen, now() + 60, NULL);
	close(l->peer_fd);
	l->peer_fd = -1;
	rc = reap(l->peer, now() + 60);
	l->peer = -1;
	if (l->tcpdump > 0) {
		mark[0] = strdup(mark[0]);
		l->mark_rc = run_tool(mark, buf, sizeof(buf), 20);
		free(mark[0]);
		kill(l->tcpdump, SIGINT);
		reap(l->tcpdump, now() + 10);
		l->tcpdump = -1;
		slurp(l->td_fd, l->td_out, sizeof(l->td_out), now() + 1, NULL);
	}
	return rc;
}

int live_check(struct live *l, const char *tool, bool fins, char *out,
	       size_t outlen)
{
	char server[64];
	char *argv[] = { (char *)tool, "--server", server, l->pcap,
			 NULL,	       NULL,	   NULL };

	snprintf(server, sizeof(server),
		 l->family == AF_INET ? "%s:8080" : "[%s]:8080", l->addr);
	if (fins) {
		argv[3] = "--server-fin";
		argv[4] = "--client-fin";
		argv[5] = l->pcap;
	}
	return run_tool(argv, out, outlen, 60);
}

void live_cleanup(struct live *l)
{
	char path[sizeof(l->pcap)];

	if (l->peer > 0) {
		kill(l->peer, SIGKILL);
		waitpid(l->peer, NULL, 0);
	}
	if (l->tcpdump > 0) {
		kill(l->tcpdump, SIGKILL);
		waitpid(l->tcpdump, NULL, 0);
	}
	if (l->peer_fd >= 0)
		close(l->peer_fd);
	if (l->td_fd >= 0)
		close(l->td_fd);
	if (l->lfd >= 0)
		close(l->lfd);
	if (l->dir[0]) {
		if (!getenv("WIRETEST_KEEP"))
			unlink(l->pcap);
		snprintf(path, sizeof(path), "%s", l->dir);
		rmdir(path);
	}
}
