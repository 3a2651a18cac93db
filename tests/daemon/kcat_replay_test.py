#!/usr/bin/env python3
"""CTest daemon_kcat_replay: what Kafka recorded, replayed (issue 16, part 4).

Usage: kcat_replay_test.py PATH/TO/tern REPO_DIR

A stream over 3 partitions of an input topic goes to the embedded broker (`tern kafka-mock`)
and `tern run` reads it, in two modes:
  unkeyed  events round-robin over the partitions, no `input.key.field`: every pattern goes
           through a repartition topic, so a key's events come from every partition and the
           daemon matches them in event-time order across its sources;
  keyed    partition = card mod 3 and `input.key.field = "card"`: the patterns keyed by card
           read the input partitions directly (each on its own watermark), the others are
           shuffled.
The input topic is then dumped with `kcat -C -J -e` and the dump replayed with
`tern replay --format kcat --partitions TOPIC:3 --open-end`: its alerts must equal the
daemon's, ids included (both sorted by id; a copy the daemon wrote twice must be identical).
They must also equal, ids aside, those of a plain `tern replay --open-end` of the stream in
time order, and the dump compressed with gzip and zstd must give the same alerts as the
plain dump. Without --partitions, a dump that holds each partition's records in one block
(kcat prints them as fetched) must warn that a partition came too late to be matched in time
order.

The patterns are tests/daemon/scaleout/*.tern: a followed_by pair and a final not_followed_by
(windows closed by the watermark) keyed by card, a greedy loop keyed by merchant, a session
with on_timeout keyed by user, and a pattern without key. Event time rises 50 ms per event
(so windows of 10-30 s span hundreds of events), strictly: no ties across partitions, no late
event. One closing event per partition, an hour later, moves every partition past every
window, so the daemon and an --open-end replay close the same windows.

Needs kcat (Debian package kcat) and, for the .zst check, the zstd command (skipped without).
"""
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

from kafka_harness import Daemon, Mock, consume, fail, kcat, produce, run_with, wait_for, without_id, write_config

PARTITIONS = 3
EVENTS = 3000
BASE_MS = 1767225600000
STEP_MS = 50
CARDS, USERS, MERCHANTS = 48, 16, 8
KINDS = [("a", 20), ("b", 15), ("login", 10), ("logout", 8), ("pay", 30), ("cash", 7), ("noise", 10)]
CLOSE_AFTER_MS = 3600 * 1000


def line(seq, ts, card, kind, amount):
    return json.dumps({"ts": ts, "seq": seq, "card": "c%02d" % card, "user": "u%02d" % (card % USERS),
                       "merchant": "m%d" % (card % MERCHANTS), "kind": kind, "amount": amount},
                      separators=(",", ":"))


def stream():
    """[(card, line)] in strictly increasing event time, then the closing events."""
    rng = random.Random(16)
    kinds, weights = zip(*KINDS)
    events = []
    for i in range(EVENTS):
        card = rng.randrange(CARDS)
        events.append((card, line(i, BASE_MS + i * STEP_MS, card, rng.choices(kinds, weights)[0],
                                  rng.randrange(1, 1000))))
    last = BASE_MS + (EVENTS - 1) * STEP_MS
    closing = [(p, line(EVENTS + p, last + CLOSE_AFTER_MS + p, p, "close", 0)) for p in range(PARTITIONS)]
    return events, closing


def produce_stream(bootstrap, topic, events, closing, keyed):
    per = {}
    for i, (card, text) in enumerate(events):
        partition = card % PARTITIONS if keyed else i % PARTITIONS
        per.setdefault(partition, []).append(("c%02d" % card, text))
    for p, text in closing:
        per.setdefault(p, []).append(("c%02d" % p, text))
    for partition, records in sorted(per.items()):
        produce(bootstrap, topic, [t for _, t in records], partition=partition,
                keys=[k for k, _ in records] if keyed else None)


def run(args, what):
    r = subprocess.run(args, capture_output=True, timeout=300)
    if r.returncode != 0:
        fail("%s exited %d: %s" % (what, r.returncode, r.stderr.decode(errors="replace")[-2000:]))
    return [l for l in r.stdout.decode().split("\n") if l], r.stderr.decode(errors="replace")


def by_id(alerts, what):
    out = {}
    for a in alerts:
        aid = json.loads(a)["id"]
        if aid in out and out[aid] != a:
            fail("%s: alert id %s written twice with different content" % (what, aid))
        out[aid] = a
    return out


def scenario(tern, repo, work, mock, name, keyed):
    topic = name + ".events"
    patterns = sorted(os.path.join(repo, "tests", "daemon", "scaleout", f)
                      for f in os.listdir(os.path.join(repo, "tests", "daemon", "scaleout")) if f.endswith(".tern"))
    events, closing = stream()
    produce_stream(mock.bootstrap, topic, events, closing, keyed)
    config = os.path.join(work, name + ".toml")
    write_config(config, mock.bootstrap, name, patterns, events_topic=topic,
                 input_options={"key.field": '"card"'} if keyed else None)
    daemon = Daemon(tern, config, os.path.join(work, name + ".log"))

    # What Kafka recorded, as kcat prints it.
    dump = os.path.join(work, name + ".kcat.jsonl")
    with open(dump, "wb") as f:
        r = subprocess.run([kcat(), "-b", mock.bootstrap, "-t", topic, "-C", "-J", "-e", "-q", "-o", "beginning"],
                           stdout=f, stderr=subprocess.PIPE, timeout=60)
    if r.returncode != 0:
        fail("kcat -C -J: " + r.stderr.decode(errors="replace"))
    records = [json.loads(l) for l in open(dump) if l.strip()]
    if len(records) != EVENTS + PARTITIONS:
        fail("the dump holds %d records, %d were produced" % (len(records), EVENTS + PARTITIONS))
    base = [tern, "replay"] + patterns + ["--format", "kcat", "--open-end"]
    replayed, _ = run(base + ["--input", dump, "--partitions", "%s:%d" % (topic, PARTITIONS)], "tern replay --format kcat")
    want = by_id(replayed, "replay")
    if len(want) != len(replayed):
        fail("tern replay --format kcat wrote %d alerts under %d ids" % (len(replayed), len(want)))
    kinds = Counter(json.loads(a)["pattern"] for a in replayed)
    if len(kinds) < 5:
        fail("the stream should give alerts of all 5 patterns; replay gives %r" % dict(kinds))

    # The daemon's alerts, every one of them, then nothing more.
    wait_for("the daemon's %d alerts" % len(want),
             lambda: set(want) <= set(by_id(consume(mock.bootstrap, name + ".alerts"), "daemon")), timeout=120)
    time.sleep(1.0)
    daemon.stop()
    got = by_id(consume(mock.bootstrap, name + ".alerts"), "daemon")
    if sorted(got.items()) != sorted(want.items()):
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        differ = sorted(i for i in set(got) & set(want) if got[i] != want[i])
        fail("%s: daemon and kcat replay differ: %d missing from the daemon (%s), %d extra (%s), %d differ (%s)"
             % (name, len(missing), [want[i] for i in missing[:2]], len(extra), [got[i] for i in extra[:2]],
                len(differ), [(got[i], want[i]) for i in differ[:1]]))

    # The same alerts as a plain replay of the stream in time order (ids aside: positions there
    # are line numbers).
    plain = os.path.join(work, name + ".jsonl")
    with open(plain, "w") as f:
        f.write("".join(t + "\n" for _, t in events + closing))
    lines, _ = run([tern, "replay"] + patterns + ["--input", plain, "--open-end"], "tern replay")
    if Counter(map(without_id, lines)) != Counter(map(without_id, replayed)):
        fail("%s: the kcat replay's alerts differ from a plain replay's (ids aside)" % name)

    # Compressed dumps: the same alerts.
    with open(dump, "rb") as f, gzip.open(dump + ".gz", "wb") as g:
        shutil.copyfileobj(f, g)
    compressed = [dump + ".gz"]
    if shutil.which("zstd"):
        subprocess.run(["zstd", "-q", "-f", dump, "-o", dump + ".zst"], check=True)
        compressed.append(dump + ".zst")
    for path in compressed:
        again, _ = run(base + ["--input", path, "--partitions", "%s:%d" % (topic, PARTITIONS)], "replay " + path)
        if again != replayed:
            fail("%s: %s gives other alerts than the plain dump" % (name, os.path.basename(path)))

    # Without --partitions: a partition whose records all come after the others' is matched
    # after them, and replay says so (only when kcat printed the partitions in blocks).
    order = [r["partition"] for r in records]
    blocks = sum(1 for a, b in zip(order, order[1:]) if a != b) + 1
    _, log = run(base + ["--input", dump], "tern replay --format kcat without --partitions")
    warned = "name the partitions up front with --partitions" in log
    if blocks == PARTITIONS and not warned:
        fail("%s: the dump has each partition in one block, and replay without --partitions did not warn:\n%s"
             % (name, log))
    print("kcat_replay_test: %s ok: %d alerts (%s) of the daemon equal the kcat dump's replay, ids included; "
          "a plain replay's ids aside; %s the same; the dump has %d partition blocks%s"
          % (name, len(want), ", ".join("%s %d" % kv for kv in sorted(kinds.items())),
             " and ".join(os.path.splitext(p)[1] for p in compressed), blocks,
             ", replay without --partitions warned" if warned else ""), flush=True)


def main():
    if len(sys.argv) != 3:
        fail("usage: kcat_replay_test.py TERN REPO")
    tern, repo = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="tern-kcat-replay-")
    topics = []
    for name in ("ku", "kk"):
        topics += ["%s.events:%d" % (name, PARTITIONS)] + ["%s.%s:1" % (name, t) for t in ("alerts", "late", "dead")]
    mock = Mock(tern, topics)
    run_with(mock, work, lambda: (scenario(tern, repo, work, mock, "ku", keyed=False),
                                  scenario(tern, repo, work, mock, "kk", keyed=True)))


if __name__ == "__main__":
    main()
