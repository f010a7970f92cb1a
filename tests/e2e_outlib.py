#!/usr/bin/env python3
"""tests/e2e_outlib.py: what the end-to-end tests of outbound delivery
share: a sandboxed nsd (e2e_dns.Nsd) behind DnsLog, a relay that records
every question (nsd logs none); SMTP sinks on 127.0.0.x standing for MX
hosts, with STARTTLS when given a context; OutEnv, the scratch directory
with the DNS, the sinks and a kantorpos-smtpd whose dns_resolver is the
relay; and submitting mail through its submission listener."""

import contextlib
import email.utils
import os
import pwd
import re
import signal
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
import e2e_dns  # noqa: E402  (Nsd, free_udp_port, ROOT_KEY)
import e2e_lib as lib  # noqa: E402
from e2e_lib import free_port  # noqa: E402

DOMAIN = "example.test"
PASSWORD = "secret"


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
    `blackhole` get no answer; a TXT question (UDP) about a name in `txt`
    gets the relay's own answer instead of upstream's: one TXT record with
    that text (TTL 1 s), or none (NODATA) for None; questions (UDP) about
    a name in `delay` are answered that many seconds late."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.questions = []
        self.blackhole = set()  # names whose questions get no answer
        self.txt = {}  # name -> TXT text or None, answered here
        self.delay = {}  # name -> seconds before the answer goes out
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

    @staticmethod
    def txt_answer(packet, text):
        """The answer to the TXT question of packet: one record with text
        (TTL 1), or NODATA for None."""
        pos = 12
        while packet[pos] != 0:
            pos += 1 + packet[pos]
        question = packet[12:pos + 5]
        head = packet[:2] + struct.pack(">HHHHH", 0x8580, 1,
                                        0 if text is None else 1, 0, 0)
        if text is None:
            return head + question
        data = text.encode()
        rdata = bytes([len(data)]) + data
        return head + question + struct.pack(">HHHIH", 0xc00c, 16, 1, 1,
                                             len(rdata)) + rdata

    def _udp_one(self, packet, peer):
        self._note(packet)
        q = dns_question(packet)
        if q is not None and q[0] in self.blackhole:
            return
        if q is not None and q[1] == "TXT" and q[0] in self.txt:
            self.udp.sendto(self.txt_answer(packet, self.txt[q[0]]), peer)
            return
        if q is not None and q[0] in self.delay:
            time.sleep(self.delay[q[0]])
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
    meters: Meters of its open connections; tls: an ssl.SSLContext (server
    side) to offer STARTTLS with (the SNI names clients sent are kept in
    `sni`); ext: the EHLO keywords (default PIPELINING and 8BITMIME;
    STARTTLS is added with tls); data_reply: the reply after the data
    (default 250). Records the MAIL command lines (`mail_lines`), the
    number of connections, the EHLO names and every transaction accepted
    (connection number, sender, accepted recipients, data, the TLS
    version or None)."""

    def __init__(self, addr, port, greeting=None, rcpt=None,
                 drop_after_354=False, delay=0.0, max_rcpts=0, meters=(),
                 tls=None, ext=None, data_reply=None):
        self.addr, self.port = addr, port
        self.greeting = greeting or "220 %s ESMTP sink" % addr
        self.rcpt = rcpt or (lambda a: "250 2.1.5 ok")
        self.drop_after_354 = drop_after_354
        self.delay = delay
        self.max_rcpts = max_rcpts
        self.meters = meters
        self.tls = tls
        self.ext = ext if ext is not None else ["PIPELINING", "8BITMIME"]
        self.data_reply = data_reply or "250 2.0.0 queued"
        self.mail_lines = []
        self.sni = []
        if tls is not None:
            tls.sni_callback = lambda sslobj, name, ctx: \
                self.sni.append(name) and None
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
                        sink.session(self.request, n, stack.close)
                except (OSError, ValueError):
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

    def session(self, sock, n, leave=lambda: None):
        rfile, wfile = sock.makefile("rb"), sock.makefile("wb")

        def send(line):
            if self.delay:
                time.sleep(self.delay)
            wfile.write((line + "\r\n").encode())
            wfile.flush()

        send(self.greeting)
        if not self.greeting.startswith("2"):
            rfile.readline()
            return
        sender, rcpts, tls = None, [], None
        while True:
            raw = rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.helo.append(line[5:])
                ext = list(self.ext)
                if self.tls is not None and tls is None:
                    ext.append("STARTTLS")
                send("250-" + self.addr)
                for i, e in enumerate(ext):
                    send(("250 " if i == len(ext) - 1 else "250-") + e)
            elif verb == "STARTTLS" and self.tls is not None and tls is None:
                send("220 2.0.0 go ahead")
                sock = self.tls.wrap_socket(sock, server_side=True)
                tls = sock.version()
                rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
                sender, rcpts = None, []
            elif verb == "MAIL":
                with self.lock:
                    self.mail_lines.append(line)
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
                if self.data_reply.startswith("2"):
                    with self.lock:
                        self.transactions.append((n, sender, rcpts, data,
                                                  tls))
                send(self.data_reply)
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


class OutEnv:
    """The scratch directory, nsd serving `zones` ((origin, text) pairs)
    with its question log, the sinks and kantorpos-smtpd. anchor: the
    dns_trust_anchor (default: the root's, or none without dns-root-data);
    conf_extra: more configuration lines."""

    def __init__(self, zones, prefix="out", anchor=None, conf_extra=""):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-%s." % prefix)
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.users = os.path.join(self.dir, "users")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(self.dir, "smtpd.log")
        self.out_port = free_port()
        self.sub_port = free_port()
        self.nsd = e2e_dns.Nsd(self.dir, "nsd", zones, False).start()
        self.dns = DnsLog(self.nsd.port)
        self.sinks = {}
        self.proc = None
        self.root = os.geteuid() == 0
        os.makedirs(self.data)
        self.anchor = anchor or self.trust_anchor()
        self.conf_extra = conf_extra
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
{self.conf_extra}
{extra}""")

    def reload(self, extra=""):
        """Rewrite the configuration with extra lines and SIGHUP the
        daemon; waits for its "reloaded" line."""
        before = self.log_text().count("reloaded ")
        self.write_conf(extra)
        self.proc.send_signal(signal.SIGHUP)
        wait(self, lambda: self.log_text().count("reloaded ") > before,
             "the reload")

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

    def finish(self, failed):
        """The end (e2e_lib.main): everything stopped; on failure the
        last questions the DNS got."""
        self.stop()
        if failed:
            print("---- questions")
            print(self.dns.questions[-80:])

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


def message(subject, rcpts, body="hello\r\n", headers=""):
    """A message that submission leaves as it is (it has Date and
    Message-ID)."""
    return ("%sFrom: alice@%s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
            "Message-ID: %s\r\n\r\n%s" % (
                headers, DOMAIN, ", ".join(rcpts), subject,
                email.utils.formatdate(), email.utils.make_msgid(
                    domain=DOMAIN), body)).encode()


def submit(env, rcpts, subject, body="hello\r\n", headers="", login=True,
           mail_options=()):
    """Send one message through env's submission listener as alice
    (mail_options: MAIL parameters such as BODY=8BITMIME)."""
    text = message(subject, rcpts, body, headers)
    s = smtplib.SMTP("127.0.0.1", env.sub_port, timeout=20)
    try:
        s.ehlo("client.test")
        if login:
            s.login("alice@" + DOMAIN, PASSWORD)
        s.sendmail("alice@" + DOMAIN, rcpts, text, list(mail_options))
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    return text


def wait(env, cond, what, timeout=20):
    """Until cond() holds; the queue and the log in the failure."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out: %s\nqueue:\n%s\nlog (tail):\n%s" % (
        what, env.queue_list(), env.log_text()[-4000:]))


def delivered_at(env, addr, rcpts, subject):
    """Submit to rcpts and wait for the sink at addr to take it."""
    sink = env.sinks[addr]
    before = sink.count()
    submit(env, rcpts, subject)
    wait(env, lambda: sink.count() > before, "delivery at " + addr)
    return sink.transactions[-1]


def status_of(dsn):
    m = re.search(rb"^Status: (\S+)", dsn, re.M)
    return m.group(1).decode() if m else None
