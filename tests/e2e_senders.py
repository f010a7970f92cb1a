#!/usr/bin/env python3
"""tests/e2e_senders.py: the sender rules of kantorpos-smtpd end to end,
with the real daemon, smtplib and swaks: an authenticated user sends only
as addresses it owns (its own, +extensions, aliases of it alone) in MAIL
FROM (553 5.7.1) and in From: (550 5.7.1 after the data); the null sender
is refused from users; an unauthenticated client on mx may not use a
local-domain sender (550 5.7.1) unless it is in trusted_networks or
local_sender_policy is allow; bounces (<>) stay accepted. Submitted mail
gets Date and Message-ID when it lacks them, and the login in Received;
mx mail gets neither. BDAT sizes that are not digits are 501 5.5.4.

Prints one line per test and "N passed, N failed"; exit 1 on failure."""

import os
import signal
import smtplib
import subprocess
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_smtp as s  # noqa: E402  (Daemon, Raw, PASSWORD, helpers)

TRUSTED = "127.0.0.250"
ALICE = "alice@example.test"
NOT_OWNED = b"5.7.1 Sender address not owned by user alice@example.test"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def submission(d):
    """smtplib on submission, STARTTLS, logged in as alice."""
    c = smtplib.SMTP("127.0.0.1", d.sub, timeout=10)
    c.ehlo("client.example")
    c.starttls(context=s.client_ctx())
    c.ehlo("client.example")
    c.login(ALICE, s.PASSWORD)
    return c


def mail_reply(c, sender):
    code, msg = c.mail(sender)
    c.rset()
    return code, msg


def newest(d, user="bob"):
    msgs = d.messages(user)
    assert msgs, "nothing delivered to " + user
    with open(msgs[-1], "rb") as f:
        return f.read()


@test
def authenticated_mail_from(d, allow):
    c = submission(d)
    for sender in ("bob@example.test", "ceo@bank.example",
                   "BOB@EXAMPLE.TEST", "sales@example.test",
                   "alice@example.net"):
        code, msg = mail_reply(c, sender)
        assert code == 553 and NOT_OWNED in msg, (sender, code, msg)
    code, msg = mail_reply(c, "")
    assert code == 553 and b"Null sender not allowed" in msg, (code, msg)
    for sender in (ALICE, "Alice@Example.Test", "alice+tag@example.test",
                   "solo@example.test"):
        code, msg = mail_reply(c, sender)
        assert code == 250, (sender, code, msg)
    c.quit()


@test
def owned_senders_deliver(d, allow):
    before = len(d.messages("bob"))
    c = submission(d)
    for sender in ("alice+tag@example.test", "solo@example.test"):
        c.sendmail(sender, ["bob@example.test"],
                   f"From: {sender}\r\nSubject: as {sender}\r\n\r\nhi\r\n")
    c.quit()
    assert len(d.messages("bob")) == before + 2
    assert newest(d).startswith(b"Return-Path: <solo@example.test>\r\n")


@test
def from_header_mismatch_refused_after_data(d, allow):
    before = d.all_messages()
    c = submission(d)
    for frm in ("Bob <bob@example.test>", "ceo@bank.example",
                "Alice <alice@example.test>, bob@example.test",
                "team: alice@example.test, bob@example.test;",
                "\"alice@example.test\" <sales@example.test>",
                "undisclosed-recipients:;", "<alice@example.test"):
        try:
            c.sendmail(ALICE, ["bob@example.test"],
                       f"From: {frm}\r\nSubject: x\r\n\r\nbody\r\n")
            raise AssertionError("accepted From: " + frm)
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550 and e.smtp_error.startswith(
                b"5.7.1 From: address not owned by user alice@example.test"), \
                (frm, e.smtp_code, e.smtp_error)
    c.quit()
    assert d.all_messages() == before, "a refused message was stored"
    assert "reject stage=DATA" in d.logtext()


@test
def from_header_owned_accepted(d, allow):
    c = submission(d)
    c.sendmail(ALICE, ["bob@example.test"],
               b"From: \"Liddell, Alice\" <alice+news@example.test>,\r\n"
               b" solo@example.test (me too)\r\nSubject: mine\r\n\r\nbody\r\n")
    c.quit()
    assert b"Subject: mine" in newest(d)


@test
def swaks_spoof_on_submissions(d, allow):
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{d.subs}", "--tlsc",
         "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password",
         s.PASSWORD, "--from", "bob@example.test", "--to",
         "bob@example.test"], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0 and "553 5.7.1 Sender address not owned" in \
        out.stdout, out.stdout
    # The right envelope with somebody else's From: is refused at the end.
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{d.subs}", "--tlsc",
         "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password",
         s.PASSWORD, "--from", ALICE, "--to", "bob@example.test",
         "--header", "From: ceo@bank.example"], capture_output=True,
        text=True, timeout=20)
    assert out.returncode != 0 and "550 5.7.1 From: address not owned" in \
        out.stdout, out.stdout


@test
def mx_auth_is_checked_too(d, allow):
    r = s.Raw(d.mx)
    r.reply()
    r.cmd("EHLO c.example")
    r.starttls()
    r.cmd("EHLO c.example")
    assert r.cmd("AUTH PLAIN " + s.plain_ir())[0].startswith("235")
    assert r.cmd("MAIL FROM:<bob@example.test>")[0].encode().startswith(
        b"553 " + NOT_OWNED)
    assert r.cmd("MAIL FROM:<>")[0].startswith("553 5.7.1")
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith("250")
    r.close()


def mx_mail_from(port, sender, source="127.0.0.1"):
    r = s.Raw(port, source=source)
    r.reply()
    r.cmd("EHLO c.example")
    rep = r.cmd(f"MAIL FROM:<{sender}>")[0]
    r.cmd("QUIT")
    r.close()
    return rep


@test
def mx_local_sender_needs_login(d, allow):
    for sender in (ALICE, "nobody@example.test", "x@EXAMPLE.NET"):
        rep = mx_mail_from(d.mx, sender)
        assert rep == ("550 5.7.1 Sender address in a local domain requires "
                       "authentication"), (sender, rep)
    for sender in ("", "a@elsewhere.test", "a@sub.example.test"):
        assert mx_mail_from(d.mx, sender).startswith("250 2.1.0"), sender
    assert mx_mail_from(d.mx, ALICE, source=TRUSTED).startswith("250 2.1.0")
    assert mx_mail_from(allow.mx, ALICE).startswith("250 2.1.0")
    assert "reject stage=MAIL arg=<alice@example.test>" in d.logtext()


@test
def trusted_client_delivers_but_cannot_relay(d, allow):
    before = len(d.messages("bob"))
    with smtplib.SMTP("127.0.0.1", d.mx, timeout=10,
                      source_address=(TRUSTED, 0)) as c:
        c.sendmail(ALICE, ["bob@example.test"], b"Subject: cron\r\n\r\nx\r\n")
        code, _ = c.rcpt("victim@elsewhere.test")
        assert code == 503  # no transaction: sendmail ended it
        c.mail(ALICE)
        code, msg = c.rcpt("victim@elsewhere.test")
        assert code == 554, (code, msg)
    assert len(d.messages("bob")) == before + 1


@test
def submission_gets_date_and_message_id(d, allow):
    c = submission(d)
    c.sendmail(ALICE, ["bob@example.test"],
               b"From: alice@example.test\r\nSubject: bare\r\n\r\nbody\r\n")
    bare = newest(d)
    c.sendmail(ALICE, ["bob@example.test"],
               b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
               b"Message-ID: <given@client.example>\r\n"
               b"Subject: complete\r\n\r\nbody\r\n")
    complete = newest(d)
    c.quit()
    head = bare.split(b"\r\n\r\n")[0]
    assert b"\r\nSubject: bare\r\nDate: " in head, head
    assert head.count(b"\r\nMessage-ID: <") == 1 and \
        b"@mx.example.test>" in head, head
    unfolded = head.replace(b"\r\n\t", b" ")
    assert b"(authenticated as alice@example.test) by mx.example.test" in \
        unfolded and b"with ESMTPSA" in unfolded, head
    head = complete.split(b"\r\n\r\n")[0]
    assert head.count(b"Date:") == 1 and head.count(b"Message-ID:") == 1, head
    assert b"Message-ID: <given@client.example>" in head
    assert bare.endswith(b"\r\n\r\nbody\r\n")


@test
def submitted_big_messages_stream(d, allow):
    """Around the store's 64 KiB buffer and far past it: the fields go in
    once, the content arrives whole."""
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 27 + b"\r\n"  # 974
    c = submission(d)
    for body_len in (64 * 1024 - 700, 64 * 1024 - 200, 64 * 1024,
                     8 * 1024 * 1024):
        body = (line * (body_len // len(line) + 1))[:body_len - 2] + b"\r\n"
        msg = b"From: alice@example.test\r\nSubject: big\r\n\r\n" + body
        c.sendmail(ALICE, ["bob@example.test"], msg)
        path = d.messages("bob")[-1]
        with open(path, "rb") as f:
            data = f.read()
        head = data.split(b"\r\n\r\n")[0]
        assert data.endswith(b"\r\n\r\n" + body), (body_len, len(data))
        assert head.count(b"\r\nDate: ") == 1, (body_len, head)
        assert head.count(b"\r\nMessage-ID: ") == 1, (body_len, head)
        assert ",S=%d" % len(data) in path, (path, len(data))
    c.quit()


@test
def mx_mail_gets_no_added_fields(d, allow):
    with smtplib.SMTP("127.0.0.1", d.mx, timeout=10) as c:
        c.sendmail("a@elsewhere.test", ["bob@example.test"],
                   b"Subject: from outside\r\n\r\nbody\r\n")
    head = newest(d).split(b"\r\n\r\n")[0]
    assert b"Date:" not in head and b"Message-ID:" not in head, head
    assert b"authenticated" not in head, head


@test
def bdat_size_syntax(d, allow):
    for size in ("-1", "0x10", "+5", " 5", "5x", "", "1" * 21):
        r = s.Raw(d.mx)
        r.reply()
        s.envelope(r, rcpt="bob@example.test")
        rep = r.cmd("BDAT " + size)[0]
        assert rep.startswith("501 5.5.4"), (size, rep)
        try:
            r.line()
            raise AssertionError("still open after BDAT " + size)
        except (EOFError, ConnectionError):
            pass
        r.close()


@test
def clean_exit(d, allow):
    """A graceful stop after all of the above exits 0 (under the
    sanitizers: no leak was found)."""
    for dm in (d, allow):
        dm.proc.send_signal(signal.SIGTERM)
        rc = dm.proc.wait(30)
        assert rc == 0, f"{dm.dir}: exit status {rc}"


def main():
    if not os.access(s.SMTPD, os.X_OK):
        print("kantorpos-smtpd not built at " + s.SMTPD)
        return 1
    top = s.make_test_dir("kp-e2e-senders-")
    try:
        d = s.Daemon(top, "main", f"trusted_networks {TRUSTED}\n")
        allow = s.Daemon(top, "allow", "local_sender_policy allow\n")
        for dm in (d, allow):
            with open(os.path.join(dm.dir, "aliases"), "a") as f:
                f.write("solo: alice\n")
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    return s.run_tests(TESTS, (d, allow))


if __name__ == "__main__":
    sys.exit(main())
