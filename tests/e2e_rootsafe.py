#!/usr/bin/env python3
"""tests/e2e_rootsafe.py: the kantorpos tool started as root beside the
real kantorpos-smtpd and kantorpos-pop3d, whose store belongs to run_as
(nobody here). A Maildir that the store's user replaced by a link (to a
root-only directory, or to one of its own outside the store) is refused
by `kantorpos deliver` with "PATH: is a symbolic link; refusing to follow
it" and nothing is written where the link points; the same link refused by
kantorpos-smtpd (451). A Maildir that root's `deliver` makes is run_as's,
so SMTP delivery to that user goes on (250, not 451). deliver, queue,
fetch (from the pop3d) and etrn do their work as run_as (file owners, and
the uid of the etrn process while it talks); started as root without
run_as, the store commands are refused and touch nothing.

Needs root: exits 77 with the reason otherwise."""

import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import ADMIN, DOMAIN, PASSWORDS, test  # noqa: E402

ENV = None
REFUSED = "is a symbolic link; refusing to follow it"


def nobody():
    return pwd.getpwnam(ENV.as_user)


def admin(*args, stdin=b"", conf=None):
    """kantorpos run as root (the way the tests prove it drops)."""
    p = subprocess.run([ADMIN, "-c", conf or ENV.conf] + list(args),
                       input=stdin, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def owner(path):
    return os.lstat(path).st_uid


def files_under(top):
    return [os.path.join(d, n) for d, _, names in os.walk(top)
            for n in names]


class Smtp:
    """A minimal SMTP client for one transaction against the smtpd."""

    def __init__(self):
        self.sock = socket.create_connection(("127.0.0.1", ENV.p_smtp), 10)
        self.f = self.sock.makefile("rb")
        assert self.reply().startswith("220")

    def reply(self):
        while True:
            line = self.f.readline().decode()
            assert line, "connection closed"
            if line[3:4] != "-":
                return line.rstrip("\r\n")

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def send(self, rcpt, body):
        assert self.cmd("EHLO client.test").startswith("250")
        assert self.cmd("MAIL FROM:<x@elsewhere.test>").startswith("250")
        r = self.cmd("RCPT TO:<%s@%s>" % (rcpt, DOMAIN))
        if not r.startswith("250"):
            return r
        assert self.cmd("DATA").startswith("354")
        self.sock.sendall(body.encode() + b"\r\n.\r\n")
        return self.reply()

    def close(self):
        self.cmd("QUIT")
        self.sock.close()


def smtp_send(rcpt, body):
    s = Smtp()
    try:
        return s.send(rcpt, body)
    finally:
        s.close()


@test
def deliver_refuses_a_maildir_replaced_by_a_link():
    ENV.deliver("alice", lib.msg("first"))  # the store exists, nobody's
    md = ENV.maildir("alice")
    real = os.path.join(ENV.dir, "alice-real")
    rootonly = os.path.join(ENV.dir, "rootonly")
    theirs = os.path.join(ENV.dir, "theirs")
    os.mkdir(rootonly, 0o700)
    os.mkdir(theirs, 0o700)
    os.chown(theirs, nobody().pw_uid, nobody().pw_gid)
    for sub in ("tmp", "new", "cur"):  # a complete Maildir there
        os.mkdir(os.path.join(theirs, sub), 0o700)
        os.chown(os.path.join(theirs, sub), nobody().pw_uid,
                 nobody().pw_gid)
    os.rename(md, real)
    try:
        for target in (rootonly, theirs):
            # What the store's user can do: its link, in its directory.
            os.symlink(target, md)
            os.lchown(md, nobody().pw_uid, nobody().pw_gid)
            rc, out, err = admin("deliver", "alice@" + DOMAIN,
                                 stdin=b"Subject: stolen\n\nx\n")
            assert rc == 75, (target, rc, err)
            assert "%s: %s" % (md, REFUSED) in err, err
            assert files_under(target) == [], files_under(target)
            # The daemon refuses the same link (a temporary failure).
            r = smtp_send("alice", "Subject: via smtp\r\n\r\nx")
            assert r.startswith("451"), r
            assert files_under(target) == [], files_under(target)
            os.unlink(md)
        with open(os.path.join(ENV.dir, "smtpd.log"), "rb") as f:
            assert REFUSED in f.read().decode("utf-8", "replace")
    finally:
        if os.path.islink(md):
            os.unlink(md)
        os.rename(real, md)
    assert ENV.count("alice") == 1


@test
def a_maildir_root_makes_is_run_as_and_smtp_goes_on():
    md = ENV.maildir("carol")
    assert not os.path.exists(md)
    rc, out, err = admin("deliver", "carol@" + DOMAIN,
                         stdin=b"Subject: from root\n\nx\n")
    assert rc == 0, err
    uid = nobody().pw_uid
    for path in [md] + [os.path.join(md, s) for s in ("tmp", "new", "cur")]:
        st = os.lstat(path)
        assert st.st_uid == uid and st.st_mode & 0o777 == 0o700, \
            (path, st.st_uid, oct(st.st_mode))
    assert all(owner(p) == uid for p in files_under(md))
    r = smtp_send("carol", "Subject: after root\r\n\r\nhello")
    assert r.startswith("250"), r
    assert ENV.count("carol") == 2


@test
def queue_commands_work_as_run_as():
    uid = nobody().pw_uid
    rc, out, err = admin("queue", "add", "bob@remote.test",
                         stdin=b"Subject: q\n\nx\n")
    assert rc == 0, err
    qid = out.split()[0]
    item = os.path.join(ENV.data, "queue", "items", qid)
    for path in (os.path.join(ENV.data, "queue"), item,
                 os.path.join(item, "msg"), os.path.join(item, "env")):
        assert owner(path) == uid, path
    rc, out, err = admin("queue", "list")
    assert rc == 0 and qid in out, (out, err)
    rc, out, err = admin("queue", "remove", qid)
    assert rc == 0 and not os.path.exists(item), err


@test
def fetch_works_as_run_as():
    """fetch --once from the pop3d of the same installation: erin's
    mailbox into frank's."""
    uid = nobody().pw_uid
    ENV.deliver("erin", lib.msg("to be fetched"))
    pw = os.path.join(ENV.dir, "erin.pw")
    with open(pw, "w") as f:
        f.write(PASSWORDS["erin"] + "\n")
    os.chmod(pw, 0o600)
    os.chown(pw, uid, nobody().pw_gid)
    conf = os.path.join(ENV.dir, "fetch.conf")
    with open(ENV.conf) as f:
        text = f.read()
    with open(conf, "w") as f:
        f.write(text + "fetch_account e host 127.0.0.1:%d user erin@%s "
                "password_file %s multipop frank@%s tls none plaintext-ok "
                "timeout 20s\n" % (ENV.p_plain, DOMAIN, pw, DOMAIN))
    rc, out, err = admin("fetch", "--once", conf=conf)
    assert rc == 0, err
    assert ENV.count("frank") == 1 and ENV.count("erin") == 0, err
    fetch = os.path.join(ENV.data, "fetch")
    for path in [fetch, os.path.join(fetch, "e.state"),
                 os.path.join(fetch, "staging")] + \
            files_under(ENV.maildir("frank")):
        assert owner(path) == uid, path


@test
def etrn_talks_as_run_as():
    """The etrn process is run_as's while it is connected: its uid read
    from /proc when the ETRN command arrives."""
    seen = {}
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(20)
    proc = subprocess.Popen([ADMIN, "-c", ENV.conf, "etrn",
                             "127.0.0.1:%d" % srv.getsockname()[1],
                             "example.net"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)

    def serve():
        c, _ = srv.accept()
        f = c.makefile("rb")
        c.sendall(b"220 sink\r\n")
        for raw in iter(f.readline, b""):
            line = raw.decode().strip().upper()
            if line.startswith("ETRN"):
                with open("/proc/%d/status" % proc.pid) as st:
                    for ln in st:
                        if ln.startswith("Uid:"):
                            seen["uids"] = [int(x) for x in ln.split()[1:]]
                c.sendall(b"250 ok\r\n")
            elif line.startswith("QUIT"):
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"250 ok\r\n")
        c.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        t.join(30)
        srv.close()
    assert proc.returncode == 0, err
    uid = nobody().pw_uid
    assert seen.get("uids") == [uid] * 4, seen


@test
def as_root_without_run_as_store_commands_touch_nothing():
    data = os.path.join(ENV.dir, "data-unset")
    conf = os.path.join(ENV.dir, "no-run-as.conf")
    with open(ENV.conf) as f:
        lines = [ln for ln in f if not ln.startswith(("run_as", "data_dir"))]
    with open(conf, "w") as f:
        f.write("".join(lines) + "data_dir %s\n" % data)
    rows = [(("deliver", "alice@" + DOMAIN), 75), (("queue", "list"), 78),
            (("queue", "add", "bob@remote.test"), 78),
            (("fetch", "--once"), 78)]
    for args, want in rows:
        rc, out, err = admin(*args, stdin=b"x\n", conf=conf)
        assert rc == want, (args, rc, err)
        assert "refusing to continue as root (set run_as in %s" % conf \
            in err, (args, err)
    assert not os.path.exists(data)


def make_env():
    env = lib.Env(smtp=True)
    env.start_smtpd()
    return env


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root (the tool must be started as root to show "
              "that it drops to run_as and refuses links root would follow)")
        sys.exit(77)
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        print("SKIP: no user nobody to be run_as")
        sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], make_env))
