/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Isolation of a TCP_REPAIR socket on a stock kernel (repair backend).
 *
 * TCP_REPAIR alone does not silence a socket: its retransmission, probe and
 * keepalive timers keep transmitting, and inbound segments are still
 * processed.  An isolated socket therefore also has
 *  - egress blocked: SO_MARK = ISOLATE_MARK, and a policy rule
 *    "fwmark ISOLATE_MARK blackhole" (pref ISOLATE_PREF) in its network
 *    namespace, for IPv4 and IPv6; setting the mark drops the cached route,
 *    so every later transmission fails its route lookup;
 *  - ingress blocked: a classic BPF socket filter that drops every segment
 *    before TCP sees it (no ACK, no RST, no state change).
 */
#ifndef TCPCP_ISOLATE_H
#define TCPCP_ISOLATE_H

#include <stdbool.h>
#include <stdint.h>

#define ISOLATE_MARK 0x7c9c0001U
#define ISOLATE_PREF 1 /* right after the local table's rule */

/* Urgent pointer value (without URG) that ISOLATE_FILTER_FIN lets pass */
#define ISOLATE_FIN_MAGIC 0x7c9c

enum isolate_filter {
	ISOLATE_FILTER_DROP, /* drop everything */
	ISOLATE_FILTER_FIN, /* drop everything but our injected FIN */
};

/* Make sure the blackhole rules exist in s's network namespace */
int isolate_rules(int s);
/* Set SO_MARK to ISOLATE_MARK (after isolate_rules) */
int isolate_egress(int s);
int isolate_ingress(int s, enum isolate_filter f);
/* Detach the filter and set the mark back to mark */
int isolate_release(int s, uint32_t mark);

/*
 * Process-local registry of what isolation changed, keyed by the socket
 * cookie (SO_COOKIE, never reused): the user's mark and SO_REUSEADDR.
 */
struct isolate_saved {
	uint32_t mark;
	int reuseaddr;
};
int isolate_cookie(int s, uint64_t *cookie);
int isolate_save(uint64_t cookie, const struct isolate_saved *sv);
/* Remove the entry; 0 if found, -ENOENT (and *sv zeroed) if not */
int isolate_take(uint64_t cookie, struct isolate_saved *sv);
/*
 * No entry at all: then no socket has one, and its cookie (a system call)
 * need not be asked to find out.  Only entries of sockets this thread works
 * on matter, so a concurrent change elsewhere does not.
 */
bool isolate_registry_empty(void);

/*
 * Deliver a FIN|ACK from the peer to a local endpoint through a raw socket
 * (loopback), as CRIU's libsoccr does: src/dst are the peer's and ours
 * (4 or 16 bytes, network order ports), seq/ack in host order, urgent
 * pointer ISOLATE_FIN_MAGIC without URG, no options.
 */
int isolate_inject_fin(int family, const uint8_t *src, uint16_t sport,
		       const uint8_t *dst, uint16_t dport, uint32_t seq,
		       uint32_t ack, uint16_t win);

#endif /* TCPCP_ISOLATE_H */
