#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make install into a scratch DESTDIR, then build and run a program against
# the installed header, shared library (through pkg-config) and static
# library: what a user of libtcpcp does first.
set -eu
cd "$(dirname "$0")/../.."
dest=$(mktemp -d /tmp/tcpcp-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT

make -s install DESTDIR="$dest" PREFIX=/usr >/dev/null
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$dest/usr/lib/pkgconfig"
flags=$(pkg-config --cflags --libs libtcpcp)
case "$flags" in *"-I$dest/usr/include"*) ;; *) echo "pkg-config: $flags"; exit 1 ;; esac

cat > "$dest/user.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <tcpcp.h>
#include <linux/tcpcp.h>

int main(void)
{
	char junk[32] = "not an ici", why[128];

	if (tcpcp_ici_check(junk, sizeof(junk), why, sizeof(why)) != -EINVAL) {
		fprintf(stderr, "check accepted junk\n");
		return 1;
	}
	if (tcpcp_size(junk) != -1 || errno != EINVAL) {
		fprintf(stderr, "tcpcp_size accepted junk\n");
		return 1;
	}
	if (!tcpcp_backend_name(tcpcp_backend())) {
		fprintf(stderr, "no backend\n");
		return 1;
	}
	printf("backend %s, TCP_ICI %d: %s\n",
	       tcpcp_backend_name(tcpcp_backend()), TCP_ICI, why);
	return 0;
}
C
# shellcheck disable=SC2086
cc -std=gnu11 -Wall -Wextra -Werror -o "$dest/user-shared" "$dest/user.c" $flags
LD_LIBRARY_PATH="$dest/usr/lib" "$dest/user-shared"
readelf -d "$dest/usr/lib/libtcpcp.so" | grep -q 'SONAME.*libtcpcp.so.1' ||
	{ echo "soname is not libtcpcp.so.1"; exit 1; }
cc -std=gnu11 -Wall -Wextra -Werror -I"$dest/usr/include" -o "$dest/user-static" \
	"$dest/user.c" "$dest/usr/lib/libtcpcp.a" -lpthread
"$dest/user-static"
for m in tcpcp_get.3 tcpcp-ici.8 tcpcpd.8 libtcpcp.7; do
	f=$(find "$dest/usr/share/man" -name "$m")
	[ -n "$f" ] || { echo "man page $m not installed"; exit 1; }
done
[ -x "$dest/usr/sbin/tcpcpd" ] && [ -x "$dest/usr/bin/tcpcp-ici" ] ||
	{ echo "tools not installed"; exit 1; }
echo "install ok"
