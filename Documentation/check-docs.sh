#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check the documentation against the code:
#  - every symbol the library exports (lib/libtcpcp.map) has a man page;
#  - every ".so" alias page points at a page that exists;
#  - every man page formats without a groff warning (-ww);
#  - Documentation/networking/tcpcp.rst parses without a docutils warning
#    (when python3-docutils is installed);
#  - the worked example's bytes in tcpcp.rst are a valid ICI, and the ones
#    tools/tcpcp-ici/mkici writes today (so the example follows the codec).
#
# Run from the top of the tree after `make`.  Exit 0 pass, 1 fail, 4 skip.
set -u

O=${O:-build}
MAN=Documentation/man
RST=Documentation/networking/tcpcp.rst
ICI=${TCPCP_ICI:-$O/tcpcp-ici}
MKICI=${MKICI:-$O/tools/tcpcp-ici/mkici}
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

if ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: groff is not installed (groff-base)"
	exit 4
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/tcpcp-docs.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0 pass=0

ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "not ok $1"; }

# exported symbols: the "global:" entries of the version script
n=0
while read -r s; do
	n=$((n + 1))
	if [ -f "$MAN/$s.3" ]; then
		ok "man page for $s"
	else
		bad "man page for $s: $MAN/$s.3 missing"
	fi
done < <(sed -n '/global:/,/local:/p' lib/libtcpcp.map | grep -oE 'tcpcp_[a-z_]+')
if [ "$n" = 0 ]; then
	bad "no symbols found in lib/libtcpcp.map"
fi

# an installed man tree, so that ".so man3/x.3" resolves
for d in 3 7 8; do mkdir -p "$T/man$d"; done
for m in "$MAN"/*.[378]; do
	cp "$m" "$T/man${m##*.}/"
done
for m in "$T"/man*/*; do
	name=${m#"$T"/}
	target=$(sed -n 's/^\.so //p' "$m")
	if [ -n "$target" ] && [ ! -f "$T/$target" ]; then
		bad "$name: alias of missing $target"
		continue
	fi
	out=$(cd "$T" && groff -man -Tutf8 -ww -z "$name" 2>&1)
	if [ -z "$out" ]; then
		ok "$name formats cleanly"
	else
		bad "$name: $out"
	fi
done

# docutils may be in the system python (python3-docutils) or another one
DPY=
for p in "$PY" python3; do
	if [ -n "$p" ] && "$p" -c 'import docutils' 2>/dev/null; then
		DPY=$p
		break
	fi
done
if [ -n "$DPY" ]; then
	if out=$("$DPY" - "$RST" 2>&1 <<'EOF'
import sys, docutils.core
src = open(sys.argv[1]).read()
docutils.core.publish_string(src, writer_name="null",
	settings_overrides={"report_level": 2, "halt_level": 2})
EOF
	); then
		ok "$RST parses without warnings"
	else
		bad "$RST: $(echo "$out" | head -n 5)"
	fi
else
	echo "# docutils not installed: $RST not parsed"
fi

# The worked example: the hex dump block after "The 196 bytes::"
if [ -n "$PY" ] && [ -x "$ICI" ] && [ -x "$MKICI" ]; then
	"$PY" - "$RST" "$T/example.ici" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
block = text.split("bytes::", 1)[1].split("\n\n", 2)[1]
data = bytearray()
for line in block.splitlines():
	m = re.match(r"\s+[0-9a-f]{8}: ((?:[0-9a-f]{2} ?)+)", line)
	if m:
		data += bytes.fromhex(m.group(1).replace(" ", ""))
open(sys.argv[2], "wb").write(data)
EOF
	if "$ICI" check "$T/example.ici" >/dev/null 2>"$T/err"; then
		ok "worked example is a valid ICI"
	else
		bad "worked example is not valid: $(cat "$T/err")"
	fi
	"$MKICI" sndq hello unsent 2 rcvq 'hi!' >"$T/mkici.ici"
	if cmp -s "$T/example.ici" "$T/mkici.ici"; then
		ok "worked example matches mkici"
	else
		bad "worked example differs from mkici output (regenerate it)"
	fi
else
	echo "# $ICI or $MKICI not built, or no python3: worked example not checked"
fi

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
