#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Forwarding rate of the gateway with per-connection redirects installed:
# `rule` mode (one policy rule per connection, scanned one by one) against
# `nftmap` mode (one element of an nftables map, one hash lookup), with
# 10, 1,000 and 10,000 moved connections.  The entries are installed by a
# real tcpcpd with the gateway role, through its protocol (fwdbench install:
# authenticated REDIRECTs, pipelined on one connection); the measured
# connection's entry is installed last (the last rule of the list).  The
# peer then sends small TCP segments of that connection (fwdbench blast,
# raw socket) for SECS seconds; b counts what gw forwarded to it (an nft
# counter that drops them) and a checks that none went the default way.
# Not part of make check: it prints a table.
#
#   tools/tcpcpd/tests/fwdbench.sh [SECS]      (default 3)
set -u
cd "$(dirname "$0")/../../.." || exit 1
ROOT=$PWD
O=${O:-build}
LAB=$ROOT/selftests/lab/lab.sh
TCPCPD=$ROOT/$O/tcpcpd
FB=$ROOT/$O/tools/tcpcpd/tests/fwdbench
SECS=${1:-3}
COUNTS=${FWDBENCH_COUNTS:-10 1000 10000}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 4; }
[ -x "$TCPCPD" ] || { echo "SKIP: build tcpcpd first (make)"; exit 4; }
command -v nft >/dev/null || { echo "SKIP: nft is missing"; exit 4; }
if [ ! -x "$FB" ] || [ "$FB" -ot tools/tcpcpd/tests/fwdbench.c ] ||
	[ "$FB" -ot tools/tcpcpd/proto.c ]; then
	mkdir -p "$(dirname "$FB")"
	${CC:-cc} -D_GNU_SOURCE -std=gnu11 -Wall -Wextra -Werror -O2 -Itools/tcpcpd \
		-o "$FB" tools/tcpcpd/tests/fwdbench.c tools/tcpcpd/proto.c -lcrypto || exit 1
fi

NAME=tcpcp-$$-fb
T=$(mktemp -d /tmp/tcpcpd-fwdbench-XXXXXX)
gp=
cleanup() {
	[ -n "$gp" ] && kill -TERM "$gp" 2>/dev/null && wait "$gp"
	"$LAB" down "$NAME"
	rm -rf "$T"
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP
in_ns() { local h=$1; shift; ip netns exec "$NAME-$h" "$@"; }
die() { echo "FAIL: $*"; exit 1; }

"$LAB" up "$NAME" || die "lab up"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
chmod 600 "$T/key"
cat > "$T/g.conf" <<EOC
name = gw
key_file = $T/key
socket = $T/g.sock
pid_file = $T/g.pid
log_level = warn
gateway_role = yes
EOC
# counters at a and b: the measured segments, dropped before the stack;
# made afresh for each point
reset() {
	local h
	for h in a b; do
		in_ns $h nft -f - <<EON || die "nft at $h"
add table inet fwdbench
delete table inet fwdbench
table inet fwdbench {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip daddr 198.18.100.1 tcp dport 5000 counter drop
	}
}
EON
	done
}
count() { in_ns "$1" nft list chain inet fwdbench pre | awk '/counter/ { for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'; }

# measure: prints "forwarded_pps sent_pps to_a"
measure() {
	local sent b a
	reset
	sent=$(in_ns peer taskset -c 0 "$FB" blast "$SECS" | awk '{ print $2 }')
	sleep 0.2
	b=$(count b)
	a=$(count a)
	echo "$((b / SECS)) $((sent / SECS)) $a $((a / SECS))"
}

start_gw() {
	ip netns exec "$NAME-gw" "$TCPCPD" -c "$T/g.conf" -f 2>> "$T/g.log" &
	gp=$!
	for _ in $(seq 100); do [ -S "$T/g.sock" ] && return 0; sleep 0.05; done
	die "gateway daemon did not start"
}
stop_gw() { # sets st: seconds from SIGTERM to the daemon's exit
	local t0 rc
	t0=$(date +%s.%N)
	kill -TERM "$gp"
	wait "$gp"
	rc=$?
	st=$(echo "$(date +%s.%N) - $t0" | bc)
	gp=
	[ "$rc" = 0 ] || die "gateway daemon exited $rc"
	rm -f "$T/g.sock"
	[ -z "$(in_ns gw ip rule show pref 7700)" ] || die "rules left after SIGTERM"
	in_ns gw nft list tables | grep -q tcpcpd && die "nftables table left after SIGTERM"
}

# with no entry the segments go the main table's way: to a
read -r _ sent _ a_pps < <(measure)
printf 'baseline (no entry, main route via a): %d pps forwarded to a (offered %d pps)\n' "$a_pps" "$sent"
printf '\n%-8s %8s %12s %14s %14s %10s\n' mode entries install_s forwarded_pps offered_pps stop_s
for mode in rule nftmap; do
	for n in $COUNTS; do
		start_gw
		out=$(in_ns a "$FB" install 198.18.1.254 7727 "$T/key" $mode "$n" 198.18.2.1) ||
			die "install $mode $n: $out"
		inst=$(echo "$out" | awk '{ print $4 }')
		read -r fwd sent toa _ < <(measure)
		[ "$toa" = 0 ] || die "$mode $n: $toa segments went to a, not b"
		[ "$fwd" -gt 0 ] || die "$mode $n: nothing forwarded to b"
		stop_gw
		printf '%-8s %8d %12s %14d %14d %10.2f\n' $mode "$n" "$inst" "$fwd" "$sent" "$st"
	done
done
echo "(forwarded_pps: TCP segments of the connection whose entry was installed last, counted at b;"
echo " ${SECS}s per point; the sender's sendmmsg() runs gw's forwarding and b's receive in its own"
echo " softirq on one CPU (veth), so offered = forwarded: the rate is 1 / the per-packet cost;"
echo " install_s: N pipelined REDIRECTs answered; stop_s: SIGTERM until every entry is removed)"
