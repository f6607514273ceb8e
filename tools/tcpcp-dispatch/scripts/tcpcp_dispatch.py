# SPDX-License-Identifier: GPL-2.0
"""Helpers for tcpcp-dispatch scripts (tcpcp-dispatch-script(7)).

A script reads one request per line on stdin and writes one answer per
line on stdout:

    ID CLIENT-ADDR CLIENT-PORT SERVICE-ADDR SERVICE-PORT PREFIX NAME:INFLIGHT:MOVED...
    ID NAME | ID keep | ID reject

run(decide) does the loop: decide(req) gets a Request and returns a back-end
name, "keep" or "reject" (None means keep).  Only the standard library.
"""
import os
import sys
import urllib.parse


class Backend:
    def __init__(self, tok):
        self.name, inflight, moved = tok.rsplit(":", 2)
        self.inflight = int(inflight)
        self.moved = int(moved)


class Request:
    def __init__(self, line):
        f = line.split()
        if len(f) < 6:
            raise ValueError("short request line")
        self.id = f[0]
        self.client = (f[1], int(f[2]))
        self.service = (f[3], int(f[4]))
        self.prefix = b"" if f[5] == "-" else urllib.parse.unquote_to_bytes(f[5])
        self.backends = [Backend(t) for t in f[6:]]
        self.names = [b.name for b in self.backends]

    def http(self):
        """(method, path, headers with lower-case names) or None"""
        head = self.prefix.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            return None
        hdrs = {}
        for l in lines[1:]:
            k, sep, v = l.partition(b":")
            if sep:
                hdrs[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
        return parts[0].decode("latin-1"), parts[1].decode("latin-1"), hdrs


def rules(args):
    """KEY=NAME arguments as a list of (key, name)"""
    out = []
    for a in args:
        k, sep, v = a.rpartition("=")
        if not sep:
            sys.exit("argument %r is wrong: KEY=NAME expected" % a)
        out.append((k, v))
    return out


def _answer(decide, line, out):
    line = line.strip()
    if not line:
        return
    try:
        req = Request(line)
    except ValueError as e:
        print("tcpcp-dispatch script: %s" % e, file=sys.stderr)
        return
    ans = decide(req)
    out.append("%s %s\n" % (req.id, ans or "keep"))


def _write(out):
    """The answers in one write (more only if the pipe takes less)"""
    sys.stdout.flush()  # what decide() printed itself goes first
    data = os.fsencode("".join(out))
    del out[:]
    while data:
        data = data[os.write(1, data):]


def run(decide):
    """Answer the requests on stdin until its end.  All the complete lines
    one read brings are answered, then written together: one write, not
    one per line (whatever sys.stdout's buffering is)."""
    tail = b""
    out = []
    try:
        while True:
            data = os.read(0, 1 << 16)
            if not data:
                break
            lines = (tail + data).split(b"\n")
            tail = lines.pop()
            for line in lines:
                _answer(decide, os.fsdecode(line), out)
            _write(out)
        if tail:
            _answer(decide, os.fsdecode(tail), out)
    finally:
        # also when decide() raises: what was answered still goes out
        _write(out)
