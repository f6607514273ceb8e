// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp-dispatch - dispatch accepted connections to back ends by script.
 *
 *   tcpcp-dispatch -l ADDR:PORT -b NAME=DEST [-b NAME=DEST]... [OPTIONS]
 *                  -- SCRIPT [ARG]...
 *
 * One thread runs the event loop (accept, peek without consuming, the
 * script's answers, deadlines); hand-offs run in threads of their own
 * (hand.c).  Exit 0 on SIGTERM/SIGINT, 1 on failure, 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "tcpcp.h"

struct dconf dconf = {
	.peek_max = 4096,
	.peek_timeout_ms = 1000,
	.script_timeout_ms = 1000,
	.max_conns = 1024,
	.fallback = FB_CLOSE,
};
struct dstats dstats;

enum cstate { C_PEEK = 1, C_ASKED };

struct conn {
	int fd;
	enum cstate state;
	uint64_t id;
	unsigned int gen; /* script_gen() when asked */
	uint64_t deadline, asked_us;
	size_t seen;
	struct sockaddr_storage client, local;
};

static struct conn *conns;
static unsigned int nconns;
static uint8_t *peekbuf;
static uint64_t next_id;

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void dlog(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (level > dconf.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "tcpcp-dispatch: %s\n", buf);
}

static void lib_log(int level, const char *msg, void *arg)
{
	(void)arg;
	dlog(level <= TCPCP_LOG_WARN ? 0 : 2, "libtcpcp: %s", msg);
}

static void print_stats(void)
{
	struct dstats *s = &dstats;

	fprintf(stderr,
		"tcpcp-dispatch: stats: accepted=%" PRIu64 " asked=%" PRIu64
		" moved=%" PRIu64 " move_failed=%" PRIu64 " fallback=%" PRIu64
		" rejected=%" PRIu64 " script_restarts=%" PRIu64
		" script_timeouts=%" PRIu64 " bad_answers=%" PRIu64 "\n",
		s->accepted, s->asked, s->moved, s->move_failed, s->fallback,
		s->rejected, s->script_restarts, s->script_timeouts,
		s->bad_answers);
	if (dconf.verbose && (s->answered || s->moved)) {
		uint64_t n = s->moved ? s->moved : 1;

		/* tcpcpd's phases end at t_us[phase] after the move started */
		fprintf(stderr,
			"tcpcp-dispatch: averages: script %" PRIu64
			" us; move: dump %" PRIu64 " connect %" PRIu64
			" prepare %" PRIu64 " redirect %" PRIu64
			" commit %" PRIu64 " done %" PRIu64 " us\n",
			s->answered ? s->script_us / s->answered : 0,
			s->phase_us[1] / n, s->phase_us[2] / n,
			s->phase_us[3] / n, s->phase_us[4] / n,
			s->phase_us[5] / n, s->phase_us[7] / n);
	}
	for (int i = 0; i < dconf.nbackends; i++)
		fprintf(stderr,
			"tcpcp-dispatch: backend %s: moved=%" PRIu64
			" failed=%" PRIu64 "\n",
			dconf.be[i].name, dconf.be[i].moved,
			dconf.be[i].failed);
}

static void conn_drop(unsigned int i)
{
	conns[i] = conns[--nconns];
}

static size_t conn_peek(struct conn *c)
{
	ssize_t n =
		recv(c->fd, peekbuf, dconf.peek_max, MSG_PEEK | MSG_DONTWAIT);

	return n > 0 ? (size_t)n : 0;
}

/* Ask the script; on failure the connection falls back at once */
static void conn_ask(unsigned int i)
{
	struct conn *c = &conns[i];
	size_t len = conn_peek(c);
	int ret;

	c->id = ++next_id;
	ret = script_ask(c->id, &c->client, &c->local, peekbuf, len);
	if (ret) {
		hand_fallback(c->fd, "dispatch script unavailable");
		conn_drop(i);
		return;
	}
	c->state = C_ASKED;
	c->asked_us = now_us();
	c->gen = script_gen();
	c->deadline = now_ms();
	if (script_grace_until() > c->deadline)
		c->deadline = script_grace_until(); /* it is still starting */
	c->deadline += dconf.script_timeout_ms;
}

static bool has_delim(const uint8_t *p, size_t n)
{
	return dconf.delim_len && memmem(p, n, dconf.delim, dconf.delim_len);
}

/* The client sent something: enough to ask? */
static void conn_readable(unsigned int i, short revents)
{
	struct conn *c = &conns[i];
	ssize_t n =
		recv(c->fd, peekbuf, dconf.peek_max, MSG_PEEK | MSG_DONTWAIT);
	int lowat;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* gone before it said anything: nothing to dispatch */
		dlog(1, "connection %s before its request",
		     n ? strerror(errno) : "closed");
		close(c->fd);
		conn_drop(i);
		return;
	}
	if ((size_t)n >= dconf.peek_max || has_delim(peekbuf, (size_t)n) ||
	    (revents & (POLLRDHUP | POLLHUP | POLLERR))) {
		conn_ask(i);
		return;
	}
	/* wake again only when more than this has arrived (or at FIN) */
	c->seen = (size_t)n;
	lowat = (int)n + 1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
}

/* Requests the current script was not asked get the fallback (all: -1) */
static void fail_asked(int keep_gen, const char *why)
{
	for (unsigned int i = 0; i < nconns;) {
		if (conns[i].state == C_ASKED &&
		    (keep_gen < 0 || conns[i].gen != (unsigned int)keep_gen)) {
			hand_fallback(conns[i].fd, why);
			conn_drop(i);
		} else {
			i++;
		}
	}
}

static void answer(uint64_t id, enum answer_kind kind, int be)
{
	int one = 1;

	for (unsigned int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		int fd = c->fd;

		if (c->state != C_ASKED || c->id != id)
			continue;
		dstats.script_us += now_us() - c->asked_us;
		dstats.answered++;
		conn_drop(i);
		setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
		switch (kind) {
		case ANS_BACKEND:
			dlog(2, "%" PRIu64 " -> %s", id, dconf.be[be].name);
			hand_move(fd, be);
			break;
		case ANS_KEEP:
			hand_fallback(fd, "the script keeps it");
			break;
		case ANS_REJECT:
			hand_reject(fd);
			break;
		default:
			hand_fallback(fd, "bad answer");
			break;
		}
		return;
	}
	dlog(1, "answer for %" PRIu64 " comes too late", id);
}

static void do_accept(int lfd)
{
	struct conn *c;
	socklen_t l;
	int fd;

	while (nconns < dconf.max_conns) {
		c = &conns[nconns];
		memset(c, 0, sizeof(*c));
		l = sizeof(c->client);
		fd = accept4(lfd, (struct sockaddr *)&c->client, &l,
			     SOCK_CLOEXEC);
		if (fd < 0)
			return;
		l = sizeof(c->local);
		getsockname(fd, (struct sockaddr *)&c->local, &l);
		c->fd = fd;
		c->state = C_PEEK;
		c->deadline = now_ms() + dconf.peek_timeout_ms;
		nconns++;
		dstats.accepted++;
	}
}

static void on_deadline(uint64_t now)
{
	bool killed = false;

	for (unsigned int i = 0; i < nconns;) {
		struct conn *c = &conns[i];

		if (c->deadline > now) {
			i++;
		} else if (c->state == C_PEEK) {
			conn_ask(i); /* with what came; it may be dropped */
		} else if (c->gen != script_gen()) {
			hand_fallback(c->fd, "the script was restarted");
			conn_drop(i);
		} else {
			if (!killed) {
				dstats.script_timeouts++;
				script_kill("no answer in time");
				killed = true;
			}
			hand_fallback(c->fd, "no answer in time");
			conn_drop(i);
		}
	}
}

static int loop(int lfd, int sfd)
{
	struct pollfd *p = calloc(dconf.max_conns + 5, sizeof(*p));

	if (!p)
		return 1;
	for (;;) {
		uint64_t now = now_ms(), next = now + 1000;
		unsigned int n = 0, first;
		int sc = script_fd(), r;

		for (unsigned int i = 0; i < nconns; i++)
			if (conns[i].deadline < next)
				next = conns[i].deadline;
		/* a script that ended starts again as soon as it may */
		if (script_restart_at() <= now)
			script_ensure();
		else if (script_restart_at() < next)
			next = script_restart_at();
		sc = script_fd();
		p[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = nconns < dconf.max_conns ? lfd :
									   -1,
					  .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = sc, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = script_out_fd(),
					  .events = POLLOUT };
		p[n++] = (struct pollfd){ .fd = hand_fd(), .events = POLLIN };
		first = n;
		for (unsigned int i = 0; i < nconns; i++)
			p[n++] = (struct pollfd){
				.fd = conns[i].state == C_PEEK ? conns[i].fd :
								 -1,
				.events = POLLIN | POLLRDHUP
			};
		r = poll(p, n, next > now ? (int)(next - now) : 0);
		if (r < 0 && errno != EINTR)
			return 1;
		if (r > 0 && p[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					script_reap();
				else if (si.ssi_signo == SIGUSR1)
					print_stats();
				else
					break;
			}
		}
		if (r > 0 && p[3].fd >= 0 && p[3].revents)
			script_flush();
		if (r > 0 && p[4].fd >= 0 && p[4].revents)
			hand_read();
		if (r > 0 && sc >= 0 && p[2].revents)
			script_read(answer);
		/* connections by fd, from the end: conn_drop moves the last */
		for (unsigned int k = n; r > 0 && k-- > first;) {
			unsigned int i = k - first;

			if (!p[k].revents || i >= nconns ||
			    conns[i].fd != p[k].fd)
				continue;
			conn_readable(i, p[k].revents);
		}
		on_deadline(now_ms());
		fail_asked((int)script_gen(), "the script ended or was killed");
		if (r > 0 && p[1].revents)
			do_accept(lfd);
	}
	free(p);
	return 0;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	char host[128], *colon, *end;
	unsigned long port;

	if (strlen(s) >= sizeof(host))
		return -1;
	strcpy(host, s);
	colon = strrchr(host, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || !port || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		struct sockaddr_in6 *s6 = (void *)ss;

		colon[-1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 :
									    -1;
	} else {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
	}
}

/* \r \n \t \\ in a delimiter */
static int parse_delim(const char *s)
{
	size_t o = 0;

	if (!strcmp(s, "http"))
		s = "\\r\\n\\r\\n";
	for (; *s; s++) {
		char c = *s;

		if (c == '\\') {
			s++;
			c = *s == 'r'  ? '\r' :
			    *s == 'n'  ? '\n' :
			    *s == 't'  ? '\t' :
			    *s == '\\' ? '\\' :
					 0;
			if (!c)
				return -1;
		}
		if (o + 1 >= sizeof(dconf.delim))
			return -1;
		dconf.delim[o++] = c;
	}
	dconf.delim_len = o;
	return o ? 0 : -1;
}

static int uint_arg(const char *opt, const char *s, unsigned long max,
		    unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno || *end || end == s || *v > max) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: %s wants 0..%lu\n", s,
			opt, max);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tcpcp-dispatch -l ADDR:PORT -b NAME=DEST [-b NAME=DEST]...\n"
		"           [-s SOCKET | --direct] [-m PEEK_MAX] [-d DELIM] [-t PEEK_MS]\n"
		"           [-T SCRIPT_MS] [-M MOVE_MS] [-f close|503|exec:PROGRAM]\n"
		"           [-n MAX_CONNS] [-v]... -- SCRIPT [ARG]...\n");
}

static int backend_arg(const char *s)
{
	const char *eq = strchr(s, '=');
	struct backend *b = &dconf.be[dconf.nbackends];
	size_t nl;

	if (dconf.nbackends == DISP_MAX_BACKENDS || !eq || eq == s || !eq[1] ||
	    (nl = (size_t)(eq - s)) >= DISP_NAME_LEN ||
	    strlen(eq + 1) >= DISP_DEST_LEN || strcspn(s, " \t:") < nl) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: NAME=DEST, NAME without blanks or ':'\n",
			s);
		return -1;
	}
	memcpy(b->name, s, nl);
	strcpy(b->dest, eq + 1);
	if (!strcmp(b->name, "keep") || !strcmp(b->name, "reject")) {
		fprintf(stderr,
			"Error: argument \"%s\" is wrong: %s is an answer\n", s,
			b->name);
		return -1;
	}
	dconf.nbackends++;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, NULL, 'l' },
		{ "backend", 1, NULL, 'b' },
		{ "socket", 1, NULL, 's' },
		{ "direct", 0, NULL, 'D' },
		{ "peek-max", 1, NULL, 'm' },
		{ "delim", 1, NULL, 'd' },
		{ "peek-timeout", 1, NULL, 't' },
		{ "script-timeout", 1, NULL, 'T' },
		{ "move-timeout", 1, NULL, 'M' },
		{ "fallback", 1, NULL, 'f' },
		{ "max-conns", 1, NULL, 'n' },
		{ "verbose", 0, NULL, 'v' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int o;

	while ((o = getopt_long(argc, argv, "+l:b:s:m:d:t:T:M:f:n:vh", lo,
				NULL)) != -1) {
		switch (o) {
		case 'l':
			dconf.listen = optarg;
			if (parse_addr(optarg, &dconf.addr, &dconf.addrlen)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: ADDR:PORT or [ADDR6]:PORT\n",
					optarg);
				return -1;
			}
			break;
		case 'b':
			if (backend_arg(optarg))
				return -1;
			break;
		case 's':
			dconf.tcpcpd_sock = optarg;
			break;
		case 'D':
			dconf.direct = true;
			break;
		case 'm':
			if (uint_arg("peek-max", optarg, 65536, &v) || !v)
				return -1;
			dconf.peek_max = v;
			break;
		case 'd':
			if (parse_delim(optarg)) {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: up to 15 bytes, \\r \\n \\t \\\\ or \"http\"\n",
					optarg);
				return -1;
			}
			break;
		case 't':
		case 'T':
		case 'M':
			if (uint_arg(o == 't' ? "peek-timeout" :
				     o == 'T' ? "script-timeout" :
						"move-timeout",
				     optarg, 600000, &v))
				return -1;
			*(o == 't' ? &dconf.peek_timeout_ms :
			  o == 'T' ? &dconf.script_timeout_ms :
				     &dconf.move_timeout_ms) = (unsigned int)v;
			break;
		case 'f':
			if (!strcmp(optarg, "close")) {
				dconf.fallback = FB_CLOSE;
			} else if (!strcmp(optarg, "503")) {
				dconf.fallback = FB_503;
			} else if (!strncmp(optarg, "exec:", 5) && optarg[5]) {
				dconf.fallback = FB_EXEC;
				dconf.fallback_prog = optarg + 5;
			} else {
				fprintf(stderr,
					"Error: argument \"%s\" is wrong: close, 503 or exec:PROGRAM\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (uint_arg("max-conns", optarg, 65536, &v) || !v)
				return -1;
			dconf.max_conns = (unsigned int)v;
			break;
		case 'v':
			dconf.verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (!dconf.listen || !dconf.nbackends || optind >= argc) {
		fprintf(stderr, "Error: %s is missing\n",
			!dconf.listen	 ? "-l ADDR:PORT" :
			!dconf.nbackends ? "-b NAME=DEST" :
					   "the dispatch script after --");
		usage(stderr);
		return -1;
	}
	dconf.script = argv + optind;
	return 0;
}

static int listen_on(void)
{
	int one = 1, fd;

	fd = socket(dconf.addr.ss_family,
		    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dconf.addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&dconf.addr, dconf.addrlen) < 0 ||
	    listen(fd, 4096) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int lfd, sfd, ret;

	if (parse_args(argc, argv))
		return 2;
	conns = calloc(dconf.max_conns, sizeof(*conns));
	peekbuf = malloc(dconf.peek_max);
	if (!conns || !peekbuf)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	tcpcp_set_log(TCPCP_LOG_DEBUG, lib_log, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	lfd = listen_on();
	if (sfd < 0 || lfd < 0) {
		fprintf(stderr, "Error: cannot listen on %s: %s\n",
			dconf.listen, strerror(lfd < 0 ? -lfd : errno));
		return 1;
	}
	/* now, so that the first request does not wait for it to start */
	ret = script_ensure();
	if (ret)
		fprintf(stderr, "tcpcp-dispatch: cannot start %s: %s\n",
			dconf.script[0], strerror(-ret));
	fprintf(stderr, "tcpcp-dispatch: listening on %s, %d back ends, %s\n",
		dconf.listen, dconf.nbackends,
		dconf.direct ? "direct" : "through tcpcpd");
	ret = loop(lfd, sfd);
	close(lfd);
	/* connections still being peeked at or asked about stay ours */
	fail_asked(-1, "shutting down");
	for (unsigned int i = 0; i < nconns; i++)
		hand_fallback(conns[i].fd, "shutting down");
	nconns = 0;
	if (hand_wait_all(10000))
		fprintf(stderr,
			"tcpcp-dispatch: hand-offs still running at exit\n");
	dconf.script = NULL; /* no restart */
	script_kill("shutting down");
	print_stats();
	return ret;
}
