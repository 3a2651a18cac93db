#!/usr/bin/env python3
"""`tern fmt` over every .tern file we have (issue 16).

For each shipped pattern (patterns/), each .tern under tests/cases/ and under the
conformance dir, and each deliberately messy tests/fmt/messy/*.in (not .tern: the editor
grammar tests read every .tern file, and these are no model of how to write one): `tern fmt -` succeeds (or, for a file with syntax errors,
fails with the parser's errors and no "formatter bug"); formatting the output again gives
the output (idempotence); and when the file compiles, `tern explain` of the formatted file
prints exactly what it prints for the original (same program). `tern fmt` itself parses its
output and compares the patterns, so success already means "parses to the same AST".
The messy files' outputs must equal their tests/fmt/messy/*.expected (--rewrite updates
them). Then the command line: in-place rewrite keeping permissions, unchanged files left
alone, --check, syntax errors, usage errors.

usage: fmt_test.py TERN SOURCE_DIR [CONFORMANCE_DIR] [--rewrite] [--quick]
--quick (the sanitizer build): only patterns/ and the messy files, no `tern explain`.
"""
import os
import pathlib
import subprocess
import sys
import tempfile


def run(args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    rewrite = "--rewrite" in sys.argv
    quick = "--quick" in sys.argv
    tern, source = argv[0], pathlib.Path(argv[1])
    messy = source / "tests" / "fmt" / "messy"
    dirs = [source / "patterns", source / "tests" / "cases"]
    if quick:
        dirs = [source / "patterns"]
    elif len(argv) > 2 and pathlib.Path(argv[2]).is_dir():
        dirs.append(pathlib.Path(argv[2]))
    failures = []
    counts = {"formatted": 0, "syntax_errors": 0, "explain_compared": 0, "golden": 0}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="tern_fmt_test_"))

    files = sorted(f for d in dirs for f in d.rglob("*.tern")) + sorted(messy.glob("*.in"))
    for f in files:
        original = f.read_bytes()
        rc, out, err = run([tern, "fmt", "-"], original)
        if rc != 0:
            check_rc, _, _ = run([tern, "check", str(f)])
            if b"formatter bug" in err or b"error" not in err or check_rc == 0:
                failures.append(f"{f}: fmt failed (rc {rc}): {err.decode(errors='replace')}")
            counts["syntax_errors"] += 1
            continue
        counts["formatted"] += 1
        rc2, out2, err2 = run([tern, "fmt", "-"], out)
        if rc2 != 0 or out2 != out:
            failures.append(f"{f}: not idempotent (rc {rc2}) {err2.decode(errors='replace')}")
        if f.parent.name == "messy":
            expected = f.with_suffix(".expected")
            if rewrite:
                expected.write_bytes(out)
            elif not expected.exists() or expected.read_bytes() != out:
                failures.append(f"{f}: output differs from {expected.name}")
            counts["golden"] += 1
        rc_a, explain_a, _ = (1, b"", b"") if quick else run([tern, "explain", str(f)])
        if rc_a == 0:
            formatted = tmp / (f.stem + ".tern")
            formatted.write_bytes(out)
            rc_b, explain_b, err_b = run([tern, "explain", str(formatted)])
            if rc_b != 0 or explain_a != explain_b:
                failures.append(f"{f}: tern explain differs after formatting {err_b.decode()}")
            counts["explain_compared"] += 1

    failures += cli_checks(tern, tmp, source)
    print(f"{len(files)} files: {counts}")
    for msg in failures:
        print("FAIL", msg)
    return 1 if failures else 0


def cli_checks(tern, tmp, source):
    failures = []

    def expect(cond, what):
        if not cond:
            failures.append("cli: " + what)

    messy = (source / "tests" / "fmt" / "messy" / "one_line.in").read_bytes()
    clean = (source / "tests" / "fmt" / "messy" / "one_line.expected").read_bytes()
    d = tmp / "cli"
    d.mkdir()
    a, b, bad = d / "a.tern", d / "b.tern", d / "bad.tern"
    a.write_bytes(messy)
    os.chmod(a, 0o640)
    b.write_bytes(clean)
    os.utime(b, (1000000000, 1000000000))
    bad.write_bytes(b"pattern p { begin a where }\n")

    rc, out, err = run([tern, "fmt", "--check", str(a), str(b)])
    expect(rc == 1 and out == f"{a}\n".encode(), f"--check lists the changed file: {rc} {out}")
    expect(a.read_bytes() == messy, "--check writes nothing")
    rc, out, err = run([tern, "fmt", "--check", str(b)])
    expect(rc == 0 and out == b"", "--check on a formatted file: exit 0, no output")

    rc, out, err = run([tern, "fmt", str(bad), str(a), str(b)])
    expect(rc == 1, f"a file with syntax errors fails the run: {rc}")
    expect(b"bad.tern:1:" in err and b"error[" in err, f"its errors on stderr: {err}")
    expect(bad.read_bytes() == b"pattern p { begin a where }\n", "the bad file is untouched")
    expect(a.read_bytes() == clean, "the other file is still formatted")
    expect(os.stat(a).st_mode & 0o777 == 0o640, "permissions kept")
    expect(os.stat(b).st_mtime == 1000000000, "an unchanged file is not rewritten")
    expect(sorted(p.name for p in d.iterdir()) == ["a.tern", "b.tern", "bad.tern"],
           "no temporary files left behind")

    rc, out, err = run([tern, "fmt", "-"], messy)
    expect(rc == 0 and out == clean, "fmt - writes the formatted text on stdout")
    rc, out, err = run([tern, "fmt", "--check", "-"], messy)
    expect(rc == 1 and out == b"-\n", "fmt --check - lists '-'")
    rc, out, err = run([tern, "fmt", "-"], b"pattern p {")
    expect(rc == 1 and b"<stdin>:1:" in err and out == b"", f"fmt - with errors: {err}")
    rc, out, err = run([tern, "fmt", str(d / "missing.tern")])
    expect(rc == 1 and b"cannot read" in err, f"a missing file: {rc} {err}")
    for bad_args in (["fmt"], ["fmt", "--nope", str(a)], ["fmt", "-", str(a)]):
        rc, _, _ = run([tern] + bad_args)
        expect(rc == 2, f"usage error for {bad_args}: {rc}")
    rc, out, _ = run([tern, "fmt", "--help"])
    expect(rc == 0 and b"usage: tern fmt" in out, "--help")
    return failures


if __name__ == "__main__":
    sys.exit(main())
