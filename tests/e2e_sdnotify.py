#!/usr/bin/env python3
"""tests/e2e_sdnotify.py: the daemons speak systemd's notify protocol
(Type=notify) to a datagram socket the test binds and names in
NOTIFY_SOCKET, as systemd would:

- kantorpos-smtpd (socket at a path) and kantorpos-pop3d (an abstract
  socket): the first message is READY=1, and when it arrives the port
  already accepts a connection and greets (one connect, no retry);
  SIGHUP gives RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC, between
  the test's readings before and after) then READY=1 with STATUS=reloaded;
  a reload refused for a bad config still ends with READY=1 and says so;
  SIGTERM gives STOPPING=1 while a client is still connected, and the
  daemon exits 0;
- `kantorpos fetch --daemon`: READY=1 with its account count, STOPPING=1
  on SIGTERM;
- a NOTIFY_SOCKET nobody listens on changes nothing: the daemon serves,
  reloads and stops as usual and logs one warning.
Prints one line per test and "N passed, N failed"."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from e2e_lib import free_port

BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
SMTPD = os.path.join(BUILD, "smtpd", "kantorpos-smtpd")
POP3D = os.path.join(BUILD, "pop3d", "kantorpos-pop3d")
ADMIN = os.path.join(BUILD, "admin", "kantorpos")
WRAPPER = os.environ.get("KANTORPOS_WRAPPER", "").split()
# Under valgrind everything is 10-50 times slower.
WAIT = 120.0 if WRAPPER else 15.0
AS_USER = "nobody" if os.geteuid() == 0 else None
PROCS = []
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def give(path):
    """Make path the daemons' own when they run as nobody."""
    if AS_USER:
        pw = pwd.getpwnam(AS_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


class Setup:
    """A scratch directory with a configuration for both daemons and one
    fetch account, and the notify socket."""

    def __init__(self, top, name):
        self.dir = os.path.join(top, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, 0o700)
        self.users = os.path.join(self.dir, "users")
        open(self.users, "w").close()
        os.chmod(self.users, 0o600)
        self.pw = os.path.join(self.dir, "fetch.pw")
        with open(self.pw, "w") as f:
            f.write("remote-secret\n")
        os.chmod(self.pw, 0o600)
        self.smtp, self.pop3, self.closed = (free_port(), free_port(),
                                             free_port())
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.write_conf()
        for path in (self.dir, self.data, self.users, self.pw, self.conf):
            give(path)
        self.log = os.path.join(self.dir, "log")

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            f.write(
                "hostname mx.example.test\n"
                f"data_dir {self.data}\n"
                f"user_db {self.users}\n"
                "local_domain example.test\n"
                f"listen smtp 127.0.0.1:{self.smtp}\n"
                f"listen pop3 127.0.0.1:{self.pop3} plaintext-ok\n"
                "password_opslimit 1\npassword_memlimit 8K\n"
                "workers 1\n"
                f"fetch_account isp host 127.0.0.1:{self.closed} user u "
                f"password_file {self.pw} multipop alice@example.test "
                "tls none plaintext-ok interval 1h timeout 5s\n"
                + (f"run_as {AS_USER}\n" if AS_USER else "") + extra)

    def bind(self, name):
        """The notify socket: a path under the scratch dir, or an
        abstract name (leading '@')."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if name.startswith("@"):
            s.bind("\0" + name[1:])
            addr = name
        else:
            addr = os.path.join(self.dir, name)
            s.bind(addr)
            # A daemon that dropped to nobody must still be able to send.
            os.chmod(addr, 0o777)
        s.settimeout(WAIT)
        return s, addr

    def start(self, argv, notify, user=None):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        if notify is not None:
            env["NOTIFY_SOCKET"] = notify
        logf = open(self.log, "ab")
        proc = subprocess.Popen(WRAPPER + argv, stdout=logf, stderr=logf,
                                env=env, user=user)
        logf.close()
        PROCS.append(proc)
        return proc

    def logtext(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")


def recv(sock, proc, setup):
    try:
        return sock.recv(4096).decode()
    except socket.timeout:
        raise AssertionError("no notification within %.0f s (exit %r)\n%s"
                             % (WAIT, proc.poll(), setup.logtext()))


def monotonic_usec():
    return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1e6)


def greeting(port, want):
    # One attempt: READY=1 has promised that the port is there.
    with socket.create_connection(("127.0.0.1", port), 5) as c:
        c.settimeout(WAIT)
        line = c.makefile("rb").readline().decode()
    assert line.startswith(want), line


def stop(proc, sock, setup, hold_port=None, farewell=None):
    """SIGTERM (with a client connected to hold_port, when given):
    STOPPING=1 arrives, the client gets farewell, the process exits 0."""
    client = None
    if hold_port is not None:
        client = socket.create_connection(("127.0.0.1", hold_port), 5)
        client.settimeout(WAIT)
        rd = client.makefile("rb")
        rd.readline()  # the greeting: the session is registered
    proc.send_signal(signal.SIGTERM)
    msg = recv(sock, proc, setup)
    assert msg == "STOPPING=1", msg
    if client is not None:
        line = rd.readline().decode()
        assert line.startswith(farewell), line
        client.close()
    assert proc.wait(WAIT) == 0, setup.logtext()


def daemon_cycle(top, name, program, port, hello, farewell, notify_name):
    st = Setup(top, name)
    sock, addr = st.bind(notify_name)
    proc = st.start([program, "-f", "-c", st.conf], addr)
    try:
        msg = recv(sock, proc, st)
        assert msg == "READY=1\nSTATUS=serving 1 listener", msg
        greeting(port(st), hello)

        before = monotonic_usec()
        proc.send_signal(signal.SIGHUP)
        msg = recv(sock, proc, st)
        after = monotonic_usec()
        key, _, rest = msg.partition("\n")
        assert key == "RELOADING=1", msg
        assert rest.startswith("MONOTONIC_USEC="), msg
        usec = int(rest.split("=", 1)[1])
        assert before <= usec <= after, (before, usec, after)
        msg = recv(sock, proc, st)
        assert msg == "READY=1\nSTATUS=reloaded", msg
        greeting(port(st), hello)

        # A refused reload keeps the old configuration: still READY=1.
        st.write_conf("no_such_keyword 1\n")
        proc.send_signal(signal.SIGHUP)
        assert recv(sock, proc, st).startswith("RELOADING=1\n")
        msg = recv(sock, proc, st)
        assert msg == ("READY=1\nSTATUS=reload refused, running the old "
                       "configuration"), msg
        greeting(port(st), hello)

        stop(proc, sock, st, port(st), farewell)
    finally:
        sock.close()


@test
def smtpd_notifies_a_path_socket(top):
    daemon_cycle(top, "smtpd", SMTPD, lambda st: st.smtp, "220 ", "421 ",
                 "notify")


@test
def pop3d_notifies_an_abstract_socket(top):
    daemon_cycle(top, "pop3d", POP3D, lambda st: st.pop3, "+OK",
                 "-ERR", "@kantorpos-e2e-notify-%d" % os.getpid())


@test
def fetch_daemon_notifies(top):
    st = Setup(top, "fetch")
    sock, addr = st.bind("notify")
    proc = st.start([ADMIN, "-c", st.conf, "fetch", "--daemon"], addr,
                    user=AS_USER)
    try:
        msg = recv(sock, proc, st)
        assert msg == "READY=1\nSTATUS=polling 1 account", msg
        assert proc.poll() is None, st.logtext()
        stop(proc, sock, st)
    finally:
        sock.close()


@test
def a_dead_notify_socket_changes_nothing(top):
    st = Setup(top, "dead")
    proc = st.start([SMTPD, "-f", "-c", st.conf],
                    os.path.join(st.dir, "nobody-listens"))
    deadline = time.time() + WAIT
    while True:
        try:
            greeting(st.smtp, "220 ")
            break
        except OSError:
            assert proc.poll() is None and time.time() < deadline, \
                st.logtext()
            time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    deadline = time.time() + WAIT
    while "reloaded" not in st.logtext():
        assert time.time() < deadline, st.logtext()
        time.sleep(0.05)
    greeting(st.smtp, "220 ")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(WAIT) == 0, st.logtext()
    warnings = [ln for ln in st.logtext().splitlines()
                if "NOTIFY_SOCKET=" in ln]
    assert len(warnings) == 1, "\n".join(warnings) or st.logtext()
    assert "cannot tell the service manager \"READY=1\"" in warnings[0], \
        warnings[0]


def main():
    for tool in (SMTPD, POP3D, ADMIN):
        if not os.access(tool, os.X_OK):
            print(f"missing {tool}")
            print("0 passed, 1 failed")
            return 1
    top = tempfile.mkdtemp(prefix="kp-e2e-notify-")
    os.chmod(top, 0o755)
    passed = failed = 0
    try:
        for fn in TESTS:
            try:
                fn(top)
                passed += 1
                print(f"PASS {fn.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    finally:
        for proc in PROCS:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(top, True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
