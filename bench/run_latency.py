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
of issue 4 with the runs that meet them.

--state adds the durable-state comparison of issue 15, at 2k, 50k and 200k events/s
(the same rates, linger and lengths as above), all with W1's pattern beside the
probe (tern_latency --w1 1: partial matches for the checkpoints to write):

  2k+w1          persistence off
  2k+state       persistence on (--state-dir auto), the daemon's checkpoint interval (5s)
  2k+state@1s    ... with --checkpoint-interval 1s (one per --checkpoint-intervals value)

run in alternation within each round (the order reversed every other round), with
tables side by side: e2e p50/p99 off vs on at 2k and 50k, events per daemon CPU-s
off vs on at 200k (and the share lost), checkpoints, bytes, changed keys and the
loop-thread collect pause of each run, and the targets of issue 15. A run that fails
(e.g. a daemon so far behind at 200k ev/s that the mock has trimmed what it needs) is
reported and left out; in smoke mode it fails the test.

The daemon always runs on the system librdkafka (bench/mock/tern-system-librdkafka.sh);
"patched" changes only the tool's in-process mock broker (and the tool's own producer
and reader).

  python3 bench/run_latency.py --build-dir build/release [--rounds 3] [--stock-only]
      [--state [--checkpoint-intervals default,1s,200ms]] [--only 2k,state,...]
  python3 bench/run_latency.py --smoke --build-dir ... (CTest run_latency_smoke)

scripts/bench-latency.sh builds the tools (and the patched mock) and calls this
with --results-dir bench/results.
"""
import argparse
import datetime
import json
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
STATE_RATES = ("2k", "50k", "200k")
# The smoke run's state scenario: checkpoints within its one second.
SMOKE_STATE = ["2k+state@200ms"]


def state_names(intervals):
    """The --state scenarios: per rate, persistence off, then on at each interval."""
    names = []
    for rate in STATE_RATES:
        names.append(f"{rate}+w1")
        for interval in intervals:
            names.append(f"{rate}+state" + ("" if interval == "default" else f"@{interval}"))
    return names


def split_name(name):
    """'50k+state@1s' -> ('50k', True, '1s'); '50k+w1' -> ('50k', False, None); '50k' -> ('50k', None, None)."""
    if "+" not in name:
        return name, None, None
    rate, _, rest = name.partition("+")
    if rest == "w1":
        return rate, False, None
    interval = rest.partition("@")[2] or "default"
    return rate, True, interval


def scenario(name, smoke):
    """(tool, arguments) of a scenario name, base or --state."""
    rate, state, interval = split_name(name)
    tool, args = SCENARIOS[rate]
    args = list(SMOKE_ARGS[rate] if smoke else args)
    if state is None:
        return tool, args
    args += ["--w1", "1"]
    if state:
        args += ["--state-dir", "auto"]
        if interval != "default":
            args += ["--checkpoint-interval", interval]
    return tool, args

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
    out = None
    for line in text.splitlines():
        if line.startswith("RESULT ") or line.startswith("RESULT_STATE "):
            out = out or {}
            for field in line.split()[1:]:
                key, _, value = field.partition("=")
                try:
                    out[key] = float(value)
                except ValueError:
                    pass
    return out if out and "e2e_p99_ms" in out else None


class RunFailed(Exception):
    pass


def run(name, mock, tools, smoke, log):
    tool, args = scenario(name, smoke)
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
    state = split_name(name)[1]
    if proc.returncode != 0 or result is None or (state and "checkpoints" not in result):
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        raise RunFailed(f"run_latency: {name} ({mock}) failed, exit {proc.returncode} (load {load}):\n"
                        + "\n".join(tail))
    if state and result["checkpoints"] == 0 and result["logged"] == 0:
        raise RunFailed(f"run_latency: {name} ({mock}): no checkpoint during the run")
    result["load"] = float(load)
    line = (f"  {name:16} {mock:7} " + ("p50 %.2f p99 %.2f ms" % (result["p50"], result["p99"])
                                        if name == "roundtrip" else
                                        "e2e p50 %.2f p99 %.2f ms, inside p99 %.3f ms, %.0f ev/CPU-s"
                                        % (result["e2e_p50_ms"], result["e2e_p99_ms"],
                                           result["inside_p99_ms"], result["events_per_cpu_s"])))
    if state:
        line += (", %d checkpoints, %d kB, keys max %d, collect max %.3f ms (load %s)"
                 % (result["checkpoints"], result["ckpt_bytes"] / 1000, result["keys_max"],
                    result["collect_max_ms"], load))
    log(line)
    return result


def ms(x):
    return f"{x:.2f}"


def runs_cell(values, fmt=ms):
    return ", ".join(fmt(v) for v in values)


def report(results, mocks, info, started, finished, args, failures):
    """The markdown report: runs, medians, targets."""
    out = [f"# tern_latency — {started:%Y-%m-%d %H:%M}–{finished:%H:%M} — {info['commit']}"
           f"{' (+uncommitted changes)' if info['dirty'] else ''}", ""]
    out.append(f"Machine: {info['nproc']} cores, {info['cpu']}, Linux {info['kernel']}. "
               f"Release build. `python3 bench/run_latency.py --rounds {args.rounds}"
               + (f" --state --checkpoint-intervals {args.checkpoint_intervals}" if args.state else "")
               + (f" --only {args.only}" if args.only else "") + "` "
               f"(`scripts/bench-latency.sh`): {args.rounds} round(s), the mocks alternating "
               f"within each. Load average at each run's start: "
               f"{min((r['load'] for rs in results.values() for r in rs), default='?')}–"
               f"{max((r['load'] for rs in results.values() for r in rs), default='?')}.")
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

    rows = []
    for mock in mocks:
        rs = get("roundtrip", mock)
        if rs:
            rows.append([mock, runs_cell([r["p50"] for r in rs]), runs_cell([r["p99"] for r in rs]),
                         ms(statistics.median(r["p50"] for r in rs)),
                         ms(statistics.median(r["p99"] for r in rs))])
    if rows:
        out.append("## The broker's own round trip (`kafka_roundtrip`, one message in flight, "
                   "fetch.wait.max.ms 1, linger 0)")
        out.append("")
        out.append(table(["mock", "p50 ms (runs)", "p99 ms (runs)", "median p50", "median p99"], rows))
        out.append("")

    titles = {"2k": "2,000 events/s, linger 0", "50k": "50,000 events/s, linger 1 ms",
              "200k": "200,000 events/s, linger 1 ms (throughput)"}
    for name in ("2k", "50k", "200k"):
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
        if not rows:
            continue
        out.append(f"## {titles[name]}")
        out.append("")
        out.append(table(["mock", "e2e p50 ms (runs)", "e2e p99 ms (runs)", "median p99",
                      "e2e p99.9 ms (runs)", "inside p99 ms (worst)", "daemon events per CPU-s",
                      "mock thread core"], rows))
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
    if rows:
        out += ["## Targets (issue 4)", "", table(["target", "mock", "result", ""], rows), ""]
    if any(split_name(name)[1] is not None for name, _ in results):
        out += state_report(results, mocks)
    if failures:
        out += ["## Failed runs (left out of the tables above)", ""]
        out += ["- " + f.replace("\n", "\n  ") for f in failures]
        out.append("")
    return "\n".join(out)


def state_report(results, mocks):
    """The --state tables: persistence off vs on, and the targets of issue 15."""
    out = ["## Durable state (issue 15): persistence off vs on", "",
           "Every run here has W1's pattern beside the probe (`tern_latency --w1 1`: "
           "`a where amount < 2 followed_by b where amount > 500 within 10m`, keyed by `k`, "
           "1 % tiny and 0.5 % large amounts, 1,000 keys), so that the checkpoints have partial "
           "matches to write; *off* = no `state.dir`, *on* = `--state-dir auto` (a fresh "
           "directory on the run's disk) at the checkpoint interval named (default: the "
           "daemon's, 5s). Checkpoints, bytes, changed keys and the collect pause are those of "
           "the measured run (the daemon's `/metrics` before and after it and its debug log "
           "lines \"checkpoint N durable\"); the collect pause is the loop thread's, during "
           "which no event is processed; *> 1 ms* counts collects over 1 ms "
           "(`tern_checkpoint_collect_seconds`).", ""]
    names = sorted({name for name, _ in results if split_name(name)[1] is not None},
                   key=lambda n: (STATE_RATES.index(split_name(n)[0]), split_name(n)[1],
                                  interval_seconds(split_name(n)[2])))

    def rs_of(name, mock):
        return results.get((name, mock), [])

    def label(name):
        _, state, interval = split_name(name)
        if not state:
            return "off"
        return "on, " + ("5s (default)" if interval == "default" else interval)

    def ckpt_cells(rs, state):
        if not state:
            return ["–"] * 6
        total = sum(r["checkpoints"] for r in rs)
        buckets = [r["collect_bucket_ms"] for r in rs]  # -1: past the last bound
        return [f"{statistics.median(r['checkpoints'] for r in rs):.0f}",
                f"{statistics.median(r['ckpt_bytes'] for r in rs) / 1000:.0f}",
                f"{max(r['keys_max'] for r in rs):.0f}",
                f"{statistics.median(r['collect_med_ms'] for r in rs):.3f} / "
                f"{max(r['collect_max_ms'] for r in rs):.3f}",
                f"{sum(r['collect_over_1ms'] for r in rs):.0f} of {total:.0f}",
                "> last" if min(buckets) < 0 else f"≤ {max(buckets):g} ms"]

    ckpt_headers = ["checkpoints per run (median)", "kB per run (median)",
                    "changed keys per checkpoint (max)", "collect ms: median / max",
                    "collects > 1 ms", "collect histogram: highest bucket"]
    titles = {"2k": "2,000 events/s, linger 0: end to end", "50k": "50,000 events/s, linger 1 ms: end to end",
              "200k": "200,000 events/s, linger 1 ms: events per daemon CPU-second"}
    for rate in STATE_RATES:
        rate_names = [n for n in names if split_name(n)[0] == rate]
        if not rate_names:
            continue
        rows = []
        for mock in mocks:
            off = rs_of(f"{rate}+w1", mock)
            off_cpu = statistics.median(r["events_per_cpu_s"] for r in off) if off else None
            for name in rate_names:
                rs = rs_of(name, mock)
                if not rs:
                    continue
                state = split_name(name)[1]
                if rate == "200k":
                    cpu = statistics.median(r["events_per_cpu_s"] for r in rs)
                    lost = "–"
                    if state and off_cpu:
                        share = 100 * (1 - cpu / off_cpu)
                        lost = f"{share:.1f} % fewer" if share >= 0 else f"{-share:.1f} % more"
                    rows.append([label(name), mock,
                                 runs_cell([r["events_per_cpu_s"] / 1000 for r in rs], lambda v: f"{v:.0f}k"),
                                 f"{cpu / 1000:.0f}k", lost,
                                 ms(statistics.median(r["e2e_p99_ms"] for r in rs))] + ckpt_cells(rs, state))
                else:
                    rows.append([label(name), mock,
                                 runs_cell([r["e2e_p50_ms"] for r in rs]),
                                 runs_cell([r["e2e_p99_ms"] for r in rs]),
                                 ms(statistics.median(r["e2e_p50_ms"] for r in rs)),
                                 ms(statistics.median(r["e2e_p99_ms"] for r in rs)),
                                 ms(statistics.median(r["e2e_p999_ms"] for r in rs)),
                                 ms(max(r["e2e_max_ms"] for r in rs)),
                                 f"{max(r['inside_p99_ms'] for r in rs):.3f}"] + ckpt_cells(rs, state))
        if rate == "200k":
            headers = ["persistence", "mock", "events per CPU-s (runs)", "median", "lost vs off",
                       "e2e p99 ms (median)"]
        else:
            headers = ["persistence", "mock", "e2e p50 ms (runs)", "e2e p99 ms (runs)", "median p50",
                       "median p99", "median p99.9", "e2e max (worst)", "inside p99 ms (worst)"]
        if rows:
            out += [f"### {titles[rate]}", "", table(headers + ckpt_headers, rows), ""]

    out += ["### Targets (issue 15)", "",
            "*Within noise*: the median p99 with persistence on is no higher than the highest "
            "p99 of the runs with it off (same rounds, in alternation).", ""]
    rows = []
    for mock in mocks:
        for name in names:
            rate, state, interval = split_name(name)
            rs, off = rs_of(name, mock), rs_of(f"{rate}+w1", mock)
            if not state or not rs:
                continue
            what = label(name).replace("on, ", "")
            if rate == "200k" and off:
                on_cpu = statistics.median(r["events_per_cpu_s"] for r in rs)
                off_cpu = statistics.median(r["events_per_cpu_s"] for r in off)
                lost = 100 * (1 - on_cpu / off_cpu)
                rows.append([f"200k: ≤ 10 % fewer events per daemon CPU-s ({what})", mock,
                             f"off {off_cpu / 1000:.0f}k, on {on_cpu / 1000:.0f}k: "
                             + (f"{lost:.1f} % fewer" if lost >= 0 else f"{-lost:.1f} % more"),
                             "met" if lost <= 10 else "**not met**"])
            elif rate != "200k" and off:
                on_p99 = statistics.median(r["e2e_p99_ms"] for r in rs)
                off_p99 = [r["e2e_p99_ms"] for r in off]
                rows.append([f"{rate}: e2e p99 unchanged within noise ({what})", mock,
                             f"on median {on_p99:.2f} ms; off runs {runs_cell(off_p99)} "
                             f"(median {statistics.median(off_p99):.2f})",
                             "met" if on_p99 <= max(off_p99) else "**not met**"])
            worst = max(r["collect_max_ms"] for r in rs)
            over = sum(r["collect_over_1ms"] for r in rs)
            rows.append([f"{rate}: no collect pause > 1 ms ({what})", mock,
                         f"max {worst:.3f} ms, {over:.0f} of {sum(r['checkpoints'] for r in rs):.0f} "
                         f"over 1 ms, ≤ {max(r['keys_max'] for r in rs):.0f} changed keys",
                         "met" if worst <= 1 and over == 0 else "**not met**"])
    out += [table(["target", "mock", "result", ""], rows), ""]
    return out


def interval_seconds(interval):
    """'200ms' -> 0.2, '5s' -> 5, 'default' -> 5 (the daemon's), None -> -1 (off first)."""
    if interval is None:
        return -1
    if interval == "default":
        return 5.0
    m = re.fullmatch(r"([\d.]+)(ms|s|m)", interval)
    if not m:
        return 0
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", type=Path, required=True, help="Release tree with cli/tern and bench/")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default="",
                    help="comma list of roundtrip,2k,50k,200k and, with --state, its scenarios "
                         "(2k+w1, 2k+state, 2k+state@1s, ...; 'state': all of them)")
    ap.add_argument("--state", action="store_true",
                    help="also persistence off vs on (issue 15), with W1's pattern beside the probe")
    ap.add_argument("--checkpoint-intervals", default="default,1s",
                    help="with --state: the intervals measured ('default': the daemon's, 5s)")
    ap.add_argument("--stock-only", action="store_true", help="skip the patched mock")
    ap.add_argument("--smoke", action="store_true", help="1 s per run, one round, stock only (CTest)")
    ap.add_argument("--results-dir", type=Path, help="also write <date>-latency-<commit>.md here")
    ap.add_argument("--save", type=Path, help="also write every run's figures here (JSON)")
    args = ap.parse_args()

    build = args.build_dir
    tools = {"tern": build / "cli" / "tern", "tern_latency": build / "bench" / "tern_latency",
             "kafka_roundtrip": build / "bench" / "kafka_roundtrip"}
    for path in tools.values():
        if not path.exists():
            raise SystemExit(f"run_latency: {path} is missing (build it, or use scripts/bench-latency.sh)")
    only = set(args.only.split(",")) if args.only else set()
    names = [n for n in SCENARIOS if not only or n in only]
    if args.state:
        intervals = [i.strip() for i in args.checkpoint_intervals.split(",") if i.strip()]
        names += [n for n in state_names(intervals) if not only or "state" in only or n in only]
    if args.smoke:
        names += SMOKE_STATE
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
    failures = []
    for round_number in range(1, args.rounds + 1):
        log(f"round {round_number} of {args.rounds}")
        # Every other round backwards: off and on alternate, and neither always runs
        # first, on a warmer or colder machine.
        for name in (names if round_number % 2 else list(reversed(names))):
            # Alternate which mock goes first, so neither always runs on a warmer machine.
            order = mocks if round_number % 2 else list(reversed(mocks))
            for mock in order:
                try:
                    results.setdefault((name, mock), []).append(run(name, mock, tools, args.smoke, log))
                except RunFailed as e:
                    # A run that loses events (a daemon far behind on a loaded machine: the mock
                    # trims its log) or fails otherwise: reported, and the smoke test fails.
                    if args.smoke:
                        raise SystemExit(str(e))
                    log(str(e))
                    failures.append(f"round {round_number}: {e}")
    finished = datetime.datetime.now()
    info = machine_info()
    text = report(results, mocks, info, started, finished, args, failures)
    if args.save:
        args.save.write_text(json.dumps({"runs": [{"name": n, "mock": m, **r} for (n, m), rs in results.items()
                                                  for r in rs], "failures": failures}, indent=1))
    print(text)
    if args.results_dir and not args.smoke:
        kind = "latency-state" if args.state else "latency"
        path = args.results_dir / f"{started:%Y-%m-%d}-{kind}-{info['commit']}.md"
        path.write_text(text)
        log(f"written: {path}")


if __name__ == "__main__":
    main()
