#!/usr/bin/env python3
"""tests/e2e_relayhost.py: the relay host with a login, end to end, between
two real kantorpos-smtpd daemons on loopback.

The "provider" serves provider.test, with a submissions listener (implicit
TLS) and a submission listener (STARTTLS) and the account
relay@provider.test in its user db; its certificate is issued by a test CA
for the name "localhost" alone (which /etc/hosts resolves to 127.0.0.1).
The "site" names the provider as its relayhost, by that name, with
tls_ca_file the test CA and the password in a file of its own; mail is
queued at the site with `kantorpos queue add` from relay@provider.test (the
address the provider lets that account send as) to zed@provider.test, and
a SIGHUP (which sends what is due) or `kantorpos queue flush` sends it.

Cases: implicit TLS + AUTH PLAIN delivers into the provider's Maildir;
STARTTLS on the submission port (the default for a port other than 465)
delivers; a wrong password leaves the message queued ("authentication
failed" in the log, `kantorpos queue list` shows it) until the file is
fixed, SIGHUP and `kantorpos queue flush`; a certificate for another name
(the site says 127.0.0.1) leaves it queued with nothing sent, not even the
login (the provider's trace shows no AUTH and no MAIL); `tls none` with
auth is refused by `kantorpos check`; a password file with mode 0644 (or
an empty first line) is refused by `kantorpos check`, by a SIGHUP (the old
password stays) and by the daemon at start. The password never shows in
the site's trace.

Prints one line per test and "N passed, N failed"; exit 1 on failure."""

import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_smtp as s  # noqa: E402  (Daemon, run_tests, ADMIN, ...)
from e2e_lib import make_ca, make_cert, wait_for  # noqa: E402

RELAY_USER = "relay@provider.test"
RELAY_PW = "relay pass 7"
RCPT = "zed@provider.test"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def run(d, *args, stdin=None):
    p = subprocess.run([s.ADMIN, "-c", d.conf] + list(args), input=stdin,
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def give(path):
    """As root the daemons run as nobody: their files are nobody's."""
    if os.geteuid() == 0:
        shutil.chown(path, "nobody")


def write_pw(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    give(path)


def queue_add(site, subject):
    body = ("From: Relay <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
            "Message-ID: <%s@site.test>\r\n\r\nhello %s\r\n" %
            (RELAY_USER, RCPT, subject, subject.replace(" ", "."),
             subject)).encode()
    rc, out, err = run(site, "queue", "add", "-f", RELAY_USER, RCPT,
                       stdin=body)
    assert rc == 0, (rc, out, err)
    return out.split()[0]


def queue_list(site):
    rc, out, err = run(site, "queue", "list")
    assert rc == 0, (rc, out, err)
    return out


def queued(site):
    return int(queue_list(site).strip().splitlines()[-1].split()[0])


def delivered(provider):
    return provider.messages("zed", "provider.test")


def reload(d):
    """SIGHUP, and wait for the line that ends the reload."""
    def done():
        return len(re.findall(r"reloaded |reload of .* applied except",
                              d.logtext()))
    n = done()
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: done() > n), d.logtext()[-3000:]


def set_relayhost(site, line):
    """Write the site's relayhost line and reload. Tests change the
    configuration before they queue a message: the daemon's periodic run
    could otherwise send it with the old one before the reload."""
    with open(site.conf) as f:
        text = f.read()
    text = re.sub(r"(?m)^relayhost .*$", line, text)
    with open(site.conf, "w") as f:
        f.write(text)
    site.mark = len(site.logtext())
    reload(site)


def since(d, mark):
    return d.logtext()[mark:]


def relay_line(site):
    with open(site.conf) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("relayhost "):
                return n
    raise AssertionError("no relayhost line")


def no_secret(site):
    """Neither the password nor any base64 carrying it in the trace."""
    text = site.logtext()
    plain = base64.b64encode(b"\0" + RELAY_USER.encode() + b"\0" +
                             RELAY_PW.encode()).decode()
    assert RELAY_PW not in text and plain not in text and \
        base64.b64encode(RELAY_PW.encode()).decode() not in text


@test
def implicit_tls_auth_plain_delivers(provider, site):
    before = len(delivered(provider))
    pmark, smark = len(provider.logtext()), len(site.logtext())
    queue_add(site, "implicit tls")
    reload(site)
    assert wait_for(lambda: len(delivered(provider)) == before + 1), \
        since(site, smark)
    with open(delivered(provider)[-1], "rb") as f:
        got = f.read()
    assert b"Subject: implicit tls" in got and \
        b"(authenticated as relay@provider.test)" in got, got[:600]
    assert wait_for(lambda: queued(site) == 0)
    assert "C: AUTH PLAIN ****" in since(site, smark), since(site, smark)
    plog = since(provider, pmark)
    assert " < AUTH PLAIN ****" in plog and " < STARTTLS" not in plog, plog
    no_secret(site)


@test
def starttls_on_submission_delivers(provider, site):
    """A port other than 465: STARTTLS, required and verified, by default."""
    before = len(delivered(provider))
    pmark = len(provider.logtext())
    set_relayhost(site, "relayhost localhost:%d auth %s %s"
                  % (provider.sub, RELAY_USER, site.pw))
    queue_add(site, "starttls")
    reload(site)  # what is due goes at once
    assert wait_for(lambda: len(delivered(provider)) == before + 1), \
        since(site, site.mark)
    plog = since(provider, pmark)
    assert " < STARTTLS" in plog and " < AUTH PLAIN ****" in plog, plog
    assert wait_for(lambda: queued(site) == 0)
    no_secret(site)


@test
def wrong_password_stays_queued_until_fixed(provider, site):
    before = len(delivered(provider))
    write_pw(site.pw, "not the password\n")
    reload(site)  # the daemon holds the wrong password before the message
    qid = queue_add(site, "wrong password")
    smark = len(site.logtext())
    reload(site)
    assert wait_for(lambda: "authentication failed" in since(site, smark)), \
        since(site, smark)
    failed = [ln for ln in since(site, smark).splitlines()
              if "authentication failed" in ln]
    assert "535 5.7.8" in failed[0], failed
    listing = queue_list(site)
    assert qid in listing and "authentication failed" in listing, listing
    assert len(delivered(provider)) == before
    write_pw(site.pw, RELAY_PW + "\n")
    time.sleep(1.1)  # queue_retry_min 1s: the item is due again
    reload(site)
    rc, out, err = run(site, "queue", "flush")
    assert rc == 0, (rc, out, err)
    assert wait_for(lambda: len(delivered(provider)) == before + 1 and
                    queued(site) == 0), (queue_list(site), since(site, smark))
    time.sleep(0.5)
    assert len(delivered(provider)) == before + 1, "delivered twice"
    no_secret(site)


@test
def certificate_for_another_name_sends_nothing(provider, site):
    """The site names the provider 127.0.0.1, its certificate says
    localhost: no login, no MAIL, over implicit TLS or STARTTLS."""
    before = len(delivered(provider))
    pmark = len(provider.logtext())
    set_relayhost(site, "relayhost 127.0.0.1:%d tls implicit auth %s %s"
                  % (provider.subs, RELAY_USER, site.pw))
    qid = queue_add(site, "wrong name")
    site.mark = len(site.logtext())
    reload(site)
    assert wait_for(lambda: "session to 127.0.0.1:%d failed" % provider.subs
                    in since(site, site.mark)), since(site, site.mark)
    failed = [ln for ln in since(site, site.mark).splitlines()
              if "failed" in ln]
    assert any("certificate" in ln for ln in failed), failed
    time.sleep(1.1)  # due again
    set_relayhost(site, "relayhost 127.0.0.1:%d auth %s %s"
                  % (provider.sub, RELAY_USER, site.pw))
    assert wait_for(lambda: "session to 127.0.0.1:%d failed" % provider.sub
                    in since(site, site.mark)), since(site, site.mark)
    time.sleep(0.5)
    plog = since(provider, pmark)
    assert " < STARTTLS" in plog, plog
    assert " < AUTH" not in plog and " < MAIL" not in plog, plog
    assert qid in queue_list(site) and len(delivered(provider)) == before
    rc, out, err = run(site, "queue", "remove", qid)
    assert rc == 0, (rc, out, err)
    set_relayhost(site, "relayhost localhost:%d tls implicit auth %s %s"
                  % (provider.subs, RELAY_USER, site.pw))


@test
def check_refuses_auth_with_tls_none(provider, site):
    conf = os.path.join(site.dir, "none.conf")
    with open(site.conf) as f:
        text = f.read()
    text = re.sub(r"(?m)^relayhost .*$", "relayhost localhost:%d tls none "
                  "auth %s %s" % (provider.sub, RELAY_USER, site.pw), text)
    with open(conf, "w") as f:
        f.write(text)
    line = [n for n, ln in enumerate(text.splitlines(), 1)
            if ln.startswith("relayhost ")][0]
    p = subprocess.run([s.ADMIN, "-c", conf, "check"], capture_output=True,
                       text=True, timeout=60)
    want = ("%s:%d: error: relayhost: auth without TLS would send the "
            "password in plaintext; use tls implicit or starttls"
            % (conf, line))
    assert p.returncode == 1 and want in p.stdout.splitlines(), \
        (p.returncode, p.stdout, p.stderr)


@test
def password_file_mode_0644_refused(provider, site):
    """By kantorpos check (with the relayhost line), by a reload (the old
    password stays) and by the daemon at start; an empty first line too."""
    lead = "%s:%d: error: relayhost: password_file %s: " % (
        site.conf, relay_line(site), site.pw)
    os.chmod(site.pw, 0o644)
    try:
        rc, out, err = run(site, "check")
        assert rc == 1 and (lead + "the password file is readable by group "
                            "and others (mode 0644); fix: chmod 600 %s"
                            % site.pw) in out.splitlines(), (rc, out, err)
        smark = len(site.logtext())
        reload(site)
        assert "keeping the old relayhost password" in since(site, smark), \
            since(site, smark)
        site.proc.send_signal(signal.SIGTERM)
        site.proc.wait(15)
        smark = len(site.logtext())
        try:
            site.start()
            raise AssertionError("started with a 0644 password file")
        except RuntimeError:
            pass
        assert "the password file is readable by group and others" in \
            since(site, smark), since(site, smark)
        write_pw(site.pw, "\n" + RELAY_PW + "\n")
        rc, out, err = run(site, "check")
        assert rc == 1 and (lead + "the first line (the password) is "
                            "empty") in out.splitlines(), (rc, out, err)
        smark = len(site.logtext())
        try:
            site.start()
            raise AssertionError("started with an empty password")
        except RuntimeError:
            pass
        assert "relayhost: password_file %s: the first line (the password) "\
            "is empty" % site.pw in since(site, smark), since(site, smark)
    finally:
        write_pw(site.pw, RELAY_PW + "\n")
    if site.proc.poll() is not None:
        site.start()
    rc, out, err = run(site, "check")
    assert "relayhost: password_file" not in out, out


def setup(top):
    """The test CA, the provider's certificate for localhost alone, both
    daemons, the relay account and the site's password file."""
    make_ca(top + "/ca.key", top + "/ca.pem")
    make_cert(top + "/key.pem", top + "/cert.pem", "localhost",
              ca=(top + "/ca.key", top + "/ca.pem"), names=["localhost"])
    give(top + "/key.pem")
    provider = s.Daemon(top, "provider", "local_domain provider.test\n")
    for user, pw in ((RELAY_USER, RELAY_PW), (RCPT, s.PASSWORD)):
        p = subprocess.run([s.ADMIN, "-c", provider.conf, "user", "add",
                            user], input=pw + "\n", text=True,
                           capture_output=True)
        assert p.returncode == 0, p.stderr
    give(os.path.join(provider.dir, "users"))
    pw = top + "/relay.pw"
    write_pw(pw, RELAY_PW + "\n")
    # log_level debug: the outbound client's dialogue is in the log.
    site = s.Daemon(top, "site",
                    f"relayhost localhost:{provider.subs} tls implicit "
                    f"auth {RELAY_USER} {pw}\n"
                    f"tls_ca_file {top}/ca.pem\n"
                    "queue_retry_min 1s\noutbound_timeout 10s\n"
                    "log_level debug\n")
    site.pw = pw
    return provider, site


def main():
    if not os.access(s.SMTPD, os.X_OK):
        print("kantorpos-smtpd not built at " + s.SMTPD)
        return 1
    if shutil.which("openssl") is None:
        print("SKIP e2e_relayhost: the openssl command makes the certificates")
        return 77
    top = s.make_test_dir("kp-e2e-relayhost-")
    try:
        daemons = setup(top)
    except Exception:
        traceback.print_exc()
        print("0 passed, 1 failed")
        return 1
    return s.run_tests(TESTS, daemons)


if __name__ == "__main__":
    sys.exit(main())
