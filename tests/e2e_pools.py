#!/usr/bin/env python3
"""tests/e2e_pools.py: the two worker pools of a daemon, end to end.

kantorpos-pop3d and kantorpos-smtpd on free 127.0.0.1 ports with a scratch
data directory (the harness is tests/e2e_lib.py), users hashed at the real
default Argon2id cost (libsodium's interactive limits, 64 MiB each). While
20 POP3 USER/PASS logins and 20 SMTP AUTH PLAIN logins wait for their
Argon2id verifications and a 30 MB message streams into smtpd, a NOOP on a
POP3 session already logged in and one on an SMTP session are answered
within a second (the loops wait neither for the password checks nor for
the disk), and a small message gets its 250 within a second too (its
fsync is on the storage pool, not behind the Argon2id queue). The test
shows the load was really there at each of those answers (logins not yet
answered, the big message not yet acknowledged). Every wait is bounded.
Prints one line per test and a final "N passed, N failed".
"""

import base64
import os
import re
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (ADMIN, DOMAIN, Env, Raw, free_port,  # noqa: E402
                     fresh_src, main, test)
import subprocess  # noqa: E402

ENV = None
LOGINS = 20
MESSAGE = 30 * 1024 * 1024
NOOP_BOUND = 1.0   # seconds: generous; a blocked loop takes far longer
DEADLINE = 120     # seconds for the whole load to finish


class PoolEnv(Env):
    """Env with smtpd beside pop3d, the default (real) Argon2id cost, and
    LOGINS users hashed at it."""

    def __init__(self):
        self.p_sub = free_port()
        super().__init__(extra="max_message_size 64M\nlisten smtp "
                         "127.0.0.1:%d submission plaintext-ok\n"
                         % self.p_sub, smtp=True)
        with open(self.conf) as f:
            text = f.read()
        # The cheap cost of the shared harness goes: the defaults stay.
        text = re.sub(r"(?m)^password_(opslimit|memlimit) .*\n", "", text)
        with open(self.conf, "w") as f:
            f.write(text)
        self.pool_users = ["pool%02d" % i for i in range(LOGINS)]
        for user in self.pool_users:
            subprocess.run([ADMIN, "-c", self.conf, "user", "add",
                            f"{user}@{DOMAIN}"], input=user + "-pw\n",
                           text=True, check=True,
                           stdout=subprocess.DEVNULL)


def smtp_line(sock, buf):
    """One SMTP reply line from sock (buf: a one-item list of pending
    bytes); raises on EOF."""
    while b"\r\n" not in buf[0]:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("smtpd closed the connection")
        buf[0] += chunk
    line, buf[0] = buf[0].split(b"\r\n", 1)
    return line.decode("utf-8", "replace")


def smtp_reply(sock, buf):
    """A whole (multi-line) reply: its last line."""
    while True:
        line = smtp_line(sock, buf)
        if line[3:4] != "-":
            return line


def smtp_session(port=None):
    sock = socket.create_connection(("127.0.0.1", port or ENV.p_smtp), 30,
                                    source_address=(fresh_src(), 0))
    buf = [b""]
    assert smtp_reply(sock, buf).startswith("220")
    sock.sendall(b"EHLO client.test\r\n")
    assert smtp_reply(sock, buf).startswith("250")
    return sock, buf


def big_delivery(state):
    """Send a MESSAGE-octet message to alice in 1 MiB writes, a little
    apart so that it is still streaming while the NOOPs are timed; record
    the final reply."""
    sock, buf = smtp_session()
    line = b"x" * 998 + b"\r\n"
    block = line * (1024 * 1024 // len(line))
    try:
        sock.sendall(b"MAIL FROM:<big@elsewhere.test> SIZE=%d\r\n" % MESSAGE)
        assert smtp_reply(sock, buf).startswith("250")
        sock.sendall(f"RCPT TO:<alice@{DOMAIN}>\r\n".encode())
        assert smtp_reply(sock, buf).startswith("250")
        sock.sendall(b"DATA\r\n")
        assert smtp_reply(sock, buf).startswith("354")
        sock.sendall(b"Subject: big\r\n\r\n")
        state["streaming"] = True
        sent = 0
        while sent < MESSAGE:
            sock.sendall(block)
            sent += len(block)
            time.sleep(0.05)
        sock.sendall(b".\r\n")
        state["reply"] = smtp_reply(sock, buf)
        sock.sendall(b"QUIT\r\n")
    except Exception as e:  # reported by the test's assertions
        state["reply"] = "error: %r" % e
    finally:
        sock.close()


def one_login(user, sent, replies, lock):
    """USER/PASS as user; note when PASS went out and what came back."""
    try:
        r = Raw(ENV.p_plain)
        r.sock.settimeout(DEADLINE)
        assert r.cmd(f"USER {user}@{DOMAIN}").startswith("+OK")
        r.send(f"PASS {user}-pw\r\n")
        sent.release()
        reply = r.line()
        r.cmd("QUIT")
        r.close()
    except Exception as e:
        reply = "error: %r" % e
    with lock:
        replies[user] = (time.time(), reply)


def one_smtp_login(user, sent, replies, lock):
    """AUTH PLAIN as user on the submission listener, as one_login."""
    try:
        sock, buf = smtp_session(ENV.p_sub)
        sock.settimeout(DEADLINE)
        ir = base64.b64encode(f"\0{user}@{DOMAIN}\0{user}-pw".encode())
        sock.sendall(b"AUTH PLAIN " + ir + b"\r\n")
        sent.release()
        reply = smtp_reply(sock, buf)
        sock.sendall(b"QUIT\r\n")
        sock.close()
    except Exception as e:
        reply = "error: %r" % e
    with lock:
        replies["smtp " + user] = (time.time(), reply)


def small_delivery(sock, buf):
    """A small message to bob on an open SMTP session: the final reply."""
    for line, code in ((b"MAIL FROM:<s@elsewhere.test>", "250"),
                       (f"RCPT TO:<bob@{DOMAIN}>".encode(), "250"),
                       (b"DATA", "354")):
        sock.sendall(line + b"\r\n")
        reply = smtp_reply(sock, buf)
        assert reply.startswith(code), reply
    sock.sendall(b"Subject: small\r\n\r\nhello\r\n.\r\n")
    return smtp_reply(sock, buf)


def timed_noop(send, read):
    t = time.time()
    send()
    reply = read()
    return time.time() - t, reply


@test
def noop_is_prompt_while_logins_and_a_delivery_run():
    ENV.start_smtpd()
    probe = Raw(ENV.p_plain)
    assert probe.login("alice").startswith("+OK")
    sprobe, sbuf = smtp_session()

    delivery = {"streaming": False}
    dt = threading.Thread(target=big_delivery, args=(delivery,))
    dt.start()
    for _ in range(200):
        if delivery["streaming"] or "reply" in delivery:
            break
        time.sleep(0.01)
    assert delivery["streaming"], delivery

    sent = threading.Semaphore(0)
    replies, lock = {}, threading.Lock()
    threads = [threading.Thread(target=fn, args=(u, sent, replies, lock))
               for u in ENV.pool_users
               for fn in (one_login, one_smtp_login)]
    for t in threads:
        t.start()
    for _ in threads:  # every PASS and AUTH is out: 40 verifications
        assert sent.acquire(timeout=30), "a login did not get to PASS"

    probes = []
    for _ in range(5):
        pop = timed_noop(lambda: probe.send("NOOP\r\n"), probe.line)
        smtp = timed_noop(lambda: sprobe.sendall(b"NOOP\r\n"),
                          lambda: smtp_reply(sprobe, sbuf))
        with lock:
            answered = len(replies)
        probes.append((pop, smtp, answered, "reply" in delivery))
        time.sleep(0.05)
    with lock:
        small_answered = len(replies)
    small = timed_noop(lambda: None, lambda: small_delivery(sprobe, sbuf))

    for t in threads:
        t.join(DEADLINE)
    dt.join(DEADLINE)
    assert not any(t.is_alive() for t in threads + [dt]), "load stuck"
    probe.close()  # its autologout may have come meanwhile
    sprobe.sendall(b"QUIT\r\n")
    sprobe.close()

    for (pt, preply), (st, sreply), answered, delivered in probes:
        assert preply.startswith("+OK"), preply
        assert sreply.startswith("250"), sreply
        assert pt < NOOP_BOUND, "POP3 NOOP took %.2fs" % pt
        assert st < NOOP_BOUND, "SMTP NOOP took %.2fs" % st
    assert small[1].startswith("250"), small[1]
    assert small[0] < NOOP_BOUND, "a small delivery took %.2fs" % small[0]
    # The load was there: the first NOOPs came back before every login
    # was answered and before the message was acknowledged, and logins
    # were still running when the small message was sent.
    first = probes[0]
    assert first[2] < 2 * LOGINS, "all logins were done before the NOOP"
    assert not first[3], "the delivery was done before the NOOP"
    assert small_answered < 2 * LOGINS, "no login ran beside the small one"
    bad = {u: r for u, (_, r) in replies.items()
           if not r.startswith(("+OK", "235"))}
    assert len(replies) == 2 * LOGINS and not bad, bad
    assert delivery["reply"].startswith("250"), delivery["reply"]
    assert ENV.count("alice") == 1, "the message is in alice's Maildir"
    assert ENV.count("bob") == 1, "the small one is in bob's"
    print("     NOOP round trips: POP3 max %.3fs, SMTP max %.3fs; small "
          "delivery %.3fs; logins answered at the first NOOP: %d of %d, "
          "when the small one was sent: %d" % (
              max(p[0][0] for p in probes), max(p[1][0] for p in probes),
              small[0], first[2], 2 * LOGINS, small_answered))

if __name__ == "__main__":
    sys.exit(main(sys.modules[__name__], PoolEnv))
