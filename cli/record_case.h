// `tern replay --record-case DIR`: a replay written down as a `tern test` case folder
// (the pattern files, input.jsonl, args and expected.jsonl), so that a recorded stream
// and what it gave today become a regression test.
// Tested by tests/replay/replay_input_test.py (record, then `tern test` the folder).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "cli/replay.h"

namespace tern::cli {

// Before the replay: creates DIR (which must not exist or be empty), copies the pattern
// files into it, writes every input line (decompressed, several inputs one after the
// other) to DIR/input.jsonl and the options that shape the alerts to DIR/args; then
// points options->inputs at DIR/input.jsonl, so the replay reads what the case holds.
// `words` is the replay's command line (the options are taken from it as written).
// Returns false with *error (DIR may then hold a partial case).
bool PrepareCase(const std::string& dir, std::span<const std::string> words,
                 ReplayOptions* options, std::string* error);

// After the replay: writes its alerts as DIR/expected.jsonl.
bool FinishCase(const std::string& dir, std::string_view alerts, std::string* error);

}  // namespace tern::cli
