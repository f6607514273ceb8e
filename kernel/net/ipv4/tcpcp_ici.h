/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpcp: the decoded form of an Internal Connection Information blob,
 * shared by the codec (tcpcp_ici.c) and the socket side (tcpcp.c).
 */
#ifndef _TCPCP_ICI_H
#define _TCPCP_ICI_H

#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <linux/types.h>
#include <uapi/linux/tcpcp.h>

/* Largest send, receive or out-of-order queue an ICI may carry */
#define TCPCP_MAX_QUEUE		(64U << 20)

/* Host-order view of an ICI; queue pointers point into the checked blob */
struct tcpcp_ici {
	u16	hdr_flags;
	u8	family;
	u8	state;
	u8	laddr[16];
	u8	raddr[16];
	u16	lport;
	u16	rport;

	u16	mss;
	u16	user_mss;
	u8	snd_wscale;
	u8	rcv_wscale;
	u16	opts;

	u32	snd_una, snd_nxt, write_seq, rcv_nxt, copied_seq;
	u32	snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;

	bool	has_ts;
	u32	ts_val, ts_recent, ts_recent_age, ts_flags;

	const u8 *sndq;
	u32	sndq_len;
	const u8 *rcvq;
	u32	rcvq_len;
	const u8 *ofoq;
	u32	ofoq_len;

	bool	has_cong;
	u32	cwnd, ssthresh, srtt_us, rttvar_us, cong_flags;
	char	algorithm[16];

	bool	has_so;
	u32	so_set;
	u8	nodelay, keepalive, tos;
	u32	keepidle, keepintvl, keepcnt, user_timeout;
	u32	sndbuf, rcvbuf, mark, notsent_lowat;
};

bool tcpcp_fin_sent(u8 state);
bool tcpcp_fin_rcvd(u8 state);
int tcpcp_ici_decode(const u8 *buf, u32 len, struct tcpcp_ici *ici);
int tcpcp_ofo_next(const struct tcpcp_ici *ici, u32 *off, u32 *seq,
		   const u8 **data, u32 *len);

/* Encoder: a cursor over a buffer sized by the caller */
struct tcpcp_wr {
	u8	*buf;
	u32	pos;
};

void *tcpcp_wr_elem(struct tcpcp_wr *w, u16 type, u16 flags, u32 len);
void tcpcp_ici_encode_fixed(struct tcpcp_wr *w, const struct tcpcp_ici *ici,
			    u32 total);
u32 tcpcp_ici_fixed_size(const struct tcpcp_ici *ici);

/* Segments a created endpoint keeps for processing at activation */
#define TCPCP_EARLY_MAX		256

struct tcpcp_sock {
	struct sk_buff_head	early;		/* arrived before activation */
	u32			early_bytes;
	bool			created;	/* by setsockopt(TCP_ICI) */
};

struct sock;
void tcpcp_isolate(struct sock *sk);
void tcpcp_free(struct sock *sk);
int tcpcp_create(struct sock *sk, sockptr_t optval, unsigned int optlen);

#endif /* _TCPCP_ICI_H */
