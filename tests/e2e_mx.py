#!/usr/bin/env python3
"""tests/e2e_mx.py: direct delivery to MX hosts end to end, on loopback.

A sandboxed nsd serves a test. zone the test writes, behind a relay that
records every question (e2e_outlib.OutEnv); kantorpos-smtpd gets the relay
as dns_resolver. The MX hosts are SMTP sinks on 127.0.0.2 ... 127.0.0.254 at
outbound_port, each answering as its test wants (refusing the connection,
a 554 greeting, 550 or 450 for some recipients, dropping the connection
after 354, answering slowly). Mail comes in through a submission login.

One test per rule: MX order and the fallback when the best MX refuses
(every address of it tried, IPv6 and IPv4; EHLO with the host name), a
refused host skipped by later mail, equal preferences spread, the implicit
MX, null MX (a bounce and no A/AAAA question), NXDOMAIN, mail that loops
back to this host (by name and by address), a CNAME loop, a CNAME to a
domain with MX, 25 MX records (the best 20), a DNS timeout (deferred
4.4.3), 452 for recipients beyond a server's limit (a new transaction at
once), a DSN to a null-MX sender (dropped), per-recipient 5xx/4xx in one
message, one transaction per domain, a 5xx greeting skipped, connection
reuse, the limits of outbound_concurrency and outbound_max_sessions, a
drop after 354 (the message stays queued and intact), a slow host, the hop
limit, unauthenticated relaying refused, and a sandboxed Postfix receiving
over STARTTLS (e2e_postfix.start_postfix), byte-exact.

Prints one line per test and "N passed, N failed, N skipped"."""

import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
import e2e_outlib as out  # noqa: E402
from e2e_lib import Skip, free_port, test  # noqa: E402
from e2e_outlib import DOMAIN, PASSWORD, message, status_of  # noqa: E402

ZONE = """$ORIGIN test.
$TTL 30
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 30
@ NS ns
ns A 127.0.0.1
; order and fallback: a refuses on both its addresses, b takes the mail
remote MX 10 a.remote
remote MX 20 b.remote
a.remote AAAA ::1
a.remote A 127.0.0.2
b.remote A 127.0.0.3
; equal preferences
spread MX 10 s1.spread
spread MX 10 s2.spread
s1.spread A 127.0.0.4
s2.spread A 127.0.0.5
; no MX: the implicit MX
aonly A 127.0.0.6
; null MX (RFC 7505); its address must never be asked for
nullmx MX 0 .
nullmx A 127.0.0.99
; loops: a CNAME loop; this host as the best MX, by name and by address
loop CNAME loop2
loop2 CNAME loop
selfmx MX 10 mx.example.test.
selfmx MX 20 b.remote
selfaddr MX 10 me.selfaddr
me.selfaddr A 127.0.0.1
; per-recipient results
mixed MX 10 mx.mixed
mx.mixed A 127.0.0.7
; connection reuse
reuse MX 10 mx.reuse
mx.reuse A 127.0.0.8
; the connection dropped after 354
drop MX 10 mx.drop
mx.drop A 127.0.0.10
; a 5xx greeting is skipped
greet MX 10 g1.greet
greet MX 20 g2.greet
g1.greet A 127.0.0.11
g2.greet A 127.0.0.12
; a host that answers too slowly
slow MX 10 mx.slow
mx.slow A 127.0.0.13
; a CNAME to a domain with MX records
alias CNAME remote
; a host that takes two recipients a transaction
many MX 10 mx.many
mx.many A 127.0.0.14
; the relay never answers questions about dead.test (a DNS timeout)
dead MX 10 mx.dead
mx.dead A 127.0.0.15
; 25 MX records: the best 20 are used
big MX 1 h1.big
big MX 2 h2.big
big MX 3 h3.big
big MX 4 h4.big
big MX 5 h5.big
big MX 6 h6.big
big MX 7 h7.big
big MX 8 h8.big
big MX 9 h9.big
big MX 10 h10.big
big MX 11 h11.big
big MX 12 h12.big
big MX 13 h13.big
big MX 14 h14.big
big MX 15 h15.big
big MX 16 h16.big
big MX 17 h17.big
big MX 18 h18.big
big MX 19 h19.big
big MX 20 h20.big
big MX 21 h21.big
big MX 22 h22.big
big MX 23 h23.big
big MX 24 h24.big
big MX 25 h25.big
h1.big A 127.0.0.3
; concurrency
conc1 MX 10 mx.conc1
mx.conc1 A 127.0.0.16
conc2 MX 10 mx.conc2
mx.conc2 A 127.0.0.17
; Postfix
dest MX 10 pf.dest
pf.dest A 127.0.0.9
"""


class MxEnv(out.OutEnv):
    """OutEnv with this test's zone and sinks."""

    def __init__(self):
        super().__init__([("test.", ZONE)], prefix="mx")
        self.sink("127.0.0.3")
        self.sink("127.0.0.4")
        self.sink("127.0.0.5")
        self.sink("127.0.0.6")
        self.sink("127.0.0.7", rcpt=lambda a:
                  "550 5.1.1 no such user" if a.startswith("bad@") else
                  "450 4.2.1 busy" if a.startswith("busy@") else
                  "250 2.1.5 ok")
        self.sink("127.0.0.10", drop_after_354=True)
        self.sink("127.0.0.11", greeting="554 5.7.1 no service here")
        self.sink("127.0.0.12")
        self.sink("127.0.0.13", delay=5)
        self.sink("127.0.0.14", max_rcpts=2)


ENV = None


def submit(*args, **kw):
    return out.submit(ENV, *args, **kw)


def wait(*args, **kw):
    out.wait(ENV, *args, **kw)


def delivered_at(*args):
    return out.delivered_at(ENV, *args)


# ---- the tests ----

@test
def unauthenticated_relay_refused():
    s = smtplib.SMTP("127.0.0.1", ENV.out_port, timeout=10)
    s.ehlo("client.test")
    s.mail("x@elsewhere.example")
    code, text = s.rcpt("u@remote.test")
    s.quit()
    assert code == 554 and b"5.7.1" in text, (code, text)


@test
def order_and_fallback():
    """O-MX-01, O-MX-11, O-MX-12: a (::1 and 127.0.0.2) refuses, so the
    mail goes to b; both of a's addresses were tried, IPv6 first."""
    t = delivered_at("127.0.0.3", ["u1@remote.test"], "order")
    assert t[2] == ["u1@remote.test"]
    assert ENV.sinks["127.0.0.3"].helo[-1] == "mx.example.test", \
        "O-TX-15: EHLO outbound_helo (default: hostname)"
    log = ENV.log_text()
    v6 = log.find("a.remote.test[::1]")
    v4 = log.find("a.remote.test[127.0.0.2]")
    assert v6 >= 0 and v4 >= 0, log[-3000:]
    assert v6 < v4, "IPv6 first"


@test
def refused_host_skipped():
    """O-TX-18: a refused a connection a moment ago: later mail skips it
    without connecting again."""
    b = ENV.sinks["127.0.0.3"]
    before, tries = b.count(), ENV.log_text().count(
        "session to a.remote.test[127.0.0.2]")
    submit(["u2@remote.test"], "skip")
    wait(lambda: b.count() > before, "second delivery at b.remote.test")
    assert ENV.log_text().count(
        "session to a.remote.test[127.0.0.2]") == tries


@test
def equal_preference_spread():
    """O-MX-02: two MX of preference 10 share the mail."""
    s1, s2 = ENV.sinks["127.0.0.4"], ENV.sinks["127.0.0.5"]
    n = 40
    s = smtplib.SMTP("127.0.0.1", ENV.sub_port, timeout=20)
    s.login("alice@" + DOMAIN, PASSWORD)
    for i in range(n):
        s.sendmail("alice@" + DOMAIN, ["u%d@spread.test" % i],
                   message("spread %d" % i, ["u%d@spread.test" % i]))
    s.quit()
    wait(lambda: s1.count() + s2.count() >= n, "all spread deliveries", 60)
    assert s1.count() >= n // 5 and s2.count() >= n // 5, (
        s1.count(), s2.count())


@test
def implicit_mx():
    """O-MX-03: no MX records: the domain's own A record."""
    delivered_at("127.0.0.6", ["u@aonly.test"], "implicit")


@test
def null_mx():
    """O-NMX-01: a bounce with 556 5.1.10 and no address question, for
    mail queued without the RCPT check (submission refuses it at once:
    O-NMX-02, tests/e2e_nullmx.py)."""
    p = subprocess.run([lib.ADMIN, "-c", ENV.conf, "queue", "add", "-f",
                        "alice@" + DOMAIN, "u@nullmx.test"],
                       input=message("null mx", ["u@nullmx.test"]),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p
    ENV.tool("queue", "flush", "nullmx.test")
    dsn = ENV.dsn_for("u@nullmx.test")
    assert status_of(dsn) == "5.1.10", dsn
    assert b"Diagnostic-Code: smtp; 556 5.1.10 Recipient address has null MX" \
        in dsn, dsn
    assert b"Remote-MTA" not in dsn
    assert ENV.dns.asked("nullmx.test", "MX") >= 1
    assert ENV.dns.asked("nullmx.test", "A") == 0
    assert ENV.dns.asked("nullmx.test", "AAAA") == 0


@test
def nxdomain():
    """O-MX-05: a domain that does not exist bounces with 5.1.2."""
    submit(["u@nx.test"], "nx")
    dsn = ENV.dsn_for("u@nx.test")
    assert status_of(dsn) == "5.1.2", dsn


@test
def loop_by_name():
    """O-MX-09, O-MX-10: this host (hostname) is the best MX: bounce
    5.4.6; the worse MX (b.remote.test) is never tried."""
    b = ENV.sinks["127.0.0.3"]
    before = b.count()
    submit(["u@selfmx.test"], "loop")
    dsn = ENV.dsn_for("u@selfmx.test")
    assert status_of(dsn) == "5.4.6", dsn
    assert b"mail for selfmx.test loops back to myself" in dsn, dsn
    assert b.count() == before


@test
def loop_by_address():
    """O-MX-09: the best MX's address is one kantorpos listens on at
    outbound_port."""
    submit(["u@selfaddr.test"], "loop by address")
    dsn = ENV.dsn_for("u@selfaddr.test")
    assert status_of(dsn) == "5.4.6", dsn


@test
def cname_loop():
    """O-MX-08: a CNAME loop ends in a deferral (4.4.3) or a bounce,
    never in an endless lookup."""
    submit(["u@loop.test"], "cname loop")

    def decided():
        q = ENV.queue_list()
        return ("u@loop.test (pending): 451 4.4.3" in q or
                any(b"u@loop.test" in m and b"Final-Recipient" in m
                    for m in ENV.dsns()))
    wait(decided, "the CNAME loop decided")
    n = ENV.dns.asked("loop.test")
    time.sleep(1)
    assert ENV.dns.asked("loop.test") == n, "no more questions"


@test
def cname_followed():
    """O-MX-07: a domain that is a CNAME of one with MX records."""
    delivered_at("127.0.0.3", ["u@alias.test"], "alias")


@test
def dns_timeout():
    """O-MX-06: no answer to the MX question: deferred with 4.4.3."""
    ENV.dns.blackhole.add("dead.test")
    submit(["u@dead.test"], "dead")
    wait(lambda: "u@dead.test (pending): 451 4.4.3" in ENV.queue_list(),
         "the DNS timeout recorded", 60)


@test
def huge_mx_set_capped():
    """O-MX-14: 25 MX records: the best 20, logged; the addresses of the
    worst five are never asked for."""
    delivered_at("127.0.0.3", ["u@big.test"], "big")
    assert "direct: big.test has more MX records than 20: the best 20 " \
        "are used" in ENV.log_text()
    assert ENV.dns.asked("h20.big.test", "A") == 1
    assert ENV.dns.asked("h21.big.test", "A") == 0


@test
def too_many_recipients():
    """O-TX-04: 452 for the third recipient: it goes in a new transaction
    on the same connection, nothing fails."""
    m = ENV.sinks["127.0.0.14"]
    submit(["a@many.test", "b@many.test", "c@many.test"], "many")
    wait(lambda: sum(len(t[2]) for t in m.transactions) >= 3,
         "all three recipients at mx.many.test")
    assert [len(t[2]) for t in m.transactions] == [2, 1], m.transactions
    assert m.connections == 1
    assert "@many.test" not in ENV.queue_list()
    assert not any(b"@many.test" in d and b"Final-Recipient" in d
                   for d in ENV.dsns())


@test
def dsn_to_null_mx_dropped():
    """O-NMX-05: the notification for a sender in a null-MX domain cannot
    go anywhere: dropped, nothing left in the queue."""
    p = subprocess.run([lib.ADMIN, "-c", ENV.conf, "queue", "add", "-f",
                        "someone@nullmx.test", "x@nx.test"],
                       input=message("to nx", ["x@nx.test"]),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p
    # The daemon's runner looks at the queue only every 30 s: flush now
    # (whichever runner locks the items first delivers them).
    rc, out, err = ENV.tool("queue", "flush", "nx.test")
    logs = err + ENV.log_text()
    wait(lambda: "x@nx.test" not in ENV.queue_list() and
         "someone@nullmx.test" not in ENV.queue_list(), "both gone")
    assert re.search(r"to=<someone@nullmx.test> status=bounced dsn=5.1.10",
                     logs + ENV.log_text()), logs
    assert "the sender is <>, no DSN" in logs + ENV.log_text()


@test
def per_recipient_results():
    """O-TX-02, O-TX-03, O-TX-05: 250 for one, 550 for another, 450 for
    the third, in one transaction: DATA for the first only, one DSN for
    the 550 one, the 450 one still queued with its reply."""
    m = ENV.sinks["127.0.0.7"]
    before = m.count()
    submit(["ok@mixed.test", "bad@mixed.test", "busy@mixed.test"], "mixed")
    wait(lambda: m.count() > before, "delivery at mx.mixed.test")
    assert m.transactions[-1][2] == ["ok@mixed.test"], m.transactions[-1]
    dsn = ENV.dsn_for("bad@mixed.test")
    assert status_of(dsn) == "5.1.1", dsn
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user" in dsn, dsn
    status = dsn.split(b"message/delivery-status")[1].split(
        b"text/rfc822-headers")[0]
    assert status.count(b"Final-Recipient:") == 1, status
    q = ENV.queue_list()
    assert "busy@mixed.test (pending): 450 4.2.1 busy" in q, q
    assert "ok@mixed.test (delivered)" in q, q


@test
def one_transaction_per_domain():
    """O-TX-01: two recipients at remote.test in one transaction, the
    one at aonly.test in another."""
    b, a = ENV.sinks["127.0.0.3"], ENV.sinks["127.0.0.6"]
    nb, na = b.count(), a.count()
    submit(["x@remote.test", "y@remote.test", "z@aonly.test"], "domains")
    wait(lambda: b.count() > nb and a.count() > na, "both domains")
    assert b.count() == nb + 1 and a.count() == na + 1
    assert sorted(b.transactions[-1][2]) == ["x@remote.test",
                                             "y@remote.test"]
    assert a.transactions[-1][2] == ["z@aonly.test"]


@test
def greeting_5xx_skipped():
    """O-MX-15: the best MX greets with 554: the next one gets it."""
    delivered_at("127.0.0.12", ["u@greet.test"], "greeting")


@test
def connection_reuse():
    """O-TX-19, O-RTY-04, O-TX-18: three messages for one MX host go
    over one connection. The host is down first (the three are deferred
    after one refused connect); then `kantorpos queue flush` sends them
    together."""
    tries = ENV.log_text().count("session to mx.reuse.test[127.0.0.8]")
    for i in range(3):
        submit(["r%d@reuse.test" % i], "reuse %d" % i)
    wait(lambda: ENV.queue_list().count("@reuse.test (pending)") == 3 and
         "domain=reuse.test attempts=1" in ENV.queue_list(),
         "three deferred")
    time.sleep(0.5)
    assert ENV.log_text().count(
        "session to mx.reuse.test[127.0.0.8]") == tries + 1, \
        "one connect for the three"
    assert ENV.queue_list().count("domain=reuse.test attempts=1") == 3
    sink = ENV.sink("127.0.0.8")
    rc, out, err = ENV.tool("queue", "flush", "reuse.test")
    assert rc == 0, (rc, out, err)
    assert sink.count() == 3, sink.transactions
    assert sink.connections == 1, sink.connections
    assert "@reuse.test" not in ENV.queue_list()


def queued_msg(rcpt):
    """(id, message file) of the queue item holding rcpt."""
    text = ENV.queue_list()
    m = re.search(r"^(\S+)  .*\n(?:    .*\n)*?    %s " % re.escape(rcpt),
                  text, re.M)
    assert m, text
    qid = m.group(1)
    with open(os.path.join(ENV.data, "queue", "items", qid, "msg"),
              "rb") as f:
        return qid, f.read()


@test
def concurrency_limits():
    """outbound_concurrency 2 and outbound_max_sessions 3: 20 messages
    for each of two hosts, queued together (a data directory of its own,
    flushed by `kantorpos queue flush`): at most 2 sessions a host and 3
    in all, more than one at a time, every message delivered."""
    total, m1, m2 = out.Meter(), out.Meter(), out.Meter()
    s1 = ENV.sink("127.0.0.16", delay=0.02, meters=(total, m1))
    s2 = ENV.sink("127.0.0.17", delay=0.02, meters=(total, m2))
    conf, data = ENV.conf + ".conc", os.path.join(ENV.dir, "data-conc")
    os.makedirs(data)
    if ENV.root:
        nobody = pwd.getpwnam("nobody")
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
    with open(ENV.conf) as f, open(conf, "w") as g:
        g.write(f.read().replace("data_dir %s\n" % ENV.data,
                                 "data_dir %s\n" % data) +
                "outbound_concurrency 2\noutbound_max_sessions 3\n")
    for dom in ("conc1.test", "conc2.test"):
        for i in range(20):
            p = subprocess.run([lib.ADMIN, "-c", conf, "queue", "add", "-f",
                                "alice@" + DOMAIN, "u%d@%s" % (i, dom)],
                               input=message("c", ["u%d@%s" % (i, dom)]),
                               capture_output=True, timeout=30)
            assert p.returncode == 0, p
    p = subprocess.run([lib.ADMIN, "-c", conf, "queue", "flush"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p
    assert s1.count() == 20 and s2.count() == 20, (s1.count(), s2.count())
    assert m1.most <= 2 and m2.most <= 2, (m1.most, m2.most)
    assert 2 <= total.most <= 3, total.most


@test
def drop_after_354():
    """O-TX-17: the host drops the connection after 354: the message
    stays queued, intact, no DSN; once the host works it goes whole."""
    sink = ENV.sinks["127.0.0.10"]
    body = "line one\r\n.leading dot\r\n" + ("x" * 900 + "\r\n") * 20
    text = submit(["u@drop.test"], "drop", body=body)
    wait(lambda: "domain=drop.test attempts=1" in ENV.queue_list(),
         "the dropped attempt recorded")
    qid, stored = queued_msg("u@drop.test")
    assert stored.endswith(text), "the queued message is whole"
    assert "u@drop.test (pending)" in ENV.queue_list()
    assert not any(b"u@drop.test" in m for m in ENV.dsns())
    sink.drop_after_354 = False
    rc, out, err = ENV.tool("queue", "flush", "drop.test")
    assert rc == 0, (rc, out, err)
    assert sink.count() == 1
    assert sink.transactions[-1][3] == stored, "sent as it was queued"
    assert qid not in ENV.queue_list()


@test
def slow_host():
    """O-TMO-01 with outbound_timeout 3s: a host slower than that leaves
    the message queued with the timeout as its error."""
    submit(["u@slow.test"], "slow")
    wait(lambda: "domain=slow.test attempts=1" in ENV.queue_list(),
         "the slow attempt recorded", 30)
    q = ENV.queue_list()
    assert "u@slow.test (pending)" in q, q
    assert "timeout" in q, q


@test
def hop_limit():
    """O-TX-16: more than hop_limit (100) Received fields: 554 5.4.6."""
    hops = "".join("Received: from h%d by h%d; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                   % (i, i + 1) for i in range(101))
    try:
        submit(["u@aonly.test"], "hops", headers=hops)
        raise AssertionError("101 Received fields accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 554 and b"5.4.6" in e.smtp_error, e
    a = ENV.sinks["127.0.0.6"]
    before = a.count()
    submit(["u@aonly.test"], "hops", headers=hops[hops.index("\n") + 1:])
    wait(lambda: a.count() > before, "100 Received fields delivered")


@test
def postfix_interop():
    """A sandboxed Postfix as the MX of dest.test, with STARTTLS: it
    stores the message byte-exact and says it came over TLS."""
    import e2e_postfix
    top = os.path.join(ENV.dir, "pf")
    cert, key = os.path.join(ENV.dir, "pf.crt"), os.path.join(ENV.dir,
                                                              "pf.key")
    lib.make_cert(key, cert, cn="pf.dest.test")
    conf, why = e2e_postfix.start_postfix(
        top, ENV.out_port, free_port(), addr="127.0.0.9",
        extra="smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
              "smtpd_tls_security_level = may\n"
              "smtpd_tls_received_header = yes\n" % (cert, key))
    if conf is None:
        raise Skip(why)
    try:
        body = "Bonjour,\r\n.a line with a dot\r\n\r\n" + \
            "".join("line %d\r\n" % i for i in range(200))
        text = submit(["bob@dest.test"], "to postfix", body=body)
        new = os.path.join(top, "vmail", "bob", "new")
        wait(lambda: os.path.isdir(new) and os.listdir(new),
             "postfix stored it", 30)
        with open(os.path.join(new, os.listdir(new)[0]), "rb") as f:
            got = f.read().replace(b"\n", b"\r\n")
        assert got.endswith(text), got[-300:]
        received = got.split(text)[0]
        assert b"(using TLS" in received, received
    finally:
        e2e_postfix.postfix(conf, "stop")


if __name__ == "__main__":
    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd)")
        sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], MxEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
