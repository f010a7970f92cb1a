#!/usr/bin/env python3
"""tests/e2e_units.py: what `make install` puts down for systemd works with
systemd's own tools, run on a scratch root (--root=), never on this
machine's system:

- `systemd-analyze verify` accepts every installed unit without a word:
  the binaries at the paths the units name exist (the DESTDIR install is
  the root), their manual pages are found (MANPATH into it), and the
  dependencies (network-online.target, timers.target, ...) come from a
  copy of this machine's unit directory; a broken unit is caught;
- `systemd-sysusers kantorpos.conf` and `systemd-tmpfiles --create
  kantorpos.conf`, the README's commands, make the user kantorpos with the
  data directory as home and the data directory, 0700, owned by it, and
  kantorpos-sendmail's drop directory, 1733, owned by it; a second run
  changes nothing.
Prints one line per test and "N passed, N failed"; exit 77 when a systemd
tool is missing."""

import os
import pwd
import shutil
import stat
import subprocess
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_install  # noqa: E402  (make, run_all, UNITS)

TOOLS = ("systemd-analyze", "systemd-sysusers", "systemd-tmpfiles", "man")
HOST_UNITS = ("/usr/lib/systemd/system", "/lib/systemd/system")
# Where systemd-sysusers and systemd-tmpfiles look for a file name.
SEARCHED = ("/etc", "/run", "/usr/local/lib", "/usr/lib", "/lib")

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


rel = e2e_install.rel


def run(*cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()


def verify_root(top, p, name):
    """A DESTDIR install plus what verify needs beside our units: the
    host's unit files (targets) and /bin/kill (ExecReload=). Our units are
    verified in /usr/lib/systemd/system of the root, where systemd looks
    for them whatever unit directory the build was configured with (make
    distcheck installs them under its own prefix)."""
    dest = os.path.join(top, name)
    e2e_install.make(dest, "install")
    units = unit_dir(dest)
    os.makedirs(units, exist_ok=True)
    built = os.path.join(dest, rel(p.unitdir))
    if os.path.realpath(built) != os.path.realpath(units):
        for u in e2e_install.UNITS:
            shutil.copyfile(os.path.join(built, u), os.path.join(units, u))
    for d in HOST_UNITS:
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            src, dst = os.path.join(d, n), os.path.join(units, n)
            if n.startswith("kantorpos") or os.path.lexists(dst):
                continue
            if os.path.isfile(src) and not os.path.islink(src):
                shutil.copyfile(src, dst)
    os.makedirs(os.path.join(dest, "bin"), exist_ok=True)
    shutil.copy(shutil.which("kill") or "/bin/kill",
                os.path.join(dest, "bin", "kill"))
    return dest


def unit_dir(dest):
    return os.path.join(dest, "usr", "lib", "systemd", "system")


def verify(dest, p, paths):
    env = dict(os.environ, MANPATH=os.path.join(dest, rel(p.mandir)))
    return run("systemd-analyze", "verify", f"--root={dest}", *paths,
               env=env)


@test
def every_unit_passes_verify(top, p):
    dest = verify_root(top, p, "verify")
    paths = [os.path.join(unit_dir(dest), u) for u in e2e_install.UNITS]
    for path in paths:
        assert os.path.isfile(path), path
    rc, out = verify(dest, p, paths)
    assert rc == 0 and out == "", f"exit {rc}:\n{out}"


@test
def verify_catches_a_broken_unit(top, p):
    # Without this, an empty verify output could mean verify never looked.
    dest = verify_root(top, p, "broken")
    unitdir = unit_dir(dest)
    text = open(os.path.join(unitdir, "kantorpos-smtpd.service")).read()
    text = text.replace(os.path.join(p.sbindir, "kantorpos-smtpd"),
                        os.path.join(p.sbindir, "kantorpos-missing"))
    text = text.replace("Type=notify", "Type=notifyy")
    broken = os.path.join(unitdir, "kantorpos-broken.service")
    with open(broken, "w") as f:
        f.write(text)
    rc, out = verify(dest, p, [broken])
    assert "kantorpos-missing" in out, out
    assert "notifyy" in out, out


def passwd_entry(root, name):
    with open(os.path.join(root, "etc", "passwd")) as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if fields[0] == name:
                return fields
    return None


def group_gid(root, name):
    with open(os.path.join(root, "etc", "group")) as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if fields[0] == name:
                return int(fields[2])
    return None


@test
def sysusers_and_tmpfiles_make_user_and_data_dir(top, p):
    dest = os.path.join(top, "sysusers")
    e2e_install.make(dest, "install")
    os.makedirs(os.path.join(dest, "etc"), exist_ok=True)
    # The README's commands: the file name is looked up in the sysusers.d
    # and tmpfiles.d directories under the root. An installation
    # elsewhere (make distcheck's) is named by its path instead.
    args = []
    for d, kind in ((p.sysusersdir, "sysusers.d"),
                    (p.tmpfilesdir, "tmpfiles.d")):
        searched = {os.path.join(s, kind) for s in SEARCHED}
        args.append("kantorpos.conf" if d in searched else
                    os.path.join(dest, rel(d), "kantorpos.conf"))
    for _ in range(2):
        rc, out = run("systemd-sysusers", f"--root={dest}", args[0])
        assert rc == 0, out
        rc, out = run("systemd-tmpfiles", f"--root={dest}", "--create",
                      args[1])
        assert rc == 0 and out == "", out
    user = passwd_entry(dest, "kantorpos")
    assert user is not None, open(os.path.join(dest, "etc", "passwd")).read()
    uid, gid, home, shell = int(user[2]), int(user[3]), user[5], user[6]
    assert gid == group_gid(dest, "kantorpos"), user
    assert 0 < uid < 1000, f"not a system uid: {uid}"
    assert home == p.datadir, home
    assert shell.endswith("nologin"), shell
    with open(os.path.join(dest, "etc", "passwd")) as f:
        assert sum(1 for ln in f if ln.startswith("kantorpos:")) == 1
    data = os.path.join(dest, rel(p.datadir))
    st = os.stat(data)
    assert stat.S_ISDIR(st.st_mode), data
    assert stat.S_IMODE(st.st_mode) == 0o700, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (uid, gid), (st.st_uid, st.st_gid)
    # kantorpos-sendmail's drop directory: anyone writes, kantorpos lists.
    st = os.stat(os.path.join(dest, rel(p.localstatedir), "spool",
                              "kantorpos", "drop"))
    assert stat.S_IMODE(st.st_mode) == 0o1733, oct(st.st_mode)
    assert (st.st_uid, st.st_gid) == (uid, gid), (st.st_uid, st.st_gid)
    # The host's own user database was not touched.
    try:
        pwd.getpwnam("kantorpos")
        host_has = True
    except KeyError:
        host_has = False
    assert host_has == HOST_HAD_KANTORPOS, "the host's users changed"


HOST_HAD_KANTORPOS = False


def main():
    global HOST_HAD_KANTORPOS
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        print(f"SKIP: {' '.join(missing)} not installed (Debian: systemd, "
              "man-db)")
        return 77
    if not os.path.exists(os.path.join(e2e_install.BUILD, "Makefile")):
        print(f"no Makefile in {e2e_install.BUILD}")
        return 1
    p = e2e_install.Paths()
    off = [opt for opt, d in (("systemdunitdir", p.unitdir),
                              ("sysusersdir", p.sysusersdir),
                              ("tmpfilesdir", p.tmpfilesdir)) if not d]
    if off:
        print(f"SKIP: configured --without-{', --without-'.join(off)}: "
              "those files are not installed")
        return 77
    try:
        pwd.getpwnam("kantorpos")
        HOST_HAD_KANTORPOS = True
    except KeyError:
        pass
    return e2e_install.run_all(TESTS, "kp-e2e-units-")


if __name__ == "__main__":
    sys.exit(main())
