#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tcpcp namespace lab: four hosts joined by veth pairs through a router.
#
#   peer (198.18.0.1, fd00:7c:0::1) -- gw -- a (198.18.1.1, fd00:7c:1::1)
#                                        \-- b (198.18.2.1, fd00:7c:2::1)
#
# The service address S = 198.18.100.1 / fd00:7c:100::1 is on lo of both a
# and b; gw routes S via a, and "route NAME b" moves it to b.
#
# Usage: lab.sh up NAME          create NAME-peer, NAME-gw, NAME-a, NAME-b
#        lab.sh down NAME        delete them (idempotent)
#        lab.sh route NAME a|b   route S via a or b
#        lab.sh exec NAME HOST CMD...   run CMD in NAME-HOST
set -eu

usage() {
	echo "Usage: lab.sh { up | down } NAME" >&2
	echo "       lab.sh route NAME { a | b }" >&2
	echo "       lab.sh exec NAME { peer | gw | a | b } CMD..." >&2
	exit 2
}

S4=198.18.100.1
S6=fd00:7c:100::1

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

host_setup() {
	local ns=$1
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# no DAD: link-local addresses are usable at once (no lost SYNs)
	in_ns "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lo.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# leaf HOST GWIF NET4 NET6: a host with eth0 facing gw's GWIF
leaf() {
	local n=$1 h=$2 gwif=$3 p4=$4 p6=$5
	ip -n "$n-$h" link add eth0 type veth peer name "$gwif" netns "$n-gw"
	ip -n "$n-$h" addr add "$p4.1/24" dev eth0
	ip -n "$n-$h" addr add "$p6::1/64" dev eth0 nodad
	ip -n "$n-$h" link set eth0 up
	ip -n "$n-gw" addr add "$p4.254/24" dev "$gwif"
	ip -n "$n-gw" addr add "$p6::fe/64" dev "$gwif" nodad
	ip -n "$n-gw" link set "$gwif" up
	ip -n "$n-$h" route add default via "$p4.254"
	ip -n "$n-$h" -6 route add default via "$p6::fe"
	in_ns "$n-$h" sysctl -qw net.ipv4.conf.eth0.rp_filter=0
}

up() {
	local n=$1 h
	for h in peer gw a b; do
		host_setup "$n-$h"
	done
	in_ns "$n-gw" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1
	leaf "$n" peer p0 198.18.0 fd00:7c:0
	leaf "$n" a a0 198.18.1 fd00:7c:1
	leaf "$n" b b0 198.18.2 fd00:7c:2
	for h in a b; do
		ip -n "$n-$h" addr add "$S4/32" dev lo
		ip -n "$n-$h" addr add "$S6/128" dev lo nodad
	done
	for h in p0 a0 b0; do
		in_ns "$n-gw" sysctl -qw "net.ipv4.conf.$h.rp_filter=0"
	done
	route "$n" a
}

down() {
	local n=$1 h
	for h in peer gw a b; do
		ip netns del "$n-$h" 2>/dev/null || true
	done
}

route() {
	local n=$1 to=$2 nh4 nh6
	case $to in
	a) nh4=198.18.1.1 nh6=fd00:7c:1::1 ;;
	b) nh4=198.18.2.1 nh6=fd00:7c:2::1 ;;
	*) usage ;;
	esac
	ip -n "$n-gw" route replace "$S4/32" via "$nh4"
	ip -n "$n-gw" -6 route replace "$S6/128" via "$nh6"
}

[ $# -ge 2 ] || usage
cmd=$1 name=$2
shift 2
case $cmd in
up) [ $# = 0 ] || usage; up "$name" ;;
down) [ $# = 0 ] || usage; down "$name" ;;
route) [ $# = 1 ] || usage; route "$name" "$1" ;;
exec)
	[ $# -ge 2 ] || usage
	h=$1
	shift
	case $h in peer|gw|a|b) ;; *) usage ;; esac
	exec ip netns exec "$name-$h" "$@"
	;;
*) usage ;;
esac
