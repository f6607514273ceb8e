#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages tcpcp needs to build and test, only when missing.
# Idempotent; every make target that needs something calls this first.
# With arguments it installs those packages instead (benchmarks that need
# more than the tests, e.g. haproxy).
set -eu

PKGS="build-essential clang llvm libclang-rt-14-dev clang-format cppcheck
 pkg-config iproute2 nftables tcpdump libpcap-dev libnl-3-dev libnl-route-3-dev
 libssl-dev python3 kmod procps psmisc
 linux-source-6.12 qemu-system-x86 bc bison flex libelf-dev cpio xz-utils
 groff-base python3-docutils libnftables-dev"
[ $# -gt 0 ] && PKGS="$*"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages:$missing (run as root to install)" >&2
		exit 1
	fi
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
