#!/usr/bin/env python3
"""tests/e2e_fetch.py: kantorpos fetch end to end, against a sandboxed
dovecot (own configuration, base_dir and loopback ports) and small scripted
POP3 servers for fault injection: MultiPOP delete and keep modes, DomainPOP
distribution, a connection cut between RETR and DELE, password file checks,
and TLS verification failures. Prints "N passed, N failed"; exits non-zero
on any failure (77, the automake skip status, when nothing could run)."""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from e2e_lib import free_port, make_cert

BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
KANTORPOS = os.path.join(BUILD, "admin", "kantorpos")
DOMAIN = "example.test"
RESULTS = {"passed": 0, "failed": 0}


def wait_port(port, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def run(args, stdin=None, check=True):
    p = subprocess.run(args, input=stdin, capture_output=True, text=True,
                       timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                  p.stdout, p.stderr))
    return p


def message(subject, headers="", body="hello\r\n", msgid=None, size_pad=0):
    msgid = msgid or "<%s.%f@remote.example>" % (subject.replace(" ", "-"),
                                                 time.time())
    text = ("From: sender@remote.example\r\n%sSubject: %s\r\n"
            "Message-ID: %s\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n%s"
            % (headers, subject, msgid, body))
    if size_pad:
        text += ("x" * 70 + "\r\n") * (size_pad // 72 + 1)
    # A line that needs dot-stuffing on the wire.
    return text + ".dotted line\r\n"


class Env:
    """A kantorpos configuration with local users, and a dovecot sandbox."""

    def __init__(self, root):
        self.root = root
        self.data = os.path.join(root, "data")
        self.conf = os.path.join(root, "kantorpos.conf")
        self.secrets = os.path.join(root, "secrets")
        os.makedirs(self.secrets, mode=0o700)
        self.base = ("hostname mail.%s\ndata_dir %s\nuser_db %s/users\n"
                     "local_domain %s\nlog_level info\nworkers 2\n"
                     "password_opslimit 1\npassword_memlimit 8K\n"
                     % (DOMAIN, self.data, root, DOMAIN))
        # As root, kantorpos fetch works as run_as (nobody here): DATA, the
        # user db and the password files are nobody's, as an installation
        # makes them the daemons' user's.
        self.as_root = os.geteuid() == 0
        if self.as_root:
            self.base += "run_as nobody\n"
            os.chmod(root, 0o711)
            os.makedirs(self.data)
            self.give(self.data)
            self.give(self.secrets)
        self.accounts = []
        self.write_conf()
        for user in ("alice", "bob", "postmaster"):
            run([KANTORPOS, "-c", self.conf, "user", "add",
                 "%s@%s" % (user, DOMAIN)], stdin="pw-%s\n" % user)
        self.give(os.path.join(root, "users"))
        self.make_cert()
        self.dovecot = None

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write(self.base + "".join(a + "\n" for a in self.accounts))

    def give(self, path):
        """As root, hand path to run_as."""
        if self.as_root:
            nobody = pwd.getpwnam("nobody")
            os.chown(path, nobody.pw_uid, nobody.pw_gid)

    def password_file(self, name, secret, mode=0o600):
        path = os.path.join(self.secrets, name)
        with open(path, "w") as f:
            f.write(secret + "\n")
        os.chmod(path, mode)
        self.give(path)
        return path

    def make_cert(self):
        self.cert = os.path.join(self.root, "cert.pem")
        self.key = os.path.join(self.root, "key.pem")
        self.other = os.path.join(self.root, "other.pem")
        for cert, key in ((self.cert, self.key),
                          (self.other, os.path.join(self.root, "okey.pem"))):
            make_cert(key, cert)
        out = run(["openssl", "x509", "-in", self.cert, "-noout",
                   "-fingerprint", "-sha256"]).stdout
        self.fingerprint = "sha256:" + out.strip().split("=", 1)[1]
        out = run(["openssl", "x509", "-in", self.other, "-noout",
                   "-fingerprint", "-sha256"]).stdout
        self.wrong_fingerprint = "sha256:" + out.strip().split("=", 1)[1]

    def fetch(self, *args):
        return run([KANTORPOS, "-c", self.conf, "fetch", "--once"]
                   + list(args), check=False)

    def maildir(self, user):
        return os.path.join(self.data, "mail", DOMAIN, user)

    def local_messages(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            if os.path.isdir(d):
                for n in sorted(os.listdir(d)):
                    with open(os.path.join(d, n), "rb") as f:
                        out.append(f.read().decode("utf-8", "replace"))
        return out

    def clear_local(self):
        shutil.rmtree(os.path.join(self.data, "mail"), ignore_errors=True)


class Dovecot:
    """dovecot -F with its own configuration under root/dovecot."""

    def __init__(self, env):
        if shutil.which("dovecot") is None:
            raise RuntimeError("dovecot is not installed (scripts/deps.sh "
                               "installs it only where no other package "
                               "provides mail-transport-agent)")
        self.env = env
        self.dir = os.path.join(env.root, "dovecot")
        self.mail = os.path.join(self.dir, "mail")
        # dovecot's auth process runs as its own user: let it reach the
        # passwd file (the secrets of this test are throw-away).
        os.chmod(env.root, 0o711)
        os.makedirs(os.path.join(self.dir, "run"))
        os.makedirs(self.mail)
        self.pop3 = free_port()
        self.pop3s = free_port()
        self.users = {}
        me = pwd.getpwuid(os.getuid()).pw_name
        if os.getuid() == 0:
            # dovecot refuses to serve mail as uid 0: use its own user.
            login_user, internal_user = "dovenull", "dovecot"
            self.uid = pwd.getpwnam("dovecot").pw_uid
            self.gid = pwd.getpwnam("dovecot").pw_gid
        else:
            login_user = internal_user = me
            self.uid, self.gid = os.getuid(), os.getgid()
        os.chown(self.mail, self.uid, self.gid)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.passwd = os.path.join(self.dir, "passwd")
        open(self.passwd, "w").close()
        os.chmod(self.passwd, 0o644)
        with open(self.conf, "w") as f:
            f.write("""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = {login}
default_internal_user = {internal}
first_valid_uid = 0
mail_location = maildir:{d}/mail/%u
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {passwd}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {p1}
  }}
  inet_listener pop3s {{
    port = {p2}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
""".format(d=self.dir, cert=env.cert, key=env.key, login=login_user,
           internal=internal_user, passwd=self.passwd, uid=self.uid,
           gid=self.gid, p1=self.pop3, p2=self.pop3s))
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        if not (wait_port(self.pop3) and wait_port(self.pop3s)):
            self.stop()
            log = ""
            try:
                with open(os.path.join(self.dir, "dovecot.log")) as f:
                    log = f.read()[-2000:]
            except OSError:
                pass
            raise RuntimeError("dovecot did not start:\n" + log)

    def add_user(self, user, password):
        with open(self.passwd, "a") as f:
            f.write("%s:{PLAIN}%s\n" % (user, password))
        os.makedirs(os.path.join(self.mail, user), exist_ok=True)
        os.chown(os.path.join(self.mail, user), self.uid, self.gid)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(self.mail, user, sub), exist_ok=True)
            os.chown(os.path.join(self.mail, user, sub), self.uid, self.gid)

    def put(self, user, text):
        self.seq = getattr(self, "seq", 0) + 1
        name = "%d.M%dP%d.sandbox" % (int(time.time()), self.seq, os.getpid())
        tmp = os.path.join(self.mail, user, "tmp", name)
        with open(tmp, "w", newline="") as f:
            f.write(text.replace("\r\n", "\n"))
        os.chown(tmp, self.uid, self.gid)
        os.rename(tmp, os.path.join(self.mail, user, "new", name))

    def count(self, user):
        return sum(len(os.listdir(os.path.join(self.mail, user, sub)))
                   for sub in ("new", "cur"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ScriptedPop3(socketserver.ThreadingTCPServer):
    """A tiny plaintext POP3 server with a fixed maildrop and a fault hook:
    cut(session, command) returns True to drop the connection instead of
    answering. DELEs apply only at QUIT, as RFC 1939 requires."""
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, messages, cut):
        self.messages = dict(messages)  # uid -> text
        self.order = list(self.messages)
        self.cut = cut
        self.sessions = 0
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self):
        self.shutdown()
        self.server_close()


class ScriptedHandler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        srv = self.server
        with srv.lock:
            srv.sessions += 1
            session = srv.sessions
            listing = [u for u in srv.order if u in srv.messages]
        deleted = set()
        self.send("+OK scripted")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            cmd = raw.decode().strip()
            verb = cmd.split(" ")[0].upper()
            if srv.cut(session, cmd):
                return
            arg = cmd.split(" ")[1] if " " in cmd else ""
            if verb == "CAPA":
                self.send("+OK\r\nUIDL\r\nUSER\r\n.")
            elif verb in ("USER", "PASS", "NOOP"):
                self.send("+OK")
            elif verb == "LIST":
                self.send("+OK")
                for i, u in enumerate(listing, 1):
                    self.send("%d %d" % (i, len(srv.messages[u])))
                self.send(".")
            elif verb == "UIDL":
                self.send("+OK")
                for i, u in enumerate(listing, 1):
                    self.send("%d %s" % (i, u))
                self.send(".")
            elif verb == "RETR":
                u = listing[int(arg) - 1]
                body = "".join("." + l if l.startswith(".") else l
                               for l in srv.messages[u].splitlines(True))
                self.wfile.write(b"+OK\r\n" + body.encode() + b".\r\n")
            elif verb == "DELE":
                deleted.add(listing[int(arg) - 1])
                self.send("+OK")
            elif verb == "STLS":
                # Injection: a second reply in the same segment as +OK.
                self.wfile.write(b"+OK begin TLS\r\n+OK injected\r\n")
            elif verb == "QUIT":
                with srv.lock:
                    for u in deleted:
                        srv.messages.pop(u, None)
                self.send("+OK bye")
                return
            else:
                self.send("-ERR unknown")


def plain_account(env, name, port, extra):
    """Make the only account NAME: plaintext POP3 on 127.0.0.1:PORT into
    alice's mailbox, with the extra options."""
    pw = env.password_file(name, "x")
    env.accounts = ["fetch_account %s host 127.0.0.1:%d user u "
                    "password_file %s multipop alice@%s tls none "
                    "plaintext-ok %s" % (name, port, pw, DOMAIN, extra)]
    env.write_conf()


@contextlib.contextmanager
def accounts(env, lines):
    """env's accounts are lines (the config rewritten) inside the with
    block, and what they were after it."""
    saved = env.accounts
    env.accounts = lines
    env.write_conf()
    try:
        yield
    finally:
        env.accounts = saved
        env.write_conf()


def check(name, fn):
    try:
        fn()
        RESULTS["passed"] += 1
        print("PASS", name)
    except Exception:
        RESULTS["failed"] += 1
        print("FAIL", name)
        traceback.print_exc(file=sys.stdout)


def expect(cond, what, p=None):
    if not cond:
        extra = ""
        if p is not None:
            extra = "\nexit %d\nstdout:\n%s\nstderr:\n%s" % (
                p.returncode, p.stdout, p.stderr)
        raise AssertionError(what + extra)


def multipop_delete(env, dc):
    """MultiPOP over implicit TLS, deleting on the server: each message
    once, our Received on top, nothing again on the next run."""
    env.clear_local()
    for i in range(3):
        dc.put("isp-alice", message("alice %d" % i, "To: a@isp\r\n",
                                    size_pad=i * 300))
    p = env.fetch("isp-alice")
    expect(p.returncode == 0, "first run succeeds", p)
    msgs = env.local_messages("alice")
    expect(len(msgs) == 3, "3 delivered, got %d" % len(msgs), p)
    expect(all(m.startswith("Received: from [127.0.0.1]\r\n\tby mail.%s"
                            " with POP3 (account isp-alice)\r\n\tid "
                            % DOMAIN) and
               m.split("\r\n")[3] == "From: sender@remote.example"
               for m in msgs), "our Received on top, then the message")
    expect(all("\r\n.dotted line\r\n" in m for m in msgs),
           "dot-unstuffed body")
    expect(dc.count("isp-alice") == 0, "deleted on the server")
    expect("account=isp-alice status=ok fetched=3 delivered=3"
           in p.stderr, "one log line with the counts", p)
    p = env.fetch("isp-alice")
    expect(p.returncode == 0, "second run succeeds", p)
    expect(len(env.local_messages("alice")) == 3, "no duplicates")


def multipop_keep(env, dc):
    """MultiPOP over STLS with a pinned key, keeping the mail on the
    server: only new messages on later runs."""
    dc.put("isp-bob", message("bob 1"))
    dc.put("isp-bob", message("bob 2"))
    p = env.fetch("isp-bob")
    expect(p.returncode == 0, "keep run succeeds", p)
    expect(len(env.local_messages("bob")) == 2, "2 delivered", p)
    expect(dc.count("isp-bob") == 2, "kept on the server")
    p = env.fetch("isp-bob")
    expect(p.returncode == 0, "second keep run", p)
    expect(len(env.local_messages("bob")) == 2, "no duplicates", p)
    dc.put("isp-bob", message("bob 3"))
    p = env.fetch("isp-bob")
    expect(len(env.local_messages("bob")) == 3, "only the new one", p)
    expect(dc.count("isp-bob") == 3, "still kept")


def domainpop(env, dc):
    """DomainPOP: each message to the users its envelope headers name,
    once per user; unmatched mail to postmaster."""
    env.clear_local()
    d = DOMAIN
    dc.put("catchall", message(
        "dt", "Delivered-To: alice@%s\r\nTo: bob@%s\r\n" % (d, d)))
    dc.put("catchall", message(
        "tocc", "To: Alice <alice@%s>, someone@elsewhere.test\r\n"
        "Cc: \"Bob B\" <BOB@%s>\r\n" % (d, d.upper())))
    dc.put("catchall", message(
        "rcvd", "Received: from isp by isp for <catchall@isp.test>; "
        "Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        "Received: from a by b (comment) for <bob@%s>; "
        "Mon, 1 Jan 2024 00:00:00 +0000\r\nTo: alice@%s\r\n" % (d, d)))
    dc.put("catchall", message(
        "unknown", "To: nobody@%s, x@elsewhere.test\r\n" % d))
    dc.put("catchall", message(
        "dup", "Delivered-To: alice@%s\r\n" % d, msgid="<same@x>"))
    dc.put("catchall", message(
        "dup", "Delivered-To: alice@%s\r\n" % d, msgid="<same@x>"))
    dc.put("catchall", message(
        "dup", "Delivered-To: bob@%s\r\n" % d, msgid="<same@x>"))
    p = env.fetch("catchall")
    expect(p.returncode == 0, "domainpop run succeeds", p)
    alice = env.local_messages("alice")
    bob = env.local_messages("bob")
    pm = env.local_messages("postmaster")

    def subjects(msgs):
        return sorted(l[9:] for m in msgs for l in m.split("\r\n")
                      if l.startswith("Subject: "))
    expect(subjects(alice) == ["dt", "dup", "tocc"],
           "alice: %s" % subjects(alice), p)
    expect(subjects(bob) == ["dup", "rcvd", "tocc"],
           "bob: %s" % subjects(bob), p)
    expect(subjects(pm) == ["unknown"], "postmaster: %s" % subjects(pm),
           p)
    expect(dc.count("catchall") == 0, "catch-all emptied")


def loop_guard(env, dc):
    """Mail this site fetched or delivered before stays on the server."""
    env.clear_local()
    dc.put("isp-alice", message(
        "looped", "X-Kantorpos-Fetched: isp-alice\r\n"))
    dc.put("isp-alice", message(
        "looped2", "Delivered-To: alice@%s\r\n" % DOMAIN))
    p = env.fetch("isp-alice")
    expect(p.returncode == 0, "run with loops succeeds", p)
    expect(env.local_messages("alice") == [], "loops not delivered", p)
    expect(dc.count("isp-alice") == 2, "loops stay on the server")
    expect("skipped=2" in p.stderr, "counted as skipped", p)


def password_mode(env, dc):
    """A password file others may read is refused with EX_CONFIG."""
    os.chmod(dc.pw["isp-alice"], 0o644)
    try:
        p = env.fetch("isp-alice")
        expect(p.returncode == 78, "refused with EX_CONFIG", p)
        expect("mode 0644" in p.stderr and "chmod 600" in p.stderr,
               "says why", p)
    finally:
        os.chmod(dc.pw["isp-alice"], 0o600)


def tls_wrong_ca_and_pin(env, dc):
    """A wrong CA or fingerprint ends the run before any login."""
    env.clear_local()
    dc.put("tlsbox", message("tls"))
    with accounts(env, env.accounts + [
            "fetch_account badca host 127.0.0.1:%d user tlsbox "
            "password_file %s multipop alice@%s ca_file %s timeout 20s"
            % (dc.pop3s, dc.pw["tlsbox"], DOMAIN, env.other),
            "fetch_account badpin host 127.0.0.1:%d user tlsbox "
            "password_file %s multipop alice@%s tls stls fingerprint %s "
            "timeout 20s"
            % (dc.pop3, dc.pw["tlsbox"], DOMAIN, env.wrong_fingerprint)]):
        for acct in ("badca", "badpin"):
            p = env.fetch(acct)
            expect(p.returncode == 75, "%s refused" % acct, p)
            expect("TLS" in p.stderr, "%s: TLS error logged" % acct, p)
        expect(env.local_messages("alice") == [], "nothing delivered")
        expect(dc.count("tlsbox") == 1, "mail stays on the server")
        auth_log = open(os.path.join(dc.dir, "dovecot.log")).read()
        expect("user=<tlsbox>" not in auth_log,
               "no login was attempted")


def cut_after_retr(env, where):
    """The first session is cut when the command starting with where
    arrives; the next run delivers the rest, each message once."""
    msgs = [("u1", message("one")), ("u2", message("two"))]

    def cut(session, cmd):
        # First session only: drop the connection at `where`.
        return session == 1 and cmd.upper().startswith(where)
    srv = ScriptedPop3(msgs, cut)
    pw = env.password_file("scripted", "x")
    try:
        with accounts(env, [
                "fetch_account scripted host 127.0.0.1:%d user u "
                "password_file %s multipop alice@%s tls none "
                "plaintext-ok timeout 10s" % (srv.port, pw, DOMAIN)]):
            cut_runs(env, srv)
    finally:
        srv.stop()


def cut_runs(env, srv):
    """cut_after_retr's two runs, from an empty mailbox and state."""
    env.clear_local()
    shutil.rmtree(os.path.join(env.data, "fetch"), ignore_errors=True)
    p = env.fetch()
    expect(p.returncode == 75, "cut run fails temporarily", p)
    first = len(env.local_messages("alice"))
    expect(len(srv.messages) == 2, "nothing removed remotely")
    p = env.fetch()
    expect(p.returncode == 0, "next run succeeds", p)
    got = env.local_messages("alice")
    expect(len(got) == 2, "each message once (first run %d, now %d)"
           % (first, len(got)), p)
    expect(len(srv.messages) == 0, "removed after delivery")


def stls_refused(env):
    """Bytes after the STLS reply (an injection) stop the run."""
    srv = ScriptedPop3([("u1", message("one"))], lambda s, c: False)
    pw = env.password_file("scripted", "x")
    try:
        with accounts(env, [
                "fetch_account nostls host 127.0.0.1:%d user u "
                "password_file %s multipop alice@%s tls stls "
                "timeout 10s" % (srv.port, pw, DOMAIN)]):
            p = env.fetch()
            expect(p.returncode == 75, "STLS injection: refused", p)
            expect("unexpected data after a reply" in p.stderr,
                   "says why", p)
            expect(len(srv.messages) == 1, "untouched")
    finally:
        srv.stop()


def scripted_account(env, srv, extra):
    """The only account "s", on srv, with a fresh mailbox and state."""
    plain_account(env, "s", srv.port, "timeout 10s " + extra)
    env.clear_local()
    shutil.rmtree(os.path.join(env.data, "fetch"), ignore_errors=True)


def oversize(env):
    """max_size with oversize skip (left, not tried again) and delete
    (removed, postmaster told)."""
    big = message("big", size_pad=4000)
    for mode in ("skip", "delete"):
        srv = ScriptedPop3([("small", message("small")), ("big", big)],
                           lambda s, c: False)
        try:
            scripted_account(env, srv, "max_size 2K oversize " + mode)
            p = env.fetch()
            expect(p.returncode == 0, "%s: run succeeds" % mode, p)
            expect(len(env.local_messages("alice")) == 1,
                   "%s: only the small one" % mode, p)
            expect("skipped=1" in p.stderr, "%s: counted" % mode, p)
            notices = env.local_messages("postmaster")
            if mode == "skip":
                expect(list(srv.messages) == ["big"], "big stays")
                expect(notices == [], "no notice")
                p = env.fetch()
                expect("fetched=0 delivered=0 skipped=0" in p.stderr,
                       "not tried again", p)
            else:
                expect(srv.messages == {}, "big deleted")
                expect(len(notices) == 1 and "oversized" in notices[0],
                       "postmaster told", p)
        finally:
            srv.stop()


def keep_days(env):
    """keep_days removes remote copies delivered longer ago."""
    long_line = "y" * 20000 + "\r\n"
    srv = ScriptedPop3([("old", message("old", body=long_line)),
                        ("new", message("new"))],
                       lambda s, c: False)
    try:
        scripted_account(env, srv, "keep yes keep_days 1")
        p = env.fetch()
        expect(p.returncode == 0 and len(srv.messages) == 2,
               "kept at first", p)
        state = os.path.join(env.data, "fetch", "s.state")
        with open(state) as f:
            text = f.read()
        # Pretend "old" was delivered two days ago.
        lines = [l if not l.startswith("old ") else
                 " ".join([l.split(" ")[0], str(int(time.time()) - 2 * 86400)]
                          + l.split(" ")[2:])
                 for l in text.split("\n")]
        with open(state, "w") as f:
            f.write("\n".join(lines))
        p = env.fetch()
        expect(p.returncode == 0, "second run", p)
        expect(list(srv.messages) == ["new"], "old one deleted: %s"
               % list(srv.messages), p)
        got = env.local_messages("alice")
        expect(len(got) == 2, "no duplicates")
        expect(any(long_line in m for m in got), "long line intact")
    finally:
        srv.stop()


def daemon(env):
    """fetch --daemon polls at the interval and exits 0 on SIGTERM."""
    srv = ScriptedPop3([("d1", message("d1"))], lambda s, c: False)
    try:
        scripted_account(env, srv, "interval 1s")
        proc = subprocess.Popen([KANTORPOS, "-c", env.conf, "fetch",
                                 "--daemon"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        end = time.time() + 15
        while time.time() < end and srv.messages:
            time.sleep(0.1)
        srv.messages["d2"] = message("d2")
        srv.order.append("d2")
        while time.time() < end and "d2" in srv.messages:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        expect(proc.returncode == 0, "daemon exits 0 on SIGTERM:\n" + err)
        expect(len(env.local_messages("alice")) == 2,
               "both polled in:\n" + err)
        expect(err.count("account=s status=ok") >= 2,
               "a log line per run:\n" + err)
    finally:
        srv.stop()


def tests_with_dovecot(env, dc):
    """The accounts against a sandboxed Dovecot (their password files in
    dc.pw), then the tests that use them."""
    dc.add_user("isp-alice", "secret-a")
    dc.add_user("isp-bob", "secret-b")
    dc.add_user("catchall", "secret-c")
    dc.add_user("tlsbox", "secret-t")
    dc.pw = {user: env.password_file(user, secret) for user, secret in
             (("isp-alice", "secret-a"), ("isp-bob", "secret-b"),
              ("catchall", "secret-c"), ("tlsbox", "secret-t"))}
    env.accounts = [
        # Implicit TLS verified against a CA file; delete mode.
        "fetch_account isp-alice host 127.0.0.1:%d user isp-alice "
        "password_file %s multipop alice@%s ca_file %s interval 1m "
        "timeout 20s" % (dc.pop3s, dc.pw["isp-alice"], DOMAIN, env.cert),
        # STLS with a pinned fingerprint; keep mode.
        "fetch_account isp-bob host 127.0.0.1:%d user isp-bob "
        "password_file %s multipop bob@%s tls stls fingerprint %s "
        "keep yes auth plain timeout 20s"
        % (dc.pop3, dc.pw["isp-bob"], DOMAIN, env.fingerprint),
        "fetch_account catchall host 127.0.0.1:%d user catchall "
        "password_file %s domainpop %s ca_file %s skip_received 1 "
        "timeout 20s" % (dc.pop3s, dc.pw["catchall"], DOMAIN, env.cert),
    ]
    env.write_conf()

    check("multipop delete mode, no duplicates",
          lambda: multipop_delete(env, dc))
    check("multipop keep mode over STLS with a pinned key",
          lambda: multipop_keep(env, dc))
    check("domainpop distribution", lambda: domainpop(env, dc))
    check("loop guard", lambda: loop_guard(env, dc))
    check("password file 0644 refused", lambda: password_mode(env, dc))
    check("TLS with a wrong CA or fingerprint refused",
          lambda: tls_wrong_ca_and_pin(env, dc))


def tests_scripted(env):
    """The tests against ScriptedPop3, a server that can misbehave."""
    check("connection cut at DELE: nothing lost, no duplicate",
          lambda: cut_after_retr(env, "DELE"))
    check("connection cut at the second RETR: nothing lost, no duplicate",
          lambda: cut_after_retr(env, "RETR 2"))

    check("bytes injected after the STLS reply: no login",
          lambda: stls_refused(env))

    # These make the account of their own (scripted_account); the old
    # accounts come back after them.
    with accounts(env, env.accounts):
        check("oversize skip and delete", lambda: oversize(env))
        check("keep_days deletes old remote copies", lambda: keep_days(env))
        check("--daemon polls at the interval and stops on SIGTERM",
              lambda: daemon(env))


def main():
    if not os.access(KANTORPOS, os.X_OK):
        print("kantorpos not built at %s" % KANTORPOS)
        print("0 passed, 1 failed")
        return 1
    root = tempfile.mkdtemp(prefix="kantorpos-fetch-")
    dc = None
    try:
        env = Env(root)
        tests_scripted(env)
        try:
            dc = Dovecot(env)
        except (RuntimeError, OSError, KeyError) as e:
            print("SKIP dovecot tests: %s" % e)
        if dc is not None:
            tests_with_dovecot(env, dc)
    finally:
        if dc is not None:
            dc.stop()
        if not os.environ.get("KEEP"): shutil.rmtree(root, ignore_errors=True)
        else: print("kept", root)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
