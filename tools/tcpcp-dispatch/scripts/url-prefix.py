#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Dispatch HTTP by URL path prefix: PREFIX=NAME arguments, the longest
matching prefix wins; a request that is not HTTP or matches nothing is
rejected ("keep" with -k).  Use with tcpcp-dispatch -d http."""
import sys
import tcpcp_dispatch as td

args = sys.argv[1:]
miss = "reject"
if args[:1] == ["-k"]:
    miss, args = "keep", args[1:]
table = sorted(td.rules(args), key=lambda r: -len(r[0]))


def decide(req):
    h = req.http()
    if not h:
        return miss
    path = h[1].split("?", 1)[0]
    for prefix, name in table:
        if path.startswith(prefix) and name in req.names:
            return name
    return miss


td.run(decide)
