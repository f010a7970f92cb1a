#!/usr/bin/env python3
"""tests/e2e_orgdomain_oracle.py: kantorpos's Organizational Domain
(common/auth/orgdomain on libpsl, through tests/orgdomaintool) against
publicsuffix2 (Debian's python3-publicsuffix2), a reader of the same
Public Suffix List written apart from libpsl.

The names come from the list itself (Debian's publicsuffix package): a
sample of the plain rules of its ICANN and its PRIVATE section, every
wildcard rule and every exception rule, each as the suffix itself and
with one, two and three labels in front; then some of them in upper
case, with a final dot, and under a top-level domain no rule names (about
1300 names). Non-ASCII rules are written as A-labels, as the DNS carries
them. Both of the list's files are checked: the DAFSA kantorpos loads by
default and the text form. DMARC's identifier alignment (RFC 7489 §3.1)
is checked on pairs of those names: relaxed when publicsuffix2 gives both
the same Organizational Domain, strict when they are the same name.

Debian installs publicsuffix2 for the system interpreter: when the
python3 that runs this lacks it and /usr/bin/python3 has it, the test runs
itself again with that one. Skipped (exit 77, "SKIP: reason") when
python3-publicsuffix2 or the list is missing. Prints one line per test
and "N passed, N failed, N skipped"."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import BUILD, test, TESTS  # noqa: E402
from e2e_oraclelib import oracle_main, system_module  # noqa: E402

publicsuffix2 = system_module("publicsuffix2")

LIST_DIR = "/usr/share/publicsuffix"
LIST_DAT = os.path.join(LIST_DIR, "public_suffix_list.dat")
LIST_DAFSA = os.path.join(LIST_DIR, "public_suffix_list.dafsa")
TOOL = os.path.join(BUILD, "tests", "orgdomaintool")
ORACLE = None


def rules():
    """The list's rules by kind: {(section, kind): [rule, ...]}, kind
    "plain", "wildcard" (the part after "*.") or "exception" (after "!"),
    in A-labels."""
    out = {}
    section = None
    with open(LIST_DAT, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if "===BEGIN ICANN DOMAINS===" in line:
                section = "icann"
            elif "===BEGIN PRIVATE DOMAINS===" in line:
                section = "private"
            if not line or line.startswith("//") or section is None:
                continue
            rule = line.split()[0]
            kind = "plain"
            if rule.startswith("*."):
                kind, rule = "wildcard", rule[2:]
            elif rule.startswith("!"):
                kind, rule = "exception", rule[1:]
            if "*" in rule:
                continue  # a wildcard not leftmost: none in the list
            rule = rule.encode("idna").decode()
            out.setdefault((section, kind), []).append(rule)
    return out


def names():
    """A few hundred names built from the rules."""
    by = rules()
    picked = []
    for (section, kind), rs in sorted(by.items()):
        if kind == "plain":
            step = max(1, len(rs) // (120 if section == "icann" else 60))
            rs = rs[::step]
        picked += rs
    out = []
    for r in picked:
        out += [r, "x." + r, "mail.x." + r, "a.mail.x." + r]
    for r in picked[::7]:
        out += ["Mail.Example." + r.upper(), "x." + r + "."]
    out += ["example.invalid-tld-zz", "a.b.example.invalid-tld-zz"]
    return sorted(set(out))


def expected(name):
    """publicsuffix2's answer: its public suffix plus one label, or the
    name itself when it is a suffix."""
    parts = name.lower().rstrip(".").split(".")
    tld = ORACLE.get_tld(name, wildcard=True, strict=False)
    n = 0 if tld is None else tld.count(".") + 1
    return ".".join(parts[-(n + 1):]) if len(parts) > n else ".".join(parts)


def compare(list_path):
    ns = names()
    out = subprocess.run([TOOL, list_path], input="\n".join(ns) + "\n",
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout.splitlines()
    assert len(out) == len(ns), (len(out), len(ns))
    wrong = []
    for name, line in zip(ns, out):
        got_name, got = line.split("\t")
        assert got_name == name, (got_name, name)
        if got != expected(name):
            wrong.append((name, got, expected(name)))
    assert not wrong, "%d of %d differ, e.g. %r" % (len(wrong), len(ns),
                                                    wrong[:5])
    assert len(ns) >= 300, len(ns)


@test
def dafsa_agrees():
    compare(LIST_DAFSA)


@test
def text_list_agrees():
    compare(LIST_DAT)


def norm(name):
    return name.lower()[:-1] if name.endswith(".") else name.lower()


def pairs():
    """Pairs (id, from) of the names: each with the next two of the
    sorted list (siblings, a parent, a suffix) and with its own
    Organizational Domain."""
    ns = names()
    out = []
    for i, n in enumerate(ns):
        out += [(n, m) for m in ns[i + 1:i + 3]]
        out.append((expected(n), n))
    return out


@test
def alignment_agrees():
    ps = pairs()
    out = subprocess.run([TOOL, LIST_DAFSA],
                         input="".join("%s %s\n" % p for p in ps),
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout.splitlines()
    assert len(out) == len(ps), (len(out), len(ps))
    wrong = []
    aligned = 0
    for (a, b), line in zip(ps, out):
        want = "%d %d" % (expected(a) == expected(b), norm(a) == norm(b))
        got = line.split("\t")[1]
        aligned += got.startswith("1")
        if got != want:
            wrong.append((a, b, got, want))
    assert not wrong, "%d of %d differ, e.g. %r" % (len(wrong), len(ps),
                                                    wrong[:5])
    # Both answers occur often: the pairs test something.
    assert len(ps) // 4 < aligned < len(ps) * 3 // 4, (aligned, len(ps))


@test
def the_sample_has_every_kind():
    ns = names()
    kinds = {k for k in rules()}
    assert {("icann", "plain"), ("icann", "wildcard"),
            ("icann", "exception"), ("private", "plain")} <= kinds, kinds
    assert any(n.startswith("xn--") or ".xn--" in n for n in ns)
    assert any(n.endswith(".") for n in ns)
    assert any(n != n.lower() for n in ns)


def start():
    global ORACLE
    ORACLE = publicsuffix2.PublicSuffixList(LIST_DAT, idna=True)
    return ()


def finish(args, failed):
    pass


def main():
    missing = None
    if publicsuffix2 is None:
        missing = ("publicsuffix2 is not installed (Debian package "
                   "python3-publicsuffix2, in scripts/deps.sh's test group)")
    elif not (os.path.exists(LIST_DAT) and os.path.exists(LIST_DAFSA)):
        missing = ("no Public Suffix List in %s (Debian package "
                   "publicsuffix)" % LIST_DIR)
    return oracle_main(TESTS, missing, [TOOL], start, finish)


if __name__ == "__main__":
    sys.exit(main())
