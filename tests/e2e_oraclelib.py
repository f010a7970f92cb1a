#!/usr/bin/env python3
"""tests/e2e_oraclelib.py: what the tests against an independent
implementation (an "oracle": a Debian Python package reading the same
data apart from kantorpos's code) share: importing the oracle's module,
and their main(), which skips the test when the oracle is missing and
fails it when the tool kantorpos's side runs through was not built; a
DKIM key made with openssl for dkimpy to sign with. Python standard
library only."""

import base64
import importlib
import os
import subprocess
import sys

from e2e_lib import import_or_reexec, run_tests

SKIP = 77


def system_module(name):
    """The module name, or None when it is missing (e2e_lib's
    import_or_reexec: may run the test again under /usr/bin/python3)."""
    return importlib.import_module(name) if import_or_reexec(name) else None


def openssl(*args):
    return subprocess.run(("openssl",) + args, check=True,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def dkim_key(pem, kind):
    """A key made with openssl genpkey into the file pem, kind "rsa"
    (2048 bits) or "ed25519": (the private key as dkimpy takes it, the
    key record "v=DKIM1; k=KIND; p=...")."""
    if kind == "ed25519":
        openssl("genpkey", "-algorithm", "ed25519", "-out", pem)
        seed = openssl("pkey", "-in", pem, "-outform", "DER")[-32:]
        pub = openssl("pkey", "-in", pem, "-pubout", "-outform", "DER")[-32:]
        priv = base64.b64encode(seed)
    else:
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                "rsa_keygen_bits:2048", "-out", pem)
        priv = openssl("rsa", "-in", pem, "-traditional")
        pub = openssl("pkey", "-in", pem, "-pubout", "-outform", "DER")
    return priv, "v=DKIM1; k=%s; p=%s" % (kind,
                                          base64.b64encode(pub).decode())


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
