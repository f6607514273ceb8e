// SPDX-License-Identifier: GPL-2.0
/*
 * ICI decoder and ici_validate on bad field values: addresses, ports,
 * family, state, options, FIN accounting of the sequence numbers, windows,
 * out-of-order segments, TS, CONG and SOCKOPT, queue size limits.
 */
/*
 * clang-format cannot parse kselftest_harness.h idioms (ASSERT_*() TH_LOG(),
 * FIXTURE blocks): this file is formatted by hand in kernel style.
 */
/* clang-format off */
#include "ici_bad.h"

TEST_F(bad, addresses_and_ports)
{
	uint8_t one = 1, zero16[16] = { 0 }, two[2] = { 0, 0 };
	int i;

	if (variant->family == TCPCP_FAMILY_INET) {
		/* IPv4 addresses use 4 of the 16 bytes; the rest is zero */
		for (i = 4; i < 16; i += 3) {
			EXPECT_EQ(-EINVAL,
				  patched(self, TCPCP_EL_CONN, 8 + i, &one, 1))
				TH_LOG("laddr[%d]", i);
			EXPECT_EQ(-EINVAL,
				  patched(self, TCPCP_EL_CONN, 24 + i, &one, 1))
				TH_LOG("raddr[%d]", i);
		}
		EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONN, 8, zero16, 4));
	} else {
		EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONN, 8, zero16, 16));
		EXPECT_EQ(-EINVAL,
			  patched(self, TCPCP_EL_CONN, 24, zero16, 16));
	}
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONN, 4, two, 2));
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONN, 6, two, 2));
}

TEST_F(bad, family_and_state)
{
	static const uint8_t families[] = { 0, 2, 5, 10, 255 };
	static const uint8_t states[] = { 0, 2, 3, 6, 7, 10, 12, 13, 255 };
	unsigned int i;

	for (i = 0; i < sizeof(families); i++) {
		EXPECT_EQ(-EINVAL,
			  patched(self, TCPCP_EL_CONN, 0, &families[i], 1))
			TH_LOG("family %u", families[i]);
	}
	for (i = 0; i < sizeof(states); i++) {
		EXPECT_EQ(-EINVAL,
			  patched(self, TCPCP_EL_CONN, 1, &states[i], 1))
			TH_LOG("state %u", states[i]);
	}
}

TEST_F(bad, options)
{
	struct ici c = self->s.ici;

	c.snd_wscale = 15;
	expect_bad_struct(_metadata, self, &c, "snd_wscale 15");
	c = self->s.ici;
	c.rcv_wscale = 15;
	expect_bad_struct(_metadata, self, &c, "rcv_wscale 15");
	c = self->s.ici;
	c.rcv_wscale = 255;
	expect_bad_struct(_metadata, self, &c, "rcv_wscale 255");
	c = self->s.ici;
	c.snd_wscale = c.rcv_wscale = 14;
	EXPECT_EQ(0, ici_validate(&c, self->why, sizeof(self->why)))
		TH_LOG("wscale 14: %s", self->why);
	c = self->s.ici;
	c.opts &= ~TCPCP_OPT_WSCALE;
	expect_bad_struct(_metadata, self, &c, "wscale without WSCALE");
	c.snd_wscale = c.rcv_wscale = 0;
	EXPECT_EQ(0, ici_validate(&c, self->why, sizeof(self->why)))
		TH_LOG("no WSCALE: %s", self->why);
	c = self->s.ici;
	c.mss = 63;
	expect_bad_struct(_metadata, self, &c, "mss 63");
	c.mss = 0;
	expect_bad_struct(_metadata, self, &c, "mss 0");
	c.mss = 64;
	EXPECT_EQ(0, ici_validate(&c, self->why, sizeof(self->why)));
	c = self->s.ici;
	c.opts |= 0x0020;
	expect_bad_struct(_metadata, self, &c, "option flag 0x20");
	c.opts = self->s.ici.opts | 0x8000;
	expect_bad_struct(_metadata, self, &c, "option flag 0x8000");
}

/*
 * FIN accounting: write_seq - snd_una is the send queue plus a sent FIN,
 * rcv_nxt - copied_seq the receive queue plus a received (unread) FIN.
 */
TEST_F(bad, fin_accounting)
{
	static const struct {
		uint8_t state;
		int dwrite, drcv; /* added to write_seq, rcv_nxt */
		const char *what;
	} t[] = {
		{ TCPCP_STATE_ESTABLISHED, +1, 0, "ESTAB counting a FIN sent" },
		{ TCPCP_STATE_ESTABLISHED, -1, 0, "ESTAB write_seq short" },
		{ TCPCP_STATE_ESTABLISHED, 0, +1, "ESTAB counting a FIN rcvd" },
		{ TCPCP_STATE_ESTABLISHED, 0, -1, "ESTAB rcv_nxt short" },
		{ TCPCP_STATE_FIN_WAIT1, -1, 0, "FIN-WAIT-1 FIN not counted" },
		{ TCPCP_STATE_FIN_WAIT1, +1, 0, "FIN-WAIT-1 two FINs" },
		{ TCPCP_STATE_FIN_WAIT1, 0, +1, "FIN-WAIT-1 FIN rcvd" },
		{ TCPCP_STATE_CLOSE_WAIT, 0, -1, "CLOSE-WAIT FIN not counted" },
		{ TCPCP_STATE_CLOSE_WAIT, +1, 0, "CLOSE-WAIT FIN sent" },
		{ TCPCP_STATE_LAST_ACK, -1, 0, "LAST-ACK FIN not counted" },
		{ TCPCP_STATE_LAST_ACK, 0, -1,
		  "LAST-ACK rcvd FIN not counted" },
		{ TCPCP_STATE_CLOSING, -1, 0, "CLOSING FIN not counted" },
		{ TCPCP_STATE_CLOSING, 0, -1, "CLOSING rcvd FIN not counted" },
	};
	unsigned int i, wrap;

	for (wrap = 0; wrap <= SAMPLE_WRAP; wrap += SAMPLE_WRAP) {
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			make(_metadata, self, variant->family, t[i].state,
			     SAMPLE_QUEUES | SAMPLE_TS | wrap);
			self->s.ici.write_seq += t[i].dwrite;
			self->s.ici.rcv_nxt += t[i].drcv;
			self->s.ici.rcv_wup = self->s.ici.rcv_nxt;
			expect_bad_struct(_metadata, self, &self->s.ici,
					  t[i].what);
		}
	}
}

/* The application read the FIN: copied_seq moved past it, queue empty */
TEST_F(bad, fin_read_by_application)
{
	make(_metadata, self, variant->family, TCPCP_STATE_CLOSE_WAIT, 0);
	self->s.ici.copied_seq = self->s.ici.rcv_nxt;
	EXPECT_EQ(0, ici_validate(&self->s.ici, self->why, sizeof(self->why)))
		TH_LOG("%s", self->why);
}

TEST_F(bad, sequence_order)
{
	struct ici *c = &self->s.ici, save;

	make(_metadata, self, variant->family, TCPCP_STATE_ESTABLISHED,
	     SAMPLE_QUEUES | SAMPLE_WRAP);
	save = *c;
	c->snd_nxt = c->snd_una - 1;
	expect_bad_struct(_metadata, self, c, "snd_nxt before snd_una");
	*c = save;
	c->snd_nxt = c->write_seq + 1;
	expect_bad_struct(_metadata, self, c, "snd_nxt after write_seq");
	*c = save;
	c->copied_seq = c->rcv_nxt + 1;
	expect_bad_struct(_metadata, self, c, "copied_seq after rcv_nxt");
	*c = save;
	/* the send queue length disagrees with the sequence numbers */
	c->sndq_len--;
	expect_bad_struct(_metadata, self, c, "send queue one byte short");
	*c = save;
	c->rcvq_len--;
	expect_bad_struct(_metadata, self, c, "receive queue one byte short");
	*c = save;
	c->snd_una += 0x80000000;
	expect_bad_struct(_metadata, self, c, "snd_una half the space away");
	/* the extremes stay valid */
	*c = save;
	c->snd_nxt = c->snd_una;
	EXPECT_EQ(0, ici_validate(c, self->why, sizeof(self->why)));
	c->snd_nxt = c->write_seq;
	EXPECT_EQ(0, ici_validate(c, self->why, sizeof(self->why)));
}

TEST_F(bad, windows)
{
	struct ici *c = &self->s.ici, save = *c;

	c->snd_wnd = c->max_window + 1;
	expect_bad_struct(_metadata, self, c, "snd_wnd above max_window");
	*c = save;
	c->rcv_wnd = (65535U << 14) + 1;
	expect_bad_struct(_metadata, self, c, "rcv_wnd above 65535 << 14");
	*c = save;
	c->rcv_wup = c->rcv_nxt + 1;
	expect_bad_struct(_metadata, self, c, "rcv_wup after rcv_nxt");
}

/* OFO payloads built by hand on an ICI without one */
static int ofo_case(struct __test_metadata *_metadata, FIXTURE_DATA(bad) * self,
		    uint8_t family, const uint32_t *off, const uint32_t *len,
		    int n)
{
	uint8_t payload[512];
	uint32_t seq[8];
	struct ici *c = &self->s.ici;
	void *b = NULL;
	size_t l = 0;
	int i, ret;

	make(_metadata, self, family, TCPCP_STATE_ESTABLISHED, SAMPLE_QUEUES);
	for (i = 0; i < n; i++)
		seq[i] = c->rcv_nxt + off[i];
	c->ofoq = payload;
	c->ofoq_len = ofo_build(payload, sizeof(payload), seq, len, n);
	ret = ici_validate(c, self->why, sizeof(self->why));
	if (ici_encode_alloc(c, &b, &l))
		return -ENOMEM;
	/* the decoder must agree with ici_validate */
	if (decode_copy(b, l, self->why, sizeof(self->why)) != ret)
		ret = -EFAULT;
	free(b);
	return ret;
}

TEST_F(bad, ofo_segments)
{
	static const struct {
		int n, want;
		uint32_t off[3], len[3];
		const char *what;
	} t[] = {
		{ 2, 0, { 100, 200 }, { 50, 10 }, "sorted, disjoint" },
		{ 1, 0, { 65536 - 10 }, { 10 }, "ends at the window edge" },
		{ 2, -EINVAL, { 200, 100 }, { 10, 10 }, "unsorted" },
		{ 2, -EINVAL, { 100, 140 }, { 50, 10 }, "overlapping" },
		{ 2, -EINVAL, { 100, 100 }, { 10, 10 }, "same segment twice" },
		{ 3, -EINVAL, { 100, 300, 120 }, { 10, 10, 10 }, "3rd back" },
		{ 1, -EINVAL, { 0 }, { 10 }, "at rcv_nxt (in order)" },
		{ 1, -EINVAL, { -10U }, { 20 }, "straddles rcv_nxt" },
		{ 1, -EINVAL, { -100U }, { 20 }, "before rcv_nxt" },
		{ 1, -EINVAL, { 65536 - 5 }, { 10 }, "past the window" },
		{ 1, -EINVAL, { 0x40000000 }, { 10 }, "far past the window" },
		{ 1, -EINVAL, { 0x80000000 }, { 10 }, "half the space away" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		EXPECT_EQ(t[i].want, ofo_case(_metadata, self, variant->family,
					      t[i].off, t[i].len, t[i].n))
			TH_LOG("%s: %s", t[i].what ?: "", self->why);
	}
}

/*
 * Adjacent segments are disjoint ("sorted by seq, disjoint" in tcpcp.h); the
 * kernel's OFO queue can hold adjacent skbs it could not coalesce.
 */
TEST_F(bad, ofo_adjacent_segments)
{
	static const uint32_t off[] = { 100, 150, 160 }, len[] = { 50, 10, 1 };
	int ret = ofo_case(_metadata, self, variant->family, off, len, 3);

	EXPECT_EQ(0, ret) TH_LOG("%s", self->why);
}

TEST_F(bad, ofo_framing)
{
	const struct elem *e = elem_find(self->el, self->nel, TCPCP_EL_OFOQ);
	uint8_t zero4[4] = { 0 }, big[4];
	struct raw r;
	int j;

	ASSERT_NE(NULL, e);
	/* first segment (50 bytes) with length 0, or longer than the element */
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_OFOQ, 4, zero4, 4));
	put_be32(big, e->len);
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_OFOQ, 4, big, 4));
	put_be32(big, 0xffffffff);
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_OFOQ, 4, big, 4));
	/* an OFOQ element of 4 bytes: a cut segment header */
	raw_start(self, &r, TCPCP_ICI_MINOR);
	for (j = 0; j < self->nel; j++) {
		if (self->el[j].type == TCPCP_EL_OFOQ)
			raw_elem(&r, TCPCP_EL_OFOQ, 0, self->buf + e->payload,
				 4, 0);
		else
			copy_elem(self, &r, j);
	}
	raw_fix_len(&r);
	EXPECT_DECODE(-EINVAL, r.buf, r.len, "4-byte OFOQ");
	raw_free(&r);
	/* OFO data after the peer's FIN */
	make(_metadata, self, variant->family, TCPCP_STATE_ESTABLISHED,
	     SAMPLE_OFO);
	self->s.ici.state = TCPCP_STATE_CLOSE_WAIT;
	self->s.ici.rcv_nxt++;
	self->s.ici.rcv_wup++;
	expect_bad_struct(_metadata, self, &self->s.ici, "OFO in CLOSE-WAIT");
}

TEST_F(bad, timestamps)
{
	struct ici *c = &self->s.ici, save = *c;
	uint8_t x = 0x02;

	c->has_ts = false;
	expect_bad_struct(_metadata, self, c, "TSTAMP without TS element");
	*c = save;
	c->opts &= ~TCPCP_OPT_TSTAMP;
	expect_bad_struct(_metadata, self, c, "TS element without TSTAMP");
	*c = save;
	c->opts |= TCPCP_OPT_USEC_TS;
	EXPECT_EQ(0, ici_validate(c, self->why, sizeof(self->why)));
	c->opts &= ~TCPCP_OPT_TSTAMP;
	c->has_ts = false;
	expect_bad_struct(_metadata, self, c, "USEC_TS without TSTAMP");
	/* TS flags: only RECENT_VALID is defined */
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_TS, 15, &x, 1));
}

TEST_F(bad, congestion)
{
	struct ici *c = &self->s.ici, save = *c;
	uint8_t name[16], x = 'x';

	/* the encoder writes at most 15 characters: patch the bytes */
	memset(name, 'a', sizeof(name));
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONG, 20, name, 16))
		TH_LOG("algorithm not NUL-terminated");
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONG, 20 + 10, &x, 1))
		TH_LOG("algorithm not NUL-padded");
	x = '/';
	EXPECT_EQ(-EINVAL, patched(self, TCPCP_EL_CONG, 20, &x, 1))
		TH_LOG("algorithm with '/'");
	memset(c->cong.algorithm, 'a', sizeof(c->cong.algorithm));
	EXPECT_EQ(-EINVAL, ici_validate(c, self->why, sizeof(self->why)))
		TH_LOG("validate: algorithm not NUL-terminated");
	*c = save;
	c->cong.cwnd = 0;
	expect_bad_struct(_metadata, self, c, "cwnd 0");
	*c = save;
	c->cong.flags = 2;
	expect_bad_struct(_metadata, self, c, "unknown CONG flag");
	*c = save;
	memset(c->cong.algorithm, 0, sizeof(c->cong.algorithm));
	strcpy(c->cong.algorithm, "bbr");
	EXPECT_EQ(0, ici_validate(c, self->why, sizeof(self->why)));
}

TEST_F(bad, socket_options)
{
	struct ici *c = &self->s.ici, save = *c;

	c->so.nodelay = 2;
	expect_bad_struct(_metadata, self, c, "nodelay 2");
	*c = save;
	c->so.keepalive = 0x80;
	expect_bad_struct(_metadata, self, c, "keepalive 0x80");
	*c = save;
	c->so.set |= 0x100;
	expect_bad_struct(_metadata, self, c, "unknown SOCKOPT bit");
	*c = save;
	c->so.sndbuf = 0x80000000;
	expect_bad_struct(_metadata, self, c, "sndbuf above INT_MAX");
}

/* Queues are limited to ICI_MAX_QUEUE bytes each */
TEST_F(bad, queue_limit)
{
	struct ici *c = &self->s.ici;
	uint8_t *q = calloc(1, ICI_MAX_QUEUE + 1);
	void *b = NULL;
	size_t l = 0;

	ASSERT_NE(NULL, q);
	make(_metadata, self, variant->family, TCPCP_STATE_ESTABLISHED, 0);
	c->sndq = q;
	c->sndq_len = ICI_MAX_QUEUE;
	c->write_seq = c->snd_una + c->sndq_len;
	ASSERT_EQ(0, ici_encode_alloc(c, &b, &l));
	EXPECT_EQ(0, ici_decode(b, l, &(struct ici){}, self->why,
				sizeof(self->why)))
		TH_LOG("%s", self->why);
	free(b);
	c->sndq_len++;
	c->write_seq++;
	ASSERT_EQ(0, ici_encode_alloc(c, &b, &l));
	EXPECT_EQ(-EINVAL, ici_decode(b, l, &(struct ici){}, self->why,
				      sizeof(self->why)));
	free(b);
	free(q);
}

TEST_HARNESS_MAIN
