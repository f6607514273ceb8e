#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Faults during moves through tcpcpd in the namespace lab.  testapp serves a
# connection in host a and hands it to tcpcpd in a for tcpcpd in b, as in
# move.sh; each case injects one fault.  The daemons die at a protocol step
# by TCPCPD_FAULT (the daemon raises SIGKILL on itself there, the same as
# being killed at that step, but never early or late):
#   1 die-on-prepare      destination killed on PREPARE: roll back at a
#   2 die-after-create    destination killed with the endpoint created,
#                         before PREPARED: roll back at a
#   3 lose-commit         the origin's connection breaks as it sends COMMIT:
#                         the origin connects again and resends it, the
#                         destination activates its held endpoint once
#   4 die-after-commit    origin killed right after COMMIT: the move
#                         completes at b
#   5 die-after-activate  destination killed after it activated and
#                         delivered, before ACTIVATED: the connection goes
#                         on at b, the origin reports the unknown outcome
#   8 die-on-commit       destination killed when COMMIT arrives, before
#                         it promised to activate (COMMITTED): the origin
#                         sees its connection end cleanly without the
#                         promise, undoes the redirect and unisolates its
#                         endpoint: the connection goes on at a, and the
#                         peer never sees b's reset
#   6 corrupt             the PREPARE frame is corrupted in transit (nft on
#                         gw rewrites a byte): the destination drops it (MAC),
#                         creates nothing, the move rolls back at a
#   7 unreachable         gw drops all daemon traffic to b: time out, roll
#                         back at a
# Each case checks both byte streams, the peer's capture (pcapcheck: no RST,
# no SYN, nothing going backwards), that the connection lives on exactly one
# host, and the daemons' logs and counters.
#
# Exit 0 pass, 1 fail, 4 skip (with the reason on the last line).
set -u

# pins the lab to one CPU, sets ROOT, LAB, TCPCPD, CTL, APP, PEER,
# PCAPCHECK, NAME, T; skip, die, wait_for, counter, check_capture...
TL_TAG=f TL_TMP=tcpcpd-faults TL_NEED="LAB TCPCPD CTL APP PEER PCAPCHECK" \
	. "$(dirname "$0")/lib.sh"
command -v nft >/dev/null || skip "nft is missing"
PORT=5000
SIZE=${TCPCPD_TEST_SIZE:-2000000}
AFTER=${TCPCPD_TEST_AFTER:-500000}
apid="" bpid=""

# stop_daemons: SIGTERM must end a live daemon with 0; one that killed
# itself by an injected fault ends with 137
stop_daemons() {
	local h p rc
	for h in a b; do
		[ $h = a ] && p=$apid || p=$bpid
		[ -n "$p" ] || continue
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
		rc=$?
		if [ "$rc" != 0 ] && ! grep -q "fault injected: .*\(die\|killed\)" "$T/$h.log"; then
			echo "FAIL: tcpcpd $h (pid $p) exited with $rc"
			fail=1
		fi
	done
	apid="" bpid=""
}

# start_daemons FAULT_A FAULT_B: fresh daemons in a and b
start_daemons() {
	stop_daemons
	rm -f "$T"/a.sock "$T"/b.sock
	TL_UNTRACKED=1 TL_DENV="TCPCPD_FAULT=$1" tl_daemon a a
	apid=$tl_pid
	TL_UNTRACKED=1 TL_DENV="TCPCPD_FAULT=$2" tl_daemon b b
	bpid=$tl_pid
	tl_wait_daemons a b
}
tl_cleanup_hook() { stop_daemons; }

"$LAB" up "$NAME" || die "lab up"
tl_key "$T/key"
cat > "$T/hook.sh" <<EOH
#!/bin/sh
echo "\$1" >> $T/hook.log
case \$1 in
redirect) exec $LAB route $NAME b ;;
undo) exec $LAB route $NAME a ;;
esac
exit 2
EOH
cat > "$T/handler.sh" <<EOH
#!/bin/sh
exec $APP handle $T/report
EOH
chmod 755 "$T/hook.sh" "$T/handler.sh"
for h in a b; do
	tl_conf $h "hook = $T/hook.sh" "handler = $T/handler.sh" "hold_timeout = 8000" \
		"prepare_timeout = 2000" "commit_timeout = 3000" > "$T/$h.conf"
done

# run_case NAME FAULT_A FAULT_B EXPECT: EXPECT is moved, moved-unknown
# (b has it, a's report does not matter), moved-unconfirmed (b has it, a
# says committed but not confirmed) or rolledback
run_case() {
	local name=$1 expect=$4 tp ap out rc
	"$LAB" route "$NAME" a
	start_daemons "$2" "$3"
	: > "$T/report"
	: > "$T/hook.log"
	tl_capture_start "$T/$name.pcap"
	tp=$tl_pid
	in_ns a "$APP" serve $S4 $PORT "$T/a.sock" 198.18.2.1 "$AFTER" "$SIZE" "$SIZE" \
		"$T/report" > "$T/$name.app.out" &
	ap=$!
	pids+=($ap)
	wait_for 5 grep -q listening "$T/$name.app.out" || die "$name: testapp"
	out=$(in_ns peer "$PEER" -c $S4 -p $PORT --send "$SIZE" --recv "$SIZE" \
		--seed-tx 2222 --seed-rx 1111 --rate 4M --expect-eof --timeout 60)
	rc=$?
	echo "$name: peer: $out"
	wait $ap
	[ "$rc" = 0 ] || die "$name: peer: $out"
	[ "$expect" != rolledback ] && wait_for 20 grep -Eq "^handle (ok|FAIL)" "$T/report"
	tl_capture_stop $tp "$T/$name.pcap"
	sed "s/^/$name: /" "$T/report"
	case $expect in
	moved)
		grep -q "^serve moved" "$T/report" || die "$name: not moved"
		;;
	moved-unconfirmed)
		grep -q "^serve move refused: .* committed=1" "$T/report" ||
			die "$name: the origin did not report a committed, unconfirmed move"
		;;
	rolledback)
		grep -q "^serve move refused" "$T/report" || die "$name: move not refused"
		grep -q "^serve ok tx=$SIZE rx=$SIZE moves=0" "$T/report" ||
			die "$name: streams not complete at a after the roll-back"
		! grep -q "^handle" "$T/report" || die "$name: a handler ran at b"
		;;
	esac
	if [ "$expect" != rolledback ]; then
		grep -q "^handle ok tx=$SIZE rx=$SIZE moves=1" "$T/report" ||
			die "$name: streams not complete at b"
		! grep -q "^serve ok" "$T/report" || die "$name: finished at a too"
	fi
	check_capture $name 4
}

# 1, 2: the destination dies before it answers PREPARE
run_case die-on-prepare "" die-on-prepare rolledback
grep -q "fault injected: die-on-prepare" "$T/b.log" || die "die-on-prepare: not injected"
run_case die-after-create "" die-after-create rolledback
grep -q "fault injected: die-after-create" "$T/b.log" || die "die-after-create: not injected"
[ ! -s "$T/hook.log" ] || die "die-after-create: the hook ran"

# 3: COMMIT lost once: sent again on a new connection, activated once
run_case lose-commit lose-commit "" moved
grep -q "COMMIT sent again" "$T/a.log" || die "lose-commit: not resent"
grep -q "COMMIT from .* on a new connection" "$T/b.log" || die "lose-commit: b did not take it"
[ "$(counter b moves_in_ok)" = 1 ] && [ "$(counter b endpoints_created)" = 1 ] ||
	die "lose-commit: b's counters"
[ "$(counter a moves_out_ok)" = 1 ] || die "lose-commit: a's counters"

# 4: the origin dies right after COMMIT: b goes on
run_case die-after-commit die-after-commit "" moved-unknown
grep -q "activated and delivered" "$T/b.log" || die "die-after-commit: b did not activate"

# 5: the destination dies after activation, before ACTIVATED: the
# connection is at b; a resends COMMIT, gets no answer, and says so
run_case die-after-activate "" die-after-activate moved-unconfirmed
grep -q "connecting to .* again to resend COMMIT" "$T/a.log" || die "die-after-activate: no resend"

# 8: the destination dies between COMMIT and activation: a rolls back
# after the commit request, undoes the redirect, and keeps the connection
run_case die-on-commit "" die-on-commit rolledback
grep -q "fault injected: die-on-commit" "$T/b.log" || die "die-on-commit: not injected"
grep -q "destination lost before it promised to activate" "$T/a.log" ||
	die "die-on-commit: a did not roll back after COMMIT"
grep -q "^serve move refused: .* in activate committed=0" "$T/report" ||
	die "die-on-commit: the origin's report"
[ "$(grep -c . "$T/hook.log")" = 2 ] && grep -q "^undo" "$T/hook.log" ||
	die "die-on-commit: the redirect was not undone: $(cat "$T/hook.log")"

# 6: a byte of the PREPARE frame changed on its way through gw
nft_gw() { in_ns gw nft -f - ; }
nft_gw <<EON
table inet tcpcpfault {
	chain fw {
		type filter hook forward priority 0;
		ip daddr 198.18.2.1 tcp dport 7727 meta length > 300 @ih,1600,8 set 0x5a counter
	}
}
EON
run_case corrupt "" "" rolledback
in_ns gw nft list table inet tcpcpfault | grep -q "counter packets [1-9]" ||
	die "corrupt: no packet corrupted"
grep -q "authentication failed: bad MAC" "$T/b.log" || die "corrupt: b did not log the bad MAC"
[ "$(counter b endpoints_created)" = 0 ] || die "corrupt: b created an endpoint"
[ "$(counter b auth_failures)" = 1 ] || die "corrupt: b's auth_failures"
in_ns gw nft delete table inet tcpcpfault

# 7: b unreachable: every packet to its daemon dropped on gw
nft_gw <<EON
table inet tcpcpfault {
	chain fw {
		type filter hook forward priority 0;
		ip daddr 198.18.2.1 tcp dport 7727 counter drop
	}
}
EON
run_case unreachable "" "" rolledback
grep -q "in connect" "$T/report" || die "unreachable: not rolled back in connect"
[ "$(counter b endpoints_created)" = 0 ] || die "unreachable: b created an endpoint"
in_ns gw nft delete table inet tcpcpfault

echo "PASS: 8 cases"
