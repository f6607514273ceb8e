// SPDX-License-Identifier: GPL-2.0
/*
 * The origin side of a move: dump, PREPARE, redirect (hook or gateway),
 * commit, and the roll-back before the commit point.  See move.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "move.h"
#include "redir.h" /* REDIR: address mode */

void origin_finish(struct move *m, int err, int phase, const char *why)
{
	m->res.err = err;
	m->res.phase = (uint32_t)phase;
	memcpy(m->res.id, m->id, 16);
	if (why != m->res.msg)
		snprintf(m->res.msg, sizeof(m->res.msg), "%s", why);
	if (err) {
		stats.moves_out_failed++;
		dlog(m->res.committed ? LOG_E : LOG_W,
		     "move %.8s to %s: %s in %s: %s%s", m->ids, m->dest,
		     strerror(err), ctl_phase_name(phase), why,
		     m->res.committed ? "" : "; the connection goes on here");
	} else {
		stats.moves_out_ok++;
		dlog(LOG_I, "move %.8s to %s: done in %u us", m->ids, m->dest,
		     m->res.t_us[PHASE_DONE]);
	}
	local_result(m->lc, m->req, &m->res);
	move_free(m);
}

void finish_rollback(struct move *m)
{
	int ret = tcpcp_unisolate(m->sock);

	addr_origin_back(m); /* REDIR: address mode */
	if (ret)
		dlog(LOG_E, "move %.8s: unisolate: %s", m->ids, strerror(-ret));
	if (m->pc && m->pc->state == PC_READY && m->state != M_CONNECTING &&
	    !m->pc_quiet) {
		struct tcpcpd_msg a = { .type = TCPCPD_ABORT,
					.err = m->res.err };
		struct pconn *pc = m->pc;

		/* detach first: a failing send must not come back to this move */
		m->pc = NULL;
		pc->move = NULL;
		memcpy(a.id, m->id, 16);
		snprintf(a.text, sizeof(a.text), "%s", m->res.msg);
		/*
		 * The destination answers ABORT with nothing: keep the
		 * connection, unless a PREPARED may still be on its way.
		 */
		if (!peer_send(pc, &a)) {
			if (m->prepared_at)
				peer_release(pc);
			else
				peer_finish(pc);
		}
	}
	origin_finish(m, m->res.err, (int)m->res.phase, m->res.msg);
}

char **hook_env(struct move *m, const char *phase, char *store, size_t len)
{
	static char *env[16];
	char la[80], ra[80], *p = store, *lp, *rp;
	int n = 0;

	addr_str(&m->info.local, la, sizeof(la));
	addr_str(&m->info.remote, ra, sizeof(ra));
	lp = strrchr(la, ':');
	rp = strrchr(ra, ':');
	*lp++ = '\0';
	*rp++ = '\0';
#define ADD(fmt, ...)                                       \
	do {                                                \
		int w = snprintf(p, len, fmt, __VA_ARGS__); \
		if (w < 0 || (size_t)w >= len)              \
			break;                              \
		env[n++] = p;                               \
		p += w + 1;                                 \
		len -= (size_t)w + 1;                       \
	} while (0)
	ADD("TCPCP_PHASE=%s", phase);
	ADD("TCPCP_MOVE_ID=%s", m->ids);
	ADD("TCPCP_FAMILY=%s", m->info.family == AF_INET ? "inet" : "inet6");
	ADD("TCPCP_LOCAL_ADDR=%s",
	    la[0] == '[' ? (la[strlen(la) - 1] = 0, la + 1) : la);
	ADD("TCPCP_LOCAL_PORT=%s", lp);
	ADD("TCPCP_REMOTE_ADDR=%s",
	    ra[0] == '[' ? (ra[strlen(ra) - 1] = 0, ra + 1) : ra);
	ADD("TCPCP_REMOTE_PORT=%s", rp);
	ADD("TCPCP_ORIGIN=%s", conf.name);
	ADD("TCPCP_DESTINATION=%s", m->dest);
	ADD("TCPCP_DESTINATION_ADDR=%s", m->dest_addr);
	ADD("TCPCP_DESTINATION_NAME=%s", m->pc ? m->pc->sess.peer_name : "");
	ADD("PATH=%s",
	    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
#undef ADD
	env[n] = NULL;
	return env;
}

static void undo_done(void *arg, int status)
{
	struct move *m = arg;

	m->hook = NULL;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		dlog(LOG_E,
		     "move %.8s: undo hook failed (status 0x%x); the network may still point to %s",
		     m->ids, status, m->dest);
	finish_rollback(m);
}

/* Origin, before the commit point: undo everything, the connection stays here */
void rollback(struct move *m, int err, int phase, const char *why)
{
	char store[2048];
	char *argv[3];
	int ret;

	m->res.err = err;
	m->res.phase = (uint32_t)phase;
	snprintf(m->res.msg, sizeof(m->res.msg), "%s", why);
	if (m->hook) {
		child_forget(m->hook);
		child_kill(m->hook);
		m->hook = NULL;
	}
	if (m->redirected && conf.gateway[0]) {
		struct tcpcpd_msg u = { .type = TCPCPD_UNREDIRECT };

		if (m->gw && m->gw->state == PC_READY) {
			memcpy(u.id, m->id, 16);
			m->state = M_UNDOING;
			m->deadline = now_ms() + conf.redirect_timeout_ms;
			m->gw_pending++;
			ret = peer_send(m->gw, &u);
			/* -ECONNABORTED: the loss of the gateway finished the move */
			if (!ret || ret == -ECONNABORTED)
				return;
		}
		dlog(LOG_E,
		     "move %.8s: cannot undo the redirect at the gateway %s",
		     m->ids, conf.gateway);
	} else if (m->redirected && conf.hook[0]) {
		argv[0] = conf.hook;
		argv[1] = "undo";
		argv[2] = NULL;
		m->state = M_UNDOING;
		m->deadline = now_ms() + conf.redirect_timeout_ms;
		m->hook = child_spawn(argv,
				      hook_env(m, "undo", store, sizeof(store)),
				      -1, -1, undo_done, m);
		if (m->hook)
			return;
		dlog(LOG_E, "move %.8s: cannot run the undo hook", m->ids);
	}
	finish_rollback(m);
}

/* The next try of COMMIT, at the latest when the origin gives up */
static void commit_retry_at(struct move *m, uint64_t ms)
{
	uint64_t t = now_ms() + ms;

	m->deadline = t < m->commit_end ? t : m->commit_end;
}

static void send_commit(struct move *m)
{
	struct tcpcpd_msg c = { .type = TCPCPD_COMMIT };
	int ret;

	memcpy(c.id, m->id, 16);
	m->commits++;
	/* a connection that stays up delivers COMMIT: wait for the answer */
	m->deadline = m->commit_end;
	if (m->commits == 1 && fault("lose-commit")) {
		dlog(LOG_W, "move %.8s: fault injected: COMMIT lost", m->ids);
		peer_close(m->pc, "fault injected: COMMIT lost");
		return;
	}
	m->commit_pc = m->pc;
	ret = peer_send(m->pc, &c);
	/* -ECONNABORTED: move_peer_lost has scheduled the next try */
	if (ret && ret != -ECONNABORTED)
		commit_retry_at(m, 100);
	if (!ret)
		dlog(m->commits > 1 ? LOG_I : LOG_D, "move %.8s: COMMIT sent%s",
		     m->ids, m->commits > 1 ? " again" : "");
	if (!ret && fault("die-after-commit")) {
		dlog(LOG_W, "move %.8s: fault injected: killed after COMMIT",
		     m->ids);
		raise(SIGKILL);
	}
}

/*
 * After the commit the origin keeps its endpoint isolated for LINGER_MS
 * more, then discards it.  Segments of the peer that the network still
 * delivers here meanwhile (sent before the redirect and overtaken on the
 * way by the gateway's answer, or held in a queue) are dropped by the
 * isolation, where a discarded endpoint would leave them to this host's
 * listener on the port, which answers them with a reset.  The endpoint is
 * isolated since the dump: it transmits nothing, and closing it is silent.
 * Not longer than that: a peer that reuses the port (tcp_tw_reuse allows
 * it tcp_tw_reuse_delay, 1 s, after the old connection's last segment;
 * before Linux 6.14 at the next second) must find the tuple free, or the
 * lingering endpoint drops its SYN and it waits a second to try again.
 */
#define LINGER_MS 500
static struct lingering {
	int fd;
	uint64_t until;
} * lq;
static size_t lq_len, lq_cap;

static void linger_end(int fd)
{
	int ret = tcpcp_discard(fd);

	if (ret)
		dlog(LOG_E, "discard after the commit: %s (closed isolated)",
		     strerror(-ret));
	close(fd);
}

static void linger_add(int fd)
{
	struct lingering *n;

	if (lq_len == lq_cap) {
		n = realloc(lq, (lq_cap ? 2 * lq_cap : 64) * sizeof(*lq));
		if (!n) {
			linger_end(fd);
			return;
		}
		lq = n;
		lq_cap = lq_cap ? 2 * lq_cap : 64;
	}
	lq[lq_len].fd = fd;
	lq[lq_len++].until = now_ms() + LINGER_MS;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr,
			       sizeof(x->sin6_addr));
	}
	return false;
}

/*
 * A connection coming back here while its old endpoint still lingers:
 * discard that one now, or it would hold the tuple the new one needs.
 */
void linger_drop(const struct sockaddr_storage *local,
		 const struct sockaddr_storage *remote)
{
	struct sockaddr_storage l, r;
	socklen_t ll, rl;
	size_t k;

	for (k = 0; k < lq_len; k++) {
		ll = rl = sizeof(l);
		if (getsockname(lq[k].fd, (struct sockaddr *)&l, &ll) ||
		    getpeername(lq[k].fd, (struct sockaddr *)&r, &rl) ||
		    !same_addr(&l, local) || !same_addr(&r, remote))
			continue;
		linger_end(lq[k].fd);
		memmove(lq + k, lq + k + 1, (lq_len - k - 1) * sizeof(*lq));
		lq_len--;
		return;
	}
}

/* In deadline order (one LINGER_MS for all): discard the expired */
void linger_timers(uint64_t now, uint64_t *next)
{
	size_t k = 0;

	while (k < lq_len && (lq[k].until <= now || stopping))
		linger_end(lq[k++].fd);
	if (k) {
		memmove(lq, lq + k, (lq_len - k) * sizeof(*lq));
		lq_len -= k;
	}
	if (lq_len && lq[0].until < *next)
		*next = lq[0].until;
}

/*
 * The destination promised (COMMITTED): from here on the origin never
 * transmits for the connection, and never takes it back.  Until then its
 * endpoint stayed isolated, silent, ready to roll back.
 */
void origin_discard(struct move *m)
{
	if (m->res.committed)
		return;
	m->res.committed = 1;
	if (m->sock < 0)
		return;
	linger_add(m->sock); /* discarded LINGER_MS later */
	m->sock = -1;
}

/* Roll back after COMMIT: only while the destination surely did not promise */
static bool rollback_after_commit(struct move *m, int err, const char *why)
{
	if (m->res.committed || m->doubt || m->sock < 0)
		return false;
	m->commit_pc = NULL;
	dlog(LOG_W,
	     "move %.8s: %s: the destination did not activate; rolling back",
	     m->ids, why);
	rollback(m, err, PHASE_ACTIVATE, why);
	return true;
}

/*
 * The connection pc to the destination is gone after COMMIT (move.c's
 * move_peer_lost).  A clean end (FIN, everything it sent read) of the
 * connection that carried COMMIT, without COMMITTED on it, proves that the
 * destination did not promise, and will not: its daemon is gone (or
 * dropped the connection), and only a COMMIT makes it activate.  Roll
 * back then, at once: the network still points to the destination, whose
 * host answers the peer's next segment with a reset once the held
 * endpoint is gone.  Any other end leaves the doubt: COMMIT goes again.
 */
void commit_lost(struct move *m, struct pconn *pc)
{
	if (pc != m->commit_pc)
		return;
	m->commit_pc = NULL;
	if (m->res.committed)
		return;
	if (!pc->eof) {
		m->doubt = true;
		return;
	}
	rollback_after_commit(
		m, ECONNABORTED,
		"destination lost before it promised to activate");
}

/* ACTIVATED after COMMIT */
void commit_answer(struct move *m, const struct tcpcpd_msg *msg)
{
	int err = msg->err > 0 ? msg->err : msg->err ? EPROTO : 0;

	m->pc_quiet =
		true; /* the last answer: the connection can serve again */
	if (!m->res.committed) {
		/* no COMMITTED: the answer to a COMMIT sent again */
		if (err == ECANCELED &&
		    rollback_after_commit(
			    m, ECANCELED,
			    "destination discarded the endpoint unactivated"))
			return;
		if (err == ENOENT &&
		    rollback_after_commit(m, ENOENT,
					  "destination does not know the move"))
			return;
		origin_discard(m);
	}
	stamp(m, PHASE_ACTIVATE);
	stamp(m, PHASE_DONE);
	origin_finish(m, err, err ? PHASE_ACTIVATE : PHASE_DONE,
		      err ? "destination could not activate or deliver" :
			    "moved");
}

/*
 * After the commit point the origin owns nothing but the duty to deliver
 * COMMIT: until commit_timeout it sends it again on a new connection
 * whenever the connection is lost (after 50 ms, then 100, 200 .. 1000 ms
 * between tries).  The destination answers a COMMIT for a move it already
 * finished with the same outcome (dest_recommit).
 */
void commit_resend(struct move *m)
{
	unsigned int backoff;

	if (now_ms() >= m->commit_end || m->pc) {
		/* a COMMIT possibly delivered and unanswered: no roll-back */
		if (m->commit_pc)
			m->doubt = true;
		if (rollback_after_commit(m, ETIMEDOUT,
					  "destination never received COMMIT"))
			return;
		origin_discard(m);
		origin_finish(
			m, ETIMEDOUT, PHASE_ACTIVATE,
			"committed, but the destination did not confirm activation");
		return;
	}
	m->tries++;
	dlog(LOG_W,
	     "move %.8s: connecting to %s again to resend COMMIT (try %u)",
	     m->ids, m->dest, m->tries);
	m->pc = peer_connect(&m->dest_ss, m->dest_sl, m);
	backoff = m->tries < 5 ? 50U << m->tries : 1000;
	commit_retry_at(m,
			m->pc ? (uint64_t)(m->commit_end - now_ms()) : backoff);
}

void commit(struct move *m)
{
	uint64_t elapsed = now_ms() - m->prepared_at;
	uint32_t margin = m->hold_ms / 4 < 1000 ? m->hold_ms / 4 : 1000;

	if (elapsed + margin >= m->hold_ms) {
		rollback(m, ETIMEDOUT, PHASE_REDIRECT,
			 "redirect outlasted the destination's hold time");
		return;
	}
	/* a destination known to be gone cannot take over: stay here */
	if (!m->pc || m->pc->state != PC_READY) {
		rollback(m, ECONNABORTED, PHASE_REDIRECT,
			 "connection to the destination lost before commit");
		return;
	}
	/*
	 * COMMIT: the endpoint here stays isolated (silent) until the
	 * destination promises to activate (COMMITTED); origin_discard then.
	 */
	stamp(m, PHASE_COMMIT);
	m->state = M_COMMITTED;
	m->commit_end = now_ms() + conf.commit_timeout_ms;
	send_commit(m);
}

static void redirect_done(void *arg, int status)
{
	struct move *m = arg;
	char why[80];

	m->hook = NULL;
	if (m->state != M_REDIRECTING)
		return;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(why, sizeof(why), "redirect hook failed (status 0x%x)",
			 status);
		rollback(m, EHOSTUNREACH, PHASE_REDIRECT, why);
		return;
	}
	stamp(m, PHASE_REDIRECT);
	commit(m);
}

static int resolve(const char *dest, struct sockaddr_storage *ss,
		   socklen_t *len);

/* Ask the gateway daemon; the answer comes as REDIRECTED */
static void redirect_gateway(struct move *m)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	/* REDIR: address mode asks the destination's daemon (addr.c) */
	int ret = addr_target(m, &ss, &sl) ? 0 :
					     resolve(conf.gateway, &ss, &sl);

	if (ret) {
		rollback(m, -ret, PHASE_REDIRECT, "gateway address is wrong");
		return;
	}
	m->state = M_REDIRECTING;
	m->deadline = now_ms() + conf.redirect_timeout_ms;
	m->gw = peer_connect(&ss, sl, m);
	if (!m->gw)
		rollback(m, EHOSTUNREACH, PHASE_REDIRECT,
			 "cannot connect to the gateway");
}

static void send_redirect(struct move *m)
{
	struct tcpcpd_msg r = { .type = TCPCPD_REDIRECT };
	const struct sockaddr_in *l4 = (const void *)&m->info.local;
	const struct sockaddr_in *r4 = (const void *)&m->info.remote;
	const struct sockaddr_in6 *l6 = (const void *)&m->info.local;
	const struct sockaddr_in6 *r6 = (const void *)&m->info.remote;
	int ret;

	memcpy(r.id, m->id, 16);
	r.mode = (uint8_t)conf.redirect_mode;
	if (m->info.family != m->dest_ss.ss_family) {
		rollback(
			m, EAFNOSUPPORT, PHASE_REDIRECT,
			"the destination's address is not of the connection's family");
		return;
	}
	if (m->info.family == AF_INET) {
		r.family = 4;
		memcpy(r.laddr, &l4->sin_addr, 4);
		memcpy(r.raddr, &r4->sin_addr, 4);
		memcpy(r.via,
		       &((const struct sockaddr_in *)&m->dest_ss)->sin_addr, 4);
	} else {
		r.family = 6;
		memcpy(r.laddr, &l6->sin6_addr, 16);
		memcpy(r.raddr, &r6->sin6_addr, 16);
		memcpy(r.via,
		       &((const struct sockaddr_in6 *)&m->dest_ss)->sin6_addr,
		       16);
	}
	r.lport = ntohs(l4->sin_port);
	r.rport = ntohs(r4->sin_port);
	m->redirected = true;
	m->gw_pending = 1;
	ret = peer_send(m->gw, &r);
	if (ret && ret != -ECONNABORTED)
		rollback(m, -ret, PHASE_REDIRECT, "cannot send REDIRECT");
}

void redirect(struct move *m)
{
	char store[2048];
	char *argv[3] = { conf.hook, "redirect", NULL };

	if (conf.gateway[0]) {
		redirect_gateway(m);
		return;
	}
	if (!conf.hook[0]) {
		stamp(m, PHASE_REDIRECT);
		commit(m);
		return;
	}
	m->state = M_REDIRECTING;
	m->deadline = now_ms() + conf.redirect_timeout_ms;
	m->redirected = true;
	m->hook = child_spawn(argv,
			      hook_env(m, "redirect", store, sizeof(store)), -1,
			      -1, redirect_done, m);
	if (!m->hook)
		rollback(m, ECHILD, PHASE_REDIRECT,
			 "cannot run the redirect hook");
}

/* HOST[:PORT] or [HOST6]:PORT */
static int resolve(const char *dest, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	char host[TCPCPD_DEST_LEN], port[8], *p;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int ret;

	snprintf(host, sizeof(host), "%s", dest);
	snprintf(port, sizeof(port), "%u", conf.port);
	if (host[0] == '[') {
		p = strchr(host, ']');
		if (!p || (p[1] && p[1] != ':'))
			return -EINVAL;
		if (p[1] == ':')
			snprintf(port, sizeof(port), "%s", p + 2);
		*p = '\0';
		memmove(host, host + 1, strlen(host));
	} else if ((p = strchr(host, ':')) && p == strrchr(host, ':')) {
		snprintf(port, sizeof(port), "%s", p + 1);
		*p = '\0';
	}
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret)
		return ret == EAI_NONAME ? -EHOSTUNREACH : -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/*
 * The queue: at most max_inflight moves per destination are past the dump
 * at a time; the others wait here, their connection untouched and still
 * running at the origin, so that their timeouts start only when their
 * steps start and a burst of moves does not isolate every connection at
 * once.
 */
static struct move *q_head, *q_tail;
static struct dslot *dslots;
bool pump_pending;

static struct dslot *dslot_get(const struct sockaddr_storage *ss, socklen_t sl)
{
	struct dslot *d;

	for (d = dslots; d; d = d->next)
		if (d->sl == sl && !memcmp(&d->ss, ss, sl))
			return d;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	memcpy(&d->ss, ss, sl);
	d->sl = sl;
	d->next = dslots;
	dslots = d;
	return d;
}

/* splitmix64's finaliser: a bijection of 64-bit values */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * A move id: unique in this daemon (each half is a bijection of a counter)
 * and, from random seeds drawn once, unlike any other daemon's; random
 * looking, so that its first hex digits tell moves apart in the logs.  The
 * ids travel only on authenticated connections: they need not be secret.
 * One getrandom per daemon, not one per move.
 */
static int new_move_id(uint8_t id[16])
{
	static uint64_t seed[2], n;
	static bool seeded;
	uint64_t h[2];

	if (!seeded) {
		if (getrandom(seed, sizeof(seed), 0) != sizeof(seed))
			return -EIO;
		seeded = true;
	}
	n++;
	h[0] = mix64(seed[0] + n);
	h[1] = mix64(seed[1] ^ n);
	memcpy(id, h, 16);
	return 0;
}
/* move.c's move_free: leave the queue or the slot */
void move_unqueue(struct move *m)
{
	struct move **p, *prev = NULL;

	if (m->started) {
		m->started = false;
		m->slot->inflight--;
		pump_pending = true;
		return;
	}
	for (p = &q_head; *p; prev = *p, p = &(*p)->qnext)
		if (*p == m) {
			*p = m->qnext;
			if (q_tail == m)
				q_tail = prev;
			return;
		}
}

static void move_begin(struct move *m, uint32_t timeout_ms)
{
	char tuple[200];
	int ret;

	m->res.t_us[PHASE_NONE] = (uint32_t)(now_us() - m->t0); /* queued */
	ret = tcpcp_dump(m->sock, 0, &m->ici, &m->ici_len);
	if (ret) {
		/* nothing isolated: the socket is the client's as before */
		origin_finish(m, -ret, PHASE_DUMP,
			      "cannot dump the connection");
		return;
	}
	stamp(m, PHASE_DUMP);
	ret = tcpcp_ici_info(m->ici, m->ici_len, &m->info);
	if (ret) {
		rollback(m, -ret, PHASE_DUMP, "dumped ICI does not decode");
		return;
	}
	tuple_str(&m->info, tuple, sizeof(tuple));
	dlog(LOG_I, "move %.8s: %s to %s (ICI %zu bytes, app state %zu bytes)",
	     m->ids, tuple, m->dest, m->ici_len, m->app_len);
	m->state = M_CONNECTING;
	m->deadline =
		now_ms() + (timeout_ms ? timeout_ms : conf.prepare_timeout_ms);
	m->pc = peer_connect(&m->dest_ss, m->dest_sl, m);
	if (!m->pc)
		rollback(m, EHOSTUNREACH, PHASE_CONNECT,
			 "cannot connect to the destination");
}

void move_pump(void)
{
	unsigned int limit = conf.max_inflight ? conf.max_inflight :
						 TCPCPD_INFLIGHT_DEFAULT;
	struct move *m, *n, *prev = NULL;

	pump_pending = false;
	for (m = q_head; m; m = n) {
		n = m->qnext;
		if (m->slot->inflight >= limit) {
			prev = m;
			continue;
		}
		if (prev)
			prev->qnext = n;
		else
			q_head = n;
		if (q_tail == m)
			q_tail = prev;
		m->qnext = NULL;
		m->started = true;
		m->slot->inflight++;
		move_begin(m, m->timeout_ms);
	}
}

void move_start(struct lconn *lc, uint32_t req, int fd, const char *dest,
		uint32_t timeout_ms, uint32_t flags, const void *app,
		size_t app_len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct move *m;
	int ret;

	if (stats.moves_active >= conf.max_moves || stopping) {
		struct lmsg_result r = { .err = stopping ? ESHUTDOWN : EBUSY };

		snprintf(r.msg, sizeof(r.msg), "%s",
			 stopping ? "daemon stopping" :
				    "too many moves at once");
		local_result(lc, req, &r);
		close(fd);
		return;
	}
	m = move_new(true);
	if (!m) {
		close(fd);
		return;
	}
	m->origin = true;
	m->lc = lc;
	m->req = req;
	m->sock = fd;
	m->flags = flags;
	snprintf(m->dest, sizeof(m->dest), "%s", dest);
	if (new_move_id(m->id)) {
		origin_finish(m, EIO, PHASE_NONE, "no random move id");
		return;
	}
	id_str(m->id, m->ids);
	if (app_len) {
		m->app = malloc(app_len);
		if (!m->app) {
			origin_finish(m, ENOMEM, PHASE_NONE, "out of memory");
			return;
		}
		memcpy(m->app, app, app_len);
		m->app_len = app_len;
	}
	ret = resolve(dest, &ss, &sl);
	if (ret) {
		origin_finish(m, -ret, PHASE_NONE,
			      "destination HOST[:PORT] is wrong");
		return;
	}
	m->dest_ss = ss;
	m->dest_sl = sl;
	addr_str(&ss, m->dest_addr, sizeof(m->dest_addr));
	if (strrchr(m->dest_addr, ':'))
		*strrchr(m->dest_addr, ':') = '\0';
	if (m->dest_addr[0] == '[') {
		memmove(m->dest_addr, m->dest_addr + 1, strlen(m->dest_addr));
		m->dest_addr[strlen(m->dest_addr) - 1] = '\0';
	}
	m->slot = dslot_get(&ss, sl);
	if (!m->slot) {
		origin_finish(m, ENOMEM, PHASE_NONE, "out of memory");
		return;
	}
	m->timeout_ms = timeout_ms;
	m->state = M_QUEUED;
	m->deadline = now_ms() + (conf.queue_timeout_ms ?
					  conf.queue_timeout_ms :
					  TCPCPD_QUEUE_TIMEOUT_DEFAULT);
	if (q_tail)
		q_tail->qnext = m;
	else
		q_head = m;
	q_tail = m;
	pump_pending = true;
}

void move_peer_connected(struct move *m, struct pconn *pc)
{
	struct tcpcpd_msg p = { .type = TCPCPD_PREPARE };

	if (pc == m->gw) {
		if (m->state == M_REDIRECTING)
			send_redirect(m);
		return;
	}
	if (m->state == M_COMMITTED) {
		send_commit(m);
		return;
	}

	stamp(m, PHASE_CONNECT);
	memcpy(p.id, m->id, 16);
	p.flags = m->flags;
	p.hold_ms = conf.hold_ms;
	p.ici = m->ici;
	p.ici_len = (uint32_t)m->ici_len;
	p.app = m->app;
	p.app_len = (uint32_t)m->app_len;
	m->state = M_PREPARING;
	if (peer_send(pc, &p) == -EMSGSIZE)
		rollback(m, EMSGSIZE, PHASE_PREPARE,
			 "ICI and state too large for one frame");
}

/* --- destination --- */
