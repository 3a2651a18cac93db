// `tern replay`: every pattern file into one Engine, a JSON Lines file through it,
// alerts out as JSON Lines. `tern test` runs the same code with captured output.
// Tested by the recorded-stream cases under tests/cases/ (via `tern test`).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/patterns.h"
#include "engine/engine.h"

namespace tern::cli {

struct ReplayOptions {
  std::vector<PatternFile> patterns;
  std::string input;               // JSON Lines file; "-" is standard input
  std::string time_field = "ts";
  int64_t lateness_ms = 0;
  engine::LatePolicy late = engine::LatePolicy::kMatch;             // --late
  int64_t max_ahead_ms = engine::Options{}.max_ahead_ms;            // --max-ahead; 0 = none
  std::string dead_letter;         // empty: malformed lines are only reported
  std::string late_output;         // empty: late events are only counted
  bool open_end = false;           // no Finish(): windows open at the end stay open
};

// Where a replay writes. With a FILE the text is flushed there in big blocks;
// without one it accumulates in the string (tern test).
struct ReplayOutput {
  std::FILE* alerts_file = nullptr;
  std::string alerts;              // one alert per line, '\n' terminated
  std::FILE* log_file = nullptr;
  std::string log;                 // diagnostics, malformed lines, the summary
  bool summary = true;             // end with the `events N, alerts N ...` line
};

// Runs one replay. Returns kExitOk, or kExitFailed when the patterns do not compile
// or a file cannot be opened or read (malformed and late events are not failures).
int Replay(const ReplayOptions& options, ReplayOutput& output);

// Fills the options other than the pattern files from a parsed command line (or a
// test case's `args` line): --input, --time-field, --lateness, --late, --max-ahead,
// --dead-letter, --late-output, --open-end. Returns false with *error on a bad value.
bool ReadReplayOptions(const Args& args, ReplayOptions* options, std::string* error);

}  // namespace tern::cli
