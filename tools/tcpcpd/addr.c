// SPDX-License-Identifier: GPL-2.0
/*
 * redirect_mode = address: the service address moves with the connection,
 * for an address on an L2 segment shared with the router (no gateway
 * daemon).  The origin sends REDIRECT (mode address, via = the
 * destination's address) to the destination's daemon, whose gateway role
 * adds the address to the interface that holds `via` (a host prefix) and
 * announces it: a gratuitous ARP request and reply (IPv4), an unsolicited
 * neighbour advertisement with the override flag to ff02::1 (IPv6), so
 * that the router's neighbour entry flips to the destination's MAC.  Once
 * REDIRECTED says so, the origin removes the address from itself and
 * commits.  A roll-back (UNREDIRECT) removes it at the destination, and the
 * origin adds it back and announces it again.  Every connection to the
 * address follows it: the mode suits a service address per connection
 * group, as route mode does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netinet/in.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "move.h"
#include "redir.h"

static int hwaddr(int ifindex, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name) ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		ret = -errno;
	else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
		ret = -EOPNOTSUPP;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return ret;
}

static int garp(const uint8_t *addr, int ifindex, const uint8_t mac[6])
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ARP),
				  .sll_ifindex = ifindex,
				  .sll_halen = 6 };
	struct ether_arp a = { 0 };
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	int ret = 0;

	if (fd < 0)
		return -errno;
	memset(ll.sll_addr, 0xff, 6);
	a.arp_hrd = htons(ARPHRD_ETHER);
	a.arp_pro = htons(ETH_P_IP);
	a.arp_hln = 6;
	a.arp_pln = 4;
	memcpy(a.arp_sha, mac, 6);
	memcpy(a.arp_spa, addr, 4);
	memcpy(a.arp_tpa, addr, 4);
	/* a request (target MAC 0) and a reply (target MAC broadcast) */
	for (int op = ARPOP_REQUEST; op <= ARPOP_REPLY && !ret; op++) {
		a.arp_op = htons((uint16_t)op);
		memset(a.arp_tha, op == ARPOP_REPLY ? 0xff : 0, 6);
		if (sendto(fd, &a, sizeof(a), 0, (struct sockaddr *)&ll,
			   sizeof(ll)) != sizeof(a))
			ret = -errno;
	}
	close(fd);
	return ret;
}

static int unsolicited_na(const uint8_t *addr, int ifindex,
			  const uint8_t mac[6])
{
	struct {
		struct nd_neighbor_advert na;
		uint8_t opt[8];
	} p = { 0 };
	struct sockaddr_in6 to = { .sin6_family = AF_INET6,
				   .sin6_scope_id = (uint32_t)ifindex };
	int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	int hops = 255, ret = 0;

	if (fd < 0)
		return -errno;
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	p.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	p.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	memcpy(&p.na.nd_na_target, addr, 16);
	p.opt[0] = ND_OPT_TARGET_LINKADDR;
	p.opt[1] = 1; /* 8 bytes */
	memcpy(p.opt + 2, mac, 6);
	/* the kernel fills the checksum of raw ICMPv6 sockets */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops,
		       sizeof(hops)) ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex,
		       sizeof(ifindex)) ||
	    sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) !=
		    sizeof(p))
		ret = -errno;
	close(fd);
	return ret;
}

/* Tell the segment that addr is at this interface's MAC now; 0 or -errno */
int addr_announce(int family, const uint8_t *addr, int ifindex)
{
	uint8_t mac[6];
	int ret = hwaddr(ifindex, mac);

	if (ret)
		return ret;
	return family == 4 ? garp(addr, ifindex, mac) :
			     unsolicited_na(addr, ifindex, mac);
}

/* --- the origin's side --- */

/* Addresses the origin removed for moves in progress, by move id */
#define GONE 64
static struct {
	uint8_t id[16];
	int family, ifindex, plen;
	uint8_t addr[16];
	bool used;
} gone[GONE];
static unsigned int gone_next;

/* The daemon that takes the REDIRECT: the destination's, in address mode */
int addr_target(const struct move *m, struct sockaddr_storage *ss,
		socklen_t *len)
{
	if (conf.redirect_mode != TCPCPD_REDIR_ADDRESS)
		return 0;
	*ss = m->dest_ss;
	*len = m->dest_sl;
	return 1;
}

static void addr_of(const struct move *m, int *family, uint8_t a[16])
{
	memset(a, 0, 16);
	if (m->info.family == AF_INET) {
		*family = 4;
		memcpy(a,
		       &((const struct sockaddr_in *)&m->info.local)->sin_addr,
		       4);
	} else {
		*family = 6;
		memcpy(a,
		       &((const struct sockaddr_in6 *)&m->info.local)->sin6_addr,
		       16);
	}
}

/*
 * The destination has the address: remove it here before the commit.
 * 0 to go on (or not address mode); otherwise the move is rolled back
 * already and the caller must not touch it.
 */
int addr_origin_out(struct move *m)
{
	int family, ifindex = 0, plen = 0, ret;
	uint8_t a[16];

	if (conf.redirect_mode != TCPCPD_REDIR_ADDRESS)
		return 0;
	addr_of(m, &family, a);
	ret = nlr_addr(false, family, a, NULL, &ifindex, &plen);
	if (ret && ret != -ENOENT) {
		rollback(m, -ret, PHASE_REDIRECT,
			 "cannot remove the service address here");
		return ret;
	}
	if (!ret) {
		memcpy(gone[gone_next].id, m->id, 16);
		gone[gone_next].family = family;
		gone[gone_next].ifindex = ifindex;
		gone[gone_next].plen = plen;
		memcpy(gone[gone_next].addr, a, 16);
		gone[gone_next].used = true;
		gone_next = (gone_next + 1) % GONE;
		dlog(LOG_I, "move %.8s: service address removed here", m->ids);
	}
	return 0;
}

/* Roll-back: the address this move removed comes back, announced */
void addr_origin_back(struct move *m)
{
	unsigned int i;
	int ret;

	for (i = 0; i < GONE; i++) {
		if (!gone[i].used || memcmp(gone[i].id, m->id, 16))
			continue;
		gone[i].used = false;
		ret = nlr_addr(true, gone[i].family, gone[i].addr, NULL,
			       &gone[i].ifindex, &gone[i].plen);
		if (!ret)
			ret = addr_announce(gone[i].family, gone[i].addr,
					    gone[i].ifindex);
		if (ret)
			dlog(LOG_E,
			     "move %.8s: cannot restore the service address: %s",
			     m->ids, strerror(-ret));
		else
			dlog(LOG_I, "move %.8s: service address back here",
			     m->ids);
	}
}
