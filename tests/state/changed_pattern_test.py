#!/usr/bin/env python3
"""A changed pattern across a restart starts fresh; unchanged patterns continue (issue 15).

Usage: changed_pattern_test.py TERN

Part 1 of a stream is replayed with patterns `kept` and `changed` into a --state
directory; part 2 continues it with `kept` as it was and `changed` given a new condition
(same name). Then:
  - the replay says that `changed` changed and that its partial matches are dropped;
  - `kept`'s alerts of part 2 are those of one replay of the whole stream (its partial
    matches from part 1 complete in part 2);
  - the new `changed`'s alerts of part 2 are those of a replay of part 2 alone (ids aside:
    line numbers go on), i.e. nothing of the old version's state leaked into it.
"""
import json
import os
import subprocess
import sys
import tempfile

KEPT = """pattern kept { key u  within 1h
  begin a where t == "a"  followed_by b where t == "b" }
"""
CHANGED_V1 = """pattern changed { key u  within 1h
  begin a where t == "a"  followed_by c where t == "c" }
"""
CHANGED_V2 = """pattern changed { key u  within 1h
  begin a where t == "a" and n > 0  followed_by c where t == "c" }
"""


def fail(msg):
    print("changed_pattern_test: FAIL: " + msg)
    sys.exit(1)


def run(tern, args):
    r = subprocess.run([tern, "replay"] + args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("tern replay %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr))
    return [json.loads(line) for line in r.stdout.split("\n") if line], r.stderr


def without_id(alerts, pattern):
    return sorted(json.dumps({k: v for k, v in a.items() if k != "id"}, sort_keys=True)
                  for a in alerts if a["pattern"] == pattern)


def main():
    tern = sys.argv[1]
    work = tempfile.mkdtemp(prefix="tern-changed-")
    events = []
    ts = 1000
    for n in range(20):  # part 1: starts of both patterns (n = 0 fails the new condition)
        events.append({"ts": ts, "u": "k%d" % n, "t": "a", "n": n})
        ts += 10
    cut = len(events)
    for n in range(20):  # part 2: completions, then new starts and completions
        events.append({"ts": ts, "u": "k%d" % n, "t": "b", "n": n})
        events.append({"ts": ts + 1, "u": "k%d" % n, "t": "c", "n": n})
        ts += 10
    for n in range(5):
        events.append({"ts": ts, "u": "j%d" % n, "t": "a", "n": n})
        events.append({"ts": ts + 1, "u": "j%d" % n, "t": "c", "n": n})
        ts += 10
    paths = {}
    for name, lines in (("whole", events), ("1", events[:cut]), ("2", events[cut:])):
        d = os.path.join(work, name)
        os.makedirs(d)
        paths[name] = os.path.join(d, "events.jsonl")
        with open(paths[name], "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in lines))
    v1, v2 = os.path.join(work, "v1.tern"), os.path.join(work, "v2.tern")
    with open(v1, "w") as f:
        f.write(KEPT + CHANGED_V1)
    with open(v2, "w") as f:
        f.write(KEPT + CHANGED_V2)
    state = os.path.join(work, "state")
    whole, _ = run(tern, [v1, "--input", paths["whole"], "--open-end"])
    part1, _ = run(tern, [v1, "--input", paths["1"], "--state", state])
    part2, log = run(tern, [v2, "--input", paths["2"], "--state", state])
    if "pattern changed changed since the state was written" not in log:
        fail("no log line for the changed pattern:\n" + log)
    if "pattern kept" in log:
        fail("the unchanged pattern was reported:\n" + log)
    kept_whole = without_id(whole, "kept")
    if not kept_whole or without_id(part1 + part2, "kept") != kept_whole:
        fail("kept: parts %r\nwhole %r" % (without_id(part1 + part2, "kept"), kept_whole))
    fresh, _ = run(tern, [v2, "--input", paths["2"], "--open-end"])
    strip_pos = lambda alerts: [json.dumps({k: v for k, v in a.items() if k not in ("id",)}, sort_keys=True)
                                for a in alerts if a["pattern"] == "changed"]
    got, want = sorted(strip_pos(part2)), sorted(strip_pos(fresh))
    if got != want or not want:
        fail("changed: after the restart %r\na fresh replay of part 2 %r" % (got, want))
    old_would = without_id(whole, "changed")
    if len(old_would) <= len(want):
        fail("the test is vacuous: the old version's state would have given no more alerts")
    print("changed_pattern_test: ok: kept %d alerts as one replay; changed started afresh (%d alerts, "
          "%d with the old state)" % (len(kept_whole), len(want), len(old_would)))


if __name__ == "__main__":
    main()
