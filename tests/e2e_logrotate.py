#!/usr/bin/env python3
"""tests/e2e_logrotate.py: the shipped logrotate snippet against the real
daemons.

The built etc/logrotate.d/kantorpos, with its log directory replaced by
the test's and its "create" owner by the user the daemons run as, is run
with `logrotate -s STATE -f` while kantorpos-smtpd and kantorpos-pop3d
(e2e_logs_lib.Site) write the log file. Its postrotate script calls
`systemctl kill --kill-whom=main --signal=USR1 UNIT`: a stand-in systemctl
first in PATH records the call and signals the daemon of that unit (and
fails for kantorpos-fetch, which is not running, as systemctl does). The
old lines must be in kantorpos.log.1, the new file must have the owner and
mode of the snippet, and the daemons' next lines must go into it; a second
rotation compresses the first.

Skipped (exit 77) when logrotate is not installed. Prints
"N passed, N failed"."""

import grp
import gzip
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_logs_lib as lib  # noqa: E402
from e2e_logs_lib import SKIP, Line, test  # noqa: E402

SNIPPET = os.path.join(lib.BUILD, "etc", "logrotate.d", "kantorpos")

FAKE_SYSTEMCTL = r"""#!/bin/sh
# systemctl kill --kill-whom=main --signal=USR1 UNIT, for the test only.
echo "$*" >>"$KP_CALLS"
[ "$1" = kill ] && [ "$2" = --kill-whom=main ] && [ "$3" = --signal=USR1 ] \
	&& [ $# -eq 4 ] || exit 2
pid=$(sed -n "s/^$4 //p" "$KP_PIDS")
[ -n "$pid" ] || { echo "Unit $4 not loaded." >&2; exit 1; }
exec kill -USR1 "$pid"
"""


class Rotation:
    """The snippet made to act on the test's directory, its state file and
    the stand-in systemctl."""

    def __init__(self, site):
        self.site = site
        self.dir = os.path.join(site.dir, "logrotate")
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        self.calls = os.path.join(self.dir, "calls")
        self.pids = os.path.join(self.dir, "pids")
        self.state = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "kantorpos")
        with open(os.path.join(bindir, "systemctl"), "w") as f:
            f.write(FAKE_SYSTEMCTL)
        os.chmod(os.path.join(bindir, "systemctl"), 0o755)
        with open(self.pids, "w") as f:
            for name, proc in site.procs.items():
                f.write("%s.service %d\n" % (name, proc.pid))
        self.user = site.run_as or pwd.getpwuid(os.geteuid()).pw_name
        pw = pwd.getpwnam(self.user)
        self.uid = pw.pw_uid
        self.group = grp.getgrgid(pw.pw_gid).gr_name
        with open(SNIPPET) as f:
            text = f.read()
        m = re.search(r"^(/\S+)/kantorpos/\*\.log \{$", text, re.M)
        assert m, "no log path in the snippet:\n" + text
        assert m.group(1).endswith("/log"), m.group(1)
        assert "@" not in text, "unsubstituted @...@ in the snippet"
        text = text.replace(m.group(0), site.logdir + "/*.log {")
        assert "create 0640 kantorpos adm\n" in text
        text = text.replace("create 0640 kantorpos adm\n",
                            "create 0640 %s %s\n" % (self.user, self.group))
        with open(self.conf, "w") as f:
            f.write(text)
        os.chmod(self.conf, 0o644)
        self.env = dict(os.environ, KP_CALLS=self.calls, KP_PIDS=self.pids,
                        PATH=bindir + os.pathsep + os.environ["PATH"])

    def run(self, *args):
        p = subprocess.run(["logrotate", "-s", self.state] + list(args) +
                           [self.conf], env=self.env, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, (p.returncode, p.stdout + p.stderr)
        return p.stdout + p.stderr


def connect_both(site, src):
    """One SMTP and one POP3 session from src; their connect lines are
    what the next test looks for."""
    c = Line(site.p_mx, src)
    c.smtp_reply()
    c.smtp("QUIT")
    c.close()
    p = Line(site.p_pop, src)
    p.line()
    p.pop("QUIT")
    p.close()


ROT = []


@test
def debug_run_changes_nothing(site):
    ROT.append(Rotation(site))
    connect_both(site, "127.0.0.61")
    site.wait_log(r"pop3d\[\d+\] info: [0-9a-f]{16} connect "
                  r"client=127\.0\.0\.61 ")
    out = ROT[0].run("-d")
    assert site.log in out, out
    assert sorted(os.listdir(site.logdir)) == ["kantorpos.log"]
    assert not os.path.exists(ROT[0].calls), "-d ran postrotate"


@test
def forced_rotation_reopens_the_log_in_both_daemons(site):
    rot = ROT[0]
    rot.run("-f")
    old = site.log + ".1"
    assert "client=127.0.0.61" in site.log_text(old)
    st = os.stat(site.log)
    assert stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
    assert st.st_uid == rot.uid, st.st_uid
    with open(rot.calls) as f:
        calls = f.read().splitlines()
    assert calls == ["kill --kill-whom=main --signal=USR1 %s.service" % u
                     for u in ("kantorpos-smtpd", "kantorpos-pop3d",
                               "kantorpos-fetch")], calls
    for name in ("kantorpos-smtpd", "kantorpos-pop3d"):
        site.wait_log(r"^\S+ %s\[\d+\] info: SIGUSR1: log file %s open$"
                      % (name, re.escape(site.log)))
    connect_both(site, "127.0.0.62")
    for name in ("smtpd", "pop3d"):
        site.wait_log(r"kantorpos-%s\[\d+\] info: [0-9a-f]{16} connect "
                      r"client=127\.0\.0\.62 " % name)
    assert "127.0.0.62" not in site.log_text(old)
    assert " error: " not in site.log_text(), site.log_text()


@test
def second_rotation_compresses_the_first(site):
    rot = ROT[0]
    os.unlink(rot.calls)
    rot.run("-f")
    with gzip.open(site.log + ".2.gz", "rt") as f:
        assert "client=127.0.0.61" in f.read()
    assert "client=127.0.0.62" in site.log_text(site.log + ".1")
    for name in ("kantorpos-smtpd", "kantorpos-pop3d"):
        site.wait_log(r"^\S+ %s\[\d+\] info: SIGUSR1: log file %s open$"
                      % (name, re.escape(site.log)))


if __name__ == "__main__":
    if shutil.which("logrotate") is None:
        print("SKIP: logrotate is not installed (Debian: apt-get install "
              "logrotate)")
        sys.exit(SKIP)
    if not os.path.exists(SNIPPET):
        print("missing %s (run make first)" % SNIPPET)
        print("0 passed, 1 failed")
        sys.exit(1)
    sys.exit(lib.run())
