#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# tcpcp-dispatch against HAProxy in the VM, where the kernel has TCP_ICI:
# tools/tcpcp-dispatch/tests/bench-haproxy.sh with the native backend
# (HAProxy and tcpcp-dispatch), then its tcpcp phase again with the repair
# backend (TCPCP_BACKEND=repair), in one boot.  A measurement, not in
# TESTS; run it with `make vm-bench-dispatch` and read
# build/vm-results-dispatch/1.log.  Under TCG every figure is
# one to two orders of magnitude below the host's and programs do not
# slow down alike (the Python dispatch script most of all): compare the
# two backends' tcpcpd CPU per move, not the rates with the host's.
# RATE_SECS (10), CONC (16), STREAMS (1), STREAM_MB (16) as for the bench;
# pass them (and BENCH_ORDER) in TCPCP_VM_APPEND.
set -u
rc2=1
cd "$(dirname "$0")/../.." || exit 1
export RATE_SECS=${RATE_SECS:-10} CONC=${CONC:-16} STREAMS=${STREAMS:-1}
export STREAM_MB=${STREAM_MB:-16}
bench=tools/tcpcp-dispatch/tests/bench-haproxy.sh
echo "bench-dispatch: kernel $(uname -r), $(nproc) CPUs"
# BENCH_ORDER=repair-first runs the repair backend first: under TCG the
# first run also pays the translation of code both runs share
if [ "${BENCH_ORDER:-}" = repair-first ]; then
	echo "=== repair backend"
	TCPCP_BACKEND=repair BENCH_NO_HAPROXY=1 bash "$bench"
	rc2=$?
fi
echo "=== native backend (and HAProxy)"
TCPCP_BACKEND=native bash "$bench"
rc=$?
if [ "${BENCH_ORDER:-}" != repair-first ]; then
	echo "=== repair backend"
	TCPCP_BACKEND=repair BENCH_NO_HAPROXY=1 bash "$bench"
	rc2=$?
fi
[ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ] && exit 0
[ "$rc" -eq 4 ] && [ "$rc2" -eq 4 ] && exit 4
exit 1
