#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Least connections.  With -d DIR each back end's current connection count
is read from the file DIR/NAME (kept up to date by the back end or an agent
on it; a missing file counts as 0); without it the dispatcher's own counts
stand in (moves in flight, then connections moved there so far), which is
the least-connections order only while connections live equally long."""
import os
import sys
import tcpcp_dispatch as td

load_dir = None
if sys.argv[1:2] == ["-d"] and len(sys.argv) > 2:
    load_dir = sys.argv[2]


def load(b):
    if load_dir:
        try:
            with open(os.path.join(load_dir, b.name)) as f:
                return (int(f.read().split()[0]) + b.inflight, b.moved)
        except (OSError, ValueError, IndexError):
            return (b.inflight, b.moved)
    return (b.inflight, b.moved)


def decide(req):
    if not req.backends:
        return "keep"
    return min(req.backends, key=load).name


td.run(decide)
