#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: a live TCP connection moves between two hosts and back.
# `make demo` builds everything first; this script builds nothing.
set -eu
cd "$(dirname "$0")/../.."
LAB=selftests/lab/lab.sh
BIN=build/selftests

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (network namespaces, TCP_REPAIR)" >&2
	exit 1
fi
for t in demo-move peer pcapcheck; do
	[ -x "$BIN/$t" ] || { echo "$BIN/$t is missing: run make demo" >&2; exit 1; }
done
command -v tcpdump >/dev/null || { echo "tcpdump is missing" >&2; exit 1; }

NAME=tcpcp-demo-$$
trap '$LAB down $NAME' EXIT
start=$(date +%s.%N)
echo "tcpcp demo: four network namespaces joined through a router"
echo "  peer 198.18.0.1 -- gw -- a 198.18.1.1   (service 198.18.100.1 / fd00:7c:100::1 on a and b)"
echo "                       \\-- b 198.18.2.1   gw routes the service to a, the move re-routes it"
$LAB up $NAME
echo "lab $NAME is up; tcpdump records at the peer, the peer client verifies every byte."
echo "Each step: tcpcp_get freezes and dumps the endpoint (isolated: it sends and"
echo "accepts nothing), tcpcp_create rebuilds it on the other host, gw is re-routed,"
echo "the old endpoint is dropped silently, tcpcp_activate starts the new one."
rc=0
$BIN/demo-move $NAME || rc=$?
printf "\ndemo finished in %s s: %s\n" \
	"$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')" \
	"$([ $rc = 0 ] && echo "every move verified" || echo FAILED)"
exit $rc
