// SPDX-License-Identifier: GPL-2.0
/*
 * The move, at the origin and at the destination.
 *
 *   origin                                   destination
 *   dump (isolates)
 *   connect, HELLO      <-- HELLO -->
 *   PREPARE (ICI, app)  ------------------>  create (isolated), hold
 *                       <------------------  PREPARED (hold time)
 *   redirect (hook)
 *   discard + close     === commit point ===
 *   COMMIT              ------------------>  COMMITTED, activate, deliver
 *                       <------------------  ACTIVATED
 *
 * Before the commit point every failure or timeout rolls back: undo the
 * redirect, unisolate at the origin, ABORT so that the destination discards
 * its isolated endpoint.  A destination that loses the origin before COMMIT
 * keeps its endpoint isolated (silent) until the hold time ends, so that the
 * origin can undo the redirect before the destination's host would answer
 * the peer with a reset.  At no moment do two endpoints transmit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "move.h"
#include "redir.h" /* REDIR: address mode */

struct move *moves;

/*
 * Fault injection for the lab tests: TCPCPD_FAULT in the environment names
 * the faults to inject, separated by commas (see tests/faults.sh).
 */
bool fault(const char *name)
{
	const char *f = getenv("TCPCPD_FAULT"), *p;
	size_t n = strlen(name);

	for (p = f; p && (p = strstr(p, name)); p += n)
		if ((p == f || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

const char *id_str(const uint8_t id[16], char buf[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(buf + 2 * i, 3, "%02x", id[i]);
	return buf;
}

void tuple_str(const struct tcpcp_info *info, char *buf, size_t len)
{
	char l[80], r[80];

	snprintf(buf, len, "%s <-> %s", addr_str(&info->local, l, sizeof(l)),
		 addr_str(&info->remote, r, sizeof(r)));
}

struct move *move_new(bool origin)
{
	struct move *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->origin = origin;
	m->sock = -1;
	m->t0 = now_us();
	m->next = moves;
	if (moves)
		moves->prev = m;
	moves = m;
	stats.moves_active++;
	return m;
}

void move_free(struct move *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		moves = m->next;
	if (m->next)
		m->next->prev = m->prev;
	if (m->origin)
		move_unqueue(m);
	if (m->hook) {
		child_forget(m->hook);
		child_kill(m->hook);
	}
	if (m->gw) {
		struct pconn *gw = m->gw;

		m->gw = NULL;
		/* every REDIRECT and UNREDIRECT answered: nothing more comes */
		if (m->gw_pending)
			peer_finish(gw);
		else
			peer_release(gw);
	}
	if (m->pc) {
		struct pconn *pc = m->pc;

		m->pc = NULL;
		if (m->origin) {
			if (m->pc_quiet)
				peer_release(pc);
			else
				peer_finish(pc);
		} else {
			pc->move = NULL;
			pc->deadline = now_ms() + conf.hello_timeout_ms;
		}
	}
	if (m->sock >= 0)
		close(m->sock);
	free(m->ici);
	free(m->app);
	stats.moves_active--;
	free(m);
}

void stamp(struct move *m, int phase)
{
	m->res.t_us[phase] = (uint32_t)(now_us() - m->t0);
	m->res.phase = (uint32_t)phase;
}

/* Origin: report to the client and forget the move */
void move_peer_msg(struct pconn *pc, const struct tcpcpd_msg *msg)
{
	struct move *m = pc->move;
	char why[TCPCPD_MAX_TEXT + 40];

	if (!m && !pc->initiator && msg->type == TCPCPD_PREPARE) {
		dest_prepare(pc, msg);
		return;
	}
	if (!m && !pc->initiator &&
	    (msg->type == TCPCPD_REDIRECT || msg->type == TCPCPD_UNREDIRECT ||
	     msg->type == TCPCPD_RELEASE /* REDIR */)) {
		gateway_msg(pc, msg);
		return;
	}
	if (!m && !pc->initiator && msg->type == TCPCPD_COMMIT) {
		dest_recommit(pc, msg);
		return;
	}
	if (!m || memcmp(m->id, msg->id, 16))
		goto bad;
	if ((pc == m->gw) != (msg->type == TCPCPD_REDIRECTED))
		goto bad;
	switch (msg->type) {
	case TCPCPD_REDIRECTED:
		if (m->gw_pending <= 0)
			goto bad;
		if (--m->gw_pending)
			return; /* the answer to REDIRECT; UNREDIRECT's comes */
		if (m->state == M_REDIRECTING) {
			if (msg->err) {
				m->redirected = false;
				rollback(m, msg->err > 0 ? msg->err : EPROTO,
					 PHASE_REDIRECT,
					 "the gateway refused the redirect");
				return;
			}
			if (addr_origin_out(m)) /* REDIR: rolled back */
				return;
			stamp(m, PHASE_REDIRECT);
			commit(m);
			return;
		}
		if (m->state == M_UNDOING) {
			if (msg->err)
				dlog(LOG_E,
				     "move %.8s: the gateway could not undo the redirect: %s",
				     m->ids, strerror(msg->err));
			m->redirected = false;
			finish_rollback(m);
			return;
		}
		goto bad;
	case TCPCPD_PREPARED:
		if (m->state != M_PREPARING)
			goto bad;
		stamp(m, PHASE_PREPARE);
		m->prepared_at = now_ms();
		m->hold_ms = msg->hold_ms;
		m->lost = msg->lost;
		redirect(m);
		return;
	case TCPCPD_REFUSED:
		if (m->state != M_PREPARING)
			goto bad;
		m->pc_quiet = true; /* the destination has nothing: no ABORT */
		snprintf(why, sizeof(why), "destination refused: %s",
			 msg->text);
		rollback(m, msg->err > 0 ? msg->err : EPROTO, PHASE_PREPARE,
			 why);
		return;
	case TCPCPD_COMMITTED:
		if (m->state != M_COMMITTED)
			goto bad;
		origin_discard(m);
		return;
	case TCPCPD_ACTIVATED:
		if (m->state != M_COMMITTED)
			goto bad;
		commit_answer(m, msg);
		return;
	case TCPCPD_COMMIT:
		if (m->state != M_HELD || pc->initiator)
			goto bad;
		dest_commit(m);
		return;
	case TCPCPD_ABORT:
		if (m->state != M_HELD || pc->initiator)
			goto bad;
		snprintf(why, sizeof(why), "aborted by the origin: %s",
			 msg->text);
		dest_discard(m, why);
		return;
	}
bad:
	stats.proto_errors++;
	dlog(LOG_W, "peer %s: %s out of place; connection dropped", pc->addr,
	     proto_type_name(msg->type));
	peer_close(pc, "message out of place");
}

void move_peer_lost(struct move *m, struct pconn *pc, int err, const char *why)
{
	char msg[160];

	if (pc == m->gw) {
		m->gw = NULL;
		if (m->state == M_REDIRECTING) {
			snprintf(msg, sizeof(msg),
				 "connection to the gateway lost (%s)", why);
			rollback(m, err == ECONNABORTED ? EHOSTUNREACH : err,
				 PHASE_REDIRECT, msg);
		} else if (m->state == M_UNDOING) {
			dlog(LOG_E,
			     "move %.8s: gateway lost before it confirmed the undo",
			     m->ids);
			finish_rollback(m);
		}
		return;
	}
	m->pc = NULL;
	snprintf(msg, sizeof(msg), "connection to the destination lost (%s)",
		 why);
	switch (m->state) {
	case M_CONNECTING:
		if (err == EACCES) {
			dlog(LOG_W,
			     "move %.8s: authentication failed: the destination dropped our HELLO (different key?)",
			     m->ids);
			snprintf(
				msg, sizeof(msg),
				"destination dropped the HELLO (different key?)");
		}
		rollback(m, err == ECONNABORTED ? ECONNREFUSED : err,
			 PHASE_CONNECT, msg);
		break;
	case M_PREPARING:
		rollback(m, err, PHASE_PREPARE, msg);
		break;
	case M_REDIRECTING:
		rollback(m, err, PHASE_REDIRECT, msg);
		break;
	case M_UNDOING:
		break;
	case M_COMMITTED:
		commit_lost(m, pc);
		if (m->state != M_COMMITTED)
			break; /* rolled back */
		dlog(LOG_W, "move %.8s: %s after COMMIT; COMMIT goes again",
		     m->ids, msg);
		m->deadline =
			now_ms() + (m->tries < 5 ? 50U << m->tries : 1000);
		if (m->deadline > m->commit_end)
			m->deadline = m->commit_end;
		break;
	case M_QUEUED:
		break;
	case M_HELD:
		/* stay isolated until the hold time ends: the origin may be undoing */
		dlog(LOG_W,
		     "move %.8s: origin connection lost before COMMIT; holding the isolated endpoint until the hold time ends",
		     m->ids);
		break;
	}
}

void move_timers(uint64_t now, uint64_t *next)
{
	struct move *m, *n;

	linger_timers(now, next);
	if (pump_pending)
		move_pump();
	for (m = moves; m; m = n) {
		n = m->next;
		if (m->deadline > now) {
			if (m->deadline < *next)
				*next = m->deadline;
			continue;
		}
		switch (m->state) {
		case M_QUEUED:
			/* not dumped: the connection goes on at the client */
			origin_finish(m, ETIMEDOUT, PHASE_NONE,
				      "waited too long for a free slot");
			break;
		case M_CONNECTING:
			rollback(m, ETIMEDOUT, PHASE_CONNECT,
				 "destination not reached in time");
			break;
		case M_PREPARING:
			rollback(m, ETIMEDOUT, PHASE_PREPARE,
				 "no PREPARED in time");
			break;
		case M_REDIRECTING:
			rollback(m, ETIMEDOUT, PHASE_REDIRECT,
				 "redirect hook timed out");
			break;
		case M_UNDOING:
			dlog(LOG_E, "move %.8s: undo timed out", m->ids);
			if (m->hook) {
				child_forget(m->hook);
				child_kill(m->hook);
				m->hook = NULL;
			}
			finish_rollback(m);
			break;
		case M_COMMITTED:
			commit_resend(m);
			break;
		case M_HELD:
			/*
			 * An origin still connected will send COMMIT or ABORT
			 * or close: a slow one (a loaded host) gets more time,
			 * up to four hold times, rather than an endpoint
			 * discarded under a COMMIT on its way.
			 */
			if (m->pc && m->pc->state == PC_READY &&
			    now - m->prepared_at < 4ULL * m->hold_ms) {
				dlog(LOG_W,
				     "move %.8s: no COMMIT within the hold time, but the origin is connected: holding on",
				     m->ids);
				m->deadline = now + m->hold_ms;
				if (m->deadline < *next)
					*next = m->deadline;
				break;
			}
			dest_discard(m, "no COMMIT within the hold time");
			break;
		}
	}
}

void move_forget_lconn(struct lconn *lc)
{
	for (struct move *m = moves; m; m = m->next)
		if (m->lc == lc)
			m->lc = NULL;
}

/* SIGTERM: roll back what has not committed, synchronously */
void move_shutdown(void)
{
	char store[2048];
	char *argv[3] = { conf.hook, "undo", NULL };

	while (moves) {
		struct move *m = moves;

		if (!m->origin) {
			dest_discard(m, "daemon stopping");
			continue;
		}
		if (m->state == M_QUEUED) {
			origin_finish(m, ESHUTDOWN, PHASE_NONE,
				      "daemon stopping");
			continue;
		}
		if (m->state == M_COMMITTED) {
			origin_discard(m);
			origin_finish(m, ESHUTDOWN, PHASE_ACTIVATE,
				      "daemon stopped after commit");
			continue;
		}
		if (m->hook) {
			child_forget(m->hook);
			child_kill(m->hook);
			m->hook = NULL;
		}
		if (m->redirected && conf.gateway[0]) {
			struct tcpcpd_msg u = { .type = TCPCPD_UNREDIRECT };
			struct pconn *gw = m->gw;

			/* best effort, detached: flushed before the connections close */
			m->gw = NULL;
			memcpy(u.id, m->id, 16);
			if (gw)
				gw->move = NULL;
			if (!gw || peer_send(gw, &u))
				dlog(LOG_E,
				     "move %.8s: redirect at the gateway not undone",
				     m->ids);
			else
				peer_finish(gw);
		} else if (m->redirected && conf.hook[0] &&
			   run_sync(argv,
				    hook_env(m, "undo", store, sizeof(store)),
				    conf.redirect_timeout_ms)) {
			dlog(LOG_E, "move %.8s: undo hook failed", m->ids);
		}
		m->redirected = false;
		m->res.err = ESHUTDOWN;
		snprintf(m->res.msg, sizeof(m->res.msg), "daemon stopping");
		finish_rollback(m);
	}
}
