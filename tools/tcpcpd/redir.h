/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The redirect side of tcpcpd: the gateway's nftables map (nftmap.c), the
 * release of gateway entries when moved connections end (release.c), the
 * address mode (addr.c), and the libnl calls they share (redirect.c).
 */
#ifndef TCPCPD_REDIR_H
#define TCPCPD_REDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "tcpcpd.h"

#define NFTM_TABLE "tcpcpd"

/* settings of this part, from tcpcpd.conf (config.c) */
struct redir_conf {
	bool release; /* destination: watch moved connections, RELEASE */
	unsigned int release_grace_ms; /* TIME_WAIT: release after this */
	unsigned int release_poll_ms; /* sock_diag poll period */
};
extern struct redir_conf rconf;

/* nftmap.c */
int nftm_setup(char *why, size_t len);
bool nftm_active(void);
int nftm_elem(struct buf *b, bool add, int family, const uint8_t *laddr,
	      uint16_t lport, const uint8_t *raddr, uint16_t rport,
	      uint32_t mark);
int nftm_unstale(struct buf *b, int family, const uint8_t *laddr,
		 uint16_t lport, const uint8_t *raddr, uint16_t rport);
int nftm_apply(const void *msgs, size_t len, char *why, size_t wlen);
/* tests: false makes nftm_unstale use the pair of older kernels */
void nftm_set_destroy(bool on);
bool nftm_uses_destroy(void);
int nftm_teardown(char *why, size_t len);

/* redirect.c: ip rule add|del fwmark MARK lookup TABLE pref PREF */
int nlr_mark_rule(bool add, int family, uint32_t mark, uint32_t table,
		  uint32_t pref);
/* ip addr add|del ADDR (see redirect.c) */
int nlr_addr(bool add, int family, const uint8_t *addr, const uint8_t *on,
	     int *ifindex, int *plen);

/* gateway.c: run the queued nftables changes and answer (main loop) */
void gateway_flush(void);
/* gateway.c: the held releases, when due */
void gateway_timers(uint64_t now, uint64_t *next);

/* release.c */
void release_watch(const uint8_t id[16], const struct tcpcp_info *info);
void release_timers(uint64_t now, uint64_t *next);
void release_stop(void);

/* addr.c: gratuitous ARP / unsolicited neighbour advertisement */
int addr_announce(int family, const uint8_t *addr, int ifindex);
/* addr.c: the origin's side of address mode (hooks in origin.c, move.c) */
struct move;
int addr_target(const struct move *m, struct sockaddr_storage *ss,
		socklen_t *len);
int addr_origin_out(struct move *m);
void addr_origin_back(struct move *m);

/* the main loop's hooks: timers at the top, flush after the events */
static inline void redir_timers(uint64_t now, uint64_t *next)
{
	release_timers(now, next);
	gateway_timers(now, next);
}

#endif /* TCPCPD_REDIR_H */
