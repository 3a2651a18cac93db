#!/usr/bin/env python3
"""CTests write_errors and write_errors_bench: a write that fails is an error.

Every output of the tools (standard output, `tern replay --dead-letter` and
`--late-output`, the expectations `tern test --rewrite` writes, `tern kafka-mock`'s
answers, `tern demo`'s report, the generators' output) is written to a full device (/dev/full), over a
file size limit (RLIMIT_FSIZE) or into a closed pipe. Each must exit 1 with a
message on stderr naming the output and the system's reason, never 0 after
losing what it wrote. A closed pipe with SIGPIPE at its default action kills the
writer silently (status 141 in a shell), as it does cat and grep.

Usage: write_errors_test.py [--tern PATH] [--gen-errors PATH] [--gen-config PATH]
                            [--tern-gen PATH] [--parse-only PATH]
(each tool given is checked; the bench tools are registered from bench/).
"""
import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ENOSPC = "No space left on device"
EFBIG = "File too large"
EPIPE = "Broken pipe"

PATTERN = """pattern pair {
  key k
  begin a where t == "a"
  followed_by b where t == "b"
}
"""
EVENTS = '{"ts": 1000, "k": "k1", "t": "a"}\n{"ts": 2000, "k": "k1", "t": "b"}\n'
# Line 2 is malformed; line 4 is late (older than the watermark, 3000 - 0).
BAD_AND_LATE = ('{"ts": 1000, "k": "k1", "t": "a"}\nnot json\n'
                '{"ts": 3000, "k": "k1", "t": "b"}\n{"ts": 2000, "k": "k1", "t": "a"}\n')

failures = []


def check(what, result, status, stderr_has=(), stdout_has=()):
    """Records a failure unless `result` exited with `status` and printed the texts."""
    problems = []
    if result.returncode != status:
        problems.append("exit status %d, expected %d" % (result.returncode, status))
    for text in stderr_has:
        if text not in result.stderr:
            problems.append("stderr lacks %r" % text)
    for text in stdout_has:
        if text not in (result.stdout or ""):
            problems.append("stdout lacks %r" % text)
    if problems:
        failures.append("%s: %s\n    stderr: %r" % (what, "; ".join(problems), result.stderr[-600:]))
    else:
        print("ok   " + what)


def run(args, stdout=None, preexec=None, cwd=None):
    """Runs a tool; stdout is a file object (e.g. /dev/full) or captured. A tool that
    hangs is killed after 90 s and counts as exit status 124."""
    try:
        return subprocess.run(args, stdout=stdout if stdout is not None else subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=90, preexec_fn=preexec, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        stderr = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        return subprocess.CompletedProcess(args, 124, "", stderr + "\n(killed after 90 s)")


def to_full(args, **kw):
    with open("/dev/full", "w") as full:
        return run(args, stdout=full, **kw)


def limit_file_size():
    """In the child: files may not grow past 1 byte; a write beyond fails with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))


def into_closed_pipe(args, ignore_sigpipe):
    """Runs with stdout a pipe nobody reads any more."""
    read_end, write_end = os.pipe()
    os.close(read_end)

    def preexec():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN if ignore_sigpipe else signal.SIG_DFL)

    try:
        return subprocess.run(args, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                              preexec_fn=preexec)
    finally:
        os.close(write_end)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def check_tern(tern, work):
    pattern = os.path.join(work, "pair.tern")
    events = os.path.join(work, "events.jsonl")
    bad = os.path.join(work, "bad.jsonl")
    broken = os.path.join(work, "broken.tern")
    write(pattern, PATTERN)
    write(events, EVENTS)
    write(bad, BAD_AND_LATE)
    write(broken, "pattern broken { begin a where }\n")

    replay = [tern, "replay", pattern]
    check("replay: alerts to a full stdout", to_full(replay + ["--input", events]), 1,
          ["tern replay: cannot write standard output: " + ENOSPC])
    check("replay: --dead-letter to a full device",
          run(replay + ["--input", bad, "--dead-letter", "/dev/full"]), 1,
          ["tern replay: cannot write '/dev/full': " + ENOSPC])
    check("replay: --late-output to a full device",
          run(replay + ["--input", bad, "--late-output", "/dev/full"]), 1,
          ["tern replay: cannot write '/dev/full': " + ENOSPC])
    check("replay: --dead-letter over the file size limit",
          run(replay + ["--input", bad, "--dead-letter", os.path.join(work, "dead.jsonl")],
              preexec=limit_file_size), 1,
          ["cannot write '%s': %s" % (os.path.join(work, "dead.jsonl"), EFBIG)])
    # Nothing to lose: no dead letter written, exit 0 (the failures above are real).
    check("replay: --dead-letter to a full device, no malformed line",
          run(replay + ["--input", events, "--dead-letter", "/dev/full"]), 0)

    check("check: diagnostics to a full stdout", to_full([tern, "check", broken]), 1,
          ["tern check: cannot write standard output: " + ENOSPC])
    check("explain: listing to a full stdout", to_full([tern, "explain", pattern]), 1,
          ["tern explain: cannot write standard output: " + ENOSPC])
    check("--help to a full stdout", to_full([tern, "--help"]), 1,
          ["tern: cannot write standard output: " + ENOSPC])
    check("replay --help to a full stdout", to_full([tern, "replay", "--help"]), 1,
          ["tern replay: cannot write standard output: " + ENOSPC])

    # tern test: its report, and the expectations --rewrite writes.
    case = os.path.join(work, "cases", "pair")
    write(os.path.join(case, "pair.tern"), PATTERN)
    write(os.path.join(case, "input.jsonl"), EVENTS)
    write(os.path.join(case, "expected.jsonl"), '{"pattern": "pair", "key": "k1"}\n')
    check("test: report to a full stdout", to_full([tern, "test", os.path.join(work, "cases")]), 1,
          ["tern test: cannot write standard output: " + ENOSPC])

    full_case = os.path.join(work, "rewrite-full", "pair")
    write(os.path.join(full_case, "pair.tern"), PATTERN)
    write(os.path.join(full_case, "input.jsonl"), EVENTS)
    os.symlink("/dev/full", os.path.join(full_case, "expected.jsonl"))
    check("test --rewrite: expected.jsonl on a full device",
          run([tern, "test", "--rewrite", os.path.dirname(full_case)]), 1,
          stdout_has=["FAIL " + full_case,
                      "cannot write '%s': %s" % (os.path.join(full_case, "expected.jsonl"), ENOSPC)])

    big_case = os.path.join(work, "rewrite-big", "pair")
    write(os.path.join(big_case, "pair.tern"), PATTERN)
    write(os.path.join(big_case, "input.jsonl"), EVENTS)
    write(os.path.join(big_case, "expected.jsonl"), "")
    check_case = os.path.join(work, "rewrite-big", "check")
    write(os.path.join(check_case, "broken.tern"), "pattern broken { begin a where }\n")
    write(os.path.join(check_case, "expected.txt"), "")
    result = run([tern, "test", "--rewrite", os.path.dirname(big_case)], preexec=limit_file_size)
    check("test --rewrite: expectations over the file size limit", result, 1,
          stdout_has=["cannot write '%s': %s" % (os.path.join(big_case, "expected.jsonl"), EFBIG),
                      "cannot write '%s': %s" % (os.path.join(check_case, "expected.txt"), EFBIG),
                      "0 passed, 2 failed"])

    # A reader that went away: killed by SIGPIPE by default, an error when it is ignored.
    result = into_closed_pipe(replay + ["--input", events], ignore_sigpipe=False)
    check("replay into a closed pipe: killed by SIGPIPE", result, -signal.SIGPIPE)
    check("replay into a closed pipe, SIGPIPE ignored",
          into_closed_pipe(replay + ["--input", events], ignore_sigpipe=True), 1,
          ["tern replay: cannot write standard output: " + EPIPE])

    check_kafka_mock(tern)
    # tern demo: the embedded broker, the daemon and the viewer, its report on a full stdout.
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    check("demo: report to a full stdout", to_full([tern, "demo", "--speed", "0"], cwd=repo), 1,
          ["tern demo: cannot write standard output: " + ENOSPC])


def check_kafka_mock(tern):
    check("kafka-mock: bootstrap line to a full stdout", to_full([tern, "kafka-mock"]), 1,
          ["tern kafka-mock: cannot write standard output: " + ENOSPC])

    # The answers to control commands: the controller stops reading after the bootstrap line.
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([tern, "kafka-mock"], stdin=subprocess.PIPE, stdout=write_end,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN))
    os.close(write_end)
    try:
        with os.fdopen(read_end) as reader:
            line = reader.readline()
        if not line.startswith("bootstrap "):
            failures.append("kafka-mock: first line %r" % line)
            return
        proc.stdin.write("down\n")
        proc.stdin.flush()
        # The answer fails at once; give it a moment, then stop the mock.
        time.sleep(0.5)
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
        check("kafka-mock: an answer into a closed pipe",
              subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr), 1,
              ["tern kafka-mock: cannot write standard output: " + EPIPE])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser()
    for name in ["tern", "gen-errors", "gen-config", "tern-gen", "parse-only"]:
        parser.add_argument("--" + name)
    args = parser.parse_args()
    if not os.path.exists("/dev/full"):
        print("write_errors_test: FAIL: /dev/full is missing")
        return 1
    work = tempfile.mkdtemp(prefix="tern-write-errors-")
    try:
        if args.tern:
            check_tern(args.tern, work)
        if args.gen_errors:
            check("tern_gen_errors to a full stdout", to_full([args.gen_errors]), 1,
                  ["tern_gen_errors: cannot write standard output: " + ENOSPC])
        if args.gen_config:
            for what in ["markdown", "sample", "help"]:
                check("tern_gen_config %s to a full stdout" % what, to_full([args.gen_config, what]), 1,
                      ["tern_gen_config: cannot write standard output: " + ENOSPC])
        if args.tern_gen:
            check("tern_gen to a full stdout", to_full([args.tern_gen, "--events", "10"]), 1,
                  ["tern_gen: cannot write standard output: " + ENOSPC])
            check("tern_gen --out a full device", run([args.tern_gen, "--events", "10", "--out", "/dev/full"]), 1,
                  ["tern_gen: cannot write '/dev/full': " + ENOSPC])
        if args.parse_only:
            check("tern_parse_only --generate to a full device",
                  run([args.parse_only, "--generate", "10", "/dev/full"]), 1,
                  ["tern_parse_only: cannot write '/dev/full': " + ENOSPC])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL " + f)
    print("write_errors_test: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
