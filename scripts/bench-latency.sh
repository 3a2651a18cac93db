#!/usr/bin/env bash
# Runs the latency benchmarks of issue 4 with one command: builds the Release tree
# (build/release) if needed and the patched mock broker of bench/mock/ (librdkafka
# 2.0.2 from Debian's source, ~45 s the first time; skipped with --stock-only or if
# the source cannot be fetched), then bench/run_latency.py: the broker's round trip,
# tern run end to end at 2k and 50k events/s and its throughput at 200k events/s,
# through the stock and the patched mock in alternation. About 6 minutes with the
# default 3 rounds. The report is also written to
# bench/results/<date>-latency-<short commit>.md. --state adds durable state off vs
# on (issue 15: checkpoints and their loop-thread pause, throughput lost at 200k),
# about 3 minutes more per round with the default --checkpoint-intervals default,1s;
# its report is <date>-latency-state-<short commit>.md.
#
# Usage: scripts/bench-latency.sh [--rounds N] [--only roundtrip,2k,50k,200k,state] [--stock-only]
#                                 [--state [--checkpoint-intervals default,1s,200ms]]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD=build/release  # bench/mock/tern-system-librdkafka.sh runs this tree's tern

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
if ! grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$BUILD/CMakeCache.txt"; then
  echo "bench-latency.sh: $BUILD is not a Release build; figures come from Release builds only" >&2
  exit 1
fi
cmake --build "$BUILD" -j "$(nproc)" --target tern tern_latency kafka_roundtrip

case " $* " in
  *" --stock-only "*) ;;
  *)
    if [ ! -f build/patched-mock/lib/librdkafka.so.1 ]; then
      bash bench/mock/build.sh || echo "bench-latency.sh: the patched mock did not build; stock only" >&2
    fi
    ;;
esac

exec python3 bench/run_latency.py --build-dir "$BUILD" --results-dir bench/results "$@"
