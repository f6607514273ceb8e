// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end moves in the namespace lab with the library's backend of the
 * running kernel (repair on a stock kernel).  The peer client streams both
 * ways through gw while the server end moves between a and b; every test
 * checks both streams byte for byte and the capture taken at the peer
 * (pcapcheck: no RST, no SYN, orderly FINs, TSval and sequence numbers never
 * going back).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mover.h"
#include "tcpcp.h"

FIXTURE(lab)
{
	struct lab lab;
};

FIXTURE_VARIANT(lab)
{
	int family;
};

FIXTURE_VARIANT_ADD(lab, ipv4){
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(lab, ipv6){
	.family = AF_INET6,
};

FIXTURE_SETUP(lab)
{
	const char *why = lab_missing(true);

	if (*why)
		SKIP(return, "%s", why);
	ASSERT_EQ(0, lab_up(&self->lab, "e2e"));
}

FIXTURE_TEARDOWN_PARENT(lab)
{
	if (self->lab.up)
		lab_down(&self->lab);
}

static void report(struct __test_metadata *_metadata, const struct mv_result *r)
{
	TH_LOG("moves %d, max freeze %.1f ms, max unacked %u unsent %u unread %u, ICI <= %u bytes",
	       r->moves, r->max_freeze_ms, r->max_unacked, r->max_unsent,
	       r->max_unread, r->max_ici);
	TH_LOG("%s; packets a sent while isolated: %d", r->peer, r->leaked);
	TH_LOG("pcapcheck: %s", r->pcap);
	if (r->err[0])
		TH_LOG("error: %s (capture kept: %s)", r->err, r->pcapfile);
}

#define RUN(...)                                                 \
	do {                                                     \
		struct mv_scen sc = { .family = variant->family, \
				      .timeout = 20,             \
				      __VA_ARGS__ };             \
		int ret = mv_run(&self->lab, &sc, &res);         \
		report(_metadata, &res);                         \
		EXPECT_EQ(0, ret);                               \
	} while (0)

/*
 * ESTABLISHED with data in flight both ways: gw drops the server's last
 * segments, so the peer lacks unacknowledged data; unsent data stays
 * queued; the peer's data piles up unread.
 */
TEST_F(lab, established)
{
	struct mv_result res;

	RUN(.c2s = 3000000, .s2c = 3000000, .moves = 1, .lossy = true);
	EXPECT_NE(0, res.max_unacked);
	EXPECT_NE(0, res.max_unsent);
	EXPECT_NE(0, res.max_unread);
	EXPECT_NE(0, res.states_seen & (1U << 1));
}

/* The peer has shut down its side; unread data and its FIN move along */
TEST_F(lab, close_wait)
{
	struct mv_result res;

	RUN(.c2s = 400000, .s2c = 2000000, .moves = 1,
	    .end = MV_END_CLOSE_WAIT);
	EXPECT_NE(0, res.max_unread);
	EXPECT_NE(0, res.states_seen & (1U << 8));
}

/*
 * As close_wait, with bpf(2) refused: the repair backend falls back from
 * its shared eBPF filters to classic ones attached to each socket (both
 * the drop-all filter and the one letting the re-injected FIN in)
 */
TEST_F(lab, classic_filter)
{
	struct mv_result res;

	if (tcpcp_backend() != TCPCP_BACKEND_REPAIR)
		SKIP(return, "the %s backend uses no socket filter",
			   tcpcp_backend_name(tcpcp_backend()));
	if (!mv_can_deny_bpf())
		SKIP(return, "seccomp cannot refuse bpf() on this kernel");

	RUN(.c2s = 400000, .s2c = 2000000, .moves = 2, .end = MV_END_CLOSE_WAIT,
	    .deny_bpf = true);
	EXPECT_NE(0, res.max_unread);
	EXPECT_NE(0, res.states_seen & (1U << 8));
}

/* The server has sent everything and its FIN was acknowledged */
TEST_F(lab, fin_wait2)
{
	struct mv_result res;

	RUN(.c2s = 3000000, .s2c = 500000, .moves = 1, .end = MV_END_FIN_WAIT2);
	EXPECT_NE(0, res.states_seen & (1U << 5));
}

/* Port modes: a socket the destination bound itself (gw rewrites ports) */
TEST_F(lab, port_bound)
{
	struct mv_result res;

	RUN(.c2s = 1000000, .s2c = 1000000, .moves = 1, .port = MV_PORT_BOUND);
}

/* ... and any free port (TCPCP_CREATE_ANY_PORT) */
TEST_F(lab, port_any)
{
	struct mv_result res;

	RUN(.c2s = 1000000, .s2c = 1000000, .moves = 1, .port = MV_PORT_ANY);
}

/* tcpcp_get, then roll back: the stream completes at a */
TEST_F(lab, rollback)
{
	struct mv_result res;

	RUN(.c2s = 1000000, .s2c = 1000000, .moves = 1, .rollback = true);
}

/*
 * An isolated endpoint sends nothing although its timers run: gw drops its
 * last segments so they stay unacknowledged (retransmission timer armed),
 * then it is dumped and watched on a's wire for 1.5 s, then rolled back.
 */
TEST_F(lab, isolated_is_silent)
{
	struct mv_result res;

	RUN(.c2s = 1000000, .s2c = 3000000, .moves = 1, .rollback = true,
	    .lossy = true, .silence_ms = 1500);
	EXPECT_NE(0, res.max_unacked);
	EXPECT_EQ(0, res.leaked);
}

/* a -> b -> a */
TEST_F(lab, there_and_back)
{
	struct mv_result res;

	RUN(.c2s = 2000000, .s2c = 2000000, .moves = 2);
	EXPECT_EQ(2, res.moves);
}

/* 100 consecutive moves of one bidirectional stream */
TEST_F_TIMEOUT(lab, hundred_moves, 120)
{
	struct mv_result res;

	RUN(.c2s = 4000000, .s2c = 4000000, .moves = 100);
	EXPECT_EQ(100, res.moves);
}

int main(int argc, char **argv)
{
	/* test_harness_run() exits; namespaces of killed tests go here */
	lab_init();
	atexit(lab_cleanup_all);
	return test_harness_run(argc, argv);
}
