#!/usr/bin/env python3
"""Tern latency driver (issue 4): the daemon end to end through the embedded broker.

Runs, in rounds that alternate the mock broker's library (stock librdkafka, and
the patched build of bench/mock/ when it exists), these measurements:

  roundtrip  kafka_roundtrip: one message in flight, produce -> consume; the
             broker's own floor under every figure below
  2k         tern_latency --rate 2000 --seconds 10 (linger 0): e2e and inside-Tern
  50k        tern_latency --rate 50000 --linger-ms 1 --seconds 10
  200k       tern_latency --rate 200000 --linger-ms 1 --seconds 8: throughput,
             events per CPU-second of the daemon

and prints markdown tables: every run, the median per setting, and the targets
of issue 4 with the runs that meet them. The daemon always runs on the system
librdkafka (bench/mock/tern-system-librdkafka.sh); "patched" changes only the
tool's in-process mock broker (and the tool's own producer and reader).

  python3 bench/run_latency.py --build-dir build/release [--rounds 3] [--stock-only]
  python3 bench/run_latency.py --smoke --build-dir ... (CTest run_latency_smoke)

scripts/bench-latency.sh builds the tools (and the patched mock) and calls this
with --results-dir bench/results.
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
from run_bench import loadavg, machine_info, table  # noqa: E402

PATCHED_LIB = REPO / "build" / "patched-mock" / "lib"
SYSTEM_TERN = HERE / "mock" / "tern-system-librdkafka.sh"

# name -> (tool, its arguments); SMOKE_ARGS replace them in smoke mode
SCENARIOS = {
    "roundtrip": ("kafka_roundtrip", ["--messages", "2000"]),
    "2k": ("tern_latency", ["--rate", "2000", "--seconds", "10"]),
    "50k": ("tern_latency", ["--rate", "50000", "--linger-ms", "1", "--seconds", "10"]),
    "200k": ("tern_latency", ["--rate", "200000", "--linger-ms", "1", "--seconds", "8"]),
}
SMOKE_ARGS = {
    "roundtrip": ["--messages", "50"],
    "2k": ["--rate", "2000", "--seconds", "1"],
    "50k": ["--rate", "50000", "--linger-ms", "1", "--seconds", "1"],
    "200k": ["--rate", "200000", "--linger-ms", "1", "--seconds", "1"],
}

ROUNDTRIP_RE = re.compile(r"produce->consume\s+(\d+)\s+p50 ([\d.]+) ms\s+p90 ([\d.]+) ms\s+"
                          r"p99 ([\d.]+) ms\s+max ([\d.]+) ms")


def parse_result(name, text):
    """The figures of one run: a dict of floats, or None if the tool printed none."""
    if name == "roundtrip":
        m = ROUNDTRIP_RE.search(text)
        if not m:
            return None
        return {"messages": float(m.group(1)), "p50": float(m.group(2)), "p90": float(m.group(3)),
                "p99": float(m.group(4)), "max": float(m.group(5))}
    for line in text.splitlines():
        if line.startswith("RESULT "):
            out = {}
            for field in line.split()[1:]:
                key, _, value = field.partition("=")
                try:
                    out[key] = float(value)
                except ValueError:
                    pass
            return out
    return None


def run(name, mock, tools, smoke, log):
    tool, args = SCENARIOS[name]
    args = SMOKE_ARGS[name] if smoke else args
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    cmd = [str(tools[tool])] + args
    if tool == "tern_latency":
        # The daemon on the system library in both cases, so only the broker differs.
        cmd += ["--tern", str(SYSTEM_TERN if mock == "patched" else tools["tern"])]
    if mock == "patched":
        env["LD_LIBRARY_PATH"] = str(PATCHED_LIB)
    load = loadavg()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    result = parse_result(name, proc.stdout + proc.stderr)
    if proc.returncode != 0 or result is None:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise SystemExit(f"run_latency: {name} ({mock}) failed, exit {proc.returncode}:\n"
                         + "\n".join(tail))
    result["load"] = float(load)
    log(f"  {name:9} {mock:7} " + ("p50 %.2f p99 %.2f ms" % (result["p50"], result["p99"])
                                   if name == "roundtrip" else
                                   "e2e p50 %.2f p99 %.2f ms, inside p99 %.3f ms, %.0f ev/CPU-s"
                                   % (result["e2e_p50_ms"], result["e2e_p99_ms"],
                                      result["inside_p99_ms"], result["events_per_cpu_s"])))
    return result


def ms(x):
    return f"{x:.2f}"


def runs_cell(values, fmt=ms):
    return ", ".join(fmt(v) for v in values)


def report(results, mocks, info, started, finished, args):
    """The markdown report: runs, medians, targets."""
    out = [f"# tern_latency — {started:%Y-%m-%d %H:%M}–{finished:%H:%M} — {info['commit']}"
           f"{' (+uncommitted changes)' if info['dirty'] else ''}", ""]
    out.append(f"Machine: {info['nproc']} cores, {info['cpu']}, Linux {info['kernel']}. "
               f"Release build. `python3 bench/run_latency.py --rounds {args.rounds}` "
               f"(`scripts/bench-latency.sh`): {args.rounds} round(s), the mocks alternating "
               f"within each. Load average at each run's start: "
               f"{min(r['load'] for rs in results.values() for r in rs)}–"
               f"{max(r['load'] for rs in results.values() for r in rs)}.")
    if info["dirty"]:
        out.append("")
        out.append("Uncommitted changes in: " + ", ".join(sorted(info["dirty"])) + ".")
    out.append("")
    out.append("The daemon runs on the system librdkafka 2.0.2 in every run. \"stock\" = the tool's "
               "in-process mock broker on the same library; \"patched\" = on librdkafka 2.0.2 built "
               "from Debian's source with `bench/mock/msgset-find-from-newest.patch` (a fetch finds its "
               "batch from the newest end of the log instead of walking it from the oldest). "
               "e2e = event handed to the tool's producer → alert read by the tool's reader; "
               "inside = event consumed by the daemon → alert handed to its producer.")
    out.append("")

    def get(name, mock):
        return results.get((name, mock), [])

    out.append("## The broker's own round trip (`kafka_roundtrip`, one message in flight, "
               "fetch.wait.max.ms 1, linger 0)")
    out.append("")
    rows = []
    for mock in mocks:
        rs = get("roundtrip", mock)
        if rs:
            rows.append([mock, runs_cell([r["p50"] for r in rs]), runs_cell([r["p99"] for r in rs]),
                         ms(statistics.median(r["p50"] for r in rs)),
                         ms(statistics.median(r["p99"] for r in rs))])
    out.append(table(["mock", "p50 ms (runs)", "p99 ms (runs)", "median p50", "median p99"], rows))
    out.append("")

    titles = {"2k": "2,000 events/s, linger 0", "50k": "50,000 events/s, linger 1 ms",
              "200k": "200,000 events/s, linger 1 ms (throughput)"}
    for name in ("2k", "50k", "200k"):
        out.append(f"## {titles[name]}")
        out.append("")
        rows = []
        for mock in mocks:
            rs = get(name, mock)
            if not rs:
                continue
            rows.append([mock,
                         runs_cell([r["e2e_p50_ms"] for r in rs]),
                         runs_cell([r["e2e_p99_ms"] for r in rs]),
                         ms(statistics.median(r["e2e_p99_ms"] for r in rs)),
                         runs_cell([r["e2e_p999_ms"] for r in rs]),
                         f"{max(r['inside_p99_ms'] for r in rs):.3f}",
                         runs_cell([r["events_per_cpu_s"] / 1000 for r in rs], lambda v: f"{v:.0f}k"),
                         runs_cell([r["mock_core"] for r in rs])])
        out.append(table(["mock", "e2e p50 ms (runs)", "e2e p99 ms (runs)", "median p99",
                      "e2e p99.9 ms (runs)", "inside p99 ms (worst)", "daemon events per CPU-s",
                      "mock thread core"], rows))
        out.append("")

    out.append("## Targets (issue 4)")
    out.append("")
    rows = []

    def target(what, name, key, limit, below):
        for mock in mocks:
            rs = get(name, mock)
            if not rs:
                continue
            values = [r[key] for r in rs]
            met = [v for v in values if (v <= limit if below else v >= limit)]
            med = statistics.median(values)
            ok = med <= limit if below else med >= limit
            fmt = (lambda v: f"{v / 1000:.0f}k") if key == "events_per_cpu_s" else (lambda v: f"{v:.2f} ms")
            rows.append([what, mock, f"median {fmt(med)}, {len(met)} of {len(values)} runs",
                         "met" if ok else "**not met**"])

    target("2k ev/s e2e p99 ≤ 3 ms", "2k", "e2e_p99_ms", 3.0, True)
    target("Tern's share p99 ≤ 0.5 ms (2k)", "2k", "inside_p99_ms", 0.5, True)
    target("Tern's share p99 ≤ 0.5 ms (50k)", "50k", "inside_p99_ms", 0.5, True)
    target("50k ev/s e2e p99 ≤ 10 ms", "50k", "e2e_p99_ms", 10.0, True)
    target("≥ 0.5M events per daemon CPU-s", "200k", "events_per_cpu_s", 500000, False)
    out.append(table(["target", "mock", "result", ""], rows))
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", type=Path, required=True, help="Release tree with cli/tern and bench/")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="", help="comma list of roundtrip,2k,50k,200k")
    ap.add_argument("--stock-only", action="store_true", help="skip the patched mock")
    ap.add_argument("--smoke", action="store_true", help="1 s per run, one round, stock only (CTest)")
    ap.add_argument("--results-dir", type=Path, help="also write <date>-latency-<commit>.md here")
    args = ap.parse_args()

    build = args.build_dir
    tools = {"tern": build / "cli" / "tern", "tern_latency": build / "bench" / "tern_latency",
             "kafka_roundtrip": build / "bench" / "kafka_roundtrip"}
    for path in tools.values():
        if not path.exists():
            raise SystemExit(f"run_latency: {path} is missing (build it, or use scripts/bench-latency.sh)")
    names = [n for n in SCENARIOS if not args.only or n in args.only.split(",")]
    mocks = ["stock"]
    if not args.stock_only and not args.smoke:
        if (PATCHED_LIB / "librdkafka.so.1").exists():
            mocks.append("patched")
        else:
            print(f"run_latency: no {PATCHED_LIB}/librdkafka.so.1 (bash bench/mock/build.sh): "
                  "stock mock only", file=sys.stderr)
    if args.smoke:
        args.rounds = 1

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = datetime.datetime.now()
    results = {}
    for round_number in range(1, args.rounds + 1):
        log(f"round {round_number} of {args.rounds}")
        for name in names:
            # Alternate which mock goes first, so neither always runs on a warmer machine.
            order = mocks if round_number % 2 else list(reversed(mocks))
            for mock in order:
                results.setdefault((name, mock), []).append(run(name, mock, tools, args.smoke, log))
    finished = datetime.datetime.now()
    info = machine_info()
    text = report(results, mocks, info, started, finished, args)
    print(text)
    if args.results_dir and not args.smoke:
        path = args.results_dir / f"{started:%Y-%m-%d}-latency-{info['commit']}.md"
        path.write_text(text)
        log(f"written: {path}")


if __name__ == "__main__":
    main()
