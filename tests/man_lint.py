#!/usr/bin/env python3
"""tests/man_lint.py: the manual pages format without a single warning
under `groff -ww -man -z` (PostScript and UTF-8 devices) and
`mandoc -T lint`. A tool that is not installed is skipped; with neither,
the test is skipped (exit 77)."""

import glob
import os
import shutil
import subprocess
import sys

SRC = os.environ.get("KANTORPOS_SRCDIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), ".."))

CHECKS = [
    ("groff", ["groff", "-ww", "-man", "-z", "-Tps"]),
    ("groff", ["groff", "-ww", "-man", "-z", "-Tutf8"]),
    ("mandoc", ["mandoc", "-T", "lint", "-W", "style"]),
]


def main():
    pages = sorted(glob.glob(os.path.join(SRC, "man", "*.[1-8]")))
    if not pages:
        print("no manual pages under " + os.path.join(SRC, "man"))
        print("0 passed, 1 failed")
        return 1
    checks = [(t, cmd) for t, cmd in CHECKS if shutil.which(t)]
    if not checks:
        print("SKIP: neither groff nor mandoc is installed")
        return 77
    passed = failed = 0
    for page in pages:
        for tool, cmd in checks:
            p = subprocess.run(cmd + [page], capture_output=True, text=True)
            out = (p.stdout + p.stderr).strip()
            name = f"{' '.join(cmd)} {os.path.basename(page)}"
            if p.returncode == 0 and out == "":
                passed += 1
                print(f"PASS {name}")
            else:
                failed += 1
                print(f"FAIL {name}\n{out}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
