// `tern replay FILE... --input EVENTS.jsonl`: one Engine, one pass over the input,
// alerts on stdout in the order the engine finalises them.
// Tested by the recorded-stream cases under tests/cases/ (via `tern test`) and
// tests/write_errors_test.py (outputs that cannot be written).
#include "cli/replay.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "base/byte_size.h"
#include "base/json_writer.h"
#include "base/output_file.h"
#include "base/printable.h"
#include "base/utf8.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/line_reader.h"
#include "engine/routing.h"
#include "state/store.h"

namespace tern::cli {

namespace {

constexpr char kReplayUsage[] =
    "usage: tern replay FILE... --input EVENTS.jsonl [options]\n"
    "\n"
    "Runs the patterns of every FILE over a JSON Lines file and prints the alerts\n"
    "as JSON Lines on stdout. A summary goes to stderr.\n"
    "\n"
    "options:\n"
    "  --input FILE        the events, one JSON object per line ('-': stdin)\n"
    "  --time-field NAME   top-level member holding the event time (default ts):\n"
    "                      epoch milliseconds or an RFC 3339 string\n"
    "  --lateness DUR      watermark = max event time - DUR (default 0ms);\n"
    "                      units ms, s, m, h, d\n"
    "  --dead-letter FILE  write malformed lines there as\n"
    "                      {\"line\":N,\"error\":\"...\",\"raw\":\"...\"}, or with\n"
    "                      \"raw_base64\" instead of \"raw\" when the line is not UTF-8;\n"
    "                      of a line over --max-event-size, its first 1024 bytes\n"
    "  --max-event-size N  longest event line in bytes (default 1MiB, at most 1GiB;\n"
    "                      units B, KiB, MiB, GiB): a longer line is malformed\n"
    "                      (\"event too large\") and skipped without being held in memory\n"
    "  --late-output FILE  write late events there, as received\n"
    "  --late POLICY       what matching does with a late event: match (default: at\n"
    "                      its arrival position) or drop (left out, as Flink does);\n"
    "                      late events go to --late-output either way\n"
    "  --max-partial-matches N  most partial matches one key may hold for one pattern\n"
    "                      (default 100000; 0: no bound): past it the oldest are dropped,\n"
    "                      counted in the summary, logged once per key\n"
    "  --max-ahead DUR     an event more than DUR ahead of the latest event time seen\n"
    "                      before it is malformed (default 365d; 0: no bound)\n"
    "  --open-end          the stream goes on after the file: windows still open at\n"
    "                      its end stay open (no end-of-input timeouts or absence\n"
    "                      matches), as `tern run` would leave them\n"
    "  --state DIR         continue from the state in DIR (partial matches, watermark,\n"
    "                      reorder buffer, line numbers), if any, and save the state\n"
    "                      there at the end of the input, with --open-end semantics:\n"
    "                      replaying a stream in parts gives the alerts of one replay.\n"
    "                      `tern run` can start from it (docs/state.md)\n"
    "  --finish            with --state: this is the last part; at its end every window\n"
    "                      closes, as in a replay without --open-end\n"
    "  --kafka-partition TOPIC:P  the input is that Kafka partition's records, one per\n"
    "                      line in offset order (kcat -C -t TOPIC -p P -f '%s\\n'): alert\n"
    "                      ids are those `tern run` gives, the stream is named TOPIC, and\n"
    "                      --state is written as `tern run`'s state of the partition\n"
    "  --start-offset N    with --kafka-partition: the offset of the input's first line\n"
    "                      (default 0, or where --state left off)\n"
    "\n"
    "Exit status: 0, 1 when the patterns do not compile, a file cannot be read or an\n"
    "output (stdout, --dead-letter, --late-output) cannot be written, 2 for a bad\n"
    "command line. Malformed and late events do not change it.\n";

constexpr OptionSpec kReplayOptions[] = {
    {"--input", true},       {"--time-field", true},  {"--lateness", true},
    {"--dead-letter", true}, {"--late-output", true}, {"--open-end", false},
    {"--max-event-size", true}, {"--late", true}, {"--max-ahead", true},
    {"--max-partial-matches", true}, {"--state", true}, {"--finish", false},
    {"--kafka-partition", true}, {"--start-offset", true},
};

constexpr size_t kFlushBytes = size_t{1} << 20;

void Append(std::string& buffer, OutputFile* file, std::string_view text) {
  buffer.append(text);
  if (file != nullptr && buffer.size() >= kFlushBytes) {
    file->Write(buffer);
    buffer.clear();
  }
}

void Flush(std::string& buffer, OutputFile* file) {
  if (file == nullptr) return;
  file->Write(buffer);
  buffer.clear();
  file->Flush();
}

// Log lines go out at once (they are rare): stderr is unbuffered anyway. A failure to
// write stderr goes unreported: there is nowhere left to report it.
void FlushLog(ReplayOutput& output) {
  if (output.log_file == nullptr) return;
  std::fwrite(output.log.data(), 1, output.log.size(), output.log_file);
  output.log.clear();
}

void Log(ReplayOutput& output, const std::string& line) {
  output.log += line;
  output.log += '\n';
  FlushLog(output);
}

void DrainAlerts(engine::Engine& engine, ReplayOutput& output, uint64_t* count) {
  engine::AlertList& alerts = engine.alerts();
  if (alerts.empty()) return;  // most events: no alert
  for (const engine::Alert& alert : alerts) {
    Append(output.alerts, output.alerts_file, alert.json);
    Append(output.alerts, output.alerts_file, "\n");
  }
  *count += alerts.size();
  alerts.clear();
}

// A side output file (dead letters, late events): open only when its option is given.
bool OpenSide(const std::string& path, OutputFile* side, ReplayOutput& output) {
  if (path.empty() || side->Open(path)) return true;
  Log(output, "tern replay: " + side->error());
  return false;
}

// Flushes or closes one output; logs its failure once. False if it failed: alerts, dead
// letters or late events were lost, so the replay must not report success.
bool FinishOutput(OutputFile& file, bool close, ReplayOutput& output) {
  if (!file.is_open() && file.ok()) return true;
  if (close ? file.Close() : file.Flush()) return true;
  if (std::string error = file.TakeError(); !error.empty()) Log(output, "tern replay: " + error);
  return false;
}

// One dead-letter record: valid JSON whatever the line holds. `raw` when the bytes are
// UTF-8 (the JSON string reads back as the line), `raw_base64` when not, so that the
// line comes back byte for byte either way.
void AppendDeadLetter(std::string& record, uint64_t line_number, std::string_view error,
                      std::string_view raw) {
  record.assign("{\"line\":");
  json::AppendInt(record, static_cast<int64_t>(line_number));
  record += ",\"error\":";
  json::AppendString(record, error);
  if (IsValidUtf8(raw)) {
    record += ",\"raw\":";
    json::AppendString(record, raw);
  } else {
    record += ",\"raw_base64\":";
    json::AppendBase64(record, raw);
  }
  record += "}\n";
}

// Once per key: its partial matches of a pattern passed --max-partial-matches.
void LogLimitedKeys(engine::Engine& engine, const ReplayOptions& options, ReplayOutput& output) {
  for (const engine::LimitedKey& k : engine.limited_keys()) {
    Log(output, "tern replay: pattern " + engine.programs()[k.pattern]->name + ", key " + Printable(k.key_json) +
                    ": more than " + std::to_string(options.max_partial_matches) +
                    " partial matches (--max-partial-matches); the oldest are dropped (counted in the "
                    "summary, not logged again for this key)");
  }
  engine.limited_keys().clear();
}

// What the stored state depends on besides the patterns: a state written with other
// options would not continue the same replay.
std::string StateSettings(const ReplayOptions& options) {
  return "time_field=" + options.time_field + ";lateness_ms=" + std::to_string(options.lateness_ms) +
         ";late=" + (options.late == engine::LatePolicy::kDrop ? "drop" : "match") +
         ";max_ahead_ms=" + std::to_string(options.max_ahead_ms);
}

// The replay's state partition: one, as `tern replay` reads one stream; with
// --kafka-partition, named as `tern run` names that partition's (connectors/checkpointer.cc).
std::string StatePartition(const ReplayOptions& options) {
  if (options.kafka_topic.empty()) return "replay";
  return options.kafka_topic + "-" + std::to_string(options.kafka_partition);
}

bool ReparseEvent(void* context, nfa::StoredEvent& event, std::string* error) {
  const std::string payload = event.payload;  // Parse fills the payload from its input
  return static_cast<engine::EventParser*>(context)->Parse(payload, event, error);
}

// Opens --state and loads what it holds into `engine`. Returns the store (null on
// failure, logged) and sets *first_line to the number the input's first line gets.
std::unique_ptr<state::PartitionStore> LoadState(const ReplayOptions& options, engine::Engine& engine,
                                                 engine::EventParser& parser, ReplayOutput& output,
                                                 uint64_t* line_base, int64_t* offset_base) {
  state::Status status;
  auto store = state::PartitionStore::Open(options.state_dir, StatePartition(options), &status);
  if (store == nullptr) {
    Log(output, "tern replay: --state " + Printable(options.state_dir) + ": " + status.message);
    return nullptr;
  }
  state::PartitionMeta meta;
  status = store->ReadMeta(&meta);
  *line_base = 0;
  if (status.code == state::Errc::kAbsent) {
    engine.StartTracking();
    return store;
  }
  if (status.ok() && meta.settings != StateSettings(options)) {
    Log(output, "tern replay: --state " + Printable(options.state_dir) + " was written with other options (" +
                    meta.settings + "); continue it with the same --time-field, --lateness, --late and --max-ahead");
    return nullptr;
  }
  state::LoadReport report;
  if (status.ok()) status = store->Load(engine, meta, &report, ReparseEvent, &parser);
  if (!status.ok()) {
    Log(output, "tern replay: --state " + Printable(options.state_dir) + ": " + status.message);
    return nullptr;
  }
  for (const std::string& name : report.dropped_patterns) {
    Log(output, "tern replay: --state: pattern " + name +
                    " changed since the state was written: its partial matches are dropped, it starts afresh");
  }
  *line_base = state::PositionOf(meta, "line", 0);
  const uint64_t next = state::PositionOf(meta, "offset", UINT64_MAX);
  if (!options.kafka_topic.empty() && next != UINT64_MAX) {
    if (options.start_offset >= 0 && static_cast<uint64_t>(options.start_offset) != next) {
      Log(output, "tern replay: --state " + Printable(options.state_dir) + " continues at offset " +
                      std::to_string(next) + ", not --start-offset " + std::to_string(options.start_offset));
      return nullptr;
    }
    *offset_base = static_cast<int64_t>(next);
  }
  return store;
}

bool SaveState(const ReplayOptions& options, state::PartitionStore& store, engine::Engine& engine,
               uint64_t lines, int64_t next_offset, ReplayOutput& output) {
  state::PartitionMeta meta;
  meta.settings = StateSettings(options);
  meta.positions.emplace_back("line", lines);
  // `tern run` continues the partition there (the "line" position tells it the state
  // came from a replay: connectors/checkpointer.cc).
  if (!options.kafka_topic.empty()) meta.positions.emplace_back("offset", static_cast<uint64_t>(next_offset));
  std::unique_ptr<state::Checkpoint> checkpoint = store.Collect(engine, std::move(meta));
  state::Status status = store.Write(*checkpoint);
  if (!status.ok()) {
    Log(output, "tern replay: --state " + Printable(options.state_dir) + ": " + status.message);
    return false;
  }
  return true;
}

std::string StreamName(const std::string& input) {
  if (input == "-") return "stdin";
  return std::filesystem::path(input).stem().string();
}

}  // namespace

std::span<const OptionSpec> ReplayOptionTable() { return kReplayOptions; }

bool ReadReplayOptions(const Args& args, ReplayOptions* options, std::string* error) {
  options->input = args.Get("--input", options->input);
  options->time_field = args.Get("--time-field", options->time_field);
  if (options->time_field.empty()) {
    *error = "--time-field must not be empty";
    return false;
  }
  if (args.Has("--lateness")) {
    const std::string& text = args.Get("--lateness", "");
    if (!ParseDuration(text, &options->lateness_ms)) {
      *error = "invalid duration '" + text + "' for --lateness (e.g. 0, 500ms, 2s, 1m)";
      return false;
    }
  }
  if (args.Has("--max-event-size")) {
    const std::string& text = args.Get("--max-event-size", "");
    uint64_t bytes = 0;
    if (!ParseByteSize(text, &bytes) || bytes == 0 || bytes > engine::kMaxEventSizeLimit) {
      *error = "invalid size '" + text +
               "' for --max-event-size (1B to 1GiB, e.g. 1048576, 512KiB, 4MiB)";
      return false;
    }
    options->max_event_size = bytes;
  }
  if (args.Has("--late")) {
    const std::string& text = args.Get("--late", "");
    if (text == "match") {
      options->late = engine::LatePolicy::kMatch;
    } else if (text == "drop") {
      options->late = engine::LatePolicy::kDrop;
    } else {
      *error = "invalid value '" + text + "' for --late (match or drop)";
      return false;
    }
  }
  if (args.Has("--max-ahead")) {
    const std::string& text = args.Get("--max-ahead", "");
    if (!ParseDuration(text, &options->max_ahead_ms)) {
      *error = "invalid duration '" + text + "' for --max-ahead (e.g. 0, 1h, 30d)";
      return false;
    }
  }
  if (args.Has("--max-partial-matches")) {
    const std::string& text = args.Get("--max-partial-matches", "");
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n > 1'000'000'000) {
      *error = "invalid count '" + text + "' for --max-partial-matches (0 to 1000000000; 0: no bound)";
      return false;
    }
    options->max_partial_matches = static_cast<size_t>(n);
  }
  options->dead_letter = args.Get("--dead-letter", options->dead_letter);
  options->late_output = args.Get("--late-output", options->late_output);
  if (args.Has("--open-end")) options->open_end = true;
  options->state_dir = args.Get("--state", options->state_dir);
  if (args.Has("--finish")) options->finish = true;
  if (args.Has("--kafka-partition")) {
    const std::string& text = args.Get("--kafka-partition", "");
    const size_t colon = text.rfind(':');
    int32_t p = -1;
    if (colon == std::string::npos || colon == 0 ||
        std::from_chars(text.data() + colon + 1, text.data() + text.size(), p).ptr != text.data() + text.size() ||
        p < 0 || p > 65535) {
      *error = "invalid value '" + text + "' for --kafka-partition (TOPIC:PARTITION, e.g. cards:0)";
      return false;
    }
    options->kafka_topic = text.substr(0, colon);
    options->kafka_partition = p;
  }
  if (args.Has("--start-offset")) {
    const std::string& text = args.Get("--start-offset", "");
    int64_t n = -1;
    if (std::from_chars(text.data(), text.data() + text.size(), n).ptr != text.data() + text.size() || n < 0 ||
        n >= (int64_t{1} << 40) || text.empty()) {
      *error = "invalid offset '" + text + "' for --start-offset";
      return false;
    }
    if (options->kafka_topic.empty()) {
      *error = "--start-offset needs --kafka-partition";
      return false;
    }
    options->start_offset = n;
  }
  if (options->finish && options->state_dir.empty()) {
    *error = "--finish needs --state";
    return false;
  }
  if (options->finish && options->open_end) {
    *error = "--finish and --open-end contradict each other";
    return false;
  }
  return true;
}

int Replay(const ReplayOptions& options, ReplayOutput& output) {
  engine::Options engine_options;
  engine_options.lateness_ms = options.lateness_ms;
  engine_options.max_runs_per_key = options.max_partial_matches;
  engine_options.late = options.late;
  engine_options.max_ahead_ms = options.max_ahead_ms;
  engine::Engine engine(engine_options);

  LoadedPatterns loaded;
  LoadPatterns(options.patterns, engine.schema(), &loaded);
  if (!loaded.sink.diagnostics().empty()) {
    output.log += CheckReport(loaded);
    FlushLog(output);
  }
  if (loaded.sink.has_errors()) return kExitFailed;
  engine.AddPrograms(loaded.programs);

  engine::LineReader reader;
  reader.set_max_line(options.max_event_size);
  std::string error;
  if (!reader.Open(options.input, &error)) {
    Log(output, "tern replay: " + error);
    return kExitFailed;
  }
  OutputFile dead_letter, late_output;
  if (!OpenSide(options.dead_letter, &dead_letter, output) ||
      !OpenSide(options.late_output, &late_output, output)) {
    return kExitFailed;
  }

  engine::EventParser parser(engine.schema(), options.time_field);
  parser.set_max_event_size(options.max_event_size);
  // --state: the line numbers go on from the earlier parts'.
  uint64_t line_base = 0;
  int64_t offset_base = std::max<int64_t>(options.start_offset, 0);  // --kafka-partition
  std::unique_ptr<state::PartitionStore> store;
  if (!options.state_dir.empty()) {
    store = LoadState(options, engine, parser, output, &line_base, &offset_base);
    if (store == nullptr) return kExitFailed;
  }
  const bool kafka = !options.kafka_topic.empty();
  const uint64_t topic_hash = engine::TopicHash8(options.kafka_topic);
  const uint32_t stream = engine.StreamId(kafka ? options.kafka_topic : StreamName(options.input));
  const auto start = std::chrono::steady_clock::now();
  uint64_t alerts = 0, late = 0, malformed = 0;
  std::string record;  // scratch for a dead letter
  engine::Line line;
  while (reader.Next(&line)) {
    line.number += line_base;
    nfa::StoredEvent* event = engine.NewEvent();
    bool parsed;
    std::string_view raw = line.text;
    if (line.too_long) {
      // The reader kept only the line's first bytes, maybe cut inside a UTF-8
      // character: drop its start, so that a UTF-8 line stays a "raw" string.
      error = engine::EventTooLarge(line.size, options.max_event_size);
      for (size_t cut = 1; cut <= 3 && !IsValidUtf8(raw) && cut < line.text.size(); ++cut) {
        if (IsValidUtf8(line.text.substr(0, line.text.size() - cut))) {
          raw = line.text.substr(0, line.text.size() - cut);
        }
      }
      parsed = false;
    } else {
      parsed = parser.Parse(line.text, *event, &error) &&
               engine.CheckTime(0, event->ts(), &error);
    }
    if (!parsed) {
      engine.Discard(event);
      ++malformed;
      Log(output, Printable(options.input) + ":" + std::to_string(line.number) +
                      ": malformed event: " + Printable(error));
      if (dead_letter.is_open()) {
        AppendDeadLetter(record, line.number, error, raw);
        dead_letter.Write(record);
        if (!dead_letter.ok()) break;
      }
      continue;
    }
    if (kafka) {
      const int64_t offset = offset_base + static_cast<int64_t>(line.number - line_base) - 1;
      event->position = engine::SourcePosition(topic_hash, options.kafka_partition, offset);
      event->offset = static_cast<uint64_t>(offset);
    } else {
      event->position = line.number;
      event->offset = line.number;
    }
    event->partition = 0;
    event->stream = stream;
    if (engine.Push(event)) {
      ++late;
      if (late_output.is_open()) {
        late_output.Write(line.text);
        late_output.Put('\n');
        if (!late_output.ok()) break;
      }
    }
    if (!engine.alerts().empty()) {
      DrainAlerts(engine, output, &alerts);
      if (output.alerts_file != nullptr && !output.alerts_file->ok()) break;
    }
    if (!engine.limited_keys().empty()) [[unlikely]] LogLimitedKeys(engine, options, output);
  }
  int status = kExitOk;
  if (!reader.error().empty()) {
    Log(output, "tern replay: " + options.input + ": " + reader.error());
    status = kExitFailed;
  }
  // After a failed write the loop stopped early: what followed would be lost too.
  bool outputs_ok = dead_letter.ok() && late_output.ok() &&
                    (output.alerts_file == nullptr || output.alerts_file->ok());
  if (outputs_ok) {
    if (store != nullptr ? options.finish : !options.open_end) engine.Finish();
    DrainAlerts(engine, output, &alerts);
    Flush(output.alerts, output.alerts_file);
  }
  // The state goes with the position after the last line read, blank ones included (an
  // empty input keeps it).
  const uint64_t lines_read = line_base + reader.line_number();
  if (store != nullptr && status == kExitOk && outputs_ok &&
      !SaveState(options, *store, engine, lines_read, offset_base + static_cast<int64_t>(reader.line_number()),
                 output)) {
    status = kExitFailed;
  }
  // Standard output is flushed, not closed: main() closes it.
  if (!FinishOutput(dead_letter, true, output)) status = kExitFailed;
  if (!FinishOutput(late_output, true, output)) status = kExitFailed;
  if (output.alerts_file != nullptr && !FinishOutput(*output.alerts_file, false, output)) {
    status = kExitFailed;
  }

  if (output.summary) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const engine::Stats& stats = engine.stats();
    char summary[384];
    std::snprintf(summary, sizeof summary,
                  "events %llu, alerts %llu (matches %llu, timeouts %llu), late %llu, "
                  "malformed %llu, partial matches %llu (keys %llu, %llu dropped), %.3f s, %.0f events/s",
                  static_cast<unsigned long long>(stats.events),
                  static_cast<unsigned long long>(alerts),
                  static_cast<unsigned long long>(stats.matches),
                  static_cast<unsigned long long>(stats.timeouts),
                  static_cast<unsigned long long>(late),
                  static_cast<unsigned long long>(malformed),
                  static_cast<unsigned long long>(stats.live_runs),
                  static_cast<unsigned long long>(stats.live_keys),
                  static_cast<unsigned long long>(stats.dropped_runs), seconds,
                  seconds > 0 ? static_cast<double>(stats.events) / seconds : 0.0);
    Log(output, summary);
  }
  return status;
}

int ReplayCommand(std::span<const std::string> words) {
  Args args;
  std::string error;
  if (!args.Parse(words, kReplayOptions, &error)) return UsageError("replay", error);
  if (args.help()) {
    Stdout().Write(kReplayUsage);
    return kExitOk;
  }
  ReplayOptions options;
  if (!ReadReplayOptions(args, &options, &error)) return UsageError("replay", error);
  if (args.positional().empty()) return UsageError("replay", "no pattern files given");
  if (options.input.empty()) return UsageError("replay", "--input is required");
  for (const std::string& path : args.positional()) options.patterns.push_back({path, path});

  ReplayOutput output;
  output.alerts_file = &Stdout();
  output.log_file = stderr;
  output.alerts.reserve(kFlushBytes + 4096);
  return Replay(options, output);
}

}  // namespace tern::cli
