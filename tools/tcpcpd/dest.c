// SPDX-License-Identifier: GPL-2.0
/*
 * The destination side of a move: create the endpoint isolated, hold it,
 * activate and deliver it on COMMIT, discard it on ABORT or timeout.
 * See move.c.
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
#include "redir.h" /* REDIR: release_watch */

static void refuse(struct pconn *pc, const uint8_t id[16], int err,
		   const char *why)
{
	struct tcpcpd_msg r = { .type = TCPCPD_REFUSED, .err = err };
	char ids[33];

	memcpy(r.id, id, 16);
	snprintf(r.text, sizeof(r.text), "%s", why);
	stats.moves_in_failed++;
	dlog(LOG_W, "move %.8s from %s refused: %s (%s)", id_str(id, ids),
	     pc->addr, why, strerror(err));
	peer_send(pc, &r);
}

/* Fault injection (move.c): this daemon dies at the named step */
static void die_at(const char *step, const uint8_t id[16])
{
	char ids[33];

	if (!fault(step))
		return;
	dlog(LOG_W, "move %.8s: fault injected: %s", id_str(id, ids), step);
	raise(SIGKILL);
}

/*
 * The outcome of the last moves that ended here, so that a COMMIT sent
 * again (the origin lost the answer) gets the same answer: ACTIVATED with
 * 0 or the errno, never a second endpoint.
 */
#define RECENT 1024
static struct {
	uint8_t id[16];
	int err;
	bool used;
} recent[RECENT];
static unsigned int recent_next;

static void remember(const struct move *m, int err)
{
	memcpy(recent[recent_next].id, m->id, 16);
	recent[recent_next].err = err;
	recent[recent_next].used = true;
	recent_next = (recent_next + 1) % RECENT;
}

void dest_prepare(struct pconn *pc, const struct tcpcpd_msg *msg)
{
	struct tcpcpd_msg r = { .type = TCPCPD_PREPARED };
	struct tcpcp_info info;
	unsigned int lost = 0;
	char why[120], tuple[200];
	struct move *m;
	uint16_t port;
	int ret, fd;

	die_at("die-on-prepare", msg->id);
	if (stopping || stats.moves_active >= conf.max_moves) {
		refuse(pc, msg->id, EBUSY, "too many moves at once");
		return;
	}
	ret = tcpcp_ici_check(msg->ici, msg->ici_len, why, sizeof(why));
	if (ret || (ret = tcpcp_ici_info(msg->ici, msg->ici_len, &info))) {
		refuse(pc, msg->id, -ret, "bad ICI");
		return;
	}
	port = ntohs(((struct sockaddr_in *)&info.local)->sin_port);
	if (!local_has_receiver(port) && !conf.handler[0]) {
		refuse(pc, msg->id, ECONNREFUSED,
		       "no application registered and no handler");
		return;
	}
	linger_drop(&info.local, &info.remote);
	fd = tcpcp_create_ex(
		msg->ici, msg->ici_len, -1,
		msg->flags & (TCPCP_CREATE_CONG | TCPCP_CREATE_STRICT), &lost);
	if (fd < 0) {
		refuse(pc, msg->id, -fd, "cannot create the endpoint");
		return;
	}
	stats.endpoints_created++;
	die_at("die-after-create", msg->id);
	m = move_new(false);
	if (!m) {
		tcpcp_discard(fd);
		close(fd);
		refuse(pc, msg->id, ENOMEM, "out of memory");
		return;
	}
	m->sock = fd;
	m->info = info;
	memcpy(m->id, msg->id, 16);
	id_str(m->id, m->ids);
	m->app = malloc(msg->app_len ? msg->app_len : 1);
	if (m->app)
		memcpy(m->app, msg->app, msg->app_len);
	m->app_len = msg->app_len;
	m->hold_ms = conf.hold_ms;
	if (msg->hold_ms && msg->hold_ms < m->hold_ms)
		m->hold_ms = msg->hold_ms;
	m->lost = lost;
	m->state = M_HELD;
	m->prepared_at = now_ms();
	m->deadline = m->prepared_at + m->hold_ms;
	keeper_hold(m->id, fd, m->hold_ms);
	m->pc = pc;
	pc->move = m;
	snprintf(m->dest, sizeof(m->dest), "%s", pc->sess.peer_name);
	tuple_str(&info, tuple, sizeof(tuple));
	dlog(LOG_I, "move %.8s from %s (%s): %s created isolated, held %u ms",
	     m->ids, pc->sess.peer_name, pc->addr, tuple, m->hold_ms);
	memcpy(r.id, m->id, 16);
	r.lost = lost;
	r.hold_ms = m->hold_ms;
	peer_send(pc, &r);
}

static void dest_end(struct move *m, int err)
{
	keeper_drop(m->id);
	remember(m, err);
	if (m->pc) {
		m->pc->move = NULL;
		m->pc->deadline = now_ms() + conf.hello_timeout_ms;
		m->pc = NULL;
	}
	if (!err)
		stats.moves_in_ok++;
	else
		stats.moves_in_failed++;
	move_free(m);
}

void dest_discard(struct move *m, const char *why)
{
	int ret = tcpcp_discard(m->sock);

	if (ret)
		dlog(LOG_E, "move %.8s: discard: %s", m->ids, strerror(-ret));
	dlog(LOG_W, "move %.8s from %s: endpoint discarded: %s", m->ids,
	     m->dest, why);
	dest_end(m, ECANCELED);
}

static void handler_done(void *arg, int status)
{
	(void)arg;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		dlog(LOG_W, "handler %s ended with status 0x%x", conf.handler,
		     status);
	else
		dlog(LOG_D, "handler %s exited 0", conf.handler);
}

static int run_handler(struct move *m)
{
	char store[1024], la[80], ra[80];
	char *argv[2] = { conf.handler, NULL };
	char *envp[6];
	int mfd, n = 0, off = 0, w;
	struct child *c;

	if (!conf.handler[0])
		return -ENOENT;
	mfd = memfd_create("tcpcp-app-state", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	if (m->app_len &&
	    write(mfd, m->app, m->app_len) != (ssize_t)m->app_len) {
		close(mfd);
		return -EIO;
	}
	lseek(mfd, 0, SEEK_SET);
#define ADD(fmt, ...)                                                       \
	do {                                                                \
		w = snprintf(store + off, sizeof(store) - (size_t)off, fmt, \
			     __VA_ARGS__);                                  \
		envp[n++] = store + off;                                    \
		off += w + 1;                                               \
	} while (0)
	ADD("TCPCP_MOVE_ID=%s", m->ids);
	ADD("TCPCP_LOCAL=%s", addr_str(&m->info.local, la, sizeof(la)));
	ADD("TCPCP_REMOTE=%s", addr_str(&m->info.remote, ra, sizeof(ra)));
	ADD("TCPCP_APP_LEN=%zu", m->app_len);
	ADD("PATH=%s", "/usr/local/bin:/usr/bin:/bin");
#undef ADD
	envp[n] = NULL;
	c = child_spawn(argv, envp, m->sock, mfd, handler_done, NULL);
	close(mfd);
	return c ? 0 : -ECHILD;
}

/*
 * COMMIT: COMMITTED first, then activate, then deliver, then ACTIVATED.
 * COMMITTED is this side's promise to activate; the origin keeps its
 * endpoint isolated until it reads it, and rolls back if the connection
 * ends cleanly (FIN) without it.  So COMMITTED must be in the kernel's
 * send queue before the activation: a daemon killed after that point
 * still gets it out, in order, before its FIN.  COMMITTED is queued with
 * MSG_MORE: in the kernel (the promise holds), sent with ACTIVATED a few
 * microseconds later in the same segment, one packet fewer per move.
 */
void dest_commit(struct move *m)
{
	struct tcpcpd_msg r = { .type = TCPCPD_COMMITTED };
	uint16_t port = ntohs(((struct sockaddr_in *)&m->info.local)->sin_port);
	int ret;

	die_at("die-on-commit", m->id);
	memcpy(r.id, m->id, 16);
	/* COMMITTED and ACTIVATED leave together, in one segment */
	if (peer_send_more(m->pc, &r) || !peer_flushed(m->pc)) {
		/* the promise did not leave: do not activate; the origin rolls back */
		tcpcp_discard(m->sock);
		dlog(LOG_E,
		     "move %.8s: COMMITTED could not be sent; endpoint discarded, the origin keeps the connection",
		     m->ids);
		if (m->pc)
			peer_close(m->pc, "COMMITTED not sent");
		dest_end(m, ECANCELED);
		return;
	}
	die_at("die-after-committed", m->id);
	ret = tcpcp_activate_ex(m->sock);
	if (!ret) /* REDIR: release the gateway's entry when it ends */
		release_watch(m->id, &m->info);
	if (ret) {
		dlog(LOG_E, "move %.8s: activate: %s; the connection is lost",
		     m->ids, strerror(-ret));
	} else {
		ret = local_deliver(port, m->sock, m->id, &m->info, m->lost,
				    m->app, m->app_len);
		if (ret == -ENOENT || (ret && conf.handler[0]))
			ret = run_handler(m);
		if (ret)
			dlog(LOG_E,
			     "move %.8s: activated but not delivered: %s; closing it",
			     m->ids, strerror(-ret));
		else
			dlog(LOG_I,
			     "move %.8s from %s: activated and delivered",
			     m->ids, m->dest);
	}
	die_at("die-after-activate", m->id);
	r.type = TCPCPD_ACTIVATED;
	r.err = -ret;
	if (m->pc)
		peer_send(m->pc, &r);
	/* remembered for COMMITs sent again: ENOENT and ECANCELED mean "not promised" */
	dest_end(m, ret == -ENOENT || ret == -ECANCELED ? EIO : -ret);
}

/* COMMIT on a connection without a move: the origin sends it again */
void dest_recommit(struct pconn *pc, const struct tcpcpd_msg *msg)
{
	struct tcpcpd_msg r = { .type = TCPCPD_COMMITTED };
	struct move *m;
	char ids[33];
	unsigned int i;

	id_str(msg->id, ids);
	for (m = moves; m; m = m->next) {
		if (m->origin || m->state != M_HELD ||
		    memcmp(m->id, msg->id, 16))
			continue;
		dlog(LOG_I, "move %.8s: COMMIT from %s on a new connection",
		     ids, pc->addr);
		if (m->pc && m->pc != pc) {
			m->pc->move = NULL;
			m->pc->deadline = now_ms() + conf.hello_timeout_ms;
		}
		m->pc = pc;
		pc->move = m;
		dest_commit(m);
		return;
	}
	memcpy(r.id, msg->id, 16);
	r.err = ENOENT;
	for (i = 0; i < RECENT; i++)
		if (recent[i].used && !memcmp(recent[i].id, msg->id, 16)) {
			r.err = recent[i].err;
			break;
		}
	dlog(r.err ? LOG_W : LOG_I, "move %.8s: COMMIT again from %s: %s", ids,
	     pc->addr,
	     r.err == ENOENT ? "unknown move" :
	     r.err	     ? strerror(r.err) :
			       "already activated; confirmed again");
	/*
	 * COMMITTED again for a move promised here (the origin may have
	 * missed the first one), whatever its outcome; ACTIVATED alone with
	 * ECANCELED (never promised, discarded) or ENOENT (unknown) lets the
	 * origin roll back.
	 */
	if (r.err != ENOENT && r.err != ECANCELED && peer_send(pc, &r))
		return;
	r.type = TCPCPD_ACTIVATED;
	peer_send(pc, &r);
}
