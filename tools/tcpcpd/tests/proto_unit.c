// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the tcpcpd inter-daemon protocol code (proto.c), no I/O:
 * every message type round-trips; every flipped bit, every truncation and
 * every reflected or stale HELLO is refused; random frames never crash the
 * decoder.  Built with ASan and UBSan.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "kselftest_harness.h"
#include "proto.h"

static const uint8_t key[] = "unit-test-key-0123456789";
#define KLEN (sizeof(key) - 1)

/* An established initiator/responder pair */
static void pair(struct proto_sess *i, struct proto_sess *r)
{
	struct buf b = { 0 };
	struct tcpcpd_msg m;

	if (proto_init(i, key, KLEN, true) || proto_init(r, key, KLEN, false) ||
	    proto_hello(i, "i", &b) || proto_open(r, b.p, b.len, &m, NULL, 0))
		abort();
	b.len = 0;
	if (proto_hello(r, "r", &b) || proto_open(i, b.p, b.len, &m, NULL, 0))
		abort();
	buf_free(&b);
}

static void prepare(struct tcpcpd_msg *m, const uint8_t *ici, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->type = TCPCPD_PREPARE;
	memset(m->id, 7, sizeof(m->id));
	m->flags = 2;
	m->hold_ms = 1234;
	m->ici = ici;
	m->ici_len = (uint32_t)n;
	m->app = (const uint8_t *)"state";
	m->app_len = 5;
}

TEST(roundtrip_all_types)
{
	struct proto_sess i, r;
	static uint8_t ici[3000];
	struct tcpcpd_msg m, got;
	struct buf b = { 0 };
	char why[200];
	int ret;

	for (size_t k = 0; k < sizeof(ici); k++)
		ici[k] = (uint8_t)(k * 7);
	pair(&i, &r);
	EXPECT_STREQ("r", i.peer_name);
	EXPECT_STREQ("i", r.peer_name);
	prepare(&m, ici, sizeof(ici));
	ASSERT_EQ(0, proto_send(&i, &m, &b));
	ret = proto_open(&r, b.p, b.len, &got, why, sizeof(why));
	if (ret)
		TH_LOG("%s", why);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(TCPCPD_PREPARE, got.type);
	EXPECT_EQ(2, got.flags);
	EXPECT_EQ(1234, got.hold_ms);
	ASSERT_EQ(sizeof(ici), got.ici_len);
	EXPECT_EQ(0, memcmp(ici, got.ici, sizeof(ici)));
	ASSERT_EQ(5, got.app_len);
	EXPECT_EQ(0, memcmp("state", got.app, 5));

	for (int t = TCPCPD_PREPARED; t <= TCPCPD_MSG_MAX; t++) {
		struct proto_sess *tx =
			(t == TCPCPD_COMMIT || t == TCPCPD_ABORT ||
			 t == TCPCPD_REDIRECT || t == TCPCPD_UNREDIRECT) ?
				&i :
				&r;
		struct proto_sess *rx = tx == &i ? &r : &i;

		memset(&m, 0, sizeof(m));
		m.type = t;
		memset(m.id, t, sizeof(m.id));
		m.err = -t; /* any int32 survives */
		m.lost = 0x5;
		m.hold_ms = 99;
		strcpy(m.text, "why not");
		m.mode = TCPCPD_REDIR_RULE;
		m.family = 6;
		memset(m.laddr, 1, 16);
		memset(m.raddr, 2, 16);
		memset(m.via, 3, 16);
		m.lport = 5000;
		m.rport = 65535;
		b.len = 0;
		ASSERT_EQ(0, proto_send(tx, &m, &b));
		ret = proto_open(rx, b.p, b.len, &got, why, sizeof(why));
		if (ret)
			TH_LOG("%s: %s", proto_type_name(t), why);
		ASSERT_EQ(0, ret);
		EXPECT_EQ(t, got.type);
		EXPECT_EQ(0, memcmp(m.id, got.id, sizeof(m.id)));
		if (t == TCPCPD_REFUSED || t == TCPCPD_ABORT) {
			EXPECT_EQ(-t, got.err);
			EXPECT_STREQ("why not", got.text);
		}
		if (t == TCPCPD_ACTIVATED || t == TCPCPD_REDIRECTED)
			EXPECT_EQ(-t, got.err);
		if (t == TCPCPD_REDIRECT) {
			EXPECT_EQ(TCPCPD_REDIR_RULE, got.mode);
			EXPECT_EQ(6, got.family);
			EXPECT_EQ(0, memcmp(m.laddr, got.laddr, 16));
			EXPECT_EQ(0, memcmp(m.raddr, got.raddr, 16));
			EXPECT_EQ(0, memcmp(m.via, got.via, 16));
			EXPECT_EQ(5000, got.lport);
			EXPECT_EQ(65535, got.rport);
		}
		if (t == TCPCPD_PREPARED) {
			EXPECT_EQ(5, got.lost);
			EXPECT_EQ(99, got.hold_ms);
		}
	}
	buf_free(&b);
}

TEST(every_bit_flip_refused)
{
	struct proto_sess i, r, r2;
	struct tcpcpd_msg m, got;
	struct buf b = { 0 };
	uint8_t ici[40] = { 1, 2, 3 };

	pair(&i, &r);
	prepare(&m, ici, sizeof(ici));
	ASSERT_EQ(0, proto_send(&i, &m, &b));
	for (size_t bit = 0; bit < b.len * 8; bit++) {
		r2 = r;
		b.p[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		/* a flipped length bit is a length mismatch, the rest bad MACs */
		EXPECT_NE(0, proto_open(&r2, b.p, b.len, &got, NULL, 0));
		b.p[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	r2 = r;
	EXPECT_EQ(0, proto_open(&r2, b.p, b.len, &got, NULL, 0));
	buf_free(&b);
}

TEST(truncations_and_lengths_refused)
{
	struct proto_sess i, r, r2;
	struct tcpcpd_msg m, got;
	struct buf b = { 0 };
	uint8_t hdr[4];
	uint32_t l;

	pair(&i, &r);
	prepare(&m, (const uint8_t *)"x", 1);
	ASSERT_EQ(0, proto_send(&i, &m, &b));
	for (size_t n = 0; n < b.len; n++) {
		r2 = r;
		EXPECT_NE(0, proto_open(&r2, b.p, n, &got, NULL, 0));
	}
	l = htonl(TCPCPD_MAX_FRAME + 1);
	memcpy(hdr, &l, 4);
	EXPECT_EQ(-EMSGSIZE, proto_frame_len(hdr));
	l = htonl(0xffffffff);
	memcpy(hdr, &l, 4);
	EXPECT_EQ(-EMSGSIZE, proto_frame_len(hdr));
	l = htonl(TCPCPD_MIN_FRAME - 1);
	memcpy(hdr, &l, 4);
	EXPECT_EQ(-EBADMSG, proto_frame_len(hdr));
	l = htonl(TCPCPD_MAX_FRAME);
	memcpy(hdr, &l, 4);
	EXPECT_EQ(TCPCPD_MAX_FRAME, proto_frame_len(hdr));
	/* a body that would need more than one frame is refused when sending */
	prepare(&m, NULL, 0);
	m.ici = malloc(TCPCPD_MAX_FRAME);
	ASSERT_NE(NULL, m.ici);
	m.ici_len = TCPCPD_MAX_FRAME;
	EXPECT_EQ(-EMSGSIZE, proto_send(&i, &m, &b));
	free((void *)m.ici);
	buf_free(&b);
}

TEST(hello_reflection_and_stale_answer_refused)
{
	struct proto_sess i, r, i2;
	struct tcpcpd_msg m;
	struct buf hi = { 0 }, hr = { 0 };

	ASSERT_EQ(0, proto_init(&i, key, KLEN, true));
	ASSERT_EQ(0, proto_init(&r, key, KLEN, false));
	ASSERT_EQ(0, proto_hello(&i, "i", &hi));
	/* the initiator's own HELLO reflected back to it */
	i2 = i;
	EXPECT_EQ(-EPROTO, proto_open(&i2, hi.p, hi.len, &m, NULL, 0));
	ASSERT_EQ(0, proto_open(&r, hi.p, hi.len, &m, NULL, 0));
	ASSERT_EQ(0, proto_hello(&r, "r", &hr));
	/* a responder HELLO answers one challenge only */
	ASSERT_EQ(0, proto_init(&i2, key, KLEN, true));
	EXPECT_EQ(-EACCES, proto_open(&i2, hr.p, hr.len, &m, NULL, 0));
	/* the real one works once, and never twice */
	ASSERT_EQ(0, proto_open(&i, hr.p, hr.len, &m, NULL, 0));
	EXPECT_EQ(-EACCES, proto_open(&i, hr.p, hr.len, &m, NULL, 0));
	/* a wrong key fails at the first HELLO */
	ASSERT_EQ(0, proto_init(&r, (const uint8_t *)"another-key-0123456", 19,
				false));
	EXPECT_EQ(-EACCES, proto_open(&r, hi.p, hi.len, &m, NULL, 0));
	buf_free(&hi);
	buf_free(&hr);
}

TEST(messages_before_hello_and_out_of_order_refused)
{
	struct proto_sess i, r, fresh;
	struct tcpcpd_msg m, got;
	struct buf b1 = { 0 }, b2 = { 0 };

	pair(&i, &r);
	prepare(&m, (const uint8_t *)"x", 1);
	ASSERT_EQ(0, proto_send(&i, &m, &b1));
	ASSERT_EQ(0, proto_send(&i, &m, &b2));
	ASSERT_EQ(0, proto_init(&fresh, key, KLEN, false));
	EXPECT_EQ(-EACCES, proto_open(&fresh, b1.p, b1.len, &got, NULL, 0));
	EXPECT_EQ(-EPROTO, proto_open(&r, b2.p, b2.len, &got, NULL,
				      0)); /* seq 2 first */
	EXPECT_EQ(0, proto_open(&r, b1.p, b1.len, &got, NULL, 0));
	EXPECT_EQ(-EPROTO,
		  proto_open(&r, b1.p, b1.len, &got, NULL, 0)); /* again */
	EXPECT_EQ(0, proto_open(&r, b2.p, b2.len, &got, NULL, 0));
	/* our own frame back at us: the other direction's key */
	EXPECT_EQ(-EACCES, proto_open(&i, b1.p, b1.len, &got, NULL, 0));
	buf_free(&b1);
	buf_free(&b2);
}

TEST(random_frames_do_not_crash)
{
	struct proto_sess i, r, r2;
	struct tcpcpd_msg got;
	uint8_t f[512];
	int accepted = 0;

	pair(&i, &r);
	srandom(42);
	for (int n = 0; n < 20000; n++) {
		size_t len = TCPCPD_MIN_FRAME +
			     (size_t)random() % (sizeof(f) - TCPCPD_MIN_FRAME);
		uint32_t l = htonl((uint32_t)len);

		for (size_t k = 0; k < len; k++)
			f[k] = (uint8_t)random();
		memcpy(f, &l, 4);
		r2 = r;
		if (!proto_open(&r2, f, len, &got, NULL, 0))
			accepted++;
	}
	EXPECT_EQ(0, accepted);
}

/* REDIR: RELEASE (mode 0: any) round-trips; REDIRECT needs a known mode */
TEST(release_and_redirect_modes)
{
	struct proto_sess i, r;
	struct tcpcpd_msg m, got;
	struct buf b = { 0 };

	pair(&i, &r);
	memset(&m, 0, sizeof(m));
	m.type = TCPCPD_RELEASE;
	memset(m.id, 9, sizeof(m.id));
	m.family = 4;
	m.laddr[0] = 198;
	m.raddr[0] = 10;
	m.lport = 5000;
	m.rport = 40000;
	ASSERT_EQ(0, proto_send(&r, &m, &b));
	ASSERT_EQ(0, proto_open(&i, b.p, b.len, &got, NULL, 0));
	EXPECT_EQ(TCPCPD_RELEASE, got.type);
	EXPECT_EQ(0, got.mode);
	EXPECT_EQ(4, got.family);
	EXPECT_EQ(0, memcmp(m.laddr, got.laddr, 16));
	EXPECT_EQ(0, memcmp(m.raddr, got.raddr, 16));
	EXPECT_EQ(5000, got.lport);
	EXPECT_EQ(40000, got.rport);
	EXPECT_STREQ("RELEASE", proto_type_name(TCPCPD_RELEASE));
	/* nftmap and address are modes of REDIRECT; 0 and 5 are not */
	m.type = TCPCPD_REDIRECT;
	for (int mode = 0; mode <= TCPCPD_REDIR_MAX + 1; mode++) {
		struct proto_sess i2 = i;

		m.mode = (uint8_t)mode;
		b.len = 0;
		ASSERT_EQ(0, proto_send(&r, &m, &b));
		EXPECT_EQ(mode && mode <= TCPCPD_REDIR_MAX ? 0 : -EBADMSG,
			  proto_open(&i2, b.p, b.len, &got, NULL, 0));
		i.rx_seq++; /* the next frame of r carries the next number */
	}
	buf_free(&b);
}

/*
 * proto.c's own HMAC-SHA256 gives OpenSSL's HMAC(): the hello key for
 * keys shorter and longer than SHA-256's 64-byte block, and both session
 * keys (label and two nonces, the two-part input)
 */
TEST(hmac_matches_openssl)
{
	static const size_t lens[] = { 16, 32, 63, 64, 65, 100, 1024 };
	uint8_t psk[1024], want[32], msg[13 + 64];
	struct proto_sess i, r;
	unsigned int mlen;
	size_t k;

	for (k = 0; k < sizeof(psk); k++)
		psk[k] = (uint8_t)(k * 7 + 3);
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		ASSERT_EQ(0, proto_init(&i, psk, lens[k], true));
		ASSERT_NE(NULL, HMAC(EVP_sha256(), psk, (int)lens[k],
				     (const uint8_t *)"tcpcpd-v1 hello", 15,
				     want, &mlen));
		if (memcmp(want, i.k_hello, 32))
			TH_LOG("hello key differs for a %zu-byte key", lens[k]);
		EXPECT_EQ(0, memcmp(want, i.k_hello, 32));
	}
	pair(&i, &r);
	memcpy(msg, "tcpcpd-v1 i2r", 13);
	memcpy(msg + 13, i.nonce_own, 32);
	memcpy(msg + 45, i.nonce_peer, 32);
	HMAC(EVP_sha256(), key, KLEN, msg, sizeof(msg), want, &mlen);
	EXPECT_EQ(0, memcmp(want, i.k_tx, 32));
	EXPECT_EQ(0, memcmp(want, r.k_rx, 32));
	memcpy(msg, "tcpcpd-v1 r2i", 13);
	HMAC(EVP_sha256(), key, KLEN, msg, sizeof(msg), want, &mlen);
	EXPECT_EQ(0, memcmp(want, i.k_rx, 32));
	EXPECT_EQ(0, memcmp(want, r.k_tx, 32));
}

TEST_HARNESS_MAIN
