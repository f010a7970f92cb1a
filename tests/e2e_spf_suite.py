#!/usr/bin/env python3
"""tests/e2e_spf_suite.py: the SPF evaluator (common/auth, through
tests/spftool) against RFC 7208's own test suite, the openspf.org
rfc7208-tests.yml that Debian's python3-spf ships.

Each scenario's zone data becomes spftool's zone lines; each of its tests
(client address, MAIL FROM, HELO) is one spftool run whose result must be
the expected one (some tests allow several: one given but not the
preferred first is printed as a note) and whose explanation, where
the test names one, must be it ("DEFAULT" standing for no exp= text, as
the suite's convention is). The suite's conventions for its zone data:
a record of type SPF (99) is also served as TXT when the name lists no
TXT record ("TXT: NONE" says there is none), since RFC 7208 §3.1 left
type SPF for TXT; "TIMEOUT" makes the questions of a name time out.

Each scenario is one test of tests/e2e_lib.py's runner: it prints how
many of its tests passed, and fails naming the tests that failed; the end
gives the suite's own tally (203 tests in 16 scenarios, all passing), then
the runner's "N passed, N failed, N skipped" of scenarios. Exits 1 on any
failure not in KNOWN (none is listed), 77 ("SKIP: reason") without the
suite file or python3-yaml."""

import gzip
import os
import subprocess
import sys

SKIP = 77
SUITE = "/usr/share/doc/python3-spf/rfc7208-tests.yml.gz"

# Tests allowed to fail, each with the RFC's reason (features it marks
# optional). Empty: the evaluator passes the whole suite.
KNOWN = {}
# Tests passed with a result the suite allows but does not prefer.
NOTES = []


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import BUILD, import_or_reexec, run_tests  # noqa: E402

yaml = None  # reported missing by main()
if import_or_reexec("yaml"):
    import yaml

SPFTOOL = os.path.join(BUILD, "tests", "spftool")


def quote(value):
    """A zone-file string: octets outside ' '..'~', '"' and '\\' as
    \\DDD."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    out = []
    for b in value:
        if 0x20 <= b <= 0x7e and b not in (0x22, 0x5c):
            out.append(chr(b))
        else:
            out.append("\\%03d" % b)
    return '"' + "".join(out) + '"'


def strings(value):
    """A TXT value of the suite: one string or a list of them."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def zone_lines(zonedata):
    """spftool's zone lines for a scenario's zonedata."""
    lines = []
    for name, records in zonedata.items():
        qname = quote(name)
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in records)
        made_txt = []
        for rec in records:
            if rec == "TIMEOUT":
                lines.append("%s TIMEOUT" % qname)
                continue
            for rtype, value in rec.items():
                if value == "NONE":
                    continue
                if value == "TIMEOUT":
                    lines.append("%s TIMEOUT %s" % (qname, rtype))
                elif rtype == "SPF":
                    # RFC 7208 §3.1: type SPF is not looked up; the
                    # suite serves it as TXT when no TXT is listed
                    if not has_txt:
                        made_txt.append(value)
                elif rtype == "TXT":
                    lines.append("%s TXT %s" % (qname, " ".join(
                        quote(s) for s in strings(value))))
                elif rtype == "MX":
                    lines.append("%s MX %d %s" % (qname, value[0],
                                                  quote(value[1])))
                else:
                    lines.append("%s %s %s" % (qname, rtype, quote(value)))
        for value in made_txt:
            lines.append("%s TXT %s" % (qname, " ".join(
                quote(s) for s in strings(value))))
    return lines


def run_one(zone, test):
    """spftool's lines for one test: a dict of keyword -> value."""
    text = "\n".join(zone + [
        "=ip %s" % quote(test["host"]),
        "=sender %s" % quote(test.get("mailfrom", "")),
        "=helo %s" % quote(test.get("helo", "")),
    ]) + "\n"
    p = subprocess.run([SPFTOOL], input=text.encode("utf-8"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    if p.returncode != 0:
        return {"error": p.stderr.decode("utf-8", "replace").strip()}
    got = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(" ")
        got[key] = value
    return got


def check(test, got):
    """Why got is not what test expects, or None."""
    if "error" in got:
        return "spftool: " + got["error"]
    want = test["result"]
    want = want if isinstance(want, list) else [want]
    if got.get("result") not in want:
        return "result %s, want %s (%s)" % (got.get("result"), "/".join(want),
                                            got.get("why", ""))
    if got.get("result") != want[0]:
        NOTES.append("%s gives %s; the suite prefers %s"
                     % (test.get("name"), got["result"], want[0]))
    if "explanation" in test:
        exp = got.get("explanation", "DEFAULT")
        if exp != test["explanation"]:
            return "explanation %r, want %r" % (exp, test["explanation"])
    return None


def scenario_test(sc, only, tally):
    """The test function of one scenario: every test of it through
    spftool; fails listing the tests that failed (not those in KNOWN)."""
    zone = zone_lines(sc.get("zonedata") or {})

    def run():
        bad, known, n = [], [], 0
        for name, test in sc["tests"].items():
            if only and name not in only:
                continue
            n += 1
            test["name"] = name
            why = check(test, run_one(zone, test))
            if why is None:
                tally["passed"] += 1
            elif name in KNOWN:
                tally["known"] += 1
                known.append("%s: %s (%s)" % (name, why, KNOWN[name]))
            else:
                tally["failed"] += 1
                bad.append("%s: %s" % (name, why))
        print("     %s: %d of %d tests passed" % (sc["description"],
                                                   n - len(bad) - len(known),
                                                   n))
        for k in known:
            print("     known " + k)
        assert not bad, "\n".join(bad)

    run.__name__ = sc["description"].replace(" ", "_")
    return run


def main():
    if yaml is None:
        print("SKIP: python3-yaml is not installed (scripts/deps.sh's test "
              "group)")
        print("0 passed, 0 failed, 1 skipped")
        return SKIP
    if not os.path.exists(SUITE):
        print("SKIP: %s is missing (Debian package python3-spf, in "
              "scripts/deps.sh's test group)" % SUITE)
        print("0 passed, 0 failed, 1 skipped")
        return SKIP
    if not os.access(SPFTOOL, os.X_OK):
        print("missing %s" % SPFTOOL)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    only = set(sys.argv[1:])
    tally = {"passed": 0, "failed": 0, "known": 0}
    with gzip.open(SUITE, "rb") as f:
        scenarios = [sc for sc in yaml.safe_load_all(f) if sc]
    tests = [scenario_test(sc, only, tally) for sc in scenarios]

    def finish(args, failed):
        for note in NOTES:
            print("note: " + note)
        print("tests of the suite: %(passed)d passed, %(failed)d failed, "
              "%(known)d known failures" % tally)

    return run_tests(tests, lambda: (), finish)


if __name__ == "__main__":
    sys.exit(main())
