#!/usr/bin/env python3
"""Issue 13: flat operator chains of 100,000 terms through `tern check`, `tern explain`
and `tern replay`. A left-associative chain is a tree one level per term; before, 64
terms were rejected as nesting, and any walk recursing per term would overflow the stack.

usage: flat_chain_test.py TERN
"""
import json
import os
import subprocess
import sys
import tempfile

N = 100_000


def fail(message):
    print("flat_chain_test: FAIL: " + message)
    sys.exit(1)


def run(args, timeout=300):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        fail("%s exited %d:\n%s" % (" ".join(args[:2]), r.returncode, (r.stdout + r.stderr)[:2000]))
    return r


def main():
    tern = sys.argv[1]
    ors = " or ".join("code == %d" % i for i in range(N))
    ands = " and ".join("code != %d" % i for i in range(N))
    plus = " + ".join(["code"] + ["1"] * (N - 1))
    mixed = " and ".join("code + %d >= %d" % (i, i) for i in range(N))
    text = (
        "pattern any_of { begin e where %s }\n"
        "pattern none_of { begin e where code >= 0 and %s }\n"
        "pattern sum { begin e where %s == %d emit { total = %s } }\n"
        "pattern mixed { begin e where code == 7 and %s }\n" % (ors, ands, plus, N + 5, plus, mixed))
    with tempfile.TemporaryDirectory() as work:
        pattern = os.path.join(work, "chains.tern")
        with open(pattern, "w") as f:
            f.write(text)
        events = os.path.join(work, "events.jsonl")
        codes = [5, N - 1, N, N + 3, 6, 7]
        with open(events, "w") as f:
            for i, code in enumerate(codes, 1):
                f.write(json.dumps({"id": i, "ts": i * 1000, "code": code}) + "\n")

        r = run([tern, "check", pattern])
        if "error" in r.stdout or "ok: 4 patterns" not in r.stderr:
            fail("tern check: %s %s" % (r.stdout[:500], r.stderr[:500]))
        r = run([tern, "explain", pattern])
        for name in ("any_of", "none_of", "sum", "mixed"):
            if "pattern " + name not in r.stdout:
                fail("tern explain does not show %s" % name)
        r = run([tern, "replay", pattern, "--input", events])
        got = sorted((a["pattern"], a["events"]["e"][0]["id"]) for a in map(json.loads, r.stdout.splitlines()))
        # any_of: codes below N (ids 1 2 5 6); none_of: codes N and up (ids 3 4);
        # sum: code + N - 1 == N + 5 (code 6, id 5); mixed: code 7 (id 6).
        want = sorted([("any_of", 1), ("any_of", 2), ("any_of", 5), ("any_of", 6),
                       ("none_of", 3), ("none_of", 4), ("sum", 5), ("mixed", 6)])
        if got != want:
            fail("tern replay: alerts %r, expected %r" % (got, want))
        total = [a["fields"]["total"] for a in map(json.loads, r.stdout.splitlines()) if a["pattern"] == "sum"]
        if total != [N + 5]:
            fail("sum's emit: %r" % total)
    print("flat_chain_test: ok: %d-term chains through check, explain and replay" % N)


if __name__ == "__main__":
    main()
