#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Sticky by client address: a client keeps the back end it got first (for
-t SECONDS after its last connection, default 3600); a new client gets the
back end its address hashes to, so that a restarted script mostly agrees."""
import sys
import time
import zlib
import tcpcp_dispatch as td

ttl = 3600.0
if sys.argv[1:2] == ["-t"] and len(sys.argv) > 2:
    ttl = float(sys.argv[2])
seen = {}


def decide(req):
    if not req.names:
        return "keep"
    now = time.monotonic()
    addr = req.client[0]
    name, t = seen.get(addr, (None, 0))
    if name not in req.names or now - t > ttl:
        name = req.names[zlib.crc32(addr.encode()) % len(req.names)]
    seen[addr] = (name, now)
    if len(seen) > 100000:
        for k in [k for k, v in seen.items() if now - v[1] > ttl]:
            del seen[k]
    return name


td.run(decide)
