// `tern replay FILE... --input EVENTS.jsonl`: one Engine, one pass over the input,
// alerts on stdout in the order the engine finalises them.
// Tested by the recorded-stream cases under tests/cases/ (via `tern test`).
#include "cli/replay.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/json_writer.h"
#include "cli/commands.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/line_reader.h"

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
    "                      {\"line\":N,\"error\":\"...\",\"raw\":\"...\"}\n"
    "  --late-output FILE  write late events there, as received\n"
    "  --late POLICY       what matching does with a late event: match (default: at\n"
    "                      its arrival position) or drop (left out, as Flink does);\n"
    "                      late events go to --late-output either way\n"
    "  --max-ahead DUR     an event more than DUR ahead of the latest event time seen\n"
    "                      before it is malformed (default 365d; 0: no bound)\n"
    "  --open-end          the stream goes on after the file: windows still open at\n"
    "                      its end stay open (no end-of-input timeouts or absence\n"
    "                      matches), as `tern run` would leave them\n"
    "\n"
    "Exit status: 0, 1 when the patterns do not compile or a file cannot be read,\n"
    "2 for a bad command line. Malformed and late events do not change it.\n";

constexpr OptionSpec kReplayOptions[] = {
    {"--input", true},       {"--time-field", true},  {"--lateness", true},
    {"--dead-letter", true}, {"--late-output", true}, {"--open-end", false},
    {"--late", true},        {"--max-ahead", true},
};

constexpr size_t kFlushBytes = size_t{1} << 20;

void Append(std::string& buffer, std::FILE* file, std::string_view text) {
  buffer.append(text);
  if (file != nullptr && buffer.size() >= kFlushBytes) {
    std::fwrite(buffer.data(), 1, buffer.size(), file);
    buffer.clear();
  }
}

void Flush(std::string& buffer, std::FILE* file) {
  if (file == nullptr) return;
  std::fwrite(buffer.data(), 1, buffer.size(), file);
  buffer.clear();
  std::fflush(file);
}

// Log lines go out at once (they are rare): stderr is unbuffered anyway.
void Log(ReplayOutput& output, const std::string& line) {
  output.log += line;
  output.log += '\n';
  Flush(output.log, output.log_file);
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

// A side output file (dead letters, late events), closed by its owner's scope.
struct SideFile {
  std::FILE* file = nullptr;
  ~SideFile() {
    if (file != nullptr) std::fclose(file);
  }
};

bool OpenSide(const std::string& path, SideFile* side, ReplayOutput& output) {
  if (path.empty()) return true;
  side->file = std::fopen(path.c_str(), "wb");
  if (side->file == nullptr) {
    Log(output, "tern replay: cannot write '" + path + "': " + std::strerror(errno));
    return false;
  }
  return true;
}

std::string StreamName(const std::string& input) {
  if (input == "-") return "stdin";
  return std::filesystem::path(input).stem().string();
}

}  // namespace

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
  options->dead_letter = args.Get("--dead-letter", options->dead_letter);
  options->late_output = args.Get("--late-output", options->late_output);
  if (args.Has("--open-end")) options->open_end = true;
  return true;
}

int Replay(const ReplayOptions& options, ReplayOutput& output) {
  engine::Options engine_options;
  engine_options.lateness_ms = options.lateness_ms;
  engine_options.late = options.late;
  engine_options.max_ahead_ms = options.max_ahead_ms;
  engine::Engine engine(engine_options);

  LoadedPatterns loaded;
  LoadPatterns(options.patterns, engine.schema(), &loaded);
  if (!loaded.sink.diagnostics().empty()) {
    output.log += CheckReport(loaded);
    Flush(output.log, output.log_file);
  }
  if (loaded.sink.has_errors()) return kExitFailed;
  engine.AddPrograms(loaded.programs);

  engine::LineReader reader;
  std::string error;
  if (!reader.Open(options.input, &error)) {
    Log(output, "tern replay: " + error);
    return kExitFailed;
  }
  SideFile dead_letter, late_output;
  if (!OpenSide(options.dead_letter, &dead_letter, output) ||
      !OpenSide(options.late_output, &late_output, output)) {
    return kExitFailed;
  }

  engine::EventParser parser(engine.schema(), options.time_field);
  const uint32_t stream = engine.StreamId(StreamName(options.input));
  const auto start = std::chrono::steady_clock::now();
  uint64_t alerts = 0, late = 0, malformed = 0;
  std::string record;  // scratch for a dead letter
  engine::Line line;
  while (reader.Next(&line)) {
    nfa::StoredEvent* event = engine.NewEvent();
    if (!parser.Parse(line.text, *event, &error) || !engine.CheckTime(0, event->ts(), &error)) {
      engine.Discard(event);
      ++malformed;
      Log(output, options.input + ":" + std::to_string(line.number) + ": malformed event: " + error);
      if (dead_letter.file != nullptr) {
        record.assign("{\"line\":");
        json::AppendInt(record, static_cast<int64_t>(line.number));
        record += ",\"error\":";
        json::AppendString(record, error);
        record += ",\"raw\":";
        json::AppendString(record, line.text);
        record += "}\n";
        std::fwrite(record.data(), 1, record.size(), dead_letter.file);
      }
      continue;
    }
    event->position = line.number;
    event->partition = 0;
    event->stream = stream;
    if (engine.Push(event)) {
      ++late;
      if (late_output.file != nullptr) {
        std::fwrite(line.text.data(), 1, line.text.size(), late_output.file);
        std::fputc('\n', late_output.file);
      }
    }
    if (!engine.alerts().empty()) DrainAlerts(engine, output, &alerts);
  }
  int status = kExitOk;
  if (!reader.error().empty()) {
    Log(output, "tern replay: " + options.input + ": " + reader.error());
    status = kExitFailed;
  }
  if (!options.open_end) engine.Finish();
  DrainAlerts(engine, output, &alerts);
  Flush(output.alerts, output.alerts_file);

  if (output.summary) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const engine::Stats& stats = engine.stats();
    char summary[256];
    std::snprintf(summary, sizeof summary,
                  "events %llu, alerts %llu (matches %llu, timeouts %llu), late %llu, "
                  "malformed %llu, %.3f s, %.0f events/s",
                  static_cast<unsigned long long>(stats.events),
                  static_cast<unsigned long long>(alerts),
                  static_cast<unsigned long long>(stats.matches),
                  static_cast<unsigned long long>(stats.timeouts),
                  static_cast<unsigned long long>(late),
                  static_cast<unsigned long long>(malformed), seconds,
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
    std::fputs(kReplayUsage, stdout);
    return kExitOk;
  }
  ReplayOptions options;
  if (!ReadReplayOptions(args, &options, &error)) return UsageError("replay", error);
  if (args.positional().empty()) return UsageError("replay", "no pattern files given");
  if (options.input.empty()) return UsageError("replay", "--input is required");
  for (const std::string& path : args.positional()) options.patterns.push_back({path, path});

  ReplayOutput output;
  output.alerts_file = stdout;
  output.log_file = stderr;
  output.alerts.reserve(kFlushBytes + 4096);
  return Replay(options, output);
}

}  // namespace tern::cli
