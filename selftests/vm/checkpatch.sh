#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The exported patch series applies to the pristine kernel source in order
# and scripts/checkpatch.pl --strict finds nothing in it.
cd "$(dirname "$0")/../.." || exit 1
O=${O:-build}
if [ ! -f /usr/src/linux-source-6.12.tar.xz ]; then
	echo "SKIP: no kernel source tarball (package linux-source-6.12)"
	exit 4
fi
make -s O="$O" checkpatch
