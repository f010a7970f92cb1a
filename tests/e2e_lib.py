#!/usr/bin/env python3
"""tests/e2e_lib.py: the harness shared by the kantorpos-pop3d end-to-end
tests (e2e_pop3.py, e2e_pop3_conformance.py).

Env makes a scratch directory with a self-signed certificate (openssl req),
users made with `kantorpos user add` and a configuration, and starts the real
daemon from $KANTORPOS_BUILDDIR on free 127.0.0.1 ports; Raw is a line client
over plain TCP, STLS or implicit TLS that checks every reply line it reads;
run_tests() is the test runner of every script built on this file or on
e2e_logs_lib.py: one line per test and a final "N passed, N failed, N
skipped"; main() runs the registered tests with it. free_port, make_cert
(with make_ca), wait_for and vm_hwm_kb are the one copy of those helpers
for every end-to-end test. Python standard library only.
"""

import os
import poplib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
BUILD = os.environ.get("KANTORPOS_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), ".."))
POP3D = os.path.join(BUILD, "pop3d", "kantorpos-pop3d")
SMTPD = os.path.join(BUILD, "smtpd", "kantorpos-smtpd")
ADMIN = os.path.join(BUILD, "admin", "kantorpos")
DOMAIN = "example.test"
PASSWORDS = {
    "alice": "secret",
    "bob": "correct horse battery",
    "carol": "carol-pw",
    "dave": "dave-pw",
    "erin": "erin-pw",
    "frank": "frank-pw",
    "gina": "gina-pw",
    "hank": "hank-pw",
    "ivy": "ivy-pw",
    "jack": "jack-pw",
    "bench1": "bench-pw",
    "bench2": "bench-pw",
}

TESTS = []
DAEMONS = []
# Every (command, reply) pair and every line the Raw clients read, for the
# checks that scan the whole suite (reply format, response codes).
SEEN_CMDS = []
SEEN_LINES = []
_next_src = [10]
# Every port free_port has handed out in this process.
_given_ports = set()


def test(fn):
    TESTS.append(fn)
    return fn


class Skip(Exception):
    """Raised by a test that cannot run here; main() prints "SKIP name:
    reason", which ./check counts and lists."""


def fresh_src():
    """A source address of its own for each client, so the per-address
    login throttle of one test never touches another."""
    _next_src[0] += 1
    return "127.0.0.%d" % _next_src[0]


SYSTEM_PYTHON = "/usr/bin/python3"


def import_or_reexec(*modules):
    """Import modules (dotted names); True when they all import. Debian
    installs its python3-* packages for the system interpreter: when the
    python3 running the test lacks one and /usr/bin/python3 has them all,
    the test runs itself again with that one (this call does not return
    then)."""
    try:
        for m in modules:
            __import__(m)
        return True
    except ImportError:
        pass
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.access(SYSTEM_PYTHON, os.X_OK)
            and subprocess.call([SYSTEM_PYTHON, "-c",
                                 "import " + ", ".join(modules)],
                                stderr=subprocess.DEVNULL) == 0):
        sys.stdout.flush()
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    return False


def free_port():
    """A 127.0.0.1 port that was free a moment ago, for a listener, and
    never one this process was given before: the kernel may hand the port
    it just freed to the next bind(0), and two listeners of one
    configuration on one address make it fail to load ("listen: duplicate
    address", exit 78)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _given_ports:
            _given_ports.add(port)
            return port


def make_cert(key, cert, cn="localhost", ca=None, names=None):
    """A P-256 certificate for CN cn and its key, mode 0600 as the daemons
    want it; raises subprocess.CalledProcessError when openssl fails.
    Self-signed and also valid for localhost and 127.0.0.1 by default;
    with ca=(ca_key, ca_cert) from make_ca, issued by that CA for names
    (host names or IP addresses; default [cn]) and nothing else."""
    if ca is None:
        sign = ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    else:
        alt = ",".join(("IP:" if re.fullmatch(r"[0-9.]+|.*:.*", n) else
                        "DNS:") + n for n in (names or [cn]))
        sign = ["-CA", ca[1], "-CAkey", ca[0], "-addext",
                "subjectAltName=" + alt, "-addext",
                "basicConstraints=critical,CA:FALSE", "-addext",
                "extendedKeyUsage=serverAuth"]
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn] + sign +
                   ["-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)


def make_ca(key, cert, cn="kantorpos test CA"):
    """A self-signed P-256 certificate authority (its key mode 0600) for
    make_cert(ca=(key, cert)); the certificate is what a client names in
    tls_ca_file to trust what it issues."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-addext",
                    "basicConstraints=critical,CA:TRUE", "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)


def wait_for(pred, timeout=10.0):
    """Poll pred every 0.1 s until it is true or timeout seconds passed;
    its last value."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def vm_hwm_kb(pid):
    """The peak resident memory of a running process in kB (VmHWM), or 0
    once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


class Env:
    """Scratch directory, certificate, users, config and the daemon."""

    def __init__(self, extra="", smtp=False):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-pop3-")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home)
        self.data = os.path.join(self.dir, "data")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(self.dir, "pop3d.log")
        self.p_v6 = free_port()
        self.p_stls, self.p_tls, self.p_plain = (free_port(), free_port(),
                                                 free_port())
        # With smtp, the same configuration also serves kantorpos-smtpd
        # (start_smtpd) on p_smtp, delivering into the same Maildirs.
        self.p_smtp = free_port() if smtp else None
        if smtp:
            extra = "listen smtp 127.0.0.1:%d\n" % self.p_smtp + extra
        make_cert(self.key, self.cert)
        with open(self.conf, "w") as f:
            f.write(f"""hostname mail.example.test
data_dir {self.data}
user_db {self.dir}/users
local_domain {DOMAIN}
listen pop3 127.0.0.1:{self.p_stls}
listen pop3 127.0.0.1:{self.p_tls} tls
listen pop3 127.0.0.1:{self.p_plain} plaintext-ok
tls_cert {self.cert}
tls_key {self.key}
log_level info
pop3_timeout 3s
bad_command_limit 12
password_opslimit 1
password_memlimit 8K
login_fail_delay 1s
login_fail_limit 2
login_fail_window 60s
workers 2
max_connections_per_ip 4
""" + extra)
            if self.has_ipv6():
                f.write(f"listen pop3 [::1]:{self.p_v6} plaintext-ok\n")
        for user, pw in PASSWORDS.items():
            subprocess.run([ADMIN, "-c", self.conf, "user", "add",
                            f"{user}@{DOMAIN}"], input=pw + "\n",
                           text=True, check=True, stdout=subprocess.DEVNULL)
        self.as_user = None
        if os.geteuid() == 0:
            # The daemon refuses to stay root: it drops to nobody, so the
            # tree it reads is nobody's, and so are the deliveries.
            self.as_user = "nobody"
            with open(self.conf, "a") as f:
                f.write("run_as nobody\n")
            os.chmod(self.dir, 0o755)
            os.makedirs(self.data)
            for path in (self.data, os.path.join(self.dir, "users")):
                shutil.chown(path, "nobody")
        self.proc = None

    @staticmethod
    def has_ipv6():
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
            return True
        except OSError:
            return False

    def start(self):
        self.proc, self.logf = self.spawn(POP3D, self.p_plain, self.log)

    def start_smtpd(self):
        """Start kantorpos-smtpd on this configuration (Env(smtp=True)),
        logging to smtpd.log; returns its Popen (main() ends it)."""
        assert self.p_smtp is not None, "Env(smtp=True) is needed"
        self.smtpd, self.smtpd_logf = self.spawn(
            SMTPD, self.p_smtp, os.path.join(self.dir, "smtpd.log"))
        return self.smtpd

    def spawn(self, program, port, log):
        """Run program -f -t on the configuration and wait until port
        accepts; returns (Popen, the open log file)."""
        logf = open(log, "ab")
        env = dict(os.environ)
        if "ASAN_OPTIONS" in env:
            # Keep freed memory from piling up in the sanitizer's
            # quarantine, so the memory test measures the daemon.
            env["ASAN_OPTIONS"] += ":quarantine_size_mb=4"
        proc = subprocess.Popen([program, "-f", "-t", "-c", self.conf],
                                stdout=logf, stderr=logf, env=env)
        DAEMONS.append(proc)
        deadline = time.time() + 10
        while time.time() < deadline:
            if proc.poll() is not None:
                logf.close()
                with open(log, "rb") as f:
                    raise RuntimeError("%s exited: %s" % (
                        os.path.basename(program),
                        f.read().decode("utf-8", "replace")))
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return proc, logf
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s did not start" % os.path.basename(program))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.logf.close()

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def maildir(self, user):
        return os.path.join(self.data, "mail", DOMAIN, user)

    def deliver(self, user, text):
        data = text.encode() if isinstance(text, str) else text
        subprocess.run([ADMIN, "-c", self.conf, "deliver",
                        f"{user}@{DOMAIN}"], input=data, check=True,
                       user=self.as_user)

    def deliver_file(self, user, path):
        with open(path, "rb") as f:
            subprocess.run([ADMIN, "-c", self.conf, "deliver",
                            f"{user}@{DOMAIN}"], stdin=f, check=True,
                           user=self.as_user)

    def count(self, user):
        md = self.maildir(user)
        return sum(len(os.listdir(os.path.join(md, sub)))
                   for sub in ("new", "cur")
                   if os.path.isdir(os.path.join(md, sub)))

    def client_ctx(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        return ctx


ENV = None


class Raw:
    """A line client over a socket, with STLS and implicit TLS."""

    def __init__(self, port, src=None, tls=False, greet=True):
        self.sock = socket.create_connection(
            ("127.0.0.1", port), 5, source_address=(src or fresh_src(), 0))
        self.buf = b""
        self.lines = []
        if tls:
            self.sock = ENV.client_ctx().wrap_socket(
                self.sock, server_hostname="127.0.0.1")
        self.greeting = self.line() if greet else None

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        text = ln.decode("utf-8", "replace")
        assert len(ln) + 2 <= 512, "reply over 512 octets: %r" % ln
        assert b"\n" not in ln and b"\r" not in ln, "bare CR/LF: %r" % ln
        self.lines.append(text)
        SEEN_LINES.append(text)
        return text

    def cmd(self, text):
        self.send(text + "\r\n")
        reply = self.line()
        SEEN_CMDS.append((text, reply))
        return reply

    def multi(self):
        out = []
        while True:
            ln = self.line()
            if ln == ".":
                return out
            out.append(ln)

    def starttls(self):
        reply = self.cmd("STLS")
        assert reply.startswith("+OK"), reply
        assert self.buf == b"", "data after STLS reply: %r" % self.buf
        self.sock = ENV.client_ctx().wrap_socket(
            self.sock, server_hostname="127.0.0.1")
        return reply

    def pending(self, wait=0.3):
        """Bytes that arrive within wait seconds (nothing is expected)."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLError):
            data = b""
        finally:
            self.sock.settimeout(5)
        return self.buf + data

    def login(self, user, pw=None):
        assert self.cmd(f"USER {user}@{DOMAIN}").startswith("+OK")
        return self.cmd("PASS " + (pw if pw is not None
                                   else PASSWORDS[user]))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class POP3From(poplib.POP3):
    def __init__(self, port, src=None):
        self.src = src or fresh_src()
        super().__init__("127.0.0.1", port, timeout=10)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


class POP3SSLFrom(poplib.POP3_SSL):
    def __init__(self, port, src=None):
        self.src = src or fresh_src()
        super().__init__("127.0.0.1", port, timeout=10,
                         context=ENV.client_ctx())

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))
        return self.context.wrap_socket(sock, server_hostname=self.host)


def msg(subject, body="hello\r\n"):
    return f"From: x@elsewhere.test\r\nSubject: {subject}\r\n\r\n{body}"


def capa(r):
    assert r.cmd("CAPA").startswith("+OK")
    return r.multi()


BASE_CAPA = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING",
             "EXPIRE NEVER"]


def run_tests(tests, start, finish, only=()):
    """The one test runner of the end-to-end scripts. start() makes what
    the tests run on and returns the arguments each test is called with
    (a tuple: () here, (site,) in e2e_logs_lib); an exception there is one
    failure and no test runs. Each test in order (those named in only,
    when it is not empty) prints "ok   NAME (1.2s)", "FAIL NAME" and its
    traceback, or "SKIP NAME: reason" when it raised Skip. Then
    finish(args, failed) ends it, whatever happened (args None when start
    failed; failed: whether anything failed so far); an exception there
    is one failure more. Last, the tally "N passed, N failed, N skipped",
    the one line ./check counts. Returns the exit status."""
    passed = failed = skipped = 0
    args = None
    try:
        args = start()
        for fn in tests:
            if only and fn.__name__ not in only:
                continue
            t = time.time()
            try:
                fn(*args)
                passed += 1
                print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t))
            except Skip as why:
                skipped += 1
                print("SKIP %s: %s" % (fn.__name__, why))
            except Exception:
                failed += 1
                print("FAIL %s" % fn.__name__)
                traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    except Exception:
        failed += 1
        traceback.print_exc(file=sys.stdout)
    try:
        finish(args, failed > 0)
    except Exception:
        failed += 1
        traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


def main(module, make_env=None, tools=None):
    """Run TESTS with a fresh Env (module.ENV and this module's ENV) and
    print the result lines; returns the exit status. tools: the programs
    the tests need (default kantorpos-pop3d and kantorpos). An Env with a
    finish(failed) method has it called first at the end (its own
    processes and diagnostics)."""
    for tool in tools or (POP3D, ADMIN):
        if not os.access(tool, os.X_OK):
            print("missing %s" % tool)
            print("0 passed, 1 failed")
            return 1

    def start():
        global ENV
        ENV = make_env() if make_env else Env()
        module.ENV = ENV
        ENV.start()
        return ()

    def finish(args, failed):
        if getattr(ENV, "finish", None) is not None:
            ENV.finish(failed)
        for p in DAEMONS:
            if p.poll() is None:
                p.kill()
                p.wait()
        if ENV is None:
            return
        if failed:
            for name in sorted(os.listdir(ENV.dir)):
                if name.endswith(".log"):
                    print("---- %s (tail)" % name)
                    with open(os.path.join(ENV.dir, name), "rb") as f:
                        print(f.read().decode("utf-8", "replace")[-6000:])
        shutil.rmtree(ENV.dir, ignore_errors=True)

    return run_tests(TESTS, start, finish, only=sys.argv[1:])
