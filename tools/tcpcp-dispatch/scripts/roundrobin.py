#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Round robin over the back ends the dispatcher lists (or those named as
arguments, in that order)."""
import sys
import tcpcp_dispatch as td

order = sys.argv[1:]
n = 0


def decide(req):
    global n
    names = [x for x in order if x in req.names] if order else req.names
    if not names:
        return "keep"
    n += 1
    return names[(n - 1) % len(names)]


td.run(decide)
