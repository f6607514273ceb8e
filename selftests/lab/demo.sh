#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: a live TCP connection moves between two hosts and back through
# the tcpcpd daemons, explained as it happens.
#
# In the namespace lab (lab.sh) a service at host a streams 8 MB each way
# with the peer; tcpcp-move hands its connection to the tcpcpd in a, which
# moves it to the tcpcpd in b (selected by pid/fd), where tcpcpd's handler
# program goes on streaming; then back from b to a (selected by its address
# tuple).  The tcpcpd on gw redirects each move with one policy rule for
# that connection alone.  The verdict: the peer verified every byte both
# ways, and pcapcheck found nothing wrong in the capture at the peer.  IPv4,
# then IPv6; the running (stock) kernel, repair backend.
#
#   selftests/lab/demo.sh             the demo through the daemons
#   selftests/lab/demo.sh --library   the library-only demo: one program
#                                     moves the connection with libtcpcp
#
# `make demo` builds everything first; this script builds nothing.
# TCPCP_DEMO_KEEP=1 keeps the logs and captures.  Exit 0 when every move
# was verified, 1 otherwise.
set -u

# One CPU for the whole lab: veth hands packets to the sending CPU's
# backlog, so segments sent from two CPUs can overtake each other on the
# way to the peer, and pcapcheck would see an ACK "go back".
if [ -z "${TCPCP_DEMO_PINNED:-}" ] && command -v taskset >/dev/null; then
	TCPCP_DEMO_PINNED=1 exec taskset -c 0 "$0" "$@"
fi

cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
O=${O:-build}
LAB=$ROOT/selftests/lab/lab.sh
BIN=$ROOT/$O/selftests
TCPCPD=$ROOT/$O/tcpcpd
MOVE=$ROOT/$O/tcpcp-move
DEMO=$BIN/demo-move

mode=daemons
case ${1:-} in
--library) mode=library ;;
"") ;;
*) echo "Usage: $0 [--library]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (network namespaces, TCP_REPAIR)" >&2
	exit 1
fi
for t in "$DEMO" "$BIN/peer" "$BIN/pcapcheck" "$TCPCPD" "$MOVE"; do
	[ -x "$t" ] || { echo "$t is missing: run make demo" >&2; exit 1; }
done
command -v tcpdump >/dev/null || { echo "tcpdump is missing" >&2; exit 1; }

NAME=tcpcp-demo-$$
start=${EPOCHREALTIME/./}
secs() { local d=$((${EPOCHREALTIME/./} - $1)); printf '%d.%d' $((d / 1000000)) $((d / 100000 % 10)); }

echo "tcpcp demo: four network namespaces joined through a router"
echo "  peer 198.18.0.1 -- gw -- a 198.18.1.1   (service 198.18.100.1 / fd00:7c:100::1 on a and b)"
echo "                       \\-- b 198.18.2.1   gw routes the service to a"

if [ $mode = library ]; then
	trap '$LAB down $NAME' EXIT
	$LAB up "$NAME" || exit 1
	echo "lab $NAME is up; tcpdump records at the peer, the peer client verifies every byte."
	echo "Each step: tcpcp_get freezes and dumps the endpoint (isolated: it sends and"
	echo "accepts nothing), tcpcp_create rebuilds it on the other host, gw is re-routed,"
	echo "the old endpoint is dropped silently, tcpcp_activate starts the new one."
	rc=0
	"$DEMO" "$NAME" || rc=$?
	printf "\ndemo finished in %s s: %s\n" "$(secs "$start")" \
		"$([ $rc = 0 ] && echo "every move verified" || echo FAILED)"
	exit $rc
fi

TOTAL=8000000	# bytes each way
AT1=2500000	# a -> b after this many bytes each way
AT2=5000000	# b -> a
T=$(mktemp -d /tmp/tcpcp-demo-XXXXXX)
R=$T/run	# the service's files: state, ready, done, events
mkfifo "$T/tick"
exec {tick}<>"$T/tick"
pids=()
dpids=()
rc=0

cleanup() {
	local st=$? p f
	trap - EXIT
	[ "$rc" = 0 ] && [ "$st" != 0 ] && rc=1
	for p in "${pids[@]+"${pids[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	for f in "$R"/ready.*; do
		[ -f "$f" ] && read -r _ p _ < "$f" && kill "$p" 2>/dev/null
	done
	for p in "${dpids[@]+"${dpids[@]}"}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	wait 2>/dev/null
	$LAB down "$NAME"
	if [ "$rc" != 0 ]; then
		for f in "$T"/*.log "$R/events"; do
			[ -s "$f" ] || continue
			echo "----- $f (last 15 lines)"
			tail -n 15 "$f"
		done
	fi
	if [ -n "${TCPCP_DEMO_KEEP:-}" ]; then
		echo "logs and captures kept in $T"
	else
		rm -rf "$T"
	fi
	printf "\ndemo finished in %s s: %s\n" "$(secs "$start")" \
		"$([ $rc = 0 ] && echo "every move verified" || echo FAILED)"
	exit $rc
}
trap cleanup EXIT
trap 'rc=1; exit 1' INT TERM HUP

die() { echo "  FAILED: $*"; rc=1; exit 1; }
# (background jobs run "ip netns exec" directly: $! is then the program)
in_ns() { local h=$1; shift; ip netns exec "$NAME-$h" "$@"; }

# wait_for SECONDS CMD...: poll a condition every 20 ms (read -t on a FIFO
# nobody writes to: a sleep without a fork)
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 50; i++)); do
		"$@" 2>/dev/null && return 0
		read -r -t 0.02 -u "$tick"
	done
	return 1
}

# No programs run between a connection's hold and its move but tcpcp-move
# itself: the helpers below are bash only (a loaded machine makes every
# fork count, and the peer sees the hold as a stall).
shopt -s extglob
# stamp US HOST TEXT: "[  1.234 s] HOST: text", US (microseconds since the
# epoch) relative to t0, when this family's run started
stamp() {
	local d=$(($1 - t0))
	printf '  [%2d.%03d s] %s: %s\n' $((d / 1000000)) $((d / 1000 % 1000)) "$2" "$3"
}
t0=${EPOCHREALTIME/./}
say() { events; stamp "${EPOCHREALTIME/./}" "$1" "$2"; }
# events: what the service wrote to $R/events since the last call
seen=0
events() {
	local -a lines
	local i t h m
	[ -f "$R/events" ] || return 0
	mapfile -t lines < "$R/events"
	for ((i = seen; i < ${#lines[@]}; i++)); do
		read -r t h m <<< "${lines[i]}"
		stamp "${t/./}" "$h" "$m"
	done
	seen=${#lines[@]}
}

$LAB up "$NAME" >/dev/null || die "lab up"

# one key for the three daemons; a and b hand off, gw redirects
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
chmod 600 "$T/key"
mkdir "$R"
for h in a b; do
	# the handler takes the moved socket on stdin/stdout: at b it streams
	# to AT2 and holds; back at a it streams to the end
	at=0
	[ $h = b ] && at=$AT2
	printf '#!/bin/sh\nexec %s handle %s %s %s\n' "$DEMO" $h $at "$R" > "$T/handler-$h"
	chmod 755 "$T/handler-$h"
done
conf() {	# conf HOST [LINES]
	cat <<EOC
name = $1
listen = *
key_file = $T/key
socket = $T/$1.sock
pid_file = $T/$1.pid
log_level = info
$2
EOC
}
conf a "handler = $T/handler-a
gateway = 198.18.1.254
redirect_mode = rule" > "$T/a.conf"
conf b "handler = $T/handler-b
gateway = 198.18.2.254
redirect_mode = rule" > "$T/b.conf"
conf gw "gateway_role = yes" > "$T/gw.conf"
for h in gw a b; do
	ip netns exec "$NAME-$h" "$TCPCPD" -c "$T/$h.conf" -f 2> "$T/$h.log" &
	dpids+=($!)
done
wait_for 5 test -S "$T/a.sock" -a -S "$T/b.sock" -a -S "$T/gw.sock" ||
	die "the daemons did not start"
backend=$(sed -n 's/.*started: backend \([a-z]*\).*/\1/p' "$T/a.log" | head -n 1)
echo "lab $NAME is up.  tcpcpd runs in a and b (hand-off, backend ${backend:-?})"
echo "and in gw (gateway role: per-connection policy rules through libnl); the"
echo "daemons authenticate each other with one pre-shared key (HMAC-SHA256)."
echo "tcpdump records at the peer; the peer client sends and verifies 8 MB"
echo "each way, checksummed.  A move, as tcpcp-move prints it (time since the"
echo "move began, at the end of each phase):"
echo "  dump      the origin's tcpcpd freezes the endpoint (isolated: it sends"
echo "            and accepts nothing) and dumps it into an ICI"
echo "  connect   it reaches the destination's tcpcpd (authenticated session)"
echo "  prepare   the destination creates the endpoint from the ICI, isolated"
echo "  redirect  gw's tcpcpd routes this one connection to the destination"
echo "  commit    the origin drops its endpoint silently: the commit point;"
echo "            up to here any failure rolls back to the origin"
echo "  activate  the destination starts the endpoint and hands it to its"
echo "            handler program, which goes on with the streams"

# explain MOVE-OUTPUT FROM TO: tcpcp-move's lines with what each phase did
explain() {
	local line k ici="?" l
	while IFS= read -r l; do
		[[ $l == *"(ICI "* ]] || continue
		l=${l##*"(ICI "}
		ici=${l%% *}
	done < "$T/$2.log"
	while IFS= read -r line; do
		k=${line##+([[:space:]])}
		k=${k%% *}
		case $k in
		dump) line+="  $2: socket frozen, ICI of $ici bytes" ;;
		connect) line+="  $2 -> $3: authenticated session" ;;
		prepare) line+="  $3: endpoint created, isolated" ;;
		redirect) line+="  gw: policy rule for this connection -> $3" ;;
		commit) line+="  $2: endpoint dropped silently" ;;
		activate) line+="  $3: live, handed to the handler" ;;
		esac
		echo "              $line"
	done <<< "$1"
}

# gw_rule FAMILY: gw's policy rule for the connection and its table's route
gw_rule() {
	local f=-$1 r rt
	r=$(ip -n "$NAME-gw" "$f" rule show pref 7700)
	r=${r%%$'\n'*}
	r=${r//$'\t'/ }
	[ -n "$r" ] || { echo "no rule"; return; }
	rt=$(ip -n "$NAME-gw" "$f" route show table "${r##* }")
	rt=${rt/ proto +([a-z])/}
	rt=${rt/ metric +([0-9])/}
	rt=${rt/ pref +([a-z])/}
	echo "$r; table ${r##* }: ${rt%%+( )}"
}

# move FROM TO HOW...: tcpcp-move in FROM, explained
move() {
	local from=$1 to=$2 out
	shift 2
	say "$from" "\$ tcpcp-move connection $*"
	out=$(in_ns "$from" "$MOVE" -s "$T/$from.sock" connection "$@" 2>&1) ||
		{ echo "$out"; die "tcpcp-move $from -> $to"; }
	explain "$out" "$from" "$to"
	echo "              gw's rule now: $(gw_rule "$fam")"
}

# one_family 4|6
one_family() {
	local fam=$1 s sp via_a via_b pfx tp pp prc crc out rpid rfd remote
	if [ "$fam" = 6 ]; then
		s=fd00:7c:100::1 sp="[fd00:7c:100::1]:5000"
		via_a=fd00:7c:1::1 via_b=fd00:7c:2::1 pfx=IPv6
	else
		s=198.18.100.1 sp=198.18.100.1:5000
		via_a=198.18.1.1 via_b=198.18.2.1 pfx=IPv4
	fi
	rm -f "$R"/*
	seen=0
	t0=${EPOCHREALTIME/./}
	printf "\n%s: the peer <-> service %s at a, %s bytes each way\n" $pfx "$sp" $TOTAL
	ip netns exec "$NAME-peer" tcpdump --immediate-mode -i eth0 -s 0 -B 16384 -U -n \
		-w "$T/peer$fam.pcap" "tcp or udp port 9" 2> "$T/tcpdump$fam.log" &
	tp=$!
	pids+=("$tp")
	wait_for 5 grep -q "listening on" "$T/tcpdump$fam.log" || die "tcpdump did not start"
	ip netns exec "$NAME-a" "$DEMO" serve "$fam" $AT1 $TOTAL "$R" &
	pids+=($!)
	wait_for 5 test -f "$R/listening" || die "the service did not start"
	ip netns exec "$NAME-peer" "$BIN/peer" -c $s -p 5000 --send $TOTAL --recv $TOTAL \
		--seed-tx 2222 --seed-rx 1111 --expect-eof --timeout 30 > "$T/peer$fam.out" &
	pp=$!
	pids+=("$pp")

	# a -> b, the connection selected by its owner's pid and fd
	wait_for 10 test -f "$R/ready.a" || { events; die "the service never got to $AT1 bytes"; }
	read -r _ rpid rfd _ < "$R/ready.a"
	move a b pid "$rpid" fd "$rfd" to $via_b
	echo "              the stream now runs peer <-> gw <-> b"
	kill "$rpid"
	echo "              a: the service closes its descriptor of the discarded endpoint: nothing is sent"

	# b -> a, the connection selected by its addresses, as "list" shows them
	wait_for 10 test -f "$R/ready.b" || { events; die "the handler at b never got to $AT2 bytes"; }
	say b "\$ tcpcp-move list"
	local -a f
	while read -ra f; do
		[ "${f[1]-}" = "$sp" ] || continue
		echo "              ${f[*]}"
		remote=${f[2]}
	done <<< "$(in_ns b "$MOVE" list)"
	read -r _ rpid _ < "$R/ready.b"
	move b a local "$sp" remote "$remote" to $via_a
	echo "              the stream now runs peer <-> gw <-> a again"
	kill "$rpid"
	echo "              b: the handler closes its descriptor of the discarded endpoint: nothing is sent"

	wait "$pp"
	prc=$?
	wait_for 10 test -f "$R/done"
	events
	# everything sent is in the capture before tcpdump stops
	in_ns peer "$BIN/peer" --mark "$T/peer$fam.pcap" -c 198.18.0.254 -p 9 \
		--timeout 5 > /dev/null
	kill -INT $tp
	wait $tp 2>/dev/null
	echo "  verdict:"
	echo "    $(cat "$T/peer$fam.out")"
	echo "    service: $(cat "$R/done" 2>/dev/null || echo "no result")"
	out=$("$BIN/pcapcheck" --server "$sp" --server-fin --client-fin "$T/peer$fam.pcap" 2>&1)
	crc=$?
	echo "    capture at the peer: $out"
	[ $prc = 0 ] || die "the peer's streams"
	grep -q "^ok tx=$TOTAL rx=$TOTAL moves=2" "$R/done" 2>/dev/null || die "the service's streams"
	[ $crc = 0 ] || die "the capture at the peer"
	echo "    moved a -> b -> a through tcpcpd: every byte verified both ways; the peer"
	echo "    saw no RST, no SYN, no FIN before the end, nothing going backwards"
}

one_family 4
one_family 6

# the gateway daemon removes its rules when a connection ends, or at the
# latest when it stops
kill -TERM "${dpids[0]}"
wait "${dpids[0]}" 2>/dev/null
dpids=("${dpids[@]:1}")
echo
echo "gw's tcpcpd stopped; per-connection rules left on gw:" \
	"$(ip -n "$NAME-gw" rule show pref 7700 | wc -l) (IPv4)," \
	"$(ip -n "$NAME-gw" -6 rule show pref 7700 | wc -l) (IPv6)"
