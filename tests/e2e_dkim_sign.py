#!/usr/bin/env python3
"""tests/e2e_dkim_sign.py: DKIM signing end to end, with a real
kantorpos-smtpd and two independent verifiers.

`kantorpos dkim keygen` makes an RSA and an Ed25519 key (mode 0600,
owned by run_as) and prints their TXT records; the configuration signs
example.test with both (two dkim_sign lines). Mail a user submits with
AUTH over the submission listener, and mail kantorpos-sendmail leaves in
the drop directory, is delivered into a local Maildir with two
DKIM-Signature fields that dkimpy (python3-dkim, its dnsfunc serving the
printed records) verifies, both of them, and that opendkim-testmsg
(opendkim-tools) verifies against a sandboxed nsd serving the records as
printed (in a private mount namespace whose /etc/resolv.conf names it;
skipped with the reason when that cannot be set up). Mail on the mx
listener from outside is not signed, nor is mail whose From: is of
another domain, and the log lines say so. kantorpos check reports a
bad selector, an unreadable key, a key of the wrong type or size and a
key others may read, each at its FILE:LINE; keygen refuses to overwrite.

Root is needed for run_as, the sendmail pickup and the namespace (else
the whole test is skipped). Prints one line per test and "N passed, N
failed, N skipped"."""

import base64
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib as lib  # noqa: E402
from e2e_lib import ADMIN, BUILD, SMTPD, Skip, test  # noqa: E402
import e2e_dns  # noqa: E402

dkim = None  # reported missing by main()
if lib.import_or_reexec("dkim"):
    import dkim

SENDMAIL = os.path.join(BUILD, "sendmail", "kantorpos-sendmail")
DOMAIN = "example.test"
RUN_AS = "mail"
ROOT = os.geteuid() == 0
SKIP = 77


class Site:
    """The scratch directory, the keys, the configuration and the
    daemon."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-dkimsign-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.log = os.path.join(self.dir, "smtpd.log")
        self.p_mx, self.p_sub = lib.free_port(), lib.free_port()
        self.base = f"""hostname mail.{DOMAIN}
data_dir {self.data}
user_db {self.dir}/users
local_domain {DOMAIN}
drop_dir {self.dir}/drop
listen smtp 127.0.0.1:{self.p_mx}
listen smtp 127.0.0.1:{self.p_sub} submission plaintext-ok
log_level info
password_opslimit 1
password_memlimit 8K
run_as {RUN_AS}
"""
        self.write_conf("")
        os.makedirs(self.data)
        shutil.chown(self.data, RUN_AS, RUN_AS)
        for user in ("alice", "bob"):
            subprocess.run([ADMIN, "-c", self.conf, "user", "add",
                            f"{user}@{DOMAIN}"], input="pw\n", text=True,
                           check=True, stdout=subprocess.DEVNULL)
        shutil.chown(os.path.join(self.dir, "users"), RUN_AS, RUN_AS)
        self.records = {}
        self.zone_lines = []
        for sel, args in (("rsa1", []), ("ed1", ["--type", "ed25519"])):
            out = keygen(sel, *args, conf=self.conf)
            self.zone_lines.append(out)
            self.records[sel] = "".join(re.findall(r'"([^"]*)"', out))
        self.keys = {sel: os.path.join(self.data, "dkim",
                                       f"{DOMAIN}.{sel}.key")
                     for sel in self.records}
        self.dkim_lines = "".join(f"dkim_sign {DOMAIN} {s} {k}\n"
                                  for s, k in self.keys.items())
        self.write_conf(self.dkim_lines)
        self.proc = None

    def write_conf(self, extra):
        with open(self.conf, "w") as f:
            f.write(self.base + extra)

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([SMTPD, "-f", "-c", self.conf],
                                     stdout=logf, stderr=logf)
        lib.DAEMONS.append(self.proc)
        logf.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            assert self.proc.poll() is None, self.log_text()
            try:
                socket.create_connection(("127.0.0.1", self.p_sub), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("kantorpos-smtpd did not start")

    def stop(self):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(20)

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def find(self, user, marker, timeout=10.0):
        """The bytes of user's message containing marker, waiting for
        it."""
        new = os.path.join(self.data, "mail", DOMAIN, user, "new")
        deadline = time.time() + timeout
        while True:
            for name in sorted(os.listdir(new)) if os.path.isdir(new) else []:
                with open(os.path.join(new, name), "rb") as f:
                    data = f.read()
                if marker.encode() in data:
                    return data
            assert time.time() < deadline, "%s got no %r; log:\n%s" % (
                user, marker, self.log_text()[-3000:])
            time.sleep(0.1)

    def dnsfunc(self, name, timeout=5):
        for sel, rec in self.records.items():
            if name == ("%s._domainkey.%s." % (sel, DOMAIN)).encode():
                return rec.encode()
        return b""


SITE = None


def keygen(selector, *args, conf=None, check=True):
    """kantorpos dkim keygen on conf (default: the site's); its standard
    output, or with check=False the finished process."""
    p = subprocess.run([ADMIN, "-c", conf or SITE.conf, "dkim", "keygen",
                        DOMAIN, selector] + list(args),
                       capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
        return p.stdout
    return p


def submit(marker, sender="alice@example.test"):
    with smtplib.SMTP("127.0.0.1", SITE.p_sub, timeout=10) as s:
        s.login("alice@example.test", "pw")
        s.sendmail("alice@example.test", ["bob@example.test"],
                   f"From: Alice <{sender}>\r\nTo: bob@example.test\r\n"
                   f"Subject: {marker}\r\n\r\nHello,\r\n\r\n"
                   f"body of {marker}\r\n\r\n")


def signatures(data):
    head = data.split(b"\r\n\r\n", 1)[0]
    return len(re.findall(rb"(?mi)^DKIM-Signature:", head))


def dkimpy_verifies(data):
    """Both signatures, each on its own, as dkimpy checks them."""
    d = dkim.DKIM(data)
    got = []
    for i in range(signatures(data)):
        ok = d.verify(idx=i, dnsfunc=SITE.dnsfunc)
        got.append((ok, d.domain, d.selector))
    return got


def assert_signed(data):
    assert signatures(data) == 2, data.decode()
    got = dkimpy_verifies(data)
    assert got == [(True, DOMAIN.encode(), b"rsa1"),
                   (True, DOMAIN.encode(), b"ed1")], (got, data.decode())


@test
def keygen_files_and_records():
    for sel, path in SITE.keys.items():
        st = os.stat(path)
        assert st.st_mode & 0o777 == 0o600, oct(st.st_mode)
        assert st.st_uid == pwd.getpwnam(RUN_AS).pw_uid
    rsa = SITE.zone_lines[0]
    assert rsa.startswith("rsa1._domainkey.example.test. IN TXT ( \""), rsa
    assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', rsa)), rsa
    assert SITE.records["rsa1"].startswith("v=DKIM1; k=rsa; p=MIIB")
    ed = SITE.zone_lines[1]
    assert re.fullmatch(r'ed1\._domainkey\.example\.test\. IN TXT '
                        r'"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}="\n', ed), ed
    assert len(base64.b64decode(SITE.records["ed1"].split("p=")[1])) == 32
    p = keygen("ed1", "--type", "ed25519", check=False)
    assert p.returncode == 73 and "exists" in p.stderr, (p.returncode,
                                                         p.stderr)
    p = keygen("x", "--bits", "512", check=False)
    assert p.returncode == 64, p.returncode


@test
def submission_is_signed_twice():
    submit("marker-sub")
    data = SITE.find("bob", "marker-sub")
    assert_signed(data)
    # Date and Message-ID the server added are covered.
    assert b"\r\nMessage-ID: <" in data
    assert lib.wait_for(lambda: "dkim=signed d=example.test s=rsa1,ed1"
                        in SITE.log_text()), SITE.log_text()[-2000:]


@test
def sendmail_pickup_is_signed_twice():
    p = subprocess.run([SENDMAIL, "-C", SITE.conf, "-i", "bob"],
                       input=b"From: alice@example.test\nSubject: "
                       b"marker-pickup\n\nfrom a script\n",
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert_signed(SITE.find("bob", "marker-pickup"))


@test
def mx_mail_is_not_signed():
    with smtplib.SMTP("127.0.0.1", SITE.p_mx, timeout=10) as s:
        s.sendmail("someone@outside.test", ["bob@example.test"],
                   "From: alice@example.test\r\nSubject: marker-mx\r\n\r\n"
                   "from outside\r\n")
    assert signatures(SITE.find("bob", "marker-mx")) == 0


@test
def other_from_domain_is_not_signed():
    p = subprocess.run([SENDMAIL, "-C", SITE.conf, "-i", "bob"],
                       input=b"From: someone@other.test\nSubject: "
                       b"marker-other\n\nx\n", capture_output=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert signatures(SITE.find("bob", "marker-other")) == 0
    assert lib.wait_for(lambda: re.search(
        r"accepted .*file=\S+ dkim=none", SITE.log_text())), \
        SITE.log_text()[-2000:]


@test
def reload_with_a_bad_key_keeps_the_old_keys():
    gone = os.path.join(SITE.dir, "gone.key")
    SITE.write_conf(SITE.dkim_lines + f"dkim_sign {DOMAIN} new {gone}\n")
    SITE.proc.send_signal(signal.SIGHUP)
    want = re.compile(r"reload: .*kantorpos\.conf:\d+: dkim_sign %s: "
                      r"cannot read: No such file or directory.*"
                      r"keeping the old configuration" % re.escape(gone))
    assert lib.wait_for(lambda: want.search(SITE.log_text())), \
        SITE.log_text()[-2000:]
    submit("marker-reload")
    assert_signed(SITE.find("bob", "marker-reload"))
    SITE.write_conf(SITE.dkim_lines)
    SITE.proc.send_signal(signal.SIGHUP)
    assert lib.wait_for(lambda: "info: reloaded " in SITE.log_text()), \
        SITE.log_text()[-2000:]


def opendkim_env():
    """A sandboxed nsd on ADDR:53 serving the printed records, and the
    resolv.conf naming it; (nsd, resolv) or Skip."""
    for tool in ("opendkim-testmsg", "nsd", "unshare"):
        if shutil.which(tool) is None:
            raise Skip("%s is not installed (opendkim-tools, nsd, "
                       "util-linux)" % tool)
    addr = "127.%d.%d.%d" % (random.randint(64, 250), random.randint(1, 250),
                             random.randint(2, 250))
    zone = ("$ORIGIN example.test.\n$TTL 300\n"
            "@ IN SOA ns.example.test. host.example.test. 1 3600 600 "
            "86400 300\n@ IN NS ns.example.test.\nns IN A %s\n" % addr +
            "".join(SITE.zone_lines))
    nsd = e2e_dns.Nsd(SITE.dir, "nsd", [("example.test.", zone)], False)
    with open(nsd.conf) as f:
        conf = f.read()
    conf = conf.replace("ip-address: 127.0.0.1", "ip-address: " + addr)
    conf = conf.replace("port: %d" % nsd.port, "port: 53")
    with open(nsd.conf, "w") as f:
        f.write(conf)
    proc = subprocess.Popen(["nsd", "-d", "-c", nsd.conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    lib.DAEMONS.append(proc)
    if not e2e_dns.wait_dns(53, "example.test", time.time() + 15, addr=addr):
        raise Skip("nsd did not answer on %s:53: %s" % (addr, nsd.log()))
    resolv = os.path.join(SITE.dir, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\n" % addr)
    return proc, resolv


def testmsg(resolv, msg):
    """opendkim-testmsg -C on msg, its resolver the one of resolv (a
    private mount namespace with resolv bind-mounted over
    /etc/resolv.conf); skips where no such namespace can be made (a
    chroot: unshare or mount fails before opendkim runs)."""
    p = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount --bind "$1" /etc/resolv.conf || exit 111; exec '
         'opendkim-testmsg -C', "sh", resolv],
        input=msg, capture_output=True, timeout=60)
    if p.returncode == 111 or p.stderr.startswith(b"unshare:"):
        raise Skip("no private mount namespace here: %s" %
                   p.stderr.decode(errors="replace").strip())
    return p


@test
def opendkim_verifies_both():
    proc, resolv = opendkim_env()
    data = SITE.find("bob", "marker-sub")
    try:
        for drop in (None, b"rsa1", b"ed1"):
            msg = data
            if drop is not None:
                # one signature at a time: the other field removed
                head, body = data.split(b"\r\n\r\n", 1)
                fields = re.split(rb"\r\n(?=\S)", head)
                fields = [f for f in fields if not (
                    f.lower().startswith(b"dkim-signature:") and
                    b"s=" + drop + b";" in f.replace(b"\r\n\t", b""))]
                msg = b"\r\n".join(fields) + b"\r\n\r\n" + body
                assert signatures(msg) == 1
            p = testmsg(resolv, msg)
            assert p.returncode == 0 and p.stderr == b"", (
                drop, p.returncode, p.stdout, p.stderr)
        # Not vacuous: a changed body fails.
        p = testmsg(resolv, data.replace(b"body of", b"b0dy of"))
        assert p.returncode != 0, (p.stdout, p.stderr)
    finally:
        proc.terminate()
        proc.wait(10)


@test
def check_reports_key_errors():
    bad = os.path.join(SITE.dir, "bad")
    os.makedirs(bad)
    small, ec, loose = (os.path.join(bad, n) for n in
                        ("small.key", "ec.key", "loose.key"))
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:512", "-out", small], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", ec], check=True,
                   capture_output=True)
    shutil.copy(SITE.keys["ed1"], loose)
    for path in (small, ec, loose):
        shutil.chown(path, RUN_AS)
        os.chmod(path, 0o600)
    os.chmod(loose, 0o644)
    root_only = os.path.join(bad, "root.key")
    shutil.copy(SITE.keys["ed1"], root_only)
    shutil.chown(root_only, "root")
    os.chmod(root_only, 0o600)
    conf = os.path.join(SITE.dir, "bad.conf")
    lines = [f"dkim_sign {DOMAIN} sel_1 {small}",
             f"dkim_sign {DOMAIN} small {small}",
             f"dkim_sign {DOMAIN} ec {ec}",
             f"dkim_sign {DOMAIN} loose {loose}",
             f"dkim_sign sub.{DOMAIN} root {root_only}",
             f"dkim_sign sub.{DOMAIN} gone {bad}/gone.key"]
    with open(conf, "w") as f:
        f.write(SITE.base + "\n".join(lines[:1]) + "\n")
    first = SITE.base.count("\n") + 1
    p = subprocess.run([ADMIN, "-c", conf, "check"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 1, p.stdout
    assert f"{conf}:{first}: error: dkim_sign: expected a selector" in \
        p.stdout, p.stdout
    with open(conf, "w") as f:
        f.write(SITE.base + "\n".join(lines[1:]) + "\n")
    p = subprocess.run([ADMIN, "-c", conf, "check"], capture_output=True,
                       text=True, timeout=60)
    out = p.stdout
    assert p.returncode == 1, out
    want = [(0, "RSA key of 512 bits (1024 to 4096)"),
            (1, "a EC key: expected RSA or Ed25519"),
            (2, "the DKIM key"),
            (3, "cannot be read by mail"),
            (4, "cannot read: No such file or directory")]
    for i, text in want:
        assert re.search(r"(?m)^%s:%d: error: .*%s" % (
            re.escape(conf), first + i, re.escape(text)), out), (text, out)
    # The good configuration has no finding about its keys.
    p = subprocess.run([ADMIN, "-c", SITE.conf, "check"],
                       capture_output=True, text=True, timeout=60)
    assert "dkim_sign" not in p.stdout and "DKIM key" not in p.stdout, \
        p.stdout


def main():
    missing = [t for t in (SMTPD, ADMIN, SENDMAIL) if not os.access(t, os.X_OK)]
    if missing:
        print("missing %s\n0 passed, 1 failed" % " ".join(missing))
        return 1
    if not ROOT:
        print("SKIP: needs root (run_as, the sendmail pickup, the DNS "
              "namespace)\n0 passed, 0 failed, 1 skipped")
        return SKIP
    if dkim is None:
        print("SKIP: dkimpy is not installed (Debian package python3-dkim, "
              "in scripts/deps.sh's test group)\n0 passed, 0 failed, 1 "
              "skipped")
        return SKIP

    def start():
        global SITE
        SITE = Site()
        SITE.start()
        return ()

    def finish(args, failed):
        if SITE is None:
            return
        SITE.stop()
        if failed:
            print("---- smtpd.log (tail)")
            print(SITE.log_text()[-6000:])
        shutil.rmtree(SITE.dir, ignore_errors=True)

    return lib.run_tests(lib.TESTS, start, finish, only=sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
