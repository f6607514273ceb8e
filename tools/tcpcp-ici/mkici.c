// SPDX-License-Identifier: GPL-2.0
/*
 * mkici - write a small, valid ICI to stdout, for tcpcp-ici's tests and the
 * worked example in Documentation/networking/tcpcp.rst.  Not installed.
 *
 *   mkici [ v6 ] [ state STATE ] [ sndq TEXT ] [ unsent N ] [ rcvq TEXT ]
 *         [ ofo TEXT ] [ nots ] [ cong ] [ sockopt ] [ checkpoint ]
 *
 * STATE is one of established fin_wait1 fin_wait2 close_wait last_ack closing.
 * "unsent N" leaves the last N bytes of the send queue unsent; "ofo TEXT"
 * adds one out-of-order segment 100 bytes beyond rcv_nxt.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ici.h"

static const struct {
	const char *name;
	uint8_t state;
} states[] = {
	{ "established", TCPCP_STATE_ESTABLISHED },
	{ "fin_wait1", TCPCP_STATE_FIN_WAIT1 },
	{ "fin_wait2", TCPCP_STATE_FIN_WAIT2 },
	{ "close_wait", TCPCP_STATE_CLOSE_WAIT },
	{ "last_ack", TCPCP_STATE_LAST_ACK },
	{ "closing", TCPCP_STATE_CLOSING },
};

static int usage(void)
{
	fprintf(stderr,
		"Usage: mkici [ v6 ] [ state STATE ] [ sndq TEXT ] [ unsent N ]\n"
		"             [ rcvq TEXT ] [ ofo TEXT ] [ nots ] [ cong ]\n"
		"             [ sockopt ] [ checkpoint ]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *sndq = "", *rcvq = "", *ofo = NULL;
	uint8_t ofobuf[256];
	unsigned long unsent = 0;
	struct ici ici;
	size_t len, i;
	void *buf;
	int ret, a;

	memset(&ici, 0, sizeof(ici));
	ici.major = TCPCP_ICI_MAJOR;
	ici.minor = TCPCP_ICI_MINOR;
	ici.family = TCPCP_FAMILY_INET;
	ici.state = TCPCP_STATE_ESTABLISHED;
	inet_pton(AF_INET, "198.18.100.1", ici.laddr);
	inet_pton(AF_INET, "198.18.0.1", ici.raddr);
	ici.lport = 80;
	ici.rport = 41234;
	ici.mss = 1448;
	ici.snd_wscale = 7;
	ici.rcv_wscale = 7;
	ici.opts = TCPCP_OPT_SACK | TCPCP_OPT_TSTAMP | TCPCP_OPT_WSCALE;
	ici.has_ts = true;
	ici.ts_val = 123456;
	ici.ts_recent = 654321;
	ici.ts_recent_age = 5;
	ici.ts_flags = TCPCP_TS_RECENT_VALID;

	for (a = 1; a < argc; a++) {
		const char *kw = argv[a],
			   *arg = a + 1 < argc ? argv[a + 1] : NULL;

		if (!strcmp(kw, "v6")) {
			ici.family = TCPCP_FAMILY_INET6;
			memset(ici.laddr, 0, 16);
			memset(ici.raddr, 0, 16);
			inet_pton(AF_INET6, "fd00:7c:100::1", ici.laddr);
			inet_pton(AF_INET6, "fd00:7c::1", ici.raddr);
			ici.mss = 1428;
		} else if (!strcmp(kw, "nots")) {
			ici.has_ts = false;
			ici.opts &= ~TCPCP_OPT_TSTAMP;
			ici.ts_val = ici.ts_recent = ici.ts_recent_age = 0;
			ici.ts_flags = 0;
		} else if (!strcmp(kw, "cong")) {
			ici.has_cong = true;
			ici.cong.cwnd = 10;
			ici.cong.ssthresh = 0x7fffffff;
			ici.cong.srtt_us = 1234;
			ici.cong.rttvar_us = 617;
			strcpy(ici.cong.algorithm, "cubic");
		} else if (!strcmp(kw, "sockopt")) {
			ici.has_sockopt = true;
			ici.so.set = TCPCP_SO_NODELAY | TCPCP_SO_MARK;
			ici.so.nodelay = 1;
			ici.so.mark = 0x2a;
		} else if (!strcmp(kw, "checkpoint")) {
			ici.hdr_flags |= TCPCP_ICI_F_CHECKPOINT;
		} else if (!arg) {
			return usage();
		} else if (!strcmp(kw, "state")) {
			for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
				if (!strcmp(arg, states[i].name))
					break;
			if (i == sizeof(states) / sizeof(states[0]))
				return usage();
			ici.state = states[i].state;
			a++;
		} else if (!strcmp(kw, "sndq")) {
			sndq = arg;
			a++;
		} else if (!strcmp(kw, "unsent")) {
			unsent = strtoul(arg, NULL, 10);
			a++;
		} else if (!strcmp(kw, "rcvq")) {
			rcvq = arg;
			a++;
		} else if (!strcmp(kw, "ofo")) {
			ofo = arg;
			a++;
		} else {
			return usage();
		}
	}

	ici.sndq = (const uint8_t *)sndq;
	ici.sndq_len = strlen(sndq);
	ici.rcvq = (const uint8_t *)rcvq;
	ici.rcvq_len = strlen(rcvq);
	if (unsent > ici.sndq_len)
		return usage();

	/* FINs are counted in the sequence space, not in the queues */
	ici.snd_una = 1000000;
	ici.write_seq = ici.snd_una + ici.sndq_len + ici_fin_sent(ici.state);
	ici.snd_nxt = ici.write_seq - unsent;
	ici.copied_seq = 2000000;
	ici.rcv_nxt = ici.copied_seq + ici.rcvq_len + ici_fin_rcvd(ici.state);

	ici.snd_wl1 = ici.rcv_nxt;
	ici.snd_wnd = 65535 << 2;
	ici.max_window = ici.snd_wnd;
	ici.rcv_wnd = 65535;
	ici.rcv_wup = ici.rcv_nxt;

	if (ofo) {
		uint32_t seq = htonl(ici.rcv_nxt + 100), n = strlen(ofo);
		uint32_t nl = htonl(n), padded = (n + 3) & ~3U;

		if (n == 0 || 8 + padded > sizeof(ofobuf))
			return usage();
		memset(ofobuf, 0, sizeof(ofobuf));
		memcpy(ofobuf, &seq, 4);
		memcpy(ofobuf + 4, &nl, 4);
		memcpy(ofobuf + 8, ofo, n);
		ici.ofoq = ofobuf;
		ici.ofoq_len = 8 + padded;
		ici.ofo_segs = 1;
		ici.ofo_bytes = n;
	}

	ret = ici_encode_alloc(&ici, &buf, &len);
	if (ret < 0) {
		fprintf(stderr, "mkici: encode: %s\n", strerror(-ret));
		return 1;
	}
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout)) {
		fprintf(stderr, "mkici: write: %s\n", strerror(errno));
		free(buf);
		return 1;
	}
	free(buf);
	return 0;
}
