#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpcpd's lab test (tools/tcpcpd/tests/move.sh: moves through the daemons,
# roll-backs, tcpcp-move pid/fd, the gateway role) on the native backend:
# run inside the VM (selftests/vm/TESTS), where the kernel has TCP_ICI.
# Smaller streams than on the host (TCG is slow); the same checks.  Exit 4
# (skip) when the running kernel lacks TCP_ICI, move.sh's exit code
# otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 1
# make vm-check-debug: the lab's per-case time limits (20 s) do not fit the
# KASAN + lockdep kernel under TCG; the socket-option, native, cross and
# fuzz tests cover its kernel paths there
[ "${TCPCP_VM_DEBUG:-0}" = 1 ] && {
	echo "daemon-native: SKIP: too slow on the KASAN + lockdep kernel under TCG"
	exit 4
}
O=${O:-build}
export O
progs="tcpcpd tcpcpctl tcpcp-move tools/tcpcpd/tests/testapp selftests/peer selftests/pcapcheck"
for f in $progs; do
	[ -x "$O/$f" ] || { echo "daemon-native: SKIP: $O/$f not built"; exit 4; }
done
for t in tcpdump ip taskset; do
	command -v $t >/dev/null || { echo "daemon-native: SKIP: no $t"; exit 4; }
done
# The programs from a snapshot: the host's build/ is the guest's (9p), and
# a rebuild on the host during the run would change them under the test.
# A copy equal to its original a second later was not caught mid-write.
snap=$(mktemp -d /tmp/daemon-native-XXXXXX)
for try in 1 2 3 4 5; do
	ok=1
	for f in $progs; do
		cp "$O/$f" "$snap/" || ok=0
	done
	sleep 1
	for f in $progs; do
		cmp -s "$O/$f" "$snap/${f##*/}" || ok=0
	done
	[ $ok = 1 ] && break
done
[ $ok = 1 ] || { echo "daemon-native: FAIL: $O changes all the time"; exit 1; }
export TCPCPD=$snap/tcpcpd TCPCPCTL=$snap/tcpcpctl TCPCP_MOVE=$snap/tcpcp-move \
	TESTAPP=$snap/testapp PEER=$snap/peer PCAPCHECK=$snap/pcapcheck
export TCPCP_BACKEND=native
export TCPCPD_TEST_SIZE=${TCPCPD_TEST_SIZE:-2000000}
export TCPCPD_TEST_AFTER=${TCPCPD_TEST_AFTER:-500000}
export TCPCPD_TEST_CONC=${TCPCPD_TEST_CONC:-5}
# The cases where the backend matters most, to keep the VM run short under
# TCG (about 110 s of guest time, 3 min of wall time on a loaded 2-core
# host): moves to a handler (1, IPv4) and to a registered application (2,
# IPv6), roll-backs after the destination created its endpoint (3: the hook
# failed; 9: the destination killed), tcpcp-move pid/fd (6), the gateway
# role's per-connection rule (8).  Left out: 4 and 5 (roll-backs before the
# destination creates anything, at the origin as in 3), 7 (concurrent
# moves) and 10 (route mode), which differ from the others in the daemons,
# not in the backend.  All ten (about 150 s guest, 6.5 min wall):
# TCPCP_VM_APPEND=TCPCPD_TEST_CASES=all selftests/vm/run-vm.sh (the kernel
# hands unknown parameters to init as environment).
export TCPCPD_TEST_CASES=${TCPCPD_TEST_CASES:-1,2,3,6,8,9}
# a watchdog that shows what hangs, if anything does, before the VM's
# timeout ends it all
limit=${DAEMON_NATIVE_LIMIT:-540}	# selftests/vm/TESTS gives it 600
tools/tcpcpd/tests/move.sh "$@" &
mp=$!
(
	for ((i = 0; i < limit; i++)); do
		kill -0 $mp 2>/dev/null || exit 0
		sleep 1
	done
	echo "daemon-native: move.sh still runs after ${limit}s; processes, memory, logs:"
	ps -eo pid,ppid,stat,wchan:32,etime,args
	free -m
	for f in /tmp/tcpcpd-move-*/*.log /tmp/tcpcpd-move-*/report; do
		echo "----- $f (last 15 lines)"
		tail -n 15 "$f"
	done
	kill -TERM $mp
) &
wd=$!
wait $mp
rc=$?
kill $wd 2>/dev/null
wait $wd 2>/dev/null
rm -rf "$snap"
exit $rc
