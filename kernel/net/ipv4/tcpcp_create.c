// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcp: recreate an endpoint from an ICI with setsockopt(TCP_ICI).
 *
 * The endpoint is built with the TCP_REPAIR internals: connect() in repair
 * mode sends no SYN, the receive queue is filled as tcp_send_rcvq() does,
 * the part of the send queue the origin had sent is queued as sent.  It
 * stays isolated until TCPCP_ACTIVATE.
 */
#include <linux/capability.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <net/inet_hashtables.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/tcp.h>
#include <net/tcpcp.h>

#include "tcpcp_ici.h"

static int tcpcp_sockaddr(const struct sock *sk, const struct tcpcp_ici *ici,
			  const u8 *addr, u16 port,
			  struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (sk->sk_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		return sizeof(*sin);
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		__be32 a4;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (ici->family == TCPCP_FAMILY_INET) {
			memcpy(&a4, addr, 4);
			ipv6_addr_set_v4mapped(a4, &sin6->sin6_addr);
		} else {
			memcpy(&sin6->sin6_addr, addr, 16);
		}
		return sizeof(*sin6);
	}
#else
	return -EAFNOSUPPORT;
#endif
}

/* Queue len bytes as received (rcv) or as written by the application */
static int tcpcp_fill(struct sock *sk, const u8 *data, u32 len, bool rcv)
{
	struct msghdr msg = { .msg_flags = MSG_DONTWAIT };
	struct kvec kv;
	int n;

	while (len) {
		kv.iov_base = (void *)data;
		kv.iov_len = len;
		iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, &kv, 1, len);
		n = rcv ? tcp_send_rcvq(sk, &msg, len) :
			  tcp_sendmsg_locked(sk, &msg, len);
		if (n <= 0)
			return n ? n : -ENOMEM;
		data += n;
		len -= n;
	}
	return 0;
}

/* Append len bytes at seq to the out-of-order queue (sorted, disjoint) */
static int tcpcp_ofo_add(struct sock *sk, u32 seq, const u8 *data, u32 len)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct rb_node **p, *parent;
	struct sk_buff *skb;
	u32 n, data_len;
	int err;

	while (len) {
		n = min_t(u32, len, (MAX_SKB_FRAGS - 1) << PAGE_SHIFT);
		data_len = n > PAGE_SIZE ? round_down(n, PAGE_SIZE) : 0;
		skb = alloc_skb_with_frags(n - data_len, data_len,
					   PAGE_ALLOC_COSTLY_ORDER, &err,
					   sk->sk_allocation);
		if (!skb)
			return err;
		skb_put(skb, n - data_len);
		skb->data_len = data_len;
		skb->len = n;
		if (skb_store_bits(skb, 0, data, n) ||
		    !sk_rmem_schedule(sk, skb, skb->truesize)) {
			kfree_skb(skb);
			return -ENOBUFS;
		}
		TCP_SKB_CB(skb)->seq = seq;
		TCP_SKB_CB(skb)->end_seq = seq + n;
		TCP_SKB_CB(skb)->ack_seq = tp->snd_una - 1;
		TCP_SKB_CB(skb)->tcp_flags = TCPHDR_ACK;
		skb_set_owner_r(skb, sk);
		parent = tp->ooo_last_skb ? &tp->ooo_last_skb->rbnode : NULL;
		p = parent ? &parent->rb_right : &tp->out_of_order_queue.rb_node;
		rb_link_node(&skb->rbnode, parent, p);
		rb_insert_color(&skb->rbnode, &tp->out_of_order_queue);
		tp->ooo_last_skb = skb;
		seq += n;
		data += n;
		len -= n;
	}
	return 0;
}

/* The out-of-order queue, and SACK blocks that tell the peer about it */
static int tcpcp_set_ofo(struct sock *sk, const struct tcpcp_ici *ici)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 off = 0, seq, len;
	const u8 *data;
	int ret, i = 0;

	while ((ret = tcpcp_ofo_next(ici, &off, &seq, &data, &len)) > 0) {
		ret = tcpcp_ofo_add(sk, seq, data, len);
		if (ret)
			return ret;
		if (tcp_is_sack(tp) && i < TCP_NUM_SACKS) {
			tp->selective_acks[i].start_seq = seq;
			tp->selective_acks[i].end_seq = seq + len;
			tp->rx_opt.num_sacks = ++i;
		}
	}
	return ret;
}

static void tcpcp_set_opts(struct sock *sk, const struct tcpcp_ici *ici)
{
	struct inet_connection_sock *icsk = inet_csk(sk);
	struct tcp_sock *tp = tcp_sk(sk);

	/* as tcp_repair_options_est() sets them */
	tp->rx_opt.mss_clamp = ici->mss;
	tp->rx_opt.wscale_ok = !!(ici->opts & TCPCP_OPT_WSCALE);
	tp->rx_opt.snd_wscale = ici->snd_wscale;
	tp->rx_opt.rcv_wscale = ici->rcv_wscale;
	if (ici->opts & TCPCP_OPT_SACK)
		tp->rx_opt.sack_ok |= TCP_SACK_SEEN;
	else
		tp->rx_opt.sack_ok = 0;
	tp->rx_opt.tstamp_ok = !!(ici->opts & TCPCP_OPT_TSTAMP);
	tp->tcp_usec_ts = !!(ici->opts & TCPCP_OPT_USEC_TS);
	tp->ecn_flags = (ici->opts & TCPCP_OPT_ECN) ? TCP_ECN_OK : 0;
	tp->tcp_header_len = sizeof(struct tcphdr) +
		(tp->rx_opt.tstamp_ok ? TCPOLEN_TSTAMP_ALIGNED : 0);
	tcp_mtup_init(sk);
	tcp_sync_mss(sk, icsk->icsk_pmtu_cookie);
	tcp_initialize_rcv_mss(sk);

	if (ici->has_ts) {
		/* TSval continues from the origin's and never goes back */
		WRITE_ONCE(tp->tsoffset, ici->ts_val + 1 -
					 tcp_clock_ts(tp->tcp_usec_ts));
		if (ici->ts_flags & TCPCP_TS_RECENT_VALID) {
			tp->rx_opt.ts_recent = ici->ts_recent;
			tp->rx_opt.ts_recent_stamp = ktime_get_seconds() -
						     ici->ts_recent_age / 1000;
		}
	}
}

static void tcpcp_set_cong(struct sock *sk, const struct tcpcp_ici *ici)
{
	struct tcp_sock *tp = tcp_sk(sk);

	/* the ICI asked for it and the caller is privileged: clamped */
	if (ici->algorithm[0])
		tcp_set_congestion_control(sk, ici->algorithm, false, true);
	tcp_snd_cwnd_set(tp, clamp_t(u32, ici->cwnd, 1,
				     min_t(u32, tp->snd_cwnd_clamp, 65535)));
	tp->snd_ssthresh = max_t(u32, ici->ssthresh, 2);
	if (ici->srtt_us) {
		tp->srtt_us = clamp_t(u32, ici->srtt_us, 1,
				      jiffies_to_usecs(TCP_RTO_MAX)) << 3;
		tp->mdev_us = clamp_t(u32, ici->rttvar_us, 1,
				      jiffies_to_usecs(TCP_RTO_MAX)) << 2;
		tp->mdev_max_us = tp->mdev_us;
		tp->rttvar_us = max(tp->mdev_us, tcp_rto_min_us(sk));
		inet_csk(sk)->icsk_rto = __tcp_set_rto(tp);
		tcp_bound_rto(sk);
	}
}

static void tcpcp_set_sockopts(struct sock *sk, const struct tcpcp_ici *ici)
{
	struct tcp_sock *tp = tcp_sk(sk);
	u32 set = ici->so_set;

	if (!ici->has_so)
		return;
	if (set & TCPCP_SO_NODELAY) {
		if (ici->nodelay)
			tp->nonagle |= TCP_NAGLE_OFF | TCP_NAGLE_PUSH;
		else
			tp->nonagle &= ~TCP_NAGLE_OFF;
	}
	if (set & TCPCP_SO_KEEPALIVE) {
		if (ici->keepidle)
			WRITE_ONCE(tp->keepalive_time, ici->keepidle * HZ);
		if (ici->keepintvl)
			WRITE_ONCE(tp->keepalive_intvl, ici->keepintvl * HZ);
		if (ici->keepcnt)
			WRITE_ONCE(tp->keepalive_probes, ici->keepcnt);
		sock_valbool_flag(sk, SOCK_KEEPOPEN, ici->keepalive);
	}
	if (set & TCPCP_SO_USER_TIMEOUT)
		WRITE_ONCE(inet_csk(sk)->icsk_user_timeout, ici->user_timeout);
	if (set & TCPCP_SO_MARK) {
		WRITE_ONCE(sk->sk_mark, ici->mark);
		sk_dst_reset(sk);
	}
	if (set & TCPCP_SO_TOS) {
#if IS_ENABLED(CONFIG_IPV6)
		if (sk->sk_family == AF_INET6)
			inet6_sk(sk)->tclass = ici->tos;
		else
#endif
			__ip_sock_set_tos(sk, ici->tos);
	}
	if (set & TCPCP_SO_NOTSENT_LOWAT)
		WRITE_ONCE(tp->notsent_lowat, ici->notsent_lowat);
}

static void tcpcp_set_bufs(struct sock *sk, const struct tcpcp_ici *ici)
{
	if (!ici->has_so)
		return;
	if (ici->so_set & TCPCP_SO_SNDBUF) {
		sk->sk_userlocks |= SOCK_SNDBUF_LOCK;
		WRITE_ONCE(sk->sk_sndbuf, max_t(u32, ici->sndbuf,
						SOCK_MIN_SNDBUF));
	}
	if (ici->so_set & TCPCP_SO_RCVBUF) {
		sk->sk_userlocks |= SOCK_RCVBUF_LOCK;
		WRITE_ONCE(sk->sk_rcvbuf, max_t(u32, ici->rcvbuf,
						SOCK_MIN_RCVBUF));
	}
}

/* Make room for the queues the ICI brings */
static void tcpcp_grow_buf(int *buf, u32 need)
{
	u64 want = (u64)need * 2 + SOCK_MIN_RCVBUF;

	if (*buf < want)
		WRITE_ONCE(*buf, min_t(u64, want, INT_MAX));
}

static int tcpcp_build(struct sock *sk, const struct tcpcp_ici *ici,
		       bool privileged)
{
	bool fin_s = tcpcp_fin_sent(ici->state) &&
		     ici->state != TCPCP_STATE_FIN_WAIT2;
	bool fin_out = fin_s && ici->snd_nxt == ici->write_seq;
	struct tcp_sock *tp = tcp_sk(sk);
	struct sockaddr_storage ss;
	u32 sent, rcv_end;
	int alen, err;

	tp->repair = 1;
	tp->repair_queue = TCP_NO_QUEUE;
	WRITE_ONCE(tp->write_seq, ici->snd_una);
	WRITE_ONCE(tp->rcv_nxt, ici->copied_seq);
	tp->rx_opt.user_mss = ici->user_mss;
	tcpcp_set_sockopts(sk, ici);

	alen = tcpcp_sockaddr(sk, ici, ici->raddr, ici->rport, &ss);
	if (alen < 0)
		return alen;
	err = sk->sk_prot->connect(sk, (struct sockaddr *)&ss, alen);
	if (err)
		return err;
	if (sk->sk_socket)
		sk->sk_socket->state = SS_CONNECTED;
	if (sk->sk_state != TCP_ESTABLISHED)
		return -EINVAL;
	tcpcp_set_opts(sk, ici);

	tcpcp_grow_buf(&sk->sk_rcvbuf, ici->rcvq_len + ici->ofoq_len);
	tcpcp_grow_buf(&sk->sk_sndbuf, ici->sndq_len);
	tp->repair_queue = TCP_RECV_QUEUE;
	err = tcpcp_fill(sk, ici->rcvq, ici->rcvq_len, true);
	if (err)
		return err;

	sent = min(ici->snd_nxt - ici->snd_una, ici->sndq_len);
	tp->repair_queue = TCP_SEND_QUEUE;
	err = tcpcp_fill(sk, ici->sndq, sent, false);
	if (err)
		return err;
	if (fin_out)
		tcp_send_fin(sk);
	/* the rest was not sent: queue it unsent, the isolation holds it */
	tp->repair = 0;
	tp->repair_queue = TCP_NO_QUEUE;
	err = tcpcp_fill(sk, ici->sndq + sent, ici->sndq_len - sent, false);
	if (err)
		return err;
	if (fin_s && !fin_out)
		tcp_send_fin(sk);

	rcv_end = tp->rcv_nxt;
	if (tcpcp_fin_rcvd(ici->state)) {
		if (ici->rcv_nxt == rcv_end + 1)
			WRITE_ONCE(tp->rcv_nxt, rcv_end + 1);
		WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | RCV_SHUTDOWN);
		sock_set_flag(sk, SOCK_DONE);
	}
	if (tcpcp_fin_sent(ici->state))
		WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | SEND_SHUTDOWN);
	if (ici->state != TCPCP_STATE_ESTABLISHED)
		tcp_set_state(sk, ici->state);

	if (WARN_ON_ONCE(tp->snd_nxt != ici->snd_nxt ||
			 tp->write_seq != ici->write_seq ||
			 tp->rcv_nxt != ici->rcv_nxt))
		return -EINVAL;

	/* windows, as tcp_repair_set_window() sets them */
	tp->snd_wl1 = ici->snd_wl1;
	tp->snd_wnd = ici->snd_wnd;
	tp->max_window = ici->max_window;
	tp->rcv_wnd = ici->rcv_wnd;
	tp->rcv_wup = ici->rcv_wup;
	err = tcpcp_set_ofo(sk, ici);
	if (err)
		return err;
	if (!tp->rx_opt.snd_wscale && RB_EMPTY_ROOT(&tp->out_of_order_queue))
		__tcp_fast_path_on(tp, tp->snd_wnd);
	else
		tp->pred_flags = 0;

	if (ici->has_cong && (ici->cong_flags & TCPCP_CONG_F_RESTORE) &&
	    privileged)
		tcpcp_set_cong(sk, ici);
	tcpcp_set_bufs(sk, ici);
	return 0;
}

/* Undo a failed build: back to an unconnected socket, silently */
static void tcpcp_unbuild(struct sock *sk, bool bound_here)
{
	struct tcp_sock *tp = tcp_sk(sk);

	tp->repair = 0;
	tp->repair_queue = TCP_NO_QUEUE;
	if (sk->sk_state != TCP_CLOSE)
		tcp_disconnect(sk, 0);
	WRITE_ONCE(sk->sk_err, 0);
	tcpcp_free(sk);
	WRITE_ONCE(tp->tcpcp_isolated, 0);
	if (sk->sk_socket)
		sk->sk_socket->state = SS_UNCONNECTED;
	if (bound_here) {
		if (inet_csk(sk)->icsk_bind_hash)
			inet_put_port(sk);
		sk->sk_userlocks &= ~(SOCK_BINDADDR_LOCK | SOCK_BINDPORT_LOCK);
		inet_sk(sk)->inet_num = 0;
		inet_sk(sk)->inet_sport = 0;
		inet_reset_saddr(sk);
	}
}

static int tcpcp_fresh(const struct sock *sk)
{
	if (sk->sk_state == TCP_LISTEN)
		return -EINVAL;
	if (sk->sk_state != TCP_CLOSE || inet_sk(sk)->inet_dport)
		return -EISCONN;
	if (tcp_sk(sk)->repair || tcp_sk(sk)->tcpcp || !sk->sk_socket)
		return -EINVAL;
	return 0;
}

/**
 * tcpcp_create - setsockopt(TCP_ICI): create an endpoint from an ICI
 * @sk: a fresh TCP socket, never connected; it may be bound
 * @optval: the ICI
 * @optlen: its length
 *
 * Checks in the order permission, state, length, copy, values; nothing
 * changes before every field is known good.  The endpoint is isolated
 * until TCPCP_ACTIVATE.
 */
int tcpcp_create(struct sock *sk, sockptr_t optval, unsigned int optlen)
{
	struct net *net = sock_net(sk);
	struct tcpcp_ici_hdr hdr;
	struct sockaddr_storage ss;
	bool privileged, bound_here = false;
	struct tcpcp_sock *cp;
	struct tcpcp_ici ici;
	int alen, err;
	u8 *buf;

	privileged = sockopt_ns_capable(net->user_ns, CAP_NET_ADMIN);
	if (READ_ONCE(net->ipv4.sysctl_tcpcp_privileged) && !privileged)
		return -EPERM;
	err = tcpcp_fresh(sk);
	if (err)
		return err;
	if (optlen < sizeof(hdr) || optlen > TCPCP_ICI_MAX_LEN)
		return -EINVAL;
	if (copy_from_sockptr(&hdr, optval, sizeof(hdr)))
		return -EFAULT;
	if (be32_to_cpu(hdr.magic) != TCPCP_ICI_MAGIC)
		return -EINVAL;
	if (hdr.major != TCPCP_ICI_MAJOR)
		return -EPROTONOSUPPORT;
	if (be32_to_cpu(hdr.len) != optlen)
		return -EINVAL;

	buf = kvmalloc(optlen, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!buf)
		return -ENOMEM;
	err = -EFAULT;
	if (copy_from_sockptr(buf, optval, optlen))
		goto out_buf;
	err = tcpcp_ici_decode(buf, optlen, &ici);
	if (err)
		goto out_buf;
	err = -EAFNOSUPPORT;
	if (sk->sk_family == AF_INET && ici.family != TCPCP_FAMILY_INET)
		goto out_buf;
	if (sk->sk_family == AF_INET6 && ici.family == TCPCP_FAMILY_INET &&
	    ipv6_only_sock(sk))
		goto out_buf;
	err = -EPERM;
	if (ici.has_so && (ici.so_set & TCPCP_SO_MARK) && ici.mark &&
	    !privileged && !sockopt_ns_capable(net->user_ns, CAP_NET_RAW))
		goto out_buf;

	err = -ENOMEM;
	cp = kzalloc(sizeof(*cp), GFP_KERNEL_ACCOUNT);
	if (!cp)
		goto out_buf;
	__skb_queue_head_init(&cp->early);
	cp->created = true;

	/* same local address and port as the origin, unless bound already */
	if (!inet_sk(sk)->inet_num) {
		u8 reuse = sk->sk_reuse;

		alen = tcpcp_sockaddr(sk, &ici, ici.laddr, ici.lport, &ss);
		/* as with TCP_REPAIR, the 4-tuple must be unique, not the port:
		 * a listener or other connections may hold it
		 */
		if (privileged)
			sk->sk_reuse = SK_FORCE_REUSE;
		err = alen < 0 ? alen :
			sk->sk_socket->ops->bind(sk->sk_socket,
						 (struct sockaddr *)&ss, alen);
		sk->sk_reuse = reuse;
		if (err)
			goto out_cp;
		bound_here = true;
	}

	sockopt_lock_sock(sk);
	err = tcpcp_fresh(sk);
	if (err) {
		sockopt_release_sock(sk);
		goto out_cp;
	}
	tcp_sk(sk)->tcpcp = cp;
	WRITE_ONCE(tcp_sk(sk)->tcpcp_isolated, 1);
	err = tcpcp_build(sk, &ici, privileged);
	if (err)
		tcpcp_unbuild(sk, bound_here);
	else
		tcpcp_isolate(sk);
	sockopt_release_sock(sk);
	kvfree(buf);
	return err;

out_cp:
	kfree(cp);
out_buf:
	kvfree(buf);
	return err;
}
