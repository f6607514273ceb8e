// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp: Internal Connection Information codec.
 *
 * The format is specified in include/uapi/linux/tcpcp.h and
 * Documentation/networking/tcpcp.rst.  Every byte of an ICI is checked
 * here before the socket side uses any of it; the checks are the same as
 * libtcpcp's (lib/ici.c), so both accept exactly the same blobs.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <net/tcp.h>

#include "tcpcp_ici.h"

#define PAD4(n)	(((n) + 3U) & ~3U)

bool tcpcp_fin_sent(u8 state)
{
	return state == TCPCP_STATE_FIN_WAIT1 ||
	       state == TCPCP_STATE_FIN_WAIT2 ||
	       state == TCPCP_STATE_CLOSING || state == TCPCP_STATE_LAST_ACK;
}

bool tcpcp_fin_rcvd(u8 state)
{
	return state == TCPCP_STATE_CLOSE_WAIT ||
	       state == TCPCP_STATE_CLOSING || state == TCPCP_STATE_LAST_ACK;
}

static bool tcpcp_state_ok(u8 state)
{
	return state == TCPCP_STATE_ESTABLISHED || tcpcp_fin_sent(state) ||
	       tcpcp_fin_rcvd(state);
}

static const u32 tcpcp_elem_size[__TCPCP_EL_MAX] = {
	[TCPCP_EL_CONN]		= sizeof(struct tcpcp_el_conn),
	[TCPCP_EL_OPTS]		= sizeof(struct tcpcp_el_opts),
	[TCPCP_EL_SEQ]		= sizeof(struct tcpcp_el_seq),
	[TCPCP_EL_WIN]		= sizeof(struct tcpcp_el_win),
	[TCPCP_EL_TS]		= sizeof(struct tcpcp_el_ts),
	[TCPCP_EL_CONG]		= sizeof(struct tcpcp_el_cong),
	[TCPCP_EL_SOCKOPT]	= sizeof(struct tcpcp_el_sockopt),
};

int tcpcp_ofo_next(const struct tcpcp_ici *ici, u32 *off, u32 *seq,
		   const u8 **data, u32 *len)
{
	u32 o = *off, l;

	if (!ici->ofoq || o >= ici->ofoq_len)
		return 0;
	if (ici->ofoq_len - o < sizeof(struct tcpcp_ofo_seg))
		return -EINVAL;
	l = get_unaligned_be32(ici->ofoq + o + 4);
	if (!l || l > ici->ofoq_len - o - sizeof(struct tcpcp_ofo_seg))
		return -EINVAL;
	if (memchr_inv(ici->ofoq + o + sizeof(struct tcpcp_ofo_seg) + l, 0,
		       min(PAD4(l), ici->ofoq_len - o -
			   (u32)sizeof(struct tcpcp_ofo_seg)) - l))
		return -EINVAL;
	*seq = get_unaligned_be32(ici->ofoq + o);
	*len = l;
	*data = ici->ofoq + o + sizeof(struct tcpcp_ofo_seg);
	o += sizeof(struct tcpcp_ofo_seg) + PAD4(l);
	*off = min(o, ici->ofoq_len);
	return 1;
}

static bool tcpcp_addr_ok(const struct tcpcp_ici *ici, const u8 *a)
{
	static const u8 v4mapped[12] = { 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0, 0xff, 0xff };

	if (ici->family == TCPCP_FAMILY_INET)
		return !memchr_inv(a + 4, 0, 12) && memchr_inv(a, 0, 4) &&
		       a[0] < 224;
	return memchr_inv(a, 0, 16) && a[0] != 0xff &&
	       memcmp(a, v4mapped, sizeof(v4mapped));
}

static int tcpcp_check_conn(const struct tcpcp_ici *ici)
{
	u32 fin_s = tcpcp_fin_sent(ici->state) ? 1 : 0;
	u32 fin_r = tcpcp_fin_rcvd(ici->state) ? 1 : 0;
	u32 rcv_used;

	if (ici->hdr_flags & ~TCPCP_ICI_F_ALL)
		return -EINVAL;
	if (ici->family != TCPCP_FAMILY_INET &&
	    ici->family != TCPCP_FAMILY_INET6)
		return -EINVAL;
	if (!tcpcp_state_ok(ici->state) || !ici->lport || !ici->rport)
		return -EINVAL;
	if (!tcpcp_addr_ok(ici, ici->laddr) || !tcpcp_addr_ok(ici, ici->raddr))
		return -EINVAL;

	if (ici->opts & ~TCPCP_OPT_ALL)
		return -EINVAL;
	if (ici->mss < 64 || (ici->user_mss && ici->user_mss < 64))
		return -EINVAL;
	if (ici->snd_wscale > TCP_MAX_WSCALE ||
	    ici->rcv_wscale > TCP_MAX_WSCALE)
		return -EINVAL;
	if (!(ici->opts & TCPCP_OPT_WSCALE) &&
	    (ici->snd_wscale || ici->rcv_wscale))
		return -EINVAL;
	if ((ici->opts & TCPCP_OPT_USEC_TS) && !(ici->opts & TCPCP_OPT_TSTAMP))
		return -EINVAL;
	if (!!(ici->opts & TCPCP_OPT_TSTAMP) != ici->has_ts)
		return -EINVAL;
	if (ici->has_ts && (ici->ts_flags & ~TCPCP_TS_RECENT_VALID))
		return -EINVAL;
	if (ici->has_ts && !(ici->ts_flags & TCPCP_TS_RECENT_VALID) &&
	    (ici->ts_recent || ici->ts_recent_age))
		return -EINVAL;

	/* send side: snd_una <= snd_nxt <= write_seq, queue + FIN fill it */
	if (before(ici->snd_nxt, ici->snd_una) ||
	    before(ici->write_seq, ici->snd_nxt))
		return -EINVAL;
	if (ici->sndq_len > TCPCP_MAX_QUEUE || ici->rcvq_len > TCPCP_MAX_QUEUE)
		return -EINVAL;
	if (ici->state == TCPCP_STATE_FIN_WAIT2) {
		/* our FIN is acknowledged: nothing left to send */
		if (ici->snd_una != ici->write_seq || ici->sndq_len)
			return -EINVAL;
	} else if (ici->write_seq - ici->snd_una != ici->sndq_len + fin_s) {
		return -EINVAL;
	}

	/* receive side: copied_seq <= rcv_nxt, queue (+ unread FIN) fill it */
	rcv_used = ici->rcv_nxt - ici->copied_seq;
	if (before(ici->rcv_nxt, ici->copied_seq))
		return -EINVAL;
	if (!(rcv_used == ici->rcvq_len + fin_r ||
	      (fin_r && rcv_used == 0 && ici->rcvq_len == 0)))
		return -EINVAL;

	/* windows, as tcp_repair_set_window() checks them */
	if (ici->snd_wnd > (65535U << TCP_MAX_WSCALE) ||
	    ici->max_window > (65535U << TCP_MAX_WSCALE) ||
	    ici->rcv_wnd > (65535U << TCP_MAX_WSCALE))
		return -EINVAL;
	if (ici->snd_wnd > ici->max_window)
		return -EINVAL;
	if (after(ici->snd_wl1, ici->rcv_nxt + ici->rcv_wnd))
		return -EINVAL;
	if (after(ici->rcv_wup, ici->rcv_nxt))
		return -EINVAL;
	return 0;
}

static int tcpcp_check_ofo(const struct tcpcp_ici *ici)
{
	u32 off = 0, seq, len, prev_end = ici->rcv_nxt, bytes = 0;
	u32 wnd = ici->rcv_wnd ? ici->rcv_wnd : 1U << 30;
	const u8 *data;
	int ret;

	if (ici->ofoq_len && tcpcp_fin_rcvd(ici->state))
		return -EINVAL;
	while ((ret = tcpcp_ofo_next(ici, &off, &seq, &data, &len)) > 0) {
		if (!before(prev_end, seq))
			return -EINVAL;
		if (before(ici->rcv_nxt + wnd, seq + len))
			return -EINVAL;
		bytes += len;
		if (bytes > TCPCP_MAX_QUEUE)
			return -EINVAL;
		prev_end = seq + len;
	}
	return ret;
}

static int tcpcp_check_extra(const struct tcpcp_ici *ici)
{
	size_t n;

	if (ici->has_cong) {
		if (ici->cong_flags & ~TCPCP_CONG_F_RESTORE || !ici->cwnd)
			return -EINVAL;
		n = strnlen(ici->algorithm, sizeof(ici->algorithm));
		if (n == sizeof(ici->algorithm) ||
		    memchr_inv(ici->algorithm + n, 0, sizeof(ici->algorithm) - n))
			return -EINVAL;
		while (n--) {
			char c = ici->algorithm[n];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '_' || c == '-'))
				return -EINVAL;
		}
	}
	if (ici->has_so) {
		if (ici->so_set & ~TCPCP_SO_ALL)
			return -EINVAL;
		if (ici->nodelay > 1 || ici->keepalive > 1)
			return -EINVAL;
		if (ici->keepidle > MAX_TCP_KEEPIDLE ||
		    ici->keepintvl > MAX_TCP_KEEPINTVL ||
		    ici->keepcnt > MAX_TCP_KEEPCNT)
			return -EINVAL;
		if (ici->user_timeout > INT_MAX || ici->sndbuf > INT_MAX ||
		    ici->rcvbuf > INT_MAX || ici->notsent_lowat > INT_MAX)
			return -EINVAL;
	}
	return 0;
}

static int tcpcp_parse_elem(struct tcpcp_ici *ici, u16 type, const u8 *e,
			    u32 elen)
{
	switch (type) {
	case TCPCP_EL_CONN:
		ici->family = e[0];
		ici->state = e[1];
		if (get_unaligned_be16(e + 2) || get_unaligned_be32(e + 40))
			return -EINVAL;
		ici->lport = get_unaligned_be16(e + 4);
		ici->rport = get_unaligned_be16(e + 6);
		memcpy(ici->laddr, e + 8, 16);
		memcpy(ici->raddr, e + 24, 16);
		break;
	case TCPCP_EL_OPTS:
		ici->mss = get_unaligned_be16(e);
		ici->user_mss = get_unaligned_be16(e + 2);
		ici->snd_wscale = e[4];
		ici->rcv_wscale = e[5];
		ici->opts = get_unaligned_be16(e + 6);
		if (get_unaligned_be32(e + 8))
			return -EINVAL;
		break;
	case TCPCP_EL_SEQ:
		ici->snd_una = get_unaligned_be32(e);
		ici->snd_nxt = get_unaligned_be32(e + 4);
		ici->write_seq = get_unaligned_be32(e + 8);
		ici->rcv_nxt = get_unaligned_be32(e + 12);
		ici->copied_seq = get_unaligned_be32(e + 16);
		break;
	case TCPCP_EL_WIN:
		ici->snd_wl1 = get_unaligned_be32(e);
		ici->snd_wnd = get_unaligned_be32(e + 4);
		ici->max_window = get_unaligned_be32(e + 8);
		ici->rcv_wnd = get_unaligned_be32(e + 12);
		ici->rcv_wup = get_unaligned_be32(e + 16);
		break;
	case TCPCP_EL_TS:
		ici->has_ts = true;
		ici->ts_val = get_unaligned_be32(e);
		ici->ts_recent = get_unaligned_be32(e + 4);
		ici->ts_recent_age = get_unaligned_be32(e + 8);
		ici->ts_flags = get_unaligned_be32(e + 12);
		break;
	case TCPCP_EL_SNDQ:
		ici->sndq = elen ? e : NULL;
		ici->sndq_len = elen;
		break;
	case TCPCP_EL_RCVQ:
		ici->rcvq = elen ? e : NULL;
		ici->rcvq_len = elen;
		break;
	case TCPCP_EL_OFOQ:
		ici->ofoq = elen ? e : NULL;
		ici->ofoq_len = elen;
		break;
	case TCPCP_EL_CONG:
		ici->has_cong = true;
		ici->cwnd = get_unaligned_be32(e);
		ici->ssthresh = get_unaligned_be32(e + 4);
		ici->srtt_us = get_unaligned_be32(e + 8);
		ici->rttvar_us = get_unaligned_be32(e + 12);
		ici->cong_flags = get_unaligned_be32(e + 16);
		memcpy(ici->algorithm, e + 20, sizeof(ici->algorithm));
		break;
	case TCPCP_EL_SOCKOPT:
		ici->has_so = true;
		ici->so_set = get_unaligned_be32(e);
		ici->nodelay = e[4];
		ici->keepalive = e[5];
		ici->tos = e[6];
		if (e[7])
			return -EINVAL;
		ici->keepidle = get_unaligned_be32(e + 8);
		ici->keepintvl = get_unaligned_be32(e + 12);
		ici->keepcnt = get_unaligned_be32(e + 16);
		ici->user_timeout = get_unaligned_be32(e + 20);
		ici->sndbuf = get_unaligned_be32(e + 24);
		ici->rcvbuf = get_unaligned_be32(e + 28);
		ici->mark = get_unaligned_be32(e + 32);
		ici->notsent_lowat = get_unaligned_be32(e + 36);
		break;
	}
	return 0;
}

/**
 * tcpcp_ici_decode - check an ICI and decode it into host order
 * @buf: the whole ICI
 * @len: its length, which must be the length its header gives
 * @ici: result; its queue pointers point into @buf
 *
 * Return: 0, -EINVAL for a malformed or inconsistent ICI, or
 * -EPROTONOSUPPORT for another major version or an unknown mandatory
 * element.
 */
int tcpcp_ici_decode(const u8 *buf, u32 len, struct tcpcp_ici *ici)
{
	const u32 eh = sizeof(struct tcpcp_ici_elem);
	u32 seen = 0, off, total;
	int ret;

	memset(ici, 0, sizeof(*ici));
	if (len < sizeof(struct tcpcp_ici_hdr))
		return -EINVAL;
	if (get_unaligned_be32(buf) != TCPCP_ICI_MAGIC)
		return -EINVAL;
	if (buf[4] != TCPCP_ICI_MAJOR)
		return -EPROTONOSUPPORT;
	ici->hdr_flags = get_unaligned_be16(buf + 6);
	total = get_unaligned_be32(buf + 8);
	if (get_unaligned_be32(buf + 12))
		return -EINVAL;
	if (total > TCPCP_ICI_MAX_LEN || total != len)
		return -EINVAL;

	for (off = sizeof(struct tcpcp_ici_hdr); off < total;) {
		u16 type, flags;
		const u8 *e;
		u32 elen;

		if (total - off < eh)
			return -EINVAL;
		type = get_unaligned_be16(buf + off);
		flags = get_unaligned_be16(buf + off + 2);
		elen = get_unaligned_be32(buf + off + 4);
		e = buf + off + eh;
		if (elen > total - off - eh || PAD4(elen) > total - off - eh)
			return -EINVAL;
		if (flags & ~TCPCP_ELF_MANDATORY)
			return -EINVAL;
		if (memchr_inv(e + elen, 0, PAD4(elen) - elen))
			return -EINVAL;
		if (off == sizeof(struct tcpcp_ici_hdr) && type != TCPCP_EL_CONN)
			return -EINVAL;
		off += eh + PAD4(elen);

		if (type == TCPCP_EL_UNSPEC || type > TCPCP_EL_MAX) {
			if (flags & TCPCP_ELF_MANDATORY)
				return -EPROTONOSUPPORT;
			continue;
		}
		if (seen & BIT(type))
			return -EINVAL;
		seen |= BIT(type);
		if (tcpcp_elem_size[type] && elen != tcpcp_elem_size[type])
			return -EINVAL;
		ret = tcpcp_parse_elem(ici, type, e, elen);
		if (ret)
			return ret;
	}

	/* CONN, OPTS, SEQ, WIN, SNDQ and RCVQ are mandatory; TS is checked
	 * against the TSTAMP option.
	 */
	if ((seen & (BIT(TCPCP_EL_CONN) | BIT(TCPCP_EL_OPTS) |
		     BIT(TCPCP_EL_SEQ) | BIT(TCPCP_EL_WIN) |
		     BIT(TCPCP_EL_SNDQ) | BIT(TCPCP_EL_RCVQ))) !=
	    (BIT(TCPCP_EL_CONN) | BIT(TCPCP_EL_OPTS) | BIT(TCPCP_EL_SEQ) |
	     BIT(TCPCP_EL_WIN) | BIT(TCPCP_EL_SNDQ) | BIT(TCPCP_EL_RCVQ)))
		return -EINVAL;

	ret = tcpcp_check_conn(ici);
	if (!ret)
		ret = tcpcp_check_ofo(ici);
	if (!ret)
		ret = tcpcp_check_extra(ici);
	return ret;
}

void *tcpcp_wr_elem(struct tcpcp_wr *w, u16 type, u16 flags, u32 len)
{
	u8 *p = w->buf + w->pos;

	put_unaligned_be16(type, p);
	put_unaligned_be16(flags, p + 2);
	put_unaligned_be32(len, p + 4);
	memset(p + 8, 0, PAD4(len));
	w->pos += 8 + PAD4(len);
	return p + 8;
}

/* Bytes of everything but the queue elements */
u32 tcpcp_ici_fixed_size(const struct tcpcp_ici *ici)
{
	const u32 eh = sizeof(struct tcpcp_ici_elem);
	u32 n = sizeof(struct tcpcp_ici_hdr);

	n += eh + sizeof(struct tcpcp_el_conn);
	n += eh + sizeof(struct tcpcp_el_opts);
	n += eh + sizeof(struct tcpcp_el_seq);
	n += eh + sizeof(struct tcpcp_el_win);
	if (ici->has_ts)
		n += eh + sizeof(struct tcpcp_el_ts);
	if (ici->has_cong)
		n += eh + sizeof(struct tcpcp_el_cong);
	if (ici->has_so)
		n += eh + sizeof(struct tcpcp_el_sockopt);
	return n;
}

/* Header and the fixed-size elements; the caller appends the queues */
void tcpcp_ici_encode_fixed(struct tcpcp_wr *w, const struct tcpcp_ici *ici,
			    u32 total)
{
	const u16 m = TCPCP_ELF_MANDATORY;
	u8 *e = w->buf;

	put_unaligned_be32(TCPCP_ICI_MAGIC, e);
	e[4] = TCPCP_ICI_MAJOR;
	e[5] = TCPCP_ICI_MINOR;
	put_unaligned_be16(ici->hdr_flags, e + 6);
	put_unaligned_be32(total, e + 8);
	put_unaligned_be32(0, e + 12);
	w->pos = sizeof(struct tcpcp_ici_hdr);

	e = tcpcp_wr_elem(w, TCPCP_EL_CONN, m, sizeof(struct tcpcp_el_conn));
	e[0] = ici->family;
	e[1] = ici->state;
	put_unaligned_be16(ici->lport, e + 4);
	put_unaligned_be16(ici->rport, e + 6);
	memcpy(e + 8, ici->laddr, 16);
	memcpy(e + 24, ici->raddr, 16);

	e = tcpcp_wr_elem(w, TCPCP_EL_OPTS, m, sizeof(struct tcpcp_el_opts));
	put_unaligned_be16(ici->mss, e);
	put_unaligned_be16(ici->user_mss, e + 2);
	e[4] = ici->snd_wscale;
	e[5] = ici->rcv_wscale;
	put_unaligned_be16(ici->opts, e + 6);

	e = tcpcp_wr_elem(w, TCPCP_EL_SEQ, m, sizeof(struct tcpcp_el_seq));
	put_unaligned_be32(ici->snd_una, e);
	put_unaligned_be32(ici->snd_nxt, e + 4);
	put_unaligned_be32(ici->write_seq, e + 8);
	put_unaligned_be32(ici->rcv_nxt, e + 12);
	put_unaligned_be32(ici->copied_seq, e + 16);

	e = tcpcp_wr_elem(w, TCPCP_EL_WIN, m, sizeof(struct tcpcp_el_win));
	put_unaligned_be32(ici->snd_wl1, e);
	put_unaligned_be32(ici->snd_wnd, e + 4);
	put_unaligned_be32(ici->max_window, e + 8);
	put_unaligned_be32(ici->rcv_wnd, e + 12);
	put_unaligned_be32(ici->rcv_wup, e + 16);

	if (ici->has_ts) {
		e = tcpcp_wr_elem(w, TCPCP_EL_TS, m, sizeof(struct tcpcp_el_ts));
		put_unaligned_be32(ici->ts_val, e);
		put_unaligned_be32(ici->ts_recent, e + 4);
		put_unaligned_be32(ici->ts_recent_age, e + 8);
		put_unaligned_be32(ici->ts_flags, e + 12);
	}
	if (ici->has_cong) {
		e = tcpcp_wr_elem(w, TCPCP_EL_CONG, 0,
				  sizeof(struct tcpcp_el_cong));
		put_unaligned_be32(ici->cwnd, e);
		put_unaligned_be32(ici->ssthresh, e + 4);
		put_unaligned_be32(ici->srtt_us, e + 8);
		put_unaligned_be32(ici->rttvar_us, e + 12);
		put_unaligned_be32(ici->cong_flags, e + 16);
		strscpy_pad(e + 20, ici->algorithm, 16);
	}
	if (ici->has_so) {
		e = tcpcp_wr_elem(w, TCPCP_EL_SOCKOPT, 0,
				  sizeof(struct tcpcp_el_sockopt));
		put_unaligned_be32(ici->so_set, e);
		e[4] = ici->nodelay;
		e[5] = ici->keepalive;
		e[6] = ici->tos;
		put_unaligned_be32(ici->keepidle, e + 8);
		put_unaligned_be32(ici->keepintvl, e + 12);
		put_unaligned_be32(ici->keepcnt, e + 16);
		put_unaligned_be32(ici->user_timeout, e + 20);
		put_unaligned_be32(ici->sndbuf, e + 24);
		put_unaligned_be32(ici->rcvbuf, e + 28);
		put_unaligned_be32(ici->mark, e + 32);
		put_unaligned_be32(ici->notsent_lowat, e + 36);
	}
}
