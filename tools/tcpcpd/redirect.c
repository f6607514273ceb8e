// SPDX-License-Identifier: GPL-2.0
/*
 * Network redirects with libnl-route-3, for the gateway role: host routes,
 * per-connection policy rules, the fwmark rules of the nftables map mode,
 * and service addresses (address mode).  libnl's NLE_* codes become -errno
 * here and nowhere else.
 */
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "redir.h"

static struct nl_sock *sk;

static int nle_errno(int e)
{
	switch (e < 0 ? -e : e) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	}
	return -EIO;
}

static int nl_ready(void)
{
	int ret;

	if (sk)
		return 0;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	ret = nl_connect(sk, NETLINK_ROUTE);
	if (ret) {
		nl_socket_free(sk);
		sk = NULL;
		return nle_errno(ret);
	}
	return 0;
}

void nlr_close(void)
{
	if (sk) {
		nl_socket_free(sk);
		sk = NULL;
	}
}

static struct nl_addr *host_addr(int family, const uint8_t *a)
{
	int af = family == 4 ? AF_INET : AF_INET6;
	struct nl_addr *n = nl_addr_build(af, a, family == 4 ? 4 : 16);

	if (n)
		nl_addr_set_prefixlen(n, family == 4 ? 32 : 128);
	return n;
}

static struct rtnl_route *host_route(int family, const uint8_t *dst,
				     uint32_t table, struct nl_addr **d)
{
	struct rtnl_route *r = rtnl_route_alloc();

	*d = host_addr(family, dst);
	if (!r || !*d) {
		if (r)
			rtnl_route_put(r);
		if (*d)
			nl_addr_put(*d);
		return NULL;
	}
	rtnl_route_set_family(r, (uint8_t)(family == 4 ? AF_INET : AF_INET6));
	rtnl_route_set_dst(r, *d);
	rtnl_route_set_table(r, table);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
	rtnl_route_set_type(r, RTN_UNICAST);
	return r;
}

/* ip route replace DST/32|128 via VIA table TABLE */
int nlr_route_replace(int family, const uint8_t *dst, const uint8_t *via,
		      uint32_t table)
{
	struct nl_addr *d = NULL, *g;
	struct rtnl_nexthop *nh;
	struct rtnl_route *r;
	int ret = nl_ready();

	if (ret)
		return ret;
	r = host_route(family, dst, table, &d);
	if (!r)
		return -ENOMEM;
	nh = rtnl_route_nh_alloc();
	g = nl_addr_build(family == 4 ? AF_INET : AF_INET6, via,
			  family == 4 ? 4 : 16);
	if (!nh || !g) {
		ret = -ENOMEM;
		if (nh)
			rtnl_route_nh_free(nh);
	} else {
		rtnl_route_nh_set_gateway(nh, g);
		rtnl_route_add_nexthop(r, nh);
		ret = nle_errno(
			rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_REPLACE));
	}
	if (g)
		nl_addr_put(g);
	nl_addr_put(d);
	rtnl_route_put(r);
	return ret;
}

int nlr_route_delete(int family, const uint8_t *dst, uint32_t table)
{
	struct nl_addr *d = NULL;
	struct rtnl_route *r;
	int ret = nl_ready();

	if (ret)
		return ret;
	r = host_route(family, dst, table, &d);
	if (!r)
		return -ENOMEM;
	rtnl_route_set_scope(r, RT_SCOPE_NOWHERE);
	ret = nle_errno(rtnl_route_delete(sk, r, 0));
	nl_addr_put(d);
	rtnl_route_put(r);
	return ret;
}

/* The gateway of the host route DST in TABLE: 1 found (via filled), 0 none */
int nlr_route_get(int family, const uint8_t *dst, uint32_t table, uint8_t *via)
{
	struct nl_cache *cache;
	struct nl_object *o;
	struct nl_addr *d;
	int ret = nl_ready(), found = 0;

	if (ret)
		return ret;
	d = host_addr(family, dst);
	if (!d)
		return -ENOMEM;
	ret = rtnl_route_alloc_cache(sk, family == 4 ? AF_INET : AF_INET6, 0,
				     &cache);
	if (ret) {
		nl_addr_put(d);
		return nle_errno(ret);
	}
	for (o = nl_cache_get_first(cache); o && !found;
	     o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh;
		struct nl_addr *g;

		if (rtnl_route_get_table(r) != table ||
		    !rtnl_route_get_dst(r) ||
		    nl_addr_cmp(rtnl_route_get_dst(r), d) ||
		    rtnl_route_get_nnexthops(r) != 1)
			continue;
		nh = rtnl_route_nexthop_n(r, 0);
		g = nh ? rtnl_route_nh_get_gateway(nh) : NULL;
		if (!g || nl_addr_get_len(g) != (family == 4 ? 4u : 16u))
			continue;
		memcpy(via, nl_addr_get_binary_addr(g), nl_addr_get_len(g));
		found = 1;
	}
	nl_cache_free(cache);
	nl_addr_put(d);
	return found;
}

/*
 * ip rule add|del pref PREF from RADDR to LADDR ipproto tcp sport RPORT
 * dport LPORT table TABLE: the peer's packets of this one connection.
 */
int nlr_rule(bool add, int family, const uint8_t *laddr, uint16_t lport,
	     const uint8_t *raddr, uint16_t rport, uint32_t table,
	     uint32_t pref)
{
	struct nl_addr *src = NULL, *dst = NULL;
	struct rtnl_rule *r;
	int ret = nl_ready();

	if (ret)
		return ret;
	r = rtnl_rule_alloc();
	src = host_addr(family, raddr);
	dst = host_addr(family, laddr);
	if (!r || !src || !dst) {
		ret = -ENOMEM;
		goto out;
	}
	rtnl_rule_set_family(r, family == 4 ? AF_INET : AF_INET6);
	rtnl_rule_set_prio(r, pref);
	rtnl_rule_set_table(r, table);
	rtnl_rule_set_action(r, FR_ACT_TO_TBL);
	ret = rtnl_rule_set_src(r, src);
	if (!ret)
		ret = rtnl_rule_set_dst(r, dst);
	if (!ret)
		ret = rtnl_rule_set_ipproto(r, IPPROTO_TCP);
	if (!ret)
		ret = rtnl_rule_set_sport(r, rport);
	if (!ret)
		ret = rtnl_rule_set_dport(r, lport);
	if (!ret)
		ret = add ? rtnl_rule_add(sk, r, NLM_F_CREATE | NLM_F_EXCL) :
			    rtnl_rule_delete(sk, r, 0);
	ret = nle_errno(ret);
out:
	if (src)
		nl_addr_put(src);
	if (dst)
		nl_addr_put(dst);
	if (r)
		rtnl_rule_put(r);
	return ret;
}

/* ip rule add|del pref PREF fwmark MARK/0xffffffff lookup TABLE */
int nlr_mark_rule(bool add, int family, uint32_t mark, uint32_t table,
		  uint32_t pref)
{
	struct rtnl_rule *r;
	int ret = nl_ready();

	if (ret)
		return ret;
	r = rtnl_rule_alloc();
	if (!r)
		return -ENOMEM;
	rtnl_rule_set_family(r, family == 4 ? AF_INET : AF_INET6);
	rtnl_rule_set_prio(r, pref);
	rtnl_rule_set_table(r, table);
	rtnl_rule_set_action(r, FR_ACT_TO_TBL);
	rtnl_rule_set_mark(r, mark);
	rtnl_rule_set_mask(r, 0xffffffff);
	ret = nle_errno(add ? rtnl_rule_add(sk, r, NLM_F_CREATE | NLM_F_EXCL) :
			      rtnl_rule_delete(sk, r, 0));
	rtnl_rule_put(r);
	return ret;
}

/* The address object A (any prefix) of this host, with a reference, or NULL */
static struct rtnl_addr *addr_find(struct nl_cache *cache, int family,
				   const uint8_t *a)
{
	size_t alen = family == 4 ? 4 : 16;
	struct nl_object *o;

	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *l = rtnl_addr_get_local(ra);

		if (rtnl_addr_get_family(ra) !=
			    (family == 4 ? AF_INET : AF_INET6) ||
		    !l || nl_addr_get_len(l) != alen ||
		    memcmp(nl_addr_get_binary_addr(l), a, alen))
			continue;
		nl_object_get(o);
		return ra;
	}
	return NULL;
}

/*
 * Address mode.  add: ip addr add ADDR/PLEN dev IF, IF being *ifindex if
 * > 0, else the interface that holds the address ON; PLEN *plen if > 0,
 * else a host prefix.  del: ip addr del ADDR (whatever its interface and
 * prefix), reporting them in *ifindex and *plen.  0 or -errno (-ENOENT: the
 * address, or ON, is not on this host; -EEXIST: ADDR is already).
 */
int nlr_addr(bool add, int family, const uint8_t *addr, const uint8_t *on,
	     int *ifindex, int *plen)
{
	struct rtnl_addr *ra = NULL, *found;
	struct nl_cache *cache;
	struct nl_addr *l;
	int ret = nl_ready();

	if (ret)
		return ret;
	ret = rtnl_addr_alloc_cache(sk, &cache);
	if (ret)
		return nle_errno(ret);
	found = addr_find(cache, family, addr);
	if (!add) {
		if (!found) {
			ret = -ENOENT;
			goto out;
		}
		*ifindex = rtnl_addr_get_ifindex(found);
		*plen = rtnl_addr_get_prefixlen(found);
		ret = nle_errno(rtnl_addr_delete(sk, found, 0));
		goto out;
	}
	if (found) {
		ret = -EEXIST;
		goto out;
	}
	if (*ifindex <= 0) {
		struct rtnl_addr *o = on ? addr_find(cache, family, on) : NULL;

		if (!o) {
			ret = -ENOENT;
			goto out;
		}
		*ifindex = rtnl_addr_get_ifindex(o);
		rtnl_addr_put(o);
	}
	ra = rtnl_addr_alloc();
	l = nl_addr_build(family == 4 ? AF_INET : AF_INET6, addr,
			  family == 4 ? 4 : 16);
	if (!ra || !l) {
		ret = -ENOMEM;
		if (l)
			nl_addr_put(l);
		goto out;
	}
	rtnl_addr_set_ifindex(ra, *ifindex);
	rtnl_addr_set_family(ra, family == 4 ? AF_INET : AF_INET6);
	ret = rtnl_addr_set_local(ra, l);
	nl_addr_put(l);
	rtnl_addr_set_prefixlen(ra, *plen > 0 ? *plen : family == 4 ? 32 : 128);
	if (family == 6) {
		/*
		 * Deprecated (preferred lifetime 0): it takes connections but
		 * is never the source this host picks for its own, such as the
		 * daemons' connection that is carrying this very move.
		 */
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
		rtnl_addr_set_valid_lifetime(ra, 0xffffffff);
		rtnl_addr_set_preferred_lifetime(ra, 0);
	}
	if (!ret)
		ret = rtnl_addr_add(sk, ra, NLM_F_CREATE | NLM_F_EXCL);
	ret = nle_errno(ret);
out:
	if (ra)
		rtnl_addr_put(ra);
	if (found)
		rtnl_addr_put(found);
	nl_cache_free(cache);
	return ret;
}
