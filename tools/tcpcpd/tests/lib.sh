# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# What the daemon lab tests share: the namespace lab (selftests/lab/lab.sh),
# the programs, tcpcpd daemons with one key, the capture at the peer and its
# check, clean-up.  A test sources it first thing:
#
#	TL_TAG=d TL_TMP=tcpcpd-move . "$(dirname "$0")/lib.sh"
#
# Sourcing it
#   - runs the script again on one CPU (taskset -c 0) unless TL_PIN=0: veth
#     hands packets to the sending CPU's backlog, so ACKs sent from two
#     CPUs can overtake each other on the way to the peer, and pcapcheck
#     would see the server's ACK "go back";
#   - goes to the repository root and sets ROOT, O, LAB, TCPCPD, CTL, MOVE,
#     APP (testapp), PEER, PCAPCHECK, S4, S6;
#   - skips (exit 4) without root, without a program it needs (TL_NEED, a
#     list of the variable names above, default all of them; tl_need for
#     a test's own) or tcpdump (unless TL_TCPDUMP=0);
#   - sets NAME (lab name tcpcp-PID-TL_TAG), T (a fresh directory
#     /tmp/TL_TMP-XXXXXX), pids (processes killed at the end), dpids
#     (daemons that must exit 0 on SIGTERM at the end; tl_what[PID] names
#     one that is not a tcpcpd), fail, and installs
#     the EXIT trap that cleans up (tl_cleanup: also the last TL_TAIL (30)
#     lines of the logs on a failure; TL_KEEP, by default
#     TCPCPD_TEST_KEEP: 1 keeps T, fail keeps it on a failure).
# It does not bring the lab up: "$LAB" up "$NAME" || die "lab up";
# tl_leaf adds a host to it.
#
# Exit status of a test: 0 pass, 1 fail, 4 skip (the reason on the last line).

# TCPCPD_TEST_PINNED: the name move.sh, faults.sh and conc.sh used before
if [ "${TL_PIN:-1}" != 0 ] && [ -z "${TCPCPD_TEST_PINNED:-}" ] &&
	command -v taskset >/dev/null; then
	TCPCPD_TEST_PINNED=1 exec taskset -c 0 "$0" "$@"
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1
ROOT=$PWD
O=${O:-build}
LAB=$ROOT/selftests/lab/lab.sh
TCPCPD=${TCPCPD:-$ROOT/$O/tcpcpd}
CTL=${TCPCPCTL:-$ROOT/$O/tcpcpctl}
# shellcheck disable=SC2034	# for the tests that source this
MOVE=${TCPCP_MOVE:-$ROOT/$O/tcpcp-move}
# shellcheck disable=SC2034
APP=${TESTAPP:-$ROOT/$O/tools/tcpcpd/tests/testapp}
PEER=${PEER:-$ROOT/$O/selftests/peer}
PCAPCHECK=${PCAPCHECK:-$ROOT/$O/selftests/pcapcheck}
S4=198.18.100.1
S6=fd00:7c:100::1

skip() { echo "SKIP: $*"; exit 4; }
die() { echo "FAIL: $*"; fail=1; exit 1; }
in_ns() { local h=$1; shift; ip netns exec "$NAME-$h" "$@"; }

# wait_for SECONDS CMD...: poll a condition every 50 ms, never a bare sleep
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do
		"$@" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# what the end does (TL_ variables given to "." last only while it runs)
tl_tail=${TL_TAIL:-30}
tl_keep=${TL_KEEP-${TCPCPD_TEST_KEEP:-}}
tl_hint=${TL_HINT:-make check builds it}

# tl_need VAR...: skip unless each variable names an executable file (the
# hint in the reason: TL_HINT)
tl_need() {
	local v
	for v in "$@"; do
		[ -x "${!v}" ] || skip "${!v} is missing ($tl_hint)"
	done
}

[ "$(id -u)" = 0 ] || skip "needs root"
# shellcheck disable=SC2086
tl_need ${TL_NEED:-LAB TCPCPD CTL MOVE APP PEER PCAPCHECK}
[ "${TL_TCPDUMP:-1}" = 0 ] || command -v tcpdump >/dev/null || skip "tcpdump is missing"

NAME=tcpcp-$$-${TL_TAG:-t}
T=$(mktemp -d "/tmp/${TL_TMP:-tcpcpd-test}-XXXXXX")
chmod 755 "$T"
pids=()
dpids=()
declare -A tl_what=()	# a pid in dpids -> what it is, when not tcpcpd
tl_leaves=()
fail=0

# tl_cleanup: the EXIT trap.  A script with more to undo defines
# tl_cleanup_hook, called first.
tl_cleanup() {
	local p rc f
	declare -F tl_cleanup_hook >/dev/null && tl_cleanup_hook
	for p in "${pids[@]+"${pids[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	# a clean shutdown is part of the test (and shows sanitizer reports)
	for p in "${dpids[@]+"${dpids[@]}"}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p"
		rc=$?
		if [ "$rc" != 0 ]; then
			echo "FAIL: ${tl_what[$p]:-tcpcpd} pid $p exited with $rc after SIGTERM"
			fail=1
		fi
	done
	wait 2>/dev/null
	for f in "${tl_leaves[@]+"${tl_leaves[@]}"}"; do
		ip netns del "$f" 2>/dev/null
	done
	"$LAB" down "$NAME"
	if [ "$fail" != 0 ]; then
		for f in "$T"/*.log "$T"/report; do
			[ -e "$f" ] || continue
			echo "----- $f (last $tl_tail lines)"
			tail -n "$tl_tail" "$f"
		done
	fi
	case $tl_keep:$fail in
	:* | fail:0) rm -rf "$T" ;;
	*) echo "kept $T" ;;
	esac
	[ "$fail" = 0 ] || exit 1
}
trap tl_cleanup EXIT
trap "exit 1" INT TERM HUP PIPE

# tl_leaf HOST N: one more host NAME-HOST in the lab (after "$LAB" up),
# set up as lab.sh sets up a and b: its eth0 on a veth to gw's HOST0,
# 198.18.N.1/24 and fd00:7c:N::1/64, gw at .254 and ::fe its default
# route, S on its lo; rp_filter off.  Deleted at the end.
tl_leaf() {
	local h=$1 n=$2 ns=$NAME-$1 gw=$NAME-gw
	tl_leaves+=("$ns")
	ip netns add "$ns" || die "tl_leaf: netns $ns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.lo.rp_filter=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$ns" link add eth0 type veth peer name "${h}0" netns "$gw" ||
		die "tl_leaf: veth $ns - $gw"
	ip -n "$ns" addr add "198.18.$n.1/24" dev eth0
	ip -n "$ns" addr add "fd00:7c:$n::1/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "$S4/32" dev lo
	ip -n "$ns" addr add "$S6/128" dev lo nodad
	ip -n "$gw" addr add "198.18.$n.254/24" dev "${h}0"
	ip -n "$gw" addr add "fd00:7c:$n::fe/64" dev "${h}0" nodad
	ip -n "$gw" link set "${h}0" up
	ip -n "$ns" route add default via "198.18.$n.254"
	ip -n "$ns" -6 route add default via "fd00:7c:$n::fe"
	ip netns exec "$gw" sysctl -qw "net.ipv4.conf.${h}0.rp_filter=0"
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.eth0.rp_filter=0
}

# tl_key FILE: a fresh random key, mode 0600
tl_key() {
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$1"
	chmod 600 "$1"
}

# tl_conf DNAME [LINE...]: tcpcpd.conf for a daemon DNAME with key $T/key,
# socket $T/DNAME.sock, pid file $T/DNAME.pid, debug logs, the backend
# TCPCP_BACKEND names (auto without it), and the extra LINEs (a key given
# again there, such as "listen = none", overrides: tcpcpd takes the last)
tl_conf() {
	local n=$1
	shift
	printf '%s\n' "name = $n" "listen = *" "key_file = $T/key" \
		"socket = $T/$n.sock" "pid_file = $T/$n.pid" "log_level = debug" \
		"backend = ${TCPCP_BACKEND:-auto}" "$@"
}

# tl_backend_ok CONF: skip when the backend the configuration asks for is
# not available here (tcpcpd -n), fail on any other configuration error
tl_backend_ok() {
	local out
	out=$("$TCPCPD" -n -c "$1" 2>&1) && return 0
	echo "$out" | grep -q "error: backend" && skip "backend ${TCPCP_BACKEND:-auto}: $out"
	die "tcpcpd -n -c $1: $out"
}

# tl_daemon HOST DNAME: start tcpcpd -c $T/DNAME.conf in HOST, logging to
# $T/DNAME.log; its pid in tl_pid and in dpids (must exit 0 on SIGTERM at
# the end), unless TL_UNTRACKED=1 (the caller stops it and judges its exit
# status).  Extra environment for it: TL_DENV ("VAR=value ..."); a command
# that runs it: TL_DWRAP ("nice -n -10"); HOST of another lab than NAME:
# TL_LAB (its name).
tl_daemon() {
	# shellcheck disable=SC2086
	env ${TL_DENV:-} ip netns exec "${TL_LAB:-$NAME}-$1" ${TL_DWRAP:-} \
		"$TCPCPD" -c "$T/$2.conf" -f 2> "$T/$2.log" &
	tl_pid=$!
	[ "${TL_UNTRACKED:-0}" = 1 ] || dpids+=("$tl_pid")
}

# tl_start HOST DNAME [LINE...]: a daemon DNAME in HOST with the
# configuration tl_conf DNAME LINE... ($T/DNAME.conf), started by tl_daemon
# (its pid in tl_pid; TL_DENV, TL_DWRAP, TL_UNTRACKED, TL_LAB apply) and
# answering (tl_wait_daemons)
tl_start() {
	local h=$1 n=$2
	shift 2
	tl_conf "$n" "$@" > "$T/$n.conf"
	tl_daemon "$h" "$n"
	tl_wait_daemons "$n"
}

# tl_untrack PID: the end no longer waits for that daemon
tl_untrack() {
	local p keep=()
	for p in "${dpids[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
	dpids=("${keep[@]+"${keep[@]}"}")
}

# tl_forget PID: a daemon about to be killed on purpose: its exit status
# does not count, and bash does not report its death ("Killed")
tl_forget() {
	disown "$1" 2>/dev/null
	tl_untrack "$1"
}

# tl_stop PID: stop a daemon now (SIGTERM); returns its exit status
tl_stop() {
	kill -TERM "$1" 2>/dev/null
	tl_untrack "$1"
	wait "$1"
}

# tl_wait_daemons DNAME...: their local sockets exist within TL_WAIT
# seconds (5 by default) and they answer
tl_wait_daemons() {
	local n
	for n in "$@"; do
		wait_for "${TL_WAIT:-5}" test -S "$T/$n.sock" || die "tcpcpd $n did not start"
		wait_for 5 "$CTL" -s "$T/$n.sock" status >/dev/null ||
			die "tcpcpd $n does not answer"
	done
}

# tl_backend DNAME: the backend the daemon reports in its log
tl_backend() { sed -n 's/.*started: backend \([a-z]*\).*/\1/p' "$T/$1.log" | head -n 1; }

# counter DNAME KEY: a counter of tcpcpctl status
counter() { "$CTL" -s "$T/$1.sock" status | awk -v k="$2" '$1 == k { print $2 }'; }

# tl_capture_start FILE: tcpdump at the peer (of the lab TL_LAB, NAME by
# default; a buffer of TL_CAPBUF KiB) into FILE; its pid in tl_pid
tl_capture_start() {
	ip netns exec "${TL_LAB:-$NAME}-peer" tcpdump --immediate-mode -i eth0 -s 0 \
		-B "${TL_CAPBUF:-16384}" \
		-U -n -w "$1" "tcp or udp port 9" 2> "$1.log" &
	tl_pid=$!
	pids+=("$tl_pid")
	wait_for 5 grep -q "listening on" "$1.log" || die "tcpdump in peer did not start"
}

# tl_capture_stop PID FILE: once everything sent is in FILE (peer --mark
# sends datagrams to gw's port 9 until one is in the file), stop tcpdump
tl_capture_stop() {
	ip netns exec "${TL_LAB:-$NAME}-peer" "$PEER" --mark "$2" -c 198.18.0.254 -p 9 \
		--timeout 5 >/dev/null ||
		echo "warning: the marker did not reach the capture $2"
	kill -INT "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# check_capture NAME FAMILY: pcapcheck on $T/NAME.pcap for the service at
# port $PORT: no RST, no SYN after the handshake, both FINs at the end,
# nothing going backwards
check_capture() {
	local name=$1 fam=$2 sf out rc
	[ "$fam" = 6 ] && sf="[$S6]:$PORT" || sf="$S4:$PORT"
	out=$("$PCAPCHECK" --server "$sf" --server-fin --client-fin "$T/$name.pcap" 2>&1)
	rc=$?
	echo "$name: pcapcheck: $out"
	[ "$rc" = 0 ] || die "$name: capture at the peer: $out"
}
