#!/usr/bin/env python3
"""tests/test_structure_check.py: scripts/structure-check on small trees
built in a temporary folder (exact findings and exit statuses), and once on
the real source tree (it parses every file, in well under 5 s)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("KANTORPOS_SRCDIR", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), ".."))
SCRIPT = os.path.join(SRC, "scripts", "structure-check")
ROOTS = []


def tree(files, layers):
    """A temporary tree holding files ({path: text}) and scripts/layers."""
    root = tempfile.mkdtemp(prefix="structure-check.")
    ROOTS.append(root)
    files = dict(files)
    if layers is not None:
        files["scripts/layers"] = layers
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)
    return root


def run(root, *args):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root, *args],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout.splitlines(), p.stderr


def expect(root, want_rc, want_lines, *args):
    rc, lines, err = run(root, *args)
    assert (rc, lines) == (want_rc, want_lines), (
        f"exit {rc}, want {want_rc}\n got:  {lines}\n want: {want_lines}"
        f"\n stderr: {err}")
    return err


LAYERED = {
    "app/main.c": '#include "lib/util.h"\n#include <stdio.h>\n'
                  "int main(void) { return util_add(1, 2); }\n",
    "lib/util.h": "int util_add(int a, int b);\n",
    "lib/util.c": '#include "lib/util.h"\n'
                  "int util_add(int a, int b)\n{\n\treturn a + b;\n}\n",
}


def test_clean_layered_tree():
    root = tree(LAYERED, "app\nlib\n")
    err = expect(root, 0, [])
    assert "0 findings" in err, err
    expect(root, 0, ["app/main -> lib/util (app/main.c:1 includes "
                     "lib/util.h)"], "--modules")


def test_include_cycle():
    root = tree({
        "lib/a.h": '#include "lib/b.h"\n',
        "lib/a.c": '#include "lib/a.h"\n',
        "lib/b.h": '/* b */\n#include "a.h"\n',
    }, "lib\n")
    expect(root, 1, ["lib/a -> lib/b -> lib/a (lib/a.h:1 includes lib/b.h; "
                     "lib/b.h:2 includes lib/a.h)"])


def test_call_cycle_through_a_table():
    root = tree({
        "app/cmd.c": "/* the command table */\n"
                     "struct cmd { const char *name; int (*fn)(void); };\n"
                     "int sess_quit(void);\n"
                     "static const struct cmd table[] = {\n"
                     '\t{ "QUIT", sess_quit },\n'
                     "\t{ 0, 0 },\n"
                     "};\n"
                     "const struct cmd *cmd_table(void)\n{\n"
                     "\treturn table;\n}\n",
        "app/sess.c": "struct cmd;\n"
                      "const struct cmd *cmd_table(void);\n"
                      "int sess_quit(void)\n{\n\treturn 0;\n}\n"
                      "int sess_run(void)\n{\n"
                      "\treturn cmd_table() != 0;\n}\n",
    }, "app\n")
    expect(root, 1, ["app/cmd -> app/sess -> app/cmd (app/cmd.c:5 uses "
                     "sess_quit; app/sess.c:9 calls cmd_table)"])


def test_circle_larger_than_its_shortest_cycle():
    root = tree({
        "x/a.c": "int a_f(void) { return b_f(); }\n",
        "x/b.c": "int b_f(void) { return c_f() + a_f(); }\n",
        "x/c.c": "int c_f(void) { return a_f(); }\n",
        "x/d.c": "int d_f(void) { return a_f(); }\n",
    }, "x\n")
    expect(root, 1, ["x/a -> x/b -> x/a (x/a.c:1 calls b_f; x/b.c:1 calls "
                     "a_f) [circle of 3: x/a x/b x/c]"])


def test_static_functions_make_no_edge():
    root = tree({
        "app/a.c": "static int helper(void) { return 1; }\n"
                   "int usage(void) { return 0; }\n"
                   "int a_run(void) { return helper(); }\n",
        "app/b.c": "static int helper(void)\n{\n\treturn 2;\n}\n"
                   "int usage(void) { return 0; }\n"
                   "int b_run(void) { return helper(); }\n",
        "app/d.c": "typedef int fn_t(void);\nstatic fn_t d_cb, d_other;\n"
                   "int d_cb(void) { return 4; }\n"
                   "int d_other(void) { return d_cb(); }\n",
        "app/e.c": "int d_cb(void);\nint usage(void);\n"
                   "int e_run(void) { return d_cb() + usage(); }\n",
        "lib/c.c": "int helper(void) { return 3; }\n",
    }, "app\nlib\n")
    expect(root, 0, [], "--modules")


LAYERS = """# top
app tool   # the programs
allow tool -> app
mid
lib/*
"""


def test_layer_violations():
    root = tree({
        "app/main.c": "int app_hook(void) { return mid_go() + tool_y(); }\n",
        "app/other.c": "int app_x(void) { return tool_z(); }\n",
        "tool/t.c": "int tool_y(void) { return app_x(); }\n",
        "tool/u.c": "int tool_z(void) { return 0; }\n",
        "mid/m.c": "int mid_go(void) { return util_u(); }\n",
        "lib/core/c.c": '#include "lib/util/u.h"\n'
                        "int core_c(void) { return app_hook(); }\n",
        "lib/util/u.h": "int util_u(void);\n",
        "lib/util/u.c": "int util_u(void) { return 0; }\n",
        "extra/x.c": "int x_x(void) { return app_hook(); }\n",
    }, LAYERS)
    expect(root, 1, [
        "extra: in no layer of scripts/layers",
        "app -> tool (app/main.c:1 calls tool_y of tool/t; app/other.c:1 "
        "calls tool_z of tool/u): same layer (1) and scripts/layers has no "
        "'allow app -> tool'",
        "lib/core -> app (lib/core/c.c:2 calls app_hook of app/main): upward "
        "(layer 3 to layer 1 of scripts/layers)",
        "lib/core -> lib/util (lib/core/c.c:1 includes lib/util/u.h): same "
        "layer (3) and scripts/layers has no 'allow lib/core -> lib/util'",
    ])
    dot = os.path.join(root, "folders.dot")
    run(root, "--dot", dot)
    with open(dot, encoding="utf-8") as f:
        text = f.read()
    assert '\t{ rank=same; "app"; "tool"; }\n' in text, text
    assert '\t"app" -> "mid" [label="1"];\n' in text, text
    assert '\t"app" -> "tool" [label="2", color=red, fontcolor=red];\n' \
        in text, text
    assert '\t"tool" -> "app" [label="1"];\n' in text, text


def test_allow_lines_that_close_a_circle():
    root = tree({
        "p/a.c": "int p_a(void) { return q_f(); }\n",
        "p/c.c": "int p_g(void) { return 0; }\n",
        "q/b.c": "int q_f(void) { return p_g(); }\n",
    }, "p q\nallow p -> q\nallow q -> p\n")
    expect(root, 1, ["p -> q -> p (p/a.c:1 calls q_f of q/b; q/b.c:1 calls "
                     "p_g of p/c): folders in a circle through the allow "
                     "lines of scripts/layers"])


def test_comments_strings_and_macros_make_no_edge():
    root = tree({
        "app/a.c": "/* lib_foo( in a comment\n"
                   "   lib_foo(1); */\n"
                   "// lib_foo(2); \\\n"
                   "   lib_foo(3) continues the comment\n"
                   "#define CALL lib_foo(4)\n"
                   "#define LONG { \\\n"
                   "\tlib_foo(5)\n"
                   "  # define X lib_foo(6)\n"
                   "struct s { int (*lib_foo)(void); };\n"
                   "const char *a_text(struct s *p)\n{\n"
                   '\tconst char *t = "lib_foo(7) \\" lib_foo(8)";\n'
                   "\tchar c = '(', q = '\"', b = '\\'';\n"
                   '\tconst char *u = "/*";\n'
                   "\t(void)c; (void)q; (void)b; (void)u;\n"
                   "\t(void)p->lib_foo; (void)(*p).lib_foo;\n"
                   "\t// lib_foo(9); \\\n"
                   "\t   lib_foo(10) continues the comment\n"
                   "#define MULTI /* a comment over\n"
                   "\t lib_foo(11) two lines */ 1\n"
                   "\t/* lib_foo(12) */ return lib_real() ? t : 0;\n}\n",
        "lib/b.c": "int lib_foo(void) { return 0; }\n"
                   "int lib_real(void) { return 1; }\n",
    }, "app\nlib\n")
    expect(root, 0, ["app/a -> lib/b (app/a.c:21 calls lib_real)"],
           "--modules")


def test_definitions_the_tokenizer_must_follow():
    root = tree({
        "lib/t.c": "struct pair { int a, b; };\n"
                   "enum { T_A = 1, T_B = T_A + 1 };\n"
                   "static const int sizes[] = { sizeof(struct pair), 2 };\n"
                   "char *\nt_name(int a,\n       int b)\n{\n"
                   "\tif (a) { return 0; } else { return (char *)0; }\n}\n"
                   "__attribute__((noreturn)) void t_die(void)\n"
                   "{\n\tfor (;;) {\n\t}\n}\n"
                   "static int (*t_pick(int n))(void)\n{\n"
                   "\treturn n ? 0 : 0;\n}\n"
                   "int t_size(void) { return sizes[0] + T_B; }\n",
        "app/u.c": "char *t_name(int, int);\nvoid t_die(void);\n"
                   "int t_size(void);\n"
                   "void u_go(void)\n{\n\tif (!t_name(1, 2))\n"
                   "\t\tt_die();\n}\n"
                   "int (*u_table[])(void) = { t_size, 0 };\n",
    }, "app\nlib\n")
    expect(root, 0, ["app/u -> lib/t (app/u.c:6 calls t_name)"],
           "--modules")


def test_only_source_folders_are_read():
    files = dict(LAYERED)
    cyclic = '#include "lib/util.h"\nint util_back(void) ' \
             "{ return util_add(0, 0); }\n"
    hook = "int util_add(int a, int b);\n"
    for skipped in ("tests/t.c", "bench/b.c", "_build/sub/x.c",
                    "lib/_build-asan/y.c", "lib/.hidden/z.c"):
        files[skipped] = cyclic
    files["autoconf.h"] = hook
    root = tree(files, "app\nlib\n")
    expect(root, 0, [])
    if not shutil.which("git"):
        print("SKIP part: git is not installed (tracked-files mode)")
        return
    files = {"lib/late.c": "int late(void) { return main(); }\n"}
    root = tree(dict(LAYERED, **files), "app\nlib\n")
    subprocess.run(["git", "init", "-q", root], check=True)
    subprocess.run(["git", "-C", root, "add", "app", "lib/util.h",
                    "lib/util.c"], check=True)
    expect(root, 0, [])
    os.unlink(os.path.join(root, "lib", "util.c"))  # tracked, now missing
    expect(root, 0, ["app/main -> lib/util (app/main.c:1 includes "
                     "lib/util.h)"], "--modules")


def test_usage_errors():
    root = tree(LAYERED, None)
    rc, lines, err = run(root)
    assert rc == 2 and "scripts/layers: No such file" in err, (rc, err)
    root = tree(LAYERED, "app\nallow app lib\nlib\n")
    rc, lines, err = run(root)
    assert rc == 2 and "scripts/layers:2: expected 'allow FROM -> TO'" \
        in err, (rc, err)
    root = tree(LAYERED, "# nothing\n")
    rc, lines, err = run(root)
    assert rc == 2 and "scripts/layers: no layers" in err, (rc, err)
    rc, lines, err = run(root, "--no-such-option")
    assert rc == 2, (rc, err)
    rc, lines, err = run(root, "--layers", os.path.join(root, "missing"))
    assert rc == 2 and "missing: No such file" in err, (rc, err)
    root = tree(dict(LAYERED, **{"lib/bad.c": "int f(void)\n{\n"}),
                "app\nlib\n")
    rc, lines, err = run(root)
    assert rc == 2 and "lib/bad.c: unbalanced braces" in err, (rc, err)
    root = tree(dict(LAYERED, **{"lib/bad.c": "int f(void)\n{\n}\n}\n"}),
                "app\nlib\n")
    rc, lines, err = run(root)
    assert rc == 2 and "lib/bad.c:4: '}' without '{'" in err, (rc, err)


def test_the_source_tree():
    start = time.monotonic()
    p = subprocess.run([sys.executable, SCRIPT, "--root", SRC],
                       capture_output=True, text=True, timeout=60)
    took = time.monotonic() - start
    assert p.returncode in (0, 1), (p.returncode, p.stderr)
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("structure-check: "), err
    assert took < 5, f"{took:.1f} s"
    print(f"  {err[0]}, {took:.2f} s")
    for line in p.stdout.splitlines():
        print("  " + line)


def main():
    tests = [(n, f) for n, f in sorted(globals().items())
             if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
        except AssertionError as e:
            failed += 1
            print(f"FAIL {name}\n{e}")
        else:
            passed += 1
            print(f"PASS {name}")
    for root in ROOTS:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
