#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tcpcp-dispatch in the namespace lab (selftests/lab/lab.sh), through tcpcpd:
#
#   peer -- gw -- a  = d,  the dispatcher (tcpcpd origin, gateway = gw)
#             \-- b  = b1, a back end (tcpcpd, handler backend.py b1)
#              \- c  = b2, a back end added here (198.18.3.1)
#
# The service address S is on lo of d, b1 and b2; gw routes it to d, and
# its tcpcpd gateway role adds one policy rule per moved connection.  The
# back ends read the request themselves from the moved receive queue and
# answer the client directly.  Cases:
#   host    HTTP/1.1 keep-alive dispatched by Host header (http-host.py)
#   path    the same by URL path prefix (url-prefix.py); an unknown path
#           is rejected without a reset
#   raw     a line protocol, sticky by client address (sticky.py)
#   rr      round robin spreads connections over both back ends
#   direct  --direct: libtcpcp in the dispatcher hands the connection to
#           a program on d itself (no tcpcpd)
#   dead    a back end without a daemon: the move fails, 503 from d
#   conc    8 concurrent clients of 3 connections each (least-conn.py)
#   crash   a script that crashes, stalls, answers garbage or names no
#           back end: 503 from the dispatcher, the script restarted, the
#           next request dispatched again
# The capture at the client: no RST, every reply from S.
#
# Exit 0 pass, 1 fail, 4 skip.
set -u
cd "$(dirname "$0")/../../.." || exit 1
ROOT=$PWD
O=${O:-build}
LAB=$ROOT/selftests/lab/lab.sh
TCPCPD=$ROOT/$O/tcpcpd
CTL=$ROOT/$O/tcpcpctl
DISPATCH=$ROOT/$O/tcpcp-dispatch
PEER=$ROOT/$O/selftests/peer
DIR=$ROOT/tools/tcpcp-dispatch
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1	# no __pycache__ in the source tree
S4=198.18.100.1

skip() { echo "SKIP: $*"; exit 4; }
[ "$(id -u)" = 0 ] || skip "needs root"
for f in "$LAB" "$TCPCPD" "$CTL" "$DISPATCH" "$PEER" "$PY"; do
	[ -x "$f" ] || skip "$f is missing (make check builds it)"
done
command -v tcpdump >/dev/null || skip "tcpdump is missing"

NAME=tcpcp-$$-x
T=$(mktemp -d /tmp/tcpcp-dispatch-XXXXXX)
chmod 755 "$T"
pids=()
dpids=()
cpids=()
fail=0

cleanup() {
	local p
	for p in "${pids[@]+"${pids[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${dpids[@]+"${dpids[@]}"}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" || { echo "FAIL: pid $p exited with $? after SIGTERM"; fail=1; }
	done
	wait 2>/dev/null
	ip netns del "$NAME-c" 2>/dev/null
	"$LAB" down "$NAME"
	if [ "$fail" != 0 ]; then
		for f in "$T"/*.log; do
			echo "----- $f (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	[ -n "${DISPATCH_TEST_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
	[ "$fail" = 0 ] || exit 1
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP PIPE

in_ns() { local h=$1; shift; ip netns exec "$NAME-$h" "$@"; }
die() { echo "FAIL: $*"; fail=1; exit 1; }
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

"$LAB" up "$NAME" || die "lab up"
# b2: a third leaf, as lab.sh makes them
ip netns add "$NAME-c"
ip -n "$NAME-c" link set lo up
in_ns c sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip -n "$NAME-c" link add eth0 type veth peer name c0 netns "$NAME-gw"
ip -n "$NAME-c" addr add 198.18.3.1/24 dev eth0
ip -n "$NAME-c" link set eth0 up
ip -n "$NAME-c" addr add $S4/32 dev lo
ip -n "$NAME-c" route add default via 198.18.3.254
ip -n "$NAME-gw" addr add 198.18.3.254/24 dev c0
ip -n "$NAME-gw" link set c0 up
in_ns gw sysctl -qw net.ipv4.conf.c0.rp_filter=0
in_ns c sysctl -qw net.ipv4.conf.eth0.rp_filter=0
"$LAB" route "$NAME" a

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
chmod 600 "$T/key"
common="key_file = $T/key
log_level = info"
printf 'name = gw\nlisten = *\nsocket = %s/gw.sock\npid_file = %s/gw.pid\n%s\ngateway_role = yes\n' \
	"$T" "$T" "$common" > "$T/gw.conf"
printf 'name = d\nlisten = none\nsocket = %s/d.sock\npid_file = %s/d.pid\n%s\ngateway = 198.18.1.254\nredirect_mode = rule\n' \
	"$T" "$T" "$common" > "$T/d.conf"
for be in b1 b2; do
	printf '#!/bin/sh\nexec %s %s/tests/backend.py %s 2>>%s/%s.handler.log\n' \
		"$PY" "$DIR" $be "$T" $be > "$T/$be.sh"
	chmod 755 "$T/$be.sh"
	printf 'name = %s\nlisten = *\nsocket = %s/%s.sock\npid_file = %s/%s.pid\n%s\nhandler = %s/%s.sh\n' \
		$be "$T" $be "$T" $be "$common" "$T" $be > "$T/$be.conf"
done
for h in gw:gw d:a b1:b b2:c; do
	ip netns exec "$NAME-${h#*:}" "$TCPCPD" -c "$T/${h%:*}.conf" -f 2> "$T/tcpcpd-${h%:*}.log" &
	dpids+=($!)
done
for h in gw d b1 b2; do
	wait_for 5 "$CTL" -s "$T/$h.sock" status >/dev/null || die "tcpcpd $h does not answer"
done

# dispatch PORT NAME OPTIONS... -- SCRIPT...: a dispatcher in d
dispatch() {
	local port=$1 name=$2
	shift 2
	# shellcheck disable=SC2086
	ip netns exec "$NAME-a" "$DISPATCH" -l $S4:$port -s "$T/d.sock" \
		${BES:--b b1=198.18.2.1 -b b2=198.18.3.1} -v "$@" 2> "$T/dispatch-$name.log" &
	dpids+=($!)
	wait_for 5 grep -q "listening on" "$T/dispatch-$name.log" || die "dispatcher $name"
}
S=$DIR/scripts
dispatch 80 host -d http -f 503 -- "$S/http-host.py" a.example=b1 "*.b.example=b2"
dispatch 81 path -d http -f 503 -- "$S/url-prefix.py" /api=b1 /static/=b2
dispatch 7000 raw -d '\n' -t 2000 -- "$S/sticky.py"
dispatch 7001 rr -d '\n' -- "$S/roundrobin.py"
dispatch 7002 conc -d '\n' -- "$S/least-conn.py"
dispatch 82 crash -d http -f 503 -T 700 -- "$DIR/tests/crash.py" "$S"
# a back end where no daemon listens: the move fails before its commit
# point, the dispatcher keeps the connection and answers 503
BES="-b b1=198.18.2.1:7799" dispatch 84 dead -d http -f 503 -- "$S/roundrobin.py"
# direct: libtcpcp in the dispatcher, the back end a program on host d
ip netns exec "$NAME-a" "$DISPATCH" -l $S4:83 --direct -b "local=$PY $DIR/tests/backend.py d-local" \
	-d http -f 503 -v -- "$S/roundrobin.py" 2> "$T/dispatch-direct.log" &
dpids+=($!)
wait_for 5 grep -q "listening on" "$T/dispatch-direct.log" || die "dispatcher direct"

ip netns exec "$NAME-peer" tcpdump -i eth0 -s 0 -B 16384 -U -n -w "$T/peer.pcap" \
	"tcp or udp port 9" 2> "$T/tcpdump.log" &
tp=$!
pids+=("$tp")
wait_for 5 grep -q "listening on" "$T/tcpdump.log" || die "tcpdump"

client() {
	local name=$1 out rc
	shift
	out=$(in_ns peer "$PY" "$DIR/tests/client.py" "$@")
	rc=$?
	echo "$out" | sed "s/^/$name: /"
	[ "$rc" = 0 ] || die "$name: client failed"
	CLIENT_OUT=$out
}

client host http $S4 80 a.example /x b1 www.b.example /y b2 a.example /z b1
client path http $S4 81 any /api/v1 b1 any /static/img b2
client path-reject status $S4 81 any /other 0
client direct http $S4 83 d /direct d-local d /again d-local
client dead status $S4 84 x /y 503
client dead-again status $S4 84 x /z 503
# concurrent clients: 8 at once, round robin, each checks its own streams
for ((i = 0; i < 8; i++)); do
	ip netns exec "$NAME-peer" "$PY" "$DIR/tests/client.py" raw $S4 7002 3 > "$T/conc.$i.out" 2>&1 &
	cpids+=($!)
done
for ((i = 0; i < 8; i++)); do
	wait "${cpids[$i]}" || die "concurrent client $i: $(grep -v '^ok' "$T/conc.$i.out")"
done
echo "conc: $(cat "$T"/conc.*.out | grep -c '^ok') checks ok," \
	"$(cat "$T"/conc.*.out | grep -c '^backend b1') to b1, $(cat "$T"/conc.*.out | grep -c '^backend b2') to b2"
client raw raw $S4 7000 4
[ "$(echo "$CLIENT_OUT" | grep '^backend' | sort -u | wc -l)" = 1 ] ||
	die "raw: sticky sent one client to several back ends"
client rr raw $S4 7001 4
[ "$(echo "$CLIENT_OUT" | grep -c '^backend b1')" = 2 ] &&
	[ "$(echo "$CLIENT_OUT" | grep -c '^backend b2')" = 2 ] || die "rr: not 2 and 2"

# the misbehaving script: each failure answered 503, then dispatched again
# once the script is back (restarts are at most every 200 ms)
for what in crash stall garbage bad; do
	code=503
	[ $what = garbage ] && code=200
	client "crash-$what" status $S4 82 x /$what $code
	sleep 0.3
	client "crash-$what-after" http $S4 82 x /fine b1
done
grep -Eq "exited with 3|closed its output" "$T/dispatch-crash.log" || die "crash not logged"
grep -q "no answer in time" "$T/dispatch-crash.log" || die "stall not logged"

in_ns peer "$PEER" --mark "$T/peer.pcap" -c 198.18.0.254 -p 9 --timeout 10 > "$T/mark.log" 2>&1 || die "capture mark: $(cat "$T/mark.log")"
echo "marked"
kill -INT $tp
wait $tp 2>/dev/null
for p in "${dpids[@]:4}"; do kill -TERM "$p"; done
for p in "${dpids[@]:4}"; do wait "$p" || die "dispatcher $p exit $?"; done
dpids=("${dpids[@]:0:4}")

rst=$(tcpdump -r "$T/peer.pcap" -n 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l)
syn=$(tcpdump -r "$T/peer.pcap" -n 'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null | wc -l)
foreign=$(tcpdump -r "$T/peer.pcap" -n "tcp and dst host 198.18.0.1 and not src host $S4" 2>/dev/null | wc -l)
total=$(tcpdump -r "$T/peer.pcap" -n tcp 2>/dev/null | wc -l)
echo "capture at the client: $total TCP segments, $syn SYN, $rst RST, $foreign not from $S4"
[ "$rst" = 0 ] || die "RST in the capture: $(tcpdump -r "$T/peer.pcap" -n 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null)"
[ "$foreign" = 0 ] || die "replies not from the service address"

for n in host path raw rr conc dead crash direct; do
	grep "stats:\|backend b" "$T/dispatch-$n.log" | sed "s/^/$n: /"
done
grep -q "stats: .* moved=2 .*rejected=1" "$T/dispatch-path.log" || die "path: stats"
grep -q "stats: .* moved=2 move_failed=0" "$T/dispatch-direct.log" || die "direct: stats"
grep -q "stats: .* moved=0 move_failed=2 fallback=2" "$T/dispatch-dead.log" || die "dead: stats"
grep -q "stats: .* moved=24 move_failed=0" "$T/dispatch-conc.log" || die "conc: stats"
grep -q "stats: .* script_restarts=[2-9].*script_timeouts=1 bad_answers=2" \
	"$T/dispatch-crash.log" || die "crash: stats"
moved_in=$(( $("$CTL" -s "$T/b1.sock" status | awk '$1 == "moves_in_ok" { print $2 }') +
	$("$CTL" -s "$T/b2.sock" status | awk '$1 == "moves_in_ok" { print $2 }') ))
echo "back ends: $moved_in connections moved in"
[ "$moved_in" = 42 ] || die "expected 42 moves in, got $moved_in"
echo "PASS: host, path, direct, dead, conc, raw, rr, crash"
