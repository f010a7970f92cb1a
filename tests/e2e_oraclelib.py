#!/usr/bin/env python3
"""tests/e2e_oraclelib.py: what the tests against an independent
implementation (an "oracle": a Debian Python package reading the same
data apart from kantorpos's code) share: importing the oracle's module,
and their main(), which skips the test when the oracle is missing and
fails it when the tool kantorpos's side runs through was not built.
Python standard library only."""

import importlib
import os
import subprocess
import sys

from e2e_lib import run_tests

SKIP = 77
SYSTEM_PYTHON = "/usr/bin/python3"


def system_module(name):
    """The module name, or None when it is missing. Debian installs the
    modules of its python3-* packages for the system interpreter: when
    the python3 that runs the test lacks name and /usr/bin/python3 has
    it, the test runs itself again with that one."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    if (os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON)
            and os.access(SYSTEM_PYTHON, os.X_OK)
            and subprocess.call([SYSTEM_PYTHON, "-c", "import " + name],
                                stderr=subprocess.DEVNULL) == 0):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    return None


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
