#!/usr/bin/env python3
"""CTest daemon_*: `tern run` against the embedded broker (`tern kafka-mock`).

Usage: daemon_test.py PATH/TO/tern REPO_DIR SCENARIO
Scenarios:
  replay_equal  the alerts the daemon writes for a stream equal those of
                `tern replay --open-end` for the same records (ids aside: the
                daemon's event positions are Kafka offsets, replay's line numbers);
                malformed records reach the dead-letter topic with their reason and
                source in headers, and nothing else is lost; SIGTERM exits 0.
  restart       the stream in two halves with a graceful stop and a restart in
                between: every alert of the whole stream comes out (at-least-once),
                and an alert written twice is written identically (same id).
  outage        the broker goes down while the daemon works and comes back, and
                injected produce/fetch/commit request errors: no alert is lost
                (duplicates only with the same id).
  redeliver     the daemon's first produce requests fail for good (an injected
                MESSAGE_TOO_LARGE, which librdkafka does not retry): the daemon
                produces the failed alerts again from their delivery reports, and
                none is lost.
  reload        SIGHUP with a changed pattern file: the unchanged pattern keeps its
                partial match and completes it (tern_pattern_partial_matches shows it
                kept, the changed pattern's dropped); a file with errors is rejected
                and the running patterns keep running.
  partitions    a keyed stream over 3 partitions, one of them behind in event time,
                read by two daemons: with `input.idle = "0ms"` no window timer fires
                until the slow partition's own time passes it, however far ahead the
                others are; with `input.idle = "300ms"` the timers fire once the slow
                partition has been idle, without a record from it. Both end with the
                alerts of `tern replay --open-end`, and /metrics has one
                tern_consumer_lag series per partition.
  pattern_files one pattern file named three ways (a glob, ./ in its path, a symlink)
                is loaded once, as `tern check` does; a second file defining the same
                pattern name is an error (E0201) both at a reload (rejected, the
                running patterns keep running) and at start (exit 1).
  hostile       records over `input.max.event.size` (1 KiB here), not UTF-8, with
                numbers out of int64 and double range, with a time out of range: the
                too-large one reaches the dead-letter topic as its first 1024 bytes with
                the reason, the others unchanged with theirs (valid UTF-8 headers), the
                valid ones match, and every alert is strict JSON in strict UTF-8.
  crash         alerts that cannot be delivered (their broker is down) while the
                daemon consumes and commits, then SIGKILL and a restart: every alert
                comes out, so the commits were held at the oldest events each
                undelivered alert bound (on both partitions, also for alerts a
                watermark fired), and the restart re-read exactly those records.
  health        /readyz answers 200 with every check ok in a normal run; 503 naming
                the producer while the alerts' broker is down, and the brokers while
                every broker is down; 200 again once they are back. /livez answers 200
                all along. /metrics shows the partial matches per pattern.
  stall         a record that stalls the loop (TERN_TESTING_ONLY_STALL_MS): /livez and
                /healthz answer 503 naming the loop while it is stuck, 200 after.
  unreachable   brokers at 127.0.0.1:1: /readyz answers 503 naming the brokers and the
                partitions, /livez 200; with log.format = "json" every line on stderr
                is a JSON object, librdkafka's included; with log.level = "off" there
                is none.
  time          `input.late.policy = "drop"` and the default `input.time.max.ahead`:
                an event dated 2100 goes to the dead-letter topic with its reason and
                does not move time, a late event goes to the late topic and matches
                nothing, and the alerts equal those of `tern replay --late drop`.
kcat (Debian package kcat) produces the input and reads the output topics.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

from kafka_harness import (Daemon, Mock, all_alerts_once, consume, fail, kcat, lag_series, metrics_text, probe,
                           produce, replay, run_with, scrape, scrape_labelled, wait_for, wait_probe, without_id,
                           write_config)

def shipped(repo):
    """The shipped pattern files and the lines of the sample stream."""
    patterns = [os.path.join(repo, "patterns", f) for f in sorted(os.listdir(os.path.join(repo, "patterns")))
                if f.endswith(".tern")]
    with open(os.path.join(repo, "patterns", "sample", "events.jsonl")) as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    return patterns, lines


def scenario_replay_equal(tern, repo, work, mock):
    patterns, lines = shipped(repo)
    bad = ['{"ts": 1709630000000, "type": tru}', 'not json at all', '{"type":"auth"}', '[1,2,3]']
    mixed = lines[:50] + bad[:2] + lines[50:200] + bad[2:] + lines[200:]
    expected = replay(tern, patterns, lines, work)
    if not expected:
        fail("the sample stream gives no alerts with --open-end: nothing to compare")
    config = os.path.join(work, "eq.toml")
    write_config(config, mock.bootstrap, "eq", [os.path.join(repo, "patterns", "*.tern")])
    daemon = Daemon(tern, config, os.path.join(work, "eq.log"))
    produce(mock.bootstrap, "eq.events", mixed)
    wait_for("%d alerts" % len(expected), lambda: len(consume(mock.bootstrap, "eq.alerts")) >= len(expected))
    time.sleep(1.0)  # nothing more may come
    daemon.stop()
    got = consume(mock.bootstrap, "eq.alerts")
    if Counter(map(without_id, got)) != Counter(map(without_id, expected)):
        fail("daemon alerts differ from replay's: %d vs %d\nfirst daemon: %s\nfirst replay: %s"
             % (len(got), len(expected), got[:1], expected[:1]))
    dead = consume(mock.bootstrap, "eq.dead", with_headers=True)
    if sorted(v for _, v in dead) != sorted(bad):
        fail("dead letters %r, expected %r" % ([v for _, v in dead], bad))
    for headers, value in dead:
        for h in ("tern-error", "tern-topic", "tern-partition", "tern-offset"):
            if h not in headers:
                fail("dead letter %r lacks header %s (%r)" % (value, h, headers))
    print("daemon_test: replay_equal ok: %d alerts equal replay's, %d dead letters" % (len(got), len(dead)))


def scenario_hostile(tern, repo, work, mock):
    pattern = os.path.join(work, "pair.tern")
    with open(pattern, "w") as f:
        f.write('pattern pair {\n  key k\n  begin a where t == "a"\n'
                '  followed_by b where t == "b" and v > 1e300\n  emit { v = b.v }\n}\n')
    config = os.path.join(work, "ho.toml")
    write_config(config, mock.bootstrap, "ho", [pattern])
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write('"input.max.event.size" = "1KiB"\n' + text)
    too_large = b'{"ts":1500,"k":"k1","t":"b","v":1e400,"pad":"' + b"x" * 5000 + b'"}'
    records = [
        b'{"ts":1000,"k":"k1","t":"a"}',
        too_large,
        b'{"ts":1600,"k":"k1","t":"b","v":1e400,"s":"caf\xe9"}',
        b'{"ts":1e400,"k":"k1","t":"b","v":1e400}',
        b'{"ts":"' + "é".encode() * 30 + b'","k":"k1"}',
        b'{"ts":2000,"k":"k1","t":"b","v":-9223372036854775809}',
        b'{"ts":2100,"k":"k1","t":"b","v":1E+999,"s":"\xf0\x9f\x98\x80"}',
    ]
    r = subprocess.run([kcat(), "-b", mock.bootstrap, "-t", "ho.events", "-P", "-p", "0", "-z", "none"],
                       input=b"".join(x + b"\n" for x in records), capture_output=True, timeout=30)
    if r.returncode != 0:
        fail("kcat produce: %r" % r.stderr)
    daemon = Daemon(tern, config, os.path.join(work, "ho.log"))

    def dead_letters():
        r = subprocess.run([kcat(), "-b", mock.bootstrap, "-t", "ho.dead", "-C", "-e", "-q", "-o",
                            "beginning", "-f", "%h\t%s\n"], capture_output=True, timeout=30)
        out = []
        for line in r.stdout.split(b"\n"):
            if line:
                # kcat writes headers as k=v,k=v; the error (last) may hold commas itself.
                headers, _, value = line.partition(b"\t")
                h = {}
                for part in re.split(rb",(?=tern-)", headers):
                    k, _, v = part.partition(b"=")
                    h[k] = v
                out.append((h, value))
        return out

    wait_for("4 dead letters", lambda: len(dead_letters()) >= 4)
    wait_for("an alert", lambda: len(consume(mock.bootstrap, "ho.alerts")) >= 1)
    time.sleep(1.0)  # nothing more may come
    daemon.stop()
    errors = {}
    for headers, value in dead_letters():
        try:
            error = headers[b"tern-error"].decode("utf-8", errors="strict")
        except (KeyError, UnicodeDecodeError):
            fail("dead letter %r: no tern-error header in UTF-8: %r" % (value[:60], headers))
        errors[error] = value
    want = {
        "event too large: %d bytes, over the limit of 1KiB" % len(too_large): too_large[:1024],
        "not JSON": records[2],
        "invalid time 'inf': out of range (int64 milliseconds)": records[3],
        "invalid time '" + "é" * 20 + "...'": records[4],
    }
    if errors != want:
        fail("dead letters %r, expected %r" % ({k: v[:60] for k, v in errors.items()},
                                               {k: v[:60] for k, v in want.items()}))
    r = subprocess.run([kcat(), "-b", mock.bootstrap, "-t", "ho.alerts", "-C", "-e", "-q", "-o",
                        "beginning", "-f", "%s\n"], capture_output=True, timeout=30)
    alerts = [json.loads(line.decode("utf-8", errors="strict")) for line in r.stdout.split(b"\n") if line]
    # b at 2000 is -9.2e18: no match; b at 2100 is +infinity (written as null).
    if [(a["events"]["b"][0]["ts"], a["fields"]["v"]) for a in alerts] != [(2100, None)]:
        fail("alerts %r" % alerts)
    print("daemon_test: hostile ok: %d dead letters, %d alert" % (len(errors), len(alerts)))


def scenario_restart(tern, repo, work, mock):
    patterns, lines = shipped(repo)
    expected = replay(tern, patterns, lines, work)
    first = replay(tern, patterns, lines[:150], work)
    config = os.path.join(work, "rs.toml")
    write_config(config, mock.bootstrap, "rs", [os.path.join(repo, "patterns", "*.tern")])
    daemon = Daemon(tern, config, os.path.join(work, "rs.log"))
    produce(mock.bootstrap, "rs.events", lines[:150])
    wait_for("%d alerts of the first half" % len(first),
             lambda: len(consume(mock.bootstrap, "rs.alerts")) >= len(first))
    daemon.stop()
    daemon = Daemon(tern, config, os.path.join(work, "rs.log"))
    produce(mock.bootstrap, "rs.events", lines[150:])
    want = Counter(map(without_id, expected))
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "rs.alerts", want, "after a restart")
    print("daemon_test: restart ok: %d alerts written (%d distinct, as replay), duplicates identical"
          % (len(got), len(by_id)))


def shipped_setup(tern, repo, work, mock, prefix):
    """The shipped patterns and sample stream, the alerts replay gives for it (ids
    aside), and a daemon config and log path for topics `prefix`.*."""
    patterns, lines = shipped(repo)
    want = Counter(map(without_id, replay(tern, patterns, lines, work)))
    config = os.path.join(work, prefix + ".toml")
    write_config(config, mock.bootstrap, prefix, [os.path.join(repo, "patterns", "*.tern")])
    return lines, want, config, os.path.join(work, prefix + ".log")


def scenario_outage(tern, repo, work, mock):
    lines, want, config, log = shipped_setup(tern, repo, work, mock, "ou")
    produce(mock.bootstrap, "ou.events", lines[:100])
    daemon = Daemon(tern, config, log)
    wait_for("the first events to be consumed", lambda: (scrape(log, "tern_events_total") or 0) >= 1)
    # Request errors the clients must retry through (NOT_LEADER_FOR_PARTITION = 6,
    # REQUEST_TIMED_OUT = 7, COORDINATOR_NOT_AVAILABLE = 15).
    mock.control("errors produce 6 3")
    mock.control("errors fetch 7 2")
    mock.control("errors commit 15 2")
    produce(mock.bootstrap, "ou.events", lines[100:200])
    # The broker goes away for 3 s, then comes back.
    mock.control("down")
    time.sleep(3.0)
    mock.control("up")
    produce(mock.bootstrap, "ou.events", lines[200:])
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "ou.alerts", want, "after the outage")
    print("daemon_test: outage ok: %d alerts written (%d distinct, as replay) through a 3 s broker outage "
          "and injected request errors" % (len(got), len(by_id)))


def scenario_redeliver(tern, repo, work, mock):
    lines, want, config, log = shipped_setup(tern, repo, work, mock, "rd")
    produce(mock.bootstrap, "rd.events", lines)
    # Only the daemon produces from here on: its first 5 produce requests fail with
    # MESSAGE_TOO_LARGE (10), a permanent error librdkafka reports without retrying.
    mock.control("errors produce 10 5")
    daemon = Daemon(tern, config, log)
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "rd.alerts", want, "after failed deliveries")
    with open(log) as f:
        again = f.read().count("producing it again")
    if again == 0:
        fail("no delivery failed: the injected produce errors did not reach the daemon")
    print("daemon_test: redeliver ok: %d alerts written (%d distinct, as replay); %d failed deliveries "
          "produced again" % (len(got), len(by_id), again))


def scenario_reload(tern, repo, work, mock):
    pdir = os.path.join(work, "reload-patterns")
    os.makedirs(pdir, exist_ok=True)
    keep = 'pattern keep { key u begin a where t == "a" followed_by b where t == "b" }\n'
    with open(os.path.join(pdir, "keep.tern"), "w") as f:
        f.write(keep)
    with open(os.path.join(pdir, "other.tern"), "w") as f:
        f.write('pattern other { key u begin a where t == "a" followed_by b where t == "b" }\n')
    config = os.path.join(work, "rl.toml")
    write_config(config, mock.bootstrap, "rl", [os.path.join(pdir, "*.tern")])
    log = os.path.join(work, "rl.log")
    daemon = Daemon(tern, config, log)
    produce(mock.bootstrap, "rl.events", ['{"ts":1,"u":"x","t":"a"}'])
    wait_for("the first event to be consumed", lambda: (scrape(log, "tern_events_total") or 0) >= 1)
    # Neither pattern has a window: the load log warns (W0101), and they run all the same.
    if "warning[W0101]" not in open(log).read():
        fail("the daemon's load log has no W0101 warning for patterns without a window")

    def partials(pattern):
        return scrape_labelled(log, 'tern_pattern_partial_matches{pattern="%s"}' % pattern)
    wait_for("a partial match of each pattern on /metrics", lambda: partials("keep") == 1 and partials("other") == 1)
    # A broken file: rejected, the running set goes on.
    with open(os.path.join(pdir, "other.tern"), "w") as f:
        f.write('pattern other { key u begin a where t == }\n')
    daemon.signal(signal.SIGHUP)
    wait_for("the reload rejection in the log", lambda: "reload rejected" in open(log).read())
    # A changed file: `other` starts fresh, `keep` keeps x's partial match.
    with open(os.path.join(pdir, "other.tern"), "w") as f:
        f.write('pattern other { key u begin a where t == "a" followed_by b where t == "b" and n > 0 }\n')
    daemon.signal(signal.SIGHUP)
    wait_for("the reload in the log", lambda: "kept their partial matches" in open(log).read())
    wait_for("keep's partial match kept, other's dropped, on /metrics",
             lambda: partials("keep") == 1 and partials("other") == 0)
    produce(mock.bootstrap, "rl.events", ['{"ts":2,"u":"x","t":"b","n":1}'])
    wait_for("keep's alert", lambda: any('"pattern":"keep"' in a for a in consume(mock.bootstrap, "rl.alerts")))
    time.sleep(1.0)
    got = consume(mock.bootstrap, "rl.alerts")
    patterns = sorted(json.loads(a)["pattern"] for a in got)
    if patterns != ["keep"]:
        fail("after the reload: alerts of %r, expected only keep's" % patterns)
    # A pattern keyed by a new field: a new repartition topic, subscribed to, that matches.
    with open(os.path.join(pdir, "byt.tern"), "w") as f:
        f.write('pattern byt { key t within 1m begin a where t == "c" followed_by b where n == 7 }\n')
    daemon.signal(signal.SIGHUP)
    wait_for("the new repartition topic assigned",
             lambda: "partition rl.tern.repartition.t[" in open(log).read())
    produce(mock.bootstrap, "rl.events", ['{"ts":3,"u":"y","t":"c"}', '{"ts":4,"u":"z","t":"c","n":7}'])
    wait_for("byt's alert", lambda: any('"pattern":"byt"' in a for a in consume(mock.bootstrap, "rl.alerts")))
    daemon.stop()
    print("daemon_test: reload ok: a broken file was rejected, keep completed its partial match; "
          "partial matches per pattern on /metrics; a pattern with a new key got its repartition topic")


def scenario_pattern_files(tern, repo, work, mock):
    pdir = os.path.join(work, "pf-patterns")
    os.makedirs(pdir, exist_ok=True)
    keep = 'pattern keep { key u begin a where t == "a" followed_by b where t == "b" }\n'
    with open(os.path.join(pdir, "keep.tern"), "w") as f:
        f.write(keep)
    os.symlink("keep.tern", os.path.join(pdir, "link.tern"))
    config = os.path.join(work, "pf.toml")
    write_config(config, mock.bootstrap, "pf", [os.path.join(pdir, "*.tern"), os.path.join(pdir, ".", "keep.tern")])
    log = os.path.join(work, "pf.log")
    daemon = Daemon(tern, config, log)
    wait_for("the daemon to start", lambda: "consuming" in open(log).read() or daemon.proc.poll() is not None)
    if daemon.proc.poll() is not None or "; 1 patterns" not in open(log).read():
        fail("keep.tern named three ways: expected one pattern loaded")
    produce(mock.bootstrap, "pf.events", ['{"ts":1,"u":"x","t":"a"}', '{"ts":2,"u":"x","t":"b"}'])
    wait_for("x's alert", lambda: consume(mock.bootstrap, "pf.alerts"))
    # Another file defining `keep`: the reload is rejected, the running patterns go on.
    with open(os.path.join(pdir, "dup.tern"), "w") as f:
        f.write(keep)
    daemon.signal(signal.SIGHUP)
    wait_for("the reload rejection in the log", lambda: "reload rejected" in open(log).read())
    if "duplicate pattern name 'keep'" not in open(log).read():
        fail("the rejected reload does not name the duplicate pattern")
    produce(mock.bootstrap, "pf.events", ['{"ts":3,"u":"y","t":"a"}', '{"ts":4,"u":"y","t":"b"}'])
    wait_for("y's alert", lambda: len(consume(mock.bootstrap, "pf.alerts")) >= 2)
    time.sleep(1.0)
    daemon.stop()
    keys = sorted(json.loads(a)["key"] for a in consume(mock.bootstrap, "pf.alerts"))
    if keys != ["x", "y"]:
        fail("alerts for keys %r, expected one for x and one for y" % keys)
    # At start the same files are an error.
    start = subprocess.run([tern, "run", "--config", config], capture_output=True, text=True, timeout=60)
    if start.returncode != 1 or "duplicate pattern name 'keep'" not in start.stderr:
        fail("start with two files defining keep: status %d, stderr %r" % (start.returncode, start.stderr[-2000:]))
    print("daemon_test: pattern_files ok: one file named three ways loaded once; a duplicate name "
          "rejected at reload and at start")


# The partitions scenario: a pattern that closes a window by absence, one that times out,
# and a keyed stream over three partitions. Keys a* live on partition 0, b* on 1, c* on 2;
# each partition is in event-time order and their times interleave, but partition 2 stops
# at 8500 while 0 and 1 run on past 30000. Deadlines (start + 10 s): a1 19000, b0 13000,
# c0 11000, c2 18500; none is passed by partition 2's own time.
PARTITION_PATTERNS = """\
pattern quiet { key u  within 10s
  begin start where t == "start"  not_followed_by stop where t == "stop" }
pattern paid { key u  within 10s
  begin start where t == "start"  followed_by stop where t == "stop"
  on_timeout emit { user = start.u } }
"""
PARTITION_PHASE1 = {
    0: [(2000, "a0", "start"), (5000, "a0", "stop"), (9000, "a1", "start"), (14000, "a2", "start"),
        (16000, "a2", "stop"), (30000, "a3", "tick")],
    1: [(3000, "b0", "start"), (7000, "b1", "start"), (12000, "b1", "stop"), (20000, "b2", "start"),
        (29000, "b2", "stop"), (31000, "b3", "tick")],
    2: [(1000, "c0", "start"), (6000, "c1", "start"), (8000, "c1", "stop"), (8500, "c2", "start")],
}
PARTITION_PHASE2 = {0: [(40000, "a9", "tick")], 1: [(40000, "b9", "tick")]}  # the fast ones move on
PARTITION_PHASE3 = {2: [(40000, "c9", "tick")]}  # the slow one catches up


def partition_event(ts, key, kind):
    return json.dumps({"ts": ts, "u": key, "t": kind}, separators=(",", ":"))


def produce_partitions(bootstrap, topic, phase):
    for partition, events in sorted(phase.items()):
        produce(bootstrap, topic, [partition_event(*e) for e in events], partition=partition,
                keys=[e[1] for e in events])


def is_timer_alert(alert_json):
    """Emitted when a window closed (absence match or timeout), not by an arriving event."""
    a = json.loads(alert_json)
    return a["pattern"] == "quiet" or a["kind"] == "timeout"


# Two input partitions: a match whose events are on partition 0, and an absence
# (plus a timeout) on partition 1 closed by the watermark, i.e. by partition 0's
# record as much as by partition 1's. Each partition starts with a record no
# pattern binds, so the right commit is past it.
CRASH_EVENTS = {
    0: [(500, "a8", "tick"), (1000, "a0", "start"), (2000, "a0", "stop"), (20000, "a9", "tick")],
    1: [(500, "b8", "tick"), (1500, "b0", "start"), (20000, "b9", "tick")],
}


def scenario_crash(tern, repo, work, mock):
    pattern = os.path.join(work, "windows.tern")
    with open(pattern, "w") as f:
        f.write(PARTITION_PATTERNS)
    everything = sorted(e for events in CRASH_EVENTS.values() for e in events)
    want = Counter(map(without_id, replay(tern, [pattern], [partition_event(*e) for e in everything], work)))
    if sum(want.values()) != 3:
        fail("expected 3 alerts from replay, got %r" % want)
    # Broker 2 leads the alerts topic only; input, group and the other outputs stay
    # on broker 1, so the daemon consumes and commits while no alert can be delivered.
    for topic in ("cr.events", "cr.late", "cr.dead"):
        for partition in range(2 if topic == "cr.events" else 1):
            mock.control("leader %s %d 1" % (topic, partition))
    mock.control("leader cr.alerts 0 2")
    mock.control("coordinator cr 1")
    config = os.path.join(work, "cr.toml")
    # Each key stays on one partition, and the patterns read the partitions directly:
    # the commits this test follows are the input partitions' own (the shuffle's crash
    # safety is tests/daemon/scaleout_test.py's).
    write_config(config, mock.bootstrap, "cr", [pattern], input_options={"key.field": '"u"'})
    log = os.path.join(work, "cr.log")
    mock.control("down 2")
    daemon = Daemon(tern, config, log)
    produce_partitions(mock.bootstrap, "cr.events", CRASH_EVENTS)
    wait_for("all 7 records consumed", lambda: (scrape(log, "tern_events_total") or 0) >= 7)
    time.sleep(2.0)  # commits go out every 200 ms; the alerts stay undelivered
    daemon.kill()
    mock.control("up 2")
    # The restarted member reads from the committed offsets: the alerts come out only
    # if those were held at the oldest events the undelivered alerts bound.
    log = os.path.join(work, "cr-restarted.log")
    daemon = Daemon(tern, config, log)
    wait_for("every alert of the stream",
             lambda: set(map(without_id, consume(mock.bootstrap, "cr.alerts"))) >= set(want))
    # From offset 1 on both partitions (the first record of each bound nothing): 5
    # records. 7 would mean nothing was committed before the crash (the test proves
    # nothing), fewer that a commit went past an undelivered alert's events.
    wait_for("5 records re-read", lambda: (scrape(log, "tern_events_total") or 0) >= 5)
    time.sleep(0.5)
    reread = scrape(log, "tern_events_total")
    if reread != 5:
        fail("the restarted daemon read %s records, expected the 5 from offset 1 on each partition" % reread)
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "cr.alerts", want, "after a crash")
    print("daemon_test: crash ok: %d alerts written (%d distinct, as replay) after a SIGKILL with "
          "none delivered; the restart re-read the 5 records they bound or followed" % (len(got), len(by_id)))


def scenario_partitions(tern, repo, work, mock):
    pattern = os.path.join(work, "windows.tern")
    with open(pattern, "w") as f:
        f.write(PARTITION_PATTERNS)
    phases = [PARTITION_PHASE1, PARTITION_PHASE2, PARTITION_PHASE3]
    everything = sorted(e for phase in phases for events in phase.values() for e in events)
    expected = Counter(map(without_id, replay(tern, [pattern], [partition_event(*e) for e in everything],
                                               work)))
    timer_alerts = sum(n for a, n in expected.items() if is_timer_alert(a))
    if timer_alerts < 4 or timer_alerts == sum(expected.values()):
        fail("replay gives %r: the stream should close windows and complete matches" % expected)
    n1 = sum(len(v) for v in PARTITION_PHASE1.values())
    n2 = n1 + sum(len(v) for v in PARTITION_PHASE2.values())

    # Each partition's first event goes in before the daemons start, the rest of phase 1
    # once they have read those: a partition that has sent nothing yet does not hold the
    # watermark back (the engine only knows partitions it has seen an event from).
    first = {p: events[:1] for p, events in PARTITION_PHASE1.items()}
    rest = {p: events[1:] for p, events in PARTITION_PHASE1.items()}
    produce_partitions(mock.bootstrap, "pt.events", first)
    hold_log, idle_log = os.path.join(work, "ph.log"), os.path.join(work, "pi.log")
    write_config(os.path.join(work, "ph.toml"), mock.bootstrap, "ph", [pattern], events_topic="pt.events",
                 idle="0ms")
    write_config(os.path.join(work, "pi.toml"), mock.bootstrap, "pi", [pattern], events_topic="pt.events",
                 idle="300ms", log_level="debug")
    # The same as pi with the patterns reading the input partitions directly (each user's
    # events are on one partition): an idle partition's windows close by the time of the
    # member's other input partitions (Engine::AdvanceWatermark).
    direct_log = os.path.join(work, "pd.log")
    write_config(os.path.join(work, "pd.toml"), mock.bootstrap, "pd", [pattern], events_topic="pt.events",
                 idle="300ms", input_options={"key.field": '"u"'})
    hold = Daemon(tern, os.path.join(work, "ph.toml"), hold_log)
    idle = Daemon(tern, os.path.join(work, "pi.toml"), idle_log)
    direct = Daemon(tern, os.path.join(work, "pd.toml"), direct_log)
    wait_for("both daemons to see every partition",
             lambda: (scrape(hold_log, "tern_events_total") or 0) >= len(first)
             and (scrape(idle_log, "tern_events_total") or 0) >= len(first))
    produce_partitions(mock.bootstrap, "pt.events", rest)
    wait_for("both daemons to consume phase 1",
             lambda: (scrape(hold_log, "tern_events_total") or 0) >= n1
             and (scrape(idle_log, "tern_events_total") or 0) >= n1)

    # input.idle = 300ms: partition 2 goes idle; once the fast partitions move on, every
    # window closes, partition 2 silent all along: the alerts are replay's, all of them.
    # (It may also have gone idle between its first record and the rest: the log line
    # names the last offset.)
    idle_line = "partition pt.events[2] idle: no record after offset %d " % (len(PARTITION_PHASE1[2]) - 1)
    wait_for("partition 2 to go idle", lambda: idle_line in open(idle_log).read())
    produce_partitions(mock.bootstrap, "pt.events", PARTITION_PHASE2)
    wait_for("the idle daemon to close every window",
             lambda: Counter(map(without_id, consume(mock.bootstrap, "pi.alerts"))) == expected)
    wait_for("the idle daemon on the direct path to close every window",
             lambda: Counter(map(without_id, consume(mock.bootstrap, "pd.alerts"))) == expected)

    # input.idle = 0ms: partition 2 holds the watermark at 8500 however far 0 and 1 go.
    wait_for("the holding daemon to consume phase 2", lambda: (scrape(hold_log, "tern_events_total") or 0) >= n2)
    want_series = {("pt.events", str(p)) for p in range(3)}
    for log in (hold_log, idle_log):
        # (and the repartition topic's partitions: patterns keyed by u go through it)
        wait_for("one tern_consumer_lag series per input partition",
                 lambda: {s for s in lag_series(log) if s[0] == "pt.events"} == want_series)
    phase3_ms = int(time.time() * 1000)
    produce_partitions(mock.bootstrap, "pt.events", PARTITION_PHASE3)
    wait_for("the holding daemon to close every window once partition 2 moves on",
             lambda: Counter(map(without_id, consume(mock.bootstrap, "ph.alerts"))) == expected)
    # Each window-close alert came from handling partition 2's last record, none earlier:
    # tern-event-ms is the Kafka timestamp of the record whose processing produced it.
    for headers, value in consume(mock.bootstrap, "ph.alerts", with_headers=True):
        if is_timer_alert(value):
            event_ms = int(headers.get("tern-event-ms", "0"))
            if event_ms < phase3_ms:
                fail("with input.idle = 0ms a window closed before partition 2's time passed it "
                     "(completing record at %d ms, partition 2 caught up at %d ms): %s"
                     % (event_ms, phase3_ms, value))
    time.sleep(0.5)  # nothing more may come
    hold.stop()
    idle.stop()
    direct.stop()
    for name in ("ph", "pi", "pd"):
        got = consume(mock.bootstrap, name + ".alerts")
        if Counter(map(without_id, got)) != expected:
            fail("%s: %d alerts, replay gives %d\ngot: %s\nreplay: %s"
                 % (name, len(got), sum(expected.values()), sorted(map(without_id, got)), sorted(expected)))
    print("daemon_test: partitions ok: %d alerts (%d closing windows) equal replay's; input.idle = 0ms held "
          "the windows for the slow partition, 300ms closed them without it; lag per partition"
          % (sum(expected.values()), timer_alerts))


def scenario_health(tern, repo, work, mock):
    pattern = os.path.join(work, "pair.tern")
    with open(pattern, "w") as f:
        f.write('pattern pair { key u  begin a where t == "a"  followed_by b where t == "b" }\n')
    # Broker 2 leads the alerts topic only, as in the crash scenario.
    for topic in ("hl.events", "hl.late", "hl.dead"):
        mock.control("leader %s 0 1" % topic)
    mock.control("leader hl.alerts 0 2")
    mock.control("coordinator hl 1")
    config = os.path.join(work, "hl.toml")
    # The pattern reads the input partition directly (key.field): the one message the
    # producer check waits for is the alert, not repartitioned records.
    write_config(config, mock.bootstrap, "hl", [pattern], input_options={"key.field": '"u"'},
                 extra='[health]\nbrokers.timeout = "1s"\nproducer.timeout = "1s"\n')
    log = os.path.join(work, "hl.log")
    daemon = Daemon(tern, config, log)
    ready = wait_probe(log, "/readyz", 200)
    if sorted(ready["checks"]) != ["brokers", "loop", "partitions", "producer", "running"] or \
            not all(c["ok"] for c in ready["checks"].values()):
        fail("/readyz 200 with checks %r" % ready)
    if ready["checks"]["partitions"]["detail"] != "1 assigned":
        fail("partitions check %r" % ready["checks"]["partitions"])
    if probe(log, "/livez")[0] != 200 or probe(log, "/healthz")[0] != 200:
        fail("/livez or /healthz not 200 in a normal run")
    # Partial matches per pattern on /metrics.
    produce(mock.bootstrap, "hl.events", ['{"ts":1,"u":"x","t":"a"}', '{"ts":2,"u":"y","t":"a"}',
                                          '{"ts":3,"u":"y","t":"a"}'])
    wait_for("3 partial matches of pair over 2 keys on /metrics",
             lambda: scrape_labelled(log, 'tern_pattern_partial_matches{pattern="pair"}') == 3
             and scrape_labelled(log, 'tern_pattern_live_keys{pattern="pair"}') == 2)

    # The alerts' broker goes down: the alert x completes cannot be acknowledged.
    mock.control("down 2")
    produce(mock.bootstrap, "hl.events", ['{"ts":4,"u":"x","t":"b"}'])
    body = wait_probe(log, "/readyz", 503, "producer: 1 messages unacknowledged, the oldest for ")
    if not body["checks"]["brokers"]["ok"] or not body["checks"]["partitions"]["ok"]:
        fail("only the producer should fail while broker 2 is down: %r" % body)
    if probe(log, "/livez")[0] != 200:
        fail("/livez failed because the producer is stuck")
    mock.control("up 2")
    wait_probe(log, "/readyz", 200)
    wait_for("x's alert", lambda: len(consume(mock.bootstrap, "hl.alerts")) == 1)
    wait_for("2 partial matches of pair over 1 key on /metrics",
             lambda: scrape_labelled(log, 'tern_pattern_partial_matches{pattern="pair"}') == 2
             and scrape_labelled(log, 'tern_pattern_live_keys{pattern="pair"}') == 1)

    # Every broker goes down: not ready (brokers), but alive; ready again once they are back.
    mock.control("down")
    body = wait_probe(log, "/readyz", 503, "brokers: no broker answered for ")
    for _ in range(5):
        if probe(log, "/livez")[0] != 200:
            fail("/livez failed because the brokers are down")
        time.sleep(0.3)
    mock.control("up")
    wait_probe(log, "/readyz", 200)
    daemon.stop()
    print("daemon_test: health ok: ready in a normal run, not ready naming the producer and then the "
          "brokers while they were down, live all along; partial matches per pattern on /metrics")


def scenario_stall(tern, repo, work, mock):
    pattern = os.path.join(work, "pair.tern")
    with open(pattern, "w") as f:
        f.write('pattern pair { key u  begin a where t == "a"  followed_by b where t == "b" }\n')
    config = os.path.join(work, "st.toml")
    write_config(config, mock.bootstrap, "st", [pattern], extra='[health]\nstall.timeout = "1s"\n')
    log = os.path.join(work, "st.log")
    daemon = Daemon(tern, config, log, env={"TERN_TESTING_ONLY_STALL_MS": "6000"})
    wait_probe(log, "/readyz", 200)
    # An ordinary record does not stall; one with the TestingOnly key sleeps 6 s inside its
    # handling, as a pattern stuck on one event would.
    produce(mock.bootstrap, "st.events", ['{"ts":1,"u":"x","t":"a"}'])
    wait_for("the first record", lambda: (scrape(log, "tern_events_total") or 0) >= 1)
    if probe(log, "/livez")[0] != 200:
        fail("/livez failed before the stall")
    produce(mock.bootstrap, "st.events", ['{"ts":2,"u":"x","t":"b"}'], keys=["tern-testing-only-stall"])
    body = wait_probe(log, "/livez", 503, "loop: no progress for ")
    if list(body["checks"]) != ["loop"]:
        fail("/livez checks %r" % body)
    if probe(log, "/healthz")[0] != 503 or probe(log, "/readyz")[0] != 503:
        fail("/healthz and /readyz should fail while the loop is stuck")
    wait_probe(log, "/livez", 200)
    wait_for("the alert after the stall", lambda: len(consume(mock.bootstrap, "st.alerts")) == 1)
    daemon.stop()
    print("daemon_test: stall ok: /livez, /healthz and /readyz answered 503 naming the loop while a "
          "record stalled it, /livez 200 after")


def scenario_unreachable(tern, repo, work, mock):
    pattern = os.path.join(work, "pair.tern")
    with open(pattern, "w") as f:
        f.write('pattern pair { key u  begin a where t == "a"  followed_by b where t == "b" }\n')
    config = os.path.join(work, "un.toml")
    write_config(config, "127.0.0.1:1", "un", [pattern],
                 extra='[health]\nbrokers.timeout = "1s"\n', log_format="json")
    log = os.path.join(work, "un.log")
    daemon = Daemon(tern, config, log)
    body = wait_probe(log, "/readyz", 503, "brokers: not reached yet: ")
    if "partitions: waiting for the consumer group" not in body["reason"]:
        fail("/readyz reason %r" % body["reason"])
    for _ in range(8):  # a Kafka outage is no reason to restart: live all along
        status, live = probe(log, "/livez")
        if status != 200:
            fail("/livez answered %r %r with the brokers unreachable" % (status, live))
        time.sleep(0.5)
    daemon.stop()
    lines = open(log).read().splitlines()
    kafka = 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            fail("a line of stderr is not JSON with log.format = \"json\": %r" % line)
        if record.get("logger") == "librdkafka" and "Connect to ipv4#127.0.0.1:1 failed" in record["msg"]:
            kafka += 1
    if kafka == 0:
        fail("no line of librdkafka's about the refused connection among %d lines" % len(lines))

    # log.level = "off": not a line, librdkafka's included.
    write_config(config, "127.0.0.1:1", "un", [pattern], log_level="off", log_format="json")
    quiet_log = os.path.join(work, "un-off.log")
    daemon = Daemon(tern, config, quiet_log)
    time.sleep(4.0)
    daemon.stop()
    quiet = open(quiet_log).read()
    if quiet:
        fail("log.level = \"off\" still wrote %r" % quiet[:500])
    print("daemon_test: unreachable ok: /readyz 503 naming brokers and partitions, /livez 200; %d lines "
          "of JSON on stderr, %d of them librdkafka's; nothing at log.level off" % (len(lines), kafka))


def scenario_time(tern, repo, work, mock):
    """input.late.policy = "drop" and the default input.time.max.ahead: an event in 2100
    is dead-lettered with the reason and does not move time; a late event goes to the
    late topic and matches nothing; the alerts are those of `tern replay --late drop`."""
    pattern = os.path.join(work, "pair.tern")
    with open(pattern, "w") as f:
        f.write('pattern pair {\n  key k\n  within 1m\n  begin a where t == "a"\n'
                '  followed_by b where t == "b"\n  on_timeout emit { waited = a.id }\n}\n')
    base = 1700000000000

    def ev(i, ts, key, t):
        return '{"id": %d, "ts": %d, "k": "%s", "t": "%s"}' % (i, ts, key, t)
    lines = [ev(1, base, "k1", "a"),
             ev(2, 4102444800000, "k9", "a"),   # 2100: too far ahead
             ev(3, base + 1000, "k1", "b"),
             ev(4, base + 3000, "k2", "a"),
             ev(5, base + 500, "k3", "a"),      # late: under drop it starts nothing
             ev(6, base + 3500, "k3", "b"),
             ev(7, base + 4000, "k2", "b"),
             ev(8, base + 5000, "k5", "a"),
             ev(9, base + 200000, "k4", "x")]   # closes k5's window
    expected = replay(tern, [pattern], lines, work, ["--late", "drop"])
    kinds = sorted((json.loads(a)["kind"], json.loads(a)["key"]) for a in expected)
    if kinds != [("match", "k1"), ("match", "k2"), ("timeout", "k5")]:
        fail("tern replay --late drop gave %r" % kinds)
    config = os.path.join(work, "tm.toml")
    write_config(config, mock.bootstrap, "tm", [pattern], input_options={"late.policy": '"drop"'})
    daemon = Daemon(tern, config, os.path.join(work, "tm.log"))
    produce(mock.bootstrap, "tm.events", lines)
    want = Counter(map(without_id, expected))
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "tm.alerts", want, "late drop, max ahead")
    dead = consume(mock.bootstrap, "tm.dead", with_headers=True)
    if [v for _, v in dead] != [lines[1]] or "ahead" not in dead[0][0].get("tern-error", ""):
        fail("dead letters %r, expected the event of 2100 with its reason" % dead)
    late = consume(mock.bootstrap, "tm.late")
    if late != [lines[4]]:
        fail("late events %r, expected %r" % (late, [lines[4]]))
    print("daemon_test: time ok: %d alerts as replay --late drop, the far-future event dead-lettered (%s)"
          % (len(by_id), dead[0][0].get("tern-error")))


def scenario_keys(tern, repo, work, mock):
    """input.key.field: a pattern keyed by it reads the input partitions directly, with
    per-partition metrics; a key seen on two partitions is counted and warned about once
    per pattern; a pattern keyed otherwise goes through a repartition topic."""
    pattern = os.path.join(work, "keys.tern")
    with open(pattern, "w") as f:
        f.write('pattern pair { key u  within 1m  begin a where t == "a"  followed_by b where t == "b" }\n'
                'pattern other { key t  begin a where t == "a"  followed_by b where t == "b" }\n')
    config = os.path.join(work, "ky.toml")
    write_config(config, mock.bootstrap, "ky", [pattern], input_options={"key.field": '"u"'})
    log = os.path.join(work, "ky.log")
    daemon = Daemon(tern, config, log)
    wait_for("the daemon to own its partitions",
             lambda: (metrics_text(log) or "").count('tern_partition_owned{') >= 2 + 4)
    # u=x on partition 0 then on partition 1: the topic is not keyed by u after all.
    produce(mock.bootstrap, "ky.events", ['{"ts":1,"u":"x","t":"a"}'], partition=0)
    wait_for("the first event", lambda: (scrape(log, "tern_events_total") or 0) >= 1)
    produce(mock.bootstrap, "ky.events", ['{"ts":2,"u":"x","t":"b"}', '{"ts":3,"u":"y","t":"a"}'], partition=1)
    produce(mock.bootstrap, "ky.events", ['{"ts":4,"u":"x","t":"a"}'], partition=0)
    wait_for("four events", lambda: (scrape(log, "tern_events_total") or 0) >= 4)

    def conflicts():
        for line in (metrics_text(log) or "").split("\n"):
            if line.startswith('tern_key_partition_conflicts_total{pattern="pair"}'):
                return float(line.split()[1])
        return 0
    wait_for("a key-on-two-partitions count", lambda: conflicts() >= 2)
    counted = conflicts()
    text = metrics_text(log)
    for series in ('tern_partition_owned{topic="ky.events",partition="0"} 1',
                   'tern_partition_owned{topic="ky.events",partition="1"} 1',
                   'tern_partition_owned{topic="ky.tern.repartition.t",partition="0"} 1'):
        if series not in text:
            fail("no %r in /metrics" % series)
    if "tern_repartition_records_out_total" not in text:
        fail("no repartition counters in /metrics")
    daemon.stop()
    lines = [l for l in open(log) if "seen on partitions" in l]
    if len(lines) != 1 or "pattern pair: key u = \"x\"" not in lines[0] or "ky.events[0]" not in lines[0] \
            or "ky.events[1]" not in lines[0]:
        fail("expected one warning naming pattern pair, key x and both partitions; got %r" % lines)
    print("daemon_test: keys ok: %d events of a key on a second partition counted, one warning; per-partition "
          "metrics for the input and repartition partitions" % counted)


# Durable state (issue 15): long windows whose partial matches outlive two SIGKILLs. The
# first restart finds its checkpoint in the local store, the second gets a new, empty
# state directory (another machine) and restores from the changelog. Every start begun
# before a crash is completed after it.
STATE_PATTERNS = """\
pattern paid { key u  within 1h
  begin start where t == "start"  followed_by stop where t == "stop" }
pattern unpaid { key u  within 1h
  begin start where t == "start"  not_followed_by stop where t == "stop"
  on_timeout emit { user = start.u } }
pattern refund_then_big { key u  within 2h  skip past_last_event
  begin small where t == "small" times 2.. greedy  followed_by big where t == "big" }
"""


def state_events():
    """Three phases of events on two partitions; keys k<p>_<n> live on partition p."""
    phases = [{0: [], 1: []} for _ in range(3)]
    ts = 1000
    for n in range(60):
        for p in (0, 1):
            key = "k%d_%d" % (p, n)
            ts += 7
            phases[0][p].append((ts, key, "start"))
            if n % 3 == 0:
                phases[0][p].append((ts + 1, key, "small"))
                phases[1][p].append((ts + 2, key, "small"))
    ts += 60_000
    for n in range(60):
        for p in (0, 1):
            key = "k%d_%d" % (p, n)
            ts += 11
            if n % 2 == 0:
                phases[1 if n < 30 else 2][p].append((ts, key, "stop"))
            if n % 3 == 0:
                phases[2][p].append((ts + 1, key, "big"))
    # Far past every window: the absences and timeouts of the keys never stopped close.
    for p in (0, 1):
        phases[2][p].append((ts + 3 * 3600_000, "z%d" % p, "tick"))
    return phases


def scenario_state(tern, repo, work, mock):
    pattern = os.path.join(work, "state.tern")
    with open(pattern, "w") as f:
        f.write(STATE_PATTERNS)
    phases = state_events()
    everything = sorted(e for phase in phases for events in phase.values() for e in events)
    want = Counter(map(without_id, replay(tern, [pattern], [partition_event(*e) for e in everything], work)))
    if sum(want.values()) < 50:
        fail("replay gives only %d alerts" % sum(want.values()))
    config_for = {}
    for name in ("a", "b"):
        config_for[name] = os.path.join(work, "sd-%s.toml" % name)
        write_config(config_for[name], mock.bootstrap, "sd", [pattern], input_options={"key.field": '"u"'},
                     extra='[state]\ndir = "%s"\ncheckpoint.interval = "200ms"\n' % os.path.join(work, "state-" + name))

    def wait_checkpointed(log, consumed):
        wait_for("%d records consumed" % consumed, lambda: (scrape(log, "tern_events_total") or 0) >= consumed)
        # Each partition checkpointed since its records came (they all change keys), then the
        # last checkpoint (every 200 ms while keys change) and its commit (every 200 ms).
        wait_for("a checkpoint of each partition", lambda: (scrape(log, "tern_checkpoints_total") or 0) >= 2)
        time.sleep(1.5)

    n = [sum(len(v) for v in phase.values()) for phase in phases]
    log = os.path.join(work, "sd-1.log")
    daemon = Daemon(tern, config_for["a"], log)
    produce_partitions(mock.bootstrap, "sd.events", phases[0])
    wait_checkpointed(log, n[0])
    daemon.kill()

    # Restart on the same machine: the local store holds the committed checkpoint.
    log = os.path.join(work, "sd-2.log")
    daemon = Daemon(tern, config_for["a"], log)
    wait_for("both partitions restored from the local store",
             lambda: open(log).read().count("restored from the local store") == 2)
    produce_partitions(mock.bootstrap, "sd.events", phases[1])
    # Nothing of phase 1 is read again: the checkpoint covers it.
    wait_checkpointed(log, n[1])
    reread = scrape(log, "tern_events_total") - n[1]
    if reread != 0:
        fail("the restart read %d records of before the crash again (the checkpoint covered them all)" % reread)
    daemon.kill()

    # Another machine (an empty state directory): the changelog.
    log = os.path.join(work, "sd-3.log")
    daemon = Daemon(tern, config_for["b"], log)
    wait_for("both partitions restored from the changelog",
             lambda: open(log).read().count("restored from the changelog") == 2)
    produce_partitions(mock.bootstrap, "sd.events", phases[2])
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "sd.alerts", want, "after two crashes")
    restored = [line.split("]: ", 1)[-1] for name in ("sd-2.log", "sd-3.log")
                for line in open(os.path.join(work, name)) if "restored from" in line]
    live = [int(m) for m in re.findall(r"(\d+) partial matches", "\n".join(restored))]
    if len(live) != 4 or min(live) == 0:
        fail("each restore should bring back partial matches: %r" % restored)
    print("\n".join("daemon_test: " + r.strip() for r in restored))
    extra = Counter(map(without_id, by_id.values())) - want
    if extra:
        fail("alerts replay does not give: %r" % list(extra)[:3])
    print("daemon_test: state ok: %d alerts written (%d distinct, as replay) across a SIGKILL restored from the "
          "local store and one restored from the changelog on an empty state dir; 0 records re-read"
          % (len(got), len(by_id)))


def damage_store(partition_dir):
    """Truncates the write-ahead logs to half and flips a byte in the middle of every table
    file of one partition's RocksDB: what a crash mid-write or a bad disk leaves."""
    damaged = []
    for name in sorted(os.listdir(partition_dir)):
        path = os.path.join(partition_dir, name)
        size = os.path.getsize(path)
        if name.endswith(".log") and size > 0:
            os.truncate(path, size // 2)
            damaged.append(name)
        elif name.endswith(".sst") and size > 0:
            with open(path, "r+b") as f:
                f.seek(size // 2)
                b = f.read(1)
                f.seek(size // 2)
                f.write(bytes([b[0] ^ 0x5A]))
            damaged.append(name)
    return damaged


def scenario_state_corrupt(tern, repo, work, mock):
    """The local store of both partitions damaged after a SIGKILL: the restart restores
    them from the changelog (state.on.corruption = changelog) and the alerts are replay's."""
    pattern = os.path.join(work, "state.tern")
    with open(pattern, "w") as f:
        f.write(STATE_PATTERNS)
    phases = state_events()
    everything = sorted(e for phase in phases for events in phase.values() for e in events)
    want = Counter(map(without_id, replay(tern, [pattern], [partition_event(*e) for e in everything], work)))
    state_dir = os.path.join(work, "state")
    config = os.path.join(work, "sc.toml")
    write_config(config, mock.bootstrap, "sc", [pattern], input_options={"key.field": '"u"'},
                 extra='[state]\ndir = "%s"\ncheckpoint.interval = "200ms"\n' % state_dir)
    log = os.path.join(work, "sc-1.log")
    daemon = Daemon(tern, config, log)
    produce_partitions(mock.bootstrap, "sc.events", phases[0])
    n0 = sum(len(v) for v in phases[0].values())
    wait_for("%d records consumed" % n0, lambda: (scrape(log, "tern_events_total") or 0) >= n0)
    wait_for("checkpoints", lambda: (scrape(log, "tern_checkpoints_total") or 0) >= 2)
    time.sleep(1.0)
    daemon.kill()
    damaged = []
    for d in sorted(os.listdir(state_dir)):
        damaged += damage_store(os.path.join(state_dir, d))
    if not damaged:
        fail("no store files to damage in " + state_dir)
    log = os.path.join(work, "sc-2.log")
    daemon = Daemon(tern, config, log)
    wait_for("both partitions restored from the changelog",
             lambda: open(log).read().count("restored from the changelog") == 2)
    produce_partitions(mock.bootstrap, "sc.events", phases[1])
    produce_partitions(mock.bootstrap, "sc.events", phases[2])
    got, by_id = all_alerts_once(daemon, mock.bootstrap, "sc.alerts", want, "after damage to the local store")
    extra = Counter(map(without_id, by_id.values())) - want
    if extra:
        fail("alerts replay does not give: %r" % list(extra)[:3])
    notes = [line.split("]: ", 1)[-1].strip() for line in open(log)
             if "restored from" in line or "local store removed" in line or "corrupt" in line]
    print("\n".join("daemon_test: " + n for n in notes))
    print("daemon_test: state_corrupt ok: %d files damaged (%s); both partitions restored from the changelog; "
          "%d alerts (%d distinct, as replay)" % (len(damaged), ", ".join(damaged), len(got), len(by_id)))


def scenario_state_seed(tern, repo, work, mock):
    """Backfill: `tern replay --kafka-partition --state` over the first part of a partition's
    records, then `tern run` starts from that state at the offset after it. The replay's
    alerts and the daemon's, ids included, are those of one replay of the whole partition."""
    pattern = os.path.join(work, "state.tern")
    with open(pattern, "w") as f:
        f.write(STATE_PATTERNS)
    phases = state_events()
    lines = [partition_event(*e) for phase in phases for e in sorted(phase[0])]
    cut = len(phases[0][0]) + (len(lines) - len(phases[0][0])) // 2
    whole = replay(tern, [pattern], lines, work, options=["--kafka-partition", "ss.events:0"])
    state_dir = os.path.join(work, "seed-state")
    first = os.path.join(work, "first.jsonl")
    with open(first, "w") as f:
        f.write("".join(line + "\n" for line in lines[:cut]))
    r = subprocess.run([tern, "replay", pattern, "--input", first, "--kafka-partition", "ss.events:0",
                        "--state", state_dir], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("tern replay --state: " + r.stderr)
    seeded = [line for line in r.stdout.split("\n") if line]
    produce(mock.bootstrap, "ss.events", lines, keys=[json.loads(line)["u"] for line in lines])
    config = os.path.join(work, "ss.toml")
    write_config(config, mock.bootstrap, "ss", [pattern], input_options={"key.field": '"u"'},
                 extra='[state]\ndir = "%s"\ncheckpoint.interval = "200ms"\n' % state_dir)
    log = os.path.join(work, "ss.log")
    daemon = Daemon(tern, config, log)
    want_rest = Counter(whole) - Counter(seeded)
    if not seeded or not want_rest:
        fail("the cut should leave alerts on both sides: %d before, %d after" % (len(seeded), sum(want_rest.values())))
    wait_for("the daemon's alerts", lambda: Counter(consume(mock.bootstrap, "ss.alerts")) >= want_rest)
    time.sleep(1.0)
    read = scrape(log, "tern_events_total")
    daemon.stop()
    got = consume(mock.bootstrap, "ss.alerts")
    if Counter(seeded) + Counter(set(got)) != Counter(whole):
        fail("replay part + daemon != whole replay:\nmissing %r\nextra %r" % (
            list((Counter(whole) - Counter(seeded) - Counter(set(got))).elements())[:3],
            list((Counter(seeded) + Counter(set(got)) - Counter(whole)).elements())[:3]))
    if read != len(lines) - cut:
        fail("the daemon read %s records; the state covered the first %d of %d" % (read, cut, len(lines)))
    print("daemon_test: state_seed ok: replay of the first %d records wrote the state (%d alerts); tern run "
          "started from it at offset %d, read %d records and wrote the other %d alerts, ids as one replay"
          % (cut, len(seeded), cut, read, len(set(got))))


def main():
    if len(sys.argv) != 4:
        fail("usage: daemon_test.py TERN REPO SCENARIO")
    tern, repo, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
    scenarios = {"replay_equal": scenario_replay_equal, "restart": scenario_restart,
                 "reload": scenario_reload, "outage": scenario_outage, "partitions": scenario_partitions,
                 "redeliver": scenario_redeliver, "crash": scenario_crash, "health": scenario_health,
                 "stall": scenario_stall, "unreachable": scenario_unreachable,
                 "pattern_files": scenario_pattern_files, "hostile": scenario_hostile,
                 "time": scenario_time, "keys": scenario_keys, "state": scenario_state,
                 "state_seed": scenario_state_seed, "state_corrupt": scenario_state_corrupt}
    if scenario not in scenarios:
        fail("unknown scenario " + scenario)
    work = tempfile.mkdtemp(prefix="tern-daemon-test-")
    brokers = 1
    if scenario == "partitions":
        topics = ["pt.events:3"] + ["%s.%s:1" % (p, t) for p in ("ph", "pi", "pd") for t in ("alerts", "late", "dead")]
    elif scenario == "keys":
        topics = ["ky.events:2"] + ["ky.%s:1" % t for t in ("alerts", "late", "dead")]
    elif scenario == "state":
        topics = ["sd.events:2"] + ["sd.%s:1" % t for t in ("alerts", "late", "dead")]
    elif scenario == "state_corrupt":
        topics = ["sc.events:2"] + ["sc.%s:1" % t for t in ("alerts", "late", "dead")]
    elif scenario == "state_seed":
        topics = ["ss.%s:1" % t for t in ("events", "alerts", "late", "dead")]
    elif scenario in ("crash", "health"):
        prefix = {"crash": "cr", "health": "hl"}[scenario]
        topics = ["%s.events:%d" % (prefix, 2 if scenario == "crash" else 1)] + \
            ["%s.%s:1" % (prefix, t) for t in ("alerts", "late", "dead")]
        brokers = 2
    else:
        prefix = {"replay_equal": "eq", "restart": "rs", "reload": "rl", "outage": "ou", "redeliver": "rd",
                  "stall": "st", "unreachable": "un", "pattern_files": "pf", "hostile": "ho",
                  "time": "tm", "keys": "ky"}[scenario]
        topics = ["%s.%s:1" % (prefix, t) for t in ("events", "alerts", "late", "dead")]
    mock = Mock(tern, topics, brokers)
    run_with(mock, work, lambda: scenarios[scenario](tern, repo, work, mock))


if __name__ == "__main__":
    main()
