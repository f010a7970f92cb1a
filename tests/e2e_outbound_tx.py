#!/usr/bin/env python3
"""tests/e2e_outbound_tx.py: what the SMTP client does in a transaction
to an MX host, seen from the queue (the sender's DSN) and from the
receiving host (a sink on 127.0.0.x, e2e_outlib.Sink), end to end:
submission as alice, direct delivery through a sandboxed nsd.

One test per CONFORMANCE-2 item: every RCPT refused sends no content
(O-TX-05); a 552 after the data fails every recipient of the transaction
in one DSN (O-TX-06); a message over the host's SIZE is not offered (no
MAIL) and bounces 5.3.4 (O-TX-08), one within it is offered with its real
SIZE (O-TX-09); 8-bit content to a host without 8BITMIME bounces 5.6.3
and is never sent (O-TX-10), to one with it goes with BODY=8BITMIME
(O-TX-11); an SMTPUTF8 message to a host without SMTPUTF8 bounces 5.6.7
(O-TX-12); after STARTTLS the client says EHLO again (O-TX-14).

Skipped (exit 77) without nsd. Prints one line per test and "N passed,
N failed, N skipped"."""

import os
import re
import shutil
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
import e2e_outlib as out  # noqa: E402
from e2e_lib import test  # noqa: E402

ZONE = """$ORIGIN test.
$TTL 30
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 30
@ NS ns
ns A 127.0.0.1
norcpt MX 10 mx.norcpt
mx.norcpt A 127.0.0.40
toobig MX 10 mx.toobig
mx.toobig A 127.0.0.41
size MX 10 mx.size
mx.size A 127.0.0.42
seven MX 10 mx.seven
mx.seven A 127.0.0.43
eight MX 10 mx.eight
mx.eight A 127.0.0.44
tls MX 10 mx.tls
mx.tls A 127.0.0.45
"""

ENV = None
SIZE_LIMIT = 1000


class TxEnv(out.OutEnv):
    """OutEnv with a sink per rule."""

    def __init__(self):
        super().__init__([("test.", ZONE)], prefix="tx")
        self.sink("127.0.0.40", rcpt=lambda a: "550 5.1.1 no such user")
        self.sink("127.0.0.41", data_reply="552 5.3.4 message too big")
        self.sink("127.0.0.42", ext=["PIPELINING", "8BITMIME",
                                     "SIZE %d" % SIZE_LIMIT])
        self.sink("127.0.0.43", ext=["PIPELINING"])
        self.sink("127.0.0.44")
        self.sink("127.0.0.45", tls=self.server_context())

    def server_context(self):
        key, cert = (os.path.join(self.dir, n) for n in ("k.pem", "c.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "2",
                        "-subj", "/CN=mx.tls.test"], check=True,
                       capture_output=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx


def submit(*args, **kw):
    return out.submit(ENV, *args, **kw)


def dsn_with(text, what):
    """The DSN in alice's Maildir containing text, waiting for it."""
    out.wait(ENV, lambda: any(text in m for m in ENV.dsns()), what)
    return [m for m in ENV.dsns() if text in m][-1]


def mail_count(addr):
    with ENV.sinks[addr].lock:
        return len(ENV.sinks[addr].mail_lines)


@test
def every_rcpt_refused_sends_no_content():
    """O-TX-05: no recipient accepted, no content; both in one DSN."""
    submit(["a@norcpt.test", "b@norcpt.test"], "norcpt")
    dsn = ENV.dsn_for("a@norcpt.test")
    assert b"Final-Recipient: rfc822; b@norcpt.test" in dsn, dsn
    assert out.status_of(dsn) == "5.1.1", dsn
    assert ENV.sinks["127.0.0.40"].count() == 0


@test
def reply_552_after_data_fails_the_transaction():
    """O-TX-06: 552 after the data: every recipient of it fails, one
    DSN names them all with that reply."""
    submit(["a@toobig.test", "b@toobig.test"], "toobig")
    dsn = ENV.dsn_for("a@toobig.test")
    assert b"Final-Recipient: rfc822; b@toobig.test" in dsn, dsn
    assert b"552 5.3.4 message too big" in dsn, dsn
    assert out.status_of(dsn) == "5.3.4", dsn


@test
def over_the_size_limit_not_offered():
    """O-TX-08: the host's SIZE is 1000, the message 2000 octets: no
    MAIL at all, a 5.3.4 bounce."""
    before = mail_count("127.0.0.42")
    submit(["big@size.test"], "over", body=("y" * 78 + "\r\n") * 25)
    dsn = ENV.dsn_for("big@size.test")
    assert out.status_of(dsn) == "5.3.4", dsn
    assert mail_count("127.0.0.42") == before, \
        ENV.sinks["127.0.0.42"].mail_lines


@test
def size_given_with_mail():
    """O-TX-09: within the limit, MAIL carries SIZE= with the size of
    what is then sent."""
    t = out.delivered_at(ENV, "127.0.0.42", ["small@size.test"], "small")
    line = ENV.sinks["127.0.0.42"].mail_lines[-1]
    m = re.search(r" SIZE=(\d+)", line)
    assert m, line
    assert int(m.group(1)) == len(t[3]), (line, len(t[3]))


@test
def eight_bit_to_a_seven_bit_host_bounces():
    """O-TX-10: 8-bit content, a host without 8BITMIME: not sent (no
    MAIL), bounced 5.6.3."""
    before = mail_count("127.0.0.43")
    submit(["u@seven.test"], "8bit", body="gr\u00fc\u00dfe\r\n",
           mail_options=["BODY=8BITMIME"])
    dsn = ENV.dsn_for("u@seven.test")
    assert out.status_of(dsn) == "5.6.3", dsn
    assert mail_count("127.0.0.43") == before


@test
def eight_bit_with_body_8bitmime():
    """O-TX-11: to a host with 8BITMIME: MAIL ... BODY=8BITMIME, the
    octets as they were."""
    sink = ENV.sinks["127.0.0.44"]
    before = sink.count()
    text = submit(["u@eight.test"], "8bit ok", body="gr\u00fc\u00dfe\r\n",
                  mail_options=["BODY=8BITMIME"])
    out.wait(ENV, lambda: sink.count() > before, "8-bit delivery")
    assert "BODY=8BITMIME" in sink.mail_lines[-1], sink.mail_lines[-1]
    assert sink.transactions[-1][3].endswith(text), sink.transactions[-1][3]


@test
def smtputf8_to_a_host_without_it_bounces():
    """O-TX-12: an internationalised recipient, a host without
    SMTPUTF8: not sent, bounced 5.6.7."""
    before = mail_count("127.0.0.44")
    submit(["j\u00fcrgen@eight.test"], "utf8", mail_options=["SMTPUTF8"])
    dsn = dsn_with(b"5.6.7", "the 5.6.7 DSN")
    assert out.status_of(dsn) == "5.6.7", dsn
    assert mail_count("127.0.0.44") == before


@test
def ehlo_again_after_starttls():
    """O-TX-14: after STARTTLS the client forgets the first EHLO reply
    and says EHLO again; the message goes under TLS."""
    sink = ENV.sinks["127.0.0.45"]
    t = out.delivered_at(ENV, "127.0.0.45", ["u@tls.test"], "tls")
    assert t[4] is not None, "not under TLS"
    assert sink.helo == ["mx.example.test", "mx.example.test"], sink.helo


if __name__ == "__main__":
    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd)")
        sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], TxEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
