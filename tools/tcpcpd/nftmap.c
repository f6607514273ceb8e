// SPDX-License-Identifier: GPL-2.0
/*
 * The gateway's nftables map (redirect_mode = nftmap), through libnftables.
 *
 *   table inet tcpcpd {
 *     map conns4 { type ipv4_addr . inet_service . ipv4_addr .
 *                  inet_service : mark; }
 *     set stale4 { type ipv4_addr . inet_service . ipv4_addr .
 *                  inet_service; flags dynamic; size 65536; }
 *     map conns6, set stale6 { ... the same with ipv6_addr ... }
 *     chain pre {
 *       type filter hook prerouting priority mangle; policy accept;
 *       tcp flags & (syn | ack) == syn
 *           ip saddr . tcp sport . ip daddr . tcp dport @conns4
 *           add @stale4 { ip saddr . tcp sport . ip daddr . tcp dport }
 *       ip saddr . tcp sport . ip daddr . tcp dport != @stale4
 *           meta mark set ip saddr . tcp sport . ip daddr . tcp dport
 *           map @conns4
 *       (the same two rules with ip6 for conns6 and stale6)
 *     }
 *   }
 *
 * The key is the peer's tuple as the gateway sees it (peer address and
 * port, service address and port); the value is a firewall mark, the number
 * of the routing table of the connection's destination host.  One policy
 * rule per destination host and family ("fwmark T lookup T", redirect.c)
 * and one route per service address in table T finish the job in the
 * ordinary forwarding path: prerouting runs before the route lookup, so the
 * mark chooses the table.  The map is a hash: one lookup per packet however
 * many connections are moved, where the rule mode's policy rules are
 * scanned one by one.  The destination address is kept (no NAT), TTL, ICMP
 * errors and IPv6 work as for any routed packet.
 *
 * The stale sets: an element stays until the destination's RELEASE, up to
 * release_poll ms after the connection is gone (release_grace ms after
 * TIME_WAIT), and a peer may open a new connection from the same port
 * before that (tcp_tw_reuse, a NAT, an explicit bind).  Sent along the old
 * element to the old destination, its SYN meets no connection or a dead
 * one there and gets a reset: "connection refused".  A connection is only
 * moved once established, so a pure SYN (no ACK) from the peer with a tuple
 * in the map always opens a new connection: the first rule puts the tuple
 * in staleN, and that SYN and every later packet of the tuple skip the map
 * and take the default route (the origin or dispatcher, which has a
 * listener).  The element and the stale tuple go together when the old
 * connection is released; a new move of the tuple (the new connection
 * handed off in its turn) takes it out of staleN with its new element.  (A
 * SYN that crosses the release may leave its tuple in staleN without an
 * element: harmless, the tuple takes the default route either way.)
 *
 * Every change is a line of nft syntax; the gateway joins the lines of all
 * the moves that arrive together into one buffer, which libnftables sends
 * as one netlink transaction (all or nothing).  nft has no "destroy
 * element" here (1.0.6) and a "delete element" of a missing element fails
 * the whole transaction, so a tuple leaves staleN by "add element" then
 * "delete element", which succeeds whether it was there or not (unless the
 * set is full: gateway.c then runs the change without that pair).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "redir.h"

static struct nft_ctx *ctx;
static bool table_up;

static int nft_open(void)
{
	if (ctx)
		return 0;
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return -ENOMEM;
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		nft_ctx_free(ctx);
		ctx = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Run nft commands as one transaction: 0, or -EIO with nft's words in why */
int nftm_run(const char *cmds, char *why, size_t len)
{
	const char *e;
	int ret = nft_open();

	if (ret)
		return ret;
	if (!nft_run_cmd_from_buffer(ctx, cmds)) {
		if (why && len)
			why[0] = '\0';
		return 0;
	}
	e = nft_ctx_get_error_buffer(ctx);
	if (why && len) {
		snprintf(why, len, "%s", e ? e : "nft failed");
		/* first line only, for the log */
		why[strcspn(why, "\n")] = '\0';
	}
	return -EIO;
}

/* Create the table afresh (a table left by a killed daemon goes first) */
int nftm_setup(char *why, size_t len)
{
	static const char cmds[] =
		"add table inet " NFTM_TABLE "\n"
		"delete table inet " NFTM_TABLE "\n"
		"add table inet " NFTM_TABLE " {\n"
		" map conns4 { type ipv4_addr . inet_service . ipv4_addr ."
		" inet_service : mark; }\n"
		" map conns6 { type ipv6_addr . inet_service . ipv6_addr ."
		" inet_service : mark; }\n"
		" set stale4 { type ipv4_addr . inet_service . ipv4_addr ."
		" inet_service; flags dynamic; size 65536; }\n"
		" set stale6 { type ipv6_addr . inet_service . ipv6_addr ."
		" inet_service; flags dynamic; size 65536; }\n"
		" chain pre {\n"
		"  type filter hook prerouting priority mangle; policy accept;\n"
		"  tcp flags & (syn | ack) == syn"
		" ip saddr . tcp sport . ip daddr . tcp dport @conns4"
		" add @stale4 { ip saddr . tcp sport . ip daddr . tcp dport }\n"
		"  ip saddr . tcp sport . ip daddr . tcp dport != @stale4"
		" meta mark set ip saddr . tcp sport . ip daddr . tcp dport"
		" map @conns4\n"
		"  tcp flags & (syn | ack) == syn"
		" ip6 saddr . tcp sport . ip6 daddr . tcp dport @conns6"
		" add @stale6 { ip6 saddr . tcp sport . ip6 daddr . tcp dport }\n"
		"  ip6 saddr . tcp sport . ip6 daddr . tcp dport != @stale6"
		" meta mark set ip6 saddr . tcp sport . ip6 daddr . tcp dport"
		" map @conns6\n"
		" }\n"
		"}\n";
	int ret;

	if (table_up)
		return 0;
	ret = nftm_run(cmds, why, len);
	if (!ret)
		table_up = true;
	return ret;
}

bool nftm_active(void)
{
	return table_up;
}

/*
 * Append "add|delete element inet tcpcpd connsN { KEY [: MARK] }\n" for the
 * connection (service laddr:lport, peer raddr:rport) to b.  0 or -ENOMEM.
 */
int nftm_elem(struct buf *b, bool add, int family, const uint8_t *laddr,
	      uint16_t lport, const uint8_t *raddr, uint16_t rport,
	      uint32_t mark)
{
	int af = family == 4 ? AF_INET : AF_INET6;
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN], line[256];
	int n;

	inet_ntop(af, laddr, l, sizeof(l));
	inet_ntop(af, raddr, r, sizeof(r));
	if (add)
		n = snprintf(line, sizeof(line),
			     "add element inet %s conns%d { %s . %u . %s . %u : %u }\n",
			     NFTM_TABLE, family, r, rport, l, lport, mark);
	else
		n = snprintf(line, sizeof(line),
			     "delete element inet %s conns%d { %s . %u . %s . %u }\n",
			     NFTM_TABLE, family, r, rport, l, lport);
	return buf_put(b, line, (size_t)n);
}

/*
 * Append the lines that take the connection's tuple out of staleN whether
 * it is there or not ("add element" then "delete element": a lone delete
 * of a missing element would fail the transaction).  0 or -ENOMEM.
 */
int nftm_unstale(struct buf *b, int family, const uint8_t *laddr,
		 uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	int af = family == 4 ? AF_INET : AF_INET6;
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN], key[160], line[400];
	int n;

	inet_ntop(af, laddr, l, sizeof(l));
	inet_ntop(af, raddr, r, sizeof(r));
	snprintf(key, sizeof(key), "stale%d { %s . %u . %s . %u }", family, r,
		 rport, l, lport);
	n = snprintf(line, sizeof(line),
		     "add element inet %s %s\ndelete element inet %s %s\n",
		     NFTM_TABLE, key, NFTM_TABLE, key);
	return buf_put(b, line, (size_t)n);
}

/* Remove the table and everything in it; 0 or -errno */
int nftm_teardown(char *why, size_t len)
{
	int ret = 0;

	if (table_up)
		ret = nftm_run("delete table inet " NFTM_TABLE "\n", why, len);
	table_up = false;
	if (ctx) {
		nft_ctx_free(ctx);
		ctx = NULL;
	}
	return ret;
}
