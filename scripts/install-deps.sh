#!/usr/bin/env bash
# Installs every Debian 12 package Tern needs to build, test, fuzz and benchmark.
# Safe to run any number of times: apt-get skips what is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev          # libFuzzer and the sanitizer runtimes
  libboost-dev                      # Spirit X3 (header-only)
  libsimdjson-dev                   # JSON Lines input
  libre2-dev                        # `matches`: linear-time regular expressions
  libspdlog-dev libfmt-dev          # logging, formatting
  librdkafka-dev                    # Kafka client and its mock cluster (rdkafka_mock.h)
  libtomlplusplus-dev               # tern.toml
  librocksdb-dev zlib1g-dev         # durable partial-match state (state/)
  libzstd-dev                       # `tern replay` reads .zst recordings (.gz: zlib1g-dev)
  kcat                              # poking at the embedded broker by hand and in tests
  python3-confluent-kafka           # tests/daemon/scaleout_test.py watches committed offsets
  doctest-dev                       # unit tests
  libbenchmark-dev                  # micro-benchmarks
  python3                           # case-folder tooling in scripts/
  graphviz                          # renders `tern explain --dot` in tests (2.4 MB, 9.4 MB installed)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# Node.js and npm for the editor grammar test (editors/test/run.sh): Debian's packages,
# unless a node with its npm is installed already (e.g. NodeSource's nodejs, which bundles
# npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
