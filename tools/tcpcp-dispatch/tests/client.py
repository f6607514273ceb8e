#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Test clients for tcpcp-dispatch (run in the lab's peer host).

  client.py http ADDR PORT HOST PATH EXPECT [HOST PATH EXPECT]...
      one keep-alive connection per triple: GET 64 bytes, POST 300 kB,
      GET 1 MB; each answer from back end EXPECT, bodies verified
  client.py status ADDR PORT HOST PATH CODE   one request, expect CODE
      (0: closed without an answer)
  client.py raw ADDR PORT N           N connections of the line protocol;
      prints the back end each went to (all must agree per connection)
  client.py post ADDR PORT HOST PATH EXPECT SIZE N   N connections that
      open with a POST of SIZE bytes: the body still streams in while the
      dispatcher decides on the head and moves the connection
Prints one line per check; exit 0 all good, 1 otherwise."""
import hashlib
import http.client
import random
import socket
import sys

fail = 0


def check(ok, what):
    global fail
    print("%s: %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        fail = 1


def one(c, method, host, path, size, expect, body=b""):
    c.request(method, "%s?size=%d" % (path, size), body=body or None,
              headers={"Host": host})
    r = c.getresponse()
    data = r.read()
    want = random.Random(path).randbytes(size)
    check(r.status == 200 and r.getheader("X-Backend") == expect and
          data == want and r.getheader("X-Host") == host and
          r.getheader("X-Body-SHA256") == hashlib.sha256(body).hexdigest(),
          "%s %s%s host=%s -> %s (want %s) %d bytes" %
          (method, path, "" if not body else " +%d" % len(body), host,
           r.getheader("X-Backend"), expect, len(data)))


def do_http(addr, port, args):
    for i in range(0, len(args), 3):
        host, path, expect = args[i:i + 3]
        c = http.client.HTTPConnection(addr, port, timeout=20)
        one(c, "GET", host, path, 64, expect)
        one(c, "POST", host, path, 1000, expect,
            random.Random(i).randbytes(300000))
        one(c, "GET", host, path, 1000000, expect)
        c.close()


def do_status(addr, port, host, path, code):
    c = http.client.HTTPConnection(addr, port, timeout=20)
    c.request("GET", path, headers={"Host": host})
    try:
        r = c.getresponse()
    except http.client.RemoteDisconnected:
        check(code == "0", "%s host=%s: closed without an answer" % (path, host))
        return
    data = r.read()
    check(r.status == int(code), "%s host=%s: %d %r" %
          (path, host, r.status, data[:40]))
    c.close()


def do_raw(addr, port, n):
    for i in range(n):
        s = socket.create_connection((addr, port), timeout=20)
        f = s.makefile("rb")
        names = set()
        for w in ("one", "two", "three"):
            s.sendall(("HELLO %s-%d\n" % (w, i)).encode())
            line = f.readline().decode().split()
            ok = len(line) == 2 and line[1] == "%s-%d" % (w, i)
            check(ok, "raw %d %s -> %s" % (i, w, " ".join(line)))
            if ok:
                names.add(line[0])
        s.sendall(b"QUIT\n")
        check(f.readline() == b"BYE\n", "raw %d bye" % i)
        s.shutdown(socket.SHUT_WR)
        check(s.recv(10) == b"", "raw %d eof" % i)
        s.close()
        check(len(names) == 1, "raw %d backend %s" % (i, ",".join(names)))
        print("backend", "".join(names))


def do_post(addr, port, host, path, expect, size, n):
    for i in range(int(n)):
        c = http.client.HTTPConnection(addr, port, timeout=20)
        one(c, "POST", host, path, 1000, expect,
            random.Random(i).randbytes(int(size)))
        one(c, "GET", host, path, 64, expect)
        c.close()


mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if mode == "http":
        do_http(addr, port, sys.argv[4:])
    elif mode == "status":
        do_status(addr, port, *sys.argv[4:])
    elif mode == "post":
        do_post(addr, port, *sys.argv[4:])
    elif mode == "raw":
        do_raw(addr, port, int(sys.argv[4]))
except (OSError, http.client.HTTPException, ValueError) as e:
    check(False, "%s: %r" % (mode, e))
sys.exit(fail)
