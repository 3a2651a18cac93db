#!/usr/bin/env python3
"""CTest daemon_crash_state (issue 15, "Crash"): `kill -9` of `tern run` with durable state at
random points of a long stream with long windows; the restarts, deduplicated by alert id,
give exactly the alerts of `tern replay`, and each restart re-reads only the records since
the last checkpoint.

Usage: crash_state_test.py TERN REPO [--events N] [--kills K] [--seed S] [--partitions P]
                           [--rate R] [--interval D] [--log-level L] [--keep]

An embedded broker (`tern kafka-mock`) with input topic cs.events of P partitions (default 4);
one `tern run` at a time in group "cs", with `[state] dir`, `checkpoint.interval` (default
500ms), `input.key.field = "u"` (the patterns read the input partitions directly) and
`input.idle = "0ms"` (a partition's windows close by its own time only, so the alerts do not
depend on how the partitions interleave at the daemon). Three patterns with windows of 1 h
and 2 h: followed_by with on_timeout, a final not_followed_by (an absence), and skip
past_last_event with a greedy loop.

The stream: N events, one every 100 ms of event time (a 1 h window spans 36000 of them), of
1000 users whose events all go to partition (user number mod P), with the user as message
key; every partition is in strict event-time order, so one `tern replay` over the whole
stream in time order is the reference. 93 % of the events bind nothing: the embedded broker
keeps only about 5 MB per partition (it drops the oldest records past that), and the state,
the changelog and the alerts must stay below it (checked: see below). A producer thread
(confluent_kafka) writes the events in order at about R events/s (default 4000) while an
instance owns the partitions, and pauses while none does (a restart's rejoin takes about
6 s with the embedded broker), so the kill points fall on a working daemon rather than on a
backlog.

K kill points (default 20) are drawn at random (seed logged) from the stream's records. When
the running instance has read past the next one (its /metrics `tern_partition_events` plus
the offsets it started from, polled every 50 ms), it gets SIGKILL and a new instance starts
on the same state dir; every 5th restart on a new, empty state dir (another machine: its
state comes from the changelog). After the last restart the stream ends with one event per
partition 10 h past the last one, which closes every window, and the run settles: the
committed offsets reach the ends of the partitions and no alert comes for 2 s.

Checks (every failed one is listed, then the script exits 1):
  - the alerts (read from cs.alerts while they come), deduplicated by id, equal those of
    `tern replay --open-end` over the stream (ids aside: replay numbers lines, the daemon
    hashes offsets): 0 missing, 0 extra; two copies with one id must be identical;
  - re-read bound, per kill: records re-read = (offsets the killed instance started from +
    the records it had consumed, per partition, as its /metrics said just before the kill)
    - the group's committed offsets, as a consumer of the group that never subscribes (so
    never joins) read them from outside every 50 ms, last reading before the kill. Once the
    killed instance has a durable checkpoint (its tern_checkpoints_total), that must not
    exceed what it consumed during the last (checkpoint interval + commit interval (200 ms)
    + its slowest checkpoint write but the first per partition + MARGIN_S) before the kill,
    plus SLACK records, nor a quarter of the records of the
    longest window (2 h) before the kill point; before that, what it consumed since its
    assignment (its restored checkpoint is the last). The exact re-read (from the offsets the
    next instance logs it starts from) is reported too, and must not exceed the estimate;
  - every partition with a committed checkpoint is restored at the restart ("state of
    checkpoint N restored from ..."), from the changelog on an empty state dir;
  - the embedded broker never dropped records the run needs: the start of a changelog
    partition, input records a restart reads again, alerts not read yet;
  - the committed offsets reach the ends of the input once it is all read, and the last
    instance exits 0 on SIGTERM; no instance's log has a sanitizer report.
Reported: a table per kill (at record, time after the assignment, restored from, records
re-read, bound, restore ms) and the number of duplicate alert copies.

Needs python3-confluent-kafka (scripts/install-deps.sh installs it).
"""
import argparse
import bisect
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter

from kafka_harness import Daemon, Mock, fail, metrics_text, replay, without_id, write_config

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

GROUP = "cs"
EVENTS_TOPIC = "cs.events"
ALERTS_TOPIC = "cs.alerts"
CHANGELOG_TOPIC = GROUP + ".tern.changelog." + EVENTS_TOPIC  # state.changelog.prefix's default
BASE_MS = 1767225600000
STEP_MS = 100            # event time between two events: 1 h = 36000 events
CLOSE_AFTER_MS = 10 * 3600 * 1000  # past every window
WINDOW_RECORDS = 3600 * 1000 // STEP_MS
LONGEST_WINDOW_MS = 2 * 3600 * 1000  # refund_then_big's
WATCH_PERIOD = 0.05      # s between two reads of the committed offsets, and of /metrics
COMMIT_INTERVAL_S = 0.2  # connectors/daemon.cc kCommitIntervalMs
MARGIN_S = 0.6           # the checkpoint's write and changelog acknowledgement, the commit's
                         # round trip, and the watcher's period
SLACK = 200              # records: one fetch in flight
EMPTY_DIR_EVERY = 5      # every 5th restart: an empty state dir
SETTLE_TIMEOUT = 180.0
STUCK = 20.0             # s without an alert while the commits stay behind: give up waiting
QUIET = 2.0

PATTERNS = """\
pattern paid { key u  within 1h
  begin start where t == "start"  followed_by stop where t == "stop"
  emit { amount = stop.n }
  on_timeout emit { user = start.u, waited = start.n } }
pattern unpaid { key u  within 1h
  begin start where t == "start"  not_followed_by stop where t == "stop"
  on_timeout emit { user = start.u } }
pattern refund_then_big { key u  within 2h  skip past_last_event
  begin small where t == "small" times 2.. greedy  followed_by big where t == "big"
  emit { n = big.n } }
"""
# Most events bind nothing: the state, and so the changelog, stays small enough for the
# embedded broker, which keeps only about 5 MB per partition (it drops the oldest records).
USERS = 1000
KINDS = [("start", 20), ("stop", 15), ("small", 25), ("big", 8), ("other", 932)]


class Stream:
    """N events in strict event-time order (one every STEP_MS), users spread over the
    partitions (user i on partition i mod P), then one closing event per partition."""

    def __init__(self, events, partitions, seed):
        rng = random.Random(seed)
        users = max(partitions, min(USERS, events // 40))
        kinds, weights = zip(*KINDS)
        self.partitions = partitions
        self.events = []  # (partition, key, line)
        for i in range(events):
            u = rng.randrange(users)
            key = "u%04d" % u
            self.events.append((u % partitions, key, self.line(BASE_MS + i * STEP_MS, key, rng.choices(kinds, weights)[0],
                                                               rng.randrange(1000))))
        last = BASE_MS + (events - 1) * STEP_MS
        self.closing = [(p, "z%d" % p, self.line(last + CLOSE_AFTER_MS + p, "z%d" % p, "tick", 0))
                        for p in range(partitions)]
        self.times = [[] for _ in range(partitions)]  # per partition: event times in offset order
        for i, (p, _, _) in enumerate(self.events):
            self.times[p].append(BASE_MS + i * STEP_MS)
        self.longest_window_records = LONGEST_WINDOW_MS // STEP_MS

    def window_records(self, partition, end):
        """Records of `partition` before offset `end` within the longest window of its last."""
        times = self.times[partition][:end]
        if not times:
            return 0
        return end - bisect.bisect_right(times, times[-1] - LONGEST_WINDOW_MS)

    @staticmethod
    def line(ts, key, kind, n):
        return json.dumps({"ts": ts, "u": key, "t": kind, "n": n}, separators=(",", ":"))

    def lines(self):
        """Every record in time order: per partition, the produce order."""
        return [line for _, _, line in self.events] + [line for _, _, line in self.closing]


class Producer(threading.Thread):
    """Produces the events in order at about `rate` per second, 50 ms worth at a time, while
    `running` is set (an instance owns the partitions): the daemon reads them live, and the
    kill points fall on a working daemon, not on a backlog that built up while none ran."""

    def __init__(self, bootstrap, stream, rate):
        super().__init__(daemon=True)
        self.stream, self.rate = stream, rate
        self.producer = confluent_kafka.Producer({
            "bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5,
            "compression.type": "none"})
        self.running = threading.Event()
        self.sent = 0
        self.error = None
        self.failed = []

    def delivered(self, err, msg):
        if err is not None:
            self.failed.append(str(err))

    def send(self, partition, key, line):
        while True:
            try:
                self.producer.produce(EVENTS_TOPIC, value=line.encode(), key=key.encode(), partition=partition,
                                      on_delivery=self.delivered)
                return
            except BufferError:
                self.producer.poll(0.05)

    def run(self):
        try:
            events = self.stream.events
            credit, last = 0.0, None
            while self.sent < len(events):
                if not self.running.is_set():
                    self.producer.poll(0)
                    self.running.wait(0.1)
                    last = None
                    continue
                now = time.monotonic()
                credit += (now - last) * self.rate if last is not None else WATCH_PERIOD * self.rate
                last = now
                while credit >= 1 and self.sent < len(events):
                    self.send(*events[self.sent])
                    self.sent += 1
                    credit -= 1
                self.producer.poll(0)
                time.sleep(WATCH_PERIOD)
            if self.producer.flush(60) != 0:
                self.error = "events still unacknowledged after 60 s"
        except Exception as e:  # reported by finish()
            self.error = "producer: %r" % e

    def closing(self):
        for partition, key, line in self.stream.closing:
            self.send(partition, key, line)
        if self.producer.flush(60) != 0:
            fail("closing events unacknowledged after 60 s")

    def finish(self):
        self.join(timeout=600)
        if self.is_alive() or self.error or self.failed:
            fail(self.error or "producing: %s" % (self.failed[:3] or "did not finish"))


class OffsetWatcher(threading.Thread):
    """Reads the group's committed offsets of the input partitions every WATCH_PERIOD, from a
    consumer with the group id that never subscribes (it never joins the group; see
    tests/daemon/scaleout_test.py)."""

    def __init__(self, bootstrap, partitions):
        super().__init__(daemon=True)
        self.consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                                                  "enable.auto.commit": False})
        self.tps = [confluent_kafka.TopicPartition(EVENTS_TOPIC, p) for p in range(partitions)]
        self.lock = threading.Lock()
        self.last = {}       # partition -> last committed offset seen
        self.read_at = 0.0   # monotonic time of the last complete reading
        self.decreases = []
        self.stopping = threading.Event()

    def read(self):
        try:
            committed = self.consumer.committed(self.tps, timeout=5)
        except confluent_kafka.KafkaException:
            return False
        with self.lock:
            for tp in committed:
                if tp.error or tp.offset < 0:
                    continue
                before = self.last.get(tp.partition)
                if before is not None and tp.offset < before:
                    self.decreases.append((tp.partition, before, tp.offset))
                self.last[tp.partition] = tp.offset
            self.read_at = time.monotonic()
        return True

    def run(self):
        while not self.stopping.is_set():
            self.read()
            self.stopping.wait(WATCH_PERIOD)

    def snapshot(self):
        """(monotonic time of the reading, {partition: committed offset})."""
        with self.lock:
            return self.read_at, dict(self.last)

    def watermarks(self, topic, partitions):
        """{partition: (low, high)} of `topic` (a missing topic: {})."""
        out = {}
        for p in range(partitions):
            try:
                out[p] = self.consumer.get_watermark_offsets(confluent_kafka.TopicPartition(topic, p), timeout=5)
            except confluent_kafka.KafkaException:
                return {}
        return out

    def ends(self, partitions):
        return {p: high for p, (_, high) in self.watermarks(EVENTS_TOPIC, partitions).items()}

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)
        self.consumer.close()


class AlertCollector(threading.Thread):
    """Reads the alerts topic as they come: the embedded broker keeps only about 5 MB per
    partition (older records are dropped), less than the alerts of a long run. A gap in the
    offsets read means alerts were dropped before they were read."""

    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        self.consumer = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP + ".collector",
                                                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        self.consumer.assign([confluent_kafka.TopicPartition(ALERTS_TOPIC, 0, confluent_kafka.OFFSET_BEGINNING)])
        self.lock = threading.Lock()
        self.values = []
        self.next = 0
        self.gaps = []  # (expected offset, got offset)
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            for m in self.consumer.consume(10000, 0.1):
                if m.error():
                    continue
                with self.lock:
                    if m.offset() != self.next:
                        self.gaps.append((self.next, m.offset()))
                    self.next = m.offset() + 1
                    self.values.append(m.value().decode())

    def count(self):
        with self.lock:
            return self.next

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)
        self.consumer.close()


def partition_events(log):
    """({partition: records handled since assigned}, checkpoints durable) from the daemon's
    /metrics, or (None, None)."""
    text = metrics_text(log)
    if text is None:
        return None, None
    m = re.search(r"^tern_checkpoints_total (\S+)$", text, re.M)
    checkpoints = int(float(m.group(1))) if m else 0
    out = {}
    for m in re.finditer(r'^tern_partition_events\{topic="%s",partition="(\d+)"\} (\S+)$' % re.escape(EVENTS_TOPIC),
                         text, re.M):
        out[int(m.group(1))] = int(float(m.group(2)))
    return out, checkpoints


class Instance:
    """One `tern run`: its log, the offsets it started from, what it consumed over time."""

    def __init__(self, args, work, number, state_dir, bootstrap):
        self.number = number
        self.state_dir = state_dir
        self.config = os.path.join(work, "i%02d.toml" % number)
        self.log = os.path.join(work, "i%02d.log" % number)
        write_config(self.config, bootstrap, GROUP, [os.path.join(work, "crash.tern")], events_topic=EVENTS_TOPIC,
                     idle="0ms", input_options={"key.field": '"u"'}, log_level=args.log_level,
                     extra='[state]\ndir = "%s"\ncheckpoint.interval = "%s"\n' % (state_dir, args.interval))
        self.daemon = Daemon(args.tern, self.config, self.log)
        self.started = time.monotonic()
        self.assigned_at = None  # monotonic time its log showed every partition assigned
        self.starts = None   # partition -> offset it reads from (its log)
        self.series = []     # (monotonic time, {partition: records handled})
        self.checkpoints = 0  # checkpoints durable, at the last reading

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def start_offsets(self, partitions):
        """{partition: offset} once every partition is assigned (from its log), else None."""
        if self.starts is not None:
            return self.starts
        text = self.log_text()
        starts = {}
        for m in re.finditer(r"partition %s\[(\d+)\] assigned: input from offset (?:(\d+)|the start)"
                             % re.escape(EVENTS_TOPIC), text):
            starts[int(m.group(1))] = int(m.group(2) or 0)
        # A restored state whose position is not the committed offset is read from there.
        for m in re.finditer(r"partition %s\[(\d+)\]: state of checkpoint \d+ restored .*; its offset (\d+) differs"
                             % re.escape(EVENTS_TOPIC), text):
            starts[int(m.group(1))] = int(m.group(2))
        if len(starts) < partitions:
            return None
        self.starts = starts
        self.assigned_at = time.monotonic()
        return starts

    def slowest_write_s(self):
        """The longest checkpoint write (store and changelog acknowledgement) of the instance
        but for each partition's first (the changelog producer's first delivery), from its
        debug log; 0 without one."""
        seen, slowest = set(), 0.0
        for m in re.finditer(r"partition %s\[(\d+)\]: checkpoint \d+ durable: .* written in ([\d.]+) ms"
                             % re.escape(EVENTS_TOPIC), self.log_text()):
            if m.group(1) in seen:
                slowest = max(slowest, float(m.group(2)) / 1000)
            seen.add(m.group(1))
        return slowest

    def restores(self):
        """{partition: (checkpoint, "local" | "changelog", changelog records, ms)} from its log."""
        out = {}
        for m in re.finditer(r"partition %s\[(\d+)\]: state of checkpoint (\d+) restored from "
                             r"(the local store|the changelog \((\d+) records\)) in (\d+) ms"
                             % re.escape(EVENTS_TOPIC), self.log_text()):
            out[int(m.group(1))] = (int(m.group(2)), "local" if m.group(3) == "the local store" else "changelog",
                                    int(m.group(4) or 0), int(m.group(5)))
        return out

    def consumed_since(self, seconds):
        """Records it handled during the last `seconds` of its series."""
        if not self.series:
            return 0
        t_end, last = self.series[-1]
        before = {}
        for t, values in self.series:
            if t <= t_end - seconds:
                before = values
        return sum(last.values()) - sum(before.values())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tern")
    parser.add_argument("repo")
    parser.add_argument("--events", type=int, default=200000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=int, default=4000, help="events/s produced while an instance runs")
    parser.add_argument("--interval", default="500ms", help="state.checkpoint.interval")
    parser.add_argument("--log-level", default="debug")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    interval_s = parse_duration(args.interval)
    print("crash_state_test: %d events over %d partitions at %d/s, %d kills, seed %d, checkpoint.interval %s"
          % (args.events, args.partitions, args.rate, args.kills, args.seed, args.interval), flush=True)

    t0 = time.monotonic()
    work = tempfile.mkdtemp(prefix="tern-crash-state-")
    with open(os.path.join(work, "crash.tern"), "w") as f:
        f.write(PATTERNS)
    stream = Stream(args.events, args.partitions, args.seed)
    expected_lines = replay(args.tern, [os.path.join(work, "crash.tern")], stream.lines(), work)
    want = Counter(map(without_id, expected_lines))
    by_pattern = Counter("%s/%s" % (json.loads(a)["pattern"], json.loads(a)["kind"]) for a in expected_lines)
    print("crash_state_test: replay: %d alerts %s (%.1f s)" % (len(expected_lines), dict(sorted(by_pattern.items())),
                                                               time.monotonic() - t0), flush=True)
    for needed in ("paid/match", "paid/timeout", "unpaid/match", "refund_then_big/match"):
        if by_pattern[needed] == 0:
            fail("replay gives no %s alert: the stream tests nothing there" % needed)

    rng = random.Random(args.seed)
    lo, hi = args.events // 50, args.events - args.events // 50
    kill_points = sorted(rng.sample(range(lo, hi), args.kills))
    print("crash_state_test: kill points (seed %d): %s" % (args.seed, kill_points), flush=True)

    mock = Mock(args.tern, ["%s:%d" % (EVENTS_TOPIC, args.partitions), ALERTS_TOPIC + ":1", "cs.late:1", "cs.dead:1"])
    watcher = OffsetWatcher(mock.bootstrap, args.partitions)
    producer = Producer(mock.bootstrap, stream, args.rate)
    collector = AlertCollector(mock.bootstrap)
    window_s = interval_s + COMMIT_INTERVAL_S + MARGIN_S
    instances, rows, problems = [], [], []
    changelog = {}
    copies, by_id = [], {}
    ok = False
    try:
        watcher.start()
        collector.start()
        producer.start()
        state_dirs = [os.path.join(work, "state-0")]
        inst = Instance(args, work, 0, state_dirs[-1], mock.bootstrap)
        instances.append(inst)
        for k, point in enumerate(kill_points + [None]):
            wait_until("instance %d to be assigned every partition" % inst.number,
                       lambda: inst.start_offsets(args.partitions) is not None, inst)
            starts = inst.start_offsets(args.partitions)
            if rows:
                row = rows[-1]
                row["exact"] = sum(row["ends"][p] - starts[p] for p in range(args.partitions))
                row["restores"] = inst.restores()
                # The embedded broker drops a partition's oldest records past about 5 MB: a
                # changelog restore from a changelog that lost its start is incomplete, and an
                # input partition must still hold the records read again.
                row["changelog_low"] = {p: low for p, (low, _) in
                                        watcher.watermarks(CHANGELOG_TOPIC, args.partitions).items() if low > 0}
                row["input_low"] = {p: low for p, (low, _) in
                                    watcher.watermarks(EVENTS_TOPIC, args.partitions).items() if low > starts[p]}
                # Partitions with a committed checkpoint (with state.dir, commits are made only
                # at checkpoints): each must be restored, from the changelog on an empty dir.
                row["expect_restore"] = [p for p in range(args.partitions) if starts[p] > 0]
                print("crash_state_test: kill %d at record %d (instance %d, consumed %d, %.1f s after its "
                      "assignment): re-read %d (exact %d, bound %d, committed read %.0f ms before); restart %s: %s"
                      % (row["kill"], row["at"], row["instance"], row["consumed"], row["assigned_s"], row["reread"],
                         row["exact"], row["bound"], row["watch_age_ms"],
                         "on an EMPTY state dir" if row["fresh"] else "on the same state dir",
                         describe_restores(row["restores"])), flush=True)
            if point is None:
                break
            producer.running.set()
            consumed, watched_at, watched = run_until(inst, args.partitions, point, watcher)
            killed_at = time.monotonic()
            inst.daemon.kill()
            producer.running.clear()
            # A checkpoint is durable once written: a slow write holds the commit back that long.
            window = window_s + inst.slowest_write_s()
            ends = {p: starts[p] + consumed.get(p, 0) for p in range(args.partitions)}
            rows.append({"kill": k + 1, "at": sum(ends.values()), "instance": inst.number, "ends": ends,
                         "consumed": sum(consumed.values()),
                         "reread": sum(ends[p] - watched.get(p, 0) for p in range(args.partitions)),
                         # Before its first checkpoint is durable, the restored one is the last.
                         "window_s": window,
                         "bound": (inst.consumed_since(window) if inst.checkpoints > 0
                                   else sum(consumed.values())) + SLACK,
                         "checkpointed": inst.checkpoints > 0,
                         "window": sum(stream.window_records(p, ends[p]) for p in range(args.partitions)),
                         "watch_age_ms": (killed_at - watched_at) * 1000, "rate": rate_of(inst),
                         "assigned_s": killed_at - inst.assigned_at,
                         "fresh": (k + 1) % EMPTY_DIR_EVERY == 0})
            # The restart: on the same state dir, or every EMPTY_DIR_EVERY-th time on an empty one.
            if rows[-1]["fresh"]:
                state_dirs.append(os.path.join(work, "state-%d" % (k + 1)))
            inst = Instance(args, work, k + 1, state_dirs[-1], mock.bootstrap)
            instances.append(inst)
        producer.running.set()
        producer.finish()
        producer.closing()
        settled = settle(inst, watcher, args.partitions, collector)
        if settled:
            problems.append(settled)
        changelog = watcher.watermarks(CHANGELOG_TOPIC, args.partitions)
        inst.daemon.stop()
        collector.stop()
        copies = collector.values
        if collector.gaps:
            problems.append("the broker dropped alerts before they were read (offsets %r): raise its limits or "
                            "make the run smaller" % collector.gaps[:3])
        by_id, alert_problems = check_alerts(copies, want)
        problems += alert_problems
        ok = True
    finally:
        if watcher.is_alive():
            watcher.stop()
        if collector.is_alive():
            collector.stop()
        for daemon in list(Daemon.running):
            daemon.proc.kill()
            daemon.proc.wait()
        mock.stop()
        if not ok:
            for i in instances[-3:]:
                print("---- " + os.path.basename(i.log))
                print(i.log_text()[-6000:])
            print("crash_state_test: work directory kept: " + work)

    print_table(rows)
    for row in rows:
        if row["reread"] > row["bound"]:
            problems.append("kill %d: %d records re-read, over the bound %d (records consumed during the last "
                            "%.2f s before the kill, + %d)" % (row["kill"], row["reread"], row["bound"], row["window_s"],
                                                                SLACK))
        # What the daemon without state would read again: at least the records of its longest
        # window before the kill (partial matches that old are alive at every point of this
        # stream). Once the stream is longer than that window, the restart must cost far less.
        if row["checkpointed"] and row["at"] >= stream.longest_window_records and \
                row["reread"] > row["window"] // 4:
            problems.append("kill %d: %d records re-read, not far below the %d records of the longest window"
                            % (row["kill"], row["reread"], row["window"]))
        if row["exact"] > row["reread"]:
            problems.append("kill %d: the next instance started %d records back, more than the committed offsets "
                            "seen before the kill allow (%d)" % (row["kill"], row["exact"], row["reread"]))
        restored = row["restores"]
        missing = [p for p in row["expect_restore"] if p not in restored]
        if missing:
            problems.append("kill %d: partitions %s have a committed checkpoint but were not restored (%s)"
                            % (row["kill"], missing, describe_restores(restored)))
        if row["changelog_low"]:
            problems.append("kill %d: the embedded broker dropped the start of changelog partitions %r (it keeps "
                            "about 5 MB per partition): restores from them are incomplete; make the run smaller"
                            % (row["kill"], row["changelog_low"]))
        if row["input_low"]:
            problems.append("kill %d: the embedded broker dropped input records the restart reads again "
                            "(low watermarks %r); make the run smaller" % (row["kill"], row["input_low"]))
        if row["fresh"] and any(r[1] != "changelog" for r in restored.values()):
            problems.append("kill %d: an empty state dir restored from the local store" % row["kill"])
    if watcher.decreases:
        problems.append("committed offsets decreased: %r" % watcher.decreases[:5])
    for i in instances:  # a sanitizer build (TERN_SANITIZE) reports into the log
        found = re.search(r"^.*(ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer).*$", i.log_text(), re.M)
        if found:
            problems.append("%s: %s" % (os.path.basename(i.log), found.group(0)))
    duplicates = len(copies) - len(by_id)
    changelog_restores = sum(1 for r in rows for x in r["restores"].values() if x[1] == "changelog")
    local_restores = sum(1 for r in rows for x in r["restores"].values() if x[1] == "local")
    print("crash_state_test: %d alerts distinct (replay: %d), %d copies written, %d duplicates; %d partition "
          "restores from the local store, %d from the changelog; re-read max %d, mean %.0f records (a 1 h window "
          "is %d records); %.0f s" % (
              len(by_id), sum(want.values()), len(copies), duplicates, local_restores, changelog_restores,
              max([r["reread"] for r in rows] or [0]), sum(r["reread"] for r in rows) / max(1, len(rows)),
              WINDOW_RECORDS, time.monotonic() - t0))
    print("crash_state_test: changelog partitions at the end (low, high): %s" % changelog)
    if problems:
        for p in problems:
            print("crash_state_test: " + p)
        print("crash_state_test: work directory kept: " + work)
        fail("%d problems (above)" % len(problems))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print("crash_state_test: work directory kept: " + work)
    print("crash_state_test: ok")


def parse_duration(text):
    m = re.fullmatch(r"(\d+)(ms|s)", text)
    if not m:
        fail("--interval %r: expected e.g. 500ms or 2s" % text)
    return int(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)


def run_until(inst, partitions, point, watcher):
    """Polls the instance until the records it started from plus those it consumed reach
    `point`; returns (its records per partition, and the watcher's last reading: time and
    committed offsets), taken just before the caller's kill."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if inst.daemon.proc.poll() is not None:
            fail("instance %d exited with status %d" % (inst.number, inst.daemon.proc.returncode))
        starts = inst.start_offsets(partitions)
        watched_at, watched = watcher.snapshot()
        values, checkpoints = partition_events(inst.log) if starts is not None else (None, None)
        if values is not None:
            inst.series.append((time.monotonic(), values))
            inst.checkpoints = checkpoints
            if sum(starts.values()) + sum(values.values()) >= point:
                return values, watched_at, watched
        time.sleep(WATCH_PERIOD)
    fail("instance %d never read up to record %d (read %r from %r)" % (inst.number, point, inst.series[-1:],
                                                                     inst.starts))


def wait_until(what, predicate, inst, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if inst.daemon.proc.poll() is not None:
            fail("instance %d exited with status %d while waiting for %s" % (inst.number, inst.daemon.proc.returncode,
                                                                            what))
        time.sleep(0.05)
    fail("timed out waiting for " + what)


def rate_of(inst):
    """Records per second over the instance's last second."""
    if len(inst.series) < 2:
        return 0.0
    t_end, last = inst.series[-1]
    for t, values in inst.series:
        if t >= t_end - 1.0:
            return (sum(last.values()) - sum(values.values())) / max(t_end - t, 1e-3)
    return 0.0


def settle(inst, watcher, partitions, collector):
    """Until the committed offsets reach the ends of the input partitions and no alert came
    for QUIET s; or, if the commits stay behind, until no alert came for STUCK s. Returns a
    problem, or None."""
    ends = watcher.ends(partitions)
    deadline = time.monotonic() + SETTLE_TIMEOUT
    count, changed = -1, time.monotonic()
    while time.monotonic() < deadline:
        if inst.daemon.proc.poll() is not None:
            fail("the last instance exited with status %d" % inst.daemon.proc.returncode)
        n = collector.count()
        if n != count:
            count, changed = n, time.monotonic()
        _, committed = watcher.snapshot()
        at_end = all(committed.get(p, -1) >= end for p, end in ends.items())
        if at_end and time.monotonic() - changed >= QUIET:
            return None
        if time.monotonic() - changed >= STUCK:
            break
        time.sleep(0.3)
    _, committed = watcher.snapshot()
    return "the committed offsets never reached the ends of the input (%s) after the last record: %s" % (
        "no alert for %.0f s" % STUCK if time.monotonic() < deadline else "%.0f s" % SETTLE_TIMEOUT,
        ", ".join("[%d] %s of %d" % (p, committed.get(p, "nothing"), end) for p, end in sorted(ends.items())))


def check_alerts(copies, want):
    """({id: alert}, problems): deduplicated by id, the alerts must be replay's (ids aside), and
    two copies with one id identical."""
    by_id, problems = {}, []
    for a in copies:
        aid = json.loads(a)["id"]
        if aid in by_id and by_id[aid] != a:
            problems.append("alert id %s written twice with different content:\n%s\n%s" % (aid, by_id[aid], a))
        by_id[aid] = a
    got = Counter(map(without_id, by_id.values()))
    missing, extra = want - got, got - want
    if missing or extra:
        problems.append("alerts deduplicated by id differ from replay's: %d missing, %d extra (%d distinct, replay "
                        "%d)\nmissing e.g. %s\nextra e.g. %s" % (
                            sum(missing.values()), sum(extra.values()), len(by_id), sum(want.values()),
                            list(missing)[:3], list(extra)[:3]))
    return by_id, problems


def describe_restores(restores):
    if not restores:
        return "nothing restored"
    return ", ".join("[%d] ckpt %d from %s%s in %d ms" % (p, c, src, " (%d records)" % n if src == "changelog" else "",
                                                          ms)
                     for p, (c, src, n, ms) in sorted(restores.items()))


def print_table(rows):
    print("crash_state_test: kill | at record | s after assign | own ckpt | rate/s | restored from          | "
          "re-read | exact | bound | 2h window | restore ms")
    for r in rows:
        sources = "+".join(sorted(set(x[1] for x in r["restores"].values()))) or "-"
        ms = max([x[3] for x in r["restores"].values()] or [0])
        print("crash_state_test: %4d | %9d | %14.2f | %8s | %6.0f | %-22s | %7d | %5d | %5d | %9d | %d" % (
            r["kill"], r["at"], r["assigned_s"], "yes" if r["checkpointed"] else "no", r["rate"],
            sources + (" (empty dir)" if r["fresh"] else ""), r["reread"], r["exact"], r["bound"], r["window"], ms))


if __name__ == "__main__":
    main()
