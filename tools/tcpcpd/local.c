// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd local side: the UNIX SOCK_SEQPACKET socket where clients hand over
 * sockets (MOVE), applications register for moved sockets (REGISTER) and
 * anyone allowed asks for counters (STATUS).  Only root and members of the
 * configured group are served (SO_PEERCRED, SO_PEERGROUPS).
 *
 * What the daemon sends a client (RESULT, STATUS, DELIVER) goes through a
 * per-client output queue: sent at once while the client's socket has
 * room, otherwise kept, with a duplicate of the socket a DELIVER carries,
 * and sent in order on EPOLLOUT.  While LOCAL_OQ_PAUSE messages wait, the
 * daemon reads no more requests from that client.  A RESULT or STATUS
 * that would take the queue past LOCAL_OQ_MAX messages or LOCAL_OQ_BYTES
 * disconnects the client.  An application with a full queue receives no
 * DELIVER (another one or the handler does, or PREPARE is refused) unless
 * there is no handler: then a committed socket goes past the limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "tcpcpd.h"

#ifndef LOCAL_OQ_MAX
#define LOCAL_OQ_MAX 8192 /* messages queued for one client */
#endif
#ifndef LOCAL_OQ_BYTES
#define LOCAL_OQ_BYTES (16U << 20) /* bytes queued for one client */
#endif
#ifndef LOCAL_OQ_PAUSE
#define LOCAL_OQ_PAUSE 256 /* queued messages: stop reading requests */
#endif

/* A message not yet taken by the client's socket */
struct omsg {
	struct omsg *next;
	int fd; /* our duplicate of the socket it passes, or -1 */
	size_t len;
	uint8_t data[];
};

struct lconn {
	struct ev ev;
	struct lconn *next, *prev;
	bool registered;
	bool refused; /* no permission: answer EPERM once, close */
	bool dead; /* shut down: closed at its next event */
	uint16_t port;
	pid_t pid;
	uid_t uid;
	struct omsg *oq, **oq_tail; /* output queue, oldest first */
	unsigned int oq_n;
	size_t oq_bytes;
	uint32_t events; /* asked of epoll */
};

static struct ev listen_ev = { .fd = -1 };
static struct lconn *lconns;
static bool created_socket;

static void oq_pop(struct lconn *lc)
{
	struct omsg *o = lc->oq;

	lc->oq = o->next;
	if (!lc->oq)
		lc->oq_tail = &lc->oq;
	lc->oq_n--;
	lc->oq_bytes -= o->len;
	if (o->fd >= 0)
		close(o->fd);
	free(o);
}

static void lc_close(struct lconn *lc)
{
	unsigned int n = lc->oq_n, fds = 0;

	ev_del(&lc->ev);
	close(lc->ev.fd);
	while (lc->oq) {
		fds += lc->oq->fd >= 0;
		oq_pop(lc);
	}
	if (n)
		dlog(LOG_W,
		     "local client pid %d: closed with %u message(s) unsent, %u of them moved socket(s), now closed",
		     (int)lc->pid, n, fds);
	if (lc->prev)
		lc->prev->next = lc->next;
	else
		lconns = lc->next;
	if (lc->next)
		lc->next->prev = lc->prev;
	if (lc->registered)
		stats.registered--;
	move_forget_lconn(lc);
	dlog(LOG_D, "local client pid %d: closed", (int)lc->pid);
	free(lc);
}

static int send_msg(int fd, const void *msg, size_t len, int pass_fd)
{
	union ctl_fdbuf u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	ctl_attach_fd(&mh, &u, pass_fd);
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* Close at the next event: the shutdown wakes epoll (EPOLLHUP) */
static void lc_kill(struct lconn *lc, const char *why)
{
	if (lc->dead)
		return;
	lc->dead = true;
	dlog(LOG_W, "local client pid %d: %s; disconnecting it", (int)lc->pid,
	     why);
	shutdown(lc->ev.fd, SHUT_RDWR);
}

/* Read requests unless too much waits; write while something waits */
static void lc_events(struct lconn *lc)
{
	uint32_t want = (lc->oq_n < LOCAL_OQ_PAUSE ? EPOLLIN : 0) |
			(lc->oq ? EPOLLOUT : 0);

	if (want == lc->events || lc->dead)
		return;
	if (ev_mod(&lc->ev, want))
		lc_kill(lc, "epoll failed");
	else
		lc->events = want;
}

static bool oq_full(const struct lconn *lc, size_t len)
{
	return lc->oq_n >= LOCAL_OQ_MAX || lc->oq_bytes + len > LOCAL_OQ_BYTES;
}

/*
 * Send msg (and pass_fd) now or queue it behind the others.  0 or -errno:
 * -ENOBUFS when the queue is full, -EMFILE and such when pass_fd cannot
 * be duplicated, -ECONNRESET when the client is gone or going.  pass_fd
 * stays the caller's.
 */
static int lc_send(struct lconn *lc, const void *msg, size_t len, int pass_fd,
		   bool force)
{
	struct omsg *o;
	int ret;

	if (lc->dead)
		return -ECONNRESET;
	if (!lc->oq) {
		ret = send_msg(lc->ev.fd, msg, len, pass_fd);
		if (!ret)
			return 0;
		if (ret != -EAGAIN && ret != -ENOBUFS && ret != -ENOMEM) {
			lc_kill(lc, strerror(-ret));
			return -ECONNRESET;
		}
	}
	if (oq_full(lc, len) && !force)
		return -ENOBUFS;
	o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->len = len;
	o->fd = -1;
	memcpy(o->data, msg, len);
	if (pass_fd >= 0) {
		o->fd = fcntl(pass_fd, F_DUPFD_CLOEXEC, 0);
		if (o->fd < 0) {
			ret = -errno;
			free(o);
			return ret;
		}
	}
	*lc->oq_tail = o;
	lc->oq_tail = &o->next;
	lc->oq_n++;
	lc->oq_bytes += len;
	lc_events(lc);
	return 0;
}

/* EPOLLOUT: send what waits, in order */
static void lc_flush(struct lconn *lc)
{
	int ret;

	while (lc->oq && !lc->dead) {
		ret = send_msg(lc->ev.fd, lc->oq->data, lc->oq->len,
			       lc->oq->fd);
		if (ret == -EAGAIN || ret == -ENOBUFS || ret == -ENOMEM)
			break;
		if (ret) {
			lc_kill(lc, strerror(-ret));
			return;
		}
		oq_pop(lc);
	}
	lc_events(lc);
}

static void hdr_init(struct lmsg_hdr *h, int type, size_t len, uint32_t req)
{
	h->magic = TCPCPD_LOCAL_MAGIC;
	h->type = (uint16_t)type;
	h->version = TCPCPD_LOCAL_VERSION;
	h->len = (uint32_t)len;
	h->req = req;
}

void local_result(struct lconn *lc, uint32_t req, const struct lmsg_result *res)
{
	struct lmsg_result r = *res;
	int ret;

	if (!lc)
		return;
	hdr_init(&r.h, LMSG_RESULT, sizeof(r), req);
	ret = lc_send(lc, &r, sizeof(r), -1, false);
	if (ret == -ENOBUFS)
		lc_kill(lc, "output queue full: it does not read its results");
	else if (ret && ret != -ECONNRESET)
		lc_kill(lc, "result not sent");
}

static void reply_err(struct lconn *lc, uint32_t req, int err, const char *msg)
{
	struct lmsg_result r;

	memset(&r, 0, sizeof(r));
	r.err = err;
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	local_result(lc, req, &r);
}

/* full_ok: also an application whose output queue is full */
static struct lconn *find_receiver(uint16_t port, bool full_ok)
{
	struct lconn *lc, *any = NULL;

	for (lc = lconns; lc; lc = lc->next) {
		/* a full queue: the handler, or refused moves, not lost ones */
		if (!lc->registered || lc->dead ||
		    (!full_ok &&
		     oq_full(lc, sizeof(struct lmsg_deliver) + (64U << 10))))
			continue;
		if (lc->port == port)
			return lc;
		if (!lc->port && !any)
			any = lc;
	}
	return any;
}

bool local_has_receiver(uint16_t port)
{
	return find_receiver(port, false) != NULL;
}

int local_deliver(uint16_t port, int fd, const uint8_t id[16],
		  const struct tcpcp_info *info, unsigned int lost,
		  const void *app, size_t app_len)
{
	struct lconn *lc = find_receiver(port, false);
	struct lmsg_deliver *d;
	bool force = false;
	size_t len = sizeof(*d) + app_len;
	int ret;

	/*
	 * Only full queues, no handler: this move was prepared before they
	 * filled and is committed; its socket goes past the limit, not away.
	 */
	if (!lc && !conf.handler[0]) {
		lc = find_receiver(port, true);
		force = true;
	}
	if (!lc)
		return -ENOENT;
	d = calloc(1, len);
	if (!d)
		return -ENOMEM;
	hdr_init(&d->h, LMSG_DELIVER, len, 0);
	memcpy(d->id, id, 16);
	d->local = info->local;
	d->remote = info->remote;
	d->lost = lost;
	d->app_len = (uint32_t)app_len;
	if (app_len)
		memcpy(d->app, app, app_len);
	ret = lc_send(lc, d, len, fd, force);
	free(d);
	if (!ret)
		dlog(LOG_D, "delivered to local application pid %d%s",
		     (int)lc->pid, lc->oq ? " (queued)" : "");
	else
		dlog(LOG_W, "local application pid %d: DELIVER not queued: %s",
		     (int)lc->pid, strerror(-ret));
	return ret;
}

static void lc_message(struct lconn *lc, const uint8_t *buf, size_t n, int fd)
{
	const struct lmsg_hdr *h = (const void *)buf;
	const struct lmsg_move *mv = (const void *)buf;
	const struct lmsg_register *rg = (const void *)buf;
	struct lmsg_status st;
	struct lmsg_result r;

	if (n < sizeof(*h) || h->magic != TCPCPD_LOCAL_MAGIC || h->len != n ||
	    h->version != TCPCPD_LOCAL_VERSION) {
		dlog(LOG_W, "local client pid %d: malformed message",
		     (int)lc->pid);
		if (fd >= 0)
			close(fd);
		reply_err(lc, n >= sizeof(*h) ? h->req : 0, EBADMSG,
			  "malformed message");
		return;
	}
	if (h->type != LMSG_MOVE && fd >= 0) {
		close(fd);
		fd = -1;
	}
	switch (h->type) {
	case LMSG_MOVE:
		if (n < sizeof(*mv) || mv->app_len != n - sizeof(*mv) ||
		    !memchr(mv->dest, '\0', sizeof(mv->dest)) || fd < 0) {
			if (fd >= 0)
				close(fd);
			reply_err(lc, h->req, EINVAL,
				  fd < 0 ? "MOVE without a socket" :
					   "malformed MOVE");
			return;
		}
		move_start(lc, h->req, fd, mv->dest, mv->timeout_ms, mv->flags,
			   mv->app, mv->app_len);
		return;
	case LMSG_REGISTER:
		if (n != sizeof(*rg)) {
			reply_err(lc, h->req, EINVAL, "malformed REGISTER");
			return;
		}
		if (!lc->registered)
			stats.registered++;
		lc->registered = true;
		lc->port = rg->port;
		dlog(LOG_I, "local application pid %d registered for port %u%s",
		     (int)lc->pid, rg->port, rg->port ? "" : " (any)");
		memset(&r, 0, sizeof(r));
		snprintf(r.msg, sizeof(r.msg), "registered");
		local_result(lc, h->req, &r);
		return;
	case LMSG_STATUS:
		st = stats;
		hdr_init(&st.h, LMSG_STATUS, sizeof(st), h->req);
		if (lc_send(lc, &st, sizeof(st), -1, false) == -ENOBUFS)
			lc_kill(lc, "output queue full");
		return;
	}
	reply_err(lc, h->req, EOPNOTSUPP, "unknown request");
}

static void lc_event(struct ev *ev, uint32_t events)
{
	struct lconn *lc = (struct lconn *)ev;
	static uint8_t buf[TCPCPD_LOCAL_MAX + 1];
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.b,
			     .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm;
	int fd = -1;
	ssize_t n;

	if (lc->dead) {
		lc_close(lc);
		return;
	}
	if (events & EPOLLOUT)
		lc_flush(lc);
	if (lc->dead) {
		lc_close(lc);
		return;
	}
	/* paused (too much queued): read only to see the client go */
	if (!(events & (EPOLLHUP | EPOLLERR)) &&
	    !((events & EPOLLIN) && (lc->events & EPOLLIN)))
		return;
	n = recvmsg(ev->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		lc_close(lc);
		return;
	}
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0;
		     i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int),
			       sizeof(int));
			if (fd < 0)
				fd = f;
			else
				close(f);
		}
	}
	if (lc->refused) {
		/* read before close, so that the client sees the answer, not a reset */
		if (fd >= 0)
			close(fd);
		reply_err(lc,
			  n >= (ssize_t)sizeof(struct lmsg_hdr) ?
				  ((struct lmsg_hdr *)buf)->req :
				  0,
			  EPERM, "permission denied");
		lc_close(lc);
		return;
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fd >= 0)
			close(fd);
		reply_err(lc, 0, EMSGSIZE, "message too long");
		return;
	}
	lc_message(lc, buf, (size_t)n, fd);
	if (lc->dead)
		lc_close(lc);
}

static bool allowed(int fd, struct ucred *cr)
{
	socklen_t l = sizeof(*cr);
	gid_t groups[256];

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cr, &l) < 0)
		return false;
	if (cr->uid == 0)
		return true;
	if (!conf.have_gid)
		return false;
	if (cr->gid == conf.gid)
		return true;
	l = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &l) < 0)
		return false;
	for (size_t i = 0; i < l / sizeof(gid_t); i++)
		if (groups[i] == conf.gid)
			return true;
	return false;
}

static void accept_event(struct ev *ev, uint32_t events)
{
	struct lconn *lc;
	struct ucred cr;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				dlog(LOG_W, "local accept: %s",
				     strerror(errno));
			return;
		}
		memset(&cr, 0, sizeof(cr));
		lc = calloc(1, sizeof(*lc));
		if (!lc) {
			close(fd);
			continue;
		}
		lc->ev.fd = fd;
		lc->ev.fn = lc_event;
		lc->oq_tail = &lc->oq;
		lc->events = EPOLLIN;
		if (!allowed(fd, &cr)) {
			stats.local_refused++;
			lc->refused = true;
			dlog(LOG_W,
			     "local client pid %d uid %u gid %u refused: not root%s%s",
			     (int)cr.pid, (unsigned int)cr.uid,
			     (unsigned int)cr.gid,
			     conf.have_gid ? " and not in group " : "",
			     conf.have_gid ? conf.group : "");
		}
		lc->pid = cr.pid;
		lc->uid = cr.uid;
		lc->next = lconns;
		if (lconns)
			lconns->prev = lc;
		lconns = lc;
		if (ev_add(&lc->ev, EPOLLIN))
			lc_close(lc);
		else if (!lc->refused)
			dlog(LOG_D, "local client pid %d uid %u connected",
			     (int)cr.pid, (unsigned int)cr.uid);
	}
}

static void mkdir_parent(const char *path)
{
	char dir[sizeof(conf.socket_path)], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return;
	*s = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		dlog(LOG_W, "mkdir %s: %s", dir, strerror(errno));
}

int local_listen(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(conf.socket_path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, conf.socket_path);
	mkdir_parent(conf.socket_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* the pid file lock makes us the only daemon using this path */
	unlink(conf.socket_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	created_socket = true;
	if (chmod(conf.socket_path, conf.socket_mode) < 0)
		goto fail;
	if (conf.have_gid && chown(conf.socket_path, 0, conf.gid) < 0)
		goto fail;
	if (listen(fd, 1024) < 0)
		goto fail;
	listen_ev.fd = fd;
	listen_ev.fn = accept_event;
	dlog(LOG_I, "local socket %s mode %04o%s%s", conf.socket_path,
	     conf.socket_mode, conf.have_gid ? " group " : "",
	     conf.have_gid ? conf.group : "");
	return ev_add(&listen_ev, EPOLLIN);
fail:
	ret = -errno;
	dlog(LOG_E, "local socket %s: %s", conf.socket_path, strerror(errno));
	close(fd);
	return ret;
}

void local_stop(void)
{
	while (lconns)
		lc_close(lconns);
	if (listen_ev.fd >= 0) {
		ev_del(&listen_ev);
		close(listen_ev.fd);
		listen_ev.fd = -1;
	}
	if (created_socket)
		unlink(conf.socket_path);
}
