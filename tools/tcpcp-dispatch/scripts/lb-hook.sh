#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Example redirect hook for tcpcpd (tcpcpd.conf(5): hook = PROGRAM) that
# drives an external load balancer instead of routes on a gateway: it tells
# the balancer to send this one connection's packets to the destination.
#
#   $1                  redirect | undo
#   TCPCP_FAMILY        inet | inet6
#   TCPCP_REMOTE_ADDR/_PORT   the client
#   TCPCP_LOCAL_ADDR/_PORT    the service address
#   TCPCP_DESTINATION_ADDR    the back end's address
#
# LB_API (an HTTP endpoint of the balancer, e.g. a small agent on it) gets
# a PUT or DELETE of the connection's entry; without LB_API the entry goes
# into an nftables map on this host, for a balancer that is this host:
#
#   nft add table inet tcpcp
#   nft add map inet tcpcp conns4 '{ type ipv4_addr . inet_service . ipv4_addr . inet_service : ipv4_addr; }'
#   nft add chain inet tcpcp pre '{ type filter hook prerouting priority -150; }'
#   (and a rule using the map, e.g. to set a mark per destination)
#
# Exit 0: done; anything else makes the origin roll the move back.
set -eu

conn="$TCPCP_REMOTE_ADDR:$TCPCP_REMOTE_PORT-$TCPCP_LOCAL_ADDR:$TCPCP_LOCAL_PORT"
if [ -n "${LB_API:-}" ]; then
	case $1 in
	redirect) exec curl -fsS -m 2 -X PUT --data "backend=$TCPCP_DESTINATION_ADDR" \
		"$LB_API/connections/$conn" ;;
	undo) exec curl -fsS -m 2 -X DELETE "$LB_API/connections/$conn" ;;
	esac
	exit 2
fi
[ "$TCPCP_FAMILY" = inet ] || { echo "lb-hook: IPv6 not in this example" >&2; exit 1; }
key="$TCPCP_REMOTE_ADDR . $TCPCP_REMOTE_PORT . $TCPCP_LOCAL_ADDR . $TCPCP_LOCAL_PORT"
case $1 in
redirect) exec nft add element inet tcpcp conns4 "{ $key : $TCPCP_DESTINATION_ADDR }" ;;
undo) exec nft delete element inet tcpcp conns4 "{ $key }" ;;
esac
exit 2
