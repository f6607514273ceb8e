// SPDX-License-Identifier: GPL-2.0
/*
 * The gateway role: an origin daemon asks (REDIRECT) that the peer's
 * packets of one connection go to the destination, and may ask to undo it
 * (UNREDIRECT) while the move has not committed; the host that owns the
 * connection later tells that it ended (RELEASE, release.c).
 *
 *   route:   replace the host route of the connection's local (service)
 *            address, in the main table; undo restores the route it
 *            replaced.  The route is where the service lives now, not a
 *            per-connection entry: RELEASE and the daemon's stop leave it.
 *   rule:    one policy rule per connection (peer address and port, service
 *            address and port) pointing at a table that routes the service
 *            address via the destination, so that other connections to the
 *            same address stay where they are.  The kernel scans the rules
 *            one by one for every packet.
 *   nftmap:  one element per connection in an nftables map that sets the
 *            mark of the destination's table (nftmap.c): one hash lookup
 *            per packet however many connections moved.  The changes of
 *            the moves that arrive together go to the kernel as one
 *            transaction (gateway_flush, after each batch of events);
 *            releases go together every GW_RELEASE_MS.
 *            The stale sets (nftmap.c) keep a reused tuple off the map.
 *   address: (on the destination, not a router) take over the service
 *            address and announce it (addr.c); the origin removes it.
 *
 * Entries are keyed by the move id: a RELEASE of an older move of a
 * connection that has moved on again (a -> b -> a) finds the newer entry
 * and changes nothing.  A new REDIRECT of the same connection replaces its
 * entry.  When the daemon stops it removes every rule, map element, routing
 * table entry and the nftables table it added.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/rtnetlink.h>

#include "redir.h"

#define MAX_VIA_TABLES 64

/* A link of an intrusive list: pprev points to what points to us */
struct hnode {
	struct hnode *next, **pprev;
};

struct gw_entry {
	struct hnode all, by_id, by_tuple; /* every entry; two hash chains */
	uint8_t id[16];
	struct tcpcpd_msg r; /* the REDIRECT (mode, tuple, via) */
	uint32_t table;
	int had_old; /* route mode: a route was replaced */
	uint8_t old_via[16];
	int ifindex, plen; /* address mode: where it was added */
	bool added; /* address mode: this daemon added the address */
	bool pending; /* nftmap: its element is in the batch to come */
	bool dying; /* nftmap: its removal is in the batch to come */
};

/* A host route of a service address in a destination's table, shared */
struct gw_route {
	struct gw_route *next;
	int family;
	uint8_t laddr[16];
	uint32_t table;
	unsigned int refs;
};

/* nftmap: a queued change and the answer that waits for it */
struct gw_op {
	struct gw_op *next;
	struct pconn *pc; /* answer REDIRECTED here */
	uint8_t id[16];
	struct gw_entry *add, *del;
	size_t off, len; /* its messages in its queue's buffer */
	size_t ulen; /* the last of them that clear the tuple's stale mark */
	char what[160];
};

/*
 * Every entry, and the hash tables by move id and by tuple: a busy
 * gateway holds an entry per live moved connection (thousands), and each
 * REDIRECT and RELEASE looks one up.
 */
#define GW_HASH 4096
static struct hnode *entries, *by_id[GW_HASH], *by_tuple[GW_HASH];
static struct gw_route *routes;
static uint8_t via_tables[MAX_VIA_TABLES][17]; /* family + via per table */
static int n_via;
static unsigned int mark_refs[2][MAX_VIA_TABLES];

/*
 * nftmap: changes queued for one transaction (all or nothing), and the
 * answers that wait for it.  REDIRECT and UNREDIRECT go with the event
 * batch they arrived in (gateway_flush): a move waits for them.  RELEASEs
 * wait up to GW_RELEASE_MS and go together: a transaction that deletes an
 * element ends with an RCU grace period before the kernel frees it (an
 * expedited one, with an IPI to every CPU, on a host booted with
 * rcu_expedited), where adding costs none (a REDIRECT that replaces the
 * element of a reused tuple still deletes it at once: the move waits for
 * it).  Releases come on connections
 * of their own (release.c), so holding their answers back reorders nothing
 * that another connection waits for; an answer given at once
 * (answer_now) sends the held ones first.
 */
struct gw_queue {
	struct gw_op *ops, **tail;
	struct buf b;
	unsigned int hold_ms; /* its first change waits this long at most */
	uint64_t due; /* when that is (ms), for gateway_timers */
};
#define GW_RELEASE_MS 100
static struct gw_queue now_q = { .tail = &now_q.ops };
static struct gw_queue rel_q = { .tail = &rel_q.ops, .hold_ms = GW_RELEASE_MS };

static uint32_t table_for(int family, const uint8_t *via)
{
	for (int i = 0; i < n_via; i++)
		if (via_tables[i][0] == family &&
		    !memcmp(via_tables[i] + 1, via, 16))
			return conf.gateway_table + (uint32_t)i;
	if (n_via == MAX_VIA_TABLES)
		return 0;
	via_tables[n_via][0] = (uint8_t)family;
	memcpy(via_tables[n_via] + 1, via, 16);
	return conf.gateway_table + (uint32_t)n_via++;
}

static int route_ref(int family, const uint8_t *laddr, const uint8_t *via,
		     uint32_t table)
{
	struct gw_route *r;
	int ret;

	for (r = routes; r; r = r->next)
		if (r->family == family && r->table == table &&
		    !memcmp(r->laddr, laddr, 16)) {
			r->refs++;
			return 0;
		}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	ret = nlr_route_replace(family, laddr, via, table);
	if (ret) {
		free(r);
		return ret;
	}
	r->family = family;
	memcpy(r->laddr, laddr, 16);
	r->table = table;
	r->refs = 1;
	r->next = routes;
	routes = r;
	return 0;
}

static void route_unref(int family, const uint8_t *laddr, uint32_t table)
{
	struct gw_route **p, *r;
	int ret;

	for (p = &routes; (r = *p); p = &r->next)
		if (r->family == family && r->table == table &&
		    !memcmp(r->laddr, laddr, 16))
			break;
	if (!r || --r->refs)
		return;
	*p = r->next;
	ret = nlr_route_delete(family, laddr, table);
	if (ret && ret != -ENOENT)
		dlog(LOG_W, "gateway: cannot remove a route from table %u: %s",
		     table, strerror(-ret));
	free(r);
}

static int mark_ref(int family, uint32_t table)
{
	unsigned int *n = &mark_refs[family == 6][table - conf.gateway_table];
	int ret;

	if ((*n)++)
		return 0;
	ret = nlr_mark_rule(true, family, table, table, conf.gateway_pref);
	if (ret == -EEXIST) /* left by a daemon that was killed */
		ret = 0;
	if (ret)
		(*n)--;
	return ret;
}

static void mark_unref(int family, uint32_t table)
{
	unsigned int *n = &mark_refs[family == 6][table - conf.gateway_table];
	int ret;

	if (!*n || --*n)
		return;
	ret = nlr_mark_rule(false, family, table, table, conf.gateway_pref);
	if (ret && ret != -ENOENT)
		dlog(LOG_W,
		     "gateway: cannot remove the fwmark rule of table %u: %s",
		     table, strerror(-ret));
}

static const char *mode_name(int mode)
{
	static const char *const names[] = { "any", "route", "rule", "nftmap",
					     "address" };

	return mode >= 0 && mode <= TCPCPD_REDIR_MAX ? names[mode] : "?";
}

static void describe(const struct tcpcpd_msg *m, char *buf, size_t len)
{
	int af = m->family == 4 ? AF_INET : AF_INET6;
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN], v[INET6_ADDRSTRLEN];

	inet_ntop(af, m->laddr, l, sizeof(l));
	inet_ntop(af, m->raddr, r, sizeof(r));
	inet_ntop(af, m->via, v, sizeof(v));
	if (m->mode == TCPCPD_REDIR_ROUTE)
		snprintf(buf, len, "route %s via %s", l, v);
	else if (m->mode == TCPCPD_REDIR_ADDRESS)
		snprintf(buf, len, "address %s on the interface of %s", l, v);
	else
		snprintf(buf, len, "%s %s:%u -> %s:%u via %s",
			 mode_name(m->mode), r, m->rport, l, m->lport, v);
}

static bool same_tuple(const struct tcpcpd_msg *a, const struct tcpcpd_msg *b)
{
	return a->family == b->family && !memcmp(a->laddr, b->laddr, 16) &&
	       a->lport == b->lport && a->rport == b->rport &&
	       !memcmp(a->raddr, b->raddr, 16);
}

/* the entry that a new REDIRECT m replaces */
static bool same_conn(const struct tcpcpd_msg *a, const struct tcpcpd_msg *b)
{
	if (a->mode == TCPCPD_REDIR_ROUTE || a->mode == TCPCPD_REDIR_ADDRESS ||
	    b->mode == TCPCPD_REDIR_ROUTE || b->mode == TCPCPD_REDIR_ADDRESS)
		return a->mode == b->mode && a->family == b->family &&
		       !memcmp(a->laddr, b->laddr, 16);
	return same_tuple(a, b);
}

#define ENTRY(n, field) \
	((struct gw_entry *)((char *)(n)-offsetof(struct gw_entry, field)))

static void hn_add(struct hnode **head, struct hnode *n)
{
	n->next = *head;
	if (*head)
		(*head)->pprev = &n->next;
	*head = n;
	n->pprev = head;
}

static void hn_del(struct hnode *n)
{
	if (!n->pprev)
		return;
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
}

static unsigned int id_hash(const uint8_t id[16])
{
	uint32_t h;

	memcpy(&h, id, sizeof(h)); /* the ids are random */
	return h % GW_HASH;
}

static unsigned int tuple_hash(const struct tcpcpd_msg *m)
{
	uint32_t h = 2166136261U ^ (uint32_t)m->family;
	int i;

	for (i = 0; i < 16; i++)
		h = (h ^ m->laddr[i] ^ ((uint32_t)m->raddr[i] << 8)) *
		    16777619U;
	h = (h ^ m->lport) * 16777619U;
	h = (h ^ m->rport) * 16777619U;
	return h % GW_HASH;
}

static void link_entry(struct gw_entry *e)
{
	hn_add(&entries, &e->all);
	hn_add(&by_id[id_hash(e->id)], &e->by_id);
	hn_add(&by_tuple[tuple_hash(&e->r)], &e->by_tuple);
}

static void unlink_entry(struct gw_entry *e)
{
	hn_del(&e->all);
	hn_del(&e->by_id);
	hn_del(&e->by_tuple);
}

static struct gw_entry *find_id(const uint8_t id[16])
{
	struct hnode *n;

	for (n = by_id[id_hash(id)]; n; n = n->next) {
		struct gw_entry *e = ENTRY(n, by_id);

		if (!e->dying && !memcmp(e->id, id, 16))
			return e;
	}
	return NULL;
}

/* A live entry of the same tuple as m (any mode), or NULL */
static struct gw_entry *find_tuple(const struct tcpcpd_msg *m)
{
	struct hnode *n;

	for (n = by_tuple[tuple_hash(m)]; n; n = n->next) {
		struct gw_entry *e = ENTRY(n, by_tuple);

		if (!e->dying && same_tuple(&e->r, m))
			return e;
	}
	return NULL;
}

/*
 * The live entry that a new REDIRECT m replaces: of the same tuple (rule,
 * nftmap), in its hash chain; of the same service address (route,
 * address: few entries, per service), in the list of all
 */
static struct gw_entry *find_conn(const struct tcpcpd_msg *m)
{
	struct gw_entry *old = NULL;
	struct hnode *n;

	if (m->mode == TCPCPD_REDIR_ROUTE || m->mode == TCPCPD_REDIR_ADDRESS) {
		for (n = entries; n; n = n->next) {
			struct gw_entry *e = ENTRY(n, all);

			if (!e->dying && same_conn(&e->r, m))
				old = e;
		}
		return old;
	}
	for (n = by_tuple[tuple_hash(m)]; n; n = n->next) {
		struct gw_entry *e = ENTRY(n, by_tuple);

		if (!e->dying && same_conn(&e->r, m))
			old = e;
	}
	return old;
}

/* Undo one entry's network change (not nftmap's element); 0 or -errno */
static int undo(struct gw_entry *e)
{
	const struct tcpcpd_msg *m = &e->r;
	int ret = 0;

	switch (m->mode) {
	case TCPCPD_REDIR_RULE:
		ret = nlr_rule(false, m->family, m->laddr, m->lport, m->raddr,
			       m->rport, e->table, conf.gateway_pref);
		route_unref(m->family, m->laddr, e->table);
		return ret;
	case TCPCPD_REDIR_NFTMAP:
		mark_unref(m->family, e->table);
		route_unref(m->family, m->laddr, e->table);
		return 0;
	case TCPCPD_REDIR_ADDRESS:
		if (e->added)
			ret = nlr_addr(false, m->family, m->laddr, NULL,
				       &e->ifindex, &e->plen);
		return ret;
	}
	if (e->had_old)
		return nlr_route_replace(m->family, m->laddr, e->old_via,
					 RT_TABLE_MAIN);
	return nlr_route_delete(m->family, m->laddr, RT_TABLE_MAIN);
}

static void flush_queue(struct gw_queue *q);

/* Both queues, the releases first (their entries may be the old ones) */
static void flush_all(void)
{
	flush_queue(&rel_q);
	flush_queue(&now_q);
}

static void answer(struct pconn *pc, const uint8_t id[16], int err)
{
	struct tcpcpd_msg r = { .type = TCPCPD_REDIRECTED, .err = err };

	if (!pc)
		return;
	memcpy(r.id, id, 16);
	peer_queue(pc, &r); /* sent with the others of this batch */
}

/* A synchronous answer must not overtake the queued ones */
static void answer_now(struct pconn *pc, const uint8_t id[16], int err)
{
	flush_all();
	answer(pc, id, err);
}

static int apply_sync(struct gw_entry *e, struct gw_entry *old)
{
	const struct tcpcpd_msg *m = &e->r;
	int ret;

	switch (m->mode) {
	case TCPCPD_REDIR_RULE:
		ret = route_ref(m->family, m->laddr, m->via, e->table);
		if (ret)
			return ret;
		if (old) {
			/* moved on again: the old rule goes, the new one comes */
			undo(old);
			unlink_entry(old);
			free(old);
		}
		ret = nlr_rule(true, m->family, m->laddr, m->lport, m->raddr,
			       m->rport, e->table, conf.gateway_pref);
		if (ret)
			route_unref(m->family, m->laddr, e->table);
		return ret;
	case TCPCPD_REDIR_ADDRESS:
		ret = nlr_addr(true, m->family, m->laddr, m->via, &e->ifindex,
			       &e->plen);
		e->added = !ret;
		if (ret == -EEXIST) /* already here: announce it all the same */
			ret = 0;
		if (!ret && e->ifindex <= 0)
			ret = -ENOENT;
		if (!ret)
			ret = addr_announce(m->family, m->laddr, e->ifindex);
		if (ret && e->added)
			nlr_addr(false, m->family, m->laddr, NULL, &e->ifindex,
				 &e->plen);
		if (!ret && old) {
			unlink_entry(old);
			free(old);
		}
		return ret;
	}
	if (old) {
		/* keep the route from before the first move for undo */
		e->had_old = old->had_old;
		memcpy(e->old_via, old->old_via, 16);
	} else {
		ret = nlr_route_get(m->family, m->laddr, RT_TABLE_MAIN,
				    e->old_via);
		if (ret < 0)
			return ret;
		e->had_old = ret;
	}
	ret = nlr_route_replace(m->family, m->laddr, m->via, RT_TABLE_MAIN);
	if (!ret && old) {
		unlink_entry(old);
		free(old);
	}
	return ret;
}

static struct gw_op *op_new(struct gw_queue *q, struct pconn *pc,
			    const uint8_t id[16])
{
	struct gw_op *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->pc = pc;
	memcpy(o->id, id, 16);
	o->off = q->b.len;
	return o;
}

static void op_queue(struct gw_queue *q, struct gw_op *o)
{
	o->len = q->b.len - o->off;
	if (!q->ops && q->hold_ms)
		q->due = now_ms() + q->hold_ms;
	*q->tail = o;
	q->tail = &o->next;
}

/*
 * Queue the addition (with mark) or removal of m's element for o, then the
 * pair that takes the tuple out of its stale set (o->ulen bytes, last)
 */
static int op_elem(struct gw_queue *q, struct gw_op *o,
		   const struct tcpcpd_msg *m, bool add, uint32_t mark)
{
	size_t at;

	if (nftm_elem(&q->b, add, m->family, m->laddr, m->lport, m->raddr,
		      m->rport, mark))
		return -ENOMEM;
	at = q->b.len;
	if (nftm_unstale(&q->b, m->family, m->laddr, m->lport, m->raddr,
			 m->rport))
		return -ENOMEM;
	o->ulen = q->b.len - at;
	describe(m, o->what, sizeof(o->what));
	return 0;
}

/* nftmap REDIRECT: queue the element; the answer comes with the flush */
static int redirect_nftmap(struct pconn *pc, struct gw_entry *e,
			   struct gw_entry *old)
{
	const struct tcpcpd_msg *m = &e->r;
	char why[200];
	struct gw_op *o;
	int ret = nftm_setup(why, sizeof(why));

	if (ret) {
		dlog(LOG_E, "gateway: nftables table inet %s: %s", NFTM_TABLE,
		     why);
		return ret;
	}
	ret = route_ref(m->family, m->laddr, m->via, e->table);
	if (ret)
		return ret;
	ret = mark_ref(m->family, e->table);
	if (ret) {
		route_unref(m->family, m->laddr, e->table);
		return ret;
	}
	o = op_new(&now_q, pc, m->id);
	if (!o)
		goto nomem;
	if (old && old->r.mode == TCPCPD_REDIR_NFTMAP) {
		/*
		 * The tuple's element to the same table stays as it is (adding
		 * it again changes nothing); only one to another table goes:
		 * a delete costs the transaction a grace period, and a peer
		 * that reuses its ports meets this often.
		 */
		if (old->table != e->table &&
		    nftm_elem(&now_q.b, false, m->family, m->laddr, m->lport,
			      m->raddr, m->rport, 0))
			goto nomem;
		old->dying = true;
		o->del = old;
	} else if (old) {
		undo(old);
		unlink_entry(old);
		free(old);
	}
	/* a new connection of the tuple may have made it stale: no more */
	if (op_elem(&now_q, o, m, true, e->table))
		goto nomem;
	e->pending = true;
	link_entry(e);
	o->add = e;
	op_queue(&now_q, o);
	return 0;
nomem:
	if (o) {
		now_q.b.len = o->off;
		if (o->del)
			o->del->dying = false;
		free(o);
	}
	mark_unref(m->family, e->table);
	route_unref(m->family, m->laddr, e->table);
	return -ENOMEM;
}

/* nftmap UNREDIRECT or RELEASE: queue the removal of e in q */
static int remove_nftmap(struct gw_queue *q, struct pconn *pc,
			 struct gw_entry *e)
{
	const struct tcpcpd_msg *m = &e->r;
	struct gw_op *o = op_new(q, pc, e->id);

	if (!o)
		return -ENOMEM;
	/* the element and the tuple's stale mark go together */
	if (op_elem(q, o, m, false, 0))
		goto nomem;
	e->dying = true;
	o->del = e;
	op_queue(q, o);
	return 0;
nomem:
	q->b.len = o->off;
	free(o);
	return -ENOMEM;
}

static void free_entry(struct gw_entry *e)
{
	undo(e);
	unlink_entry(e);
	free(e);
}

/* Apply the first len bytes of o's messages alone; 0 or -errno, why */
static int run_part(const struct gw_queue *q, const struct gw_op *o, size_t len,
		    char *why, size_t wlen)
{
	return nftm_apply(q->b.p + o->off, len, why, wlen);
}

/*
 * Run o's change alone (the batch failed).  A full stale set refuses the
 * "add element" that clears a tuple which is not in it (ENFILE), although
 * there is nothing to clear: without those lines the change goes through.
 */
static int run_alone(const struct gw_queue *q, const struct gw_op *o, char *why,
		     size_t wlen)
{
	char why2[200];
	int ret = run_part(q, o, o->len, why, wlen);

	if (!ret || !o->ulen ||
	    run_part(q, o, o->len - o->ulen, why2, sizeof(why2)))
		return ret;
	dlog(LOG_W, "gateway: %s: without clearing its stale mark (%s)",
	     o->what, why);
	return 0;
}

/* Run q's nftables changes as one transaction, then answer */
static void flush_queue(struct gw_queue *q)
{
	struct gw_op *o, *n, *list = q->ops;
	char why[200] = "", ids[33];
	int all, ret;

	if (!list)
		return;
	q->ops = NULL;
	q->tail = &q->ops;
	all = nftm_apply(q->b.p, q->b.len, why, sizeof(why));
	if (all)
		dlog(LOG_W, "gateway: nftables batch failed (%s); one by one",
		     why);
	for (o = list; o; o = n) {
		n = o->next;
		ret = all;
		if (ret)
			ret = run_alone(q, o, why, sizeof(why));
		id_str(o->id, ids);
		if (ret)
			dlog(LOG_W, "gateway: move %.8s: %s: %s", ids, o->what,
			     why);
		else
			dlog(LOG_I, "gateway: move %.8s: %s%s", ids,
			     o->add ? "" : "removed ", o->what);
		if (o->add) {
			o->add->pending = false;
			if (ret) {
				free_entry(o->add);
				if (o->del) /* the old element stays */
					o->del->dying = false;
				o->del = NULL;
			}
		}
		if (o->del)
			free_entry(o->del);
		answer(o->pc, o->id, -ret);
		free(o);
	}
	q->b.len = 0;
}

void gateway_flush(void)
{
	flush_queue(&now_q);
}

void gateway_timers(uint64_t now, uint64_t *next)
{
	if (!rel_q.ops)
		return;
	if (now >= rel_q.due)
		flush_queue(&rel_q);
	else if (rel_q.due < *next)
		*next = rel_q.due;
}

/* pc is closing: its held answers go nowhere */
void gateway_peer_gone(const struct pconn *pc)
{
	struct gw_op *o;

	for (o = rel_q.ops; o; o = o->next)
		if (o->pc == pc)
			o->pc = NULL;
}

static void do_redirect(struct pconn *pc, const struct tcpcpd_msg *m,
			const char *ids)
{
	struct gw_entry *e, *old = NULL;
	char what[200];
	int ret;

	describe(m, what, sizeof(what));
	old = find_conn(m);
	if (old && old->dying) { /* its removal is queued: done first */
		flush_all();
		old = find_conn(m);
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		answer_now(pc, m->id, ENOMEM);
		return;
	}
	memcpy(e->id, m->id, 16);
	e->r = *m;
	if (old && old->r.mode == TCPCPD_REDIR_NFTMAP &&
	    m->mode != TCPCPD_REDIR_NFTMAP &&
	    !remove_nftmap(&now_q, NULL, old)) {
		gateway_flush(); /* another mode now: the element goes first */
		old = NULL;
	}
	if (m->mode == TCPCPD_REDIR_RULE || m->mode == TCPCPD_REDIR_NFTMAP) {
		e->table = table_for(m->family, m->via);
		if (!e->table) {
			free(e);
			answer_now(pc, m->id, ENOSPC);
			return;
		}
	}
	if (m->mode == TCPCPD_REDIR_NFTMAP) {
		ret = redirect_nftmap(pc, e, old);
		if (!ret)
			return; /* answered by gateway_flush */
	} else {
		gateway_flush();
		ret = apply_sync(e, old);
	}
	if (ret) {
		dlog(LOG_W, "gateway: move %.8s: %s: %s", ids, what,
		     strerror(-ret));
		free(e);
		answer_now(pc, m->id, -ret);
		return;
	}
	link_entry(e);
	dlog(LOG_I, "gateway: move %.8s: %s", ids, what);
	answer_now(pc, m->id, 0);
}

/* UNREDIRECT (the move rolled back) or RELEASE (the connection ended) */
static void do_remove(struct pconn *pc, const struct tcpcpd_msg *m,
		      const char *ids)
{
	bool release = m->type == TCPCPD_RELEASE;
	struct gw_entry *e = find_id(m->id);
	char what[200];
	int ret;

	if (e && e->dying) { /* its removal is queued: done first */
		flush_all();
		e = find_id(m->id);
	}
	if (e && release &&
	    (!same_tuple(&e->r, m) || (m->mode && m->mode != e->r.mode)))
		e = NULL; /* the id with another connection: not ours */
	if (!e) {
		ret = ENOENT;
		if (release && find_tuple(m))
			ret = ESTALE; /* it moved on again since */
		dlog(LOG_I, "gateway: %s of move %.8s: %s",
		     proto_type_name(m->type), ids,
		     ret == ESTALE ?
			     "the connection has moved again since; entry kept" :
			     "no such entry");
		answer_now(pc, m->id, ret);
		return;
	}
	if (e->r.mode == TCPCPD_REDIR_NFTMAP) {
		ret = remove_nftmap(release ? &rel_q : &now_q, pc, e);
		if (ret)
			answer_now(pc, m->id, -ret);
		return;
	}
	flush_all();
	describe(&e->r, what, sizeof(what));
	if (release && (e->r.mode == TCPCPD_REDIR_ROUTE ||
			e->r.mode == TCPCPD_REDIR_ADDRESS)) {
		/* the service lives there now: only forget the entry */
		dlog(LOG_I, "gateway: move %.8s ended: %s stays", ids, what);
		unlink_entry(e);
		free(e);
		answer(pc, m->id, 0);
		return;
	}
	ret = undo(e);
	unlink_entry(e);
	free(e);
	dlog(ret ? LOG_E : LOG_I, "gateway: move %.8s: %s %s%s%s", ids,
	     release ? "released" : "undone", what, ret ? ": " : "",
	     ret ? strerror(-ret) : "");
	answer(pc, m->id, -ret);
}

void gateway_msg(struct pconn *pc, const struct tcpcpd_msg *m)
{
	char ids[33];

	id_str(m->id, ids);
	if (!conf.gateway_role) {
		dlog(LOG_W,
		     "peer %s: %s refused: this daemon has no gateway role",
		     pc->addr, proto_type_name(m->type));
		answer_now(pc, m->id, EOPNOTSUPP);
		return;
	}
	if (m->type == TCPCPD_REDIRECT)
		do_redirect(pc, m, ids);
	else
		do_remove(pc, m, ids);
}

void gateway_stop(void)
{
	char what[200], why[200];
	int ret;

	flush_all();
	while (entries) {
		struct gw_entry *e = ENTRY(entries, all);

		unlink_entry(e);
		describe(&e->r, what, sizeof(what));
		switch (e->r.mode) {
		case TCPCPD_REDIR_RULE:
		case TCPCPD_REDIR_NFTMAP:
			/* nftmap: the element goes with the table below */
			if (undo(e))
				dlog(LOG_W, "gateway: cannot remove %s", what);
			else
				dlog(LOG_I, "gateway: removed %s", what);
			break;
		default:
			dlog(LOG_I, "gateway: %s stays", what);
			break;
		}
		free(e);
	}
	if (nftm_active()) {
		ret = nftm_teardown(why, sizeof(why));
		if (ret)
			dlog(LOG_W, "gateway: cannot delete table inet %s: %s",
			     NFTM_TABLE, why);
		else
			dlog(LOG_I, "gateway: removed table inet %s",
			     NFTM_TABLE);
	} else {
		nftm_teardown(NULL, 0);
	}
	while (routes) { /* none left unless a removal failed */
		struct gw_route *r = routes;

		routes = r->next;
		nlr_route_delete(r->family, r->laddr, r->table);
		free(r);
	}
	buf_free(&now_q.b);
	buf_free(&rel_q.b);
	nlr_close();
	release_stop();
}
