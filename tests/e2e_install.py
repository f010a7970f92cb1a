#!/usr/bin/env python3
"""tests/e2e_install.py: `make install DESTDIR=...` and `make uninstall`
into a scratch directory: the programs, the manual pages, the systemd units
with the configured paths filled in, and the sample configuration, which is
installed only when none exists and removed only while unchanged.
Prints one line per test and "N passed, N failed"."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
MAKE = os.environ.get("MAKE", "make")


def make(destdir, *targets):
    # A nested make of the same tree: everything is built already, so this
    # only copies files. MAKEFLAGS from an outer make are left alone.
    p = subprocess.run([MAKE, "-s", "-C", BUILD, *targets,
                        f"DESTDIR={destdir}"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout + p.stderr


def files(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


class Paths:
    """The configured directories, read back from the Makefile."""

    def __init__(self):
        vals = {}
        with open(os.path.join(BUILD, "Makefile")) as f:
            for line in f:
                if " = " in line and not line.startswith("\t"):
                    k, v = line.rstrip("\n").split(" = ", 1)
                    vals[k.strip()] = v.strip()

        def expand(v):
            for _ in range(10):
                for k in ("prefix", "exec_prefix", "datarootdir",
                          "PACKAGE_TARNAME"):
                    v = v.replace("${" + k + "}", vals.get(k, "")) \
                         .replace("$(" + k + ")", vals.get(k, ""))
            return v
        self.bindir = expand(vals["bindir"])
        self.sbindir = expand(vals["sbindir"])
        self.sysconfdir = expand(vals["sysconfdir"])
        self.localstatedir = expand(vals["localstatedir"])
        self.mandir = expand(vals["mandir"])
        self.docdir = expand(vals["docdir"])
        self.unitdir = expand(vals.get("systemdunitdir", ""))


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def rel(path):
    return path.lstrip("/")


@test
def install_tree(top, p):
    dest = os.path.join(top, "a")
    make(dest, "install")
    have = files(dest)
    want = {rel(os.path.join(p.bindir, "kantorpos")),
            rel(os.path.join(p.sbindir, "kantorpos-smtpd")),
            rel(os.path.join(p.sbindir, "kantorpos-pop3d")),
            rel(os.path.join(p.mandir, "man1", "kantorpos.1")),
            rel(os.path.join(p.mandir, "man5", "kantorpos.conf.5")),
            rel(os.path.join(p.mandir, "man8", "kantorpos-smtpd.8")),
            rel(os.path.join(p.mandir, "man8", "kantorpos-pop3d.8")),
            rel(os.path.join(p.sysconfdir, "kantorpos", "kantorpos.conf")),
            rel(os.path.join(p.sysconfdir, "fail2ban", "filter.d",
                             "kantorpos.conf")),
            rel(os.path.join(p.docdir, "fail2ban", "jail.d",
                             "kantorpos.conf.example")),
            rel(os.path.join(p.sysconfdir, "logrotate.d", "kantorpos"))}
    if p.unitdir:
        for u in ("smtpd", "pop3d", "fetch"):
            want.add(rel(os.path.join(p.unitdir, f"kantorpos-{u}.service")))
    assert want <= have, f"missing: {sorted(want - have)}"
    assert have <= want, f"unexpected: {sorted(have - want)}"
    assert os.access(os.path.join(dest, rel(p.bindir), "kantorpos"), os.X_OK)
    assert os.access(os.path.join(dest, rel(p.sbindir), "kantorpos-smtpd"),
                     os.X_OK)
    conf = os.path.join(dest, rel(p.sysconfdir), "kantorpos", "kantorpos.conf")
    text = open(conf).read()
    assert f"data_dir {p.localstatedir}/lib/kantorpos\n" in text, text[:400]
    assert f"user_db {p.sysconfdir}/kantorpos/users\n" in text
    assert os.stat(conf).st_mode & 0o022 == 0, "config writable by others"
    if p.unitdir:
        unit = open(os.path.join(dest, rel(p.unitdir),
                                 "kantorpos-smtpd.service")).read()
        assert re.search(r"@[a-z]+@", unit) is None, "unsubstituted"
        assert (f"ExecStart={p.sbindir}/kantorpos-smtpd -c "
                f"{p.sysconfdir}/kantorpos/kantorpos.conf\n") in unit
        assert f"ReadWritePaths={p.localstatedir}/lib/kantorpos\n" in unit
        fetch = open(os.path.join(dest, rel(p.unitdir),
                                  "kantorpos-fetch.service")).read()
        assert f"ExecStart={p.bindir}/kantorpos -c " in fetch
        assert "fetch --daemon\n" in fetch
    make(dest, "uninstall")
    assert files(dest) == set(), f"left over: {sorted(files(dest))}"


@test
def existing_config_is_never_replaced(top, p):
    dest = os.path.join(top, "b")
    conf = os.path.join(dest, rel(p.sysconfdir), "kantorpos", "kantorpos.conf")
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as f:
        f.write("# the administrator's own\n")
    out = make(dest, "install")
    assert open(conf).read() == "# the administrator's own\n"
    assert "kept as it is" in out, out
    make(dest, "uninstall")
    assert files(dest) == {os.path.relpath(conf, dest)}, sorted(files(dest))
    assert open(conf).read() == "# the administrator's own\n"


@test
def edited_sample_is_kept_on_uninstall(top, p):
    dest = os.path.join(top, "c")
    make(dest, "install")
    conf = os.path.join(dest, rel(p.sysconfdir), "kantorpos", "kantorpos.conf")
    with open(conf, "a") as f:
        f.write("hostname mail.example.org\n")
    out = make(dest, "uninstall")
    assert "was edited: kept" in out, out
    assert os.path.exists(conf)
    os.unlink(conf)


def main():
    if not os.path.exists(os.path.join(BUILD, "Makefile")):
        print(f"no Makefile in {BUILD}")
        return 1
    top = tempfile.mkdtemp(prefix="kp-e2e-install-")
    p = Paths()
    passed = failed = 0
    try:
        for fn in TESTS:
            try:
                fn(top, p)
                passed += 1
                print(f"PASS {fn.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc(file=sys.stdout)
    finally:
        shutil.rmtree(top, True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
