// SPDX-License-Identifier: GPL-2.0
/*
 * What happens to a connection once the dispatch script has answered (or
 * failed to): each hand-off runs in its own detached thread that owns the
 * socket from then on.
 *
 *   move      hand the socket to the local tcpcpd (MOVE over its UNIX
 *             socket) for the back end's daemon; a move that fails before
 *             its commit point leaves the connection here: fall back.
 *             Without a thread: one connection to the daemon carries the
 *             MOVEs and their RESULTs (hand_read, from the main loop).
 *   direct    dump (isolate), discard, re-create and activate with
 *             libtcpcp in this process, and run the back end's program on
 *             the new socket: dispatcher and back ends share a host.
 *   fallback  the connection stays here: a local program serves it, or a
 *             static HTTP 503, or a plain close.  The request is read
 *             first and the client's FIN awaited, so that closing never
 *             resets the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "dispatch.h"
#include "tcpcp.h"

#define DRAIN_MS 2000

static unsigned int running; /* threads, atomic */

struct job {
	int fd;
	int backend;
	enum { J_MOVE, J_FALLBACK, J_REJECT } kind;
};

static void run_prog(int fd, const char *prog)
{
	pid_t p = fork();

	if (p == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", prog, (char *)NULL);
		_exit(127);
	}
	if (p < 0)
		dlog(0, "cannot fork for %s: %s", prog, strerror(errno));
	/* the main loop reaps it */
}

/* Read until the client's FIN or DRAIN_MS, discarding */
static void drain(int fd, bool until_eof)
{
	uint64_t end = now_ms() + DRAIN_MS;
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			return;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if (n > 0)
			continue;
		if (!until_eof || now >= end)
			return;
		if (poll(&p, 1, (int)(end - now)) <= 0)
			return;
	}
}

static void fallback(int fd, bool reject)
{
	static const char r503[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 20\r\n"
				   "Connection: close\r\n\r\n"
				   "no back end for you\n";
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	if (!reject && dconf.fallback == FB_EXEC) {
		run_prog(fd, dconf.fallback_prog);
		close(fd);
		return;
	}
	/* what the client sent so far, so that close() sends a FIN */
	drain(fd, false);
	if (!reject && dconf.fallback == FB_503)
		(void)!send(fd, r503, sizeof(r503) - 1, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	drain(fd, true);
	close(fd);
}

static int move_tcpcpd(int fd, struct backend *b)
{
	struct lmsg_result res;
	int c, ret;

	c = ctl_connect(dconf.tcpcpd_sock);
	if (c < 0) {
		dlog(0, "move to %s: cannot reach tcpcpd: %s", b->name,
		     strerror(-c));
		return 0;
	}
	ret = ctl_move(c, fd, b->dest, NULL, 0, dconf.move_timeout_ms, 0, &res);
	close(c);
	if (!ret && !res.err) {
		dlog(2, "moved to %s (%s) in %u us", b->name, b->dest,
		     res.t_us[PHASE_DONE]);
		for (int i = 0; i <= PHASE_DONE && i < 8; i++)
			__atomic_add_fetch(&dstats.phase_us[i], res.t_us[i],
					   __ATOMIC_RELAXED);
		return 1;
	}
	dlog(0, "move to %s (%s) failed in %s: %s%s%s", b->name, b->dest,
	     ret ? "request" : ctl_phase_name(res.phase),
	     strerror(ret ? -ret : res.err), ret ? "" : ": ",
	     ret ? "" : res.msg);
	/* after the commit point the connection is not ours any more */
	return !ret && res.committed ? -1 : 0;
}

static int move_direct(int fd, struct backend *b)
{
	unsigned int lost = 0;
	void *ici = NULL;
	size_t len = 0;
	int ret, nfd;

	ret = tcpcp_dump(fd, 0, &ici, &len);
	if (ret < 0) {
		dlog(0, "direct: dump: %s", strerror(-ret));
		tcpcp_unisolate(fd);
		return 0;
	}
	ret = tcpcp_discard(fd);
	if (ret < 0) {
		dlog(0, "direct: discard: %s", strerror(-ret));
		tcpcp_unisolate(fd);
		free(ici);
		return 0;
	}
	close(fd);
	nfd = tcpcp_create_ex(ici, len, -1, 0, &lost);
	free(ici);
	if (nfd < 0) {
		dlog(0, "direct: create: %s: connection lost", strerror(-nfd));
		return -1;
	}
	ret = tcpcp_activate_ex(nfd);
	if (ret < 0) {
		dlog(0, "direct: activate: %s: connection lost",
		     strerror(-ret));
		close(nfd);
		return -1;
	}
	run_prog(nfd, b->dest);
	close(nfd);
	return 1;
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	struct backend *b;
	int r;

	switch (j->kind) {
	case J_MOVE:
		b = &dconf.be[j->backend];
		__atomic_add_fetch(&b->inflight, 1, __ATOMIC_RELAXED);
		if (dconf.direct)
			r = move_direct(j->fd, b);
		else
			r = move_tcpcpd(j->fd, b);
		__atomic_sub_fetch(&b->inflight, 1, __ATOMIC_RELAXED);
		if (r > 0) {
			__atomic_add_fetch(&b->moved, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&dstats.moved, 1, __ATOMIC_RELAXED);
			if (!dconf.direct)
				close(j->fd);
			break;
		}
		__atomic_add_fetch(&b->failed, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&dstats.move_failed, 1, __ATOMIC_RELAXED);
		if (r < 0) {
			if (!dconf.direct)
				close(j->fd);
			break;
		}
		__atomic_add_fetch(&dstats.fallback, 1, __ATOMIC_RELAXED);
		fallback(j->fd, false);
		break;
	case J_FALLBACK:
		fallback(j->fd, false);
		break;
	case J_REJECT:
		fallback(j->fd, true);
		break;
	}
	free(j);
	__atomic_sub_fetch(&running, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void start(int fd, int kind, int backend)
{
	struct job *j = malloc(sizeof(*j));
	pthread_attr_t a;
	pthread_t t;

	if (!j) {
		close(fd);
		return;
	}
	j->fd = fd;
	j->kind = kind;
	j->backend = backend;
	__atomic_add_fetch(&running, 1, __ATOMIC_ACQUIRE);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 << 10);
	if (pthread_create(&t, &a, job_thread, j)) {
		/* no thread: do it here (blocks the loop, but loses nothing) */
		job_thread(j);
	}
	pthread_attr_destroy(&a);
}

/*
 * Moves through tcpcpd without a thread: MOVE requests go out on one
 * connection to the daemon, many at a time, and their RESULTs come back
 * in any order (matched by request id) to the main loop (hand_read).  A
 * MOVE that cannot be sent so falls back to a thread of its own.
 */
#define PEND_CAP 16384 /* > max_conns: a slot per request in flight */

static struct pend {
	int fd; /* -1: free */
	int backend;
	uint32_t req;
} pend[PEND_CAP];
static int ctl = -1;
static uint32_t next_req = 1;
static unsigned int npend;

static void pend_init(void)
{
	static bool done;

	if (done)
		return;
	for (int i = 0; i < PEND_CAP; i++)
		pend[i].fd = -1;
	done = true;
}

/* The outcome of one move: as job_thread, in the main thread */
static void move_done(struct pend *p, int ret, const struct lmsg_result *res)
{
	struct backend *b = &dconf.be[p->backend];
	int fd = p->fd, r;

	p->fd = -1;
	npend--;
	__atomic_sub_fetch(&b->inflight, 1, __ATOMIC_RELAXED);
	if (!ret && !res->err) {
		dlog(2, "moved to %s (%s) in %u us", b->name, b->dest,
		     res->t_us[PHASE_DONE]);
		for (int i = 0; i <= PHASE_DONE && i < 8; i++)
			dstats.phase_us[i] += res->t_us[i];
		__atomic_add_fetch(&b->moved, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&dstats.moved, 1, __ATOMIC_RELAXED);
		close(fd);
		return;
	}
	dlog(0, "move to %s (%s) failed in %s: %s%s%s", b->name, b->dest,
	     ret ? "request" : ctl_phase_name(res->phase),
	     strerror(ret ? -ret : res->err), ret ? "" : ": ",
	     ret ? "" : res->msg);
	r = !ret && res->committed ? -1 : 0;
	__atomic_add_fetch(&b->failed, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&dstats.move_failed, 1, __ATOMIC_RELAXED);
	if (r < 0) {
		close(fd); /* past the commit point: not ours any more */
		return;
	}
	__atomic_add_fetch(&dstats.fallback, 1, __ATOMIC_RELAXED);
	start(fd, J_FALLBACK, -1);
}

/* The daemon's connection is gone: what it did not answer falls back */
static void ctl_lost(int err)
{
	struct lmsg_result none = { 0 };

	loop_forget(ctl);
	if (ctl >= 0)
		close(ctl);
	ctl = -1;
	for (int i = 0; i < PEND_CAP && npend; i++)
		if (pend[i].fd >= 0)
			move_done(&pend[i], err, &none);
}

int hand_fd(void)
{
	/* also with nothing in flight: a daemon that goes away is seen */
	return ctl;
}

#define HAND_BATCH 64 /* RESULTs read, MOVEs sent per call */

void hand_read(void)
{
	static struct lmsg_result res[HAND_BATCH];
	struct mmsghdr mm[HAND_BATCH];
	struct iovec iov[HAND_BATCH];
	int n;

	if (ctl < 0)
		return;
	do {
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < HAND_BATCH; i++) {
			iov[i].iov_base = &res[i];
			iov[i].iov_len = sizeof(res[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		/* all that is queued, one message each (SOCK_SEQPACKET) */
		n = recvmmsg(ctl, mm, HAND_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0) {
			ctl_lost(-errno);
			return;
		}
		for (int i = 0; i < n; i++) {
			struct lmsg_result *r = &res[i];
			struct pend *p;

			if (!mm[i].msg_len) {
				ctl_lost(-ECONNRESET);
				return;
			}
			if (mm[i].msg_len != sizeof(*r) ||
			    r->h.magic != TCPCPD_LOCAL_MAGIC ||
			    r->h.type != LMSG_RESULT) {
				ctl_lost(-EBADMSG);
				return;
			}
			p = &pend[r->h.req % PEND_CAP];
			if (p->fd < 0 || p->req != r->h.req) {
				dlog(0,
				     "tcpcpd answered request %u, which is not pending",
				     r->h.req);
				continue;
			}
			move_done(p, 0, r);
		}
		/* fewer than asked for: nothing more was queued */
	} while (n == HAND_BATCH && ctl >= 0);
}

/*
 * MOVEs the script answered in one turn, sent together by hand_flush():
 * each is then pending (the main loop gets its RESULT), or, if it cannot
 * be sent so, moved by a thread of its own.
 */
static struct {
	int fd, backend;
} mq[HAND_BATCH];
static unsigned int nmq;

void hand_flush(void)
{
	static struct lmsg_move mv[HAND_BATCH];
	static union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u[HAND_BATCH];
	struct mmsghdr mm[HAND_BATCH];
	struct iovec iov[HAND_BATCH];
	struct pend *p[HAND_BATCH];
	unsigned int n = 0, sent = 0;
	int e = 0;

	if (!nmq)
		return;
	pend_init();
	if (ctl < 0) {
		ctl = ctl_connect(dconf.tcpcpd_sock);
		if (ctl < 0) {
			e = ctl;
			ctl = -1;
		}
	}
	/* a free slot each, while there is room: requests never 0 */
	while (!e && n < nmq && npend + n < PEND_CAP / 2) {
		struct cmsghdr *cm;

		do {
			if (!++next_req)
				next_req = 1;
			p[n] = &pend[next_req % PEND_CAP];
		} while (p[n]->fd >= 0);
		p[n]->fd = mq[n].fd; /* taken; given back if not sent */
		p[n]->backend = mq[n].backend;
		p[n]->req = next_req;
		memset(&mv[n], 0, sizeof(mv[n]));
		mv[n].h.magic = TCPCPD_LOCAL_MAGIC;
		mv[n].h.type = LMSG_MOVE;
		mv[n].h.version = TCPCPD_LOCAL_VERSION;
		mv[n].h.len = sizeof(mv[n]);
		mv[n].h.req = next_req;
		snprintf(mv[n].dest, sizeof(mv[n].dest), "%s",
			 dconf.be[mq[n].backend].dest);
		mv[n].timeout_ms = dconf.move_timeout_ms;
		iov[n].iov_base = &mv[n];
		iov[n].iov_len = sizeof(mv[n]);
		memset(&mm[n], 0, sizeof(mm[n]));
		mm[n].msg_hdr.msg_iov = &iov[n];
		mm[n].msg_hdr.msg_iovlen = 1;
		memset(&u[n], 0, sizeof(u[n]));
		mm[n].msg_hdr.msg_control = u[n].buf;
		mm[n].msg_hdr.msg_controllen = sizeof(u[n].buf);
		cm = CMSG_FIRSTHDR(&mm[n].msg_hdr);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &mq[n].fd, sizeof(int));
		n++;
	}
	while (sent < n) {
		int r = sendmmsg(ctl, mm + sent, n - sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			e = r < 0 ? -errno : -EIO;
			break;
		}
		for (unsigned int i = sent; i < sent + (unsigned int)r; i++) {
			npend++;
			__atomic_add_fetch(&dconf.be[mq[i].backend].inflight, 1,
					   __ATOMIC_RELAXED);
		}
		sent += (unsigned int)r;
	}
	for (unsigned int i = sent; i < n; i++)
		p[i]->fd = -1; /* not sent: not pending */
	if (e && e != -EAGAIN && ctl >= 0)
		ctl_lost(e); /* the others fall back; these are ours */
	/* what was not sent goes by a thread of its own */
	for (unsigned int i = sent; i < nmq; i++)
		start(mq[i].fd, J_MOVE, mq[i].backend);
	nmq = 0;
}

void hand_move(int fd, int backend)
{
	if (dconf.direct) {
		start(fd, J_MOVE, backend);
		return;
	}
	if (nmq == HAND_BATCH)
		hand_flush();
	mq[nmq].fd = fd;
	mq[nmq].backend = backend;
	nmq++;
}

void hand_fallback(int fd, const char *why)
{
	dlog(1, "fallback: %s", why);
	__atomic_add_fetch(&dstats.fallback, 1, __ATOMIC_RELAXED);
	start(fd, J_FALLBACK, -1);
}

void hand_reject(int fd)
{
	__atomic_add_fetch(&dstats.rejected, 1, __ATOMIC_RELAXED);
	start(fd, J_REJECT, -1);
}

int hand_wait_all(unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	/* moves in flight first: their fallbacks are threads too */
	hand_flush();
	while (npend && ctl >= 0) {
		struct pollfd p = { .fd = ctl, .events = POLLIN };

		if (now_ms() >= end)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)(end - now_ms())) > 0)
			hand_read();
	}
	while (__atomic_load_n(&running, __ATOMIC_ACQUIRE)) {
		if (now_ms() >= end)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	return 0;
}
