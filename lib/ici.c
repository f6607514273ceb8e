// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ICI codec: every byte of an ICI is checked before anything uses it.
 *
 * Format: Documentation/networking/tcpcp.rst and linux/tcpcp.h.  A header,
 * then typed elements (type, flags, len, payload, zero padding to 4 bytes).
 * CONN comes first; each type appears at most once; unknown elements are
 * skipped unless flagged mandatory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ici.h"

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

#define BAD(...) fail(why, whylen, -EINVAL, __VA_ARGS__)

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* Sequence-space comparison: is a before b? */
static bool seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

bool ici_fin_sent(uint8_t state)
{
	return state == TCPCP_STATE_FIN_WAIT1 ||
	       state == TCPCP_STATE_FIN_WAIT2 || state == TCPCP_STATE_CLOSING ||
	       state == TCPCP_STATE_LAST_ACK;
}

bool ici_fin_rcvd(uint8_t state)
{
	return state == TCPCP_STATE_CLOSE_WAIT ||
	       state == TCPCP_STATE_CLOSING || state == TCPCP_STATE_LAST_ACK;
}

const char *ici_state_name(uint8_t state)
{
	switch (state) {
	case TCPCP_STATE_ESTABLISHED:
		return "ESTAB";
	case TCPCP_STATE_FIN_WAIT1:
		return "FIN-WAIT-1";
	case TCPCP_STATE_FIN_WAIT2:
		return "FIN-WAIT-2";
	case TCPCP_STATE_CLOSE_WAIT:
		return "CLOSE-WAIT";
	case TCPCP_STATE_LAST_ACK:
		return "LAST-ACK";
	case TCPCP_STATE_CLOSING:
		return "CLOSING";
	}
	return NULL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

/* Fixed payload size of each known element; 0 = variable */
static const uint32_t elem_size[__TCPCP_EL_MAX] = {
	[TCPCP_EL_CONN] = sizeof(struct tcpcp_el_conn),
	[TCPCP_EL_OPTS] = sizeof(struct tcpcp_el_opts),
	[TCPCP_EL_SEQ] = sizeof(struct tcpcp_el_seq),
	[TCPCP_EL_WIN] = sizeof(struct tcpcp_el_win),
	[TCPCP_EL_TS] = sizeof(struct tcpcp_el_ts),
	[TCPCP_EL_CONG] = sizeof(struct tcpcp_el_cong),
	[TCPCP_EL_SOCKOPT] = sizeof(struct tcpcp_el_sockopt),
};

static const char *const elem_name[__TCPCP_EL_MAX] = {
	[TCPCP_EL_CONN] = "CONN", [TCPCP_EL_OPTS] = "OPTS",
	[TCPCP_EL_SEQ] = "SEQ",	  [TCPCP_EL_WIN] = "WIN",
	[TCPCP_EL_TS] = "TS",	  [TCPCP_EL_SNDQ] = "SNDQ",
	[TCPCP_EL_RCVQ] = "RCVQ", [TCPCP_EL_OFOQ] = "OFOQ",
	[TCPCP_EL_CONG] = "CONG", [TCPCP_EL_SOCKOPT] = "SOCKOPT",
};

static int parse_conn(struct ici *ici, const uint8_t *p, char *why,
		      size_t whylen)
{
	ici->family = p[0];
	ici->state = p[1];
	if (get16(p + 2) || get32(p + 40))
		return BAD("CONN: reserved field not zero");
	ici->lport = get16(p + 4);
	ici->rport = get16(p + 6);
	memcpy(ici->laddr, p + 8, 16);
	memcpy(ici->raddr, p + 24, 16);
	return 0;
}

static int parse_opts(struct ici *ici, const uint8_t *p, char *why,
		      size_t whylen)
{
	ici->mss = get16(p);
	ici->user_mss = get16(p + 2);
	ici->snd_wscale = p[4];
	ici->rcv_wscale = p[5];
	ici->opts = get16(p + 6);
	if (get32(p + 8))
		return BAD("OPTS: reserved field not zero");
	return 0;
}

static void parse_seq(struct ici *ici, const uint8_t *p)
{
	ici->snd_una = get32(p);
	ici->snd_nxt = get32(p + 4);
	ici->write_seq = get32(p + 8);
	ici->rcv_nxt = get32(p + 12);
	ici->copied_seq = get32(p + 16);
}

static void parse_win(struct ici *ici, const uint8_t *p)
{
	ici->snd_wl1 = get32(p);
	ici->snd_wnd = get32(p + 4);
	ici->max_window = get32(p + 8);
	ici->rcv_wnd = get32(p + 12);
	ici->rcv_wup = get32(p + 16);
}

static void parse_ts(struct ici *ici, const uint8_t *p)
{
	ici->has_ts = true;
	ici->ts_val = get32(p);
	ici->ts_recent = get32(p + 4);
	ici->ts_recent_age = get32(p + 8);
	ici->ts_flags = get32(p + 12);
}

static void parse_cong(struct ici *ici, const uint8_t *p)
{
	ici->has_cong = true;
	ici->cong.cwnd = get32(p);
	ici->cong.ssthresh = get32(p + 4);
	ici->cong.srtt_us = get32(p + 8);
	ici->cong.rttvar_us = get32(p + 12);
	ici->cong.flags = get32(p + 16);
	memcpy(ici->cong.algorithm, p + 20, 16);
}

static int parse_sockopt(struct ici *ici, const uint8_t *p, char *why,
			 size_t whylen)
{
	struct ici_sockopt *so = &ici->so;

	ici->has_sockopt = true;
	so->set = get32(p);
	so->nodelay = p[4];
	so->keepalive = p[5];
	so->tos = p[6];
	if (p[7])
		return BAD("SOCKOPT: reserved field not zero");
	so->keepidle = get32(p + 8);
	so->keepintvl = get32(p + 12);
	so->keepcnt = get32(p + 16);
	so->user_timeout = get32(p + 20);
	so->sndbuf = get32(p + 24);
	so->rcvbuf = get32(p + 28);
	so->mark = get32(p + 32);
	so->notsent_lowat = get32(p + 36);
	return 0;
}

/* Walk the OFO payload; counts segments and checks framing only */
static int scan_ofo(struct ici *ici, char *why, size_t whylen)
{
	size_t off = 0;
	uint32_t seq, len;
	const uint8_t *data;
	int ret;

	ici->ofo_segs = 0;
	ici->ofo_bytes = 0;
	while (off < ici->ofoq_len) {
		if (ici->ofoq_len - off < sizeof(struct tcpcp_ofo_seg))
			return BAD("OFOQ: truncated segment header at %zu",
				   off);
		len = get32(ici->ofoq + off + 4);
		if (len == 0)
			return BAD("OFOQ: empty segment at %zu", off);
		if (len > ici->ofoq_len - off - sizeof(struct tcpcp_ofo_seg))
			return BAD("OFOQ: segment at %zu overruns the element",
				   off);
		ret = ici_ofo_next(ici, &off, &seq, &data, &len);
		if (ret <= 0)
			return BAD("OFOQ: bad segment framing");
		if (!all_zero(data + len, pad4(len) - len))
			return BAD("OFOQ: padding not zero");
		ici->ofo_segs++;
		ici->ofo_bytes += len;
	}
	return 0;
}

int ici_ofo_next(const struct ici *ici, size_t *off, uint32_t *seq,
		 const uint8_t **data, uint32_t *len)
{
	size_t o = *off;
	uint32_t l;

	if (!ici->ofoq || o >= ici->ofoq_len)
		return 0;
	if (ici->ofoq_len - o < sizeof(struct tcpcp_ofo_seg))
		return -EINVAL;
	l = get32(ici->ofoq + o + 4);
	if (l > ici->ofoq_len - o - sizeof(struct tcpcp_ofo_seg))
		return -EINVAL;
	*seq = get32(ici->ofoq + o);
	*len = l;
	*data = ici->ofoq + o + sizeof(struct tcpcp_ofo_seg);
	o += sizeof(struct tcpcp_ofo_seg) + pad4(l);
	*off = o > ici->ofoq_len ? ici->ofoq_len : o;
	return 1;
}

static int check_addr(const struct ici *ici, const uint8_t *a,
		      const char *which, char *why, size_t whylen)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0,	0,
					      0, 0, 0, 0, 0xff, 0xff };

	if (ici->family == TCPCP_FAMILY_INET) {
		if (!all_zero(a + 4, 12))
			return BAD(
				"CONN: IPv4 %s address has bytes after the fourth",
				which);
		if (all_zero(a, 4))
			return BAD("CONN: %s address is 0.0.0.0", which);
		if (a[0] >= 224)
			return BAD("CONN: %s address is multicast or reserved",
				   which);
	} else {
		if (all_zero(a, 16))
			return BAD("CONN: %s address is ::", which);
		if (a[0] == 0xff)
			return BAD("CONN: %s address is multicast", which);
		if (!memcmp(a, v4mapped, 12))
			return BAD(
				"CONN: %s address is IPv4-mapped; use family 4",
				which);
	}
	return 0;
}

int ici_validate(const struct ici *ici, char *why, size_t whylen)
{
	/* write_seq counts a sent FIN; it is unacknowledged except in FIN-WAIT-2 */
	uint32_t fin_s = ici_fin_sent(ici->state) &&
					 ici->state != TCPCP_STATE_FIN_WAIT2 ?
				 1 :
				 0;
	uint32_t fin_r = ici_fin_rcvd(ici->state) ? 1 : 0;
	uint32_t rcv_used, prev_end, seq, len;
	const uint8_t *data;
	bool first = true;
	size_t off = 0;
	int ret;

	if (ici->hdr_flags & ~TCPCP_ICI_F_ALL)
		return BAD("header: unknown flags 0x%x", ici->hdr_flags);
	if (ici->family != TCPCP_FAMILY_INET &&
	    ici->family != TCPCP_FAMILY_INET6)
		return BAD("CONN: family %u is neither 4 nor 6", ici->family);
	if (!ici_state_name(ici->state))
		return BAD("CONN: state %u is not a connected TCP state",
			   ici->state);
	if (!ici->lport || !ici->rport)
		return BAD("CONN: port 0");
	ret = check_addr(ici, ici->laddr, "local", why, whylen);
	if (ret)
		return ret;
	ret = check_addr(ici, ici->raddr, "remote", why, whylen);
	if (ret)
		return ret;

	if (ici->opts & ~TCPCP_OPT_ALL)
		return BAD("OPTS: unknown option flags 0x%x", ici->opts);
	if (ici->mss < 64)
		return BAD("OPTS: mss %u below 64", ici->mss);
	if (ici->user_mss && ici->user_mss < 64)
		return BAD("OPTS: user_mss %u below 64", ici->user_mss);
	if (ici->snd_wscale > 14 || ici->rcv_wscale > 14)
		return BAD("OPTS: window scale %u/%u above 14", ici->snd_wscale,
			   ici->rcv_wscale);
	if (!(ici->opts & TCPCP_OPT_WSCALE) &&
	    (ici->snd_wscale || ici->rcv_wscale))
		return BAD("OPTS: window scale set without the WSCALE option");
	if ((ici->opts & TCPCP_OPT_USEC_TS) && !(ici->opts & TCPCP_OPT_TSTAMP))
		return BAD("OPTS: USEC_TS without TSTAMP");
	if (!!(ici->opts & TCPCP_OPT_TSTAMP) != ici->has_ts)
		return BAD(
			ici->has_ts ?
				"TS: present without the TSTAMP option" :
				"TS: missing although TSTAMP was negotiated");
	if (ici->has_ts && (ici->ts_flags & ~TCPCP_TS_RECENT_VALID))
		return BAD("TS: unknown flags 0x%x", ici->ts_flags);
	if (ici->has_ts && !(ici->ts_flags & TCPCP_TS_RECENT_VALID) &&
	    (ici->ts_recent || ici->ts_recent_age))
		return BAD("TS: ts_recent set without TCPCP_TS_RECENT_VALID");

	/* send side: snd_una <= snd_nxt <= write_seq, queue + FIN fills it */
	if (seq_before(ici->snd_nxt, ici->snd_una) ||
	    seq_before(ici->write_seq, ici->snd_nxt))
		return BAD("SEQ: not snd_una <= snd_nxt <= write_seq");
	if (ici->sndq_len > ICI_MAX_QUEUE || ici->rcvq_len > ICI_MAX_QUEUE)
		return BAD("queue longer than %u bytes", ICI_MAX_QUEUE);
	if (ici->write_seq - ici->snd_una != ici->sndq_len + fin_s)
		return BAD(
			"SEQ: write_seq - snd_una = %u but the send queue holds %u bytes%s",
			ici->write_seq - ici->snd_una, ici->sndq_len,
			fin_s ? " and a FIN" : "");
	if (ici->state == TCPCP_STATE_FIN_WAIT2 &&
	    ici->snd_una != ici->write_seq)
		return BAD("SEQ: FIN-WAIT-2 with unacknowledged data or FIN");

	/* receive side: copied_seq <= rcv_nxt; queue (+ unread FIN) fills it */
	rcv_used = ici->rcv_nxt - ici->copied_seq;
	if (seq_before(ici->rcv_nxt, ici->copied_seq))
		return BAD("SEQ: copied_seq after rcv_nxt");
	if (!(rcv_used == ici->rcvq_len + fin_r ||
	      (fin_r && rcv_used == 0 && ici->rcvq_len == 0)))
		return BAD(
			"SEQ: rcv_nxt - copied_seq = %u but the receive queue holds %u bytes%s",
			rcv_used, ici->rcvq_len, fin_r ? " and a FIN" : "");

	/* windows, as tcp_repair_set_window() checks them */
	if (ici->snd_wnd > (65535U << 14) || ici->max_window > (65535U << 14) ||
	    ici->rcv_wnd > (65535U << 14))
		return BAD("WIN: window above 65535 << 14");
	if (ici->snd_wnd > ici->max_window)
		return BAD("WIN: snd_wnd %u above max_window %u", ici->snd_wnd,
			   ici->max_window);
	if (seq_before(ici->rcv_nxt + ici->rcv_wnd, ici->snd_wl1))
		return BAD("WIN: snd_wl1 beyond rcv_nxt + rcv_wnd");
	if (seq_before(ici->rcv_nxt, ici->rcv_wup))
		return BAD("WIN: rcv_wup after rcv_nxt");
	/* out-of-order queue: after rcv_nxt, sorted, disjoint, in the window */
	if (ici->ofo_bytes > ICI_MAX_QUEUE)
		return BAD("OFOQ: more than %u bytes", ICI_MAX_QUEUE);
	if (ici->ofoq_len && fin_r)
		return BAD("OFOQ: out-of-order data after the peer's FIN");
	prev_end = ici->rcv_nxt;
	while ((ret = ici_ofo_next(ici, &off, &seq, &data, &len)) > 0) {
		/* the first starts after rcv_nxt; later ones may touch */
		if (first ? !seq_before(prev_end, seq) :
			    seq_before(seq, prev_end))
			return BAD(
				"OFOQ: segment %u not after rcv_nxt or the previous one, or overlapping",
				seq);
		if (seq_before(ici->rcv_nxt +
				       (ici->rcv_wnd ? ici->rcv_wnd : 1U << 30),
			       seq + len))
			return BAD(
				"OFOQ: segment %u+%u beyond the receive window",
				seq, len);
		prev_end = seq + len;
		first = false;
	}
	if (ret < 0)
		return BAD("OFOQ: bad segment framing");

	if (ici->has_cong) {
		const struct ici_cong *c = &ici->cong;

		if (c->flags & ~TCPCP_CONG_F_RESTORE)
			return BAD("CONG: unknown flags 0x%x", c->flags);
		if (!c->cwnd)
			return BAD("CONG: cwnd 0");
		if (memchr(c->algorithm, 0, sizeof(c->algorithm)) == NULL)
			return BAD("CONG: algorithm name not NUL-terminated");
		for (size_t i = strlen(c->algorithm); i < sizeof(c->algorithm);
		     i++)
			if (c->algorithm[i])
				return BAD(
					"CONG: algorithm name not NUL-padded");
		for (const char *s = c->algorithm; *s; s++)
			if (!((*s >= 'a' && *s <= 'z') ||
			      (*s >= '0' && *s <= '9') || *s == '_' ||
			      *s == '-'))
				return BAD(
					"CONG: algorithm name has character 0x%02x",
					(unsigned char)*s);
	}
	if (ici->has_sockopt) {
		const struct ici_sockopt *so = &ici->so;

		if (so->set & ~TCPCP_SO_ALL)
			return BAD("SOCKOPT: unknown option bits 0x%x",
				   so->set);
		if (so->nodelay > 1 || so->keepalive > 1)
			return BAD("SOCKOPT: nodelay/keepalive not 0 or 1");
		if (so->keepidle > 32767 || so->keepintvl > 32767 ||
		    so->keepcnt > 127)
			return BAD("SOCKOPT: keepalive values out of range");
		if (so->user_timeout > INT32_MAX || so->sndbuf > INT32_MAX ||
		    so->rcvbuf > INT32_MAX || so->notsent_lowat > INT32_MAX)
			return BAD("SOCKOPT: value above INT_MAX");
	}
	return 0;
}

int ici_decode(const void *buf, size_t len, struct ici *ici, char *why,
	       size_t whylen)
{
	const uint8_t *p = buf;
	uint32_t seen = 0, total;
	size_t off;
	int ret;

	memset(ici, 0, sizeof(*ici));
	if (why && whylen)
		why[0] = 0;
	if (!buf || len < sizeof(struct tcpcp_ici_hdr))
		return BAD("shorter than the %zu-byte header",
			   sizeof(struct tcpcp_ici_hdr));
	if (get32(p) != TCPCP_ICI_MAGIC)
		return BAD("bad magic 0x%08x", get32(p));
	ici->major = p[4];
	ici->minor = p[5];
	if (ici->major != TCPCP_ICI_MAJOR)
		return fail(why, whylen, -EPROTONOSUPPORT,
			    "version %u.%u: only major version %u is known",
			    ici->major, ici->minor, TCPCP_ICI_MAJOR);
	ici->hdr_flags = get16(p + 6);
	total = get32(p + 8);
	if (get32(p + 12))
		return BAD("header: reserved field not zero");
	if (total > TCPCP_ICI_MAX_LEN)
		return BAD("length %u above the maximum %u", total,
			   TCPCP_ICI_MAX_LEN);
	if (total > len)
		return BAD("truncated: header says %u bytes, have %zu", total,
			   len);
	if (total < len)
		return BAD("%zu trailing bytes after the %u the header says",
			   len - total, total);

	for (off = sizeof(struct tcpcp_ici_hdr); off < total;) {
		uint16_t type, flags;
		uint32_t elen;
		const uint8_t *e;

		if (total - off < sizeof(struct tcpcp_ici_elem))
			return BAD("truncated element header at offset %zu",
				   off);
		type = get16(p + off);
		flags = get16(p + off + 2);
		elen = get32(p + off + 4);
		e = p + off + sizeof(struct tcpcp_ici_elem);
		if (elen > total - off - sizeof(struct tcpcp_ici_elem) ||
		    pad4(elen) > total - off - sizeof(struct tcpcp_ici_elem))
			return BAD("element %u at offset %zu overruns the ICI",
				   type, off);
		if (flags & ~TCPCP_ELF_MANDATORY)
			return BAD("element %u: unknown flags 0x%x", type,
				   flags);
		if (!all_zero(e + elen, pad4(elen) - elen))
			return BAD("element %u: padding not zero", type);
		if (off == sizeof(struct tcpcp_ici_hdr) &&
		    type != TCPCP_EL_CONN)
			return BAD("first element is %u, not CONN", type);
		off += sizeof(struct tcpcp_ici_elem) + pad4(elen);

		if (type == TCPCP_EL_UNSPEC || type > TCPCP_EL_MAX) {
			if (flags & TCPCP_ELF_MANDATORY)
				return fail(why, whylen, -EPROTONOSUPPORT,
					    "unknown mandatory element %u",
					    type);
			continue;
		}
		if (seen & (1U << type))
			return BAD("element %s appears twice", elem_name[type]);
		seen |= 1U << type;
		if (elem_size[type] && elen != elem_size[type])
			return BAD("element %s is %u bytes, expected %u",
				   elem_name[type], elen, elem_size[type]);

		switch (type) {
		case TCPCP_EL_CONN:
			ret = parse_conn(ici, e, why, whylen);
			break;
		case TCPCP_EL_OPTS:
			ret = parse_opts(ici, e, why, whylen);
			break;
		case TCPCP_EL_SEQ:
			parse_seq(ici, e);
			ret = 0;
			break;
		case TCPCP_EL_WIN:
			parse_win(ici, e);
			ret = 0;
			break;
		case TCPCP_EL_TS:
			parse_ts(ici, e);
			ret = 0;
			break;
		case TCPCP_EL_SNDQ:
			ici->sndq = elen ? e : NULL;
			ici->sndq_len = elen;
			ret = 0;
			break;
		case TCPCP_EL_RCVQ:
			ici->rcvq = elen ? e : NULL;
			ici->rcvq_len = elen;
			ret = 0;
			break;
		case TCPCP_EL_OFOQ:
			ici->ofoq = elen ? e : NULL;
			ici->ofoq_len = elen;
			ret = scan_ofo(ici, why, whylen);
			break;
		case TCPCP_EL_CONG:
			parse_cong(ici, e);
			ret = 0;
			break;
		case TCPCP_EL_SOCKOPT:
			ret = parse_sockopt(ici, e, why, whylen);
			break;
		default:
			ret = 0;
		}
		if (ret)
			return ret;
	}

	for (int t = TCPCP_EL_CONN; t <= TCPCP_EL_RCVQ; t++) {
		if (t == TCPCP_EL_TS)
			continue;
		if (!(seen & (1U << t)))
			return BAD("mandatory element %s missing",
				   elem_name[t]);
	}
	return ici_validate(ici, why, whylen);
}

size_t ici_encoded_size(const struct ici *ici)
{
	size_t n = sizeof(struct tcpcp_ici_hdr);
	size_t eh = sizeof(struct tcpcp_ici_elem);

	n += eh + sizeof(struct tcpcp_el_conn);
	n += eh + sizeof(struct tcpcp_el_opts);
	n += eh + sizeof(struct tcpcp_el_seq);
	n += eh + sizeof(struct tcpcp_el_win);
	if (ici->has_ts)
		n += eh + sizeof(struct tcpcp_el_ts);
	n += eh + pad4(ici->sndq_len);
	n += eh + pad4(ici->rcvq_len);
	if (ici->ofoq_len)
		n += eh + pad4(ici->ofoq_len);
	if (ici->has_cong)
		n += eh + sizeof(struct tcpcp_el_cong);
	if (ici->has_sockopt)
		n += eh + sizeof(struct tcpcp_el_sockopt);
	return n;
}

/* Start an element; returns its payload (zeroed, padding included) */
static uint8_t *elem(uint8_t **pos, uint16_t type, uint16_t flags, uint32_t len)
{
	uint8_t *p = *pos;

	put16(p, type);
	put16(p + 2, flags);
	put32(p + 4, len);
	memset(p + 8, 0, pad4(len));
	*pos = p + 8 + pad4(len);
	return p + 8;
}

long ici_encode(const struct ici *ici, void *buf, size_t len)
{
	size_t need = ici_encoded_size(ici);
	uint8_t *pos = buf, *e;
	const uint16_t M = TCPCP_ELF_MANDATORY;

	if (len < need)
		return -ERANGE;
	if (need > TCPCP_ICI_MAX_LEN)
		return -EMSGSIZE;
	put32(pos, TCPCP_ICI_MAGIC);
	pos[4] = TCPCP_ICI_MAJOR;
	pos[5] = TCPCP_ICI_MINOR;
	put16(pos + 6, ici->hdr_flags);
	put32(pos + 8, (uint32_t)need);
	put32(pos + 12, 0);
	pos += sizeof(struct tcpcp_ici_hdr);

	e = elem(&pos, TCPCP_EL_CONN, M, sizeof(struct tcpcp_el_conn));
	e[0] = ici->family;
	e[1] = ici->state;
	put16(e + 4, ici->lport);
	put16(e + 6, ici->rport);
	memcpy(e + 8, ici->laddr, 16);
	memcpy(e + 24, ici->raddr, 16);

	e = elem(&pos, TCPCP_EL_OPTS, M, sizeof(struct tcpcp_el_opts));
	put16(e, ici->mss);
	put16(e + 2, ici->user_mss);
	e[4] = ici->snd_wscale;
	e[5] = ici->rcv_wscale;
	put16(e + 6, ici->opts);

	e = elem(&pos, TCPCP_EL_SEQ, M, sizeof(struct tcpcp_el_seq));
	put32(e, ici->snd_una);
	put32(e + 4, ici->snd_nxt);
	put32(e + 8, ici->write_seq);
	put32(e + 12, ici->rcv_nxt);
	put32(e + 16, ici->copied_seq);

	e = elem(&pos, TCPCP_EL_WIN, M, sizeof(struct tcpcp_el_win));
	put32(e, ici->snd_wl1);
	put32(e + 4, ici->snd_wnd);
	put32(e + 8, ici->max_window);
	put32(e + 12, ici->rcv_wnd);
	put32(e + 16, ici->rcv_wup);

	if (ici->has_ts) {
		e = elem(&pos, TCPCP_EL_TS, M, sizeof(struct tcpcp_el_ts));
		put32(e, ici->ts_val);
		put32(e + 4, ici->ts_recent);
		put32(e + 8, ici->ts_recent_age);
		put32(e + 12, ici->ts_flags);
	}

	e = elem(&pos, TCPCP_EL_SNDQ, M, ici->sndq_len);
	if (ici->sndq_len)
		memcpy(e, ici->sndq, ici->sndq_len);
	e = elem(&pos, TCPCP_EL_RCVQ, M, ici->rcvq_len);
	if (ici->rcvq_len)
		memcpy(e, ici->rcvq, ici->rcvq_len);
	if (ici->ofoq_len) {
		e = elem(&pos, TCPCP_EL_OFOQ, 0, ici->ofoq_len);
		memcpy(e, ici->ofoq, ici->ofoq_len);
	}

	if (ici->has_cong) {
		e = elem(&pos, TCPCP_EL_CONG, 0, sizeof(struct tcpcp_el_cong));
		put32(e, ici->cong.cwnd);
		put32(e + 4, ici->cong.ssthresh);
		put32(e + 8, ici->cong.srtt_us);
		put32(e + 12, ici->cong.rttvar_us);
		put32(e + 16, ici->cong.flags);
		memcpy(e + 20, ici->cong.algorithm,
		       strnlen(ici->cong.algorithm, 15));
	}
	if (ici->has_sockopt) {
		const struct ici_sockopt *so = &ici->so;

		e = elem(&pos, TCPCP_EL_SOCKOPT, 0,
			 sizeof(struct tcpcp_el_sockopt));
		put32(e, so->set);
		e[4] = so->nodelay;
		e[5] = so->keepalive;
		e[6] = so->tos;
		put32(e + 8, so->keepidle);
		put32(e + 12, so->keepintvl);
		put32(e + 16, so->keepcnt);
		put32(e + 20, so->user_timeout);
		put32(e + 24, so->sndbuf);
		put32(e + 28, so->rcvbuf);
		put32(e + 32, so->mark);
		put32(e + 36, so->notsent_lowat);
	}
	return (long)need;
}

int ici_encode_alloc(const struct ici *ici, void **buf, size_t *len)
{
	size_t need = ici_encoded_size(ici);
	void *b;
	long n;

	if (need > TCPCP_ICI_MAX_LEN)
		return -EMSGSIZE;
	b = malloc(need);
	if (!b)
		return -ENOMEM;
	n = ici_encode(ici, b, need);
	if (n < 0) {
		free(b);
		return (int)n;
	}
	*buf = b;
	*len = (size_t)n;
	return 0;
}
