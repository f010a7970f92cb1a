#!/usr/bin/env python3
"""tests/e2e_check.py: `kantorpos check` end to end — the real binary on a
scratch configuration that is good, then broken one way at a time: every
test asserts the exact finding line ("FILE:LINE: error|warning: text") and
the exit status. TLS: missing certificate or key, a key of another
certificate, an expired certificate, one ending in 5 days (warning), a chain
in the wrong order. Files: a broken aliases line, an alias to no user, a
user db run_as cannot read, a data_dir it cannot write, mail/ and queue/ on
two file systems, fetch password files of a bad mode or owner (and
`kantorpos fetch` refusing them with the same words), etrn_request
password files by the same rule (and `kantorpos etrn` refusing them so),
a log_file run_as
could not reopen (no directory, a link, a directory, a FIFO, other hard
links, not writable, not creatable), a dns_trust_anchor that is missing,
unreadable by run_as, without keys or unparsable, and "none" (a warning).
Network: a listen
address in use, a privileged port, host names that do not resolve.

Certificates come from the openssl command (`openssl ca` for dates in the
past). Tests that need root (run_as, owners, a tmpfs mount) say why they
are skipped. Prints one line per check and "N passed, N failed, N
skipped"."""

import os
import grp
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from e2e_lib import free_port

BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
KANTORPOS = os.path.join(BUILD, "admin", "kantorpos")
ROOT = os.geteuid() == 0
RUN_AS = "nobody"
NOGROUP = "nogroup"
TIMEOUT = 60

passed = 0
failed = 0
skipped = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + str(detail) if detail else ""))


def skip(name, why):
    global skipped
    skipped += 1
    print("SKIP %s: %s" % (name, why))


def openssl(*args, cwd=None):
    subprocess.run(["openssl"] + list(args), check=True, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=TIMEOUT)


def new_key(path):
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-out", path)


def self_signed(cert, key, days, cn="localhost"):
    new_key(key)
    openssl("req", "-x509", "-key", key, "-days", str(days), "-subj",
            "/CN=" + cn, "-out", cert)


CA_CONF = """[ca]
default_ca = d
[d]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
[p]
commonName = supplied
"""


def dated_cert(workdir, cert, key, start, end, cn):
    """A self-signed certificate valid from start to end (YYYYMMDDHHMMSSZ):
    OpenSSL 3.0's req has no dates in the past, its ca command does."""
    ca = os.path.join(workdir, "ca-db")
    os.makedirs(ca)
    with open(os.path.join(ca, "ca.cnf"), "w") as f:
        f.write(CA_CONF)
    open(os.path.join(ca, "index.txt"), "w").close()
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("01\n")
    new_key(key)
    openssl("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out",
            os.path.join(ca, "req.pem"))
    openssl("ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile",
            key, "-in", "req.pem", "-startdate", start, "-enddate", end,
            "-out", cert, cwd=ca)


def not_after(cert):
    """The notAfter of cert as check prints it: 2020-02-01 00:00:00 UTC."""
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout",
                          "-enddate"], check=True, capture_output=True,
                         text=True, timeout=TIMEOUT).stdout.strip()
    when = time.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", when)


class Scratch:
    """A good configuration in a scratch directory: two users, one of them
    a domain's catch-all, an aliases file, a listener on a free port, a certificate for 30 days; as root
    with run_as nobody and the files nobody's, as a real install has them
    for its run_as user. Keyword lines are numbered so that findings can
    be matched exactly (line_of)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kantorpos-e2e-check-")
        os.chmod(self.dir, 0o755)
        self.conf = self.path("kantorpos.conf")
        self.data = self.path("data")
        self.users = self.path("users")
        self.aliases = self.path("aliases")
        self.cert = self.path("cert.pem")
        self.key = self.path("key.pem")
        self.port = free_port()
        os.makedirs(os.path.join(self.data, "mail"))
        os.makedirs(os.path.join(self.data, "queue"))
        self.write("aliases", "sales: alice\npostmaster: alice, sales\n")
        self_signed(self.cert, self.key, 30)
        self.lines = {}
        self.write_conf()
        for user in ("alice@example.test", "inbox@catch.test"):
            rc, out = self.run("user", "add", user, stdin="pw\n")
            assert rc == 0, out
        self.own(self.data, os.path.join(self.data, "mail"),
                 os.path.join(self.data, "queue"), self.users,
                 self.aliases, self.key, self.cert)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text, mode=0o644):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def own(self, *paths):
        """Hand paths to run_as (as root; otherwise they are ours)."""
        if ROOT:
            for p in paths:
                shutil.chown(p, RUN_AS)

    def write_conf(self, **over):
        """The configuration, with keywords replaced (value None drops
        one) and extra=... lines added at the end."""
        extra = over.pop("extra", "")
        kv = [("hostname", "mx.example.test"), ("data_dir", self.data),
              ("user_db", self.users), ("aliases", self.aliases),
              ("local_domain", "example.test"),
              ("local_domain ", "catch.test catchall inbox"),
              ("listen", "smtp 127.0.0.1:%d" % self.port),
              ("tls_cert", self.cert), ("tls_key", self.key),
              ("password_opslimit", "1"), ("password_memlimit", "8K")]
        if ROOT:
            kv.append(("run_as", RUN_AS))
        lines = []
        self.lines = {}
        for k, v in kv:
            if k in over:
                v = over[k]
            if v is None:
                continue
            lines.append("%s %s" % (k.strip(), v))
            self.lines.setdefault(k.strip(), len(lines))
        for line in extra.splitlines():
            lines.append(line)
            self.lines.setdefault(line.split()[0], len(lines))
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf, 0o644)

    def at(self, keyword):
        return "%s:%d: " % (self.conf, self.lines[keyword])

    def run(self, *args, stdin="", as_user=None):
        pre = None
        if as_user is not None:
            pw = pwd.getpwnam(as_user)

            def pre():
                os.setgroups([])
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
        p = subprocess.run([KANTORPOS, "-c", self.conf] + list(args),
                           input=stdin, capture_output=True, text=True,
                           timeout=TIMEOUT, preexec_fn=pre)
        return p.returncode, p.stdout + p.stderr

    def check(self, **kw):
        return self.run("check", **kw)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def expect(name, env, rc, out, want_rc, line, summary=None):
    """out must hold line as one whole line, and the exit status be
    want_rc; with summary, the last line must be that."""
    lines = out.splitlines()
    ok = rc == want_rc and line in lines
    if summary is not None:
        ok = ok and lines and lines[-1] == summary
    check(name, ok, "rc %d, want %d and the line\n  %s\nin:\n%s"
          % (rc, want_rc, line, out))


def broken(name, env, want_rc, keyword, text, **over):
    """Write the configuration with over, run check, and expect the
    finding "CONF:LINE-of-keyword: text"."""
    env.write_conf(**over)
    rc, out = env.check()
    expect(name, env, rc, out, want_rc, env.at(keyword) + text)


def summary_ok(env, warnings=0, users=2):
    text = "ok" if warnings == 0 else "ok with %d warning%s" % (
        warnings, "" if warnings == 1 else "s")
    return "%s: %s (%d user%s)" % (env.conf, text, users,
                                   "" if users == 1 else "s")


def t_good(env):
    rc, out = env.check()
    check("a good configuration: one line, ok, exit 0",
          rc == 0 and out == summary_ok(env) + "\n", (rc, out))


def t_tls(env):
    missing = env.path("tls/fullchain.pem")
    broken("tls_cert missing", env, 1, "tls_cert",
           "error: tls_cert %s: No such file or directory" % missing,
           tls_cert=missing)
    missing = env.path("tls/privkey.pem")
    broken("tls_key missing", env, 1, "tls_key",
           "error: tls_key %s: No such file or directory" % missing,
           tls_key=missing)
    other = env.path("other-key.pem")
    new_key(other)
    env.own(other)
    broken("tls_key of another certificate", env, 1, "tls_key",
           "error: tls_key %s does not belong to the certificate in %s: "
           "key values mismatch; fix: use the key the certificate was "
           "issued for" % (other, env.cert), tls_key=other)

    old, oldkey = env.path("old.pem"), env.path("old-key.pem")
    dated_cert(env.dir, old, oldkey, "20200101000000Z", "20200201000000Z",
               "old.example.test")
    env.own(old, oldkey)
    broken("tls_cert expired", env, 1, "tls_cert",
           "error: tls_cert %s: the certificate (CN=old.example.test) "
           "expired on 2020-02-01 00:00:00 UTC; fix: renew it" % old,
           tls_cert=old, tls_key=oldkey)

    soon, soonkey = env.path("soon.pem"), env.path("soon-key.pem")
    self_signed(soon, soonkey, 5, "soon.example.test")
    env.own(soon, soonkey)
    env.write_conf(tls_cert=soon, tls_key=soonkey)
    rc, out = env.check()
    expect("tls_cert ending in 5 days: a warning, exit 0", env, rc, out, 0,
           env.at("tls_cert") + "warning: tls_cert %s: the certificate "
           "(CN=soon.example.test) expires on %s, in less than 5 days; "
           "fix: renew it" % (soon, not_after(soon)), summary_ok(env, 1))

    # A CA and a leaf it signed: leaf first is right, CA first is not.
    cakey, ca = env.path("ca-key.pem"), env.path("ca.pem")
    new_key(cakey)
    openssl("req", "-x509", "-key", cakey, "-days", "30", "-subj",
            "/CN=Check Test CA", "-out", ca)
    leafkey, csr = env.path("leaf-key.pem"), env.path("leaf.csr")
    leaf = env.path("leaf.pem")
    new_key(leafkey)
    openssl("req", "-new", "-key", leafkey, "-subj", "/CN=mx.example.test",
            "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey,
            "-set_serial", "2", "-days", "30", "-out", leaf)
    good = env.write("fullchain.pem", open(leaf).read() + open(ca).read())
    bad = env.write("badchain.pem", open(ca).read() + open(leaf).read())
    env.own(leafkey, good, bad)
    env.write_conf(tls_cert=good, tls_key=leafkey)
    rc, out = env.check()
    check("tls_cert chain, leaf first: ok", rc == 0 and
          out == summary_ok(env) + "\n", (rc, out))
    broken("tls_cert chain in the wrong order", env, 1, "tls_cert",
           "error: tls_cert %s: wrong order: the certificate (CN=Check Test "
           "CA) issued certificate 2 (CN=mx.example.test), which comes "
           "after it; fix: put the leaf first, then each issuer" % bad,
           tls_cert=bad, tls_key=leafkey)
    env.write_conf()


def t_aliases(env):
    env.write("aliases", "sales: alice\nthis line has no colon\n"
              "team: alice, , bob@elsewhere.test\n")
    env.own(env.aliases)
    rc, out = env.check()
    expect("aliases: a line without a colon", env, rc, out, 1,
           "%s:2: error: expected \"alias: target[, target...]\""
           % env.aliases)
    expect("aliases: an empty target, its own line", env, rc, out, 1,
           "%s:3: error: empty target in the list" % env.aliases)
    expect("aliases: a foreign target, its own line", env, rc, out, 1,
           "%s:3: error: target \"bob@elsewhere.test\": not in a local "
           "domain" % env.aliases)
    check("aliases: no error is joined to another or prefixed twice",
          all(line.count(env.aliases) == 1 for line in out.splitlines()
              if line.startswith(env.aliases)) and "?" not in out, out)

    # ghost is nobody; anyone@catch.test (and sales@catch.test's alice)
    # reach inbox by the catch-all; sales is another alias.
    env.write("aliases", "sales: alice\nhelp@example.test: ghost, sales\n"
              "shop@catch.test: anyone\n")
    env.own(env.aliases)
    rc, out = env.check()
    expect("aliases: a target that is no user", env, rc, out, 1,
           "%s:2: error: alias help@example.test: target ghost@example.test "
           "is no local user (not in the user db, no alias, no catchall); "
           "fix: kantorpos user add ghost@example.test" % env.aliases)
    check("aliases: users, aliases and catch-alls are targets",
          len([ln for ln in out.splitlines() if "error:" in ln]) == 1, out)
    env.write("aliases", "sales: alice\npostmaster: alice, sales\n")
    env.own(env.aliases)


def t_user_db(env):
    with open(env.users, "a") as f:
        f.write("no colon here\n")
    rc, out = env.check()
    expect("user db: a malformed line, as user_db:LINE", env, rc, out, 1,
           "%s:3: error: no ':' after the user name" % env.users)
    subprocess.run(["sed", "-i", "$d", env.users], check=True)
    os.chmod(env.users, 0o644)
    rc, out = env.check()
    expect("user db: owner and mode as today", env, rc, out, 1,
           env.at("user_db") + "error: %s: the user database is readable "
           "by group and others (mode 0644); fix: chmod 600 %s"
           % (env.users, env.users))
    os.chmod(env.users, 0o600)
    if not ROOT:
        skip("user db unreadable for run_as", "needs root (run_as)")
        return
    shutil.chown(env.users, "root")
    rc, out = env.check()
    expect("user db that run_as cannot read", env, rc, out, 1,
           env.at("user_db") + "error: user_db %s cannot be read by %s: "
           "Permission denied; fix: chown %s %s"
           % (env.users, RUN_AS, RUN_AS, env.users))
    env.own(env.users)


def t_data_dir(env):
    mail = os.path.join(env.data, "mail")
    if ROOT:
        shutil.chown(mail, "root")
    else:
        os.chmod(mail, 0o555)
    who = RUN_AS if ROOT else pwd.getpwuid(os.geteuid()).pw_name
    rc, out = env.check()
    expect("data_dir/mail not writable", env, rc, out, 1,
           env.at("data_dir") + "error: %s is not writable by %s (creating "
           "a file: Permission denied); fix: chown -R %s %s"
           % (mail, who, who, mail))
    os.chmod(mail, 0o755)
    env.own(mail)
    if not ROOT or shutil.which("unshare") is None:
        skip("data_dir read-only / two file systems", "needs root and "
             "unshare(1) to mount a tmpfs; check_other_fs is unit-tested")
        return
    # A private mount namespace: the tmpfs vanishes with the command.
    queue = os.path.join(env.data, "queue")
    script = ('mount -t tmpfs -o mode=0755,size=1m tmpfs "$1" && '
              'chown %s "$1" && exec "$2" -c "$3" check' % RUN_AS)
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-c", script, "sh", queue, KANTORPOS, env.conf],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode not in (0, 1) or env.conf not in p.stdout:
        skip("mail/ and queue/ on two file systems",
             "cannot mount a tmpfs here: " + p.stderr.strip())
    else:
        expect("mail/ and queue/ on two file systems: a warning", env,
               p.returncode, p.stdout, 0,
               env.at("data_dir") + "warning: %s is on another file system "
               "than %s: a message moved between them is copied, not "
               "hard-linked; fix: keep data_dir on one file system"
               % (queue, mail), summary_ok(env, 1))
    script = ('mount -t tmpfs -o ro,mode=0755,size=1m tmpfs "$1" && '
              'exec "$2" -c "$3" check')
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-c", script, "sh", env.data, KANTORPOS, env.conf],
                       capture_output=True, text=True, timeout=TIMEOUT)
    if p.returncode not in (0, 1) or env.conf not in p.stdout:
        skip("data_dir on a read-only file system",
             "cannot mount a tmpfs here: " + p.stderr.strip())
        return
    expect("data_dir on a read-only file system", env, p.returncode,
           p.stdout, 1, env.at("data_dir") + "error: %s is not writable: "
           "its file system is mounted read-only" % env.data)


def password_rule(env, name, keyword, what, pw, command, ok_rc=75):
    """The rule of every password file (pw, named on the keyword line as
    what): check and command (kantorpos fetch --once, etrn --scheduled,
    queue flush) refuse a bad mode and a bad owner in the same words, and
    take 0600 (command then exits ok_rc: 75, it fails only to connect)."""
    program = "kantorpos " + command[0]
    lead = (env.at(keyword) + "error: %s: password_file %s: " % (what, pw))
    rc, out = env.check()
    want = ("the password file is readable by group and others "
            "(mode 0644); fix: chmod 600 %s" % pw)
    expect(name + " password_file readable by others", env, rc, out, 1,
           lead + want)
    crc, cout = env.run(*command)
    check(program + " refuses it in the same words",
          crc == 78 and want in cout, (crc, cout))
    os.chmod(pw, 0o600)
    rc, out = env.check()
    check(name + " password_file 0600: ok", rc == 0 and
          out == summary_ok(env) + "\n", (rc, out))
    crc, cout = env.run(*command)
    check(program + " takes it too" +
          (" (and fails only to connect)" if ok_rc == 75 else ""),
          crc == ok_rc and "password file" not in cout, (crc, cout))
    if not ROOT:
        skip(name + " password_file of another owner", "needs root (chown "
             "to an account the check and %s can still read as)" % program)
        return
    # As root both read it as run_as (nobody): a file of another account
    # (daemon) that nobody can still read through its group is refused by
    # both, for its owner and its mode, in one text.
    other = pwd.getpwnam("daemon")
    os.chown(pw, other.pw_uid, grp.getgrnam(NOGROUP).gr_gid)
    os.chmod(pw, 0o640)
    rc, out = env.check()
    owner = ("the password file is owned by daemon (uid %d), not "
             "%s or root" % (other.pw_uid, RUN_AS))
    lines = [ln for ln in out.splitlines() if ln.startswith(lead)]
    check(name + " password_file of another owner", rc == 1 and
          len(lines) == 1 and owner in lines[0], (rc, out))
    want = lines[0][len(lead):] if lines else owner
    crc, cout = env.run(*command)
    check(program + " refuses that owner in the same words",
          crc == 78 and want in cout, (crc, cout))


def t_fetch_password(env):
    pw = env.write("isp.pw", "secret\n", 0o644)
    env.own(pw)
    env.write_conf(extra="fetch_account isp host 127.0.0.1:%d tls none "
                   "plaintext-ok user u password_file %s multipop "
                   "alice@example.test" % (free_port(), pw))
    password_rule(env, "fetch", "fetch_account", "fetch_account isp", pw,
                  ("fetch", "--once"))
    env.write_conf()


def t_etrn_password(env):
    """An etrn_request's password file: the rule of fetch password files,
    in check and in kantorpos etrn --scheduled."""
    pw = env.write("upstream.pw", "secret\n", 0o644)
    env.own(pw)
    env.write_conf(extra="etrn_request 127.0.0.1:%d example.test starttls "
                   "auth u %s" % (free_port(), pw))
    password_rule(env, "etrn_request", "etrn_request",
                  "etrn_request 127.0.0.1 example.test", pw,
                  ("etrn", "--scheduled"))
    env.write_conf()


def t_relay_password(env):
    """The relayhost's password file: the rule of every password file, in
    check and in kantorpos queue flush (which reads it as kantorpos-smtpd
    does; nothing is queued, so it has no one to connect to); an empty
    first line is refused too."""
    pw = env.write("relay.pw", "secret\n", 0o644)
    env.own(pw)
    env.write_conf(extra="relayhost 127.0.0.1:%d tls implicit auth u %s"
                   % (free_port(), pw))
    password_rule(env, "relayhost", "relayhost", "relayhost", pw,
                  ("queue", "flush"), ok_rc=0)
    with open(pw, "w") as f:
        f.write("\nsecret\n")
    os.chmod(pw, 0o600)
    env.own(pw)
    rc, out = env.check()
    expect("relayhost password_file with an empty first line", env, rc, out,
           1, env.at("relayhost") + "error: relayhost: password_file %s: "
           "the first line (the password) is empty" % pw)
    env.write_conf()


def t_log_file(env):
    """log_file as the daemons reopen it (and kantorpos fetch --daemon
    opens it): as run_as, by log.c's own rules."""
    who = RUN_AS if ROOT else pwd.getpwuid(os.geteuid()).pw_name
    logdir = env.path("log")
    os.mkdir(logdir)
    env.own(logdir)
    good = os.path.join(logdir, "kantorpos.log")
    env.write_conf(extra="log_file %s" % good)
    rc, out = env.check()
    check("log_file not there yet, its directory writable: ok",
          rc == 0 and out == summary_ok(env) + "\n", (rc, out))

    nodir = env.path("nolog/sub/kantorpos.log")
    broken("log_file in a directory that does not exist", env, 1,
           "log_file", "error: log_file %s: its directory %s does not "
           "exist; fix: mkdir -p %s && chown %s %s"
           % (nodir, os.path.dirname(nodir), os.path.dirname(nodir), who,
              os.path.dirname(nodir)), extra="log_file %s" % nodir)

    real = env.write("real.log", "", 0o640)
    env.own(real)
    link = env.path("link.log")
    os.symlink(real, link)
    broken("log_file a symbolic link", env, 1, "log_file",
           "error: log_file %s: is a symbolic link; refusing it; fix: name "
           "the file itself in log_file, not a link to it" % link,
           extra="log_file %s" % link)

    broken("log_file a directory", env, 1, "log_file",
           "error: log_file %s: Is a directory; fix: name a file in "
           "log_file, not a directory" % logdir,
           extra="log_file %s" % logdir)

    fifo = env.path("fifo.log")
    os.mkfifo(fifo, 0o640)
    env.own(fifo)
    broken("log_file a FIFO", env, 1, "log_file",
           "error: log_file %s: not a regular file; fix: name a regular "
           "file in log_file" % fifo, extra="log_file %s" % fifo)

    twice = env.path("twice.log")
    os.link(real, twice)
    broken("log_file with another hard link", env, 1, "log_file",
           "error: log_file %s: has other hard links; refusing it; fix: "
           "give the log a file of its own: remove this one (the daemons "
           "create it)" % twice, extra="log_file %s" % twice)
    os.unlink(twice)

    # Not writable for run_as: root's file (as root), a read-only one of
    # our own otherwise.
    if ROOT:
        shutil.chown(real, "root")
        fix = "chown %s %s" % (who, real)
    else:
        os.chmod(real, 0o440)
        fix = "chmod u+w %s" % real
    broken("log_file not writable by run_as", env, 1, "log_file",
           "error: log_file %s cannot be written by %s: Permission denied; "
           "fix: %s" % (real, who, fix), extra="log_file %s" % real)
    if ROOT:
        shutil.chown(logdir, "root")
        os.chmod(logdir, 0o755)
        broken("log_file that run_as cannot create", env, 1, "log_file",
               "error: log_file %s does not exist, and %s cannot create it "
               "in %s: Permission denied; fix: chown %s %s"
               % (good, who, logdir, who, logdir),
               extra="log_file %s" % good)
    else:
        skip("log_file that run_as cannot create", "needs root (run_as)")
    env.write_conf()


def t_listen(env):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", env.port))
    s.listen(1)
    try:
        rc, out = env.check()
        expect("listen address in use", env, rc, out, 1,
               env.at("listen") + "error: listen smtp 127.0.0.1:%d: the "
               "address is in use (another program listens there, or a "
               "running kantorpos daemon); fix: stop it or choose another "
               "port" % env.port)
    finally:
        s.close()
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        floor = int(f.read())
    if floor <= 25:
        skip("privileged port", "this kernel lets anyone bind port 25")
        return
    env.write_conf(listen="smtp 127.0.0.1:25")
    # The check as an unprivileged user, as a daemon started so would be.
    rc, out = env.check(as_user=RUN_AS if ROOT else None)
    expect("privileged port without root or the capability", env, rc, out,
           1, env.at("listen") + "error: listen smtp 127.0.0.1:25: port 25 "
           "is privileged (below 1024): binding it needs root or "
           "CAP_NET_BIND_SERVICE, and this process has neither; fix: run "
           "check as root with run_as set (the daemons bind as root, then "
           "drop), or with that capability as the systemd units give it")
    env.write_conf()


def t_names(env):
    env.write_conf(extra="relayhost relay.invalid\n"
                   "etrn_domain branch.test deliver_to 127.0.0.1:2525\n"
                   "etrn_request backup.invalid example.test\n")
    rc, out = env.check()
    lines = out.splitlines()
    want = [env.at("relayhost") + "warning: relayhost relay.invalid does "
            "not resolve now (",
            env.at("etrn_request") + "warning: etrn_request backup.invalid "
            "does not resolve now ("]
    tail = "): kantorpos will keep trying, but nothing reaches it until it does"
    for w in want:
        check("host name that does not resolve: " + w.split("warning: ")[1]
              .split(" does")[0],
              any(ln.startswith(w) and ln.endswith(tail) for ln in lines),
              out)
    check("names: warnings only, exit 0; numeric addresses not looked up",
          rc == 0 and lines[-1] == summary_ok(env, 2) and
          "127.0.0.1" not in out, (rc, out))
    env.write_conf()


DS_LINE = ("dane.test. 3600 IN DS 12345 13 2 "
           "8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d\n")


def t_trust_anchor(env):
    """dns_trust_anchor read and parsed as run_as, as the resolver reads
    it; none is a warning."""
    who = RUN_AS if ROOT else pwd.getpwuid(os.geteuid()).pw_name
    good = env.write("anchor.key", "; the test's anchor\n" + DS_LINE)
    env.own(good)
    env.write_conf(extra="dns_trust_anchor %s" % good)
    rc, out = env.check()
    check("dns_trust_anchor with a DS record: ok",
          rc == 0 and out == summary_ok(env) + "\n", (rc, out))

    missing = env.path("nokeys/anchor.key")
    broken("dns_trust_anchor missing", env, 1, "dns_trust_anchor",
           "error: dns_trust_anchor %s: No such file or directory" % missing,
           extra="dns_trust_anchor %s" % missing)

    empty = env.write("empty.key", "; nothing here\n\n")
    env.own(empty)
    broken("dns_trust_anchor without DS or DNSKEY", env, 1,
           "dns_trust_anchor", "error: dns_trust_anchor %s: no DS or DNSKEY "
           "record in it" % empty, extra="dns_trust_anchor %s" % empty)

    bad = env.write("bad.key", "dane.test. IN DS twelve 13 2 00\n")
    env.own(bad)
    env.write_conf(extra="dns_trust_anchor %s" % bad)
    rc, out = env.check()
    want = env.at("dns_trust_anchor") + "error: dns_trust_anchor %s: " % bad
    lines = [ln for ln in out.splitlines() if ln.startswith(want)]
    check("dns_trust_anchor that does not parse: libunbound's reason",
          rc == 1 and len(lines) == 1 and
          ("parse error in %s:" % bad) in lines[0], (rc, out))

    if ROOT:
        private = env.write("private.key", DS_LINE, 0o600)
        broken("dns_trust_anchor run_as cannot read", env, 1,
               "dns_trust_anchor", "error: dns_trust_anchor %s cannot be "
               "read by %s: Permission denied; fix: chown %s %s"
               % (private, who, who, private),
               extra="dns_trust_anchor %s" % private)
    else:
        skip("dns_trust_anchor run_as cannot read", "needs root (run_as)")

    env.write_conf(extra="dns_trust_anchor none")
    rc, out = env.check()
    expect("dns_trust_anchor none: a warning, exit 0", env, rc, out, 0,
           env.at("dns_trust_anchor") + "warning: dns_trust_anchor none: DNS "
           "answers are not validated (no DNSSEC, no DANE): forged answers "
           "go unnoticed", summary_ok(env, 1))
    env.write_conf()


def t_config_errors(env):
    env.write_conf(extra="no_such_keyword 1\nmax_recipients lots\n")
    rc, out = env.check()
    expect("config errors as FILE:LINE: error:", env, rc, out, 1,
           env.at("no_such_keyword") + "error: unknown keyword "
           "\"no_such_keyword\"", "%s: 2 errors, 0 warnings" % env.conf)
    # A password never goes out without verified TLS: an error of the
    # line, not a failure at the first connection.
    for line, text in (
            ("relayhost 127.0.0.1:587 tls none auth u /p",
             "relayhost: auth without TLS would send the password in "
             "plaintext; use tls implicit or starttls"),
            ("etrn_request 127.0.0.1 example.test auth u /p",
             "etrn_request: auth without starttls would send the password "
             "in plaintext; add starttls")):
        keyword = line.split()[0]
        env.write_conf(extra=line)
        rc, out = env.check()
        expect(keyword + " auth without TLS as FILE:LINE: error:", env, rc,
               out, 1, env.at(keyword) + "error: " + text)
    env.write_conf()
    env.write_conf(extra="mta_sts maybe\nmta_sts_port 0\n")
    rc, out = env.check()
    expect("mta_sts and mta_sts_port errors at their lines", env, rc, out,
           1, env.at("mta_sts") + "error: mta_sts: expected yes or no, got "
           "\"maybe\"", "%s: 2 errors, 0 warnings" % env.conf)
    expect("mta_sts_port out of range", env, rc, out, 1,
           env.at("mta_sts_port") + "error: mta_sts_port: expected a number "
           "from 1 to 65535, got \"0\"")
    env.write_conf()


def main():
    if not os.access(KANTORPOS, os.X_OK):
        print("missing %s" % KANTORPOS)
        return 1
    if shutil.which("openssl") is None:
        print("SKIP e2e_check: the openssl command is needed for the certificates")
        return 77
    env = Scratch()
    try:
        for t in (t_good, t_tls, t_aliases, t_user_db, t_data_dir,
                  t_fetch_password, t_etrn_password, t_relay_password,
                  t_log_file, t_trust_anchor, t_listen,
                  t_names,
                  t_config_errors):
            try:
                t(env)
            except Exception as e:
                check(t.__name__, False, repr(e))
            env.write_conf()
        t_good(env)
    finally:
        env.close()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
