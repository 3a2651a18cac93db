#!/usr/bin/env bash
# Builds librdkafka 2.0.2 (Debian bookworm's source package) with
# msgset-find-from-newest.patch into build/patched-mock/lib, for latency
# measurements against a mock broker whose fetches do not walk the whole
# partition log (rd_kafka_mock_msgset_find, "FIXME: Maintain an index"; see
# docs/kafka.md). scripts/bench-latency.sh runs it; nothing in the build, the
# tests or the demo uses it.
#
#   bash bench/mock/build.sh
#   LD_LIBRARY_PATH=build/patched-mock/lib build/release/bench/tern_latency \
#       --tern bench/mock/tern-system-librdkafka.sh --rate 2000 --seconds 10
#
# MOCK_OUT (a directory) and MOCK_PATCHES (file names in bench/mock/, in order) build
# another variant elsewhere; the changelog restore benchmark needs the mock's partition
# log limits raised (bench/results/2026-12-06-changelog-restore.md):
#
#   MOCK_OUT=build/mock-big-log MOCK_PATCHES=mock-log-limits.patch bash bench/mock/build.sh
#   LD_LIBRARY_PATH=build/mock-big-log/lib build/release/bench/tern_state_bench changelog
#
# The source comes from the Debian archive (deb-src, through a private apt
# state directory: the machine's apt configuration is left alone). The
# wrapper runs the daemon on the system librdkafka, so only the tool's
# in-process mock broker (and its producer and reader) use the patched library.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${MOCK_OUT:-$ROOT/build/patched-mock}"
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
PATCHES="${MOCK_PATCHES:-msgset-find-from-newest.patch}"
VERSION=2.0.2
mkdir -p "$OUT/apt/lists/partial" "$OUT/src"
cd "$OUT"
if [ ! -f "src/librdkafka_$VERSION.orig.tar.gz" ]; then
  cat > apt/src.sources <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  APT=(-o "Dir::Etc::SourceParts=$OUT/apt/none"
       -o "Dir::Etc::SourceList=$OUT/apt/src.sources" -o "Dir::State::Lists=$OUT/apt/lists"
       -o "Debug::NoLocking=1")
  mkdir -p apt/none
  apt-get "${APT[@]}" update > apt/update.log
  (cd src && apt-get "${APT[@]}" source --download-only "librdkafka=$VERSION-1" > ../apt/source.log)
fi
rm -rf "librdkafka-$VERSION"
tar xzf "src/librdkafka_$VERSION.orig.tar.gz"
cd "librdkafka-$VERSION"
for p in $PATCHES; do patch -p1 < "$ROOT/bench/mock/$p"; done
./configure --disable-debug-symbols --disable-sasl --disable-zstd --disable-lz4-ext > ../configure.log
make -j "$(nproc)" -C src librdkafka.so.1 > ../make.log 2>&1
mkdir -p "$OUT/lib"
cp src/librdkafka.so.1 "$OUT/lib/"
echo "built $OUT/lib/librdkafka.so.1 (librdkafka $VERSION + $PATCHES)"
