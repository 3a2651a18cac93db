#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang in build/fuzz, only them and
# their libraries, and runs each a fixed number of inputs from its seed corpus, with a
# fixed seed: a smoke run that keeps them building and catches what a short run finds.
# scripts/test.sh runs it; FUZZ_RUNS scales the runs (default 1: the CI amounts).
# Usage: scripts/fuzz-smoke.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="${JOBS:-$(nproc)}"
SCALE="${FUZZ_RUNS:-1}"

if ! command -v clang++ > /dev/null; then
  echo "fuzz-smoke: clang++ not found (scripts/install-deps.sh installs it): no fuzzing"
  exit 0
fi
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

mkdir -p build
echo "==> configure build/fuzz (clang, TERN_FUZZ)"
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DTERN_FUZZ=ON -DTERN_BUILD_BENCH=OFF "${launcher[@]}" > build/fuzz.configure.log 2>&1 \
  || { cat build/fuzz.configure.log; exit 1; }
echo "==> build build/fuzz"
cmake --build build/fuzz -j "$JOBS" --target dsl_fuzzer json_scan_fuzzer event_parser_fuzzer lsp_fuzzer

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# NAME RUNS SEEDS [ENV=VALUE...]: new inputs go to a scratch corpus, never to the seeds;
# a crash prints the input (base64) and fails the script.
smoke() {
  local name="$1" runs="$2" seeds="$3"; shift 3
  local fuzzer="${name%%:*}"
  mkdir -p "$work/$name"
  echo "==> fuzz $name: $((runs * SCALE)) runs"
  env "$@" "build/fuzz/tests/fuzz/$fuzzer" -runs=$((runs * SCALE)) -seed=1 -timeout=20 \
    -rss_limit_mb=2048 -dict="tests/fuzz/$(case "$fuzzer" in dsl_fuzzer) echo dsl;; lsp_fuzzer) echo lsp;; *) echo json;; esac).dict" \
    -artifact_prefix="$work/$name-" "$work/$name" "$seeds" > "$work/$name.log" 2>&1 \
    || { tail -40 "$work/$name.log"; echo "fuzz-smoke: $name failed"; exit 1; }
  grep -E '^Done' "$work/$name.log" || true
}
smoke dsl_fuzzer 10000 tests/fuzz/corpus
smoke json_scan_fuzzer 50000 tests/fuzz/corpus_json
smoke json_scan_fuzzer:sse2 50000 tests/fuzz/corpus_json TERN_JSON_SCAN_NO_AVX2=1
smoke event_parser_fuzzer 50000 tests/fuzz/corpus_event
smoke lsp_fuzzer 5000 tests/fuzz/corpus_lsp
echo "==> fuzz smoke passed"
