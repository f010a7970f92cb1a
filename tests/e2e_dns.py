#!/usr/bin/env python3
"""tests/e2e_dns.py: kantorpos's resolver (common/dns) end to end, through
tests/dnsq, against a sandboxed NSD that the test starts (its own config,
zones and pid file, a free loopback port, 127.0.0.1 and ::1 when IPv6
binds, no user switch) serving zones the test writes:

- test.: remote.test (MX 10 a, MX 20 b, a TXT of three strings),
  equal.test (two MX of preference 10), aonly.test (A only), nullmx.test
  (MX 0 .), loop.test <-> loop2.test (a CNAME loop), alias.test (a CNAME
  to remote.test), big.test (200 MX), nx.test absent (NXDOMAIN);
- example.: www.example, and 168.192.in-addr.arpa. (a LAN's reverse
  zone), to show that names under example. and the private reverse zones
  reach the configured servers too;
- dane.test, signed here with ldns-keygen and ldns-signzone, with TLSA
  records; the trust anchor is its KSK's DS in a file of the test's own;
- a reverse zone for PTR.

Asserted: MX order and records, NODATA, NXDOMAIN, the loop as TEMPFAIL,
dane.test's TLSA secure with the anchor (and its denial of a name), names
outside the anchor insecure (not bogus), also with the root's anchor in
the same file, BOGUS from a second NSD serving a copy of dane.test with a
signature corrupted, TEMPFAIL within -T 2 seconds from a port where nothing
answers, from a UDP server that answers garbage and from one that answers
TC with no TCP behind it.

Skipped (exit 77, "SKIP: reason") when nsd or ldnsutils are missing. Every
process started is stopped by its PID at the end. Prints one line per test
and "N passed, N failed, N skipped"."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import BUILD, Skip, free_port, run_tests  # noqa: E402

DNSQ = os.path.join(BUILD, "tests", "dnsq")
ROOT_KEY = "/usr/share/dns/root.key"
SKIP = 77
TIMEOUT = 30

TESTS = []
PROCS = []          # every process started, stopped by PID in finish()
SERVERS = []        # the fake UDP servers (threads), closed in finish()


def test(fn):
    TESTS.append(fn)
    return fn


# ---- zones ----------------------------------------------------------------

TLSA_311 = "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"
TLSA_302 = ("0f" * 32) + ("a5" * 32)

ZONE_TEST = """$ORIGIN test.
$TTL 300
@         SOA   ns.test. hostmaster.test. 1 3600 600 86400 300
@         NS    ns.test.
ns        A     127.0.0.1
remote    MX    10 a.remote
remote    MX    20 b.remote
remote    TXT   "v=spf1 " "ip4:127.0.0.0/8" " -all"
a.remote  A     127.0.0.2
a.remote  AAAA  ::2
b.remote  A     127.0.0.3
equal     MX    10 x.equal
equal     MX    10 y.equal
aonly     A     127.0.0.5
nullmx    MX    0 .
loop      CNAME loop2
loop2     CNAME loop
alias     CNAME remote
dane      NS    ns.test.
"""

ZONE_EXAMPLE = """$ORIGIN example.
$TTL 300
@         SOA   ns.example. hostmaster.example. 1 3600 600 86400 300
@         NS    ns.example.
ns        A     127.0.0.1
www       A     127.0.0.9
"""

ZONE_DANE = """$ORIGIN dane.test.
$TTL 300
@           SOA   ns.test. hostmaster.dane.test. 1 3600 600 86400 300
@           NS    ns.test.
@           MX    10 mx
mx          A     127.0.0.2
_25._tcp.mx TLSA  3 1 1 %s
_25._tcp.mx TLSA  3 0 2 %s
""" % (TLSA_311, TLSA_302)

ZONE_REVERSE = """$ORIGIN 5.3.in-addr.arpa.
$TTL 300
@         SOA   ns.test. hostmaster.test. 1 3600 600 86400 300
@         NS    ns.test.
9.7       PTR   mail.remote.test.
"""

ZONE_LAN = """$ORIGIN 168.192.in-addr.arpa.
$TTL 300
@         SOA   ns.test. hostmaster.test. 1 3600 600 86400 300
@         NS    ns.test.
5.1       PTR   host.lan.test.
"""


def big_zone():
    return "".join("big MX %d h%d.big\n" % (i, i) for i in range(200))


# ---- the sandbox ----------------------------------------------------------

def has_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_udp_port():
    """A port free for both UDP and TCP on 127.0.0.1 a moment ago."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free UDP port")


def query_packet(name, qtype=6, qid=0x4b50):
    wire = b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
    return (qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00"
            b"\x00\x00" + wire + b"\x00" + qtype.to_bytes(2, "big") +
            b"\x00\x01")


def wait_dns(port, name, deadline, addr="127.0.0.1"):
    """Until the server on addr:port answers a question about name."""
    while time.time() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(query_packet(name), (addr, port))
                if s.recv(4096)[:2] == b"\x4b\x50":
                    return True
            except OSError:
                pass
        time.sleep(0.1)
    return False


class Nsd:
    """One sandboxed NSD serving the zones in its directory."""

    def __init__(self, top, name, zones, v6):
        self.dir = os.path.join(top, name)
        os.makedirs(self.dir)
        self.port = free_udp_port()
        addrs = ["127.0.0.1"] + (["::1"] if v6 else [])
        conf = ["server:"]
        conf += ["  ip-address: %s" % a for a in addrs]
        conf += ["  port: %d" % self.port, '  username: ""',
                 '  database: ""', '  chroot: ""',
                 '  zonesdir: "%s"' % self.dir,
                 '  pidfile: "%s/nsd.pid"' % self.dir,
                 '  xfrdfile: "%s/xfrd.state"' % self.dir,
                 '  xfrdir: "%s"' % self.dir,
                 '  zonelistfile: "%s/zone.list"' % self.dir,
                 '  logfile: "%s/nsd.log"' % self.dir,
                 "  server-count: 1", "  verbosity: 1",
                 "remote-control:", "  control-enable: no"]
        for zone, text in zones:
            fname = zone.rstrip(".") + ".zone"
            with open(os.path.join(self.dir, fname), "w") as f:
                f.write(text)
            conf += ["zone:", "  name: %s" % zone, "  zonefile: %s" % fname]
        self.conf = os.path.join(self.dir, "nsd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")

    def start(self):
        check = subprocess.run(["nsd-checkconf", self.conf],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("nsd-checkconf: " + check.stdout + check.stderr)
        self.proc = subprocess.Popen(["nsd", "-d", "-c", self.conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        PROCS.append(self.proc)
        if not wait_dns(self.port, "remote.test", time.time() + 15):
            raise RuntimeError("nsd did not answer: " + self.log())
        return self

    def log(self):
        try:
            with open(os.path.join(self.dir, "nsd.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return "(no log)"


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       timeout=TIMEOUT)
    if p.returncode != 0:
        raise RuntimeError("%s: %s%s" % (cmd[0], p.stdout, p.stderr))
    return p.stdout.strip()


def sign_zone(top, origin, text, work=None):
    """The zone origin (no final dot) with text signed with a KSK and a
    ZSK of its own, in work (default top/keys-ORIGIN); the signed zone and
    the KSK's DS."""
    work = work or os.path.join(top, "keys-" + origin)
    os.makedirs(work)
    with open(os.path.join(work, origin + ".zone"), "w") as f:
        f.write(text)
    ksk = run(["ldns-keygen", "-r", "/dev/urandom", "-a", "ECDSAP256SHA256",
               "-k", origin], work)
    zsk = run(["ldns-keygen", "-r", "/dev/urandom", "-a", "ECDSAP256SHA256",
               origin], work)
    run(["ldns-signzone", origin + ".zone", zsk, ksk], work)
    with open(os.path.join(work, origin + ".zone.signed")) as f:
        signed = f.read()
    with open(os.path.join(work, ksk + ".ds")) as f:
        ds = f.read()
    return signed, ds


def sign_dane(top):
    """dane.test signed with a KSK and a ZSK of its own; the signed zone,
    the KSK's DS and a copy with the TLSA signature corrupted."""
    signed, ds = sign_zone(top, "dane.test", ZONE_DANE,
                           os.path.join(top, "keys"))
    return signed, ds, tamper(signed)


def tamper(signed):
    """The signed zone with one octet of the TLSA RRset's signature
    changed (its base64 text, mid-signature)."""
    out = []
    done = False
    for line in signed.splitlines():
        fields = line.split()
        if not done and len(fields) > 5 and fields[3] == "RRSIG" and \
                fields[4] == "TLSA":
            sig = list(fields[-1])
            i = len(sig) // 2
            sig[i] = "A" if sig[i] != "A" else "B"
            fields[-1] = "".join(sig)
            line = "\t".join(fields)
            done = True
        out.append(line)
    assert done, "no TLSA signature in the signed zone"
    return "\n".join(out) + "\n"


class FakeServer:
    """A UDP server on 127.0.0.1 that answers each question with
    answer(query) (bytes, or None for silence), in a thread of its own."""

    def __init__(self, answer):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", free_udp_port()))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.queries = 0
        threading.Thread(target=self.serve, daemon=True).start()
        SERVERS.append(self)

    def serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            self.queries += 1
            reply = self.answer(data)
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    return

    def close(self):
        self.sock.close()


def garbage(query):
    """The query's ID and a response header, then octets that are no DNS
    message: the resolver has to read it to find out."""
    return query[:2] + b"\x81\x80\x00\x01\x00\x05\x00\x00\x00\x00" + \
        b"\xc0\xff\x3f" * 20


def truncated(query):
    """The question back with QR and TC set and no records (and nothing
    listens on TCP there)."""
    return query[:2] + b"\x83\x80" + query[4:6] + b"\x00" * 6 + query[12:]


# ---- dnsq -----------------------------------------------------------------

LINE = re.compile(r'^(\S+) (\S+) (OK|NODATA|NXDOMAIN|TEMPFAIL|BOGUS) '
                  r'(secure|insecure) ttl=(\d+) canon=(\S*)( capped)?'
                  r'(?: why="(.*?)")?(?: (.*))?$')


class Answer:
    def __init__(self, line):
        m = LINE.match(line)
        assert m, "not a dnsq line: %r" % line
        (self.type, self.name, self.status, self.security, ttl, self.canon,
         capped, self.why, records) = m.groups()
        self.ttl = int(ttl)
        self.capped = capped is not None
        self.records = records or ""
        self.line = line

    def __repr__(self):
        return self.line


def dnsq(qtype, *names, servers=None, anchor=None, timeout=None):
    """Answers of dnsq, one per name; with the elapsed time."""
    cmd = [DNSQ]
    for s in servers or ["127.0.0.1@%d" % NSD.port]:
        cmd += ["-s", s]
    if anchor:
        cmd += ["-t", anchor]
    if timeout:
        cmd += ["-T", str(timeout)]
    t = time.time()
    p = subprocess.run(cmd + [qtype] + list(names), capture_output=True,
                       text=True, timeout=TIMEOUT)
    took = time.time() - t
    assert p.returncode == 0, (cmd, p.returncode, p.stdout, p.stderr)
    lines = p.stdout.splitlines()
    assert len(lines) == len(names), p.stdout + p.stderr
    return [Answer(l) for l in lines], took


def one(qtype, name, **kw):
    return dnsq(qtype, name, **kw)[0][0]


def expect(a, status, security=None, records=None, canon=None):
    assert a.status == status, a
    if security is not None:
        assert a.security == security, a
    if records is not None:
        assert a.records == records, a
    if canon is not None:
        assert a.canon == canon, a


# ---- tests ----------------------------------------------------------------

@test
def mx_in_preference_order():
    a = one("MX", "remote.test")
    expect(a, "OK", "insecure", "10 a.remote.test. 20 b.remote.test.",
           "remote.test")
    assert a.ttl == 300 and not a.capped, a


@test
def equal_preferences_both_there():
    a = one("MX", "equal.test")
    expect(a, "OK")
    assert sorted(a.records.split(" ")[1::2]) == ["x.equal.test.",
                                                 "y.equal.test."], a
    assert a.records.split(" ")[0::2] == ["10", "10"], a


@test
def a_only_domain_has_no_mx():
    expect(one("MX", "aonly.test"), "NODATA", "insecure", "")
    expect(one("A", "aonly.test"), "OK", "insecure", "127.0.0.5")


@test
def null_mx():
    expect(one("MX", "nullmx.test"), "OK", "insecure", "0 .")


@test
def nxdomain():
    a = one("MX", "nx.test")
    expect(a, "NXDOMAIN", "insecure", "", "nx.test")
    assert a.ttl == 300, a    # the SOA's negative TTL


@test
def cname_loop_is_tempfail():
    a = one("MX", "loop.test")
    expect(a, "TEMPFAIL", records="")
    assert a.why, a


@test
def cname_followed():
    expect(one("MX", "alias.test"), "OK",
           records="10 a.remote.test. 20 b.remote.test.",
           canon="remote.test")


@test
def huge_mx_set_capped():
    a = one("MX", "big.test")
    expect(a, "OK")
    prefs = a.records.split(" ")[0::2]
    assert a.capped and prefs == [str(i) for i in range(100)], a


@test
def txt_aaaa_ptr():
    expect(one("TXT", "remote.test"), "OK",
           records='"v=spf1 ip4:127.0.0.0/8 -all"')
    expect(one("AAAA", "a.remote.test"), "OK", records="::2")
    expect(one("PTR", "3.5.7.9"), "OK", records="mail.remote.test.",
           canon="9.7.5.3.in-addr.arpa")


@test
def example_names_reach_the_server():
    expect(one("A", "www.example"), "OK", "insecure", "127.0.0.9")
    # A LAN's reverse zone (RFC 1918) reaches the servers too.
    expect(one("PTR", "192.168.1.5"), "OK", records="host.lan.test.")
    # localhost. and invalid. stay libunbound's own answers.
    expect(one("A", "localhost"), "OK", records="127.0.0.1")
    expect(one("A", "foo.invalid"), "NXDOMAIN")


@test
def over_ipv6():
    if not V6:
        raise Skip("::1 does not bind here")
    expect(one("MX", "remote.test", servers=["::1@%d" % NSD.port]), "OK",
           records="10 a.remote.test. 20 b.remote.test.")


@test
def dane_tlsa_secure_with_the_anchor():
    a = one("TLSA", "_25._tcp.mx.dane.test", anchor=ANCHOR)
    expect(a, "OK", "secure")
    assert set(re.findall(r"3 [01] [12] [0-9a-f]+", a.records)) == \
        {"3 1 1 " + TLSA_311, "3 0 2 " + TLSA_302}, a
    expect(one("MX", "dane.test", anchor=ANCHOR), "OK", "secure",
           "10 mx.dane.test.")
    expect(one("A", "nothere.dane.test", anchor=ANCHOR), "NXDOMAIN",
           "secure")


@test
def dane_without_anchor_is_insecure():
    expect(one("TLSA", "_25._tcp.mx.dane.test"), "OK", "insecure")


@test
def outside_the_anchor_insecure_not_bogus():
    expect(one("MX", "remote.test", anchor=ANCHOR), "OK", "insecure",
           "10 a.remote.test. 20 b.remote.test.")


@test
def root_anchor_beside_the_test_anchor():
    """The root's anchor and dane.test's in one file: the lab's names are
    insecure (not bogus), dane.test still secure."""
    if not os.path.exists(ROOT_KEY):
        raise Skip("%s is missing (package dns-root-data)" % ROOT_KEY)
    both = os.path.join(TOP, "root-and-dane.key")
    with open(ROOT_KEY) as f, open(both, "w") as out:
        out.write(f.read() + "\n" + open(ANCHOR).read())
    expect(one("MX", "remote.test", anchor=both), "OK", "insecure")
    expect(one("TLSA", "_25._tcp.mx.dane.test", anchor=both), "OK",
           "secure")
    expect(one("MX", "remote.test", anchor=ROOT_KEY), "OK", "insecure")


@test
def corrupted_signature_is_bogus():
    server = ["127.0.0.1@%d" % TAMPERED.port]
    a = one("TLSA", "_25._tcp.mx.dane.test", servers=server, anchor=ANCHOR)
    expect(a, "BOGUS", records="")
    assert a.why, a
    # The other RRsets of the zone still validate.
    expect(one("MX", "dane.test", servers=server, anchor=ANCHOR), "OK",
           "secure")
    # Without validation the tampered answer is just insecure data.
    expect(one("TLSA", "_25._tcp.mx.dane.test", servers=server), "OK",
           "insecure")


@test
def nothing_answers_tempfail_in_time():
    dead = free_udp_port()
    (a,), took = dnsq("MX", "remote.test", servers=["127.0.0.1@%d" % dead],
                      timeout=2)
    expect(a, "TEMPFAIL")
    assert took <= 4.0, took


@test
def garbage_answers_tempfail():
    srv = FakeServer(garbage)
    (a,), took = dnsq("MX", "remote.test",
                      servers=["127.0.0.1@%d" % srv.port], timeout=2)
    expect(a, "TEMPFAIL")
    assert took <= 4.0 and srv.queries > 0, (took, srv.queries)


@test
def truncated_answers_without_tcp_tempfail():
    srv = FakeServer(truncated)
    (a,), took = dnsq("MX", "remote.test",
                      servers=["127.0.0.1@%d" % srv.port], timeout=2)
    expect(a, "TEMPFAIL")
    assert took <= 4.0 and srv.queries > 0, (took, srv.queries)


@test
def many_names_at_once():
    names = ["remote.test", "aonly.test", "nullmx.test", "nx.test",
             "equal.test"] * 4
    answers, took = dnsq("MX", *names)
    assert [a.name for a in answers] == names
    assert [a.status for a in answers[:5]] == ["OK", "NODATA", "OK",
                                               "NXDOMAIN", "OK"], answers
    assert took < 10, took


# ---- running ----------------------------------------------------------------

TOP = NSD = TAMPERED = ANCHOR = None
V6 = False


def start():
    global TOP, NSD, TAMPERED, ANCHOR, V6
    TOP = tempfile.mkdtemp(prefix="kantorpos-e2e-dns-")
    V6 = has_ipv6()
    signed, ds, tampered = sign_dane(TOP)
    ANCHOR = os.path.join(TOP, "dane.test.anchor")
    with open(ANCHOR, "w") as f:
        f.write(ds)
    zones = [("test.", ZONE_TEST + big_zone()), ("example.", ZONE_EXAMPLE),
             ("5.3.in-addr.arpa.", ZONE_REVERSE),
             ("168.192.in-addr.arpa.", ZONE_LAN)]
    NSD = Nsd(TOP, "nsd", zones + [("dane.test.", signed)], V6).start()
    TAMPERED = Nsd(TOP, "nsd-tampered", zones + [("dane.test.", tampered)],
                   False).start()
    return ()


def stop_procs():
    """Stop every process started (the NSDs), each by its PID; also for
    the scripts that use Nsd."""
    for p in PROCS:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()


def finish(args, failed):
    for srv in SERVERS:
        srv.close()
    stop_procs()
    if failed:
        for n in (NSD, TAMPERED):
            if n is not None:
                print("---- %s/nsd.log (tail)\n%s" % (n.dir, n.log()))
    if TOP is not None:
        shutil.rmtree(TOP, ignore_errors=True)


def main():
    if not os.access(DNSQ, os.X_OK):
        print("missing %s" % DNSQ)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    for tool, pkg in (("nsd", "nsd"), ("ldns-keygen", "ldnsutils"),
                      ("ldns-signzone", "ldnsutils")):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (Debian package %s, in "
                  "scripts/deps.sh's test group)" % (tool, pkg))
            print("0 passed, 0 failed, 1 skipped")
            return SKIP
    return run_tests(TESTS, start, finish, only=sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
