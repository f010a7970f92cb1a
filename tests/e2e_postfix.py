#!/usr/bin/env python3
"""tests/e2e_postfix.py: ETRN interoperability with Postfix, sandboxed by
the test (`postfix -c DIR`, loopback, high ports, its own queue):

- `kantorpos etrn` asks a Postfix that holds mail for a domain
  (fast_flush_domains, defer_transports) to release it: 250, and the mail
  arrives at the destination; a domain Postfix does not serve gets 459.
- kantorpos's queue runner delivers held mail to Postfix (deliver_to),
  which stores it in a virtual mailbox.

Skipped (exit 77) with a message when Postfix is missing or cannot start
(for instance without root, which its sandbox needs to switch to the
postfix user). Prints "N passed, N failed"."""

import os
import pwd
import grp
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_queue as q  # noqa: E402  (Sink, check, KANTORPOS)
from e2e_lib import free_port  # noqa: E402

SKIP = 77


def postfix(conf, *args):
    # Postfix reports to stderr only when it is a terminal: run it under
    # script(1) so that failures are readable in the log.
    cmd = "postfix -c %s %s" % (conf, " ".join(args))
    return subprocess.run(["script", "-qc", cmd, "/dev/null"],
                          capture_output=True, timeout=60)


def start_postfix(top, port, hold_port, addr="127.0.0.1", extra=""):
    """Postfix under top listening on addr:port (main.cf gets extra at
    its end); returns (its config directory, None) or (None, why not)."""
    if shutil.which("postfix") is None:
        return None, ("postfix is not installed (scripts/deps.sh installs it "
                      "only where no other package provides "
                      "mail-transport-agent)")
    try:
        pf = pwd.getpwnam("postfix")
        grp.getgrnam("postdrop")
    except KeyError:
        return None, "no postfix user or postdrop group"
    if shutil.which("postfix") is None or shutil.which("script") is None:
        return None, "postfix or script(1) not installed"
    if os.geteuid() != 0:
        return None, "the Postfix sandbox needs root"
    conf = os.path.join(top, "conf")
    for d in ("conf", "queue", "data", "vmail"):
        os.makedirs(os.path.join(top, d))
    os.chmod(top, 0o755)
    os.chown(os.path.join(top, "data"), pf.pw_uid, pf.pw_gid)
    os.chown(os.path.join(top, "vmail"), pf.pw_uid, pf.pw_gid)
    master = open("/etc/postfix/master.cf").read().splitlines()
    out = []
    for line in master:
        f = line.split()
        if line and not line[0].isspace() and not line.startswith("#") and \
                len(f) >= 8:
            if f[1] == "inet":
                continue  # only our own listener below
            f[4] = "n"   # no chroot: the sandbox has no copies of /etc
            line = " ".join(f)
        out.append(line)
    out.append("%s:%d inet n - n - - smtpd" % (addr, port))
    out.append("etrn-only unix - - n - - smtp")
    with open(os.path.join(conf, "master.cf"), "w") as fh:
        fh.write("\n".join(out) + "\n")
    with open(os.path.join(conf, "main.cf"), "w") as fh:
        fh.write(f"""compatibility_level = 3.6
queue_directory = {top}/queue
data_directory = {top}/data
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.test
mydomain = pf.test
myorigin = pf.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
smtputf8_enable = no
relay_domains = held.test
fast_flush_domains = $relay_domains
transport_maps = inline:{{ held.test=etrn-only:[127.0.0.1]:{hold_port} }}
defer_transports = etrn-only
virtual_mailbox_domains = dest.test
virtual_mailbox_base = {top}/vmail
virtual_mailbox_maps = inline:{{ bob@dest.test=bob/ }}
virtual_uid_maps = static:{pf.pw_uid}
virtual_gid_maps = static:{pf.pw_gid}
""" + extra)
    p = postfix(conf, "start")
    for _ in range(50):
        try:
            s = smtplib.SMTP(addr, port, timeout=2)
            s.quit()
            return conf, None
        except OSError:
            time.sleep(0.2)
    log = ""
    try:
        log = open(os.path.join(top, "maillog")).read()[-500:]
    except OSError:
        pass
    postfix(conf, "stop")
    return None, "postfix did not start: %s %s" % (
        p.stdout.decode(errors="replace")[-300:], log)


def main():
    top = tempfile.mkdtemp(prefix="kantorpos-e2e-postfix.")
    os.chmod(top, 0o755)  # the postfix user walks into its directories
    port, hold_port = free_port(), free_port()
    conf = None
    try:
        conf, why = start_postfix(os.path.join(top, "pf"), port, hold_port)
        if conf is None:
            print("SKIP: " + why)
            return SKIP
        interop_etrn_client(port, hold_port)
        interop_destination(top, port)
    finally:
        if conf is not None:
            postfix(conf, "stop")
        shutil.rmtree(top, ignore_errors=True)
    print(f"{q.passed} passed, {q.failed} failed")
    return 0 if q.failed == 0 else 1


def interop_etrn_client(port, hold_port):
    sink = q.Sink(port=hold_port)
    try:
        s = smtplib.SMTP("127.0.0.1", port, timeout=10)
        s.sendmail("a@pf.test", ["x@held.test"],
                   b"Subject: held by postfix\r\n\r\nhi\r\n")
        s.quit()
        time.sleep(1.5)
        q.check("postfix holds mail for held.test", len(sink.messages) == 0)
        p = subprocess.run([q.KANTORPOS, "-c", "/nonexistent", "etrn",
                            "127.0.0.1:%d" % port, "held.test"],
                           capture_output=True, timeout=30)
        out = p.stdout.decode()
        q.check("kantorpos etrn -> postfix: 250, exit 0",
                p.returncode == 0 and out.startswith("250"), (p, out))
        for _ in range(40):
            if sink.messages:
                break
            time.sleep(0.25)
        q.check("postfix released the mail after ETRN",
                len(sink.messages) == 1 and
                b"Subject: held by postfix" in sink.messages[0][2])
        p = subprocess.run([q.KANTORPOS, "-c", "/nonexistent", "etrn",
                            "127.0.0.1:%d" % port, "other.test"],
                           capture_output=True, timeout=30)
        q.check("kantorpos etrn -> postfix: 459 for a domain it does not hold",
                p.returncode == 75 and p.stdout.decode().startswith("459"),
                p)
    finally:
        sink.stop()


def interop_destination(top, port):
    env = q.Env()
    try:
        env.sink_port = port
        env.write_conf("etrn_domain dest.test deliver_to 127.0.0.1:%d\n"
                       % port)
        env.add("alice@example.test", ["bob@dest.test"],
                b"Subject: to postfix\r\n\r\n.leading dot\r\nhello\r\n")
        rc, out, err = env.run("queue", "flush", "dest.test")
        q.check("queue runner -> postfix: flushed", rc == 0 and
                env.queued() == 0, (rc, out, err))
        new = os.path.join(top, "pf", "vmail", "bob", "new")
        got = []
        for _ in range(40):
            if os.path.isdir(new) and os.listdir(new):
                got = [open(os.path.join(new, n), "rb").read()
                       for n in os.listdir(new)]
                break
            time.sleep(0.25)
        q.check("postfix stored the message byte-exact",
                len(got) == 1 and b"Subject: to postfix" in got[0] and
                b"\n.leading dot\n" in got[0].replace(b"\r\n", b"\n"), got)
    finally:
        shutil.rmtree(env.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
