#!/usr/bin/env python3
"""tests/e2e_logs_lib.py: the harness of the log tests (e2e_logs.py,
e2e_fail2ban.py, e2e_logrotate.py).

Site makes a scratch directory with a self-signed certificate, two users
(`kantorpos user add`), an aliases file and one configuration for both
daemons with `log_file` set, and starts the real kantorpos-smtpd and
kantorpos-pop3d from $KANTORPOS_BUILDDIR on free 127.0.0.1 ports (as root
they drop to nobody, who owns the data and the log directory). Both write
the same log file. run() runs the registered tests with e2e_lib.run_tests
(one line per test, then "N passed, N failed, N skipped"). Python
standard library only.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import free_port, make_cert  # noqa: E402,F401
import e2e_lib  # noqa: E402

BUILD = os.environ.get("KANTORPOS_BUILDDIR") or os.getcwd()
SRC = os.environ.get("KANTORPOS_SRCDIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..")
SMTPD = os.path.join(BUILD, "smtpd", "kantorpos-smtpd")
POP3D = os.path.join(BUILD, "pop3d", "kantorpos-pop3d")
ADMIN = os.path.join(BUILD, "admin", "kantorpos")
# Empty in a normal run; a memcheck command under ./check --valgrind.
WRAPPER = os.environ.get("KANTORPOS_WRAPPER", "").split()
SLOW = 10 if WRAPPER else 1
PASSWORD = "correct horse"
USERS = ("alice@example.test", "bob@example.test")
SKIP = 77


def wait_until(cond, what, timeout=10):
    deadline = time.time() + timeout * SLOW
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


class Site:
    """Scratch directory, configuration and the two daemons."""

    def __init__(self, extra=""):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-logs-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.logdir = os.path.join(self.dir, "log")
        self.log = os.path.join(self.logdir, "kantorpos.log")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.aliases = os.path.join(self.dir, "aliases")
        self.p_mx, self.p_sub, self.p_subs, self.p_pop = (
            free_port(), free_port(), free_port(), free_port())
        for d in (self.data, self.logdir):
            os.makedirs(d)
        make_cert(self.key, self.cert)
        with open(self.aliases, "w") as f:
            f.write("sales: alice, bob\n")
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = "nobody"
        self.lines = f"""hostname mail.example.test
data_dir {self.data}
user_db {self.dir}/users
aliases {self.aliases}
local_domain example.test
listen smtp 127.0.0.1:{self.p_mx}
listen smtp 127.0.0.1:{self.p_sub} submission plaintext-ok
listen smtp 127.0.0.1:{self.p_subs} submissions
listen pop3 127.0.0.1:{self.p_pop} plaintext-ok
tls_cert {self.cert}
tls_key {self.key}
log_file {self.log}
max_message_size 10M
password_opslimit 1
password_memlimit 8K
login_fail_delay 0
login_fail_limit 100
workers 2
""" + (f"run_as {self.run_as}\n" if self.run_as else "") + extra
        self.write_conf(self.lines)
        for user in USERS:
            p = subprocess.run([ADMIN, "-c", self.conf, "user", "add", user],
                               input=PASSWORD + "\n", text=True,
                               capture_output=True)
            if p.returncode != 0:
                raise RuntimeError("kantorpos user add %s exited %d: %s" % (
                    user, p.returncode, p.stderr.strip()))
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            for path in (self.data, self.logdir, self.key, self.aliases,
                         os.path.join(self.dir, "users")):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self.procs = {}

    def write_conf(self, text):
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, program, args=(), port=None):
        """Start program -f -t on the configuration (its stderr, where only
        start-up errors go with log_file set, into NAME.stderr) and wait
        until port accepts."""
        name = os.path.basename(program)
        errf = open(os.path.join(self.dir, name + ".stderr"), "ab")
        proc = subprocess.Popen(WRAPPER + [program, "-f", "-t", "-c",
                                           self.conf] + list(args),
                                stdout=errf, stderr=errf)
        errf.close()
        self.procs[name] = proc
        if port is not None:
            def up():
                if proc.poll() is not None:
                    raise RuntimeError("%s exited: %s" % (
                        name, self.stderr(name)))
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    return True
                except OSError:
                    return False
            wait_until(up, name + " to listen")
        return proc

    def start_both(self):
        self.start(SMTPD, port=self.p_mx)
        self.start(POP3D, port=self.p_pop)

    def stderr(self, name):
        path = os.path.join(self.dir, name + ".stderr")
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig, *names):
        for name in names or self.procs:
            self.procs[name].send_signal(sig)

    def stop(self):
        """SIGTERM both; each must exit 0 (under the sanitizers or
        valgrind that also means no leak)."""
        bad = []
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(30 * SLOW)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            if rc != 0:
                bad.append("%s exited %d: %s" % (name, rc,
                                                 self.stderr(name)[-2000:]))
        self.procs = {}
        assert not bad, "\n".join(bad)

    def kill(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def log_bytes(self, path=None):
        try:
            with open(path or self.log, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def log_text(self, path=None):
        return self.log_bytes(path).decode("utf-8", "replace")

    def wait_log(self, pattern, since=0, path=None, count=1):
        """Wait until the log (from byte offset since) has count lines
        matching the regular expression; returns the matches."""
        rx = re.compile(pattern, re.M)
        found = []

        def seen():
            found[:] = rx.findall(self.log_text(path)[since:])
            return len(found) >= count
        wait_until(seen, "%r in %s" % (pattern, path or self.log))
        return found

    def size(self, path=None):
        return len(self.log_bytes(path))

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Line(e2e_lib.Raw):
    """A line client over TCP from a chosen 127.x address (e2e_lib.Raw,
    which checks every reply line): SMTP replies and POP3 commands."""

    def __init__(self, port, src="127.0.0.1"):
        super().__init__(port, src=src, greet=False)

    def smtp_reply(self):
        lines = [self.line()]
        while lines[-1][3:4] == "-":
            lines.append(self.line())
        return lines

    def smtp(self, text):
        self.send(text + "\r\n")
        return self.smtp_reply()

    def pop(self, text):
        return self.cmd(text)


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(make_site=Site, start=True):
    """Run TESTS in order on one Site (started unless start is False)
    with e2e_lib.run_tests; returns the exit status."""
    for tool in (SMTPD, POP3D, ADMIN):
        if not os.access(tool, os.X_OK):
            print("missing %s" % tool)
            print("0 passed, 1 failed")
            return 1
    made = []

    def begin():
        made.append(make_site())
        if start:
            made[0].start_both()
        return (made[0],)

    def finish(args, failed):
        if not made:
            return
        site = made[0]
        try:
            if args is not None:
                site.stop()  # each daemon must exit 0: a test of its own
        except Exception:
            failed = True
            raise
        finally:
            if failed:
                show_outputs(site)
            site.cleanup()

    return e2e_lib.run_tests(TESTS, begin, finish)


def show_outputs(site):
    """The daemons' stderr and the log files, for a failed run."""
    for name in sorted(os.listdir(site.dir)):
        if name.endswith(".stderr"):
            print("---- %s" % name)
            print(site.stderr(name[:-7])[-3000:])
    for name in sorted(os.listdir(site.logdir)):
        print("---- log/%s (tail)" % name)
        print(site.log_text(os.path.join(site.logdir, name))[-6000:])
