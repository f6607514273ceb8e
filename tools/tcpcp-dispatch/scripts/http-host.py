#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Dispatch HTTP by Host header: HOST=NAME arguments ("*.example.com" matches
sub-domains, "*" anything); no match or not HTTP: keep (the dispatcher's
fallback answers).  Use with tcpcp-dispatch -d http."""
import sys
import tcpcp_dispatch as td

table = td.rules(sys.argv[1:])


def match(pat, host):
    if pat == "*":
        return True
    if pat.startswith("*."):
        return host.endswith(pat[1:])
    return host == pat


def decide(req):
    h = req.http()
    if not h:
        return "keep"
    host = h[2].get("host", "").lower()
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    for pat, name in table:
        if match(pat.lower(), host) and name in req.names:
            return name
    return "keep"


td.run(decide)
