#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The daemon path's benchmark: time per move through tcpcpd (testapp's
# ctl_move: dump, connect + HELLO, PREPARE, redirect by the gateway role's
# per-connection rule, commit, ACTIVATED) for 1 move at a time (ROUNDS runs
# of conc.sh with one connection) and for N moves at once (conc.sh with N
# connections, default 1000), p50 and p99; the largest stall the peer sees
# (pcapcheck's max_stall_ms over all captured connections); and, for the
# same counts, the library-only move (selftests/bench: tcpcp_dump /
# tcpcp_create_ex / tcpcp_activate_ex in one program, no daemons).
#
# Usage: bench.sh [N [ROUNDS]]   (not in make check: the 1,000 run takes
# about five minutes on two cores, most of it starting 2,000 processes and
# checking the capture)
set -u
cd "$(dirname "$0")/../../.." || exit 1
N=${1:-1000}
ROUNDS=${2:-10}
CONC=tools/tcpcpd/tests/conc.sh
LIBBENCH=${O:-build}/selftests/bench
T=$(mktemp -d /tmp/tcpcpd-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT

# pct FILE P: the P-th percentile of the numbers in FILE
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
	if (!NR) { print "-"; exit } i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; print v[i] }'; }
# times FILE: the total move time (activate=, µs: from the request, the
# wait in the daemon's queue included) of each "serve moved" line
times() { sed -n 's/.* activate=\([0-9]*\) us/\1/p' "$1"; }
# isolated FILE: from the end of the dump to ACTIVATED (µs): the time the
# connection is isolated, without the wait in the queue
isolated() { sed -n 's/.* dump=\([0-9]*\) .* activate=\([0-9]*\) us/\1 \2/p' "$1" |
	awk '{ print $2 - $1 }'; }
report() {
	local name=$1 f=$2 stalls=$3
	times "$f" > "$T/us"
	isolated "$f" > "$T/iso"
	printf '%-22s moves=%-5s total p50=%8s p99=%8s max=%8s us; isolated p50=%7s p99=%8s us; largest stall %s ms\n' \
		"$name" "$(wc -l < "$T/us")" "$(pct "$T/us" 50)" "$(pct "$T/us" 99)" \
		"$(pct "$T/us" 100)" "$(pct "$T/iso" 50)" "$(pct "$T/iso" 99)" \
		"$(sort -n "$stalls" | tail -1)"
}

: > "$T/one.times"
: > "$T/one.stalls"
for ((r = 1; r <= ROUNDS; r++)); do
	out=$(TCPCPD_TEST_CONC=1 TCPCPD_TEST_TIMES=$T/one.times "$CONC" 2>&1) ||
		{ echo "$out" | tail -20; echo "FAIL: round $r of one move"; exit 1; }
	echo "$out" | sed -n 's/.*largest stall at the peer \([0-9.]*\) ms.*/\1/p' >> "$T/one.stalls"
done
out=$(TCPCPD_TEST_CONC=$N TCPCPD_TEST_TIMES=$T/many.times TCPCPD_TEST_ALLOW_ROLLBACK=1 \
	"$CONC" 2>&1)
rc=$?
echo "$out" | grep "^conc: \|^PASS\|^FAIL" | grep -v "connection [0-9]*:"
echo "$out" | sed -n 's/.*largest stall at the peer \([0-9.]*\) ms.*/\1/p' > "$T/many.stalls"
echo
echo "tcpcpd daemon path (lab, one CPU, repair backend):"
report "1 move at a time" "$T/one.times" "$T/one.stalls"
report "$N moves at once" "$T/many.times" "$T/many.stalls"
[ "$rc" = 0 ] || echo "FAIL: the $N-connection run (above)"
if [ -x "$LIBBENCH" ]; then
	echo
	echo "library-only move, same lab ($LIBBENCH 1 $N):"
	"$LIBBENCH" 1 "$N" 2>&1 | tail -n 40
fi
exit $rc
