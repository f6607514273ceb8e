// SPDX-License-Identifier: GPL-2.0
/*
 * ICI codec: encode/decode round trips of IPv4 and IPv6 ICIs in every state
 * and shape, the byte-exact wire layout of a known ICI, the OFO iterator and
 * the FIN accounting helpers.
 */
/*
 * clang-format cannot parse kselftest_harness.h idioms (ASSERT_*() TH_LOG(),
 * FIXTURE blocks): this file is formatted by hand in kernel style.
 */
/* clang-format off */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "ici.h"
#include "ici_sample.h"

FIXTURE(codec) {
	struct sample s;
	struct ici out;
	char why[256];
};

FIXTURE_VARIANT(codec) {
	uint8_t family;
};

FIXTURE_VARIANT_ADD(codec, ipv4) {
	.family = TCPCP_FAMILY_INET,
};

FIXTURE_VARIANT_ADD(codec, ipv6) {
	.family = TCPCP_FAMILY_INET6,
};

FIXTURE_SETUP(codec)
{
	memset(self, 0, sizeof(*self));
}

FIXTURE_TEARDOWN(codec)
{
}

/* Encode, decode, compare, re-encode one sample */
static void roundtrip_one(struct __test_metadata *_metadata,
			  FIXTURE_DATA(codec) * self, uint8_t family,
			  uint8_t state, unsigned int shape)
{
	struct ici *in = &self->s.ici;
	void *alloc = NULL, *again = NULL;
	size_t size, alen = 0, alen2 = 0;
	uint8_t *buf;
	long ret;

	sample_init(&self->s, family, state, shape);
	ASSERT_EQ(0, ici_validate(in, self->why, sizeof(self->why)))
		TH_LOG("state %u shape %#x: %s", state, shape, self->why);
	size = ici_encoded_size(in);
	ASSERT_GE(size, 16 + 6 * 8 + 44 + 12 + 20 + 20);
	ASSERT_EQ(0, size % TCPCP_ICI_ALIGN);
	buf = malloc(size);
	ASSERT_NE(NULL, buf);
	ret = ici_encode(in, buf, size);
	ASSERT_EQ((long)size, ret) TH_LOG("state %u shape %#x", state, shape);
	ASSERT_EQ(size, get_be32(buf + 8));

	memset(&self->out, 0xa5, sizeof(self->out));
	ASSERT_EQ(0, ici_decode(buf, size, &self->out, self->why,
				sizeof(self->why)))
		TH_LOG("state %u shape %#x: %s", state, shape, self->why);
	ASSERT_EQ(0, ici_equal(in, &self->out, self->why, sizeof(self->why)))
		TH_LOG("state %u shape %#x: %s", state, shape, self->why);
	/* decoded queues point into the decoded bytes */
	if (self->out.sndq_len) {
		EXPECT_TRUE(self->out.sndq >= buf &&
			    self->out.sndq + self->out.sndq_len <= buf + size);
	}
	if (self->out.rcvq_len) {
		EXPECT_TRUE(self->out.rcvq >= buf &&
			    self->out.rcvq + self->out.rcvq_len <= buf + size);
	}

	/* ici_encode_alloc writes the same bytes */
	ASSERT_EQ(0, ici_encode_alloc(in, &alloc, &alen));
	ASSERT_EQ(size, alen);
	EXPECT_EQ(0, memcmp(buf, alloc, size));

	/* re-encoding the decoded form gives the same bytes */
	ASSERT_EQ(0, ici_encode_alloc(&self->out, &again, &alen2));
	ASSERT_EQ(size, alen2);
	EXPECT_EQ(0, memcmp(buf, again, size))
		TH_LOG("state %u shape %#x", state, shape);

	/* a buffer one byte short is refused, not overrun (ASan watches) */
	ret = ici_encode(in, alloc, size - 1);
	EXPECT_GT(0, ret) TH_LOG("short buffer: %ld", ret);

	free(again);
	free(alloc);
	free(buf);
}

/*
 * Every state but FIN-WAIT-2, every combination of queues, TS, OFO, CONG,
 * SOCKOPT and sequence wrap-around
 */
TEST_F(codec, roundtrip_every_state_and_shape)
{
	unsigned int i, shape, n = 0;

	for (i = 0; i < sample_nstates; i++) {
		if (sample_states[i] == TCPCP_STATE_FIN_WAIT2)
			continue;
		for (shape = 0; shape <= SAMPLE_ALL; shape++) {
			roundtrip_one(_metadata, self, variant->family,
				      sample_states[i], shape);
			n++;
		}
	}
	ASSERT_EQ((sample_nstates - 1) * (SAMPLE_ALL + 1), n);
}

/*
 * FIN-WAIT-2: our FIN is sent and acknowledged, so snd_una == snd_nxt ==
 * write_seq and the send queue is empty: the acked FIN must not be counted.
 */
TEST_F(codec, roundtrip_fin_wait2)
{
	unsigned int shape;

	sample_init(&self->s, variant->family, TCPCP_STATE_FIN_WAIT2,
		    SAMPLE_QUEUES);
	ASSERT_EQ(0, ici_validate(&self->s.ici, self->why, sizeof(self->why)))
	{
		TH_LOG("%s", self->why);
	}
	for (shape = 0; shape <= SAMPLE_ALL; shape++)
		roundtrip_one(_metadata, self, variant->family,
			      TCPCP_STATE_FIN_WAIT2, shape);
}

/* Elements the shape leaves out are not written at all */
TEST_F(codec, optional_elements_absent)
{
	struct elem el[16];
	uint8_t *buf;
	size_t len;
	int n;

	sample_init(&self->s, variant->family, TCPCP_STATE_ESTABLISHED, 0);
	ASSERT_EQ(0, ici_encode_alloc(&self->s.ici, (void **)&buf, &len));
	n = elem_walk(buf, len, el, 16);
	ASSERT_GT(n, 0);
	EXPECT_EQ(TCPCP_EL_CONN, el[0].type);
	EXPECT_EQ(NULL, elem_find(el, n, TCPCP_EL_TS));
	EXPECT_EQ(NULL, elem_find(el, n, TCPCP_EL_OFOQ));
	EXPECT_EQ(NULL, elem_find(el, n, TCPCP_EL_CONG));
	EXPECT_EQ(NULL, elem_find(el, n, TCPCP_EL_SOCKOPT));
	ASSERT_EQ(0, ici_decode(buf, len, &self->out, NULL, 0));
	EXPECT_FALSE(self->out.has_ts);
	EXPECT_FALSE(self->out.has_cong);
	EXPECT_FALSE(self->out.has_sockopt);
	EXPECT_EQ(NULL, self->out.ofoq);
	EXPECT_EQ(0, self->out.ofo_segs);
	free(buf);
}

/* Mandatory elements carry TCPCP_ELF_MANDATORY, ignorable ones do not */
TEST_F(codec, element_flags)
{
	struct elem el[16];
	uint8_t *buf;
	size_t len;
	int i, n;

	sample_init(&self->s, variant->family, TCPCP_STATE_ESTABLISHED,
		    SAMPLE_ALL);
	ASSERT_EQ(0, ici_encode_alloc(&self->s.ici, (void **)&buf, &len));
	n = elem_walk(buf, len, el, 16);
	ASSERT_EQ(10, n);
	for (i = 0; i < n; i++) {
		bool mand = el[i].type <= TCPCP_EL_RCVQ;

		EXPECT_EQ(i + 1, el[i].type);
		EXPECT_EQ(mand ? TCPCP_ELF_MANDATORY : 0, el[i].flags)
			TH_LOG("element %u", el[i].type);
	}
	free(buf);
}

TEST_F(codec, ofo_iterator)
{
	struct ici *c = &self->s.ici;
	uint32_t seq, len, total = 0;
	const uint8_t *data;
	size_t off = 0;
	int n = 0, ret;
	uint8_t *buf;
	size_t blen;

	sample_init(&self->s, variant->family, TCPCP_STATE_ESTABLISHED,
		    SAMPLE_QUEUES | SAMPLE_OFO | SAMPLE_WRAP);
	ASSERT_EQ(0, ici_encode_alloc(c, (void **)&buf, &blen));
	ASSERT_EQ(0, ici_decode(buf, blen, &self->out, self->why,
				sizeof(self->why)))
		TH_LOG("%s", self->why);
	EXPECT_EQ(SAMPLE_OFO_SEGS, self->out.ofo_segs);
	EXPECT_EQ(SAMPLE_OFO_BYTES, self->out.ofo_bytes);

	while ((ret = ici_ofo_next(&self->out, &off, &seq, &data, &len)) == 1) {
		static const uint32_t want_off[] = { 100, 300, 1000 };
		static const uint32_t want_len[] = { 50, 3, 8 };

		ASSERT_LT(n, SAMPLE_OFO_SEGS);
		EXPECT_EQ(c->rcv_nxt + want_off[n], seq);
		EXPECT_EQ(want_len[n], len);
		/* data is the pattern ofo_build wrote, inside the buffer */
		EXPECT_TRUE(data > buf && data + len <= buf + blen);
		total += len;
		n++;
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(SAMPLE_OFO_SEGS, n);
	EXPECT_EQ(SAMPLE_OFO_BYTES, total);
	/* the iterator stays at the end */
	EXPECT_EQ(0, ici_ofo_next(&self->out, &off, &seq, &data, &len));
	free(buf);
}

/* write_seq counts a sent FIN, rcv_nxt a received one */
TEST(fin_accounting)
{
	static const struct {
		uint8_t state;
		bool sent, rcvd;
	} t[] = {
		{ TCPCP_STATE_ESTABLISHED, false, false },
		{ TCPCP_STATE_FIN_WAIT1, true, false },
		{ TCPCP_STATE_FIN_WAIT2, true, false },
		{ TCPCP_STATE_CLOSE_WAIT, false, true },
		{ TCPCP_STATE_LAST_ACK, true, true },
		{ TCPCP_STATE_CLOSING, true, true },
	};
	/* SYN_SENT, SYN_RECV, TIME_WAIT, CLOSE, LISTEN, NEW_SYN_RECV... */
	static const uint8_t bad[] = { 0, 2, 3, 6, 7, 10, 12, 13, 255 };
	unsigned int i, j;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		EXPECT_EQ(t[i].sent, ici_fin_sent(t[i].state))
			TH_LOG("state %u", t[i].state);
		EXPECT_EQ(t[i].rcvd, ici_fin_rcvd(t[i].state))
			TH_LOG("state %u", t[i].state);
		ASSERT_NE(NULL, ici_state_name(t[i].state));
		for (j = 0; j < i; j++) {
			EXPECT_STRNE(ici_state_name(t[i].state),
				     ici_state_name(t[j].state));
		}
	}
	/* ss(8) names */
	EXPECT_STREQ("ESTAB", ici_state_name(TCPCP_STATE_ESTABLISHED));
	EXPECT_STREQ("CLOSE-WAIT", ici_state_name(TCPCP_STATE_CLOSE_WAIT));
	/* and none for states an ICI cannot carry */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(NULL, ici_state_name(bad[i]))
			TH_LOG("state %u", bad[i]);
	}
}

#include "ici_layout.h"

/* Hand-written bytes of a known ICI: offsets, endianness, padding */
TEST(layout_ipv4_known_bytes)
{
	struct ici in, out;
	size_t len = sizeof(layout_bytes);
	uint8_t buf[sizeof(layout_bytes) + 8];
	char why[256];
	long ret;
	size_t i;

	ASSERT_EQ(308, len);
	layout_ici(&in);
	ASSERT_EQ(len, ici_encoded_size(&in));
	memset(buf, 0xee, sizeof(buf));
	ret = ici_encode(&in, buf, sizeof(buf));
	ASSERT_EQ((long)len, ret);
	for (i = 0; i < len; i++)
		if (buf[i] != layout_bytes[i])
			break;
	EXPECT_EQ(len, i)
		TH_LOG("first difference at offset %zu: %#04x, expected %#04x", i,
		       buf[i], layout_bytes[i]);
	/* nothing written past the ICI */
	EXPECT_EQ(0xee, buf[len]);

	/* and the hand-written bytes decode to the same ICI */
	ASSERT_EQ(0, ici_decode(layout_bytes, len, &out, why, sizeof(why)))
		TH_LOG("%s", why);
	ASSERT_EQ(0, ici_equal(&in, &out, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(1, out.ofo_segs);
	EXPECT_EQ(2, out.ofo_bytes);
	EXPECT_EQ(0, memcmp(out.sndq, "hello", 5));
	EXPECT_EQ(0, memcmp(out.rcvq, "abc", 3));
	EXPECT_EQ(layout_bytes + 16 + 52 + 20 + 28 + 28 + 24 + 8, out.sndq);
}

TEST_HARNESS_MAIN
