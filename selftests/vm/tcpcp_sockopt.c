// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp socket options on the patched kernel: errors, isolation on the wire,
 * activation timing, timestamps, a move with data in every queue.  Each case
 * runs in its own network namespace over loopback, for IPv4 and IPv6.
 */
#include <linux/capability.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "tcpcp_util.h"

#define SYSCTL_PRIV "/proc/sys/net/ipv4/tcpcp_privileged"

FIXTURE(tcpcp)
{
	int c, s; /* client (the peer) and the accepted server */
	uint16_t sport; /* the server's port */
};

FIXTURE_VARIANT(tcpcp)
{
	int family;
};

FIXTURE_VARIANT_ADD(tcpcp, ipv4){
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(tcpcp, ipv6){
	.family = AF_INET6,
};

FIXTURE_SETUP(tcpcp)
{
	int one = 1, ret, probe;
	socklen_t l = sizeof(one);

	ret = vm_netns();
	if (ret == -EPERM)
		SKIP(return, "needs root for a network namespace");
	ASSERT_EQ(0, ret);
	probe = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, probe);
	if (getsockopt(probe, SOL_TCP, TCP_MAXICISIZE, &one, &l) &&
	    errno == ENOPROTOOPT)
		SKIP(return, "kernel without CONFIG_TCPCP");
	close(probe);
	ASSERT_EQ(0, vm_pair(variant->family, &self->c, &self->s));
	self->sport = vm_port(self->s);
	setsockopt(self->s, SOL_TCP, TCP_NODELAY, &one, sizeof(one));
}

FIXTURE_TEARDOWN(tcpcp)
{
	close(self->c);
	close(self->s);
}

/* Move s to a new socket in the same namespace; returns the new fd */
static int move(int family, int s, void **icip, socklen_t *lenp)
{
	socklen_t len = 0;
	void *ici = NULL;
	int d;

	if (vm_dump(s, &ici, &len))
		return -errno;
	if (vm_fn(s, TCPCP_DISCARD)) {
		free(ici);
		return -errno;
	}
	d = vm_create(family, ici, len);
	if (icip) {
		*icip = ici;
		*lenp = len;
	} else {
		free(ici);
	}
	return d;
}

/* Offset of element type in an ICI, or 0 */
static size_t elem_off(const uint8_t *ici, size_t len, uint16_t type)
{
	size_t off = sizeof(struct tcpcp_ici_hdr);

	while (off + 8 <= len) {
		uint16_t t = ntohs(*(const uint16_t *)(ici + off));
		uint32_t l = ntohl(*(const uint32_t *)(ici + off + 4));

		if (t == type)
			return off + 8;
		off += 8 + ((l + 3) & ~3U);
	}
	return 0;
}

static int drop_net_admin(bool drop)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	if (drop)
		d[0].effective &= ~(1U << CAP_NET_ADMIN);
	else
		d[0].effective |= d[0].permitted & (1U << CAP_NET_ADMIN);
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

TEST_F(tcpcp, maxicisize_and_erange)
{
	int v = 0, before;
	socklen_t l = sizeof(v);
	char small[16], buf[8];

	ASSERT_EQ(5, write(self->c, "hello", 5));
	ASSERT_EQ(0, vm_read_all(self->s, buf, 2, 1000));
	ASSERT_EQ(0, getsockopt(self->s, SOL_TCP, TCP_MAXICISIZE, &v, &l));
	ASSERT_EQ(sizeof(int), l);
	ASSERT_LT(16 + 8 * 6, v) TH_LOG("MAXICISIZE %d too small", v);
	before = v;

	l = sizeof(small);
	ASSERT_EQ(-1, getsockopt(self->s, SOL_TCP, TCP_ICI, small, &l));
	ASSERT_EQ(ERANGE, errno);
	ASSERT_EQ((socklen_t)before, l)
	TH_LOG("needed %u, bound %d", l, before);

	/* not isolated: the connection goes on */
	ASSERT_EQ(2, write(self->s, "ok", 2));
	ASSERT_EQ(0, vm_read_all(self->c, buf, 2, 1000));
	ASSERT_EQ(0, memcmp(buf, "ok", 2));
	ASSERT_EQ(0, vm_read_all(self->s, buf, 3, 1000));
	ASSERT_EQ(0, memcmp(buf, "llo", 3));
}

TEST_F(tcpcp, bad_icis_refused)
{
	uint8_t *ici = NULL, *bad;
	socklen_t len = 0;
	size_t seq;
	int d, v;

	ASSERT_EQ(0, vm_dump(self->s, (void **)&ici, &len));
	ASSERT_EQ(0, vm_fn(self->s, TCPCP_DISCARD));
	bad = malloc(len + 8);
	ASSERT_NE(NULL, bad);
	d = socket(variant->family, SOCK_STREAM, 0);
	ASSERT_LE(0, d);

	/* truncated: one element short of what the header says */
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, ici, len - 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, ici, 8));
	EXPECT_EQ(EINVAL, errno);
	/* oversized: trailing bytes */
	memcpy(bad, ici, len);
	memset(bad + len, 0, 8);
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, bad, len + 8));
	EXPECT_EQ(EINVAL, errno);
	/* header length beyond the maximum */
	*(uint32_t *)(bad + 8) = htonl(TCPCP_ICI_MAX_LEN + 4);
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, bad, len));
	EXPECT_EQ(EINVAL, errno);
	/* wrong major version */
	memcpy(bad, ici, len);
	bad[4] = TCPCP_ICI_MAJOR + 1;
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, bad, len));
	EXPECT_EQ(EPROTONOSUPPORT, errno);
	/* bad magic */
	memcpy(bad, ici, len);
	bad[0] ^= 0xff;
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, bad, len));
	EXPECT_EQ(EINVAL, errno);
	/* inconsistent: write_seq does not match the send queue */
	memcpy(bad, ici, len);
	seq = elem_off(bad, len, TCPCP_EL_SEQ);
	ASSERT_NE((size_t)0, seq);
	*(uint32_t *)(bad + seq + 8) =
		htonl(ntohl(*(uint32_t *)(bad + seq + 8)) + 1);
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, bad, len));
	EXPECT_EQ(EINVAL, errno);
	/* reserved field set */
	memcpy(bad, ici, len);
	bad[12] = 1;
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, bad, len));
	EXPECT_EQ(EINVAL, errno);
	/* unreadable buffer */
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, (void *)8, len));
	EXPECT_EQ(EFAULT, errno);

	/* nothing changed: the socket is still fresh and takes the good ICI */
	EXPECT_EQ(0, setsockopt(d, SOL_TCP, TCP_ICI, ici, len));
	v = TCPCP_ACTIVATE;
	EXPECT_EQ(0, setsockopt(d, SOL_TCP, TCP_CP_FN, &v, sizeof(v)));
	/* and a created endpoint is not fresh any more */
	EXPECT_EQ(-1, setsockopt(d, SOL_TCP, TCP_ICI, ici, len));
	EXPECT_EQ(EISCONN, errno);
	close(d);
	free(bad);
	free(ici);
}

TEST_F(tcpcp, non_fresh_refused)
{
	socklen_t len = 0;
	void *ici = NULL;
	int l;

	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	EXPECT_EQ(-1, setsockopt(self->c, SOL_TCP, TCP_ICI, ici, len));
	EXPECT_EQ(EISCONN, errno);
	EXPECT_EQ(-1, setsockopt(self->s, SOL_TCP, TCP_ICI, ici, len));
	EXPECT_EQ(EISCONN, errno);
	l = socket(variant->family, SOCK_STREAM, 0);
	ASSERT_LE(0, l);
	ASSERT_EQ(0, listen(l, 1));
	EXPECT_EQ(-1, setsockopt(l, SOL_TCP, TCP_ICI, ici, len));
	EXPECT_EQ(EINVAL, errno);
	/* UNISOLATE and ACTIVATE only where they apply */
	EXPECT_EQ(-EINVAL, vm_fn(self->s, TCPCP_ACTIVATE));
	EXPECT_EQ(-EINVAL, vm_fn(self->c, TCPCP_UNISOLATE));
	EXPECT_EQ(-EINVAL, vm_fn(self->c, TCPCP_DISCARD));
	EXPECT_EQ(-EINVAL, vm_fn(self->s, 99));
	EXPECT_EQ(0, vm_fn(self->s, TCPCP_UNISOLATE));
	close(l);
	free(ici);
}

TEST_F(tcpcp, privilege)
{
	socklen_t len = 0;
	void *ici = NULL;
	int d;

	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	ASSERT_EQ(0, vm_fn(self->s, TCPCP_DISCARD));
	ASSERT_EQ(0, vm_sysctl(SYSCTL_PRIV, "1"));
	ASSERT_EQ(0, drop_net_admin(true));
	EXPECT_EQ(-EPERM, vm_create(variant->family, ici, len));
	ASSERT_EQ(0, drop_net_admin(false));
	ASSERT_EQ(0, vm_sysctl(SYSCTL_PRIV, "0"));
	ASSERT_EQ(0, drop_net_admin(true));
	d = vm_create(variant->family, ici, len);
	EXPECT_LE(0, d) TH_LOG("create with sysctl 0: %s", strerror(-d));
	ASSERT_EQ(0, drop_net_admin(false));
	if (d >= 0) {
		char b[3];

		EXPECT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
		EXPECT_EQ(3, write(self->c, "abc", 3));
		EXPECT_EQ(0, vm_read_all(d, b, 3, 2000));
		close(d);
	}
	free(ici);
}

TEST_F(tcpcp, move_with_queues)
{
	char out[3000], in[3000], early[5];
	socklen_t len = 0;
	void *ici = NULL;
	int d;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7 + 1);
	/* unread data at the server, then unsent data queued while isolated */
	ASSERT_EQ(1000, write(self->c, out, 1000));
	usleep(20000);
	EXPECT_EQ(-EINVAL, vm_fn(self->s, TCPCP_DISCARD));
	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	free(ici);
	ASSERT_EQ(2000, write(self->s, out + 1000, 2000));
	d = move(variant->family, self->s, NULL, NULL);
	ASSERT_LE(0, d) TH_LOG("move: %s", strerror(-d));

	/* reaches the created endpoint before activation: kept, not lost */
	ASSERT_EQ(5, write(self->c, "early", 5));
	usleep(20000);
	ASSERT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
	ASSERT_EQ(0, vm_read_all(self->c, in, 2000, 2000));
	EXPECT_EQ(0, memcmp(in, out + 1000, 2000));
	ASSERT_EQ(0, vm_read_all(d, in, 1000, 2000));
	EXPECT_EQ(0, memcmp(in, out, 1000));
	ASSERT_EQ(0, vm_read_all(d, early, 5, 2000));
	EXPECT_EQ(0, memcmp(early, "early", 5));
	/* and the stream goes on both ways */
	ASSERT_EQ(3, write(d, "xyz", 3));
	ASSERT_EQ(0, vm_read_all(self->c, in, 3, 2000));
	EXPECT_EQ(0, memcmp(in, "xyz", 3));
	close(d);
}

TEST_F(tcpcp, isolation_on_the_wire)
{
	int cap = vm_cap_open(), from_s = 0, from_c = 0;
	char buf[8];
	struct vm_seg g;
	socklen_t len = 0;
	void *ici = NULL;

	ASSERT_LE(0, cap);
	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	/* the peer sends, the isolated endpoint writes: neither gets out */
	ASSERT_EQ(5, write(self->c, "hello", 5));
	ASSERT_EQ(5, write(self->s, "world", 5));
	/* 2 x the minimum RTO (200 ms) and then some: retransmissions */
	for (double end = vm_now() + 0.7; vm_now() < end;) {
		if (vm_cap_next(cap, 50, &g) <= 0)
			continue;
		if (g.sport == self->sport)
			from_s++;
		else if (g.dport == self->sport)
			from_c++;
	}
	EXPECT_EQ(0, from_s)
	TH_LOG("%d segments left the isolated socket", from_s);
	EXPECT_LE(2, from_c)
	TH_LOG("peer sent %d (want a retransmission)", from_c);
	/* roll back: the stream completes both ways */
	ASSERT_EQ(0, vm_fn(self->s, TCPCP_UNISOLATE));
	ASSERT_EQ(0, vm_read_all(self->c, buf, 5, 3000));
	EXPECT_EQ(0, memcmp(buf, "world", 5));
	ASSERT_EQ(0, vm_read_all(self->s, buf, 5, 3000));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));
	close(cap);
	free(ici);
}

TEST_F(tcpcp, close_isolated_is_silent)
{
	int cap = vm_cap_open(), n = 0;
	struct vm_seg g;
	socklen_t len = 0;
	void *ici = NULL;

	ASSERT_LE(0, cap);
	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	close(self->s);
	self->s = -1;
	while (vm_cap_next(cap, 300, &g) > 0)
		n += g.sport == self->sport;
	EXPECT_EQ(0, n) TH_LOG("close() of an isolated socket sent %d", n);
	close(cap);
	free(ici);
}

TEST_F(tcpcp, activation_transmits_at_once)
{
	char out[1400], in[1400];
	int cap = vm_cap_open(), d;
	struct vm_seg g;
	double t0, t1 = 0;
	void *ici = NULL;
	socklen_t len = 0;

	ASSERT_LE(0, cap);
	memset(out, 'q', sizeof(out));
	ASSERT_EQ(0, vm_dump(self->s, &ici, &len));
	free(ici);
	ASSERT_EQ((ssize_t)sizeof(out), write(self->s, out, sizeof(out)));
	d = move(variant->family, self->s, NULL, NULL);
	ASSERT_LE(0, d);
	while (vm_cap_next(cap, 10, &g) > 0)
		;
	t0 = vm_now();
	ASSERT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
	while (vm_cap_next(cap, 1000, &g) > 0) {
		if (g.sport == self->sport && g.len) {
			t1 = vm_now();
			break;
		}
	}
	ASSERT_NE(0, t1) TH_LOG("no data left the activated endpoint");
	EXPECT_GT(0.05, t1 - t0)
	TH_LOG("first data %.1f ms after activation", (t1 - t0) * 1000);
	ASSERT_EQ(0, vm_read_all(self->c, in, sizeof(in), 2000));
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	close(d);
	close(cap);
}

TEST_F(tcpcp, activation_retransmits_unacked)
{
	char out[2000], in[2000];
	int cap = vm_cap_open(), d, first = 0;
	double t0, t1 = 0;
	socklen_t len = 0;
	void *ici = NULL;
	struct vm_seg g;
	uint32_t seq0 = 0;

	ASSERT_LE(0, cap);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 3 + 7);
	/* isolate the peer so that what the server sends stays unacked */
	ASSERT_EQ(0, vm_dump(self->c, &ici, &len));
	free(ici);
	ASSERT_EQ((ssize_t)sizeof(out), write(self->s, out, sizeof(out)));
	usleep(20000);
	while (vm_cap_next(cap, 10, &g) > 0)
		if (g.sport == self->sport && g.len && !first++)
			seq0 = g.seq;
	ASSERT_LT(0, first) TH_LOG("the server sent nothing");
	d = move(variant->family, self->s, &ici, &len);
	ASSERT_LE(0, d) TH_LOG("move: %s", strerror(-d));
	free(ici);
	ASSERT_EQ(0, vm_fn(self->c, TCPCP_UNISOLATE));
	t0 = vm_now();
	ASSERT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
	while (vm_cap_next(cap, 1000, &g) > 0) {
		if (g.sport == self->sport && g.len && g.seq == seq0) {
			t1 = vm_now();
			break;
		}
	}
	ASSERT_NE(0, t1) TH_LOG("no retransmission of the unacked data");
	EXPECT_GT(0.05, t1 - t0)
	TH_LOG("retransmitted %.1f ms after activation", (t1 - t0) * 1000);
	ASSERT_EQ(0, vm_read_all(self->c, in, sizeof(in), 3000));
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	close(d);
	close(cap);
}

/* cwnd of a created endpoint from an ICI whose CONG element says cwnd */
static int cwnd_after(int family, uint8_t *ici, socklen_t len, uint32_t cwnd,
		      uint32_t flags)
{
	size_t off = elem_off(ici, len, TCPCP_EL_CONG);
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	int d, ret;

	if (!off)
		return -ENOENT;
	*(uint32_t *)(ici + off) = htonl(cwnd);
	*(uint32_t *)(ici + off + 16) = htonl(flags);
	d = vm_create(family, ici, len);
	if (d < 0)
		return d;
	ret = getsockopt(d, SOL_TCP, TCP_INFO, &ti, &tl) ?
		      -errno :
		      (int)ti.tcpi_snd_cwnd;
	close(d); /* isolated: silent */
	return ret;
}

TEST_F(tcpcp, congestion_restored_on_request)
{
	socklen_t len = 0;
	uint8_t *ici = NULL;

	ASSERT_EQ(0, vm_dump(self->s, (void **)&ici, &len));
	ASSERT_EQ(0, vm_fn(self->s, TCPCP_DISCARD));
	EXPECT_EQ(37, cwnd_after(variant->family, ici, len, 37,
				 TCPCP_CONG_F_RESTORE));
	/* clamped */
	EXPECT_GE(65535, cwnd_after(variant->family, ici, len, 0x7fffffff,
				    TCPCP_CONG_F_RESTORE));
	/* not asked for: slow start from the initial window */
	EXPECT_EQ(10, cwnd_after(variant->family, ici, len, 37, 0));
	/* asked for by an unprivileged caller: ignored */
	ASSERT_EQ(0, vm_sysctl(SYSCTL_PRIV, "0"));
	ASSERT_EQ(0, drop_net_admin(true));
	EXPECT_EQ(10, cwnd_after(variant->family, ici, len, 37,
				 TCPCP_CONG_F_RESTORE));
	ASSERT_EQ(0, drop_net_admin(false));
	free(ici);
}

TEST_F(tcpcp, timestamps_continue)
{
	int cap = vm_cap_open(), d;
	uint32_t last_s = 0, last_c = 0;
	bool seen_s = false, seen_c = false, got = false;
	struct vm_seg g;
	char buf[4];

	ASSERT_LE(0, cap);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(4, write(self->s, "ping", 4));
		ASSERT_EQ(0, vm_read_all(self->c, buf, 4, 1000));
		ASSERT_EQ(4, write(self->c, "pong", 4));
		ASSERT_EQ(0, vm_read_all(self->s, buf, 4, 1000));
		usleep(5000);
	}
	usleep(50000); /* delayed ACKs */
	while (vm_cap_next(cap, 20, &g) > 0) {
		if (!g.has_ts)
			continue;
		if (g.sport == self->sport) {
			last_s = g.tsval;
			seen_s = true;
		} else if (g.dport == self->sport) {
			last_c = g.tsval;
			seen_c = true;
		}
	}
	ASSERT_TRUE(seen_s && seen_c);
	d = move(variant->family, self->s, NULL, NULL);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
	while (vm_cap_next(cap, 1000, &g) > 0) {
		if (g.sport != self->sport)
			continue;
		ASSERT_TRUE(g.has_ts);
		EXPECT_LT(0, (int32_t)(g.tsval - last_s))
		TH_LOG("TSval %u after %u", g.tsval, last_s);
		EXPECT_NE(0U, g.tsecr);
		EXPECT_EQ(last_c, g.tsecr);
		got = true;
		break;
	}
	EXPECT_TRUE(got) TH_LOG("nothing sent at activation");
	close(d);
	close(cap);
}

TEST_F(tcpcp, ofo_survives_the_move)
{
	int cap = vm_cap_open(), c, srv, d, carried_b = 0;
	char a[100], b[100], in[200];
	uint32_t a_seq = 0;
	bool have_a = false;
	socklen_t len = 0;
	void *ici = NULL;
	struct vm_seg g;
	uint16_t port;

	ASSERT_LE(0, cap);
	/* without SACK the peer does not fill the hole before its RTO */
	ASSERT_EQ(0, vm_sysctl("/proc/sys/net/ipv4/tcp_sack", "0"));
	ASSERT_EQ(0, vm_pair(variant->family, &c, &srv));
	port = vm_port(srv);
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	/* A is lost (the server is isolated), B arrives: a hole */
	ASSERT_EQ(0, vm_dump(srv, &ici, &len));
	free(ici);
	ASSERT_EQ(100, write(c, a, sizeof(a)));
	usleep(10000);
	ASSERT_EQ(0, vm_fn(srv, TCPCP_UNISOLATE));
	ASSERT_EQ(100, write(c, b, sizeof(b)));
	usleep(20000);
	d = move(variant->family, srv, &ici, &len);
	ASSERT_LE(0, d) TH_LOG("move: %s", strerror(-d));
	ASSERT_NE((size_t)0, elem_off(ici, len, TCPCP_EL_OFOQ))
	TH_LOG("no out-of-order data at the origin");
	free(ici);
	ASSERT_EQ(0, vm_fn(d, TCPCP_ACTIVATE));
	/* the peer retransmits A at its RTO; B must come from the ICI */
	ASSERT_EQ(0, vm_read_all(d, in, sizeof(in), 3000));
	EXPECT_EQ(0, memcmp(in, a, 100));
	EXPECT_EQ(0, memcmp(in + 100, b, 100));
	for (double end = vm_now() + 0.8; vm_now() < end;) {
		if (vm_cap_next(cap, 50, &g) <= 0 || g.dport != port || !g.len)
			continue;
		if (!have_a) {
			a_seq = g.seq;
			have_a = true;
		}
		if ((int32_t)(a_seq + 100 - g.seq) >= 0 &&
		    (int32_t)(g.seq + g.len - (a_seq + 100)) > 0)
			carried_b++;
	}
	EXPECT_EQ(1, carried_b) TH_LOG("the peer sent B %d times", carried_b);
	close(d);
	close(srv);
	close(c);
	close(cap);
}

TEST_HARNESS_MAIN
