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
#   5 nftmap, IPv4, port reuse: the peer aborts a connection moved to b
#     (its reset lost) and opens a new one from the same port while gw's
#     element of the old one is still there: the new SYN puts the tuple in
#     gw's set stale4, the new connection is served at a (echo verified
#     both ways); b's release of the old one clears element and stale tuple
#   6 the same in IPv6, where b forgets the old connection and a moves the
#     new one to b: its element takes the tuple out of stale6 and its bytes
#     reach b
#   7 SIGTERM of the gateway daemon with a map element and a policy rule
#     installed for live connections: table, rules and routes all go
#   8 address mode in a lab variant where gw, a and b share a bridge: the
#     service address moves a -> b with the connection, gw's neighbour
#     entry flips to b's MAC (gratuitous ARP)
#   9 the same for IPv6 (unsolicited neighbour advertisement)
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
BCONF="handler = $T/handler-b.sh\ngateway = 198.18.2.254\nredirect_mode = nftmap\n$REL"
start_daemon b b "$BCONF"
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

# 5, 6: a new connection that reuses a moved connection's tuple while gw's
# map still holds the moved one's element (the peer aborted the old one and
# its reset never reached b, so b still has it): the new SYN puts the tuple
# in gw's set staleN, and the new connection is served by a, the default
# route, instead of going to b (which answers with a reset: "connection
# refused").  IPv4: b's release of the old connection removes the element
# and the stale tuple.  IPv6: b forgets the old connection (its daemon
# restarted), and a moves the new one to b in its turn: the new element
# takes the tuple out of stale6, and the new connection's packets reach b.
cat > "$T/reuse.py" <<'EOP'
import os, random, socket, struct, sys, time

def wait_file(path):
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise OSError("%s never appeared" % path)

def sock(fam):
    return socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET,
                         socket.SOCK_STREAM)

def connect(fam, peer, cport, s, port):
    c = sock(fam)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind((peer, int(cport)))
    c.settimeout(10)
    c.connect((s, int(port)))
    return c

def abort(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()

def recv_n(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise OSError("EOF after %d of %d bytes" % (len(b), n))
        b += d
    return b

def exchange(c, seed):
    """16 blocks of 8 KiB each way, every echo compared"""
    rng = random.Random(seed)
    for _ in range(16):
        blk = rng.randbytes(8192)
        c.sendall(blk)
        if recv_n(c, len(blk)) != blk:
            raise OSError("the echo differs")
    return 16 * 8192

# hold FAM PEER CPORT S PORT DIR: the first connection
# serve FAM S PORT: echo one connection
# client FAM PEER CPORT S PORT DIR release|move: the second one
mode, fam = sys.argv[1], sys.argv[2]
try:
    if mode == "hold":
        peer, cport, s, port, d = sys.argv[3:8]
        c = connect(fam, peer, cport, s, port)
        print("connected", flush=True)
        wait_file(d + "/c1-send")
        c.sendall(b"x" * 1000)
        print("sent", flush=True)
        wait_file(d + "/c1-abort")
        abort(c)
        print("aborted", flush=True)
    elif mode == "serve":
        s, port = sys.argv[3:5]
        l = sock(fam)
        l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        l.bind((s, int(port)))
        l.listen(1)
        print("listening", flush=True)
        c, addr = l.accept()
        l.close()
        print("accepted %s %d %d %d" % (addr[0], addr[1], os.getpid(),
                                        c.fileno()), flush=True)
        n = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
            n += len(d)
        c.close()
        print("served %d" % n, flush=True)
    else:
        peer, cport, s, port, d, how = sys.argv[3:9]
        c = connect(fam, peer, cport, s, port)
        n = exchange(c, 1)
        print("phase1 ok %d" % n, flush=True)
        wait_file(d + "/c2-go")
        if how == "move":
            # b's holder does not read: the bytes wait in its socket
            c.sendall(b"y" * 1000)
            print("sent 1000", flush=True)
            wait_file(d + "/c2-abort")
            abort(c)
            print("client ok: aborted", flush=True)
        else:
            n += exchange(c, 2)
            c.shutdown(socket.SHUT_WR)
            if c.recv(1):
                raise OSError("data after the echo")
            c.close()
            print("client ok sent=%d rcvd=%d" % (n, n), flush=True)
except OSError as e:
    print("%s FAIL: %s" % (mode, e), flush=True)
    sys.exit(1)
EOP

# gw_stale FAMILY: the set staleN; stale_empty: neither holds a tuple
gw_stale() { in_ns gw nft list set inet tcpcpd "stale$1" 2>/dev/null; }
stale_empty() { ! gw_stale 4 | grep -q elements && ! gw_stale 6 | grep -q elements; }
# gw_lacks TUPLE: no element of gw's table has it
gw_lacks() { ! in_ns gw nft list table inet tcpcpd | grep -qF "$1"; }
# conn_at HOST ADDR PORT CPORT: HOST's established socket of the tuple, as
# "Recv-Q Send-Q"
conn_at() {
	in_ns "$1" ss -Htn state established "( sport = :$3 and dport = :$4 )" |
		awk -v a="$2" 'index($3, a) { print $1, $2 }'
}
no_conn_at() { [ -z "$(conn_at "$@")" ]; }
# recvq_at HOST ADDR PORT CPORT N: N bytes wait unread in that socket
recvq_at() { local q; q=$(conn_at "$1" "$2" "$3" "$4"); [ "${q%% *}" = "$5" ]; }
# hold_at_b NAME PID FD DEST: tcpcp-move the socket to b, where a holder
# keeps it without reading (its pid in holder)
hold_at_b() {
	local out
	rm -f "$T/holder.pid"
	touch "$T/hold-b"
	out=$(in_ns a "$MOVE" -s "$T/a.sock" connection pid "$2" fd "$3" to "$4") ||
		die "$1: a -> b: $out"
	echo "$1: a -> b: $(echo "$out" | tail -n 1)"
	wait_for 10 test -s "$T/holder.pid" || die "$1: no holder at b"
	holder=$(cat "$T/holder.pid")
	pids+=("$holder")
	rm -f "$T/hold-b"
}

reuse_case() { # reuse_case FAMILY release|move
	local fam=$1 how=$2 name=v$1-reuse cport=$((47000 + $1)) port=$((PORT + 10 + $1))
	local s peer dest py hp c1 sp cp tuple q pid fd holder
	if [ "$fam" = 6 ]; then s=$S6 peer=fd00:7c::1 dest=fd00:7c:2::1
	else s=$S4 peer=198.18.0.1 dest=198.18.2.1; fi
	py="python3 $T/reuse.py"
	tuple="$peer . $cport . $s . $port"
	rm -f "$T"/c1-* "$T"/c2-*
	# the first connection: accepted at a, moved to b, held there
	ip netns exec "$NAME-a" "$APP" hold "$s" $port 0 0 "$T/report" > "$T/$name.app.out" &
	hp=$!
	pids+=("$hp")
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp hold"
	ip netns exec "$NAME-peer" $py hold "$fam" $peer $cport "$s" $port "$T" > "$T/$name.c1.out" 2>&1 &
	c1=$!
	pids+=("$c1")
	wait_for 10 grep -q ready "$T/$name.app.out" || die "$name: hold never ready"
	read -r _ pid fd < <(grep ready "$T/$name.app.out")
	hold_at_b $name "$pid" "$fd" $dest
	kill $hp # a's copy of the moved socket goes
	wait $hp 2>/dev/null
	has_elem$fam $name || die "$name: no element via b"
	# 1000 bytes of the peer reach b through the element
	touch "$T/c1-send"
	wait_for 10 recvq_at b "$s" $port $cport 1000 ||
		die "$name: the first connection's bytes did not reach b: $(conn_at b "$s" $port $cport)"
	# the peer aborts it; its reset is lost on the way
	in_ns peer nft -f - <<-EON || die "$name: drop rule at the peer"
		table inet tcpcp_reuse {
			chain out {
				type filter hook output priority 0; policy accept;
				tcp sport $cport tcp flags rst drop
			}
		}
	EON
	touch "$T/c1-abort"
	wait $c1 || die "$name: first connection: $(cat "$T/$name.c1.out")"
	in_ns peer nft delete table inet tcpcp_reuse
	port_free() { [ -z "$(in_ns peer ss -Htan "( sport = :$cport )")" ]; }
	wait_for 3 port_free ||
		die "$name: the peer's port is not free: $(in_ns peer ss -Htan "( sport = :$cport )")"
	# the origin discards its isolated endpoint a second after the commit
	wait_for 5 no_conn_at a "$s" $port $cport ||
		die "$name: a still has the first connection: $(conn_at a "$s" $port $cport)"
	q=$(conn_at b "$s" $port $cport)
	recvq_at b "$s" $port $cport 1000 || die "$name: b lost the first connection: '$q'"
	echo "$name: first connection aborted at the peer, still at b (Recv-Q ${q%% *}); gw:$(gw_map "$fam" | grep elements | tr -s ' \t' ' ')"
	if [ "$how" = move ]; then
		# b forgets it: a new daemon that does not watch it, the holder
		# closes it (unread bytes: a reset to the peer), no release
		stop_daemon b
		start_daemon b b "$BCONF"
		kill "$holder" 2>/dev/null
		wait_for 5 no_conn_at b "$s" $port $cport || die "$name: b still has the first connection"
		echo "$name: the first connection gone at b, unreleased"
	fi
	has_elem$fam $name >/dev/null || die "$name: the element went too early"
	# a new connection from the same port: served at a (the default route)
	ip netns exec "$NAME-a" $py serve "$fam" "$s" $port > "$T/$name.srv.out" 2>&1 &
	sp=$!
	pids+=("$sp")
	wait_for 5 grep -q listening "$T/$name.srv.out" || die "$name: echo server at a"
	ip netns exec "$NAME-peer" $py client "$fam" $peer $cport "$s" $port "$T" $how > "$T/$name.c2.out" 2>&1 &
	cp=$!
	pids+=("$cp")
	wait_for 15 grep -Eq "phase1 ok|FAIL" "$T/$name.c2.out"
	grep -q "phase1 ok" "$T/$name.c2.out" ||
		die "$name: the new connection from port $cport: $(cat "$T/$name.c2.out")"
	grep -q "^accepted $peer $cport " "$T/$name.srv.out" || die "$name: a did not accept it: $(cat "$T/$name.srv.out")"
	echo "$name: new connection from port $cport at a: $(head -n 1 "$T/$name.c2.out")"
	gw_stale "$fam" | grep -qF "$tuple" || { gw_stale "$fam"; die "$name: $tuple not in stale$fam"; }
	has_elem$fam $name >/dev/null || die "$name: the element went"
	echo "$name: gw: stale$fam:$(gw_stale "$fam" | grep elements | tr -s ' \t' ' ')"
	if [ "$how" = release ]; then
		recvq_at b "$s" $port $cport 1000 ||
			die "$name: the new connection reached b: '$(conn_at b "$s" $port $cport)'"
		# b's end of the first connection goes (unread bytes: a reset),
		# b releases it: the element and the stale tuple go together
		kill "$holder" 2>/dev/null
		wait_for 15 gw_lacks "$tuple" ||
			{ in_ns gw nft list ruleset; die "$name: element or stale tuple not released"; }
		echo "$name: released: the tuple is neither in conns$fam nor in stale$fam"
		# the new connection goes on at a
		touch "$T/c2-go"
		wait $cp || die "$name: the new connection: $(cat "$T/$name.c2.out")"
		wait $sp || die "$name: echo server: $(cat "$T/$name.srv.out")"
		echo "$name: $(tail -n 1 "$T/$name.c2.out"); a: $(tail -n 1 "$T/$name.srv.out")"
		[ "$(tail -n 1 "$T/$name.srv.out")" = "served 262144" ] || die "$name: a did not serve it all"
	else
		# a moves the new connection to b: its element replaces the old
		# one and takes the tuple out of stale6
		read -r _ _ _ pid fd < <(grep accepted "$T/$name.srv.out")
		hold_at_b $name "$pid" "$fd" $dest
		has_elem$fam $name >/dev/null || die "$name: no element via b after the second move"
		gw_stale "$fam" | grep -qF "$tuple" && die "$name: $tuple still in stale$fam"
		echo "$name: gw after the second move: stale$fam empty, conns$fam:$(gw_map "$fam" | grep elements | tr -s ' \t' ' ')"
		# its bytes now reach b
		touch "$T/c2-go"
		wait_for 10 recvq_at b "$s" $port $cport 1000 ||
			die "$name: the new connection's bytes did not reach b: '$(conn_at b "$s" $port $cport)'"
		echo "$name: the new connection's 1000 bytes at b"
		kill $sp 2>/dev/null
		touch "$T/c2-abort" # its reset goes to b, b releases it
		wait $cp || die "$name: the new connection: $(cat "$T/$name.c2.out")"
		echo "$name: $(tail -n 1 "$T/$name.c2.out")"
	fi
	released $name
	stale_empty || die "$name: stale sets not empty: $(gw_stale 4; gw_stale 6)"
}
reuse_case 4 release
reuse_case 6 move

# 7: SIGTERM of the gateway daemon with live entries of both modes
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

# 8, 9: address mode on a shared segment
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

echo "PASS: 9 cases"
