#!/bin/sh
# Runs build/release/cli/tern on the system librdkafka even when the caller
# (tern_latency with the patched mock) has LD_LIBRARY_PATH set. exec keeps the pid.
unset LD_LIBRARY_PATH
exec "$(dirname "$0")/../../build/release/cli/tern" "$@"
