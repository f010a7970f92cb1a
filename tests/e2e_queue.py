#!/usr/bin/env python3
"""tests/e2e_queue.py: the outbound queue and ETRN end to end, with the
real kantorpos tool and small SMTP servers on loopback: mail held until a
flush, destination down then up, 5xx -> DSN with the original headers,
partial failures, no DSN to <>, lifetime expiry, restart with mail queued,
kill -9 during a flush, queue remove, queue add (routes grouped by domain,
nothing left after a bad address or an unwritable queue, bare LF stored as
CRLF), the relay host, a destination that
answers DATA with 354 and 250 in one write (a protocol error: the item
stays), and `kantorpos etrn` (every reply code, @domain, STARTTLS + AUTH,
--scheduled); and DSN (RFC 3461) with the real kantorpos-smtpd: NOTIFY,
RET, ENVID and ORCPT taken, the failed, relayed, delivered and delayed
reports they ask for (none for NOTIFY=NEVER, the delay report once), and
the parameters passed on byte for byte to a next hop that offers DSN.

Prints one line per check and finally "N passed, N failed"; exits non-zero
on any failure."""

import base64
import email
import email.policy
import fcntl
import os
import pwd
import shutil
import signal
import smtplib
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from e2e_lib import free_port, make_cert, wait_for

BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
KANTORPOS = os.path.join(BUILD, "admin", "kantorpos")
SMTPD = os.path.join(BUILD, "smtpd", "kantorpos-smtpd")

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + str(detail) if detail else ""))


class Sink:
    """A minimal SMTP server. policy(rcpt) -> reply line for RCPT (default
    250); data_reply -> reply after the dot; hold_dot: seconds to wait
    before answering the dot; etrn: reply for ETRN; tls_ctx: offer
    STARTTLS; auth: (user, password) accepted by AUTH PLAIN; early_250:
    answer DATA with 354 and 250 in one write, before any data (hostile),
    and record what still comes in as commands; dsn: offer DSN."""

    def __init__(self, port=None, policy=None, data_reply="250 2.0.0 ok",
                 hold_dot=0, etrn="250 2.0.0 OK", tls_ctx=None, auth=None,
                 early_250=False, dsn=False):
        self.port = port or free_port()
        self.policy = policy or (lambda rcpt: "250 2.1.5 ok")
        self.data_reply = data_reply
        self.hold_dot = hold_dot
        self.etrn = etrn
        self.tls_ctx = tls_ctx
        self.auth = auth
        self.early_250 = early_250
        self.dsn = dsn
        self.messages = []   # (sender, [rcpts], data bytes)
        self.commands = []   # every command line
        self.connections = 0
        self.got_dot = threading.Event()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sink.connections += 1
                sink.session(self)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def session(self, h):
        c = SinkConn(self, h)
        c.send("220 sink.test ESMTP")
        while c.command():
            pass


class SinkConn:
    """One connection to a Sink: its streams (TLS ones after STARTTLS) and
    the transaction under way."""

    def __init__(self, sink, h):
        self.sink = sink
        self.rfile, self.wfile, self.sock = h.rfile, h.wfile, h.connection
        self.sender, self.rcpts, self.tls = None, [], False

    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def command(self):
        """Read and answer one command; False when the session is over."""
        raw = self.rfile.readline()
        if not raw:
            return False
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        self.sink.commands.append(line)
        verb = line.split(" ", 1)[0].upper()
        handler = {"EHLO": self.ehlo, "HELO": self.ehlo,
                   "STARTTLS": self.starttls, "AUTH": self.auth,
                   "ETRN": self.etrn, "MAIL": self.mail, "RCPT": self.rcpt,
                   "DATA": self.data, "RSET": self.rset,
                   "QUIT": self.quit}.get(verb, self.unknown)
        return handler(verb, line) is not False

    def ehlo(self, verb, line):
        ext = ["PIPELINING", "8BITMIME"] + (["DSN"] if self.sink.dsn else []) \
            + ["ETRN"]
        if self.sink.tls_ctx is not None and not self.tls:
            ext.append("STARTTLS")
        if self.sink.auth is not None and self.tls:
            ext.append("AUTH PLAIN")
        if verb == "HELO":
            self.send("250 sink.test")
            return
        for e in ["sink.test"] + ext[:-1]:
            self.send("250-" + e)
        self.send("250 " + ext[-1])

    def starttls(self, verb, line):
        if self.sink.tls_ctx is None:
            return self.unknown(verb, line)
        self.send("220 2.0.0 go ahead")
        self.sock = self.sink.tls_ctx.wrap_socket(self.sock, server_side=True)
        self.rfile = self.sock.makefile("rb")
        self.wfile = self.sock.makefile("wb")
        self.tls = True

    def auth(self, verb, line):
        parts = line.split(" ")
        ok = False
        if len(parts) == 3 and parts[1].upper() == "PLAIN":
            creds = base64.b64decode(parts[2]).split(b"\0")
            ok = (len(creds) == 3 and self.sink.auth is not None and
                  creds[1].decode() == self.sink.auth[0] and
                  creds[2].decode() == self.sink.auth[1])
        self.send("235 2.7.0 ok" if ok else "535 5.7.8 bad credentials")

    def etrn(self, verb, line):
        self.send(self.sink.etrn)

    def mail(self, verb, line):
        self.sender = line[10:].split(">")[0].lstrip("<")
        self.rcpts = []
        self.send("250 2.1.0 ok")

    def rcpt(self, verb, line):
        rcpt = line[8:].split(">")[0].lstrip("<")
        reply = self.sink.policy(rcpt)
        if reply.startswith("2"):
            self.rcpts.append(rcpt)
        self.send(reply)

    def data(self, verb, line):
        sink = self.sink
        if not self.rcpts:
            self.send("554 5.5.1 no valid recipients")
            return
        if sink.early_250:
            self.wfile.write(b"354 go\r\n250 2.0.0 queued\r\n")
            self.wfile.flush()
            return
        self.send("354 go")
        data = b""
        while True:
            l = self.rfile.readline()
            if not l:
                return False
            if l == b".\r\n":
                break
            data += l[1:] if l.startswith(b".") else l
        sink.got_dot.set()
        if sink.hold_dot:
            time.sleep(sink.hold_dot)
        if sink.data_reply.startswith("2"):
            sink.messages.append((self.sender, list(self.rcpts), data))
        self.send(sink.data_reply)

    def rset(self, verb, line):
        self.sender, self.rcpts = None, []
        self.send("250 2.0.0 ok")

    def quit(self, verb, line):
        self.send("221 2.0.0 bye")
        return False

    def unknown(self, verb, line):
        self.send("500 5.5.2 unknown")

class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-queue.")
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.users = os.path.join(self.dir, "users")
        self.extra = ""
        self.sink_port = free_port()
        # As root, kantorpos works on DATA as run_as (nobody here): DATA
        # and what it reads are nobody's, as they are the daemons' user's.
        self.run_as = "run_as nobody\n" if os.geteuid() == 0 else ""
        if self.run_as:
            os.chmod(self.dir, 0o755)
            os.makedirs(self.data)
            self.give(self.data)

    def give(self, path):
        """As root, hand path to run_as."""
        if self.run_as:
            nobody = pwd.getpwnam("nobody")
            os.chown(path, nobody.pw_uid, nobody.pw_gid)

    def write_conf(self, extra=""):
        self.extra = extra
        with open(self.conf, "w") as f:
            f.write(f"""hostname mx.example.test
data_dir {self.data}
user_db {self.users}
local_domain example.test
password_opslimit 1
password_memlimit 8K
outbound_timeout 5s
queue_retry_min 10s
queue_lifetime 1d
etrn_domain backup.test deliver_to 127.0.0.1:{self.sink_port} subdomains allow 127.0.0.1
{self.run_as}{extra}
""")

    def run(self, *args, stdin=None, timeout=30):
        p = subprocess.run([KANTORPOS, "-c", self.conf] + list(args),
                           input=stdin, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def add(self, sender, rcpts, body):
        rc, out, err = self.run("queue", "add", "-f", sender, *rcpts,
                                stdin=body)
        if rc != 0:
            raise RuntimeError("queue add: " + err)
        return [l.split()[0] for l in out.splitlines()]

    def queued(self, domain=None):
        args = ["queue", "list"] + ([domain] if domain else [])
        rc, out, err = self.run(*args)
        return int(out.strip().splitlines()[-1].split()[0])

    def start_smtpd(self):
        """kantorpos-smtpd on this configuration plus an mx listener;
        returns its port (stop_smtpd ends it)."""
        port, base = free_port(), self.extra
        self.write_conf(base + "listen smtp 127.0.0.1:%d\n" % port)
        self.extra = base
        self.smtpd_log = open(os.path.join(self.dir, "smtpd.log"), "ab")
        self.smtpd = subprocess.Popen([SMTPD, "-f", "-c", self.conf],
                                      stdout=self.smtpd_log,
                                      stderr=self.smtpd_log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return port
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kantorpos-smtpd did not start")

    def stop_smtpd(self):
        self.smtpd.send_signal(signal.SIGTERM)
        try:
            self.smtpd.wait(15)
        except subprocess.TimeoutExpired:
            self.smtpd.kill()
            self.smtpd.wait()
        self.smtpd_log.close()
        self.write_conf(self.extra)

    def maildir_new(self, domain, user):
        d = os.path.join(self.data, "mail", domain, user, "new")
        if not os.path.isdir(d):
            return []
        return [open(os.path.join(d, n), "rb").read()
                for n in sorted(os.listdir(d))]

    def item_dir(self, qid):
        return os.path.join(self.data, "queue", "items", qid)


MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: bob@backup.test\r\n"
       b"Subject: held for ETRN\r\n"
       b"Message-ID: <m1@example.test>\r\n"
       b"\r\n"
       b"hello\r\n.dot line\r\n")


def dsn_parts(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return msg, msg.get_payload() if msg.is_multipart() else []


def main():
    if not os.access(KANTORPOS, os.X_OK):
        print("kantorpos binary not found at " + KANTORPOS)
        return 1
    env = Env()
    env.write_conf()
    try:
        p = subprocess.run([KANTORPOS, "-c", env.conf, "user", "add",
                            "alice@example.test"], input=b"secret\n",
                           capture_output=True)
        check("user add", p.returncode == 0, p.stderr)
        env.give(env.users)
        scenario_add(env)
        scenario_held_and_flushed(env)
        scenario_down_then_up(env)
        scenario_flush_id(env)
        scenario_dsn(env)
        scenario_dsn_to_alias(env)
        scenario_null_sender(env)
        scenario_expiry(env)
        scenario_kill_during_flush(env)
        scenario_remove(env)
        scenario_bounce(env)
        scenario_relayhost(env)
        scenario_early_250(env)
        scenario_etrn_client(env)
        scenario_dsn_requests(env)
        scenario_dsn_delayed(env)
    finally:
        shutil.rmtree(env.dir, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


def queue_leftovers(env):
    """Items and staging directories in DATA/queue."""
    q = os.path.join(env.data, "queue")
    return sorted(os.listdir(os.path.join(q, "items")) +
                  os.listdir(os.path.join(q, "tmp")))


def add_unwritable(env, sub):
    """queue add with DATA/queue/SUB not writable (as root the tool runs
    as run_as, for whom the mode counts)."""
    d = os.path.join(env.data, "queue", sub)
    os.chmod(d, 0o500)
    try:
        return env.run("queue", "add", "bob@backup.test", stdin=MSG)
    finally:
        os.chmod(d, 0o700)


def scenario_add(env):
    body = b"Subject: lf\n\nline one\nline two\r\n.dot\n"
    rc, out, err = env.run("queue", "add", "-f", "alice@example.test",
                           "alice@example.test", "bob@backup.test",
                           "carol@Backup.TEST", stdin=body)
    lines = [l.split() for l in out.splitlines()]
    check("add: local and remote queued, one item per domain",
          rc == 0 and [l[1] for l in lines] == ["example.test",
                                                "backup.test"],
          (rc, out, err))
    rcpts = {}
    for qid, dom in lines:
        with open(os.path.join(env.item_dir(qid), "env")) as f:
            rcpts[dom] = [l.split("\t")[3] for l in f.read().splitlines()
                          if l.startswith("rcpt\t")]
    check("add: recipients grouped by route domain",
          rcpts == {"example.test": ["alice@example.test"],
                    "backup.test": ["bob@backup.test", "carol@Backup.TEST"]},
          rcpts)
    with open(os.path.join(env.item_dir(lines[0][0]), "msg"), "rb") as f:
        stored = f.read()
    check("add: bare LF stored as CRLF, nothing added",
          stored == b"Subject: lf\r\n\r\nline one\r\nline two\r\n"
                    b".dot\r\n", stored)
    env.run("queue", "remove", *[l[0] for l in lines])
    rc, out, err = env.run("queue", "add", "bob@backup.test", "bad@@x",
                           stdin=MSG)
    check("add: a bad address after a good one is exit 65, nothing queued",
          rc == 65 and out == "" and queue_leftovers(env) == [],
          (rc, out, err, queue_leftovers(env)))
    for sub in ("tmp", "items"):
        rc, out, err = add_unwritable(env, sub)
        check("add: queue/%s not writable is exit 75, nothing left" % sub,
              rc == 75 and out == "" and queue_leftovers(env) == [],
              (rc, out, err, queue_leftovers(env)))


def scenario_held_and_flushed(env):
    sink = Sink(port=env.sink_port)
    try:
        ids = env.add("alice@example.test", ["bob@backup.test"], MSG)
        env.add("alice@example.test", ["carol@sub.backup.test"], MSG)
        check("held: two items queued", env.queued() == 2)
        check("held: nothing sent before a flush", sink.connections == 0)
        rc, out, err = env.run("queue", "list")
        check("list shows id, sender and recipient",
              ids[0] in out and "<alice@example.test>" in out and
              "bob@backup.test (pending)" in out, out)
        rc, out, err = env.run("queue", "flush", "backup.test")
        check("flush: exit 0", rc == 0, out + err)
        check("flush: both delivered over one new connection",
              len(sink.messages) == 2 and sink.connections == 1,
              (len(sink.messages), sink.connections))
        check("flush: body byte-exact (dot-stuffing undone by the sink)",
              sink.messages and sink.messages[0][2] == MSG)
        check("flush: envelope kept",
              sink.messages and sink.messages[0][0] == "alice@example.test"
              and sink.messages[0][1] == ["bob@backup.test"])
        check("flush: queue empty afterwards", env.queued() == 0)
    finally:
        sink.stop()


def scenario_down_then_up(env):
    env.add("alice@example.test", ["bob@backup.test"], MSG)
    rc, out, err = env.run("queue", "flush", "backup.test")
    check("down: flush exits 75", rc == 75, (rc, out, err))
    rc, out, err = env.run("queue", "list")
    check("down: still queued with the error",
          env.queued() == 1 and "attempts=1" in out and
          "refused" in out.lower(), out)
    sink = Sink(port=env.sink_port)
    try:
        rc, out, err = env.run("queue", "flush")
        check("up: flush delivers", rc == 0 and len(sink.messages) == 1,
              (rc, out, err))
        check("up: queue empty", env.queued() == 0)
    finally:
        sink.stop()


def scenario_flush_id(env):
    """queue flush ID: that message is made due and sent; another one of
    the same route, still backing off, waits."""
    first = env.add("alice@example.test", ["bob@backup.test"], MSG)[0]
    second = env.add("alice@example.test", ["carol@backup.test"], MSG)[0]
    rc, out, err = env.run("queue", "flush", "backup.test")
    check("flush ID: both deferred first", rc == 75, (rc, out, err))
    sink = Sink(port=env.sink_port)
    try:
        rc, out, err = env.run("queue", "flush", first)
        check("flush ID: exit 0, that message sent",
              rc == 0 and "due now: " + first in out and
              [m[1] for m in sink.messages] == [["bob@backup.test"]],
              (rc, out, err, sink.messages))
        rc, out, err = env.run("queue", "list")
        check("flush ID: the other one still waits",
              first not in out and second in out and "next=in " in out, out)
        rc, out, err = env.run("queue", "flush", second, "no-such-id")
        check("flush ID: an unknown id is exit 65, the known one is sent",
              rc == 65 and "no-such-id: no such queued message" in err and
              len(sink.messages) == 2 and env.queued() == 0,
              (rc, out, err, sink.messages))
    finally:
        sink.stop()


def scenario_dsn(env):
    def policy(rcpt):
        return "550 5.1.1 no such user here" if rcpt.startswith("nobody") \
            else "250 2.1.5 ok"
    sink = Sink(port=env.sink_port, policy=policy)
    before = len(env.maildir_new("example.test", "alice"))
    try:
        env.add("alice@example.test", ["bob@backup.test",
                                       "nobody@backup.test"], MSG)
        rc, out, err = env.run("queue", "flush", "backup.test")
        check("5xx: flush ran", rc == 0, (rc, out, err))
        check("5xx: the good recipient got it",
              len(sink.messages) == 1 and
              sink.messages[0][1] == ["bob@backup.test"])
        # The DSN is queued for the local sender and delivered locally.
        rc, out, err = env.run("queue", "flush")
        dsns = env.maildir_new("example.test", "alice")[before:]
        check("5xx: one DSN delivered to the sender", len(dsns) == 1,
              len(dsns))
        if dsns:
            msg, parts = dsn_parts(dsns[0])
            check("DSN: Return-Path <>",
                  dsns[0].startswith(b"Return-Path: <>\r\n"))
            check("DSN: multipart/report delivery-status",
                  msg.get_content_type() == "multipart/report" and
                  msg.get_param("report-type") == "delivery-status")
            check("DSN: three parts", len(parts) == 3, len(parts))
            if len(parts) == 3:
                ds = parts[1].as_string()
                check("DSN: message/delivery-status part",
                      parts[1].get_content_type() ==
                      "message/delivery-status")
                check("DSN: Reporting-MTA", "Reporting-MTA: dns; mx.example.test" in ds, ds)
                check("DSN: only the failed recipient",
                      "Final-Recipient: rfc822; nobody@backup.test" in ds and
                      "bob@backup.test" not in ds, ds)
                check("DSN: Action and Status",
                      "Action: failed" in ds and "Status: 5.1.1" in ds, ds)
                check("DSN: Remote-MTA and Diagnostic-Code",
                      "Remote-MTA: dns; 127.0.0.1" in ds and
                      "Diagnostic-Code: smtp; 550 5.1.1 no such user here"
                      in ds, ds)
                back = parts[2]
                check("DSN: the whole message returned (no RET)",
                      back.get_content_type() == "message/rfc822" and
                      "Subject: held for ETRN" in back.as_string() and
                      "hello" in back.as_string(), back.as_string())
            check("DSN: To is the sender",
                  msg["To"] == "<alice@example.test>" and
                  msg["Auto-Submitted"] == "auto-replied")
        check("5xx: queue empty", env.queued() == 0)
    finally:
        sink.stop()


def bounced(env, sender):
    """Queue MSG from sender for nobody@backup.test, which the sink refuses
    (550), and flush both routes: the new messages in alice's Maildir."""
    sink = Sink(port=env.sink_port,
                policy=lambda r: "550 5.1.1 no such user")
    before = len(env.maildir_new("example.test", "alice"))
    try:
        env.add(sender, ["nobody@backup.test"], MSG)
        env.run("queue", "flush", "backup.test")
        env.run("queue", "flush")
    finally:
        sink.stop()
    return env.maildir_new("example.test", "alice")[before:]


def scenario_dsn_to_alias(env):
    """The queue's local route resolves aliases as RCPT does: a DSN for
    the sender sales@example.test, an alias of alice, reaches alice."""
    aliases = os.path.join(env.dir, "aliases")
    with open(aliases, "w") as f:
        f.write("sales: alice\n")
    env.give(aliases)
    env.write_conf("aliases %s\n" % aliases)
    try:
        dsns = bounced(env, "sales@example.test")
        check("alias: the DSN to sales@ delivered to alice",
              len(dsns) == 1 and
              b"Final-Recipient: rfc822; nobody@backup.test" in dsns[0],
              dsns)
        check("alias: queue empty", env.queued() == 0)
    finally:
        env.write_conf()


def scenario_null_sender(env):
    dsns = bounced(env, "")
    check("<> sender: no DSN anywhere", env.queued() == 0 and not dsns)


def scenario_expiry(env):
    before = len(env.maildir_new("example.test", "alice"))
    ids = env.add("alice@example.test", ["bob@backup.test"], MSG)
    envpath = os.path.join(env.item_dir(ids[0]), "env")
    text = open(envpath).read()
    old = int(time.time()) - 2 * 86400
    lines = [("arrival\t%d" % old) if l.startswith("arrival\t") else l
             for l in text.splitlines()]
    with open(envpath, "w") as f:
        f.write("\n".join(lines) + "\n")
    # The destination is down: expiry must not depend on reaching it.
    rc, out, err = env.run("queue", "flush")
    env.run("queue", "flush")
    dsns = env.maildir_new("example.test", "alice")[before:]
    check("expiry: item gone", env.queued() == 0)
    check("expiry: DSN with Status 4.4.7", len(dsns) == 1 and
          b"Status: 4.4.7" in dsns[0] and b"Action: failed" in dsns[0],
          dsns)


def scenario_kill_during_flush(env):
    sink = Sink(port=env.sink_port, hold_dot=3)
    try:
        env.add("alice@example.test", ["bob@backup.test"], MSG)
        p = subprocess.Popen([KANTORPOS, "-c", env.conf, "queue", "flush",
                              "backup.test"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        got = sink.got_dot.wait(10)
        p.send_signal(signal.SIGKILL)
        p.wait()
        check("kill -9: killed while the message was in flight", got)
        check("kill -9: still queued", env.queued() == 1)
        sink.hold_dot = 0
        rc, out, err = env.run("queue", "flush", "backup.test")
        check("kill -9: delivered after the restart",
              rc == 0 and env.queued() == 0 and len(sink.messages) >= 1,
              (rc, out, err, len(sink.messages)))
        tmp = os.path.join(env.data, "queue", "tmp")
        items = os.path.join(env.data, "queue", "items")
        check("kill -9: no leftovers in tmp/ or items/",
              os.listdir(tmp) == [] and os.listdir(items) == [],
              (os.listdir(tmp), os.listdir(items)))
    finally:
        sink.stop()


def scenario_remove(env):
    ids = env.add("alice@example.test", ["bob@backup.test"], MSG)
    rc, out, err = env.run("queue", "remove", ids[0])
    check("remove: exit 0", rc == 0 and env.queued() == 0, (rc, out, err))
    rc, out, err = env.run("queue", "remove", ids[0])
    check("remove: unknown id is exit 65", rc == 65, (rc, err))
    rc, out, err = env.run("queue", "remove", "../x")
    check("remove: path tricks refused", rc == 65, (rc, err))


def scenario_bounce(env):
    """queue list shows each recipient and the next try; queue bounce
    gives up with one DSN to the sender; queue delete is remove."""
    ids = env.add("alice@example.test", ["bob@backup.test",
                                         "carol@backup.test"], MSG)
    rc, out, err = env.run("queue", "list")
    check("list: recipients pending, next try shown",
          rc == 0 and "bob@backup.test (pending)" in out and
          "carol@backup.test (pending)" in out and "next=" in out,
          (rc, out, err))
    before = len(env.maildir_new("example.test", "alice"))
    rc, out, err = env.run("queue", "bounce", ids[0])
    check("bounce: exit 0, item gone", rc == 0 and
          out.strip() == "bounced " + ids[0] and env.queued() == 1,
          (rc, out, err, env.queued()))
    rc, out, err = env.run("queue", "flush")
    dsns = env.maildir_new("example.test", "alice")[before:]
    check("bounce: one DSN delivered to the sender", len(dsns) == 1,
          len(dsns))
    if dsns:
        msg, parts = dsn_parts(dsns[0])
        ds = parts[1].as_string() if len(parts) == 3 else ""
        text = parts[0].get_payload() if parts else ""
        check("bounce: both recipients failed with 5.0.0",
              "Final-Recipient: rfc822; bob@backup.test" in ds and
              "Final-Recipient: rfc822; carol@backup.test" in ds and
              ds.count("Status: 5.0.0") == 2, ds)
        check("bounce: the report says why",
              "cancelled by the administrator" in text, text)
    check("bounce: queue empty", env.queued() == 0)
    rc, out, err = env.run("queue", "bounce", ids[0])
    check("bounce: unknown id is exit 65", rc == 65, (rc, err))
    ids = env.add("alice@example.test", ["bob@backup.test"], MSG)
    rc, out, err = env.run("queue", "delete", ids[0])
    check("delete: exit 0, no DSN", rc == 0 and env.queued() == 0 and
          len(env.maildir_new("example.test", "alice")) == before + 1,
          (rc, out, err))


def scenario_relayhost(env):
    """Verified STARTTLS by default: a relay host without TLS gets no
    mail until the configuration says tls none."""
    port = free_port()
    env.write_conf("relayhost 127.0.0.1:%d\n" % port)
    sink = Sink(port=port)
    try:
        qid = env.add("alice@example.test", ["zed@elsewhere.test"], MSG)[0]
        rc, out, err = env.run("queue", "flush")
        check("relayhost: no STARTTLS offered -> stays queued, exit 75",
              rc == 75 and not sink.messages and env.queued() == 1 and
              "does not offer STARTTLS" in err and
              not any(c.startswith("MAIL") for c in sink.commands),
              (rc, out, err, sink.commands))
        env.write_conf("relayhost 127.0.0.1:%d tls none\n" % port)
        # Another process holds the item (a daemon delivering it): the
        # flush leaves it alone and ends its session, without waiting.
        fd = os.open(os.path.join(env.item_dir(qid), "lock"), os.O_RDWR)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            rc, out, err = env.run("queue", "flush")
        finally:
            os.close(fd)
        check("relayhost: an item locked elsewhere is skipped, QUIT",
              rc == 0 and not sink.messages and env.queued() == 1 and
              sink.commands[-1:] == ["QUIT"], (rc, out, err, sink.commands))
        rc, out, err = env.run("queue", "flush")
        check("relayhost: delivered", rc == 0 and len(sink.messages) == 1
              and sink.messages[0][1] == ["zed@elsewhere.test"],
              (rc, out, err))
    finally:
        sink.stop()
        env.write_conf()


def scenario_early_250(env):
    """The 250 came before the data: it answers nothing, so the message
    was not delivered and stays queued for the next flush."""
    ids = env.add("alice@example.test", ["bob@backup.test"], MSG)
    sink = Sink(port=env.sink_port, early_250=True)
    try:
        rc, out, err = env.run("queue", "flush", "backup.test")
        check("early 250: flush exits 75", rc == 75, (rc, out, err))
        check("early 250: the log says protocol error",
              "protocol error: 127.0.0.1 sent 18 bytes nothing asked for"
              in err, err)
        check("early 250: no body sent after the 354",
              sink.commands[-1:] == ["DATA"] and not sink.messages,
              sink.commands)
        rc, out, err = env.run("queue", "list")
        check("early 250: still queued, deferred with the error",
              env.queued() == 1 and ids[0] in out and "attempts=1" in out and
              "bob@backup.test (pending): protocol error:" in out, out)
    finally:
        sink.stop()
    sink = Sink(port=env.sink_port)
    try:
        rc, out, err = env.run("queue", "flush", "backup.test")
        check("early 250: an honest destination gets it exactly once",
              rc == 0 and env.queued() == 0 and
              [m[1] for m in sink.messages] == [["bob@backup.test"]] and
              sink.messages[0][2] == MSG, (rc, out, err, sink.messages))
    finally:
        sink.stop()


def cert_in(dirname):
    """cert.pem and key.pem made in dirname, or (None, None) when openssl
    cannot make them."""
    cert = os.path.join(dirname, "cert.pem")
    key = os.path.join(dirname, "key.pem")
    try:
        make_cert(key, cert)
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return cert, key


def scenario_etrn_client(env):
    etrn_client_replies(env)
    etrn_client_tls(env)


def etrn_client_replies(env):
    """kantorpos etrn against each reply, no server and a bad domain."""
    rows = [
        ("250 2.0.0 OK, queuing for node example.net started", 0),
        ("251 2.0.0 OK, no messages waiting for node example.net", 0),
        ("252 2.0.0 OK, pending messages for node example.net started", 0),
        ("253 2.0.0 OK, 3 pending messages for node example.net started", 0),
        ("458 4.3.0 Unable to queue messages for node example.net", 75),
        ("459 4.7.1 Node example.net not allowed: no", 75),
        ("501 5.5.4 Syntax error in parameters", 1),
    ]
    for reply, want in rows:
        sink = Sink(etrn=reply)
        try:
            rc, out, err = env.run("etrn", "127.0.0.1:%d" % sink.port,
                                   "example.net")
            check("etrn client: %s -> exit %d" % (reply[:3], want),
                  rc == want and out.strip() == reply and
                  "ETRN example.net" in sink.commands, (rc, out, err))
        finally:
            sink.stop()
    sink = Sink()
    try:
        rc, out, err = env.run("etrn", "127.0.0.1:%d" % sink.port,
                               "@example.net")
        check("etrn client: @domain sent as given",
              rc == 0 and "ETRN @example.net" in sink.commands, sink.commands)
    finally:
        sink.stop()
    port = free_port()
    rc, out, err = env.run("etrn", "127.0.0.1:%d" % port, "example.net")
    check("etrn client: no server -> exit 75", rc == 75 and err, (rc, err))
    rc, out, err = env.run("etrn", "127.0.0.1:25", "bad..name")
    check("etrn client: bad domain -> usage", rc == 64, (rc, err))


def etrn_client_tls(env):
    """kantorpos etrn with STARTTLS and AUTH PLAIN, by hand and
    scheduled."""
    cert, key = cert_in(env.dir)
    if cert is None:
        check("etrn client: openssl for a test certificate", False)
        return
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    env.write_conf("tls_ca_file %s\n" % cert)
    sink = Sink(tls_ctx=ctx, auth=("office@example.test", "s3cret"))
    try:
        rc, out, err = env.run("etrn", "--starttls", "--auth",
                               "office@example.test",
                               "localhost:%d" % sink.port, "example.net",
                               stdin=b"s3cret\n")
        check("etrn client: STARTTLS + AUTH PLAIN",
              rc == 0 and "STARTTLS" in sink.commands and
              any(c.startswith("AUTH PLAIN") for c in sink.commands),
              (rc, out, err, sink.commands))
        rc, out, err = env.run("etrn", "--starttls", "--auth",
                               "office@example.test",
                               "localhost:%d" % sink.port, "example.net",
                               stdin=b"wrong\n")
        check("etrn client: bad password -> 535 printed, exit 1",
              rc == 1 and out.startswith("535"), (rc, out, err))
        rc, out, err = env.run("etrn", "--auth", "office@example.test",
                               "localhost:%d" % sink.port, "example.net")
        check("etrn client: --auth without --starttls refused", rc == 64)
        etrn_client_scheduled(env, sink, cert)
    finally:
        sink.stop()
        env.write_conf()


def etrn_client_scheduled(env, sink, cert):
    """etrn --scheduled sends every etrn_request, and refuses a
    password file others may read."""
    pwfile = os.path.join(env.dir, "pw.etrn")
    with open(pwfile, "w") as f:
        f.write("s3cret\n")
    os.chmod(pwfile, 0o600)
    env.give(pwfile)
    env.write_conf("tls_ca_file %s\n"
                   "etrn_request localhost:%d example.net starttls auth "
                   "office@example.test %s\n"
                   "etrn_request 127.0.0.1:%d @example.org\n"
                   % (cert, sink.port, pwfile, sink.port))
    before = len(sink.commands)
    rc, out, err = env.run("etrn", "--scheduled")
    cmds = sink.commands[before:]
    check("etrn --scheduled: every etrn_request sent",
          rc == 0 and "ETRN example.net" in cmds and
          "ETRN @example.org" in cmds, (rc, out, err, cmds))
    os.chmod(pwfile, 0o644)
    rc, out, err = env.run("etrn", "--scheduled")
    check("etrn --scheduled: a readable password file is refused",
          rc != 0 and "chmod 600" in err, (rc, err))


def smtp_send(port, sender, rcpts, body, mail_opts=()):
    """One message to kantorpos-smtpd; rcpts: [(address, [options])].
    Returns the RCPT reply codes and the final one."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.ehlo("client.test")
        if not c.has_extn("dsn"):
            raise RuntimeError("DSN not offered")
        code, _ = c.mail(sender, list(mail_opts))
        if code != 250:
            raise RuntimeError("MAIL: %d" % code)
        codes = [c.rcpt(a, opts)[0] for a, opts in rcpts]
        code, _ = c.data(body)
        return codes, code


def reports_of(messages):
    """The DSNs among a sink's messages, by Action: {action: [parsed]}."""
    out = {}
    for sender, rcpts, data in messages:
        if sender != "":
            continue
        msg, parts = dsn_parts(data)
        ds = parts[1].as_string() if len(parts) == 3 else ""
        for line in ds.splitlines():
            if line.startswith("Action: "):
                out.setdefault(line[8:], []).append((msg, parts, ds))
                break
    return out


def scenario_dsn_requests(env):
    """RFC 3461 through kantorpos-smtpd: what each NOTIFY asks for comes
    back (failed, relayed, delivered), NEVER gets nothing, RET=HDRS returns
    the header section, ENVID and ORCPT come back; then a next hop that
    offers DSN gets the parameters as sent, and no relayed report is owed.
    The reports go to zed@backup.test, so the sink gets them too."""
    port = env.start_smtpd()
    try:
        dsn_reports(env, port)
        dsn_pass_through(env, port)
    finally:
        env.stop_smtpd()


def dsn_reports(env, port):
    """The reports of scenario_dsn_requests."""
    policy = (lambda r: "550 5.1.1 no such user" if r.startswith("nobody")
              else "250 2.1.5 ok")
    sink = Sink(port=env.sink_port, policy=policy)
    try:
        before = len(env.maildir_new("example.test", "alice"))
        codes, final = smtp_send(
            port, "zed@backup.test",
            [("bob@backup.test", ["NOTIFY=SUCCESS,FAILURE",
                                  "ORCPT=rfc822;bob+2Bx@backup.test"]),
             ("nobody@backup.test", ["NOTIFY=NEVER"]),
             ("nobody2@backup.test", []),
             ("alice@example.test", ["NOTIFY=SUCCESS"])],
            MSG, ["RET=HDRS", "ENVID=QQ+2B1"])
        check("dsn: parameters taken", codes == [250] * 4 and final == 250,
              (codes, final))
        check("dsn: the local copy delivered by the queue",
              wait_for(lambda: len(env.maildir_new("example.test",
                                                     "alice")) > before))
        # The delivered report is queued with the local copy; the flush
        # then sends the message and queues the failed and relayed ones.
        env.run("queue", "flush", "backup.test")
        env.run("queue", "flush", "backup.test")
        check("dsn: bob got the message",
              [m[1] for m in sink.messages if m[0] != ""] ==
              [["bob@backup.test"]], [m[:2] for m in sink.messages])
        got = reports_of(sink.messages)
        check("dsn: one report of each kind",
              sorted(got) == ["delivered", "failed", "relayed"] and
              all(len(v) == 1 for v in got.values()), sorted(got))
        if "failed" in got:
            msg, parts, ds = got["failed"][0]
            check("dsn failed: only the recipient without NOTIFY (NEVER "
                  "gets none)", "nobody2@backup.test" in ds and
                  "nobody@backup.test" not in ds.replace("nobody2", ""), ds)
            check("dsn failed: Original-Envelope-Id, no Original-Recipient",
                  "Original-Envelope-Id: QQ+2B1" in ds and
                  "Original-Recipient" not in ds, ds)
            check("dsn failed: RET=HDRS returns the header section",
                  parts[2].get_content_type() == "text/rfc822-headers" and
                  "hello" not in parts[2].get_payload(),
                  parts[2].get_content_type())
            check("dsn failed: from <> to the sender",
                  msg["To"] == "<zed@backup.test>" and
                  msg["From"].startswith("Mail Delivery System"))
        if "relayed" in got:
            ds = got["relayed"][0][2]
            check("dsn relayed: bob, with his ORCPT",
                  "Final-Recipient: rfc822; bob@backup.test" in ds and
                  "Original-Recipient: rfc822;bob+x@backup.test" in ds and
                  "Status: 2.0.0" in ds and
                  "Diagnostic-Code: smtp; 250 2.0.0 ok" in ds, ds)
        if "delivered" in got:
            ds = got["delivered"][0][2]
            check("dsn delivered: alice's Maildir",
                  "Final-Recipient: rfc822; alice@example.test" in ds and
                  "Status: 2.0.0" in ds and "Remote-MTA" not in ds, ds)
        check("dsn: queue empty", env.queued() == 0)
    finally:
        sink.stop()


def dsn_pass_through(env, port):
    """O-DSN-01: a next hop that offers DSN gets the request as sent."""
    sink = Sink(port=env.sink_port, dsn=True)
    try:
        smtp_send(port, "zed@backup.test",
                  [("bob@backup.test", ["NOTIFY=SUCCESS,FAILURE",
                                        "ORCPT=rfc822;bob+2Bx@backup.test"]),
                   ("carol@backup.test", [])],
                  MSG, ["RET=HDRS", "ENVID=QQ+2B1"])
        env.run("queue", "flush", "backup.test")
        mail = [c for c in sink.commands if c.startswith("MAIL")]
        rcpt = [c for c in sink.commands if c.startswith("RCPT")]
        check("dsn pass-through: RET and ENVID as sent",
              len(mail) == 1 and mail[0].endswith(" RET=HDRS ENVID=QQ+2B1"),
              mail)
        check("dsn pass-through: NOTIFY and ORCPT as sent, none added",
              rcpt == ["RCPT TO:<bob@backup.test> NOTIFY=SUCCESS,FAILURE "
                       "ORCPT=rfc822;bob+2Bx@backup.test",
                       "RCPT TO:<carol@backup.test>"], rcpt)
        check("dsn pass-through: no relayed report",
              env.queued() == 0 and not reports_of(sink.messages),
              env.queued())
    finally:
        sink.stop()


def scenario_dsn_delayed(env):
    """queue_delay_warning: a message still queued after it gets one
    delayed report (Will-Retry-Until), never a second."""
    env.write_conf("queue_delay_warning 1s\n")
    port = env.start_smtpd()
    try:
        smtp_send(port, "zed@backup.test", [("bob@backup.test", [])], MSG)
        time.sleep(1.2)
        env.run("queue", "flush", "backup.test")   # down: deferred
        env.run("queue", "flush", "backup.test")   # again: no second
        check("delayed: one report queued", env.queued("backup.test") == 2,
              env.queued("backup.test"))
        sink = Sink(port=env.sink_port)
        try:
            env.run("queue", "flush", "backup.test")
            got = reports_of(sink.messages)
            check("delayed: the message and one delayed report",
                  len(sink.messages) == 2 and list(got) == ["delayed"],
                  (len(sink.messages), list(got)))
            if "delayed" in got:
                msg, parts, ds = got["delayed"][0]
                check("delayed: Status 4.x, Will-Retry-Until, headers only",
                      "Status: 4." in ds and "Will-Retry-Until: " in ds and
                      parts[2].get_content_type() == "text/rfc822-headers",
                      ds)
        finally:
            sink.stop()
    finally:
        env.stop_smtpd()
        env.write_conf()


if __name__ == "__main__":
    sys.exit(main())
