#!/usr/bin/env python3
"""tests/e2e_authres_oracle.py: kantorpos's Authentication-Results code
(common/auth/authres, through tests/authrestool) against Debian's
python3-authres (the authres module) as the oracle:

- fields the builder writes (spf, dkim and dmarc results with their
  properties; reasons with quotes and semicolons; values that must be
  quoted strings; comments; many results folded over lines; the "none"
  form) parse with authres into the same authserv-id, methods, results,
  reasons and properties, and no line passes 78 columns;
- the authserv-id kantorpos reads from fields as other hosts write them
  (comments before and after it, folding, a version, any case) is the one
  authres reads, and "ours" follows it without case.

Debian installs authres for the system interpreter: when the python3 that
runs this lacks it and /usr/bin/python3 has it, the test runs itself
again with that one. Skipped (exit 77, "SKIP: reason") when
python3-authres is missing. Prints one line per test and "N passed, N
failed, N skipped"."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import BUILD, test, TESTS  # noqa: E402
from e2e_oraclelib import oracle_main, system_module  # noqa: E402

authres = system_module("authres")

TOOL = os.path.join(BUILD, "tests", "authrestool")

# Each case: the authserv-id and its results, each (method, result,
# reason or None, comment or None, [(property, value), ...]).
CASES = [
    ("mx.example.test", [
        ("spf", "pass", None, None, [("smtp.mailfrom", "sender.test")]),
        ("dkim", "pass", None, None, [("header.d", "sender.test"),
                                      ("header.s", "ed1"),
                                      ("header.b", "AbCd1234")]),
        ("dkim", "fail", "body hash did not verify", None,
         [("header.d", "sender.test"), ("header.s", "rsa1")]),
        ("dmarc", "pass", None, "p=reject sp=none pct=100",
         [("header.from", "sender.test")]),
    ]),
    ("mx.example.test", []),
    ("mail.example.org", [
        ("spf", "softfail", None, None,
         [("smtp.mailfrom", "first.last@bounce.example.net")]),
        ("spf", "none", None, None, [("smtp.helo", "client.example.net")]),
        ("dkim", "permerror", 'key record says "no"; retired', None,
         [("header.d", "example.net"), ("header.b", "a/b+c=d/")]),
        ("dmarc", "fail", None, "p=reject applied=quarantine",
         [("header.from", "example.net")]),
    ]),
    ("mx.example.test", [
        ("dkim", "fail", "signature did not verify", None,
         [("header.d", "d%d.a-rather-long-domain-name.example.test" % i),
          ("header.s", "selector-%d-with-a-long-name" % i),
          ("header.b", "abcdefgh")]) for i in range(5)
    ]),
    ("mx.example.test", [
        ("dmarc", "temperror", "DNS lookup failed", None,
         [("header.from", "example.test")]),
        ("spf", "temperror", None, None, [("smtp.mailfrom", "@example.test")]),
    ]),
]


def unquote(s):
    return None if s is None else re.sub(r"\\(.)", r"\1", s)


def build(cases):
    """The fields the builder writes for cases, in order."""
    lines = []
    for authserv_id, results in cases:
        lines.append("id " + authserv_id)
        for method, result, reason, comment, props in results:
            lines.append("result %s %s" % (method, result))
            if reason is not None:
                lines.append("reason " + reason)
            if comment is not None:
                lines.append("comment " + comment)
            for name, value in props:
                lines.append("prop %s %s" % (name, value))
        lines.append("end")
    out = subprocess.run([TOOL, "build"],
                         input=("\n".join(lines) + "\n").encode(),
                         stdout=subprocess.PIPE, check=True).stdout.decode()
    fields = out.split("\0")[:-1]
    assert len(fields) == len(cases), fields
    return fields


@test
def built_fields_parse_alike():
    for (authserv_id, results), field in zip(CASES, build(CASES)):
        assert field.endswith("\r\n"), field
        for line in field[:-2].split("\r\n"):
            assert len(line) <= 78, line
        h = authres.AuthenticationResultsHeader.parse(field[:-2])
        assert h.authserv_id == authserv_id.lower(), (h.authserv_id, field)
        assert len(h.results) == len(results), (h.results, field)
        for want, got in zip(results, h.results):
            method, result, reason, comment, props = want
            assert got.method == method, (got.method, field)
            assert got.result == result, (got.result, field)
            assert unquote(got.reason) == reason, (got.reason, field)
            gp = [("%s.%s" % (p.type, p.name), unquote(p.value))
                  for p in got.properties]
            assert gp == props, (gp, props, field)


@test
def none_form():
    field = build([("mx.example.test", [])])[0]
    assert field == "Authentication-Results: mx.example.test; none\r\n"
    h = authres.AuthenticationResultsHeader.parse(field[:-2])
    assert h.authserv_id == "mx.example.test" and h.results == []


# Fields as other hosts write them.
FOREIGN = [
    "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=a.test",
    "Authentication-Results: MX.Example.TEST;\r\n dkim=pass header.d=a.test",
    "Authentication-Results: (forged) mx.example.test; dkim=pass"
    " header.d=bank.test",
    "Authentication-Results:\r\n\t(a comment\r\n folded)\r\n mx.example.test"
    " (after);\r\n dmarc=pass header.from=bank.test",
    "Authentication-Results: mx.example.test 1; none",
    "Authentication-Results: other.example.net; spf=fail"
    " smtp.mailfrom=a.test",
    "Authentication-Results: mx.example.test.other.net; none",
    "Authentication-Results: example.test; none",
]


@test
def authserv_id_read_alike():
    out = subprocess.run([TOOL, "id", "mx.example.test"],
                         input="\0".join(f + "\r\n" for f in FOREIGN) + "\0",
                         stdout=subprocess.PIPE, check=True,
                         universal_newlines=True).stdout.splitlines()
    assert len(out) == len(FOREIGN), out
    for field, line in zip(FOREIGN, out):
        ours, got = line.split("\t")
        want = authres.AuthenticationResultsHeader.parse(field).authserv_id
        # authres gives the id in lower case.
        assert got.lower() == want, (got, want, field)
        assert (ours == "ours") == (want.lower() == "mx.example.test"), line


def start():
    return ()


def finish(args, failed):
    pass


def main():
    missing = None
    if authres is None:
        missing = ("authres is not installed (Debian package "
                   "python3-authres, in scripts/deps.sh's test group)")
    return oracle_main(TESTS, missing, [TOOL], start, finish)


if __name__ == "__main__":
    sys.exit(main())
