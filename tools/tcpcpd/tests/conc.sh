#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Many connections moved a -> b at the same time through tcpcpd, each
# redirected by its own policy rule that the gateway role of a tcpcpd on gw
# adds with libnl.  N (TCPCPD_TEST_CONC, default 100; the bench runs 1000)
# testapp servers in a each stream with their own lab peer client and hand
# their socket to tcpcpd in a when MOVE_AFTER bytes went each way; the
# handler at b finishes both streams.  Checks: every peer's streams byte for
# byte, every connection moved exactly once and complete at b, the peer's
# capture of every connection (pcapcheck), the daemons' counters, and the
# gateway's rules: one per connection, removed when the daemon stops.
#
# TCPCPD_TEST_TIMES=FILE appends the per-move phase times (testapp's
# "serve moved" lines) to FILE, for the bench.
#
# Exit 0 pass, 1 fail, 4 skip (with the reason on the last line).
set -u

if [ -z "${TCPCPD_TEST_PINNED:-}" ] && command -v taskset >/dev/null; then
	TCPCPD_TEST_PINNED=1 exec taskset -c 0 "$0" "$@"
fi

cd "$(dirname "$0")/../../.." || exit 1
ROOT=$PWD
O=${O:-build}
LAB=$ROOT/selftests/lab/lab.sh
TCPCPD=${TCPCPD:-$ROOT/$O/tcpcpd}
CTL=$ROOT/$O/tcpcpctl
APP=$ROOT/$O/tools/tcpcpd/tests/testapp
PEER=$ROOT/$O/selftests/peer
PCAPCHECK=$ROOT/$O/selftests/pcapcheck
S4=198.18.100.1
PORT=6000
N=${TCPCPD_TEST_CONC:-100}
SIZE=${TCPCPD_TEST_SIZE:-60000}
AFTER=${TCPCPD_TEST_AFTER:-20000}
RATE=${TCPCPD_TEST_RATE:-40k}

skip() { echo "SKIP: $*"; exit 4; }
[ "$(id -u)" = 0 ] || skip "needs root"
for f in "$LAB" "$TCPCPD" "$CTL" "$APP" "$PEER" "$PCAPCHECK"; do
	[ -x "$f" ] || skip "$f is missing (make check builds it)"
done
command -v tcpdump >/dev/null || skip "tcpdump is missing"

NAME=tcpcp-$$-c
T=$(mktemp -d /tmp/tcpcpd-conc-XXXXXX)
chmod 755 "$T"
pids=()
dpids=()
fail=0

cleanup() {
	local p rc
	for p in "${pids[@]+"${pids[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${dpids[@]+"${dpids[@]}"}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p"
		rc=$?
		[ "$rc" = 0 ] || { echo "FAIL: tcpcpd pid $p exited with $rc after SIGTERM"; fail=1; }
	done
	wait 2>/dev/null
	"$LAB" down "$NAME"
	if [ "$fail" != 0 ]; then
		for f in "$T"/*.log; do
			echo "----- $f (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	[ -n "${TCPCPD_TEST_KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
	[ "$fail" = 0 ] || exit 1
}
trap cleanup EXIT
trap "exit 1" INT TERM HUP PIPE

in_ns() { local h=$1; shift; ip netns exec "$NAME-$h" "$@"; }
die() { echo "FAIL: $*"; fail=1; exit 1; }
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
counter() { "$CTL" -s "$T/$1.sock" status | awk -v k="$2" '$1 == k { print $2 }'; }
t_start=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $t_start" | awk '{ printf "%.1f s", $1 - $2 }'; }

"$LAB" up "$NAME" || die "lab up"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/key"
chmod 600 "$T/key"
printf '#!/bin/sh\nexec %s handle %s/report\n' "$APP" "$T" > "$T/handler.sh"
chmod 755 "$T/handler.sh"
for h in a b gw; do
	cat > "$T/$h.conf" <<EOC
name = $h
listen = *
key_file = $T/key
socket = $T/$h.sock
pid_file = $T/$h.pid
log_level = info
hold_timeout = 30000
prepare_timeout = 20000
redirect_timeout = 20000
commit_timeout = 20000
hello_timeout = 20000
EOC
done
printf 'gateway = 198.18.1.254\nredirect_mode = rule\n' >> "$T/a.conf"
printf 'handler = %s\n' "$T/handler.sh" >> "$T/b.conf"
printf 'gateway_role = yes\n' >> "$T/gw.conf"
for h in a b gw; do
	ip netns exec "$NAME-$h" "$TCPCPD" -c "$T/$h.conf" -f 2> "$T/$h.log" &
	dpids+=($!)
	[ $h = gw ] && gpid=$!
done
wait_for 5 test -S "$T/a.sock" -a -S "$T/b.sock" -a -S "$T/gw.sock" || die "daemons did not start"

: > "$T/report"
ip netns exec "$NAME-peer" tcpdump -i eth0 -s 0 -B 65536 -U -n -w "$T/conc.pcap" tcp 2> "$T/tcpdump.log" &
tp=$!
pids+=($tp)
wait_for 5 grep -q "listening on" "$T/tcpdump.log" || die "tcpdump"

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
wait_for 30 listening || die "servers not listening"
echo "conc: $N servers listening ($(elapsed))"
in_ns peer bash -c 'for ((i = 1; i <= '"$N"'; i++)); do
	{ "$0" -c '"$S4"' -p $(('"$PORT"' + i)) --send '"$SIZE"' --recv '"$SIZE"' \
		--seed-tx 2222 --seed-rx 1111 --rate '"$RATE"' --expect-eof --timeout 120 \
		> "$1/peer.$i.out" 2>&1; echo "$i $?" >> "$1/peer.rc"; } &
done; wait' "$PEER" "$T"
wait $apps
echo "conc: all $N peers done ($(elapsed))"
ok=$(awk '$2 == 0' "$T/peer.rc" | wc -l)
[ "$ok" = "$N" ] || { grep -v " 0$" "$T/peer.rc" | head; die "$((N - ok)) peers failed"; }
done_n() { [ "$(grep -Ec '^handle (ok|FAIL)' "$T/report")" -ge "$N" ]; }
wait_for 60 done_n
sleep 0.5
kill -TERM $tp; wait $tp 2>/dev/null
moved=$(grep -c '^serve moved' "$T/report")
complete=$(grep -c "^handle ok tx=$SIZE rx=$SIZE moves=1\$" "$T/report")
echo "conc: $moved of $N moved at once, $complete complete at b," \
	"$(grep -c 'peer: sent=' "$T"/peer.*.out | awk -F: '{ s += $2 } END { print s }') peers ok"
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

# the capture of every connection, in one pass per connection over a
# capture cut down to that connection's port
bad=0
stall=0
for ((i = 1; i <= N; i++)); do
	out=$("$PCAPCHECK" --server "$S4:$((PORT + i))" --server-fin --client-fin "$T/conc.pcap" 2>&1) ||
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
