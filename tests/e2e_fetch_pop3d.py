#!/usr/bin/env python3
"""tests/e2e_fetch_pop3d.py: kantorpos fetch against a second kantorpos
installation acting as "the ISP": kantorpos-pop3d with its own
configuration, data directory, user database and a self-signed
certificate (the harness of tests/e2e_lib.py), and a local kantorpos
configuration that fetches from it. MultiPOP in delete and keep modes (no
duplicates across runs, the UIDL state file), DomainPOP distribution from
the ISP's catch-all, the pop3d's lock-step behaviour seen from the fetcher
(a maildrop held by another session gives [IN-USE], and the next run gets
everything), PIPELINING on the wire, and a 50 MB message fetched with the
fetcher's memory far below its size. Prints one line per test and a final
"N passed, N failed"."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_lib  # noqa: E402
from e2e_lib import (ADMIN, DOMAIN, PASSWORDS, Raw, main, test,  # noqa: E402
                     vm_hwm_kb)

ENV = None          # the ISP (e2e_lib.Env)
HOME = "home.test"  # the local domain the fetcher delivers to
LOCAL = None


def message(subject, headers="", body="hello\r\n", msgid=None):
    msgid = msgid or "<%s.%f@isp.example>" % (subject.replace(" ", "-"),
                                              time.time())
    return ("From: sender@elsewhere.test\r\n%sSubject: %s\r\n"
            "Message-ID: %s\r\n\r\n%s.dotted line\r\n"
            % (headers, subject, msgid, body))


class Local:
    """The fetching side: its own configuration, users and data."""

    def __init__(self, isp):
        self.dir = os.path.join(isp.dir, "local")
        os.makedirs(self.dir, mode=0o700)
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "kantorpos.conf")
        self.base = ("hostname mail.%s\ndata_dir %s\nuser_db %s/users\n"
                     "local_domain %s\nlog_level debug\nworkers 2\n"
                     "password_opslimit 1\npassword_memlimit 8K\n"
                     % (HOME, self.data, self.dir, HOME))
        # As root, kantorpos fetch works as run_as (the ISP's nobody):
        # DATA, the user db and the password files are then nobody's.
        self.as_user = isp.as_user
        if self.as_user:
            self.base += "run_as %s\n" % self.as_user
            os.chmod(self.dir, 0o711)
            os.makedirs(self.data)
            shutil.chown(self.data, self.as_user)
        fp = subprocess.run(["openssl", "x509", "-in", isp.cert, "-noout",
                             "-fingerprint", "-sha256"], check=True,
                            capture_output=True, text=True).stdout
        fp = "sha256:" + fp.strip().split("=", 1)[1]
        accounts = [
            # name, ISP user, target, extra options
            ("m-del", "alice", "multipop alice@" + HOME,
             "port_tls ca_file %s" % isp.cert),
            ("m-keep", "bob", "multipop bob@" + HOME,
             "port_stls tls stls fingerprint %s keep yes" % fp),
            ("catch", "carol", "domainpop " + HOME,
             "port_tls ca_file %s" % isp.cert),
            ("held", "erin", "multipop carol@" + HOME,
             "port_tls ca_file %s" % isp.cert),
            ("big", "dave", "multipop carol@" + HOME,
             "port_tls ca_file %s max_size 60M timeout 60s" % isp.cert),
            ("hdr", "gina", "multipop carol@" + HOME,
             "port_tls ca_file %s" % isp.cert),
            ("empty", "frank", "multipop carol@" + HOME,
             "port_tls ca_file %s" % isp.cert),
        ]
        lines = []
        for name, user, target, extra in accounts:
            pw = os.path.join(self.dir, name + ".pw")
            with open(pw, "w") as f:
                f.write(PASSWORDS[user] + "\n")
            os.chmod(pw, 0o600)
            if self.as_user:
                shutil.chown(pw, self.as_user)
            port = isp.p_stls if "port_stls" in extra else isp.p_tls
            extra = extra.replace("port_stls ", "").replace("port_tls ", "")
            if "timeout" not in extra:
                extra += " timeout 20s"
            lines.append("fetch_account %s host 127.0.0.1:%d user %s@%s "
                         "password_file %s %s %s"
                         % (name, port, user, DOMAIN, pw, target, extra))
        with open(self.conf, "w") as f:
            f.write(self.base + "".join(x + "\n" for x in lines))
        for user in ("alice", "bob", "carol", "postmaster"):
            subprocess.run([ADMIN, "-c", self.conf, "user", "add",
                            "%s@%s" % (user, HOME)], input="pw\n", text=True,
                           check=True, stdout=subprocess.DEVNULL)
        if self.as_user:
            shutil.chown(os.path.join(self.dir, "users"), self.as_user)

    def fetch(self, *accounts):
        return subprocess.run([ADMIN, "-c", self.conf, "fetch", "--once"]
                              + list(accounts), capture_output=True,
                              text=True, timeout=120)

    def maildir(self, user):
        return os.path.join(self.data, "mail", HOME, user)

    def files(self, user):
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(user), sub)
            if os.path.isdir(d):
                out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
        return out

    def subjects(self, user):
        subs = []
        for path in self.files(user):
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            subs += [ln[9:] for ln in text.split("\r\n")
                     if ln.startswith("Subject: ")]
        return sorted(subs)


def local():
    return LOCAL


def our_received(text, account):
    """The length of the Received field kantorpos fetch put on top of a
    stored message (bytes), after checking that it is one of ours."""
    m = re.match(rb"Received: from \S+( \(\[[^]]+\]\))?\r\n"
                 rb"\tby mail\.home\.test with POP3 \(account "
                 + re.escape(account.encode()) +
                 rb"\)(\r\n\tid [!-~]+)?; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} "
                 rb"\d{4} \d\d:\d\d:\d\d \+0000\r\n", text)
    assert m is not None, text[:300]
    return m.end()


def ok(p, what):
    assert p.returncode == 0, "%s: exit %d\n%s" % (what, p.returncode,
                                                   p.stderr)


@test
def multipop_delete_mode():
    lo = local()
    for i in range(3):
        ENV.deliver("alice", message("del %d" % i, body="x\r\n" * (i * 50)))
    p = lo.fetch("m-del")
    ok(p, "first run")
    assert lo.subjects("alice") == ["del 0", "del 1", "del 2"], \
        lo.subjects("alice")
    assert ENV.count("alice") == 0, "deleted at the ISP"
    assert "account=m-del status=ok fetched=3 delivered=3 skipped=0 " \
        "deleted=3 errors=0" in p.stderr, p.stderr
    for path in lo.files("alice"):
        with open(path, "rb") as f:
            text = f.read()
        n = our_received(text, "m-del")
        assert text[n:].startswith(b"From: sender@elsewhere.test\r\n"), \
            text[:300]
        assert b"\r\n.dotted line\r\n" in text, "dot-unstuffed"
    p = lo.fetch("m-del")
    ok(p, "second run")
    assert len(lo.files("alice")) == 3, "no duplicates"
    assert "fetched=0" in p.stderr, p.stderr


@test
def multipop_keep_mode_and_uidl_state():
    lo = local()
    ENV.deliver("bob", message("keep 1"))
    ENV.deliver("bob", message("keep 2"))
    p = lo.fetch("m-keep")
    ok(p, "keep run over STLS with a pinned key")
    assert lo.subjects("bob") == ["keep 1", "keep 2"], lo.subjects("bob")
    assert ENV.count("bob") == 2, "kept at the ISP"
    p = lo.fetch("m-keep")
    ok(p, "second keep run")
    assert len(lo.files("bob")) == 2, "no duplicates"
    ENV.deliver("bob", message("keep 3"))
    p = lo.fetch("m-keep")
    ok(p, "third keep run")
    assert lo.subjects("bob") == ["keep 1", "keep 2", "keep 3"]
    assert "fetched=1 delivered=1" in p.stderr, p.stderr
    # The state file holds exactly the ISP's unique ids.
    r = Raw(ENV.p_plain)
    assert r.login("bob").startswith("+OK")
    assert r.cmd("UIDL").startswith("+OK")
    uids = sorted(ln.split()[1] for ln in r.multi())
    r.cmd("QUIT")
    r.close()
    with open(os.path.join(lo.data, "fetch", "m-keep.state")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "kantorpos-fetch-state 1", lines
    assert sorted(ln.split()[0] for ln in lines[1:]) == uids, (lines, uids)
    assert all(ln.split()[2] == "D" for ln in lines[1:]), lines
    assert all(ln.split()[-1] == "bob@" + HOME for ln in lines[1:]), lines


@test
def domainpop_from_the_isp_catchall():
    lo = local()
    h = HOME
    ENV.deliver("carol", message(
        "dt", "Delivered-To: alice@%s\r\nTo: bob@%s\r\n" % (h, h)))
    ENV.deliver("carol", message(
        "tocc", "To: Alice <alice@%s>, x@elsewhere.test\r\n"
        "Cc: \"Bob\" <BOB@%s>\r\n" % (h, h.upper())))
    ENV.deliver("carol", message(
        "rcvd", "Received: from a by b for <bob@%s>; "
        "Mon, 1 Jan 2024 00:00:00 +0000\r\nTo: alice@%s\r\n" % (h, h)))
    ENV.deliver("carol", message("unknown", "To: nobody@%s\r\n" % h))
    ENV.deliver("carol", message(
        "dup", "Delivered-To: alice@%s\r\n" % h, msgid="<same@isp>"))
    ENV.deliver("carol", message(
        "dup", "Delivered-To: alice@%s\r\n" % h, msgid="<same@isp>"))
    before_a, before_b = lo.subjects("alice"), lo.subjects("bob")
    p = lo.fetch("catch")
    ok(p, "domainpop run")
    new_a = list(lo.subjects("alice"))
    for s in before_a:
        new_a.remove(s)
    new_b = list(lo.subjects("bob"))
    for s in before_b:
        new_b.remove(s)
    assert sorted(new_a) == ["dt", "dup", "tocc"], new_a
    assert sorted(new_b) == ["rcvd", "tocc"], new_b
    assert lo.subjects("postmaster") == ["unknown"], \
        lo.subjects("postmaster")
    assert ENV.count("carol") == 0, "catch-all emptied"
    assert "fetched=6 delivered=5 skipped=1" in p.stderr, p.stderr


@test
def held_maildrop_gets_in_use_and_next_run_fetches():
    lo = local()
    ENV.deliver("erin", message("held 1"))
    ENV.deliver("erin", message("held 2"))
    before = len(lo.files("carol"))
    r = Raw(ENV.p_plain)
    assert r.login("erin").startswith("+OK")
    try:
        p = lo.fetch("held")
        assert p.returncode == 75, "tempfail: %d\n%s" % (p.returncode,
                                                         p.stderr)
        assert "[IN-USE]" in p.stderr, p.stderr
        assert "account=held status=failed" in p.stderr, p.stderr
        assert len(lo.files("carol")) == before, "nothing delivered"
        # The holder still sees both, and may read them: nothing changed.
        assert r.cmd("STAT").startswith("+OK 2 "), "maildrop intact"
    finally:
        assert r.cmd("QUIT").startswith("+OK")
        r.close()
    assert ENV.count("erin") == 2
    p = lo.fetch("held")
    ok(p, "run after the other session ended")
    assert len(lo.files("carol")) == before + 2
    assert ENV.count("erin") == 0


@test
def pipelining_on_the_wire():
    # The ISP offers PIPELINING: UIDL and LIST go together (UIDL first),
    # and each DELE goes out with the next RETR, before its own reply.
    lo = local()
    before = len(lo.files("alice"))
    for i in range(3):
        ENV.deliver("alice", message("pipe %d" % i))
    p = lo.fetch("m-del")
    ok(p, "pipelined run")
    trace = [ln.split("fetch m-del ", 1)[1] for ln in p.stderr.splitlines()
             if "fetch m-del " in ln]
    sent = [t[2:] for t in trace if t.startswith("> ")]
    assert "LIST" in sent and "UIDL" in sent, trace
    i = trace.index("> UIDL")
    assert trace[i + 1] == "> LIST", trace
    pairs = [(trace[k], trace[k + 1]) for k in range(len(trace) - 1)]
    assert any(a.startswith("> DELE") and b.startswith("> RETR")
               for a, b in pairs), trace
    assert ENV.count("alice") == 0
    assert len(lo.files("alice")) == before + 3


@test
def overlong_header_left_on_the_server():
    lo = local()
    before = len(lo.files("carol"))
    fold = "".join("\r\n x%d@elsewhere.test," % i for i in range(12000))
    ENV.deliver("gina", message("long header", "To: a@elsewhere.test," +
                                fold + "\r\n"))
    ENV.deliver("gina", message("fine"))
    p = lo.fetch("hdr")
    ok(p, "run with an overlong header")
    assert "header is longer than 256 KiB" in p.stderr, p.stderr
    assert "fetched=2 delivered=1 skipped=1" in p.stderr, p.stderr
    assert len(lo.files("carol")) == before + 1
    assert ENV.count("gina") == 1, "the long one stays"
    p = lo.fetch("hdr")
    ok(p, "second run")
    assert "fetched=0" in p.stderr, "skipped for good: " + p.stderr
    assert ENV.count("gina") == 1


def fetch_peak_kb(lo, account):
    """Run fetch --once for account; the child's peak RSS in kB (VmHWM
    read while it runs, and ru_maxrss when it ends)."""
    env = dict(os.environ)
    if "ASAN_OPTIONS" in env:
        # Keep freed memory from piling up in the sanitizer's quarantine,
        # so that the peak measures the fetcher.
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=4"
    proc = subprocess.Popen([ADMIN, "-c", lo.conf, "fetch", "--once",
                             account], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, vm_hwm_kb(proc.pid))
        time.sleep(0.02)
    err = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    assert proc.returncode == 0, "exit %d\n%s" % (proc.returncode, err[-3000:])
    return peak, err


@test
def fifty_megabytes_streamed_in_bounded_memory():
    lo = local()
    path = os.path.join(ENV.dir, "big.eml")
    line = b"y" * 98 + b"\r\n"
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        head = b"Subject: big\r\nMessage-ID: <big@isp>\r\n\r\n"
        f.write(head)
        digest.update(head)
        block = line * 10000
        for _ in range(50 * 1024 * 1024 // len(block)):
            f.write(block)
            digest.update(block)
    size = os.path.getsize(path)
    os.chmod(path, 0o644)
    ENV.deliver_file("dave", path)
    os.unlink(path)
    # The same program fetching nothing: the baseline.
    base, _ = fetch_peak_kb(lo, "empty")
    before = set(lo.files("carol"))
    peak, err = fetch_peak_kb(lo, "big")
    assert "account=big status=ok fetched=1 delivered=1" in err, err[-3000:]
    got = [x for x in lo.files("carol") if x not in before]
    assert len(got) == 1, got
    with open(got[0], "rb") as f:
        mark = our_received(f.read(2048), "big")
        f.seek(mark)
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    assert os.path.getsize(got[0]) == size + mark
    assert h.hexdigest() == digest.hexdigest(), "content differs"
    assert ENV.count("dave") == 0
    assert base > 0 and peak > 0, (base, peak)
    print("fetch peak RSS %d kB, baseline %d kB, message %d kB" % (
        peak, base, size // 1024))
    assert peak - base < 16 * 1024, \
        "fetch RSS grew %d kB for a %d kB message (base %d kB)" % (
            peak - base, size // 1024, base)


def make_env():
    global LOCAL
    env = e2e_lib.Env()
    LOCAL = Local(env)
    return env


if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__], make_env))
