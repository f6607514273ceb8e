#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Moves through tcpcpd daemons in the namespace lab (selftests/lab/lab.sh).
# The server application testapp runs in host a and streams both ways with
# the lab's peer client through gw; it hands its socket with its stream
# offsets to tcpcpd in a, which moves it to tcpcpd in b.  Cases:
#   1 IPv4, redirect hook re-routes the service address on gw, handler at b
#   2 IPv6, the same, delivered to an application registered at b
#   3 the hook fails after re-routing: undo, roll back, go on at a
#   4 nobody listens at the destination: roll back
#   5 a destination daemon with another key: refused, nothing created, logged
#   6 tcpcp-move list / connection pid PID fd FD of an unmodified program
#   7 ten connections moved at once, one policy rule each on gw
#   8 redirect by the gateway role of a tcpcpd on gw (libnl, per-connection
#     rule) while another connection to the service address stays at a;
#     the rule goes when the gateway daemon stops
#   9 the destination daemon killed during the redirect: roll back
#  10 redirect by the gateway role in route mode (libnl host route)
# Every case checks both byte streams (peer and testapp verify them), the
# peer's capture (pcapcheck: no RST, no SYN, nothing going backwards), and
# the daemons' counters and logs; every daemon must exit 0 on SIGTERM.
#
# Exit 0 pass, 1 fail, 4 skip (with the reason on the last line).
set -u

# One CPU for the whole lab: veth hands packets to the sending CPU's
# backlog, so ACKs sent from two CPUs can overtake each other on the way to
# the peer, and pcapcheck would see the server's ACK "go back".
if [ -z "${TCPCPD_TEST_PINNED:-}" ] && command -v taskset >/dev/null; then
	TCPCPD_TEST_PINNED=1 exec taskset -c 0 "$0" "$@"
fi

cd "$(dirname "$0")/../../.." || exit 1
ROOT=$PWD
O=${O:-build}
LAB=$ROOT/selftests/lab/lab.sh
TCPCPD=${TCPCPD:-$ROOT/$O/tcpcpd}
CTL=$ROOT/$O/tcpcpctl
MOVE=$ROOT/$O/tcpcp-move
APP=$ROOT/$O/tools/tcpcpd/tests/testapp
PEER=$ROOT/$O/selftests/peer
PCAPCHECK=${PCAPCHECK:-$ROOT/$O/selftests/pcapcheck}
S4=198.18.100.1
S6=fd00:7c:100::1
PORT=5000
SIZE=${TCPCPD_TEST_SIZE:-4000000}
AFTER=${TCPCPD_TEST_AFTER:-1000000}

skip() { echo "SKIP: $*"; exit 4; }
[ "$(id -u)" = 0 ] || skip "needs root"
for f in "$LAB" "$TCPCPD" "$CTL" "$MOVE" "$APP" "$PEER"; do
	[ -x "$f" ] || skip "$f is missing (make check builds it)"
done
command -v tcpdump >/dev/null || skip "tcpdump is missing"

NAME=tcpcp-$$-d
T=$(mktemp -d /tmp/tcpcpd-move-XXXXXX)
chmod 755 "$T"
pids=()
dpids=()
fail=0

cleanup() {
	local p
	for p in "${pids[@]+"${pids[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	# a clean shutdown is part of the test (and shows sanitizer reports)
	for p in "${dpids[@]+"${dpids[@]}"}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p"
		rc=$?
		if [ "$rc" != 0 ]; then
			echo "FAIL: tcpcpd pid $p exited with $rc after SIGTERM"
			fail=1
		fi
	done
	wait 2>/dev/null
	"$LAB" down "$NAME"
	if [ "$fail" != 0 ]; then
		for f in "$T"/*.log "$T"/report; do
			[ -e "$f" ] || continue
			echo "----- $f (last 30 lines)"
			tail -n 30 "$f"
		done
	fi
	[ -n "${TCPCPD_TEST_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
	[ "$fail" = 0 ] || exit 1
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP PIPE

in_ns() { local h=$1; shift; ip netns exec "$NAME-$h" "$@"; }
die() { echo "FAIL: $*"; fail=1; exit 1; }

# wait_for SECONDS CMD...: poll a condition, never a bare sleep
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# tcpcp-move's grammar: usage errors exit 2, failures 1
"$MOVE" >/dev/null 2>&1; [ $? = 2 ] || die "tcpcp-move without a command: not exit 2"
"$MOVE" connection pid 1 >/dev/null 2>&1; [ $? = 2 ] || die "tcpcp-move without to: not exit 2"
"$MOVE" connection pid x fd 3 to h >/dev/null 2>&1; [ $? = 2 ] || die "tcpcp-move pid x: not exit 2"
out=$("$MOVE" -s "$T/none.sock" connection pid $$ fd 0 to h 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^Error: " || die "tcpcp-move on a non-socket: $rc $out"

"$LAB" up "$NAME" || die "lab up"

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
chmod 600 "$T/key"

cat > "$T/hook.sh" <<EOH
#!/bin/sh
# redirect: route the service address via b; undo: back via a.
# With $T/per-conn: one policy rule on gw per connection instead, so that
# the other connections to the service address stay at a.
echo "\$1 \$TCPCP_FAMILY \$TCPCP_REMOTE_ADDR \$TCPCP_REMOTE_PORT \$TCPCP_LOCAL_ADDR \$TCPCP_LOCAL_PORT \$TCPCP_ORIGIN -> \$TCPCP_DESTINATION_NAME" >> $T/hook.log
if [ -e $T/per-conn ]; then
	if [ "\$TCPCP_FAMILY" = inet6 ]; then f=-6 nh=fd00:7c:2::1 pl=128; else f=-4 nh=198.18.2.1 pl=32; fi
	sel="from \$TCPCP_REMOTE_ADDR/\$pl to \$TCPCP_LOCAL_ADDR/\$pl ipproto tcp sport \$TCPCP_REMOTE_PORT dport \$TCPCP_LOCAL_PORT"
	case \$1 in
	redirect) ip -n $NAME-gw \$f route replace \$TCPCP_LOCAL_ADDR/\$pl via \$nh table 100 &&
		exec ip -n $NAME-gw \$f rule add pref 100 \$sel table 100 ;;
	undo) exec ip -n $NAME-gw \$f rule del pref 100 \$sel table 100 ;;
	esac
	exit 2
fi
case \$1 in
redirect) [ -e $T/hook-slow ] && sleep 3
	$LAB route $NAME b || exit 1
	[ -e $T/hook-fails ] && exit 1
	exit 0 ;;
undo) exec $LAB route $NAME a ;;
esac
exit 2
EOH
cat > "$T/handler.sh" <<EOH
#!/bin/sh
# a connection moved without application state starts where "hold" stopped
[ -e $T/handler-at ] && export TESTAPP_AT=$AFTER TESTAPP_TOTAL=$SIZE
exec $APP handle $T/report
EOH
chmod 755 "$T/hook.sh" "$T/handler.sh"

for h in a b; do
	cat > "$T/$h.conf" <<EOC
name = $h
listen = *
key_file = $T/key
socket = $T/$h.sock
pid_file = $T/$h.pid
log_level = debug
hook = $T/hook.sh
handler = $T/handler.sh
hold_timeout = 8000
EOC
	ip netns exec "$NAME-$h" "$TCPCPD" -c "$T/$h.conf" -f 2> "$T/$h.log" &
	dpids+=($!)
	[ $h = b ] && bpid=$!
done
# c: a third daemon in b whose key differs: it must create nothing
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key-c"
chmod 600 "$T/key-c"
sed -e "s|^name = b|name = c|" -e "s|^listen = \*|listen = *:7728|" -e "s|$T/key|$T/key-c|" \
	-e "s|$T/b\.|$T/c.|g" "$T/b.conf" > "$T/c.conf"
ip netns exec "$NAME-b" "$TCPCPD" -c "$T/c.conf" -f 2> "$T/c.log" &
dpids+=($!)
wait_for 5 test -S "$T/a.sock" -a -S "$T/b.sock" -a -S "$T/c.sock" || die "daemons did not start"
wait_for 5 "$CTL" -s "$T/b.sock" status >/dev/null || die "daemon b does not answer"

counter() { "$CTL" -s "$T/$1.sock" status | awk -v k="$2" '$1 == k { print $2 }'; }

# run_case NAME FAMILY DEST EXPECT: EXPECT is moved or rolledback
run_case() {
	local name=$1 fam=$2 dest=$3 expect=$4 s sf tp ap pp out rc
	[ "$fam" = 6 ] && s=$S6 || s=$S4
	: > "$T/report"
	ip netns exec "$NAME-peer" tcpdump -i eth0 -s 0 -U -n -w "$T/$name.pcap" tcp 2> "$T/$name.tcpdump.log" &
	tp=$!
	pids+=($tp)
	wait_for 5 grep -q "listening on" "$T/$name.tcpdump.log" || die "$name: tcpdump"
	ip netns exec "$NAME-a" "$APP" serve "$s" $PORT "$T/${SRC:-a}.sock" "$dest" "$AFTER" "$SIZE" "$SIZE" \
		"$T/report" > "$T/$name.app.out" &
	ap=$!
	pids+=($ap)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp"
	out=$(in_ns peer "$PEER" -c "$s" -p $PORT --send "$SIZE" --recv "$SIZE" \
		--seed-tx 2222 --seed-rx 1111 --rate 4M --expect-eof --timeout 60)
	rc=$?
	echo "$name: $out"
	wait $ap
	[ "$rc" = 0 ] || die "$name: peer: $out"
	# the handler or registered application finishes after the peer
	if [ "$expect" = moved ]; then
		wait_for 20 grep -Eq "^(handle|register) (ok|FAIL)" "$T/report"
	fi
	sleep 0.2	# the last FIN/ACK into the capture
	kill -TERM $tp; wait $tp 2>/dev/null
	sed "s/^/$name: /" "$T/report"
	case $expect in
	moved)
		grep -q "^serve moved" "$T/report" || die "$name: not moved"
		grep -Eq "^(handle|register) ok tx=$SIZE rx=$SIZE moves=1" "$T/report" ||
			die "$name: streams not complete at b"
		;;
	rolledback)
		grep -q "^serve move refused" "$T/report" || die "$name: move not refused"
		grep -q "^serve ok tx=$SIZE rx=$SIZE moves=0" "$T/report" ||
			die "$name: streams not complete at a after the roll-back"
		;;
	esac
	check_capture $name $fam
}

# check_capture NAME FAMILY: the peer's capture
check_capture() {
	local name=$1 fam=$2 sf out rc
	[ "$fam" = 6 ] && sf="[$S6]:$PORT" || sf="$S4:$PORT"
	if [ -x "$PCAPCHECK" ]; then
		out=$("$PCAPCHECK" --server "$sf" --server-fin --client-fin "$T/$name.pcap" 2>&1)
		rc=$?
	else
		# without WIRE's checker: at least no reset and no second SYN
		out=$(tcpdump -r "$T/$name.pcap" -n "port $PORT and (tcp[tcpflags] & (tcp-rst|tcp-syn) != 0 or ip6[13+40] & 0x06 != 0)" 2>/dev/null | wc -l)
		[ "$out" = 2 ]	# SYN and SYN-ACK only
		rc=$?
		out="pcapcheck not built; $out SYN/RST packets (2 expected)"
	fi
	echo "$name: pcapcheck: $out"
	[ "$rc" = 0 ] || die "$name: capture at the peer: $out"
}

# 5: an unmodified program's connection, taken by tcpcp-move pid/fd
move_case() {
	local name=v4-tcpcp-move hp pp tp out rc pid fd
	"$LAB" route "$NAME" a
	: > "$T/report"
	touch "$T/handler-at"
	ip netns exec "$NAME-peer" tcpdump -i eth0 -s 0 -U -n -w "$T/$name.pcap" tcp 2> "$T/$name.tcpdump.log" &
	tp=$!
	pids+=($tp)
	wait_for 5 grep -q "listening on" "$T/$name.tcpdump.log" || die "$name: tcpdump"
	ip netns exec "$NAME-a" "$APP" hold $S4 $PORT "$AFTER" "$SIZE" "$T/report" > "$T/$name.app.out" &
	hp=$!
	pids+=($hp)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp hold"
	ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $PORT --send "$SIZE" --recv "$SIZE" \
		--seed-tx 2222 --seed-rx 1111 --rate 4M --expect-eof --timeout 60 > "$T/$name.peer.out" &
	pp=$!
	pids+=($pp)
	wait_for 30 grep -q ready "$T/$name.app.out" || die "$name: hold never ready"
	read -r _ pid fd < <(grep ready "$T/$name.app.out")
	out=$(ip netns exec "$NAME-a" "$MOVE" list)
	echo "$out" | sed "s/^/$name: list: /"
	echo "$out" | grep -q "^ESTAB .*$S4:$PORT .* pid:$pid fd:$fd " || die "$name: list does not show pid $pid fd $fd"
	ip netns exec "$NAME-a" "$MOVE" -j list | grep -q "\"pid\":$pid,\"fd\":$fd" || die "$name: list -j"
	out=$(ip netns exec "$NAME-a" "$MOVE" -s "$T/a.sock" connection pid "$pid" fd "$fd" to 198.18.2.1)
	rc=$?
	echo "$out" | sed "s/^/$name: /"
	[ "$rc" = 0 ] || die "$name: tcpcp-move exit $rc"
	wait $pp
	rc=$?
	echo "$name: $(cat "$T/$name.peer.out")"
	[ "$rc" = 0 ] || die "$name: peer failed"
	wait_for 20 grep -Eq "^handle (ok|FAIL)" "$T/report"
	kill $hp
	sleep 0.2
	kill -TERM $tp; wait $tp 2>/dev/null
	rm -f "$T/handler-at"
	sed "s/^/$name: /" "$T/report"
	grep -q "^handle ok tx=$SIZE rx=$SIZE moves=1" "$T/report" || die "$name: streams not complete at b"
	check_capture $name 4
}

# 1: IPv4, delivered to the handler program
run_case v4-handler 4 198.18.2.1 moved

# 2: IPv6, delivered to an application registered with tcpcpd in b
"$LAB" route "$NAME" a
ip netns exec "$NAME-b" "$APP" register "$T/b.sock" "$T/report" > "$T/reg.out" &
pids+=($!)
wait_for 5 grep -q registered "$T/reg.out" || die "register"
run_case v6-registered 6 "[fd00:7c:2::1]:7727" moved

# 3: the hook fails after re-routing: undo, unisolate, go on at a
"$LAB" route "$NAME" a
touch "$T/hook-fails"
run_case v4-hook-fails 4 198.18.2.1 rolledback
rm -f "$T/hook-fails"

# 4: nobody listens at the destination: roll back before any redirect
run_case v4-unreachable 4 198.18.2.1:7799 rolledback

# 5: a destination daemon with another key: refused, nothing created, logged
run_case v4-wrong-key 4 198.18.2.1:7728 rolledback
[ "$(counter c auth_failures)" = 1 ] || die "c: auth_failures"
[ "$(counter c endpoints_created)" = 0 ] || die "c: endpoints_created"
grep -q "authentication failed: bad MAC on HELLO" "$T/c.log" || die "c: not logged"
grep -q "authentication failed: the destination dropped our HELLO" "$T/a.log" || die "a: not logged"

# 6: tcpcp-move pid PID fd FD, handler at b
move_case

# 7: CONC connections moved at the same time, each its own move, each
# redirected by its own policy rule on gw (the others stay at a meanwhile)
conc_case() {
	local name=conc n=${TCPCPD_TEST_CONC:-10} size=1000000 after=250000 i tp rc out
	local -a app=() peer=()
	"$LAB" route "$NAME" a
	touch "$T/per-conn"
	: > "$T/report"
	ip netns exec "$NAME-peer" tcpdump -i eth0 -s 0 -U -n -w "$T/$name.pcap" tcp 2> "$T/$name.tcpdump.log" &
	tp=$!
	pids+=($tp)
	wait_for 5 grep -q "listening on" "$T/$name.tcpdump.log" || die "$name: tcpdump"
	for ((i = 1; i <= n; i++)); do
		ip netns exec "$NAME-a" "$APP" serve $S4 $((PORT + i)) "$T/a.sock" 198.18.2.1 \
			$after $size $size "$T/report" > "$T/$name.$i.app.out" &
		app+=($!)
		pids+=($!)
	done
	for ((i = 1; i <= n; i++)); do
		wait_for 5 grep -q listening "$T/$name.$i.app.out" || die "$name: testapp $i"
	done
	for ((i = 1; i <= n; i++)); do
		ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $((PORT + i)) --send $size --recv $size \
			--seed-tx 2222 --seed-rx 1111 --rate 500k --expect-eof --timeout 60 \
			> "$T/$name.$i.peer.out" &
		peer+=($!)
		pids+=($!)
	done
	rc=0
	for ((i = 0; i < n; i++)); do
		wait "${peer[$i]}" || { rc=1; echo "$name: peer $((i + 1)): $(cat "$T/$name.$((i + 1)).peer.out")"; }
		wait "${app[$i]}"
	done
	for ((i = 0; i < 400; i++)); do
		[ "$(grep -Ec '^handle (ok|FAIL)' "$T/report")" -ge "$n" ] && break
		sleep 0.05
	done
	sleep 0.2
	kill -TERM $tp; wait $tp 2>/dev/null
	echo "$name: $(grep -c '^serve moved' "$T/report") of $n moved at once," \
		"$(grep -c "^handle ok tx=$size rx=$size moves=1" "$T/report") complete at b"
	[ "$rc" = 0 ] || die "$name: a peer failed"
	[ "$(grep -c '^serve moved' "$T/report")" = "$n" ] || die "$name: not all moved"
	[ "$(grep -c "^handle ok tx=$size rx=$size moves=1" "$T/report")" = "$n" ] ||
		die "$name: not all complete at b"
	for ((i = 1; i <= n; i++)); do
		PORT=$((5000 + i)) check_capture "$name" 4 > "$T/$name.pcap.out" ||
			{ cat "$T/$name.pcap.out"; die "$name: capture of connection $i"; }
	done
	echo "$name: $n captures checked"
	echo "$name: $(ip -n "$NAME-gw" rule show pref 100 | wc -l) per-connection rules on gw"
	rm -f "$T/per-conn"
	CONC_N=$n
}
CONC_N=0
conc_case

# 8: redirect by the gateway role of a tcpcpd on gw (libnl, one policy rule
# per connection) while a second connection to the same service address
# goes on at a untouched
gw_case() {
	local hp pp out rules
	"$LAB" route "$NAME" a
	cat > "$T/g.conf" <<EOC
name = gw
listen = *
key_file = $T/key
socket = $T/g.sock
pid_file = $T/g.pid
log_level = debug
gateway_role = yes
EOC
	sed -e "s|^name = a|name = a2|" -e "s|^listen = \*|listen = none|" -e "s|$T/a\.|$T/a2.|g" \
		-e "/^hook = /d" "$T/a.conf" > "$T/a2.conf"
	printf 'gateway = 198.18.1.254\nredirect_mode = rule\n' >> "$T/a2.conf"
	ip netns exec "$NAME-gw" "$TCPCPD" -c "$T/g.conf" -f 2> "$T/g.log" &
	gpid=$!
	dpids+=($gpid)
	ip netns exec "$NAME-a" "$TCPCPD" -c "$T/a2.conf" -f 2> "$T/a2.log" &
	dpids+=($!)
	wait_for 5 test -S "$T/g.sock" -a -S "$T/a2.sock" || die "gateway daemons did not start"
	: > "$T/bystander.report"
	ip netns exec "$NAME-a" "$APP" hold $S4 $((PORT + 100)) "$SIZE" "$SIZE" \
		"$T/bystander.report" > "$T/bystander.app.out" &
	hp=$!
	pids+=($hp)
	wait_for 5 grep -q listening "$T/bystander.app.out" || die "bystander"
	ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $((PORT + 100)) --send "$SIZE" --recv "$SIZE" \
		--seed-tx 2222 --seed-rx 1111 --rate 2M --timeout 60 > "$T/bystander.peer.out" &
	pp=$!
	pids+=($pp)
	SRC=a2 run_case v4-gateway-rule 4 198.18.2.1 moved
	rules=$(ip -n "$NAME-gw" rule show pref 7700)
	echo "v4-gateway-rule: gw: $rules"
	echo "$rules" | grep -q "to $S4 ipproto tcp sport [0-9]* dport $PORT lookup 7700" ||
		die "no per-connection rule on gw"
	wait $pp || die "bystander: $(cat "$T/bystander.peer.out")"
	echo "bystander at a: $(cat "$T/bystander.peer.out"); $(cat "$T/bystander.report")"
	grep -q "^hold ready tx=$SIZE rx=$SIZE" "$T/bystander.report" || die "bystander not complete at a"
	kill $hp
	# the gateway removes its rules when it stops
	kill -TERM $gpid
	wait_for 5 sh -c "! kill -0 $gpid" || die "gateway daemon did not stop"
	[ -z "$(ip -n "$NAME-gw" rule show pref 7700)" ] || die "rule left on gw"
	grep -q "gateway: removed rule" "$T/g.log" || die "gateway: removal not logged"
	echo "v4-gateway-rule: rule removed when the gateway daemon stopped"
}
gw_case

ok_out=$(counter a moves_out_ok) failed_out=$(counter a moves_out_failed)
ok_in=$(counter b moves_in_ok) failed_in=$(counter b moves_in_failed)
created=$(counter b endpoints_created)
echo "a: moves_out_ok=$ok_out moves_out_failed=$failed_out;" \
	"b: moves_in_ok=$ok_in moves_in_failed=$failed_in endpoints_created=$created"
[ "$ok_out" = $((3 + CONC_N)) ] && [ "$failed_out" = 3 ] || die "origin counters"
[ "$ok_in" = $((4 + CONC_N)) ] && [ "$failed_in" = 1 ] && [ "$created" = $((5 + CONC_N)) ] ||
	die "destination counters"
grep -q "redirect inet" "$T/hook.log" && grep -q "undo inet" "$T/hook.log" || die "hook log"

# 10: redirect by the gateway role in route mode: the host route of the
# service address on gw goes via b (libnl) and stays there when the gateway
# daemon stops (the connection lives at b)
route_case() {
	local rt gp
	"$LAB" route "$NAME" a
	ip netns exec "$NAME-gw" "$TCPCPD" -c "$T/g.conf" -f 2> "$T/g2.log" &
	gp=$!
	dpids+=($gp)
	sed -e "s|^name = a2|name = a3|" -e "s|$T/a2\.|$T/a3.|g" \
		-e "s|^redirect_mode = rule|redirect_mode = route|" "$T/a2.conf" > "$T/a3.conf"
	ip netns exec "$NAME-a" "$TCPCPD" -c "$T/a3.conf" -f 2> "$T/a3.log" &
	dpids+=($!)
	wait_for 5 test -S "$T/g.sock" -a -S "$T/a3.sock" || die "route: daemons did not start"
	SRC=a3 run_case v4-gateway-route 4 198.18.2.1 moved
	rt=$(ip -n "$NAME-gw" route show "$S4")
	echo "v4-gateway-route: gw: $rt"
	echo "$rt" | grep -q "via 198.18.2.1" || die "route: $S4 not via b on gw"
	grep -q "gateway: move .*$S4" "$T/g2.log" || die "route: not logged by the gateway"
	kill -TERM $gp
	wait_for 5 sh -c "! kill -0 $gp" || die "route: gateway daemon did not stop"
	ip -n "$NAME-gw" route show "$S4" | grep -q "via 198.18.2.1" ||
		die "route: the route to the moved connection went with the gateway daemon"
}
route_case
# 9: the destination daemon dies while the origin redirects (before the
# route changes): the origin rolls back, the connection goes on at a
kill_case() {
	local name=v4-dest-killed i
	"$LAB" route "$NAME" a
	touch "$T/hook-slow"
	: > "$T/hook.log"
	(
		for ((i = 0; i < 600; i++)); do
			grep -q "^redirect" "$T/hook.log" 2>/dev/null && break
			sleep 0.05
		done
		kill -9 $bpid
	) &
	pids+=($!)
	run_case $name 4 198.18.2.1 rolledback
	rm -f "$T/hook-slow"
	grep -q "^undo" "$T/hook.log" || die "$name: redirect not undone"
	grep -q "in redirect" "$T/report" || die "$name: not rolled back in the redirect phase"
	# b was killed on purpose: its exit status is not a failure
	wait $bpid 2>/dev/null
	local -a keep=()
	for p in "${dpids[@]}"; do [ "$p" != "$bpid" ] && keep+=("$p"); done
	dpids=("${keep[@]}")
}
kill_case

echo "PASS: 10 cases"
