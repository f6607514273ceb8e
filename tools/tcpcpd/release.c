// SPDX-License-Identifier: GPL-2.0
/*
 * Gateway entries removed when moved connections end.
 *
 * The destination daemon watches the connections it activated (when it
 * redirects through a gateway: `gateway` is set and `release` is yes): every
 * release_poll ms it dumps the host's TCP sockets with sock_diag
 * (NETLINK_SOCK_DIAG, one inet_diag dump per family, every state) and looks
 * each watched tuple up.  A connection that is gone, or closed, is released
 * at once; one in TIME_WAIT after release_grace ms, so that the peer's
 * retransmitted FIN still reaches this host while its last ACK may have
 * been lost (the host in TIME_WAIT answers it; the origin would answer with
 * a reset).  A connection moved away from this host disappears from it too:
 * its RELEASE carries the old move id and the gateway, which has the newer
 * move's entry for the tuple, keeps it (ESTALE).
 *
 * Releases go to the gateway as RELEASE messages (id, tuple) on an
 * authenticated connection of their own, many per connection, each
 * answered by a REDIRECTED; releases not confirmed are sent again after a
 * second.  A poll rather than the SKNLGRP_INET_TCP_DESTROY multicast group:
 * a dump cannot lose events when its receive buffer overflows, it sees
 * TIME_WAIT (the destroy event comes when the full socket goes, before the
 * grace), and one dump a second costs little beside the connections' own
 * traffic.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "redir.h"

#define HASH 4096
#define CHUNK 256 /* RELEASEs in flight on one connection */
#define RETRY_MS 1000

struct redir_conf rconf = {
	.release = true,
	.release_grace_ms = 5000,
	.release_poll_ms = 1000,
};

struct watch {
	struct watch *next;
	uint8_t id[16];
	int family;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint64_t tw_since; /* ms: first seen in TIME_WAIT, 0 not */
	int state; /* this poll: -1 not seen */
};

static struct watch *watches[HASH];
static unsigned int n_watches;
static uint64_t next_poll;

/* Releases waiting for the gateway's answer, oldest first */
static struct watch *rel_head, **rel_tail = &rel_head;
static unsigned int n_rel;

static struct {
	struct ev ev;
	enum { C_IDLE, C_CONNECTING, C_HELLO, C_READY } state;
	struct proto_sess sess;
	struct buf rbuf, wbuf;
	unsigned int inflight; /* the first ones of rel_head */
	uint64_t deadline, retry_at;
} cl = { .ev = { .fd = -1 } };

static unsigned int hash(int family, const uint8_t *l, uint16_t lp,
			 const uint8_t *r, uint16_t rp)
{
	uint32_t h = (uint32_t)family * 31 + lp * 65537u + rp;

	for (int i = 0; i < 16; i++)
		h = h * 131 + l[i] * 7 + r[i];
	return h % HASH;
}

static struct watch **lookup(int family, const uint8_t *l, uint16_t lp,
			     const uint8_t *r, uint16_t rp)
{
	struct watch **p = &watches[hash(family, l, lp, r, rp)];

	for (; *p; p = &(*p)->next)
		if ((*p)->family == family && (*p)->lport == lp &&
		    (*p)->rport == rp && !memcmp((*p)->laddr, l, 16) &&
		    !memcmp((*p)->raddr, r, 16))
			break;
	return p;
}

static void sa_split(const struct sockaddr_storage *ss, uint8_t a[16],
		     uint16_t *port)
{
	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		memcpy(a, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
	} else {
		const struct sockaddr_in6 *s = (const void *)ss;

		memcpy(a, &s->sin6_addr, 16);
		*port = ntohs(s->sin6_port);
	}
}

/* The destination activated connection id: watch it until it ends */
void release_watch(const uint8_t id[16], const struct tcpcp_info *info)
{
	uint8_t l[16], r[16];
	uint16_t lp, rp;
	int family = info->family == AF_INET ? 4 : 6;
	struct watch **p, *w;

	if (!rconf.release || !conf.gateway[0] ||
	    conf.redirect_mode == TCPCPD_REDIR_ADDRESS)
		return;
	sa_split(&info->local, l, &lp);
	sa_split(&info->remote, r, &rp);
	p = lookup(family, l, lp, r, rp);
	if (*p) { /* here before (a -> b -> a -> b): the newer move counts */
		memcpy((*p)->id, id, 16);
		(*p)->tw_since = 0;
		return;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		dlog(LOG_E, "release: out of memory; the gateway entry stays");
		return;
	}
	memcpy(w->id, id, 16);
	w->family = family;
	memcpy(w->laddr, l, 16);
	memcpy(w->raddr, r, 16);
	w->lport = lp;
	w->rport = rp;
	*p = w;
	n_watches++;
	if (!next_poll)
		next_poll = now_ms() + rconf.release_poll_ms;
}

static void seen(const struct inet_diag_msg *d)
{
	int family = d->idiag_family == AF_INET ? 4 : 6;
	uint8_t l[16] = { 0 }, r[16] = { 0 };
	struct watch *w;

	memcpy(l, d->id.idiag_src, family == 4 ? 4 : 16);
	memcpy(r, d->id.idiag_dst, family == 4 ? 4 : 16);
	w = *lookup(family, l, ntohs(d->id.idiag_sport), r,
		    ntohs(d->id.idiag_dport));
	if (w && (w->state < 0 || w->state == TCP_CLOSE))
		w->state = d->idiag_state;
}

/* One inet_diag dump of the family's TCP sockets; 0 or -errno */
static int dump(int af)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = { .nlmsg_len = sizeof(req),
			 .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			 .nlmsg_seq = 1 },
		.r = { .sdiag_family = (uint8_t)af,
		       .sdiag_protocol = IPPROTO_TCP,
		       .idiag_states = ~0u },
	};
	static char b[65536] __attribute__((aligned(8)));
	int fd, ret = 0;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		struct nlmsghdr *h = (struct nlmsghdr *)b;

		n = recv(fd, b, sizeof(b), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				ret = e->error ? e->error : -EIO;
				goto out;
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    h->nlmsg_len >=
				    NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
				seen(NLMSG_DATA(h));
		}
		if (!n)
			break;
	}
out:
	close(fd);
	return ret;
}

static void release_queue(struct watch *w, const char *why)
{
	char ids[33];

	dlog(LOG_I, "release: move %.8s: connection %s; releasing it at %s",
	     id_str(w->id, ids), why, conf.gateway);
	w->next = NULL;
	*rel_tail = w;
	rel_tail = &w->next;
	n_rel++;
}

static void poll_now(uint64_t now)
{
	bool v4 = false, v6 = false;
	unsigned int i;
	struct watch **p, *w;

	for (i = 0; i < HASH; i++)
		for (w = watches[i]; w; w = w->next) {
			w->state = -1;
			v4 |= w->family == 4;
			v6 |= w->family == 6;
		}
	if ((v4 && dump(AF_INET)) || (v6 && dump(AF_INET6))) {
		dlog(LOG_W, "release: sock_diag dump failed; trying again");
		return;
	}
	for (i = 0; i < HASH; i++)
		for (p = &watches[i]; (w = *p);) {
			if (w->state == TCP_TIME_WAIT) {
				if (!w->tw_since)
					w->tw_since = now;
				if (now - w->tw_since <
				    rconf.release_grace_ms) {
					p = &w->next;
					continue;
				}
			} else if (w->state >= 0 && w->state != TCP_CLOSE) {
				w->tw_since = 0;
				p = &w->next;
				continue;
			}
			*p = w->next;
			n_watches--;
			release_queue(w, w->state == TCP_TIME_WAIT ?
						 "in TIME_WAIT past the grace" :
						 "gone");
		}
}

/* --- the connection to the gateway --- */

static void cl_close(const char *why, bool retry)
{
	if (cl.ev.fd >= 0) {
		ev_del(&cl.ev);
		close(cl.ev.fd);
		cl.ev.fd = -1;
	}
	if (why)
		dlog(LOG_W, "release: gateway %s: %s; %u release(s) wait",
		     conf.gateway, why, n_rel);
	buf_free(&cl.rbuf);
	buf_free(&cl.wbuf);
	proto_wipe(&cl.sess);
	cl.state = C_IDLE;
	cl.inflight = 0;
	cl.deadline = 0;
	cl.retry_at = now_ms() + (retry ? RETRY_MS : 0);
}

static int cl_flush(void)
{
	while (cl.wbuf.len > cl.wbuf.off) {
		ssize_t n = send(cl.ev.fd, cl.wbuf.p + cl.wbuf.off,
				 cl.wbuf.len - cl.wbuf.off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		buf_consume(&cl.wbuf, (size_t)n);
	}
	return 0;
}

static void cl_kick(void)
{
	int ret = cl_flush();

	if (ret) {
		cl_close(strerror(-ret), true);
		return;
	}
	ev_mod(&cl.ev,
	       EPOLLIN | EPOLLRDHUP |
		       (cl.state == C_CONNECTING || cl.wbuf.len > cl.wbuf.off ?
				EPOLLOUT :
				0));
}

/* Send the next chunk of releases, or close when none is left */
static void cl_send(void)
{
	struct tcpcpd_msg m = { .type = TCPCPD_RELEASE };
	struct watch *w = rel_head;
	unsigned int i;

	if (!w) {
		cl_close(NULL, false);
		return;
	}
	for (i = 0; w && i < CHUNK; i++, w = w->next) {
		memcpy(m.id, w->id, 16);
		m.family = (uint8_t)w->family;
		memcpy(m.laddr, w->laddr, 16);
		memcpy(m.raddr, w->raddr, 16);
		m.lport = w->lport;
		m.rport = w->rport;
		if (proto_send(&cl.sess, &m, &cl.wbuf)) {
			cl_close("cannot encode RELEASE", true);
			return;
		}
	}
	cl.inflight = i;
	cl.deadline = now_ms() + conf.hello_timeout_ms;
	cl_kick();
}

static void cl_answer(const struct tcpcpd_msg *m)
{
	struct watch *w = rel_head;
	char ids[33];

	if (m->type != TCPCPD_REDIRECTED || !cl.inflight || !w ||
	    memcmp(w->id, m->id, 16)) {
		cl_close("answer out of place", true);
		return;
	}
	id_str(w->id, ids);
	if (m->err == ESTALE)
		dlog(LOG_I,
		     "release: move %.8s: the connection moved on since; the gateway keeps its newer entry",
		     ids);
	else if (m->err && m->err != ENOENT)
		dlog(LOG_W, "release: move %.8s: the gateway: %s", ids,
		     strerror(m->err));
	else
		dlog(LOG_I, "release: move %.8s: released%s", ids,
		     m->err ? " (the gateway had no entry)" : "");
	rel_head = w->next;
	if (!rel_head)
		rel_tail = &rel_head;
	n_rel--;
	free(w);
	if (!--cl.inflight)
		cl_send();
}

static void cl_read(void)
{
	struct tcpcpd_msg m;
	uint8_t tmp[4096];
	char why[160];
	ssize_t n;
	long flen;

	for (;;) {
		n = recv(cl.ev.fd, tmp, sizeof(tmp), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			cl_close(n ? strerror(errno) : "connection closed",
				 true);
			return;
		}
		if (buf_put(&cl.rbuf, tmp, (size_t)n)) {
			cl_close("out of memory", true);
			return;
		}
		while (cl.rbuf.len - cl.rbuf.off >= 4) {
			const uint8_t *f = cl.rbuf.p + cl.rbuf.off;

			flen = proto_frame_len(f);
			if (flen < 0 || flen > 4096) {
				cl_close("bad frame length", true);
				return;
			}
			if (cl.rbuf.len - cl.rbuf.off < (size_t)flen)
				break;
			if (proto_open(&cl.sess, f, (size_t)flen, &m, why,
				       sizeof(why))) {
				cl_close(why, true);
				return;
			}
			buf_consume(&cl.rbuf, (size_t)flen);
			if (m.type == TCPCPD_HELLO) {
				cl.state = C_READY;
				cl_send();
			} else {
				cl_answer(&m);
			}
			if (cl.state == C_IDLE)
				return;
		}
	}
}

static void cl_event(struct ev *ev, uint32_t events)
{
	int err = 0;
	socklen_t l = sizeof(err);

	(void)ev;
	if (cl.state == C_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(cl.ev.fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			cl_close(strerror(err), true);
			return;
		}
		cl.state = C_HELLO;
		if (proto_hello(&cl.sess, conf.name, &cl.wbuf)) {
			cl_close("out of memory", true);
			return;
		}
		cl_kick();
		return;
	}
	if (events & EPOLLOUT)
		cl_kick();
	if (cl.state != C_IDLE &&
	    (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		cl_read();
}

/* conf.gateway: HOST[:PORT] or [HOST6]:PORT */
static int gw_addr(struct sockaddr_storage *ss, socklen_t *len)
{
	char host[TCPCPD_DEST_LEN], port[8], *p;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;

	snprintf(host, sizeof(host), "%s", conf.gateway);
	snprintf(port, sizeof(port), "%u", conf.port);
	if (host[0] == '[') {
		p = strchr(host, ']');
		if (!p)
			return -EINVAL;
		if (p[1] == ':')
			snprintf(port, sizeof(port), "%s", p + 2);
		*p = '\0';
		memmove(host, host + 1, strlen(host));
	} else if ((p = strchr(host, ':')) && p == strrchr(host, ':')) {
		snprintf(port, sizeof(port), "%s", p + 1);
		*p = '\0';
	}
	if (getaddrinfo(host, port, &hints, &ai))
		return -EHOSTUNREACH;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void cl_connect(void)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	if (gw_addr(&ss, &sl)) {
		cl_close("address does not resolve", true);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 || proto_init(&cl.sess, conf.key, conf.key_len, true)) {
		if (fd >= 0)
			close(fd);
		cl.retry_at = now_ms() + RETRY_MS;
		return;
	}
	cl.ev.fd = fd;
	cl.ev.fn = cl_event;
	cl.state = C_CONNECTING;
	cl.deadline = now_ms() + conf.hello_timeout_ms;
	if ((connect(fd, (struct sockaddr *)&ss, sl) < 0 &&
	     errno != EINPROGRESS) ||
	    ev_add(&cl.ev, EPOLLOUT | EPOLLIN | EPOLLRDHUP))
		cl_close(strerror(errno), true);
}

static void upd(uint64_t t, uint64_t *next)
{
	if (t && t < *next)
		*next = t;
}

void release_timers(uint64_t now, uint64_t *next)
{
	if (n_watches && next_poll && now >= next_poll) {
		poll_now(now);
		next_poll = now + rconf.release_poll_ms;
	}
	if (!n_watches)
		next_poll = 0;
	if (cl.state != C_IDLE && cl.deadline && now >= cl.deadline)
		cl_close("no answer in time", true);
	if (n_rel && cl.state == C_IDLE && now >= cl.retry_at)
		cl_connect();
	upd(next_poll, next);
	if (cl.state != C_IDLE)
		upd(cl.deadline, next);
	else if (n_rel)
		upd(cl.retry_at > now ? cl.retry_at : now + 1, next);
}

/* SIGTERM: the moved connections live on; only forget them */
void release_stop(void)
{
	struct watch *w;

	if (n_watches || n_rel)
		dlog(LOG_W,
		     "release: stopping with %u connection(s) watched and %u release(s) unsent; their gateway entries stay",
		     n_watches, n_rel);
	cl_close(NULL, false);
	for (unsigned int i = 0; i < HASH; i++)
		while ((w = watches[i])) {
			watches[i] = w->next;
			free(w);
		}
	while ((w = rel_head)) {
		rel_head = w->next;
		free(w);
	}
	rel_tail = &rel_head;
	n_watches = n_rel = 0;
}
