#!/usr/bin/env python3
"""tests/e2e_sendmail.py: kantorpos-sendmail end to end, beside a real
kantorpos-smtpd (run_as mail) with a temporary data_dir and drop_dir.

As the user nobody (setpriv): Debian cron's exact command line delivers
to a local user with the sender nobody@DOMAIN and a Received "from local
user nobody"; -t reads To, Cc and Bcc (Bcc removed, command-line
recipients added); -f is refused (77) unless it is the own address, and
honoured for root; a recipient that does not exist gets the sender a
bounce; with kantorpos-smtpd stopped the message waits in the drop
directory and is delivered once it starts, while a hard link, a symbolic
link and a file that asks for another's sender, planted there, are moved
into bad/ and not delivered; a message over max_message_size is 65; the
dot rule with and without -i; s-nail pointed at kantorpos-sendmail (when
installed); kantorpos check on a drop directory others can list. And the
$(sbindir)/sendmail link of `make install DESTDIR=...`: made where the
path is free, left alone where a file is there.

Needs root for the user switches (the tests that switch are skipped
otherwise). Prints one line per test and "N passed, N failed, N skipped"."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import ADMIN, BUILD, SMTPD, Skip, test  # noqa: E402

SENDMAIL = os.path.join(BUILD, "sendmail", "kantorpos-sendmail")
DOMAIN = "example.test"
USERS = ("alice", "bob", "carol", "dave", "erin")
ROOT = os.geteuid() == 0
RUN_AS = "mail"          # the daemons' account: not the sending user
SENDER = "nobody"        # the local user who sends
MAX_SIZE = 64 * 1024
# tests/README.md: the programs run under it (valgrind in ./check
# --valgrind), and a daemon must then stop with 0.
WRAPPER = os.environ.get("KANTORPOS_WRAPPER", "").split()
SLOW = 10 if WRAPPER else 1


class Site:
    """The scratch directory, its configuration and the daemon."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-sendmail-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.drop = os.path.join(self.dir, "drop")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(self.dir, "smtpd.log")
        self.port = lib.free_port()
        aliases = os.path.join(self.dir, "aliases")
        with open(aliases, "w") as f:
            f.write("# bounces to the local sender reach alice\n"
                    "%s: alice\n" % SENDER)
        with open(self.conf, "w") as f:
            f.write(f"""hostname mail.{DOMAIN}
data_dir {self.data}
user_db {self.dir}/users
aliases {aliases}
local_domain {DOMAIN}
drop_dir {self.drop}
listen smtp 127.0.0.1:{self.port}
max_message_size {MAX_SIZE}
log_level info
password_opslimit 1
password_memlimit 8K
queue_retry_min 1s
""")
            if ROOT:
                f.write("run_as %s\n" % RUN_AS)
        os.makedirs(self.data)
        for user in USERS:
            subprocess.run([ADMIN, "-c", self.conf, "user", "add",
                            f"{user}@{DOMAIN}"], input="pw\n", text=True,
                           check=True, stdout=subprocess.DEVNULL)
        if ROOT:
            for path in (self.data, os.path.join(self.dir, "users")):
                shutil.chown(path, RUN_AS, RUN_AS)
        self.proc = None

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(WRAPPER + [SMTPD, "-f", "-c", self.conf],
                                     stdout=logf, stderr=logf)
        lib.DAEMONS.append(self.proc)
        logf.close()
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kantorpos-smtpd did not start")

    def stop(self):
        """A graceful stop, which must end with status 0."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(20 * SLOW)
        assert proc is None or proc.returncode == 0, \
            "kantorpos-smtpd exited %s" % proc.returncode

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def messages(self, user):
        md = os.path.join(self.data, "mail", DOMAIN, user)
        return sorted(glob.glob(os.path.join(md, "new", "*")) +
                      glob.glob(os.path.join(md, "cur", "*")))

    def find(self, user, marker, timeout=10.0, want=True):
        """The text of user's message containing marker, waiting for it
        (want) or making sure none comes within timeout (not want)."""
        deadline = time.time() + timeout * SLOW
        while True:
            for path in self.messages(user):
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
                if marker in text:
                    assert want, "%s got %r:\n%s" % (user, marker, text)
                    return text
            if time.time() > deadline:
                assert not want, "%s got no %r; log:\n%s" % (
                    user, marker, self.log_text()[-3000:])
                return None
            time.sleep(0.1)

    def drop_files(self):
        return sorted(n for n in os.listdir(self.drop) if n != "bad")

    def bad_files(self):
        return sorted(os.listdir(os.path.join(self.drop, "bad")))


SITE = None


def sendmail(args, text, user=SENDER):
    """kantorpos-sendmail as user (root: as it is), text on its standard
    input; returns (status, standard error)."""
    cmd = WRAPPER + [SENDMAIL, "-C", SITE.conf] + list(args)
    if user != "root":
        if not ROOT:
            raise Skip("switching to %s needs root" % user)
        pw = pwd.getpwnam(user)
        cmd = ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, input=text.encode() if isinstance(text, str)
                       else text, capture_output=True, timeout=30 * SLOW)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def need_root():
    if not ROOT:
        raise Skip("needs root: the local user and the daemons' differ")


@test
def cron_command_line_delivers():
    need_root()
    rc, err = sendmail(["-FCronDaemon", "-i", "-B8BITMIME", "-oem",
                        "alice"],
                       "Subject: Cron <nobody@host> true\n\n"
                       "cron output marker-cron\n.\nafter the dot\n")
    assert rc == 0, err
    text = SITE.find("alice", "marker-cron")
    assert text.startswith("Return-Path: <nobody@example.test>\r\n"), text
    assert "Received: from local user nobody (uid 65534)\r\n\tby mail." \
           "example.test (kantorpos) with local" in text, text
    assert "From: CronDaemon <nobody@example.test>\r\n" in text, text
    assert "\r\nDate: " in text and "\r\nMessage-ID: <" in text, text
    assert "\r\n.\r\nafter the dot\r\n" in text, "-i: the dot is content"
    # The log line follows the commit that made the message visible.
    lib.wait_for(lambda: "from=<nobody@example.test> to=<alice@example.test>"
                 in SITE.log_text())
    log = SITE.log_text()
    assert "from=<nobody@example.test> to=<alice@example.test>" in log, log
    assert "client=local user=nobody uid=65534" in log, log
    # The file goes right after the commit that made the message visible.
    assert lib.wait_for(lambda: SITE.drop_files() == []), SITE.drop_files()


@test
def extract_recipients_bcc_removed():
    need_root()
    rc, err = sendmail(["-t", "-i", "dave"],
                       "To: Alice <alice@example.test>, bob\n"
                       "Cc: (friends) carol@example.test\n"
                       "Bcc: erin@example.test\n"
                       "Subject: marker-t\n\nto all\n")
    assert rc == 0, err
    for user in ("alice", "bob", "carol", "dave", "erin"):
        text = SITE.find(user, "marker-t")
        head = text.split("\r\n\r\n", 1)[0]
        assert "\r\nBcc:" not in head and "erin" not in head, head
        assert "To: Alice <alice@example.test>, bob\r\n" in head, head
    # Each once: To and the command line may both name one.
    rc, err = sendmail(["-t", "alice"],
                       "To: alice\nSubject: marker-once\n\nx\n")
    assert rc == 0, err
    SITE.find("alice", "marker-once")
    time.sleep(0.5)
    got = [p for p in SITE.messages("alice")
           if b"marker-once" in open(p, "rb").read()]
    assert len(got) == 1, got
    rc, err = sendmail(["-t"], "Subject: nobody to\n\nx\n")
    assert rc == 65 and "no recipients" in err, (rc, err)


@test
def sender_option_rules():
    need_root()
    rc, err = sendmail(["-f", "alice@example.test", "bob"],
                       "Subject: marker-spoof\n\nx\n")
    assert rc == 77, (rc, err)
    assert "-f alice@example.test: only root, mail and " \
           "sendmail_trusted_users may send as another address than " \
           "nobody@example.test" in err, err
    assert SITE.drop_files() == []
    rc, err = sendmail(["-f", "nobody", "bob"], "Subject: marker-own\n\nx\n")
    assert rc == 0, err
    text = SITE.find("bob", "marker-own")
    assert text.startswith("Return-Path: <nobody@example.test>\r\n"), text
    rc, err = sendmail(["-f", "someone@elsewhere.test", "bob"],
                       "Subject: marker-rootf\n\nx\n", user="root")
    assert rc == 0, err
    text = SITE.find("bob", "marker-rootf")
    assert text.startswith("Return-Path: <someone@elsewhere.test>\r\n"), text
    assert "From: <someone@elsewhere.test>\r\n" in text, text
    SITE.find("bob", "marker-spoof", timeout=0.5, want=False)


@test
def unknown_recipient_bounces_to_the_sender():
    need_root()
    rc, err = sendmail(["nosuchuser", "carol"],
                       "Subject: marker-bounce\n\nx\n")
    assert rc == 0, err
    SITE.find("carol", "marker-bounce")
    # nobody@example.test is an alias of alice here.
    dsn = SITE.find("alice", "nosuchuser@example.test")
    assert "<MAILER-DAEMON@mail.example.test>" in dsn, dsn
    assert "Status: 5.1.1" in dsn and "Subject: marker-bounce" in dsn, dsn
    assert "Action: failed" in dsn and "carol@example.test" not in \
        dsn.split("text/rfc822-headers")[0], dsn


def write_as(user, path, text):
    """Create path as user would (a file of theirs in the drop dir)."""
    pw = pwd.getpwnam(user)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, text.encode())
    os.fchown(fd, pw.pw_uid, pw.pw_gid)
    os.close(fd)


@test
def waits_while_down_and_planted_files_go_aside():
    need_root()
    SITE.stop()
    try:
        rc, err = sendmail(["carol"], "Subject: marker-down\n\nwaited\n")
        assert rc == 0, err
        names = SITE.drop_files()
        assert len(names) == 1 and names[0].startswith("m."), names
        st = os.stat(os.path.join(SITE.drop, names[0]))
        assert st.st_uid == pwd.getpwnam(SENDER).pw_uid, st
        assert st.st_mode & 0o777 == 0o644, oct(st.st_mode)
        # What a user might plant: links to a message of root's, and a
        # file of its own that asks for alice's sender.
        outside = os.path.join(SITE.dir, "outside")
        with open(outside, "w") as f:
            f.write("KANTORPOS-DROP 1\nR carol@example.test\n\n"
                    "Subject: marker-planted\r\n\r\nx\r\n")
        os.link(outside, os.path.join(SITE.drop, "m.00000000000000000001"))
        os.symlink(outside, os.path.join(SITE.drop,
                                         "m.00000000000000000002"))
        write_as(SENDER, os.path.join(SITE.drop, "m.00000000000000000003"),
                 "KANTORPOS-DROP 1\nS alice@example.test\n"
                 "R carol@example.test\n\n"
                 "Subject: marker-forged\r\n\r\nx\r\n")
        time.sleep(0.5)
        assert SITE.find("carol", "marker-down", timeout=0, want=False) \
            is None
    finally:
        SITE.start()
    SITE.find("carol", "marker-down")
    deadline = time.time() + 10 * SLOW
    while SITE.drop_files() and time.time() < deadline:
        time.sleep(0.1)
    assert SITE.drop_files() == [], SITE.drop_files()
    assert SITE.bad_files() == ["m.00000000000000000001",
                                "m.00000000000000000002",
                                "m.00000000000000000003"], SITE.bad_files()
    for marker in ("marker-planted", "marker-forged"):
        SITE.find("carol", marker, timeout=0.5, want=False)
    log = SITE.log_text()
    assert "moved into bad/: a hard link" in log, log
    assert "moved into bad/: a symbolic link" in log, log
    assert "moved into bad/: it asks for a sender its owner may not use" \
           in log, log
    assert open(outside).read().startswith("KANTORPOS-DROP 1"), "touched"


@test
def message_too_big_is_65():
    need_root()
    body = ("x" * 70 + "\n") * (MAX_SIZE // 70 + 10)
    rc, err = sendmail(["alice"], "Subject: marker-big\n\n" + body)
    assert rc == 65, (rc, err)
    assert "message too big" in err, err
    assert SITE.drop_files() == []


@test
def dot_rule_without_and_with_i():
    need_root()
    text = "Subject: %s\n\nbefore\n.\nafter-the-dot\n"
    rc, err = sendmail(["bob"], text % "marker-dot1")
    assert rc == 0, err
    got = SITE.find("bob", "marker-dot1")
    assert got.endswith("\r\n\r\nbefore\r\n"), got
    rc, err = sendmail(["-oi", "bob"], text % "marker-dot2")
    assert rc == 0, err
    got = SITE.find("bob", "marker-dot2")
    assert got.endswith("\r\n\r\nbefore\r\n.\r\nafter-the-dot\r\n"), got


@test
def mailx_through_kantorpos_sendmail():
    need_root()
    mailx = shutil.which("s-nail")
    if mailx is None:
        raise Skip("s-nail is not installed")
    pw = pwd.getpwnam(SENDER)
    p = subprocess.run(
        ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid,
         "--clear-groups", "env", "HOME=" + SITE.dir, "MAILRC=/dev/null",
         mailx, "-n", "-S", "mta=" + SENDMAIL, "-S",
         "mta-arguments=-C " + SITE.conf, "-S", "sendwait", "-s",
         "marker-mailx", "dave"],
        input=b"written with mailx\n", capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    text = SITE.find("dave", "marker-mailx")
    assert "Return-Path: <nobody@example.test>" in text, text
    assert "written with mailx" in text, text


@test
def check_reports_a_listable_drop_dir():
    need_root()
    os.chmod(SITE.drop, 0o1777)
    try:
        p = subprocess.run([ADMIN, "-c", SITE.conf, "check"],
                           capture_output=True, text=True, timeout=60)
    finally:
        os.chmod(SITE.drop, 0o1733)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "the drop directory is readable by group and others " \
           "(mode 1777); fix: chmod 1733 %s" % SITE.drop in out, out


# ---- the $(sbindir)/sendmail link of make install ----

def install_paths():
    import e2e_install  # noqa: E402  (make, Paths: the same DESTDIR runs)
    return e2e_install, e2e_install.Paths()


@test
def install_links_sendmail_only_where_free():
    inst, p = install_paths()
    top = tempfile.mkdtemp(prefix="kp-e2e-sendmail-install-")
    try:
        dest = os.path.join(top, "free")
        link = os.path.join(dest, p.sbindir.lstrip("/"), "sendmail")
        out = inst.make(dest, "install")
        assert os.readlink(link) == "kantorpos-sendmail", out
        assert "ln -s kantorpos-sendmail" in out, out
        out = inst.make(dest, "install")
        assert "links to kantorpos-sendmail already" in out, out
        inst.make(dest, "uninstall")
        assert not os.path.lexists(link)
        dest = os.path.join(top, "taken")
        link = os.path.join(dest, p.sbindir.lstrip("/"), "sendmail")
        os.makedirs(os.path.dirname(link))
        with open(link, "w") as f:
            f.write("#!/bin/sh\n# another MTA's sendmail\n")
        out = inst.make(dest, "install")
        assert "exists: left as it is" in out, out
        assert open(link).read().endswith("another MTA's sendmail\n")
        assert os.path.exists(os.path.join(os.path.dirname(link),
                                           "kantorpos-sendmail"))
        inst.make(dest, "uninstall")
        assert open(link).read().endswith("another MTA's sendmail\n")
    finally:
        shutil.rmtree(top, True)


def main():
    missing = [t for t in (SMTPD, ADMIN, SENDMAIL) if not os.access(t, os.X_OK)]
    if missing:
        print("missing %s\n0 passed, 1 failed" % " ".join(missing))
        return 1

    def start():
        global SITE
        SITE = Site()
        SITE.start()
        return ()

    def finish(args, failed):
        if SITE is None:
            return
        SITE.stop()
        if failed:
            print("---- smtpd.log (tail)")
            print(SITE.log_text()[-6000:])
        shutil.rmtree(SITE.dir, ignore_errors=True)

    return lib.run_tests(lib.TESTS, start, finish, only=sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
