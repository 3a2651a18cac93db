#!/usr/bin/env bash
# Runs every test: unit tests, recorded-stream cases and the Flink conformance
# cases, first in a Release build, then again under ASan+UBSan; then a smoke run of
# each libFuzzer target (scripts/fuzz-smoke.sh, clang).
# Usage: scripts/test.sh            (from anywhere; installs missing packages first)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc)}"

bash scripts/install-deps.sh

run_suite() {
  local dir="$1"; shift
  echo "==> configure $dir ($*)"
  cmake -S . -B "$dir" -G Ninja "$@" > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; exit 1; }
  echo "==> build $dir"
  cmake --build "$dir" -j "$JOBS"
  echo "==> test $dir"
  (cd "$dir" && ctest --output-on-failure -j "$JOBS")
}

mkdir -p build
run_suite build/release -DCMAKE_BUILD_TYPE=Release -DTERN_WERROR=ON
# Warnings are checked once, above: with sanitizers GCC 12 reports false
# maybe-uninitialized warnings inside libstdc++'s <regex>.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTERN_SANITIZE=ON -DTERN_WERROR=OFF -DTERN_BUILD_BENCH=OFF
bash scripts/fuzz-smoke.sh
echo "==> all tests passed"
