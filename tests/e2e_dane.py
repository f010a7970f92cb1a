#!/usr/bin/env python3
"""tests/e2e_dane.py: DANE for direct delivery (RFC 7672) end to end, on
loopback.

dane.test, provider.test (where an MX name of dane.test points by CNAME)
and bad.test are signed here (e2e_dns.sign_zone) and their DS records
are kantorpos's dns_trust_anchor; test. stays unsigned, so its names are
insecure. The MX hosts are sinks (e2e_outlib.Sink) with
STARTTLS and certificates made here with openssl: self-signed leaves, a
test CA and leaves it issued (the chain sent with the leaf, or the leaf
alone), an expired self-signed certificate for another name; sinks that
speak only TLS 1.2 or only TLS 1.3. Each TLSA record is computed
from the certificate its sink presents, as the README says:
`openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER |
openssl dgst -sha256` for 3 1 1.

One test per CONFORMANCE-2 item named in its docstring. Prints one line
per test and "N passed, N failed, N skipped"; skips (77) without nsd or
ldnsutils."""

import datetime
import os
import shutil
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_dns  # noqa: E402
import e2e_lib as lib  # noqa: E402
import e2e_outlib as out  # noqa: E402
from e2e_lib import Skip, test  # noqa: E402

WRONG = "00" * 32


def spki_der(cert):
    """The DER SubjectPublicKeyInfo of the certificate file cert."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-noout",
                          "-pubkey"], check=True, capture_output=True).stdout
    return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                          input=pub, check=True, capture_output=True).stdout


def spki_sha256(cert):
    """The data of a `3 1 1` record for the certificate file cert."""
    return dgst(spki_der(cert))


def cert_sha256(cert):
    """The data of a `2 0 1` record: the SHA-256 of the DER certificate."""
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return dgst(der)


def dgst(data):
    text = subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=data,
                          check=True, capture_output=True).stdout.decode()
    return text.split()[0].upper()


def expired_cert(key, cert, cn):
    """A self-signed certificate for cn that expired a year ago (python3
    cryptography; None when it is missing)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(days=400))
         .not_valid_after(now - datetime.timedelta(days=365))
         .sign(k, hashes.SHA256()))
    with open(key, "wb") as f:
        f.write(k.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
    with open(cert, "wb") as f:
        f.write(c.public_bytes(serialization.Encoding.PEM))
    return cert


class DaneEnv(out.OutEnv):
    """OutEnv with the signed zones, their anchor and the sinks."""

    def __init__(self):
        self.keys = tempfile.mkdtemp(prefix="kantorpos-e2e-dane-keys.")
        os.chmod(self.keys, 0o755)  # the anchor, read after run_as
        self.ctx = {}
        # The TLSA owners name outbound_port: chosen before the zones.
        port = lib.free_port()
        rec = self.make_certs()
        rec["port"] = port
        dane, ds1 = e2e_dns.sign_zone(self.keys, "dane.test",
                                      self.dane_zone(rec))
        bad, ds2 = e2e_dns.sign_zone(self.keys, "bad.test", self.bad_zone(rec))
        prov, ds3 = e2e_dns.sign_zone(self.keys, "provider.test",
                                      self.provider_zone(rec))
        anchor = os.path.join(self.keys, "anchor")
        with open(anchor, "w") as f:
            f.write(ds1 + ds2 + ds3)
        os.chmod(anchor, 0o644)
        super().__init__([("test.", self.test_zone(rec)),
                          ("dane.test.", dane),
                          ("provider.test.", prov),
                          ("bad.test.", e2e_dns.tamper(bad))],
                         prefix="dane", anchor=anchor)
        self.out_port = port
        self.write_conf()
        for addr in ("127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24",
                     "127.0.0.25", "127.0.0.28", "127.0.0.29", "127.0.0.30",
                     "127.0.0.31", "127.0.0.32", "127.0.0.33",
                     "127.0.0.34", "127.0.0.35", "127.0.0.36",
                     "127.0.0.37", "127.0.0.38", "127.0.0.39"):
            self.sink(addr, tls=self.ctx[addr])
        self.sink("127.0.0.26")  # no STARTTLS
        self.sink("127.0.0.27")  # no STARTTLS

    def server_ctx(self, addr, cert, key, only=None):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(cert, key)
        if only is not None:  # one TLS version and no other
            c.minimum_version = c.maximum_version = only
        self.ctx[addr] = c

    def make_certs(self):
        """The sinks' certificates; the TLSA data they need."""
        k = self.keys
        p = lambda n: os.path.join(k, n)  # noqa: E731
        rec = {}
        for addr, cn in (("127.0.0.21", "mx01.dane.test"),
                         ("127.0.0.22", "mx.plain.test"),
                         ("127.0.0.23", "mx.bad.test"),
                         ("127.0.0.24", "d04.dane.test"),
                         ("127.0.0.25", "mx06.dane.test"),
                         ("127.0.0.28", "mx09a.dane.test"),
                         ("127.0.0.29", "mx09b.dane.test"),
                         ("127.0.0.33", "host.provider.test"),
                         ("127.0.0.34", "host2.provider.test")):
            lib.make_cert(p(addr + ".key"), p(addr + ".crt"), cn=cn)
            self.server_ctx(addr, p(addr + ".crt"), p(addr + ".key"))
            rec[addr] = spki_sha256(p(addr + ".crt"))
        if expired_cert(p("old.key"), p("old.crt"), "wrong.example") is None:
            raise RuntimeError("python3-cryptography is missing")
        self.server_ctx("127.0.0.30", p("old.crt"), p("old.key"))
        rec["127.0.0.30"] = spki_sha256(p("old.crt"))
        lib.make_ca(p("ca.key"), p("ca.crt"))
        for addr, name in (("127.0.0.31", "mx11.dane.test"),
                           ("127.0.0.32", "other.test")):
            lib.make_cert(p(addr + ".key"), p(addr + ".crt"), cn=name,
                          ca=(p("ca.key"), p("ca.crt")))
            with open(p(addr + ".chain"), "w") as f:
                for n in (addr + ".crt", "ca.crt"):
                    with open(p(n)) as c:
                        f.write(c.read())
            self.server_ctx(addr, p(addr + ".chain"), p(addr + ".key"))
        rec["ca"] = cert_sha256(p("ca.crt"))
        rec["ca_spki"] = spki_der(p("ca.crt")).hex().upper()
        # T-DANE-12: leaves the CA issued, sent without the CA.
        for addr, name in (("127.0.0.35", "mx12.dane.test"),
                           ("127.0.0.36", "mx12b.dane.test")):
            lib.make_cert(p(addr + ".key"), p(addr + ".crt"), cn=name,
                          ca=(p("ca.key"), p("ca.crt")))
            self.server_ctx(addr, p(addr + ".crt"), p(addr + ".key"))
        # T-DANE-15: one TLS version each.
        for addr, cn, v in (("127.0.0.37", "mx15a.dane.test",
                             ssl.TLSVersion.TLSv1_2),
                            ("127.0.0.38", "mx15b.dane.test",
                             ssl.TLSVersion.TLSv1_3)):
            lib.make_cert(p(addr + ".key"), p(addr + ".crt"), cn=cn)
            self.server_ctx(addr, p(addr + ".crt"), p(addr + ".key"), v)
            rec[addr] = spki_sha256(p(addr + ".crt"))
        # T-DANE-05: an insecure CNAME target (unsigned test.).
        lib.make_cert(p("127.0.0.39.key"), p("127.0.0.39.crt"),
                      cn="mx.plain.test")
        self.server_ctx("127.0.0.39", p("127.0.0.39.crt"),
                        p("127.0.0.39.key"))
        rec["127.0.0.39"] = spki_sha256(p("127.0.0.39.crt"))
        return rec

    @staticmethod
    def test_zone(rec):
        return """$ORIGIN test.
$TTL 30
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 30
@ NS ns
ns A 127.0.0.1
dane NS ns.test.
bad NS ns.test.
provider NS ns.test.
plain MX 10 mx.plain
mx.plain A 127.0.0.22
_%d._tcp.mx.plain TLSA 3 1 1 %s
cnhost.plain A 127.0.0.39
""" % (rec["port"], WRONG)

    @staticmethod
    def provider_zone(r):
        return """$ORIGIN provider.test.
$TTL 30
@ SOA ns.test. hostmaster.provider.test. 1 3600 600 86400 30
@ NS ns.test.
host A 127.0.0.33
_{p}._tcp.host TLSA 3 1 1 {r33}
host2 A 127.0.0.34
""".format(r33=r["127.0.0.33"], p=r["port"])

    @staticmethod
    def dane_zone(r):
        return """$ORIGIN dane.test.
$TTL 30
@ SOA ns.test. hostmaster.dane.test. 1 3600 600 86400 30
@ NS ns.test.
d01 MX 10 mx01
mx01 A 127.0.0.21
_{p}._tcp.mx01 TLSA 3 1 1 {r21}
d04 A 127.0.0.24
_{p}._tcp.d04 TLSA 3 1 1 {r24}
d06 MX 10 mx06
mx06 A 127.0.0.25
d07 MX 10 mx07
mx07 A 127.0.0.26
_{p}._tcp.mx07 TLSA 1 1 1 {r21}
_{p}._tcp.mx07 TLSA 0 0 1 {ca}
d08 MX 10 mx08
mx08 A 127.0.0.27
_{p}._tcp.mx08 TLSA 3 1 1 {r21}
d09 MX 10 mx09a
d09 MX 20 mx09b
mx09a A 127.0.0.28
_{p}._tcp.mx09a TLSA 3 1 1 {wrong}
mx09b A 127.0.0.29
_{p}._tcp.mx09b TLSA 3 1 1 {r29}
d10 MX 10 mx10
mx10 A 127.0.0.30
_{p}._tcp.mx10 TLSA 3 1 1 {r30}
d11 MX 10 mx11
mx11 A 127.0.0.31
_{p}._tcp.mx11 TLSA 2 0 1 {ca}
d11b MX 10 mx11b
mx11b A 127.0.0.32
_{p}._tcp.mx11b TLSA 2 0 1 {ca}
d05 MX 10 mx05
mx05 CNAME host.provider.test.
_{p}._tcp.mx05 TLSA 3 1 1 {wrong}
d05b MX 10 mx05b
mx05b CNAME host2.provider.test.
_{p}._tcp.mx05b TLSA 3 1 1 {r34}
d05c MX 10 mx05c
mx05c CNAME cnhost.plain.test.
_{p}._tcp.mx05c TLSA 3 1 1 {r39}
d12 MX 10 mx12
mx12 A 127.0.0.35
_{p}._tcp.mx12 TLSA 2 0 1 {ca}
d12b MX 10 mx12b
mx12b A 127.0.0.36
_{p}._tcp.mx12b TLSA 2 1 0 {ca_spki}
d15a MX 10 mx15a
mx15a A 127.0.0.37
_{p}._tcp.mx15a TLSA 3 1 1 {r37}
d15b MX 10 mx15b
mx15b A 127.0.0.38
_{p}._tcp.mx15b TLSA 3 1 1 {r38}
""".format(r21=r["127.0.0.21"], r24=r["127.0.0.24"], r29=r["127.0.0.29"],
           r30=r["127.0.0.30"], ca=r["ca"], wrong=WRONG, p=r["port"],
           r34=r["127.0.0.34"], r37=r["127.0.0.37"], r38=r["127.0.0.38"],
           r39=r["127.0.0.39"], ca_spki=r["ca_spki"])

    @staticmethod
    def bad_zone(r):
        return """$ORIGIN bad.test.
$TTL 30
@ SOA ns.test. hostmaster.bad.test. 1 3600 600 86400 30
@ NS ns.test.
@ MX 10 mx
mx A 127.0.0.23
_%d._tcp.mx TLSA 3 1 1 %s
""" % (r["port"], r["127.0.0.23"])

    def finish(self, failed):
        super().finish(failed)
        if failed:
            print("---- smtpd.log (tail)\n" + self.log_text()[-4000:])
        shutil.rmtree(self.keys, ignore_errors=True)


ENV = None


def delivered(addr, rcpt, subject):
    """Mail to rcpt arrives at the sink at addr; its transaction."""
    return out.delivered_at(ENV, addr, [rcpt], subject)


def stays_queued(rcpt, subject, reason, sinks):
    """Mail to rcpt is deferred with reason in `queue list`; none of the
    sinks got a MAIL."""
    before = [ENV.sinks[a].count() for a in sinks]
    out.submit(ENV, [rcpt], subject)
    out.wait(ENV, lambda: reason in ENV.queue_list(), "the reason " + reason)
    assert [ENV.sinks[a].count() for a in sinks] == before, "MAIL was sent"
    for a in sinks:
        for t in ENV.sinks[a].transactions:
            assert rcpt not in t[2], (a, t)


def logged(text):
    out.wait(ENV, lambda: text in ENV.log_text(), "the log says " + text)


# ---- the tests ----

@test
def matching_311_delivered_over_tls():
    """T-DANE-01, T-DANE-15, T-DANE-16: a secure MX, secure addresses and a
    matching 3 1 1: DANE, over TLS 1.2 or later; the log says dane."""
    t = delivered("127.0.0.21", "u@d01.dane.test", "dane 01")
    assert t[4] in ("TLSv1.2", "TLSv1.3"), t[4]
    logged("relay=mx01.dane.test[127.0.0.21] tls=dane: 1 of 1 recipients "
           "accepted tlsrpt=success policy=tlsa")
    assert ENV.dns.asked("_%d._tcp.mx01.dane.test" % ENV.out_port), \
        "TLSA looked up at _PORT._tcp.MX"


@test
def sni_is_the_tlsa_base_domain():
    """T-DANE-14: the ClientHello names the TLSA base domain."""
    assert "mx01.dane.test" in ENV.sinks["127.0.0.21"].sni, \
        ENV.sinks["127.0.0.21"].sni


@test
def unsigned_zone_opportunistic():
    """T-DANE-02: an insecure MX RRset: no DANE, whatever its TLSA says;
    delivered over opportunistic TLS."""
    t = delivered("127.0.0.22", "u@plain.test", "dane 02")
    assert t[4] is not None
    logged("relay=mx.plain.test[127.0.0.22] tls=opportunistic:")
    assert not ENV.dns.asked("_%d._tcp.mx.plain.test" % ENV.out_port), \
        "no TLSA lookup for an insecure MX"


@test
def bogus_tlsa_not_delivered():
    """T-DANE-03: a TLSA RRset whose signature fails: the host is not
    used, the mail stays queued, never sent in cleartext."""
    stays_queued("u@bad.test", "dane 03",
                 "dane: the TLSA lookup of _%d._tcp.mx.bad.test failed: BOGUS"
                 % ENV.out_port, ["127.0.0.23"])
    logged("domain=bad.test mx=mx.bad.test tls=dane tlsrpt=dnssec-invalid "
           "policy=tlsa")


@test
def implicit_mx_base_is_the_domain():
    """T-DANE-04, T-DANE-14: no MX, secure A: the TLSA base domain is the
    domain itself, which is also the SNI."""
    delivered("127.0.0.24", "u@d04.dane.test", "dane 04")
    logged("relay=d04.dane.test[127.0.0.24] tls=dane:")
    assert "d04.dane.test" in ENV.sinks["127.0.0.24"].sni


@test
def secure_nodata_opportunistic():
    """T-DANE-06: no TLSA records (a secure denial): opportunistic TLS."""
    t = delivered("127.0.0.25", "u@d06.dane.test", "dane 06")
    assert t[4] is not None
    logged("relay=mx06.dane.test[127.0.0.25] tls=opportunistic:")


@test
def only_unusable_records_tls_mandatory():
    """T-DANE-07, T-DANE-13: only usage 0 and 1 records: TLS is still
    mandatory (dane-unusable), so a host without STARTTLS gets nothing."""
    stays_queued("u@d07.dane.test", "dane 07",
                 "dane-unusable: TLS is required, but was not offered by "
                 "mx07.dane.test", ["127.0.0.26"])


@test
def no_starttls_stays_queued():
    """T-DANE-08, T-DANE-16: usable TLSA and a host without STARTTLS: not
    delivered, the reason and the mode in queue list, no MAIL at the
    sink."""
    stays_queued("u@d08.dane.test", "dane 08",
                 "dane: TLS is required, but was not offered by "
                 "mx08.dane.test", ["127.0.0.27"])
    logged("tls=dane tlsrpt=starttls-not-supported policy=tlsa")
    item = [l for l in ENV.queue_list().splitlines()
            if "domain=d08.dane.test" in l]
    assert item and " tls=dane" in item[0], ENV.queue_list()


@test
def wrong_digest_next_mx_takes_it():
    """T-DANE-09: the best MX's certificate matches no record: the
    handshake fails and no MAIL is sent there; the second MX, which
    matches, takes the mail."""
    a = ENV.sinks["127.0.0.28"]
    delivered("127.0.0.29", "u@d09.dane.test", "dane 09")
    assert a.count() == 0, a.transactions
    logged("DANE verification failed")
    logged("relay=mx09b.dane.test[127.0.0.29] tls=dane:")
    # RFC 8460: the certificate matched no TLSA record.
    logged("domain=d09.dane.test mx=mx09a.dane.test[127.0.0.28] tls=dane "
           "tlsrpt=tlsa-invalid policy=tlsa")


@test
def dane_ee_ignores_names_and_dates():
    """T-DANE-10: 3 1 1 matching an expired certificate for another name:
    delivered."""
    delivered("127.0.0.30", "u@d10.dane.test", "dane 10")
    logged("relay=mx10.dane.test[127.0.0.30] tls=dane:")


@test
def dane_ta_checks_the_name():
    """T-DANE-11: 2 0 1 of the issuing CA: a leaf for the MX name is
    accepted; a leaf for other.test is not (stays queued, no MAIL)."""
    delivered("127.0.0.31", "u@d11.dane.test", "dane 11")
    logged("relay=mx11.dane.test[127.0.0.31] tls=dane:")
    stays_queued("u@d11b.dane.test", "dane 11b", "dane: DANE verification "
                 "failed", ["127.0.0.32"])


@test
def cname_tlsa_at_the_expanded_name_first():
    """T-DANE-05: mx05.dane.test is a CNAME to host.provider.test, every
    link secure: TLSA at _PORT._tcp.host.provider.test first (it matches;
    the record at the original name, which does not, is never needed)
    and the SNI is that name. With no TLSA at the expanded name
    (host2.provider.test), the original name's records apply; a CNAME
    into an unsigned zone leaves the addresses insecure: no DANE."""
    p = ENV.out_port
    delivered("127.0.0.33", "u@d05.dane.test", "dane 05")
    logged("relay=mx05.dane.test[127.0.0.33] tls=dane:")
    assert ENV.dns.asked("_%d._tcp.host.provider.test" % p)
    assert "host.provider.test" in ENV.sinks["127.0.0.33"].sni, \
        ENV.sinks["127.0.0.33"].sni
    delivered("127.0.0.34", "u@d05b.dane.test", "dane 05b")
    logged("relay=mx05b.dane.test[127.0.0.34] tls=dane:")
    # (The denial at the expanded name may come from the resolver's
    # NSEC records without a question on the wire.)
    logged("d05b.dane.test: TLSA _%d._tcp.mx05b.dane.test: usable" % p)
    assert ENV.dns.asked("_%d._tcp.mx05b.dane.test" % p)
    assert "mx05b.dane.test" in ENV.sinks["127.0.0.34"].sni
    # A CNAME into an unsigned zone: its addresses are insecure, so DANE
    # does not apply to the host at all (RFC 7672 section 2.2.2).
    delivered("127.0.0.39", "u@d05c.dane.test", "dane 05c")
    logged("relay=mx05c.dane.test[127.0.0.39] tls=opportunistic:")
    assert not ENV.dns.asked("_%d._tcp.cnhost.plain.test" % p)
    assert not ENV.dns.asked("_%d._tcp.mx05c.dane.test" % p)


@test
def dane_ta_not_sent_by_the_server():
    """T-DANE-12: the server sends its leaf without the CA: a `2 0 1`
    record of the CA certificate cannot be matched (stays queued, no
    MAIL); a `2 1 0` record carries the CA's whole public key, which
    verifies the leaf by itself (RFC 7671 section 5.2.2): delivered."""
    stays_queued("u@d12.dane.test", "dane 12", "dane: DANE verification "
                 "failed", ["127.0.0.35"])
    delivered("127.0.0.36", "u@d12b.dane.test", "dane 12b")
    logged("relay=mx12b.dane.test[127.0.0.36] tls=dane:")


@test
def tls12_and_tls13():
    """T-DANE-15: a DANE host that speaks only TLS 1.2 and one that speaks
    only TLS 1.3 both get the mail, each over its version."""
    t = delivered("127.0.0.37", "u@d15a.dane.test", "dane 15a")
    assert t[4] == "TLSv1.2", t[4]
    t = delivered("127.0.0.38", "u@d15b.dane.test", "dane 15b")
    assert t[4] == "TLSv1.3", t[4]


if __name__ == "__main__":
    for tool, pkg in (("nsd", "nsd"), ("ldns-keygen", "ldnsutils"),
                      ("ldns-signzone", "ldnsutils")):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (Debian package %s)" % (tool,
                                                                      pkg))
            sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], DaneEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
