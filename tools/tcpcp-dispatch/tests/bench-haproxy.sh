#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tcpcp-dispatch against HAProxy, the same content-based dispatch (by Host
# header) in the same namespace lab, one run:
#
#   peer (clients: benchcli) -- gw -- d  (HAProxy, or tcpcp-dispatch + tcpcpd)
#                                \-- b1 (benchsrv)
#                                 \- b2 (benchsrv)
#
# HAProxy on d proxies every byte to benchsrv listening on the back ends;
# tcpcp-dispatch on d hands each connection to the back end's tcpcpd, which
# delivers it to benchsrv registered there, and the back end answers the
# client directly (gw redirects per connection: redirect_mode below).
# HAProxy runs first, on a clean router.  Figures:
#   rate     connections per second, one 64-byte GET each, CONC at once
#            for RATE_SECS seconds
#   ttfb     time from connect() to the first byte of the answer, p50/p99,
#            one connection at a time (and at CONC at once)
#   cpu/conn CPU of the dispatch host's processes per 1,000 connections
#            (HAProxy; tcpcp-dispatch + tcpcpd + the script)
#   stream   STREAMS clients each download STREAM_MB MB from its back end:
#            throughput, CPU seconds of the dispatch host's processes per
#            GB, and bytes through d's interface per GB delivered
# Softirq time of d's traffic is not attributed to d's processes (the
# namespaces share the CPUs); the bytes through d's interface show where the
# copying happens.  Not part of make check: about 2 minutes, needs haproxy.
#
# Environment: CONC (64), RATE_SECS (10), STREAMS (4; 0: no stream run),
# STREAM_MB (256), REDIRECT_MODE (nftmap; rule), BENCH_KEEP=1 keeps the logs, BENCH_PERF=1
# (or all: the whole machine) prints a perf profile of the rate run,
# BENCH_STRACE=daemons counts the syscalls of tcpcpd d, gw, b1 and the
# dispatcher during the tcpcp rate run, BENCH_NO_HAPROXY=1 skips HAProxy's.
# Exit 0 done, 1 failure, 4 skip.
set -u
# the lab setup of the daemon tests (tools/tcpcpd/tests/lib.sh): ROOT,
# LAB, TCPCPD, CTL, S4, NAME, T, pids, skip, die, in_ns, wait_for, tl_leaf,
# tl_start...  Not pinned to one CPU (TL_PIN=0): it measures on both.
# shellcheck source-path=SCRIPTDIR source=../../tcpcpd/tests/lib.sh
TL_PIN=0 TL_TAG=h TL_TMP=tcpcp-bench TL_NEED=LAB TL_TCPDUMP=0 TL_TAIL=10 \
	TL_KEEP=${BENCH_KEEP:-} TL_HINT="make; make build/tools/tcpcp-dispatch/tests/{benchsrv,benchcli}" \
	. "$(dirname "$0")/../../tcpcpd/tests/lib.sh"
DISPATCH=${TCPCP_DISPATCH:-$ROOT/$O/tcpcp-dispatch}
BENCHSRV=${BENCHSRV:-$ROOT/$O/tools/tcpcp-dispatch/tests/benchsrv}
BENCHCLI=${BENCHCLI:-$ROOT/$O/tools/tcpcp-dispatch/tests/benchcli}
DIR=$ROOT/tools/tcpcp-dispatch
command -v haproxy >/dev/null || [ -n "${HAPROXY:-}" ] ||
	"$ROOT/tools/build/deps.sh" haproxy || true
HAPROXY=${HAPROXY:-$(command -v haproxy)}
CONC=${CONC:-64}
RATE_SECS=${RATE_SECS:-10}
STREAMS=${STREAMS:-4}
STREAM_MB=${STREAM_MB:-256}
REDIRECT_MODE=${REDIRECT_MODE:-nftmap}
HOSTS="h1.example=b1 h2.example=b2"
export PYTHONDONTWRITEBYTECODE=1

[ -n "$HAPROXY" ] || skip "haproxy is missing and could not be installed (tools/build/deps.sh haproxy)"
tl_need TCPCPD CTL DISPATCH BENCHSRV BENCHCLI

# --- the lab: peer, gw, a = d, b = b1, c = b2 (as dispatch.sh) ---
"$LAB" up "$NAME" || die "lab up"
tl_leaf c 3
# many short connections from one client address
in_ns peer sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1

# process CPU in clock ticks (utime + stime + reaped children)
ticks() {
	local p sum=0 f
	for p in "$@"; do
		f=$(cut -d')' -f2- "/proc/$p/stat" 2>/dev/null) || continue
		# fields after "(comm)": state is 1, utime 12, stime 13, cutime 14, cstime 15
		set -- $f
		sum=$((sum + ${12} + ${13} + ${14} + ${15}))
	done
	echo $sum
}
HZ=$(getconf CLK_TCK)
dbytes() {	# bytes received + sent on d's interface
	in_ns a cat /sys/class/net/eth0/statistics/rx_bytes /sys/class/net/eth0/statistics/tx_bytes |
		paste -sd+ | bc
}
gwpkts() {	# packets gw forwarded (received on all its interfaces but lo)
	in_ns gw sh -c 'cat /sys/class/net/*/statistics/rx_packets' | paste -sd+ | bc
}
sysbusy() {	# busy CPU ticks of the whole machine (every namespace)
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }

# run_phase NAME PORT PIDS...: rate, ttfb, stream against S:PORT; the CPU
# of PIDS (the dispatch host's processes) is measured
run_phase() {
	local ph=$1 port=$2 out c0 c1 b0 b1 s0 s1 bytes
	shift 2
	# warm up (the script, the daemons' connections)
	in_ns peer "$BENCHCLI" -a $S4 -p "$port" -c 8 -n 64 $HOSTS > /dev/null 2>> "$T/$ph.cli.log" ||
		die "$ph: warm-up failed"
	out=$(in_ns peer "$BENCHCLI" -a $S4 -p "$port" -c 1 -n 300 $HOSTS 2>> "$T/$ph.cli.log") ||
		die "$ph: ttfb run failed: $out"
	eval "${ph}_ttfb1='$(field "$out" ttfb_p50_us) $(field "$out" ttfb_p99_us)'"
	c0=$(ticks "$@")
	# BENCH_STRACE="PID...": syscalls of these processes meanwhile
	local stp=()
	for p in ${BENCH_STRACE:-}; do
		[ -d "/proc/$p" ] || continue # "daemons": tcpcp's phase only
		timeout -s INT "$RATE_SECS" strace -c -f -p "$p" -o "$T/$ph.strace.$p" &
		stp+=($!)
	done
	# BENCH_PERF=1: a profile of the dispatch host's processes meanwhile;
	# BENCH_PERF=all: of the whole machine (every namespace, the kernel)
	if [ "${BENCH_PERF:-}" = all ]; then
		perf record -q -a -o "$T/$ph.perf" -- sleep "$RATE_SECS" > /dev/null 2>&1 &
		perfpid=$!
	elif [ -n "${BENCH_PERF:-}" ]; then
		perf record -q -o "$T/$ph.perf" -p "$(echo "$@" | tr ' ' ,)" \
			-- sleep "$RATE_SECS" > /dev/null 2>&1 &
		perfpid=$!
	fi
	s0=$(sysbusy)
	p0=$(gwpkts)
	t0=$(date +%s%N)
	out=$(in_ns peer "$BENCHCLI" -a $S4 -p "$port" -c "$CONC" -t "$RATE_SECS" $HOSTS 2>> "$T/$ph.cli.log") ||
		die "$ph: rate run failed: $out"
	c1=$(ticks "$@")
	s1=$(sysbusy)
	t1=$(date +%s%N)
	for p in "${stp[@]+"${stp[@]}"}"; do wait "$p"; done
	for p in ${BENCH_STRACE:-}; do
		[ -f "$T/$ph.strace.$p" ] || continue
		echo "$ph: syscalls of $p ($(cat /proc/$p/comm)):"
		head -25 "$T/$ph.strace.$p"
	done
	# how busy the machine was: below 100 % the rate is bound by latency
	eval "${ph}_pkts=$(echo "scale=1; ($(gwpkts) - $p0) / $(field "$out" conns)" | bc)"
	eval "${ph}_busy=$(echo "scale=1; ($s1 - $s0) * 100 / $HZ / (($t1 - $t0) / 1000000000) / $(nproc)" | bc)"
	eval "${ph}_cpuall=$(echo "scale=3; ($s1 - $s0) / $HZ * 1000 / $(field "$out" conns)" | bc)"
	if [ -n "${BENCH_PERF:-}" ]; then
		wait "$perfpid"
		perf report -i "$T/$ph.perf" --no-children --sort comm,dso,symbol --stdio 2>/dev/null |
			grep -v '^#' | grep '%' | head -${BENCH_PERF_LINES:-25} > "$T/$ph.perf.txt"
		perf report -i "$T/$ph.perf" --no-children --sort comm --stdio 2>/dev/null |
			grep -v '^#' | grep '%' | head -20 > "$T/$ph.perf-comm.txt"
		echo "$ph: perf, share of the samples by command:"
		sed 's/^/  /' "$T/$ph.perf-comm.txt"
		echo "$ph: perf, top symbols ($([ "${BENCH_PERF:-}" = all ] && echo "whole machine" || echo "the dispatch host's processes")):"
		sed 's/^/  /' "$T/$ph.perf.txt"
	fi
	echo "$ph rate: $out"
	eval "${ph}_rate=$(field "$out" conns_per_s)"
	eval "${ph}_ttfbc='$(field "$out" ttfb_p50_us) $(field "$out" ttfb_p99_us)'"
	eval "${ph}_cpuconn=$(echo "scale=3; ($c1 - $c0) / $HZ * 1000 / $(field "$out" conns)" | bc)"
	sleep 2	# let the connections end (and the gateway entries go)
	if [ "$STREAMS" -eq 0 ]; then # STREAMS=0: rate runs only
		eval "${ph}_mbs=- ${ph}_cpugb=- ${ph}_dgb=- ${ph}_sysgb=-"
		return
	fi
	c0=$(ticks "$@")
	b0=$(dbytes)
	s0=$(sysbusy)
	out=$(in_ns peer "$BENCHCLI" -a $S4 -p "$port" -c "$STREAMS" -n "$STREAMS" \
		-s $((STREAM_MB << 20)) $HOSTS 2>> "$T/$ph.cli.log") || die "$ph: stream run failed: $out"
	c1=$(ticks "$@")
	b1=$(dbytes)
	s1=$(sysbusy)
	echo "$ph stream: $out"
	bytes=$(field "$out" bytes)
	eval "${ph}_mbs=$(field "$out" mbyte_per_s)"
	eval "${ph}_cpugb=$(echo "scale=4; ($c1 - $c0) / $HZ / ($bytes / 1000000000)" | bc)"
	eval "${ph}_dgb=$(echo "scale=3; ($b1 - $b0) / $bytes" | bc)"
	eval "${ph}_sysgb=$(echo "scale=3; ($s1 - $s0) / $HZ / ($bytes / 1000000000)" | bc)"
}

# --- HAProxy ---
for h in b1:b:198.18.2.1 b2:c:198.18.3.1; do
	IFS=: read -r n ns a <<< "$h"
	ip netns exec "$NAME-$ns" "$BENCHSRV" "$n" listen "$a" 8080 2> "$T/benchsrv-$n-listen.log" &
	pids+=($!)
	wait_for 5 grep -q ready "$T/benchsrv-$n-listen.log" || die "benchsrv $n"
done
cat > "$T/haproxy.cfg" <<EOF
global
	maxconn 8000
	nbthread 2
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend dispatch
	bind $S4:81
	use_backend b1 if { hdr(host) -i h1.example }
	use_backend b2 if { hdr(host) -i h2.example }
backend b1
	server b1 198.18.2.1:8080
backend b2
	server b2 198.18.3.1:8080
EOF
ip netns exec "$NAME-a" "$HAPROXY" -db -f "$T/haproxy.cfg" > "$T/haproxy.log" 2>&1 &
hp=$!
pids+=("$hp")
wait_for 5 in_ns peer bash -c "exec 3<>/dev/tcp/$S4/81" || die "haproxy does not listen"
if [ -z "${BENCH_NO_HAPROXY:-}" ]; then
	run_phase H 81 "$hp"
else
	H_rate=- H_pkts=- H_ttfb1="0 0" H_ttfbc="0 0" H_cpuconn=- H_cpuall=- H_busy=- H_mbs=- H_cpugb=- H_dgb=- H_sysgb=-
fi
kill -TERM "$hp"

# --- tcpcp-dispatch ---
tl_key "$T/key"
log="log_level = ${BENCH_LOG_LEVEL:-warn}"
# bench_daemon HOST DNAME [LINE...]: tl_start, its pid in pid_DNAME, stopped
# at the end without a check of its exit status
bench_daemon() {
	TL_UNTRACKED=1 tl_start "$@"
	pids+=("$tl_pid")
	eval "pid_$2=$tl_pid"
}
bench_daemon gw gw "$log" "gateway_role = yes"
bench_daemon a d "$log" "listen = none" "gateway = 198.18.1.254" "redirect_mode = $REDIRECT_MODE"
bench_daemon b b1 "$log"
bench_daemon c b2 "$log"
for h in b1:b b2:c; do
	ip netns exec "$NAME-${h#*:}" "$BENCHSRV" "${h%:*}" tcpcpd "$T/${h%:*}.sock" 80 \
		2> "$T/benchsrv-${h%:*}.log" &
	pids+=($!)
	wait_for 5 grep -q ready "$T/benchsrv-${h%:*}.log" || die "benchsrv ${h%:*}"
done
ip netns exec "$NAME-a" "$DISPATCH" -l $S4:80 -s "$T/d.sock" -b b1=198.18.2.1 -b b2=198.18.3.1 \
	-d http -f 503 -n 4096 -v -- "$DIR/scripts/http-host.py" h1.example=b1 h2.example=b2 \
	2> "$T/dispatch.log" &
dp=$!
pids+=("$dp")
wait_for 5 grep -q "listening on" "$T/dispatch.log" || die "tcpcp-dispatch"
sp=$(pgrep -P "$dp" | head -1)
g0=$(ticks "$pid_gw")
[ "${BENCH_STRACE:-}" = daemons ] && BENCH_STRACE="$pid_d $pid_gw $pid_b1 $dp"
run_phase T 80 "$dp" "$pid_d" "$sp"
g1=$(ticks "$pid_gw")
kill -USR1 "$dp"
sleep 0.2
echo "CPU s since start: tcpcp-dispatch $(echo "scale=2; $(ticks "$dp") / $HZ" | bc)," \
	"tcpcpd d $(echo "scale=2; $(ticks "$pid_d") / $HZ" | bc)," \
	"script $(echo "scale=2; $(ticks "$sp") / $HZ" | bc)," \
	"tcpcpd gw $(echo "scale=2; $(ticks "$pid_gw") / $HZ" | bc)," \
	"tcpcpd b1 $(echo "scale=2; $(ticks "$pid_b1") / $HZ" | bc)"
grep "stats:\|averages:" "$T/dispatch.log" | tail -2

ms() { echo "scale=2; $1 / 1000" | bc; }
pair() { set -- $1; echo "$(ms "$1") / $(ms "$2")"; }
echo
echo "tcpcp-dispatch against HAProxy $("$HAPROXY" -v | head -1 | awk '{print $3}'), redirect_mode $REDIRECT_MODE, $(nproc) CPUs"
printf '%-44s %14s %16s\n' "" "HAProxy" "tcpcp-dispatch"
printf '%-44s %14s %16s\n' "connections/s ($CONC at once, ${RATE_SECS} s)" "$H_rate" "$T_rate"
printf '%-44s %14s %16s\n' "first byte p50 / p99 ms (1 at a time)" "$(pair "$H_ttfb1")" "$(pair "$T_ttfb1")"
printf '%-44s %14s %16s\n' "first byte p50 / p99 ms ($CONC at once)" "$(pair "$H_ttfbc")" "$(pair "$T_ttfbc")"
printf '%-44s %14s %16s\n' "d CPU s per 1,000 connections" "$H_cpuconn" "$T_cpuconn"
printf '%-44s %14s %16s\n' "all CPUs busy s per 1,000 connections" "$H_cpuall" "$T_cpuall"
printf '%-44s %14s %16s\n' "machine busy during the rate run %" "$H_busy" "$T_busy"
printf '%-44s %14s %16s\n' "packets through gw per connection" "$H_pkts" "$T_pkts"
printf '%-44s %14s %16s\n' "stream MB/s ($STREAMS x $STREAM_MB MB)" "$H_mbs" "$T_mbs"
printf '%-44s %14s %16s\n' "d CPU s per GB (stream)" "$H_cpugb" "$T_cpugb"
printf '%-44s %14s %16s\n' "bytes through d per byte delivered" "$H_dgb" "$T_dgb"
printf '%-44s %14s %16s\n' "all CPUs busy s per GB (stream, whole lab)" "$H_sysgb" "$T_sysgb"
echo "gw tcpcpd (gateway role) CPU during the tcpcp runs: $(echo "scale=2; ($g1 - $g0) / $HZ" | bc) s"
echo "d processes: HAProxy = haproxy; tcpcp = tcpcp-dispatch + tcpcpd + http-host.py"
echo "libtcpcp backend: TCPCP_BACKEND=${TCPCP_BACKEND:-auto} (auto: native where the kernel has TCP_ICI)"
