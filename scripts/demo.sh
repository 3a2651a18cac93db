#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs the demo: builds Tern
# (Release), then replays the sample stream through the shipped patterns and
# prints the alerts.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build/release -j "$(nproc)" --target tern
echo
echo "==> tern replay patterns/*.tern --input patterns/sample/events.jsonl"
echo
./build/release/cli/tern replay patterns/*.tern --input patterns/sample/events.jsonl
