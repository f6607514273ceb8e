// SPDX-License-Identifier: GPL-2.0
/*
 * The gateway role: an origin daemon asks (REDIRECT) that the peer's
 * packets of one connection go to the destination, and may ask to undo it
 * (UNREDIRECT) while the move has not committed.
 *
 *   route: replace the host route of the connection's local (service)
 *          address, in the main table; undo restores the route it replaced.
 *   rule:  one policy rule per connection (peer address and port, service
 *          address and port) pointing at a table that routes the service
 *          address via the destination, so that other connections to the
 *          same address stay where they are.
 *
 * The rules the daemon added are removed when it stops.  A new REDIRECT of
 * the same connection (moved on again) replaces its rule.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/rtnetlink.h>

#include "tcpcpd.h"

#define MAX_VIA_TABLES 64

struct gw_entry {
	struct gw_entry *next;
	uint8_t id[16];
	struct tcpcpd_msg r; /* the REDIRECT (mode, tuple, via) */
	uint32_t table;
	int had_old; /* route mode: a route was replaced */
	uint8_t old_via[16];
};

static struct gw_entry *entries;
static uint8_t via_tables[MAX_VIA_TABLES][17]; /* family + via per table */
static int n_via;

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

static void describe(const struct tcpcpd_msg *m, char *buf, size_t len)
{
	int af = m->family == 4 ? AF_INET : AF_INET6;
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN], v[INET6_ADDRSTRLEN];

	inet_ntop(af, m->laddr, l, sizeof(l));
	inet_ntop(af, m->raddr, r, sizeof(r));
	inet_ntop(af, m->via, v, sizeof(v));
	if (m->mode == TCPCPD_REDIR_ROUTE)
		snprintf(buf, len, "route %s via %s", l, v);
	else
		snprintf(buf, len, "rule %s:%u -> %s:%u via %s", r, m->rport, l,
			 m->lport, v);
}

static bool same_conn(const struct tcpcpd_msg *a, const struct tcpcpd_msg *b)
{
	if (a->mode != b->mode || a->family != b->family ||
	    memcmp(a->laddr, b->laddr, 16))
		return false;
	return a->mode == TCPCPD_REDIR_ROUTE ||
	       (a->lport == b->lport && a->rport == b->rport &&
		!memcmp(a->raddr, b->raddr, 16));
}

static int undo(struct gw_entry *e)
{
	const struct tcpcpd_msg *m = &e->r;

	if (m->mode == TCPCPD_REDIR_RULE)
		return nlr_rule(false, m->family, m->laddr, m->lport, m->raddr,
				m->rport, e->table, conf.gateway_pref);
	if (e->had_old)
		return nlr_route_replace(m->family, m->laddr, e->old_via,
					 RT_TABLE_MAIN);
	return nlr_route_delete(m->family, m->laddr, RT_TABLE_MAIN);
}

static void unlink_entry(struct gw_entry *e)
{
	struct gw_entry **p;

	for (p = &entries; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			return;
		}
}

static int apply(const struct tcpcpd_msg *m, const char *ids, char *what,
		 size_t wl)
{
	struct gw_entry *e, *old = NULL;
	int ret;

	describe(m, what, wl);
	for (e = entries; e; e = e->next)
		if (same_conn(&e->r, m))
			old = e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memcpy(e->id, m->id, 16);
	e->r = *m;
	if (m->mode == TCPCPD_REDIR_RULE) {
		e->table = table_for(m->family, m->via);
		if (!e->table) {
			free(e);
			return -ENOSPC;
		}
		ret = nlr_route_replace(m->family, m->laddr, m->via, e->table);
		if (!ret && old) {
			/* moved on again: the old rule goes, the new one comes */
			undo(old);
			unlink_entry(old);
			free(old);
		}
		if (!ret)
			ret = nlr_rule(true, m->family, m->laddr, m->lport,
				       m->raddr, m->rport, e->table,
				       conf.gateway_pref);
	} else {
		if (old) {
			/* keep the route from before the first move for undo */
			e->had_old = old->had_old;
			memcpy(e->old_via, old->old_via, 16);
		} else {
			ret = nlr_route_get(m->family, m->laddr, RT_TABLE_MAIN,
					    e->old_via);
			if (ret < 0) {
				free(e);
				return ret;
			}
			e->had_old = ret;
		}
		ret = nlr_route_replace(m->family, m->laddr, m->via,
					RT_TABLE_MAIN);
		if (!ret && old) {
			unlink_entry(old);
			free(old);
		}
	}
	if (ret) {
		free(e);
		return ret;
	}
	e->next = entries;
	entries = e;
	dlog(LOG_I, "gateway: move %.8s: %s", ids, what);
	return 0;
}

void gateway_msg(struct pconn *pc, const struct tcpcpd_msg *m)
{
	struct tcpcpd_msg r = { .type = TCPCPD_REDIRECTED };
	char ids[33], what[200] = "";
	struct gw_entry *e;
	int ret;

	id_str(m->id, ids);
	memcpy(r.id, m->id, 16);
	if (!conf.gateway_role) {
		ret = -EOPNOTSUPP;
		dlog(LOG_W,
		     "peer %s: REDIRECT refused: this daemon has no gateway role",
		     pc->addr);
	} else if (m->type == TCPCPD_REDIRECT) {
		ret = apply(m, ids, what, sizeof(what));
		if (ret)
			dlog(LOG_W, "gateway: move %.8s: %s: %s", ids, what,
			     strerror(-ret));
	} else {
		for (e = entries; e && memcmp(e->id, m->id, 16); e = e->next)
			;
		if (!e) {
			ret = -ENOENT;
		} else {
			describe(&e->r, what, sizeof(what));
			ret = undo(e);
			unlink_entry(e);
			free(e);
			dlog(ret ? LOG_E : LOG_I,
			     "gateway: move %.8s: undone %s%s%s", ids, what,
			     ret ? ": " : "", ret ? strerror(-ret) : "");
		}
	}
	r.err = -ret;
	peer_send(pc, &r);
}

void gateway_stop(void)
{
	char what[200];

	while (entries) {
		struct gw_entry *e = entries;

		entries = e->next;
		if (e->r.mode == TCPCPD_REDIR_RULE) {
			describe(&e->r, what, sizeof(what));
			if (undo(e))
				dlog(LOG_W, "gateway: cannot remove %s", what);
			else
				dlog(LOG_I, "gateway: removed %s", what);
		}
		free(e);
	}
	nlr_close();
}
