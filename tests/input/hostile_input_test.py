#!/usr/bin/env python3
"""CTest input_hostile: `tern replay` on hostile input (issue 13).

Usage: hostile_input_test.py PATH/TO/tern REPO_DIR

- A line of a few hundred MB through a pipe (stdin) and in a regular file (read
  through a mapping) is skipped in bounded memory: the peak resident set of `tern
  replay` stays far below the line's size, the line is dead-lettered as "event too
  large" with its first bytes, and the events around it still match.
- Invalid UTF-8 anywhere in the input (in strings, names, outside strings, in a long
  line's first 1024 bytes, cut by that limit, in a quoted time cut at 40 bytes): every
  line of the alerts and of the dead-letter file is strict JSON in strict UTF-8, and a
  dead letter's `raw` (or `raw_base64`) gives the line back byte for byte.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import threading

HUGE = 300 << 20        # the long line: 300 MiB
RSS_LIMIT_MB = 150      # peak resident set allowed for the replay reading it

PATTERN = """
pattern pair {
  key k
  begin a where t == "a"
  followed_by b where t == "b"
  emit { note = b.note }
}
"""


def fail(message):
    print("hostile_input_test: FAIL: " + message)
    sys.exit(1)


def strict_lines(data, what):
    """Every line of `data` (bytes) as parsed JSON, decoding strictly as UTF-8."""
    out = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw:
            continue
        try:
            text = raw.decode("utf-8", errors="strict")
            out.append(json.loads(text))
        except (UnicodeDecodeError, ValueError) as e:
            fail("%s line %d is not strict JSON in UTF-8 (%s): %r" % (what, number, e, raw[:200]))
    return out


def run_replay(tern, args, stdin_feeder=None):
    """Runs `tern replay ARGS`, feeding stdin from `stdin_feeder(pipe)` in a thread.
    Returns (exit status, stdout bytes, stderr bytes, peak RSS in MB)."""
    proc = subprocess.Popen([tern, "replay"] + args, stdin=subprocess.PIPE if stdin_feeder else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks, err_chunks = [], []
    readers = [threading.Thread(target=lambda: out_chunks.append(proc.stdout.read())),
               threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))]
    for r in readers:
        r.start()
    if stdin_feeder:
        try:
            stdin_feeder(proc.stdin)
        finally:
            proc.stdin.close()
    for r in readers:
        r.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, b"".join(out_chunks), b"".join(err_chunks), usage.ru_maxrss / 1024.0


def event(id_, ts, t, note="n"):
    return ('{"id":%d,"ts":%d,"k":"k1","t":"%s","note":"%s"}' % (id_, ts, t, note)).encode()


def huge_line_parts():
    """The long line, in 1 MiB pieces: an event whose "pad" member runs to HUGE bytes."""
    head = b'{"id":90,"ts":1500,"k":"k1","t":"b","note":"\xc3\xa9","pad":"'
    yield head
    block = b"x" * (1 << 20)
    left = HUGE - len(head) - 2
    while left > 0:
        piece = block[:min(left, len(block))]
        yield piece
        left -= len(piece)
    yield b'"}'


def check_huge(tern, work, how):
    pattern = os.path.join(work, "p.tern")
    dead = os.path.join(work, "dead-%s.jsonl" % how)
    before = event(1, 1000, "a") + b"\n"
    after = event(2, 2000, "b", "after") + b"\n"
    args = [pattern, "--dead-letter", dead]
    if how == "pipe":
        def feed(pipe):
            pipe.write(before)
            for part in huge_line_parts():
                pipe.write(part)
            pipe.write(b"\n" + after)
        status, out, err, rss = run_replay(tern, args + ["--input", "-"], feed)
    else:
        path = os.path.join(work, "huge.jsonl")
        with open(path, "wb") as f:
            f.write(before)
            for part in huge_line_parts():
                f.write(part)
            f.write(b"\n" + after)
        status, out, err, rss = run_replay(tern, args + ["--input", path])
        os.remove(path)
    if status != 0:
        fail("%s: tern replay exited %d: %s" % (how, status, err.decode(errors="replace")))
    alerts = strict_lines(out, how + " alerts")
    if [(a["events"]["a"][0]["id"], a["events"]["b"][0]["id"]) for a in alerts] != [(1, 2)]:
        fail("%s: expected the match of events 1 and 2 around the long line, got %r" % (how, alerts))
    with open(dead, "rb") as f:
        letters = strict_lines(f.read(), how + " dead letters")
    want_error = "event too large: %d bytes, over the limit of 1MiB" % HUGE
    if len(letters) != 1 or letters[0]["line"] != 2 or letters[0]["error"] != want_error:
        fail("%s: dead letters %r, expected one for line 2: %s" % (how, letters, want_error))
    raw = letters[0]["raw"].encode()
    head = next(huge_line_parts())
    if not (raw.startswith(head) and 1021 <= len(raw) <= 1024 and raw[len(head):] == b"x" * (len(raw) - len(head))):
        fail("%s: the dead letter's raw is not the line's first 1024 bytes: %r" % (how, raw[:100]))
    if rss > RSS_LIMIT_MB:
        fail("%s: peak resident set %.0f MB reading a %d MB line (limit %d MB)" % (how, rss, HUGE >> 20, RSS_LIMIT_MB))
    print("hostile_input_test: %s: a %d MiB line skipped, peak RSS %.0f MB" % (how, HUGE >> 20, rss))


def check_utf8(tern, work):
    pattern = os.path.join(work, "p.tern")
    lines = [
        event(1, 1000, "a"),
        b'{"id":2,"ts":2000,"k":"k1","t":"b","note":"caf\xe9 \xff\xfe"}',       # invalid in a string
        b'{"id":3,"ts":2100,"k":"k1","t":"b","no\xc0\xafte":"x"}',              # in a name (overlong)
        b'{"id":4,"ts":2200,"k":"k1","t":"b"}\xed\xa0\x80',                      # a surrogate, outside
        b'{"id":5,"ts":"' + "é".encode() * 30 + b'","k":"k1"}',                  # time cut at 40 bytes
        # 42 bytes, 981 more, then "é" over bytes 1023-1024: the 1 KiB prefix cuts it.
        b'{"id":6,"ts":2300,"k":"k1","t":"b","pad":"' + b"y" * 981 + "é".encode() + b'zzzz"}',
        b'{"id":7,"ts":2400,"k":"k1","t":"b","pad":"\x80' + b"w" * 2000 + b'"}',  # invalid, too long
        b"\xef\xbb\xbf\xc3",                                                      # a lone lead byte
        b'{"id":8,"ts":2500,"k":"k1","t":"b","note":"\\u00e9 \\ud83d\\ude00 ok \xf0\x9f\x98\x80"}',
        b'{"id":9,"ts":3000,"k":"k2","t":"a"}',
        b'{"id":10,"ts":3100,"k":"k2","t":"b","note":"' + "€".encode() * 3 + b'"}',
    ]
    path = os.path.join(work, "utf8.jsonl")
    with open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    dead = os.path.join(work, "dead-utf8.jsonl")
    status, out, err, _ = run_replay(tern, [pattern, "--input", path, "--dead-letter", dead,
                                            "--max-event-size", "1KiB"])
    if status != 0:
        fail("utf8: tern replay exited %d: %s" % (status, err.decode(errors="replace")))
    alerts = strict_lines(out, "utf8 alerts")
    got = [(a["events"]["a"][0]["id"], a["events"]["b"][0]["id"], a["fields"]["note"]) for a in alerts]
    if got != [(1, 8, "é 😀 ok 😀"), (9, 10, "€€€")]:
        fail("utf8: alerts %r" % got)
    with open(dead, "rb") as f:
        letters = strict_lines(f.read(), "utf8 dead letters")
    by_line = {d["line"]: d for d in letters}
    if sorted(by_line) != [2, 3, 4, 5, 6, 7, 8]:
        fail("utf8: dead letters for lines %r, expected 2-8" % sorted(by_line))
    for number, d in by_line.items():
        line = lines[number - 1]
        if "raw" in d:
            back = d["raw"].encode("utf-8")
        else:
            back = base64.b64decode(d["raw_base64"], validate=True)
        if d["error"].startswith("event too large"):
            if not (line.startswith(back) and 1020 <= len(back) <= 1024):
                fail("utf8: line %d's dead letter is not its first 1024 bytes: %r" % (number, back[:60]))
        elif back != line:
            fail("utf8: line %d's dead letter does not give it back: %r" % (number, back))
    if "raw" not in by_line[6] or "raw_base64" not in by_line[7] or "raw_base64" not in by_line[2]:
        fail("utf8: raw / raw_base64 chosen wrongly: %r" % by_line)
    if by_line[5]["error"] != "invalid time '" + "é" * 20 + "...'":
        fail("utf8: line 5's error: %r" % by_line[5]["error"])
    print("hostile_input_test: utf8: %d alerts, %d dead letters, all strict JSON" % (len(alerts), len(letters)))


def check_flag(tern, work):
    """--max-event-size takes 1B to 1GiB, with a binary unit or none."""
    pattern = os.path.join(work, "p.tern")
    path = os.path.join(work, "one.jsonl")
    with open(path, "wb") as f:
        f.write(event(1, 1000, "a") + b"\n")
    for size in ["0", "2GiB", "1MB", "-1", "1.5KiB", ""]:
        status, _, err, _ = run_replay(tern, [pattern, "--input", path, "--max-event-size", size])
        if status != 2 or b"invalid size" not in err:
            fail("--max-event-size %r: exit %d, %r" % (size, status, err))
    for size in ["1", "10B", "1KiB", "1GiB"]:
        status, _, err, _ = run_replay(tern, [pattern, "--input", path, "--max-event-size", size])
        if status != 0:
            fail("--max-event-size %r: exit %d, %r" % (size, status, err))


def main():
    if len(sys.argv) != 3:
        fail("usage: hostile_input_test.py TERN REPO")
    tern = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="tern-hostile-") as work:
        with open(os.path.join(work, "p.tern"), "w") as f:
            f.write(PATTERN)
        check_flag(tern, work)
        check_utf8(tern, work)
        check_huge(tern, work, "pipe")
        check_huge(tern, work, "file")
    print("hostile_input_test: ok")


if __name__ == "__main__":
    main()
