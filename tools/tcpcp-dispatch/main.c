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
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "tcpcp.h"

struct dstats dstats;

enum cstate { C_PEEK = 1, C_ASKED };

struct conn {
	int fd;
	enum cstate state;
	bool in_ep; /* it has an epoll entry (maybe disabled) */
	bool armed; /* that one-shot entry may still fire */
	bool lowat; /* SO_RCVLOWAT raised: set back to 1 when asked */
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

/*
 * The event loop is epoll: the loop's own fds (watch) are registered while
 * they are wanted and changed only when that changes; a connection being
 * peeked at has a one-shot entry, armed again only when it must wait for
 * more, so that the usual connection costs one epoll_ctl or none.  An
 * event's data is its kind and fd; connections are found by fd (fdidx).
 */
enum ev_kind {
	EV_SIG = 0,
	EV_LISTEN,
	EV_SCRIPT_IN,
	EV_SCRIPT_OUT,
	EV_HAND,
	EV_NWATCH,
	EV_CONN = EV_NWATCH
};
#define EV_DATA(kind, fd) ((uint64_t)(kind) << 32 | (uint32_t)(fd))
#define EV_BATCH 128
/* accept() at most this many at once, fewer while the queue runs dry */
#define ACCEPT_MAX 64

static int epfd = -1;
static struct {
	int fd;
	uint32_t events;
} watch[EV_NWATCH] = { [0 ... EV_NWATCH - 1] = { -1, 0 } };
static unsigned int *fdidx; /* fd -> index in conns */
static size_t fdidx_len;
/* listening on one address, not any: that is every connection's local end */
static bool local_fixed;

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

static void watch_set(enum ev_kind kind, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events,
				  .data.u64 = EV_DATA(kind, fd) };
	int op = EPOLL_CTL_ADD;

	if (fd < 0 || !events)
		fd = -1, events = 0;
	if (watch[kind].fd == fd && watch[kind].events == events)
		return;
	if (watch[kind].fd >= 0 && watch[kind].fd != fd)
		epoll_ctl(epfd, EPOLL_CTL_DEL, watch[kind].fd, NULL);
	else if (watch[kind].fd >= 0)
		op = EPOLL_CTL_MOD;
	watch[kind].fd = -1;
	watch[kind].events = 0;
	if (fd < 0)
		return;
	if (epoll_ctl(epfd, op, fd, &ev) < 0) {
		dlog(0, "epoll_ctl: %s", strerror(errno));
		return; /* tried again next turn */
	}
	watch[kind].fd = fd;
	watch[kind].events = events;
}

void loop_forget(int fd)
{
	if (fd < 0)
		return;
	for (int k = 0; k < EV_NWATCH; k++)
		if (watch[k].fd == fd)
			watch_set(k, -1, 0);
}

/* Wake when the client sends more (or ends): one-shot */
static void conn_arm(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
				  .data.u64 = EV_DATA(EV_CONN, c->fd) };

	if (epoll_ctl(epfd, c->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd,
		      &ev) < 0) {
		/* its deadline still comes: it is asked with what it sent */
		dlog(0, "epoll_ctl: %s", strerror(errno));
		return;
	}
	c->in_ep = c->armed = true;
}

/* It is not peeked at any more: no event may name it after this */
static void conn_disarm(struct conn *c)
{
	if (c->armed)
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_ep = c->in_ep && !c->armed;
	c->armed = false;
}

static void conn_drop(unsigned int i)
{
	conns[i] = conns[--nconns];
	if (i < nconns)
		fdidx[conns[i].fd] = i;
}

/* What the client sent so far, into peekbuf, without consuming it */
static ssize_t conn_peek(struct conn *c)
{
	return recv(c->fd, peekbuf, dconf.peek_max, MSG_PEEK | MSG_DONTWAIT);
}

/*
 * Ask the script with the first len bytes of peekbuf (SIZE_MAX: peek
 * first); on failure the connection falls back at once
 */
static void conn_ask(unsigned int i, size_t len)
{
	struct conn *c = &conns[i];
	int ret;

	conn_disarm(c);
	if (len == SIZE_MAX) {
		ssize_t n = conn_peek(c);

		len = n > 0 ? (size_t)n : 0;
	}
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

/*
 * The client sent something (events from epoll), or was just accepted
 * (events 0): enough to ask?  If not, wait for more.
 */
static void conn_readable(unsigned int i, uint32_t events)
{
	struct conn *c = &conns[i];
	ssize_t n = conn_peek(c);
	int lowat;

	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		conn_arm(c);
		return;
	}
	if (n <= 0) {
		/* gone before it said anything: nothing to dispatch */
		dlog(1, "connection %s before its request",
		     n ? strerror(errno) : "closed");
		conn_disarm(c);
		close(c->fd);
		conn_drop(i);
		return;
	}
	if ((size_t)n >= dconf.peek_max || has_delim(peekbuf, (size_t)n) ||
	    (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		conn_ask(i, (size_t)n); /* what it sent is in peekbuf */
		return;
	}
	/* wake again only when more than this has arrived (or at FIN) */
	c->seen = (size_t)n;
	lowat = (int)n + 1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	c->lowat = true;
	conn_arm(c);
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
		bool lowat = c->lowat;
		int fd = c->fd;

		if (c->state != C_ASKED || c->id != id)
			continue;
		dstats.script_us += now_us() - c->asked_us;
		dstats.answered++;
		conn_drop(i);
		if (lowat) /* otherwise it is 1 already */
			setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one,
				   sizeof(one));
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

static bool fdidx_fit(int fd)
{
	size_t n = fdidx_len ? fdidx_len : 1024;
	unsigned int *p;

	if ((size_t)fd < fdidx_len)
		return true;
	while (n <= (size_t)fd)
		n *= 2;
	p = realloc(fdidx, n * sizeof(*p));
	if (!p)
		return false;
	fdidx = p;
	fdidx_len = n;
	return true;
}

/*
 * Up to max connections (the listening socket is level-triggered: what is
 * left wakes the next turn); true when all max came, so that there may be
 * more.  Each is peeked at once: its request has usually come with it.
 */
static bool do_accept(int lfd, unsigned int max)
{
	struct conn *c;
	socklen_t l;
	int fd;

	for (unsigned int k = 0; k < max; k++) {
		if (nconns >= dconf.max_conns)
			return false;
		c = &conns[nconns];
		memset(c, 0, sizeof(*c));
		l = sizeof(c->client);
		fd = accept4(lfd, (struct sockaddr *)&c->client, &l,
			     SOCK_CLOEXEC);
		if (fd < 0)
			return false;
		if (!local_fixed) {
			l = sizeof(c->local);
			getsockname(fd, (struct sockaddr *)&c->local, &l);
		} else {
			memcpy(&c->local, &dconf.addr, dconf.addrlen);
		}
		dstats.accepted++;
		if (!fdidx_fit(fd)) {
			hand_fallback(fd, "out of memory");
			continue;
		}
		c->fd = fd;
		c->state = C_PEEK;
		c->deadline = now_ms() + dconf.peek_timeout_ms;
		fdidx[fd] = nconns++;
		conn_readable(nconns - 1, 0);
	}
	return true;
}

static void on_deadline(uint64_t now)
{
	bool killed = false;

	for (unsigned int i = 0; i < nconns;) {
		struct conn *c = &conns[i];

		if (c->deadline > now) {
			i++;
		} else if (c->state == C_PEEK) {
			/* with what came; it may be dropped */
			conn_ask(i, SIZE_MAX);
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
	struct epoll_event ev[EV_BATCH];
	unsigned int accept_max = 1;
	bool accept_more = false;

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return 1;
	watch_set(EV_SIG, sfd, EPOLLIN);
	for (;;) {
		uint64_t now = now_ms(), next = now + 1000;
		bool ready[EV_NWATCH] = { false };
		int r;

		for (unsigned int i = 0; i < nconns; i++)
			if (conns[i].deadline < next)
				next = conns[i].deadline;
		/* a script that ended starts again as soon as it may */
		if (script_restart_at() <= now)
			script_ensure();
		else if (script_restart_at() < next)
			next = script_restart_at();
		watch_set(EV_LISTEN, nconns < dconf.max_conns ? lfd : -1,
			  EPOLLIN);
		watch_set(EV_SCRIPT_IN, script_fd(), EPOLLIN);
		watch_set(EV_SCRIPT_OUT, script_out_fd(), EPOLLOUT);
		watch_set(EV_HAND, hand_fd(), EPOLLIN);
		r = epoll_wait(epfd, ev, EV_BATCH,
			       next > now ? (int)(next - now) : 0);
		if (r < 0 && errno != EINTR)
			return 1;
		for (int k = 0; k < r; k++) {
			unsigned int kind =
				(unsigned int)(ev[k].data.u64 >> 32);
			int fd = (int)(uint32_t)ev[k].data.u64;

			/* an fd given up meanwhile is not this one any more */
			if (kind < EV_NWATCH && watch[kind].fd == fd)
				ready[kind] = true;
		}
		if (ready[EV_SIG]) {
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
		if (ready[EV_SCRIPT_OUT])
			script_flush();
		if (ready[EV_HAND])
			hand_read();
		if (ready[EV_SCRIPT_IN])
			script_read(answer);
		hand_flush(); /* the moves answered: one message call */
		for (int k = 0; k < r; k++) {
			int fd = (int)(uint32_t)ev[k].data.u64;
			unsigned int i;

			if (ev[k].data.u64 >> 32 != EV_CONN ||
			    (size_t)fd >= fdidx_len)
				continue;
			i = fdidx[fd];
			if (i >= nconns || conns[i].fd != fd ||
			    conns[i].state != C_PEEK)
				continue;
			conns[i].armed = false; /* one-shot: it fired */
			conn_readable(i, ev[k].events);
		}
		on_deadline(now_ms());
		/* more at once while the queue keeps up with us, else one */
		if (ready[EV_LISTEN] && accept_more)
			accept_max = accept_max * 2 < ACCEPT_MAX ?
					     accept_max * 2 :
					     ACCEPT_MAX;
		else
			accept_max = (accept_max + 1) / 2;
		accept_more = ready[EV_LISTEN] && do_accept(lfd, accept_max);
		if (script_out_fd() < 0) /* else: waits for EPOLLOUT */
			script_flush(); /* this turn's requests at once */
		fail_asked((int)script_gen(), "the script ended or was killed");
	}
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
	if (dconf.addr.ss_family == AF_INET6)
		local_fixed = !IN6_IS_ADDR_UNSPECIFIED(
			&((struct sockaddr_in6 *)&dconf.addr)->sin6_addr);
	else
		local_fixed =
			((struct sockaddr_in *)&dconf.addr)->sin_addr.s_addr !=
			htonl(INADDR_ANY);
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
