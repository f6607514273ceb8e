#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Many connections moved a -> b at the same time through tcpcpd, each
# redirected by its own policy rule that the gateway role of a tcpcpd on gw
# adds with libnl.  N (TCPCPD_TEST_CONC, default 100; the bench and
# "TCPCPD_TEST_CONC=1000 conc.sh" run 1000) testapp servers in a each
# stream with their own lab peer client and hand their socket to tcpcpd in
# a when MOVE_AFTER bytes went each way; the handler at b finishes both
# streams.  The origin daemon is stopped while the peers start, so that the
# N requests reach it at once (see GATE below), and it moves them at most
# max_inflight at a time, the others queued.  Checks: every peer's streams
# byte for byte, every connection moved exactly once and complete at b, the
# peer's capture of every connection (pcapcheck, on the capture cut into one
# file per connection), the daemons' counters, and the gateway's rules: one
# per connection, removed when the daemon stops.
#
# The whole lab runs on one CPU (see move.sh), where the 2N test programs
# (each peer wakes 100 times a second to pace its stream) compete with the
# daemons: the daemons run at nice TCPCPD_TEST_NICE (default -10), as a
# daemon whose latency is its connections' stall should.
#
# TCPCPD_TEST_TIMES=FILE appends the per-move phase times (testapp's
# "serve moved" lines) to FILE, for the bench.
#
# Exit 0 pass, 1 fail, 4 skip (with the reason on the last line).
set -u

# pins the lab to one CPU, sets ROOT, LAB, TCPCPD, CTL, APP, PEER,
# PCAPCHECK, NAME, T; skip, die, wait_for, counter...
TL_TAG=c TL_TMP=tcpcpd-conc TL_NEED="LAB TCPCPD CTL APP PEER PCAPCHECK" \
	. "$(dirname "$0")/lib.sh"
PORT=6000
N=${TCPCPD_TEST_CONC:-100}
SIZE=${TCPCPD_TEST_SIZE:-60000}
AFTER=${TCPCPD_TEST_AFTER:-20000}
RATE=${TCPCPD_TEST_RATE:-40k}
NICE=${TCPCPD_TEST_NICE:--10}
GATE=${TCPCPD_TEST_GATE:-5}
adpid=""
# the origin daemon may be stopped (SIGSTOP, below) when the test ends
tl_cleanup_hook() { [ -z "$adpid" ] || kill -CONT "$adpid" 2>/dev/null; }

# split_pcap FILE DIR: DIR/PORT.pcap for each service port PORT+1..PORT+N,
# the packets in capture order (Ethernet, IPv4 or IPv6, TCP)
split_pcap() {
	mkdir -p "$2" && python3 - "$1" "$2" "$PORT" "$N" <<'EOP'
import struct, sys
src, out, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = open(src, 'rb').read()
magic = data[:4]
e = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
head, off, per = data[:24], 24, {}
while off + 16 <= len(data):
    incl = struct.unpack(e + 'I', data[off + 8:off + 12])[0]
    rec = data[off:off + 16 + incl]
    pkt = rec[16:]
    off += 16 + incl
    et = struct.unpack('>H', pkt[12:14])[0] if len(pkt) >= 14 else 0
    if et == 0x0800 and len(pkt) >= 34 and pkt[23] == 6:
        t = 14 + (pkt[14] & 15) * 4
    elif et == 0x86dd and len(pkt) >= 54 and pkt[20] == 6:
        t = 54
    else:
        continue
    if len(pkt) < t + 4:
        continue
    sp, dp = struct.unpack('>HH', pkt[t:t + 4])
    for p in (sp, dp):
        if base < p <= base + n:
            per.setdefault(p, []).append(rec)
            break
for p in range(base + 1, base + n + 1):
    with open('%s/%d.pcap' % (out, p), 'wb') as f:
        f.write(head)
        f.writelines(per.get(p, []))
EOP
}
t_start=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $t_start" | awk '{ printf "%.1f s", $1 - $2 }'; }

"$LAB" up "$NAME" || die "lab up"
tl_key "$T/key"
# the handler runs at the test's priority, not the daemon's
printf '#!/bin/sh\nexec nice -n %d %s handle %s/report\n' $((-NICE)) "$APP" "$T" > "$T/handler.sh"
chmod 755 "$T/handler.sh"
common=("log_level = ${TCPCPD_TEST_LOG:-info}" "hold_timeout = 30000" "prepare_timeout = 10000"
	"redirect_timeout = 10000" "commit_timeout = 15000" "hello_timeout = 20000")
tl_conf a "${common[@]}" "gateway = 198.18.1.254" "redirect_mode = rule" > "$T/a.conf"
tl_conf b "${common[@]}" "handler = $T/handler.sh" > "$T/b.conf"
tl_conf gw "${common[@]}" "gateway_role = yes" > "$T/gw.conf"
for h in a b gw; do
	TL_DWRAP="nice -n $NICE" tl_daemon $h $h
	[ $h = gw ] && gpid=$tl_pid
	[ $h = a ] && adpid=$tl_pid
done
tl_wait_daemons a b gw

: > "$T/report"
TL_CAPBUF=65536 tl_capture_start "$T/conc.pcap"
tp=$tl_pid

# N servers from one shell in a, N clients from one shell in peer
ip netns exec "$NAME-a" bash -c 'trap "kill 0" TERM; for ((i = 1; i <= '"$N"'; i++)); do
	"$0" serve '"$S4"' $(('"$PORT"' + i)) "$1"/a.sock 198.18.2.1 '"$AFTER $SIZE $SIZE"' \
		"$1"/report > /dev/null &
done; wait' "$APP" "$T" &
pids+=($!)
apps=$!
listening() {
	[ "$(in_ns a ss -Hltn | awk -v p=$PORT -v n=$N '{ sub(/.*:/, "", $4) } $4 > p && $4 <= p + n' | wc -l)" = "$N" ]
}
wait_for 120 listening || die "servers not listening"
echo "conc: $N servers listening ($(elapsed))"
# All moves at once, however slowly the peers start: the origin daemon is
# stopped (SIGSTOP) while the peers start and the servers hand over their
# sockets; it goes on when all N requests wait in its socket's backlog, or
# GATE seconds after the first one.  Each client waits 60 s for its result:
# GATE + the daemon's queue_timeout (20 s) + the move's timeouts (35 s).
pending() { in_ns a ss -xlH | awk -v p="$T/a.sock" '$5 == p { print $3 }'; }
[ "$N" -gt 1 ] && kill -STOP "$adpid"
in_ns peer bash -c 'for ((i = 1; i <= '"$N"'; i++)); do
	{ "$0" -c '"$S4"' -p $(('"$PORT"' + i)) --send '"$SIZE"' --recv '"$SIZE"' \
		--seed-tx 2222 --seed-rx 1111 --rate '"$RATE"' --expect-eof --timeout 300 \
		> "$1/peer.$i.out" 2>&1; echo "$i $?" >> "$1/peer.rc"; } &
done; wait' "$PEER" "$T" &
peers=$!
pids+=($peers)
first=
for ((i = 0; i < 3000 && N > 1; i++)); do
	p=$(pending)
	[ "${p:-0}" -ge "$N" ] && break
	[ -z "$first" ] && [ "${p:-0}" -gt 0 ] && first=$SECONDS
	[ -n "$first" ] && [ $((SECONDS - first)) -ge "$GATE" ] && break
	sleep 0.1
done
if [ "$N" -gt 1 ]; then
	kill -CONT "$adpid"
	echo "conc: ${p:-0} move requests released at once ($(elapsed))"
fi
wait $peers
wait $apps
echo "conc: all $N peers done ($(elapsed))"
ok=$(awk '$2 == 0' "$T/peer.rc" | wc -l)
[ "$ok" = "$N" ] || { grep -v " 0$" "$T/peer.rc" | head; die "$((N - ok)) peers failed"; }
done_n() { [ "$(grep -Ec '^handle (ok|FAIL)' "$T/report")" -ge "$N" ]; }
wait_for 60 done_n
tl_capture_stop $tp "$T/conc.pcap"
moved=$(grep -c '^serve moved' "$T/report")
complete=$(grep -c "^handle ok tx=$SIZE rx=$SIZE moves=1\$" "$T/report")
echo "conc: $moved of $N moved at once, $complete complete at b," \
	"$(grep -h 'peer: sent=' "$T"/peer.*.out | wc -l) peers ok"
[ -n "${TCPCPD_TEST_TIMES:-}" ] && grep '^serve moved' "$T/report" >> "$TCPCPD_TEST_TIMES"
stayed=$(grep -c "^serve ok tx=$SIZE rx=$SIZE moves=0\$" "$T/report")
if [ -n "${TCPCPD_TEST_ALLOW_ROLLBACK:-}" ]; then
	# the bench under overload: a move may roll back, but every connection
	# must be complete on exactly one host
	echo "conc: $stayed rolled back and complete at a"
	grep '^serve move refused' "$T/report" | sort | uniq -c | sed 's/^/conc: /'
	[ $((complete + stayed)) = "$N" ] || die "$((N - complete - stayed)) connections incomplete"
else
	[ "$moved" = "$N" ] || { grep -v "^serve moved\|^handle ok" "$T/report" | head; die "not all moved"; }
	[ "$complete" = "$N" ] || { grep -v "^serve moved\|^handle ok" "$T/report" | head; die "not all complete at b"; }
	[ "$(counter a moves_out_ok)" = "$N" ] || die "a: moves_out_ok $(counter a moves_out_ok)"
	[ "$(counter b moves_in_ok)" = "$N" ] || die "b: moves_in_ok $(counter b moves_in_ok)"
	[ "$(counter b endpoints_created)" = "$N" ] || die "b: endpoints_created"
fi

# the capture of every connection: cut into one file per service port in
# one pass (split_pcap), then pcapcheck on each
split_pcap "$T/conc.pcap" "$T/cap" || die "cannot split the capture"
bad=0
stall=0
for ((i = 1; i <= N; i++)); do
	out=$("$PCAPCHECK" --server "$S4:$((PORT + i))" --server-fin --client-fin \
		"$T/cap/$((PORT + i)).pcap" 2>&1) ||
		{ echo "conc: connection $i: $out"; bad=$((bad + 1)); }
	stall=$(echo "$out" | sed -n 's/.*max_stall_ms=\([0-9.]*\).*/\1/p' |
		awk -v s=$stall '{ print ($1 > s ? $1 : s) }')
done
echo "conc: $N captures checked, $bad bad, largest stall at the peer $stall ms ($(elapsed))"
[ "$bad" = 0 ] || die "captures at the peer"
rules=$(ip -n "$NAME-gw" rule show | grep -c "to $S4 ipproto tcp")
echo "conc: $rules per-connection rules on gw"
# one rule per connection that lives at b (a move may commit and miss its
# confirmation under overload: it counts in complete, not in moved)
[ "$rules" = "$complete" ] || die "rules on gw: $rules, not $complete"
kill -TERM $gpid
wait_for 10 sh -c "! kill -0 $gpid" || die "gateway daemon did not stop"
[ "$(ip -n "$NAME-gw" rule show | grep -c "to $S4 ipproto tcp")" = 0 ] || die "rules left on gw"
echo "PASS: $N connections at once, $complete moved to b, $stayed rolled back to a ($(elapsed))"
