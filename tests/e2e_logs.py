#!/usr/bin/env python3
"""tests/e2e_logs.py: what the real daemons log, end to end, with log_file
set (e2e_logs_lib.Site: kantorpos-smtpd and kantorpos-pop3d on loopback,
one log file):

- start-up errors name the file and the reason (a missing certificate, a
  log file that cannot be opened), on stderr and in the log;
- a bidi override in an SMTPUTF8 address is escaped in the log;
- SIGUSR1 after a rename reopens the log file (the next connection's lines
  are in the new file) and reloads nothing else;
- SIGHUP with a broken config, certificate or aliases file logs one error
  line (one per error: two broken aliases lines give two) saying what was
  kept and why, and the daemons go on with the old settings; "reloaded"
  only when everything was;
- kantorpos fetch --daemon logs to log_file too, and reopens it on SIGUSR1;
- SIGUSR1 while a program starts (before its watchers exist) does not end
  it: the daemons and kantorpos fetch --daemon start, serve, and handle the
  next one;
- --version on every program, in --help and the manual pages.
Prints "N passed, N failed, N skipped"."""

import base64
import errno
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_logs_lib import (ADMIN, BUILD, PASSWORD, POP3D, SLOW, SMTPD,  # noqa
                          SRC, WRAPPER, Line, free_port, make_cert, run,
                          test)

SIZE_10M = "250-SIZE %d" % (10 * 1024 * 1024)


def ehlo(site, port=None):
    c = Line(port or site.p_mx)
    c.smtp_reply()
    reply = c.smtp("EHLO client.example")
    c.smtp("QUIT")
    c.close()
    return reply


def served_cert(site):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", site.p_subs), 10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            der = t.getpeercert(binary_form=True)
            t.recv(1024)
            t.sendall(b"QUIT\r\n")
            return der


def cert_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def start_fails(site, conf_text, program, **kw):
    """Run program on conf_text: it must exit 1; returns its stderr."""
    conf = os.path.join(site.dir, "broken.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    p = subprocess.run([program, "-f", "-c", conf], capture_output=True,
                       text=True, timeout=60, **kw)
    assert p.returncode == 1, (p.returncode, p.stderr)
    return p.stderr


@test
def startup_errors_name_the_file_and_the_reason(site):
    missing = os.path.join(site.dir, "missing.pem")
    other_log = os.path.join(site.logdir, "startup.log")
    text = site.lines.replace("tls_cert %s\n" % site.cert,
                              "tls_cert %s\n" % missing)
    text = text.replace("log_file %s\n" % site.log,
                        "log_file %s\n" % other_log)
    for program in (SMTPD, POP3D):
        name = os.path.basename(program)
        err = start_fails(site, text, program)
        want = "%s: tls_cert %s: No such file or directory\n" % (name,
                                                                 missing)
        assert want in err, err
        assert "error 80000002" not in err and "system lib" not in err, err
        # The log gets it too: that is where the logs go.
        assert re.search(r"^\S+ %s\[\d+\] error: tls_cert %s: No such file "
                         r"or directory$" % (name, re.escape(missing)),
                         site.log_text(other_log), re.M), \
            site.log_text(other_log)
    nodir = os.path.join(site.dir, "nodir", "k.log")
    err = start_fails(site, site.lines.replace(
        "log_file %s\n" % site.log, "log_file %s\n" % nodir), SMTPD)
    assert ("kantorpos-smtpd: log_file %s: No such file or directory\n"
            % nodir) in err, err
    if site.run_as:
        # Started as run_as itself, in a directory only root may enter.
        closed = os.path.join(site.dir, "rootonly")
        os.mkdir(closed, 0o700)
        denied = os.path.join(closed, "k.log")
        err = start_fails(site, site.lines.replace(
            "log_file %s\n" % site.log, "log_file %s\n" % denied), SMTPD,
            user=site.run_as)
        assert ("kantorpos-smtpd: log_file %s: Permission denied\n"
                % denied) in err, err


@test
def bidi_override_in_an_address_is_escaped(site):
    since = site.size()
    c = Line(site.p_mx, "127.0.0.31")
    c.smtp_reply()
    assert "250-SMTPUTF8" in c.smtp("EHLO client.example")
    reply = c.smtp("MAIL FROM:<\u202eevil\u2066@elsewhere.test> SMTPUTF8")
    assert reply[0].startswith("250"), reply
    assert c.smtp("RCPT TO:<alice@example.test>")[0].startswith("250")
    assert c.smtp("DATA")[0].startswith("354")
    c.send("Subject: hi\r\n\r\nbody\r\n.\r\n")
    assert c.smtp_reply()[0].startswith("250")
    c.smtp("QUIT")
    c.close()
    site.wait_log(r"kantorpos-smtpd\[\d+\] info: [0-9a-f]{16} accepted id=\S+ "
                  r"from=<\\u202Eevil\\u2066@elsewhere\.test> "
                  r"to=<alice@example\.test>", since)
    # The trace line of the command too; and nowhere a raw override.
    site.wait_log(r" < MAIL FROM:<\\u202Eevil\\u2066@elsewhere\.test> "
                  r"SMTPUTF8$", since)
    raw = site.log_bytes()[since:]
    assert "\u202e".encode() not in raw and "\u2066".encode() not in raw


@test
def sigusr1_reopens_the_log_and_nothing_else(site):
    rotated = site.log + ".1"
    os.rename(site.log, rotated)
    # A changed setting that SIGUSR1 must not pick up.
    site.write_conf(site.lines.replace("max_message_size 10M",
                                       "max_message_size 20M"))
    site.signal(signal.SIGUSR1)
    for name in ("kantorpos-smtpd", "kantorpos-pop3d"):
        site.wait_log(r"^\S+ %s\[\d+\] info: SIGUSR1: log file %s open$"
                      % (name, re.escape(site.log)))
    assert SIZE_10M in ehlo(site), "SIGUSR1 reloaded the configuration"
    p = Line(site.p_pop, "127.0.0.32")
    assert p.line().startswith("+OK")
    assert p.pop("QUIT").startswith("+OK")
    p.close()
    new = site.wait_log(r"^.* kantorpos-pop3d\[\d+\] info: ([0-9a-f]{16}) "
                        r"connect client=127\.0\.0\.32 ")
    assert new[0] not in site.log_text(rotated), "new session in the old file"
    site.wait_log(r"kantorpos-smtpd\[\d+\] info: [0-9a-f]{16} connect ")
    assert "reload" not in site.log_text(), site.log_text()
    os.unlink(rotated)
    site.write_conf(site.lines)


def sighup(site, since, count=2):
    """SIGHUP both daemons; wait for the end of both reloads (the
    "reloaded" line or the summary of a partial one) or the refusal."""
    site.signal(signal.SIGHUP)
    site.wait_log(r"(?:info: reloaded |warn: reload of |keeping the old "
                  r"configuration$)", since, count=count)


@test
def sighup_with_a_broken_config_keeps_the_old_one(site):
    since = site.size()
    n = site.lines.count("\n") + 1
    site.write_conf(site.lines.replace("max_message_size 10M",
                                       "max_message_size 20M") +
                    "no_such_keyword 1\n")
    sighup(site, since)
    for name in ("kantorpos-smtpd", "kantorpos-pop3d"):
        site.wait_log(r"^\S+ %s\[\d+\] error: reload: %s:%d: unknown keyword "
                      r"\"no_such_keyword\"; keeping the old configuration$"
                      % (name, re.escape(site.conf), n), since)
    assert "reloaded" not in site.log_text()[since:]
    assert SIZE_10M in ehlo(site), "the refused config was applied"


@test
def sighup_with_a_broken_certificate_keeps_the_old_one(site):
    old_der = served_cert(site)
    since = site.size()
    with open(site.cert) as f:
        good = f.read()
    with open(site.cert, "w") as f:
        f.write("not a certificate\n")
    site.write_conf(site.lines.replace("max_message_size 10M",
                                       "max_message_size 11M"))
    sighup(site, since)
    for name in ("kantorpos-smtpd", "kantorpos-pop3d"):
        site.wait_log(r"^\S+ %s\[\d+\] error: reload: tls_cert %s: no start "
                      r"line \(Expecting: TRUSTED CERTIFICATE\); keeping the "
                      r"old certificate and key$"
                      % (name, re.escape(site.cert)), since)
        site.wait_log(r"^\S+ %s\[\d+\] warn: reload of %s applied except for "
                      r"1 part kept as before \(errors above\)$"
                      % (name, re.escape(site.conf)), since)
    assert "reloaded" not in site.log_text()[since:]
    assert served_cert(site) == old_der, "the old certificate is gone"
    assert "250-SIZE %d" % (11 * 1024 * 1024) in ehlo(site), \
        "the rest of the config was not applied"
    with open(site.cert, "w") as f:
        f.write(good)


@test
def sighup_with_broken_aliases_keeps_the_old_ones(site):
    """Two broken lines: two log lines, each with its FILE:LINE, on SIGHUP
    and again when a session finds the changed file; never one line with
    the errors joined (an escaped newline, \\x0a)."""
    try:
        broken_aliases_are_logged_line_by_line(site)
    finally:
        with open(site.aliases, "w") as f:
            f.write("sales: alice, bob\n")


def broken_aliases_are_logged_line_by_line(site):
    since = site.size()
    with open(site.aliases, "w") as f:
        f.write("sales alice\nhelp: bob@elsewhere.test\n")
    sighup(site, since)
    where = re.escape(site.aliases)
    for n in (1, 2):
        line = site.wait_log(r"^\S+ kantorpos-smtpd\[\d+\] error: reload: "
                             r"%s:%d: (.*); keeping the old aliases$"
                             % (where, n), since)
        # Line 2 has two errors: a foreign target, and so no target.
        assert len(line) == n and all(line), line
        assert not any(site.aliases in why for why in line), \
            "prefixed twice: %r" % line
    site.wait_log(r"kantorpos-pop3d\[\d+\] info: reloaded ", since)
    c = Line(site.p_mx)
    c.smtp_reply()
    c.smtp("EHLO client.example")
    assert c.smtp("MAIL FROM:<x@example.net>")[0].startswith("250")
    assert c.smtp("RCPT TO:<sales@example.test>")[0].startswith("250"), \
        "the old aliases are gone"
    c.smtp("QUIT")
    c.close()
    # The session saw the file changed and tried it too.
    for n in (1, 2):
        site.wait_log(r"^\S+ kantorpos-smtpd\[\d+\] warn: aliases not "
                      r"reloaded: %s:%d: [^\\\n]+; keeping the old aliases$"
                      % (where, n), since, count=n)
    assert "\\x0a" not in site.log_text()[since:], site.log_text()[since:]


@test
def sighup_after_the_fixes_says_reloaded(site):
    key, cert = site.key + ".new", site.cert + ".new"
    make_cert(key, cert, cn="renewed.example.test")
    if site.run_as:
        shutil.chown(key, site.run_as)
    os.rename(key, site.key)
    os.rename(cert, site.cert)
    site.write_conf(site.lines)
    since = site.size()
    sighup(site, since)
    for name in ("kantorpos-smtpd", "kantorpos-pop3d"):
        site.wait_log(r"^\S+ %s\[\d+\] info: reloaded %s$"
                      % (name, re.escape(site.conf)), since)
    assert " error: " not in site.log_text()[since:], site.log_text()[since:]
    assert served_cert(site) == cert_der(site.cert), "old certificate"
    assert SIZE_10M in ehlo(site)


@test
def failed_login_line_names_user_client_and_mechanism(site):
    """The line the fail2ban filter reads, from the real daemons (the
    filter itself is checked in e2e_fail2ban.py)."""
    since = site.size()
    c = Line(site.p_sub, "127.0.0.33")
    c.smtp_reply()
    c.smtp("EHLO client.example")
    plain = base64.b64encode(b"\0mal lory\r\n@example.test\0wrong").decode()
    assert c.smtp("AUTH PLAIN " + plain)[0].startswith("535")
    c.smtp("QUIT")
    c.close()
    site.wait_log(r"^\S+ kantorpos-smtpd\[\d+\] warn: [0-9a-f]{16} login "
                  r"user=mal\\x20lory\\x0d\\x0a@example\.test "
                  r"client=127\.0\.0\.33 result=fail service=smtp "
                  r"mechanism=PLAIN$", since)


def fetch_conf(site, flog):
    """The configuration of kantorpos fetch --daemon polling our own pop3d
    every second (alice's mailbox into bob's), logging to flog; its
    password file is made (run_as's, as root)."""
    pwfile = os.path.join(site.dir, "fetch.pw")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pwfile, 0o600)
    if site.run_as:
        shutil.chown(pwfile, site.run_as)
    return (site.lines.replace("log_file %s\n" % site.log,
                               "log_file %s\n" % flog) +
            "fetch_account acct host 127.0.0.1:%d user alice@example.test "
            "password_file %s multipop bob@example.test tls none "
            "plaintext-ok interval 1s timeout 10s\n" % (site.p_pop, pwfile))


@test
def fetch_daemon_logs_to_log_file_and_reopens_on_usr1(site):
    """kantorpos fetch --daemon, polling our own pop3d every second, logs
    to log_file (a file of its own here) and SIGUSR1 reopens it."""
    flog = os.path.join(site.logdir, "fetch.log")
    conf = os.path.join(site.dir, "fetch.conf")
    with open(conf, "w") as f:
        f.write(fetch_conf(site, flog))
    kw = {}
    if site.run_as:
        kw["user"] = site.run_as
    errf = open(os.path.join(site.dir, "kantorpos.stderr"), "ab")
    proc = subprocess.Popen(WRAPPER + [ADMIN, "-c", conf, "fetch",
                                       "--daemon"],
                            stdout=errf, stderr=errf, **kw)
    errf.close()
    try:
        run = r"^\S+ kantorpos-fetch\[%d\] info: fetch account=acct " \
              r"status=ok " % proc.pid
        site.wait_log(run, path=flog)
        os.rename(flog, flog + ".1")
        proc.send_signal(signal.SIGUSR1)
        site.wait_log(r"^\S+ kantorpos-fetch\[%d\] info: SIGUSR1: log file "
                      r"%s open$" % (proc.pid, re.escape(flog)), path=flog)
        site.wait_log(run, path=flog)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
    assert rc == 0, rc
    assert "kantorpos-fetch" not in site.log_text(), "in the daemons' log"


def fifo_writer(path, proc, name):
    """Wait (bounded) until proc opens the FIFO at path for reading, and
    return its write end: proc is then inside its main, blocked there."""
    deadline = time.time() + 30 * SLOW
    while True:
        try:
            return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno != errno.ENXIO:  # no reader yet
                raise
        assert proc.poll() is None, "%s exited %d" % (name, proc.returncode)
        assert time.time() < deadline, name + " never opened " + path
        time.sleep(0.01)


def usr1_until(proc, name, done, timeout):
    """SIGUSR1 to proc every 2 ms until done() (bounded by timeout
    seconds); proc must live through every one. Returns how many."""
    deadline = time.time() + timeout * SLOW
    sent = 0
    while not done():
        assert proc.poll() is None, "%s ended by SIGUSR1 (status %d) " \
            "after %d" % (name, proc.returncode, sent)
        assert time.time() < deadline, "%s: not ready after %d SIGUSR1" \
            % (name, sent)
        proc.send_signal(signal.SIGUSR1)
        sent += 1
        time.sleep(0.002)
    return sent


def usr1_through_start_up(site, name, args, fifo, content, ready, log):
    """Start args, which will read the FIFO fifo while it starts (before
    its signal watchers exist); SIGUSR1 it while it waits there, feed it
    content, SIGUSR1 it until ready(); then one more must be handled (the
    "SIGUSR1: log file" line in log) and SIGTERM end it with status 0."""
    errf = open(os.path.join(site.dir, name + "-usr1.stderr"), "ab")
    proc = subprocess.Popen(WRAPPER + args, stdout=errf, stderr=errf)
    errf.close()
    try:
        fd = fifo_writer(fifo, proc, name)
        t0 = time.time()
        usr1_until(proc, name, lambda: time.time() > t0 + 0.2, 10)
        os.write(fd, content)
        os.close(fd)
        usr1_until(proc, name, ready, 30)
        since = site.size(log)
        proc.send_signal(signal.SIGUSR1)
        site.wait_log(r"^\S+ %s\[%d\] info: SIGUSR1: log file %s open$"
                      % (name, proc.pid, re.escape(log)), since, path=log)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30 * SLOW)
        assert rc == 0, "%s exited %d" % (name, rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def greets(port, want):
    """Whether a daemon on port sends a greeting starting with want now."""
    try:
        with socket.create_connection(("127.0.0.1", port), 1) as s:
            s.settimeout(0.05)
            return s.recv(512).startswith(want)
    except OSError:
        return False


@test
def sigusr1_while_starting_is_ignored(site):
    """logrotate's SIGUSR1 while a daemon starts must not end it: each
    program ignores it from the first line of its main until the libev
    watcher takes it over. A signal that comes before main (while the
    dynamic loader runs) no program can catch, so the signals start from
    a point inside main reached without a race: the daemons read
    tls_cert, kantorpos fetch its configuration, from a FIFO that this
    test holds, before any watcher exists."""
    fifo = os.path.join(site.dir, "start-up.fifo")
    os.mkfifo(fifo, 0o600)
    log = os.path.join(site.logdir, "start-up.log")
    text = site.lines.replace("log_file %s\n" % site.log,
                              "log_file %s\n" % log)
    ports = {}
    for old in (site.p_mx, site.p_sub, site.p_subs, site.p_pop):
        ports[old] = free_port()
        text = text.replace("127.0.0.1:%d\n" % old,
                            "127.0.0.1:%d\n" % ports[old])
        text = text.replace("127.0.0.1:%d " % old,
                            "127.0.0.1:%d " % ports[old])
    conf = os.path.join(site.dir, "start-up.conf")
    with open(conf, "w") as f:
        f.write(text.replace("tls_cert %s\n" % site.cert,
                             "tls_cert %s\n" % fifo))
    with open(site.cert, "rb") as f:
        cert = f.read()
    for program, port, want in ((SMTPD, ports[site.p_mx], b"220 "),
                                (POP3D, ports[site.p_pop], b"+OK ")):
        usr1_through_start_up(site, os.path.basename(program),
                              [program, "-f", "-c", conf], fifo, cert,
                              lambda: greets(port, want), log)
    flog = os.path.join(site.logdir, "fetch-start-up.log")
    since = site.size(flog)
    usr1_through_start_up(
        site, "kantorpos-fetch", [ADMIN, "-c", fifo, "fetch", "--daemon"],
        fifo, fetch_conf(site, flog).encode(),
        lambda: re.search(r" kantorpos-fetch\[\d+\] info: fetch: polling 1 "
                          r"account$", site.log_text(flog)[since:], re.M),
        flog)


def version_of_build():
    with open(os.path.join(BUILD, "autoconf.h")) as f:
        m = re.search(r'^#define PACKAGE_VERSION "([^"]+)"$', f.read(), re.M)
    assert m, "no PACKAGE_VERSION in autoconf.h"
    return m.group(1)


@test
def version_on_every_program(site):
    version = version_of_build()
    for program, name, page in (
            (ADMIN, "kantorpos", "kantorpos.1"),
            (SMTPD, "kantorpos-smtpd", "kantorpos-smtpd.8"),
            (POP3D, "kantorpos-pop3d", "kantorpos-pop3d.8")):
        p = subprocess.run([program, "--version"], capture_output=True,
                           text=True, timeout=30)
        assert p.returncode == 0, (name, p.returncode, p.stderr)
        assert p.stdout == "%s %s\n" % (name, version), p.stdout
        h = subprocess.run([program, "--help"], capture_output=True,
                           text=True, timeout=30)
        assert h.returncode == 0 and "--version" in h.stdout, h.stdout
        with open(os.path.join(SRC, "man", page)) as f:
            assert "\\-\\-version" in f.read(), page + " lacks --version"


if __name__ == "__main__":
    sys.exit(run())
