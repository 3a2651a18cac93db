#!/usr/bin/env python3
"""CTest state_compat: today's tern reads and continues the state of every state format
version as that version wrote it (STYLE.md §5: a new tests/state_compat/v<N>/ snapshot per
record format change; tests/state_compat/README.md says what one holds).

A user upgrading tern keeps the state directory of the old one: its partial matches,
held matches, reorder buffer and clock must load and continue exactly as they would
have under the version that wrote them, or the upgrade loses or invents alerts. For
every tests/state_compat/v*/ folder, on copies of its state/ in a temporary folder (a
read-write open changes a RocksDB directory: it flushes the log into a table file):

  1. `tern state state`, run in the copy's parent folder so that the paths it prints
     read `state` (nothing else in it depends on the machine or the time), prints
     expected_state.txt; `--json` prints expected_state.json; `--key K` for each line K
     of `keys` prints the lines of expected_keys.jsonl: every record of the old format
     is read, checked and decoded as it was written;
  2. `tern replay PATTERNS --input part2.jsonl --state state ARGS` (ARGS: the folder's
     `args`, one line) prints exactly the lines of expected_alerts.jsonl, and on a fresh
     copy, with --finish, expected_alerts_finish.jsonl (the replay is single-threaded and
     its alert order deterministic, so lines are compared in order; a difference in order
     alone is reported as such). Its stderr must not say that a pattern changed: the same
     pattern text must keep its fingerprint across versions, or an upgrade drops every
     partial match. Each part is replayed as events.jsonl in a folder of its own, as
     make_snapshot.sh did, so the stream has one name in both parts.

A failure names the snapshot, the check and the first differing line. For an alert
mismatch the test also writes a state from part1.jsonl with today's tern and continues
it, to tell a compatibility break (the snapshot continues differently from a state written
today) from a change of matching semantics (both continue alike; README.md says what to do).

usage: compat_test.py TERN REPO [--only v1,v2,...] [--keep] [--actual DIR]
  --actual DIR  also write what today's tern printed to DIR/v<N>/expected_*, to diff with
                the snapshot's (README.md: when an expected file may be updated)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 60
REQUIRED = ["part1.jsonl", "part2.jsonl", "keys", "state", "expected_state.txt", "expected_state.json",
            "expected_keys.jsonl", "expected_alerts.jsonl", "expected_alerts_finish.jsonl"]

failures = []


def fail(snapshot, what, detail=""):
    failures.append(snapshot)
    print("state_compat: FAIL: %s: %s" % (snapshot, what), file=sys.stderr)
    if detail:
        print("  " + detail.rstrip("\n").replace("\n", "\n  "), file=sys.stderr)


def run(tern, args, cwd):
    try:
        return subprocess.run([tern] + args, cwd=cwd, capture_output=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess([tern] + args, -1, b"", b"timed out after %d s" % RUN_TIMEOUT)


def text(data):
    return data.decode("utf-8", errors="replace")


def first_difference(expected, actual, names=("expected", "actual")):
    """A short description of where two texts differ, line by line."""
    want, got = expected.splitlines(), actual.splitlines()
    width = max(len(n) for n in names) + 1
    for i in range(max(len(want), len(got))):
        w = want[i] if i < len(want) else "<no line>"
        g = got[i] if i < len(got) else "<no line>"
        if w != g:
            return "line %d (of %d %s, %d %s):\n  %-*s %s\n  %-*s %s" % (
                i + 1, len(want), names[0], len(got), names[1], width, names[0] + ":", w, width, names[1] + ":", g)
    return "the texts differ only in their line ends"


def compare(snapshot, what, expected, actual):
    """True when equal; otherwise records a failure naming the first difference."""
    if expected == actual:
        return True
    detail = first_difference(expected, actual)
    if sorted(expected.splitlines()) == sorted(actual.splitlines()):
        detail = "the same lines in another order; " + detail
    fail(snapshot, what, detail)
    return False


def read_args(folder):
    path = os.path.join(folder, "args")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.readline().split()  # one line of options, split at white space


def version_number(name):
    m = re.fullmatch(r"v(\d+)", name)
    return int(m.group(1)) if m else None


class Snapshot:
    def __init__(self, tern, folder, work, actual_dir=None):
        self.tern = tern
        self.actual_dir = actual_dir
        self.folder = folder
        self.name = "tests/state_compat/" + os.path.basename(folder)
        self.work = work
        self.args = read_args(folder)
        self.patterns = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".tern"))
        self.copies = 0

    def compare(self, what, expected_name, actual):
        if self.actual_dir:
            os.makedirs(self.actual_dir, exist_ok=True)
            with open(os.path.join(self.actual_dir, expected_name), "w") as f:
                f.write(actual)
        with open(os.path.join(self.folder, expected_name), "rb") as f:
            expected = text(f.read())
        return compare(self.name, what, expected, actual)

    def fresh_copy(self, source=None):
        """A new folder holding a copy of the snapshot's state (or `source`) named `state`."""
        self.copies += 1
        parent = os.path.join(self.work, "copy%d" % self.copies)
        os.makedirs(parent)
        shutil.copytree(source or os.path.join(self.folder, "state"), os.path.join(parent, "state"))
        return parent

    def replay(self, cwd, part, extra=()):
        args = ["replay"] + self.patterns + ["--input", os.path.join(self.work, part, "events.jsonl"),
                                             "--state", "state"] + self.args + list(extra)
        return run(self.tern, args, cwd)

    def check_state(self):
        parent = self.fresh_copy()
        for what, args, expected in (("tern state", [], "expected_state.txt"),
                                     ("tern state --json", ["--json"], "expected_state.json")):
            p = run(self.tern, ["state", "state"] + args, parent)
            if p.returncode != 0:
                fail(self.name, "%s: exit %d (the --json and --key checks are left out)" % (what, p.returncode),
                     text(p.stderr))
                return
            self.compare("%s differs from %s" % (what, expected), expected, text(p.stdout))
        out = []
        with open(os.path.join(self.folder, "keys")) as f:
            keys = [line.rstrip("\n") for line in f if line.strip()]
        for key in keys:
            p = run(self.tern, ["state", "state", "--key", key], parent)
            if p.returncode != 0:
                fail(self.name, "tern state --key %s: exit %d" % (key, p.returncode), text(p.stderr))
            out.append(text(p.stdout))
        self.compare("tern state --key (every key of `keys`) differs from expected_keys.jsonl",
                     "expected_keys.jsonl", "".join(out))

    def check_continuation(self, finish):
        expected_name = "expected_alerts_finish.jsonl" if finish else "expected_alerts.jsonl"
        what = "the continuation of the state%s" % (" with --finish" if finish else "")
        extra = ["--finish"] if finish else []
        p = self.replay(self.fresh_copy(), "part2", extra)
        if p.returncode != 0:
            fail(self.name, "%s: tern replay exit %d" % (what, p.returncode), text(p.stderr))
            return
        stderr = text(p.stderr)
        if "changed since" in stderr:
            fail(self.name, "%s dropped partial matches: the compiled program (nfa::Fingerprint) of an "
                 "unchanged pattern changed, so an upgrade drops every partial match" % what, stderr)
        if not self.compare("%s printed other alerts than %s" % (what, expected_name), expected_name,
                            text(p.stdout)):
            self.diagnose(text(p.stdout), extra)

    def diagnose(self, from_snapshot, extra):
        """After an alert mismatch: compare with the continuation of a state written today."""
        parent = os.path.join(self.work, "today%d" % self.copies)
        os.makedirs(parent)
        p = self.replay(parent, "part1")
        if p.returncode != 0:
            print("  (today's tern cannot replay part1.jsonl: exit %d)" % p.returncode, file=sys.stderr)
            return
        q = self.replay(self.fresh_copy(os.path.join(parent, "state")), "part2", extra)
        if text(q.stdout) == from_snapshot:
            print("  A state today's tern writes from part1.jsonl continues with the same alerts as the "
                  "snapshot's: its state is read as written, the expected alerts are not today's "
                  "(matching semantics changed since it was made, or the file was edited; "
                  "tests/state_compat/README.md: when matching changes).", file=sys.stderr)
        else:
            print("  A state today's tern writes from part1.jsonl continues with other alerts than the "
                  "snapshot's state: the old state is not read as it was written (a compatibility "
                  "break). The first difference:\n  " +
                  first_difference(text(q.stdout), from_snapshot, ("from today's state", "from the snapshot")),
                  file=sys.stderr)

    def check(self):
        missing = [f for f in REQUIRED if not os.path.exists(os.path.join(self.folder, f))]
        if not self.patterns:
            missing.append("*.tern")
        if missing:
            fail(self.name, "incomplete snapshot: no " + ", ".join(missing))
            return
        # Each part as events.jsonl in a folder of its own: one stream name throughout.
        for part in ("part1", "part2"):
            os.makedirs(os.path.join(self.work, part))
            shutil.copyfile(os.path.join(self.folder, part + ".jsonl"),
                            os.path.join(self.work, part, "events.jsonl"))
        self.check_state()
        self.check_continuation(finish=False)
        self.check_continuation(finish=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tern")
    parser.add_argument("repo")
    parser.add_argument("--only", help="comma-separated snapshot names (v1,v2)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--actual", help="write today's outputs to ACTUAL/v<N>/expected_*")
    options = parser.parse_args()
    tern = os.path.abspath(options.tern)
    root = os.path.join(os.path.abspath(options.repo), "tests", "state_compat")
    names = sorted((n for n in os.listdir(root) if version_number(n) is not None and
                    os.path.isdir(os.path.join(root, n))), key=version_number)
    if options.only:
        wanted = options.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            print("state_compat: no snapshot %s in %s" % (", ".join(unknown), root), file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    if not names:
        print("state_compat: FAIL: no snapshot (v<N>/ folder) in %s" % root, file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="tern_state_compat_")
    try:
        for name in names:
            before = len(failures)
            snapshot_work = os.path.join(work, name)
            os.makedirs(snapshot_work)
            actual = os.path.join(os.path.abspath(options.actual), name) if options.actual else None
            Snapshot(tern, os.path.join(root, name), snapshot_work, actual).check()
            print("%s: %s" % (name, "ok" if len(failures) == before else "FAILED"))
    finally:
        if options.keep:
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d failures in %s" % (len(failures), ", ".join(sorted(set(failures)))), file=sys.stderr)
        return 1
    print("ok: %d snapshots" % len(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
