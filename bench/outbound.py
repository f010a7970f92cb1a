#!/usr/bin/env python3
"""bench/outbound.py: outbound throughput, kantorpos against a sandboxed
Postfix in the same run, with the same DNS and the same sinks. bench/run
runs it (`bench/run outbound` runs only this part); it prints the
"Outbound: queued to the MX hosts" section of bench/RESULTS.md on stdout
and its progress on stderr.

The setup, all on loopback, every process stopped by its PID at the end:

- DNS: one sandboxed nsd (tests/e2e_dns.Nsd) serving the zone test.,
  signed here (e2e_dns.sign_zone), with M domains d1.test .. dM.test,
  each `MX 10 mx.dK.test`, that host's A on 127.0.1.K and a
  `_25._tcp.mx.dK.test TLSA 3 1 1` of the sinks' certificate. In front of
  it a sandboxed unbound on 127.0.1.253:53 (stub-zone test. to nsd, the
  zone's DS as its only trust anchor), which validates and sets AD.
- Postfix's DANE needs that AD bit from its resolver library: Postfix is
  started inside a private mount namespace (unshare -m) in which a
  resolv.conf naming the unbound (with `options trust-ad`, without which
  glibc clears AD) is bind-mounted over /etc/resolv.conf; chroot is off in
  its master.cf. smtp_tls_security_level = dane, smtp_dns_support_level =
  dnssec, default_transport smtp; mail from 127.0.0.0/8 (mynetworks) is
  relayed to the test domains. Concurrency as kantorpos's defaults: 10
  connections per destination (smtp_destination_concurrency_limit, one MX
  host per domain here, so per host as kantorpos's outbound_concurrency)
  and 100 at most in all (default_process_limit, as
  outbound_max_sessions). Postfix has no CA to verify against
  (smtp_tls_CAfile unset), so a "Verified TLS connection" in its log can
  only be a DANE match: every TLS connection must be one, or the run fails.
- kantorpos gets the same DNS: dns_resolver is the unbound, and it
  validates by itself from the same DS (dns_trust_anchor). Its log names
  the TLS mode of each session: every one must be tls=dane (STARTTLS,
  the certificate matched against the validated TLSA records), or the run
  fails.
- Sinks: one kantorpos-smtpd listening on 127.0.1.K:25 for every K, the
  MX of all the test domains (local_domain dK.test, user u@dK.test), with
  STARTTLS and the certificate the TLSA records name, its data_dir on a
  tmpfs (/dev/shm) so that its durable writes cost no disk time and it is
  not the bottleneck; its own pace alone (plaintext, 50 pipelined
  sessions, smtp-load) is measured and printed beside the figures.

Postfix runs twice in each run: with its defaults (a TLS connection is
closed after its delivery: the connection cache keeps plaintext ones
only) and with smtp_tls_connection_reuse = yes (TLS connections kept
through tlsproxy), its best case beside kantorpos, which keeps a session
for the next message to the same host.

One run: N messages of 1 KiB, spread evenly over the M domains, are put in
each sender's queue with delivery held, then released, and the clock runs
until the sender's queue is empty and every message is a file at a sink:
messages/s. kantorpos: the messages are queued with `kantorpos queue add`
while kantorpos-smtpd is stopped; the clock starts as it is started (it
delivers queued mail at once; its start-up counts against it). Postfix:
the messages come in over SMTP and a header_checks HOLD keeps them in the
hold queue; the clock starts before `postsuper -H ALL` and `postqueue -f`.
The senders' queues are on BENCH_DIR (default /var/tmp: a real disk), as
a real server's are. BENCH_RUNS runs (default 3; the median), each run
kantorpos then both Postfix setups. Every wait is bounded in time.

Environment: KANTORPOS_BUILDDIR, BENCH_DIR, BENCH_RUNS, BENCH_OUT_N
(2000), BENCH_OUT_M (10), BENCH_KEEP (keep the scratch directories).
Needs root (Postfix's sandbox, the mount namespace, port 25)."""

import email.utils
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests"))
import e2e_dns  # noqa: E402  (Nsd, sign_zone, wait_dns)
import e2e_lib as lib  # noqa: E402  (ADMIN, SMTPD, BUILD, free_port)

N = int(os.environ.get("BENCH_OUT_N", "2000"))
M = int(os.environ.get("BENCH_OUT_M", "10"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SIZE = 1024
NET = "127.0.1."          # MX host K is NET + K
RESOLVER = NET + "253"    # the unbound, port 53
CONCURRENCY = 10          # kantorpos's default outbound_concurrency
MAX_SESSIONS = 100        # kantorpos's default outbound_max_sessions
RUN_TIMEOUT = 900         # seconds for one delivery run
SENDER = "bench@sender.test"
PROCS = []                # every process started, stopped by PID
# The senders of each run, in order: kantorpos, Postfix with its defaults
# (which close a TLS connection after its delivery: the connection cache
# holds plaintext ones only), Postfix reusing TLS connections through
# tlsproxy (smtp_tls_connection_reuse = yes).
SENDERS = (("k", "kantorpos"), ("p", "Postfix"),
           ("pr", "Postfix, smtp_tls_connection_reuse"))


def say(msg):
    print("== " + msg, file=sys.stderr, flush=True)


def die(msg):
    raise SystemExit("bench/outbound: " + msg)


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       **kw)
    if p.returncode != 0:
        die("%s: %s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.stdout


def start(cmd, log):
    with open(log, "ab") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def wait_port(addr, port, proc=None, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((addr, port), 1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            return f.read()[-n:].decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def chown_nobody(*paths):
    nobody = pwd.getpwnam("nobody")
    for top in paths:
        for d, _, files in os.walk(top):
            for p in [d] + [os.path.join(d, f) for f in files]:
                os.chown(p, nobody.pw_uid, nobody.pw_gid)


def count_files(dirs):
    n = 0
    for d in dirs:
        try:
            n += len(os.listdir(d))
        except FileNotFoundError:
            pass
    return n


# ---- certificate, zone, DNS ---------------------------------------------------

def make_cert(d):
    """A self-signed certificate for the sinks and the hex of its TLSA
    3 1 1 (SHA-256 of the SubjectPublicKeyInfo)."""
    cert, key = os.path.join(d, "sink.crt"), os.path.join(d, "sink.key")
    sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
        "/CN=mx.bench.test", "-keyout", key, "-out", cert])
    os.chmod(key, 0o600)
    spki = subprocess.run(
        "openssl x509 -in %s -pubkey -noout | openssl pkey -pubin "
        "-outform DER | openssl dgst -sha256 -r" % cert, shell=True,
        capture_output=True, text=True, check=True).stdout.split()[0]
    return cert, key, spki


def zone_text(tlsa):
    lines = ["$ORIGIN test.", "$TTL 3600",
             "@ SOA ns.test. hostmaster.test. 1 3600 600 86400 3600",
             "@ NS ns", "ns A 127.0.0.1"]
    for k in range(1, M + 1):
        lines += ["d%d MX 10 mx.d%d" % (k, k), "mx.d%d A %s%d" % (k, NET, k),
                  "_25._tcp.mx.d%d TLSA 3 1 1 %s" % (k, tlsa)]
    return "\n".join(lines) + "\n"


def start_unbound(top, nsd_port, anchor):
    d = os.path.join(top, "unbound")
    os.makedirs(d)
    conf = os.path.join(d, "unbound.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
  interface: {RESOLVER}
  port: 53
  do-ip6: no
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  logfile: "{d}/unbound.log"
  use-syslog: no
  verbosity: 1
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  local-zone: "test." nodefault
  trust-anchor-file: "{anchor}"
  module-config: "validator iterator"
remote-control:
  control-enable: no
stub-zone:
  name: "test."
  stub-addr: 127.0.0.1@{nsd_port}
""")
    sh(["unbound-checkconf", conf])
    p = start(["unbound", "-d", "-c", conf], os.path.join(d, "out.log"))
    if not e2e_dns.wait_dns(53, "d1.test", time.time() + 15, RESOLVER):
        die("unbound does not answer: " + tail(os.path.join(d, "unbound.log")))
    if not ad_bit(RESOLVER, "mx.d1.test"):
        die("unbound does not validate test. (no AD): " +
            tail(os.path.join(d, "unbound.log")))
    return p


def ad_bit(addr, name):
    """Whether addr:53 answers an A question about name with AD set (the
    question sets AD, RFC 6840 section 5.7)."""
    q = bytearray(e2e_dns.query_packet(name, qtype=1))
    q[3] |= 0x20
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        for _ in range(5):
            try:
                s.sendto(bytes(q), (addr, 53))
                r = s.recv(4096)
                return r[:2] == q[:2] and (r[3] & 0x0f) == 0 and \
                    bool(r[3] & 0x20)
            except OSError:
                time.sleep(0.2)
    return False


# ---- the message ---------------------------------------------------------

def message(i, rcpt):
    """Message i to rcpt: SIZE octets with CRLF line ends."""
    head = ("From: %s\r\nTo: %s\r\nSubject: outbound-bench %d\r\n"
            "Date: %s\r\nMessage-ID: <b%d.%s>\r\n\r\n" % (
                SENDER, rcpt, i, email.utils.formatdate(), i,
                "sender.test"))
    body, size = [], len(head)
    while size + 78 <= SIZE - 2:
        body.append("x" * 76)
        size += 78
    body.append("y" * (SIZE - size - 2))
    return (head + "\r\n".join(body) + "\r\n").encode()


def rcpt(i):
    return "u@d%d.test" % (i % M + 1)


# ---- the sinks -----------------------------------------------------------

class Sink:
    """One kantorpos-smtpd, the MX of every test domain, data on tmpfs."""

    def __init__(self, top, cert, key, anchor):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-bench-sink.",
                                    dir="/dev/shm")
        os.chmod(self.dir, 0o755)
        self.top = top
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(top, "sink.log")
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        lines = ["hostname sink.bench.test", "data_dir " + data,
                 "user_db %s/users" % self.dir, "run_as nobody",
                 "tls_cert " + cert, "tls_key " + key,
                 "max_connections_per_ip 10000", "password_opslimit 1",
                 "password_memlimit 8K", "log_level warn",
                 "dns_resolver " + RESOLVER, "dns_trust_anchor " + anchor]
        for k in range(1, M + 1):
            lines += ["local_domain d%d.test" % k,
                      "listen smtp %s%d:25 mx" % (NET, k)]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        for k in range(1, M + 1):
            sh([lib.ADMIN, "-c", self.conf, "user", "add", "u@d%d.test" % k],
               input="sink-password\n")
        chown_nobody(data, os.path.join(self.dir, "users"))
        self.new = [os.path.join(data, "mail", "d%d.test" % k, "u", "new")
                    for k in range(1, M + 1)]
        self.proc = start([lib.SMTPD, "-f", "-c", self.conf], self.log)
        for k in range(1, M + 1):
            if not wait_port(NET + str(k), 25, self.proc):
                die("the sink does not listen on %s%d:25: %s" % (
                    NET, k, tail(self.log)))

    def count(self):
        return count_files(self.new)

    def alone(self):
        """The sink's own pace: smtp-load, plaintext, 50 pipelined
        sessions to one address (its Maildir made by the first message)."""
        load = os.path.join(lib.BUILD, "bench", "smtp-load")
        sh([load, "-H", NET + "1", "-P", "25", "-n", "1", "-r", "u@d1.test"])
        deadline = time.time() + 10
        while not os.path.isdir(self.new[0]) and time.time() < deadline:
            time.sleep(0.05)
        out = sh([load, "-H", NET + "1", "-P", "25", "-c", "50", "-n",
                  str(max(N, 1000)), "-s", str(SIZE), "-p", "-r",
                  "u@d1.test", "-w", self.new[0]])
        m = re.search(r"\brate=([0-9.]+)", out)
        return float(m.group(1)) if m else float("nan")

    def close(self):
        stop(self.proc)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- kantorpos, the sender ----------------------------------------------

class Kantorpos:
    def __init__(self, top, anchor):
        self.dir = os.path.join(top, "kantorpos")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data)
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(self.dir, "smtpd.log")
        self.sub_port = lib.free_port()
        with open(self.conf, "w") as f:
            f.write(f"""hostname mail.sender.test
data_dir {self.data}
user_db {self.dir}/users
run_as nobody
local_domain sender.test
listen smtp 127.0.0.1:{self.sub_port} submission plaintext-ok
drop_dir {self.dir}/drop
log_level info
outbound_tls dane
outbound_concurrency {CONCURRENCY}
outbound_max_sessions {MAX_SESSIONS}
dns_resolver {RESOLVER}
dns_trust_anchor {anchor}
""")
        sh([lib.ADMIN, "-c", self.conf, "user", "add", SENDER],
           input="sender-password\n")
        chown_nobody(self.data, os.path.join(self.dir, "users"))
        self.queue = [os.path.join(self.data, "queue", d)
                      for d in ("items", "tmp")]
        self.proc = None

    def fill(self):
        """N messages into the queue, kantorpos-smtpd stopped."""
        for i in range(N):
            sh([lib.ADMIN, "-c", self.conf, "queue", "add", "-f", SENDER,
                rcpt(i)], input=message(i, rcpt(i)).decode())
        if self.queued() != N:
            die("kantorpos queue holds %d items, not %d" % (self.queued(), N))

    def queued(self):
        return count_files(self.queue)

    def release(self):
        self.log_at = os.path.getsize(self.log) if os.path.exists(
            self.log) else 0
        self.proc = start([lib.SMTPD, "-f", "-c", self.conf], self.log)

    def halt(self):
        stop(self.proc)

    def tls_modes(self):
        """{mode: sessions} of this run's log; fails unless every session
        used STARTTLS."""
        with open(self.log, "rb") as f:
            f.seek(self.log_at)
            text = f.read().decode("utf-8", "replace")
        modes, plain = {}, 0
        for m in re.finditer(r"direct: session to \S+ tls=(\S+) \((\w+)\)",
                             text):
            modes[m.group(1)] = modes.get(m.group(1), 0) + 1
            plain += m.group(2) != "STARTTLS"
        if not modes or plain:
            die("kantorpos: %d sessions, %d without STARTTLS: %s" % (
                sum(modes.values()), plain, text[-3000:]))
        bad = set(modes) - {"dane"}
        if bad:
            die("kantorpos used TLS mode %s, not dane for every session"
                % ", ".join(sorted(bad)))
        return modes


# ---- Postfix, the sender ------------------------------------------------

class Postfix:
    def __init__(self, top):
        self.dir = os.path.join(top, "postfix")
        self.conf = os.path.join(self.dir, "conf")
        self.qdir = os.path.join(self.dir, "queue")
        self.maillog = os.path.join(self.dir, "maillog")
        for d in (self.conf, self.qdir, os.path.join(self.dir, "data")):
            os.makedirs(d)
        shutil.chown(os.path.join(self.dir, "data"), "postfix", "postfix")
        self.port = lib.free_port()
        self.write_master()
        self.write_main()
        sh(["postfix", "-c", self.conf, "check"])
        resolv = os.path.join(self.dir, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver %s\noptions trust-ad\n" % RESOLVER)
        self.started = False
        p = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount --bind "$1" /etc/resolv.conf && exec postfix -c "$2" start',
             "sh", resolv, self.conf], capture_output=True, text=True,
            timeout=60)
        if p.returncode != 0:
            die("postfix did not start: %s%s%s" % (p.stdout, p.stderr,
                                                  tail(self.maillog)))
        self.started = True
        if not wait_port("127.0.0.1", self.port):
            die("postfix does not listen: " + tail(self.maillog))
        self.queue = [os.path.join(self.qdir, d) for d in
                      ("maildrop", "incoming", "active", "deferred", "hold")]

    def write_master(self):
        """The system's master.cf without its inet services and without
        chroot, with tlsproxy (Debian ships it commented out), plus the
        listener the messages come in by."""
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                if line.startswith("#tlsproxy "):
                    line = line[1:]
                fields = line.split()
                if line[:1] not in "# \t\n" and len(fields) >= 8:
                    if fields[1] == "inet":
                        continue
                    fields[4] = "n"
                    line = " ".join(fields) + "\n"
                out.append(line)
        out.append("127.0.0.1:%d inet n - n - - smtpd\n" % self.port)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.writelines(out)

    def write_main(self):
        hold = os.path.join(self.conf, "hold")
        with open(hold, "w") as f:
            f.write("/^Subject: outbound-bench / HOLD\n")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {self.qdir}
data_directory = {self.dir}/data
maillog_file = {self.maillog}
maillog_file_prefixes = {self.dir}
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtputf8_enable = no
header_checks = regexp:{hold}
default_transport = smtp
smtp_dns_support_level = dnssec
dnssec_probe = ns:test.
smtp_tls_security_level = dane
smtp_tls_loglevel = 1
smtp_destination_concurrency_limit = {CONCURRENCY}
default_process_limit = {MAX_SESSIONS}
""")

    def fill(self):
        """N messages in over SMTP; they wait in the hold queue."""
        s = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        s.ehlo("client.sender.test")
        for i in range(N):
            s.sendmail(SENDER, [rcpt(i)], message(i, rcpt(i)))
        s.quit()
        hold = [os.path.join(self.qdir, "hold")]
        deadline = time.time() + 120
        while count_files(hold) < N and time.time() < deadline:
            time.sleep(0.1)
        if count_files(hold) != N or self.queued() != N:
            die("postfix holds %d of %d messages (%d queued): %s" % (
                count_files(hold), N, self.queued(), tail(self.maillog)))

    def queued(self):
        n = 0
        for d in self.queue:
            for _, _, files in os.walk(d):
                n += len(files)
        return n

    def release(self):
        self.log_at = os.path.getsize(self.maillog)
        sh(["postsuper", "-c", self.conf, "-H", "ALL"])
        sh(["postqueue", "-c", self.conf, "-f"])

    def halt(self):
        pass

    def reuse(self, on):
        """smtp_tls_connection_reuse on or off (TLS connections kept
        through tlsproxy, Postfix 3.4 and later), then a reload."""
        sh(["postconf", "-c", self.conf, "-e",
            "smtp_tls_connection_reuse = " + ("yes" if on else "no")])
        sh(["postfix", "-c", self.conf, "reload"])
        time.sleep(1)

    def tls_modes(self):
        """{trust level: connections} of this run; fails unless every
        TLS connection was Verified (DANE) and every message sent."""
        with open(self.maillog, "rb") as f:
            f.seek(self.log_at)
            text = f.read().decode("utf-8", "replace")
        levels = {}
        for m in re.finditer(r"postfix/(?:smtp|tlsproxy)\[\d+\]: (\w+) TLS "
                             r"connection established to", text):
            levels[m.group(1)] = levels.get(m.group(1), 0) + 1
        sent = len(re.findall(r"postfix/smtp\[\d+\]: \S+: to=.*status=sent",
                              text))
        if not levels or set(levels) != {"Verified"} or sent != N:
            die("postfix did not deliver all with DANE: %s, sent=%d: %s" % (
                levels, sent, text[-3000:]))
        return {"dane": levels["Verified"]}

    def close(self):
        if self.started:
            subprocess.run(["postfix", "-c", self.conf, "stop"],
                           capture_output=True, timeout=60)


# ---- measuring ------------------------------------------------------------

def deliver(sender, sink):
    """Release the held queue; messages/s until it is empty and every
    message is at the sink."""
    base = sink.count()
    t0 = time.monotonic()
    sender.release()
    deadline = t0 + RUN_TIMEOUT
    while time.monotonic() < deadline:
        if sink.count() >= base + N and sender.queued() == 0:
            break
        time.sleep(0.02)
    took = time.monotonic() - t0
    got = sink.count() - base
    sender.halt()
    if got != N or sender.queued() != 0:
        die("%s: %d of %d at the sinks, %d still queued after %ds" % (
            type(sender).__name__, got, N, sender.queued(), RUN_TIMEOUT))
    return N / took


def mode_text(modes):
    return ", ".join("%s (%d sessions)" % (m, n)
                     for m, n in sorted(modes.items()))


def section(rates, modes, sink_rate):
    med = {name: statistics.median(r) for name, r in rates.items()}

    def ratio(p):
        return "%.2f" % (med["k"] / med[p]) if med[p] > 0 else "-"

    def runs(name):
        return " / ".join("%.1f" % r for r in rates[name])

    out = ["## Outbound: queued to the MX hosts", "",
           "%d messages of %d octets, spread evenly over %d domains "
           "(d1.test .. d%d.test), each with one MX host on its own "
           "127.0.1.K:25, queued with delivery held, then released: "
           "messages/s until the sender's queue is empty and every message "
           "is a file at a sink; median of %d runs (each run: kantorpos %s; "
           "Postfix %s; Postfix reusing TLS connections %s)." % (
               N, SIZE, M, M, RUNS, runs("k"), runs("p"), runs("pr")),
           "",
           "| N | M | Postfix setting | kantorpos msg/s | Postfix msg/s | ratio | kantorpos TLS | Postfix TLS |",
           "|---|---|---|---|---|---|---|---|"]
    for p, what in (("p", "defaults"),
                    ("pr", "smtp_tls_connection_reuse = yes")):
        out.append("| %d | %d | %s | %.1f | %.1f | %s | %s | %s |" % (
            N, M, what, med["k"], med[p], ratio(p), mode_text(modes["k"]),
            mode_text(modes[p])))
    out += ["",
            "Sink alone (one kantorpos-smtpd on tmpfs, plaintext, 50 "
            "pipelined sessions): %.1f msg/s." % sink_rate,
            "",
            "- DNS: nsd serves the signed zone test. (an MX, an A and a "
            "`_25._tcp` TLSA 3 1 1 of the sinks' certificate per domain) "
            "behind a sandboxed validating unbound; both senders ask that "
            "unbound, Postfix through its resolver library (a resolv.conf "
            "with `options trust-ad`, bind-mounted in a private mount "
            "namespace) with smtp_dns_support_level = dnssec and "
            "smtp_tls_security_level = dane, kantorpos through "
            "dns_resolver, validating by itself from the same DS "
            "(dns_trust_anchor) with outbound_tls dane.",
            "- TLS: Postfix's column counts its \"Verified TLS connection\" "
            "log lines (it has no CA file, so only a TLSA match verifies); "
            "the run fails if any connection was not verified. kantorpos's "
            "column is the mode its log names per session; the run fails "
            "unless every one is dane (STARTTLS and the certificate matched "
            "the validated TLSA records).",
            "- Limits: kantorpos's defaults, outbound_concurrency %d per MX "
            "host and outbound_max_sessions %d; Postfix "
            "smtp_destination_concurrency_limit = %d (one MX host per "
            "domain) and default_process_limit = %d, the rest its defaults "
            "(connection cache on demand, slow start from "
            "initial_destination_concurrency 5). By default Postfix "
            "caches plaintext connections only and closes a TLS one after "
            "its delivery; the second row lets it keep them through "
            "tlsproxy, as kantorpos keeps its sessions for the next "
            "message to the same host." % (
                CONCURRENCY, MAX_SESSIONS, CONCURRENCY, MAX_SESSIONS),
            "- Holding: kantorpos's messages are queued with `kantorpos "
            "queue add` while kantorpos-smtpd is stopped, and its clock "
            "starts when it is started (its start-up counts); Postfix's "
            "come in over SMTP into its hold queue (header_checks HOLD) "
            "and its clock starts before `postsuper -H ALL` and `postqueue "
            "-f`. Both queues are on the disk of the other figures; the "
            "sink's Maildirs are on tmpfs.",
            ""]
    return "\n".join(out)


def bench(top):
    say("outbound: certificate, signed zone, nsd, unbound")
    cert, key, tlsa = make_cert(top)
    signed, ds = e2e_dns.sign_zone(os.path.join(top, "keys"), "test",
                                   zone_text(tlsa))
    anchor = os.path.join(top, "test.ds")
    with open(anchor, "w") as f:
        f.write(ds)
    os.chmod(top, 0o755)
    nsd = e2e_dns.Nsd(top, "nsd", [("test.", signed)], False).start()
    PROCS.append(nsd.proc)
    start_unbound(top, nsd.port, anchor)
    say("outbound: the sink (kantorpos-smtpd on %s1..%d:25)" % (NET, M))
    sink = Sink(top, cert, key, anchor)
    senders = {"k": Kantorpos(top, anchor)}
    try:
        say("outbound: Postfix in its own mount namespace")
        senders["p"] = Postfix(top)
        sink_rate = sink.alone()
        say("outbound: sink alone %.1f msg/s" % sink_rate)
        rates, modes = {name: [] for name, _ in SENDERS}, {}
        for run in range(1, RUNS + 1):
            for name, what in SENDERS:
                s = senders[name[0]]
                if name != "k":
                    s.reuse(name == "pr")
                say("outbound: run %d, %s: queueing %d messages" % (
                    run, what, N))
                s.fill()
                rate = deliver(s, sink)
                modes[name] = s.tls_modes()
                rates[name].append(rate)
                say("outbound: run %d, %s: %.1f msg/s, TLS %s" % (
                    run, what, rate, mode_text(modes[name])))
        return section(rates, modes, sink_rate)
    finally:
        if "p" in senders:
            senders["p"].close()
        sink.close()


def main():
    # Ended by a signal, it still stops what it started (the finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if os.geteuid() != 0:
        die("needs root: Postfix's sandbox, the mount namespace, port 25")
    for tool in ("nsd", "unbound", "ldns-signzone", "postfix", "unshare"):
        if shutil.which(tool) is None:
            die("%s is missing (scripts/deps.sh, group peers)" % tool)
    top = tempfile.mkdtemp(prefix="kantorpos-bench-out.",
                           dir=os.environ.get("BENCH_DIR", "/var/tmp"))
    try:
        print(bench(top))
    finally:
        for p in reversed(PROCS):
            stop(p)
        if os.environ.get("BENCH_KEEP"):
            say("kept " + top)
        else:
            shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
