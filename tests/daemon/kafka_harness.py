"""Helpers for the tests that run `tern run` against the embedded broker (`tern kafka-mock`):
tests/daemon/daemon_test.py and tests/daemon/scaleout_test.py.

kcat (Debian package kcat) produces the input and reads the output topics.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

TIMEOUT = 60.0


# The name failures are reported under: the test script that imports this module.
PROGRAM = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "kafka_harness"


def fail(message):
    print("%s: FAIL: %s" % (PROGRAM, message), flush=True)
    sys.exit(1)


class Mock:
    def __init__(self, tern, topics, brokers=1):
        args = [tern, "kafka-mock", "--brokers", str(brokers)]
        for t in topics:
            args += ["--topic", t]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        m = re.fullmatch(r"bootstrap (\S+)", line)
        if not m:
            fail("kafka-mock printed %r" % line)
        self.bootstrap = m.group(1)

    def control(self, command):
        """A `tern kafka-mock` stdin command (down, up, errors ...); waits for its answer."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok " + command:
            fail("kafka-mock %r answered %r" % (command, answer))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)


def kcat():
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        fail("kcat is not installed (scripts/install-deps.sh installs it)")
    return path


def produce(bootstrap, topic, lines, partition=0, keys=None):
    """One message per line, in order, to one partition; keys[i] is line i's message key."""
    args = [kcat(), "-b", bootstrap, "-t", topic, "-P", "-p", str(partition), "-z", "none"]
    if keys is not None:
        args += ["-K", "\t"]
        lines = ["%s\t%s" % (k, line) for k, line in zip(keys, lines)]
    data = "".join(line + "\n" for line in lines)
    r = subprocess.run(args, input=data, text=True, capture_output=True, timeout=30)
    if r.returncode != 0:
        fail("kcat produce to %s: %s" % (topic, r.stderr))


def consume(bootstrap, topic, with_headers=False):
    """Every message of the topic so far: values, or (headers, value) pairs."""
    fmt = "%h\t%s\n" if with_headers else "%s\n"
    r = subprocess.run([kcat(), "-b", bootstrap, "-t", topic, "-C", "-e", "-q", "-o", "beginning",
                        "-f", fmt], text=True, capture_output=True, timeout=30)
    if r.returncode != 0 and "Unknown topic" not in r.stderr:
        fail("kcat consume %s: %s" % (topic, r.stderr))
    out = [line for line in r.stdout.split("\n") if line]
    if not with_headers:
        return out
    pairs = []
    for line in out:
        headers, _, value = line.partition("\t")
        h = dict(kv.split("=", 1) for kv in headers.split(",") if "=" in kv)
        pairs.append((h, value))
    return pairs


def wait_for(what, predicate, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    fail("timed out waiting for " + what)


def metrics_text(log_path):
    """The daemon's whole /metrics page (address from its log), or None."""
    m = re.search(r"metrics on (http://\S+/metrics)", open(log_path).read())
    if not m:
        return None
    import urllib.request
    try:
        return urllib.request.urlopen(m.group(1), timeout=5).read().decode()
    except OSError:
        return None


def scrape(log_path, metric):
    """The value of an unlabelled metric from the daemon's /metrics."""
    text = metrics_text(log_path)
    if text is None:
        return None
    for line in text.split("\n"):
        if line.startswith(metric + " "):
            return float(line.split()[1])
    return None


def probe(log_path, path):
    """(HTTP status, JSON body) of a health probe of the daemon, or (None, None)."""
    m = re.search(r"metrics on (http://\S+)/metrics", open(log_path).read())
    if not m:
        return None, None
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(m.group(1) + path, timeout=5) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())
    except (OSError, ValueError):
        return None, None


def wait_probe(log_path, path, status, reason=None):
    """Waits until `path` answers `status` (and a reason containing `reason`); returns the body."""
    got = {}

    def answered():
        got["status"], got["body"] = probe(log_path, path)
        return got["status"] == status and (reason is None or reason in (got["body"] or {}).get("reason", ""))
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if answered():
            return got["body"]
        time.sleep(0.2)
    fail("%s never answered %d%s; last: %r %r" % (path, status, " with %r" % reason if reason else "",
                                                  got.get("status"), got.get("body")))


def write_config(path, bootstrap, name, pattern_globs, events_topic=None, idle=None,
                 log_level="info", producer=None, extra="", log_format="text",
                 input_options=None, consumer=None):
    with open(path, "w") as f:
        f.write('[kafka]\nbrokers = "%s"\ngroup = "%s"\n' % (bootstrap, name))
        # The mock makes a re-joining member wait session.timeout.ms - 1 s (docs/kafka.md).
        f.write('[kafka.consumer]\n"fetch.wait.max.ms" = 5\n"session.timeout.ms" = 3000\n'
                '"heartbeat.interval.ms" = 500\n')
        if consumer:
            f.write("".join('"%s" = %s\n' % kv for kv in consumer.items()))
        if producer:
            f.write('[kafka.producer]\n' + "".join('"%s" = %s\n' % kv for kv in producer.items()))
        f.write('[input]\ntopics = ["%s"]\n' % (events_topic or name + ".events"))
        if idle is not None:
            f.write('idle = "%s"\n' % idle)
        for option, value in (input_options or {}).items():
            f.write('%s = %s\n' % (option, value))
        f.write('[output]\nalerts.topic = "%s.alerts"\nlate.topic = "%s.late"\n'
                'dead.letter.topic = "%s.dead"\n' % (name, name, name))
        f.write('[patterns]\nfiles = [%s]\n' % ", ".join('"%s"' % g for g in pattern_globs))
        f.write('[metrics]\naddress = "127.0.0.1:0"\n[log]\nlevel = "%s"\nformat = "%s"\n' % (log_level, log_format))
        f.write(extra)


class Daemon:
    running = []  # started and not stopped: killed when a scenario fails

    def __init__(self, tern, config, log_path, env=None):
        self.log = open(log_path, "a")
        self.proc = subprocess.Popen([tern, "run", "--config", config], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
        Daemon.running.append(self)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL: a crash, nothing flushed or committed on the way out."""
        self.proc.kill()
        self.proc.wait()
        Daemon.running.remove(self)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("tern run did not stop within 30 s of SIGTERM")
        Daemon.running.remove(self)
        if status != 0:
            fail("tern run exited %d after SIGTERM" % status)


def without_id(alert_json):
    a = json.loads(alert_json)
    a.pop("id", None)
    return json.dumps(a, sort_keys=True)


def check_at_least_once(got, want, what):
    """Every wanted alert is there; one written twice is written identically (same id)."""
    by_id = {}
    for a in got:
        aid = json.loads(a)["id"]
        if aid in by_id and by_id[aid] != a:
            fail("alert id %s written twice with different content" % aid)
        by_id[aid] = a
    if Counter(map(without_id, by_id.values())) != want:
        fail("%s: %d distinct alerts, expected %d" % (what, len(by_id), sum(want.values())))
    return by_id


def all_alerts_once(daemon, bootstrap, topic, want, what):
    """Waits for every wanted alert on `topic`, stops the daemon, and checks them
    (check_at_least_once); returns (alerts written, by id)."""
    wait_for("every alert of the stream",
             lambda: set(map(without_id, consume(bootstrap, topic))) >= set(want))
    time.sleep(1.0)  # nothing more may come
    daemon.stop()
    got = consume(bootstrap, topic)
    return got, check_at_least_once(got, want, what)


def replay(tern, patterns, lines, workdir, options=()):
    path = os.path.join(workdir, "input.jsonl")
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    r = subprocess.run([tern, "replay"] + patterns + ["--input", path, "--open-end"] + list(options),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("tern replay: " + r.stderr)
    return [line for line in r.stdout.split("\n") if line]


def lag_series(log_path):
    """{(topic, partition)} of the tern_consumer_lag series on the daemon's /metrics."""
    text = metrics_text(log_path) or ""
    return set(re.findall(r'^tern_consumer_lag\{topic="([^"]*)",partition="(\d+)"\} ', text, re.M))


def scrape_labelled(log_path, series):
    """The value of one labelled series, e.g. 'tern_pattern_partial_matches{pattern="p"}'."""
    for line in (metrics_text(log_path) or "").split("\n"):
        if line.startswith(series + " "):
            return float(line.split()[1])
    return None


def run_with(mock, work, body):
    """Runs body(); on a failure prints the tail of every daemon log in `work`. Then kills
    the daemons still running and stops the broker; removes `work` when body() passed."""
    try:
        body()
    except SystemExit:
        for name in os.listdir(work):
            if name.endswith(".log"):
                print("---- " + name)
                print(open(os.path.join(work, name)).read()[-4000:])
        raise
    finally:
        for daemon in Daemon.running:
            daemon.proc.kill()
            daemon.proc.wait()
        mock.stop()
    shutil.rmtree(work, ignore_errors=True)
