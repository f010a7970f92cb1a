#!/usr/bin/env python3
"""tests/e2e_fetch_hostile.py: kantorpos fetch against hostile POP3 servers
written here (plaintext on 127.0.0.1, python3 stdlib): listings of 100,000
and of 60 MB (CPU time and peak memory of the fetcher measured), the
max_messages cap, UIDLs that are malformed, too long, shared or given on a
10 KB line, servers that trickle a message, a listing or a whole run
(message_timeout, min_rate, run_timeout), and the trace fields of fetched
mail (our Received on top, the original byte for byte below it, the loop
guard). Prints "PASS/FAIL name" lines and "N passed, N failed"; exits
non-zero on any failure."""

import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # nothing written next to the sources
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_fetch import (DOMAIN, KANTORPOS, RESULTS, Env, check,  # noqa: E402
                       expect, plain_account)
from e2e_lib import vm_hwm_kb  # noqa: E402

# A sanitizer build is several times slower and bigger: the bounds below
# are for the plain build, scaled for that one.
with open(KANTORPOS, "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()
SLOW = 4 if SANITIZED else 1


def msg(subject, headers="", body="hello\r\n", msgid=True):
    mid = ("Message-ID: <%s@remote.example>\r\n" % subject.replace(" ", "-")
           if msgid else "")
    return ("%sFrom: sender@remote.example\r\nSubject: %s\r\n%s"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n%s"
            % (headers, subject, mid, body)).encode()


def stuff(text):
    return b"".join(b"." + ln if ln.startswith(b".") else ln
                    for ln in text.splitlines(True))


class Box:
    """A maildrop: entries [uid field (bytes after "N "), text]; DELEs
    apply at QUIT. Hooks for the hostile behaviours."""

    def __init__(self, entries, pipelining=False, uidl=True):
        self.entries = [list(e) for e in entries]
        self.pipelining = pipelining
        self.uidl = uidl
        self.trickle_retr = None    # seconds between lines of RETR
        self.trickle_listing = None  # seconds between lines of UIDL
        self.lock = threading.Lock()
        self.commands = []

    def count(self):
        return len(self.entries)

    def uidl_lines(self, n):
        for i in range(1, n + 1):
            yield b"%d %s\r\n" % (i, self.entries[i - 1][0])

    def list_lines(self, n):
        for i in range(1, n + 1):
            yield b"%d %d\r\n" % (i, len(self.entries[i - 1][1]))

    def text(self, num):
        return self.entries[num - 1][1]

    def quit(self, deleted):
        with self.lock:
            self.entries = [e for i, e in enumerate(self.entries, 1)
                            if i not in deleted]


class SyntheticBox(Box):
    """n messages made on the fly (for listings too big to keep): uid
    "uid-NUM" padded to uid_len, every text the same small message.
    keep mode only (no DELE applied)."""

    def __init__(self, n, uid_len=12, pipelining=True):
        super().__init__([], pipelining)
        self.n = n
        self.uid_len = uid_len
        self.size = len(self.text(1))

    def count(self):
        return self.n

    def uid(self, i):
        u = b"uid-%d-" % i
        return u + b"x" * max(0, self.uid_len - len(u))

    def uidl_lines(self, n):
        for i in range(1, n + 1):
            yield b"%d %s\r\n" % (i, self.uid(i))

    def list_lines(self, n):
        for i in range(1, n + 1):
            yield b"%d %d\r\n" % (i, self.size)

    def text(self, num):
        # One size for all, one Message-ID each.
        return msg("synthetic %010d" % num)

    def quit(self, deleted):
        pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, box):
        self.box = box
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self):
        self.shutdown()
        self.server_close()


class Handler(socketserver.StreamRequestHandler):
    def send(self, data):
        self.wfile.write(data)

    def send_listing(self, lines, trickle):
        # Sent as fast as the socket takes it, unless trickled.
        self.send(b"+OK\r\n")
        chunk = []
        for line in lines:
            if trickle:
                self.send(line)
                time.sleep(trickle)
                continue
            chunk.append(line)
            if len(chunk) >= 10000:
                self.send(b"".join(chunk))
                chunk = []
        self.send(b"".join(chunk) + b".\r\n")

    def handle(self):
        box = self.server.box
        n = box.count()
        deleted = set()
        try:
            self.session(box, n, deleted)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def session(self, box, n, deleted):
        self.send(b"+OK hostile\r\n")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            cmd = raw.decode().strip()
            with box.lock:
                box.commands.append(cmd)
            verb, _, arg = cmd.partition(" ")
            verb = verb.upper()
            if verb == "CAPA":
                caps = b"UIDL\r\nUSER\r\n" if box.uidl else b"USER\r\n"
                if box.pipelining:
                    caps += b"PIPELINING\r\n"
                self.send(b"+OK\r\n" + caps + b".\r\n")
            elif verb in ("USER", "PASS", "NOOP"):
                self.send(b"+OK\r\n")
            elif verb == "UIDL" and box.uidl:
                self.send_listing(box.uidl_lines(n), box.trickle_listing)
            elif verb == "LIST":
                self.send_listing(box.list_lines(n), None)
            elif verb == "RETR":
                text = stuff(box.text(int(arg)))
                trickle = box.trickle_retr
                if trickle:
                    self.send(b"+OK\r\n")
                    for line in text.splitlines(True):
                        self.send(line)
                        time.sleep(trickle)
                    self.send(b".\r\n")
                else:
                    self.send(b"+OK\r\n" + text + b".\r\n")
            elif verb == "DELE":
                deleted.add(int(arg))
                self.send(b"+OK\r\n")
            elif verb == "QUIT":
                box.quit(deleted)
                self.send(b"+OK bye\r\n")
                return
            else:
                self.send(b"-ERR unknown\r\n")


class Run:
    """One `kantorpos fetch --once`: its CPU time (wait4, this child only)
    and peak RSS (VmHWM, polled while it runs: ru_maxrss would count the
    Python process it was forked from)."""

    def __init__(self, env):
        child_env = dict(os.environ)
        if "ASAN_OPTIONS" in child_env:
            # Keep freed memory from piling up in the sanitizer's
            # quarantine, so that the peak measures the fetcher.
            child_env["ASAN_OPTIONS"] += ":quarantine_size_mb=4"
        proc = subprocess.Popen([KANTORPOS, "-c", env.conf, "fetch",
                                 "--once"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=child_env)
        self.stderr = b""
        reader = threading.Thread(target=self.read, args=(proc,))
        reader.start()
        self.peak_kb = 0
        end = time.time() + 300
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid != 0:
                break
            if time.time() > end:
                proc.kill()
            self.peak_kb = max(self.peak_kb, vm_hwm_kb(proc.pid))
            time.sleep(0.01)
        reader.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.returncode = proc.returncode
        self.stderr = self.stderr.decode("utf-8", "replace")
        self.stdout = ""
        self.cpu = ru.ru_utime + ru.ru_stime

    def read(self, proc):
        self.stderr = proc.stderr.read()
        proc.stderr.close()


def account(env, srv, extra=""):
    plain_account(env, "h", srv.port, "timeout 60s " + extra)


def fresh(env):
    env.clear_local()
    shutil.rmtree(os.path.join(env.data, "fetch"), ignore_errors=True)


def state_path(env):
    return os.path.join(env.data, "fetch", "h.state")


def counts(p):
    m = re.search(r"account=h status=(\w+) fetched=(\d+) delivered=(\d+) "
                  r"skipped=(\d+) deleted=(\d+)", p.stderr)
    expect(m is not None, "a final log line", p)
    return (m.group(1),) + tuple(int(x) for x in m.groups()[1:])


def staging_empty(env):
    tmp = os.path.join(env.data, "fetch", "staging", "tmp")
    return not os.path.isdir(tmp) or os.listdir(tmp) == []


# ---- listings: time and memory -------------------------------------------


def hundred_thousand_entries_linear(env):
    # keep mode, 100,000 messages of which the state knows all but 3:
    # the run reads both listings, delivers the 3 and quits.
    n = 100000
    box = SyntheticBox(n, uid_len=24)
    srv = Server(box)
    try:
        fresh(env)
        account(env, srv, "keep yes")
        os.makedirs(os.path.dirname(state_path(env)), mode=0o700)
        now = int(time.time())
        with open(state_path(env), "wb") as f:
            f.write(b"kantorpos-fetch-state 1\n")
            f.write(b"".join(b"%s %d D <m%d@x> alice@%s\n"
                             % (box.uid(i), now, i, DOMAIN.encode())
                             for i in range(1, n - 2)))
        env.give(os.path.dirname(state_path(env)))
        env.give(state_path(env))
        p = Run(env)
        expect(p.returncode == 0, "the run completes", p)
        expect(counts(p)[1:3] == (3, 3), "3 new ones delivered", p)
        expect(len(env.local_messages("alice")) == 3, "3 stored")
        print("  100k listing: %.2f s CPU, %d kB peak" % (p.cpu,
                                                          p.peak_kb))
        expect(p.cpu < 2.0 * SLOW, "CPU %.2f s for 100k entries "
               "(quadratic took 40 s)" % p.cpu, p)
        # The same listing, all new, capped at 5: the same cost.
        p = first_run(env, srv, "keep yes max_messages 5", 5, (
            "max_messages 5 reached: 99995 more messages are left "
            "for the next run",))
        expect(p.cpu < 2.0 * SLOW, "CPU %.2f s" % p.cpu, p)
    finally:
        srv.stop()


def sixty_megabyte_listing_in_bounded_memory(env):
    # 1.2 million entries with 40-octet uids: about 60 MB of UIDL and
    # 20 MB of LIST, sent as fast as the socket takes them.
    empty = Server(Box([]))
    box = SyntheticBox(1200000, uid_len=40)
    srv = Server(box)
    try:
        fresh(env)
        account(env, empty, "keep yes")
        base = Run(env)
        expect(base.returncode == 0, "baseline run", base)
        p = first_run(env, srv, "keep yes max_messages 3", 3,
                      ("1199997 more messages are left",))
        grew = p.peak_kb - base.peak_kb
        print("  60 MB listing: %.2f s CPU, peak %d kB (baseline %d kB)"
              % (p.cpu, p.peak_kb, base.peak_kb))
        # Two bits per message number (300 kB) and the line being
        # read; the listing itself is never held.
        expect(grew < 8 * 1024 * SLOW,
               "peak RSS grew %d kB for a 60 MB listing" % grew, p)
        expect(p.cpu < 10.0 * SLOW, "CPU %.2f s" % p.cpu, p)
    finally:
        srv.stop()
        empty.stop()


def cap_honoured_and_rest_next_run(env):
    for keep in (False, True):
        box = Box([(b"c%d" % i, msg("cap %d" % i)) for i in range(25)])
        srv = Server(box)
        try:
            fresh(env)
            account(env, srv, "max_messages 10" +
                    (" keep yes" if keep else ""))
            got = []
            for run in range(3):
                p = Run(env)
                expect(p.returncode == 0, "run %d" % run, p)
                got.append(counts(p)[2])
                left = max(0, 25 - 10 * (run + 1))
                if left:
                    expect("max_messages 10 reached: %d more messages"
                           % left in p.stderr, "run %d logs the cap"
                           % run, p)
                else:
                    expect("max_messages" not in p.stderr,
                           "no cap in the last run", p)
            expect(got == [10, 10, 5], "delivered per run: %s" % got)
            subjects = sorted(
                ln for m in env.local_messages("alice")
                for ln in m.split("\r\n") if ln.startswith("Subject: "))
            expect(subjects == sorted("Subject: cap %d" % i
                                      for i in range(25)),
                   "each message once: %s" % subjects)
            expect(box.count() == (25 if keep else 0), "server side")
        finally:
            srv.stop()


def tests_listings(env):
    check("100,000-entry listing in linear time",
          lambda: hundred_thousand_entries_linear(env))
    check("60 MB listing in bounded memory",
          lambda: sixty_megabyte_listing_in_bounded_memory(env))
    check("max_messages honoured, logged, the rest next run",
          lambda: cap_honoured_and_rest_next_run(env))


# ---- unique ids ------------------------------------------------------------


def tests_uidl(env):
    def bad_uidls_no_second_copy():
        # Three good ids and four bad ones (71 octets, a control
        # character, a blank inside, one id for two messages); the bad
        # ones have no Message-ID, so only the fallback key can tell them.
        long71 = b"L" * 71
        entries = [
            (b"good-1", msg("good 1")),
            (long71, msg("too long", msgid=False)),
            (b"good-2", msg("good 2")),
            (b"ctl\x01char", msg("control", msgid=False)),
            (b"two words", msg("blank", msgid=False)),
            (b"same", msg("shared a", msgid=False)),
            (b"same", msg("shared b", msgid=False)),
            (b"good-3", msg("good 3")),
        ]
        box = Box(entries)
        srv = Server(box)
        try:
            first_run(env, srv, "keep yes", 8, (
                "unusable UIDL entries (not 1 to 70 octets 0x21-0x7E): 3;",
                "the server gave to another one too: 2;"))
            with open(state_path(env)) as f:
                keys = [ln for ln in f if ln.startswith("~hdr:")]
            expect(len(keys) == 5, "5 fallback keys recorded: %s" % keys)
            for run in (2, 3):
                p = Run(env)
                expect(p.returncode == 0, "run %d" % run, p)
                st = counts(p)
                expect(st[2] == 0, "run %d delivers nothing new" % run, p)
                expect(st[1] == 5, "run %d reads the 5 without an id "
                       "again (to know them)" % run, p)
            expect(len(env.local_messages("alice")) == 8, "still 8")
            # Delete mode: they go, and the keys with them.
            account(env, srv, "")
            p = Run(env)
            expect(p.returncode == 0 and counts(p)[2] == 0 and
                   counts(p)[4] == 8, "delete run removes all 8", p)
            expect(box.count() == 0, "server empty")
            # The next listing that is not empty prunes what is gone.
            box.entries = [[b"new", msg("new")]]
            p = Run(env)
            expect(p.returncode == 0 and counts(p)[2] == 1, "new one", p)
            with open(state_path(env)) as f:
                left = [ln.split(" ")[0] for ln in f.read().splitlines()[1:]]
            expect(left == ["new"], "state pruned: %s" % left, p)
        finally:
            srv.stop()

    def ten_kilobyte_uidl_line():
        for pipelining in (False, True):
            entries = [(b"u1", msg("first")),
                       (b"u" * 10240, msg("huge id", msgid=False)),
                       (b"u3", msg("third"))]
            box = Box(entries, pipelining=pipelining)
            srv = Server(box)
            try:
                first_run(env, srv, "keep yes", 3, (
                    "unusable UIDL entries (not 1 to 70 octets "
                    "0x21-0x7E): 1;",))
                p = Run(env)
                expect(p.returncode == 0 and counts(p)[2] == 0,
                       "second run: nothing new", p)
                expect(len(env.local_messages("alice")) == 3, "3 stored")
            finally:
                srv.stop()

    check("bad UIDLs: fallback keys, never a second copy",
          bad_uidls_no_second_copy)
    check("a 10 KB UIDL line skips only its entry", ten_kilobyte_uidl_line)


# ---- slow servers -----------------------------------------------------------


def first_run(env, srv, extra, delivered, says=()):
    """A run from scratch that must succeed, delivering this many and
    logging each of says. Returns the run."""
    fresh(env)
    account(env, srv, extra)
    p = Run(env)
    expect(p.returncode == 0, "the run completes", p)
    expect(counts(p)[2] == delivered, "%d delivered" % delivered, p)
    for text in says:
        expect(text in p.stderr, "logged: " + text, p)
    return p


def cut_run(env, srv, extra, says):
    """A run from scratch that a deadline must end: exit 75, the log
    naming it. Returns the run and how long it took."""
    fresh(env)
    account(env, srv, extra)
    t0 = time.time()
    p = Run(env)
    took = time.time() - t0
    expect(p.returncode == 75, "temporary failure", p)
    expect(says in p.stderr, "says which deadline", p)
    return p, took


def tests_deadlines(env):
    long_msg = msg("slow", body="".join("line %02d of a slow body\r\n" % i
                                        for i in range(60)))

    def trickled_message():
        box = Box([(b"fast", msg("fast")), (b"slow", long_msg)])
        box.trickle_retr = 0.25
        srv = Server(box)
        try:
            # No PIPELINING: the first one's DELE is answered before the
            # slow RETR starts.
            p, took = cut_run(env, srv, "message_timeout 2s min_rate 1K",
                              "message deadline: message 2 (%d octets) not "
                              "complete" % len(long_msg))
            expect(took < 10, "cut after %.1f s" % took, p)
            got = env.local_messages("alice")
            expect(len(got) == 1 and "Subject: fast" in got[0],
                   "only the fast one delivered", p)
            expect(staging_empty(env), "nothing half-written left")
            expect("DELE 2" not in box.commands, "the slow one not DELEd")
            expect(box.count() == 2, "no QUIT: nothing removed")
            # A well-behaved server again: the fast one is DELEd without a
            # second copy, the slow one delivered.
            box.trickle_retr = None
            p = Run(env)
            expect(p.returncode == 0, "next run", p)
            expect(counts(p)[1:3] == (1, 1), "only the slow one fetched", p)
            expect(len(env.local_messages("alice")) == 2, "2 stored")
            expect(box.count() == 0, "both removed")
        finally:
            srv.stop()

    def trickled_listing():
        box = Box([(b"u%d" % i, msg("l %d" % i)) for i in range(100)])
        box.trickle_listing = 0.2
        srv = Server(box)
        try:
            p, took = cut_run(env, srv, "message_timeout 2s",
                              "message deadline: the listing (UIDL, LIST) "
                              "not complete")
            expect(took < 10, "cut after %.1f s" % took, p)
            expect(env.local_messages("alice") == [], "nothing delivered")
        finally:
            srv.stop()

    def run_deadline():
        box = Box([(b"a", msg("a")), (b"b", long_msg)])
        box.trickle_retr = 0.1
        srv = Server(box)
        try:
            # min_rate 1: the message deadline never comes first.
            p, took = cut_run(env, srv, "min_rate 1 run_timeout 3s",
                              "run deadline: run_timeout 3s passed")
            expect(2.5 < took < 8, "after %.1f s" % took, p)
            expect(staging_empty(env), "nothing half-written left")
            expect(box.count() == 2, "nothing removed")
            for m in env.local_messages("alice"):
                expect("Subject: a\r\n" in m, "only a complete message")
        finally:
            srv.stop()

    check("a trickled message hits its deadline", trickled_message)
    check("a trickled listing hits its deadline", trickled_listing)
    check("the run deadline ends a slow run", run_deadline)


# ---- trace fields ------------------------------------------------------------


OURS = re.compile(rb"Received: from \[127\.0\.0\.1\]\r\n"
                  rb"\tby mail\.example\.test with POP3 \(account (\S+)\)"
                  rb"(\r\n\tid [!-~]+)?; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} "
                  rb"\d{4} \d\d:\d\d:\d\d \+0000\r\n")


def stored_bytes(env, user):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(env.maildir(user), sub)
        for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
    return out


def tests_trace(env):
    d = DOMAIN

    def originals(dt_domain):
        return [
            msg("dt", "Delivered-To: alice@%s\r\nReturn-Path: <s@r>\r\n"
                % dt_domain),
            msg("et", "Envelope-To: alice@%s\r\n" % d),
            msg("xo", "X-Original-To: alice@%s\r\n" % d),
            msg("rc", "Received: from a by b for <alice@%s>; Mon, 1 Jan 2024 "
                "00:00:00 +0000\r\n" % d),
        ]

    def original_below_our_received():
        # MultiPOP: a Delivered-To naming the local mailbox would be a
        # loop, so that one names the remote address.
        for mode, dt in (("multipop alice@" + d, "isp.example"),
                         ("domainpop " + d, d)):
            orig = originals(dt)
            box = Box([(b"t%d" % i, t) for i, t in enumerate(orig)])
            srv = Server(box)
            try:
                fresh(env)
                account(env, srv, "")
                env.accounts[0] = env.accounts[0].replace(
                    "multipop alice@" + d, mode)
                env.write_conf()
                p = Run(env)
                expect(p.returncode == 0, mode, p)
                got = stored_bytes(env, "alice")
                expect(len(got) == 4, "%s: 4 stored" % mode, p)
                rest = []
                for text in got:
                    m = OURS.match(text)
                    expect(m is not None and m.group(1) == b"h",
                           "our Received first: %r" % text[:200])
                    expect(b"X-Kantorpos-Fetched" not in text,
                           "no other field of ours")
                    rest.append(text[m.end():])
                expect(sorted(rest) == sorted(orig),
                       "%s: the original byte for byte below it" % mode)
            finally:
                srv.stop()

    def our_received_is_a_loop():
        fresh(env)
        box = Box([(b"t0", originals(d)[1])])
        srv = Server(box)
        try:
            account(env, srv, "keep yes")
            p = Run(env)
            expect(counts(p)[2] == 1, "delivered", p)
            copy = stored_bytes(env, "alice")[0]
            other = copy.replace(b"(account h)", b"(account other)")
            box.entries = [[b"back", copy], [b"notours", other]]
            fresh(env)
            p = Run(env)
            expect(p.returncode == 0, "run", p)
            expect(counts(p)[2:4] == (1, 1),
                   "our copy skipped as a loop, another account's not", p)
            expect("fetched by this account before" in p.stderr, "why", p)
        finally:
            srv.stop()

    check("fetched mail: our Received on top, the original below it",
          original_below_our_received)
    check("a message with our Received for this account is a loop",
          our_received_is_a_loop)


def main():
    root = tempfile.mkdtemp(prefix="kantorpos-fetch-hostile-")
    try:
        env = Env(root)
        tests_uidl(env)
        tests_trace(env)
        tests_deadlines(env)
        tests_listings(env)
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("kept", root)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
