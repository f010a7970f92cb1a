#!/usr/bin/env python3
"""tests/e2e_install.py: `make install DESTDIR=...` and `make uninstall`
into a scratch directory: the programs, the manual pages, the systemd units,
sysusers.d and tmpfiles.d files with the configured paths filled in, and
the sample configuration, which is always installed as kantorpos.conf.sample
and as kantorpos.conf only when none exists; an upgrade keeps an edited
kantorpos.conf, and uninstall removes it only while unchanged and reports
no error. Prints one line per test and "N passed, N failed"."""

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
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    # An ignored failure ("make: [...] Error 1 (ignored)") is an error too;
    # the outer make's jobserver note (under make -jN check) is not ours.
    ours = "\n".join(ln for ln in out.splitlines()
                     if "jobserver unavailable" not in ln)
    assert not re.search(r"error|ignored|warning", ours, re.I), out
    return out


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
        self.sysusersdir = expand(vals.get("sysusersdir", ""))
        self.tmpfilesdir = expand(vals.get("tmpfilesdir", ""))
        self.confdir = os.path.join(self.sysconfdir, "kantorpos")
        self.datadir = os.path.join(self.localstatedir, "lib", "kantorpos")

    def installed(self):
        """Every file make install puts down (relative to DESTDIR)."""
        want = {rel(os.path.join(self.bindir, "kantorpos")),
                rel(os.path.join(self.sbindir, "kantorpos-smtpd")),
                rel(os.path.join(self.sbindir, "kantorpos-pop3d")),
                rel(os.path.join(self.sbindir, "kantorpos-sendmail")),
                # The link to it, where the path was free (a DESTDIR).
                rel(os.path.join(self.sbindir, "sendmail")),
                rel(os.path.join(self.mandir, "man1", "kantorpos.1")),
                rel(os.path.join(self.mandir, "man5", "kantorpos.conf.5")),
                rel(os.path.join(self.mandir, "man8", "kantorpos-smtpd.8")),
                rel(os.path.join(self.mandir, "man8", "kantorpos-pop3d.8")),
                rel(os.path.join(self.mandir, "man8",
                                 "kantorpos-sendmail.8")),
                rel(os.path.join(self.confdir, "kantorpos.conf")),
                rel(os.path.join(self.confdir, "kantorpos.conf.sample")),
                rel(os.path.join(self.sysconfdir, "fail2ban", "filter.d",
                                 "kantorpos.conf")),
                rel(os.path.join(self.docdir, "fail2ban", "jail.d",
                                 "kantorpos.conf.example")),
                rel(os.path.join(self.sysconfdir, "logrotate.d",
                                 "kantorpos"))}
        if self.unitdir:
            want |= {rel(os.path.join(self.unitdir, u)) for u in UNITS}
        for d in (self.sysusersdir, self.tmpfilesdir):
            if d:
                want.add(rel(os.path.join(d, "kantorpos.conf")))
        return want

    def conf(self, dest):
        return os.path.join(dest, rel(self.confdir), "kantorpos.conf")


UNITS = ("kantorpos-smtpd.service", "kantorpos-pop3d.service",
         "kantorpos-fetch.service", "kantorpos-etrn.service",
         "kantorpos-etrn.timer")


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
    want = p.installed()
    assert want <= have, f"missing: {sorted(want - have)}"
    assert have <= want, f"unexpected: {sorted(have - want)}"
    assert os.access(os.path.join(dest, rel(p.bindir), "kantorpos"), os.X_OK)
    assert os.access(os.path.join(dest, rel(p.sbindir), "kantorpos-smtpd"),
                     os.X_OK)
    conf = p.conf(dest)
    text = open(conf).read()
    assert text == open(conf + ".sample").read()
    assert f"data_dir {p.datadir}\n" in text, text[:400]
    assert f"user_db {p.datadir}/users\n" in text
    assert os.stat(conf).st_mode & 0o022 == 0, "config writable by others"
    if p.unitdir:
        for u in UNITS:
            unit = open(os.path.join(dest, rel(p.unitdir), u)).read()
            assert re.search(r"@[a-z]+@", unit) is None, f"{u}: unsubstituted"
        unit = open(os.path.join(dest, rel(p.unitdir),
                                 "kantorpos-smtpd.service")).read()
        assert (f"ExecStart={p.sbindir}/kantorpos-smtpd -c "
                f"{p.confdir}/kantorpos.conf\n") in unit
        assert f"ReadWritePaths={p.datadir}\n" in unit
        assert "Type=notify\n" in unit
        fetch = open(os.path.join(dest, rel(p.unitdir),
                                  "kantorpos-fetch.service")).read()
        assert f"ExecStart={p.bindir}/kantorpos -c " in fetch
        assert "fetch --daemon\n" in fetch
        etrn = open(os.path.join(dest, rel(p.unitdir),
                                 "kantorpos-etrn.service")).read()
        assert (f"ExecStart={p.bindir}/kantorpos -c {p.confdir}/"
                "kantorpos.conf etrn --scheduled\n") in etrn
    if p.sysusersdir:
        text = open(os.path.join(dest, rel(p.sysusersdir),
                                 "kantorpos.conf")).read()
        assert re.search(r'^u kantorpos - ".*" %s$' % re.escape(p.datadir),
                         text, re.M), text
    if p.tmpfilesdir:
        text = open(os.path.join(dest, rel(p.tmpfilesdir),
                                 "kantorpos.conf")).read()
        assert f"d {p.datadir} 0700 kantorpos kantorpos -\n" in text, text
    make(dest, "uninstall")
    assert files(dest) == set(), f"left over: {sorted(files(dest))}"


@test
def existing_config_is_never_replaced(top, p):
    dest = os.path.join(top, "b")
    conf = p.conf(dest)
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as f:
        f.write("# the administrator's own\n")
    out = make(dest, "install")
    assert open(conf).read() == "# the administrator's own\n"
    assert (f"{conf} exists: kept as it is; the new sample is "
            f"{conf}.sample") in out, out
    assert os.path.exists(conf + ".sample")
    out = make(dest, "uninstall")
    assert "was edited: kept" in out, out
    assert files(dest) == {os.path.relpath(conf, dest)}, sorted(files(dest))
    assert open(conf).read() == "# the administrator's own\n"


@test
def upgrade_keeps_an_edited_config(top, p):
    dest = os.path.join(top, "c")
    make(dest, "install")
    conf = p.conf(dest)
    sample = open(conf + ".sample").read()
    with open(conf, "a") as f:
        f.write("hostname mail.example.org\n")
    edited = open(conf).read()
    # The older install's sample differs from the new one: the upgrade
    # must replace the sample and leave the configuration alone.
    with open(conf + ".sample", "w") as f:
        f.write("# an older sample\n")
    out = make(dest, "install")
    assert open(conf).read() == edited, "the edit was lost"
    assert open(conf + ".sample").read() == sample, "the sample is old"
    assert "kept as it is; the new sample is" in out, out
    assert p.installed() <= files(dest)
    out = make(dest, "uninstall")
    assert "was edited: kept" in out, out
    assert "kept: it still holds files" in out, out
    left = files(dest)
    assert left == {os.path.relpath(conf, dest)}, f"left: {sorted(left)}"
    assert open(conf).read() == edited


@test
def upgrade_without_edits_uninstalls_clean(top, p):
    dest = os.path.join(top, "d")
    make(dest, "install")
    out = make(dest, "install")
    assert "kept as it is" in out, out
    out = make(dest, "uninstall")
    assert "was edited" not in out, out
    assert files(dest) == set(), f"left over: {sorted(files(dest))}"
    assert not os.path.exists(os.path.join(dest, rel(p.confdir)))


def run_all(tests, prefix):
    """Run tests (fn(top, paths)) in a scratch directory named by prefix;
    print a line each and the totals; returns the exit status."""
    if not os.path.exists(os.path.join(BUILD, "Makefile")):
        print(f"no Makefile in {BUILD}")
        return 1
    top = tempfile.mkdtemp(prefix=prefix)
    p = Paths()
    passed = failed = 0
    try:
        for fn in tests:
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


def main():
    return run_all(TESTS, "kp-e2e-install-")


if __name__ == "__main__":
    sys.exit(main())
