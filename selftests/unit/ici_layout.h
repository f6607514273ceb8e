/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One ICI written out by hand from include/uapi/linux/tcpcp.h, byte by byte:
 * IPv4, ESTABLISHED, every element present, queues of odd lengths.  The
 * layout test encodes layout_ici() and must get exactly these bytes.
 */
#ifndef TCPCP_TEST_ICI_LAYOUT_H
#define TCPCP_TEST_ICI_LAYOUT_H

#include <string.h>

#include "ici.h"

/* The bytes are laid out by field, by hand */
/* clang-format off */
#define BE16(x) (uint8_t)((x) >> 8), (uint8_t)(x)
#define BE32(x) (uint8_t)((x) >> 24), (uint8_t)((x) >> 16), \
		(uint8_t)((x) >> 8), (uint8_t)(x)
/* element header: type, flags, payload length */
#define ELEM(t, f, l) BE16(t), BE16(f), BE32(l)

static const uint8_t layout_bytes[] = {
	/* header: "tcpi", major 1, minor 0, flags CHECKPOINT, len 308 */
	0x74, 0x63, 0x70, 0x69, 0x01, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x01, 0x34, 0x00, 0x00, 0x00, 0x00,
	/* @16 CONN, mandatory, 44 bytes */
	ELEM(1, 1, 44),
	4, 1, 0, 0,			/* family 4, ESTABLISHED, reserved */
	0x00, 0x50, 0x9c, 0x40,		/* lport 80, rport 40000 */
	198, 18, 100, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0,			/* reserved2 */
	/* @68 OPTS, mandatory, 12 bytes */
	ELEM(2, 1, 12),
	0x05, 0xa8, 0x05, 0x78,		/* mss 1448, user_mss 1400 */
	7, 9, 0x00, 0x0f,		/* wscales, SACK|TSTAMP|WSCALE|ECN */
	0, 0, 0, 0,
	/* @88 SEQ, mandatory, 20 bytes */
	ELEM(3, 1, 20),
	BE32(0x01020304), BE32(0x01020307), BE32(0x01020309),
	BE32(0xa0b0c0d3), BE32(0xa0b0c0d0),
	/* @116 WIN, mandatory, 20 bytes */
	ELEM(4, 1, 20),
	BE32(0xa0b0c0d0), BE32(128000), BE32(131072), BE32(65536),
	BE32(0xa0b0c0d3),
	/* @144 TS, mandatory (TSTAMP), 16 bytes */
	ELEM(5, 1, 16),
	BE32(0x11223344), BE32(0x55667788), BE32(12), BE32(1),
	/* @168 SNDQ, mandatory, 5 bytes + 3 padding */
	ELEM(6, 1, 5),
	'h', 'e', 'l', 'l', 'o', 0, 0, 0,
	/* @184 RCVQ, mandatory, 3 bytes + 1 padding */
	ELEM(7, 1, 3),
	'a', 'b', 'c', 0,
	/* @196 OFOQ, ignorable, one segment of 2 bytes */
	ELEM(8, 0, 12),
	BE32(0xa0b0c0e3), BE32(2), 'x', 'y', 0, 0,
	/* @216 CONG, ignorable, 36 bytes */
	ELEM(9, 0, 36),
	BE32(10), BE32(0x7fffffff), BE32(1234), BE32(567), BE32(1),
	'c', 'u', 'b', 'i', 'c', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* @260 SOCKOPT, ignorable, 40 bytes */
	ELEM(10, 0, 40),
	BE32(0xff), 1, 1, 0x10, 0,
	BE32(60), BE32(10), BE32(5), BE32(30000),
	BE32(87040), BE32(131072), BE32(0x42), BE32(16384),
	/* @308 end */
};
/* clang-format on */

static inline void layout_ici(struct ici *c)
{
	static const uint8_t ofo[] = {
		BE32(0xa0b0c0e3), BE32(2), 'x', 'y', 0, 0
	};

	memset(c, 0, sizeof(*c));
	c->major = 1;
	c->minor = 0;
	c->hdr_flags = TCPCP_ICI_F_CHECKPOINT;
	c->family = TCPCP_FAMILY_INET;
	c->state = TCPCP_STATE_ESTABLISHED;
	memcpy(c->laddr, (uint8_t[]){ 198, 18, 100, 1 }, 4);
	memcpy(c->raddr, (uint8_t[]){ 198, 18, 0, 1 }, 4);
	c->lport = 80;
	c->rport = 40000;
	c->mss = 1448;
	c->user_mss = 1400;
	c->snd_wscale = 7;
	c->rcv_wscale = 9;
	c->opts = TCPCP_OPT_SACK | TCPCP_OPT_TSTAMP | TCPCP_OPT_WSCALE |
		  TCPCP_OPT_ECN;
	c->snd_una = 0x01020304;
	c->snd_nxt = 0x01020307;
	c->write_seq = 0x01020309;
	c->rcv_nxt = 0xa0b0c0d3;
	c->copied_seq = 0xa0b0c0d0;
	c->snd_wl1 = 0xa0b0c0d0;
	c->snd_wnd = 128000;
	c->max_window = 131072;
	c->rcv_wnd = 65536;
	c->rcv_wup = 0xa0b0c0d3;
	c->has_ts = true;
	c->ts_val = 0x11223344;
	c->ts_recent = 0x55667788;
	c->ts_recent_age = 12;
	c->ts_flags = TCPCP_TS_RECENT_VALID;
	c->sndq = (const uint8_t *)"hello";
	c->sndq_len = 5;
	c->rcvq = (const uint8_t *)"abc";
	c->rcvq_len = 3;
	c->ofoq = ofo;
	c->ofoq_len = sizeof(ofo);
	c->ofo_segs = 1;
	c->ofo_bytes = 2;
	c->has_cong = true;
	c->cong.cwnd = 10;
	c->cong.ssthresh = 0x7fffffff;
	c->cong.srtt_us = 1234;
	c->cong.rttvar_us = 567;
	c->cong.flags = TCPCP_CONG_F_RESTORE;
	strcpy(c->cong.algorithm, "cubic");
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

#endif /* TCPCP_TEST_ICI_LAYOUT_H */
