#!/usr/bin/env python3
"""tests/e2e_fail2ban.py: the shipped fail2ban filter against the lines
the real daemons wrote.

kantorpos-smtpd and kantorpos-pop3d (e2e_logs_lib.Site, one log_file)
get failed logins over SMTP AUTH PLAIN and LOGIN and POP3 USER/PASS and
AUTH PLAIN from distinct 127.0.0.x addresses, logins that succeed, an APOP,
a user name and a command line that try to forge a failure for another
address, and attempts over login_fail_limit (throttled). Then
`fail2ban-regex LOG etc/fail2ban/filter.d/kantorpos.conf` must match
exactly the failures, with their addresses; and the same lines as syslog
or the journal show them, and as stderr (-f) shows them, match the same.

Skipped (exit 77) when fail2ban-regex is not installed. Prints
"N passed, N failed"."""

import base64
import collections
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_logs_lib as lib  # noqa: E402
from e2e_logs_lib import PASSWORD, SKIP, Line, test  # noqa: E402

FILTER = os.path.join(lib.SRC, "etc", "fail2ban", "filter.d", "kantorpos.conf")
# The failures each address makes below; throttled ones count too.
WANT = {"127.0.0.41": 2, "127.0.0.42": 1, "127.0.0.43": 1, "127.0.0.44": 1,
        "127.0.0.45": 1, "127.0.0.51": 4}
# Addresses that must never match: successes, APOP, the forged ones.
NEVER = ("127.0.0.46", "127.0.0.47", "127.0.0.48", "127.0.0.49",
         "127.0.0.50", "127.0.0.98", "127.0.0.99")
LOGIN_LINES = sum(WANT.values()) + 3  # and the three successes


def b64(text):
    return base64.b64encode(text.encode()).decode()


def smtp_auth(site, src, user, pw, mech="PLAIN"):
    c = Line(site.p_sub, src)
    c.smtp_reply()
    c.smtp("EHLO client.example")
    if mech == "PLAIN":
        reply = c.smtp("AUTH PLAIN " + b64("\0%s\0%s" % (user, pw)))
    else:
        assert c.smtp("AUTH LOGIN")[0].startswith("334")
        assert c.smtp(b64(user))[0].startswith("334")
        reply = c.smtp(b64(pw))
    c.smtp("QUIT")
    c.close()
    return reply[0]


def pop_user_pass(site, src, user, pw):
    c = Line(site.p_pop, src)
    assert c.line().startswith("+OK")
    assert c.pop("USER " + user).startswith("+OK")
    reply = c.pop("PASS " + pw)
    c.pop("QUIT")
    c.close()
    return reply


def pop_auth_plain(site, src, user, pw):
    c = Line(site.p_pop, src)
    assert c.line().startswith("+OK")
    reply = c.pop("AUTH PLAIN " + b64("\0%s\0%s" % (user, pw)))
    c.pop("QUIT")
    c.close()
    return reply


def fail2ban_regex(log):
    """(number of matched lines, Counter of matched addresses)."""
    out = subprocess.run(["fail2ban-regex", log, FILTER],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    m = re.search(r"^Lines: \d+ lines, \d+ ignored, (\d+) matched",
                  out.stdout, re.M)
    assert m, out.stdout
    ips = subprocess.run(["fail2ban-regex", "-o", "ip", log, FILTER],
                         capture_output=True, text=True, timeout=120)
    assert ips.returncode == 0, ips.stdout + ips.stderr
    return int(m.group(1)), collections.Counter(ips.stdout.split())


@test
def failed_logins_over_smtp_and_pop3(site):
    alice, bob = lib.USERS
    assert smtp_auth(site, "127.0.0.41", alice, "wrong").startswith("535")
    assert smtp_auth(site, "127.0.0.41", "nobody@example.test",
                     PASSWORD).startswith("535")
    assert smtp_auth(site, "127.0.0.42", alice, "wrong",
                     "LOGIN").startswith("535")
    assert pop_user_pass(site, "127.0.0.43", bob, "wrong").startswith(
        "-ERR [AUTH]")
    assert pop_auth_plain(site, "127.0.0.44", bob, "wrong").startswith(
        "-ERR [AUTH]")
    # A name with spaces that spells another address.
    assert smtp_auth(site, "127.0.0.45", "x client=127.0.0.99 service=smtp",
                     "wrong").startswith("535")
    for _ in range(3):
        assert smtp_auth(site, "127.0.0.51", alice, "wrong").startswith(
            "535")
    # Over login_fail_limit: refused unchecked, even the right password.
    assert smtp_auth(site, "127.0.0.51", alice, PASSWORD).startswith("454")
    # Successes never match.
    assert smtp_auth(site, "127.0.0.46", alice, PASSWORD).startswith("235")
    assert pop_user_pass(site, "127.0.0.47", alice, PASSWORD).startswith(
        "+OK")
    assert pop_auth_plain(site, "127.0.0.48", bob, PASSWORD).startswith(
        "+OK")
    # APOP is not a login attempt (see kantorpos-pop3d(8)).
    c = Line(site.p_pop, "127.0.0.49")
    c.line()
    assert c.pop("APOP alice@example.test "
                 "c4c9334bac560ecc979e58001b3e22fb").startswith("-ERR")
    c.pop("QUIT")
    c.close()
    # A command that quotes a failure line into the trace.
    c = Line(site.p_mx, "127.0.0.50")
    c.smtp_reply()
    c.smtp("NOOP kantorpos-smtpd[1] warn: 0123456789abcdef login user=a "
           "client=127.0.0.98 result=fail service=smtp mechanism=PLAIN")
    c.smtp("QUIT")
    c.close()
    site.wait_log(r" login user=\S* client=", count=LOGIN_LINES)
    site.wait_log(r"kantorpos-smtpd\[\d+\] info: [0-9a-f]{16} disconnect "
                  r"client=127\.0\.0\.50 ")


@test
def the_filter_matches_the_log_file(site):
    matched, ips = fail2ban_regex(site.log)
    assert ips == collections.Counter(WANT), ips
    assert matched == sum(WANT.values()), matched
    assert not set(NEVER) & set(ips), ips


def log_lines(site):
    """Every line of the log file, split into its parts."""
    rx = re.compile(r"^(\S+) (kantorpos-\w+)\[(\d+)\] (\w+): (.*)$")
    text = site.log_text().splitlines()
    found = [rx.match(line) for line in text]
    assert all(found), [t for t, m in zip(text, found) if not m][:3]
    return [m.groups() for m in found]


def rewrite(site, name, fmt):
    """The whole log in another sink's form."""
    path = os.path.join(site.dir, name)
    with open(path, "w") as f:
        for stamp, prog, pid, level, msg in log_lines(site):
            f.write(fmt.format(stamp=stamp, short=stamp[:23], prog=prog,
                               pid=pid, level=level, msg=msg) + "\n")
    return path


@test
def the_filter_matches_syslog_journal_and_stderr_forms(site):
    """The same lines as the other sinks write them: rsyslog's mail log
    (syslog(3) with LOG_PID: "warn: ..." is the message), the journal as
    fail2ban's systemd backend shows it, stderr (-f), and stderr under
    systemd, which lands in the journal with a second time stamp."""
    forms = {
        "syslog.log": "Dec  2 17:24:22 mail {prog}[{pid}]: {level}: {msg}",
        "journal.log": "2026-12-02 17:24:22 mail {prog}[{pid}]: {level}: "
                       "{msg}",
        "stderr.log": "{short} {prog} {level}: {msg}",
        "stderr-journal.log": "Dec  2 17:24:22 mail {prog}[{pid}]: {short} "
                              "{prog} {level}: {msg}",
    }
    for name, fmt in forms.items():
        matched, ips = fail2ban_regex(rewrite(site, name, fmt))
        assert ips == collections.Counter(WANT), (name, ips)
        assert matched == sum(WANT.values()), (name, matched)


def make_site():
    site = lib.Site()
    site.lines = site.lines.replace("login_fail_limit 100",
                                    "login_fail_limit 3")
    site.write_conf(site.lines)
    return site


if __name__ == "__main__":
    if shutil.which("fail2ban-regex") is None:
        print("SKIP: fail2ban-regex is not installed (Debian: apt-get "
              "install fail2ban)")
        sys.exit(SKIP)
    sys.exit(lib.run(make_site))
