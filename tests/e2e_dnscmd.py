#!/usr/bin/env python3
"""tests/e2e_dnscmd.py: `kantorpos dns DOMAIN [--check]` end to end, with
the sandboxed NSD of tests/e2e_dns.py (e2e_dns.Nsd) as the configured
dns_resolver (dns_trust_anchor none: unsigned zones).

- good.test: its zone, and the reverse zones of its addresses, are written
  from the command's own printed output (the record lines as they are, the
  PTR records from their comment lines), with two dkim_sign keys (RSA and
  Ed25519, made by openssl; their printed p= checked against openssl's
  public key): a round trip, --check says ok on
  every line and exits 0. The printed TLSA is checked against openssl's
  SHA-256 of the certificate's public key, the MTA-STS id is digits, the
  SPF has the relayhost's include.
- bad.test (another configuration, HOSTNAME mail.bad.test): a zone with a
  foreign MX, a wrong address and its PTR, two SPF records, a DMARC
  record without a valid p=, TLS-RPT with an ftp: rua, an SRV on another
  port, another key's TLSA, another DKIM key for one selector and none
  for the other, no MTA-STS and no _pop3s: --check exits 1 and says
  missing or differs on exactly those lines.
- Listeners on * only: the command asks for HOSTNAME's addresses, and
  --check takes any of them.
- A name that is no local_domain: exit 64 and a message naming the local
  domains; a resolver that does not answer: exit 75, "try again later".

The addresses are outside the ranges whose reverse zones libunbound
answers itself (RFC 6761's, the documentation prefixes): nothing is ever
sent to them, the configuration only names them.

Skipped (exit 77, "SKIP: reason") when nsd is missing. Every process
started is stopped by its PID at the end. Prints one line per test and
"N passed, N failed, N skipped"."""

import base64
import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_dns  # noqa: E402  (Nsd, free_udp_port, stop_procs)
from e2e_lib import ADMIN, make_cert, run_tests  # noqa: E402

SKIP = 77
TIMEOUT = 60
TESTS = []
TOP = NSD = None
GOOD = {}           # "conf", "printed", "cert"
BAD = {}
KEYS = {}           # DKIM key name -> its file

SOA = """$TTL 300
@ SOA ns.%(z)s hostmaster.%(z)s 1 3600 600 86400 300
@ NS ns.%(z)s
"""


def conf_text(host, domain, cert, key, listeners, extra="", port=None):
    lines = ["hostname " + host, "data_dir " + os.path.join(TOP, "data"),
             "user_db " + os.path.join(TOP, "users"),
             "local_domain " + domain, "tls_cert " + cert,
             "tls_key " + key, "dns_trust_anchor none"]
    lines += ["listen " + l for l in listeners]
    if port is not None:
        lines.append("dns_resolver 127.0.0.1:%d" % port)
    return "\n".join(lines) + "\n" + extra


def write_conf(name, text):
    path = os.path.join(TOP, name + ".conf")
    with open(path, "w") as f:
        f.write(text)
    return path


def kantorpos(conf, *args):
    return subprocess.run([ADMIN, "-c", conf] + list(args),
                          capture_output=True, text=True, timeout=TIMEOUT)


def zone_lines(printed):
    """The record lines of the output, and the PTR records of its
    comments (the reverse zones belong to whoever gives the address)."""
    recs = [l for l in printed.splitlines() if l and not l.startswith(";")]
    ptrs = [m.group(1) for m in
            re.finditer(r"^;\s+(\S+\.arpa\. IN PTR \S+)$", printed, re.M)]
    return recs, ptrs


def spki_sha256(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey",
                          "-noout"], check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                         input=pub, check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def make_site(d, name, host, domain, listeners, extra=""):
    d["cert"] = os.path.join(TOP, name + ".crt")
    d["key"] = os.path.join(TOP, name + ".key")
    make_cert(d["key"], d["cert"], cn=host)
    d["args"] = (host, domain, d["cert"], d["key"], listeners, extra)
    d["conf"] = write_conf(name, conf_text(*d["args"]))


BAD_ZONE = """$ORIGIN bad.test.
@ MX 10 mx.other.example.
mail A 3.5.7.99
@ TXT "v=spf1 mx -all"
@ TXT "v=spf1 a -all"
@ TXT "site-verification=1234"
_dmarc TXT "v=DMARC1; rua=mailto:postmaster@bad.test"
_smtp._tls TXT "v=TLSRPTv1; rua=ftp://reports.bad.test/"
_submission._tcp SRV 0 1 2525 mail.bad.test.
_25._tcp.mail TLSA 3 1 1 %s
sel1._domainkey TXT %s
"""


def make_key(name, rsa=True):
    """A DKIM signing key made with openssl (mode 0600): its path."""
    path = os.path.join(TOP, name + ".dkim")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", path] if rsa else
                   ["openssl", "genpkey", "-algorithm", "ED25519", "-out",
                    path], check=True, capture_output=True)
    os.chmod(path, 0o600)
    KEYS[name] = path
    return path


def dkim_p(name):
    """The p= of key name's record, from openssl: the DER
    SubjectPublicKeyInfo in base64 (RSA), or its last 32 octets, the raw
    public key (Ed25519, RFC 8463 4.2)."""
    der = subprocess.run(["openssl", "pkey", "-in", KEYS[name], "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    raw = der[-32:] if len(der) == 44 else der
    return base64.b64encode(raw).decode()


def start():
    global TOP, NSD
    TOP = tempfile.mkdtemp(prefix="kantorpos-e2e-dnscmd-")
    make_site(GOOD, "good", "mail.good.test", "good.test",
              ["smtp 3.5.7.10:25", "smtp [2001:67c:2e8::10]:587 submission",
               "smtp 3.5.7.10:465 submissions", "pop3 3.5.7.10:110",
               "pop3 3.5.7.10:995 tls", "smtp 127.0.0.1:2525 submission"],
              "relayhost smtp.provider.example:587\n"
              "dkim_sign good.test rsa1 %s\n"
              "dkim_sign good.test ed1 %s\n" % (
                  make_key("rsa1"), make_key("ed1", rsa=False)))
    make_key("other")
    make_site(BAD, "bad", "mail.bad.test", "bad.test",
              ["smtp 3.5.7.20:25", "smtp 3.5.7.20:587 submission",
               "pop3 3.5.7.20:995 tls"],
              "dkim_sign bad.test sel1 %s\ndkim_sign bad.test sel2 %s\n" % (
                  make_key("bad1"), make_key("bad2", rsa=False)))
    out = kantorpos(GOOD["conf"], "dns", "good.test")
    assert out.returncode == 0, out
    GOOD["printed"] = out.stdout
    recs, ptrs = zone_lines(out.stdout)
    v4 = [p for p in ptrs if "in-addr.arpa" in p]
    v6 = [p for p in ptrs if "ip6.arpa" in p]
    good = "$ORIGIN good.test.\n" + SOA % {"z": "good.test."} + \
        "ns A 127.0.0.1\n" + "\n".join(recs) + "\n"
    rev4 = "$ORIGIN 7.5.3.in-addr.arpa.\n" + \
        SOA % {"z": "good.test."} + "\n".join(v4) + "\n" + \
        "99 PTR dsl-99.isp.example.\n"
    rev6 = "$ORIGIN 8.e.2.0.c.7.6.0.1.0.0.2.ip6.arpa.\n" + \
        SOA % {"z": "good.test."} + "\n".join(v6) + "\n"
    other = "v=DKIM1; k=rsa; p=" + dkim_p("other")
    bad = BAD_ZONE % (spki_sha256(GOOD["cert"]), " ".join(
        '"%s"' % other[i:i + 200] for i in range(0, len(other), 200)))
    bad = bad.replace("$ORIGIN bad.test.\n", "$ORIGIN bad.test.\n" +
                      SOA % {"z": "bad.test."} + "ns A 127.0.0.1\n")
    NSD = e2e_dns.Nsd(TOP, "nsd", [("good.test.", good), ("bad.test.", bad),
                                   ("7.5.3.in-addr.arpa.", rev4),
                                   ("8.e.2.0.c.7.6.0.1.0.0.2.ip6.arpa.", rev6)],
                      False).start()
    for d, name in ((GOOD, "good"), (BAD, "bad")):
        d["conf"] = write_conf(name, conf_text(*d["args"], port=NSD.port))
    return ()


def finish(args, failed):
    e2e_dns.stop_procs()
    if failed and NSD is not None:
        print("---- %s/nsd.log (tail)\n%s" % (NSD.dir, NSD.log()))
    if TOP is not None:
        shutil.rmtree(TOP, ignore_errors=True)


# ---- tests ----------------------------------------------------------------

def test(fn):
    TESTS.append(fn)
    return fn


@test
def printed_records():
    p = GOOD["printed"]
    for line in ("good.test. IN MX 10 mail.good.test.",
                 "mail.good.test. IN A 3.5.7.10",
                 "mail.good.test. IN AAAA 2001:67c:2e8::10",
                 'good.test. IN TXT "v=spf1 mx include:provider.example -all"',
                 '_dmarc.good.test. IN TXT "v=DMARC1; p=quarantine; '
                 'rua=mailto:postmaster@good.test"',
                 '_smtp._tls.good.test. IN TXT "v=TLSRPTv1; '
                 'rua=mailto:postmaster@good.test"',
                 "_submission._tcp.good.test. IN SRV 10 1 587 mail.good.test.",
                 "_submissions._tcp.good.test. IN SRV 0 1 465 mail.good.test.",
                 "_pop3._tcp.good.test. IN SRV 10 1 110 mail.good.test.",
                 "_pop3s._tcp.good.test. IN SRV 0 1 995 mail.good.test.",
                 ";   10.7.5.3.in-addr.arpa. IN PTR mail.good.test.",
                 "_25._tcp.mail.good.test. IN TLSA 3 1 1 " +
                 spki_sha256(GOOD["cert"])):
        assert line in p.splitlines(), (line, p)
    assert re.search(r'^_mta-sts\.good\.test\. IN TXT "v=STSv1; id=\d{14}"$',
                     p, re.M), p
    for line in (";   version: STSv1", ";   mode: testing",
                 ";   mx: mail.good.test", ";   max_age: 604800",
                 "; https://mta-sts.good.test/.well-known/mta-sts.txt"):
        assert line in p.splitlines(), (line, p)
    for sel, kind in (("rsa1", "rsa"), ("ed1", "ed25519")):
        txt = [l for l in p.splitlines()
               if l.startswith(sel + "._domainkey.good.test. IN TXT ")]
        assert len(txt) == 1, p
        strings = re.findall(r'"([^"]*)"', txt[0])
        assert all(len(x) <= 255 for x in strings), txt
        assert "".join(strings) == "v=DKIM1; k=%s; p=%s" % (
            kind, dkim_p(sel)), (txt, dkim_p(sel))
    assert "2525" not in p, "a loopback listener has no SRV record"
    for line in p.splitlines():    # comments wrap, records do not
        assert len(line) <= 78 or not line.startswith(";") or \
            " IN PTR " in line, line


@test
def round_trip_all_ok():
    out = kantorpos(GOOD["conf"], "dns", "good.test", "--check")
    assert out.returncode == 0, out
    want = {("MX", "good.test."), ("A", "mail.good.test. 3.5.7.10"),
            ("AAAA", "mail.good.test. 2001:67c:2e8::10"), ("SPF", "good.test."),
            ("DMARC", "_dmarc.good.test."),
            ("MTA-STS", "_mta-sts.good.test."),
            ("TLS-RPT", "_smtp._tls.good.test."),
            ("SRV", "_submission._tcp.good.test."),
            ("SRV", "_submissions._tcp.good.test."),
            ("SRV", "_pop3._tcp.good.test."), ("SRV", "_pop3s._tcp.good.test."),
            ("TLSA", "_25._tcp.mail.good.test."),
            ("DKIM", "rsa1._domainkey.good.test."),
            ("DKIM", "ed1._domainkey.good.test."),
            ("PTR", "10.7.5.3.in-addr.arpa. (3.5.7.10)"),
            ("PTR", "%s. (2001:67c:2e8::10)" %
             ipaddress.ip_address("2001:67c:2e8::10").reverse_pointer)}
    lines = {}
    for line in out.stdout.splitlines()[:-1]:
        label, rest = line.split(None, 1)
        name, verdict = rest.rsplit(": ", 1)
        lines[(label, name)] = verdict
    assert set(lines) == want, (sorted(lines), out.stdout)
    assert all(v == "ok" for v in lines.values()), out.stdout
    assert out.stdout.splitlines()[-1] == \
        "16 ok, 0 missing or different, 0 not answered", out.stdout


@test
def broken_zone_lines():
    out = kantorpos(BAD["conf"], "dns", "bad.test", "--check")
    assert out.returncode == 1, out
    lines = out.stdout.splitlines()
    want = [
        "MX       bad.test.: differs: got 10 mx.other.example.",
        "A        mail.bad.test. 3.5.7.20: differs: got 3.5.7.99",
        'SPF      bad.test.: differs: got "v=spf1 mx -all" "v=spf1 a -all" '
        '"site-verification=1234": 2 v=spf1 records, there must be one',
        'DKIM     sel1._domainkey.bad.test.: differs: got "v=DKIM1; k=rsa; '
        'p=%s": another key' % dkim_p("other"),
        "DKIM     sel2._domainkey.bad.test.: missing",
        'DMARC    _dmarc.bad.test.: differs: got "v=DMARC1; '
        'rua=mailto:postmaster@bad.test": no p= tag',
        "MTA-STS  _mta-sts.bad.test.: missing",
        'TLS-RPT  _smtp._tls.bad.test.: differs: got "v=TLSRPTv1; '
        'rua=ftp://reports.bad.test/": rua= is not a mailto: or https: URI',
        "SRV      _submission._tcp.bad.test.: differs: got 0 1 2525 "
        "mail.bad.test.",
        "SRV      _pop3s._tcp.bad.test.: missing",
        "TLSA     _25._tcp.mail.bad.test.: differs: got 3 1 1 " +
        spki_sha256(GOOD["cert"]),
        "PTR      99.7.5.3.in-addr.arpa. (3.5.7.99): differs: got "
        "dsl-99.isp.example.",
        "0 ok, 12 missing or different, 0 not answered",
    ]
    # the SPF answer's records come in the server's order
    spf = [l for l in lines if l.startswith("SPF")]
    assert len(spf) == 1 and spf[0].endswith(
        ": 2 v=spf1 records, there must be one") and \
        spf[0].startswith("SPF      bad.test.: differs: got "), lines
    assert [l for l in lines if not l.startswith("SPF")] == \
        [l for l in want if not l.startswith("SPF")], out.stdout


@test
def any_address_when_listeners_name_none():
    host, domain, cert, key, _, extra = GOOD["args"]
    conf = write_conf("star", conf_text(host, domain, cert, key,
                                        ["smtp *:25"], extra, NSD.port))
    printed = kantorpos(conf, "dns", "good.test").stdout
    assert "; A/AAAA: publish the public addresses of mail.good.test:" \
        in printed, printed
    assert not re.search(r"^mail\.good\.test\. IN A", printed, re.M) and \
        "_submission" not in printed, printed
    out = kantorpos(conf, "dns", "good.test", "--check")
    assert out.returncode == 0, out
    assert "A/AAAA   mail.good.test.: ok" in out.stdout.splitlines(), out


@test
def not_a_local_domain():
    out = kantorpos(GOOD["conf"], "dns", "other.test")
    assert out.returncode == 64, out
    assert "other.test is not a local_domain of %s; name one of good.test" \
        % GOOD["conf"] in out.stderr, out.stderr
    assert out.stdout == "", out


@test
def no_answer_is_tempfail():
    port = e2e_dns.free_udp_port()
    conf = write_conf("silent", conf_text(*GOOD["args"], port=port))
    out = kantorpos(conf, "dns", "good.test", "--check")
    assert out.returncode == 75, out
    assert "DNS failure" in out.stdout, out.stdout
    assert "the check is incomplete; try again later" in out.stderr, out


@test
def usage():
    out = kantorpos(GOOD["conf"], "dns")
    assert out.returncode == 64 and "usage: kantorpos" in out.stderr, out
    out = kantorpos(GOOD["conf"], "dns", "--help")
    assert out.returncode == 0 and "--check" in out.stdout, out


def main():
    if shutil.which("nsd") is None:
        print("SKIP: nsd is not installed (Debian package nsd, in "
              "scripts/deps.sh's test group)")
        print("0 passed, 0 failed, 1 skipped")
        return SKIP
    if not os.access(ADMIN, os.X_OK):
        print("missing %s" % ADMIN)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    return run_tests(TESTS, start, finish, only=sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
