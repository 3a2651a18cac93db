#!/usr/bin/env bash
# Runs the benchmark suite of issue 3 with one command: builds the Release tree
# (build/release) if needed, generates each workload's input once (cached in
# build/bench-data/), times tern replay, the parse-only baseline and the engine
# alone on every workload of bench/scenarios/, and prints the tables. The same
# report is written to bench/results/<date>-<short commit>.md (-quick.md with
# --quick).
#
# Usage: scripts/bench.sh [--quick] [--only w1,w7] [--no-sweeps] [--runs N] ...
#   --quick   1/20 of the events (a few minutes; for a first look, not for quoting)
#   other options go to bench/run_bench.py (see --help there).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${TERN_BENCH_BUILD:-build/release}"

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
if ! grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$BUILD/CMakeCache.txt"; then
  echo "bench.sh: $BUILD is not a Release build; figures come from Release builds only" >&2
  exit 1
fi
cmake --build "$BUILD" -j "$(nproc)" --target tern tern_gen tern_parse_only tern_bench_engine

exec python3 bench/run_bench.py --build-dir "$BUILD" --data-dir build/bench-data \
  --results-dir bench/results "$@"
