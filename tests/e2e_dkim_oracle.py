#!/usr/bin/env python3
"""tests/e2e_dkim_oracle.py: kantorpos's DKIM code (common/auth, through
tests/dkimtool) against dkimpy (Debian's python3-dkim) as the oracle:

- messages kantorpos signs (RSA 2048 and Ed25519 keys made here with
  openssl genpkey; relaxed/relaxed and simple/simple; folded header
  fields, bodies with trailing blank lines and WSP, an empty body, a body
  without a final line end) verify with dkim.verify, its DNS answered by
  a function serving the key record;
- messages dkimpy signs, of the same variety, verify with kantorpos;
- a changed body or header field fails in both;
- the example of RFC 8463 Appendix A (an Ed25519 and an RSA signature of
  RFC 6376's message) verifies in both.

Debian installs dkimpy for the system interpreter: when the python3 that
runs this lacks it and /usr/bin/python3 has it, the test runs itself
again with that one. Skipped (exit 77, "SKIP: reason") when python3-dkim
or python3-nacl is missing. Prints one line per test and "N passed, N
failed, N skipped"."""

import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import BUILD, import_or_reexec, run_tests  # noqa: E402
import e2e_oraclelib as oraclelib  # noqa: E402

# dkimpy, and nacl for its Ed25519 (main() reports them missing).
dkim = None
if import_or_reexec("dkim", "nacl.signing"):
    import dkim

DKIMTOOL = os.path.join(BUILD, "tests", "dkimtool")
DOMAIN = "example.test"
T = "1764676800"
TESTS = []
TOP = None
KEYS = {}           # selector -> (PEM path, dkimpy private key, record)

RFC_HEADER = (
    b"From: Joe SixPack <joe@football.example.com>\r\n"
    b"To: Suzie Q <suzie@shopping.example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n")
RFC_BODY = (b"Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\n"
            b"Joe.\r\n")

# RFC 8463 A.2 and A.3.
RFC8463_RECORDS = {
    "brisbane": "v=DKIM1; k=ed25519; "
                "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    "test": "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQo"
            "BTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCN"
            "b3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO"
            "9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
}
RFC8463_MESSAGE = (
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
    b" subject : date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
    b" d=football.example.com; i=@football.example.com;\r\n"
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
    b" date : message-id : from : subject : date;\r\n"
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
    + RFC_HEADER + b"\r\n" + RFC_BODY)

MESSAGES = {
    "rfc6376": RFC_HEADER + b"\r\n" + RFC_BODY,
    "folded": (b"From: Alice <alice@example.test>\r\n"
               b"To: bob@example.net,\r\n\tcarol@example.net\r\n"
               b"Subject: a  long\r\n   folded\tsubject line  \r\n"
               b"Date: Tue, 2 Dec 2025 12:00:00 +0000\r\n\r\n"
               b"text  with \t blanks  \r\n"),
    "trailing_blank_lines": (b"From: alice@example.test\r\nSubject: x\r\n"
                             b"\r\nline\r\n\r\n  \r\n\r\n\r\n"),
    "empty_body": b"From: alice@example.test\r\nSubject: empty\r\n\r\n",
    "no_final_crlf": (b"From: alice@example.test\r\nSubject: y\r\n\r\n"
                      b"last line without its end"),
}


def test(fn):
    TESTS.append(fn)
    return fn


def run(args, data):
    p = subprocess.run(args, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, (args, p.stderr.decode())
    return p.stdout


def make_key(selector, kind):
    """A key made with openssl genpkey: its PEM file, the private key as
    dkimpy takes it, and the key record."""
    pem = os.path.join(TOP, selector + ".pem")
    priv, record = oraclelib.dkim_key(pem, kind)
    KEYS[selector] = (pem, priv, record)


def dnsfunc_for(records, domain=DOMAIN):
    def dnsfunc(name, timeout=5):
        for sel, rec in records.items():
            if name == ("%s._domainkey.%s." % (sel, domain)).encode():
                return rec.encode()
        return b""
    return dnsfunc


def all_records():
    return {sel: k[2] for sel, k in KEYS.items()}


def kp_sign(msg, selector, canon):
    return run([DKIMTOOL, "sign", KEYS[selector][0], DOMAIN, selector,
                canon, T], msg)


def kp_verify(msg, records):
    """kantorpos's result lines for msg: [(result, reason), ...]."""
    args = [DKIMTOOL, "verify"] + ["%s=%s" % r for r in records.items()]
    out = run(args, msg).decode()
    lines = []
    for line in out.splitlines():
        words = line.split(" ", 3)
        lines.append((words[0], words[3] if len(words) > 3 else ""))
    return lines


def py_sign(msg, selector, canon):
    alg = b"ed25519-sha256" if selector.startswith("ed") else b"rsa-sha256"
    c = canon.encode()
    sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), KEYS[selector][1],
                    canonicalize=(c, c), signature_algorithm=alg)
    return sig + msg


def variety():
    for selector in ("rsa", "ed"):
        for canon in ("relaxed", "simple"):
            for name, msg in MESSAGES.items():
                yield selector, canon, name, msg


def tamper_body(msg):
    head, sep, body = msg.partition(b"\r\n\r\n")
    return head + sep + body + b"added\r\n"


def tamper_header(msg):
    return msg.replace(b"Subject: ", b"Subject: Re: ", 1)


@test
def kantorpos_signs_dkimpy_verifies():
    for selector, canon, name, msg in variety():
        signed = kp_sign(msg, selector, canon)
        assert dkim.verify(signed, dnsfunc=dnsfunc_for(all_records())), \
            (selector, canon, name, signed)
        assert kp_verify(signed, all_records()) == [("pass", "")], \
            (selector, canon, name)


@test
def dkimpy_signs_kantorpos_verifies():
    for selector, canon, name, msg in variety():
        signed = py_sign(msg, selector, canon)
        got = kp_verify(signed, all_records())
        assert got == [("pass", "")], (selector, canon, name, got, signed)


@test
def tampered_fails_in_both():
    for selector, canon, name, msg in variety():
        for how, change in (("body", tamper_body), ("header", tamper_header)):
            for signer in (kp_sign, py_sign):
                bad = change(signer(msg, selector, canon))
                assert not dkim.verify(bad,
                                       dnsfunc=dnsfunc_for(all_records())), \
                    (selector, canon, name, how)
                got = kp_verify(bad, all_records())
                assert got[0][0] == "fail", (selector, canon, name, how, got)


@test
def rfc8463_example():
    got = kp_verify(RFC8463_MESSAGE, RFC8463_RECORDS)
    assert got == [("pass", ""), ("pass", "")], got
    assert dkim.verify(RFC8463_MESSAGE, dnsfunc=dnsfunc_for(
        RFC8463_RECORDS, "football.example.com"))
    bad = tamper_body(RFC8463_MESSAGE)
    got = kp_verify(bad, RFC8463_RECORDS)
    assert got == [("fail", "body hash did not verify")] * 2, got


def start():
    global TOP
    TOP = tempfile.mkdtemp(prefix="kantorpos-dkim-")
    make_key("rsa", "rsa")
    make_key("ed", "ed25519")
    return ()


def finish(args, failed):
    if TOP is not None:
        shutil.rmtree(TOP, ignore_errors=True)


def main():
    if dkim is None:
        print("SKIP: dkimpy is not installed (Debian packages python3-dkim "
              "and python3-nacl, in scripts/deps.sh's test group)")
        print("0 passed, 0 failed, 1 skipped")
        return SKIP
    if not os.access(DKIMTOOL, os.X_OK):
        print("missing %s" % DKIMTOOL)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    return run_tests(TESTS, start, finish, only=sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
