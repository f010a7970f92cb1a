#!/usr/bin/env python3
"""tests/e2e_smtp.py: end-to-end tests of kantorpos-smtpd.

Starts the real built daemon ($KANTORPOS_BUILDDIR/smtpd/kantorpos-smtpd -f)
on free loopback ports with a temporary data directory, a self-signed
certificate made with openssl and the cheapest Argon2id cost, and talks to it
over TCP and TLS with smtplib, raw sockets and swaks. Prints one line per
test and a final "N passed, N failed"; exits non-zero on any failure."""

import atexit
import base64
import glob
import os
import pwd
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

from e2e_lib import free_port, make_cert

BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
SMTPD = os.path.join(BUILD, "smtpd", "kantorpos-smtpd")
ADMIN = os.path.join(BUILD, "admin", "kantorpos")
PASSWORD = "correct horse"
# The client address the main daemon trusts (trusted_networks).
TRUSTED = "127.0.0.250"
DAEMONS = []


def kill_daemons():
    for proc in DAEMONS:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(kill_daemons)


class Daemon:
    """One kantorpos-smtpd with its own config, data dir and log."""

    def __init__(self, top, name, extra=""):
        self.dir = os.path.join(top, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        self.mx, self.sub, self.subs = free_port(), free_port(), free_port()
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        run_as = ""
        if os.geteuid() == 0:
            # The daemon refuses to stay root: give it nobody and its files.
            run_as = "run_as nobody\n"
        with open(self.conf, "w") as f:
            f.write(
                "hostname mx.example.test\n"
                f"data_dir {self.data}\n"
                f"user_db {self.dir}/users\n"
                f"aliases {self.dir}/aliases\n"
                "local_domain example.test\n"
                "local_domain example.net\n"
                f"listen smtp 127.0.0.1:{self.mx}\n"
                f"listen smtp 127.0.0.1:{self.sub} submission\n"
                f"listen smtp 127.0.0.1:{self.subs} submissions\n"
                f"tls_cert {top}/cert.pem\ntls_key {top}/key.pem\n"
                "password_opslimit 1\npassword_memlimit 8K\n"
                "login_fail_delay 0\n"
                "workers 2\n" + run_as + extra)
        with open(os.path.join(self.dir, "aliases"), "w") as f:
            f.write("sales: alice, bob\n")
        open(os.path.join(self.dir, "users"), "w").close()
        for user in ("alice@example.test", "bob@example.test"):
            subprocess.run([ADMIN, "-c", self.conf, "user", "add", user],
                           input=PASSWORD + "\n", text=True, check=True,
                           capture_output=True)
        if run_as:
            nobody = pwd.getpwnam("nobody")
            for path in (self.dir, self.data):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            for path in glob.glob(self.dir + "/*"):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.start()

    def start(self):
        """Start (or start again) the daemon on this config and data; wait
        until it serves, or raise RuntimeError with its log."""
        self.proc = subprocess.Popen([SMTPD, "-f", "-t", "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        DAEMONS.append(self.proc)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.mx), 1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("daemon did not start:\n" +
                                       self.logtext())
                time.sleep(0.05)

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def messages(self, user, domain="example.test"):
        return sorted(glob.glob(f"{self.data}/mail/{domain}/{user}/new/*"))

    def all_messages(self):
        return sorted(glob.glob(f"{self.data}/mail/*/*/new/*"))


# ---- raw client ------------------------------------------------------------

class Raw:
    """A line-oriented raw SMTP client over a socket (TLS on demand)."""

    def __init__(self, port, tls=False, source="127.0.0.1", timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout,
                                             source_address=(source, 0))
        if tls:
            self.sock = client_ctx().wrap_socket(self.sock,
                                                 server_hostname="localhost")
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """A whole (multi-line) reply as a list of lines."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def code(self):
        return int(self.reply()[-1][:3])

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r[0].startswith("220 2.0.0"), r
        self.sock = client_ctx().wrap_socket(self.sock,
                                             server_hostname="localhost")
        self.buf = b""

    def nothing_pending(self, wait=0.5):
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(4096)
        except (socket.timeout, ssl.SSLError):
            data = b""
        self.sock.settimeout(5)
        return data == b"" and self.buf == b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def plain_ir(user=b"alice@example.test", pw=PASSWORD.encode()):
    return base64.b64encode(b"\0" + user + b"\0" + pw).decode()


def envelope(r, rcpt="alice@example.test", sender="a@elsewhere.test"):
    assert r.cmd("EHLO client.example")[-1].startswith("250 ")
    assert r.cmd(f"MAIL FROM:<{sender}>")[0].startswith("250 2.1.0"), sender
    assert r.cmd(f"RCPT TO:<{rcpt}>")[0].startswith("250 2.1.5"), rcpt


# ---- tests -------------------------------------------------------------------

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def greeting_and_ehlo(d, small):
    r = Raw(d.mx)
    g = r.reply()
    assert g == ["220 mx.example.test ESMTP kantorpos ready"], g
    ehlo = r.cmd("ehlo client.example")
    kws = [line[4:] for line in ehlo[1:]]
    for kw in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
               "CHUNKING", "STARTTLS", "BINARYMIME"):
        assert kw in kws, (kw, ehlo)
    assert any(k.startswith("SIZE ") for k in kws), ehlo
    assert not any(k.startswith("AUTH") for k in kws), "AUTH before TLS"
    assert all(line.startswith("250-") for line in ehlo[:-1])
    helo = r.cmd("HELO client.example")
    assert len(helo) == 1 and helo[0].startswith("250 mx.example.test"), helo
    for arg in ("[127.0.0.1]", "[IPv6:::1]", "JOHN_PC", "host (my laptop)"):
        assert r.cmd("EHLO " + arg)[-1].startswith("250 "), arg
    assert r.cmd("EHLO")[0].startswith("501 5.5.4")
    assert r.cmd("QUIT")[0].startswith("221 2.0.0")
    r.close()


@test
def commands_and_sequence(d, small):
    r = Raw(d.mx)
    r.reply()
    rows = [
        ("NOOP", "250 2.0.0"), ("RSET", "250 2.0.0"), ("HELP", "214 2.0.0"),
        ("VRFY alice@example.test", "252 2.0.0"),
        ("MAIL FROM:<a@b.example>", "503 5.5.1"),
        ("RCPT TO:<alice@example.test>", "503 5.5.1"),
        ("DATA", "503 5.5.1"), ("EHLO c.example", "250"),
        ("EXPN staff", "502 5.5.1"), ("FOO", "500 5.5.2"),
        ("RSET x", "501 5.5.4"), ("QUIT x", "501 5.5.4"),
        ("NOOP whatever", "250 2.0.0"),
        ("mail from: <a@b.example>", "250 2.1.0"),
        ("MAIL FROM:<c@d.example>", "503 5.5.1"),
        ("RCPT TO:<nobody@example.test>", "550 5.1.1"),
        ("DATA", "554 5.5.1"),
        ("rcpt to:<Alice@EXAMPLE.test>", "250 2.1.5"),
        ("RCPT TO:<postmaster>", "250 2.1.5"),
        ("RCPT TO:<PostMaster@example.net>", "250 2.1.5"),
        ("RCPT TO:<@relay.example,@r2.example:bob@example.test>", "250 2.1.5"),
        ("RCPT TO:<alice@example.test> FOO=bar", "555 5.5.4"),
        ("RCPT TO:<alice@example.test> NOTIFY=NEVER,DELAY", "501 5.5.4"),
        ("RCPT TO:<alice@example.test> NOTIFY=NEVER", "250 2.1.5"),
        ("EHLO again.example", "250"), ("DATA", "503 5.5.1"),
        ("MAIL FROM:<a@b> FOO=bar", "555 5.5.4"),
        ("MAIL FROM:<a b@x>", "501"), ("MAIL FROM:<>", "250 2.1.0"),
        ("RSET", "250 2.0.0"),
    ]
    for cmd, want in rows:
        got = r.cmd(cmd)[-1]
        assert got.startswith(want), (cmd, got)
    # VRFY never tells users apart.
    assert r.cmd("VRFY alice") == r.cmd("VRFY nobody")
    r.close()


def check_stored(path, sender, rcpt, proto, body):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\r\n")
    assert lines[0] == b"Return-Path: <" + sender.encode() + b">", lines[0]
    at = 1
    # Mail on mx carries the SPF result above our Received (RFC 7208 9.1).
    if lines[at].startswith(b"Received-SPF: "):
        at += 1
        while lines[at].startswith(b" "):
            at += 1
    assert lines[at].startswith(b"Received: from "), lines[at]
    head = data[:data.index(b"\r\n\r\n")]
    assert b"with " + proto.encode() + b" " in head.replace(b"\r\n\t", b" "), head
    if rcpt:
        assert b"for <" + rcpt.encode() + b">" in head.replace(b"\r\n\t", b" ")
    assert data.count(b"Return-Path:") == 1, data[:400]
    assert data.endswith(body), data[-200:]
    return data


@test
def deliver_with_smtplib(d, small):
    before = len(d.messages("alice"))
    with smtplib.SMTP("127.0.0.1", d.mx) as c:
        code, msg = c.ehlo("client.example")
        assert code == 250
        body = (b"Return-Path: <forged@evil.example>\r\nSubject: hi\r\n\r\n"
                b".dotted\r\nline\r\n")
        c.mail("s@elsewhere.test")
        c.rcpt("alice@example.test")
        code, msg = c.data(body)
        assert code == 250 and b"queued as" in msg, msg
    # The 250 came after the commit: the file is there now.
    msgs = d.messages("alice")
    assert len(msgs) == before + 1
    check_stored(msgs[-1], "s@elsewhere.test", "alice@example.test", "ESMTP",
                 b"Subject: hi\r\n\r\n.dotted\r\nline\r\n")


@test
def aliases_and_postmaster(d, small):
    with smtplib.SMTP("127.0.0.1", d.mx) as c:
        c.sendmail("s@elsewhere.test", ["sales@example.test", "postmaster"],
                   b"Subject: team\r\n\r\nhello\r\n")
    assert d.messages("bob") and d.messages("postmaster")
    with open(d.messages("bob")[-1], "rb") as f:
        assert b"Subject: team" in f.read()


def send_to(d, rcpt):
    with smtplib.SMTP("127.0.0.1", d.mx) as c:
        c.sendmail("s@elsewhere.test", [rcpt], b"Subject: new\r\n\r\nhi\r\n")


@test
def lookups_follow_their_files(d, small):
    """Each MAIL sees the user db and the aliases as their files are now
    (read off the loop, no SIGHUP); a broken aliases file keeps the loaded
    table and says so."""
    aliases = os.path.join(d.dir, "aliases")
    with open(aliases) as f:
        original = f.read()
    try:
        with open(aliases, "a") as f:
            f.write("team: alice\n")
        before = len(d.messages("alice"))
        send_to(d, "team@example.test")
        assert len(d.messages("alice")) == before + 1
        subprocess.run([ADMIN, "-c", d.conf, "user", "add",
                        "carol@example.test"], input=PASSWORD + "\n",
                       text=True, check=True, capture_output=True)
        send_to(d, "carol@example.test")
        assert len(d.messages("carol")) == 1
        with open(aliases, "w") as f:
            f.write(original + "broken line\n")
        before = len(d.messages("bob"))
        send_to(d, "sales@example.test")
        assert len(d.messages("bob")) == before + 1
        assert "aliases not reloaded" in d.logtext(), d.logtext()[-2000:]
        try:
            send_to(d, "team@example.test")
        except smtplib.SMTPRecipientsRefused as e:
            raise AssertionError(f"the loaded table was dropped: {e}")
    finally:
        with open(aliases, "w") as f:
            f.write(original)


@test
def pipelining(d, small):
    r = Raw(d.mx)
    r.reply()
    r.cmd("EHLO c.example")
    r.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<alice@example.test>\r\n"
           "RCPT TO:<nobody@example.test>\r\nDATA\r\n")
    codes = [r.reply()[0][:9] for _ in range(4)]
    assert codes == ["250 2.1.0", "250 2.1.5", "550 5.1.1", "354 End d"], codes
    r.send("Subject: p\r\n\r\nx\r\n.\r\nRSET\r\nMAIL FROM:<a@b.example>\r\n"
           "RCPT TO:<bob@example.test>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n")
    codes = [r.reply()[0][:3] for _ in range(7)]
    assert codes == ["250", "250", "250", "250", "354", "250", "221"], codes
    r.close()


@test
def starttls_and_injection(d, small):
    r = Raw(d.mx)
    r.reply()
    r.cmd("EHLO c.example")
    r.send("STARTTLS\r\nRSET\r\nMAIL FROM:<inject@evil.example>\r\n")
    assert r.reply()[0].startswith("220 2.0.0")
    r.sock = client_ctx().wrap_socket(r.sock, server_hostname="localhost")
    r.buf = b""
    assert r.nothing_pending(), "injected commands were answered"
    # Everything before TLS is forgotten (RFC 3207 4.2).
    assert r.cmd("MAIL FROM:<a@b.example>")[0].startswith("503 5.5.1")
    ehlo = r.cmd("EHLO c.example")
    assert not any("STARTTLS" in line for line in ehlo), ehlo
    assert any("AUTH PLAIN LOGIN" in line for line in ehlo), ehlo
    assert r.cmd("STARTTLS")[0].startswith("503")
    envelope(r)
    r.send("DATA\r\n")
    assert r.reply()[0].startswith("354")
    r.send("Subject: tls\r\n\r\nsecret\r\n.\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    r.close()
    check_stored(d.messages("alice")[-1], "a@elsewhere.test",
                 "alice@example.test", "ESMTPS", b"secret\r\n")
    assert "MAIL FROM:<inject" not in d.logtext()


@test
def submission_auth(d, small):
    r = Raw(d.sub)
    r.reply()
    ehlo = r.cmd("EHLO c.example")
    assert not any("AUTH" in line for line in ehlo), ehlo
    # Refused before TLS, the same for right and wrong passwords.
    a = r.cmd("AUTH PLAIN " + plain_ir())
    b = r.cmd("AUTH PLAIN " + plain_ir(pw=b"wrong"))
    assert a == b and a[0].startswith("538 5.7.11"), (a, b)
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith("530 5.7.0")
    r.starttls()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith(
        "530 5.7.0 Authentication required")
    assert r.cmd("AUTH PLAIN " + plain_ir(pw=b"wrong"))[0].startswith(
        "535 5.7.8")
    assert r.cmd("AUTH FOO")[0].startswith("504 5.5.4")
    assert r.cmd("AUTH PLAIN")[0] == "334 "
    assert r.cmd("*")[0].startswith("501 5.7.0")
    assert r.cmd("AUTH PLAIN")[0] == "334 "
    assert r.cmd("%%%")[0].startswith("501 5.5.2")
    assert r.cmd("AUTH LOGIN")[0] == "334 VXNlcm5hbWU6"
    assert r.cmd(base64.b64encode(b"alice@example.test").decode())[0] == \
        "334 UGFzc3dvcmQ6"
    assert r.cmd(base64.b64encode(PASSWORD.encode()).decode())[0].startswith(
        "235 2.7.0")
    assert r.cmd("AUTH PLAIN " + plain_ir())[0].startswith("503 5.5.1")
    # An authenticated user's mail for another domain is queued for its
    # MX hosts (dropped here by RSET); an address literal never is.
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith("250")
    assert r.cmd("RCPT TO:<victim@[192.0.2.1]>")[0].startswith("554 5.7.1")
    assert r.cmd("RCPT TO:<victim@elsewhere.test>")[0].startswith(
        "250 2.1.5 Recipient OK, queued")
    assert r.cmd("RSET")[0].startswith("250")
    assert r.cmd("MAIL FROM:<alice@example.test>")[0].startswith("250")
    assert r.cmd("RCPT TO:<bob@example.test>")[0].startswith("250")
    r.send("DATA\r\n")
    r.reply()
    r.send("Subject: sub\r\n\r\nauth\r\n.\r\n")
    assert r.reply()[0].startswith("250 2.0.0")
    r.close()
    check_stored(d.messages("bob")[-1], "alice@example.test",
                 "bob@example.test", "ESMTPSA", b"auth\r\n")
    assert "login user=alice@example.test" in d.logtext()


@test
def pipelined_auth_ir(d, small):
    r = Raw(d.sub)
    r.reply()
    r.cmd("EHLO c.example")
    r.starttls()
    r.cmd("EHLO c.example")
    r.send("AUTH PLAIN " + plain_ir() + "\r\nMAIL FROM:<alice@example.test>\r\n")
    assert r.reply()[0].startswith("235")
    assert r.reply()[0].startswith("250 2.1.0")
    r.close()


@test
def submissions_implicit_tls(d, small):
    with smtplib.SMTP_SSL("127.0.0.1", d.subs, context=client_ctx()) as c:
        c.ehlo("client.example")
        assert c.has_extn("auth")
        c.login("alice@example.test", PASSWORD)
        c.sendmail("alice@example.test", ["bob@example.test"],
                   b"Subject: 465\r\n\r\nimplicit\r\n")
    check_stored(d.messages("bob")[-1], "alice@example.test",
                 "bob@example.test", "ESMTPSA", b"implicit\r\n")


@test
def swaks_tls_auth(d, small):
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{d.sub}", "--tls",
         "--auth", "LOGIN", "--auth-user", "alice@example.test",
         "--auth-password", PASSWORD, "--from", "alice@example.test",
         "--to", "bob@example.test", "--pipeline",
         "--header", "Subject: via swaks"],
        capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stdout + out.stderr
    with open(d.messages("bob")[-1], "rb") as f:
        assert b"Subject: via swaks" in f.read()
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{d.mx}", "--from", "x@example.org",
         "--to", "victim@elsewhere.test"], capture_output=True, text=True,
        timeout=20)
    assert out.returncode != 0 and "554 5.7.1" in out.stdout, out.stdout


@test
def eight_bit_and_utf8(d, small):
    body = bytes(range(0x80, 0x100)) + b"\r\n"
    r = Raw(d.mx)
    r.reply()
    r.cmd("EHLO c.example")
    assert r.cmd("MAIL FROM:<a@b.example> BODY=8BITMIME")[0].startswith("250")
    assert r.cmd("RCPT TO:<alice@example.test>")[0].startswith("250")
    r.send("DATA\r\n")
    r.reply()
    r.send(b"Subject: 8bit\r\n\r\n" + body + b".\r\n")
    assert r.reply()[0].startswith("250")
    with open(d.messages("alice")[-1], "rb") as f:
        assert f.read().endswith(body)
    sender = "jörg@example.org"
    assert r.cmd(f"MAIL FROM:<{sender}>")[0].startswith("550 5.6.7")
    assert r.cmd(f"MAIL FROM:<{sender}> SMTPUTF8")[0].startswith("250")
    assert r.cmd("RCPT TO:<alice@example.test>")[0].startswith("250")
    r.send("DATA\r\n")
    r.reply()
    r.send("Subject: ünïcode\r\n\r\nGrüße\r\n.\r\n".encode())
    assert r.reply()[0].startswith("250")
    r.close()
    check_stored(d.messages("alice")[-1], sender, "alice@example.test",
                 "UTF8SMTP", "Grüße\r\n".encode())
    r = Raw(d.mx)
    r.reply()
    r.cmd("EHLO c.example")
    r.cmd("MAIL FROM:<a@b.example>")
    assert r.cmd("RCPT TO:<jörg@example.test>")[0].startswith("553 5.6.7")
    r.close()


@test
def size_declared_and_actual(d, small):
    r = Raw(small.mx)
    r.reply()
    ehlo = r.cmd("EHLO c.example")
    assert "250-SIZE 102400" in ehlo, ehlo
    assert r.cmd("MAIL FROM:<a@b.example> SIZE=102401")[0].startswith(
        "552 5.3.4")
    assert r.cmd("MAIL FROM:<a@b.example> SIZE=99999999999999999999")[0] \
        .startswith("552 5.3.4")
    assert r.cmd("MAIL FROM:<a@b.example> SIZE=abc")[0].startswith("501 5.5.4")
    assert r.cmd("MAIL FROM:<a@b.example> SIZE=10")[0].startswith("250")
    r.cmd("RCPT TO:<alice@example.test>")
    r.send("DATA\r\n")
    r.reply()
    r.send(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 110 + b".\r\n")
    assert r.reply()[0].startswith("552 5.3.4")
    assert r.cmd("NOOP")[0].startswith("250")
    r.close()
    assert small.all_messages() == [], small.all_messages()


@test
def bdat(d, small):
    r = Raw(d.mx)
    r.reply()
    envelope(r)
    part1 = b"Subject: bdat\r\n\r\nline\r\n.\r\nMAIL FROM:<x@y>\r\n"
    part2 = b"..dots stay\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert r.reply()[0].startswith("250 2.0.0")
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    assert "queued as" in r.reply()[0]
    assert r.cmd("DATA")[0].startswith("503")  # new transaction: no MAIL
    with open(d.messages("alice")[-1], "rb") as f:
        assert f.read().endswith(part1 + part2)
    # A chunk that cannot be taken is read and dropped, never executed.
    chunk = b"RSET\r\nQUIT\r\n"
    r.send(b"BDAT %d\r\n" % len(chunk) + chunk)
    assert r.reply()[0].startswith("503 5.5.1")
    assert r.cmd("NOOP")[0].startswith("250")
    # BDAT text with a bare LF is refused like DATA; BDAT 0 LAST ends it.
    envelope(r)
    r.send(b"BDAT 5\r\na\nb\r\nBDAT 0 LAST\r\n")
    assert r.reply()[0].startswith("250")
    assert r.reply()[0].startswith("550 5.5.2")
    r.send(b"BDAT 99999999999999999999\r\n")
    assert r.reply()[0].startswith("552 5.3.4")
    r.close()


SMUGGLE = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r", b"\r.\r\n",
           b"\r\n.\r", b"\n.\r", b"\r\n.\r\r\n"]


@test
def smuggling(d, small):
    for seq in SMUGGLE:
        before = d.all_messages()
        r = Raw(d.mx)
        r.reply()
        envelope(r)
        r.send("DATA\r\n")
        assert r.reply()[0].startswith("354")
        r.send(b"Subject: one\r\n\r\nx" + seq +
               b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
               b"DATA\r\nSubject: smuggled\r\n\r\ny\r\n.\r\n")
        rep = r.reply()
        assert rep[0].startswith("550 5.5.2"), (seq, rep)
        assert r.nothing_pending(0.2), seq
        assert r.cmd("NOOP")[0].startswith("250"), seq
        r.close()
        assert d.all_messages() == before, seq
    # NUL before the dot is content: one message, no smuggled second.
    r = Raw(d.mx)
    r.reply()
    envelope(r)
    r.send("DATA\r\n")
    r.reply()
    r.send(b"Subject: one\r\n\r\nx\r\n\0.\r\nMAIL FROM:<ceo@example.test>\r\n"
           b"DATA\r\nSubject: smuggled\r\n\r\ny\r\n.\r\n")
    assert r.reply()[0].startswith("250")
    assert r.nothing_pending(0.2)
    r.close()


@test
def open_relay_patterns(d, small):
    rows = [
        "<victim@elsewhere.test>", "<victim%elsewhere.test@example.test>",
        "<elsewhere.test!victim@example.test>",
        "<example.test!elsewhere.test!victim>",
        "<\"victim@elsewhere.test\"@example.test>",
        "<\"victim%elsewhere.test\"@example.test>",
        "<victim@elsewhere.test@example.test>",
        "<@example.test:victim@elsewhere.test>", "<victim@[192.0.2.1]>",
        "<victim@[127.0.0.1]>", "<victim@elsewhere.test.>",
        "<victim@ELSEWHERE.TEST>", "<victim@example.test.elsewhere.test>",
        "<victim@elsewhereexample.test>",
    ]
    # A local sender needs a trusted client (trusted_networks), which
    # still cannot relay.
    for sender in ("a@b.example", "alice@example.test", ""):
        r = Raw(d.mx, source=TRUSTED)
        r.reply()
        r.cmd("EHLO c.example")
        assert r.cmd(f"MAIL FROM:<{sender}>")[0].startswith("250")
        for rcpt in rows:
            rep = r.cmd("RCPT TO:" + rcpt)[0]
            assert rep[:3] in ("550", "554", "501", "553"), (rcpt, rep)
        r.cmd("QUIT")
        r.close()


@test
def overlong_lines(d, small):
    r = Raw(d.mx)
    r.reply()
    for n in (500, 505, 507, 520, 1030, 4100, 8200, 20000):
        r.send("NOOP " + "A" * n + "QUIT\r\n")
        rep = r.reply()
        want = "250" if n + 5 + 4 + 2 <= 512 else "500 5.5.2"
        assert rep[0].startswith(want), (n, rep)
    assert r.nothing_pending(0.2)
    assert r.cmd("NOOP")[0].startswith("250")
    # A text line above the limit is refused after the data, never cut.
    envelope(r)
    r.send("DATA\r\n")
    r.reply()
    r.send(b"Subject: long\r\n\r\n" + b"y" * 998 + b"\r\n" + b"z" * 999 +
           b"\r\n.\r\n")
    assert r.reply()[0].startswith("552 5.3.4")
    r.close()


@test
def limits_recipients_loop(d, small):
    r = Raw(d.mx)
    r.reply()
    envelope(r)
    r.send("".join("RCPT TO:<alice@example.test>\r\n" for _ in range(100)))
    codes = [r.reply()[0][:9] for _ in range(100)]
    assert codes[:99] == ["250 2.1.5"] * 99 and codes[99] == "452 4.5.3", \
        codes[95:]
    r.send("DATA\r\n")
    r.reply()
    r.send(b"".join(b"Received: from h%d by x\r\n" % i for i in range(101)) +
           b"Subject: loop\r\n\r\nx\r\n.\r\n")
    assert r.reply()[0].startswith("554 5.4.6")
    r.close()


@test
def big_message_streamed(d, small):
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 27 + b"\r\n"  # 974
    body = b"Subject: big\r\n\r\n" + line * (50 * 1024 * 1024 // len(line))
    with smtplib.SMTP("127.0.0.1", d.mx, timeout=60) as c:
        c.ehlo("c.example")
        c.mail("a@b.example", ["SIZE=%d" % len(body)])
        c.rcpt("bob@example.test")
        code, msg = c.data(body)
        assert code == 250, msg
    path = d.messages("bob")[-1]
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(body) and len(data) - len(body) < 1024, len(data)
    assert ",S=%d" % len(data) in path


@test
def bad_commands_and_timeout(d, small):
    r = Raw(small.mx)
    r.reply()
    for _ in range(2):
        assert r.cmd("FOO")[0].startswith("500")
    assert r.cmd("FOO")[0].startswith("421 4.7.0")
    try:
        r.line()
        raise AssertionError("still open after the bad-command limit")
    except (EOFError, ConnectionError):
        pass
    r.close()
    r = Raw(small.mx)
    r.reply()
    r.sock.settimeout(6)
    assert r.reply()[0].startswith("421 4.4.2"), "no timeout reply"
    r.close()


@test
def connection_limits(d, small):
    held = [Raw(small.mx) for _ in range(3)]
    for h in held:
        h.reply()
    extra = Raw(small.mx)
    assert extra.reply()[0].startswith("421 4.7.0"), "limit not enforced"
    extra.close()
    other = Raw(small.mx, source="127.0.0.2")
    assert other.reply()[0].startswith("220")
    other.close()
    for h in held:
        h.close()


@test
def sighup_reloads_cert_and_config(d, small):
    """SIGHUP: a renewed certificate and a changed max_message_size are
    used by new connections without a restart."""
    top = os.path.dirname(d.dir)
    key, cert = top + "/key.new", top + "/cert.new"
    make_cert(key, cert, cn="renewed.example.test")
    if os.geteuid() == 0:
        shutil.chown(key, "nobody")
    with open(cert) as f:
        new_der = ssl.PEM_cert_to_DER_cert(f.read())

    def served_cert():
        r = Raw(d.subs, tls=True)
        der = r.sock.getpeercert(binary_form=True)
        r.reply()
        r.close()
        return der

    assert served_cert() != new_der
    os.rename(key, top + "/key.pem")
    os.rename(cert, top + "/cert.pem")
    with open(d.conf) as f:
        conf = f.read()
    with open(d.conf, "w") as f:
        f.write(conf.replace("max_message_size 60M\n",
                             "max_message_size 61M\n"))
    size = "250-SIZE %d" % (61 * 1024 * 1024)
    r = Raw(d.mx)
    r.reply()
    assert size not in r.cmd("EHLO c.example"), "new size before SIGHUP"
    r.close()
    before = d.logtext().count("reloaded ")
    d.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while d.logtext().count("reloaded ") == before:
        assert time.time() < deadline, "no reload logged"
        time.sleep(0.05)
    assert served_cert() == new_der, "old certificate after SIGHUP"
    r = Raw(d.mx)
    r.reply()
    assert size in r.cmd("EHLO c.example"), "old size after SIGHUP"
    r.close()
    assert d.proc.poll() is None


@test
def sigterm_421(d, small):
    r = Raw(small.mx, source="127.0.0.3")
    r.reply()
    r.cmd("EHLO c.example")
    small.proc.send_signal(signal.SIGTERM)
    assert r.reply()[0].startswith("421 4.3.2"), "no 421 on SIGTERM"
    r.close()
    assert small.proc.wait(15) == 0


@test
def clean_exit(d, small):
    """A graceful stop of a daemon that served everything above exits 0
    (under the sanitizers this also means no leak was found)."""
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(30)
    assert rc == 0, f"exit status {rc}"


def make_test_dir(prefix):
    """A scratch directory with a self-signed cert.pem and key.pem for the
    daemons, removed at exit. The key is 0600 (the daemons check at start);
    as root the daemons drop to nobody, who must re-read it on SIGHUP."""
    top = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, top, True)
    os.chmod(top, 0o755)
    make_cert(top + "/key.pem", top + "/cert.pem")
    if os.geteuid() == 0:
        shutil.chown(top + "/key.pem", "nobody")
    return top


def run_tests(tests, daemons):
    """Run each test with the first daemons as its arguments (as many as it
    takes): one line per test, the daemons' log tails after a failure, then
    "N passed, N failed". Stops the daemons; returns the exit status."""
    passed = failed = 0
    for fn in tests:
        start = time.time()
        try:
            fn(*daemons[:fn.__code__.co_argcount])
            passed += 1
            print(f"PASS {fn.__name__} ({time.time() - start:.2f}s)")
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    if failed:
        for dm in daemons:
            print(f"--- log of {dm.dir} (tail)")
            print("\n".join(dm.logtext().splitlines()[-60:]))
    kill_daemons()
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    if not os.access(SMTPD, os.X_OK):
        print(f"kantorpos-smtpd not built at {SMTPD}")
        return 1
    top = make_test_dir("kp-e2e-smtp-")
    try:
        d = Daemon(top, "main", "max_message_size 60M\nsmtp_timeout 30s\n"
                   "max_connections_per_ip 50\n"
                   f"trusted_networks {TRUSTED}\n")
        small = Daemon(top, "small", "max_message_size 100K\nsmtp_timeout 2s\n"
                       "bad_command_limit 3\nmax_connections_per_ip 3\n")
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    return run_tests(TESTS, (d, small))


if __name__ == "__main__":
    sys.exit(main())
