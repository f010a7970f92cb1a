#!/usr/bin/env python3
"""tests/e2e_pop3_conformance.py: kantorpos-pop3d against the POP3 rows of
the conformance checklist that e2e_pop3.py does not already prove: exact
octet counts and byte-stuffing of stored text, UIDL stability, the UPDATE
failure reply, autologout with trickled input, line lengths, SASL edge
cases, TLS versions and close_notify, SIGHUP reload of the user database and
the certificate, and the whole mail flow: SMTP into kantorpos-smtpd, POP3
out of kantorpos-pop3d over TLS, byte for byte. The harness is
tests/e2e_lib.py. Prints one line per test and "N passed, N failed".
"""

import base64
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib  # noqa: E402
from e2e_lib import (ADMIN, BASE_CAPA, DOMAIN, PASSWORDS, SMTPD,  # noqa: E402
                     POP3SSLFrom, Raw, capa, fresh_src, free_port, main,
                     make_cert, msg, test, Env, DAEMONS)

ENV = None
_seq = [0]


def put_raw(user, data, sub="new", flags=""):
    """Store data as is (no line-end conversion) as the next message of
    user's Maildir; returns its path."""
    md = ENV.maildir(user)
    for d in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, d), exist_ok=True)
    _seq[0] += 1
    name = "%d.M%dP%d.conformance.test" % (1700000000 + _seq[0], _seq[0],
                                            os.getpid())
    if sub == "cur":
        name += ":2," + flags
    path = os.path.join(md, sub, name)
    with open(path, "wb") as f:
        f.write(data)
    if ENV.as_user:
        for p in [os.path.join(ENV.data, "mail"),
                  os.path.join(ENV.data, "mail", DOMAIN), md, path] + \
                [os.path.join(md, d) for d in ("tmp", "new", "cur")]:
            shutil.chown(p, ENV.as_user)
    return path


def body_of(r, cmd):
    """Send a RETR/TOP and return (status line, raw body bytes with the
    terminator)."""
    status = r.cmd(cmd)
    assert status.startswith("+OK"), (cmd, status)
    while not (r.buf.endswith(b"\r\n.\r\n") or r.buf == b".\r\n"):
        chunk = r.sock.recv(65536)
        assert chunk, "closed inside a multi-line reply"
        r.buf += chunk
    data, r.buf = r.buf, b""
    return status, data


def login_src(user, port=None, pw=None):
    r = Raw(port or ENV.p_plain)
    reply = r.login(user, pw)
    assert reply.startswith("+OK"), reply
    return r


# ---- 1.1 framing, 1.2 AUTHORIZATION ----------------------------------------

@test
def user_of_255_octets_is_a_normal_command():          # P-GEN-05
    r = Raw(ENV.p_plain)
    line = "USER " + "u" * 248
    assert len(line) + 2 == 255
    assert r.cmd(line) == "+OK send PASS"
    # A capability-style command line beyond 255 octets is still answered
    # with one line and the session goes on.
    assert r.cmd("USER " + "u" * 600) == "+OK send PASS"
    assert capa(r)[0] == "TOP"
    r.close()


@test
def failures_are_identical_for_unknown_user_and_wrong_password():  # AUTH-04
    r = Raw(ENV.p_plain)
    wrong = r.login("alice", "not-it")
    r = Raw(ENV.p_plain)
    unknown = r.login("nosuchuser", "not-it")
    assert wrong == unknown == "-ERR [AUTH] invalid user name or password", \
        (wrong, unknown)
    # Back in AUTHORIZATION: PASS alone needs a USER again.
    assert r.cmd("PASS x").startswith("-ERR")
    assert r.cmd("STAT").startswith("-ERR")
    r.close()


@test
def second_user_replaces_the_first():                   # P-AUTH-06
    r = Raw(ENV.p_plain)
    assert r.cmd(f"USER alice@{DOMAIN}").startswith("+OK")
    assert r.cmd(f"USER bob@{DOMAIN}").startswith("+OK")
    assert r.cmd("PASS " + PASSWORDS["alice"]).startswith("-ERR [AUTH]")
    r = Raw(ENV.p_plain)
    assert r.cmd(f"USER alice@{DOMAIN}").startswith("+OK")
    assert r.cmd(f"USER bob@{DOMAIN}").startswith("+OK")
    assert r.cmd("PASS " + PASSWORDS["bob"]).startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")


@test
def quit_in_authorization_closes_without_update():      # P-AUTH-08
    put_raw("carol", b"Subject: q\r\n\r\nq\r\n")
    before = ENV.count("carol")
    r = Raw(ENV.p_plain)
    assert r.cmd("QUIT").startswith("+OK")
    assert r.pending(2) == b""
    assert ENV.count("carol") == before


@test
def utf8_command_is_not_offered():                      # P-UTF8-01
    r = Raw(ENV.p_plain)
    assert "UTF8" not in capa(r)
    assert r.cmd("UTF8").startswith("-ERR")
    r.login("carol")
    assert "UTF8" not in capa(r)
    assert r.cmd("UTF8").startswith("-ERR")
    assert r.cmd("STAT").startswith("+OK")
    r.cmd("QUIT")


@test
def path_names_are_plain_auth_failures():               # X-PTH-01, 03
    for name in (".alice", "%2e%2e", "../bob@" + DOMAIN):
        r = Raw(ENV.p_plain)
        assert r.cmd("USER " + name) == "+OK send PASS"
        assert r.cmd("PASS secret") == \
            "-ERR [AUTH] invalid user name or password"
        r.close()
    for raw in (b"\0../bob@example.test\0correct horse battery",
                b"bob@example.test\0alice@example.test\0secret"):
        r = Raw(ENV.p_tls, tls=True)
        reply = r.cmd("AUTH PLAIN " + base64.b64encode(raw).decode())
        assert reply == "-ERR [AUTH] invalid user name or password", reply
        r.close()


# ---- 1.3 TRANSACTION -------------------------------------------------------

@test
def stat_and_list_count_exact_octets():                 # P-TRN-01, 02
    r = login_src("dave")
    assert r.cmd("STAT") == "+OK 0 0"
    assert r.cmd("LIST").startswith("+OK") and r.multi() == []
    assert r.cmd("UIDL").startswith("+OK") and r.multi() == []
    r.cmd("QUIT")
    head = b"Subject: sized\r\n\r\n"
    put_raw("dave", head + b"x" * (120 - len(head) - 2) + b"\r\n")
    put_raw("dave", head + b"y" * (200 - len(head) - 2) + b"\r\n")
    r = login_src("dave")
    assert r.cmd("STAT") == "+OK 2 320"
    assert r.cmd("LIST").startswith("+OK")
    assert r.multi() == ["1 120", "2 200"]
    assert r.cmd("LIST 2") == "+OK 2 200"
    assert r.cmd("LIST 3").startswith("-ERR")
    r.cmd("QUIT")


@test
def stored_text_is_sent_with_crlf_and_stuffing():       # P-TRN-04, 05, 06
    cases = [
        # stored bytes, what RETR must send (before ".\r\n")
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"H: 1\r\n\r\n.\r\n.x\r\n..\r\nend\r\n",
         b"H: 1\r\n\r\n..\r\n..x\r\n...\r\nend\r\n"),
        (b"H: 2\n\n.\n.x\n..\n", b"H: 2\r\n\r\n..\r\n..x\r\n...\r\n"),
        (b"H: 3\r\n\r\nno final newline", b"H: 3\r\n\r\nno final newline\r\n"),
        (b"H: 4\r\n\r\n.", b"H: 4\r\n\r\n..\r\n"),
    ]
    for data, _ in cases:
        put_raw("erin", data)
    r = login_src("erin")
    for i, (data, sent) in enumerate(cases, 1):
        size = int(r.cmd("LIST %d" % i).split()[2])
        status, body = body_of(r, "RETR %d" % i)
        assert status == "+OK %d octets" % size, (status, size)
        assert body == sent + b".\r\n", (i, body)
        # The size counts CRLF line ends, not the stuffing dots.
        unstuffed = re.sub(rb"(^|\r\n)\.", rb"\1", sent)
        assert size == len(unstuffed), (i, size, unstuffed)
    r.cmd("QUIT")


@test
def top_sends_header_and_n_body_lines():                # P-TRN-11
    text = b"From: a@b\r\nSubject: top\r\n\r\n1\r\n2\r\n.3\r\n4\r\n"
    put_raw("frank", text)
    r = login_src("frank")
    n = r.cmd("STAT").split()[1]
    head = b"From: a@b\r\nSubject: top\r\n\r\n"
    for lines, want in ((0, head), (2, head + b"1\r\n2\r\n"),
                        (3, head + b"1\r\n2\r\n..3\r\n"),
                        (99999999, head + b"1\r\n2\r\n..3\r\n4\r\n")):
        _, body = body_of(r, "TOP %s %d" % (n, lines))
        assert body == want + b".\r\n", (lines, body)
    r.cmd("QUIT")


@test
def uidl_is_stable_across_sessions_and_flag_changes():  # P-TRN-13, 14
    p1 = put_raw("gina", b"Subject: u1\r\n\r\n1\r\n")
    put_raw("gina", b"Subject: u2\r\n\r\n2\r\n")
    seen = {}

    def uids():
        r = login_src("gina")
        assert r.cmd("UIDL").startswith("+OK")
        listing = r.multi()
        for ln in listing:
            assert re.match(r"^\d+ [\x21-\x7e]{1,70}$", ln), ln
        got = [ln.split()[1] for ln in listing]
        assert len(set(got)) == len(got), got
        return r, got

    r, first = uids()
    seen.update({u: True for u in first})
    assert r.cmd("DELE 1").startswith("+OK")
    r.close()                                   # dropped: nothing changes
    time.sleep(0.2)
    # Another Maildir client marks message 1 read (new -> cur, flags).
    cur = os.path.join(os.path.dirname(os.path.dirname(p1)), "cur",
                       os.path.basename(p1) + ":2,S")
    os.rename(p1, cur)
    r, second = uids()
    assert second == first, (first, second)
    r.cmd("QUIT")
    os.rename(cur, cur.replace(":2,S", ":2,RS"))
    put_raw("gina", b"Subject: u3\r\n\r\n3\r\n")
    r, third = uids()
    assert third[:2] == first and third[2] not in seen, (first, third)
    r.cmd("QUIT")


@test
def uidl_stays_short_with_a_long_hostname():            # P-TRN-15
    host = "h" * 55 + ".mail.example.test"
    conf = os.path.join(ENV.dir, "long-host.conf")
    with open(ENV.conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(re.sub(r"(?m)^hostname .*$", "hostname " + host, text))
    for i in range(3):
        subprocess.run([ADMIN, "-c", conf, "deliver", f"hank@{DOMAIN}"],
                       input=msg("long %d" % i).encode(), check=True,
                       user=ENV.as_user)
    names = os.listdir(os.path.join(ENV.maildir("hank"), "new"))
    assert all(len(n) > 70 for n in names), names
    r = login_src("hank")
    assert r.cmd("UIDL").startswith("+OK")
    got = [ln.split()[1] for ln in r.multi()]
    assert len(got) == 3 and len(set(got)) == 3, got
    assert all(1 <= len(u) <= 70 for u in got), got
    r.cmd("QUIT")


@test
def retrieving_everything_and_dropping_changes_nothing():  # P-UPD-07
    for i in range(3):
        ENV.deliver("ivy", msg("keep %d" % i))
    before = ENV.count("ivy")
    r = login_src("ivy")
    n = int(r.cmd("STAT").split()[1])
    for i in range(1, n + 1):
        body_of(r, "RETR %d" % i)
    r.close()
    time.sleep(0.2)
    assert ENV.count("ivy") == before
    r = login_src("ivy")                        # and no stale lock
    r.cmd("QUIT")


# ---- 1.4 UPDATE, timers ----------------------------------------------------

@test
def update_failure_reply_keeps_the_rest():              # P-UPD-02
    user = "jack"
    stuck = put_raw(user, b"Subject: stuck\r\n\r\n1\r\n")
    gone = put_raw(user, b"Subject: gone\r\n\r\n2\r\n", sub="cur", flags="S")
    kept = put_raw(user, b"Subject: kept\r\n\r\n3\r\n", sub="cur", flags="S")
    new = os.path.dirname(stuck)
    r = login_src(user)
    assert r.cmd("STAT").startswith("+OK 3 ")
    for i in (1, 2):
        assert r.cmd("DELE %d" % i).startswith("+OK")
    os.chmod(new, 0o555)            # the file in new/ cannot be unlinked
    try:
        reply = r.cmd("QUIT")
    finally:
        os.chmod(new, 0o700)
    assert reply == "-ERR [SYS/TEMP] some deleted messages not removed " \
        "(1 removed)", reply
    assert r.pending(1) == b""
    assert os.path.exists(stuck) and not os.path.exists(gone)
    assert os.path.exists(kept)
    # The lock went with the session.
    r = login_src(user)
    assert r.cmd("STAT").startswith("+OK 2 ")
    r.cmd("QUIT")


@test
def trickled_bytes_do_not_hold_off_autologout():        # P-UPD-06, X-DOS-01
    ENV.deliver("alice", msg("drip"))
    before = ENV.count("alice")
    r = login_src("alice")
    assert r.cmd("DELE 1").startswith("+OK")
    start = time.time()
    r.sock.settimeout(0.4)
    closed = None
    for ch in "NOOPNOOPNOOPNOOPNOOP":
        try:
            r.sock.send(ch.encode())
            data = r.sock.recv(100)
        except socket.timeout:
            continue
        except OSError:
            closed = time.time() - start
            break
        assert data == b"", data                # closed without a reply
        closed = time.time() - start
        break
    assert closed is not None, "still open after trickling"
    assert 2.5 < closed < 4.5, closed           # pop3_timeout is 3 s
    time.sleep(0.2)
    assert ENV.count("alice") == before


@test
def a_client_that_stops_reading_is_logged_out():      # P-UPD-05, X-DOS
    ENV.deliver("carol", "Subject: stall\r\n\r\n" +
                ("s" * 98 + "\r\n") * 60000)
    before = ENV.count("carol")
    r = login_src("carol")
    n = int(r.cmd("STAT").split()[1])
    assert r.cmd("DELE 1").startswith("+OK")
    r.send("RETR %d\r\n" % n)
    time.sleep(5)               # pop3_timeout is 3 s; nothing is read
    r.sock.settimeout(5)
    got = 0
    while True:                 # what was queued, then EOF
        try:
            data = r.sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not data:
            break
        got += len(data)
    assert got < 6000000, got
    assert ENV.count("carol") == before
    assert "autologout: output not read" in ENV.log_text()
    r = login_src("carol")      # the lock went with the session
    r.cmd("QUIT")


@test
def long_lines_never_run_their_tail():                  # X-LEN-02
    ENV.deliver("bob", msg("len"))
    lengths = (list(range(248, 263)) + list(range(505, 521)) +
               list(range(1018, 1031)) + [2100, 5000])
    # The bad-command limit is 12: ten lines per session.
    for at in range(0, len(lengths), 10):
        r = login_src("bob")
        count = r.cmd("STAT")
        for n in lengths[at:at + 10]:
            reply = r.cmd("NOOP " + "A" * n + "DELE 1")
            assert reply.startswith("-ERR"), (n, reply)
        assert r.pending(0.2) == b"", "a second reply to one line"
        assert r.cmd("STAT") == count
        assert r.cmd("QUIT") == "+OK kantorpos POP3 server signing off " \
            "(0 messages deleted)"


# ---- 1.8 SASL --------------------------------------------------------------

@test
def auth_plain_initial_response_and_long_fields():      # P-SASL-01, 07, 10
    r = Raw(ENV.p_tls, tls=True)
    ir = base64.b64encode(f"\0carol@{DOMAIN}\0carol-pw".encode()).decode()
    assert r.cmd("AUTH PLAIN " + ir).startswith("+OK"), r.lines
    assert r.cmd("STAT").startswith("+OK")
    r.cmd("QUIT")
    # AUTH LOGIN is not offered, so it is an unknown mechanism.
    r = Raw(ENV.p_tls, tls=True)
    assert "SASL PLAIN" in capa(r)
    assert r.cmd("AUTH LOGIN").startswith("-ERR")
    # A continuation of ~1 KB (255-octet authzid, authcid, password) is
    # taken as a response, not refused as an overlong line.
    raw = b"z" * 255 + b"\0" + b"z" * 255 + b"\0" + b"p" * 255
    assert r.cmd("AUTH PLAIN") == "+ "
    reply = r.cmd(base64.b64encode(raw).decode())
    assert reply == "-ERR [AUTH] invalid user name or password", reply
    r.close()


# ---- 1.9 TLS ---------------------------------------------------------------

def client_hello(version):
    """A minimal TLS ClientHello offering at most version (0x0301: 1.0)."""
    suites = (0xc009, 0xc00a, 0xc013, 0xc014, 0x002f, 0x0035)

    def ext(kind, data):
        return struct.pack(">HH", kind, len(data)) + data

    body = struct.pack(">H", version) + os.urandom(32) + b"\0"
    body += struct.pack(">H", 2 * len(suites))
    body += b"".join(struct.pack(">H", c) for c in suites) + b"\x01\x00"
    exts = ext(0x000a, struct.pack(">HH", 2, 23)) + ext(0x000b, b"\x01\x00")
    body += struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


@test
def tls_below_1_2_is_refused():                         # P-TLS-06
    for version in (0x0301, 0x0302):
        s = socket.create_connection(("127.0.0.1", ENV.p_tls), 5,
                                     source_address=(fresh_src(), 0))
        s.sendall(client_hello(version))
        reply = s.recv(100)
        s.close()
        # A fatal alert record, never a ServerHello (0x16).
        assert reply[:1] == b"\x15", (version, reply)
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ENV.client_ctx()
        ctx.minimum_version = ctx.maximum_version = version
        s = socket.create_connection(("127.0.0.1", ENV.p_tls), 5,
                                     source_address=(fresh_src(), 0))
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        assert s.version() == version.name.replace("v1_", "v1."), \
            s.version()
        assert s.recv(100).startswith(b"+OK")
        s.close()


@test
def quit_under_tls_sends_close_notify():                # P-TLS-08
    s = socket.create_connection(("127.0.0.1", ENV.p_tls), 5,
                                 source_address=(fresh_src(), 0))
    s = ENV.client_ctx().wrap_socket(s, server_hostname="127.0.0.1",
                                     suppress_ragged_eofs=False)
    data = b""
    while not data.endswith(b"\r\n"):
        data += s.recv(100)
    s.sendall(b"QUIT\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        data += s.recv(100)
    assert data.startswith(b"+OK"), data
    # An EOF without close_notify raises SSLEOFError here.
    assert s.recv(100) == b""
    s.close()


# ---- SIGHUP ----------------------------------------------------------------

def reload_and_wait():
    before = ENV.log_text().count("reloaded ")
    ENV.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while ENV.log_text().count("reloaded ") == before:
        assert time.time() < deadline, ENV.log_text()[-2000:]
        assert "keeping the old configuration" not in ENV.log_text()
        time.sleep(0.05)


def new_cert(cert, key):
    make_cert(key, cert)
    if ENV.as_user:
        shutil.chown(cert, ENV.as_user)
        shutil.chown(key, ENV.as_user)


@test
def sighup_takes_a_new_user_db_and_certificate():
    with open(ENV.cert) as f:
        old_pem = f.read()
    # A held session survives the reload.
    held = login_src("alice")
    # A new user database (another file) and a new certificate.
    conf2 = os.path.join(ENV.dir, "reload.conf")
    db2 = os.path.join(ENV.dir, "users2")
    with open(ENV.conf) as f:
        original = f.read()
    with open(conf2, "w") as f:
        f.write(original.replace(f"user_db {ENV.dir}/users",
                                 f"user_db {db2}"))
    subprocess.run([ADMIN, "-c", conf2, "user", "add", f"zed@{DOMAIN}"],
                   input="zed-pw\n", text=True, check=True,
                   stdout=subprocess.DEVNULL)
    if ENV.as_user:
        shutil.chown(db2, ENV.as_user)
    new_cert(ENV.cert, ENV.key)
    with open(ENV.cert) as f:
        new_pem = f.read()
    assert new_pem != old_pem
    shutil.copy(conf2, ENV.conf)
    try:
        reload_and_wait()
        r = Raw(ENV.p_plain)
        assert r.login("zed", "zed-pw").startswith("+OK"), r.lines
        r.cmd("QUIT")
        r = Raw(ENV.p_plain)
        assert r.login("bob").startswith("-ERR [AUTH]")
        r.close()
        # New TLS sessions see the new certificate.
        p = POP3SSLFrom(ENV.p_tls)
        der = p.sock.getpeercert(binary_form=True)
        assert der == ssl.PEM_cert_to_DER_cert(new_pem)
        p.quit()
        assert held.cmd("STAT").startswith("+OK")
        assert held.cmd("QUIT").startswith("+OK")
    finally:
        with open(ENV.conf, "w") as f:
            f.write(original)
        reload_and_wait()
    r = Raw(ENV.p_plain)
    assert r.login("bob").startswith("+OK")
    r.cmd("QUIT")


# ---- the whole mail flow ---------------------------------------------------

@test
def smtp_in_pop3_out_byte_for_byte():       # issue: full flow, P-TRN-17
    smtp_log = open(os.path.join(ENV.dir, "smtpd.log"), "ab")
    proc = subprocess.Popen([SMTPD, "-f", "-c", ENV.conf],
                            stdout=smtp_log, stderr=smtp_log)
    DAEMONS.append(proc)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", ENV.p_smtp),
                                         1).close()
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline
                time.sleep(0.05)
        user = "frank"
        # A session open while the mail arrives neither sees nor removes it.
        during = login_src(user)
        count = during.cmd("STAT")
        text = (b"From: Sender <sender@elsewhere.test>\r\n"
                b"To: frank@example.test\r\n"
                b"Subject: the whole flow\r\n"
                b"Message-ID: <flow-1@elsewhere.test>\r\n"
                b"\r\n"
                b"first line\r\n"
                b".a line that starts with a dot\r\n"
                b"..two dots\r\n"
                b"\r\n"
                b"  indented, trailing space \r\n"
                b"8bit: \xc3\xa9t\xc3\xa9\r\n"
                b"last line\r\n")
        before = set(os.listdir(os.path.join(ENV.maildir(user), "new")))
        with smtplib.SMTP("127.0.0.1", ENV.p_smtp, timeout=10,
                          source_address=(fresh_src(), 0)) as s:
            s.ehlo("client.elsewhere.test")
            s.sendmail("sender@elsewhere.test", [f"{user}@{DOMAIN}"], text)
        after = set(os.listdir(os.path.join(ENV.maildir(user), "new")))
        assert len(after - before) == 1, (before, after)
        stored = os.path.join(ENV.maildir(user), "new",
                              (after - before).pop())
        assert during.cmd("STAT") == count
        assert during.cmd("QUIT").startswith("+OK")
        assert os.path.exists(stored)
        p = POP3SSLFrom(ENV.p_tls)
        p.user(f"{user}@{DOMAIN}")
        p.pass_(PASSWORDS[user])
        n = p.stat()[0]
        resp, lines, octets = p.retr(n)
        fetched = b"".join(ln + b"\r\n" for ln in lines)
        assert fetched.endswith(text), fetched
        trace = fetched[:-len(text)].split(b"\r\n")[:-1]
        assert trace[0] == b"Return-Path: <sender@elsewhere.test>", trace
        at = 1
        if trace[at].startswith(b"Received-SPF: "):  # mx: RFC 7208 9.1
            at += 1
            while trace[at][:1] in (b" ", b"\t"):
                at += 1
        assert trace[at].startswith(b"Received: "), trace
        assert all(t[:1] in (b" ", b"\t") for t in trace[at + 1:]), trace
        assert int(p.list(n).split()[2]) == len(fetched)
        assert p.dele(n).startswith(b"+OK")
        assert p.quit().startswith(b"+OK")
        assert not os.path.exists(stored)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            smtp_log.close()


# ---- scans over everything above ------------------------------------------

@test
def every_code_and_credential_failure_is_well_formed():  # P-RC-04, CAP-07
    assert len(e2e_lib.SEEN_LINES) > 100
    for ln in e2e_lib.SEEN_LINES:
        if ln.startswith("-ERR ["):
            assert re.match(r"^-ERR \[[A-Z-]+(/[A-Z-]+)*\] ", ln), ln
        assert not ln.startswith(("+ok", "-err", "+Ok", "-Err")), ln
    for cmd, reply in e2e_lib.SEEN_CMDS:
        login = cmd.startswith("PASS ") or cmd.startswith("AUTH PLAIN ")
        if login and reply.startswith("-ERR") and \
                "send USER first" not in reply:
            assert re.match(r"^-ERR \[(AUTH|SYS/TEMP|SYS/PERM|IN-USE)\] ",
                            reply), (cmd[:12], reply)
        if cmd.startswith("USER "):
            assert "[AUTH]" not in reply and "LOGIN-DELAY" not in reply \
                or "TLS" in reply, reply                        # P-RC-02
    assert BASE_CAPA[-1] == "EXPIRE NEVER"


def make_env():
    env = Env("listen smtp 127.0.0.1:%d\n" % free_port())
    env.p_smtp = int(re.search(r"listen smtp 127.0.0.1:(\d+)",
                               open(env.conf).read()).group(1))
    return env


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__], make_env))
