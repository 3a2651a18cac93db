#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the demo: builds Tern
# (Release), then `tern demo`: the embedded Kafka broker, the daemon with the
# shipped patterns, and the sample stream produced in (sped-up) real time; the
# alerts are printed as they arrive.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build/release -j "$(nproc)" --target tern
echo
echo "==> tern demo   (embedded broker + tern run + the sample stream; Ctrl-C stops)"
echo
./build/release/cli/tern demo "$@"
