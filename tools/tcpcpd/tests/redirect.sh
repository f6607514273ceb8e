#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tcpcpd's redirect modes and the release of gateway entries, in the
# namespace lab (selftests/lab/lab.sh) with a tcpcpd in gw (gateway role),
# a and b.  Cases:
#   1 nftmap, IPv4: a live stream moved a -> b through one nftables map
#     element on gw while a second connection to the service address goes on
#     at a; when the moved connection ends (TIME_WAIT at b past the grace)
#     b releases it: map, fwmark rule and table route on gw are gone
#   2 nftmap, IPv6: the same without the bystander
#   3 rule: a move through one policy rule, released when it ends: the
#     rule list of gw is back to what it was
#   4 a -> b -> a (nftmap): the connection moved back by tcpcp-move at b;
#     b's release of the first move does not remove the newer entry, a's
#     release of the second does
#   5 SIGTERM of the gateway daemon with a map element and a policy rule
#     installed for live connections: table, rules and routes all go
#   6 address mode in a lab variant where gw, a and b share a bridge: the
#     service address moves a -> b with the connection, gw's neighbour
#     entry flips to b's MAC (gratuitous ARP)
#   7 the same for IPv6 (unsolicited neighbour advertisement)
# Every moved stream is checked byte for byte both ways and in the capture
# at the peer (pcapcheck).  Exit 0 pass, 1 fail, 4 skip.
set -u

# pins the lab to one CPU, sets ROOT, LAB, TCPCPD, CTL, MOVE, APP, PEER,
# PCAPCHECK, NAME, T; skip, die, wait_for, check_capture, tl_daemon...
TL_TAG=r TL_TMP=tcpcpd-redirect . "$(dirname "$0")/lib.sh"
command -v nft >/dev/null || skip "nft is missing"
PORT=5000
SIZE=${TCPCPD_TEST_SIZE:-3000000}
AFTER=1000000
declare -A dpid=()	# daemon name -> pid
XLAB=""
tl_cleanup_hook() { [ -z "$XLAB" ] || xlab_down; }

"$LAB" up "$NAME" || die "lab up"
tl_key "$T/key"

# handlers: a and b stream the rest with testapp; with $T/hold-b, b only
# holds the socket (its pid in $T/holder.pid) for tcpcp-move to take
cat > "$T/handler.sh" <<EOH
#!/bin/sh
if [ "\$1" = b ] && [ -e $T/hold-b ]; then
	echo \$\$ > $T/holder.pid
	exec sleep 120
fi
# with $T/gate-HOST, HOST holds a delivered socket until the test removes it
while [ -e $T/gate-\$1 ]; do sleep 0.05; done
[ -e $T/handler-at ] && export TESTAPP_AT=$AFTER TESTAPP_TOTAL=$SIZE
exec $APP handle $T/report
EOH
chmod 755 "$T/handler.sh"
for h in a b; do printf '#!/bin/sh\nexec %s %s\n' "$T/handler.sh" $h > "$T/handler-$h.sh"; done
chmod 755 "$T"/handler-?.sh

# start_daemon DNAME HOST MORE-CONFIG [LAB]: tcpcpd DNAME in HOST of LAB
# (NAME by default); MORE-CONFIG lines separated by \n
start_daemon() {
	tl_conf "$1" "hold_timeout = 8000" "$(printf '%b' "$3")" > "$T/$1.conf"
	TL_LAB=${4:-$NAME} tl_daemon "$2" "$1"
	dpid[$1]=$tl_pid
	TL_WAIT=20 tl_wait_daemons "$1"
}
stop_daemon() {
	local rc
	tl_stop "${dpid[$1]}"
	rc=$?
	unset "dpid[$1]"
	[ "$rc" = 0 ] || die "tcpcpd $1 exited with $rc after SIGTERM"
}

REL="release_grace = 1000\nrelease_poll = 200"
start_daemon g gw "gateway_role = yes"
start_daemon a a "handler = $T/handler-a.sh\ngateway = 198.18.1.254\nredirect_mode = nftmap\n$REL"
start_daemon b b "handler = $T/handler-b.sh\ngateway = 198.18.2.254\nredirect_mode = nftmap\n$REL"
# a second origin daemon in a that asks for policy rules
start_daemon ar a "listen = none\ngateway = 198.18.1.254\nredirect_mode = rule"

gw_map() { in_ns gw nft list map inet tcpcpd "conns$1" 2>/dev/null; }
# elements of map conns4|6 (0 when the table does not exist)
map_count() { gw_map "$1" | grep -o ' : 0x' | wc -l; }
map_empty() { [ "$(map_count 4)" = 0 ] && [ "$(map_count 6)" = 0 ]; }
gw_rules() { in_ns gw ip -4 rule show pref 7700; in_ns gw ip -6 rule show pref 7700; }
gw_tables() { local t; for t in 7700 7701 7702 7703; do in_ns gw ip -4 route show table $t; in_ns gw ip -6 route show table $t; done 2>/dev/null; }
gw_clean() { map_empty && [ -z "$(gw_rules)" ] && [ -z "$(gw_tables)" ]; }

# move_case NAME FAMILY SOCK CHECK: a live stream served at a, moved to b
# by the daemon behind SOCK; CHECK runs while it streams at b
move_case() {
	local name=$1 fam=$2 sock=$3 check=$4 s ap pp dest tp
	if [ "$fam" = 6 ]; then s=$S6 dest="[fd00:7c:2::1]"
	else s=$S4 dest=198.18.2.1; fi
	: > "$T/report"
	touch "$T/gate-b"
	tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
	ip netns exec "$NAME-a" "$APP" serve "$s" $PORT "$T/$sock.sock" "$dest" "$AFTER" "$SIZE" "$SIZE" \
		"$T/report" > "$T/$name.app.out" &
	ap=$!
	pids+=($ap)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp"
	ip netns exec "$NAME-peer" "$PEER" -c "$s" -p $PORT --send "$SIZE" --recv "$SIZE" --seed-tx 2222 \
		--seed-rx 1111 --rate ${RATE:-700k} --expect-eof --timeout 60 > "$T/$name.peer.out" &
	pp=$!
	pids+=($pp)
	wait_for 20 grep -q "^serve moved" "$T/report" || die "$name: not moved: $(cat "$T/report")"
	wait_for 10 grep -q "activated and delivered" "$T/b.log" || die "$name: not delivered at b"
	$check "$name" || die "$name: while the connection is at b: $check"
	rm -f "$T/gate-b"
	wait $pp || die "$name: peer: $(cat "$T/$name.peer.out")"
	echo "$name: $(cat "$T/$name.peer.out")"
	wait $ap
	wait_for 20 grep -Eq "^handle (ok|FAIL)" "$T/report"
	tl_capture_stop $tp "$T/$name.pcap"
	sed "s/^/$name: /" "$T/report"
	grep -Eq "^handle ok tx=$SIZE rx=$SIZE moves=1" "$T/report" || die "$name: streams not complete at b"
	check_capture "$name" "$fam"
}

has_elem4() {
	local n
	n=$(map_count 4)
	echo "$1: gw: $n element(s) in conns4; $(gw_map 4 | grep elements | tr -s ' \t' ' ')"
	[ "$n" = 1 ] && elem_via 4 198.18.2.1
}
# elem_via FAMILY ADDR: the one element's mark selects a table whose route
# goes via ADDR, and the fwmark rule of that table is there
elem_via() {
	local mark
	mark=$(gw_map "$1" | grep -o ' : 0x[0-9a-f]*' | sed 's/ : //')
	[ -n "$mark" ] || return 1
	mark=$((mark))
	in_ns gw ip -"$1" route show table $mark | grep -q "via $2" &&
		gw_rules | grep -q "fwmark $(printf '0x%x' $mark) lookup $mark" && return 0
	echo "gw: table $mark: $(in_ns gw ip -"$1" route show table $mark); rules: $(gw_rules)"
	return 1
}
has_elem6() {
	echo "$1: gw: $(map_count 6) element(s) in conns6"
	[ "$(map_count 6)" = 1 ] && elem_via 6 fd00:7c:2::1
}
has_rule() {
	local r
	r=$(in_ns gw ip rule show pref 7700 | grep "ipproto tcp")
	echo "$1: gw: $r"
	echo "$r" | grep -q "from 198.18.0.1 to $S4 ipproto tcp sport [0-9]* dport $PORT lookup 77"
}

# released NAME: the gateway is back to no entry at all
released() {
	wait_for 15 gw_clean || { in_ns gw nft list ruleset; gw_rules; gw_tables; die "$1: gateway entries not released"; }
	echo "$1: released: gw has no map element, fwmark or per-connection rule, table route"
}

# 1: nftmap IPv4, bystander at a
ip netns exec "$NAME-a" "$APP" hold $S4 $((PORT + 100)) "$SIZE" "$SIZE" "$T/bystander.report" > "$T/bystander.app.out" &
hp=$!
pids+=($hp)
wait_for 5 grep -q listening "$T/bystander.app.out" || die "bystander"
ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $((PORT + 100)) --send "$SIZE" --recv "$SIZE" --seed-tx 2222 \
	--seed-rx 1111 --rate 600k --timeout 60 > "$T/bystander.peer.out" &
bp=$!
pids+=($bp)
move_case v4-nftmap 4 a has_elem4
wait $bp || die "bystander: $(cat "$T/bystander.peer.out")"
grep -q "^hold ready tx=$SIZE rx=$SIZE" "$T/bystander.report" || die "bystander not complete at a"
echo "bystander at a: $(cat "$T/bystander.peer.out")"
kill $hp
released v4-nftmap
grep -q "release: move .*: released" "$T/b.log" || die "v4-nftmap: b did not log the release"
grep -q "gateway: move .*: removed nftmap 198.18.0.1:[0-9]* -> $S4:$PORT via 198.18.2.1" "$T/g.log" ||
	die "v4-nftmap: gw did not log the removal"

# 2: nftmap IPv6
move_case v6-nftmap 6 a has_elem6
released v6-nftmap

# 3: rule mode, released at the end
move_case v4-rule 4 ar has_rule
released v4-rule

# 4: a -> b -> a: b moves it back with tcpcp-move; b's release of the
# first move must leave the second move's entry
abba_case() {
	local name=v4-a-b-a hp pp out rc holder tp
	: > "$T/report"
	touch "$T/hold-b" "$T/handler-at"
	rm -f "$T/holder.pid"
	tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
	ip netns exec "$NAME-a" "$APP" hold $S4 $PORT "$AFTER" "$SIZE" "$T/report" > "$T/$name.app.out" &
	hp=$!
	pids+=($hp)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp hold"
	ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $PORT --send "$SIZE" --recv "$SIZE" --seed-tx 2222 \
		--seed-rx 1111 --rate 2M --expect-eof --timeout 60 > "$T/$name.peer.out" &
	pp=$!
	pids+=($pp)
	wait_for 30 grep -q ready "$T/$name.app.out" || die "$name: hold never ready"
	read -r _ pid fd < <(grep ready "$T/$name.app.out")
	out=$(in_ns a "$MOVE" -s "$T/a.sock" connection pid "$pid" fd "$fd" to 198.18.2.1) ||
		die "$name: a -> b: $out"
	echo "$name: a -> b: $(echo "$out" | tail -n 1)"
	wait_for 10 test -s "$T/holder.pid" || die "$name: no holder at b"
	holder=$(cat "$T/holder.pid")
	pids+=($holder)
	rm -f "$T/hold-b"
	touch "$T/gate-a"
	wait_for 5 has_elem4 $name >/dev/null || die "$name: no element via b"
	out=$(in_ns b "$MOVE" -s "$T/b.sock" connection pid "$holder" fd 0 to 198.18.1.1) ||
		die "$name: b -> a: $out"
	echo "$name: b -> a: $(echo "$out" | tail -n 1)"
	# b sees the connection gone and releases the first move: ESTALE
	wait_for 10 grep -q "moved on since; the gateway keeps its newer entry" "$T/b.log" ||
		die "$name: b did not release the first move"
	out=$(gw_map 4 | grep elements)
	echo "$name: gw after b's release: $out"
	[ "$(map_count 4)" = 1 ] && elem_via 4 198.18.1.1 ||
		die "$name: the newer entry (via a) is gone"
	rm -f "$T/gate-a"
	wait $pp
	rc=$?
	echo "$name: $(cat "$T/$name.peer.out")"
	[ "$rc" = 0 ] || die "$name: peer failed"
	wait_for 20 grep -Eq "^handle (ok|FAIL)" "$T/report"
	kill $hp $holder 2>/dev/null
	tl_capture_stop $tp "$T/$name.pcap"
	rm -f "$T/handler-at"
	sed "s/^/$name: /" "$T/report"
	grep -q "^handle ok tx=$SIZE rx=$SIZE moves=1" "$T/report" || die "$name: streams not complete at a"
	check_capture $name 4
	released $name
	grep -q "release: move .*: released" "$T/a.log" || die "$name: a did not release the second move"
}
abba_case

# 5: SIGTERM of the gateway daemon with live entries of both modes
stop_case() {
	local name=gw-sigterm i hp pp holder
	touch "$T/hold-b" "$T/handler-at"
	for i in 1 2; do
		rm -f "$T/holder.pid"
		ip netns exec "$NAME-a" "$APP" hold $S4 $((PORT + i)) "$AFTER" "$SIZE" "$T/report" > "$T/$name.$i.app.out" &
		hp=$!
		pids+=($hp)
		wait_for 5 grep -q listening "$T/$name.$i.app.out" || die "$name: testapp hold"
		ip netns exec "$NAME-peer" "$PEER" -c $S4 -p $((PORT + i)) --send "$SIZE" --recv "$SIZE" --seed-tx 2222 \
			--seed-rx 1111 --rate 2M --timeout 60 > /dev/null &
		pids+=($!)
		wait_for 30 grep -q ready "$T/$name.$i.app.out" || die "$name: hold never ready"
		read -r _ pid fd < <(grep ready "$T/$name.$i.app.out")
		[ $i = 1 ] && s=a || s=ar
		in_ns a "$MOVE" -s "$T/$s.sock" connection pid "$pid" fd "$fd" to 198.18.2.1 > /dev/null ||
			die "$name: move $i"
		wait_for 10 test -s "$T/holder.pid" || die "$name: no holder at b"
		pids+=($(cat "$T/holder.pid"))
	done
	echo "$name: gw before: $(map_count 4) map element(s), $(in_ns gw ip rule show pref 7700 | wc -l) rule(s)"
	[ "$(map_count 4)" = 1 ] && [ "$(in_ns gw ip rule show pref 7700 | grep -c ipproto)" = 1 ] ||
		die "$name: entries not installed"
	stop_daemon g
	in_ns gw nft list tables | grep -q tcpcpd && die "$name: nftables table left"
	[ -z "$(gw_rules)" ] || die "$name: rules left: $(gw_rules)"
	[ -z "$(gw_tables)" ] || die "$name: routes left: $(gw_tables)"
	grep -q "gateway: removed table inet tcpcpd" "$T/g.log" || die "$name: not logged"
	echo "$name: table, rules and table routes removed when the gateway daemon stopped"
	rm -f "$T/hold-b" "$T/handler-at"
}
stop_case

# 6: address mode on a shared segment
XN=tcpcp-$$-rx
XS4=198.18.3.100
XS6=fd00:7c:3::100
xin() { local h=$1; shift; ip netns exec "$XN-$h" "$@"; }
xlab_down() { local h; for h in peer gw a b; do ip netns del "$XN-$h" 2>/dev/null; done; }
xlab_up() {
	local h
	XLAB=1
	for h in peer gw a b; do
		ip netns add "$XN-$h"
		ip -n "$XN-$h" link set lo up
		xin $h sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
			net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	xin gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	ip -n "$XN-peer" link add eth0 type veth peer name p0 netns "$XN-gw"
	ip -n "$XN-peer" addr add 198.18.0.1/24 dev eth0
	ip -n "$XN-peer" link set eth0 up
	ip -n "$XN-peer" route add default via 198.18.0.254
	ip -n "$XN-peer" addr add fd00:7c:0::1/64 dev eth0 nodad
	ip -n "$XN-peer" -6 route add default via fd00:7c:0::fe
	ip -n "$XN-gw" addr add fd00:7c:0::fe/64 dev p0 nodad
	ip -n "$XN-gw" addr add 198.18.0.254/24 dev p0
	ip -n "$XN-gw" link set p0 up
	ip -n "$XN-gw" link add br0 type bridge
	ip -n "$XN-gw" addr add 198.18.3.254/24 dev br0
	ip -n "$XN-gw" addr add fd00:7c:3::fe/64 dev br0 nodad
	ip -n "$XN-gw" link set br0 up
	for h in a b; do
		ip -n "$XN-$h" link add eth0 type veth peer name "$h"0 netns "$XN-gw"
		ip -n "$XN-gw" link set "$h"0 master br0 up
		ip -n "$XN-$h" link set eth0 up
		ip -n "$XN-$h" route add default via 198.18.3.254 2>/dev/null
	done
	ip -n "$XN-a" addr add 198.18.3.1/24 dev eth0
	ip -n "$XN-b" addr add 198.18.3.2/24 dev eth0
	ip -n "$XN-a" route replace default via 198.18.3.254
	ip -n "$XN-b" route replace default via 198.18.3.254
	ip -n "$XN-a" addr add fd00:7c:3::1/64 dev eth0 nodad
	ip -n "$XN-b" addr add fd00:7c:3::2/64 dev eth0 nodad
	ip -n "$XN-a" -6 route add default via fd00:7c:3::fe
	ip -n "$XN-b" -6 route add default via fd00:7c:3::fe
	ip -n "$XN-a" addr add $XS4/32 dev eth0
	# deprecated: never the source of a's own connections (to b's daemon)
	ip -n "$XN-a" addr add $XS6/128 dev eth0 nodad preferred_lft 0
}
addr_case() { # addr_case FAMILY
	local fam=$1 name=v$1-address ap pp mac_b n1 n2 s dest tp
	if [ "$fam" = 6 ]; then s=$XS6 dest="[fd00:7c:3::2]"
	else s=$XS4 dest=198.18.3.2; fi
	for h in a b; do
		start_daemon x$h $h "handler = $T/handler-$h.sh\nredirect_mode = address\ngateway_role = yes" "$XN"
	done
	mac_b=$(ip -n "$XN-b" -br link show eth0 | awk '{ print $3 }')
	: > "$T/report"
	TL_LAB=$XN tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
	ip netns exec "$XN-a" "$APP" serve $s $PORT "$T/xa.sock" "$dest" "$AFTER" "$SIZE" "$SIZE" \
		"$T/report" > "$T/$name.app.out" &
	ap=$!
	pids+=($ap)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp"
	ip netns exec "$XN-peer" "$PEER" -c $s -p $PORT --send "$SIZE" --recv "$SIZE" --seed-tx 2222 \
		--seed-rx 1111 --rate ${RATE:-700k} --expect-eof --timeout 60 > "$T/$name.peer.out" &
	pp=$!
	pids+=($pp)
	wait_for 5 sh -c "ip -n $XN-gw neigh show $s | grep -q lladdr" || die "$name: no neighbour entry"
	n1=$(ip -n "$XN-gw" neigh show $s)
	wait_for 20 grep -q "^serve moved" "$T/report" || die "$name: not moved: $(cat "$T/report")"
	n2=$(ip -n "$XN-gw" neigh show $s)
	echo "$name: gw neighbour before: $n1; after: $n2 (b is $mac_b)"
	echo "$n2" | grep -q "lladdr $mac_b" || die "$name: gw's neighbour entry did not flip to b"
	ip -n "$XN-a" -br addr show dev eth0 | grep -q "$s/" && die "$name: address still on a"
	ip -n "$XN-b" -br addr show dev eth0 | grep -q "$s/" || die "$name: address not on b"
	wait $pp || die "$name: peer: $(cat "$T/$name.peer.out")"
	echo "$name: $(cat "$T/$name.peer.out")"
	wait $ap
	wait_for 20 grep -Eq "^handle (ok|FAIL)" "$T/report"
	TL_LAB=$XN tl_capture_stop $tp "$T/$name.pcap"
	sed "s/^/$name: /" "$T/report"
	grep -Eq "^handle ok tx=$SIZE rx=$SIZE moves=1" "$T/report" || die "$name: streams not complete at b"
	S4=$XS4 S6=$XS6 check_capture $name "$fam"
	stop_daemon xa
	stop_daemon xb
	ip -n "$XN-b" -br addr show dev eth0 | grep -q "$s/" || die "$name: address left b with its daemon"
}
xlab_up
addr_case 4
addr_case 6

echo "PASS: 7 cases"
