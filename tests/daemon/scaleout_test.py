#!/usr/bin/env python3
"""CTest daemon_scaleout, and scripts/scaleout.sh for the whole matrix (issue 14): instances of
`tern run` in one consumer group, coming and going while a stream is produced, give the
alerts of one instance and of `tern replay`.

Usage: scaleout_test.py TERN REPO [--scenarios LIST] [--modes LIST] [--assignors LIST]
                        [--instances LIST] [--partitions LIST] [--events N] [--key-field auto|yes|no]
                        [--state [--checkpoint-interval D]] [--log-level L] [--keep]

Each run starts an embedded broker (`tern kafka-mock`) of its own, with the input topic of
P partitions, and instances A, B, C of `tern run` in group "so" with the patterns of
tests/daemon/scaleout/. The stream goes in three phases: phase 1 at once, phase 2 trickled
at a steady rate while an instance joins or leaves (so that a pause in processing shows as
a gap between alerts), phase 3 and one closing event per partition at once.

Scenarios (n = --instances):
  scale_out           n-1 instances; the n-th joins during phase 2.
  failover            n instances; kill -9 of the last one during phase 2.
  kill_producing      n instances; kill -9 of the last one right after its counter of
                      repartitioned records (else of events) moved, i.e. while it is busy
                      producing to the repartition topics.
  scale_in            n instances; SIGTERM of the last one during phase 2 (it must exit 0).
  scale_out_failover  n-1 instances; the n-th joins during phase 2, and once it has its
                      partitions, kill -9 of it (its partitions go back).
Before the scenarios of a (mode, partitions), a one-instance run over the same stream gives
the reference ids (row `one_instance`, checked against replay like the others).

Modes:
  keyed    message key = the card, partition = card number mod P (the test's own
           partitioner, produced with kcat -p), and `input.key.field = "card"`: `pair` and
           `quiet` read the input partitions directly, the others go through repartition
           topics. Users and merchants are co-partitioned with cards (a user's or
           merchant's cards are all on one partition), so each key of every pattern gets
           its events from one source partition, in order, whatever the instances do.
  unkeyed  no message key, events spread round-robin over the partitions, `input.key.field`
           unset: every pattern goes through the shuffle, and a key's events come from every
           partition. Alerts equal replay's only if the daemon matches the events of a
           repartition partition in event-time order across its sources (the `big` pattern
           has one stage so that its alerts never depend on that order).
Assignors: `[kafka.consumer] "partition.assignment.strategy"`, cooperative-sticky or range
(eager).

Checks per run (a failed one fails the run; the script exits 1 if any run failed):
  - the alerts read from the alerts topic, deduplicated by id, equal those of
    `tern replay --open-end` over the stream in produce order (ids aside): 0 missing and
    0 extra; two copies of one id must be identical;
  - their ids equal those of the one-instance run (same mode and partitions);
  - the committed offset of every input and repartition partition, read from outside
    every 100 ms by a consumer of the group that never subscribes (so never joins: the
    run fails if its librdkafka log shows it joining), never decreases;
  - an instance not stopped by the test is still running, and SIGTERM exits 0.
Reported: duplicate copies; "max pause": per join or leave, the longest time one input
partition's records went unprocessed (gaps between the alerts they completed, by their
tern-produced-us headers) from just before it until the end of phase 2, against the
longest gap before it (the trickle spaces alerts by a few hundred ms); late events. Settling: after phase 3 the run waits until the committed offsets of the input
partitions reach their ends and the alerts topic has not changed for 3 s (at most
SETTLE_TIMEOUT); the comparison is made either way.

Durable state (--state, issue 15): every instance (the one-instance reference too) gets a
state directory of its own, `[state] dir = "<run>/state-<instance>"` (never shared), and
`checkpoint.interval = --checkpoint-interval` (default 200ms). The changelog topics,
so.tern.changelog.<topic>, are in the broker's topic list with as many partitions as their
topic: P for the input topic (state partitions with input.key.field) and 4 for each
repartition topic (the mock does not create topics on request: it auto-creates the
repartition topics, and would auto-create the changelogs, with 4 partitions). Every check
above holds, and per join or leave (from the instances' logs, their UTC time stamps and
the alerts' tern-produced-us headers):
  - moved: the state partitions the leaving instance owned (or the joining one got). Each
    one's new owner is its first assignment after the change. If that assignment has a
    committed offset, a restore of the partition's state precedes it ("state of
    checkpoint N restored from ..."), from the changelog when that owner never had the
    partition before (its state dir cannot hold it). A partition moved with nothing
    committed (no checkpoint committed yet: reported) is read from the start instead;
  - a changelog restore of the run brought back partial matches (or, unkeyed, events of a
    reorder buffer waiting for the other sources' time);
  - carried: alerts the new owner produced after it got a moved partition that bind an
    event of that partition below the offset it started reading at: partial matches the
    old owner checkpointed and the new owner completed, since it never read those records.
    At least one per kill -9 or SIGTERM whose moved partitions brought partial matches. An
    event's offset in a repartition partition comes from the repartition topic (headers
    tern-src-partition and tern-src-offset; every copy must be below).
Reported: changelog restores, partial matches they brought back, and carried alerts.

Each run writes its topics (alerts, input, repartition and, with --state, the changelogs'
keys) to <run>/<topic>.dump before the broker stops; the run directory (instance logs,
state dirs, dumps) is kept when the run fails, or always with --keep. --log-level debug
logs every durable checkpoint.

Needs kcat (Debian package kcat) and python3-confluent-kafka (built on the system
librdkafka); scripts/install-deps.sh installs both.
"""
import argparse
import calendar
import json
import logging
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

from kafka_harness import (Daemon, Mock, consume, fail, kcat, metrics_text, probe, produce, replay,
                           wait_for, without_id, write_config)

try:
    import confluent_kafka
except ImportError:
    # CMake may have found another interpreter (pyenv, a venv) than the system one the
    # Debian package installs for; the same CPython minor version can load it.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import confluent_kafka
    except ImportError:
        fail("python3-confluent-kafka is not installed (scripts/install-deps.sh installs it)")

GROUP = "so"
EVENTS_TOPIC = "so.events"
ALERTS_TOPIC = "so.alerts"
REPARTITION_PREFIX = GROUP + ".tern.repartition."
SETTLE_TIMEOUT = 120.0  # s: phase 3 consumed, commits at the end, alerts quiet
QUIET = 3.0             # s without a new alert before the alerts count as final
STUCK = 15.0            # s with nothing happening (settle): final even if the commits never reach the end
WATCH_PERIOD = 0.1      # s between two reads of the committed offsets
PHASE2_SECONDS = 8.0    # the trickle around one join or leave
CHANGE_AT = 2.5         # s into the trickle: the join or leave (gaps before it are the baseline)

# The stream. Event time advances STEP_MS per event, so the windows (10-30 s) span
# hundreds of events and many close during each phase, as instances come and go.
BASE_MS = 1767225600000
STEP_MS = 50
CARDS, USERS, MERCHANTS = 48, 16, 8  # the partition counts used divide USERS and MERCHANTS
KINDS = [("a", 20), ("b", 15), ("login", 10), ("logout", 8), ("pay", 30), ("cash", 7), ("noise", 10)]
CLOSE_AFTER_MS = 3600 * 1000  # past every window
TIMER_PATTERNS = {"quiet"}  # its matches are fired by time (a closing window), not by a record
KEY_OF = {"pair": "card", "quiet": "card", "burst": "merchant", "session": "user", "big": ""}  # "": no key
CHANGELOG_PREFIX = GROUP + ".tern.changelog."
MOCK_AUTO_PARTITIONS = 4  # what the mock auto-creates a topic with (so every repartition topic)
LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z \w+ tern: (.*)$")


class Stream:
    """N events in strict event-time order, then one closing event per input partition.

    Windows close by event time. In `tern replay` that is the time of the whole file; in the
    daemon a partition's windows close by its own sources' time (an input partition's own
    records on the direct path; on the shuffle, the smallest watermark of the sources that
    write to a repartition partition). A stream that just stopped would leave different
    windows open in the two. The closing events, an hour after the last event, one on each
    input partition and produced last, move every source past every window, so every
    window closes in the daemon, and (with --open-end, which closes nothing at the end of
    the file) exactly the same ones close in replay. Strict time order per partition means
    no event is late, in either."""

    def __init__(self, events, partitions):
        if USERS % partitions or MERCHANTS % partitions:
            fail("%d partitions: they must divide %d users and %d merchants (co-partitioning)"
                 % (partitions, USERS, MERCHANTS))
        rng = random.Random(14)
        kinds, weights = zip(*KINDS)
        self.partitions = partitions
        self.events = []  # (card number, JSON line)
        for i in range(events):
            card = rng.randrange(CARDS)
            kind = rng.choices(kinds, weights)[0]
            self.events.append((card, self.line(i, BASE_MS + i * STEP_MS, card, kind, rng.randrange(1, 1000))))
        last = BASE_MS + (events - 1) * STEP_MS
        # Card p lives on partition p in keyed mode; unkeyed, closing event p is sent to p.
        self.closing = [(p, self.line(events + p, last + CLOSE_AFTER_MS + p, p, "close", 0))
                        for p in range(partitions)]

    @staticmethod
    def line(seq, ts, card, kind, amount):
        return json.dumps({"ts": ts, "seq": seq, "card": "c%02d" % card, "user": "u%02d" % (card % USERS),
                           "merchant": "m%d" % (card % MERCHANTS), "kind": kind, "amount": amount},
                          separators=(",", ":"))

    def lines(self):
        """Every record in produce order (the order replay reads)."""
        return [line for _, line in self.events] + [line for _, line in self.closing]

    def route(self, index, card, mode):
        """(partition, message key or None) of event `index`."""
        if mode == "keyed":
            return card % self.partitions, "c%02d" % card
        return index % self.partitions, None

    def positions(self, mode):
        """(input partition, offset) of every record by seq (events, then the closing ones):
        each partition gets its records in seq order."""
        out, count = [], Counter()
        for i, (card, _) in enumerate(self.events):
            partition, _ = self.route(i, card, mode)
            out.append((partition, count[partition]))
            count[partition] += 1
        for partition, _ in self.closing:
            out.append((partition, count[partition]))
            count[partition] += 1
        return out

    def phases(self):
        """Index ranges of phases 1, 2 (the trickle) and 3."""
        n = len(self.events)
        return (0, n * 35 // 100), (n * 35 // 100, n * 65 // 100), (n * 65 // 100, n)


def produce_bulk(bootstrap, stream, mode, first, last, closing=False):
    """Events [first, last) at once, per partition in time order (kcat, one call per partition)."""
    per = {}
    for i in range(first, last):
        card, line = stream.events[i]
        partition, key = stream.route(i, card, mode)
        per.setdefault(partition, []).append((key, line))
    if closing:
        for partition, line in stream.closing:
            per.setdefault(partition, []).append(("c%02d" % partition if mode == "keyed" else None, line))
    for partition, records in sorted(per.items()):
        produce(bootstrap, EVENTS_TOPIC, [line for _, line in records], partition=partition,
                keys=[key for key, _ in records] if mode == "keyed" else None)


class Trickle(threading.Thread):
    """Events [first, last) at a steady rate over `seconds`, through one long-lived kcat
    producer per partition, so that alerts keep coming while instances join and leave."""

    def __init__(self, bootstrap, stream, mode, first, last, seconds):
        super().__init__(daemon=True)
        self.stream, self.mode, self.first, self.last, self.seconds = stream, mode, first, last, seconds
        self.kcats = {}
        for p in range(stream.partitions):
            args = [kcat(), "-b", bootstrap, "-t", EVENTS_TOPIC, "-P", "-p", str(p), "-z", "none"]
            if mode == "keyed":
                args += ["-K", "\t"]
            self.kcats[p] = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started_at = None
        self.error = None

    def run(self):
        ticks = max(1, int(self.seconds / 0.1))
        count = self.last - self.first
        self.started_at = time.time()
        try:
            for tick in range(ticks):
                lo, hi = self.first + count * tick // ticks, self.first + count * (tick + 1) // ticks
                for i in range(lo, hi):
                    card, line = self.stream.events[i]
                    partition, key = self.stream.route(i, card, self.mode)
                    self.kcats[partition].stdin.write(line + "\n" if key is None else "%s\t%s\n" % (key, line))
                for k in self.kcats.values():
                    k.stdin.flush()
                time.sleep(max(0.0, self.started_at + (tick + 1) * 0.1 - time.time()))
        except OSError as e:
            self.error = "trickle: %s" % e
        for p, k in self.kcats.items():
            k.stdin.close()
            if k.wait(timeout=60) != 0:
                self.error = "kcat producing to partition %d: %s" % (p, k.stderr.read())

    def finish(self):
        self.join(timeout=self.seconds + 90)
        if self.is_alive() or self.error:
            fail(self.error or "the trickle did not finish")


class JoinDetector(logging.Handler):
    """Counts the watcher's librdkafka cgrp log lines that show it joining the group."""

    def __init__(self):
        super().__init__()
        self.joins = []

    def emit(self, record):
        message = record.getMessage()
        if "JoinGroup" in message or re.search(r"join-state (?!init\b)", message):
            self.joins.append(message)


class OffsetWatcher(threading.Thread):
    """Reads the group's committed offset of every input and repartition partition every
    WATCH_PERIOD, from a consumer with the group id that never subscribes: librdkafka then
    only looks up the coordinator and sends OffsetFetch; it never joins, so the group never
    rebalances because of it (checked: JoinDetector)."""

    def __init__(self, bootstrap, partitions):
        super().__init__(daemon=True)
        self.detector = JoinDetector()
        logger = logging.getLogger("scaleout.watcher")
        logger.propagate = False
        logger.addHandler(self.detector)
        logger.setLevel(logging.DEBUG)
        self.consumer = confluent_kafka.Consumer({
            "bootstrap.servers": bootstrap, "group.id": GROUP, "enable.auto.commit": False,
            "debug": "cgrp", "logger": logger})
        self.partitions = [(EVENTS_TOPIC, p) for p in range(partitions)]
        self.last = {}        # (topic, partition) -> last committed offset seen
        self.decreases = []   # (seconds into the run, topic, partition, from, to)
        self.reads = 0
        self.errors = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.t0 = time.time()

    def discover(self):
        try:
            topics = self.consumer.list_topics(timeout=5).topics
        except confluent_kafka.KafkaException:
            return
        found = [(t, p) for t, meta in topics.items() if t.startswith(REPARTITION_PREFIX) for p in meta.partitions]
        with self.lock:
            for tp in sorted(found):
                if tp not in self.partitions:
                    self.partitions.append(tp)

    def run(self):
        next_discovery = 0.0
        while not self.stopping.is_set():
            if time.monotonic() >= next_discovery:
                self.discover()
                next_discovery = time.monotonic() + 1.0
            with self.lock:
                tps = [confluent_kafka.TopicPartition(t, p) for t, p in self.partitions]
            try:
                committed = self.consumer.committed(tps, timeout=5)
            except confluent_kafka.KafkaException:
                self.errors += 1
                committed = []
            self.consumer.poll(0)  # serves the log callback
            for tp in committed:
                if tp.error or tp.offset < 0:
                    continue
                key = (tp.topic, tp.partition)
                with self.lock:
                    before = self.last.get(key)
                    if before is not None and tp.offset < before:
                        self.decreases.append((time.time() - self.t0, tp.topic, tp.partition, before, tp.offset))
                    self.last[key] = tp.offset
            self.reads += 1
            self.stopping.wait(WATCH_PERIOD)

    def committed(self):
        with self.lock:
            return dict(self.last)

    def end_offsets(self, topic, partitions):
        ends = {}
        for p in range(partitions):
            _, high = self.consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=5)
            ends[(topic, p)] = high
        return ends

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)
        self.consumer.close()


def metric_values(log_path, pattern):
    """{series: value} of the metrics whose series (name and labels) matches `pattern`."""
    out = {}
    for line in (metrics_text(log_path) or "").split("\n"):
        m = re.match(r"^(\S+) (\S+)$", line)
        if m and re.search(pattern, m.group(1)):
            out[m.group(1)] = float(m.group(2))
    return out


class Instance:
    def __init__(self, run, name):
        self.run, self.name = run, name
        self.config = os.path.join(run.work, name + ".toml")
        self.log = os.path.join(run.work, name + ".log")
        consumer = {"partition.assignment.strategy": '"%s"' % run.assignor}
        inputs = {"idle": '"%s"' % run.args.idle}
        if run.declare_key:
            inputs["key.field"] = '"card"'
        extra = ""
        if run.args.state:
            self.state_dir = os.path.join(run.work, "state-" + name)
            extra = '[state]\ndir = "%s"\ncheckpoint.interval = "%s"\n' % (self.state_dir,
                                                                             run.args.checkpoint_interval)
        write_config(self.config, run.mock.bootstrap, GROUP, [os.path.join(run.args.repo, "tests", "daemon",
                                                                           "scaleout", "*.tern")],
                     events_topic=EVENTS_TOPIC, consumer=consumer, input_options=inputs,
                     log_level=run.args.log_level, extra=extra)
        self.daemon = Daemon(run.args.tern, self.config, self.log)
        self.gone = False  # stopped or killed by the test

    def running(self):
        return self.daemon.proc.poll() is None

    def wait_ready(self):
        """/readyz 200: running, brokers reached, its partitions assigned."""
        wait_for("%s ready (/readyz 200)" % self.name,
                 lambda: probe(self.log, "/readyz")[0] == 200 or not self.running(), timeout=90)
        if not self.running():
            fail("%s exited with status %s before it was ready" % (self.name, self.daemon.proc.returncode))

    def busy_counter(self):
        """Its count of records produced to repartition topics when it has one, else of events."""
        values = metric_values(self.log, r"^tern_repartition\w*out\w*")
        if values:
            return sum(values.values())
        values = metric_values(self.log, r"^tern_events_total$")
        return sum(values.values()) if values else None

    def lags(self):
        return metric_values(self.log, r"^tern_consumer_lag\{")

    def events(self):
        """[(wall time s, what, (topic, partition), detail)] of its log: "assigned" (detail: the
        committed offset it reads from, None if nothing was committed), "revoked", "lost", and
        "restored" (detail: ("changelog" | "local", partial matches, the checkpoint's offset
        when it differs from the committed one, else None, events))."""
        out = []
        try:
            lines = open(self.log).read().splitlines()
        except OSError:
            return out
        for line in lines:
            m = LOG_LINE.match(line)
            if not m:
                continue
            when = calendar.timegm(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) + int(m.group(1)[20:]) / 1000.0
            text = m.group(2)
            r = re.match(r"partition (\S+)\[(\d+)\] (assigned|revoked|lost)\b(?:.* from offset (\d+)$)?", text)
            if r:
                out.append((when, r.group(3), (r.group(1), int(r.group(2))),
                            int(r.group(4)) if r.group(4) is not None else None))
                continue
            r = re.match(r"partition (\S+)\[(\d+)\]: state of checkpoint \d+ restored from (the changelog|the local "
                         r"store).*?: \d+ keys, (\d+) partial matches, (\d+) events"
                         r"(?:; its offset (\d+) differs)?", text)
            if r:
                out.append((when, "restored", (r.group(1), int(r.group(2))),
                            ("changelog" if r.group(3) == "the changelog" else "local", int(r.group(4)),
                             int(r.group(6)) if r.group(6) is not None else None, int(r.group(5)))))
        return out

    def owned_at(self, when):
        """The partitions it owned at wall time `when`, by its log."""
        owned = set()
        for t, what, tp, _ in self.events():
            if t > when:
                break
            if what == "assigned":
                owned.add(tp)
            elif what in ("revoked", "lost"):
                owned.discard(tp)
        return owned


class Run:
    """One scenario, mode, assignor, instance count and partition count, on a broker of its own."""

    def __init__(self, args, stream, scenario, mode, assignor, instances, partitions):
        self.args, self.stream, self.scenario, self.mode = args, stream, scenario, mode
        self.assignor, self.n, self.partitions = assignor, instances, partitions
        self.declare_key = mode == "keyed" and args.declare_key
        self.work = tempfile.mkdtemp(prefix="tern-scaleout-")
        topics = ["%s:%d" % (EVENTS_TOPIC, partitions), ALERTS_TOPIC + ":1", "so.late:1", "so.dead:1"]
        if args.state:
            # One changelog partition per state partition (the daemon refuses fewer).
            if self.declare_key:
                topics.append("%s%s:%d" % (CHANGELOG_PREFIX, EVENTS_TOPIC, partitions))
            for key in sorted(set(KEY_OF.values())):
                if key != "card" or not self.declare_key:
                    topics.append("%s%s:%d" % (CHANGELOG_PREFIX, self.route_topic(key), MOCK_AUTO_PARTITIONS))
        self.mock = Mock(args.tern, topics)
        self.watcher = OffsetWatcher(self.mock.bootstrap, partitions)
        self.instances = []
        self.changes = []  # (wall time s, "join B" / "kill -9 B" / "SIGTERM B")
        self.moves = []  # (instance, "join" | "kill" | "term", wall time s just before it)
        self.trickle_span = None
        self.notes = []

    # ------------------------------------------------------------------ steps
    def route_topic(self, key):
        """The topic whose partitions own the state of the patterns keyed by `key`."""
        if key == "card" and self.declare_key:
            return EVENTS_TOPIC
        return REPARTITION_PREFIX + (key or "global")

    def start(self, change=False):
        inst = Instance(self, "ABCDEFGH"[len(self.instances)])
        self.instances.append(inst)
        if change:
            self.changes.append((time.time(), "join " + inst.name))
            self.moves.append((inst, "join", self.changes[-1][0]))
        return inst

    def kill(self, inst):
        self.changes.append((time.time(), "kill -9 " + inst.name))
        self.moves.append((inst, "kill", self.changes[-1][0]))
        inst.daemon.kill()
        inst.gone = True

    def terminate(self, inst):
        self.changes.append((time.time(), "SIGTERM " + inst.name))
        self.moves.append((inst, "term", self.changes[-1][0]))
        inst.daemon.stop()  # fails the run unless it exits 0 within 30 s
        inst.gone = True

    def live(self):
        return [i for i in self.instances if not i.gone]

    def phase1(self):
        (lo, hi), _, _ = self.stream.phases()
        produce_bulk(self.mock.bootstrap, self.stream, self.mode, lo, hi)
        self.wait_consumed(hi - lo)

    def wait_consumed(self, records):
        """The live instances have read every input record so far (lag 0 on each input partition)."""
        def caught_up():
            seen = {}
            for inst in self.live():
                for series, value in inst.lags().items():
                    m = re.search(r'topic="%s",partition="(\d+)"' % re.escape(EVENTS_TOPIC), series)
                    if m:
                        seen[int(m.group(1))] = min(value, seen.get(int(m.group(1)), value))
            return len(seen) == self.partitions and all(v == 0 for v in seen.values())
        wait_for("the instances to read the %d records of phase 1 (lag 0 on every input partition)" % records,
                 caught_up, timeout=90)

    def trickle(self, seconds, during):
        """Phase 2 over `seconds`; `during(trickle)` runs meanwhile (the joins and leaves)."""
        _, (lo, hi), _ = self.stream.phases()
        t = Trickle(self.mock.bootstrap, self.stream, self.mode, lo, hi, seconds)
        t.start()
        try:
            during(t)
        finally:
            t.finish()
        self.trickle_span = (t.started_at, time.time())

    def at(self, trickle, seconds):
        """Waits until `seconds` into the trickle."""
        while trickle.started_at is None:
            time.sleep(0.01)
        time.sleep(max(0.0, trickle.started_at + seconds - time.time()))

    def phase3(self):
        _, _, (lo, hi) = self.stream.phases()
        produce_bulk(self.mock.bootstrap, self.stream, self.mode, lo, hi, closing=True)

    def settle(self):
        """Until the input partitions' commits reach their ends and no alert came for QUIET s
        (or nothing happened for STUCK s: no alert, no commit, no line in a live instance's
        log (a restore on a loaded machine can take seconds per partition); commits that stay
        behind are reported, and do not slow the run down to SETTLE_TIMEOUT)."""
        ends = self.watcher.end_offsets(EVENTS_TOPIC, self.partitions)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        count, changed = -1, time.monotonic()
        activity, active = None, time.monotonic()
        while time.monotonic() < deadline:
            n = len(consume(self.mock.bootstrap, ALERTS_TOPIC))
            if n != count:
                count, changed = n, time.monotonic()
            committed = self.watcher.committed()
            now = (n, sorted(committed.items()), [os.path.getsize(i.log) for i in self.live()])
            if now != activity:
                activity, active = now, time.monotonic()
            at_end = all(committed.get(tp, -1) >= end for tp, end in ends.items())
            if at_end and time.monotonic() - changed >= QUIET:
                return
            if time.monotonic() - active >= STUCK:
                break
            if not self.live():
                break
            time.sleep(0.5)
        committed = self.watcher.committed()
        behind = ["%s[%d] %s of %d" % (t, p, committed.get((t, p), "nothing"), end)
                  for (t, p), end in sorted(ends.items()) if committed.get((t, p), -1) < end]
        if behind:
            self.notes.append("commits never reached the end of the input: " + ", ".join(behind))
        elif time.monotonic() >= deadline:
            self.notes.append("alerts still coming after %d s" % SETTLE_TIMEOUT)

    def dump(self):
        """Every record of the alerts, input and repartition topics (partition, offset, timestamp,
        headers, key, value) to <run>/<topic>.dump, kept with the logs when the run fails; with
        --state, the changelogs' too (partition, offset, tern-ckpt, key in hex, value size)."""
        topics = [ALERTS_TOPIC, EVENTS_TOPIC] + sorted({t for t, _ in self.watcher.partitions} - {EVENTS_TOPIC})
        for topic in topics:
            r = subprocess.run([kcat(), "-b", self.mock.bootstrap, "-t", topic, "-C", "-e", "-q", "-o", "beginning",
                                "-f", "%p\t%o\t%T\t%h\t%k\t%s\n"], text=True, capture_output=True, timeout=60)
            with open(os.path.join(self.work, topic + ".dump"), "w") as f:
                f.write(r.stdout)
        if not self.args.state:
            return
        consumer = confluent_kafka.Consumer({"bootstrap.servers": self.mock.bootstrap, "group.id": "so-dump",
                                             "enable.auto.commit": False, "enable.partition.eof": True})
        try:
            metadata = consumer.list_topics(timeout=10).topics
            for topic in sorted(t for t in metadata if t.startswith(CHANGELOG_PREFIX)):
                parts = sorted(metadata[topic].partitions)
                consumer.assign([confluent_kafka.TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                                 for p in parts])
                records, at_end, deadline = [], set(), time.monotonic() + 30
                while len(at_end) < len(parts) and time.monotonic() < deadline:
                    m = consumer.poll(0.5)
                    if m is None:
                        continue
                    if m.error():
                        if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                            at_end.add(m.partition())
                        continue
                    ckpt = dict(m.headers() or []).get("tern-ckpt", b"").decode()
                    records.append("%d\t%d\t%s\t%s\t%s\n" % (m.partition(), m.offset(), ckpt, (m.key() or b"").hex(),
                                                            "delete" if m.value() is None else len(m.value())))
                with open(os.path.join(self.work, topic + ".dump"), "w") as f:
                    f.writelines(records)
        except confluent_kafka.KafkaException as e:
            self.notes.append("dumping the changelogs: %s" % e)
        finally:
            consumer.close()

    # ------------------------------------------------------------------ results
    def pauses(self, copies):
        """Per join or leave: the longest time without processing of one input partition's
        records from 0.5 s before it until 0.5 s before the next one (or the end of the
        trickle), and the longest such gap before it (the baseline, as the trickle spaces
        alerts). Processing shows as alerts: a `match` of a pattern completed by an arriving
        record (not fired by time) was produced (header tern-produced-us) when its last bound
        event was processed, directly or after the shuffle, and the test knows that event's
        input partition. Per partition, because with the cooperative assignor the partitions
        that do not move keep working through a rebalance."""
        out = []
        if self.trickle_span is None:
            return out
        per = {}  # input partition -> wall times (s) of alerts its records completed
        for headers, value in copies:
            if "tern-produced-us" not in headers:
                continue
            a = json.loads(value)
            if a["kind"] != "match" or a["pattern"] in TIMER_PATTERNS:
                continue
            seq = max(e["seq"] for events in a["events"].values() for e in events)
            if seq < len(self.stream.events):
                partition, _ = self.stream.route(seq, self.stream.events[seq][0], self.mode)
                per.setdefault(partition, []).append(int(headers["tern-produced-us"]) / 1e6)
        start, end = self.trickle_span
        changes = [(w, what) for w, what in self.changes if start <= w <= end]
        for k, (when, what) in enumerate(changes):
            until = changes[k + 1][0] - 0.5 if k + 1 < len(changes) else end
            longest, base = (0.0, None), 0.0
            for partition, times in per.items():
                window = [start + 0.5] + sorted(t for t in times if start + 0.5 < t < until) + [until]
                for a, b in zip(window, window[1:]):
                    if b > when - 0.5:
                        longest = max(longest, (b - a, partition))
                    else:
                        base = max(base, b - a)
            out.append((what, when - start, longest[0], longest[1], base))
        return out

    def persistence(self, copies, copied):
        """The checks of --state (see the top of the file). `copied`: {repartition topic:
        {(input partition, offset): [(partition, offset) of its copies]}}. Returns (failures,
        changelog restores, partial matches they restored, carried alerts, detail lines)."""
        failures, details = [], []
        logs = {inst.name: inst.events() for inst in self.instances}
        from_changelog = [how for inst in self.instances for _, what, _, how in logs[inst.name]
                          if what == "restored" and how[0] == "changelog"]
        restored_pm = sum(how[1] for how in from_changelog)
        if self.moves and not from_changelog:
            failures.append("no partition was restored from the changelog")
        elif self.moves and restored_pm == 0 and sum(how[3] for how in from_changelog) == 0:
            # (Unkeyed, a repartition partition's state may be all in its reorder buffer.)
            failures.append("%d restores from the changelog, none with a partial match or an event"
                            % len(from_changelog))
        state_topics = {self.route_topic(k) for k in KEY_OF.values()}
        positions = self.stream.positions(self.mode)
        alerts = []  # (produced s, route topic, [seq of its events])
        for headers, value in copies:
            if "tern-produced-us" in headers:
                a = json.loads(value)
                alerts.append((int(headers["tern-produced-us"]) / 1e6, self.route_topic(KEY_OF[a["pattern"]]),
                               [e["seq"] for events in a["events"].values() for e in events]))

        def offsets_in(topic, seq):
            """[(partition, offset)] of record `seq` in `topic` (copies included)."""
            if topic == EVENTS_TOPIC:
                return [positions[seq]]
            return copied.get(topic, {}).get(positions[seq], [])

        carried_total = 0
        for k, (inst, kind, before) in enumerate(self.moves):
            until = self.moves[k + 1][2] if k + 1 < len(self.moves) else float("inf")
            if kind == "join":
                moved = {tp for t, what, tp, _ in logs[inst.name] if what == "assigned" and before <= t < until}
                owners = [inst.name]
            else:
                moved = inst.owned_at(before)
                owners = [i.name for i in self.instances if i is not inst]
            lines, carried, restored_here, uncommitted = [], set(), 0, []
            for tp in sorted(t for t in moved if t[0] in state_topics):
                # Its new owner: the first assignment of it after the change.
                assigned = [(t, name, start) for name in owners for t, what, rtp, start in logs[name]
                            if what == "assigned" and rtp == tp and before <= t < until]
                if not assigned:
                    failures.append("%s %s: %s[%d] was assigned to no instance after it" % (kind, inst.name, *tp))
                    continue
                at, owner, start = min(assigned)
                if start is None:
                    uncommitted.append("%s[%d]" % (tp[0].replace(REPARTITION_PREFIX, "rp."), tp[1]))
                    continue
                restores = [(t, how) for t, what, rtp, how in logs[owner]
                            if what == "restored" and rtp == tp and before <= t <= at]
                if not restores:
                    failures.append("%s %s: %s[%d] assigned to %s at committed offset %d, with no restore of its "
                                    "state" % (kind, inst.name, tp[0], tp[1], owner, start))
                    continue
                source, pm, position, _ = restores[-1][1]
                start = position if position is not None else start  # where it reads from
                restored_here += pm
                had = any(what == "assigned" and rtp == tp and t < before for t, what, rtp, _ in logs[owner])
                if source != "changelog" and not had:
                    failures.append("%s %s: %s[%d] restored by %s, which never had it, from the %s"
                                    % (kind, inst.name, tp[0], tp[1], owner, source))
                # Alerts it produced that bind a record it never read (below where it started).
                mine = 0
                for produced, topic, seqs in alerts:
                    if topic != tp[0] or not at < produced < until:
                        continue
                    for seq in seqs:
                        offsets = [off for partition, off in offsets_in(topic, seq) if partition == tp[1]]
                        if offsets and max(offsets) < start:
                            carried.add((produced, topic, tuple(seqs)))
                            mine += 1
                            break
                lines.append("%s[%d] -> %s (%s, %d partial matches, from offset %d; %d carried)"
                             % (tp[0].replace(REPARTITION_PREFIX, "rp."), tp[1], owner, source, pm, start, mine))
            carried_total += len(carried)
            details.append("  %s %s: %d state partitions moved with a checkpoint, %d partial matches restored, "
                           "%d alerts carried: %s%s" % (kind, inst.name, len(lines), restored_here, len(carried),
                                                        "; ".join(lines), "; moved with nothing committed: "
                                                        + ", ".join(uncommitted) if uncommitted else ""))
            if kind != "join" and restored_here and not carried:
                failures.append("%s %s: no alert completed on a new owner binds an event of before the move "
                                "(%d partial matches restored)" % (kind, inst.name, restored_here))
        return failures, len(from_changelog), restored_pm, carried_total, details


def repartition_copies(bootstrap, topic):
    """{(input partition, offset): [(partition, offset)]} of the repartition topic's event records."""
    r = subprocess.run([kcat(), "-b", bootstrap, "-t", topic, "-C", "-e", "-q", "-o", "beginning",
                        "-f", "%p\t%o\t%h\n"], text=True, capture_output=True, timeout=60)
    out = {}
    for line in r.stdout.split("\n"):
        fields = line.split("\t")
        if len(fields) != 3:
            continue
        h = dict(kv.split("=", 1) for kv in fields[2].split(",") if "=" in kv)
        if "tern-src-offset" in h and h.get("tern-src-topic", EVENTS_TOPIC) == EVENTS_TOPIC:
            out.setdefault((int(h["tern-src-partition"]), int(h["tern-src-offset"])), []).append(
                (int(fields[0]), int(fields[1])))
    return out


def replay_expected(args, stream):
    patterns = sorted(os.path.join(args.repo, "tests", "daemon", "scaleout", f)
                      for f in os.listdir(os.path.join(args.repo, "tests", "daemon", "scaleout"))
                      if f.endswith(".tern"))
    work = tempfile.mkdtemp(prefix="tern-scaleout-replay-")
    try:
        got = replay(args.tern, patterns, stream.lines(), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    expected = Counter(map(without_id, got))
    by_pattern = Counter(json.loads(a)["pattern"] + ("/timeout" if json.loads(a)["kind"] == "timeout" else "")
                         for a in got)
    for p in ("pair", "quiet", "session", "session/timeout", "burst", "big"):
        if by_pattern[p] == 0:
            fail("replay gives no alert of %s over the stream (%r): the stream tests nothing there"
                 % (p, dict(by_pattern)))
    return expected, by_pattern


# ---------------------------------------------------------------------- scenarios
def scenario_one_instance(run):
    a = run.start()
    a.wait_ready()
    run.phase1()
    run.trickle(2.0, lambda t: None)


def scenario_scale_out(run):
    first = [run.start() for _ in range(run.n - 1)]
    for inst in first:
        inst.wait_ready()
    run.phase1()

    def during(t):
        run.at(t, CHANGE_AT)
        run.start(change=True).wait_ready()
    run.trickle(PHASE2_SECONDS, during)


def scenario_failover(run):
    started = [run.start() for _ in range(run.n)]
    for inst in started:
        inst.wait_ready()
    run.phase1()

    def during(t):
        run.at(t, CHANGE_AT)
        run.kill(started[-1])
    run.trickle(PHASE2_SECONDS, during)


def scenario_kill_producing(run):
    started = [run.start() for _ in range(run.n)]
    for inst in started:
        inst.wait_ready()
    run.phase1()
    victim = started[-1]

    def during(t):
        run.at(t, CHANGE_AT)
        before = victim.busy_counter()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = victim.busy_counter()
            if before is not None and now is not None and now > before:
                break
            before = now
            time.sleep(0.02)
        else:
            run.notes.append("%s's counter did not move in 10 s: killed it anyway" % victim.name)
        run.kill(victim)
    run.trickle(PHASE2_SECONDS, during)


def scenario_scale_in(run):
    started = [run.start() for _ in range(run.n)]
    for inst in started:
        inst.wait_ready()
    run.phase1()

    def during(t):
        run.at(t, CHANGE_AT)
        run.terminate(started[-1])
    run.trickle(PHASE2_SECONDS, during)


def scenario_scale_out_failover(run):
    first = [run.start() for _ in range(run.n - 1)]
    for inst in first:
        inst.wait_ready()
    run.phase1()

    def during(t):
        run.at(t, CHANGE_AT)
        joined = run.start(change=True)
        joined.wait_ready()
        wait_for("%s to process records of its own" % joined.name, lambda: (joined.busy_counter() or 0) > 0)
        run.kill(joined)
    run.trickle(PHASE2_SECONDS + 6.0, during)


SCENARIOS = {"scale_out": scenario_scale_out, "failover": scenario_failover,
             "kill_producing": scenario_kill_producing, "scale_in": scenario_scale_in,
             "scale_out_failover": scenario_scale_out_failover}


def execute(args, stream, expected, reference_ids, scenario, mode, assignor, instances, partitions):
    """Runs one scenario; returns (row, failures, ids of the alerts)."""
    run = Run(args, stream, scenario, mode, assignor, instances, partitions)
    failures = []
    copies = []
    stopped_early = False
    t0 = time.monotonic()
    try:
        run.watcher.start()
        (scenario_one_instance if scenario == "one_instance" else SCENARIOS[scenario])(run)
        run.phase3()
        run.settle()
        for inst in run.live():
            if not inst.running():
                failures.append("%s exited with status %s on its own" % (inst.name, inst.daemon.proc.returncode))
                inst.gone = True
                Daemon.running.remove(inst.daemon)
        for inst in run.live():
            inst.daemon.stop()
            inst.gone = True
        copies = consume(run.mock.bootstrap, ALERTS_TOPIC, with_headers=True)
        run.dump()
        if args.state:
            copied = {topic: repartition_copies(run.mock.bootstrap, topic)
                      for topic in {run.route_topic(k) for k in KEY_OF.values()} if topic != EVENTS_TOPIC}
        late = len(consume(run.mock.bootstrap, "so.late"))
        dead = len(consume(run.mock.bootstrap, "so.dead"))
    except SystemExit:
        failures.append("the run stopped early (see the FAIL line above)")
        late = dead = None
        stopped_early = True
    finally:
        for daemon in list(Daemon.running):
            daemon.proc.kill()
            daemon.proc.wait()
            Daemon.running.remove(daemon)
        run.watcher.stop()
        run.mock.stop()

    by_id, conflicts = {}, 0
    for headers, value in copies:
        aid = json.loads(value)["id"]
        if aid in by_id and by_id[aid] != value:
            conflicts += 1
        by_id[aid] = value
    got = Counter(map(without_id, by_id.values()))
    missing, extra = expected - got, got - expected
    n_missing, n_extra = sum(missing.values()), sum(extra.values())
    duplicates = len(copies) - len(by_id)
    if (n_missing or n_extra) and not stopped_early:
        def sample(c):
            return "; ".join(a[:300] for a in sorted(c)[:2])
        failures.append("%d missing, %d extra alerts (of %d replay gives). Missing by pattern: %s; extra by "
                        "pattern: %s. First missing: %s. First extra: %s"
                        % (n_missing, n_extra, sum(expected.values()), dict(per_pattern(missing)),
                           dict(per_pattern(extra)), sample(missing), sample(extra)))
    if conflicts:
        failures.append("%d alert ids written with different contents" % conflicts)
    if reference_ids is not None and not stopped_early:
        ids = set(by_id)
        if ids != reference_ids:
            failures.append("ids differ from the one-instance run's: %d not in it, %d of it missing"
                            % (len(ids - reference_ids), len(reference_ids - ids)))
    if run.watcher.decreases:
        failures.append("committed offsets decreased %d times: %s" % (
            len(run.watcher.decreases), "; ".join("%s[%d] %d -> %d at %.1f s" % (t, p, a, b, s)
                                                  for s, t, p, a, b in run.watcher.decreases[:5])))
    if run.watcher.detector.joins:
        failures.append("the offset watcher joined the group: %s" % run.watcher.detector.joins[0])
    if run.watcher.reads == 0:
        failures.append("the offset watcher read no committed offset")
    pauses = run.pauses(copies)
    max_pause = max((p[2] for p in pauses), default=None)
    row = {"scenario": scenario, "mode": mode, "assignor": assignor, "instances": instances,
           "partitions": partitions, "missing": n_missing, "extra": n_extra, "duplicates": duplicates,
           "max_pause_ms": None if max_pause is None else int(max_pause * 1000),
           "offsets_monotonic": "no" if run.watcher.decreases else "yes",
           "seconds": time.monotonic() - t0}
    state_details = []
    if args.state and not stopped_early:
        state_failures, row["changelog_restores"], row["restored_pm"], row["carried"], state_details = \
            run.persistence(copies, copied)
        failures += state_failures
    details = ["  %s at %.1f s into phase 2: longest pause of one input partition %d ms (%s[%s]; longest gap "
               "before it %d ms)" % (what, at, gap * 1000, EVENTS_TOPIC, partition, base * 1000)
               for what, at, gap, partition, base in pauses]
    details += state_details
    details.append("  %d alert copies, %d distinct; %s late, %s dead letters; %d offset reads of %d partitions%s"
                   % (len(copies), len(by_id), late, dead, run.watcher.reads, len(run.watcher.partitions),
                      "" if run.declare_key or mode != "keyed" else "; input.key.field not declared"))
    details += ["  note: " + n for n in run.notes]
    if failures:
        for inst in run.instances:
            try:
                tail = open(inst.log).read().splitlines()[-25:]
            except OSError:
                tail = []
            details.append("  ---- last lines of %s's log (%s)" % (inst.name, inst.log))
            details += ["  | " + line for line in tail]
        details.append("  (logs kept in %s)" % run.work)
    elif args.keep:
        details.append("  (kept: %s)" % run.work)
    else:
        shutil.rmtree(run.work, ignore_errors=True)
    return row, failures, details, set(by_id)


def per_pattern(counter):
    out = Counter()
    for alert, n in counter.items():
        a = json.loads(alert)
        out[a["pattern"] + ("/timeout" if a["kind"] == "timeout" else "")] += n
    return out


COLUMNS = [("scenario", 19), ("mode", 8), ("assignor", 18), ("instances", 9), ("partitions", 10),
           ("missing", 7), ("extra", 6), ("duplicates", 10), ("max_pause_ms", 12), ("offsets_monotonic", 17),
           ("seconds", 7)]
# With --state, inserted before "seconds": restores from the changelog, the partial matches
# they brought back, alerts carried across a move (see the top of the file).
STATE_COLUMNS = [("changelog_restores", 18), ("restored_pm", 11), ("carried", 7)]


def format_row(row):
    cells = []
    for name, width in COLUMNS:
        value = row.get(name)
        if value is None:
            value = "-"
        elif name == "seconds":
            value = "%.0f" % value
        cells.append(str(value).ljust(width))
    return " ".join(cells).rstrip()


def header():
    return " ".join(name.ljust(width) for name, width in COLUMNS).rstrip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tern")
    parser.add_argument("repo")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--modes", default="keyed,unkeyed")
    parser.add_argument("--assignors", default="cooperative-sticky,range")
    parser.add_argument("--instances", default="2")
    parser.add_argument("--partitions", default="4")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--idle", default="0ms",
                        help="input.idle of the instances (default 0ms: a source whose owner died is not "
                             "idle, and must hold windows back until its new owner reads it)")
    parser.add_argument("--key-field", choices=["auto", "yes", "no"], default="auto",
                        help="write input.key.field in keyed mode: auto = if `tern run --help` knows it")
    parser.add_argument("--state", action="store_true",
                        help="durable state: a state dir per instance, changelog topics, the handover checks")
    parser.add_argument("--checkpoint-interval", default="200ms", help="state.checkpoint.interval with --state")
    parser.add_argument("--log-level", default="info", help="[log] level of the instances (debug shows checkpoints)")
    parser.add_argument("--keep", action="store_true", help="keep every run's directory (logs, state dirs)")
    args = parser.parse_args()
    args.tern, args.repo = os.path.abspath(args.tern), os.path.abspath(args.repo)
    if args.state:
        COLUMNS[-1:-1] = STATE_COLUMNS
    help_text = subprocess.run([args.tern, "run", "--help"], capture_output=True, text=True).stdout
    args.declare_key = args.key_field == "yes" or (args.key_field == "auto" and "input.key.field" in help_text)
    scenarios = args.scenarios.split(",")
    for s in scenarios:
        if s not in SCENARIOS:
            fail("unknown scenario %r (known: %s)" % (s, ", ".join(SCENARIOS)))
    modes, assignors = args.modes.split(","), args.assignors.split(",")
    for m in modes:
        if m not in ("keyed", "unkeyed"):
            fail("unknown mode %r" % m)
    if not args.declare_key and "keyed" in modes:
        print("scaleout_test: note: this tern does not know input.key.field; keyed mode runs without it")

    rows, failed = [], []
    print(header(), flush=True)
    for partitions in map(int, args.partitions.split(",")):
        stream = Stream(args.events, partitions)
        expected, by_pattern = replay_expected(args, stream)
        for mode in modes:
            reference = None
            for instances in map(int, args.instances.split(",")):
                if instances < 2:
                    fail("--instances: at least 2")
                if reference is None:
                    row, failures, details, ids = execute(args, stream, expected, None, "one_instance", mode,
                                                          assignors[0], 1, partitions)
                    report(row, failures, details, rows, failed)
                    reference = ids
                for assignor in assignors:
                    for scenario in scenarios:
                        row, failures, details, _ = execute(args, stream, expected, reference, scenario, mode,
                                                            assignor, instances, partitions)
                        report(row, failures, details, rows, failed)
        print("  (replay: %d alerts over %d events: %s)" % (sum(expected.values()), len(stream.lines()),
                                                          ", ".join("%s %d" % kv for kv in sorted(by_pattern.items()))))
    print()
    print(header())
    for row in rows:
        print(format_row(row))
    if failed:
        print("scaleout_test: FAIL: %d of %d runs failed:" % (len(failed), len(rows)))
        for row, failures in failed:
            print("  %s %s %s %d instances %d partitions: %s" % (row["scenario"], row["mode"], row["assignor"],
                                                                row["instances"], row["partitions"],
                                                                " | ".join(f[:160] for f in failures)))
        sys.exit(1)
    print("scaleout_test: ok: %d runs, every one with replay's alerts and the one-instance ids, 0 missing, "
          "0 extra, committed offsets never decreasing%s" % (len(rows), "; with state: moved partitions restored, "
                                                             "partial matches carried" if args.state else ""))


def report(row, failures, details, rows, failed):
    rows.append(row)
    print(format_row(row) + ("   FAILED" if failures else ""), flush=True)
    for f in failures:
        print("  FAIL: " + f)
    for d in details:
        print(d)
    sys.stdout.flush()
    if failures:
        failed.append((row, failures))


if __name__ == "__main__":
    main()
