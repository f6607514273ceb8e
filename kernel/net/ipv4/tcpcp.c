// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp - TCP connection passing.
 *
 * getsockopt(TCP_ICI) dumps an endpoint into an Internal Connection
 * Information blob and isolates it; setsockopt(TCP_ICI) recreates the
 * endpoint from such a blob on a fresh socket, isolated; TCP_CP_FN
 * activates, un-isolates or discards it.  See
 * Documentation/networking/tcpcp.rst.
 */
#include <linux/capability.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <net/inet_common.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/tcpcp.h>

#include "tcpcp_ici.h"

static bool tcpcp_dumpable(const struct sock *sk)
{
	return (1 << sk->sk_state) & (TCPF_ESTABLISHED | TCPF_FIN_WAIT1 |
				      TCPF_FIN_WAIT2 | TCPF_CLOSE_WAIT |
				      TCPF_LAST_ACK | TCPF_CLOSING);
}

/* Bytes of the send queue from snd_una, a FIN excluded */
static u32 tcpcp_sndq_len(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 n = tp->write_seq - tp->snd_una;

	if (tcpcp_fin_sent(sk->sk_state) && sk->sk_state != TCP_FIN_WAIT2)
		n--;
	return n;
}

/* Unread bytes from copied_seq, a FIN excluded */
static u32 tcpcp_rcvq_len(const struct sock *sk, bool *fin)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	u32 n = tp->rcv_nxt - tp->copied_seq;

	*fin = false;
	if (n && tcpcp_fin_rcvd(sk->sk_state)) {
		n--;
		*fin = true;
	}
	return n;
}

/* Size of the OFO element payload: adjacent skbs are merged */
static u32 tcpcp_ofo_size(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	u32 n = 0, end = 0;
	bool first = true;

	for (skb = skb_rb_first(&tp->out_of_order_queue); skb;
	     skb = skb_rb_next(skb)) {
		u32 seq = TCP_SKB_CB(skb)->seq;
		u32 len = skb->len;

		if (!len || !after(seq + len, tp->rcv_nxt))
			continue;
		if (!first && !after(seq, end)) {
			/* adjacent or overlapping: extend the segment */
			if (after(seq + len, end)) {
				n += seq + len - end;
				end = seq + len;
			}
		} else {
			n = round_up(n, 4) + sizeof(struct tcpcp_ofo_seg) + len;
			first = false;
			end = seq + len;
		}
	}
	return round_up(n, 4);
}

static bool tcpcp_is_v6(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_IPV6)
	return sk->sk_family == AF_INET6 &&
	       !ipv6_addr_v4mapped(&sk->sk_v6_daddr);
#else
	return false;
#endif
}

/* IP_TOS, or IPV6_TCLASS on an IPv6 connection */
static u8 tcpcp_tos(const struct sock *sk)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (tcpcp_is_v6(sk))
		return inet6_sk(sk)->tclass;
#endif
	return READ_ONCE(inet_sk(sk)->tos);
}

static void tcpcp_fill_ici(struct sock *sk, struct tcpcp_ici *ici)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);
	const struct inet_sock *inet = inet_sk(sk);
	const struct tcp_sock *tp = tcp_sk(sk);
	bool fin;

	memset(ici, 0, sizeof(*ici));
	ici->state = sk->sk_state;
	ici->lport = ntohs(inet->inet_sport);
	ici->rport = ntohs(inet->inet_dport);
	if (tcpcp_is_v6(sk)) {
		ici->family = TCPCP_FAMILY_INET6;
		memcpy(ici->laddr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(ici->raddr, &sk->sk_v6_daddr, 16);
	} else {
		ici->family = TCPCP_FAMILY_INET;
		memcpy(ici->laddr, &inet->inet_rcv_saddr, 4);
		memcpy(ici->raddr, &inet->inet_daddr, 4);
	}

	ici->mss = tp->rx_opt.mss_clamp;
	ici->user_mss = tp->rx_opt.user_mss;
	if (tp->rx_opt.wscale_ok) {
		ici->opts |= TCPCP_OPT_WSCALE;
		ici->snd_wscale = tp->rx_opt.snd_wscale;
		ici->rcv_wscale = tp->rx_opt.rcv_wscale;
	}
	if (tcp_is_sack(tp))
		ici->opts |= TCPCP_OPT_SACK;
	if (tp->ecn_flags & TCP_ECN_OK)
		ici->opts |= TCPCP_OPT_ECN;
	if (tp->rx_opt.tstamp_ok) {
		ici->opts |= TCPCP_OPT_TSTAMP;
		if (tp->tcp_usec_ts)
			ici->opts |= TCPCP_OPT_USEC_TS;
		ici->has_ts = true;
		ici->ts_val = tcp_clock_ts(tp->tcp_usec_ts) +
			      READ_ONCE(tp->tsoffset);
		if (tp->rx_opt.ts_recent_stamp) {
			ici->ts_flags = TCPCP_TS_RECENT_VALID;
			ici->ts_recent = tp->rx_opt.ts_recent;
			ici->ts_recent_age = 1000 *
				(u32)(ktime_get_seconds() -
				      tp->rx_opt.ts_recent_stamp);
		}
	}

	ici->snd_una = tp->snd_una;
	ici->snd_nxt = tp->snd_nxt;
	ici->write_seq = tp->write_seq;
	ici->rcv_nxt = tp->rcv_nxt;
	ici->copied_seq = tp->copied_seq;
	ici->snd_wl1 = tp->snd_wl1;
	ici->snd_wnd = tp->snd_wnd;
	ici->max_window = max(tp->max_window, tp->snd_wnd);
	ici->rcv_wnd = tp->rcv_wnd;
	ici->rcv_wup = tp->rcv_wup;
	ici->sndq_len = tcpcp_sndq_len(sk);
	ici->rcvq_len = tcpcp_rcvq_len(sk, &fin);
	ici->ofoq_len = tcpcp_ofo_size(sk);

	ici->has_cong = true;
	ici->cwnd = max(tcp_snd_cwnd(tp), 1U);
	ici->ssthresh = tp->snd_ssthresh;
	ici->srtt_us = tp->srtt_us >> 3;
	ici->rttvar_us = tp->mdev_us >> 2;
	strscpy_pad(ici->algorithm, icsk->icsk_ca_ops->name,
		    sizeof(ici->algorithm));

	ici->has_so = true;
	if (tp->nonagle & TCP_NAGLE_OFF) {
		ici->so_set |= TCPCP_SO_NODELAY;
		ici->nodelay = 1;
	}
	if (sock_flag(sk, SOCK_KEEPOPEN) || tp->keepalive_time ||
	    tp->keepalive_intvl || tp->keepalive_probes) {
		ici->so_set |= TCPCP_SO_KEEPALIVE;
		ici->keepalive = sock_flag(sk, SOCK_KEEPOPEN);
		ici->keepidle = keepalive_time_when(tp) / HZ;
		ici->keepintvl = keepalive_intvl_when(tp) / HZ;
		ici->keepcnt = keepalive_probes(tp);
	}
	if (icsk->icsk_user_timeout) {
		ici->so_set |= TCPCP_SO_USER_TIMEOUT;
		ici->user_timeout = icsk->icsk_user_timeout;
	}
	if (sk->sk_userlocks & SOCK_SNDBUF_LOCK) {
		ici->so_set |= TCPCP_SO_SNDBUF;
		ici->sndbuf = sk->sk_sndbuf;
	}
	if (sk->sk_userlocks & SOCK_RCVBUF_LOCK) {
		ici->so_set |= TCPCP_SO_RCVBUF;
		ici->rcvbuf = sk->sk_rcvbuf;
	}
	if (sk->sk_mark) {
		ici->so_set |= TCPCP_SO_MARK;
		ici->mark = sk->sk_mark;
	}
	ici->tos = tcpcp_tos(sk);
	if (ici->tos)
		ici->so_set |= TCPCP_SO_TOS;
	if (tp->notsent_lowat) {
		ici->so_set |= TCPCP_SO_NOTSENT_LOWAT;
		ici->notsent_lowat = tp->notsent_lowat;
	}
}

static u32 tcpcp_dump_size(const struct tcpcp_ici *ici)
{
	u32 eh = sizeof(struct tcpcp_ici_elem);
	u64 n = tcpcp_ici_fixed_size(ici);

	n += eh + round_up((u64)ici->sndq_len, 4);
	n += eh + round_up((u64)ici->rcvq_len, 4);
	if (ici->ofoq_len)
		n += eh + ici->ofoq_len;
	return min_t(u64, n, U32_MAX);
}

/* Copy [from, from + len) of a sequence space held in skbs into out */
static void tcpcp_copy_seq(struct sk_buff *skb, u32 from, u32 len, u8 *out)
{
	u32 seq = TCP_SKB_CB(skb)->seq, off, n;

	if (!after(seq + skb->len, from) || !before(seq, from + len))
		return;
	off = before(seq, from) ? from - seq : 0;
	n = min(skb->len - off, from + len - (seq + off));
	if (skb_copy_bits(skb, off, out + (seq + off - from), n))
		WARN_ON_ONCE(1);
}

static void tcpcp_dump_queues(struct sock *sk, struct tcpcp_wr *w,
			      const struct tcpcp_ici *ici)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb;
	u8 *e;

	e = tcpcp_wr_elem(w, TCPCP_EL_SNDQ, TCPCP_ELF_MANDATORY,
			  ici->sndq_len);
	for (skb = skb_rb_first(&sk->tcp_rtx_queue); skb;
	     skb = skb_rb_next(skb))
		tcpcp_copy_seq(skb, ici->snd_una, ici->sndq_len, e);
	skb_queue_walk(&sk->sk_write_queue, skb)
		tcpcp_copy_seq(skb, ici->snd_una, ici->sndq_len, e);

	e = tcpcp_wr_elem(w, TCPCP_EL_RCVQ, TCPCP_ELF_MANDATORY,
			  ici->rcvq_len);
	skb_queue_walk(&sk->sk_receive_queue, skb)
		tcpcp_copy_seq(skb, ici->copied_seq, ici->rcvq_len, e);

	if (ici->ofoq_len) {
		u8 *hdr = NULL;
		u32 end = 0, seglen = 0;

		e = tcpcp_wr_elem(w, TCPCP_EL_OFOQ, 0, ici->ofoq_len);
		for (skb = skb_rb_first(&tp->out_of_order_queue); skb;
		     skb = skb_rb_next(skb)) {
			u32 seq = TCP_SKB_CB(skb)->seq;

			u32 off = 0;

			if (!skb->len || !after(seq + skb->len, tp->rcv_nxt))
				continue;
			if (hdr && !after(seq, end)) {
				if (!after(seq + skb->len, end))
					continue;
				off = end - seq;
			} else {
				if (hdr)
					e = hdr + 8 + round_up(seglen, 4);
				hdr = e;
				seglen = 0;
				put_unaligned_be32(seq, hdr);
			}
			if (skb_copy_bits(skb, off, hdr + 8 + seglen,
					  skb->len - off))
				WARN_ON_ONCE(1);
			seglen += skb->len - off;
			put_unaligned_be32(seglen, hdr + 4);
			end = seq + skb->len;
		}
	}
}

void tcpcp_isolate(struct sock *sk)
{
	WRITE_ONCE(tcp_sk(sk)->tcpcp_isolated, 1);
	inet_csk_clear_xmit_timers(sk);
	inet_csk_delete_keepalive_timer(sk);
}

static int tcpcp_get_ici(struct sock *sk, sockptr_t optval, sockptr_t optlen)
{
	struct tcpcp_ici ici;
	struct tcpcp_wr w;
	int len, err;
	u32 size;

	if (copy_from_sockptr(&len, optlen, sizeof(len)))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	sockopt_lock_sock(sk);
	err = -ENOTCONN;
	if (!tcpcp_dumpable(sk))
		goto out;
	err = -EBUSY;
	if (tcp_sk(sk)->repair)
		goto out;
	tcpcp_fill_ici(sk, &ici);
	size = tcpcp_dump_size(&ici);
	err = -EMSGSIZE;
	if (size > TCPCP_ICI_MAX_LEN)
		goto out;
	if (len < size) {
		len = size;
		err = copy_to_sockptr(optlen, &len, sizeof(len)) ? -EFAULT :
								    -ERANGE;
		goto out;
	}
	err = -ENOMEM;
	w.buf = kvzalloc(size, GFP_KERNEL);
	if (!w.buf)
		goto out;
	tcpcp_ici_encode_fixed(&w, &ici, size);
	tcpcp_dump_queues(sk, &w, &ici);
	WARN_ON_ONCE(w.pos != size);
	len = size;
	err = -EFAULT;
	if (!copy_to_sockptr(optval, w.buf, size) &&
	    !copy_to_sockptr(optlen, &len, sizeof(len))) {
		tcpcp_isolate(sk);
		err = 0;
	}
	kvfree(w.buf);
out:
	sockopt_release_sock(sk);
	return err;
}

int tcpcp_getsockopt(struct sock *sk, int optname, sockptr_t optval,
		     sockptr_t optlen)
{
	struct tcpcp_ici ici;
	int len, val;

	if (has_current_bpf_ctx())
		return -EOPNOTSUPP;
	switch (optname) {
	case TCP_MAXICISIZE:
		if (copy_from_sockptr(&len, optlen, sizeof(len)))
			return -EFAULT;
		if (len < (int)sizeof(int))
			return -EINVAL;
		sockopt_lock_sock(sk);
		if (tcpcp_dumpable(sk)) {
			tcpcp_fill_ici(sk, &ici);
			val = min_t(u32, tcpcp_dump_size(&ici), INT_MAX);
		} else {
			val = 0;
		}
		sockopt_release_sock(sk);
		len = sizeof(int);
		if (copy_to_sockptr(optlen, &len, sizeof(len)) ||
		    copy_to_sockptr(optval, &val, sizeof(val)))
			return -EFAULT;
		return 0;
	case TCP_ICI:
		return tcpcp_get_ici(sk, optval, optlen);
	}
	return -ENOPROTOOPT;
}

/* Called instead of the receive path while the endpoint is isolated */
int tcpcp_rcv(struct sock *sk, struct sk_buff *skb)
{
	struct tcpcp_sock *cp = tcp_sk(sk)->tcpcp;

	if (cp && cp->created && skb_queue_len(&cp->early) < TCPCP_EARLY_MAX &&
	    cp->early_bytes + skb->truesize <= READ_ONCE(sk->sk_rcvbuf)) {
		skb_dst_force(skb);
		cp->early_bytes += skb->truesize;
		__skb_queue_tail(&cp->early, skb);
		return 0;
	}
	kfree_skb(skb);
	return 0;
}

void tcpcp_free(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (tp->tcpcp) {
		__skb_queue_purge(&tp->tcpcp->early);
		kfree(tp->tcpcp);
		tp->tcpcp = NULL;
	}
}

void tcpcp_destroy_sock(struct sock *sk)
{
	tcpcp_free(sk);
	WRITE_ONCE(tcp_sk(sk)->tcpcp_isolated, 0);
}

/* Transmit at once whatever the endpoint owes the peer */
static void tcpcp_kick(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *skb = tcp_rtx_queue_head(sk);
	bool sent = false;

	tcp_mstamp_refresh(tp);
	if (tp->packets_out && skb) {
		sent = !tcp_retransmit_skb(sk, skb, 1);
		tcp_rearm_rto(sk);
	}
	if (tcp_send_head(sk)) {
		tcp_push_pending_frames(sk);
		if (!tp->packets_out)
			tcp_check_probe_timer(sk);
		sent = true;
	}
	if (!sent)
		tcp_send_ack(sk);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		inet_csk_reset_keepalive_timer(sk, keepalive_time_when(tp));
}

static int tcpcp_activate(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff_head early;
	struct sk_buff *skb;

	if (!tp->tcpcp || !tp->tcpcp->created || !tcpcp_isolated(sk))
		return -EINVAL;
	__skb_queue_head_init(&early);
	skb_queue_splice_init(&tp->tcpcp->early, &early);
	tcpcp_free(sk);
	WRITE_ONCE(tp->tcpcp_isolated, 0);
	tcpcp_kick(sk);
	while ((skb = __skb_dequeue(&early)) != NULL)
		sk->sk_backlog_rcv(sk, skb);
	return 0;
}

static int tcpcp_unisolate(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tcpcp_isolated(sk) || (tp->tcpcp && tp->tcpcp->created))
		return -EINVAL;
	tcpcp_free(sk);
	WRITE_ONCE(tp->tcpcp_isolated, 0);
	tcp_mstamp_refresh(tp);
	if (tp->packets_out)
		tcp_rearm_rto(sk);
	if (tcp_send_head(sk)) {
		tcp_push_pending_frames(sk);
		if (!tp->packets_out)
			tcp_check_probe_timer(sk);
	}
	if (inet_csk_ack_scheduled(sk))
		tcp_send_ack(sk);
	if (sock_flag(sk, SOCK_KEEPOPEN))
		inet_csk_reset_keepalive_timer(sk, keepalive_time_when(tp));
	return 0;
}

static int tcpcp_discard(struct sock *sk)
{
	if (!tcpcp_isolated(sk))
		return -EINVAL;
	/* tcp_disconnect() sends nothing for an isolated socket */
	tcp_disconnect(sk, 0);
	tcpcp_free(sk);
	WRITE_ONCE(tcp_sk(sk)->tcpcp_isolated, 0);
	if (sk->sk_socket)
		sk->sk_socket->state = SS_UNCONNECTED;
	return 0;
}

static int tcpcp_cp_fn(struct sock *sk, sockptr_t optval, unsigned int optlen)
{
	int val, err;

	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;

	sockopt_lock_sock(sk);
	switch (val) {
	case TCPCP_ACTIVATE:
		err = tcpcp_activate(sk);
		break;
	case TCPCP_UNISOLATE:
		err = tcpcp_unisolate(sk);
		break;
	case TCPCP_DISCARD:
		err = tcpcp_discard(sk);
		break;
	case TCPCP_ISOLATE:
		err = -EOPNOTSUPP;
		break;
	default:
		err = -EINVAL;
	}
	sockopt_release_sock(sk);
	return err;
}

int tcpcp_setsockopt(struct sock *sk, int optname, sockptr_t optval,
		     unsigned int optlen)
{
	if (has_current_bpf_ctx())
		return -EOPNOTSUPP;
	switch (optname) {
	case TCP_ICI:
		return tcpcp_create(sk, optval, optlen);
	case TCP_CP_FN:
		return tcpcp_cp_fn(sk, optval, optlen);
	}
	return -ENOPROTOOPT;
}
