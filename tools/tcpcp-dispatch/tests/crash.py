#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A dispatch script that misbehaves on cue, by URL path: /crash exits
without answering, /stall stops answering, /garbage answers nonsense, /bad
names no back end; anything else goes to the first back end."""
import sys
import time
sys.path.insert(0, sys.argv[1])
import tcpcp_dispatch as td  # noqa: E402


def decide(req):
    h = req.http()
    path = h[1] if h else ""
    if path.startswith("/crash"):
        sys.exit(3)
    if path.startswith("/stall"):
        time.sleep(3600)
    if path.startswith("/garbage"):
        sys.stdout.write("what?\n")
    if path.startswith("/bad"):
        return "nosuchbackend"
    return req.names[0]


td.run(decide)
