#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Native vs repair backend in the same VM, same workload: one run of
# build/selftests/bench -s -w -b native,repair, every N with both backends
# in turn, ending with CPU time and syscalls per move and the ratio
# native/repair.  -s keeps a's dumps and b's creates apart (under TCG each
# switch between them empties the emulated TLB and slows the next call),
# -w makes a first unreported move per backend (TCG translates code the
# first time it runs).  Not in TESTS (a measurement, not a test); run it as
#   TCPCP_VM_APPEND="tsc_early_khz=KHZ tsc=reliable no_timer_check" \
#   TCPCP_VM_RESULTS=build/vm-results-bench TCPCP_VM_TEST_TIMEOUT=1600 \
#	selftests/vm/run-vm.sh selftests/vm/bench-vm.sh
# where KHZ is the host's TSC frequency in kHz (dmesg | grep 'tsc: Detected';
# TCG's guest TSC is the host's).  Without it the guest (no ACPI: no HPET,
# no PM timer) cannot calibrate its TSC, falls back to jiffies, and every
# clock, the thread CPU clock included, moves in 1 ms steps (bench prints
# the steps it sees).  no_timer_check: a loaded host can make the boot's
# IO-APIC timer check fail and panic.  The guest's thread CPU time counts
# the time the host does not run the VM: on a busy host trust the median
# call more than the mean.
# TCPCP_BENCH_N (default "1,100,1000", commas: it can come from the kernel
# command line) chooses the connection counts, TCPCP_BENCH_TIMEOUT (1500 s)
# bounds the whole run; pass TCPCP_VM_TEST_TIMEOUT above it.
#
# The guest's clock is checked against the host's: bench.t0 and bench.t1
# in the results share hold the guest's time, their modification times are
# the host's (9p); compare the two differences.
set -u
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
B=$O/selftests/bench
RES=/run/tcpcp-results
[ -x "$B" ] || { echo "bench-vm: SKIP: $B not built"; exit 4; }
N=${TCPCP_BENCH_N:-1,100,1000}
stamp() { [ -d $RES ] && date +%s.%N >"$RES/$1"; }

echo "bench-vm: kernel $(uname -r), $(nproc) CPUs, cmdline: $(cat /proc/cmdline)"
stamp bench.t0
# shellcheck disable=SC2086
timeout -k 5 "${TCPCP_BENCH_TIMEOUT:-1500}" "$B" -s -w -b native,repair ${N//,/ }
rc=$?
stamp bench.t1
exit $rc
