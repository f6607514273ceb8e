// SPDX-License-Identifier: GPL-2.0
/*
 * Test helpers for the ICI codec: consistent sample ICIs, field-by-field
 * comparison, hand-written ICI bytes.  See ici_sample.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ici_sample.h"

const uint8_t sample_states[] = {
	TCPCP_STATE_ESTABLISHED, TCPCP_STATE_FIN_WAIT1, TCPCP_STATE_FIN_WAIT2,
	TCPCP_STATE_CLOSE_WAIT,	 TCPCP_STATE_LAST_ACK,	TCPCP_STATE_CLOSING,
};
const unsigned int sample_nstates = sizeof(sample_states);

bool sample_fin_sent(uint8_t state)
{
	return state == TCPCP_STATE_FIN_WAIT1 ||
	       state == TCPCP_STATE_FIN_WAIT2 ||
	       state == TCPCP_STATE_LAST_ACK || state == TCPCP_STATE_CLOSING;
}

bool sample_fin_rcvd(uint8_t state)
{
	return state == TCPCP_STATE_CLOSE_WAIT ||
	       state == TCPCP_STATE_LAST_ACK || state == TCPCP_STATE_CLOSING;
}

void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void pattern(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

size_t ofo_build(uint8_t *out, size_t cap, const uint32_t *seq,
		 const uint32_t *len, int n)
{
	size_t off = 0, padded;
	int i;

	for (i = 0; i < n; i++) {
		padded = (len[i] + 3) & ~3U;
		if (off + 8 + padded > cap)
			abort();
		put_be32(out + off, seq[i]);
		put_be32(out + off + 4, len[i]);
		memset(out + off + 8, 0, padded);
		pattern(out + off + 8, len[i], seq[i]);
		off += 8 + padded;
	}
	return off;
}

void sample_init(struct sample *s, uint8_t family, uint8_t state,
		 unsigned int shape)
{
	static const uint8_t a4[] = { 198, 18, 100, 1 },
			     p4[] = { 198, 18, 0, 1 };
	/* fd00:7c:100::1 and fd00:7c::1 */
	static const uint8_t a6[16] = { 0xfd, 0, 0, 0x7c, 0x01, 0, 0, 0,
					0,    0, 0, 0,	  0,	0, 0, 1 };
	static const uint8_t p6[16] = { 0xfd, 0, 0, 0x7c, 0, 0, 0, 0,
					0,    0, 0, 0,	  0, 0, 0, 1 };
	struct ici *c = &s->ici;
	bool fin_s = sample_fin_sent(state), fin_r = sample_fin_rcvd(state);

	memset(s, 0, sizeof(*s));
	pattern(s->sndq, sizeof(s->sndq), 1);
	pattern(s->rcvq, sizeof(s->rcvq), 2);

	c->major = TCPCP_ICI_MAJOR;
	c->minor = TCPCP_ICI_MINOR;
	c->family = family;
	c->state = state;
	if (family == TCPCP_FAMILY_INET) {
		memcpy(c->laddr, a4, 4);
		memcpy(c->raddr, p4, 4);
	} else {
		memcpy(c->laddr, a6, 16);
		memcpy(c->raddr, p6, 16);
	}
	c->lport = 80;
	c->rport = 40000;

	c->mss = 1448;
	c->opts = TCPCP_OPT_SACK | TCPCP_OPT_WSCALE;
	c->snd_wscale = 7;
	c->rcv_wscale = 9;
	if (shape & SAMPLE_TS)
		c->opts |= TCPCP_OPT_TSTAMP;

	/* A FIN-WAIT-2 send queue is empty: the FIN, the last byte, is acked */
	if ((shape & SAMPLE_QUEUES) && state != TCPCP_STATE_FIN_WAIT2)
		c->sndq_len = SAMPLE_SNDQ_LEN;
	if (shape & SAMPLE_QUEUES)
		c->rcvq_len = SAMPLE_RCVQ_LEN;
	c->sndq = c->sndq_len ? s->sndq : NULL;
	c->rcvq = c->rcvq_len ? s->rcvq : NULL;

	c->snd_una = (shape & SAMPLE_WRAP) ? 0xffffff00 : 0x12345678;
	c->write_seq = c->snd_una + c->sndq_len + fin_s;
	if (state == TCPCP_STATE_FIN_WAIT2 || state == TCPCP_STATE_CLOSING)
		c->snd_nxt = c->write_seq; /* our FIN is out */
	else
		c->snd_nxt = c->snd_una + c->sndq_len / 2;
	if (state == TCPCP_STATE_FIN_WAIT2)
		c->snd_una = c->write_seq; /* and acked */

	c->copied_seq = (shape & SAMPLE_WRAP) ? 0xfffffe80 : 0x9abcdef0;
	c->rcv_nxt = c->copied_seq + c->rcvq_len + fin_r;

	c->snd_wl1 = c->rcv_nxt;
	c->snd_wnd = 64000 << 7;
	c->max_window = 65535 << 7;
	c->rcv_wnd = 65536;
	c->rcv_wup = c->rcv_nxt;

	if (shape & SAMPLE_TS) {
		c->has_ts = true;
		c->ts_val = 0x11223344;
		c->ts_recent = 0x55667788;
		c->ts_recent_age = 12;
		c->ts_flags = TCPCP_TS_RECENT_VALID;
	}

	/* No data can follow a FIN, so no out-of-order queue after one */
	if ((shape & SAMPLE_OFO) && !fin_r) {
		const uint32_t seq[] = { c->rcv_nxt + 100, c->rcv_nxt + 300,
					 c->rcv_nxt + 1000 };
		const uint32_t len[] = { 50, 3, 8 };

		c->ofoq = s->ofo;
		c->ofoq_len = ofo_build(s->ofo, sizeof(s->ofo), seq, len, 3);
		c->ofo_segs = SAMPLE_OFO_SEGS;
		c->ofo_bytes = SAMPLE_OFO_BYTES;
	}

	if (shape & SAMPLE_CONG) {
		c->has_cong = true;
		c->cong.cwnd = 10;
		c->cong.ssthresh = 0x7fffffff;
		c->cong.srtt_us = 1234;
		c->cong.rttvar_us = 567;
		c->cong.flags = TCPCP_CONG_F_RESTORE;
		strcpy(c->cong.algorithm, "cubic");
	}

	if (shape & SAMPLE_SOCKOPT) {
		c->has_sockopt = true;
		c->so.set = TCPCP_SO_ALL;
		c->so.nodelay = 1;
		c->so.keepalive = 1;
		c->so.tos = 0x10;
		c->so.keepidle = 60;
		c->so.keepintvl = 10;
		c->so.keepcnt = 5;
		c->so.user_timeout = 30000;
		c->so.sndbuf = 87040;
		c->so.rcvbuf = 131072;
		c->so.mark = 0x42;
		c->so.notsent_lowat = 16384;
	}
}

#define CMP(f)                                                     \
	do {                                                       \
		if (a->f != b->f) {                                \
			snprintf(why, whylen, #f ": %llu != %llu", \
				 (unsigned long long)a->f,         \
				 (unsigned long long)b->f);        \
			return -1;                                 \
		}                                                  \
	} while (0)

#define CMPMEM(f, n)                                          \
	do {                                                  \
		if (memcmp(a->f, b->f, n)) {                  \
			snprintf(why, whylen, #f " differs"); \
			return -1;                            \
		}                                             \
	} while (0)

static int queue_equal(const uint8_t *a, const uint8_t *b, uint32_t len)
{
	if (!len)
		return 1;
	if (!a || !b)
		return 0;
	return !memcmp(a, b, len);
}

int ici_equal(const struct ici *a, const struct ici *b, char *why,
	      size_t whylen)
{
	CMP(major);
	CMP(minor);
	CMP(hdr_flags);
	CMP(family);
	CMP(state);
	CMPMEM(laddr, 16);
	CMPMEM(raddr, 16);
	CMP(lport);
	CMP(rport);
	CMP(mss);
	CMP(user_mss);
	CMP(snd_wscale);
	CMP(rcv_wscale);
	CMP(opts);
	CMP(snd_una);
	CMP(snd_nxt);
	CMP(write_seq);
	CMP(rcv_nxt);
	CMP(copied_seq);
	CMP(snd_wl1);
	CMP(snd_wnd);
	CMP(max_window);
	CMP(rcv_wnd);
	CMP(rcv_wup);
	CMP(has_ts);
	if (a->has_ts) {
		CMP(ts_val);
		CMP(ts_recent);
		CMP(ts_recent_age);
		CMP(ts_flags);
	}
	CMP(sndq_len);
	if (!queue_equal(a->sndq, b->sndq, a->sndq_len)) {
		snprintf(why, whylen, "sndq bytes differ");
		return -1;
	}
	CMP(rcvq_len);
	if (!queue_equal(a->rcvq, b->rcvq, a->rcvq_len)) {
		snprintf(why, whylen, "rcvq bytes differ");
		return -1;
	}
	CMP(ofoq_len);
	if (!queue_equal(a->ofoq, b->ofoq, a->ofoq_len)) {
		snprintf(why, whylen, "ofoq bytes differ");
		return -1;
	}
	CMP(ofo_segs);
	CMP(ofo_bytes);
	CMP(has_cong);
	if (a->has_cong) {
		CMP(cong.cwnd);
		CMP(cong.ssthresh);
		CMP(cong.srtt_us);
		CMP(cong.rttvar_us);
		CMP(cong.flags);
		CMPMEM(cong.algorithm, sizeof(a->cong.algorithm));
	}
	CMP(has_sockopt);
	if (a->has_sockopt) {
		CMP(so.set);
		CMP(so.nodelay);
		CMP(so.keepalive);
		CMP(so.tos);
		CMP(so.keepidle);
		CMP(so.keepintvl);
		CMP(so.keepcnt);
		CMP(so.user_timeout);
		CMP(so.sndbuf);
		CMP(so.rcvbuf);
		CMP(so.mark);
		CMP(so.notsent_lowat);
	}
	return 0;
}

void raw_init(struct raw *r, size_t cap)
{
	r->buf = calloc(1, cap);
	if (!r->buf)
		abort();
	r->len = 0;
	r->cap = cap;
}

void raw_free(struct raw *r)
{
	free(r->buf);
	r->buf = NULL;
}

static uint8_t *raw_room(struct raw *r, size_t n)
{
	uint8_t *p;

	if (r->len + n > r->cap)
		abort();
	p = r->buf + r->len;
	r->len += n;
	return p;
}

void raw_hdr(struct raw *r, uint32_t magic, uint8_t major, uint8_t minor,
	     uint16_t flags, uint32_t reserved)
{
	uint8_t *p = raw_room(r, 16);

	put_be32(p, magic);
	p[4] = major;
	p[5] = minor;
	put_be16(p + 6, flags);
	put_be32(p + 8, 0);
	put_be32(p + 12, reserved);
}

void raw_elem(struct raw *r, uint16_t type, uint16_t flags, const void *pl,
	      uint32_t len, uint8_t pad_byte)
{
	uint32_t padded = (len + 3) & ~3U;
	uint8_t *p = raw_room(r, 8 + padded);

	put_be16(p, type);
	put_be16(p + 2, flags);
	put_be32(p + 4, len);
	if (len)
		memcpy(p + 8, pl, len);
	memset(p + 8 + len, pad_byte, padded - len);
}

void raw_fix_len(struct raw *r)
{
	put_be32(r->buf + 8, r->len);
}

int elem_walk(const uint8_t *buf, size_t len, struct elem *el, int max)
{
	size_t off = 16;
	int n = 0;

	if (len < 16)
		return -1;
	while (off < len) {
		uint32_t elen;

		if (len - off < 8 || n == max)
			return -1;
		elen = get_be32(buf + off + 4);
		if (elen > len - off - 8)
			return -1;
		el[n].type = get_be16(buf + off);
		el[n].flags = get_be16(buf + off + 2);
		el[n].len = elen;
		el[n].off = off;
		el[n].payload = off + 8;
		n++;
		off += 8 + (((size_t)elen + 3) & ~(size_t)3);
	}
	return off == len ? n : -1;
}

const struct elem *elem_find(const struct elem *el, int n, uint16_t type)
{
	int i;

	for (i = 0; i < n; i++)
		if (el[i].type == type)
			return &el[i];
	return NULL;
}
