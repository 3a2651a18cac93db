// `tern replay`: every pattern file into one Engine, JSON Lines files (or kcat -J
// dumps of Kafka topics; plain, gzip or zstd) through it, alerts out as JSON Lines.
// `tern test` runs the same code with captured output.
// Tested by the recorded-stream cases under tests/cases/ (via `tern test`),
// tests/replay/replay_input_test.py and tests/daemon/kcat_replay_test.py.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/output_file.h"
#include "cli/args.h"
#include "cli/patterns.h"
#include "engine/event_parser.h"
#include "engine/engine.h"

namespace tern::cli {

// What each input line is.
enum class InputFormat {
  kJsonl,  // one event per line
  kKcat,   // one `kcat -C -J` envelope per line: a Kafka record, its payload the event
};

struct ReplayOptions {
  std::vector<PatternFile> patterns;
  // The input files, read in order as one stream ("-" is standard input); gzip and
  // zstd files are decompressed as they are read.
  std::vector<std::string> inputs;
  InputFormat format = InputFormat::kJsonl;
  // --partitions TOPIC:COUNT (kcat): the partitions every topic has, known from the
  // start (each holds back the watermark until its first record), as `tern run` knows
  // the partitions it is assigned.
  std::vector<std::pair<std::string, int32_t>> partitions;
  // --stream: the input stream's name (what `from` names); empty: the first input's
  // file stem (jsonl), the record's topic (kcat).
  std::string stream;
  std::string time_field = "ts";
  int64_t lateness_ms = 0;
  engine::LatePolicy late = engine::LatePolicy::kMatch;             // --late
  int64_t max_ahead_ms = engine::Options{}.max_ahead_ms;            // --max-ahead; 0 = none
  std::string dead_letter;         // empty: malformed lines are only reported
  std::string late_output;         // empty: late events are only counted
  bool open_end = false;           // no Finish(): windows open at the end stay open
  uint64_t max_event_size = engine::kDefaultMaxEventSize;  // bytes; longer lines are malformed
  size_t max_partial_matches = engine::Options{}.max_runs_per_key;  // per key and pattern; 0 = none
  std::string state_dir;           // --state: continue from and save to this state directory
  bool finish = false;             // --finish (with --state): the input ends with this part
  // --kafka-partition TOPIC:P: the input is that Kafka partition's records, one per line, the
  // first at offset --start-offset (or where the --state left off): events get the
  // daemon's positions (so its alert ids), the stream is named TOPIC, and --state is
  // written as the daemon's state of that partition (`tern run` starts from it).
  std::string kafka_topic;         // empty: line numbers are the positions
  int32_t kafka_partition = -1;
  int64_t start_offset = -1;       // -1: 0, or the --state's
};

// Where a replay writes. With a file the alerts are flushed there in big blocks;
// without one they accumulate in the string (tern test).
struct ReplayOutput {
  OutputFile* alerts_file = nullptr;  // not owned; flushed, not closed, at the end
  std::string alerts;              // one alert per line, '\n' terminated
  std::FILE* log_file = nullptr;
  std::string log;                 // diagnostics, malformed lines, the summary
  bool summary = true;             // end with the `events N, alerts N ...` line
  // Progress on log_file about twice a second (events, events/s, share of the input,
  // time left): one line rewritten in place when `progress_tty`, else a line each time.
  bool progress = false;
  bool progress_tty = false;
  bool progress_shown = false;     // a progress line is on the terminal (erased before a log line)
};

// Runs one replay. Returns kExitOk, or kExitFailed when the patterns do not compile,
// a file cannot be opened or read, or an output cannot be written (the replay stops at
// the first failed write; malformed and late events are not failures).
int Replay(const ReplayOptions& options, ReplayOutput& output);

// The stream a JSON Lines input is when --stream does not name it: its file's stem
// (`events` for events.jsonl and events.jsonl.gz), `stdin` for "-".
std::string StreamName(const std::string& input);

// The options `tern replay` accepts; `tern test` parses a case's `args` with it too.
std::span<const OptionSpec> ReplayOptionTable();

// Fills the options other than the pattern files from a parsed command line (or a
// test case's `args` line): --input, --format, --partitions, --time-field, --lateness,
// --late, --max-ahead, --dead-letter, --late-output, --open-end, --max-event-size, --state,
// --finish, --kafka-partition, --start-offset. Returns false with *error on a bad value.
bool ReadReplayOptions(const Args& args, ReplayOptions* options, std::string* error);

}  // namespace tern::cli
