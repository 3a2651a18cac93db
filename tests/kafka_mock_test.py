#!/usr/bin/env python3
"""CTest kafka_mock_cli: runs `tern kafka-mock` briefly and checks its contract.

The first stdout line is `bootstrap 127.0.0.1:PORT,...` (one address per
broker), the ports accept TCP connections, the control commands on stdin are
answered `ok COMMAND` or `error COMMAND: why` (control bytes shown as \\xNN), SIGTERM stops it with status 0,
and a bad command line exits 2. Usage: kafka_mock_test.py PATH/TO/tern
"""
import re
import socket
import subprocess
import sys
import time


def fail(message):
    print("kafka_mock_test: FAIL: " + message)
    sys.exit(1)


def main():
    tern = sys.argv[1]
    bad = subprocess.run([tern, "kafka-mock", "--topic", "events:x"], capture_output=True, text=True)
    if bad.returncode != 2 or "bad partition count" not in bad.stderr:
        fail("bad --topic: status %d, stderr %r" % (bad.returncode, bad.stderr))

    proc = subprocess.Popen([tern, "kafka-mock", "--brokers", "2", "--topic", "events:3"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().rstrip("\n")
        match = re.fullmatch(r"bootstrap (127\.0\.0\.1:\d+),(127\.0\.0\.1:\d+)", line)
        if not match:
            fail("first line %r" % line)
        for address in match.groups():
            host, port = address.split(":")
            with socket.create_connection((host, int(port)), timeout=5):
                pass
        for command, answer in [("leader events 1 2", "ok leader events 1 2"),
                                ("coordinator tern 2", "ok coordinator tern 2"),
                                ("down 2", "ok down 2"), ("up 2", "ok up 2"),
                                ("errors produce 6 2", "ok errors produce 6 2"),
                                ("leader events 1", "error leader events 1: usage: leader TOPIC PARTITION BROKER"),
                                ("frobnicate", "error frobnicate: unknown command 'frobnicate'"),
                                # Echoed user bytes are shown with control bytes escaped.
                                ("up\x1b[2J", "error up\\x1b[2J: unknown command 'up\\x1b[2J'")]:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            got = proc.stdout.readline().rstrip("\n")
            if got != answer:
                fail("command %r answered %r, expected %r" % (command, got, answer))
        started = time.monotonic()
        proc.terminate()
        status = proc.wait(timeout=15)
        stderr = proc.stderr.read()
        if status != 0:
            fail("status %d after SIGTERM; stderr %r" % (status, stderr))
        if "events (3 partitions)" not in stderr or "SIGTERM, stopping" not in stderr:
            fail("stderr %r" % stderr)
        print("kafka_mock_test: ok (%s, stopped in %.2f s)" % (line, time.monotonic() - started))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
