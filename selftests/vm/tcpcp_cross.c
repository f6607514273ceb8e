// SPDX-License-Identifier: GPL-2.0
/*
 * Moves across backends on the patched kernel, both ways: dump with the
 * native backend and create with the repair backend, and back.  With data
 * in flight both ways, unread data, and a half-closed (CLOSE-WAIT) socket.
 * IPv4 and IPv6 over loopback in a private network namespace.  The
 * library's debug log goes to stderr, so a failing step is named.
 */
#include "kselftest_harness.h"
#include "tcpcp.h"
#include "tcpcp_util.h"
#include "tcpcp_api_util.h"

FIXTURE(cross)
{
	int c, s;
};

FIXTURE_VARIANT(cross)
{
	int family;
};

FIXTURE_VARIANT_ADD(cross, ipv4){
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(cross, ipv6){
	.family = AF_INET6,
};

static void log_fn(int level, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "# libtcpcp[%d]: %s\n", level, msg);
}

FIXTURE_SETUP(cross)
{
	int ret = vm_netns();

	self->c = self->s = -1;
	if (ret == -EPERM)
		SKIP(return, "needs root for a network namespace");
	ASSERT_EQ(0, ret);
	if (tcpcp_native_available() != 1)
		SKIP(return, "kernel without CONFIG_TCPCP");
	tcpcp_set_log(TCPCP_LOG_DEBUG, log_fn, NULL);
	ASSERT_EQ(0, vm_pair(variant->family, &self->c, &self->s));
}

FIXTURE_TEARDOWN(cross)
{
	tcpcp_set_log(TCPCP_LOG_ERR, NULL, NULL);
	close(self->c);
	close(self->s);
}

static void idle(struct __test_metadata *_metadata, int c, int s, int from,
		 int to)
{
	int d = -1, ret;

	ret = vm_move_via(s, from, to, &d);
	ASSERT_EQ(0, ret) TH_LOG("move: %s", strerror(-ret));
	vm_stream_check(_metadata, c, d);
	close(d);
}

/* bytes each way: the peer's unread at s, s's unread at the peer */
static void busy(struct __test_metadata *_metadata, int c, int s, int from,
		 int to)
{
	char buf[6];
	int d = -1, ret;

	ASSERT_EQ(6, write(c, "to-srv", 6));
	ASSERT_EQ(6, write(s, "to-cli", 6));
	usleep(20000);
	ret = vm_move_via(s, from, to, &d);
	ASSERT_EQ(0, ret) TH_LOG("move: %s", strerror(-ret));
	ASSERT_EQ(0, vm_read_all(d, buf, 6, 2000));
	EXPECT_EQ(0, memcmp(buf, "to-srv", 6));
	ASSERT_EQ(0, vm_read_all(c, buf, 6, 2000));
	EXPECT_EQ(0, memcmp(buf, "to-cli", 6));
	vm_stream_check(_metadata, c, d);
	close(d);
}

static void close_wait(struct __test_metadata *_metadata, int c, int s,
		       int from, int to)
{
	char buf[4];
	int d = -1, ret;

	ASSERT_EQ(4, write(c, "last", 4));
	ASSERT_EQ(0, shutdown(c, SHUT_WR));
	usleep(20000);
	ret = vm_move_via(s, from, to, &d);
	ASSERT_EQ(0, ret) TH_LOG("move: %s", strerror(-ret));
	ASSERT_EQ(0, vm_read_all(d, buf, 4, 2000));
	EXPECT_EQ(0, memcmp(buf, "last", 4));
	EXPECT_EQ(0, read(d, buf, 1)) TH_LOG("no EOF after the moved FIN");
	ASSERT_EQ(3, write(d, "bye", 3));
	ASSERT_EQ(0, vm_read_all(c, buf, 3, 2000));
	EXPECT_EQ(0, memcmp(buf, "bye", 3));
	close(d);
	EXPECT_EQ(0, read(c, buf, 1));
}

#define N TCPCP_BACKEND_NATIVE
#define R TCPCP_BACKEND_REPAIR

TEST_F(cross, native_to_repair_idle)
{
	idle(_metadata, self->c, self->s, N, R);
}

TEST_F(cross, native_to_repair_busy)
{
	busy(_metadata, self->c, self->s, N, R);
}

TEST_F(cross, native_to_repair_close_wait)
{
	close_wait(_metadata, self->c, self->s, N, R);
}

TEST_F(cross, repair_to_native_busy)
{
	busy(_metadata, self->c, self->s, R, N);
}

TEST_F(cross, repair_to_native_close_wait)
{
	close_wait(_metadata, self->c, self->s, R, N);
}

TEST_HARNESS_MAIN
