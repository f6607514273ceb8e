// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd's local side (local.c) on its own, over its real UNIX socket: a
 * client that pipelines MOVEs or receives DELIVERs and does not read for a
 * while fills its socket; every RESULT and DELIVER still arrives, in
 * order, each DELIVER with the right socket, and the daemon keeps no fd
 * once the client has them.  A client that never reads its results is
 * disconnected; a DELIVER to a full queue is refused (the handler's turn).
 * The daemon's event loop is this program's: pump() runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tcpcpd.h"

/* What local.c needs of the rest of the daemon */
struct conf conf;
struct lmsg_status stats;
volatile bool stopping;
static int epfd = -1;
static char logbuf[1 << 16];
static size_t loglen;
static struct lconn *moved_lc;
static uint32_t moved_req[4096];
static unsigned int moved_n, forgotten;

void dlog(int level, const char *fmt, ...)
{
	va_list ap;
	int n;

	(void)level;
	va_start(ap, fmt);
	n = vsnprintf(logbuf + loglen, sizeof(logbuf) - loglen - 1, fmt, ap);
	va_end(ap);
	if (n > 0 && loglen + (size_t)n + 2 < sizeof(logbuf)) {
		loglen += (size_t)n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

int ev_add(struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, ev->fd, &e) ? -errno : 0;
}

int ev_mod(struct ev *ev, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(epfd, EPOLL_CTL_MOD, ev->fd, &e) ? -errno : 0;
}

void ev_del(struct ev *ev)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, ev->fd, NULL);
}

void move_start(struct lconn *lc, uint32_t req, int fd, const char *dest,
		uint32_t timeout_ms, uint32_t flags, const void *app,
		size_t app_len)
{
	moved_lc = lc;
	if (moved_n < 4096)
		moved_req[moved_n++] = req;
	close(fd);
}

void move_forget_lconn(struct lconn *lc)
{
	if (lc == moved_lc) {
		moved_lc = NULL;
		forgotten++;
	}
}

/* Run the daemon's loop until it has nothing to do for ms */
static void pump(int ms)
{
	struct epoll_event evs[16];
	int n;

	while ((n = epoll_wait(epfd, evs, 16, ms)) > 0)
		for (int i = 0; i < n; i++) {
			struct ev *ev = evs[i].data.ptr;

			ev->fn(ev, evs[i].events);
		}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void hdr(struct lmsg_hdr *h, int type, size_t len, uint32_t req)
{
	h->magic = TCPCPD_LOCAL_MAGIC;
	h->type = (uint16_t)type;
	h->version = TCPCPD_LOCAL_VERSION;
	h->len = (uint32_t)len;
	h->req = req;
}

/* Send one message (with fd), running the daemon while the socket is full */
static int csend(int c, const void *msg, size_t len, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	for (int i = 0; i < 1000; i++) {
		if (sendmsg(c, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno != EAGAIN)
			return -errno;
		pump(10);
	}
	return -ETIMEDOUT;
}

/*
 * Receive one message; when nothing is there, run the daemon (its
 * EPOLLOUT) and count a stall.  Returns the length, 0 on EOF, -errno.
 */
static int crecv(int c, void *buf, size_t len, int *fd, int *stalls)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.b,
			     .msg_controllen = sizeof(u.b) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	for (int i = 0; i < 200; i++) {
		n = recvmsg(c, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0) {
			cm = CMSG_FIRSTHDR(&mh);
			if (cm && cm->cmsg_type == SCM_RIGHTS)
				memcpy(fd, CMSG_DATA(cm), sizeof(int));
			return (int)n;
		}
		if (errno != EAGAIN)
			return -errno;
		(*stalls)++;
		pump(10);
	}
	return -ETIMEDOUT;
}

FIXTURE(local)
{
	char dir[64];
	int c; /* the client */
	int fds0;
};

FIXTURE_SETUP(local)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2048)
		SKIP(return, "RLIMIT_NOFILE %lu: too few fds",
			   (unsigned long)rl.rlim_cur);
	self->fds0 = count_fds();
	loglen = 0;
	logbuf[0] = '\0';
	moved_lc = NULL;
	moved_n = forgotten = 0;
	memset(&conf, 0, sizeof(conf));
	memset(&stats, 0, sizeof(stats));
	strcpy(self->dir, "/tmp/tcpcpd-local-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(conf.socket_path, sizeof(conf.socket_path), "%s/s", self->dir);
	conf.socket_mode = 0600;
	/* served without root: the daemon's group is ours */
	conf.have_gid = true;
	conf.gid = getegid();
	snprintf(conf.group, sizeof(conf.group), "test");
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, local_listen());
	self->c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, self->c);
	strcpy(sun.sun_path, conf.socket_path);
	ASSERT_EQ(0, connect(self->c, (struct sockaddr *)&sun, sizeof(sun)));
	pump(20);
}

FIXTURE_TEARDOWN(local)
{
	if (self->c >= 0)
		close(self->c);
	pump(20);
	local_stop();
	close(epfd);
	rmdir(self->dir);
	/* nothing left open: every queued socket was sent and closed */
	EXPECT_EQ(self->fds0, count_fds());
}

static void move_msg(struct lmsg_move *m, uint32_t req)
{
	memset(m, 0, sizeof(*m));
	hdr(&m->h, LMSG_MOVE, sizeof(*m), req);
	strcpy(m->dest, "198.18.2.1");
}

static int registered(struct __test_metadata *_metadata, int c, uint16_t port)
{
	struct lmsg_register rg = { .port = port };
	struct lmsg_result r;
	int fd, stalls = 0;

	hdr(&rg.h, LMSG_REGISTER, sizeof(rg), 77);
	EXPECT_EQ(0, csend(c, &rg, sizeof(rg), -1));
	pump(10);
	EXPECT_EQ((int)sizeof(r), crecv(c, &r, sizeof(r), &fd, &stalls));
	EXPECT_EQ(LMSG_RESULT, r.h.type);
	EXPECT_EQ(77, r.h.req);
	return r.err == 0 && r.h.req == 77;
}

/* 2000 MOVEs pipelined; all answered before the client reads one */
TEST_F(local, pipelined_results_in_order)
{
	const unsigned int n = 2000;
	struct lmsg_move m;
	struct lmsg_status st;
	union {
		struct lmsg_result r;
		struct lmsg_status st;
	} u;
	int sp[2], fd, stalls = 0;

	for (unsigned int i = 0; i < n; i++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
		move_msg(&m, 1000 + i);
		ASSERT_EQ(0, csend(self->c, &m, sizeof(m), sp[0]));
		close(sp[0]);
		close(sp[1]);
	}
	pump(20);
	ASSERT_EQ(n, moved_n);
	ASSERT_NE(NULL, moved_lc);
	for (unsigned int i = 0; i < n; i++) {
		struct lmsg_result r = { .err = (int32_t)(i % 7),
					 .phase = PHASE_DONE };

		ASSERT_EQ(1000 + i, moved_req[i]);
		snprintf(r.msg, sizeof(r.msg), "result %u", i);
		local_result(moved_lc, moved_req[i], &r);
	}
	/* asked behind 2000 results: answered after them */
	hdr(&st.h, LMSG_STATUS, sizeof(st.h), 4242);
	ASSERT_EQ(0, csend(self->c, &st.h, sizeof(st.h), -1));
	for (unsigned int i = 0; i < n; i++) {
		char want[32];

		ASSERT_EQ((int)sizeof(u.r),
			  crecv(self->c, &u, sizeof(u), &fd, &stalls));
		ASSERT_EQ(-1, fd);
		ASSERT_EQ(LMSG_RESULT, u.r.h.type);
		ASSERT_EQ(1000 + i, u.r.h.req);
		ASSERT_EQ((int32_t)(i % 7), u.r.err);
		snprintf(want, sizeof(want), "result %u", i);
		ASSERT_STREQ(want, u.r.msg);
	}
	ASSERT_EQ((int)sizeof(u.st),
		  crecv(self->c, &u, sizeof(u), &fd, &stalls));
	ASSERT_EQ(LMSG_STATUS, u.st.h.type);
	ASSERT_EQ(4242, u.st.h.req);
	/* the socket was full: the queue, not luck, delivered them */
	ASSERT_LT(0, stalls);
	ASSERT_EQ(NULL, strstr(logbuf, "not sent"));
	ASSERT_EQ(NULL, strstr(logbuf, "disconnecting"));
	ASSERT_EQ(0, forgotten);
}

/* 300 moved sockets delivered to an application that reads late */
TEST_F(local, delivers_in_order_with_their_sockets)
{
	const unsigned int n = 300;
	static int keep[300];
	static uint8_t app[2048], buf[sizeof(struct lmsg_deliver) + 4096];
	struct lmsg_deliver *d = (void *)buf;
	struct tcpcp_info info;
	uint8_t id[16];
	int sp[2], fd, stalls = 0;

	ASSERT_TRUE(registered(_metadata, self->c, 0));
	ASSERT_TRUE(local_has_receiver(80));
	for (unsigned int i = 0; i < n; i++) {
		struct sockaddr_in *sin = (void *)&info.local;

		memset(&info, 0, sizeof(info));
		sin->sin_family = AF_INET;
		sin->sin_port = htons(80);
		memset(id, 0, sizeof(id));
		memcpy(id, &i, sizeof(i));
		memset(app, (int)(i & 0xff), sizeof(app));
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
		ASSERT_EQ(0, local_deliver(80, sp[0], id, &info, i, app,
					   sizeof(app)));
		close(sp[0]); /* as dest.c does: the daemon keeps a copy */
		keep[i] = sp[1];
	}
	ASSERT_NE(NULL, strstr(logbuf, "(queued)"));
	for (unsigned int i = 0, j; i < n; i++) {
		ASSERT_EQ((int)(sizeof(*d) + sizeof(app)),
			  crecv(self->c, buf, sizeof(buf), &fd, &stalls));
		ASSERT_EQ(LMSG_DELIVER, d->h.type);
		memcpy(&j, d->id, sizeof(j));
		ASSERT_EQ(i, j);
		ASSERT_EQ(i, d->lost);
		ASSERT_EQ(sizeof(app), d->app_len);
		ASSERT_EQ((uint8_t)i, d->app[0]);
		ASSERT_EQ((uint8_t)i, d->app[sizeof(app) - 1]);
		/* the socket that came with it is the one handed over */
		ASSERT_LE(0, fd);
		ASSERT_EQ(4, write(fd, &i, 4));
		ASSERT_EQ(4, read(keep[i], &j, 4));
		ASSERT_EQ(i, j);
		close(fd);
		close(keep[i]);
	}
	ASSERT_LT(0, stalls);
	ASSERT_EQ(NULL, strstr(logbuf, "not queued"));
}

/* A client that never reads its results is cut off, not let grow */
TEST_F(local, unread_results_disconnect)
{
	struct lmsg_result r = { .err = 0 };
	struct lmsg_move m;
	int sp[2], fd, got = 0, stalls = 0, ret;
	static uint8_t buf[1024];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sp));
	move_msg(&m, 1);
	ASSERT_EQ(0, csend(self->c, &m, sizeof(m), sp[0]));
	close(sp[0]);
	close(sp[1]);
	pump(20);
	ASSERT_NE(NULL, moved_lc);
	for (unsigned int i = 0; i < 9000 && moved_lc; i++)
		local_result(moved_lc, i, &r);
	ASSERT_NE(NULL, strstr(logbuf, "output queue full"));
	pump(20);
	ASSERT_EQ(1, forgotten); /* closed: the moves forget it */
	while ((ret = crecv(self->c, buf, sizeof(buf), &fd, &stalls)) > 0)
		got++;
	ASSERT_EQ(0, ret); /* then the end */
	ASSERT_LT(0, got);
	ASSERT_GT(9000, got);
}

/*
 * A full queue takes no DELIVER: the handler's turn (or PREPARE refused);
 * without a handler a committed one goes past the limit.  Nothing lost.
 */
TEST_F(local, full_queue_refuses_deliver)
{
	static uint8_t app[60000], buf[sizeof(struct lmsg_deliver) + 65536];
	struct lmsg_deliver *d = (void *)buf;
	struct tcpcp_info info = { 0 };
	unsigned int i, j, n = 0;
	uint8_t id[16] = { 0 };
	int nul, fd, stalls = 0, ret = 0;

	ASSERT_TRUE(registered(_metadata, self->c, 0));
	strcpy(conf.handler, "/bin/handler");
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nul);
	for (i = 0; i < 1000; i++) {
		memcpy(id, &i, sizeof(i));
		ret = local_deliver(0, nul, id, &info, 0, app, sizeof(app));
		if (ret)
			break;
		n++;
	}
	/* full: no receiver (dest.c runs the handler), nothing dropped */
	ASSERT_EQ(-ENOENT, ret);
	/* about 16 MiB queued, a few more in the socket */
	ASSERT_LT(200, n);
	ASSERT_GT(400, n);
	/* no receiver while full: PREPARE is refused or the handler runs */
	ASSERT_FALSE(local_has_receiver(0));
	/* no handler: a committed socket is queued past the limit, not lost */
	conf.handler[0] = '\0';
	memcpy(id, &n, sizeof(n));
	ASSERT_EQ(0, local_deliver(0, nul, id, &info, 0, app, sizeof(app)));
	ASSERT_FALSE(local_has_receiver(0));
	n++;
	for (i = 0; i < n; i++) {
		ASSERT_EQ((int)(sizeof(*d) + sizeof(app)),
			  crecv(self->c, buf, sizeof(buf), &fd, &stalls));
		memcpy(&j, d->id, sizeof(j));
		ASSERT_EQ(i, j);
		ASSERT_LE(0, fd);
		close(fd);
	}
	pump(20);
	ASSERT_TRUE(local_has_receiver(0));
	close(nul);
}

TEST_HARNESS_MAIN
