#!/usr/bin/env python3
"""tests/e2e_pop3.py: end-to-end tests of kantorpos-pop3d.

The real daemon on free 127.0.0.1 ports with a scratch data directory (the
harness is tests/e2e_lib.py): every command over plain TCP, STLS and
implicit TLS with poplib and raw sockets, lock-step semantics, locking,
throttling, autologout, a 100 MB RETR in bounded memory, the bench, and
mpop and fetchmail as real clients. Prints one line per test and a final
"N passed, N failed"; exits non-zero on any failure.
"""

import base64
import os
import poplib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (ADMIN, BASE_CAPA, BUILD, DOMAIN, PASSWORDS,  # noqa: E402
                     POP3From, POP3SSLFrom, Raw, capa, fresh_src, main,
                     make_cert, msg, test, Env, Skip)

ENV = None


@test
def greeting_and_capa_per_listener():
    r = Raw(ENV.p_stls)
    assert r.greeting.startswith("+OK"), r.greeting
    assert not re.search(r"<[^>]*@[^>]*>", r.greeting), r.greeting
    assert capa(r) == BASE_CAPA + ["STLS"]
    r.starttls()
    assert capa(r) == BASE_CAPA + ["USER", "SASL PLAIN"]
    r.close()
    r = Raw(ENV.p_tls, tls=True)
    assert r.greeting.startswith("+OK")
    assert capa(r) == BASE_CAPA + ["USER", "SASL PLAIN"]
    r.close()
    r = Raw(ENV.p_plain)
    assert capa(r) == BASE_CAPA + ["USER", "SASL PLAIN", "STLS"]
    assert r.login("alice").startswith("+OK")
    after = capa(r)
    assert after[:-1] == BASE_CAPA + ["USER", "SASL PLAIN"], after
    assert after[-1].startswith("IMPLEMENTATION kantorpos"), after
    r.cmd("QUIT")


@test
def plaintext_login_refused_before_stls():
    r = Raw(ENV.p_stls)
    assert r.cmd(f"USER alice@{DOMAIN}").startswith("-ERR [AUTH]")
    ir = base64.b64encode(f"\0alice@{DOMAIN}\0secret".encode()).decode()
    right = r.cmd("AUTH PLAIN " + ir)
    ir = base64.b64encode(f"\0alice@{DOMAIN}\0wrong".encode()).decode()
    wrong = r.cmd("AUTH PLAIN " + ir)
    assert right.startswith("-ERR [AUTH]") and right == wrong, (right, wrong)
    r.starttls()
    assert r.login("alice").startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    r.close()


@test
def stls_plaintext_injection_is_discarded():
    r = Raw(ENV.p_stls)
    r.send(f"STLS\r\nUSER alice@{DOMAIN}\r\n")
    assert r.line().startswith("+OK")
    r.sock = ENV.client_ctx().wrap_socket(r.sock,
                                          server_hostname="127.0.0.1")
    assert r.pending() == b"", "a reply to the injected USER"
    assert r.cmd("PASS secret").startswith("-ERR"), "injected USER kept"
    r.close()
    r = Raw(ENV.p_stls)
    r.send("STLS\r\nCAPA\r\n")
    assert r.line().startswith("+OK")
    r.sock = ENV.client_ctx().wrap_socket(r.sock,
                                          server_hostname="127.0.0.1")
    assert r.pending() == b"", "a CAPA listing inside TLS"
    assert r.cmd("STLS").startswith("-ERR")
    assert r.cmd("NOOP").startswith("-ERR")
    r.close()
    assert "discarded" in ENV.log_text()


@test
def poplib_stls_session_every_command():
    ENV.deliver("bob", msg("one", "line 1\r\n.dot line\r\n"))
    ENV.deliver("bob", msg("two", "a\nb\nc\n"))
    p = POP3From(ENV.p_stls)
    p.stls(context=ENV.client_ctx())
    assert p.user(f"bob@{DOMAIN}").startswith(b"+OK")
    assert p.pass_(PASSWORDS["bob"]).startswith(b"+OK")
    count, size = p.stat()
    assert count == 2
    resp, listing, _ = p.list()
    sizes = [int(x.split()[1]) for x in listing]
    assert sum(sizes) == size
    assert p.list(2).split()[2] == str(sizes[1]).encode()
    resp, lines, octets = p.retr(1)
    assert b".dot line" in lines, lines
    assert octets - len(lines) * 2 + 2 >= 0
    raw = b"".join(x + b"\r\n" for x in lines)
    assert len(raw) == sizes[0], (len(raw), sizes[0])
    resp, lines, _ = p.top(2, 0)
    assert lines[-1] == b"" and b"Subject: two" in lines
    resp, lines, _ = p.top(2, 99999999)
    assert lines[-3:] == [b"a", b"b", b"c"], lines
    resp, uids, _ = p.uidl()
    assert len(uids) == 2
    for u in uids:
        assert re.match(rb"^\d+ [\x21-\x7e]{1,70}$", u), u
    assert p.uidl(1).split()[2] == uids[0].split()[1]
    assert p.noop().startswith(b"+OK")
    assert p.dele(1).startswith(b"+OK")
    assert p.stat()[0] == 1
    for bad in ("RETR 1", "LIST 1", "TOP 1 0", "UIDL 1", "DELE 1"):
        try:
            p._shortcmd(bad)
            raise AssertionError(bad + " accepted after DELE")
        except poplib.error_proto:
            pass
    assert p.rset().startswith(b"+OK")
    assert p.stat()[0] == 2
    assert p.dele(2).startswith(b"+OK")
    assert p.quit().startswith(b"+OK")
    assert ENV.count("bob") == 1


@test
def raw_errors_and_wrong_states():
    ENV.deliver("carol", msg("c1"))
    r = Raw(ENV.p_plain)
    for c in ("STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0",
              "UIDL"):
        assert r.cmd(c).startswith("-ERR"), c
    r.close()
    r = Raw(ENV.p_plain)
    assert r.cmd("PASS x").startswith("-ERR")
    assert r.cmd("USER nobody@example.test") == \
        r.cmd(f"USER carol@{DOMAIN}")
    assert r.cmd("APOP carol c4c9334bac560ecc979e58001b3e22fb") \
        .startswith("-ERR ")
    assert r.cmd("PASS " + PASSWORDS["carol"]).startswith("+OK")
    for c in ("USER x", "PASS x", "APOP x y", "AUTH PLAIN", "STLS"):
        assert r.cmd(c).startswith("-ERR"), c
    # Bad arguments are not bad commands.
    for c in ("RETR 0", "RETR abc", "RETR 1 2", "RETR 99999999999999999999",
              "TOP 1", "TOP 1 -1", "TOP 1 x", "TOP 9 0", "LIST 9"):
        assert r.cmd(c).startswith("-ERR"), c
    assert r.cmd("LAST").startswith("-ERR")
    assert r.cmd("stat") == "+OK 1 %d" % int(r.cmd("LIST 1").split()[2])
    # One reply per line, whatever its length (RFC 2449 §4); the long
    # ones are refused and their tail never runs as a command.
    for n in (248, 255, 262, 3000):
        reply = r.cmd("NOOP " + "A" * n + "DELE 1")
        assert reply.startswith("-ERR"), reply
    assert r.cmd("USER alice\0admin").startswith("-ERR")
    assert r.cmd("STAT").startswith("+OK 1 ")
    assert r.pending() == b""
    assert r.cmd("QUIT").startswith("+OK")
    assert ENV.count("carol") == 1


@test
def bad_command_limit_closes():
    r = Raw(ENV.p_plain)
    replies = [r.cmd("XYZZY%d" % i) for i in range(12)]
    assert all(x.startswith("-ERR") for x in replies), replies
    assert "too many" in replies[-1]
    assert r.pending(1) == b""
    try:
        r.cmd("CAPA")
        raise AssertionError("still open")
    except (EOFError, ConnectionError):
        pass


@test
def implicit_tls_and_auth_plain():
    ENV.deliver("dave", msg("d1"))
    r = Raw(ENV.p_tls, tls=True)
    assert r.cmd("STLS").startswith("-ERR")
    assert r.cmd("AUTH CRAM-MD5").startswith("-ERR")
    assert r.cmd("AUTH PLAIN").startswith("+ ")
    assert r.buf == b"" and r.lines[-1] == "+ "
    assert r.cmd("*").startswith("-ERR")
    assert r.cmd("AUTH PLAIN =").startswith("-ERR [AUTH]")
    assert r.cmd("AUTH PLAIN %%%%").startswith("-ERR")
    assert r.cmd("AUTH PLAIN").startswith("+ ")
    resp = base64.b64encode(f"\0dave@{DOMAIN}\0dave-pw".encode()).decode()
    assert r.cmd(resp).startswith("+OK"), r.lines
    assert r.cmd("STAT").startswith("+OK 1 ")
    assert "SASL PLAIN" in capa(r)
    assert r.cmd("QUIT").startswith("+OK")
    r.close()
    p = POP3SSLFrom(ENV.p_tls)
    p.user(f"dave@{DOMAIN}")
    p.pass_("dave-pw")
    assert p.stat()[0] == 1
    p.quit()
    log = ENV.log_text()
    assert "dave-pw" not in log, "password in the trace"
    assert resp not in log, "AUTH data in the trace"
    assert re.search(r"login user=dave@example.test client=\S+ result=ok",
                     log)


@test
def second_login_gets_in_use():
    ENV.deliver("erin", msg("e1"))
    a = Raw(ENV.p_plain)
    assert a.login("erin").startswith("+OK")
    b = Raw(ENV.p_plain)
    assert b.login("erin").startswith("-ERR [IN-USE]")
    assert b.login("erin", "wrong").startswith("-ERR [AUTH]")
    assert a.cmd("QUIT").startswith("+OK")
    assert b.login("erin").startswith("+OK")
    b.cmd("QUIT")


@test
def lock_step_deletion():
    ENV.deliver("frank", msg("f1"))
    ENV.deliver("frank", msg("f2"))
    r = Raw(ENV.p_plain)
    assert r.login("frank").startswith("+OK")
    assert r.cmd("DELE 1").startswith("+OK")
    r.close()                       # FIN without QUIT
    time.sleep(0.2)
    assert ENV.count("frank") == 2
    r = Raw(ENV.p_plain)            # no stale lock
    assert r.login("frank").startswith("+OK")
    assert r.cmd("DELE 1").startswith("+OK")
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      b"\x01\x00\x00\x00\x00\x00\x00\x00")
    r.close()                       # RST
    time.sleep(0.2)
    assert ENV.count("frank") == 2
    r = Raw(ENV.p_plain)
    assert r.login("frank").startswith("+OK")
    uid2 = r.cmd("UIDL 2").split()[2]
    # Mail delivered during the session is not part of it.
    ENV.deliver("frank", msg("f3"))
    assert r.cmd("STAT").startswith("+OK 2 ")
    assert r.cmd("DELE 1").startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    assert ENV.count("frank") == 2
    r = Raw(ENV.p_plain)
    assert r.login("frank").startswith("+OK")
    assert r.cmd("STAT").startswith("+OK 2 ")
    assert r.cmd("UIDL 1").split()[2] == uid2
    assert r.cmd("QUIT").startswith("+OK")


@test
def pipelined_batch():
    ENV.deliver("gina", msg("g1"))
    ENV.deliver("gina", msg("g2"))
    r = Raw(ENV.p_plain)
    r.send(f"USER gina@{DOMAIN}\r\nPASS gina-pw\r\nSTAT\r\nLIST\r\nUIDL\r\n"
           "RETR 1\r\nDELE 1\r\nDELE 2\r\nQUIT\r\n")
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK 2 ")
    assert r.line().startswith("+OK") and len(r.multi()) == 2
    assert r.line().startswith("+OK") and len(r.multi()) == 2
    assert r.line().startswith("+OK") and "Subject: g1" in r.multi()
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK")
    time.sleep(0.1)
    assert ENV.count("gina") == 0


@test
def failed_login_delay_and_cap():
    bad = fresh_src()
    times = []
    r = Raw(ENV.p_plain, src=bad)
    for _ in range(2):
        t = time.time()
        assert r.login("hank", "wrong").startswith("-ERR [AUTH]")
        times.append(time.time() - t)
    assert times[0] >= 0.9 and times[1] > times[0] + 0.5, times
    # Capped: refused without a check, right or wrong password alike.
    t = time.time()
    right = r.login("hank")
    wrong = r.login("hank", "wrong")
    assert right.startswith("-ERR [SYS/TEMP]") and right == wrong, \
        (right, wrong)
    assert time.time() - t < 0.9
    # The right password from another address works at once.
    t = time.time()
    other = Raw(ENV.p_plain)
    assert other.login("hank").startswith("+OK")
    assert time.time() - t < 0.9
    other.cmd("QUIT")
    log = ENV.log_text()
    assert "login user=hank@example.test client=%s result=fail" % bad in log
    assert "result=throttled" in log


@test
def autologout_closes_silently_without_update():
    ENV.deliver("ivy", msg("i1"))
    r = Raw(ENV.p_plain)
    assert r.login("ivy").startswith("+OK")
    assert r.cmd("DELE 1").startswith("+OK")
    r.sock.settimeout(8)
    t = time.time()
    data = r.sock.recv(100)
    assert data == b"", data
    assert 2.5 < time.time() - t < 6
    assert ENV.count("ivy") == 1


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


@test
def large_retr_uses_bounded_memory():
    size_mb = 100
    path = os.path.join(ENV.dir, "big.eml")
    line = b"x" * 98 + b"\r\n"
    with open(path, "wb") as f:
        f.write(b"Subject: big\r\n\r\n")
        block = line * 10000
        for _ in range(size_mb * 1024 * 1024 // len(block)):
            f.write(block)
    total = os.path.getsize(path)
    ENV.deliver_file("carol", path)
    os.unlink(path)
    pid = ENV.proc.pid
    base = rss_kb(pid)
    r = Raw(ENV.p_plain)
    assert r.login("carol").startswith("+OK")
    n = int(r.cmd("STAT").split()[1])
    status = r.cmd("RETR %d" % n)
    assert status == "+OK %d octets" % total, (status, total)
    time.sleep(1)               # the client reads nothing for a while
    peak = rss_kb(pid)
    got = len(r.buf)
    tail = r.buf[-5:]
    r.buf = b""
    sock = r.sock
    sock.settimeout(10)
    chunks = 0
    while True:
        data = sock.recv(1 << 20)
        if not data:
            raise AssertionError("closed mid-message")
        got += len(data)
        tail = (tail + data)[-5:]
        chunks += 1
        if chunks % 200 == 0:
            peak = max(peak, rss_kb(pid))
        if tail == b"\r\n.\r\n" and got >= total + 3:
            break
    assert got == total + 3, (got, total)
    peak = max(peak, rss_kb(pid))
    assert peak - base < 20 * 1024, "RSS grew %d kB (base %d)" % (
        peak - base, base)
    assert r.cmd("NOOP") == "+OK"
    r.cmd("QUIT")


@test
def connection_cap_per_address():
    src = fresh_src()
    held = [Raw(ENV.p_plain, src=src) for _ in range(4)]
    extra = Raw(ENV.p_plain, src=src, greet=False)
    refusal = extra.line()
    assert refusal.startswith("-ERR [SYS/TEMP]"), refusal
    other = Raw(ENV.p_plain)
    assert other.greeting.startswith("+OK")
    for r in held + [extra, other]:
        r.close()


@test
def broken_maildrop_gets_sys_perm():
    ENV.deliver("jack", msg("j1"))
    md = ENV.maildir("jack")
    os.chmod(md, 0)
    try:
        r = Raw(ENV.p_plain)
        reply = r.login("jack")
        assert reply.startswith("-ERR [SYS/PERM]"), reply
    finally:
        os.chmod(md, 0o700)
    # Repaired: the next login works at once, no lock left behind.
    assert r.login("jack").startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")


@test
def ipv6_listener():
    if not Env.has_ipv6():
        raise Skip("no IPv6 loopback")
    s = socket.create_connection(("::1", ENV.p_v6), 5)
    r = Raw.__new__(Raw)
    r.sock, r.buf, r.lines = s, b"", []
    assert r.line().startswith("+OK")
    assert r.login("jack").startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    assert "client=::1" in ENV.log_text()


@test
def path_tricks_are_plain_auth_failures():
    for name in ("../../etc/passwd", "alice/../bob@example.test"):
        r = Raw(ENV.p_plain)
        assert r.cmd("USER " + name).startswith("+OK")
        reply = r.cmd("PASS secret")
        assert reply == "-ERR [AUTH] invalid user name or password", reply
        r.close()
    assert not os.path.exists(os.path.join(ENV.data, "mail", "..",
                                           "..", "etc"))


@test
def user_added_while_running_can_log_in():
    subprocess.run([ADMIN, "-c", ENV.conf, "user", "add",
                    f"kim@{DOMAIN}"], input="kim-pw\n", text=True,
                   check=True, stdout=subprocess.DEVNULL)
    if ENV.as_user:
        shutil.chown(os.path.join(ENV.dir, "users"), ENV.as_user)
    ENV.deliver("kim", msg("k1"))
    r = Raw(ENV.p_plain)
    assert r.login("kim", "kim-pw").startswith("+OK"), r.lines
    assert r.cmd("STAT").startswith("+OK 1 ")
    r.cmd("QUIT")


@test
def bench_runs():
    bench = os.path.join(BUILD, "bench", "pop3-bench")
    if not os.access(bench, os.X_OK):
        subprocess.run(["make", "-C", BUILD, "bench/pop3-bench"],
                       check=True, stdout=subprocess.DEVNULL)
    for u in ("bench1", "bench2"):
        for i in range(3):
            ENV.deliver(u, msg("bench %d" % i, "x" * 5000 + "\r\n"))
    res = subprocess.run([bench, "-P", str(ENV.p_plain), "-c", "2", "-d",
                          "1", "-u", "bench%d@" + DOMAIN, "-w", "bench-pw"],
                         stdout=subprocess.PIPE, text=True, timeout=30)
    assert res.returncode == 0, res.stdout
    m = re.search(r"logins/s ([\d.]+) messages/s ([\d.]+) MB/s ([\d.]+)",
                  res.stdout)
    assert m and float(m.group(1)) > 0 and float(m.group(2)) > 0, res.stdout
    assert ENV.count("bench1") == 3


def run_client(args, **kw):
    env = dict(os.environ, HOME=ENV.home)
    return subprocess.run(args, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=30, **kw)


@test
def mpop_downloads_and_deletes():
    if shutil.which("mpop") is None:
        raise AssertionError("mpop is not installed")
    user = "alice"
    for i in range(3):
        ENV.deliver(user, msg("mpop %d" % i, "body %d\r\n.\r\n" % i))
    before = ENV.count(user)
    md = os.path.join(ENV.dir, "mpop-md")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    rc = os.path.join(ENV.dir, "mpoprc")
    with open(rc, "w") as f:
        f.write(f"""defaults
tls on
tls_starttls on
tls_trust_file {ENV.cert}
account test
host 127.0.0.1
port {ENV.p_stls}
user {user}@{DOMAIN}
password {PASSWORDS[user]}
auth plain
delivery maildir {md}
keep off
uidls_file {ENV.dir}/mpop-uidls
""")
    os.chmod(rc, 0o600)
    res = run_client(["mpop", "-C", rc, "-q", "test"])
    assert res.returncode == 0, res.stdout.decode()
    got = os.listdir(os.path.join(md, "new"))
    assert len(got) == before, (got, before)
    texts = []
    for name in got:
        with open(os.path.join(md, "new", name), "rb") as f:
            texts.append(f.read())
    assert any(b"Subject: mpop 2" in t and b"\n.\r\n" in t or
               b"Subject: mpop 2" in t and b"\n.\n" in t for t in texts)
    assert ENV.count(user) == 0


@test
def fetchmail_downloads_and_deletes():
    if shutil.which("fetchmail") is None:
        raise AssertionError("fetchmail is not installed")
    user = "dave"
    for i in range(2):
        ENV.deliver(user, msg("fetchmail %d" % i))
    before = ENV.count(user)
    out = os.path.join(ENV.dir, "fetchmail.out")
    rc = os.path.join(ENV.dir, "fetchmailrc")
    with open(rc, "w") as f:
        f.write(f"""set no syslog
poll 127.0.0.1 protocol pop3 port {ENV.p_stls}
  user "{user}@{DOMAIN}" there with password "{PASSWORDS[user]}"
  sslproto "TLS1.2+" sslcertck sslcertfile "{ENV.cert}"
  sslcommonname "localhost"
  fetchall nokeep
  mda "/bin/sh -c 'cat >> {out}'"
""")
    os.chmod(rc, 0o600)
    res = run_client(["fetchmail", "-f", rc, "--nosyslog", "-v",
                      "--idfile", os.path.join(ENV.dir, "fetchids"),
                      "--pidfile", os.path.join(ENV.dir, "fetchmail.pid")])
    assert res.returncode == 0, res.stdout.decode()[-3000:]
    with open(out, "rb") as f:
        text = f.read()
    assert text.count(b"\nSubject: ") == before, text[:500]
    assert text.count(b"Subject: fetchmail") == 2
    assert ENV.count(user) == 0


@test
def sighup_reloads_user_db_and_cert():
    """SIGHUP: a new user_db path in the config and a renewed certificate
    are used by new sessions without a restart."""
    users2 = os.path.join(ENV.dir, "users2")
    shutil.copy(os.path.join(ENV.dir, "users"), users2)
    with open(ENV.conf) as f:
        conf = f.read()
    with open(ENV.conf, "w") as f:
        f.write(conf.replace(f"user_db {ENV.dir}/users\n",
                             f"user_db {users2}\n"))
    subprocess.run([ADMIN, "-c", ENV.conf, "user", "add", f"hal@{DOMAIN}"],
                   input="hal-pw\n", text=True, check=True,
                   stdout=subprocess.DEVNULL)
    if ENV.as_user:
        shutil.chown(users2, ENV.as_user)
    newkey, newcert = ENV.key + ".new", ENV.cert + ".new"
    make_cert(newkey, newcert)
    if ENV.as_user:
        shutil.chown(newkey, ENV.as_user)
    r = Raw(ENV.p_plain)
    assert r.login("hal", "hal-pw").startswith("-ERR"), "hal before reload"
    r.close()
    os.rename(newkey, ENV.key)
    os.rename(newcert, ENV.cert)
    try:
        # ENV.client_ctx trusts only the file at ENV.cert: the new one.
        Raw(ENV.p_tls, tls=True).close()
        raise AssertionError("the new certificate served before SIGHUP")
    except ssl.SSLCertVerificationError:
        pass
    before = ENV.log_text().count("reloaded ")
    ENV.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while ENV.log_text().count("reloaded ") == before:
        assert time.time() < deadline, "no reload logged"
        time.sleep(0.05)
    r = Raw(ENV.p_tls, tls=True)
    assert r.login("hal", "hal-pw").startswith("+OK"), r.lines
    assert r.cmd("QUIT").startswith("+OK")
    r = Raw(ENV.p_plain)
    assert r.login("gina").startswith("+OK"), "old users lost"
    r.cmd("QUIT")


@test
def sigterm_closes_without_update():
    ENV.deliver("gina", msg("g3"))
    r = Raw(ENV.p_plain)
    assert r.login("gina").startswith("+OK")
    assert r.cmd("DELE 1").startswith("+OK")
    ENV.proc.send_signal(signal.SIGTERM)
    assert r.line().startswith("-ERR [SYS/TEMP]"), r.lines
    assert r.pending(2) == b""
    assert ENV.proc.wait(10) == 0
    assert ENV.count("gina") == 1
    assert re.search(r"session end user=gina@example.test .*update=no",
                     ENV.log_text())


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__]))
