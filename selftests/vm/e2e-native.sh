#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The lab's end-to-end suite (build/selftests/e2e) on the native backend:
# run inside the VM (selftests/vm/TESTS), where the kernel has TCP_ICI.
# Exit 4 (skip) when the running kernel lacks it, the suite's exit code
# otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 1
# make vm-check-debug: the lab's per-case time limits (20 s) do not fit the
# KASAN + lockdep kernel under TCG; the socket-option, native, cross and
# fuzz tests cover its kernel paths there
[ "${TCPCP_VM_DEBUG:-0}" = 1 ] && {
	echo "e2e-native: SKIP: too slow on the KASAN + lockdep kernel under TCG"
	exit 4
}
O=${O:-build}
E2E=$O/selftests/e2e
[ -x "$E2E" ] || { echo "e2e-native: SKIP: $E2E not built"; exit 4; }
for t in nft tcpdump ip; do
	command -v $t >/dev/null || { echo "e2e-native: SKIP: no $t"; exit 4; }
done
export TCPCP_BACKEND=native
exec "$E2E" "$@"
