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
 * The table is set up and removed through libnftables (nft syntax).  Each
 * per-connection change is an nf_tables element message (below); the
 * gateway joins the messages of all the moves that arrive together into
 * one buffer, sent as one netlink batch: one transaction (all or nothing).
 * A tuple leaves staleN by a "destroy element" (NFT_MSG_DESTROYSETELEM,
 * Linux 6.3): a delete that ignores a missing element.  Missing is the
 * common case, and then the message changes nothing: no transaction entry,
 * so no RCU grace period when the batch is committed (the kernel waits for
 * one before it frees deleted elements, and a host booted with
 * rcu_expedited pays an expedited one, with an IPI to every CPU, per
 * batch).  Older kernels refuse the message type; there a tuple leaves
 * staleN by an add then a delete, which succeeds whether it was there or
 * not (unless the set is full: gateway.c then runs the change without that
 * pair), since a lone delete of a missing element fails the whole
 * transaction.  nftm_setup finds out which of the two works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redir.h"

static struct nft_ctx *ctx;
static bool table_up;
static bool use_destroy; /* the kernel knows NFT_MSG_DESTROYSETELEM */

#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30 /* Linux 6.3; older headers lack it */
#endif

static int probe_destroy(void);

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
static int nftm_run(const char *cmds, char *why, size_t len)
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
	if (!ret) {
		table_up = true;
		use_destroy = !probe_destroy();
	}
	return ret;
}

void nftm_set_destroy(bool on)
{
	use_destroy = on;
}

bool nftm_uses_destroy(void)
{
	return use_destroy;
}

bool nftm_active(void)
{
	return table_up;
}

/*
 * The per-connection changes bypass libnftables: for every command it
 * parses the text and fetches the ruleset cache (a dozen system calls),
 * where an element is one netlink message.  nftm_elem and nftm_unstale
 * append nf_tables NEWSETELEM/DELSETELEM/DESTROYSETELEM messages to a
 * buffer; nftm_apply wraps them in a batch (one transaction, all or
 * nothing) and sends it.  The messages ask for no acknowledgement: an
 * error is reported whether asked or not, and success then costs no
 * answer to read.
 * A key is the concatenation the rules build, each field in a 32-bit
 * register: address, port in network order then two zero bytes, address,
 * port (16 bytes for IPv4, 40 for IPv6); the data of a map element is the
 * mark, in host order (meta mark).
 */
static int nl_fd = -1;
static uint32_t nl_seq;
static bool nl_dirty; /* answers of a batch may be left on nl_fd */

static int nla_put(struct buf *b, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + len),
			    .nla_type = type };
	static const uint8_t zero[NLA_ALIGNTO];
	int ret = buf_put(b, &a, sizeof(a));

	if (!ret && len)
		ret = buf_put(b, data, len);
	if (!ret && NLA_ALIGN(len) != len)
		ret = buf_put(b, zero, NLA_ALIGN(len) - len);
	return ret;
}

/* Open a nested attribute; nla_end(b, at) closes it */
static int nla_begin(struct buf *b, uint16_t type, size_t *at)
{
	*at = b->len;
	return nla_put(b, type | NLA_F_NESTED, NULL, 0);
}

static void nla_end(struct buf *b, size_t at)
{
	struct nlattr a;

	memcpy(&a, b->p + at, sizeof(a));
	a.nla_len = (uint16_t)(b->len - at);
	memcpy(b->p + at, &a, sizeof(a));
}

/* Open an nf_tables message of type in family inet; nl_end closes it */
static int nl_msg(struct buf *b, uint16_t type, uint16_t flags, size_t *at)
{
	struct nlmsghdr h = { .nlmsg_type = type,
			      .nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags),
			      .nlmsg_seq = ++nl_seq };
	struct nfgenmsg g = { .nfgen_family = NFPROTO_INET,
			      .version = NFNETLINK_V0 };

	*at = b->len;
	if (buf_put(b, &h, sizeof(h)) || buf_put(b, &g, sizeof(g)))
		return -ENOMEM;
	return 0;
}

static void nl_end(struct buf *b, size_t at)
{
	struct nlmsghdr h;

	memcpy(&h, b->p + at, sizeof(h));
	h.nlmsg_len = (uint32_t)(b->len - at);
	memcpy(b->p + at, &h, sizeof(h));
}

/* One element message (type NFT_MSG_*SETELEM): KEY [: mark] in set */
static int elem_msg(struct buf *b, uint16_t type, const char *set, int family,
		    const uint8_t *laddr, uint16_t lport, const uint8_t *raddr,
		    uint16_t rport, const uint32_t *mark)
{
	size_t alen = family == 4 ? 4 : 16, klen = 0, m, l, e, k, d;
	uint8_t key[40];
	uint16_t port;
	size_t start = b->len;

	memset(key, 0, sizeof(key));
	memcpy(key, raddr, alen);
	klen = alen;
	port = htons(rport);
	memcpy(key + klen, &port, 2);
	klen += 4;
	memcpy(key + klen, laddr, alen);
	klen += alen;
	port = htons(lport);
	memcpy(key + klen, &port, 2);
	klen += 4;
	if (nl_msg(b, (uint16_t)(NFNL_SUBSYS_NFTABLES << 8 | type),
		   type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0, &m) ||
	    nla_put(b, NFTA_SET_ELEM_LIST_TABLE, NFTM_TABLE,
		    sizeof(NFTM_TABLE)) ||
	    nla_put(b, NFTA_SET_ELEM_LIST_SET, set, strlen(set) + 1) ||
	    nla_begin(b, NFTA_SET_ELEM_LIST_ELEMENTS, &l) ||
	    nla_begin(b, NFTA_LIST_ELEM, &e) ||
	    nla_begin(b, NFTA_SET_ELEM_KEY, &k) ||
	    nla_put(b, NFTA_DATA_VALUE, key, klen))
		goto nomem;
	nla_end(b, k);
	if (mark) {
		if (nla_begin(b, NFTA_SET_ELEM_DATA, &d) ||
		    nla_put(b, NFTA_DATA_VALUE, mark, sizeof(*mark)))
			goto nomem;
		nla_end(b, d);
	}
	nla_end(b, e);
	nla_end(b, l);
	nl_end(b, m);
	return 0;
nomem:
	b->len = start;
	return -ENOMEM;
}

/*
 * Append to b the message that adds (with mark) or deletes the element of
 * the connection (service laddr:lport, peer raddr:rport).  0 or -ENOMEM.
 */
int nftm_elem(struct buf *b, bool add, int family, const uint8_t *laddr,
	      uint16_t lport, const uint8_t *raddr, uint16_t rport,
	      uint32_t mark)
{
	return elem_msg(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
			family == 4 ? "conns4" : "conns6", family, laddr, lport,
			raddr, rport, add ? &mark : NULL);
}

/*
 * Append what takes the tuple out of its stale set whether or not it is
 * there: a destroy, or where the kernel lacks it the pair add (a no-op if
 * present) then delete.  A lone delete of a missing element would fail the
 * whole transaction.
 */
int nftm_unstale(struct buf *b, int family, const uint8_t *laddr,
		 uint16_t lport, const uint8_t *raddr, uint16_t rport)
{
	const char *set = family == 4 ? "stale4" : "stale6";
	size_t start = b->len;

	if (use_destroy)
		return elem_msg(b, NFT_MSG_DESTROYSETELEM, set, family, laddr,
				lport, raddr, rport, NULL);
	if (elem_msg(b, NFT_MSG_NEWSETELEM, set, family, laddr, lport, raddr,
		     rport, NULL) ||
	    elem_msg(b, NFT_MSG_DELSETELEM, set, family, laddr, lport, raddr,
		     rport, NULL)) {
		b->len = start;
		return -ENOMEM;
	}
	return 0;
}

static int nl_open(void)
{
	int big = 32 << 20, one = 1;

	if (nl_fd >= 0)
		return 0;
	nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (nl_fd < 0)
		return -errno;
	/* a whole batch goes in one sendmsg (one transaction) */
	if (setsockopt(nl_fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)))
		setsockopt(nl_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (setsockopt(nl_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(nl_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	/* errors without a copy of each request */
	setsockopt(nl_fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

/* Does the kernel take NFT_MSG_DESTROYSETELEM?  0 if so (table_up) */
static int probe_destroy(void)
{
	static const uint8_t none[16];
	struct buf b = { 0 };
	int ret;

	ret = elem_msg(&b, NFT_MSG_DESTROYSETELEM, "stale4", 4, none, 0, none,
		       0, NULL);
	if (!ret)
		ret = nftm_apply(b.p, b.len, NULL, 0);
	buf_free(&b);
	return ret;
}

/*
 * Apply the len bytes of messages at msgs (nftm_elem, nftm_unstale) as one
 * transaction: 0, or the first error (-errno) with its text in why.
 * nfnetlink processes the batch while we send it, so every answer (an
 * error: none is asked for otherwise) is queued on our socket when sendmsg
 * returns; one read finds the queue empty when all went well.
 */
int nftm_apply(const void *msgs, size_t len, char *why, size_t wlen)
{
	struct sockaddr_nl k = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr h;
		struct nfgenmsg g;
	} hd = { { .nlmsg_len = sizeof(hd),
		   .nlmsg_type = NFNL_MSG_BATCH_BEGIN,
		   .nlmsg_flags = NLM_F_REQUEST },
		 { .nfgen_family = AF_UNSPEC,
		   .version = NFNETLINK_V0,
		   .res_id = htons(NFNL_SUBSYS_NFTABLES) } },
	  tl = hd;
	struct iovec iov[3];
	struct msghdr mh = { .msg_name = &k,
			     .msg_namelen = sizeof(k),
			     .msg_iov = iov,
			     .msg_iovlen = 3 };
	uint8_t rb[8192] __attribute__((aligned(4)));
	int ret = nl_open(), err = 0;
	ssize_t n;

	if (why && wlen)
		why[0] = '\0';
	if (ret)
		goto out;
	/* answers of an earlier batch cut short: not ours */
	while (nl_dirty && recv(nl_fd, rb, sizeof(rb), MSG_DONTWAIT) > 0)
		;
	nl_dirty = false;
	/* the batch's begin and end messages, around msgs */
	hd.h.nlmsg_seq = ++nl_seq;
	tl.h.nlmsg_type = NFNL_MSG_BATCH_END;
	tl.h.nlmsg_seq = ++nl_seq;
	iov[0] = (struct iovec){ &hd, sizeof(hd) };
	iov[1] = (struct iovec){ (void *)msgs, len };
	iov[2] = (struct iovec){ &tl, sizeof(tl) };
	if (sendmsg(nl_fd, &mh, 0) < 0) {
		ret = -errno;
		goto out;
	}
	ret = 0;
	nl_dirty = true;
	while ((n = recv(nl_fd, rb, sizeof(rb), MSG_DONTWAIT)) > 0) {
		struct nlmsghdr *h = (struct nlmsghdr *)rb;

		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			struct nlmsgerr e;

			if (h->nlmsg_type != NLMSG_ERROR ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(e)))
				continue;
			memcpy(&e, NLMSG_DATA(h), sizeof(e));
			if (e.error && !err)
				err = e.error;
		}
	}
	if (n < 0 && errno == EAGAIN)
		nl_dirty = false;
	ret = err;
out:
	if (ret && why && wlen)
		snprintf(why, wlen, "nf_tables: %s", strerror(-ret));
	return ret;
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
	if (nl_fd >= 0)
		close(nl_fd);
	nl_fd = -1;
	return ret;
}
