/* SPDX-License-Identifier: GPL-2.0 */
/* The move's state shared by move.c (dispatch, timers), origin.c and dest.c. */
#ifndef TCPCPD_MOVE_H
#define TCPCPD_MOVE_H

#include "tcpcpd.h"

enum mstate {
	M_CONNECTING, /* origin: connect + HELLO */
	M_PREPARING, /* origin: PREPARE sent */
	M_REDIRECTING, /* origin: hook running */
	M_UNDOING, /* origin: undo hook running, then unisolate */
	M_COMMITTED, /* origin: COMMIT sent, waiting for ACTIVATED */
	M_HELD, /* destination: isolated endpoint waits for COMMIT */
	M_QUEUED, /* origin: waits for a free slot, nothing done yet */
};

/* Moves in flight to one destination (origin side) */
struct dslot {
	struct dslot *next;
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned int inflight; /* started, not yet finished */
};

struct move {
	struct move *next, *prev;
	struct move *qnext; /* origin: the queue of M_QUEUED moves */
	struct dslot *slot; /* origin: the destination's slot */
	bool started; /* origin: left the queue, counts in slot->inflight */
	uint32_t timeout_ms; /* origin: the client's connect + PREPARE timeout */
	bool origin;
	enum mstate state;
	uint8_t id[16];
	char ids[33];
	int sock;
	void *ici;
	size_t ici_len;
	uint8_t *app;
	size_t app_len;
	uint32_t flags;
	struct lconn *lc;
	uint32_t req;
	struct pconn *pc; /* to the destination */
	struct pconn *gw; /* to the gateway (conf.gateway) */
	int gw_pending; /* REDIRECTED answers still to come */
	struct sockaddr_storage dest_ss;
	socklen_t dest_sl;
	uint64_t commit_end; /* ms: origin gives up resending COMMIT */
	unsigned int commits; /* COMMIT sent this many times */
	unsigned int tries; /* new connections to resend COMMIT */
	/*
	 * Origin after COMMIT: the connection that carries the last COMMIT
	 * sent; doubt: one that carried a COMMIT ended without a clean FIN
	 * (the destination may have promised, COMMITTED lost), so the origin
	 * may no longer roll back.
	 */
	struct pconn *commit_pc;
	bool doubt;
	bool pc_quiet; /* origin: the destination sends nothing more on pc */
	uint64_t deadline; /* ms */
	uint64_t t0; /* us */
	uint64_t prepared_at; /* ms */
	uint32_t hold_ms;
	uint32_t lost;
	struct child *hook;
	bool redirected; /* the redirect hook has run (or runs) */
	struct tcpcp_info info;
	char dest[TCPCPD_DEST_LEN];
	char dest_addr[80];
	struct lmsg_result res;
};

extern struct move *moves;

/* move.c */
bool fault(const char *name);
struct move *move_new(bool origin);
void move_free(struct move *m);
void stamp(struct move *m, int phase);
void tuple_str(const struct tcpcp_info *info, char *buf, size_t len);

/* origin.c */
void move_pump(void); /* start queued moves while slots are free */
void move_unqueue(struct move *m);
extern bool pump_pending;
void origin_finish(struct move *m, int err, int phase, const char *why);
void finish_rollback(struct move *m);
void rollback(struct move *m, int err, int phase, const char *why);
void redirect(struct move *m);
void commit(struct move *m);
/* keeps committed endpoints isolated a while, then discards them */
void linger_timers(uint64_t now, uint64_t *next);
void linger_drop(const struct sockaddr_storage *local,
		 const struct sockaddr_storage *remote);
void commit_resend(struct move *m);
void origin_discard(struct move *m);
void commit_lost(struct move *m, struct pconn *pc);
void commit_answer(struct move *m, const struct tcpcpd_msg *msg);
char **hook_env(struct move *m, const char *phase, char *store, size_t len);

/* dest.c */
void dest_prepare(struct pconn *pc, const struct tcpcpd_msg *msg);
void dest_discard(struct move *m, const char *why);
void dest_commit(struct move *m);
void dest_recommit(struct pconn *pc, const struct tcpcpd_msg *msg);

#endif /* TCPCPD_MOVE_H */
