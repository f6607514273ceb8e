// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The repair backend, destination side (and the helpers both sides share,
 * repair.h): rebuild an endpoint from a decoded ICI with TCP_REPAIR,
 * isolated until repair.c's activate.  The order of the steps is the
 * kernel's (net/ipv4/tcp.c): queue sequence numbers and TCP_MAXSEG before
 * connect(), TCP_REPAIR_OPTIONS after it and before anything counts as
 * sent, TCP_REPAIR_WINDOW after the receive queue.
 */
#include <arpa/inet.h>
#include <errno.h>
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

/* ---- helpers shared with repair.c (repair.h) ---- */

int repair_setopt(int s, int level, int name, int val)
{
	if (setsockopt(s, level, name, &val, sizeof(val)) < 0)
		return -errno;
	return 0;
}

int repair_getopt(int s, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);

	if (getsockopt(s, level, name, val, &len) < 0)
		return -errno;
	return 0;
}

int repair_ioctl(int s, unsigned long req, int *val)
{
	if (ioctl(s, req, val) < 0)
		return -errno;
	return 0;
}

int repair_tcp_info(int s, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	if (getsockopt(s, IPPROTO_TCP, TCP_INFO, ti, &len) < 0)
		return -errno;
	return 0;
}

/*
 * A TCP socket of family AF_INET or AF_INET6: 0, else -errno.  The family
 * getsockname() reports is the socket's own (SO_DOMAIN: inet_getname() and
 * inet6_getname() fill in AF_INET and AF_INET6), and the caller needs the
 * address anyway; a family without addresses (sock_no_getname) is no TCP.
 */
int repair_check_tcp(int s, int *domain, struct sockaddr_storage *local)
{
	socklen_t len = sizeof(*local);
	int proto, ret;

	if (getsockname(s, (struct sockaddr *)local, &len) < 0)
		return errno == EOPNOTSUPP ? -EINVAL : -errno;
	*domain = local->ss_family;
	/* IPPROTO_TCP in an inet family is a SOCK_STREAM socket */
	ret = repair_getopt(s, SOL_SOCKET, SO_PROTOCOL, &proto);
	if (ret)
		return ret;
	if ((*domain != AF_INET && *domain != AF_INET6) || proto != IPPROTO_TCP)
		return -EINVAL;
	return 0;
}

int repair_in_repair(int s)
{
	int on, ret = repair_getopt(s, IPPROTO_TCP, TCP_REPAIR, &on);

	if (ret)
		return ret;
	return on == 1 ? 0 : -EINVAL;
}

/* ---- create ---- */

static int sa_of(int family, const uint8_t *addr, uint16_t port,
		 struct sockaddr_storage *ss, socklen_t *sl)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		*sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		*sl = sizeof(*sin6);
	}
	return 0;
}

/* Bind to the ICI's local address (port 0 with TCPCP_CREATE_ANY_PORT) */
static int bind_local(int s, int family, const struct ici *ici,
		      unsigned int flags)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	sa_of(family, ici->laddr,
	      flags & TCPCP_CREATE_ANY_PORT ? 0 : ici->lport, &ss, &sl);
	if (bind(s, (struct sockaddr *)&ss, sl) == 0)
		return 0;
	if (errno != EADDRNOTAVAIL)
		return -errno;
	/* not (yet) a local address: IP_FREEBIND would make connect() fail */
	if (family == AF_INET ?
		    repair_setopt(s, IPPROTO_IP, IP_TRANSPARENT, 1) :
		    repair_setopt(s, IPPROTO_IPV6, IPV6_TRANSPARENT, 1))
		return -EADDRNOTAVAIL;
	if (bind(s, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	return 0;
}

/* The caller's socket: TCP of the right family, not connected */
static int check_given(int fd, int family, bool *bound)
{
	struct sockaddr_storage ss;
	struct tcp_info ti;
	int domain, ret;

	ret = repair_check_tcp(fd, &domain, &ss);
	if (!ret)
		ret = repair_tcp_info(fd, &ti);
	if (ret)
		return ret;
	if (domain != family || ti.tcpi_state != TCP_CLOSE)
		return -EINVAL;
	*bound = family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
				     ((struct sockaddr_in6 *)&ss)->sin6_port;
	return 0;
}

/* Write len bytes with send(); the caller chose the repair queue */
static int send_all(int s, const uint8_t *p, size_t len, int forceopt)
{
	bool forced = false;
	int ret, cur;
	ssize_t n;

	while (len) {
		n = send(s, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= n;
			continue;
		}
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if ((errno != ENOBUFS && errno != EAGAIN && errno != ENOMEM) ||
		    forced)
			return -errno;
		/* too little buffer: make room for the rest once (the
		 * value set is halved by SO_*BUF accounting, never shrink)
		 */
		ret = repair_getopt(s, SOL_SOCKET,
				    forceopt == SO_SNDBUFFORCE ? SO_SNDBUF :
								 SO_RCVBUF,
				    &cur);
		if (ret)
			return ret;
		ret = repair_setopt(s, SOL_SOCKET, forceopt,
				    len > (size_t)INT_MAX / 8 ?
					    INT_MAX / 2 :
					    cur / 2 + (int)len * 2 + 65536);
		if (ret)
			return ret;
		forced = true;
	}
	return 0;
}

static void apply_sockopts(int s, int family, const struct ici_sockopt *so)
{
	int half;

	if (so->set & TCPCP_SO_NODELAY)
		repair_setopt(s, IPPROTO_TCP, TCP_NODELAY, so->nodelay);
	if (so->set & TCPCP_SO_KEEPALIVE) {
		if (so->keepidle)
			repair_setopt(s, IPPROTO_TCP, TCP_KEEPIDLE,
				      so->keepidle);
		if (so->keepintvl)
			repair_setopt(s, IPPROTO_TCP, TCP_KEEPINTVL,
				      so->keepintvl);
		if (so->keepcnt)
			repair_setopt(s, IPPROTO_TCP, TCP_KEEPCNT, so->keepcnt);
		repair_setopt(s, SOL_SOCKET, SO_KEEPALIVE, so->keepalive);
	}
	if (so->set & TCPCP_SO_USER_TIMEOUT)
		repair_setopt(s, IPPROTO_TCP, TCP_USER_TIMEOUT,
			      so->user_timeout);
	/* SO_SNDBUF/SO_RCVBUF read back doubled */
	half = so->sndbuf > INT_MAX ? INT_MAX / 2 : (int)(so->sndbuf / 2);
	if (so->set & TCPCP_SO_SNDBUF)
		repair_setopt(s, SOL_SOCKET, SO_SNDBUF, half);
	half = so->rcvbuf > INT_MAX ? INT_MAX / 2 : (int)(so->rcvbuf / 2);
	if (so->set & TCPCP_SO_RCVBUF)
		repair_setopt(s, SOL_SOCKET, SO_RCVBUF, half);
	if (so->set & TCPCP_SO_TOS) {
		if (family == AF_INET)
			repair_setopt(s, IPPROTO_IP, IP_TOS, so->tos);
		else
			repair_setopt(s, IPPROTO_IPV6, IPV6_TCLASS, so->tos);
	}
	if (so->set & TCPCP_SO_NOTSENT_LOWAT)
		repair_setopt(s, IPPROTO_TCP, TCP_NOTSENT_LOWAT,
			      so->notsent_lowat > INT_MAX ?
				      INT_MAX :
				      (int)so->notsent_lowat);
}

static int wait_state(int s, int state)
{
	struct timespec ts = { 0, 1000000 };
	struct tcp_info ti;
	int i, ret;

	for (i = 0; i < 1000; i++) {
		ret = repair_tcp_info(s, &ti);
		if (ret)
			return ret;
		if (ti.tcpi_state == state)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static unsigned int lost_of(const struct ici *ici)
{
	unsigned int l = 0;

	if (ici->has_ts && (ici->ts_flags & TCPCP_TS_RECENT_VALID))
		l |= TCPCP_LOST_TS_RECENT;
	if (ici->ofoq_len)
		l |= TCPCP_LOST_OFO;
	if (ici->has_cong && (ici->cong.flags & TCPCP_CONG_F_RESTORE))
		l |= TCPCP_LOST_CONG;
	if (ici->opts & TCPCP_OPT_ECN)
		l |= TCPCP_LOST_ECN;
	return l;
}

/*
 * The endpoint as a repaired socket sees it.  A FIN we sent is left out
 * (write_seq counts it; shutdown() queues it again); when the peer already
 * acknowledged it (FIN-WAIT-2) snd_una and snd_nxt step back onto it, and
 * the peer takes the resent FIN as a duplicate.
 */
struct plan {
	uint32_t una, nxt, data_end, copied;
	uint32_t unacked, unsent;
	bool fin_owed, fin_in;
};

static int plan_of(const struct ici *ici, struct plan *p)
{
	uint32_t fin_s = ici_fin_sent(ici->state),
		 fin_r = ici_fin_rcvd(ici->state);

	p->fin_owed = fin_s;
	p->fin_in = fin_r;
	p->data_end = ici->write_seq - fin_s;
	p->una = ici->snd_una;
	p->nxt = ici->snd_nxt;
	if (fin_s && p->una == ici->write_seq)
		p->una = p->data_end;
	if (fin_s && p->nxt == ici->write_seq)
		p->nxt = p->data_end;
	p->unacked = p->nxt - p->una;
	p->unsent = p->data_end - p->nxt;
	if (p->una != ici->snd_una && ici->sndq_len)
		return -EINVAL;
	if ((uint64_t)p->unacked + p->unsent != ici->sndq_len)
		return -EINVAL;
	p->copied = ici->copied_seq;
	if (fin_r && p->copied == ici->rcv_nxt)
		p->copied = ici->rcv_nxt - 1;
	if (ici->rcv_nxt - fin_r - p->copied != ici->rcvq_len)
		return -EINVAL;
	return 0;
}

static int restore(int s, int family, const struct ici *ici,
		   const struct plan *p, unsigned int flags, bool bound)
{
	struct tcp_repair_opt opt[4];
	struct tcp_repair_window w;
	struct sockaddr_storage ss;
	socklen_t sl;
	int n = 0, ret;

	ret = isolate_rules(s);
	if (!ret)
		ret = isolate_ingress(s, p->fin_in ? ISOLATE_FILTER_FIN :
						     ISOLATE_FILTER_DROP);
	if (!ret && !bound)
		ret = bind_local(s, family, ici, flags);
	if (!ret)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
				    TCP_SEND_QUEUE);
	if (!ret)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ, (int)p->una);
	if (!ret)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
				    TCP_RECV_QUEUE);
	if (!ret)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_QUEUE_SEQ,
				    (int)p->copied);
	/*
	 * before connect(), or the MSS falls back to 536 - options; the
	 * kernel takes 88..32767 here (MAX_TCP_WINDOW: loopback's 65495 is
	 * EINVAL), TCPOPT_MAXSEG below restores the ICI's mss_clamp
	 */
	if (!ret)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_MAXSEG,
				    ici->mss < 88    ? 88 :
				    ici->mss > 32767 ? 32767 :
						       ici->mss);
	if (!ret && ici->has_ts) {
		uint32_t v = ici->ts_val;

		/* low bit: usec clock; never round below the dumped value */
		if (ici->opts & TCPCP_OPT_USEC_TS)
			v |= 1;
		else if (v & 1)
			v += 1;
		ret = repair_setopt(s, IPPROTO_TCP, TCP_TIMESTAMP, (int)v);
	}
	if (ret)
		return ret;
	/* in repair mode connect() sends nothing: the endpoint is ESTABLISHED */
	sa_of(family, ici->raddr, ici->rport, &ss, &sl);
	if (connect(s, (struct sockaddr *)&ss, sl) < 0)
		return -errno;
	/* connect() needed a route; from now on every transmission fails */
	ret = isolate_egress(s);
	if (ret)
		return ret;

	opt[n].opt_code = TCPOPT_MAXSEG;
	opt[n++].opt_val = ici->mss;
	opt[n].opt_code = TCPOPT_WINDOW;
	opt[n++].opt_val = ici->snd_wscale | (uint32_t)ici->rcv_wscale << 16;
	if (ici->opts & TCPCP_OPT_SACK) {
		opt[n].opt_code = TCPOPT_SACK_PERMITTED;
		opt[n++].opt_val = 0;
	}
	if (ici->opts & TCPCP_OPT_TSTAMP) {
		opt[n].opt_code = TCPOPT_TIMESTAMP;
		opt[n++].opt_val = 0;
	}
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opt,
		       n * sizeof(opt[0])) < 0)
		return -errno;

	/*
	 * The receive queue is still selected (TCP_QUEUE_SEQ above: nothing
	 * since reads or changes the selection).  Each queue is selected
	 * only when it gets bytes, and no queue at the end: where unsent
	 * bytes or a FIN follow, TCP_REPAIR_ON does that below
	 * (do_tcp_setsockopt()), and until then nothing looks at the
	 * selection (the write queue is empty, the fd not yet returned).
	 */
	ret = send_all(s, ici->rcvq, ici->rcvq_len, SO_RCVBUFFORCE);
	/* in repair mode these count as sent: the peer's ACKs stay valid */
	if (!ret && p->unacked)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
				    TCP_SEND_QUEUE);
	if (!ret)
		ret = send_all(s, ici->sndq, p->unacked, SO_SNDBUFFORCE);
	if (!ret && !p->unsent && !p->fin_owed)
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR_QUEUE,
				    TCP_NO_QUEUE);
	if (ret)
		return ret;

	if (p->fin_in) {
		uint32_t win = ici->snd_wnd >> ici->snd_wscale;

		/* the peer's FIN, again, through the FIN-only filter */
		ret = isolate_inject_fin(family, ici->raddr, htons(ici->rport),
					 ici->laddr, htons(ici->lport),
					 ici->rcv_nxt - 1, p->una,
					 win > 65535 ? 65535 : win);
		if (!ret)
			ret = wait_state(s, TCP_CLOSE_WAIT);
		if (!ret)
			ret = isolate_ingress(s, ISOLATE_FILTER_DROP);
		if (ret)
			return ret;
	}

	/* after the receive queue is refilled (rcv_wup <= rcv_nxt) */
	w.snd_wl1 = ici->snd_wl1;
	w.snd_wnd = ici->snd_wnd;
	w.max_window = ici->max_window;
	w.rcv_wnd = ici->rcv_wnd;
	w.rcv_wup = ici->rcv_wup;
	if (setsockopt(s, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
		return -errno;

	if (p->unsent || p->fin_owed) {
		/*
		 * Unsent bytes and an owed FIN must stay unsent: out of repair
		 * mode, with egress blackholed, write them (the transmission
		 * fails, they stay queued) and go back into repair mode, which
		 * selects no repair queue.
		 */
		ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR,
				    TCP_REPAIR_OFF_NO_WP);
		if (!ret)
			ret = send_all(s, ici->sndq + p->unacked, p->unsent,
				       SO_SNDBUFFORCE);
		if (!ret && p->fin_owed && shutdown(s, SHUT_WR) < 0)
			ret = -errno;
		if (!ret)
			ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR,
					    TCP_REPAIR_ON);
		if (ret)
			return ret;
	}

	if (ici->has_sockopt)
		apply_sockopts(s, family, &ici->so);
	return 0;
}

int repair_create(const struct ici *ici, int fd, unsigned int flags,
		  unsigned int *lost)
{
	int family = ici->family == TCPCP_FAMILY_INET ? AF_INET : AF_INET6;
	struct isolate_saved sv = { 0 };
	struct sockaddr sa = { .sa_family = AF_UNSPEC };
	bool bound = false, saved = false;
	struct plan p;
	uint64_t cookie;
	int s, ret;

	*lost = lost_of(ici);
	if (flags & TCPCP_CREATE_CONG)
		return -EOPNOTSUPP; /* needs the native backend */
	if ((flags & TCPCP_CREATE_STRICT) && *lost)
		return -EOPNOTSUPP;
	if (ici->hdr_flags & TCPCP_ICI_F_CHECKPOINT)
		return -EOPNOTSUPP; /* resurrection: not here */
	ret = plan_of(ici, &p);
	if (ret)
		return ret;
	if (fd >= 0) {
		ret = check_given(fd, family, &bound);
		if (ret)
			return ret;
		s = fd;
	} else {
		s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
		if (s < 0)
			return -errno;
	}
	ret = repair_setopt(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON);
	if (ret)
		goto fail;
	if (family == AF_INET6)
		repair_setopt(s, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (ici->has_sockopt && (ici->so.set & TCPCP_SO_MARK))
		sv.mark = ici->so.mark;
	/*
	 * Activation takes the user's mark from the registry and 0 where it
	 * finds no entry: a socket of our own (its cookie is new) without a
	 * mark needs none.  The caller's socket may have a stale entry.
	 */
	saved = sv.mark || s == fd;
	if (saved) {
		ret = isolate_cookie(s, &cookie);
		if (!ret)
			ret = isolate_save(cookie, &sv);
	}
	if (!ret)
		ret = restore(s, family, ici, &p, flags, bound);
	if (ret)
		goto fail;
	tcpcp_log(
		TCPCP_LOG_DEBUG,
		"repair: created %s endpoint, %u unacked, %u unsent, %u unread bytes",
		ici_state_name(ici->state), p.unacked, p.unsent, ici->rcvq_len);
	return s;
fail:
	tcpcp_log(TCPCP_LOG_ERR, "repair: create failed: %s", strerror(-ret));
	if (saved && !isolate_cookie(s, &cookie))
		isolate_take(cookie, &sv);
	/* in repair mode a disconnect or close is silent (no RST) */
	repair_setopt(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON);
	if (s != fd) {
		close(s);
		return ret;
	}
	/* the caller's socket: disconnect silently and hand it back clean */
	connect(s, &sa, sizeof(sa));
	isolate_release(s, 0);
	repair_setopt(s, IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP);
	return ret;
}
