#!/usr/bin/env python3
"""tests/e2e_fds.py: 10,000 connections opened and closed leave no file
descriptor behind in kantorpos-pop3d (counted in /proc/PID/fd): greeted
ones, ones cut before the greeting was read, ones closed after a command,
and ones refused over max_connections_per_ip. No timing is measured."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import test  # noqa: E402

ENV = None
ROUNDS = 10000


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


@test
def ten_thousand_connections_leave_no_fds():
    pid = ENV.proc.pid
    # One connection first, so that whatever the first client allocates
    # once (log file, caches) is in the baseline.
    s = socket.create_connection(("127.0.0.1", ENV.p_plain), 5)
    s.recv(512)
    s.close()
    time.sleep(0.2)
    base = fd_count(pid)
    srcs = ["127.0.0.%d" % i for i in range(100, 140)]
    batch = []
    for i in range(ROUNDS):
        s = socket.create_connection(("127.0.0.1", ENV.p_plain), 5,
                                     source_address=(srcs[i % len(srcs)], 0))
        kind = i % 4
        if kind == 1:
            s.recv(512)          # greeted, then gone
        elif kind == 2:
            s.recv(512)
            s.sendall(b"CAPA\r\n")  # mid-session
        batch.append(s)
        # Up to 8 per source address are open at once: some are refused
        # over max_connections_per_ip, which must not leak either.
        if len(batch) >= 8 * len(srcs) // 4:
            for c in batch:
                c.close()
            batch = []
    for c in batch:
        c.close()
    deadline = time.time() + 20
    while fd_count(pid) > base and time.time() < deadline:
        time.sleep(0.1)
    now = fd_count(pid)
    assert now <= base, "fds before %d, after %d" % (base, now)
    assert ENV.proc.poll() is None, "the daemon ended"


if __name__ == "__main__":
    sys.exit(lib.main(sys.modules[__name__]))
