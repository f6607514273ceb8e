// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd local side: the UNIX SOCK_SEQPACKET socket where clients hand over
 * sockets (MOVE), applications register for moved sockets (REGISTER) and
 * anyone allowed asks for counters (STATUS).  Only root and members of the
 * configured group are served (SO_PEERCRED, SO_PEERGROUPS).
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

#include "tcpcpd.h"

struct lconn {
	struct ev ev;
	struct lconn *next, *prev;
	bool registered;
	bool refused; /* no permission: answer EPERM once, close */
	uint16_t port;
	pid_t pid;
	uid_t uid;
};

static struct ev listen_ev = { .fd = -1 };
static struct lconn *lconns;
static bool created_socket;

static void lc_close(struct lconn *lc)
{
	ev_del(&lc->ev);
	close(lc->ev.fd);
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
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (pass_fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
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
	ret = send_msg(lc->ev.fd, &r, sizeof(r), -1);
	if (ret)
		dlog(LOG_W, "local client pid %d: result not sent: %s",
		     (int)lc->pid, strerror(-ret));
}

static void reply_err(struct lconn *lc, uint32_t req, int err, const char *msg)
{
	struct lmsg_result r;

	memset(&r, 0, sizeof(r));
	r.err = err;
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	local_result(lc, req, &r);
}

static struct lconn *find_receiver(uint16_t port)
{
	struct lconn *lc, *any = NULL;

	for (lc = lconns; lc; lc = lc->next) {
		if (!lc->registered)
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
	return find_receiver(port) != NULL;
}

int local_deliver(uint16_t port, int fd, const uint8_t id[16],
		  const struct tcpcp_info *info, unsigned int lost,
		  const void *app, size_t app_len)
{
	struct lconn *lc = find_receiver(port);
	struct lmsg_deliver *d;
	size_t len = sizeof(*d) + app_len;
	int ret;

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
	ret = send_msg(lc->ev.fd, d, len, fd);
	free(d);
	if (!ret)
		dlog(LOG_D, "delivered to local application pid %d",
		     (int)lc->pid);
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
		send_msg(lc->ev.fd, &st, sizeof(st), -1);
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

	(void)events;
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
