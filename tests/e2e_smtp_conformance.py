#!/usr/bin/env python3
"""tests/e2e_smtp_conformance.py: the SMTP conformance rows that need the
real daemon over TCP and TLS, real timers or a real crash (the dialogue rows
are in tests/test_smtp_session.c). Reuses the daemon and raw client of
tests/e2e_smtp.py. Prints one line per test and a final "N passed, N
failed"; exits non-zero on any failure."""

import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_smtp as base  # noqa: E402
from e2e_smtp import Daemon, Raw, client_ctx, envelope, plain_ir  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def injection_after_starttls(d):
    """X-INJ-01/02, S-TLS-03, S-TLS-04: nothing pipelined behind STARTTLS
    runs; after the handshake everything before it is forgotten."""
    r = Raw(d.mx)
    r.reply()
    r.cmd("EHLO c.example")
    r.send("STARTTLS\r\nMAIL FROM:<inject2@evil.example>\r\n"
           "RCPT TO:<alice@example.test>\r\n")
    assert r.reply()[0].startswith("220 2.0.0")
    r.sock = client_ctx().wrap_socket(r.sock, server_hostname="localhost")
    r.buf = b""
    assert r.nothing_pending(), "injected commands were answered"
    assert r.cmd("RCPT TO:<alice@example.test>")[0].startswith("503 5.5.1")
    ehlo = r.cmd("EHLO c.example")
    assert not any("STARTTLS" in x for x in ehlo), ehlo
    assert r.cmd("STARTTLS")[0][:3] in ("503", "554")
    r.close()
    assert "inject2@evil.example" not in d.logtext()


@test
def tls_versions_on_submissions(d):
    """S-TLS-08: implicit TLS first, then 220; TLS 1.2 minimum."""
    ctx = client_ctx()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", d.subs), 5) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.version() in ("TLSv1.2", "TLSv1.3"), t.version()
            assert t.recv(100).startswith(b"220 mx.example.test")
    old = client_ctx()
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        return  # this OpenSSL cannot even offer TLS 1.1
    with socket.create_connection(("127.0.0.1", d.subs), 5) as s:
        try:
            old.wrap_socket(s, server_hostname="localhost").recv(10)
            raise AssertionError("TLS 1.1 was accepted")
        except (ssl.SSLError, ConnectionError, OSError):
            pass


@test
def auth_refused_before_tls_alike(d):
    """S-AUT-09, X-BRU-03: before TLS on submission no mechanism is
    offered and right and wrong passwords get the same reply."""
    r = Raw(d.sub)
    r.reply()
    ehlo = r.cmd("EHLO c.example")
    assert not any("AUTH" in x for x in ehlo), ehlo
    good = r.cmd("AUTH PLAIN " + plain_ir())
    bad = r.cmd("AUTH PLAIN " + plain_ir(pw=b"nope"))
    login = r.cmd("AUTH LOGIN")
    assert good == bad and good[0].startswith("538 5.7.11"), (good, bad)
    assert login[0].startswith("538 5.7.11"), login
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith(
        "530 5.7.0 Must issue a STARTTLS command first")
    for cmd in ("NOOP", "EHLO c.example"):
        assert r.cmd(cmd)[-1].startswith("250"), cmd
    r.starttls()
    r.close()


@test
def slowloris_timer_from_last_line(d, small):
    """X-DOS-01, S-LIM-01: a byte now and then without a CRLF does not
    keep the session: 421 4.4.2 once the command timer (2 s) runs out."""
    r = Raw(small.mx, source="127.0.0.4")
    r.reply()
    start = time.time()
    r.sock.settimeout(0.3)
    got = b""
    while time.time() - start < 8 and b"\r\n" not in got:
        try:
            r.sock.send(b"N")
        except OSError:
            break
        try:
            got += r.sock.recv(200)
        except socket.timeout:
            pass
        except OSError:
            break
    assert got.startswith(b"421 4.4.2"), got
    assert time.time() - start < 6, time.time() - start
    r.close()


@test
def many_idle_connections(d, small):
    """X-DOS-03 (scaled to 200): idle clients do not delay a fresh one."""
    idle = []
    try:
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", d.mx), 5,
                                         source_address=("127.0.0.%d" % (10 + i % 40), 0))
            idle.append(s)
        t = time.time()
        r = Raw(d.mx, source="127.0.0.60")
        assert r.reply()[0].startswith("220")
        assert time.time() - t < 1.0, time.time() - t
        r.close()
    finally:
        for s in idle:
            s.close()


@test
def kill_after_250_keeps_the_message(d, small):
    """S-DAT-12: kill -9 right after the 250; the message is there."""
    r = Raw(small.mx, source="127.0.0.5")
    r.reply()
    envelope(r, rcpt="bob@example.test")
    r.send("DATA\r\n")
    assert r.reply()[0].startswith("354")
    r.send("Subject: durable\r\n\r\nkeep me\r\n.\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    small.proc.send_signal(signal.SIGKILL)
    small.proc.wait()
    r.close()
    found = [p for p in small.messages("bob")
             if b"keep me" in open(p, "rb").read()]
    assert len(found) == 1, small.messages("bob")


def main():
    if not os.access(base.SMTPD, os.X_OK):
        print(f"kantorpos-smtpd not built at {base.SMTPD}")
        return 1
    top = base.make_test_dir("kp-e2e-smtpconf-")
    try:
        d = Daemon(top, "main", "smtp_timeout 30s\nmax_connections_per_ip 50\n")
        small = Daemon(top, "small", "smtp_timeout 2s\n")
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    return base.run_tests(TESTS, (d, small))


if __name__ == "__main__":
    sys.exit(main())
