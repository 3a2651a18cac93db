#!/usr/bin/env python3
"""CTest cli_commands: `tern test`'s report and case options, and pattern files given twice.

- `tern test` prints every name and text of a case safely: control bytes (a NUL in
  `args`, an ESC, a newline in a folder name) appear as \\xNN, and every case's
  result starts on a line of its own.
- A DIR holding no case, or missing, fails the run (exit 1).
- A case's `args` takes `tern replay`'s options; --input, --dead-letter,
  --late-output and stray words are refused with the args file named.
- `tern check` (diagnostics) and `tern replay` (malformed events) escape the
  control bytes of source lines and input the same way.
- The same pattern file given twice (also as ./x or through a symlink) is loaded
  once by check and replay; two files defining one pattern name are an error
  (E0201). tests/daemon/daemon_test.py (pattern_files) checks the daemon agrees.

Usage: cli_commands_test.py PATH/TO/tern
"""
import os
import shutil
import subprocess
import sys
import tempfile

PATTERN = """pattern pair {
  key k
  within 1h
  begin a where t == "a"
  followed_by b where t == "b"
}
"""
EVENTS = '{"ts": 1000, "k": "k1", "t": "a"}\n{"ts": 2000, "k": "k1", "t": "b"}\n'
EXPECTED = '{"pattern": "pair", "key": "k1"}\n'

failures = []


def expect(what, ok, details=""):
    if ok:
        print("ok   " + what)
    else:
        failures.append(what + (": " + details if details else ""))


def run(tern, *args, cwd=None):
    return subprocess.run([tern, *args], capture_output=True, timeout=60, cwd=cwd)


def make_case(path, args=None):
    os.makedirs(path, exist_ok=True)
    for name, text in [("pair.tern", PATTERN), ("input.jsonl", EVENTS), ("expected.jsonl", EXPECTED)]:
        with open(os.path.join(path, name), "w") as f:
            f.write(text)
    if args is not None:
        with open(os.path.join(path, "args"), "wb") as f:
            f.write(args)


def check_report(tern, work):
    root = os.path.join(work, "report")
    make_case(os.path.join(root, "a_nul"), b"--lateness\0junk 2s\n")
    make_case(os.path.join(root, "b_esc"), b"--\x1b[31mred\n")
    make_case(os.path.join(root, "c_new\nline"))
    make_case(os.path.join(root, "d_ok"))
    r = run(tern, "test", root)
    lines = r.stdout.split(b"\n")
    args_a = os.path.join(root, "a_nul", "args").encode()
    args_b = os.path.join(root, "b_esc", "args").encode()
    want = [
        b"FAIL " + root.encode() + b"/a_nul",
        b"  " + args_a + b": unknown option '--lateness\\x00junk'",
        b"FAIL " + root.encode() + b"/b_esc",
        b"  " + args_b + b": unknown option '--\\x1b[31mred'",
        b"PASS " + root.encode() + b"/c_new\\x0aline",
        b"PASS " + root.encode() + b"/d_ok",
        b"2 passed, 2 failed",
        b"",
    ]
    expect("test: control bytes escaped, one line per result", r.returncode == 1 and lines == want,
           "status %d, stdout %r" % (r.returncode, r.stdout))


def check_empty_and_missing(tern, work):
    empty = os.path.join(work, "empty")
    os.makedirs(os.path.join(empty, "sub"))
    with open(os.path.join(empty, "sub", "notes.txt"), "w") as f:
        f.write("no case here\n")
    r = run(tern, "test", empty)
    expect("test: a DIR without cases fails",
           r.returncode == 1 and r.stdout == ("FAIL %s\n  no case folders found under it\n0 passed, 1 failed\n"
                                              % empty).encode(),
           "status %d, stdout %r" % (r.returncode, r.stdout))
    missing = os.path.join(work, "missing")
    r = run(tern, "test", missing)
    expect("test: a missing DIR fails",
           r.returncode == 1 and b"FAIL " + missing.encode() + b"\n  no such directory\n" in r.stdout,
           "status %d, stdout %r" % (r.returncode, r.stdout))
    cases = os.path.join(work, "good")
    make_case(os.path.join(cases, "one"))
    r = run(tern, "test", cases, empty)
    expect("test: one good DIR does not hide an empty one",
           r.returncode == 1 and b"1 passed, 1 failed" in r.stdout,
           "status %d, stdout %r" % (r.returncode, r.stdout))


def check_case_args(tern, work):
    root = os.path.join(work, "args")
    refused = {
        "input": (b"--input other.jsonl", "--input cannot be used in a case (a case reads its input.jsonl)"),
        "dead": (b"--dead-letter d.jsonl", "--dead-letter cannot be used in a case"),
        "late": (b"--late-output=l.jsonl", "--late-output cannot be used in a case"),
        "stray": (b"--lateness 1s extra", "unexpected 'extra'"),
        "badvalue": (b"--lateness soon", "invalid duration 'soon' for --lateness"),
    }
    for name, (args, _) in refused.items():
        make_case(os.path.join(root, name), args)
    # Replay options beyond --time-field and --lateness work, quoted values too.
    make_case(os.path.join(root, "open_end"), b'--open-end\n--time-field "ts"\n')
    r = run(tern, "test", root)
    out = r.stdout.decode(errors="replace")
    for name, (_, message) in refused.items():
        line = "  %s: %s" % (os.path.join(root, name, "args"), message)
        expect("test: args %s refused" % name, "FAIL %s\n%s" % (os.path.join(root, name), line) in out,
               "stdout %r" % out)
    expect("test: args --open-end accepted", "PASS " + os.path.join(root, "open_end") in out,
           "stdout %r" % out)


def check_pattern_files(tern, work):
    d = os.path.join(work, "patterns")
    os.makedirs(d)
    pair = os.path.join(d, "pair.tern")
    with open(pair, "w") as f:
        f.write(PATTERN)
    os.symlink("pair.tern", os.path.join(d, "link.tern"))
    shutil.copy(pair, os.path.join(d, "copy.tern"))
    events = os.path.join(work, "events.jsonl")
    with open(events, "w") as f:
        f.write(EVENTS)

    r = run(tern, "check", "pair.tern", "./pair.tern", "link.tern", "../patterns/pair.tern", cwd=d)
    expect("check: one file given four ways is loaded once",
           r.returncode == 0 and r.stdout == b"" and r.stderr == b"ok: 1 pattern\n",
           "status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
    r = run(tern, "replay", "pair.tern", "./pair.tern", "link.tern", "--input", events, cwd=d)
    expect("replay: one file given three ways is loaded once: one alert",
           r.returncode == 0 and r.stdout.count(b"\n") == 1 and b'"pattern":"pair"' in r.stdout,
           "status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))
    r = run(tern, "check", "pair.tern", "copy.tern", cwd=d)
    expect("check: two files defining one pattern name are an error",
           r.returncode == 1 and b"copy.tern:1:9: error[E0201]: duplicate pattern name 'pair'" in r.stdout
           and b"first declared in pair.tern:1:9" in r.stdout,
           "status %d, stdout %r" % (r.returncode, r.stdout))
    r = run(tern, "replay", "pair.tern", "copy.tern", "--input", events, cwd=d)
    expect("replay: two files defining one pattern name are an error",
           r.returncode == 1 and b"error[E0201]" in r.stderr and r.stdout == b"",
           "status %d, stdout %r, stderr %r" % (r.returncode, r.stdout, r.stderr))


def check_user_bytes(tern, work):
    """Bytes of the user's that `tern check` and `tern replay` show are escaped too."""
    d = os.path.join(work, "bytes")
    os.makedirs(d)
    tern_file = os.path.join(d, "ctl.tern")
    with open(tern_file, "wb") as f:
        f.write(b'pattern p {\n  begin a where t == "\x1b[31m" and \x01 u == 1\n}\n')
    r = run(tern, "check", tern_file)
    want_line = b' 2 |   begin a where t == "\\x1b[31m" and \\x01 u == 1\n'
    expect("check: control bytes of a source line escaped, caret under the escaped byte",
           r.returncode == 1 and want_line in r.stdout and b"\x1b" not in r.stdout
           and b"   |" + b" " * 37 + b"^~~~\n" in r.stdout,
           "stdout %r" % r.stdout)
    events = os.path.join(d, "events.jsonl")
    with open(events, "wb") as f:
        f.write(b'{"ts": "\\u001b[2J"}\n')
    r = run(tern, "replay", os.path.join(work, "report", "d_ok", "pair.tern"), "--input", events)
    expect("replay: a malformed event's message escapes control bytes",
           r.returncode == 0 and b"malformed event: invalid time '\\x1b[2J'" in r.stderr
           and b"\x1b" not in r.stderr, "stderr %r" % r.stderr)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tern = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="tern-cli-test-")
    try:
        check_report(tern, work)
        check_empty_and_missing(tern, work)
        check_case_args(tern, work)
        check_pattern_files(tern, work)
        check_user_bytes(tern, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL " + f)
    print("cli_commands_test: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
