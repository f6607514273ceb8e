// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input to the backend in force: truncated, oversized, wrong-version and
 * random ICIs are refused with EINVAL or EPROTONOSUPPORT and create no
 * socket; callers without CAP_NET_ADMIN get EPERM and change nothing;
 * sockets that cannot be dumped or are not isolated are refused.
 *
 * Each test runs in its own network namespace with a loopback connection.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "linux/tcpcp.h"
#include "tcpcp.h"

FIXTURE(conn)
{
	int lfd, cli, srv;
	void *ici;
	size_t len;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s = socket(AF_INET, SOCK_DGRAM, 0), ret;

	ret = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (!ret)
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	return ret;
}

FIXTURE_SETUP(conn)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char buf[1000] = "tcpcp";

	self->lfd = self->cli = self->srv = -1;
	if (geteuid())
		SKIP(return, "needs root (TCP_REPAIR, network namespaces)");
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, lo_up());
	self->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, bind(self->lfd, (struct sockaddr *)&sa, sizeof(sa)));
	ASSERT_EQ(0, listen(self->lfd, 1));
	ASSERT_EQ(0, getsockname(self->lfd, (struct sockaddr *)&sa, &sl));
	self->cli = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&sa, sizeof(sa)));
	self->srv = accept(self->lfd, NULL, NULL);
	ASSERT_LE(0, self->srv);
	/* data in both queues */
	ASSERT_EQ(sizeof(buf), write(self->cli, buf, sizeof(buf)));
	ASSERT_EQ(sizeof(buf), write(self->srv, buf, sizeof(buf)));
	ASSERT_EQ(0, tcpcp_dump(self->srv, 0, &self->ici, &self->len));
	ASSERT_EQ(0, tcpcp_unisolate(self->srv));
}

FIXTURE_TEARDOWN(conn)
{
	free(self->ici);
}

/* create must fail with one of errs and leave no new descriptor behind */
static void refused(struct __test_metadata *_metadata, const void *ici,
		    size_t len, int err1, int err2)
{
	int before = count_fds(), ret;

	ret = tcpcp_create_ex(ici, len, -1, 0, NULL);
	if (ret >= 0)
		close(ret);
	ASSERT_GT(0, ret);
	EXPECT_TRUE(-ret == err1 || -ret == err2)
	{
		TH_LOG("len %zu: %s", len, strerror(-ret));
	}
	EXPECT_EQ(before, count_fds());
}

TEST_F(conn, truncated)
{
	size_t n;

	for (n = 0; n < self->len; n += n < 64 ? 1 : 97)
		refused(_metadata, self->ici, n, EINVAL, EINVAL);
	refused(_metadata, self->ici, self->len - 1, EINVAL, EINVAL);
	/* the original API reads the length from the header */
	EXPECT_EQ(-1, tcpcp_create(NULL));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(conn, oversized)
{
	uint8_t *big = calloc(1, self->len + 4096);
	struct tcpcp_ici_hdr *h = (void *)big;

	ASSERT_NE(NULL, big);
	memcpy(big, self->ici, self->len);
	/* trailing bytes the header does not count */
	refused(_metadata, big, self->len + 4096, EINVAL, EINVAL);
	/* a header that claims more than there is */
	h->len = htonl(self->len + 4096);
	refused(_metadata, big, self->len, EINVAL, EINVAL);
	/* and more than any ICI may be */
	h->len = htonl(TCPCP_ICI_MAX_LEN + 1);
	refused(_metadata, big, self->len + 4096, EINVAL, EINVAL);
	EXPECT_EQ(-1, tcpcp_size(big));
	free(big);
}

TEST_F(conn, wrong_version)
{
	uint8_t *v = malloc(self->len);
	struct tcpcp_ici_hdr *h = (void *)v;

	ASSERT_NE(NULL, v);
	memcpy(v, self->ici, self->len);
	h->major = TCPCP_ICI_MAJOR + 1;
	refused(_metadata, v, self->len, EPROTONOSUPPORT, EPROTONOSUPPORT);
	h->major = 0;
	refused(_metadata, v, self->len, EPROTONOSUPPORT, EINVAL);
	h->major = TCPCP_ICI_MAJOR;
	h->magic = htonl(TCPCP_ICI_MAGIC + 1);
	refused(_metadata, v, self->len, EINVAL, EINVAL);
	free(v);
}

TEST_F(conn, random)
{
	uint8_t *r = malloc(self->len);
	struct tcpcp_ici_hdr *h = (void *)r;
	unsigned int i;
	size_t j, n;

	ASSERT_NE(NULL, r);
	srand(1);
	for (i = 0; i < 2000; i++) {
		n = 1 + rand() % self->len;
		for (j = 0; j < n; j++)
			r[j] = rand();
		if (i & 1 && n >= sizeof(*h)) {
			/* a believable header in front of random elements */
			memcpy(r, self->ici, sizeof(*h));
			h->len = htonl(n);
		}
		refused(_metadata, r, n, EINVAL, EPROTONOSUPPORT);
	}
	free(r);
}

static int drop_net_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[0].effective &= ~(1U << CAP_NET_ADMIN);
	data[0].permitted &= ~(1U << CAP_NET_ADMIN);
	return syscall(SYS_capset, &hdr, data);
}

/* Without CAP_NET_ADMIN: EPERM, and the connection is untouched */
TEST_F(conn, unprivileged)
{
	pid_t pid = fork();
	int st;

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int before, ret = 0, on = -1, mark = -1;
		socklen_t l = sizeof(int);
		char c = 'x';

		if (drop_net_admin())
			_exit(10);
		before = count_fds();
		if (tcpcp_create(self->ici) != -1 || errno != EPERM)
			_exit(11);
		if (count_fds() != before)
			_exit(12);
		if (tcpcp_get(self->srv) != NULL || errno != EPERM)
			_exit(13);
		getsockopt(self->srv, IPPROTO_TCP, TCP_REPAIR, &on, &l);
		getsockopt(self->srv, SOL_SOCKET, SO_MARK, &mark, &l);
		if (on != 0 || mark != 0)
			_exit(14);
		/* still a working connection */
		if (write(self->srv, &c, 1) != 1 ||
		    write(self->cli, &c, 1) != 1)
			_exit(15);
		_exit(ret);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
}

/* Sockets that cannot be dumped, calls that need an isolated socket */
TEST_F(conn, wrong_sockets)
{
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	int fresh = socket(AF_INET, SOCK_STREAM, 0);
	int p[2];
	void *ici;
	size_t len;

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-ENOTSOCK, tcpcp_dump(p[0], 0, &ici, &len));
	EXPECT_EQ(-EINVAL, tcpcp_dump(udp, 0, &ici, &len));
	EXPECT_EQ(-EINVAL, tcpcp_dump(self->lfd, 0, &ici, &len));
	EXPECT_EQ(-ENOTCONN, tcpcp_dump(fresh, 0, &ici, &len));
	/* not isolated: refused, and no RST from discard */
	EXPECT_EQ(-EINVAL, tcpcp_activate_ex(self->srv));
	EXPECT_EQ(-EINVAL, tcpcp_unisolate(self->srv));
	EXPECT_EQ(-EINVAL, tcpcp_discard(self->srv));
	/* dumping twice: the second finds the socket isolated already */
	ASSERT_EQ(0, tcpcp_dump(self->srv, 0, &ici, &len));
	free(ici);
	EXPECT_EQ(-EBUSY, tcpcp_dump(self->srv, 0, &ici, &len));
	EXPECT_EQ(0, tcpcp_unisolate(self->srv));
	close(udp);
	close(fresh);
	close(p[0]);
	close(p[1]);
}

/* What the repair backend cannot restore is refused under STRICT/CONG */
TEST_F(conn, unsupported_flags)
{
	int before = count_fds();
	unsigned int lost = 0;

	if (tcpcp_backend() != TCPCP_BACKEND_REPAIR)
		SKIP(return, "repair backend only");
	EXPECT_EQ(-EOPNOTSUPP, tcpcp_create_ex(self->ici, self->len, -1,
					       TCPCP_CREATE_CONG, &lost));
	EXPECT_EQ(before, count_fds());
}

TEST_HARNESS_MAIN
