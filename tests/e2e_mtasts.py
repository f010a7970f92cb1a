#!/usr/bin/env python3
"""tests/e2e_mtasts.py: MTA-STS (RFC 8461) in direct delivery, end to end
on loopback.

The DNS is e2e_outlib.OutEnv's (nsd behind a question-logging relay that
can also answer the _mta-sts TXT questions itself, so a test changes the
record's id or removes it). A test CA made with openssl signs the
certificates of the policy host (an HTTPS server on 127.0.0.50 answering
per domain: a policy, 404, a redirect, text/html, a huge body, a slow
answer; it counts the GETs) and of the good MX sinks; kantorpos gets the
CA as tls_ca_file and the server's port as mta_sts_port. Other sinks show
a self-signed certificate, or offer no STARTTLS.

Cases: enforce with a matching, verified MX (delivered over TLS, SNI the
MX name); enforce with a self-signed sink (stays queued); enforce with an
MX outside the policy (not used: the matching one takes it; none left:
deferred); testing (delivered despite the bad certificate); a redirect, a
404, text/html, a huge and a slow body (no policy: delivered in
plaintext); the cache (no second GET with the same id, a new GET after
the id changes, the cached policy kept when the record disappears, the
cache file on disk, and a restart with the policy server down that keeps
enforcing from that file). The delivery lines carry the TLS-RPT result
(tlsrpt=..., RFC 8460). Skips (77) without nsd or openssl."""

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
import e2e_outlib as out  # noqa: E402
from e2e_lib import free_port, test  # noqa: E402

POLICY_HOST = "127.0.0.50"
BAD_POLICY_HOST = "127.0.0.51"  # a self-signed certificate

ZONE = """$ORIGIN test.
$TTL 1
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 1
@ NS ns
ns A 127.0.0.1
; enforce, the MX matches and has a good certificate
good MX 10 mail.good
mail.good A 127.0.0.21
_mta-sts.good TXT "v=STSv1; id=g1;"
mta-sts.good A 127.0.0.50
; enforce, the MX shows a self-signed certificate
selfsig MX 10 mail.selfsig
mail.selfsig A 127.0.0.22
_mta-sts.selfsig TXT "v=STSv1; id=s1;"
mta-sts.selfsig A 127.0.0.50
; enforce, the best MX is outside the policy
other MX 10 evil.other
other MX 20 mail.other
evil.other A 127.0.0.23
mail.other A 127.0.0.24
_mta-sts.other TXT "v=STSv1; id=o1;"
mta-sts.other A 127.0.0.50
; enforce, no MX inside the policy
nomatch MX 10 evil.other
_mta-sts.nomatch TXT "v=STSv1; id=n1;"
mta-sts.nomatch A 127.0.0.50
; testing, the MX shows a self-signed certificate
testing MX 10 mail.testing
mail.testing A 127.0.0.25
_mta-sts.testing TXT "v=STSv1; id=t1;"
mta-sts.testing A 127.0.0.50
; no usable policy: plaintext sink
redirect MX 10 plain.nopol
notfound MX 10 plain.nopol
html MX 10 plain.nopol
huge MX 10 plain.nopol
slow MX 10 plain.nopol
plain.nopol A 127.0.0.26
_mta-sts.redirect TXT "v=STSv1; id=r1;"
_mta-sts.notfound TXT "v=STSv1; id=f1;"
_mta-sts.html TXT "v=STSv1; id=h1;"
_mta-sts.huge TXT "v=STSv1; id=b1;"
_mta-sts.slow TXT "v=STSv1; id=w1;"
mta-sts.redirect A 127.0.0.50
mta-sts.notfound A 127.0.0.50
mta-sts.html A 127.0.0.50
mta-sts.huge A 127.0.0.50
mta-sts.slow A 127.0.0.50
; the policy host's certificate does not verify
webpki MX 10 plain.nopol
_mta-sts.webpki TXT "v=STSv1; id=p1;"
mta-sts.webpki A 127.0.0.51
; the cache: the relay answers its TXT question
cache MX 10 mail.cache
mail.cache A 127.0.0.27
mta-sts.cache A 127.0.0.50
"""

GOOD_NAMES = ["mail.good.test", "evil.other.test", "mail.other.test",
              "mail.cache.test"] + [
    "mta-sts.%s.test" % d for d in ("good", "selfsig", "other", "nomatch",
                                    "testing", "redirect", "notfound",
                                    "html", "huge", "slow", "cache")]


def policy(mode, *mx, max_age=86400):
    return ("version: STSv1\r\nmode: %s\r\n%smax_age: %d\r\n" % (
        mode, "".join("mx: %s\r\n" % m for m in mx), max_age)).encode()


class PolicyServer:
    """HTTPS on POLICY_HOST:port: per Host a behaviour; counts the GETs
    per host."""

    def __init__(self, port, cert, key, host=POLICY_HOST):
        self.gets = {}
        self.lock = threading.Lock()
        self.answers = {
            "mta-sts.good.test": (200, "text/plain", policy(
                "enforce", "mail.good.test")),
            "mta-sts.selfsig.test": (200, "text/plain", policy(
                "enforce", "mail.selfsig.test")),
            "mta-sts.other.test": (200, "text/plain; charset=utf-8", policy(
                "enforce", "mail.other.test")),
            "mta-sts.nomatch.test": (200, "text/plain", policy(
                "enforce", "*.good.test")),
            "mta-sts.testing.test": (200, "text/plain", policy(
                "testing", "mail.testing.test")),
            "mta-sts.redirect.test": (301, "text/plain", b""),
            "mta-sts.notfound.test": (404, "text/plain", b"not here\n"),
            "mta-sts.html.test": (200, "text/html", policy(
                "enforce", "nothing.test")),
            "mta-sts.huge.test": (200, "text/plain", policy(
                "enforce", "nothing.test") + b"x" * (1 << 20)),
            "mta-sts.slow.test": (200, "text/plain", policy(
                "enforce", "nothing.test")),
            "mta-sts.cache.test": (200, "text/plain", policy(
                "enforce", "mail.cache.test")),
            "mta-sts.webpki.test": (200, "text/plain", policy(
                "enforce", "nothing.test")),
        }
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                with srv.lock:
                    srv.gets[host] = srv.gets.get(host, 0) + 1
                code, ctype, body = srv.answers.get(
                    host, (404, "text/plain", b""))
                if self.path != "/.well-known/mta-sts.txt":
                    code, body = 404, b""
                if host == "mta-sts.slow.test":
                    time.sleep(8)
                self.send_response(code)
                if code == 301:
                    self.send_header("Location", "https://%s/elsewhere" %
                                     host)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket,
                                             server_side=True)
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def count(self, host):
        with self.lock:
            return self.gets.get(host, 0)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_certs(top):
    """The test CA, a leaf it signs for GOOD_NAMES, a self-signed leaf."""
    d = os.path.join(top, "pki")
    os.makedirs(d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=kantorpos test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n
                                             for n in GOOD_NAMES) + "\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj",
            "/CN=mail.good.test", cwd=d)
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "2",
            "-extfile", "san.ext", cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-nodes", "-keyout", "self.key",
            "-out", "self.pem", "-days", "2", "-subj", "/CN=mail.selfsig.test",
            "-addext", "subjectAltName=DNS:mail.selfsig.test,"
            "DNS:mail.testing.test", cwd=d)
    return d


def server_ctx(pki, name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, name + ".pem"),
                        os.path.join(pki, name + ".key"))
    return ctx


class StsEnv(out.OutEnv):
    """OutEnv with the zone, the CA, the policy server and the sinks."""

    def __init__(self):
        self.sts_port = free_port()
        super().__init__([("test.", ZONE)], prefix="mtasts")
        self.pki = make_certs(self.dir)
        self.conf_extra = ("tls_ca_file %s\nmta_sts_port %d\n" % (
            os.path.join(self.pki, "ca.pem"), self.sts_port))
        self.write_conf()
        self.web = PolicyServer(self.sts_port,
                                os.path.join(self.pki, "leaf.pem"),
                                os.path.join(self.pki, "leaf.key"))
        self.bad_web = PolicyServer(self.sts_port,
                                    os.path.join(self.pki, "self.pem"),
                                    os.path.join(self.pki, "self.key"),
                                    BAD_POLICY_HOST)
        for addr in ("127.0.0.21", "127.0.0.23", "127.0.0.24",
                     "127.0.0.27"):
            self.sink(addr, tls=server_ctx(self.pki, "leaf"))
        for addr in ("127.0.0.22", "127.0.0.25"):
            self.sink(addr, tls=server_ctx(self.pki, "self"))
        self.sink("127.0.0.26")
        self.dns.txt["_mta-sts.cache.test"] = "v=STSv1; id=c1;"

    def stop(self):
        self.web.stop()
        self.bad_web.stop()
        super().stop()


ENV = None


def still_queued(rcpt, what, seconds=3):
    """rcpt stays in the queue once the log says what."""
    out.wait(ENV, lambda: what in ENV.log_text(), what, 20)
    time.sleep(seconds)
    assert rcpt in ENV.queue_list(), ENV.queue_list()


# ---- the tests ----

@test
def enforce_verified():
    """T-STS-01, T-STS-08: enforce, the MX matches, its certificate is
    verified: delivered over TLS with the MX name as SNI."""
    t = out.delivered_at(ENV, "127.0.0.21", ["u@good.test"], "enforce")
    assert t[4] is not None, "over TLS"
    assert "mail.good.test" in ENV.sinks["127.0.0.21"].sni
    log = ENV.log_text()
    assert "mta-sts enforce" in log, log[-3000:]
    assert "mail.good.test[127.0.0.21]:%d tls=mta-sts-enforce" % ENV.out_port \
        in log, log[-3000:]
    # RFC 8460: the result a TLS report would count.
    line = [l for l in log.splitlines()
            if "relay=mail.good.test[127.0.0.21] tls=mta-sts-enforce:" in l]
    assert line and line[-1].endswith("tlsrpt=success policy=sts"), line


@test
def enforce_self_signed_stays_queued():
    """T-STS-09: enforce, the MX certificate is self-signed: never sent."""
    sink = ENV.sinks["127.0.0.22"]
    out.submit(ENV, ["u@selfsig.test"], "selfsig")
    still_queued("u@selfsig.test", "certificate verification failed")
    assert sink.count() == 0
    item = [l for l in ENV.queue_list().splitlines()
            if "domain=selfsig.test" in l]
    assert item and " tls=mta-sts-enforce" in item[0], ENV.queue_list()
    out.wait(ENV, lambda: "domain=selfsig.test mx=mail.selfsig.test"
             "[127.0.0.22] tls=mta-sts-enforce tlsrpt=certificate-not-trusted"
             " policy=sts" in ENV.log_text(), "the TLS-RPT result", 10)


@test
def enforce_mx_outside_policy():
    """T-STS-08: the best MX matches no pattern: not used, the second one
    (inside the policy) takes the mail."""
    evil = ENV.sinks["127.0.0.23"]
    out.delivered_at(ENV, "127.0.0.24", ["u@other.test"], "other")
    assert evil.connections == 0, "the MX outside the policy is not used"


@test
def enforce_no_mx_matches():
    """T-STS-08: no MX matches: deferred with the reason."""
    out.submit(ENV, ["u@nomatch.test"], "nomatch")
    still_queued("u@nomatch.test",
                 "no MX host of nomatch.test matches its MTA-STS policy")


@test
def testing_delivers_anyway():
    """T-STS-10: testing: the self-signed MX gets the mail."""
    t = out.delivered_at(ENV, "127.0.0.25", ["u@testing.test"], "testing")
    assert t[4] is not None
    log = ENV.log_text()
    assert "mta-sts testing" in log
    # The certificate was checked, not enforced: the failure is recorded.
    line = [l for l in log.splitlines()
            if "relay=mail.testing.test[127.0.0.25] tls=mta-sts-testing:" in l]
    assert line and line[-1].endswith(
        "tlsrpt=certificate-not-trusted policy=sts"), line


@test
def no_policy_cases():
    """T-STS-02..05: a redirect, a 404, text/html, a 1 MiB body and an
    answer slower than the fetch limit give no policy: delivered (to an
    MX outside what those bodies name, without TLS)."""
    for dom, why in (("redirect", "redirect not followed"),
                     ("notfound", "HTTP status 404"),
                     ("html", "Content-Type text/html is not text/plain"),
                     ("huge", "body over the limit"),
                     ("slow", "timed out")):
        out.delivered_at(ENV, "127.0.0.26", ["u@%s.test" % dom], dom)
        assert ENV.web.count("mta-sts.%s.test" % dom) >= 1
        log = ENV.log_text()
        assert "mta-sts: %s.test: no new policy (%s" % (dom, why) in log, \
            log[-3000:]
        assert "tlsrpt=sts-policy-fetch-error policy=sts domain=%s.test" % \
            dom in log, log[-3000:]


@test
def policy_host_not_verified():
    """T-STS-01: the policy host's certificate does not verify: no policy
    (delivered in plaintext), recorded as sts-webpki-invalid."""
    out.delivered_at(ENV, "127.0.0.26", ["u@webpki.test"], "webpki")
    assert ENV.bad_web.count("mta-sts.webpki.test") == 0, "no GET sent"
    log = ENV.log_text()
    assert "tlsrpt=sts-webpki-invalid policy=sts domain=webpki.test" in log, \
        log[-3000:]


@test
def cache_same_id_no_new_get():
    """T-STS-11: the same id: no second GET before max_age."""
    out.delivered_at(ENV, "127.0.0.27", ["u@cache.test"], "cache 1")
    assert ENV.web.count("mta-sts.cache.test") == 1
    time.sleep(2.5)  # past the TTL of 1 s in whole seconds
    out.delivered_at(ENV, "127.0.0.27", ["u@cache.test"], "cache 2")
    assert ENV.web.count("mta-sts.cache.test") == 1
    path = os.path.join(ENV.data, "queue", "mta-sts", "cache.test")
    out.wait(ENV, lambda: os.path.exists(path), "the cache file")
    with open(path) as f:
        text = f.read()
    assert text.startswith("kantorpos-mta-sts 1 c1 "), text
    assert "mx: mail.cache.test" in text


@test
def cache_new_id_fetches():
    """T-STS-11: a changed id: fetched again."""
    before = ENV.web.count("mta-sts.cache.test")
    ENV.dns.txt["_mta-sts.cache.test"] = "v=STSv1; id=c2;"
    time.sleep(2.5)  # past the TTL of 1 s in whole seconds
    out.delivered_at(ENV, "127.0.0.27", ["u@cache.test"], "cache 3")
    assert ENV.web.count("mta-sts.cache.test") == before + 1


@test
def cache_kept_without_record():
    """T-STS-12: the record disappears: the cached policy stays; an MX
    outside it would not be used, so the policy is still applied."""
    ENV.dns.txt["_mta-sts.cache.test"] = None
    time.sleep(2.5)  # past the TTL of 1 s in whole seconds
    out.delivered_at(ENV, "127.0.0.27", ["u@cache.test"], "cache 4")
    log = ENV.log_text()
    assert "mta-sts: cache.test: no record" in log, log[-3000:]
    assert log.rfind("mta-sts enforce") > log.rfind("no record"), log[-3000:]


@test
def restart_keeps_enforcing_from_the_cache():
    """T-STS-11, T-STS-12: kantorpos-smtpd restarted with the policy
    server down: the policies cached on disk still apply, with no new
    fetch — good.test goes out over verified TLS (mta-sts-enforce), and
    selfsig.test, whose MX shows a self-signed certificate, stays
    queued instead of going out opportunistically."""
    gets = sum(ENV.web.count("mta-sts.%s.test" % d)
               for d in ("good", "selfsig"))
    ENV.web.stop()
    ENV.proc.terminate()
    ENV.proc.wait(15)
    mark = len(ENV.log_text())
    ENV.start()
    out.delivered_at(ENV, "127.0.0.21", ["v@good.test"], "after restart")
    sink = ENV.sinks["127.0.0.22"]
    before = sink.count()
    out.submit(ENV, ["v@selfsig.test"], "selfsig after restart")
    out.wait(ENV, lambda: "certificate verification failed" in
             ENV.log_text()[mark:], "the enforced failure", 20)
    time.sleep(2)
    assert sink.count() == before, "sent despite the cached policy"
    assert "v@selfsig.test" in ENV.queue_list(), ENV.queue_list()
    log = ENV.log_text()[mark:]
    assert "relay=mail.good.test[127.0.0.21] tls=mta-sts-enforce:" in log, \
        log[-3000:]
    assert "policy g1, mode" not in log and "policy s1, mode" not in log, \
        "fetched again: " + log[-3000:]
    assert sum(ENV.web.count("mta-sts.%s.test" % d)
               for d in ("good", "selfsig")) == gets


if __name__ == "__main__":
    for tool in ("nsd", "openssl"):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed" % tool)
            sys.exit(77)
    sys.exit(lib.main(sys.modules[__name__], StsEnv,
                      tools=(lib.SMTPD, lib.ADMIN)))
