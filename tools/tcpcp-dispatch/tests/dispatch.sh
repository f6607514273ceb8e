#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tcpcp-dispatch in the namespace lab (selftests/lab/lab.sh), through tcpcpd:
#
#   peer -- gw -- a  = d,  the dispatcher (tcpcpd origin, gateway = gw)
#             \-- b  = b1, a back end (tcpcpd, handler backend.py b1)
#              \- c  = b2, a back end added here (198.18.3.1, fd00:7c:3::1)
#
# The service address S is on lo of d, b1 and b2; gw routes it to d, and
# its tcpcpd gateway role adds one policy rule per moved connection.  The
# back ends read the request themselves from the moved receive queue and
# answer the client directly.
#
#   dispatch.sh [basic]   (35 s on a quiet machine, 100 s on a busy one)
#     host    HTTP/1.1 keep-alive dispatched by Host header (http-host.py)
#     post    a POST whose body still streams in while the dispatcher
#             decides on the head and moves the connection
#     path    the same by URL path prefix (url-prefix.py); an unknown path
#             is rejected without a reset
#     raw     a line protocol, sticky by client address (sticky.py)
#     rr      round robin spreads connections over both back ends
#     direct  --direct: libtcpcp in the dispatcher hands the connection to
#             a program on d itself (no tcpcpd)
#     dead    a back end without a daemon: the move fails, 503 from d
#     gone    back ends that die before they accept: an application that
#             registered with its tcpcpd and was killed, and a daemon that
#             dies (SIGKILL) right after it created the endpoint; the move
#             rolls back, 503 from d
#     conc    8 concurrent clients of 3 connections each (least-conn.py)
#     crash   a script that crashes, stalls, answers garbage or names no
#             back end: 503 from the dispatcher, the script restarted, the
#             next request dispatched again
#     v6      the host case over IPv6
#   dispatch.sh 1000      (about 20 s) 1,000 clients at once, HTTP/1.1
#             keep-alive, 3 requests each, bodies checked (benchcli), the
#             back ends one benchsrv each, registered with their tcpcpd
# Both: the capture at the client has no RST, and every segment to the
# client comes from S.
#
# Environment: DISPATCH_TEST_KEEP=1 keeps logs and captures (=fail: only on
# failure), DISPATCH_TEST_CAPTURE=all captures at d, b1, b2 too,
# DISPATCH_TEST_REORDER=1 or RATE makes packets overtake each other on the
# way to d (below: the post case then shows the resets of late segments
# unless tcpcpd keeps the origin endpoint isolated after the commit); TCPCPD, TCPCPCTL, TCPCP_DISPATCH, PEER, BENCHSRV, BENCHCLI
# override the programs.
#
# Exit 0 pass, 1 fail, 4 skip.
set -u
case ${1:-basic} in basic | 1000) ;; *) echo "Usage: dispatch.sh [basic | 1000]"; exit 2 ;; esac
CASES=${1:-basic}

# the lab setup of the daemon tests (tools/tcpcpd/tests/lib.sh): ROOT,
# LAB, TCPCPD, CTL, PEER, S4, S6, NAME, T, pids, dpids (daemons and
# dispatchers: SIGTERM, must exit 0), skip, die, in_ns, wait_for, counter,
# tl_leaf, tl_start...  Not pinned to one CPU (TL_PIN=0): no pcapcheck here,
# and 1,000 clients want both CPUs.
# shellcheck source-path=SCRIPTDIR source=../../tcpcpd/tests/lib.sh
TL_PIN=0 TL_TAG=x TL_TMP=tcpcp-dispatch TL_NEED="LAB TCPCPD CTL PEER" TL_TAIL=20 \
	TL_KEEP=${DISPATCH_TEST_KEEP:-} . "$(dirname "$0")/../../tcpcpd/tests/lib.sh"
DISPATCH=${TCPCP_DISPATCH:-$ROOT/$O/tcpcp-dispatch}
BENCHSRV=${BENCHSRV:-$ROOT/$O/tools/tcpcp-dispatch/tests/benchsrv}
BENCHCLI=${BENCHCLI:-$ROOT/$O/tools/tcpcp-dispatch/tests/benchcli}
DIR=$ROOT/tools/tcpcp-dispatch
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1	# no __pycache__ in the source tree
tl_need DISPATCH PY BENCHSRV BENCHCLI
tpids=()	# captures: stopped with SIGINT
cpids=()

# captures: let them write what the kernel still holds, then stop
tl_cleanup_hook() {
	local p
	[ -n "${tpids[*]}" ] && sleep 1
	for p in "${tpids[@]+"${tpids[@]}"}"; do
		kill -INT "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
stat_is() { [ "$(counter "$1" "$2")" = "$3" ]; }

"$LAB" up "$NAME" || die "lab up"
tl_leaf c 3	# b2: a third leaf, as lab.sh makes them
# DISPATCH_TEST_REORDER=1 (or a rate: 2mbit): on the router's link to d,
# the client's packets to S wait in a slow class (htb, 20 Mbit/s) while everything else, such as
# the daemons' messages, passes at once: packets of different flows
# overtake each other on their way to d, as they may on a multi-queue NIC
if [ -n "${DISPATCH_TEST_REORDER:-}" ]; then
	tc -n "$NAME-gw" qdisc add dev a0 root handle 1: htb default 20
	rate=20mbit
	case $DISPATCH_TEST_REORDER in *bit) rate=$DISPATCH_TEST_REORDER ;; esac
	tc -n "$NAME-gw" class add dev a0 parent 1: classid 1:10 htb rate $rate 2>/dev/null
	tc -n "$NAME-gw" class add dev a0 parent 1: classid 1:20 htb rate 10gbit 2>/dev/null
	# IPv4 198.18.0.1 -> 198.18.100.1 (Ethernet header first)
	tc -n "$NAME-gw" filter add dev a0 parent 1: bpf classid 1:10 bytecode \
		'8,40 0 0 12,21 0 5 2048,32 0 0 26,21 0 3 3323068417,32 0 0 30,21 0 1 3323094017,6 0 0 4294967295,6 0 0 0' ||
		die "tc filter"
fi

tl_key "$T/key"
common=("log_level = info")
for be in b1 b2; do
	printf '#!/bin/sh\nexec %s %s/tests/backend.py %s 2>>%s/%s.handler.log\n' \
		"$PY" "$DIR" $be "$T" $be > "$T/$be.sh"
	chmod 755 "$T/$be.sh"
done
# the daemons (their logs $T/DNAME.log), in dpids: gw, d, b1, b2
tl_start gw gw "${common[@]}" "gateway_role = yes"
# long timeouts: the moves must not time out on a loaded machine (the
# failing cases fail at once: refused, or the connection lost)
tl_start a d "${common[@]}" "listen = none" "gateway = 198.18.1.254" \
	"redirect_mode = rule" "prepare_timeout = 20000" "commit_timeout = 20000"
tl_start b b1 "${common[@]}" "handler = $T/b1.sh"
tl_start c b2 "${common[@]}" "handler = $T/b2.sh"

# dispatch PORT NAME OPTIONS... -- SCRIPT...: a dispatcher in d
dispatch() {
	local port=$1 name=$2 addr=$S4:$1
	shift 2
	[ -n "${V6:-}" ] && addr=[$S6]:$port
	# shellcheck disable=SC2086
	ip netns exec "$NAME-a" "$DISPATCH" -l "$addr" -s "$T/d.sock" \
		${BES:--b b1=198.18.2.1 -b b2=198.18.3.1} -T 5000 -M 20000 -v "$@" 2> "$T/dispatch-$name.log" &
	dpids+=($!)
	tl_what[$!]=tcpcp-dispatch
	DISPATCHERS+=" $name"
	wait_for 5 grep -q "listening on" "$T/dispatch-$name.log" || die "dispatcher $name"
}
DISPATCHERS=
S=$DIR/scripts
if [ "$CASES" = basic ]; then
	dispatch 80 host -d http -f 503 -- "$S/http-host.py" a.example=b1 "*.b.example=b2"
	dispatch 81 path -d http -f 503 -- "$S/url-prefix.py" /api=b1 /static/=b2
	dispatch 7000 raw -d '\n' -t 2000 -- "$S/sticky.py"
	dispatch 7001 rr -d '\n' -- "$S/roundrobin.py"
	dispatch 7002 conc -d '\n' -- "$S/least-conn.py"
	# -T: a crash must show as one, not as a timeout, on a loaded machine
	dispatch 82 crash -d http -f 503 -T 3000 -- "$DIR/tests/crash.py" "$S"
	# a back end where no daemon listens: the move fails before its commit
	# point, the dispatcher keeps the connection and answers 503
	BES="-b b1=198.18.2.1:7799" dispatch 84 dead -d http -f 503 -- "$S/roundrobin.py"
	# back ends that die before they accept: b3, a second daemon in host
	# b, without a handler, whose one registered application is killed;
	# b4 in host c, which kills itself once it created the endpoint
	tl_start b b3 "${common[@]}" "listen = *:7728"
	TL_UNTRACKED=1 TL_DENV=TCPCPD_FAULT=die-after-create \
		tl_start c b4 "${common[@]}" "listen = *:7729" "handler = $T/b2.sh"
	pids+=("$tl_pid")
	disown "$tl_pid"	# it dies by SIGKILL: no word from the shell
	ip netns exec "$NAME-b" "$CTL" -s "$T/b3.sock" register port 85 exec cat > /dev/null 2>&1 &
	app=$!
	wait_for 5 stat_is b3 registered 1 || die "b3: no application registered"
	kill -KILL $app
	wait $app 2>/dev/null
	wait_for 5 stat_is b3 registered 0 || die "b3: the application is still registered"
	BES="-b b3=198.18.2.1:7728" dispatch 85 gone -d http -f 503 -- "$S/roundrobin.py"
	BES="-b b4=198.18.3.1:7729" dispatch 88 gone2 -d http -f 503 -- "$S/roundrobin.py"
	V6=1 BES="-b b1=[fd00:7c:2::1] -b b2=[fd00:7c:3::1]" dispatch 86 v6 -d http -f 503 -- \
		"$S/http-host.py" a.example=b1 "*.b.example=b2"
	# direct: libtcpcp in the dispatcher, the back end a program on host d
	ip netns exec "$NAME-a" "$DISPATCH" -l $S4:83 --direct -T 5000 \
		-b "local=$PY $DIR/tests/backend.py d-local" \
		-d http -f 503 -v -- "$S/roundrobin.py" 2> "$T/dispatch-direct.log" &
	dpids+=($!)
	tl_what[$!]=tcpcp-dispatch
	DISPATCHERS+=" direct"
	wait_for 5 grep -q "listening on" "$T/dispatch-direct.log" || die "dispatcher direct"
else
	# one benchsrv per back end, registered with its daemon for port 8000
	for h in b1:b b2:c; do
		ip netns exec "$NAME-${h#*:}" "$BENCHSRV" "${h%:*}" tcpcpd "$T/${h%:*}.sock" 8000 \
			2> "$T/benchsrv-${h%:*}.log" &
		pids+=($!)
		wait_for 5 grep -q ready "$T/benchsrv-${h%:*}.log" || die "benchsrv ${h%:*}"
	done
	dispatch 8000 k1000 -d http -f 503 -n 2048 -- "$S/http-host.py" h1.example=b1 h2.example=b2
fi

# headers only: the checks below read no payload
ip netns exec "$NAME-peer" tcpdump -i eth0 -s 200 -B 32768 -U -n -w "$T/peer.pcap" \
	"tcp or udp port 9" 2> "$T/tcpdump.log" &
tp=$!
tpids+=("$tp")
wait_for 5 grep -q "listening on" "$T/tcpdump.log" || die "tcpdump"
# DISPATCH_TEST_CAPTURE=all: also capture at d, b1, b2
if [ "${DISPATCH_TEST_CAPTURE:-}" = all ]; then
	for h in a b c; do
		ip netns exec "$NAME-$h" tcpdump -i eth0 -s 128 -B 16384 -U -n \
			-w "$T/$h.pcap" "tcp and not port 7727" 2> "$T/tcpdump-$h.log" &
		tpids+=($!)
		wait_for 5 grep -q "listening on" "$T/tcpdump-$h.log" || die "tcpdump $h"
	done
fi

client() {
	local name=$1 out rc
	shift
	out=$(in_ns peer "$PY" "$DIR/tests/client.py" "$@")
	rc=$?
	echo "$out" | sed "s/^/$name: /"
	[ "$rc" = 0 ] || die "$name: client failed"
	CLIENT_OUT=$out
}

basic() {
	client host http $S4 80 a.example /x b1 www.b.example /y b2 a.example /z b1
	# the body still streams in while the dispatcher decides on the head
	client post post $S4 80 a.example /up b1 2000000 3
	client v6 http $S6 86 a.example /x6 b1 www.b.example /y6 b2
	client path http $S4 81 any /api/v1 b1 any /static/img b2
	client path-reject status $S4 81 any /other 0
	client direct http $S4 83 d /direct d-local d /again d-local
	client dead status $S4 84 x /y 503
	client dead-again status $S4 84 x /z 503
	client gone-app status $S4 85 x /y 503
	client gone-daemon status $S4 88 x /y 503
	# concurrent clients: 8 at once, least-conn, each checks its streams
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

	# the misbehaving script: each failure answered 503, then dispatched
	# again once the script is back (it is started again at once)
	for what in crash stall garbage bad; do
		code=503
		[ $what = garbage ] && code=200
		client "crash-$what" status $S4 82 x /$what $code
		client "crash-$what-after" http $S4 82 x /fine b1
	done
	grep -Eq "exited with 3|closed its output" "$T/dispatch-crash.log" || die "crash not logged"
	grep -q "no answer in time" "$T/dispatch-crash.log" || die "stall not logged"
}

k1000() {
	local out t0=$SECONDS
	out=$(in_ns peer "$BENCHCLI" -a $S4 -p 8000 -c 1000 -n 1000 -r 3 -s 20000 \
		h1.example=b1 h2.example=b2 2> "$T/benchcli.log")
	echo "1000: $out ($((SECONDS - t0)) s)"
	[ -s "$T/benchcli.log" ] && sed 's/^/1000: /' "$T/benchcli.log" | head -10
	case $out in
	*"conns=1000 reqs=3000 errors=0 "*) ;;
	*) die "1000: not every connection answered right" ;;
	esac
}

if [ "$CASES" = basic ]; then basic; else k1000; fi

in_ns peer "$PEER" --mark "$T/peer.pcap" -c 198.18.0.254 -p 9 --timeout 10 > "$T/mark.log" 2>&1 || die "capture mark: $(cat "$T/mark.log")"
echo "marked"
kill -INT $tp
wait $tp 2>/dev/null
# the dispatchers: SIGTERM, exit 0, their counters in the log
for p in "${dpids[@]:4}"; do kill -TERM "$p"; done
for p in "${dpids[@]:4}"; do wait "$p" || die "dispatcher or daemon $p exit $?"; done
dpids=("${dpids[@]:0:4}")

rd() { tcpdump -r "$T/peer.pcap" -n "$@" 2>/dev/null; }
rst=$(rd 'tcp[tcpflags] & tcp-rst != 0 or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)' | wc -l)
syn=$(rd 'tcp[tcpflags] & tcp-syn != 0 or (ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)' | wc -l)
foreign=$(rd "tcp and dst host 198.18.0.1 and not src host $S4" | wc -l)
foreign6=$(rd "tcp and dst host fd00:7c::1 and not src host $S6" | wc -l)
total=$(rd tcp | wc -l)
total6=$(rd ip6 and tcp | wc -l)
echo "capture at the client: $total TCP segments ($total6 IPv6), $syn SYN, $rst RST," \
	"$((foreign + foreign6)) not from S"
[ "$rst" = 0 ] || die "RST in the capture: $(rd 'tcp[tcpflags] & tcp-rst != 0 or (ip6 and ip6[6] == 6 and ip6[53] & 4 != 0)' | head)"
[ "$foreign" = 0 ] && [ "$foreign6" = 0 ] || die "replies not from the service address"

for n in $DISPATCHERS; do
	grep "stats:\|backend b" "$T/dispatch-$n.log" | sed "s/^/$n: /"
done
if [ "$CASES" = 1000 ]; then
	grep -q "stats: accepted=1000 asked=1000 moved=1000 move_failed=0" \
		"$T/dispatch-k1000.log" || die "1000: stats"
	echo "PASS: 1000"
	exit 0
fi
[ "$total6" -gt 0 ] || die "no IPv6 in the capture"
grep -q "stats: .* moved=2 .*rejected=1" "$T/dispatch-path.log" || die "path: stats"
grep -q "stats: .* moved=2 move_failed=0" "$T/dispatch-direct.log" || die "direct: stats"
grep -q "stats: .* moved=0 move_failed=2 fallback=2" "$T/dispatch-dead.log" || die "dead: stats"
grep -q "stats: .* moved=0 move_failed=1 fallback=1" "$T/dispatch-gone.log" || die "gone: stats"
grep -q "stats: .* moved=0 move_failed=1 fallback=1" "$T/dispatch-gone2.log" || die "gone2: stats"
grep -q "no application registered" "$T/b3.log" || die "b3 did not refuse"
grep -q "fault injected: die-after-create" "$T/b4.log" || die "b4 did not die"
grep -q "stats: .* moved=2 move_failed=0" "$T/dispatch-v6.log" || die "v6: stats"
grep -q "stats: .* moved=24 move_failed=0" "$T/dispatch-conc.log" || die "conc: stats"
grep -q "stats: .* script_restarts=[2-9].*script_timeouts=1 bad_answers=2" \
	"$T/dispatch-crash.log" || die "crash: stats"
moved_in=$(($(counter b1 moves_in_ok) + $(counter b2 moves_in_ok)))
echo "back ends: $moved_in connections moved in"
[ "$moved_in" = 47 ] || die "expected 47 moves in, got $moved_in"
echo "PASS: host, post, v6, path, direct, dead, gone, conc, raw, rr, crash"
