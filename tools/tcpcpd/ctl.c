// SPDX-License-Identifier: GPL-2.0
/* Client side of the tcpcpd local protocol. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

static const char *const phase_names[] = {
	[PHASE_NONE] = "none",	       [PHASE_DUMP] = "dump",
	[PHASE_CONNECT] = "connect",   [PHASE_PREPARE] = "prepare",
	[PHASE_REDIRECT] = "redirect", [PHASE_COMMIT] = "commit",
	[PHASE_ACTIVATE] = "activate", [PHASE_DONE] = "done",
};

const char *ctl_phase_name(unsigned int phase)
{
	return phase <= PHASE_MAX ? phase_names[phase] : "unknown";
}

int ctl_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int c;

	if (!path)
		path = TCPCPD_SOCKET_DEFAULT;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	if (connect(c, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(c);
		return -e;
	}
	return c;
}

void ctl_attach_fd(struct msghdr *mh, union ctl_fdbuf *u, int fd)
{
	struct cmsghdr *cm;

	if (fd < 0)
		return;
	memset(u, 0, sizeof(*u));
	mh->msg_control = u->buf;
	mh->msg_controllen = sizeof(u->buf);
	cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
}

static void hdr_init(struct lmsg_hdr *h, int type, size_t len, uint32_t req)
{
	h->magic = TCPCPD_LOCAL_MAGIC;
	h->type = (uint16_t)type;
	h->version = TCPCPD_LOCAL_VERSION;
	h->len = (uint32_t)len;
	h->req = req;
}

static int send_fd(int c, const void *msg, size_t len, int fd)
{
	union ctl_fdbuf u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	ctl_attach_fd(&mh, &u, fd);
	if (sendmsg(c, &mh, MSG_NOSIGNAL) < 0) {
		int e = errno;
		struct lmsg_result r;
		ssize_t n;

		/* refused at accept: the daemon left its reason before closing */
		n = recv(c, &r, sizeof(r), MSG_DONTWAIT);
		if (n == (ssize_t)sizeof(r) &&
		    r.h.magic == TCPCPD_LOCAL_MAGIC &&
		    r.h.type == LMSG_RESULT && r.err > 0)
			return -r.err;
		return -e;
	}
	return 0;
}

/* Receive one message of the given type; *fd (if given) gets a passed fd */
static int recv_msg(int c, int timeout_ms, int type, void *buf, size_t len,
		    int *fd)
{
	union ctl_fdbuf u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd pfd = { .fd = c, .events = POLLIN };
	struct lmsg_hdr *h = buf;
	struct cmsghdr *cm;
	int got = -1, r;
	ssize_t n;

	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(cm), sizeof(int));
	if (fd)
		*fd = got;
	else if (got >= 0)
		close(got);
	if ((size_t)n < sizeof(*h) || h->magic != TCPCPD_LOCAL_MAGIC ||
	    h->len != (size_t)n || (mh.msg_flags & MSG_TRUNC)) {
		if (fd && got >= 0)
			close(got);
		return -EBADMSG;
	}
	if (h->type != type) {
		/* a RESULT where we waited for something else: the daemon refused */
		if (h->type == LMSG_RESULT &&
		    (size_t)n >= sizeof(struct lmsg_result)) {
			struct lmsg_result *res = buf;

			return res->err ? -res->err : -EPROTO;
		}
		return -EPROTO;
	}
	return (int)n;
}

int ctl_move(int c, int fd, const char *dest, const void *app, size_t app_len,
	     uint32_t timeout_ms, uint32_t flags, struct lmsg_result *res)
{
	struct lmsg_move *m;
	size_t len = sizeof(*m) + app_len;
	int ret, wait_ms;

	if (strlen(dest) >= TCPCPD_DEST_LEN || len > TCPCPD_LOCAL_MAX)
		return -EINVAL;
	m = calloc(1, len);
	if (!m)
		return -ENOMEM;
	hdr_init(&m->h, LMSG_MOVE, len, 1);
	strcpy(m->dest, dest);
	m->timeout_ms = timeout_ms;
	m->flags = flags;
	m->app_len = (uint32_t)app_len;
	if (app_len)
		memcpy(m->app, app, app_len);
	ret = send_fd(c, m, len, fd);
	free(m);
	if (ret)
		return ret;
	/* the daemon times out every phase; wait a little longer than it */
	wait_ms = (int)(timeout_ms ? timeout_ms : 30000) + 30000;
	memset(res, 0, sizeof(*res));
	ret = recv_msg(c, wait_ms, LMSG_RESULT, res, sizeof(*res), NULL);
	if (ret < 0)
		return ret;
	if ((size_t)ret < sizeof(*res))
		return -EBADMSG;
	res->msg[sizeof(res->msg) - 1] = '\0';
	return 0;
}

int ctl_register(int c, uint16_t port, struct lmsg_result *res)
{
	struct lmsg_register r = { .port = port };
	int ret;

	hdr_init(&r.h, LMSG_REGISTER, sizeof(r), 1);
	ret = send_fd(c, &r, sizeof(r), -1);
	if (ret)
		return ret;
	memset(res, 0, sizeof(*res));
	ret = recv_msg(c, 10000, LMSG_RESULT, res, sizeof(*res), NULL);
	if (ret < 0)
		return ret;
	return res->err ? -res->err : 0;
}

int ctl_recv_deliver(int c, int timeout_ms, int *fd, struct lmsg_deliver *info,
		     void *app, size_t app_max)
{
	size_t max = sizeof(*info) + (64U << 10);
	struct lmsg_deliver *d = malloc(max);
	int ret;

	if (!d)
		return -ENOMEM;
	*fd = -1;
	ret = recv_msg(c, timeout_ms, LMSG_DELIVER, d, max, fd);
	if (ret >= 0 && ((size_t)ret < sizeof(*d) ||
			 d->app_len != (size_t)ret - sizeof(*d))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		ret = -EBADMSG;
	}
	if (ret >= 0 && *fd < 0)
		ret = -EBADMSG;
	if (ret >= 0) {
		*info = *d;
		memcpy(app, d->app,
		       d->app_len < app_max ? d->app_len : app_max);
		ret = 0;
	}
	free(d);
	return ret;
}

int ctl_status(int c, struct lmsg_status *st)
{
	union {
		struct lmsg_status st;
		struct lmsg_result res; /* a refusal */
	} u;
	struct lmsg_hdr h;
	int ret;

	hdr_init(&h, LMSG_STATUS, sizeof(h), 1);
	ret = send_fd(c, &h, sizeof(h), -1);
	if (ret)
		return ret;
	ret = recv_msg(c, 10000, LMSG_STATUS, &u, sizeof(u), NULL);
	if (ret < 0)
		return ret;
	if ((size_t)ret != sizeof(*st))
		return -EBADMSG;
	*st = u.st;
	return 0;
}
