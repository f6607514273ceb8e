// SPDX-License-Identifier: GPL-2.0
/*
 * libtcpcp's native backend on the patched kernel: the kernel's ICIs pass
 * the library's checks, moves through the public API, half-closed states,
 * and a move across backends (dump with repair, create with native).  IPv4
 * and IPv6 over loopback in a private network namespace.
 */
#include "kselftest_harness.h"
#include "tcpcp.h"
#include "tcpcp_util.h"
#include "tcpcp_api_util.h"

FIXTURE(native)
{
	int c, s;
};

FIXTURE_VARIANT(native)
{
	int family;
};

FIXTURE_VARIANT_ADD(native, ipv4){
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(native, ipv6){
	.family = AF_INET6,
};

FIXTURE_SETUP(native)
{
	int ret = vm_netns();

	self->c = self->s = -1;
	if (ret == -EPERM)
		SKIP(return, "needs root for a network namespace");
	ASSERT_EQ(0, ret);
	if (tcpcp_native_available() != 1)
		SKIP(return, "kernel without CONFIG_TCPCP");
	ASSERT_EQ(0, vm_pair(variant->family, &self->c, &self->s));
}

FIXTURE_TEARDOWN(native)
{
	close(self->c);
	close(self->s);
}

TEST_F(native, move_through_the_api)
{
	char buf[4];
	int d = -1;

	ASSERT_EQ(4, write(self->c, "abcd", 4));
	usleep(20000);
	ASSERT_EQ(0, vm_move_via(self->s, TCPCP_BACKEND_NATIVE,
				 TCPCP_BACKEND_NATIVE, &d));
	EXPECT_EQ(TCPCP_BACKEND_NATIVE, tcpcp_backend());
	ASSERT_EQ(0, vm_read_all(d, buf, 4, 2000));
	EXPECT_EQ(0, memcmp(buf, "abcd", 4));
	vm_stream_check(_metadata, self->c, d);
	close(d);
}

TEST_F(native, close_wait)
{
	char buf[4];
	int d = -1;

	ASSERT_EQ(4, write(self->c, "last", 4));
	ASSERT_EQ(0, shutdown(self->c, SHUT_WR));
	usleep(20000);
	ASSERT_EQ(0, vm_move_via(self->s, TCPCP_BACKEND_NATIVE,
				 TCPCP_BACKEND_NATIVE, &d));
	ASSERT_EQ(0, vm_read_all(d, buf, 4, 2000));
	EXPECT_EQ(0, memcmp(buf, "last", 4));
	EXPECT_EQ(0, read(d, buf, 1)) TH_LOG("no EOF after the moved FIN");
	ASSERT_EQ(3, write(d, "bye", 3));
	ASSERT_EQ(0, vm_read_all(self->c, buf, 3, 2000));
	EXPECT_EQ(0, memcmp(buf, "bye", 3));
	close(d);
	EXPECT_EQ(0, read(self->c, buf, 1));
}

TEST_F(native, fin_wait1_unsent_fin)
{
	void *ici = NULL;
	socklen_t len = 0;
	char buf[8];
	int d;

	/* isolate first: the data and the FIN stay unsent */
	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	free(ici);
	ASSERT_EQ(5, write(self->s, "final", 5));
	ASSERT_EQ(0, shutdown(self->s, SHUT_WR));
	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	ASSERT_EQ(0, tcpcp_ici_check(ici, len, NULL, 0));
	ASSERT_EQ(0, vm_fn(self->s, TCPCP_DISCARD));
	d = vm_create(variant->family, ici, len);
	free(ici);
	ASSERT_LE(0, d) TH_LOG("create: %s", strerror(-d));
	ASSERT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
	ASSERT_EQ(0, vm_read_all(self->c, buf, 5, 2000));
	EXPECT_EQ(0, memcmp(buf, "final", 5));
	EXPECT_EQ(0, read(self->c, buf, 1))
	TH_LOG("no FIN from the new endpoint");
	/* half-closed: the peer can still send */
	ASSERT_EQ(2, write(self->c, "ok", 2));
	ASSERT_EQ(0, vm_read_all(d, buf, 2, 2000));
	close(d);
}

TEST_F(native, repair_to_native)
{
	int d = -1, ret;

	ret = vm_move_via(self->s, TCPCP_BACKEND_REPAIR, TCPCP_BACKEND_NATIVE,
			  &d);
	ASSERT_EQ(0, ret) TH_LOG("move: %s", strerror(-ret));
	vm_stream_check(_metadata, self->c, d);
	close(d);
}

TEST_HARNESS_MAIN
