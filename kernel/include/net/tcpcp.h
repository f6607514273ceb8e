/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tcpcp - TCP connection passing: the hooks the TCP stack calls.
 *
 * An endpoint is isolated from the time getsockopt(TCP_ICI) dumps it, or
 * setsockopt(TCP_ICI) creates it, until TCPCP_UNISOLATE or TCPCP_ACTIVATE:
 * inbound segments are dropped (or, on a created endpoint, queued), nothing
 * is transmitted, the timers do nothing and close() is silent.
 */
#ifndef _NET_TCPCP_H
#define _NET_TCPCP_H

#include <linux/compiler.h>
#include <linux/sockptr.h>
#include <linux/tcp.h>
#include <uapi/linux/tcpcp.h>

struct sk_buff;
struct sock;

#if IS_ENABLED(CONFIG_TCPCP)
static inline bool tcpcp_isolated(const struct sock *sk)
{
	return unlikely(READ_ONCE(tcp_sk(sk)->tcpcp_isolated));
}

int tcpcp_setsockopt(struct sock *sk, int optname, sockptr_t optval,
		     unsigned int optlen);
int tcpcp_getsockopt(struct sock *sk, int optname, sockptr_t optval,
		     sockptr_t optlen);
int tcpcp_rcv(struct sock *sk, struct sk_buff *skb);
void tcpcp_destroy_sock(struct sock *sk);
#else
static inline bool tcpcp_isolated(const struct sock *sk)
{
	return false;
}

static inline int tcpcp_rcv(struct sock *sk, struct sk_buff *skb)
{
	return 0;
}

static inline void tcpcp_destroy_sock(struct sock *sk)
{
}
#endif

#endif /* _NET_TCPCP_H */
