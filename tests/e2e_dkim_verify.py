#!/usr/bin/env python3
"""tests/e2e_dkim_verify.py: DKIM verification of mail received on mx,
end to end.

A sandboxed nsd (e2e_outlib.OutEnv) publishes the key records of
signer.test: an RSA 2048 key (its record split into strings of at most
255 octets), an Ed25519 key and a revoked one (empty p=); one selector has
no record, one is blackholed (its questions get no answer). dkimpy
(python3-dkim) signs messages, relaxed and simple, with l=, twice on one
message, with folded header fields; they go over the mx listener with
smtplib, and the message's log line says what kantorpos-smtpd found:
pass, a changed body -> fail, a key without a record -> permerror, a
revoked key -> permerror, rsa-sha1 -> policy, more signatures than
dkim_max_signatures -> the first ones only (dkim_unchecked=N), an
unanswered key question -> temperror with the message still delivered,
a header section over 64 KiB -> permerror, none -> dkim=none. Every
message is stored byte for byte as sent below the fields kantorpos adds
on top (Return-Path, Received). Mail of an authenticated user is not
verified, nor that of a trusted_networks client: their keys are never
asked for.

Prints one line per test and "N passed, N failed, N skipped"."""

import os
import shutil
import signal
import smtplib
import sys

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
import e2e_oraclelib as oraclelib  # noqa: E402
import e2e_outlib as out  # noqa: E402
from e2e_lib import test  # noqa: E402
from e2e_outlib import DOMAIN, PASSWORD  # noqa: E402

dkim = None  # reported missing below
if lib.import_or_reexec("dkim", "nacl"):
    import dkim

SIGNER = "signer.test"
ENV = None
KEYS = {}  # selector -> (private key as dkimpy takes it, record)


def make_key(top, selector, kind):
    KEYS[selector] = oraclelib.dkim_key(os.path.join(top, selector + ".pem"),
                                        kind)


def txt(record):
    """The zone file's TXT data: strings of at most 255 octets."""
    parts = [record[i:i + 200] for i in range(0, len(record), 200)]
    return "( " + " ".join('"%s"' % p for p in parts) + " )"


def zone():
    lines = ["$ORIGIN test.", "$TTL 30",
             "@ SOA ns.test. hostmaster.test. 1 3600 600 86400 30",
             "@ NS ns", "ns A 127.0.0.1", "signer A 127.0.0.9"]
    for sel in ("rsa", "ed"):
        lines.append("%s._domainkey.signer TXT %s" % (sel, txt(KEYS[sel][1])))
    lines.append('revoked._domainkey.signer TXT "v=DKIM1; k=rsa; p="')
    return "\n".join(lines) + "\n"


class VerifyEnv(out.OutEnv):
    def __init__(self):
        top = os.environ.get("TMPDIR", "/tmp")
        keydir = os.path.join(top, "kantorpos-e2e-dkimverify-keys.%d" %
                              os.getpid())
        os.makedirs(keydir, exist_ok=True)
        make_key(keydir, "rsa", "rsa")
        make_key(keydir, "ed", "ed25519")
        shutil.rmtree(keydir, ignore_errors=True)
        super().__init__([("test.", zone())], prefix="dkimverify")
        self.dns.blackhole.add("slow._domainkey." + SIGNER)


def message(subject, body=b"Hello there.\r\n\r\nTwo lines.\r\n",
            extra=b""):
    return (b"From: Someone <someone@" + SIGNER.encode() + b">\r\n"
            b"To: Alice\r\n <alice@" + DOMAIN.encode() + b">\r\n"
            b"Subject: " + subject.encode() + b"\r\n\tfolded on\r\n"
            b"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(" ", ".").encode() +
            b"@signer.test>\r\n" + extra + b"\r\n" + body)


def sign(msg, selector, canon=b"relaxed", key_of=None, **kw):
    """msg with dkimpy's DKIM-Signature field on top."""
    alg = b"ed25519-sha256" if (key_of or selector) == "ed" else \
        kw.pop("alg", b"rsa-sha256")
    priv = KEYS[key_of or selector][0]
    sig = dkim.sign(msg, selector.encode(), SIGNER.encode(), priv,
                    canonicalize=(canon, canon), signature_algorithm=alg,
                    **kw)
    return sig + msg


def stored_files():
    d = os.path.join(ENV.data, "mail", DOMAIN, "alice", "new")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def send(msg, port=None, login=False, sender="someone@" + SIGNER):
    """Send msg to alice; (the log written meanwhile, the stored file)."""
    log_before = len(ENV.log_text())
    files_before = stored_files()
    s = smtplib.SMTP("127.0.0.1", port or ENV.out_port, timeout=40)
    try:
        s.ehlo("client.test")
        if login:
            s.login("alice@" + DOMAIN, PASSWORD)
        s.sendmail(sender, ["alice@" + DOMAIN], msg)
    finally:
        s.close()
    out.wait(ENV, lambda: stored_files() - files_before and
             " accepted id=" in ENV.log_text()[log_before:], "the delivery")
    name = (stored_files() - files_before).pop()
    with open(os.path.join(ENV.data, "mail", DOMAIN, "alice", "new",
                           name), "rb") as f:
        stored = f.read()
    return ENV.log_text()[log_before:], stored


def dkim_words(log):
    """The dkim= word (and dkim_unchecked=) of the message's log line."""
    lines = [ln for ln in log.splitlines() if " dkim=" in ln]
    assert len(lines) == 1, log
    words = [w for w in lines[0].split() if w.startswith("dkim")]
    return words


def results(log):
    """[(result, d, s), ...] of the dkim= word."""
    word = dkim_words(log)[0]
    assert word.startswith("dkim="), word
    if word == "dkim=none":
        return []
    return [tuple(p.split(":")[0:1] + [f[2:] for f in p.split(":")[1:3]])
            for p in word[5:].split(",")]


def assert_intact(sent, stored):
    """stored is sent below kantorpos's own Return-Path and Received."""
    assert stored.endswith(sent), stored[:600]
    top = stored[:len(stored) - len(sent)]
    assert top.startswith(b"Return-Path:") and b"\r\nReceived: " in top, top


@test
def rsa_and_ed25519_pass_both_canonicalizations():
    for sel in ("rsa", "ed"):
        for canon in (b"relaxed", b"simple"):
            sent = sign(message("pass %s %s" % (sel, canon.decode())), sel,
                        canon)
            log, stored = send(sent)
            assert results(log) == [("pass", SIGNER, sel)], (sel, canon,
                                                               log)
            assert_intact(sent, stored)


@test
def two_signatures_on_one_message():
    msg = message("two signatures")
    sent = sign(sign(msg, "rsa", b"simple"), "ed", b"relaxed")
    log, stored = send(sent)
    assert results(log) == [("pass", SIGNER, "ed"),
                            ("pass", SIGNER, "rsa")], log
    assert_intact(sent, stored)


@test
def changed_body_fails():
    sent = sign(message("changed"), "rsa")
    sent = sent + b"P.S. added on the way\r\n"
    log, stored = send(sent)
    assert results(log) == [("fail", SIGNER, "rsa")], log
    assert "body hash did not verify" in log, log
    assert_intact(sent, stored)


@test
def l_tag_honoured_and_reported():
    sent = sign(message("with l="), "rsa", length=True)
    sent += b"Appended after signing.\r\n"
    log, stored = send(sent)
    word = dkim_words(log)[0]
    assert word.startswith("dkim=pass:d=%s:s=rsa:l=" % SIGNER), log
    assert_intact(sent, stored)


@test
def key_problems_and_rsa_sha1():
    """(selector, signing key, algorithm, result, reason in the log)."""
    table = [("nokey", "rsa", b"rsa-sha256", "permerror", "no key record"),
             ("revoked", "rsa", b"rsa-sha256", "permerror", "key revoked"),
             ("rsa", "rsa", b"rsa-sha1", "policy", "rsa-sha1 not accepted")]
    for sel, key, alg, result, reason in table:
        sent = sign(message("key " + sel), sel, key_of=key, alg=alg)
        log, stored = send(sent)
        assert results(log) == [(result, SIGNER, sel)], log
        assert reason in log, log
        assert_intact(sent, stored)
    assert ENV.dns.asked("nokey._domainkey." + SIGNER, "TXT")


@test
def only_dkim_max_signatures_checked():
    sent = message("seven signatures")
    for n in range(7):
        sent = sign(sent, ("rsa", "ed")[n % 2])
    log, stored = send(sent)
    got = results(log)
    assert len(got) == 5 and all(r[0] == "pass" for r in got), log
    assert "dkim_unchecked=2" in dkim_words(log), log
    assert_intact(sent, stored)


@test
def unanswered_key_is_temperror_and_delivered():
    sent = sign(message("slow key"), "slow", key_of="rsa")
    log, stored = send(sent)
    assert results(log) == [("temperror", SIGNER, "slow")], log
    assert ENV.dns.asked("slow._domainkey." + SIGNER, "TXT")
    assert_intact(sent, stored)


@test
def header_too_long_is_permerror():
    extra = b"".join(b"X-Filler-%05d: %s\r\n" % (i, b"x" * 70)
                     for i in range(800))
    sent = sign(message("long header", extra=extra), "rsa")
    log, stored = send(sent)
    assert results(log) == [("permerror", SIGNER, "rsa")], log
    assert "header too long" in log, log
    assert_intact(sent, stored)


@test
def no_signature_is_none():
    sent = message("unsigned")
    log, stored = send(sent)
    assert dkim_words(log) == ["dkim=none"], log
    assert_intact(sent, stored)


@test
def submission_not_verified():
    own = b"From: alice@" + DOMAIN.encode() + b"\r\n"
    msg = own + message("submitted").split(b"\r\n", 1)[1]
    sent = sign(msg, "subcheck", key_of="rsa")
    log, _ = send(sent, port=ENV.sub_port, login=True,
                  sender="alice@" + DOMAIN)
    assert " dkim=" not in log, log
    assert not ENV.dns.asked("subcheck._domainkey." + SIGNER), \
        ENV.dns.questions


@test
def trusted_networks_not_verified():
    before = ENV.log_text().count("reloaded ")
    ENV.write_conf("trusted_networks 127.0.0.0/8")
    ENV.proc.send_signal(signal.SIGHUP)
    out.wait(ENV, lambda: ENV.log_text().count("reloaded ") > before,
             "the reload")
    try:
        sent = sign(message("trusted"), "trusted", key_of="rsa")
        log, stored = send(sent)
        assert " dkim=" not in log, log
        assert not ENV.dns.asked("trusted._domainkey." + SIGNER)
        assert_intact(sent, stored)
    finally:
        ENV.write_conf()
        ENV.proc.send_signal(signal.SIGHUP)
        out.wait(ENV, lambda: ENV.log_text().count("reloaded ") > before + 1,
                 "the reload")


if __name__ == "__main__":
    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd)")
        sys.exit(77)
    if dkim is None:
        print("SKIP: dkimpy with Ed25519 is not installed "
              "(Debian packages python3-dkim, python3-nacl)")
        sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], VerifyEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
