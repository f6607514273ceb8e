#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Test tcpcp-ici: show (text, JSON, pretty, data), check (truncated, bad
# version, bad magic, trailing bytes, inconsistent), set-local (only the
# local address/port bytes change), exit codes and error messages.
#
# Run from the top of the tree after `make`; ICIs come from mkici.
# Exit 0 all passed, 1 something failed, 4 skipped (reason on the last line).
set -u

O=${O:-build}
ICI=${TCPCP_ICI:-$O/tcpcp-ici}
MKICI=${MKICI:-$O/tools/tcpcp-ici/mkici}

for b in "$ICI" "$MKICI"; do
	if [ ! -x "$b" ]; then
		echo "SKIP: $b not built (run make)"
		exit 4
	fi
done
# the system python starts much faster than a version manager's shim
PY=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}
if [ -z "$PY" ] || ! "$PY" -c 'import json' 2>/dev/null; then
	echo "SKIP: python3 is needed to parse JSON output"
	exit 4
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/tcpcp-ici-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

pass=0 fail=0

ok()
{
	pass=$((pass + 1))
	echo "ok $pass $1"
}

not_ok()
{
	fail=$((fail + 1))
	echo "not ok $((pass + fail)) $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}

# run EXPECTED_RC NAME CMD...: runs CMD, stdout to $T/out, stderr to $T/err
run()
{
	local want=$1 name=$2 rc
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name (exit $rc)"
		return 0
	fi
	not_ok "$name" "expected exit $want, got $rc: $*" \
		"stdout: $(head -c 300 "$T/out")" "stderr: $(head -c 300 "$T/err")"
	return 1
}

# expect FILE REGEX NAME
expect()
{
	if grep -Eq -- "$2" "$1"; then
		ok "$3"
	else
		not_ok "$3" "no match for /$2/ in: $(head -c 400 "$1")"
	fi
}

# assert NAME CMD...: passes if CMD succeeds
assert()
{
	local name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name" "$(head -c 400 "$T/out")"
	fi
}

lines() { wc -l <"$T/out"; }

# python3 expression over the JSON document d
json_is()
{
	local name=$1 expr=$2
	if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" \
		"$T/out" 2>"$T/pyerr"; then
		ok "$name"
	else
		not_ok "$name" "not true: $expr" "$(head -c 400 "$T/out")" "$(cat "$T/pyerr")"
	fi
}

# poke FILE OFFSET HEXBYTES: overwrite bytes in place
poke()
{
	printf '%b' "$(echo "$3" | sed 's/../\\x&/g')" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

"$MKICI" sndq 'hello world' unsent 5 rcvq 'GET / HTTP/1.0' cong sockopt >"$T/v4.ici" ||
	{ echo "FAIL: mkici"; exit 1; }
"$MKICI" v6 state close_wait rcvq 'bye' >"$T/v6.ici" || { echo "FAIL: mkici v6"; exit 1; }
"$MKICI" ofo 'xyz' >"$T/ofo.ici" || { echo "FAIL: mkici ofo"; exit 1; }
LEN=$(stat -c %s "$T/v4.ici")

# --- show
run 0 "show text" "$ICI" show "$T/v4.ici"
expect "$T/out" '^ESTAB 198\.18\.100\.1:80 198\.18\.0\.1:41234 v1\.0 mss:1448 wscale:7,7 sack ts ' "text starts ss-style"
expect "$T/out" ' snd_una:1000000 snd_nxt:1000006 write_seq:1000011 ' "text sequence numbers"
expect "$T/out" ' sndq:11 rcvq:14 ofo:0/0 cwnd:10 ' "text queue lengths"
expect "$T/out" ' cc:cubic' "text congestion algorithm"
assert "text is one line" [ "$(lines)" = 1 ]

run 0 "show stdin" "$ICI" show - <"$T/v6.ici"
expect "$T/out" '^CLOSE-WAIT \[fd00:7c:100::1\]:80 \[fd00:7c::1\]:41234 ' "IPv6 text addresses"

run 0 "show -d text" "$ICI" -d show "$T/v4.ici"
expect "$T/out" '^sndq:$' "text data block for sndq"
expect "$T/out" '00000000  68656c6c 6f20776f 726c64$' "text hex of sndq"

for f in v4 v6 ofo; do
	run 0 "show -j $f" "$ICI" -j show "$T/$f.ici"
	if "$PY" -m json.tool "$T/out" >/dev/null 2>&1; then
		ok "-j $f output parses with json.tool"
	else
		not_ok "-j $f output parses with json.tool" "$(head -c 400 "$T/out")"
	fi
	assert "-j $f is one line" [ "$(lines)" = 1 ]
done
run 0 "show -j v4" "$ICI" -j show "$T/v4.ici"
json_is "JSON addresses are strings" 'd["conn"]["laddr"] == "198.18.100.1" and d["conn"]["raddr"] == "198.18.0.1"'
json_is "JSON uapi field names" 'd["seq"]["write_seq"] == 1000011 and d["win"]["snd_wnd"] == 262140 and d["opts"]["mss"] == 1448'
json_is "JSON header" 'd["hdr"]["major"] == 1 and d["hdr"]["len"] == '"$LEN"
json_is "JSON has no data without -d" '"data" not in d["sndq"] and d["sndq"]["len"] == 11'
json_is "JSON cong and sockopt" 'd["cong"]["algorithm"] == "cubic" and d["sockopt"]["mark"] == 42'

run 0 "show -p -d" "$ICI" -p -d show "$T/ofo.ici"
json_is "pretty JSON parses; OFO segment with data" \
	'd["ofoq"]["segments"][0]["data"] == "78797a" and d["ofoq"]["segs"] == 1'
assert "-p output is indented" [ "$(lines)" -gt 20 ]

run 0 "show -json -data" "$ICI" -json -data show "$T/v4.ici"
json_is "JSON queue data as hex" 'd["sndq"]["data"] == "68656c6c6f20776f726c64" and bytes.fromhex(d["rcvq"]["data"]) == b"GET / HTTP/1.0"'

# --- check
run 0 "check valid" "$ICI" check "$T/v4.ici"
expect "$T/out" '^ok$' "check prints ok"

head -c $((LEN - 3)) "$T/v4.ici" >"$T/trunc.ici"
run 1 "check truncated" "$ICI" check "$T/trunc.ici"
expect "$T/err" "^Error: .*trunc\\.ici: truncated: header says $LEN bytes, have $((LEN - 3))\$" "truncation reason"
assert "check prints nothing on stdout when bad" [ ! -s "$T/out" ]

head -c 10 "$T/v4.ici" >"$T/short.ici"
run 1 "check shorter than header" "$ICI" check "$T/short.ici"
expect "$T/err" "shorter than the 16-byte header" "short reason"

cp "$T/v4.ici" "$T/ver.ici"; poke "$T/ver.ici" 4 02
run 1 "check bad major" "$ICI" check "$T/ver.ici"
expect "$T/err" "version 2\\.0: only major version 1 is known" "bad version reason"

cp "$T/v4.ici" "$T/minor.ici"; poke "$T/minor.ici" 5 07
run 0 "check newer minor accepted" "$ICI" check "$T/minor.ici"

cp "$T/v4.ici" "$T/magic.ici"; poke "$T/magic.ici" 0 deadbeef
run 1 "check bad magic" "$ICI" check "$T/magic.ici"
expect "$T/err" "bad magic 0xdeadbeef" "bad magic reason"

cp "$T/v4.ici" "$T/trail.ici"; printf 'XXXX' >>"$T/trail.ici"
run 1 "check trailing bytes" "$ICI" check "$T/trail.ici"
expect "$T/err" "4 trailing bytes" "trailing bytes reason"

# SEQ element payload: header 16 + CONN 8+44 + OPTS 8+12 + elem hdr 8 = 96;
# write_seq is at +8: make it disagree with the send queue
cp "$T/v4.ici" "$T/seq.ici"; poke "$T/seq.ici" $((96 + 8)) 00ffffff
run 1 "check inconsistent write_seq" "$ICI" check "$T/seq.ici"
expect "$T/err" "SEQ: write_seq - snd_una" "inconsistent sequence reason"

run 1 "show refuses a bad ICI" "$ICI" show "$T/magic.ici"
assert "show prints nothing for a bad ICI" [ ! -s "$T/out" ]
expect "$T/err" "bad magic" "show says why"

run 1 "check missing file" "$ICI" check "$T/nonexistent"
expect "$T/err" "cannot open" "missing file message"

# --- set-local
run 0 "set-local address" "$ICI" set-local "$T/v4.ici" 198.18.2.7 -o "$T/new.ici"
run 0 "rewritten ICI is valid" "$ICI" check "$T/new.ici"
cmp -l "$T/v4.ici" "$T/new.ici" | awk '{ print $1 }' >"$T/diff"
# CONN payload at 24: lport at +4 (28..29), laddr at +8 (32..47); cmp counts from 1
if [ -s "$T/diff" ] && awk '$1 < 33 || $1 > 36 { bad = 1 } END { exit bad }' "$T/diff"; then
	ok "set-local changed only laddr bytes"
else
	not_ok "set-local changed only laddr bytes" "changed offsets: $(tr '\n' ' ' <"$T/diff")"
fi
run 0 "show rewritten" "$ICI" -j show "$T/new.ici"
json_is "new laddr, same lport" 'd["conn"]["laddr"] == "198.18.2.7" and d["conn"]["lport"] == 80'

run 0 "set-local address and port" "$ICI" set-local "$T/v4.ici" 198.18.2.7 8080 -o "$T/new2.ici"
cmp -l "$T/v4.ici" "$T/new2.ici" | awk '{ print $1 }' >"$T/diff"
if awk '$1 < 29 || $1 > 36 || ($1 > 30 && $1 < 33) { bad = 1 } END { exit bad }' "$T/diff"; then
	ok "set-local with port changed only lport and laddr bytes"
else
	not_ok "set-local with port changed only lport and laddr bytes" "$(tr '\n' ' ' <"$T/diff")"
fi
run 0 "show rewritten port" "$ICI" -j show "$T/new2.ici"
json_is "new lport" 'd["conn"]["lport"] == 8080 and d["conn"]["rport"] == 41234 and d["conn"]["raddr"] == "198.18.0.1"'

run 0 "set-local IPv6 in brackets to stdout" "$ICI" set-local "$T/v6.ici" '[fd00:7c:2::1]' 443 -o -
cp "$T/out" "$T/new6.ici"
run 0 "show rewritten IPv6" "$ICI" -j show "$T/new6.ici"
json_is "new IPv6 laddr" 'd["conn"]["laddr"] == "fd00:7c:2::1" and d["conn"]["lport"] == 443'

run 2 "set-local family mismatch" "$ICI" set-local "$T/v4.ici" fd00::1 -o "$T/x.ici"
expect "$T/err" '^Error: argument "fd00::1" is wrong: ' "family mismatch message"
run 1 "set-local multicast" "$ICI" set-local "$T/v4.ici" 224.0.0.1 -o "$T/x.ici"
expect "$T/err" '^Error: argument "224.0.0.1" is wrong: ' "multicast message"
assert "no output file on failure" [ ! -e "$T/x.ici" ]
run 2 "set-local bad address" "$ICI" set-local "$T/v4.ici" 1.2.3 -o "$T/x.ici"
expect "$T/err" '^Error: argument "1\.2\.3" is wrong: ADDR must be an IPv4 or IPv6 address' "bad address message"
run 2 "set-local bad port" "$ICI" set-local "$T/v4.ici" 1.2.3.4 65536 -o "$T/x.ici"
expect "$T/err" '^Error: argument "65536" is wrong: PORT' "bad port message"
run 2 "set-local without -o" "$ICI" set-local "$T/v4.ici" 1.2.3.4
run 1 "set-local bad input ICI" "$ICI" set-local "$T/magic.ici" 1.2.3.4 -o "$T/x.ici"

# --- grammar and exit codes
run 0 "help" "$ICI" help
expect "$T/out" '^Usage: tcpcp-ici' "help prints usage"
run 2 "no command" "$ICI"
run 2 "unknown command" "$ICI" foo
expect "$T/err" 'Command "foo" is unknown, try "tcpcp-ici help"' "unknown command message"
run 2 "abbreviation is not a command" "$ICI" sh "$T/v4.ici"
run 2 "unknown option" "$ICI" -x show "$T/v4.ici"
run 2 "show without file" "$ICI" show
run 2 "show with extra argument" "$ICI" show "$T/v4.ici" extra

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
