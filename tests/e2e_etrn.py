#!/usr/bin/env python3
"""tests/e2e_etrn.py: ETRN (RFC 1985) end to end with the real
kantorpos-smtpd: mail for a held domain accepted and kept until ETRN,
ETRN advertised, every reply code (250/251/253/459/501/503), the @domain
form, an unauthorised client (459) and an authorised user, a repeated ETRN
while a flush runs, delivery over a new connection only, a 5xx turned into
a DSN to the local sender, a second kantorpos-smtpd as the destination,
authenticated mail queued for the relay host, relayed mail without
Return-Path (a message with local and remote recipients: only the local
copy has it), a user added while the daemon runs delivered by the queue's
local route, a reload that cannot read the user db (one log line, the
loaded db kept for the local route too), and kill -9 during a flush followed by a restart (nothing
lost).

Prints one line per check and "N passed, N failed"; exit 1 on failure."""

import base64
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_queue as q  # noqa: E402  (Sink, check)
from e2e_lib import free_port, wait_for  # noqa: E402
import e2e_smtp as s   # noqa: E402  (Daemon, Raw, ADMIN, PASSWORD)

check = q.check


def restart(d):
    """Start d's daemon again on the same config and data."""
    d.start()


def queued(d, domain=None):
    p = subprocess.run([s.ADMIN, "-c", d.conf, "queue", "list"] +
                       ([domain] if domain else []), capture_output=True,
                       text=True)
    return int(p.stdout.strip().splitlines()[-1].split()[0])


def etrn(d, domain):
    """ETRN domain on a connection of its own; the reply line."""
    r = s.Raw(d.mx)
    r.reply()
    r.cmd("EHLO client.test")
    got = r.cmd("ETRN " + domain)[0]
    r.cmd("QUIT")
    r.close()
    return got


def send(port, sender, rcpts, body, source="127.0.0.1", auth=False):
    r = s.Raw(port, source=source)
    r.reply()
    r.cmd("EHLO client.test")
    if auth:
        r.starttls()
        r.cmd("EHLO client.test")
        ir = base64.b64encode(b"\0alice@example.test\0" +
                              s.PASSWORD.encode()).decode()
        assert r.cmd("AUTH PLAIN " + ir)[0].startswith("235"), "auth"
    assert r.cmd(f"MAIL FROM:<{sender}>")[0].startswith("250")
    replies = [r.cmd(f"RCPT TO:<{x}>")[0] for x in rcpts]
    r.cmd("DATA")
    r.send(body + b".\r\n")
    final = r.reply()[0]
    r.cmd("QUIT")
    r.close()
    return replies, final


BODY = (b"From: alice@example.test\r\nSubject: held mail\r\n"
        b"Message-ID: <etrn1@example.test>\r\n\r\nhello\r\n..dot\r\n")


def main():
    if not os.access(s.SMTPD, os.X_OK):
        print("kantorpos-smtpd not built at " + s.SMTPD)
        return 1
    top = s.make_test_dir("kp-e2e-etrn-")
    sink_port, relay_port = free_port(), free_port()
    sink = q.Sink(port=sink_port)
    relay = q.Sink(port=relay_port)
    try:
        dest = s.Daemon(top, "dest", "local_domain dest.test\n")
        p = subprocess.run([s.ADMIN, "-c", dest.conf, "user", "add",
                            "bob@dest.test"], input=s.PASSWORD + "\n",
                           text=True, capture_output=True)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(os.path.join(dest.dir, "users"), nobody.pw_uid,
                     nobody.pw_gid)
        check("destination user added", p.returncode == 0, p.stderr)
        d = s.Daemon(top, "backup",
                     f"etrn_domain backup.test deliver_to 127.0.0.1:{sink_port}"
                     " subdomains allow 127.0.0.1 user alice@example.test\n"
                     f"etrn_domain dest.test deliver_to 127.0.0.1:{dest.mx}"
                     " allow 127.0.0.0/8\n"
                     f"relayhost 127.0.0.1:{relay_port} tls none\n"
                     "outbound_timeout 5s\nsmtp_timeout 30s\n")
        scenarios(d, dest, sink, relay)
        if q.failed:
            print("---- backup daemon log (tail)")
            print(d.logtext()[-20000:])
    finally:
        s.kill_daemons()
        sink.stop()
        relay.stop()
        shutil.rmtree(top, ignore_errors=True)
    print(f"{q.passed} passed, {q.failed} failed")
    return 0 if q.failed == 0 else 1


def scenarios(d, dest, sink, relay):
    """The scenarios in order; each goes on from the queue and the sinks
    as the one before left them."""
    ehlo_offers_etrn(d)
    held_until_etrn(d, sink)
    etrn_replies_and_flush(d, sink)
    etrn_rights(d)
    repeated_etrn(d, sink)
    bounce_on_5xx(d, sink)
    second_kantorpos(d, dest)
    relayhost(d, relay)
    mixed_recipients(d, relay)
    user_added_while_running(d, relay)
    reload_with_unreadable_user_db(d, relay)
    etrn_after_reload(d)
    kill9_during_flush(d, sink)
    graceful_stop_during_flush(d, sink)


def ehlo_offers_etrn(d):
    """EHLO lists ETRN."""
    r = s.Raw(d.mx)
    r.reply()
    ehlo = r.cmd("EHLO client.test")
    check("EHLO advertises ETRN", "250-ETRN" in ehlo or "250 ETRN" in ehlo,
          ehlo)
    r.cmd("QUIT")
    r.close()


def held_until_etrn(d, sink):
    """Mail for an ETRN domain is accepted and held until asked for."""
    replies, final = send(d.mx, "a@elsewhere.test",
                          ["anyone@backup.test", "x@sub.backup.test"], BODY)
    check("held: any local part accepted",
          all(x.startswith("250 2.1.5") for x in replies), replies)
    check("held: 250 after DATA", final.startswith("250 2.0.0"), final)
    check("held: two queue items (one per domain)", queued(d) == 2)
    time.sleep(1)
    check("held: nothing delivered before ETRN", sink.connections == 0)


def etrn_replies_and_flush(d, sink):
    """ETRN in the wrong state, with bad arguments and for a held domain: the
    flush over a new connection, the @ form, and 251 once nothing is left."""
    r = s.Raw(d.mx)
    r.reply()
    check("ETRN before EHLO: 503", r.cmd("ETRN backup.test")[0]
          .startswith("503 5.5.1"))
    r.cmd("EHLO client.test")
    r.cmd("MAIL FROM:<a@elsewhere.test>")
    check("ETRN in a transaction: 503",
          r.cmd("ETRN backup.test")[0].startswith("503 5.5.1"))
    r.cmd("RSET")
    for arg, want in (("", "501 5.5.4"), (" a b", "501 5.5.4"),
                      (" bad..name", "501 5.5.4"), (" #holdq", "501 5.5.4"),
                      (" elsewhere.test", "459 4.7.1 Node elsewhere.test not allowed")):
        got = r.cmd("ETRN" + arg)[0]
        check("ETRN%s -> %s" % (arg, want), got.startswith(want), got)
    got = r.cmd("ETRN backup.test")[0]
    check("ETRN backup.test -> 253 with the count",
          got == "253 2.0.0 OK, 1 pending message for node backup.test started",
          got)
    check("flush: mail pushed over a new connection",
          wait_for(lambda: len(sink.messages) == 1) and sink.connections == 1,
          (len(sink.messages), sink.connections))
    check("flush: only replies on the ETRN connection", r.nothing_pending())
    check("flush: envelope and body", sink.messages and
          sink.messages[0][1] == ["anyone@backup.test"] and
          sink.messages[0][2].endswith(b"hello\r\n.dot\r\n"))
    # RFC 5321 4.4: only the final delivery adds Return-Path.
    check("flush: relayed without Return-Path", sink.messages and
          b"Return-Path:" not in sink.messages[0][2] and
          re.sub(rb"^Received-SPF: .*\r\n(?:[ \t].*\r\n)*", b"",
                 sink.messages[0][2]).startswith(b"Received: from "),
          sink.messages[:1])
    check("flush: item removed after the 250",
          wait_for(lambda: queued(d, "backup.test") == 1))
    got = r.cmd("ETRN @backup.test")[0]
    check("ETRN @backup.test -> 253 (the subdomain's mail)",
          got.startswith("253 2.0.0 OK, 1 pending message"), got)
    check("@ form: subdomain mail delivered",
          wait_for(lambda: len(sink.messages) == 2) and
          sink.messages[1][1] == ["x@sub.backup.test"])
    wait_for(lambda: queued(d) == 0)
    # The flush still runs a moment after its last queue file is gone
    # (the QUIT to the destination): while it does, ETRN answers 250.
    for _ in range(50):
        got = r.cmd("ETRN backup.test")[0]
        if not got.startswith("250 2.0.0 OK, queuing for node"):
            break
        time.sleep(0.1)
    check("ETRN with nothing queued -> 251",
          got == "251 2.0.0 OK, no messages waiting for node backup.test", got)
    check("ETRN session still usable",
          r.cmd("QUIT")[0].startswith("221 2.0.0"))
    r.close()


def etrn_rights(d):
    """Another client address, without and with an authorised user."""
    r = s.Raw(d.mx, source="127.0.0.2")
    r.reply()
    r.cmd("EHLO client.test")
    got = r.cmd("ETRN backup.test")[0]
    check("unauthorised client -> 459",
          got.startswith("459 4.7.1 Node backup.test not allowed"), got)
    r.starttls()
    r.cmd("EHLO client.test")
    ir = base64.b64encode(b"\0alice@example.test\0" +
                          s.PASSWORD.encode()).decode()
    r.cmd("AUTH PLAIN " + ir)
    got = r.cmd("ETRN backup.test")[0]
    check("authorised user from anywhere -> 251", got.startswith("251 "), got)
    r.cmd("QUIT")
    r.close()


def repeated_etrn(d, sink):
    """A repeated ETRN while the flush runs is answered, not doubled."""
    sink.hold_dot = 2
    send(d.mx, "a@elsewhere.test", ["twice@backup.test"], BODY)
    r = s.Raw(d.mx)
    r.reply()
    r.cmd("EHLO client.test")
    first = r.cmd("ETRN backup.test")[0]
    second = r.cmd("ETRN backup.test")[0]
    check("repeated ETRN: 253 then 250",
          first.startswith("253") and
          second == "250 2.0.0 OK, queuing for node backup.test started",
          (first, second))
    wait_for(lambda: queued(d) == 0, 15)
    time.sleep(1)
    check("repeated ETRN: delivered once",
          [m[1] for m in sink.messages].count(["twice@backup.test"]) == 1)
    sink.hold_dot = 0
    r.cmd("QUIT")
    r.close()


def bounce_on_5xx(d, sink):
    """5xx at the destination: DSN to the local sender (who logged in to send
    as a local address), original headers."""
    sink.policy = lambda rcpt: ("550 5.1.1 no such user"
                                if rcpt.startswith("nobody") else "250 ok")
    send(d.mx, "alice@example.test",
         ["nobody@backup.test", "ok@backup.test"], BODY, auth=True)
    etrn(d, "backup.test")
    check("5xx: DSN in the sender's mailbox",
          wait_for(lambda: len(d.messages("alice")) == 1, 15))
    msgs = d.messages("alice")
    if msgs:
        text = open(msgs[0], "rb").read()
        check("5xx: DSN names only the failed recipient, with the headers",
              b"Final-Recipient: rfc822; nobody@backup.test" in text and
              b"ok@backup.test" not in text.split(b"message/delivery-status")[1]
              .split(b"text/rfc822-headers")[0] and
              b"Subject: held mail" in text and
              b"Diagnostic-Code: smtp; 550 5.1.1" in text, text[:2000])
    sink.policy = lambda rcpt: "250 ok"


def second_kantorpos(d, dest):
    """A second kantorpos-smtpd as the destination."""
    send(d.mx, "a@elsewhere.test", ["bob@dest.test"], BODY)
    got = etrn(d, "dest.test")
    check("ETRN dest.test -> 253", got.startswith("253"), got)
    check("delivered into the second kantorpos-smtpd",
          wait_for(lambda: len(dest.messages("bob", "dest.test")) == 1, 15))


def relayhost(d, relay):
    """Authenticated mail for another domain goes to the relay host."""
    replies, final = send(d.sub, "alice@example.test", ["zed@elsewhere.test"],
                          BODY, auth=True)
    check("relayhost: accepted for the queue",
          replies[0].startswith("250") and final.startswith("250"),
          (replies, final))
    check("relayhost: delivered without ETRN",
          wait_for(lambda: any(m[1] == ["zed@elsewhere.test"]
                               for m in relay.messages), 15))
    relayed = [m[2] for m in relay.messages if m[1] == ["zed@elsewhere.test"]]
    head = relayed[0].split(b"\r\n\r\n")[0] if relayed else b""
    check("relayhost: no Return-Path, the login in Received",
          b"Return-Path:" not in head and
          b"(authenticated as alice@example.test)" in head, head)
    check("relayhost: submitted mail gets a Date, keeps its Message-ID",
          head.count(b"\r\nDate: ") == 1 and
          head.count(b"Message-ID:") == 1, head)


def mixed_recipients(d, relay):
    """Local and remote recipients: one Return-Path in the local copy, none
    in the relayed one."""
    before = len(d.messages("bob"))
    replies, final = send(d.sub, "alice@example.test",
                          ["bob@example.test", "mixed@elsewhere.test"],
                          BODY, auth=True)
    check("mixed: accepted", final.startswith("250"), (replies, final))
    check("mixed: relayed and delivered",
          wait_for(lambda: any(m[1] == ["mixed@elsewhere.test"]
                               for m in relay.messages), 15) and
          wait_for(lambda: len(d.messages("bob")) == before + 1, 15))
    relayed = [m[2] for m in relay.messages if m[1] == ["mixed@elsewhere.test"]]
    check("mixed: relayed copy without Return-Path",
          relayed and b"Return-Path:" not in relayed[0], relayed[:1])
    local = open(d.messages("bob")[-1], "rb").read() if d.messages("bob") else b""
    check("mixed: local copy with one Return-Path, first",
          local.startswith(b"Return-Path: <alice@example.test>\r\n") and
          local.count(b"Return-Path:") == 1, local[:600])


def user_added_while_running(d, relay):
    """A user added to the user db while the daemon runs (no reload): the
    queue's local route knows it, as RCPT did."""
    p = subprocess.run([s.ADMIN, "-c", d.conf, "user", "add",
                        "newbie@example.test"], input=s.PASSWORD + "\n",
                       text=True, capture_output=True)
    check("new user: added", p.returncode == 0, p.stderr)
    alice = len(d.messages("alice"))
    replies, final = send(d.sub, "alice@example.test",
                          ["newbie@example.test", "new@elsewhere.test"],
                          BODY, auth=True)
    check("new user: accepted", final.startswith("250") and
          all(r.startswith("250") for r in replies), (replies, final))
    check("new user: delivered by the queue's local route",
          wait_for(lambda: len(d.messages("newbie")) == 1, 15),
          d.logtext()[-3000:])
    check("new user: no bounce to the sender",
          wait_for(lambda: any(m[1] == ["new@elsewhere.test"]
                               for m in relay.messages), 15) and
          len(d.messages("alice")) == alice, len(d.messages("alice")))


def reload_with_unreadable_user_db(d, relay):
    """SIGHUP while the user db cannot be read: one line says so, and the
    queue's local route goes on with the loaded db."""
    users = os.path.join(d.dir, "users")
    mode = os.stat(users).st_mode & 0o7777
    before = len(d.messages("bob"))
    os.chmod(users, 0)
    try:
        d.proc.send_signal(signal.SIGHUP)
        logged = wait_for(lambda: "reload: user_db" in d.logtext(), 10)
        replies, final = send(d.sub, "alice@example.test",
                              ["bob@example.test", "kept@elsewhere.test"],
                              BODY, auth=True)
        check("unreadable user db: mail accepted with the loaded db",
              final.startswith("250"), (replies, final))
        check("unreadable user db: the local route still delivers",
              wait_for(lambda: len(d.messages("bob")) == before + 1, 15))
        check("unreadable user db: the reload says so once",
              logged and d.logtext().count("reload: user_db") == 1,
              [l for l in d.logtext().splitlines() if "user_db" in l])
    finally:
        os.chmod(users, mode)


def etrn_after_reload(d):
    """A reload (SIGHUP) rebuilds the runner; ETRN keeps working."""
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    got = etrn(d, "backup.test")
    check("after a reload: ETRN answered", got.startswith("251 "), got)


def kill9_during_flush(d, sink):
    """kill -9 during a flush, then a restart: nothing lost."""
    sink.hold_dot = 3
    sink.got_dot.clear()
    send(d.mx, "a@elsewhere.test", ["crash@backup.test"], BODY)
    r = s.Raw(d.mx)
    r.reply()
    r.cmd("EHLO client.test")
    r.cmd("ETRN backup.test")
    got = sink.got_dot.wait(10)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    r.close()
    check("kill -9: daemon killed with the message in flight", got)
    check("kill -9: still queued", queued(d, "backup.test") == 1)
    sink.hold_dot = 0
    before = [m[1] for m in sink.messages].count(["crash@backup.test"])
    restart(d)
    got = etrn(d, "backup.test")
    check("restart: ETRN finds the queued message",
          got.startswith("253 2.0.0 OK, 1 pending"), got)
    check("restart: delivered (maybe twice, never lost)",
          wait_for(lambda: [m[1] for m in sink.messages]
                   .count(["crash@backup.test"]) > before, 15) and
          wait_for(lambda: queued(d) == 0))


def graceful_stop_during_flush(d, sink):
    """A graceful stop with a flush in flight: exit 0, the mail stays."""
    sink.hold_dot = 3
    sink.got_dot.clear()
    send(d.mx, "a@elsewhere.test", ["stop@backup.test"], BODY)
    r = s.Raw(d.mx)
    r.reply()
    r.cmd("EHLO client.test")
    r.cmd("ETRN backup.test")
    sink.got_dot.wait(10)
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(30)
    r.close()
    sink.hold_dot = 0
    check("graceful stop during a flush: exit 0", rc == 0, d.logtext()[-2000:])
    check("graceful stop: the message is still queued or was delivered",
          queued(d, "backup.test") == 1 or
          ["stop@backup.test"] in [m[1] for m in sink.messages])

if __name__ == "__main__":
    sys.exit(main())
