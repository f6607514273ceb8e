// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd security tests: a real tcpcpd in a private network namespace,
 * spoken to over loopback with real frames.  Wrong key, replayed frames
 * (across and within sessions), tampered, truncated and oversized frames
 * are refused, logged and create nothing; local clients without
 * permission are refused; a key file others can read stops the daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ctl.h"
#include "proto.h"

#ifndef TCPCPD_BIN
#define TCPCPD_BIN "build/tcpcpd"
#endif
#define PORT 17727

static const uint8_t good_key[] = "0123456789abcdef-tcpcpd-test-key";
static const uint8_t bad_key[] = "0123456789abcdef-tcpcpd-TEST-key";

/* TCPCPD_BIN in the environment: another build (e.g. with sanitizers) */
static const char *daemon_bin(void)
{
	const char *e = getenv("TCPCPD_BIN");

	return e && *e ? e : TCPCPD_BIN;
}

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret;

	if (s < 0)
		return -1;
	ret = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!ret)
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return ret;
}

static void write_file(const char *path, const void *data, size_t len,
		       mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	fchmod(fd, mode);
	close(fd);
}

static pid_t start_daemon(const char *dir, const char *extra)
{
	char conf[4096], path[512], log[512], sock[512];
	pid_t pid;
	int c;

	snprintf(path, sizeof(path), "%s/key", dir);
	snprintf(sock, sizeof(sock), "%s/tcpcpd.sock", dir);
	snprintf(
		conf, sizeof(conf),
		"name = dst\nkey_file = %s\nsocket = %s\npid_file = %s/tcpcpd.pid\n"
		"listen = 127.0.0.1:%d\nhello_timeout = 2000\n%s",
		path, sock, dir, PORT, extra);
	snprintf(path, sizeof(path), "%s/tcpcpd.conf", dir);
	write_file(path, conf, strlen(conf), 0644);
	snprintf(log, sizeof(log), "%s/tcpcpd.log", dir);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 2);
		execl(daemon_bin(), "tcpcpd", "-c", path, "-d", NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		int st;

		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		c = ctl_connect(sock);
		if (c >= 0) {
			close(c);
			return pid;
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static int log_has(const char *dir, const char *what)
{
	char path[512], buf[65536];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/tcpcpd.log", dir);
	/* the daemon logs before it closes; give it a moment to get there */
	for (int i = 0; i < 100; i++) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return 0;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (strstr(buf, what))
			return 1;
		usleep(10000);
	}
	return 0;
}

static int tcp_connect(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(PORT),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	return s;
}

static int send_all(int s, const void *p, size_t n)
{
	return send(s, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* One frame into out; 0, -ECONNRESET on EOF, -ETIMEDOUT */
static int read_frame(int s, struct buf *out)
{
	uint8_t hdr[4];
	size_t have = 0, need = 4;
	long flen;

	out->len = out->off = 0;
	while (have < need) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		uint8_t tmp[4096];
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			return -ETIMEDOUT;
		n = recv(s, tmp,
			 need - have < sizeof(tmp) ? need - have : sizeof(tmp),
			 0);
		if (n <= 0)
			return -ECONNRESET;
		if (buf_put(out, tmp, (size_t)n))
			return -ENOMEM;
		have += (size_t)n;
		if (have == 4 && need == 4) {
			memcpy(hdr, out->p, 4);
			flen = proto_frame_len(hdr);
			if (flen < 0)
				return (int)flen;
			need = (size_t)flen;
		}
	}
	return 0;
}

/* Handshake as the origin; returns the socket, frames sent kept in sent */
static int handshake(struct proto_sess *s, const uint8_t *key, size_t klen,
		     struct buf *sent)
{
	struct tcpcpd_msg m;
	struct buf in = { 0 };
	int fd = tcp_connect();

	if (fd < 0 || proto_init(s, key, klen, true) ||
	    proto_hello(s, "org", sent) || send_all(fd, sent->p, sent->len))
		return -1;
	if (read_frame(fd, &in) || proto_open(s, in.p, in.len, &m, NULL, 0)) {
		buf_free(&in);
		close(fd);
		return -2;
	}
	buf_free(&in);
	return fd;
}

/* A PREPARE whose ICI is not an ICI: the daemon must refuse it */
static void bogus_prepare(struct tcpcpd_msg *m)
{
	static const uint8_t junk[64] = { 't', 'c', 'p', 'i' };

	memset(m, 0, sizeof(*m));
	m->type = TCPCPD_PREPARE;
	memset(m->id, 0x5a, sizeof(m->id));
	m->ici = junk;
	m->ici_len = sizeof(junk);
	m->app = (const uint8_t *)"app";
	m->app_len = 3;
}

static int status(const char *dir, struct lmsg_status *st)
{
	char sock[512];
	int c, ret;

	snprintf(sock, sizeof(sock), "%s/tcpcpd.sock", dir);
	c = ctl_connect(sock);
	if (c < 0)
		return c;
	ret = ctl_status(c, st);
	close(c);
	return ret;
}

/* Nothing from the daemon but the close */
static int closed_silently(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&p, 1, 5000) != 1)
		return 0;
	return recv(fd, &b, 1, 0) <= 0;
}

FIXTURE(daemon)
{
	char dir[64];
	pid_t pid;
};

FIXTURE_SETUP(daemon)
{
	char path[128];

	if (geteuid())
		SKIP(return, "needs root (network namespace)");
	if (access(daemon_bin(), X_OK))
		SKIP(return, "%s not built", daemon_bin());
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
	strcpy(self->dir, "/tmp/tcpcpd-auth-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	chmod(self->dir, 0755);
	snprintf(path, sizeof(path), "%s/key", self->dir);
	write_file(path, good_key, sizeof(good_key) - 1, 0600);
	self->pid = -1;
	if (strstr(_metadata->name, "local_"))
		return; /* these start their own daemon */
	self->pid = start_daemon(self->dir, "");
	ASSERT_LT(0, self->pid);
}

FIXTURE_TEARDOWN(daemon)
{
	char cmd[128];
	int st = 0;

	if (self->pid > 0) {
		kill(self->pid, SIGTERM);
		waitpid(self->pid, &st, 0);
		EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	if (self->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
		if (system(cmd))
			TH_LOG("cannot remove %s", self->dir);
	}
}

/* The good path the others are measured against: HELLO, PREPARE, REFUSED */
TEST_F(daemon, good_key_bad_ici_refused)
{
	struct buf out = { 0 }, in = { 0 };
	struct proto_sess s;
	struct tcpcpd_msg m;
	struct lmsg_status st;
	int fd = handshake(&s, good_key, sizeof(good_key) - 1, &out);

	ASSERT_LE(0, fd);
	EXPECT_STREQ("dst", s.peer_name);
	bogus_prepare(&m);
	out.len = 0;
	ASSERT_EQ(0, proto_send(&s, &m, &out));
	ASSERT_EQ(0, send_all(fd, out.p, out.len));
	ASSERT_EQ(0, read_frame(fd, &in));
	ASSERT_EQ(0, proto_open(&s, in.p, in.len, &m, NULL, 0));
	EXPECT_EQ(TCPCPD_REFUSED, m.type);
	EXPECT_LT(0, m.err);
	TH_LOG("refused: %s (%s)", m.text, strerror(m.err));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(0, st.endpoints_created);
	EXPECT_EQ(1, st.moves_in_failed);
	EXPECT_EQ(0, st.auth_failures);
	EXPECT_TRUE(log_has(self->dir, "authenticated as \"org\""));
	close(fd);
	buf_free(&out);
	buf_free(&in);
}

TEST_F(daemon, wrong_key_refused)
{
	struct buf out = { 0 };
	struct proto_sess s;
	struct lmsg_status st;
	int fd = tcp_connect();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, proto_init(&s, bad_key, sizeof(bad_key) - 1, true));
	ASSERT_EQ(0, proto_hello(&s, "mallory", &out));
	ASSERT_EQ(0, send_all(fd, out.p, out.len));
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(
		log_has(self->dir, "authentication failed: bad MAC on HELLO"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.auth_failures);
	EXPECT_EQ(0, st.endpoints_created);
	EXPECT_EQ(0, st.moves_in_failed);
	close(fd);
	buf_free(&out);
}

TEST_F(daemon, truncated_frame_dropped)
{
	struct buf out = { 0 };
	struct proto_sess s;
	struct lmsg_status st;
	int fd = tcp_connect();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, proto_init(&s, good_key, sizeof(good_key) - 1, true));
	ASSERT_EQ(0, proto_hello(&s, "org", &out));
	ASSERT_EQ(0, send_all(fd, out.p, out.len - 10));
	shutdown(fd, SHUT_WR);
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(log_has(self->dir, "truncated frame"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.proto_errors);
	close(fd);
	buf_free(&out);
}

TEST_F(daemon, oversized_frame_dropped)
{
	uint8_t hdr[TCPCPD_HDR_LEN] = { 0 };
	uint32_t l = htonl(TCPCPD_MAX_FRAME + 1);
	struct lmsg_status st;
	int fd = tcp_connect();

	ASSERT_LE(0, fd);
	memcpy(hdr, &l, 4);
	hdr[4] = TCPCPD_PREPARE;
	hdr[5] = TCPCPD_PROTO_VERSION;
	ASSERT_EQ(0, send_all(fd, hdr, sizeof(hdr)));
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(log_has(self->dir, "oversized frame length"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.proto_errors);
	close(fd);
}

/* Before HELLO only a HELLO-sized frame is read: no large buffer for strangers */
TEST_F(daemon, large_frame_before_hello_dropped)
{
	uint8_t hdr[TCPCPD_HDR_LEN] = { 0 };
	uint32_t l = htonl(65536);
	struct lmsg_status st;
	int fd = tcp_connect();

	ASSERT_LE(0, fd);
	memcpy(hdr, &l, 4);
	hdr[4] = TCPCPD_HELLO;
	hdr[5] = TCPCPD_PROTO_VERSION;
	ASSERT_EQ(0, send_all(fd, hdr, sizeof(hdr)));
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(log_has(self->dir,
			    "oversized frame length 65536 (limits 48..184)"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.proto_errors);
	close(fd);
}

TEST_F(daemon, stalled_hello_dropped)
{
	int fd = tcp_connect();

	ASSERT_LE(0, fd);
	/* say nothing: the daemon gives up after hello_timeout (2 s) */
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(log_has(self->dir, "no HELLO within"));
	close(fd);
}

/* A whole recorded session replayed on a new connection fails at PREPARE */
TEST_F(daemon, replay_across_sessions_refused)
{
	struct buf hello = { 0 }, prep = { 0 }, in = { 0 };
	struct proto_sess s, s2;
	struct tcpcpd_msg m;
	struct lmsg_status st;
	int fd = handshake(&s, good_key, sizeof(good_key) - 1, &hello), fd2;

	ASSERT_LE(0, fd);
	bogus_prepare(&m);
	ASSERT_EQ(0, proto_send(&s, &m, &prep));
	ASSERT_EQ(0, send_all(fd, prep.p, prep.len));
	ASSERT_EQ(0, read_frame(fd, &in));
	close(fd);

	fd2 = tcp_connect();
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, send_all(fd2, hello.p, hello.len));
	/* the daemon answers the replayed HELLO with a fresh nonce ... */
	ASSERT_EQ(0, read_frame(fd2, &in));
	s2 = s;
	s2.established = false;
	ASSERT_EQ(0, proto_open(&s2, in.p, in.len, &m, NULL, 0));
	EXPECT_NE(0, memcmp(s.nonce_peer, s2.nonce_peer, TCPCPD_NONCE_LEN));
	/* ... which the recorded PREPARE cannot answer */
	ASSERT_EQ(0, send_all(fd2, prep.p, prep.len));
	EXPECT_TRUE(closed_silently(fd2));
	EXPECT_TRUE(log_has(self->dir, "bad MAC on PREPARE"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.auth_failures);
	EXPECT_EQ(1, st.moves_in_failed); /* the original only */
	EXPECT_EQ(0, st.endpoints_created);
	close(fd2);
	buf_free(&hello);
	buf_free(&prep);
	buf_free(&in);
}

TEST_F(daemon, replay_within_session_refused)
{
	struct buf hello = { 0 }, prep = { 0 }, in = { 0 };
	struct proto_sess s;
	struct tcpcpd_msg m;
	struct lmsg_status st;
	int fd = handshake(&s, good_key, sizeof(good_key) - 1, &hello);

	ASSERT_LE(0, fd);
	bogus_prepare(&m);
	ASSERT_EQ(0, proto_send(&s, &m, &prep));
	ASSERT_EQ(0, send_all(fd, prep.p, prep.len));
	ASSERT_EQ(0, read_frame(fd, &in));
	ASSERT_EQ(0, send_all(fd, prep.p, prep.len)); /* again */
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(log_has(self->dir, "sequence number 1, expected 2"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.moves_in_failed);
	EXPECT_EQ(1, st.proto_errors);
	close(fd);
	buf_free(&hello);
	buf_free(&prep);
	buf_free(&in);
}

TEST_F(daemon, tampered_frame_refused)
{
	struct buf hello = { 0 }, prep = { 0 };
	struct proto_sess s;
	struct tcpcpd_msg m;
	struct lmsg_status st;
	int fd = handshake(&s, good_key, sizeof(good_key) - 1, &hello);

	ASSERT_LE(0, fd);
	bogus_prepare(&m);
	ASSERT_EQ(0, proto_send(&s, &m, &prep));
	prep.p[TCPCPD_HDR_LEN + 40] ^= 1; /* one bit of the ICI */
	ASSERT_EQ(0, send_all(fd, prep.p, prep.len));
	EXPECT_TRUE(closed_silently(fd));
	EXPECT_TRUE(log_has(self->dir, "bad MAC on PREPARE"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.auth_failures);
	EXPECT_EQ(0, st.moves_in_failed);
	close(fd);
	buf_free(&hello);
	buf_free(&prep);
}

/* An authenticated REDIRECT to a daemon without the gateway role */
TEST_F(daemon, redirect_without_gateway_role_refused)
{
	struct buf out = { 0 }, in = { 0 };
	struct proto_sess s;
	struct tcpcpd_msg m = { .type = TCPCPD_REDIRECT,
				.mode = TCPCPD_REDIR_RULE,
				.family = 4,
				.lport = 5000,
				.rport = 40000 };
	int fd = handshake(&s, good_key, sizeof(good_key) - 1, &out);

	ASSERT_LE(0, fd);
	memcpy(m.laddr, "\xc6\x12\x64\x01", 4);
	memcpy(m.raddr, "\xc6\x12\x00\x01", 4);
	memcpy(m.via, "\xc6\x12\x02\x01", 4);
	out.len = 0;
	ASSERT_EQ(0, proto_send(&s, &m, &out));
	ASSERT_EQ(0, send_all(fd, out.p, out.len));
	ASSERT_EQ(0, read_frame(fd, &in));
	ASSERT_EQ(0, proto_open(&s, in.p, in.len, &m, NULL, 0));
	EXPECT_EQ(TCPCPD_REDIRECTED, m.type);
	EXPECT_EQ(EOPNOTSUPP, m.err);
	EXPECT_TRUE(
		log_has(self->dir,
			"REDIRECT refused: this daemon has no gateway role"));
	close(fd);
	buf_free(&out);
	buf_free(&in);
}

/* uid/gid 65534 asks for the counters; returns 0 or -errno */
static int status_as_nobody(const char *dir, gid_t extra_group)
{
	struct lmsg_status st;
	int p[2], ret = -EIO;
	pid_t pid;

	if (pipe(p))
		return -errno;
	pid = fork();
	if (pid == 0) {
		gid_t g = extra_group;

		if (setgroups(extra_group ? 1 : 0, &g) ||
		    setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(1);
		ret = status(dir, &st);
		if (write(p[1], &ret, sizeof(ret)) != sizeof(ret))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &ret, sizeof(ret)) != sizeof(ret))
		ret = -EIO;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return ret;
}

TEST_F(daemon, local_without_permission_refused)
{
	struct lmsg_status st;

	/* the socket is world-writable so that the daemon's own check decides */
	self->pid = start_daemon(self->dir, "socket_mode = 0666\n");
	ASSERT_LT(0, self->pid);
	EXPECT_EQ(-EPERM, status_as_nobody(self->dir, 0));
	EXPECT_TRUE(log_has(self->dir, "uid 65534 gid 65534 refused"));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(1, st.local_refused);
}

TEST_F(daemon, local_group_member_allowed)
{
	struct lmsg_status st;
	struct group *g = getgrgid(100); /* "users" on Debian */

	if (!g)
		SKIP(return, "no group 100 to test with");
	char extra[128];

	snprintf(extra, sizeof(extra), "socket_mode = 0660\ngroup = %s\n",
		 g->gr_name);
	self->pid = start_daemon(self->dir, extra);
	ASSERT_LT(0, self->pid);
	/* not in the group: the file mode refuses already */
	EXPECT_EQ(-EACCES, status_as_nobody(self->dir, 0));
	/* in the group as a supplementary group: SO_PEERGROUPS lets it in */
	EXPECT_EQ(0, status_as_nobody(self->dir, 100));
	ASSERT_EQ(0, status(self->dir, &st));
	EXPECT_EQ(0, st.local_refused);
}

TEST_F(daemon, local_key_readable_by_others_refused)
{
	char path[128];
	int st;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/key", self->dir);
	ASSERT_EQ(0, chmod(path, 0640));
	pid = start_daemon(self->dir, "");
	EXPECT_EQ(-1, pid);
	EXPECT_TRUE(log_has(self->dir, "lets group or others read the key"));
	(void)st;
}

TEST_HARNESS_MAIN
