#!/usr/bin/env python3
"""`tern state DIR`: what it shows of a state written by `tern replay --state`.

usage: state_command_test.py TERN

Writes its own patterns and events (so the expected windows are known here), replays
them into a state directory cut where partial matches, held matches and a reorder
buffer are live, then checks the text and --json summaries, --key's JSON (stages with
their events, window_closes, held matches, multi-field keys, a key record of a changed
pattern marked stale), the errors (exit 1 with a message), that `tern state` changes
nothing in the directory and that it reads a store another process has open.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corruption_test as wal  # noqa: E402  the log editing helpers

failures = []


def check(ok, what, detail=""):
    if not ok:
        failures.append(what)
        print("FAIL: %s%s" % (what, ("\n" + detail) if detail else ""), file=sys.stderr)


def run(*args, stdin=None):
    p = subprocess.run([TERN] + list(args), capture_output=True, text=True, stdin=stdin, timeout=60)
    check(p.returncode >= 0, "tern %s: killed by signal %d" % (" ".join(args), -p.returncode), p.stderr)
    return p


PATTERNS = """
pattern rising {
  key card
  within 1h
  gap 10m
  begin       a where type == "auth"
  followed_by b where type == "auth" and amount > a.amount
  followed_by c where type == "auth" and amount > b.amount
}

pattern pair_by_user_card {
  key user, card
  within 30m
  begin       login where type == "login"
  followed_by auth  where type == "auth"
}

pattern held {
  key card
  within 30m
  skip past_last_event
  begin       a where type == "tag" and n > 0
  followed_by b where type == "tag_end" and n == a.n
}
"""

T0 = 1709629200000
MIN = 60000
EVENTS = [
    {"id": 1, "ts": T0, "type": "auth", "card": "c1", "user": "u1", "amount": 10},
    {"id": 2, "ts": T0 + 1 * MIN, "type": "login", "card": "c2", "user": "u2"},
    {"id": 3, "ts": T0 + 2 * MIN, "type": "tag", "card": "c3", "n": 1},
    {"id": 4, "ts": T0 + 3 * MIN, "type": "tag", "card": "c3", "n": 2},
    {"id": 5, "ts": T0 + 4 * MIN, "type": "tag_end", "card": "c3", "n": 2},
    {"id": 6, "ts": T0 + 5 * MIN, "type": "auth", "card": "c1", "user": "u1", "amount": 20},
    # --- the cut ---
    {"id": 7, "ts": T0 + 6 * MIN, "type": "auth", "card": "c1", "user": "u1", "amount": 30},
    {"id": 8, "ts": T0 + 7 * MIN, "type": "tag_end", "card": "c3", "n": 1},
    {"id": 9, "ts": T0 + 8 * MIN, "type": "auth", "card": "c2", "user": "u2", "amount": 5},
]
CUT = 6


def write_events(path, events):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")


def tree(path):
    out = {}
    for root, dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            st = os.stat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mtime_ns)
    return out


def summary_cases(state):
    p = run("state", state)
    check(p.returncode == 0, "tern state: exit %d" % p.returncode, p.stderr)
    text = p.stdout
    last = EVENTS[CUT - 1]["ts"]
    for want in ["partition replay (", "  checkpoint: 1\n", "  positions: line %d\n" % CUT,
                 "  settings: time_field=ts;lateness_ms=0;",
                 "  input partition 0: time %d (2024-03-05T09:05:00.000Z), watermark %d" % (last, last),
                 ", 0 events in the reorder buffer\n",
                 "    rising: 1 keys, ", "    pair_by_user_card: 1 keys, 1 partial matches, 0 held matches, ",
                 "    held: 1 keys, 1 partial matches, 1 held matches, ", "  events: "]:
        check(want in text, "tern state text lacks %r" % want, text)

    p = run("state", state, "--json")
    check(p.returncode == 0, "tern state --json: exit %d" % p.returncode, p.stderr)
    doc = json.loads(p.stdout)
    part = doc["partitions"][0]
    check(part["name"] == "replay" and part["checkpoint"] == 1, "--json: partition", p.stdout)
    check(part["positions"] == [{"input": "line", "position": CUT}], "--json: positions", p.stdout)
    check(part["lateness_ms"] == 0 and part["watermark"] == last, "--json: watermark", p.stdout)
    check(part["inputs"] == [{"partition": 0, "time": last, "watermark": last, "buffered": 0, "idle": False}],
          "--json: inputs", p.stdout)
    check(part["next_seq"] == CUT + 1, "--json: next_seq", p.stdout)
    by_name = {x["name"]: x for x in part["patterns"]}
    check(sorted(by_name) == ["held", "pair_by_user_card", "rising"], "--json: patterns", p.stdout)
    check(not any(x["stale"] for x in part["patterns"]), "--json: nothing stale", p.stdout)
    check(by_name["held"]["held_matches"] == 1, "--json: held match", p.stdout)
    # Events 1..6 are all bound (event 2 by pair_by_user_card, 3..5 by held, 1 and 6 by rising).
    check(part["events"]["records"] == CUT, "--json: events stored once each", p.stdout)

    p = run("state", state, "--pattern", "rising", "--json")
    names = [x["name"] for x in json.loads(p.stdout)["partitions"][0]["patterns"]]
    check(names == ["rising"], "--pattern filters the summary", p.stdout)
    p = run("state", state, "--partition", "replay")
    check(p.returncode == 0 and "partition replay" in p.stdout, "--partition replay", p.stderr)


def key_cases(state):
    by_id = {e["id"]: e for e in EVENTS}
    # rising, card c1: a(1) then b(6) waits for c; the run of a(1) alone may still take
    # another b. window_closes: the earliest of start + within (1h) and the last bound
    # event + gap (10m).
    for key in ("c1", '"c1"'):
        p = run("state", state, "--key", key)
        check(p.returncode == 0, "--key %s: exit %d" % (key, p.returncode), p.stderr)
        lines = p.stdout.splitlines()
        check(len(lines) == 1, "--key %s: one line per partition and pattern" % key, p.stdout)
        doc = json.loads(lines[0])
        check(doc["partition"] == "replay" and doc["pattern"] == "rising" and doc["key"] == "c1" and
              doc["stale"] is False and doc["watermark"] == EVENTS[CUT - 1]["ts"], "--key c1: header", lines[0])
        runs = {tuple(s["event"]["id"] for s in m["stages"]): m for m in doc["partial_matches"]}
        check((1, 6) in runs, "--key c1: the run a(1) b(6)", lines[0])
        if (1, 6) in runs:
            m = runs[(1, 6)]
            check(m["started"] == T0, "--key c1: started", lines[0])
            check(m["window_closes"] == T0 + 5 * MIN + 10 * MIN, "--key c1: window_closes = last + gap", lines[0])
            check([s["stage"] for s in m["stages"]] == ["a", "b"], "--key c1: stage names", lines[0])
            check([s["ts"] for s in m["stages"]] == [T0, T0 + 5 * MIN], "--key c1: stage times", lines[0])
            check([s["position"] for s in m["stages"]] == [1, 6], "--key c1: positions (lines)", lines[0])
            check(m["stages"][0]["event"] == by_id[1], "--key c1: the event as received", lines[0])
            check(isinstance(m["state"], str) and m["state"], "--key c1: state name", lines[0])
        check(doc["held_matches"] == [], "--key c1: no held match", lines[0])

    # A key of two fields, as its JSON list.
    p = run("state", state, "--key", '["u2","c2"]')
    check(p.returncode == 0, "--key [u2,c2]: exit %d" % p.returncode, p.stderr)
    if p.returncode == 0:
        doc = json.loads(p.stdout)
        check(doc["pattern"] == "pair_by_user_card" and doc["key"] == ["u2", "c2"], "--key [u2,c2]", p.stdout)
        m = doc["partial_matches"][0]
        check(m["window_closes"] == EVENTS[1]["ts"] + 30 * MIN, "--key [u2,c2]: start + within", p.stdout)
        check([s["stage"] for s in m["stages"]] == ["login"], "--key [u2,c2]: stages", p.stdout)

    # A completed match held back by an earlier partial match of its key.
    p = run("state", state, "--key", "c3", "--pattern", "held")
    check(p.returncode == 0, "--key c3 --pattern held: exit %d" % p.returncode, p.stderr)
    if p.returncode == 0:
        doc = json.loads(p.stdout)
        held = doc["held_matches"]
        check(len(held) == 1 and [s["event"]["id"] for s in held[0]["stages"]] == [4, 5] and
              held[0]["window_closes"] is None, "--key c3: the held match a(4) b(5)", p.stdout)
        check([[s["event"]["id"] for s in m["stages"]] for m in doc["partial_matches"]] == [[3]],
              "--key c3: the open partial match a(3) holding it", p.stdout)

    p = run("state", state, "--key", "nobody")
    check(p.returncode == 1 and "no partial or held matches for key nobody" in p.stderr,
          "--key nobody: exit 1 with a message", p.stderr)
    p = run("state", state, "--key", "c1", "--pattern", "absent")
    check(p.returncode == 1 and "no pattern absent" in p.stderr, "--pattern absent: exit 1", p.stderr)
    p = run("state", state, "--partition", "other")
    check(p.returncode == 1 and "no partition other" in p.stderr, "--partition other: exit 1", p.stderr)
    p = run("state")
    check(p.returncode == 2, "no directory: usage error", p.stderr)


def lateness_case(work):
    state = os.path.join(work, "late_state")
    events = os.path.join(work, "late", "events.jsonl")
    shuffled = [EVENTS[0], EVENTS[2], EVENTS[1], EVENTS[4], EVENTS[3]]  # out of order by a minute
    write_events(events, shuffled)
    p = run("replay", PATTERN_FILE, "--input", events, "--state", state, "--lateness", "2m")
    check(p.returncode == 0, "replay --lateness 2m: exit %d" % p.returncode, p.stderr)
    p = run("state", state, "--json")
    part = json.loads(p.stdout)["partitions"][0]
    latest = max(e["ts"] for e in shuffled)
    held_back = sum(1 for e in shuffled if e["ts"] > latest - 2 * MIN)
    check(part["lateness_ms"] == 2 * MIN and part["watermark"] == latest - 2 * MIN, "lateness: watermark", p.stdout)
    check(part["inputs"][0]["time"] == latest and part["inputs"][0]["buffered"] == held_back,
          "lateness: the reorder buffer", p.stdout)
    p = run("state", state)
    check("%d events in the reorder buffer" % held_back in p.stdout, "lateness: text", p.stdout)


def stale_case(work, state):
    # A key record whose fingerprint hash names no pattern of the partition record (as a
    # pattern changed since it was written, before a checkpoint dropped it).
    stale = os.path.join(work, "stale")
    shutil.copytree(state, stale)
    name = b"rising"
    prefix = b"k" + struct.pack(">H", len(name)) + name
    log = wal.live_log(os.path.join(stale, "replay"))
    with open(log, "rb") as f:
        records = wal.read_log(f.read())
    sequence, entries = wal.parse_batch(records[-1])
    for entry in entries:
        if entry[0] == 1 and entry[1].startswith(prefix):
            hashed = bytearray(entry[1])
            hashed[len(prefix)] ^= 0xFF
            entry[1] = bytes(hashed)
    records[-1] = wal.encode_batch(sequence, entries)
    with open(log, "wb") as f:
        f.write(wal.write_log(records))
    p = run("state", stale)
    check(p.returncode == 0 and "    rising (stale: pattern changed): 1 keys" in p.stdout and
          "    rising: 0 keys" in p.stdout, "stale key record: marked", p.stdout + p.stderr)
    p = run("state", stale, "--key", "c1")
    doc = json.loads(p.stdout) if p.returncode == 0 else {}
    check(doc.get("stale") is True and all(m["state"].startswith("#") for m in doc["partial_matches"]),
          "stale key record: --key says stale", p.stdout + p.stderr)
    # The replay drops it and goes on.
    rest = os.path.join(work, "rest", "events.jsonl")
    write_events(rest, EVENTS[CUT:])
    p = run("replay", PATTERN_FILE, "--input", rest, "--state", stale)
    check(p.returncode == 0, "replay over a stale key record: exit %d" % p.returncode, p.stderr)
    p = run("state", stale)
    check("(stale: pattern changed)" not in p.stdout, "the next checkpoint deletes the stale key record", p.stdout)


def concurrency_case(state):
    before = tree(state)
    run("state", state)
    run("state", state, "--key", "c1")
    run("state", state, "--json")
    check(tree(state) == before, "tern state changes nothing in the directory",
          "%s\n%s" % (sorted(before.items()), sorted(tree(state).items())))
    # A replay reading stdin holds the store open for writing until its input ends.
    copy = state + "_open"
    shutil.copytree(state, copy)
    writer = subprocess.Popen([TERN, "replay", PATTERN_FILE, "--input", "-", "--state", copy],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Opening for writing flushes the log into an SST: wait for it, then a little.
        deadline = time.time() + 10
        files = sorted(os.listdir(os.path.join(state, "replay")))
        while time.time() < deadline and sorted(os.listdir(os.path.join(copy, "replay"))) == files:
            time.sleep(0.05)
        time.sleep(0.3)
        p = run("state", copy)
        check(p.returncode == 0 and "checkpoint: 1" in p.stdout,
              "tern state while a replay holds the store: exit %d" % p.returncode, p.stdout + p.stderr)
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
    check(writer.returncode == 0, "the replay holding the store: exit %d" % writer.returncode,
          writer.stderr.read().decode(errors="replace"))


def main():
    global TERN, PATTERN_FILE
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    TERN = os.path.abspath(sys.argv[1])
    p = run("--help")
    check("state DIR" in p.stdout, "tern --help lists state", p.stdout)
    p = run("state", "--help")
    check(p.returncode == 0 and "--key K" in p.stdout and "window_closes" in p.stdout, "tern state --help", p.stdout)
    work = tempfile.mkdtemp(prefix="tern_state_command_")
    try:
        PATTERN_FILE = os.path.join(work, "patterns.tern")
        with open(PATTERN_FILE, "w") as f:
            f.write(PATTERNS)
        state = os.path.join(work, "state")
        part1 = os.path.join(work, "part1", "events.jsonl")
        write_events(part1, EVENTS[:CUT])
        p = run("replay", PATTERN_FILE, "--input", part1, "--state", state)
        check(p.returncode == 0, "first replay: exit %d" % p.returncode, p.stderr)
        summary_cases(state)
        key_cases(state)
        lateness_case(work)
        stale_case(work, state)
        concurrency_case(state)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
