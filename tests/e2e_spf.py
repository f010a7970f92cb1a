#!/usr/bin/env python3
"""tests/e2e_spf.py: SPF (RFC 7208) at MAIL on the mx listener, end to end.

A sandboxed nsd serves a test. zone behind the question log of
e2e_outlib.OutEnv; kantorpos-smtpd asks it (dns_resolver). Each sender
domain's record gives one result for the client 127.0.0.1: pass through
ip4, a, mx, include, redirect and an exists: with macros; fail (with and
without exp=, and a macro name the resolver refuses), softfail, neutral,
none, permerror (two records, a syntax error) and temperror (a name the
DNS never answers); the null sender checks the HELO identity. For each,
the MAIL reply with spf_reject no (never refused) and, after a reload
(SIGHUP), with spf_reject yes (fail 550 5.7.23 with the explanation,
temperror 451 4.4.3), and the Received-SPF field of the delivered
message read back from the Maildir: its result and its client-ip,
envelope-from, helo and identity. A slow check holds only its own
session, and one that needs over 20 s of DNS answers is cut there
(temperror). Authenticated submission and trusted_networks are not checked:
no field, no DNS question.

Prints one line per test and "N passed, N failed, N skipped"."""

import email
import email.policy
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
ip4 TXT "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.1 -all"
a TXT "v=spf1 a -all"
a A 127.0.0.1
mx TXT "v=spf1 mx -all"
mx MX 10 host.mx
host.mx A 127.0.0.1
incl TXT "v=spf1 include:ip4.test -all"
redir TXT "v=spf1 redirect=ip4.test"
macro TXT "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all"
1.0.0.127.in-addr._spf.macro A 127.0.0.2
users TXT "v=spf1 exists:%{l}.list.%{d} -all"
bob.list.users A 127.0.0.2
fail TXT "v=spf1 ip4:192.0.2.1 -all"
failexp TXT "v=spf1 -all exp=why.failexp.test"
why.failexp TXT "%{i} may not send for %{d}"
soft TXT "v=spf1 ~all"
neutral TXT "v=spf1 ?all"
none A 127.0.0.5
two TXT "v=spf1 +all"
two TXT "v=spf1 -all"
syntax TXT "v=spf1 ip4:127.0.0.1/40 -all"
slowinc TXT "v=spf1 include:slow.test -all"
helo-pass TXT "v=spf1 ip4:127.0.0.1 -all"
helo-fail TXT "v=spf1 -all"
many TXT "v=spf1 mx:m1.many.test mx:m2.many.test mx:m3.many.test -all"
""" + "".join("m%d.many MX %d h%d.m%d.many\nh%d.m%d.many A 192.0.2.%d\n"
              % (m, h, h, m, h, m, h) for m in (1, 2, 3) for h in range(10))
# The MX and A questions of many.test's hosts, each answered 0.8 s late:
# the check needs over 26 s and is cut at 20.
SLOW_NAMES = ["m%d.many.test" % m for m in (1, 2, 3)] + [
    "h%d.m%d.many.test" % (h, m) for m in (1, 2, 3) for h in range(10)]

# sender, HELO, result, MAIL reply with spf_reject yes (code, enhanced)
CASES = [
    ("s@ip4.test", "client.test", "pass", (250, None)),
    ("s@a.test", "client.test", "pass", (250, None)),
    ("s@mx.test", "client.test", "pass", (250, None)),
    ("s@incl.test", "client.test", "pass", (250, None)),
    ("s@redir.test", "client.test", "pass", (250, None)),
    ("s@macro.test", "client.test", "pass", (250, None)),
    ("bob@users.test", "client.test", "pass", (250, None)),
    ("carol@users.test", "client.test", "fail", (550, "5.7.23")),
    # %{l} gives "x+y", which no DNS name may hold: NXDOMAIN, no match.
    ("x+y@users.test", "client.test", "fail", (550, "5.7.23")),
    ("s@fail.test", "client.test", "fail", (550, "5.7.23")),
    ("s@failexp.test", "client.test", "fail", (550, "5.7.23")),
    ("s@soft.test", "client.test", "softfail", (250, None)),
    ("s@neutral.test", "client.test", "neutral", (250, None)),
    ("s@none.test", "client.test", "none", (250, None)),
    ("s@two.test", "client.test", "permerror", (250, None)),
    ("s@syntax.test", "client.test", "permerror", (250, None)),
    ("", "helo-pass.test", "pass", (250, None)),
    ("", "helo-fail.test", "fail", (550, "5.7.23")),
]
SLOW = ("s@slowinc.test", "client.test", "temperror", (451, "4.4.3"))

ENV = None
SEQ = [0]


class SpfEnv(out.OutEnv):
    def __init__(self):
        super().__init__([("test.", ZONE)], prefix="spf")
        self.dns.blackhole.add("slow.test")
        for name in SLOW_NAMES:
            self.dns.delay[name] = 0.8


def maildir():
    return os.path.join(ENV.data, "mail", DOMAIN, "alice", "new")


def stored(token):
    """The message in alice's Maildir whose Subject holds token."""
    d = maildir()
    for name in os.listdir(d) if os.path.isdir(d) else ():
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        if token.encode() in data:
            return data
    return None


def send(sender, helo, port=None, login=False, data=True):
    """MAIL FROM:<sender> after EHLO helo (on the mx listener, or port),
    and when MAIL got 250 the message to alice. Returns (code, text,
    token of the Subject)."""
    SEQ[0] += 1
    token = "spf-test-%d-%d" % (os.getpid(), SEQ[0])
    s = smtplib.SMTP("127.0.0.1", port or ENV.out_port, timeout=60)
    try:
        s.ehlo(helo)
        if login:
            s.login("alice@" + DOMAIN, PASSWORD)
        code, text = s.mail(sender)
        if code == 250 and data:
            assert s.rcpt("alice@" + DOMAIN)[0] == 250
            msg = ("From: <%s>\r\nTo: <alice@%s>\r\nSubject: %s\r\n\r\n"
                   "hello\r\n" % (sender or "mailer-daemon@x.test", DOMAIN,
                                  token))
            assert s.data(msg)[0] == 250
        return code, text.decode(), token
    finally:
        s.close()


def parse_received_spf(value):
    """(result, comment, {key: value}) of a Received-SPF value (RFC 7208
    §9.1), unfolded."""
    v = re.sub(r"\r?\n", "", value).strip()
    m = re.match(r"([a-z]+)\s*", v)
    assert m, v
    result, pos, comment = m.group(1), m.end(), ""
    if v[pos:pos + 1] == "(":
        depth, i = 0, pos
        while True:
            c = v[i]
            if c == "\\":
                i += 2
                continue
            depth += c == "("
            depth -= c == ")"
            i += 1
            if depth == 0:
                break
        comment, pos = v[pos + 1:i - 1], i
    pairs = {}
    for m in re.finditer(r'\s*([A-Za-z0-9_.-]+)\s*=\s*'
                         r'("(?:\\.|[^"\\])*"|[^;\s]+)\s*;?', v[pos:]):
        val = m.group(2)
        if val.startswith('"'):
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        pairs[m.group(1)] = val
    return result, comment, pairs


def field_of(token):
    """The Received-SPF field of the stored message (None: none), checking
    that it stands above our Received field."""
    data = None
    for _ in range(50):
        data = stored(token)
        if data is not None:
            break
        time.sleep(0.1)
    assert data is not None, "message %s not stored" % token
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    fields = msg.get_all("Received-SPF") or []
    if not fields:
        return None
    assert len(fields) == 1, fields
    names = [k.lower() for k in msg.keys()]
    assert names.index("received-spf") < names.index("received"), names
    return parse_received_spf(fields[0])


def check_field(token, sender, helo, result):
    got = field_of(token)
    assert got is not None, "no Received-SPF for " + sender
    res, comment, kv = got
    assert res == result, (sender, res, comment, kv)
    assert kv.get("client-ip") == "127.0.0.1", kv
    assert kv.get("helo") == helo, kv
    assert kv.get("receiver") == "mx.example.test", kv
    if sender:
        assert kv.get("envelope-from") == sender, kv
        assert kv.get("identity") == "mailfrom", kv
    else:
        assert "envelope-from" not in kv, kv
        assert kv.get("identity") == "helo", kv
    return kv


@test
def whole_check_cut_at_20_seconds():
    # First: after the unanswered questions of the tests below, the
    # resolver waits less for this server.
    started = time.time()
    code, text, token = send("s@many.test", "client.test")
    took = time.time() - started
    assert code == 250, (code, text)
    assert 19 < took < 26, took
    kv = check_field(token, "s@many.test", "client.test", "temperror")
    assert kv.get("problem") == "took too long", kv
    assert re.search(r"spf check of s@many\.test took over 20 s",
                     ENV.log_text())


@test
def spf_reject_no_never_refuses_and_records():
    for sender, helo, result, _ in CASES:
        code, text, token = send(sender, helo)
        assert code == 250, (sender, code, text)
        kv = check_field(token, sender, helo, result)
        if sender == "s@fail.test":
            assert kv.get("mechanism") == "-all", kv
        if result == "permerror":
            assert kv.get("problem"), kv
    assert re.search(r"spf=softfail", ENV.log_text())
    assert ENV.dns.asked("1.0.0.127.in-addr._spf.macro.test", "A")
    assert ENV.dns.asked("bob.list.users.test", "A")


@test
def slow_check_is_temperror_and_blocks_nobody():
    got = {}

    def slow():
        got["slow"] = send(SLOW[0], SLOW[1])

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    started = time.time()
    code, text, token = send("s@ip4.test", "client.test")
    quick = time.time() - started
    assert code == 250 and quick < 3, (code, text, quick)
    t.join(40)
    assert not t.is_alive(), "the slow session never ended"
    code, text, token = got["slow"]
    assert code == 250, (code, text)
    kv = check_field(token, SLOW[0], SLOW[1], "temperror")
    assert kv.get("problem"), kv


@test
def spf_reject_yes_refuses_fail_only():
    ENV.reload("spf_reject yes")
    for sender, helo, result, (want, enh) in CASES:
        code, text, token = send(sender, helo)
        assert code == want, (sender, result, code, text)
        if enh is not None:
            assert text.startswith(enh), (sender, text)
            continue
        check_field(token, sender, helo, result)
    code, text, _ = send("s@failexp.test", "client.test", data=False)
    assert text == "5.7.23 127.0.0.1 may not send for failexp.test", text
    code, text, _ = send("s@fail.test", "client.test", data=False)
    assert text == ("5.7.23 SPF: fail.test does not designate 127.0.0.1 "
                    "as permitted sender"), text
    assert re.search(r"reject stage=MAIL .*code=550", ENV.log_text())


@test
def spf_reject_yes_temperror_is_451():
    code, text, _ = send(SLOW[0], SLOW[1], data=False)
    assert code == 451 and text.startswith("4.4.3"), (code, text)


@test
def submission_not_checked():
    before = ENV.dns.asked(DOMAIN, "TXT")
    code, text, token = send("alice@" + DOMAIN, "client.test",
                             port=ENV.sub_port, login=True)
    assert code == 250, (code, text)
    assert field_of(token) is None
    assert ENV.dns.asked(DOMAIN, "TXT") == before


@test
def trusted_networks_not_checked():
    ENV.reload("spf_reject yes\ntrusted_networks 127.0.0.0/8")
    code, text, token = send("s@trusted-only.test", "client.test")
    assert code == 250, (code, text)
    assert field_of(token) is None
    assert ENV.dns.asked("trusted-only.test") == 0
    code, text, _ = send("other@fail.test", "client.test", data=False)
    assert code == 250, (code, text)
    ENV.reload("spf_reject yes")
    code, text, _ = send("third@fail.test", "client.test", data=False)
    assert code == 550, (code, text)


if __name__ == "__main__":
    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd)")
        sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], SpfEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
