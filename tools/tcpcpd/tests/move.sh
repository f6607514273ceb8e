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
#   7 connections moved at once (TCPCPD_TEST_CONC, ten by default), one
#     policy rule each on gw
#   8 redirect by the gateway role of a tcpcpd on gw (libnl, per-connection
#     rule) while another connection to the service address stays at a;
#     the rule goes when the gateway daemon stops
#   9 the destination daemon killed during the redirect: roll back
#  10 redirect by the gateway role in route mode (libnl host route)
# Every case checks both byte streams (peer and testapp verify them), the
# peer's capture (pcapcheck: no RST, no SYN, nothing going backwards), and
# the daemons' counters and logs; every daemon must exit 0 on SIGTERM.
#
# Environment: TCPCPD_TEST_CASES (the numbers of the cases to run, "1 2 3"
# or "1,2,3"; default all), TCPCP_BACKEND (native or repair: the daemons use that backend, and
# the test skips when it is not available), TCPCPD_TEST_SIZE and
# TCPCPD_TEST_AFTER (bytes each way, and before the move), TCPCPD_TEST_CONC
# (connections of case 7), TCPCPD_TEST_KEEP=1 (keep the logs and captures).
#
# Exit 0 pass, 1 fail, 4 skip (with the reason on the last line).
set -u

# pins the lab to one CPU, sets ROOT, LAB, TCPCPD, CTL, MOVE, APP, PEER,
# PCAPCHECK, NAME, T; skip, die, wait_for, counter, check_capture...
TL_TAG=d TL_TMP=tcpcpd-move . "$(dirname "$0")/lib.sh"
PORT=5000
SIZE=${TCPCPD_TEST_SIZE:-4000000}
AFTER=${TCPCPD_TEST_AFTER:-1000000}

# tcpcp-move's grammar: usage errors exit 2, failures 1
"$MOVE" >/dev/null 2>&1; [ $? = 2 ] || die "tcpcp-move without a command: not exit 2"
"$MOVE" connection pid 1 >/dev/null 2>&1; [ $? = 2 ] || die "tcpcp-move without to: not exit 2"
"$MOVE" connection pid x fd 3 to h >/dev/null 2>&1; [ $? = 2 ] || die "tcpcp-move pid x: not exit 2"
out=$("$MOVE" -s "$T/none.sock" connection pid $$ fd 0 to h 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^Error: " || die "tcpcp-move on a non-socket: $rc $out"

"$LAB" up "$NAME" || die "lab up"

tl_key "$T/key"

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
	tl_conf $h "hook = $T/hook.sh" "handler = $T/handler.sh" "hold_timeout = 8000" \
		> "$T/$h.conf"
	[ $h = a ] && tl_backend_ok "$T/a.conf"
	tl_daemon $h $h
	[ $h = b ] && bpid=$tl_pid
done
# c: a third daemon in b whose key differs: it must create nothing
tl_key "$T/key-c"
sed -e "s|^name = b|name = c|" -e "s|^listen = \*|listen = *:7728|" -e "s|$T/key|$T/key-c|" \
	-e "s|$T/b\.|$T/c.|g" "$T/b.conf" > "$T/c.conf"
tl_daemon b c
tl_wait_daemons a b c
backend=$(tl_backend a)
echo "tcpcpd backend: $backend"
case ${TCPCP_BACKEND:-auto} in
native|repair) [ "$backend" = "$TCPCP_BACKEND" ] || die "backend $backend, not $TCPCP_BACKEND" ;;
esac

# run_case NAME FAMILY DEST EXPECT: EXPECT is moved or rolledback
run_case() {
	local name=$1 fam=$2 dest=$3 expect=$4 s tp ap out rc
	[ "$fam" = 6 ] && s=$S6 || s=$S4
	: > "$T/report"
	tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
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
	tl_capture_stop $tp "$T/$name.pcap"
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

# 6: an unmodified program's connection, taken by tcpcp-move pid/fd
move_case() {
	local name=v4-tcpcp-move hp pp tp out rc pid fd
	"$LAB" route "$NAME" a
	: > "$T/report"
	touch "$T/handler-at"
	tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
	ip netns exec "$NAME-a" "$APP" hold $S4 $PORT "$AFTER" "$SIZE" "$T/report" > "$T/$name.app.out" &
	hp=$!
	pids+=($hp)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp hold"
	ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $PORT --send "$SIZE" --recv "$SIZE" \
		--seed-tx 2222 --seed-rx 1111 --rate 4M --expect-eof --timeout 60 > "$T/$name.peer.out" &
	pp=$!
	pids+=($pp)
	wait_for 30 grep -q ready "$T/$name.app.out" || die "$name: hold never ready"
	# (no process substitution: the VM has no /dev/fd)
	read -r _ pid fd <<< "$(grep ready "$T/$name.app.out")"
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
	tl_capture_stop $tp "$T/$name.pcap"
	rm -f "$T/handler-at"
	sed "s/^/$name: /" "$T/report"
	grep -q "^handle ok tx=$SIZE rx=$SIZE moves=1" "$T/report" || die "$name: streams not complete at b"
	check_capture $name 4
}

# TCPCPD_TEST_CASES: the numbers of the cases to run, separated by blanks
# or commas (a kernel command line has no blanks), or "all" (the default)
CASES=" ${TCPCPD_TEST_CASES:-all} "
CASES=${CASES//,/ }
[ "$CASES" = " all " ] && CASES=" 1 2 3 4 5 6 7 8 9 10 "
sel() { [[ $CASES == *" $1 "* ]]; }
# want N: case N is to run; count it, and the service is routed via a
want() { sel "$1" && "$LAB" route "$NAME" a && ran=$((ran + 1)); }
ran=0
# what the daemons' counters must show: moves out of a that succeeded and
# failed, moves into b that succeeded and failed, endpoints b created
x_out_ok=0 x_out_failed=0 x_in_ok=0 x_in_failed=0 x_created=0

# 1: IPv4, delivered to the handler program
if want 1; then
	run_case v4-handler 4 198.18.2.1 moved
	: $((x_out_ok += 1, x_in_ok += 1, x_created += 1))
fi

# 2: IPv6, delivered to an application registered with tcpcpd in b
if want 2; then
	ip netns exec "$NAME-b" "$APP" register "$T/b.sock" "$T/report" > "$T/reg.out" &
	pids+=($!)
	wait_for 5 grep -q registered "$T/reg.out" || die "register"
	run_case v6-registered 6 "[fd00:7c:2::1]:7727" moved
	: $((x_out_ok += 1, x_in_ok += 1, x_created += 1))
fi

# 3: the hook fails after re-routing: undo, unisolate, go on at a
if want 3; then
	touch "$T/hook-fails"
	run_case v4-hook-fails 4 198.18.2.1 rolledback
	rm -f "$T/hook-fails"
	: $((x_out_failed += 1, x_in_failed += 1, x_created += 1))
fi

# 4: nobody listens at the destination: roll back before any redirect
if want 4; then
	run_case v4-unreachable 4 198.18.2.1:7799 rolledback
	: $((x_out_failed += 1))
fi

# 5: a destination daemon with another key: refused, nothing created, logged
if want 5; then
	run_case v4-wrong-key 4 198.18.2.1:7728 rolledback
	: $((x_out_failed += 1))
	[ "$(counter c auth_failures)" = 1 ] || die "c: auth_failures"
	[ "$(counter c endpoints_created)" = 0 ] || die "c: endpoints_created"
	grep -q "authentication failed: bad MAC on HELLO" "$T/c.log" || die "c: not logged"
	grep -q "authentication failed: the destination dropped our HELLO" "$T/a.log" ||
		die "a: not logged"
fi

# 6: tcpcp-move pid PID fd FD, handler at b
if want 6; then
	move_case
	: $((x_out_ok += 1, x_in_ok += 1, x_created += 1))
fi

# 7: CONC connections moved at the same time, each its own move, each
# redirected by its own policy rule on gw (the others stay at a meanwhile)
conc_case() {
	local name=conc n=${TCPCPD_TEST_CONC:-10} size=1000000 after=250000 i tp rc out
	local -a app=() peer=()
	"$LAB" route "$NAME" a
	touch "$T/per-conn"
	: > "$T/report"
	tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
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
		[ "$(grep -Ec '^handle (ok|FAIL)' "$T/report")" -ge "$n" ] 2>/dev/null && break
		sleep 0.05
	done
	tl_capture_stop $tp "$T/$name.pcap"
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
if want 7; then
	conc_case
	: $((x_out_ok += CONC_N, x_in_ok += CONC_N, x_created += CONC_N))
fi

# 8: redirect by the gateway role of a tcpcpd on gw (libnl, one policy rule
# per connection) while a second connection to the same service address
# goes on at a untouched
gw_case() {
	local hp pp out rules
	"$LAB" route "$NAME" a
	tl_conf gw "gateway_role = yes" > "$T/gw.conf"
	sed -e "s|^name = a|name = a2|" -e "s|^listen = \*|listen = none|" -e "s|$T/a\.|$T/a2.|g" \
		-e "/^hook = /d" "$T/a.conf" > "$T/a2.conf"
	printf 'gateway = 198.18.1.254\nredirect_mode = rule\n' >> "$T/a2.conf"
	tl_daemon gw gw
	gpid=$tl_pid
	tl_daemon a a2
	tl_wait_daemons gw a2
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
	grep -q "gateway: removed rule" "$T/gw.log" || die "gateway: removal not logged"
	echo "v4-gateway-rule: rule removed when the gateway daemon stopped"
}
if want 8; then
	gw_case
	: $((x_in_ok += 1, x_created += 1))	# from a2, the origin with the gateway
fi

ok_out=$(counter a moves_out_ok) failed_out=$(counter a moves_out_failed)
ok_in=$(counter b moves_in_ok) failed_in=$(counter b moves_in_failed)
created=$(counter b endpoints_created)
echo "a: moves_out_ok=$ok_out moves_out_failed=$failed_out;" \
	"b: moves_in_ok=$ok_in moves_in_failed=$failed_in endpoints_created=$created"
[ "$ok_out" = $x_out_ok ] && [ "$failed_out" = $x_out_failed ] || die "origin counters"
[ "$ok_in" = $x_in_ok ] && [ "$failed_in" = $x_in_failed ] && [ "$created" = $x_created ] ||
	die "destination counters"
if sel 1 || sel 2 || sel 3; then
	grep -q "redirect inet" "$T/hook.log" || die "hook log: no redirect"
fi
if sel 3; then
	grep -q "undo inet" "$T/hook.log" || die "hook log: no undo"
fi

# 10: redirect by the gateway role in route mode: the host route of the
# service address on gw goes via b (libnl) and stays there when the gateway
# daemon stops (the connection lives at b)
route_case() {
	local rt gp
	"$LAB" route "$NAME" a
	tl_conf gw2 "gateway_role = yes" > "$T/gw2.conf"
	tl_daemon gw gw2
	gp=$tl_pid
	sed -e "s|^name = a|name = a3|" -e "s|^listen = \*|listen = none|" -e "s|$T/a\.|$T/a3.|g" \
		-e "/^hook = /d" "$T/a.conf" > "$T/a3.conf"
	printf 'gateway = 198.18.1.254\nredirect_mode = route\n' >> "$T/a3.conf"
	tl_daemon a a3
	tl_wait_daemons gw2 a3
	SRC=a3 run_case v4-gateway-route 4 198.18.2.1 moved
	rt=$(ip -n "$NAME-gw" route show "$S4")
	echo "v4-gateway-route: gw: $rt"
	echo "$rt" | grep -q "via 198.18.2.1" || die "route: $S4 not via b on gw"
	grep -q "gateway: move .*$S4" "$T/gw2.log" || die "route: not logged by the gateway"
	kill -TERM $gp
	wait_for 5 sh -c "! kill -0 $gp" || die "route: gateway daemon did not stop"
	ip -n "$NAME-gw" route show "$S4" | grep -q "via 198.18.2.1" ||
		die "route: the route to the moved connection went with the gateway daemon"
}
want 10 && route_case

# 9: the destination daemon dies while the origin redirects (before the
# route changes): the origin rolls back, the connection goes on at a
kill_case() {
	local name=v4-dest-killed i
	"$LAB" route "$NAME" a
	touch "$T/hook-slow"
	: > "$T/hook.log"
	tl_forget $bpid		# killed on purpose: no exit status to check
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
}
# (last: it kills the daemon in b)
want 9 && kill_case

echo "PASS: $ran cases"
