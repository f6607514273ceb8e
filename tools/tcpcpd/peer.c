// SPDX-License-Identifier: GPL-2.0
/*
 * tcpcpd inter-daemon connections: listen, accept, connect, frame I/O and
 * the HELLO handshake.  Messages after HELLO go to move.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tcpcpd.h"

static struct ev listen_ev = { .fd = -1 };
static struct pconn *pconns;
static struct pconn *dead; /* closed, freed after the event batch */
static struct pconn *pushq; /* frames queued by peer_queue, by qnext */

static unsigned int n_pconns;

static void pc_link(struct pconn *pc)
{
	n_pconns++;
	pc->next = pconns;
	pc->prev = NULL;
	if (pconns)
		pconns->prev = pc;
	pconns = pc;
}

static void pc_unlink(struct pconn *pc)
{
	n_pconns--;
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		pconns = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
}

static void pc_event(struct ev *ev, uint32_t events);

static struct pconn *pc_new(int fd, bool initiator,
			    const struct sockaddr_storage *ss)
{
	struct pconn *pc = calloc(1, sizeof(*pc));
	int one = 1;

	if (!pc)
		return NULL;
	pc->ev.fd = fd;
	pc->ev.fn = pc_event;
	pc->initiator = initiator;
	memcpy(&pc->ss, ss, sizeof(pc->ss));
	pc->sl = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
	addr_str(ss, pc->addr, sizeof(pc->addr));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (proto_init(&pc->sess, conf.key, conf.key_len, initiator)) {
		free(pc);
		return NULL;
	}
	pc_link(pc);
	return pc;
}

static uint32_t pc_events(struct pconn *pc)
{
	uint32_t e = EPOLLIN | EPOLLRDHUP;

	if (pc->state == PC_CONNECTING || pc->wbuf.len > pc->wbuf.off)
		e |= EPOLLOUT;
	return e;
}

void peer_close(struct pconn *pc, const char *why)
{
	struct move *m = pc->move;
	/* an initiator dropped during HELLO: the destination did not accept our key */
	int err = pc->initiator && pc->state == PC_HELLO ? EACCES :
							   ECONNABORTED;

	if (pc->state == PC_CLOSED)
		return;
	dlog(LOG_D, "peer %s: closed (%s)", pc->addr, why);
	pc->state = PC_CLOSED;
	ev_del(&pc->ev);
	close(pc->ev.fd);
	pc->ev.fd = -1;
	pc_unlink(pc);
	buf_free(&pc->rbuf);
	buf_free(&pc->wbuf);
	proto_wipe(&pc->sess);
	pc->move = NULL;
	pc->next = dead;
	dead = pc;
	gateway_peer_gone(pc);
	if (m)
		move_peer_lost(m, pc, err, why);
}

void peer_reap(void)
{
	while (dead) {
		struct pconn *pc = dead;

		dead = pc->next;
		free(pc);
	}
}

static int pc_flush(struct pconn *pc)
{
	while (pc->wbuf.len > pc->wbuf.off) {
		ssize_t n = send(pc->ev.fd, pc->wbuf.p + pc->wbuf.off,
				 pc->wbuf.len - pc->wbuf.off,
				 MSG_NOSIGNAL | (pc->more ? MSG_MORE : 0));

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -errno;
		}
		buf_consume(&pc->wbuf, (size_t)n);
	}
	return 0;
}

/* Send what is queued; close if asked to and done.  Returns false if closed. */
static bool pc_kick(struct pconn *pc)
{
	int ret = pc_flush(pc);

	if (ret) {
		peer_close(pc, strerror(-ret));
		return false;
	}
	if (pc->closing && pc->wbuf.len == pc->wbuf.off) {
		peer_close(pc, "done");
		return false;
	}
	ev_mod(&pc->ev, pc_events(pc));
	return true;
}

/*
 * An authenticated connection to another daemon outlives its move: the
 * next move to the same daemon takes it (peer_connect), without a new TCP
 * handshake and HELLO, one move at a time.  Kept idle for half the
 * hello_timeout at most (the other side drops connections that carry no
 * move after hello_timeout), 2 s at most.
 */
void peer_release(struct pconn *pc)
{
	uint32_t idle = conf.hello_timeout_ms / 2 < 2000 ?
				conf.hello_timeout_ms / 2 :
				2000;

	if (!pc->initiator || pc->state != PC_READY || pc->closing || !idle) {
		peer_finish(pc);
		return;
	}
	pc->move = NULL;
	pc->idle = true;
	pc->notify = false;
	pc->deadline = now_ms() + idle;
}

void peer_finish(struct pconn *pc)
{
	pc->idle = false;
	pc->move = NULL;
	pc->closing = true;
	if (pc->state != PC_CLOSED)
		pc_kick(pc);
}

bool peer_flushed(const struct pconn *pc)
{
	return pc->state != PC_CLOSED && pc->wbuf.len == pc->wbuf.off;
}

/* Encode msg as a frame at the end of pc's write buffer */
static int pc_encode(struct pconn *pc, const struct tcpcpd_msg *msg,
		     const char *verb)
{
	int ret;

	if (pc->state != PC_READY)
		return -ENOTCONN;
	ret = proto_send(&pc->sess, msg, &pc->wbuf);
	if (ret)
		return ret;
	dlog(LOG_D, "peer %s: %s %s", pc->addr, verb,
	     proto_type_name(msg->type));
	return 0;
}

int peer_send(struct pconn *pc, const struct tcpcpd_msg *msg)
{
	int ret = pc_encode(pc, msg, "sent");

	if (ret)
		return ret;
	return pc_kick(pc) ? 0 : -ECONNABORTED;
}

/*
 * Encode the frame now, send it when the event batch is done: the answers
 * a gateway gives to many RELEASEs of one connection at once leave in one
 * send.  For frames nothing else waits on in this batch.
 */
int peer_queue(struct pconn *pc, const struct tcpcpd_msg *msg)
{
	int ret = pc_encode(pc, msg, "queued");

	if (ret)
		return ret;
	if (!pc->queued) {
		pc->queued = true;
		pc->qnext = pushq;
		pushq = pc;
	}
	return 0;
}

/* Before peer_reap: a closed connection is still there, and skipped */
void peer_push(void)
{
	while (pushq) {
		struct pconn *pc = pushq;

		pushq = pc->qnext;
		pc->queued = false;
		if (pc->state != PC_CLOSED)
			pc_kick(pc);
	}
}

/*
 * Queue the frame in the kernel with MSG_MORE: it leaves with the next
 * frame, in one segment (the caller sends that one at once).  A daemon
 * that dies in between still sends it: closing the socket pushes
 * everything queued before the FIN.
 */
int peer_send_more(struct pconn *pc, const struct tcpcpd_msg *msg)
{
	int ret;

	pc->more = true;
	ret = peer_send(pc, msg);
	pc->more = false;
	return ret;
}

static void pc_reject(struct pconn *pc, int err, const char *why)
{
	if (err == -EACCES)
		stats.auth_failures++;
	else
		stats.proto_errors++;
	dlog(LOG_W, "peer %s: %s: %s; connection dropped", pc->addr,
	     err == -EACCES ? "authentication failed" : "protocol error", why);
	peer_close(pc, why);
}

/* One complete frame: returns false if pc is gone */
static bool pc_frame(struct pconn *pc, const uint8_t *f, size_t len)
{
	struct tcpcpd_msg msg;
	char why[160];
	int ret;

	ret = proto_open(&pc->sess, f, len, &msg, why, sizeof(why));
	if (ret) {
		pc_reject(pc, ret, why);
		return false;
	}
	if (msg.type == TCPCPD_HELLO) {
		dlog(LOG_I, "peer %s: authenticated as \"%s\"", pc->addr,
		     pc->sess.peer_name);
		if (!pc->initiator) {
			pc->deadline = 0;
			if (proto_hello(&pc->sess, conf.name, &pc->wbuf)) {
				peer_close(pc, "out of memory");
				return false;
			}
			pc->state = PC_READY;
			/* the origin's first message proves it knows the key too */
			pc->deadline = now_ms() + conf.hello_timeout_ms;
			return pc_kick(pc);
		}
		pc->state = PC_READY;
		if (pc->move)
			move_peer_connected(pc->move, pc);
		return pc->state != PC_CLOSED;
	}
	dlog(LOG_D, "peer %s: got %s", pc->addr, proto_type_name(msg.type));
	if (!pc->initiator && msg.type == TCPCPD_PREPARE)
		pc->deadline = 0;
	if (!pc->initiator &&
	    (msg.type == TCPCPD_REDIRECT || msg.type == TCPCPD_UNREDIRECT))
		pc->deadline = now_ms() + 60000; /* the origin may undo */
	move_peer_msg(pc, &msg);
	return pc->state != PC_CLOSED;
}

static void pc_read(struct pconn *pc)
{
	uint8_t tmp[65536];
	ssize_t n;
	long flen;

	for (;;) {
		n = recv(pc->ev.fd, tmp, sizeof(tmp), 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			peer_close(pc, strerror(errno));
			return;
		}
		if (n == 0) {
			size_t have = pc->rbuf.len - pc->rbuf.off;

			if (have) {
				stats.proto_errors++;
				dlog(LOG_W,
				     "peer %s: truncated frame (%zu bytes, connection closed mid-frame); dropped",
				     pc->addr, have);
			}
			pc->eof = true;
			peer_close(pc, "closed by peer");
			return;
		}
		if (buf_put(&pc->rbuf, tmp, (size_t)n)) {
			peer_close(pc, "out of memory");
			return;
		}
		while (pc->rbuf.len - pc->rbuf.off >= 4) {
			const uint8_t *f = pc->rbuf.p + pc->rbuf.off;

			flen = proto_frame_len(f);
			/* nothing but a HELLO before the peer has proven the key */
			if (flen > 0 && !pc->sess.established &&
			    flen > TCPCPD_HELLO_FRAME)
				flen = -EMSGSIZE;
			if (flen < 0) {
				uint32_t l;

				memcpy(&l, f, 4);
				stats.proto_errors++;
				dlog(LOG_W,
				     "peer %s: %s frame length %u (limits %u..%u); connection dropped",
				     pc->addr,
				     flen == -EMSGSIZE ? "oversized" : "bad",
				     ntohl(l), TCPCPD_MIN_FRAME,
				     pc->sess.established ? TCPCPD_MAX_FRAME :
							    TCPCPD_HELLO_FRAME);
				peer_close(pc, "bad frame length");
				return;
			}
			if (pc->rbuf.len - pc->rbuf.off < (size_t)flen)
				break;
			if (!pc_frame(pc, f, (size_t)flen) ||
			    pc->state == PC_CLOSED)
				return;
			buf_consume(&pc->rbuf, (size_t)flen);
		}
		/* a short read emptied the socket; epoll (level-triggered)
		 * reports what comes next, an end of file included
		 */
		if ((size_t)n < sizeof(tmp))
			return;
	}
}

static void pc_event(struct ev *ev, uint32_t events)
{
	struct pconn *pc = (struct pconn *)ev;
	int err = 0;
	socklen_t l = sizeof(err);

	if (pc->state == PC_CLOSED)
		return;
	if (pc->state == PC_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(ev->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			dlog(LOG_W, "peer %s: connect: %s", pc->addr,
			     strerror(err));
			peer_close(pc, strerror(err));
			return;
		}
		pc->state = PC_HELLO;
		if (proto_hello(&pc->sess, conf.name, &pc->wbuf)) {
			peer_close(pc, "out of memory");
			return;
		}
		pc_kick(pc);
		return;
	}
	if (events & EPOLLOUT) {
		if (!pc_kick(pc))
			return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		pc_read(pc);
}

static void accept_event(struct ev *ev, uint32_t events)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof(ss);
	struct pconn *pc;
	int fd;

	(void)events;
	for (;;) {
		fd = accept4(ev->fd, (struct sockaddr *)&ss, &l,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				dlog(LOG_W, "accept: %s", strerror(errno));
			return;
		}
		/* unauthenticated connections are bounded too */
		if (n_pconns >= 2 * conf.max_moves + 64) {
			char a[80];

			stats.proto_errors++;
			dlog(LOG_W,
			     "peer %s: too many daemon connections (%u); refused",
			     addr_str(&ss, a, sizeof(a)), n_pconns);
			close(fd);
			l = sizeof(ss);
			continue;
		}
		pc = pc_new(fd, false, &ss);
		if (!pc) {
			close(fd);
			continue;
		}
		pc->state = PC_HELLO;
		pc->deadline = now_ms() + conf.hello_timeout_ms;
		dlog(LOG_D, "peer %s: connection accepted", pc->addr);
		if (ev_add(&pc->ev, pc_events(pc)))
			peer_close(pc, "epoll");
		l = sizeof(ss);
	}
}

/* "*", "ADDR", "ADDR:PORT", "[V6]:PORT" -> sockaddr */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len)
{
	char host[128], *p;
	unsigned int port = conf.port;
	struct sockaddr_in6 *sin6 = (void *)ss;
	struct sockaddr_in *sin = (void *)ss;

	snprintf(host, sizeof(host), "%s", s);
	if (host[0] == '[') {
		p = strchr(host, ']');
		if (!p)
			return -EINVAL;
		*p++ = '\0';
		memmove(host, host + 1, strlen(host));
		if (*p == ':')
			port = (unsigned int)atoi(p + 1);
		else if (*p)
			return -EINVAL;
	} else if ((p = strrchr(host, ':')) && strchr(host, ':') == p) {
		*p = '\0';
		port = (unsigned int)atoi(p + 1);
	}
	if (!port || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (!strcmp(host, "*") || !*host) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	return 0;
}

int peer_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char a[80];
	int fd, one = 1, zero = 0, ret;

	if (!strcmp(conf.listen, "none"))
		return 0;
	ret = parse_listen(conf.listen, &ss, &len);
	if (ret) {
		dlog(LOG_E,
		     "listen address \"%s\" is wrong; use ADDR[:PORT], [ADDR6]:PORT, * or none",
		     conf.listen);
		return ret;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
		ret = -errno;
		dlog(LOG_E, "listen on %s: %s", addr_str(&ss, a, sizeof(a)),
		     strerror(errno));
		close(fd);
		return ret;
	}
	listen_ev.fd = fd;
	listen_ev.fn = accept_event;
	dlog(LOG_I, "listening for daemons on %s", addr_str(&ss, a, sizeof(a)));
	return ev_add(&listen_ev, EPOLLIN);
}

void peer_stop(void)
{
	if (listen_ev.fd >= 0) {
		ev_del(&listen_ev);
		close(listen_ev.fd);
		listen_ev.fd = -1;
	}
}

struct pconn *peer_connect(const struct sockaddr_storage *ss, socklen_t len,
			   struct move *m)
{
	struct pconn *pc;
	int fd;

	(void)len;
	for (pc = pconns; pc; pc = pc->next) {
		if (!pc->idle || pc->state != PC_READY || pc->closing ||
		    pc->ss.ss_family != ss->ss_family ||
		    memcmp(&pc->ss, ss, pc->sl))
			continue;
		/* the move learns it from the timers, after it stored pc */
		pc->idle = false;
		pc->move = m;
		pc->notify = true;
		pc->deadline = now_ms();
		dlog(LOG_D, "peer %s: connection taken again", pc->addr);
		return pc;
	}
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return NULL;
	pc = pc_new(fd, true, ss);
	if (!pc) {
		close(fd);
		return NULL;
	}
	pc->move = m;
	pc->state = PC_CONNECTING;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 &&
	    errno != EINPROGRESS) {
		dlog(LOG_W, "peer %s: connect: %s", pc->addr, strerror(errno));
		pc->move = NULL;
		peer_close(pc, "connect failed");
		return NULL;
	}
	if (ev_add(&pc->ev, pc_events(pc))) {
		pc->move = NULL;
		peer_close(pc, "epoll");
		return NULL;
	}
	return pc;
}

void peer_timers(uint64_t now, uint64_t *next)
{
	struct pconn *pc, *n;

	for (pc = pconns; pc; pc = n) {
		n = pc->next;
		if (!pc->deadline)
			continue;
		if (pc->deadline <= now && pc->notify) {
			pc->notify = false;
			pc->deadline = 0;
			if (pc->move)
				move_peer_connected(pc->move, pc);
			continue;
		}
		if (pc->deadline <= now && pc->idle) {
			peer_close(pc, "idle");
			continue;
		}
		if (pc->deadline <= now) {
			if (pc->state == PC_HELLO || !pc->move) {
				stats.proto_errors++;
				dlog(LOG_W,
				     "peer %s: no %s within %u ms; connection dropped",
				     pc->addr,
				     pc->state == PC_HELLO ? "HELLO" :
							     "request",
				     conf.hello_timeout_ms);
			}
			peer_close(pc, "timeout");
		} else if (pc->deadline < *next) {
			*next = pc->deadline;
		}
	}
}

void peer_close_all(void)
{
	while (pconns)
		peer_close(pconns, "shutdown");
}
