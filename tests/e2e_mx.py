#!/usr/bin/env python3
"""tests/e2e_mx.py: direct delivery to MX hosts end to end, on loopback.

A sandboxed nsd (e2e_dns.Nsd) serves a test. zone the test writes, behind
DnsLog, a relay that records every question (nsd logs none);
kantorpos-smtpd gets the relay as dns_resolver. The MX hosts are SMTP sinks on 127.0.0.2 ... 127.0.0.254 at
outbound_port, each answering as its test wants (refusing the connection,
a 554 greeting, 550 or 450 for some recipients, dropping the connection
after 354, answering slowly). Mail comes in through a submission login.

One test per rule: MX order and the fallback when the best MX refuses
(every address of it tried, IPv6 and IPv4; EHLO with the host name), a
refused host skipped by later mail, equal preferences spread, the implicit
MX, null MX (a bounce and no A/AAAA question), NXDOMAIN, mail that loops
back to this host (by name and by address), a CNAME loop, a CNAME to a
domain with MX, 25 MX records (the best 20), a DNS timeout (deferred
4.4.3), 452 for recipients beyond a server's limit (a new transaction at
once), a DSN to a null-MX sender (dropped), per-recipient 5xx/4xx in one
message, one transaction per domain, a 5xx greeting skipped, connection
reuse, the limits of outbound_concurrency and outbound_max_sessions, a
drop after 354 (the message stays queued and intact), a slow host, the hop
limit, unauthenticated relaying refused, and a sandboxed Postfix receiving
over STARTTLS (e2e_postfix.start_postfix), byte-exact.

Prints one line per test and "N passed, N failed, N skipped"."""

import contextlib
import email.utils
import os
import pwd
import re
import shutil
import smtplib
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_dns  # noqa: E402  (Nsd, free_udp_port)
import e2e_lib as lib  # noqa: E402
from e2e_lib import Skip, free_port, test  # noqa: E402

DOMAIN = "example.test"
PASSWORD = "secret"

ZONE = """$ORIGIN test.
$TTL 30
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 30
@ NS ns
ns A 127.0.0.1
; order and fallback: a refuses on both its addresses, b takes the mail
remote MX 10 a.remote
remote MX 20 b.remote
a.remote AAAA ::1
a.remote A 127.0.0.2
b.remote A 127.0.0.3
; equal preferences
spread MX 10 s1.spread
spread MX 10 s2.spread
s1.spread A 127.0.0.4
s2.spread A 127.0.0.5
; no MX: the implicit MX
aonly A 127.0.0.6
; null MX (RFC 7505); its address must never be asked for
nullmx MX 0 .
nullmx A 127.0.0.99
; loops: a CNAME loop; this host as the best MX, by name and by address
loop CNAME loop2
loop2 CNAME loop
selfmx MX 10 mx.example.test.
selfmx MX 20 b.remote
selfaddr MX 10 me.selfaddr
me.selfaddr A 127.0.0.1
; per-recipient results
mixed MX 10 mx.mixed
mx.mixed A 127.0.0.7
; connection reuse
reuse MX 10 mx.reuse
mx.reuse A 127.0.0.8
; the connection dropped after 354
drop MX 10 mx.drop
mx.drop A 127.0.0.10
; a 5xx greeting is skipped
greet MX 10 g1.greet
greet MX 20 g2.greet
g1.greet A 127.0.0.11
g2.greet A 127.0.0.12
; a host that answers too slowly
slow MX 10 mx.slow
mx.slow A 127.0.0.13
; a CNAME to a domain with MX records
alias CNAME remote
; a host that takes two recipients a transaction
many MX 10 mx.many
mx.many A 127.0.0.14
; the relay never answers questions about dead.test (a DNS timeout)
dead MX 10 mx.dead
mx.dead A 127.0.0.15
; 25 MX records: the best 20 are used
big MX 1 h1.big
big MX 2 h2.big
big MX 3 h3.big
big MX 4 h4.big
big MX 5 h5.big
big MX 6 h6.big
big MX 7 h7.big
big MX 8 h8.big
big MX 9 h9.big
big MX 10 h10.big
big MX 11 h11.big
big MX 12 h12.big
big MX 13 h13.big
big MX 14 h14.big
big MX 15 h15.big
big MX 16 h16.big
big MX 17 h17.big
big MX 18 h18.big
big MX 19 h19.big
big MX 20 h20.big
big MX 21 h21.big
big MX 22 h22.big
big MX 23 h23.big
big MX 24 h24.big
big MX 25 h25.big
h1.big A 127.0.0.3
; concurrency
conc1 MX 10 mx.conc1
mx.conc1 A 127.0.0.16
conc2 MX 10 mx.conc2
mx.conc2 A 127.0.0.17
; Postfix
dest MX 10 pf.dest
pf.dest A 127.0.0.9
"""


DNS_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX",
             16: "TXT", 28: "AAAA", 43: "DS", 48: "DNSKEY", 52: "TLSA"}


def dns_question(packet):
    """(name, type name) of a DNS packet's first question, or None."""
    try:
        pos, labels = 12, []
        while packet[pos] != 0:
            n = packet[pos]
            labels.append(packet[pos + 1:pos + 1 + n].decode("ascii",
                                                             "replace"))
            pos += 1 + n
        qtype = struct.unpack(">H", packet[pos + 1:pos + 3])[0]
        return ".".join(labels).lower(), DNS_TYPES.get(qtype, str(qtype))
    except (IndexError, struct.error):
        return None


class DnsLog:
    """A UDP and TCP relay on 127.0.0.1:port to upstream (a port on
    127.0.0.1) that records the question of every query in `questions`
    ((name, type) pairs, lower case, in order); questions about a name in
    `blackhole` get no answer."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.questions = []
        self.blackhole = set()  # names whose questions get no answer
        self.lock = threading.Lock()
        self.port = e2e_dns.free_udp_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        for fn in (self._udp_loop, self._tcp_loop):
            threading.Thread(target=fn, daemon=True).start()

    def _note(self, packet):
        q = dns_question(packet)
        if q is not None:
            with self.lock:
                self.questions.append(q)

    def asked(self, name, qtype=None):
        """How many questions for name (and qtype) came."""
        with self.lock:
            return sum(1 for n, t in self.questions
                       if n == name and (qtype is None or t == qtype))

    def _udp_one(self, packet, peer):
        self._note(packet)
        q = dns_question(packet)
        if q is not None and q[0] in self.blackhole:
            return
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
            up.settimeout(3)
            try:
                up.sendto(packet, ("127.0.0.1", self.upstream))
                self.udp.sendto(up.recv(65535), peer)
            except OSError:
                pass

    def _udp_loop(self):
        while True:
            try:
                packet, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(packet, peer),
                             daemon=True).start()

    @staticmethod
    def _read_frame(sock):
        head = b""
        while len(head) < 2:
            chunk = sock.recv(2 - len(head))
            if not chunk:
                return None
            head += chunk
        n, body = struct.unpack(">H", head)[0], b""
        while len(body) < n:
            chunk = sock.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return body

    def _tcp_one(self, conn):
        with conn, socket.create_connection(("127.0.0.1", self.upstream),
                                            3) as up:
            conn.settimeout(10)
            while True:
                packet = self._read_frame(conn)
                if packet is None:
                    return
                self._note(packet)
                q = dns_question(packet)
                if q is not None and q[0] in self.blackhole:
                    return
                up.sendall(struct.pack(">H", len(packet)) + packet)
                answer = self._read_frame(up)
                if answer is None:
                    return
                conn.sendall(struct.pack(">H", len(answer)) + answer)

    def _tcp_loop(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_one, args=(conn,),
                             daemon=True).start()

    def stop(self):
        for s in (self.udp, self.tcp):
            try:
                s.close()
            except OSError:
                pass


class Meter:
    """Connections open at once, now and at most (shared by sinks)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


class Sink:
    """One MX host: an SMTP server on addr:port. greeting: the first
    reply; rcpt(addr) -> the reply to RCPT (default 250); max_rcpts: 452
    for the recipients of a transaction beyond it; drop_after_354: close
    after reading a part of the data; delay: seconds before every reply;
    meters: Meters of its open connections. Records the number of
    connections, the EHLO names and every
    transaction (connection number, sender, accepted recipients, data)."""

    def __init__(self, addr, port, greeting=None, rcpt=None,
                 drop_after_354=False, delay=0.0, max_rcpts=0, meters=()):
        self.addr, self.port = addr, port
        self.greeting = greeting or "220 %s ESMTP sink" % addr
        self.rcpt = rcpt or (lambda a: "250 2.1.5 ok")
        self.drop_after_354 = drop_after_354
        self.delay = delay
        self.max_rcpts = max_rcpts
        self.meters = meters
        self.helo = []
        self.connections = 0
        self.transactions = []
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink.lock:
                    sink.connections += 1
                    n = sink.connections
                try:
                    with contextlib.ExitStack() as stack:
                        for m in sink.meters:
                            stack.enter_context(m)
                        sink.session(self.rfile, self.wfile, n, stack.close)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((addr, port), Handler)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self):
        with self.lock:
            return len(self.transactions)

    def session(self, rfile, wfile, n, leave=lambda: None):
        def send(line):
            if self.delay:
                time.sleep(self.delay)
            wfile.write((line + "\r\n").encode())
            wfile.flush()

        send(self.greeting)
        if not self.greeting.startswith("2"):
            rfile.readline()
            return
        sender, rcpts = None, []
        while True:
            raw = rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.helo.append(line[5:])
                for e in ("250-" + self.addr, "250-PIPELINING",
                          "250 8BITMIME"):
                    send(e)
            elif verb == "MAIL":
                sender, rcpts = line[10:].split(">")[0].lstrip("<"), []
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = line[8:].split(">")[0].lstrip("<")
                reply = self.rcpt(addr)
                if self.max_rcpts and len(rcpts) >= self.max_rcpts:
                    reply = "452 4.5.3 Too many recipients"
                if reply.startswith("2"):
                    rcpts.append(addr)
                send(reply)
            elif verb == "DATA":
                if not rcpts:
                    send("554 5.5.1 no valid recipients")
                    continue
                send("354 go ahead")
                if self.drop_after_354:
                    rfile.readline()
                    return
                data = b""
                while True:
                    l = rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    data += l[1:] if l.startswith(b".") else l
                with self.lock:
                    self.transactions.append((n, sender, rcpts, data))
                send("250 2.0.0 queued")
            elif verb == "RSET":
                sender, rcpts = None, []
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                # The client may connect again as soon as it has the 221:
                # the connection no longer counts from here.
                leave()
                send("221 2.0.0 bye")
                return
            else:
                send("502 5.5.2 not here")


class MxEnv:
    """The scratch directory, nsd with its question log, the sinks and
    kantorpos-smtpd."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-mx.")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.users = os.path.join(self.dir, "users")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(self.dir, "smtpd.log")
        self.out_port = free_port()
        self.sub_port = free_port()
        self.nsd = e2e_dns.Nsd(self.dir, "nsd", [("test.", ZONE)],
                               False).start()
        self.dns = DnsLog(self.nsd.port)
        self.sinks = {}
        self.proc = None
        self.root = os.geteuid() == 0
        os.makedirs(self.data)
        self.anchor = self.trust_anchor()
        self.write_conf()
        subprocess.run([lib.ADMIN, "-c", self.conf, "user", "add",
                        "alice@" + DOMAIN], input=PASSWORD + "\n",
                       text=True, check=True, stdout=subprocess.DEVNULL)
        if self.root:
            nobody = pwd.getpwnam("nobody")
            for p in (self.data, self.users):
                os.chown(p, nobody.pw_uid, nobody.pw_gid)

    def trust_anchor(self):
        """The root's anchor (test. is then insecure: no chain of trust
        reaches it), or no validation where dns-root-data is missing."""
        return e2e_dns.ROOT_KEY if os.path.exists(e2e_dns.ROOT_KEY) \
            else "none"

    def write_conf(self, extra=""):
        with open(self.conf, "w") as f:
            f.write(f"""hostname mx.example.test
data_dir {self.data}
user_db {self.users}
local_domain {DOMAIN}
listen smtp 127.0.0.1:{self.out_port} mx
listen smtp 127.0.0.1:{self.sub_port} submission plaintext-ok
password_opslimit 1
password_memlimit 8K
login_fail_delay 0
workers 2
outbound_port {self.out_port}
outbound_timeout 3s
queue_retry_min 20s
queue_retry_max 40s
dns_resolver 127.0.0.1:{self.dns.port}
dns_trust_anchor {self.anchor}
{"run_as nobody" if self.root else ""}
{extra}""")

    def sink(self, addr, **kw):
        s = Sink(addr, self.out_port, **kw)
        self.sinks[addr] = s
        return s

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([lib.SMTPD, "-f", "-c", self.conf],
                                     stdout=logf, stderr=logf)
        lib.DAEMONS.append(self.proc)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("kantorpos-smtpd exited: " +
                                   self.log_text())
            try:
                socket.create_connection(("127.0.0.1", self.sub_port),
                                         1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kantorpos-smtpd did not start")

    def stop(self):
        for s in self.sinks.values():
            s.stop()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
        self.dns.stop()
        self.nsd.proc.terminate()
        self.nsd.proc.wait(10)

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def tool(self, *args, timeout=60):
        p = subprocess.run([lib.ADMIN, "-c", self.conf] + list(args),
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def queue_list(self):
        return self.tool("queue", "list")[1]

    def dsns(self):
        """The notifications in alice's Maildir (new/), as bytes."""
        d = os.path.join(self.data, "mail", DOMAIN, "alice", "new")
        if not os.path.isdir(d):
            return []
        out = []
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def dsn_for(self, rcpt, timeout=20):
        """The DSN naming rcpt as Final-Recipient, waiting for it."""
        want = ("Final-Recipient: rfc822; " + rcpt).encode()
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.dsns():
                if want in m:
                    return m
            time.sleep(0.2)
        raise AssertionError("no DSN for %s; queue:\n%s\nlog:\n%s" % (
            rcpt, self.queue_list(), self.log_text()[-3000:]))


ENV = None


def message(subject, rcpts, body="hello\r\n", headers=""):
    """A message that submission leaves as it is (it has Date and
    Message-ID)."""
    return ("%sFrom: alice@%s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: %s\r\n\r\n%s" % (
                headers, DOMAIN, ", ".join(rcpts), subject,
                email.utils.formatdate(), email.utils.make_msgid(
                    domain=DOMAIN), body)).encode()


def submit(rcpts, subject, body="hello\r\n", headers="", login=True):
    """Send one message through the submission listener as alice."""
    text = message(subject, rcpts, body, headers)
    s = smtplib.SMTP("127.0.0.1", ENV.sub_port, timeout=20)
    try:
        s.ehlo("client.test")
        if login:
            s.login("alice@" + DOMAIN, PASSWORD)
        s.sendmail("alice@" + DOMAIN, rcpts, text)
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    return text


def wait(cond, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out: %s\nqueue:\n%s\nlog (tail):\n%s" % (
        what, ENV.queue_list(), ENV.log_text()[-4000:]))


def delivered_at(addr, rcpts, subject):
    """Submit to rcpts and wait for the sink at addr to take it."""
    sink = ENV.sinks[addr]
    before = sink.count()
    submit(rcpts, subject)
    wait(lambda: sink.count() > before, "delivery at " + addr)
    return sink.transactions[-1]


def status_of(dsn):
    m = re.search(rb"^Status: (\S+)", dsn, re.M)
    return m.group(1).decode() if m else None


# ---- the tests ----

@test
def unauthenticated_relay_refused():
    s = smtplib.SMTP("127.0.0.1", ENV.out_port, timeout=10)
    s.ehlo("client.test")
    s.mail("x@elsewhere.example")
    code, text = s.rcpt("u@remote.test")
    s.quit()
    assert code == 554 and b"5.7.1" in text, (code, text)


@test
def order_and_fallback():
    """O-MX-01, O-MX-11, O-MX-12: a (::1 and 127.0.0.2) refuses, so the
    mail goes to b; both of a's addresses were tried, IPv6 first."""
    t = delivered_at("127.0.0.3", ["u1@remote.test"], "order")
    assert t[2] == ["u1@remote.test"]
    assert ENV.sinks["127.0.0.3"].helo[-1] == "mx.example.test", \
        "O-TX-15: EHLO outbound_helo (default: hostname)"
    log = ENV.log_text()
    v6 = log.find("a.remote.test[::1]")
    v4 = log.find("a.remote.test[127.0.0.2]")
    assert v6 >= 0 and v4 >= 0, log[-3000:]
    assert v6 < v4, "IPv6 first"


@test
def refused_host_skipped():
    """O-TX-18: a refused a connection a moment ago: later mail skips it
    without connecting again."""
    b = ENV.sinks["127.0.0.3"]
    before, tries = b.count(), ENV.log_text().count(
        "session to a.remote.test[127.0.0.2]")
    submit(["u2@remote.test"], "skip")
    wait(lambda: b.count() > before, "second delivery at b.remote.test")
    assert ENV.log_text().count(
        "session to a.remote.test[127.0.0.2]") == tries


@test
def equal_preference_spread():
    """O-MX-02: two MX of preference 10 share the mail."""
    s1, s2 = ENV.sinks["127.0.0.4"], ENV.sinks["127.0.0.5"]
    n = 40
    s = smtplib.SMTP("127.0.0.1", ENV.sub_port, timeout=20)
    s.login("alice@" + DOMAIN, PASSWORD)
    for i in range(n):
        s.sendmail("alice@" + DOMAIN, ["u%d@spread.test" % i],
                   message("spread %d" % i, ["u%d@spread.test" % i]))
    s.quit()
    wait(lambda: s1.count() + s2.count() >= n, "all spread deliveries", 60)
    assert s1.count() >= n // 5 and s2.count() >= n // 5, (
        s1.count(), s2.count())


@test
def implicit_mx():
    """O-MX-03: no MX records: the domain's own A record."""
    delivered_at("127.0.0.6", ["u@aonly.test"], "implicit")


@test
def null_mx():
    """O-NMX-01: a bounce with 556 5.1.10 and no address question."""
    submit(["u@nullmx.test"], "null mx")
    dsn = ENV.dsn_for("u@nullmx.test")
    assert status_of(dsn) == "5.1.10", dsn
    assert b"Diagnostic-Code: smtp; 556 5.1.10 Recipient address has null MX" \
        in dsn, dsn
    assert b"Remote-MTA" not in dsn
    assert ENV.dns.asked("nullmx.test", "MX") >= 1
    assert ENV.dns.asked("nullmx.test", "A") == 0
    assert ENV.dns.asked("nullmx.test", "AAAA") == 0


@test
def nxdomain():
    """O-MX-05: a domain that does not exist bounces with 5.1.2."""
    submit(["u@nx.test"], "nx")
    dsn = ENV.dsn_for("u@nx.test")
    assert status_of(dsn) == "5.1.2", dsn


@test
def loop_by_name():
    """O-MX-09, O-MX-10: this host (hostname) is the best MX: bounce
    5.4.6; the worse MX (b.remote.test) is never tried."""
    b = ENV.sinks["127.0.0.3"]
    before = b.count()
    submit(["u@selfmx.test"], "loop")
    dsn = ENV.dsn_for("u@selfmx.test")
    assert status_of(dsn) == "5.4.6", dsn
    assert b"mail for selfmx.test loops back to myself" in dsn, dsn
    assert b.count() == before


@test
def loop_by_address():
    """O-MX-09: the best MX's address is one kantorpos listens on at
    outbound_port."""
    submit(["u@selfaddr.test"], "loop by address")
    dsn = ENV.dsn_for("u@selfaddr.test")
    assert status_of(dsn) == "5.4.6", dsn


@test
def cname_loop():
    """O-MX-08: a CNAME loop ends in a deferral (4.4.3) or a bounce,
    never in an endless lookup."""
    submit(["u@loop.test"], "cname loop")

    def decided():
        q = ENV.queue_list()
        return ("u@loop.test (pending): 451 4.4.3" in q or
                any(b"u@loop.test" in m and b"Final-Recipient" in m
                    for m in ENV.dsns()))
    wait(decided, "the CNAME loop decided")
    n = ENV.dns.asked("loop.test")
    time.sleep(1)
    assert ENV.dns.asked("loop.test") == n, "no more questions"


@test
def cname_followed():
    """O-MX-07: a domain that is a CNAME of one with MX records."""
    delivered_at("127.0.0.3", ["u@alias.test"], "alias")


@test
def dns_timeout():
    """O-MX-06: no answer to the MX question: deferred with 4.4.3."""
    ENV.dns.blackhole.add("dead.test")
    submit(["u@dead.test"], "dead")
    wait(lambda: "u@dead.test (pending): 451 4.4.3" in ENV.queue_list(),
         "the DNS timeout recorded", 60)


@test
def huge_mx_set_capped():
    """O-MX-14: 25 MX records: the best 20, logged; the addresses of the
    worst five are never asked for."""
    delivered_at("127.0.0.3", ["u@big.test"], "big")
    assert "direct: big.test has more MX records than 20: the best 20 " \
        "are used" in ENV.log_text()
    assert ENV.dns.asked("h20.big.test", "A") == 1
    assert ENV.dns.asked("h21.big.test", "A") == 0


@test
def too_many_recipients():
    """O-TX-04: 452 for the third recipient: it goes in a new transaction
    on the same connection, nothing fails."""
    m = ENV.sinks["127.0.0.14"]
    submit(["a@many.test", "b@many.test", "c@many.test"], "many")
    wait(lambda: sum(len(t[2]) for t in m.transactions) >= 3,
         "all three recipients at mx.many.test")
    assert [len(t[2]) for t in m.transactions] == [2, 1], m.transactions
    assert m.connections == 1
    assert "@many.test" not in ENV.queue_list()
    assert not any(b"@many.test" in d and b"Final-Recipient" in d
                   for d in ENV.dsns())


@test
def dsn_to_null_mx_dropped():
    """O-NMX-05: the notification for a sender in a null-MX domain cannot
    go anywhere: dropped, nothing left in the queue."""
    p = subprocess.run([lib.ADMIN, "-c", ENV.conf, "queue", "add", "-f",
                        "someone@nullmx.test", "x@nx.test"],
                       input=message("to nx", ["x@nx.test"]),
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p
    # The daemon's runner looks at the queue only every 30 s: flush now
    # (whichever runner locks the items first delivers them).
    rc, out, err = ENV.tool("queue", "flush", "nx.test")
    logs = err + ENV.log_text()
    wait(lambda: "x@nx.test" not in ENV.queue_list() and
         "someone@nullmx.test" not in ENV.queue_list(), "both gone")
    assert re.search(r"to=<someone@nullmx.test> status=bounced dsn=5.1.10",
                     logs + ENV.log_text()), logs
    assert "the sender is <>, no DSN" in logs + ENV.log_text()


@test
def per_recipient_results():
    """O-TX-02, O-TX-03, O-TX-05: 250 for one, 550 for another, 450 for
    the third, in one transaction: DATA for the first only, one DSN for
    the 550 one, the 450 one still queued with its reply."""
    m = ENV.sinks["127.0.0.7"]
    before = m.count()
    submit(["ok@mixed.test", "bad@mixed.test", "busy@mixed.test"], "mixed")
    wait(lambda: m.count() > before, "delivery at mx.mixed.test")
    assert m.transactions[-1][2] == ["ok@mixed.test"], m.transactions[-1]
    dsn = ENV.dsn_for("bad@mixed.test")
    assert status_of(dsn) == "5.1.1", dsn
    assert b"Diagnostic-Code: smtp; 550 5.1.1 no such user" in dsn, dsn
    status = dsn.split(b"message/delivery-status")[1].split(
        b"text/rfc822-headers")[0]
    assert status.count(b"Final-Recipient:") == 1, status
    q = ENV.queue_list()
    assert "busy@mixed.test (pending): 450 4.2.1 busy" in q, q
    assert "ok@mixed.test (delivered)" in q, q


@test
def one_transaction_per_domain():
    """O-TX-01: two recipients at remote.test in one transaction, the
    one at aonly.test in another."""
    b, a = ENV.sinks["127.0.0.3"], ENV.sinks["127.0.0.6"]
    nb, na = b.count(), a.count()
    submit(["x@remote.test", "y@remote.test", "z@aonly.test"], "domains")
    wait(lambda: b.count() > nb and a.count() > na, "both domains")
    assert b.count() == nb + 1 and a.count() == na + 1
    assert sorted(b.transactions[-1][2]) == ["x@remote.test",
                                             "y@remote.test"]
    assert a.transactions[-1][2] == ["z@aonly.test"]


@test
def greeting_5xx_skipped():
    """O-MX-15: the best MX greets with 554: the next one gets it."""
    delivered_at("127.0.0.12", ["u@greet.test"], "greeting")


@test
def connection_reuse():
    """O-TX-19, O-RTY-04, O-TX-18: three messages for one MX host go
    over one connection. The host is down first (the three are deferred
    after one refused connect); then `kantorpos queue flush` sends them
    together."""
    tries = ENV.log_text().count("session to mx.reuse.test[127.0.0.8]")
    for i in range(3):
        submit(["r%d@reuse.test" % i], "reuse %d" % i)
    wait(lambda: ENV.queue_list().count("@reuse.test (pending)") == 3 and
         "domain=reuse.test attempts=1" in ENV.queue_list(),
         "three deferred")
    time.sleep(0.5)
    assert ENV.log_text().count(
        "session to mx.reuse.test[127.0.0.8]") == tries + 1, \
        "one connect for the three"
    assert ENV.queue_list().count("domain=reuse.test attempts=1") == 3
    sink = ENV.sink("127.0.0.8")
    rc, out, err = ENV.tool("queue", "flush", "reuse.test")
    assert rc == 0, (rc, out, err)
    assert sink.count() == 3, sink.transactions
    assert sink.connections == 1, sink.connections
    assert "@reuse.test" not in ENV.queue_list()


def queued_msg(rcpt):
    """(id, message file) of the queue item holding rcpt."""
    text = ENV.queue_list()
    m = re.search(r"^(\S+)  .*\n(?:    .*\n)*?    %s " % re.escape(rcpt),
                  text, re.M)
    assert m, text
    qid = m.group(1)
    with open(os.path.join(ENV.data, "queue", "items", qid, "msg"),
              "rb") as f:
        return qid, f.read()


@test
def concurrency_limits():
    """outbound_concurrency 2 and outbound_max_sessions 3: 20 messages
    for each of two hosts, queued together (a data directory of its own,
    flushed by `kantorpos queue flush`): at most 2 sessions a host and 3
    in all, more than one at a time, every message delivered."""
    total, m1, m2 = Meter(), Meter(), Meter()
    s1 = ENV.sink("127.0.0.16", delay=0.02, meters=(total, m1))
    s2 = ENV.sink("127.0.0.17", delay=0.02, meters=(total, m2))
    conf, data = ENV.conf + ".conc", os.path.join(ENV.dir, "data-conc")
    os.makedirs(data)
    if ENV.root:
        nobody = pwd.getpwnam("nobody")
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
    with open(ENV.conf) as f, open(conf, "w") as g:
        g.write(f.read().replace("data_dir %s\n" % ENV.data,
                                 "data_dir %s\n" % data) +
                "outbound_concurrency 2\noutbound_max_sessions 3\n")
    for dom in ("conc1.test", "conc2.test"):
        for i in range(20):
            p = subprocess.run([lib.ADMIN, "-c", conf, "queue", "add", "-f",
                                "alice@" + DOMAIN, "u%d@%s" % (i, dom)],
                               input=message("c", ["u%d@%s" % (i, dom)]),
                               capture_output=True, timeout=30)
            assert p.returncode == 0, p
    p = subprocess.run([lib.ADMIN, "-c", conf, "queue", "flush"],
                       capture_output=True, timeout=120)
    assert p.returncode == 0, p
    assert s1.count() == 20 and s2.count() == 20, (s1.count(), s2.count())
    assert m1.most <= 2 and m2.most <= 2, (m1.most, m2.most)
    assert 2 <= total.most <= 3, total.most


@test
def drop_after_354():
    """O-TX-17: the host drops the connection after 354: the message
    stays queued, intact, no DSN; once the host works it goes whole."""
    sink = ENV.sinks["127.0.0.10"]
    body = "line one\r\n.leading dot\r\n" + ("x" * 900 + "\r\n") * 20
    text = submit(["u@drop.test"], "drop", body=body)
    wait(lambda: "domain=drop.test attempts=1" in ENV.queue_list(),
         "the dropped attempt recorded")
    qid, stored = queued_msg("u@drop.test")
    assert stored.endswith(text), "the queued message is whole"
    assert "u@drop.test (pending)" in ENV.queue_list()
    assert not any(b"u@drop.test" in m for m in ENV.dsns())
    sink.drop_after_354 = False
    rc, out, err = ENV.tool("queue", "flush", "drop.test")
    assert rc == 0, (rc, out, err)
    assert sink.count() == 1
    assert sink.transactions[-1][3] == stored, "sent as it was queued"
    assert qid not in ENV.queue_list()


@test
def slow_host():
    """O-TMO-01 with outbound_timeout 3s: a host slower than that leaves
    the message queued with the timeout as its error."""
    submit(["u@slow.test"], "slow")
    wait(lambda: "domain=slow.test attempts=1" in ENV.queue_list(),
         "the slow attempt recorded", 30)
    q = ENV.queue_list()
    assert "u@slow.test (pending)" in q, q
    assert "timeout" in q, q


@test
def hop_limit():
    """O-TX-16: more than hop_limit (100) Received fields: 554 5.4.6."""
    hops = "".join("Received: from h%d by h%d; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
                   % (i, i + 1) for i in range(101))
    try:
        submit(["u@aonly.test"], "hops", headers=hops)
        raise AssertionError("101 Received fields accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 554 and b"5.4.6" in e.smtp_error, e
    a = ENV.sinks["127.0.0.6"]
    before = a.count()
    submit(["u@aonly.test"], "hops", headers=hops[hops.index("\n") + 1:])
    wait(lambda: a.count() > before, "100 Received fields delivered")


@test
def postfix_interop():
    """A sandboxed Postfix as the MX of dest.test, with STARTTLS: it
    stores the message byte-exact and says it came over TLS."""
    import e2e_postfix
    top = os.path.join(ENV.dir, "pf")
    cert, key = os.path.join(ENV.dir, "pf.crt"), os.path.join(ENV.dir,
                                                              "pf.key")
    lib.make_cert(key, cert, cn="pf.dest.test")
    conf, why = e2e_postfix.start_postfix(
        top, ENV.out_port, free_port(), addr="127.0.0.9",
        extra="smtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\n"
              "smtpd_tls_security_level = may\n"
              "smtpd_tls_received_header = yes\n" % (cert, key))
    if conf is None:
        raise Skip(why)
    try:
        body = "Bonjour,\r\n.a line with a dot\r\n\r\n" + \
            "".join("line %d\r\n" % i for i in range(200))
        text = submit(["bob@dest.test"], "to postfix", body=body)
        new = os.path.join(top, "vmail", "bob", "new")
        wait(lambda: os.path.isdir(new) and os.listdir(new),
             "postfix stored it", 30)
        with open(os.path.join(new, os.listdir(new)[0]), "rb") as f:
            got = f.read().replace(b"\n", b"\r\n")
        assert got.endswith(text), got[-300:]
        received = got.split(text)[0]
        assert b"(using TLS" in received, received
    finally:
        e2e_postfix.postfix(conf, "stop")


def main():
    for tool in (lib.SMTPD, lib.ADMIN):
        if not os.access(tool, os.X_OK):
            print("missing %s" % tool)
            print("0 passed, 1 failed")
            return 1

    def start():
        global ENV
        ENV = MxEnv()
        ENV.sink("127.0.0.3")
        ENV.sink("127.0.0.4")
        ENV.sink("127.0.0.5")
        ENV.sink("127.0.0.6")
        ENV.sink("127.0.0.7", rcpt=lambda a:
                 "550 5.1.1 no such user" if a.startswith("bad@") else
                 "450 4.2.1 busy" if a.startswith("busy@") else
                 "250 2.1.5 ok")
        ENV.sink("127.0.0.10", drop_after_354=True)
        ENV.sink("127.0.0.11", greeting="554 5.7.1 no service here")
        ENV.sink("127.0.0.12")
        ENV.sink("127.0.0.13", delay=5)
        ENV.sink("127.0.0.14", max_rcpts=2)
        ENV.start()
        return ()

    def finish(args, failed):
        if ENV is None:
            return
        ENV.stop()
        if failed:
            print("---- smtpd.log (tail)")
            print(ENV.log_text()[-8000:])
            print("---- questions")
            print(ENV.dns.questions[-80:])
        shutil.rmtree(ENV.dir, ignore_errors=True)

    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd)")
        return 77
    return lib.run_tests(lib.TESTS, start, finish, only=sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
