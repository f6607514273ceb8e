#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Test back end: serves one moved connection on stdin/stdout (the tcpcpd
handler).  It reads the request itself from the moved receive queue.

HTTP/1.1 with keep-alive: GET/POST PATH[?size=N] answers N deterministic
bytes (random.Random(PATH without query).randbytes(N)) with X-Backend: NAME
and X-Body-SHA256 of the request body.  Raw protocol: lines "HELLO WORD"
answered "NAME WORD", "QUIT" ends it."""
import hashlib
import random
import socket
import sys

name = sys.argv[1]
s = socket.socket(fileno=0)
f = s.makefile("rb")


def body_for(path, size):
    return random.Random(path).randbytes(size)


def http(first):
    line = first
    while line:
        method, target, _ = line.decode("latin-1").split(" ", 2)
        hdrs = {}
        while True:
            h = f.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        data = f.read(n) if n else b""
        if len(data) != n:
            return
        path, _, q = target.partition("?")
        size = int(q[5:]) if q.startswith("size=") else 64
        body = body_for(path, size)
        s.sendall(("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Backend: %s\r\n"
                   "X-Host: %s\r\nX-Body-SHA256: %s\r\n\r\n" %
                   (len(body), name, hdrs.get("host", ""),
                    hashlib.sha256(data).hexdigest())).encode() + body)
        if hdrs.get("connection", "").lower() == "close":
            break
        line = f.readline()


def raw(first):
    line = first
    while line:
        w = line.decode("latin-1").strip()
        if w == "QUIT":
            s.sendall(b"BYE\n")
            break
        if w.startswith("HELLO "):
            s.sendall(("%s %s\n" % (name, w[6:])).encode())
        else:
            s.sendall(b"ERR\n")
        line = f.readline()


first = f.readline()
if first.startswith(b"HELLO ") or first.startswith(b"QUIT"):
    raw(first)
elif first:
    http(first)
# wait for the client's FIN, then close: no reset for unread bytes
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
s.close()
