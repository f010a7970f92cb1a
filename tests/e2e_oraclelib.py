#!/usr/bin/env python3
"""tests/e2e_oraclelib.py: what the tests against an independent
implementation (an "oracle": a Debian Python package reading the same
data apart from kantorpos's code) share: importing the oracle's module,
and their main(), which skips the test when the oracle is missing and
fails it when the tool kantorpos's side runs through was not built.
Python standard library only."""

import importlib
import os
import sys

from e2e_lib import import_or_reexec, run_tests

SKIP = 77


def system_module(name):
    """The module name, or None when it is missing (e2e_lib's
    import_or_reexec: may run the test again under /usr/bin/python3)."""
    return importlib.import_module(name) if import_or_reexec(name) else None


def oracle_main(tests, missing, tools, start, finish):
    """Run tests (run_tests with start and finish): skipped (exit 77,
    "SKIP: missing") when missing is not None, failed when one of tools
    is not an executable file. Returns the exit status."""
    if missing is not None:
        print("SKIP: " + missing)
        print("0 passed, 0 failed, 1 skipped")
        return SKIP
    for tool in tools:
        if not os.access(tool, os.X_OK):
            print("missing %s" % tool)
            print("0 passed, 1 failed, 0 skipped")
            return 1
    return run_tests(tests, start, finish, only=sys.argv[1:])
