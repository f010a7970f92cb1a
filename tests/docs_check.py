#!/usr/bin/env python3
"""tests/docs_check.py: the documentation agrees with the code.

- every command admin/main.c dispatches, every subcommand its handler
  compares argv against and every option it parses appears in
  `kantorpos --help`, in kantorpos(1) (SYNOPSIS and COMMANDS, formatted
  with groff or mandoc) and in README.md's command list, and nothing is
  documented that is not dispatched;
- the sample configuration's data_dir, user_db, run_as, drop_dir and
  configuration path agree with the systemd units, the sysusers.d and
  tmpfiles.d files and the README's examples;
- neither README.md nor a manual page runs a command through sudo (a
  minimal Debian has none).
Prints one line per test and "N passed, N failed"; exit 77 when neither
groff nor mandoc is installed."""

import glob
import os
import re
import shutil
import subprocess
import sys
import traceback

SRC = os.environ.get("KANTORPOS_SRCDIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), ".."))
BUILD = os.environ.get("KANTORPOS_BUILDDIR", os.getcwd())
ADMIN = os.path.join(BUILD, "admin", "kantorpos")
# What the units' @...@ become for the sample's own paths (/etc/kantorpos,
# /var/lib/kantorpos): etc/etc.am maps those to these directories.
DEFAULT_DIRS = {"sysconfdir": "/etc", "localstatedir": "/var",
                "bindir": "/usr/bin", "sbindir": "/usr/sbin"}

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def read(*parts):
    with open(os.path.join(SRC, *parts)) as f:
        return f.read()


# ---- the commands admin/main.c dispatches ----

def dispatched():
    """{command: (subcommands, options)} from admin/main.c's table and the
    file of each handler."""
    table = re.findall(r'\{\s*"([a-z]+)",\s*(admin_cmd_\w+),',
                       read("admin", "main.c"))
    assert table, "no command table in admin/main.c"
    sources = {os.path.basename(p): open(p).read()
               for p in glob.glob(os.path.join(SRC, "admin", "*.c"))}
    out = {}
    for name, fn in table:
        text = [t for t in sources.values()
                if re.search(r"^int\s+%s\(" % fn, t, re.M)]
        assert len(text) == 1, f"{fn} defined {len(text)} times"
        text = text[0]
        subs = set(re.findall(
            r'strcmp\(\s*(?:sub|argv\[1\])\s*,\s*"([a-z]+)"\s*\)', text))
        opts = {"--" + o for o in re.findall(
            r'\{\s*"([a-z][a-z-]*)",\s*(?:no|required|optional)_argument',
            text) if o != "help"}
        for spec in re.findall(
                r'getopt(?:_long)?\(\s*argc,\s*argv,\s*"([^"]*)"', text):
            opts |= {"-" + c for c in spec if c.isalpha() and c != "h"}
        out[name] = (subs, opts)
    return out


def words(line):
    """A usage line as its words: brackets and bars separate."""
    return re.sub(r"[\[\]|]", " ", line).split()


def command_words(line):
    """The words after "kantorpos [-c CONF]" of a usage line, or None
    when it is not one."""
    w = words(line)
    if w[:1] != ["kantorpos"]:
        return None
    return w[3:] if w[1:2] == ["-c"] else w[1:]


def entries_for(lines, cmd):
    """The usage lines whose command is cmd, as their command words."""
    return [w for w in map(command_words, lines) if w and w[0] == cmd]


def render_man(page):
    """The page as plain text, wide enough that no usage line wraps."""
    path = os.path.join(SRC, "man", page)
    if shutil.which("groff"):
        cmd = ["groff", "-man", "-Tascii", "-P-cbou", "-rLL=250n",
               "-rHY=0", path]
    else:
        cmd = ["mandoc", "-T", "ascii", "-O", "width=250", path]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return re.sub(r".\x08", "", p.stdout)


def sections(text):
    out, name = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            name = line.strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


def check_documented(where, lines, cmds, tags=None):
    """Every command, subcommand and option in the usage lines of where
    (and, with tags, in a COMMANDS tag line), and no unknown command."""
    problems = []
    for cmd, (subs, opts) in sorted(cmds.items()):
        ent = entries_for(lines, cmd)
        if not ent:
            problems.append(f"{where}: no usage line for \"{cmd}\"")
            continue
        for sub in sorted(subs):
            if not any(sub in w[1:] for w in ent):
                problems.append(f"{where}: \"{cmd} {sub}\" missing")
        for opt in sorted(opts):
            if not any(opt in w for w in ent):
                problems.append(f"{where}: \"{cmd} ... {opt}\" missing")
        if tags is None:
            continue
        tagged = [words(t) for t in tags if words(t)[:1] == [cmd]]
        if not tagged:
            problems.append(f"{where} COMMANDS: no entry for \"{cmd}\"")
        for sub in sorted(subs):
            if not any(w[1:2] == [sub] for w in tagged):
                problems.append(f"{where} COMMANDS: no \"{cmd} {sub}\"")
    for w in map(command_words, lines):
        if w and not w[0].startswith("-") and w[0] != "command" \
                and w[0] not in cmds:
            problems.append(f"{where}: documents unknown \"{w[0]}\"")
    return problems


@test
def help_lists_every_command():
    cmds = dispatched()
    p = subprocess.run([ADMIN, "--help"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = [ln.strip() for ln in p.stdout.splitlines()]
    problems = check_documented("kantorpos --help", lines, cmds)
    assert not problems, "\n".join(problems) + "\n" + p.stdout
    # Each command's own --help names its subcommands too.
    for cmd, (subs, opts) in cmds.items():
        p = subprocess.run([ADMIN, cmd, "--help"], capture_output=True,
                           text=True)
        assert p.returncode == 0, f"{cmd} --help: {p.returncode}"
        own = [re.sub(r"^usage:\s*", "", ln.strip())
               for ln in p.stdout.splitlines()]
        missing = [s for s in sorted(subs | opts)
                   if not any(s in w for w in entries_for(own, cmd))]
        assert not missing, f"kantorpos {cmd} --help lacks {missing}"


@test
def manual_lists_every_command():
    cmds = dispatched()
    sec = sections(render_man("kantorpos.1"))
    synopsis = [ln.strip() for ln in sec["SYNOPSIS"] if ln.strip()]
    tags = [ln[7:] for ln in sec["COMMANDS"]
            if re.match(r"^ {7}\S", ln)]
    problems = check_documented("kantorpos(1) SYNOPSIS", synopsis, cmds,
                                tags)
    assert not problems, "\n".join(problems)


@test
def readme_lists_every_command():
    cmds = dispatched()
    readme = read("README.md")
    block = re.search(r"^## The admin tool\n+```\n(.*?)```", readme,
                      re.M | re.S)
    assert block, "README.md has no command block under \"The admin tool\""
    lines = [ln.split("#", 1)[0].strip()
             for ln in block.group(1).splitlines()]
    problems = check_documented("README.md", lines, cmds)
    assert not problems, "\n".join(problems)


# ---- the sample configuration, the units and the README ----

def conf_values(text):
    vals = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].split()
        if len(line) >= 2:
            vals.setdefault(line[0], line[1])
    return vals


def unit(name):
    text = read("etc", name)
    for k, v in DEFAULT_DIRS.items():
        text = text.replace("@%s@" % k, v)
    assert re.search(r"@[a-z]+@", text) is None, f"{name}: unknown @dir@"
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    return keys


@test
def sample_paths_match_units():
    vals = conf_values(read("etc", "kantorpos.conf"))
    data, user_db = vals["data_dir"], vals["user_db"]
    conf = "/etc/kantorpos/kantorpos.conf"
    assert os.path.dirname(user_db) == data, \
        f"user_db {user_db} is not in data_dir {data}: kantorpos user, " \
        "run as kantorpos, could not replace it under the units"
    assert vals["run_as"] == "kantorpos", vals["run_as"]
    # The daemons and fetch write into data_dir: the one writable path,
    # and kantorpos-smtpd into the drop directory too (its pickup).
    drop = "/var/spool/kantorpos/drop"
    for name in ("kantorpos-smtpd.service.in", "kantorpos-pop3d.service.in",
                 "kantorpos-fetch.service.in"):
        k = unit(name)
        want = [data] + (["-" + drop] if "smtpd" in name else [])
        assert k["ReadWritePaths"] == want, (name, k["ReadWritePaths"])
        assert k["User"] == ["kantorpos"] and k["Group"] == ["kantorpos"]
        assert f" -c {conf}" in k["ExecStart"][0], (name, k["ExecStart"])
        assert k["Type"] == ["notify"], (name, k["Type"])
        assert k["ProtectSystem"] == ["strict"], name
    k = unit("kantorpos-etrn.service.in")
    assert k["Type"] == ["oneshot"] and k["User"] == ["kantorpos"]
    assert k["ExecStart"] == [f"/usr/bin/kantorpos -c {conf} "
                              "etrn --scheduled"], k["ExecStart"]
    assert "ReadWritePaths" not in k, "kantorpos etrn writes nothing"
    assert k["ProtectSystem"] == ["strict"]
    t = unit("kantorpos-etrn.timer.in")
    assert t["Persistent"] == ["true"] and t["OnCalendar"], t
    # sysusers: the user with data_dir as home; tmpfiles: data_dir itself.
    text = read("etc", "kantorpos.sysusers.in").replace(
        "@localstatedir@", "/var")
    users = [ln.split() for ln in text.splitlines()
             if ln and not ln.startswith("#")]
    assert len(users) == 1 and users[0][:2] == ["u", "kantorpos"], users
    assert users[0][-1] == data, users
    text = read("etc", "kantorpos.tmpfiles.in").replace(
        "@localstatedir@", "/var")
    dirs = [ln.split() for ln in text.splitlines()
            if ln and not ln.startswith("#")]
    assert ["d", data, "0700", "kantorpos", "kantorpos", "-"] in dirs, dirs
    assert ["d", drop, "1733", "kantorpos", "kantorpos", "-"] in dirs, dirs
    assert "#drop_dir %s\n" % drop in read("etc", "kantorpos.conf")
    # The README's configuration examples use the same absolute paths.
    readme = read("README.md")
    for key, want in (("data_dir", data), ("user_db", user_db)):
        seen = re.findall(r"^\s*%s (/\S+)" % key, readme, re.M)
        assert seen, f"README shows no {key}"
        assert set(seen) == {want}, f"README {key}: {sorted(set(seen))}"


# ---- no sudo ----

SUDO_CMD = re.compile(r"(^\s*(?:[$#]\s+)?|[;&|(]\s*|`)sudo(?:edit)?\b")


@test
def no_sudo_in_commands():
    problems = []
    fenced = False
    for n, line in enumerate(read("README.md").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if (fenced and SUDO_CMD.search(line)) or \
                re.search(r"`sudo(?:edit)?\b", line):
            problems.append(f"README.md:{n}: {line.strip()}")
    for page in sorted(glob.glob(os.path.join(SRC, "man", "*.[1-8]"))):
        for n, line in enumerate(open(page), 1):
            if re.search(r"\bsudo(?:edit)?\b", line):
                problems.append(f"{os.path.basename(page)}:{n}: "
                                f"{line.strip()}")
    assert not problems, "runs a command through sudo:\n" + \
        "\n".join(problems)


def main():
    if not shutil.which("groff") and not shutil.which("mandoc"):
        print("SKIP: neither groff nor mandoc is installed "
              "(kantorpos(1) cannot be formatted)")
        return 77
    if not os.access(ADMIN, os.X_OK):
        print(f"missing {ADMIN}")
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    for fn in TESTS:
        try:
            fn()
            passed += 1
            print(f"PASS {fn.__name__}")
        except Exception:
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
