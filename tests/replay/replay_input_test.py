#!/usr/bin/env python3
"""CTest replay_input: what `tern replay` reads (issue 16, part 4).

Usage: replay_input_test.py PATH/TO/tern REPO_DIR

- compressed: a JSON Lines stream and a kcat -J dump of it (3 partitions, built here) give
  the same alerts, ids included, plain, gzip and zstd, by name or by magic bytes alone, from a
  file or through standard input; a gzip file of several members reads as one.
- damaged: a gzip or zstd file cut short, or with bytes that do not decompress, fails (exit
  1) with an error naming the file and saying what is wrong, after the alerts of the lines
  before it; a .gz file that is not gzip fails before reading; never a crash.
- several inputs: --input a --input b.gz --input c give the alerts of the whole file, ids
  included (line numbers go on from file to file); a malformed line is reported with its own
  file and line, and dead-lettered with its line in the stream; split in two --state parts
  the same; a missing input fails before any alert.
- kcat: malformed envelopes and payloads are dead-lettered with their reason, and the
  record's topic, partition and offset when the envelope was read; nothing else is lost.
- record-case: --record-case DIR writes the replay as a `tern test` case (patterns,
  input.jsonl of every input decompressed, args, expected.jsonl) that passes, for JSON Lines
  and kcat inputs; a folder that is not empty, a missing input and --state are refused.
- progress: under a terminal (script -qc) a long replay rewrites a progress line on stderr
  (events, events/s, bytes read); --no-progress and a stderr that is not a terminal show
  none; --progress forces it as lines.

zstd files come from the zstd command when it is installed, else from a writer here that
emits real zstd frames of raw blocks (the format's stored blocks, RFC 8878 3.1.1.2).
"""
import gzip
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

FAILED = []


def check(what, ok, detail=""):
    if ok:
        print("ok: " + what, flush=True)
    else:
        print("FAIL: %s%s" % (what, ("\n" + detail) if detail else ""), flush=True)
        FAILED.append(what)


def zstd_raw_frames(data, block=100_000):
    """A zstd frame holding `data` in raw blocks (no compression, no checksum)."""
    out = bytearray(b"\x28\xb5\x2f\xfd")
    out += bytes([0x00])         # frame header descriptor: no size, window descriptor follows
    out += bytes([7 << 3])       # window 2^(10+7) = 128 KiB >= the block size
    chunks = [data[i:i + block] for i in range(0, len(data), block)] or [b""]
    for i, chunk in enumerate(chunks):
        last = 1 if i == len(chunks) - 1 else 0
        header = last | (0 << 1) | (len(chunk) << 3)  # block type 0: raw
        out += struct.pack("<I", header)[:3] + chunk
    return bytes(out)


def write_zstd(path, data):
    if shutil.which("zstd"):
        subprocess.run(["zstd", "-q", "-f", "-o", path], input=data, check=True)
    else:
        with open(path, "wb") as f:
            f.write(zstd_raw_frames(data))


def replay(tern, args, stdin=None):
    r = subprocess.run([tern, "replay"] + args, input=stdin, capture_output=True, timeout=300)
    return r.returncode, r.stdout.decode(), r.stderr.decode(errors="replace")


def stream(n=4000):
    rng = random.Random(4)
    kinds = ["a", "b", "login", "logout", "pay", "cash", "noise"]
    lines = []
    for i in range(n):
        card = rng.randrange(24)
        lines.append(json.dumps({"ts": 1767225600000 + i * 50, "seq": i, "card": "c%02d" % card,
                                 "user": "u%02d" % (card % 8), "merchant": "m%d" % (card % 4),
                                 "kind": rng.choice(kinds), "amount": rng.randrange(1, 1000)},
                                separators=(",", ":")))
    return lines


def kcat_dump(lines, topic="cards", partitions=3):
    """kcat -C -J envelopes of `lines` spread round-robin, each partition in one block."""
    per = [[] for _ in range(partitions)]
    for i, text in enumerate(lines):
        per[i % partitions].append(text)
    out = []
    for p, records in enumerate(per):
        for offset, text in enumerate(records):
            out.append(json.dumps({"topic": topic, "partition": p, "offset": offset, "tstype": "create",
                                   "ts": 1767225600000, "broker": 1, "key": None, "payload": text},
                                  separators=(",", ":")))
    return out


def main():
    tern, repo = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="tern-replay-input-")
    scaleout = os.path.join(repo, "tests", "daemon", "scaleout")
    patterns = sorted(os.path.join(scaleout, f) for f in os.listdir(scaleout) if f.endswith(".tern"))
    lines = stream()
    text = "".join(l + "\n" for l in lines).encode()
    dump = "".join(l + "\n" for l in kcat_dump(lines)).encode()

    def path(name):
        return os.path.join(work, name)

    # --- compressed inputs: the same alerts --------------------------------------------
    for fmt, data, extra in (("jsonl", text, []), ("kcat", dump, ["--format", "kcat", "--partitions", "cards:3"])):
        # The stream name is the file stem with the compression extension dropped: `from`
        # patterns see the same stream (kcat: the topic).
        plain = path("events.%s.jsonl" % fmt)
        with open(plain, "wb") as f:
            f.write(data)
        with gzip.open(plain + ".gz", "wb") as f:
            f.write(data)
        write_zstd(plain + ".zst", data)
        shutil.copy(plain + ".gz", path("gzip-magic-only.%s" % fmt))
        shutil.copy(plain + ".zst", path("zstd-magic-only.%s" % fmt))
        # Two gzip members (cat a.gz b.gz) read as one stream.
        half = data.index(b"\n", len(data) // 2) + 1
        with open(path("members.%s.jsonl.gz" % fmt), "wb") as f:
            f.write(gzip.compress(data[:half]) + gzip.compress(data[half:]))
        rc, want, err = replay(tern, patterns + ["--input", plain] + extra)
        check("%s: plain replay" % fmt, rc == 0 and len(want.splitlines()) > 100, err[-500:])
        for name in (plain + ".gz", plain + ".zst", path("gzip-magic-only.%s" % fmt),
                     path("zstd-magic-only.%s" % fmt), path("members.%s.jsonl.gz" % fmt)):
            rc, got, err = replay(tern, patterns + ["--input", name] + extra)
            check("%s: %s gives the plain file's alerts" % (fmt, os.path.basename(name)),
                  rc == 0 and got == want, err[-500:])
        with open(plain + ".zst", "rb") as f:
            rc, got, err = replay(tern, patterns + ["--input", "-"] + extra, stdin=f.read())
        check("%s: zstd through standard input" % fmt, rc == 0 and got == want, err[-500:])

    # --- damaged compressed files: a clear error naming the file -------------------------
    gz = open(path("events.jsonl.jsonl.gz"), "rb").read()
    zst = open(path("events.jsonl.jsonl.zst"), "rb").read()
    rc, whole, _ = replay(tern, patterns + ["--input", path("events.jsonl.jsonl")])
    damaged = {
        "cut.jsonl.gz": (gz[:len(gz) // 2], "truncated gzip data"),
        "cut.jsonl.zst": (zst[:len(zst) // 2], "truncated zstd data"),
        "cut-header.jsonl.gz": (gz[:6], "truncated gzip data"),
        "corrupt.jsonl.gz": (gz[:len(gz) // 2] + bytes(b ^ 0x5a for b in gz[len(gz) // 2:len(gz) // 2 + 64])
                             + gz[len(gz) // 2 + 64:], "corrupt gzip data"),
        # zstd: a block of the reserved type 3 after the first block.
        "corrupt.jsonl.zst": (zstd_raw_frames(text[:200_000], block=100_000)[:6 + 3 + 100_000]
                              + struct.pack("<I", 1 | (3 << 1) | (10 << 3))[:3] + b"x" * 10, "corrupt zstd data"),
        "trailing-garbage.jsonl.gz": (gz + b"this is not gzip", "corrupt gzip data"),
        "empty.jsonl.gz": (b"", "is not gzip data"),
        "plain-named.jsonl.zst": (text[:1000], "is not zstd data"),
    }
    for name, (data, reason) in damaged.items():
        with open(path(name), "wb") as f:
            f.write(data)
        rc, got, err = replay(tern, patterns + ["--input", path(name)])
        check("%s: exit 1 naming the file (%s)" % (name, reason),
              rc == 1 and path(name) in err and reason in err, "rc %d, stderr: %s" % (rc, err[-600:]))
        # The input did not end: no window closes at its end, so every alert written is one
        # the whole stream gives too.
        check("%s: the alerts written are alerts of the whole file" % name,
              set(got.splitlines()) <= set(whole.splitlines()), got[:300])

    # --- several inputs ----------------------------------------------------------------
    bad = '{"ts": "not a time"}'
    mixed = lines[:1500] + [bad] + lines[1500:]
    rc, whole_mixed, _ = replay(tern, patterns + ["--input", "-"], stdin="".join(l + "\n" for l in mixed).encode())
    parts = [mixed[:1000], mixed[1000:2500], mixed[2500:]]
    names = [path("part-a.jsonl"), path("part-b.jsonl.gz"), path("part-c.jsonl")]
    for name, part in zip(names, parts):
        data = "".join(l + "\n" for l in part).encode()
        if name.endswith(".gz"):
            data = gzip.compress(data)
        with open(name, "wb") as f:
            f.write(data)
    args = patterns + sum((["--input", n] for n in names), []) + ["--dead-letter", path("dead.jsonl")]
    rc, got, err = replay(tern, args)
    check("three inputs (one gzip) give the alerts of the whole, ids included", rc == 0 and got == whole_mixed,
          err[-500:])
    check("a malformed line is reported with its own file and line",
          "part-b.jsonl.gz:501: malformed event" in err, err[-500:])
    dead = [json.loads(l) for l in open(path("dead.jsonl"))]
    check("its dead letter has its line in the stream", [d["line"] for d in dead] == [1501], repr(dead))
    state = path("state")
    rc1, got1, err1 = replay(tern, patterns + ["--input", names[0], "--input", names[1], "--state", state])
    rc2, got2, err2 = replay(tern, patterns + ["--input", names[2], "--state", state, "--finish"])
    check("two --state parts over three inputs give the alerts of one replay, ids included",
          rc1 == 0 and rc2 == 0 and sorted((got1 + got2).splitlines()) == sorted(whole_mixed.splitlines()),
          err1[-300:] + err2[-300:])
    rc, got, err = replay(tern, patterns + ["--input", names[0], "--input", path("missing.jsonl")])
    check("a missing second input fails before any alert",
          rc == 1 and got == "" and "missing.jsonl" in err, err[-300:])

    # --- kcat: malformed envelopes and payloads ------------------------------------------
    envelopes = kcat_dump(lines[:300], partitions=2)
    envelopes[5] = "not json"
    envelopes[6] = '{"topic":"cards","partition":0,"offset":6,"key":null}'
    envelopes[7] = json.dumps({"topic": "cards", "partition": 0, "offset": 7, "payload": '{"kind":"a"}'})
    envelopes[8] = json.dumps({"topic": "cards", "partition": 0, "offset": 8, "payload": None})
    envelopes[9] = json.dumps({"topic": "cards", "partition": -1, "offset": 9, "payload": lines[9]})
    with open(path("bad.kcat.jsonl"), "w") as f:
        f.write("".join(l + "\n" for l in envelopes))
    rc, got, err = replay(tern, patterns + ["--input", path("bad.kcat.jsonl"), "--format", "kcat",
                                            "--dead-letter", path("kcat-dead.jsonl")])
    dead = [json.loads(l) for l in open(path("kcat-dead.jsonl"))]
    want = [
        {"line": 6, "error": "not a kcat -J envelope: not JSON", "raw": "not json"},
        {"line": 7, "error": 'not a kcat -J envelope: no "payload"', "raw": envelopes[6]},
        {"line": 8, "topic": "cards", "partition": 0, "offset": 7, "error": "missing time field 'ts'",
         "raw": '{"kind":"a"}'},
        {"line": 9, "topic": "cards", "partition": 0, "offset": 8, "error": "no payload (null)", "raw": ""},
        {"line": 10, "error": 'not a kcat -J envelope: "partition" is not an integer from 0 to 2147483647',
         "raw": envelopes[9]},
    ]
    check("kcat: malformed envelopes and payloads are dead-lettered with their reasons", dead == want,
          json.dumps(dead, indent=1))
    check("kcat: they are reported with file, line and record",
          rc == 0 and "bad.kcat.jsonl:8: cards[0]@7: malformed event: missing time field 'ts'" in err
          and "malformed 5," in err and "events 295," in err, err[-800:])
    rc, _, err = replay(tern, patterns + ["--input", path("bad.kcat.jsonl"), "--kafka-partition", "cards:0",
                                          "--format", "kcat"])
    check("kcat: --kafka-partition is refused", rc == 2 and "--kafka-partition is for --format jsonl" in err, err)
    rc, _, err = replay(tern, patterns + ["--input", path("bad.kcat.jsonl"), "--partitions", "cards:2"])
    check("--partitions needs --format kcat", rc == 2 and "--partitions needs --format kcat" in err, err)

    # kcat in --state parts: the partitions keep their engine numbering and their events
    # wait in the reorder buffers across the parts.
    envelopes = kcat_dump(lines)
    cut = len(envelopes) * 2 // 5
    for name, part in (("kcat-part1.jsonl", envelopes[:cut]), ("kcat-part2.jsonl.gz", envelopes[cut:])):
        data = "".join(l + "\n" for l in part).encode()
        with open(path(name), "wb") as f:
            f.write(gzip.compress(data) if name.endswith(".gz") else data)
    kcat_args = ["--format", "kcat", "--partitions", "cards:3"]
    rc, whole_kcat, _ = replay(tern, patterns + ["--input", path("events.kcat.jsonl")] + kcat_args)
    state = path("kcat-state")
    rc1, got1, err1 = replay(tern, patterns + ["--input", path("kcat-part1.jsonl"), "--state", state] + kcat_args)
    rc2, got2, err2 = replay(tern, patterns + ["--input", path("kcat-part2.jsonl.gz"), "--state", state, "--finish"]
                             + kcat_args)
    check("kcat: two --state parts give the alerts of one replay, ids included",
          rc1 == 0 and rc2 == 0 and sorted((got1 + got2).splitlines()) == sorted(whole_kcat.splitlines()),
          err1[-300:] + err2[-300:])
    rc, _, err = replay(tern, patterns + ["--input", path("kcat-part2.jsonl.gz"), "--state", state])
    check("kcat: a kcat state is not continued as JSON Lines",
          rc == 1 and "was written with other options" in err, err[-300:])

    # --- progress ----------------------------------------------------------------------
    # A slow pipe keeps the replay going for about 1.5 s: 30k lines in 15 steps.
    many = stream(30000)
    feeder = path("feeder.py")
    with open(path("many.jsonl"), "w") as f:
        f.write("".join(l + "\n" for l in many))
    with open(feeder, "w") as f:
        f.write("import sys, time\nlines = open(sys.argv[1], 'rb').readlines()\n"
                "for i in range(0, len(lines), 2000):\n"
                "    sys.stdout.buffer.write(b''.join(lines[i:i + 2000])); sys.stdout.flush(); time.sleep(0.1)\n")
    command = "%s %s %s | %s replay %s --input - %%s > %s" % (
        sys.executable, feeder, path("many.jsonl"), tern, " ".join(patterns), path("progress-alerts.jsonl"))
    r = subprocess.run(["script", "-qec", command % "", "/dev/null"], capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    check("a terminal shows a progress line, rewritten in place",
          r.returncode == 0 and "\rtern replay: " in out and " events/s, " in out and "MB read" in out
          and "\033[K" in out, repr(out[-600:]))
    check("the summary is on a clean line after it", "\r\033[Kevents 30000," in out, repr(out[-300:]))
    r = subprocess.run(["script", "-qec", command % "--no-progress", "/dev/null"], capture_output=True, timeout=120)
    out = r.stdout.decode(errors="replace")
    check("--no-progress shows none on a terminal", r.returncode == 0 and "events/s, " not in out.split("events 30000")[0],
          repr(out[-300:]))
    proc = subprocess.run(command % "--progress" + " 2> " + path("progress.log"), shell=True, timeout=120)
    log = open(path("progress.log")).read()
    check("--progress on a file writes whole lines", proc.returncode == 0 and "\n" in log and "\r" not in log
          and log.startswith("tern replay: ") and " events/s" in log, repr(log[-400:]))
    proc = subprocess.run(command % "" + " 2> " + path("no-progress.log"), shell=True, timeout=120)
    log = open(path("no-progress.log")).read()
    check("a stderr that is not a terminal gets no progress",
          proc.returncode == 0 and log.startswith("events 30000,"), repr(log[-400:]))

    # --- --record-case: a replay becomes a `tern test` case ------------------------------
    def run_test(case):
        r = subprocess.run([tern, "test", case], capture_output=True, timeout=300)
        return r.returncode, r.stdout.decode(errors="replace")

    case = path("case-jsonl")
    rc, got, err = replay(tern, patterns + sum((["--input", n] for n in names), []) +
                          ["--record-case", case, "--lateness", "0ms", "--dead-letter", path("dead2.jsonl")])
    files = sorted(os.listdir(case)) if os.path.isdir(case) else []
    check("record-case (three inputs, one gzip): the alerts on stdout are the replay's",
          rc == 0 and got == whole_mixed, err[-500:])
    check("record-case: the folder holds the patterns, input.jsonl, args and expected.jsonl",
          files == sorted([os.path.basename(p) for p in patterns] + ["args", "expected.jsonl", "input.jsonl"]),
          repr(files))
    check("record-case: input.jsonl is the decompressed inputs, one after the other",
          open(os.path.join(case, "input.jsonl")).read() == "".join(l + "\n" for l in mixed))
    check("record-case: args keeps the options that shape alerts and names the stream",
          open(os.path.join(case, "args")).read() == "--stream part-a --lateness 0ms\n",
          repr(open(os.path.join(case, "args")).read()))
    check("record-case: expected.jsonl holds the alerts", open(os.path.join(case, "expected.jsonl")).read() == got)
    rc, out = run_test(case)
    check("record-case: `tern test` passes on the recorded case", rc == 0 and "PASS" in out, out[-500:])
    with open(os.path.join(case, "expected.jsonl"), "w") as f:
        f.write("".join(l + "\n" for l in got.splitlines()[1:]))
    rc, out = run_test(case)
    check("record-case: the case fails when an alert goes missing from expected.jsonl",
          rc == 1 and "FAIL" in out, out[-500:])

    kcat_file = path("events.kcat.jsonl.gz")
    rc, want_kcat, _ = replay(tern, patterns + ["--input", kcat_file, "--format", "kcat", "--partitions", "cards:3"])
    case = path("case-kcat")
    rc, got, err = replay(tern, patterns + ["--input", kcat_file, "--format=kcat", "--partitions", "cards:3",
                                            "--record-case", case, "--no-progress"])
    check("record-case (kcat, gzip): the alerts are the replay's, ids included",
          rc == 0 and got == want_kcat and len(got.splitlines()) > 100, err[-500:])
    check("record-case (kcat): args keeps --format and --partitions",
          open(os.path.join(case, "args")).read() == "--format kcat --partitions cards:3\n",
          repr(open(os.path.join(case, "args")).read()))
    rc, out = run_test(case)
    check("record-case (kcat): `tern test` passes on the recorded case", rc == 0 and "PASS" in out, out[-500:])

    rc, got, err = replay(tern, patterns + ["--input", plain, "--record-case", case])
    check("record-case into a folder that is not empty: exit 1, the folder untouched",
          rc == 1 and "not an empty directory" in err and got == "" and
          open(os.path.join(case, "args")).read() == "--format kcat --partitions cards:3\n", err[-300:])
    case = path("case-missing")
    rc, got, err = replay(tern, patterns + ["--input", path("missing.jsonl"), "--record-case", case])
    check("record-case of a missing input: exit 1, no folder left",
          rc == 1 and "missing.jsonl" in err and not os.path.exists(case), err[-300:])
    rc, got, err = replay(tern, patterns + ["--input", plain, "--record-case", case, "--state", path("st")])
    check("record-case with --state: refused", rc == 1 and "--state" in err and not os.path.exists(case), err[-300:])

    if FAILED:
        print("replay_input_test: %d failed: %s" % (len(FAILED), ", ".join(FAILED)))
        print("(work dir kept: %s)" % work)
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("replay_input_test: all ok")


if __name__ == "__main__":
    main()
