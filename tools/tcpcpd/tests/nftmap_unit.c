// SPDX-License-Identifier: GPL-2.0
/*
 * nftmap.c on its own, in a network namespace of its own: the table it
 * sets up, the element messages it builds (key layout, mark, IPv4 and
 * IPv6) as nft lists them, a batch applied as one transaction (a failing
 * change leaves nothing of the others), the errno and text of a failure,
 * and the destroy message (or the add/delete pair of older kernels) that
 * takes a tuple out of the stale set whether or not it is there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "kselftest_harness.h"
#include "redir.h"

/* the output of an nft command, or "" (static, overwritten) */
static const char *nft_out(const char *cmd)
{
	static char out[8192];
	struct nft_ctx *c = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *o;

	out[0] = '\0';
	if (!c)
		return out;
	nft_ctx_buffer_output(c);
	nft_ctx_buffer_error(c);
	if (!nft_run_cmd_from_buffer(c, cmd)) {
		o = nft_ctx_get_output_buffer(c);
		snprintf(out, sizeof(out), "%s", o ? o : "");
	}
	nft_ctx_free(c);
	return out;
}

static uint8_t l4[16], r4[16], l6[16], r6[16];

FIXTURE(nftmap)
{
	int unused;
};

FIXTURE_SETUP(nftmap)
{
	char why[200];

	if (unshare(CLONE_NEWNET))
		SKIP(return, "cannot make a network namespace: %s",
			   strerror(errno));
	inet_pton(AF_INET, "198.18.100.1", l4);
	inet_pton(AF_INET, "198.18.0.1", r4);
	inet_pton(AF_INET6, "fd00:7c:100::1", l6);
	inet_pton(AF_INET6, "fd00:7c::1", r6);
	if (nftm_setup(why, sizeof(why)))
		TH_LOG("setup: %s", why);
	ASSERT_TRUE(nftm_active());
}

FIXTURE_TEARDOWN(nftmap)
{
	nftm_teardown(NULL, 0);
}

/* Elements of both families land with the key and mark nft shows */
TEST_F(nftmap, elements_as_nft_lists_them)
{
	struct buf b = { 0 };
	char why[200];

	ASSERT_EQ(0, nftm_elem(&b, true, 4, l4, 80, r4, 40000, 0x1e14));
	ASSERT_EQ(0, nftm_elem(&b, true, 6, l6, 443, r6, 40001, 0x1e15));
	ASSERT_EQ(0, nftm_apply(b.p, b.len, why, sizeof(why)));
	EXPECT_NE(
		NULL,
		strstr(nft_out("list map inet tcpcpd conns4"),
		       "198.18.0.1 . 40000 . 198.18.100.1 . 80 : 0x00001e14"));
	EXPECT_NE(
		NULL,
		strstr(nft_out("list map inet tcpcpd conns6"),
		       "fd00:7c::1 . 40001 . fd00:7c:100::1 . 443 : 0x00001e15"));
	b.len = 0;
	ASSERT_EQ(0, nftm_elem(&b, false, 4, l4, 80, r4, 40000, 0));
	ASSERT_EQ(0, nftm_elem(&b, false, 6, l6, 443, r6, 40001, 0));
	ASSERT_EQ(0, nftm_apply(b.p, b.len, why, sizeof(why)));
	EXPECT_EQ(NULL,
		  strstr(nft_out("list map inet tcpcpd conns4"), "40000"));
	EXPECT_EQ(NULL,
		  strstr(nft_out("list map inet tcpcpd conns6"), "40001"));
	buf_free(&b);
}

/* One failing change fails the batch, and nothing of it stays */
TEST_F(nftmap, batch_is_one_transaction)
{
	struct buf b = { 0 };
	char why[200];

	ASSERT_EQ(0, nftm_elem(&b, true, 4, l4, 80, r4, 40002, 7));
	/* the delete of an element that is not there */
	ASSERT_EQ(0, nftm_elem(&b, false, 4, l4, 80, r4, 40003, 0));
	EXPECT_EQ(-ENOENT, nftm_apply(b.p, b.len, why, sizeof(why)));
	if (!strstr(why, "No such file"))
		TH_LOG("why: %s", why);
	EXPECT_NE(NULL, strstr(why, "No such file"));
	EXPECT_EQ(NULL,
		  strstr(nft_out("list map inet tcpcpd conns4"), "40002"));
	buf_free(&b);
}

/* The tuple leaves the stale set when there, nothing happens when not */
static void unstale_works(struct __test_metadata *_metadata)
{
	struct buf b = { 0 };
	char why[200];

	ASSERT_EQ(0, nftm_unstale(&b, 4, l4, 80, r4, 40004));
	EXPECT_EQ(0, nftm_apply(b.p, b.len, why, sizeof(why)));
	if (why[0])
		TH_LOG("why: %s", why);
	nft_out("add element inet tcpcpd stale4 "
		"{ 198.18.0.1 . 40005 . 198.18.100.1 . 80 }");
	ASSERT_NE(NULL,
		  strstr(nft_out("list set inet tcpcpd stale4"), "40005"));
	b.len = 0;
	ASSERT_EQ(0, nftm_unstale(&b, 4, l4, 80, r4, 40005));
	/* with an element of the map in the same transaction */
	ASSERT_EQ(0, nftm_elem(&b, true, 4, l4, 80, r4, 40005, 9));
	EXPECT_EQ(0, nftm_apply(b.p, b.len, why, sizeof(why)));
	EXPECT_EQ(NULL,
		  strstr(nft_out("list set inet tcpcpd stale4"), "40005"));
	EXPECT_NE(NULL,
		  strstr(nft_out("list map inet tcpcpd conns4"), "40005"));
	buf_free(&b);
}

/* Linux 6.3 and later: one destroy message */
TEST_F(nftmap, unstale_destroy)
{
	if (!nftm_uses_destroy())
		SKIP(return,
			   "the kernel lacks NFT_MSG_DESTROYSETELEM (Linux 6.3)");
	unstale_works(_metadata);
}

/* Older kernels: the add/delete pair */
TEST_F(nftmap, unstale_pair)
{
	nftm_set_destroy(false);
	unstale_works(_metadata);
}

/* An empty batch is a transaction with nothing in it */
TEST_F(nftmap, empty_batch)
{
	char why[200];

	EXPECT_EQ(0, nftm_apply(NULL, 0, why, sizeof(why)));
}

TEST_HARNESS_MAIN
