#!/usr/bin/env python3
"""tests/e2e_nullmx.py: the null MX of RFC 7505 at SMTP time, end to end.

A sandboxed nsd serves a test. zone behind the question log of
e2e_outlib.OutEnv; kantorpos-smtpd asks it (dns_resolver). The cases:
O-NMX-03, MAIL on the mx listener from a domain whose only MX is "."
gets 550 5.7.27 (reject_null_mx_sender, on by default), and a "." among
real MX records, a domain without MX, the null sender and a DNS failure
(an unanswered question, a refused one) let the mail in; the wait for
an unanswered question holds only its own session (another one gets its
250 meanwhile); reject_null_mx_sender no and trusted_networks turn the
check off, each through a reload (SIGHUP) that also replaces the
resolver; O-NMX-02, RCPT on submission to a null-MX domain gets 556
5.1.10 at once and nothing is queued.

Prints one line per test and "N passed, N failed, N skipped"."""

import os
import re
import shutil
import smtplib
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
import e2e_outlib as out  # noqa: E402
from e2e_lib import test  # noqa: E402
from e2e_outlib import DOMAIN, PASSWORD  # noqa: E402

ZONE = """$ORIGIN test.
$TTL 30
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 30
@ NS ns
ns A 127.0.0.1
nullmx MX 0 .
mixed MX 0 .
mixed MX 10 a.mixed
a.mixed A 127.0.0.2
good MX 10 mx.good
mx.good A 127.0.0.3
aonly A 127.0.0.4
"""

ENV = None


class NullMxEnv(out.OutEnv):
    def __init__(self):
        super().__init__([("test.", ZONE)], prefix="nullmx")
        self.dns.blackhole.add("silent.test")


def mail_from(sender, port=None, login=False):
    """(code, text) of MAIL FROM:<sender> on the mx listener (or port),
    and of RCPT TO alice when MAIL got 250."""
    s = smtplib.SMTP("127.0.0.1", port or ENV.out_port, timeout=30)
    try:
        s.ehlo("client.test")
        if login:
            s.login("alice@" + DOMAIN, PASSWORD)
        code, text = s.mail(sender)
        rcpt = s.rcpt("alice@" + DOMAIN) if code == 250 else None
        return code, text.decode(), rcpt
    finally:
        s.close()


@test
def null_mx_sender_refused():
    code, text, _ = mail_from("someone@nullmx.test")
    assert code == 550 and text.startswith("5.7.27"), (code, text)
    assert "null MX" in text, text
    assert re.search(r"null MX sender=nullmx\.test", ENV.log_text())
    assert ENV.dns.asked("nullmx.test", "MX")


@test
def other_senders_pass():
    for sender in ("someone@good.test", "someone@mixed.test",
                   "someone@aonly.test", "someone@nxdomain.test", ""):
        code, text, rcpt = mail_from(sender)
        assert code == 250, (sender, code, text)
        assert rcpt[0] == 250, (sender, rcpt)


@test
def dns_failure_lets_mail_in_and_blocks_nobody():
    got = {}

    def slow():
        got["slow"] = mail_from("someone@silent.test")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    started = time.time()
    code, _, _ = mail_from("someone@good.test")
    quick = time.time() - started
    t.join(40)
    assert code == 250 and quick < 3, (code, quick)
    assert not t.is_alive() and got["slow"][0] == 250, got
    # A refused question (a zone nsd does not serve): a failure too.
    code, text, _ = mail_from("someone@elsewhere.example")
    assert code == 250, (code, text)


@test
def submission_rcpt_to_null_mx_refused_at_once():
    s = smtplib.SMTP("127.0.0.1", ENV.sub_port, timeout=30)
    try:
        s.ehlo("client.test")
        s.login("alice@" + DOMAIN, PASSWORD)
        assert s.mail("alice@" + DOMAIN)[0] == 250
        code, text = s.rcpt("bob@nullmx.test")
        assert code == 556 and text.startswith(b"5.1.10"), (code, text)
        code, text = s.rcpt("bob@good.test")
        assert code == 250, (code, text)
        s.rset()
    finally:
        s.close()
    assert "nullmx.test" not in ENV.queue_list()


@test
def reject_null_mx_sender_no_after_reload():
    ENV.reload("reject_null_mx_sender no")
    code, text, _ = mail_from("someone@nullmx.test")
    assert code == 250, (code, text)


@test
def trusted_networks_not_checked():
    ENV.reload("trusted_networks 127.0.0.0/8")
    code, text, _ = mail_from("other@nullmx.test")
    assert code == 250, (code, text)
    ENV.reload("")
    code, text, _ = mail_from("third@nullmx.test")
    assert code == 550, (code, text)


if __name__ == "__main__":
    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd)")
        sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], NullMxEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
