#!/usr/bin/env python3
"""Damaged, missing, unwritable and full state directories (issue 15, corruption tests).

usage: corruption_test.py TERN SOURCE_DIR

Every case runs `tern replay --state` (and `tern state`) against a state directory
written by a first replay of the shipped patterns over the first half of
patterns/sample/events.jsonl, then damaged. Each must give a clear error (exit 1, a
message naming the state directory and partition and, for a damaged record, the
pattern and key or the event) or a documented outcome, and never a crash: no exit by
a signal, no sanitizer report on stderr.

Two layers check a record. RocksDB checksums its write-ahead log records and its SST
blocks: damage to the files on disk is caught there, and RocksDB's message names the
file (not the key, which it cannot read). Our own frame (format byte, CRC-32) checks
each value: damage that passes RocksDB's checks (a record rewritten with valid log
checksums, as a buggy writer or tool would) is caught there, naming partition,
pattern and key, or the event. The record-level cases below rewrite one value inside
the log's WriteBatch and recompute the log record's CRC-32C, so RocksDB accepts them.

Documented outcome, not an error: a write-ahead log cut short (truncated file) looks
exactly like a checkpoint whose write a crash interrupted; RocksDB drops the
incomplete tail record and the store opens at the last complete checkpoint (here:
none). Never half of one.

Unwritable directory: when the test runs as root, chmod does not restrict it; the
case then uses a path under a regular file (ENOTDIR), which stands for it (it is run
in either case).

Full disk: RLIMIT_FSIZE (SIGXFSZ ignored) at several sizes, so that RocksDB's writes
fail at open, at the log write or at the flush: exit 1 with a message. A later
replay with room either works or gives a clear error, and a failed checkpoint
leaves the one before it whole: replaying the failed part again gives the alerts of
one whole replay.
"""

import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

SANITIZER_MARKS = ("AddressSanitizer", "UndefinedBehaviorSanitizer", "LeakSanitizer", "runtime error:")

failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what, file=sys.stderr)


# ------------------------------------------------------------------ RocksDB's log format
# A log file is a sequence of 32 KiB blocks holding records: masked CRC-32C (4, over the
# type byte and the data), length (2), type (1: full, 2/3/4: first/middle/last
# fragment), data. A record's data is a WriteBatch: sequence (8), count (4), then per
# entry a type byte (1: put, 0: delete) and varint32-prefixed key (and value).

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


BLOCK = 32768


def read_log(data):
    records, current, pos = [], None, 0
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:
            pos += left
            continue
        crc, n, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and n == 0:
            break
        body = data[pos + 7:pos + 7 + n]
        if masked_crc(bytes([kind]) + body) != crc:
            raise ValueError("log record checksum")
        pos += 7 + n
        if kind == 1:
            records.append(body)
        elif kind == 2:
            current = body
        elif kind == 3:
            current += body
        elif kind == 4:
            records.append(current + body)
            current = None
        else:
            raise ValueError("log record type %d" % kind)
    return records


def write_log(records):
    out = bytearray()
    for record in records:
        first = True
        rest = record
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < 7:
                out += b"\0" * left
                left = BLOCK
            piece = rest[:left - 7]
            rest = rest[len(piece):]
            kind = (1 if not rest else 2) if first else (4 if not rest else 3)
            out += struct.pack("<IHB", masked_crc(bytes([kind]) + piece), len(piece), kind) + piece
            first = False
            if not rest:
                break
    return bytes(out)


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def _put_varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def parse_batch(record):
    sequence, count = struct.unpack_from("<QI", record, 0)
    pos, entries = 12, []
    for _ in range(count):
        kind = record[pos]
        pos += 1
        n, pos = _varint(record, pos)
        key = record[pos:pos + n]
        pos += n
        value = None
        if kind == 1:
            n, pos = _varint(record, pos)
            value = record[pos:pos + n]
            pos += n
        elif kind != 0:
            raise ValueError("write batch entry type %d" % kind)
        entries.append([kind, key, value])
    return sequence, entries


def encode_batch(sequence, entries):
    out = bytearray(struct.pack("<QI", sequence, len(entries)))
    for kind, key, value in entries:
        out += bytes([kind]) + _put_varint(len(key)) + key
        if kind == 1:
            out += _put_varint(len(value)) + value
    return bytes(out)


def live_log(partition_dir):
    logs = sorted(f for f in os.listdir(partition_dir) if f.endswith(".log"))
    logs = [f for f in logs if os.path.getsize(os.path.join(partition_dir, f)) > 0]
    if len(logs) != 1:
        raise RuntimeError("expected one non-empty log in %s, found %s" % (partition_dir, logs))
    return os.path.join(partition_dir, logs[0])


def edit_record(partition_dir, choose, damage):
    """Rewrites the first value of the last checkpoint whose (key, value) `choose`
    accepts with damage(value), keeping the log valid. Returns that key."""
    path = live_log(partition_dir)
    with open(path, "rb") as f:
        records = read_log(f.read())
    sequence, entries = parse_batch(records[-1])
    for entry in entries:
        if entry[0] == 1 and choose(entry[1], entry[2]):
            key = entry[1]
            entry[2] = damage(entry[2])
            break
    else:
        raise RuntimeError("no record to damage in " + path)
    records[-1] = encode_batch(sequence, entries)
    with open(path, "wb") as f:
        f.write(write_log(records))
    return key


# ------------------------------------------------------------------------ running tern

class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err


def run(args, what, limit_bytes=None, stdin=None):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    p = subprocess.run([TERN] + args, capture_output=True, text=True, errors="replace",
                       preexec_fn=limit if limit_bytes is not None else None, stdin=stdin,
                       timeout=120)
    if p.returncode < 0:
        fail("%s: killed by signal %d\n%s" % (what, -p.returncode, p.stderr[-2000:]))
    for mark in SANITIZER_MARKS:
        if mark in p.stderr:
            fail("%s: sanitizer report\n%s" % (what, p.stderr[-4000:]))
            break
    return Result(p.returncode, p.stdout, p.stderr)


def expect_error(result, what, *parts):
    if result.rc != 1:
        fail("%s: exit %d, expected 1\nstderr: %s" % (what, result.rc, result.err))
        return
    for part in parts:
        if part not in result.err:
            fail("%s: message lacks %r\nstderr: %s" % (what, part, result.err))


def replay(state, part, what, limit_bytes=None, finish=False):
    args = PATTERNS + ["--input", part, "--state", state] + (["--finish"] if finish else [])
    return run(["replay"] + args, what, limit_bytes)


# ----------------------------------------------------------------------------- cases

def record_cases(work):
    # The record of account_takeover's key "acc_marta", and the event with device
    # dev_x41 (line 149, seq 149: the first replay's seqs are its line numbers).
    def key_of(pattern, key_json):
        prefix = b"k" + struct.pack(">H", len(pattern)) + pattern

        def choose(key, value):
            return key.startswith(prefix) and key_json in value
        return choose

    def event_with(text):
        def choose(key, value):
            return key[:1] == b"e" and text in value
        return choose

    def flip(value):
        b = bytearray(value)
        b[len(b) // 2] ^= 0x10
        return bytes(b)

    cases = [
        ("truncated key record", key_of(b"account_takeover", b'"acc_marta"'), lambda v: v[:-3],
         ["pattern account_takeover, key", "acc_marta", "checksum mismatch"]),
        ("key record cut to 3 bytes", key_of(b"account_takeover", b'"acc_marta"'), lambda v: v[:3],
         ["pattern account_takeover, key", "acc_marta", "truncated record (3 bytes)"]),
        ("bit-flipped key record", key_of(b"impossible_travel", b'"u_marta"'), flip,
         ["pattern impossible_travel, key", "u_marta", "checksum mismatch"]),
        ("key record of an unknown format", key_of(b"account_takeover", b'"acc_marta"'),
         lambda v: b"\x07" + v[1:], ["pattern account_takeover, key", "record format 7"]),
        ("bit-flipped event record", event_with(b"dev_x41"), flip, ["event 149:", "checksum mismatch"]),
        ("truncated event record", event_with(b"dev_x41"), lambda v: v[:len(v) // 2],
         ["event 149:", "checksum mismatch"]),
        ("damaged partition record", lambda k, v: k == b"m", flip, ["partition record", "checksum mismatch"]),
    ]
    for name, choose, damage, says in cases:
        state = os.path.join(work, name.replace(" ", "_"))
        shutil.copytree(BASE_STATE, state)
        edit_record(os.path.join(state, "replay"), choose, damage)
        r = replay(state, PART2, "replay --state: " + name)
        expect_error(r, "replay --state: " + name, "--state " + state, "state partition replay", *says)
        r = run(["state", state], "tern state: " + name)
        expect_error(r, "tern state: " + name, state, "state partition replay", *says)
    # --key reads the damaged key record too.
    state = os.path.join(work, "key_lookup")
    shutil.copytree(BASE_STATE, state)
    edit_record(os.path.join(state, "replay"), event_with(b"dev_x41"), flip)
    r = run(["state", state, "--key", "acc_marta"], "tern state --key: damaged event")
    expect_error(r, "tern state --key: damaged event", "state partition replay", "event 149:", "checksum mismatch")


def file_cases(work):
    def flip_text(path, text):
        with open(path, "rb") as f:
            data = bytearray(f.read())
        at = data.find(text)
        if at < 0:
            raise RuntimeError("%r not in %s" % (text, path))
        data[at] ^= 0x01
        with open(path, "wb") as f:
            f.write(data)

    # The write-ahead log: a flipped byte of a complete record is an error (not the end
    # of the log, which would open the store one checkpoint back without a word).
    state = os.path.join(work, "log_flip")
    shutil.copytree(BASE_STATE, state)
    flip_text(live_log(os.path.join(state, "replay")), b"dev_x41")
    expect_error(replay(state, PART2, "replay: flipped log byte"), "replay: flipped log byte",
                 "--state " + state, "state partition replay", "Corruption")
    expect_error(run(["state", state], "state: flipped log byte"), "state: flipped log byte",
                 "state partition replay", "Corruption")

    # A cut log: the incomplete last record is dropped, as after a crash during its
    # write; the store opens at the last complete checkpoint (none here), never half.
    state = os.path.join(work, "log_cut")
    shutil.copytree(BASE_STATE, state)
    log = live_log(os.path.join(state, "replay"))
    os.truncate(log, os.path.getsize(log) // 2)
    r = run(["state", state], "state: cut log")
    if r.rc == 0:
        if "no checkpoint yet" not in r.out:
            fail("state: cut log: neither an error nor the checkpoint before it:\n" + r.out)
    else:
        expect_error(r, "state: cut log", "state partition replay")

    # SST files (the first replay's log is flushed to one when a later run opens the
    # store: here a replay of no events, which keeps the position).
    flushed = os.path.join(work, "flushed")
    shutil.copytree(BASE_STATE, flushed)
    empty = os.path.join(work, "empty", "events.jsonl")
    os.makedirs(os.path.dirname(empty))
    open(empty, "w").close()
    r = replay(flushed, empty, "replay of nothing")
    if r.rc != 0:
        fail("replay of nothing: exit %d\n%s" % (r.rc, r.err))
        return
    ssts = [f for f in os.listdir(os.path.join(flushed, "replay")) if f.endswith(".sst")]
    if len(ssts) != 1:
        fail("expected one SST after reopening, found %s" % ssts)
        return
    state = os.path.join(work, "sst_flip")
    shutil.copytree(flushed, state)
    sst = os.path.join(state, "replay", ssts[0])
    flip_text(sst, b"dev_x41")  # LZ4 leaves short unique strings as literals
    expect_error(replay(state, PART2, "replay: flipped SST byte"), "replay: flipped SST byte",
                 "--state " + state, "state partition replay", "Corruption", "block checksum mismatch", ssts[0])
    expect_error(run(["state", state], "state: flipped SST byte"), "state: flipped SST byte",
                 "state partition replay", "block checksum mismatch", ssts[0])
    expect_error(run(["state", state, "--key", "acc_marta"], "state --key: flipped SST byte"),
                 "state --key: flipped SST byte", "state partition replay", "Corruption")

    state = os.path.join(work, "sst_cut")
    shutil.copytree(flushed, state)
    sst = os.path.join(state, "replay", ssts[0])
    os.truncate(sst, os.path.getsize(sst) // 2)
    expect_error(replay(state, PART2, "replay: cut SST"), "replay: cut SST",
                 "--state " + state, "state partition replay", "Corruption", ssts[0])
    expect_error(run(["state", state], "state: cut SST"), "state: cut SST", "state partition replay", "Corruption")


def directory_cases(work):
    missing = os.path.join(work, "absent")
    expect_error(run(["state", missing], "state: missing dir"), "state: missing dir", "no state directory", missing)
    empty = os.path.join(work, "no_partitions")
    os.makedirs(os.path.join(empty, "not_a_store"))
    expect_error(run(["state", empty], "state: no partitions"), "state: no partitions", empty,
                 "holds no state partition")
    a_file = os.path.join(work, "a_file")
    with open(a_file, "w") as f:
        f.write("x")
    expect_error(run(["state", a_file], "state: a file"), "state: a file", "no state directory", "not a directory")
    expect_error(run(["state", BASE_STATE, "--partition", "p9"], "state: unknown partition"),
                 "state: unknown partition", "no partition p9", "replay")

    # Unwritable: a directory under a regular file (ENOTDIR), whoever runs the test.
    under_file = os.path.join(a_file, "state")
    expect_error(replay(under_file, PART1, "replay: state under a file"), "replay: state under a file",
                 "--state " + under_file, "state partition replay", "cannot create")
    if os.geteuid() == 0:
        print("note: running as root: chmod does not make a directory unwritable; "
              "the state-under-a-file case stands for it")
        return
    parent = os.path.join(work, "read_only")
    os.makedirs(parent)
    os.chmod(parent, 0o500)
    try:
        state = os.path.join(parent, "state")
        expect_error(replay(state, PART1, "replay: unwritable parent"), "replay: unwritable parent",
                     "--state " + state, "state partition replay")
    finally:
        os.chmod(parent, 0o700)
    # A store that cannot be written still reads: `tern state` opens read only.
    state = os.path.join(work, "read_only_store")
    shutil.copytree(BASE_STATE, state)
    for root, dirs, files in os.walk(state):
        for name in files:
            os.chmod(os.path.join(root, name), 0o444)
        os.chmod(root, 0o555)
    try:
        r = run(["state", state], "state: read-only store")
        if r.rc != 0 or "checkpoint: 1" not in r.out:
            fail("state: read-only store: exit %d\n%s%s" % (r.rc, r.out, r.err))
    finally:
        for root, dirs, files in os.walk(state):
            os.chmod(root, 0o755)


def full_disk_cases(work):
    whole = run(["replay"] + PATTERNS + ["--input", WHOLE], "whole replay")
    part1_alerts = None
    ok_runs = failed_runs = 0
    for limit in (1 << 10, 4 << 10, 8 << 10, 12 << 10, 16 << 10, 20 << 10, 32 << 10, 64 << 10, 1 << 20):
        what = "replay part 1 with files limited to %d bytes" % limit
        state = os.path.join(work, "full_%d" % limit)
        r = replay(state, PART1, what, limit_bytes=limit)
        if r.rc == 0:
            ok_runs += 1
            part1_alerts = r.out
        else:
            failed_runs += 1
            expect_error(r, what, "--state " + state, "state partition replay")
        # With room again: the store works, or gives a clear error.
        again = replay(state, PART1, what + ", then with room")
        if again.rc == 1:
            expect_error(again, what + ", then with room", "--state " + state, "state partition replay")
            continue
        if again.rc != 0:
            fail("%s, then with room: exit %d\n%s" % (what, again.rc, again.err))
            continue
        if r.rc != 0:
            # The failed part left nothing behind: part 1 again, then part 2, give the
            # alerts of the whole replay.
            rest = replay(state, PART2, what + ", part 2", finish=True)
            if rest.rc != 0 or again.out + rest.out != whole.out:
                fail("%s: part 1 again + part 2 differ from the whole replay (exit %d)\n%s" %
                     (what, rest.rc, rest.err))
    # A full disk at the second checkpoint: it fails, and the first stays whole.
    for limit in (1 << 10, 2 << 10, 4 << 10, 6 << 10, 16 << 10):
        what = "replay part 2 with files limited to %d bytes" % limit
        state = os.path.join(work, "full2_%d" % limit)
        shutil.copytree(BASE_STATE, state)
        r = replay(state, PART2, what, limit_bytes=limit, finish=True)
        if r.rc == 0:
            ok_runs += 1
            continue
        failed_runs += 1
        expect_error(r, what, "--state " + state, "state partition replay")
        rest = replay(state, PART2, what + ", again with room", finish=True)
        if rest.rc != 0 or BASE_ALERTS + rest.out != whole.out:
            fail("%s: part 2 again differs from the whole replay's rest (exit %d)\n%s" % (what, rest.rc, rest.err))
    if failed_runs == 0:
        fail("no RLIMIT_FSIZE made a write fail: the full-disk cases tested nothing")
    print("full disk: %d runs failed cleanly, %d had room" % (failed_runs, ok_runs))


def main():
    global TERN, PATTERNS, PART1, PART2, WHOLE, BASE_STATE, BASE_ALERTS
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    TERN = os.path.abspath(sys.argv[1])
    source = os.path.abspath(sys.argv[2])
    patterns_dir = os.path.join(source, "patterns")
    PATTERNS = sorted(os.path.join(patterns_dir, f) for f in os.listdir(patterns_dir) if f.endswith(".tern"))
    WHOLE = os.path.join(patterns_dir, "sample", "events.jsonl")
    with open(WHOLE) as f:
        lines = f.readlines()
    work = tempfile.mkdtemp(prefix="tern_corruption_")
    try:
        # The parts share the file name: the stream (named after it) is the same.
        PART1 = os.path.join(work, "part1", "events.jsonl")
        PART2 = os.path.join(work, "part2", "events.jsonl")
        for path, chunk in ((PART1, lines[:155]), (PART2, lines[155:])):
            os.makedirs(os.path.dirname(path))
            with open(path, "w") as f:
                f.writelines(chunk)
        BASE_STATE = os.path.join(work, "base")
        r = replay(BASE_STATE, PART1, "first replay")
        if r.rc != 0:
            fail("first replay: exit %d\n%s" % (r.rc, r.err))
            return 1
        BASE_ALERTS = r.out
        record_cases(work)
        file_cases(work)
        directory_cases(work)
        full_disk_cases(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
