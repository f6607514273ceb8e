// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The repair backend: libtcpcp on a stock kernel, built on TCP_REPAIR.
 *
 * Dump (origin): TCP_REPAIR on (-EPERM without CAP_NET_ADMIN, before
 * anything changes), then isolate (isolate.h: blackhole mark for egress, a
 * drop-all filter for ingress), then read the state with TCP_INFO,
 * TCP_QUEUE_SEQ, SIOCOUTQ/SIOCINQ (SIOCOUTQNSD is TCP_INFO's
 * tcpi_notsent_bytes), TCP_REPAIR_WINDOW, TCP_TIMESTAMP and TCP_MAXSEG (the
 * MSS clamp in repair mode) and peek both queues.  The reads are repeated
 * until TCP_INFO's counters agree before and after, so a timer that fires
 * in between cannot produce an inconsistent ICI.
 *
 * Every system call costs here (a move is a few dozen of them): nothing is
 * read twice, a queue is selected only to read or fill it, and the socket
 * cookie is asked only where the registry (isolate.h) may hold an entry.
 *
 * Create (destination, repair_create.c): socket, TCP_REPAIR, drop filter, bind (repair sets
 * SK_FORCE_REUSE; IP_TRANSPARENT when the address is not local), both
 * queue sequence numbers, TCP_MAXSEG, TCP_TIMESTAMP, connect() (no SYN in
 * repair mode; needs a route, so the isolation mark comes right after),
 * TCP_REPAIR_OPTIONS, the receive queue, the unacknowledged part of the
 * send queue (counts as sent), the peer's FIN if one was received,
 * TCP_REPAIR_WINDOW.  Bytes that were never sent, and a FIN this end still
 * owes, must not count as sent: with egress still blackholed, repair is
 * switched off for a moment, they are written normally (the transmission
 * fails at the route lookup, so they stay queued and unsent) and repair is
 * switched on again.  Nothing needs to be remembered until activation, so
 * one process may create and another activate.
 *
 * Activate: drop the filter, restore the user's mark, TCP_REPAIR_OFF and
 * push the queue (or a window probe when nothing is queued).
 *
 * Limits of this backend (documented in tcpcp.rst and the man pages):
 * ts_recent, the out-of-order queue, ECN and congestion state cannot be
 * restored (reported in *lost).  A restored socket starts with a fresh RTO
 * (1 s) and congestion window; unacknowledged data the peer lacks is
 * retransmitted only when that RTO expires.  The user's SO_SNDBUF/SO_RCVBUF
 * are not dumped (stock kernels do not say whether the user set them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "isolate.h"
#include "repair.h"

#define DUMP_TRIES 8
#define SETTLE_DELACK_MS 45 /* Linux's delayed ACK is at most ~40 ms */
#define SETTLE_MAX_MS 100

static bool state_movable(int st)
{
	switch (st) {
	case TCPCP_STATE_ESTABLISHED:
	case TCPCP_STATE_FIN_WAIT1:
	case TCPCP_STATE_FIN_WAIT2:
	case TCPCP_STATE_CLOSE_WAIT:
	case TCPCP_STATE_CLOSING:
	case TCPCP_STATE_LAST_ACK:
		return true;
	}
	return false;
}

/* ---- dump ---- */

/*
 * struct tcp_info as the kernel fills it: glibc's ends at tcpi_total_retrans
 * (104 bytes); the counters that tell whether the connection changed
 * follow (linux/tcp.h, since Linux 4.2-4.6)
 */
struct tcp_info_x {
	struct tcp_info ti;
	uint64_t pacing_rate, max_pacing_rate;
	uint64_t bytes_acked, bytes_received;
	uint32_t segs_out, segs_in;
	uint32_t notsent_bytes;
};

_Static_assert(offsetof(struct tcp_info_x, bytes_acked) == 120,
	       "struct tcp_info_x must follow the kernel's layout");

static int tcp_info_x(int s, struct tcp_info_x *x, socklen_t *len)
{
	*len = sizeof(*x);
	memset(x, 0, sizeof(*x));
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, x, len) < 0)
		return -errno;
	return 0;
}

/* TCP_INFO's counters with the send queue's lengths, read in this order */
struct qread {
	struct tcp_info_x x;
	int outq, nsd; /* SIOCOUTQ, SIOCOUTQNSD */
};

/*
 * SIOCOUTQNSD is write_seq - snd_nxt, and so is TCP_INFO's
 * tcpi_notsent_bytes (clamped at 0, but snd_nxt never passes write_seq,
 * which counts a queued FIN too): the ioctl is only asked where the kernel
 * (before 4.6) does not report the field.
 */
static int read_q(int s, struct qread *q)
{
	socklen_t len;
	int ret;

	ret = tcp_info_x(s, &q->x, &len);
	if (!ret)
		ret = repair_ioctl(s, SIOCOUTQ, &q->outq);
	if (ret)
		return ret;
	if (len >= offsetof(struct tcp_info_x, notsent_bytes) +
			   sizeof(q->x.notsent_bytes)) {
		q->nsd = (int)q->x.notsent_bytes;
		return 0;
	}
	return repair_ioctl(s, SIOCOUTQNSD, &q->nsd);
}

/* Did anything reach, leave or change the connection between a and b? */
static bool tcp_info_same(const struct tcp_info_x *a,
			  const struct tcp_info_x *b)
{
	return a->ti.tcpi_state == b->ti.tcpi_state &&
	       a->ti.tcpi_unacked == b->ti.tcpi_unacked &&
	       a->segs_in == b->segs_in && a->segs_out == b->segs_out &&
	       a->bytes_acked == b->bytes_acked &&
	       a->bytes_received == b->bytes_received &&
	       a->notsent_bytes == b->notsent_bytes;
}

struct snap {
	uint32_t write_seq, rcv_nxt;
	int outq, nsd, inq, state;
};

/* Peek exactly len bytes of the current repair queue into buf */
static int peek_queue(int s, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (!len)
		return 0;
	n = recv(s, buf, len, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EAGAIN;
}

/* l: the local address, read by repair_check_tcp() */
static int addrs_of(int s, int domain, const struct sockaddr_storage *l,
		    struct ici *ici)
{
	struct sockaddr_storage r;
	socklen_t rl = sizeof(r);

	if (getpeername(s, (struct sockaddr *)&r, &rl) < 0)
		return -errno;
	if (domain == AF_INET) {
		const struct sockaddr_in *a = (const void *)l, *b = (void *)&r;

		ici->family = TCPCP_FAMILY_INET;
		memcpy(ici->laddr, &a->sin_addr, 4);
		memcpy(ici->raddr, &b->sin_addr, 4);
		ici->lport = ntohs(a->sin_port);
		ici->rport = ntohs(b->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const void *)l, *b = (void *)&r;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			ici->family = TCPCP_FAMILY_INET;
			memcpy(ici->laddr, a->sin6_addr.s6_addr + 12, 4);
			memcpy(ici->raddr, b->sin6_addr.s6_addr + 12, 4);
		} else {
			ici->family = TCPCP_FAMILY_INET6;
			memcpy(ici->laddr, &a->sin6_addr, 16);
			memcpy(ici->raddr, &b->sin6_addr, 16);
		}
		ici->lport = ntohs(a->sin6_port);
		ici->rport = ntohs(b->sin6_port);
	}
	return 0;
}

/* Options the user set; what a stock kernel cannot tell apart is left out */
static void sockopts_of(int s, int domain, uint32_t user_mark, struct ici *ici)
{
	struct ici_sockopt *so = &ici->so;
	int v;

	memset(so, 0, sizeof(*so));
	if (!repair_getopt(s, IPPROTO_TCP, TCP_NODELAY, &v) && v) {
		so->set |= TCPCP_SO_NODELAY;
		so->nodelay = 1;
	}
	if (!repair_getopt(s, SOL_SOCKET, SO_KEEPALIVE, &v) && v) {
		so->set |= TCPCP_SO_KEEPALIVE;
		so->keepalive = 1;
		if (!repair_getopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v))
			so->keepidle = v;
		if (!repair_getopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &v))
			so->keepintvl = v;
		if (!repair_getopt(s, IPPROTO_TCP, TCP_KEEPCNT, &v))
			so->keepcnt = v;
	}
	if (!repair_getopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT, &v) && v > 0) {
		so->set |= TCPCP_SO_USER_TIMEOUT;
		so->user_timeout = v;
	}
	if (user_mark) {
		so->set |= TCPCP_SO_MARK;
		so->mark = user_mark;
	}
	if (ici->family == TCPCP_FAMILY_INET && domain == AF_INET) {
		if (!repair_getopt(s, IPPROTO_IP, IP_TOS, &v) && v > 0) {
			so->set |= TCPCP_SO_TOS;
			so->tos = v;
		}
	} else if (domain == AF_INET6) {
		if (!repair_getopt(s, IPPROTO_IPV6, IPV6_TCLASS, &v) && v > 0) {
			so->set |= TCPCP_SO_TOS;
			so->tos = v;
		}
	}
	if (!repair_getopt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &v) && v > 0) {
		so->set |= TCPCP_SO_NOTSENT_LOWAT;
		so->notsent_lowat = v;
	}
	ici->has_sockopt = so->set != 0;
}

static void cong_of(int s, const struct tcp_info *ti, unsigned int flags,
		    struct ici *ici)
{
	socklen_t len = sizeof(ici->cong.algorithm);

	memset(&ici->cong, 0, sizeof(ici->cong));
	ici->cong.cwnd = ti->tcpi_snd_cwnd;
	ici->cong.ssthresh = ti->tcpi_snd_ssthresh;
	ici->cong.srtt_us = ti->tcpi_rtt;
	ici->cong.rttvar_us = ti->tcpi_rttvar;
	if (flags & TCPCP_DUMP_CONG)
		ici->cong.flags = TCPCP_CONG_F_RESTORE;
	if (getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, ici->cong.algorithm,
		       &len) < 0)
		memset(ici->cong.algorithm, 0, sizeof(ici->cong.algorithm));
	ici->cong.algorithm[sizeof(ici->cong.algorithm) - 1] = 0;
	ici->has_cong = true;
}

/*
 * Read an isolated socket into ici; queue bytes go to *bufp (caller frees).
 * first, when not NULL, is the opening reading of the first round (taken by
 * settle(): whatever arrived since then moves a counter, as below).
 */
static int read_state(int s, int domain, const struct sockaddr_storage *local,
		      unsigned int flags, uint32_t user_mark,
		      const struct qread *first, struct ici *ici,
		      uint8_t **bufp)
{
	struct tcp_repair_window w;
	struct tcp_info_x x0, x1;
	struct snap a = { 0 };
	struct tcp_info ti;
	struct qread q;
	socklen_t len;
	uint32_t fin_s, fin_r;
	uint8_t *buf = NULL;
	int tries, v, ret = 0, r2;

	/*
	 * One consistent reading: TCP_INFO's counters before and after the
	 * queue lengths, sequence numbers and queue contents.  Between our
	 * calls the kernel may still process a segment that passed the
	 * socket filter before it was attached (or sits in the backlog):
	 * any such change moves a counter, and the reading starts again.
	 */
	for (tries = 0; tries < DUMP_TRIES; tries++) {
		if (!tries && first)
			q = *first;
		else
			ret = read_q(s, &q);
		if (!ret)
			ret = repair_ioctl(s, SIOCINQ, &a.inq);
		if (ret)
			break;
		x0 = q.x;
		a.outq = q.outq;
		a.nsd = q.nsd;
		a.state = x0.ti.tcpi_state;
		if (a.outq < 0 || a.nsd < 0 || a.inq < 0 || a.nsd > a.outq) {
			ret = -EIO;
			break;
		}
		if (!state_movable(a.state)) {
			ret = a.state == TCP_LISTEN ? -EINVAL : -ENOTCONN;
			break;
		}
		free(buf);
		buf = malloc((size_t)a.outq + (size_t)a.inq + 1);
		if (!buf) {
			ret = -ENOMEM;
			break;
		}
		fin_s = ici_fin_sent(a.state);
		fin_r = ici_fin_rcvd(a.state);
		/* the send queue holds data only; a sent FIN is not in it */
		ici->sndq_len = a.outq >= (int)fin_s ? a.outq - fin_s : 0;
		if (a.state == TCPCP_STATE_FIN_WAIT2)
			ici->sndq_len = 0;
		ici->rcvq_len = a.inq;
		v = 0;
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
				    TCP_SEND_QUEUE);
		if (!ret)
			ret = repair_getopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &v);
		a.write_seq = (uint32_t)v;
		if (!ret)
			ret = peek_queue(s, buf, ici->sndq_len);
		if (!ret)
			ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
					    TCP_RECV_QUEUE);
		if (!ret)
			ret = repair_getopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, &v);
		a.rcv_nxt = (uint32_t)v;
		if (!ret)
			ret = peek_queue(s, buf + ici->sndq_len, ici->rcvq_len);
		r2 = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
				   TCP_NO_QUEUE);
		if (!ret)
			ret = r2;
		if (!ret)
			ret = tcp_info_x(s, &x1, &len);
		if (ret == -EAGAIN || (!ret && !tcp_info_same(&x0, &x1))) {
			ret = -EAGAIN;
			continue; /* something moved: read again */
		}
		break;
	}
	if (ret)
		goto err;

	ici->state = a.state;
	ici->write_seq = a.write_seq;
	ici->snd_una = a.write_seq - a.outq;
	ici->snd_nxt = a.write_seq - a.nsd;
	ici->rcv_nxt = a.rcv_nxt;
	/* SIOCINQ leaves out a received FIN; an EOF already read is counted
	 * as unread (EOF is sticky, so the application sees no difference)
	 */
	ici->copied_seq = a.rcv_nxt - fin_r - a.inq;
	ici->sndq = buf;
	ici->rcvq = buf + ici->sndq_len;

	ti = x1.ti;
	if (ti.tcpi_options & TCPI_OPT_SACK)
		ici->opts |= TCPCP_OPT_SACK;
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		ici->opts |= TCPCP_OPT_WSCALE;
		ici->snd_wscale = ti.tcpi_snd_wscale;
		ici->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	if (ti.tcpi_options & TCPI_OPT_ECN)
		ici->opts |= TCPCP_OPT_ECN;
	if (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) {
		ici->opts |= TCPCP_OPT_TSTAMP;
		ret = repair_getopt(s, IPPROTO_TCP, TCP_TIMESTAMP, &v);
		if (ret)
			goto err;
		if (v & 1)
			ici->opts |= TCPCP_OPT_USEC_TS;
		/* the low bit is the usec flag, not a clock bit: round up
		 * so the destination never goes below a TSval already sent
		 */
		ici->ts_val = ((uint32_t)v | 1) + 1;
		ici->has_ts = true;
	}
	ret = repair_getopt(s, IPPROTO_TCP, TCP_MAXSEG, &v); /* mss_clamp */
	if (ret)
		goto err;
	ici->mss = v < 64 ? 64 : v > 65535 ? 65535 : v;

	len = sizeof(w);
	if (getsockopt(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &len) < 0) {
		ret = -errno;
		goto err;
	}
	ici->snd_wl1 = w.snd_wl1;
	ici->snd_wnd = w.snd_wnd;
	ici->max_window = w.max_window;
	ici->rcv_wnd = w.rcv_wnd;
	ici->rcv_wup = w.rcv_wup;

	ret = addrs_of(s, domain, local, ici);
	if (ret)
		goto err;
	sockopts_of(s, domain, user_mark, ici);
	cong_of(s, &ti, flags, ici);
	*bufp = buf;
	return 0;
err:
	free(buf);
	return ret;
}

static int repair_unisolate(int s);

/*
 * With egress blocked the socket cannot say anything, but for a moment it
 * still takes what arrives: the peer's acknowledgements of data in flight
 * (a restored endpoint behind them would probe below the peer's ACK and
 * resend what the peer has) and its data (which becomes part of the
 * receive queue in the ICI).  Wait until nothing is in flight, for at most
 * two RTTs plus a delayed ACK.
 */
static int settle(int s, const struct tcp_info *ti, struct qread *q)
{
	struct timespec ts = { 0, 500000 };
	int i, rounds, ret;

	rounds = 2 * (int)(2 * ti->tcpi_rtt / 1000 + SETTLE_DELACK_MS);
	/* the last reading (settled or not) opens read_state()'s first round */
	for (i = 0;; i++) {
		ret = read_q(s, q);
		if (ret || q->outq == q->nsd || i >= rounds ||
		    i >= 2 * SETTLE_MAX_MS)
			return ret;
		nanosleep(&ts, NULL);
	}
}

static int repair_dump(int s, unsigned int flags, void **out, size_t *outlen)
{
	struct isolate_saved sv = { 0 };
	struct sockaddr_storage local;
	struct qread q0;
	struct tcp_info ti;
	struct ici ici;
	uint8_t *buf = NULL;
	uint64_t cookie = 0;
	bool have_q0 = false, save;
	int domain, v, ret;

	ret = repair_check_tcp(s, &domain, &local);
	if (ret)
		return ret;
	ret = repair_tcp_info(s, &ti);
	if (ret)
		return ret;
	if (!state_movable(ti.tcpi_state))
		return ti.tcpi_state == TCP_LISTEN ? -EINVAL : -ENOTCONN;
	if (!repair_in_repair(s))
		return -EBUSY; /* already isolated, or repaired by others */
	ret = repair_getopt(s, SOL_SOCKET, SO_MARK, &v);
	if (ret)
		return ret;
	sv.mark = (uint32_t)v;
	ret = repair_getopt(s, SOL_SOCKET, SO_REUSEADDR, &sv.reuseaddr);
	if (ret)
		return ret;
	/*
	 * Nothing to remember and no entry that could be stale: where the
	 * registry has no entry, unisolate finds the same 0 and 0
	 */
	save = sv.mark || sv.reuseaddr || !isolate_registry_empty();
	if (save) {
		ret = isolate_cookie(s, &cookie);
		if (ret)
			return ret;
	}
	/* may fail with -EPERM: nothing has changed yet */
	ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON);
	if (ret)
		return ret;
	if (save)
		ret = isolate_save(cookie, &sv);
	if (ret) {
		repair_setopt(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
		repair_setopt(s, SOL_SOCKET, SO_REUSEADDR, sv.reuseaddr);
		return ret;
	}
	ret = isolate_rules(s);
	if (!ret)
		ret = isolate_egress(s);
	if (!ret)
		have_q0 = !settle(s, &ti, &q0);
	if (!ret)
		ret = isolate_ingress(s, ISOLATE_FILTER_DROP);
	if (ret)
		goto rollback;

	memset(&ici, 0, sizeof(ici));
	ici.major = TCPCP_ICI_MAJOR;
	ici.minor = TCPCP_ICI_MINOR;
	ret = read_state(s, domain, &local, flags, sv.mark,
			 have_q0 ? &q0 : NULL, &ici, &buf);
	if (ret)
		goto rollback;
	ret = ici_encode_alloc(&ici, out, outlen);
	free(buf);
	if (ret)
		goto rollback;
	tcpcp_log(TCPCP_LOG_DEBUG,
		  "repair: dumped %s, %u+%u queued bytes, %zu byte ICI",
		  ici_state_name(ici.state), ici.sndq_len, ici.rcvq_len,
		  *outlen);
	return 0;
rollback:
	tcpcp_log(TCPCP_LOG_ERR, "repair: dump failed: %s", strerror(-ret));
	repair_unisolate(s);
	return ret;
}

static int repair_max_size(int s)
{
	int domain, outq = 0, inq = 0, ret;
	struct sockaddr_storage local;
	struct tcp_info ti;

	ret = repair_check_tcp(s, &domain, &local);
	if (!ret)
		ret = repair_tcp_info(s, &ti);
	if (ret)
		return ret;
	if (!state_movable(ti.tcpi_state))
		return ti.tcpi_state == TCP_LISTEN ? -EINVAL : -ENOTCONN;
	ret = repair_ioctl(s, SIOCOUTQ, &outq);
	if (!ret)
		ret = repair_ioctl(s, SIOCINQ, &inq);
	if (ret)
		return ret;
	/* header, every element padded, both queues, room for growth */
	if ((long)outq + inq > TCPCP_ICI_MAX_LEN - 4096)
		return -EFBIG;
	return 1024 + outq + inq;
}

/* ---- roll back, discard, activate ---- */

static int go_live(int s, uint32_t mark);

/*
 * Select no repair queue: then nothing queued counts as sent without being
 * transmitted (tcp_write_xmit()) and the application's send() and recv()
 * fail.  Also the check that s is in repair mode, which TCP_REPAIR_QUEUE
 * refuses otherwise (EPERM, do_tcp_setsockopt()): 0 in repair mode, else
 * what repair_in_repair() says, asked only then (its errno for a socket
 * that is no TCP differs).
 */
static int repair_no_queue(int s)
{
	if (!repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_NO_QUEUE))
		return 0;
	return repair_in_repair(s);
}

static int repair_unisolate(int s)
{
	struct isolate_saved sv;
	uint64_t cookie = 0;
	int ret;

	ret = repair_no_queue(s);
	if (ret)
		return ret;
	if (isolate_registry_empty() || isolate_cookie(s, &cookie) ||
	    isolate_take(cookie, &sv))
		memset(&sv, 0, sizeof(sv));
	ret = go_live(s, sv.mark);
	/* TCP_REPAIR_OFF resets sk_reuse: put the user's SO_REUSEADDR back */
	if (!ret && sv.reuseaddr)
		ret = repair_setopt(s, SOL_SOCKET, SO_REUSEADDR, sv.reuseaddr);
	return ret;
}

static int repair_discard(int s)
{
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	struct isolate_saved sv;
	uint64_t cookie;
	int ret;

	/* outside repair mode a disconnect would send a RST */
	ret = repair_in_repair(s);
	if (ret)
		return ret;
	/* tcp_disconnect() in repair mode is silent, whoever holds the fd */
	if (connect(s, &sa, sizeof(sa)) < 0)
		return -errno;
	if (!isolate_registry_empty() && !isolate_cookie(s, &cookie))
		isolate_take(cookie, &sv);
	return 0;
}

/* Setting TCP_NODELAY pushes the write queue; leave the user's value */
static int push_queue(int s)
{
	int nd, ret;

	ret = repair_getopt(s, IPPROTO_TCP, TCP_NODELAY, &nd);
	if (!ret)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_NODELAY, 1);
	if (!ret && !nd)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_NODELAY, 0);
	return ret;
}

/*
 * Lift the isolation and leave repair mode; the caller has selected no
 * repair queue (repair_no_queue()).  Queued unsent bytes (or a FIN) go out
 * at once and wake the peer; otherwise the window probe of TCP_REPAIR_OFF
 * does.  The endpoint starts with a fresh RTO: unacknowledged data the peer
 * lacks is resent when it expires.
 */
static int go_live(int s, uint32_t mark)
{
	int nsd = 0, ret;

	ret = isolate_release(s, mark);
	if (!ret)
		ret = repair_ioctl(s, SIOCOUTQNSD, &nsd);
	if (ret)
		return ret;
	if (nsd > 0) {
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR,
				    TCP_REPAIR_OFF_NO_WP);
		if (!ret)
			ret = push_queue(s);
	} else {
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF);
	}
	return ret;
}

static int repair_activate(int s)
{
	struct isolate_saved sv;
	uint64_t cookie = 0;
	int ret;

	ret = repair_no_queue(s);
	if (ret)
		return ret;
	/* the user's mark; a socket created by another process gets 0 */
	if (isolate_registry_empty() || isolate_cookie(s, &cookie) ||
	    isolate_take(cookie, &sv))
		memset(&sv, 0, sizeof(sv));
	return go_live(s, sv.mark);
}

const struct tcpcp_ops tcpcp_repair_ops = {
	.name = "repair",
	.max_size = repair_max_size,
	.dump = repair_dump,
	.create = repair_create,
	.activate = repair_activate,
	.unisolate = repair_unisolate,
	.discard = repair_discard,
};
