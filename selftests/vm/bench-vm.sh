#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Native vs repair backend in the same VM, same workload: runs
# build/selftests/bench once per backend with the same N list.  Not in
# TESTS (a measurement, not a test); run it as
#   selftests/vm/run-vm.sh selftests/vm/bench-vm.sh
# with TCPCP_BENCH_N (default "1,100", commas: it can come from the kernel
# command line, TCPCP_VM_APPEND) choosing the connection counts and
# TCPCP_BENCH_TIMEOUT (180 s) bounding each run.  Under TCG the guest's
# clock falls back to jiffies: add TCPCP_VM_APPEND="tsc=reliable" for
# sub-millisecond call times.
set -u
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
B=$O/selftests/bench
[ -x "$B" ] || { echo "bench-vm: SKIP: $B not built"; exit 4; }
N=${TCPCP_BENCH_N:-1,100}
rc=0
for be in native repair; do
	echo "=== TCPCP_BACKEND=$be"
	# shellcheck disable=SC2086
	TCPCP_BACKEND=$be timeout -k 5 "${TCPCP_BENCH_TIMEOUT:-180}" \
		"$B" ${N//,/ } || rc=1
done
exit $rc
