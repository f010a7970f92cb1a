#!/usr/bin/env python3
"""tests/e2e_fds.py: 10,000 connections opened and closed leave no file
descriptor behind (counted in /proc/PID/fd), in kantorpos-pop3d and in
kantorpos-smtpd. pop3d: greeted ones, ones cut before the greeting was
read, ones closed after a command, and ones refused over
max_connections_per_ip. smtpd: whole transactions (their messages must be
in the Maildir, and nothing left in tmp/), ones cut in the middle of DATA,
ones that QUIT after the greeting, ones that just go, and refused ones.
No timing is measured; socket timeouts and a generous deadline only keep
a broken daemon from hanging the suite."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import test  # noqa: E402

ENV = None
ROUNDS = 10000
# Only a hang guard: a healthy run takes a small fraction of it.
DEADLINE = 240


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def baseline(pid, port):
    """The daemon's fd count after one greeted connection, so that what
    the first client allocates once (log file, caches) is counted in."""
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.recv(512)
    s.close()
    time.sleep(0.2)
    return fd_count(pid)


def settle(pid, base):
    """Wait (bounded) for the daemon to finish its closes; the count."""
    deadline = time.time() + 20
    while fd_count(pid) > base and time.time() < deadline:
        time.sleep(0.1)
    return fd_count(pid)


class Held:
    """Connections held open, up to 8 per source address at once: some are
    refused over max_connections_per_ip (4), which must not leak either."""

    def __init__(self, srcs):
        self.limit = 8 * len(srcs)
        self.socks = []

    def add(self, s):
        self.socks.append(s)
        if len(self.socks) >= self.limit:
            self.close()

    def close(self):
        for c in self.socks:
            c.close()
        self.socks = []


@test
def ten_thousand_connections_leave_no_fds():
    pid = ENV.proc.pid
    base = baseline(pid, ENV.p_plain)
    srcs = ["127.0.0.%d" % i for i in range(100, 140)]
    held = Held(srcs)
    for i in range(ROUNDS):
        s = socket.create_connection(("127.0.0.1", ENV.p_plain), 5,
                                     source_address=(srcs[i % len(srcs)], 0))
        kind = i % 4
        if kind == 1:
            s.recv(512)          # greeted, then gone
        elif kind == 2:
            s.recv(512)
            s.sendall(b"CAPA\r\n")  # mid-session
        held.add(s)
    held.close()
    now = settle(pid, base)
    assert now <= base, "fds before %d, after %d" % (base, now)
    assert ENV.proc.poll() is None, "the daemon ended"


# ---- kantorpos-smtpd --------------------------------------------------------

SMTP_USERS = ["alice", "bob", "carol", "dave"]
BODY = b"".join(b"line %d of the message\r\n" % n for n in range(40))


def smtp_reply(f):
    """Read one SMTP reply, every line of it; returns its code."""
    while True:
        ln = f.readline(1024)
        if len(ln) < 4 or not ln.endswith(b"\r\n"):
            raise EOFError("short reply %r" % ln)
        if ln[3:4] != b"-":
            return int(ln[:3])


def smtp_step(s, f, line, want):
    s.sendall(line)
    code = smtp_reply(f)
    assert code == want, "%r: %d, wanted %d" % (line, code, want)


def smtp_session(s, kind, n):
    """Talk on a fresh connection; returns 1 when a message was accepted.
    kind 0: a whole transaction; 1: cut in the middle of DATA; 2: QUIT
    after the greeting; 3: gone after the greeting."""
    f = s.makefile("rb")
    try:
        code = smtp_reply(f)
        if code == 421:
            return 0             # refused over max_connections_per_ip
        assert code == 220, code
        if kind == 3:
            return 0
        if kind == 2:
            smtp_step(s, f, b"QUIT\r\n", 221)
            return 0
        user = SMTP_USERS[n % len(SMTP_USERS)]
        smtp_step(s, f, b"EHLO client.elsewhere.test\r\n", 250)
        smtp_step(s, f, b"MAIL FROM:<sender@elsewhere.test>\r\n", 250)
        smtp_step(s, f, b"RCPT TO:<%s@%s>\r\n" % (
            user.encode(), lib.DOMAIN.encode()), 250)
        smtp_step(s, f, b"DATA\r\n", 354)
        head = b"From: sender@elsewhere.test\r\nSubject: fds %d\r\n\r\n" % n
        if kind == 1:
            s.sendall(head + BODY[:len(BODY) // 2])
            return 0
        smtp_step(s, f, head + BODY + b".\r\n", 250)
        smtp_step(s, f, b"QUIT\r\n", 221)
        return 1
    finally:
        f.close()


def maildir_files(sub):
    return sum(len(os.listdir(os.path.join(ENV.maildir(u), sub)))
               for u in SMTP_USERS
               if os.path.isdir(os.path.join(ENV.maildir(u), sub)))


@test
def smtpd_ten_thousand_connections_leave_no_fds():
    proc = ENV.start_smtpd()
    pid = proc.pid
    base = baseline(pid, ENV.p_smtp)
    before = maildir_files("new")
    talk_srcs = ["127.0.0.%d" % i for i in range(150, 190)]
    srcs = ["127.0.0.%d" % i for i in range(190, 230)]
    accepted = 0
    held = Held(srcs)
    end = time.time() + DEADLINE
    for i in range(ROUNDS):
        assert time.time() < end, "stuck after %d connections" % i
        kind = i % 20
        if kind < 4:
            # One in 20 each: a whole transaction, a cut DATA, a QUIT, a
            # greeting and gone, one at a time from addresses of their
            # own, so they are rarely refused.
            s = socket.create_connection(
                ("127.0.0.1", ENV.p_smtp), 5,
                source_address=(talk_srcs[i % len(talk_srcs)], 0))
            accepted += smtp_session(s, kind, i)
            s.close()
            continue
        # The rest just connect and go, without reading the greeting.
        held.add(socket.create_connection(
            ("127.0.0.1", ENV.p_smtp), 5,
            source_address=(srcs[i % len(srcs)], 0)))
    held.close()
    now = settle(pid, base)
    assert now <= base, "fds before %d, after %d" % (base, now)
    assert proc.poll() is None, "the daemon ended"
    assert accepted > ROUNDS // 20 // 2, "only %d accepted" % accepted
    assert maildir_files("new") - before == accepted, (
        "%d accepted, %d stored" % (accepted, maildir_files("new") - before))
    # The cut ones left no half-written file behind.
    assert maildir_files("tmp") == 0, maildir_files("tmp")


if __name__ == "__main__":
    sys.exit(lib.main(sys.modules[__name__],
                      lambda: lib.Env(smtp=True)))
