// `tern replay FILE... --input EVENTS.jsonl`: one Engine, one pass over the inputs,
// alerts on stdout in the order the engine finalises them.
// Tested by the recorded-stream cases under tests/cases/ (via `tern test`),
// tests/write_errors_test.py (outputs that cannot be written),
// tests/replay/replay_input_test.py (compressed and several inputs, kcat dumps,
// progress) and tests/daemon/kcat_replay_test.py (a kcat dump of what `tern run` read
// gives its alerts, ids included).
#include "cli/replay.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "base/byte_size.h"
#include "base/json_writer.h"
#include "base/output_file.h"
#include "base/printable.h"
#include "base/utf8.h"
#include "cli/commands.h"
#include "cli/record_case.h"
#include "engine/engine.h"
#include "engine/event_parser.h"
#include "engine/kcat_envelope.h"
#include "engine/line_reader.h"
#include "engine/routing.h"
#include "state/store.h"

namespace tern::cli {

namespace {

constexpr char kReplayUsage[] =
    "usage: tern replay FILE... --input EVENTS.jsonl [--input MORE.jsonl...] [options]\n"
    "\n"
    "Runs the patterns of every FILE over JSON Lines files (or kcat dumps of Kafka\n"
    "topics) and prints the alerts as JSON Lines on stdout. A summary goes to stderr.\n"
    "\n"
    "options:\n"
    "  --input FILE        the events, one JSON object per line ('-': stdin). Repeat it\n"
    "                      for several files: they are read in order as one stream\n"
    "                      (named after the first; line numbers go on from file to\n"
    "                      file). gzip and zstd files (.gz, .zst, or any file that\n"
    "                      starts with their magic bytes) are decompressed as read\n"
    "  --format FORMAT     jsonl (default), or kcat: each line is a Kafka record as\n"
    "                      `kcat -C -J` prints it; its payload is the event, its topic\n"
    "                      the stream, its topic, partition and offset its position (alert\n"
    "                      ids are those `tern run` gives), and each partition has its own\n"
    "                      watermark, the events of all matched in one event-time order,\n"
    "                      as `tern run` matches a topic's partitions\n"
    "  --partitions TOPIC:N[,TOPIC:N...]  with --format kcat: the partitions each topic\n"
    "                      has, known from the start: no window closes and no event is\n"
    "                      matched until each has shown its time (as `tern run` waits for\n"
    "                      the partitions it is assigned). Without it a partition counts\n"
    "                      from its first record (a warning says when that was too late)\n"
    "  --stream NAME       the input stream's name, which `from` clauses name (default:\n"
    "                      the first input's file name without extensions, stdin for '-';\n"
    "                      with --format kcat each record's topic)\n"
    "  --time-field NAME   top-level member holding the event time (default ts):\n"
    "                      epoch milliseconds or an RFC 3339 string\n"
    "  --lateness DUR      watermark = max event time - DUR (default 0ms);\n"
    "                      units ms, s, m, h, d\n"
    "  --dead-letter FILE  write malformed lines there as\n"
    "                      {\"line\":N,\"error\":\"...\",\"raw\":\"...\"}, or with\n"
    "                      \"raw_base64\" instead of \"raw\" when the line is not UTF-8;\n"
    "                      of a line over --max-event-size, its first 1024 bytes. N counts\n"
    "                      the lines of the stream (every input, every --state part). With\n"
    "                      --format kcat a record whose payload is malformed has\n"
    "                      \"topic\", \"partition\" and \"offset\" too, and the payload as raw\n"
    "  --max-event-size N  longest event line in bytes (default 1MiB, at most 1GiB;\n"
    "                      units B, KiB, MiB, GiB): a longer line is malformed\n"
    "                      (\"event too large\") and skipped without being held in memory\n"
    "  --late-output FILE  write late events there, as received (kcat: the envelope)\n"
    "  --late POLICY       what matching does with a late event: match (default: at\n"
    "                      its arrival position) or drop (left out, as Flink does);\n"
    "                      late events go to --late-output either way\n"
    "  --max-partial-matches N  most partial matches one key may hold for one pattern\n"
    "                      (default 100000; 0: no bound): past it the oldest are dropped,\n"
    "                      counted in the summary, logged once per key\n"
    "  --max-ahead DUR     an event more than DUR ahead of the latest event time seen\n"
    "                      before it (in its partition) is malformed (default 365d; 0: no bound)\n"
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
    "  --progress, --no-progress  show progress on stderr about twice a second (events,\n"
    "                      events/s, share of the input read, time left), or not; the\n"
    "                      default shows it when stderr is a terminal\n"
    "  --record-case DIR   also write the replay as a `tern test` case folder: DIR\n"
    "                      (new or empty) gets the pattern files, the input lines as\n"
    "                      input.jsonl, the options that shape the alerts as args, and\n"
    "                      the alerts as expected.jsonl (review them: they are what the\n"
    "                      patterns give today, not what they should give)\n"
    "\n"
    "Exit status: 0, 1 when the patterns do not compile, a file cannot be read (a\n"
    "compressed one cut short or corrupt included) or an output (stdout, --dead-letter,\n"
    "--late-output) cannot be written, 2 for a bad command line. Malformed and late\n"
    "events do not change it.\n";

constexpr OptionSpec kReplayOptions[] = {
    {"--input", true},       {"--time-field", true},  {"--lateness", true},
    {"--dead-letter", true}, {"--late-output", true}, {"--open-end", false},
    {"--max-event-size", true}, {"--late", true}, {"--max-ahead", true},
    {"--max-partial-matches", true}, {"--state", true}, {"--finish", false},
    {"--kafka-partition", true}, {"--start-offset", true}, {"--format", true},
    {"--partitions", true}, {"--progress", false}, {"--no-progress", false},
    {"--record-case", true}, {"--stream", true},
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
  if (output.progress_shown) {
    // The progress line goes; the next report writes it again below the log line.
    std::fputs("\r\033[K", output.log_file);
    output.progress_shown = false;
  }
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
// With a kcat record (`kafka` not null), its topic, partition and offset follow the line.
void AppendDeadLetter(std::string& record, uint64_t line_number, std::string_view error,
                      std::string_view raw, const engine::KcatRecord* kafka = nullptr) {
  record.assign("{\"line\":");
  json::AppendInt(record, static_cast<int64_t>(line_number));
  if (kafka != nullptr) {
    record += ",\"topic\":";
    json::AppendString(record, kafka->topic);
    record += ",\"partition\":";
    json::AppendInt(record, kafka->partition);
    record += ",\"offset\":";
    json::AppendInt(record, kafka->offset);
  }
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
  // (The format only when it is not the first one: states written before it stay valid.)
  return "time_field=" + options.time_field + ";lateness_ms=" + std::to_string(options.lateness_ms) +
         ";late=" + (options.late == engine::LatePolicy::kDrop ? "drop" : "match") +
         ";max_ahead_ms=" + std::to_string(options.max_ahead_ms) +
         (options.format == InputFormat::kKcat ? ";format=kcat" : "");
}

// A kcat record's source partition in the state's positions: "kcat TOPIC/PARTITION",
// in engine partition order, with the offset after the last record read from it (0:
// none yet).
constexpr std::string_view kKcatPosition = "kcat ";

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
                                                 uint64_t* line_base, int64_t* offset_base,
                                                 std::vector<std::pair<std::string, uint64_t>>* positions) {
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
  *positions = meta.positions;
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
               uint64_t lines, int64_t next_offset, std::vector<std::pair<std::string, uint64_t>> sources,
               ReplayOutput& output) {
  state::PartitionMeta meta;
  meta.settings = StateSettings(options);
  meta.positions.emplace_back("line", lines);
  for (auto& source : sources) meta.positions.push_back(std::move(source));
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


// "1.2 GB", "340 MB", "12 KB": the size of an input, for progress lines.
std::string ShortBytes(uint64_t bytes) {
  char text[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) {
    std::snprintf(text, sizeof text, "%.2f GB", b / 1e9);
  } else if (b >= 1e6) {
    std::snprintf(text, sizeof text, "%.0f MB", b / 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.0f KB", b / 1e3);
  }
  return text;
}

// "42s", "3m05s", "2h07m": a time left.
std::string ShortDuration(double seconds) {
  char text[32];
  const uint64_t s = static_cast<uint64_t>(seconds + 0.5);
  if (s < 60) {
    std::snprintf(text, sizeof text, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(text, sizeof text, "%llum%02llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(text, sizeof text, "%lluh%02llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60));
  }
  return text;
}

// The progress line of a replay: events, events/s, the share of the input read (by the
// inputs' bytes on disk, compressed ones for a compressed file) and the time left at
// the rate so far. The loop asks Due() once per line (a countdown) and looks at the
// clock once per kCheckEvery lines, so progress costs nothing measurable.
// Created by Replay() when ReplayOutput::progress is set; writes to its log file.
// Thread: the replay's. Locks: none.
class Progress {
 public:
  static constexpr uint32_t kCheckEvery = 4096;           // lines between clock reads
  static constexpr auto kInterval = std::chrono::milliseconds(500);

  Progress(ReplayOutput& output, uint64_t total_bytes)
      : output_(output), total_(total_bytes), start_(std::chrono::steady_clock::now()), next_(start_ + kInterval) {}

  bool Due() { return output_.progress && --countdown_ == 0; }

  // `bytes`: of the inputs read so far (finished ones whole, the current one up to
  // where its reader is).
  void Report(uint64_t events, uint64_t bytes) {
    countdown_ = kCheckEvery;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_) return;
    next_ = now + kInterval;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    std::string line = output_.progress_tty ? "\rtern replay: " : "tern replay: ";
    char text[160];
    std::snprintf(text, sizeof text, "%llu events, %.0f events/s", static_cast<unsigned long long>(events),
                  seconds > 0 ? static_cast<double>(events) / seconds : 0.0);
    line += text;
    if (total_ > 0) {
      const double share = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_));
      std::snprintf(text, sizeof text, ", %.1f%% of %s", share * 100, ShortBytes(total_).c_str());
      line += text;
      if (share > 0.001 && seconds >= 1) line += ", " + ShortDuration(seconds * (1 - share) / share) + " left";
    } else {
      line += ", " + ShortBytes(bytes) + " read";
    }
    line += output_.progress_tty ? "\033[K" : "\n";
    std::fwrite(line.data(), 1, line.size(), output_.log_file);
    output_.progress_shown = output_.progress_tty;
  }

  // Before the summary: the line on the terminal goes.
  void Clear() {
    if (!output_.progress_shown) return;
    std::fputs("\r\033[K", output_.log_file);
    output_.progress_shown = false;
  }

 private:
  ReplayOutput& output_;
  uint64_t total_;                    // bytes of all inputs; 0: unknown (a pipe)
  std::chrono::steady_clock::time_point start_, next_;  // next_: the next report
  uint32_t countdown_ = kCheckEvery;  // lines until the clock is read again
};

// The source partitions of a kcat input: each (topic, partition) is an engine input
// partition, numbered in order of first appearance (or of --partitions, or as a
// resumed --state numbered them), with its position hash, stream and progress.
// Thread: the replay's. Locks: none.
class KcatSources {
 public:
  struct Source {
    std::string topic;
    int32_t partition = 0;
    uint64_t topic_hash = 0;       // engine::TopicHash8(topic)
    uint32_t stream = 0;           // engine stream id of the topic
    uint64_t next_offset = 0;      // after the last record read from it (0: none)
    int64_t max_ts = INT64_MIN;    // latest event time pushed from it
    bool declared = false;         // --partitions, or in the resumed state
    bool pushed = false;           // an event of it went to the engine
  };

  // The engine partition of (topic, partition); *added when it is new.
  uint32_t Find(engine::Engine& engine, std::string_view topic, int32_t partition, bool* added) {
    *added = false;
    if (last_ < sources_.size() && sources_[last_].partition == partition && sources_[last_].topic == topic) {
      return last_;
    }
    scratch_.assign(topic);
    scratch_.push_back('\0');
    scratch_.append(std::to_string(partition));
    auto it = ids_.find(scratch_);
    if (it != ids_.end()) return last_ = it->second;
    const uint32_t id = static_cast<uint32_t>(sources_.size());
    ids_.emplace(scratch_, id);
    Source& s = sources_.emplace_back();
    s.topic.assign(topic);
    s.partition = partition;
    s.topic_hash = engine::TopicHash8(topic);
    s.stream = engine.StreamId(topic);
    *added = true;
    return last_ = id;
  }

  Source& operator[](uint32_t id) { return sources_[id]; }
  const std::vector<Source>& all() const { return sources_; }

  // The smallest latest time of the partitions that sent events: with lateness, what
  // the engine has matched up to (undeclared partitions count from their first event).
  int64_t MatchedUpTo(int64_t lateness_ms) const {
    int64_t wm = INT64_MAX;
    bool any = false;
    for (const Source& s : sources_) {
      if (!s.pushed) {
        if (s.declared) return INT64_MIN;  // holds everything back
        continue;
      }
      any = true;
      wm = std::min(wm, s.max_ts);
    }
    if (!any) return INT64_MIN;
    return wm < INT64_MIN + lateness_ms ? INT64_MIN : wm - lateness_ms;
  }

  // The positions a --state save records: "kcat TOPIC/PARTITION" in engine order.
  std::vector<std::pair<std::string, uint64_t>> Positions() const {
    std::vector<std::pair<std::string, uint64_t>> out;
    for (const Source& s : sources_) {
      out.emplace_back(std::string(kKcatPosition) + s.topic + "/" + std::to_string(s.partition), s.next_offset);
    }
    return out;
  }

 private:
  std::vector<Source> sources_;                     // by engine partition
  std::unordered_map<std::string, uint32_t> ids_;   // "topic\0partition" -> engine partition
  std::string scratch_;
  uint32_t last_ = UINT32_MAX;                      // the last one found (records come in runs)
};

// "cards:3,logins:2" into (topic, count) pairs.
bool ParsePartitionList(const std::string& text, std::vector<std::pair<std::string, int32_t>>* out) {
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    const std::string_view item(text.data() + begin, end - begin);
    const size_t colon = item.rfind(':');
    int32_t n = 0;
    if (colon == std::string_view::npos || colon == 0 ||
        std::from_chars(item.data() + colon + 1, item.data() + item.size(), n).ptr != item.data() + item.size() ||
        colon + 1 == item.size() || n < 1 || n > 65536) {
      return false;
    }
    out->emplace_back(std::string(item.substr(0, colon)), n);
    begin = end + 1;
  }
  return true;
}

// Every input can be opened: a missing third file fails the replay before the first
// alert, not after the first two files. Returns the total size of the inputs on disk,
// or 0 when one is not a regular file (standard input, a pipe): progress then shows
// no share of the whole.
bool CheckInputs(const std::vector<std::string>& inputs, uint64_t* total, std::string* error) {
  *total = 0;
  bool known = true;
  int stdin_uses = 0;
  for (const std::string& input : inputs) {
    struct stat st;
    if (input == "-") {
      if (++stdin_uses > 1) {
        *error = "standard input ('-') given twice as --input";
        return false;
      }
      known = known && fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode);
      if (known) *total += static_cast<uint64_t>(st.st_size);
      continue;
    }
    const int fd = open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *error = "cannot open '" + input + "': " + std::strerror(errno);
      return false;
    }
    known = known && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (known) *total += static_cast<uint64_t>(st.st_size);
    close(fd);
  }
  if (!known) *total = 0;
  return true;
}

}  // namespace

std::span<const OptionSpec> ReplayOptionTable() { return kReplayOptions; }

std::string StreamName(const std::string& input) {
  if (input == "-") return "stdin";
  std::filesystem::path path(input);
  if (engine::CodecOfName(input) != engine::Codec::kNone) path = path.stem();
  return path.stem().string();
}

bool ReadReplayOptions(const Args& args, ReplayOptions* options, std::string* error) {
  if (args.Has("--input")) options->inputs = args.GetAll("--input");
  if (args.Has("--format")) {
    const std::string& text = args.Get("--format", "");
    if (text == "jsonl") {
      options->format = InputFormat::kJsonl;
    } else if (text == "kcat") {
      options->format = InputFormat::kKcat;
    } else {
      *error = "invalid value '" + text + "' for --format (jsonl or kcat)";
      return false;
    }
  }
  if (args.Has("--partitions")) {
    options->partitions.clear();
    for (const std::string& text : args.GetAll("--partitions")) {
      if (!ParsePartitionList(text, &options->partitions)) {
        *error = "invalid value '" + text + "' for --partitions (TOPIC:COUNT[,TOPIC:COUNT...], e.g. cards:3)";
        return false;
      }
    }
  }
  options->stream = args.Get("--stream", options->stream);
  if (args.Has("--stream") && options->stream.empty()) {
    *error = "--stream must not be empty";
    return false;
  }
  if (args.Has("--stream") && options->format == InputFormat::kKcat) {
    *error = "--stream does not go with --format kcat: each record's topic is its stream";
    return false;
  }
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
    if (args.Has("--stream")) {
      *error = "--stream does not go with --kafka-partition: the stream is named after the topic";
      return false;
    }
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
  if (options->format == InputFormat::kKcat && !options->kafka_topic.empty()) {
    *error = "--kafka-partition is for --format jsonl: a kcat envelope names its record's topic, partition "
             "and offset";
    return false;
  }
  if (options->format != InputFormat::kKcat && !options->partitions.empty()) {
    *error = "--partitions needs --format kcat";
    return false;
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
  const bool kcat = options.format == InputFormat::kKcat;
  engine::Options engine_options;
  engine_options.lateness_ms = options.lateness_ms;
  engine_options.max_runs_per_key = options.max_partial_matches;
  engine_options.late = options.late;
  engine_options.max_ahead_ms = options.max_ahead_ms;
  // A kcat dump holds a topic's partitions, each with its own time: matched in one
  // event-time order, as `tern run` matches them (a repartition partition's engine).
  engine_options.order_across_partitions = kcat;
  engine::Engine engine(engine_options);

  LoadedPatterns loaded;
  LoadPatterns(options.patterns, engine.schema(), &loaded);
  if (!loaded.sink.diagnostics().empty()) {
    output.log += CheckReport(loaded);
    FlushLog(output);
  }
  if (loaded.sink.has_errors()) return kExitFailed;
  engine.AddPrograms(loaded.programs);

  std::string error;
  uint64_t total_bytes = 0;
  if (options.inputs.empty()) {
    Log(output, "tern replay: no input");
    return kExitFailed;
  }
  if (!CheckInputs(options.inputs, &total_bytes, &error)) {
    Log(output, "tern replay: " + error);
    return kExitFailed;
  }
  engine::LineReader reader;
  // A kcat envelope escapes its payload (a quote or backslash takes 2 bytes, a control
  // byte 6): the line may be longer than the event, whose own size the parser checks.
  const uint64_t line_limit = kcat ? options.max_event_size * 6 + 65536 : options.max_event_size;
  reader.set_max_line(line_limit);
  OutputFile dead_letter, late_output;
  if (!OpenSide(options.dead_letter, &dead_letter, output) ||
      !OpenSide(options.late_output, &late_output, output)) {
    return kExitFailed;
  }

  engine::EventParser parser(engine.schema(), options.time_field);
  parser.set_max_event_size(options.max_event_size);
  engine::KcatEnvelopeParser envelope;
  KcatSources sources;
  // --state: the line numbers go on from the earlier parts'.
  uint64_t line_base = 0;
  int64_t offset_base = std::max<int64_t>(options.start_offset, 0);  // --kafka-partition
  std::unique_ptr<state::PartitionStore> store;
  if (!options.state_dir.empty()) {
    std::vector<std::pair<std::string, uint64_t>> positions;
    store = LoadState(options, engine, parser, output, &line_base, &offset_base, &positions);
    if (store == nullptr) return kExitFailed;
    // The kcat partitions the state numbered, in its order.
    for (const auto& [name, next] : positions) {
      if (!kcat || !name.starts_with(kKcatPosition)) continue;
      const size_t slash = name.rfind('/');
      int32_t partition = 0;
      if (slash == std::string::npos ||
          std::from_chars(name.data() + slash + 1, name.data() + name.size(), partition).ptr !=
              name.data() + name.size()) {
        continue;
      }
      bool added;
      KcatSources::Source& source = sources[sources.Find(
          engine, std::string_view(name).substr(kKcatPosition.size(), slash - kKcatPosition.size()), partition,
          &added)];
      source.next_offset = next;
      source.declared = true;
    }
  }
  for (const auto& [topic, count] : options.partitions) {
    for (int32_t p = 0; p < count; ++p) {
      bool added;
      const uint32_t id = sources.Find(engine, topic, p, &added);
      sources[id].declared = true;
      engine.AddPartition(id);
    }
  }
  const bool kafka = !options.kafka_topic.empty();
  const uint64_t topic_hash = engine::TopicHash8(options.kafka_topic);
  const uint32_t stream = kcat ? 0 : engine.StreamId(kafka                    ? options.kafka_topic
                                                           : !options.stream.empty() ? options.stream
                                                                                     : StreamName(options.inputs[0]));
  const auto start = std::chrono::steady_clock::now();
  Progress progress(output, total_bytes);
  uint64_t alerts = 0, late = 0, malformed = 0;
  uint64_t lines_before = 0;  // lines of the inputs before the current one
  uint64_t bytes_before = 0;  // their bytes on disk (progress)
  int status = kExitOk;
  bool stopped = false;       // a write failed: what follows would be lost too
  std::string record;         // scratch for a dead letter
  engine::KcatRecord kafka_record;
  engine::Line line;
  for (const std::string& input : options.inputs) {
    if (!reader.Open(input, &error)) {
      Log(output, "tern replay: " + error);
      status = kExitFailed;
      break;
    }
    while (reader.Next(&line)) {
      // The line's number in the stream: positions, dead letters and --state count so.
      const uint64_t number = line_base + lines_before + line.number;
      if (progress.Due()) [[unlikely]] {
        progress.Report(engine.stats().events, bytes_before + reader.file_position());
      }
      nfa::StoredEvent* event = engine.NewEvent();
      bool parsed = false;
      std::string_view raw = line.text;
      const engine::KcatRecord* source_record = nullptr;  // kcat: the envelope was read
      uint32_t partition = 0;
      if (line.too_long) {
        // The reader kept only the line's first bytes, maybe cut inside a UTF-8
        // character: drop its start, so that a UTF-8 line stays a "raw" string.
        error = kcat ? "event too large: the kcat envelope has " + std::to_string(line.size) +
                           " bytes, over 6 times --max-event-size plus 64KiB"
                     : engine::EventTooLarge(line.size, line_limit);
        for (size_t cut = 1; cut <= 3 && !IsValidUtf8(raw) && cut < line.text.size(); ++cut) {
          if (IsValidUtf8(line.text.substr(0, line.text.size() - cut))) {
            raw = line.text.substr(0, line.text.size() - cut);
          }
        }
      } else if (!kcat) {
        parsed = parser.Parse(line.text, *event, &error) && engine.CheckTime(0, event->ts(), &error);
      } else if (!envelope.Parse(line.text, &kafka_record, &error)) {
        error.insert(0, "not a kcat -J envelope: ");
      } else {
        bool added;
        partition = sources.Find(engine, kafka_record.topic, kafka_record.partition, &added);
        KcatSources::Source& source = sources[partition];
        source.next_offset = static_cast<uint64_t>(kafka_record.offset) + 1;
        source_record = &kafka_record;
        raw = kafka_record.payload;
        if (kafka_record.null_payload) {
          error = "no payload (null)";
        } else {
          parsed = parser.Parse(kafka_record.payload, *event, &error) &&
                   engine.CheckTime(partition, event->ts(), &error);
        }
        if (parsed && !source.pushed) {
          // A partition that counts from its first record: if the engine already matched
          // later events of the others, this one's come after them, not in time order.
          const int64_t matched = sources.MatchedUpTo(options.lateness_ms);
          if (!source.declared && matched != INT64_MIN && event->ts() < matched) {
            Log(output, "tern replay: " + Printable(input) + ":" + std::to_string(line.number) +
                            ": the first record of " + Printable(source.topic) + "[" +
                            std::to_string(source.partition) + "] (time " +
                            std::to_string(event->ts()) + ") comes after the other partitions' events up to time " +
                            std::to_string(matched) +
                            " were matched: it is matched after them, not in event-time order as `tern run` "
                            "would; name the partitions up front with --partitions TOPIC:COUNT");
          }
        }
      }
      if (!parsed) {
        engine.Discard(event);
        ++malformed;
        std::string where = Printable(input) + ":" + std::to_string(line.number);
        if (source_record != nullptr) {
          where += ": " + Printable(source_record->topic) + "[" + std::to_string(source_record->partition) + "]@" +
                   std::to_string(source_record->offset);
        }
        Log(output, where + ": malformed event: " + Printable(error));
        if (dead_letter.is_open()) {
          AppendDeadLetter(record, number, error, raw, source_record);
          dead_letter.Write(record);
          if (!dead_letter.ok()) {
            stopped = true;
            break;
          }
        }
        continue;
      }
      if (kcat) {
        KcatSources::Source& source = sources[partition];
        event->position = engine::SourcePosition(source.topic_hash, kafka_record.partition, kafka_record.offset);
        event->offset = static_cast<uint64_t>(kafka_record.offset);
        event->stream = source.stream;
        source.pushed = true;
        source.max_ts = std::max(source.max_ts, event->ts());
      } else if (kafka) {
        const int64_t offset = offset_base + static_cast<int64_t>(number - line_base) - 1;
        event->position = engine::SourcePosition(topic_hash, options.kafka_partition, offset);
        event->offset = static_cast<uint64_t>(offset);
        event->stream = stream;
      } else {
        event->position = number;
        event->offset = number;
        event->stream = stream;
      }
      event->partition = partition;
      if (engine.Push(event)) {
        ++late;
        if (late_output.is_open()) {
          late_output.Write(line.text);
          late_output.Put('\n');
          if (!late_output.ok()) {
            stopped = true;
            break;
          }
        }
      }
      if (!engine.alerts().empty()) {
        DrainAlerts(engine, output, &alerts);
        if (output.alerts_file != nullptr && !output.alerts_file->ok()) {
          stopped = true;
          break;
        }
      }
      if (!engine.limited_keys().empty()) [[unlikely]] LogLimitedKeys(engine, options, output);
    }
    lines_before += reader.line_number();
    if (!reader.error().empty()) {
      // The inputs after a damaged one are not read: they would not continue its stream.
      Log(output, "tern replay: " + input + ": " + reader.error());
      status = kExitFailed;
      break;
    }
    if (stopped) break;
    bytes_before += reader.file_position();
  }
  // After a failed write the loop stopped early: what followed would be lost too.
  bool outputs_ok = dead_letter.ok() && late_output.ok() &&
                    (output.alerts_file == nullptr || output.alerts_file->ok());
  if (outputs_ok) {
    // An input that could not be read to its end (cut short, corrupt) did not end the
    // stream: its windows stay open, so that no alert claims an absence the rest of the
    // input might have disproved.
    if (status == kExitOk && (store != nullptr ? options.finish : !options.open_end)) engine.Finish();
    DrainAlerts(engine, output, &alerts);
    Flush(output.alerts, output.alerts_file);
  }
  // The state goes with the position after the last line read, blank ones included (an
  // empty input keeps it).
  const uint64_t lines_read = line_base + lines_before;
  if (store != nullptr && status == kExitOk && outputs_ok &&
      !SaveState(options, *store, engine, lines_read, offset_base + static_cast<int64_t>(lines_before),
                 kcat ? sources.Positions() : std::vector<std::pair<std::string, uint64_t>>{}, output)) {
    status = kExitFailed;
  }
  // Standard output is flushed, not closed: main() closes it.
  if (!FinishOutput(dead_letter, true, output)) status = kExitFailed;
  if (!FinishOutput(late_output, true, output)) status = kExitFailed;
  if (output.alerts_file != nullptr && !FinishOutput(*output.alerts_file, false, output)) {
    status = kExitFailed;
  }

  progress.Clear();
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
  if (options.inputs.empty()) return UsageError("replay", "--input is required");
  if (args.Has("--progress") && args.Has("--no-progress")) {
    return UsageError("replay", "--progress and --no-progress contradict each other");
  }
  for (const std::string& path : args.positional()) options.patterns.push_back({path, path});
  const std::string case_dir = args.Get("--record-case", "");
  if (!case_dir.empty() && !PrepareCase(case_dir, words, &options, &error)) {
    std::fprintf(stderr, "tern replay: %s\n", Printable(error).c_str());
    return kExitFailed;
  }

  ReplayOutput output;
  output.alerts_file = &Stdout();
  output.log_file = stderr;
  output.alerts.reserve(kFlushBytes + 4096);
  output.progress_tty = isatty(STDERR_FILENO) != 0;
  output.progress = args.Has("--progress") || (output.progress_tty && !args.Has("--no-progress"));
  if (case_dir.empty()) return Replay(options, output);
  // The alerts are kept for expected.jsonl, then written out as without the option.
  output.alerts_file = nullptr;
  int status = Replay(options, output);
  Stdout().Write(output.alerts);
  if (status == kExitOk && !FinishCase(case_dir, output.alerts, &error)) {
    std::fprintf(stderr, "tern replay: %s\n", Printable(error).c_str());
    return kExitFailed;
  }
  if (status == kExitOk) {
    std::fprintf(stderr, "tern replay: recorded the case %s (run it with `tern test %s`)\n",
                 Printable(case_dir).c_str(), Printable(case_dir).c_str());
  }
  return status;
}

}  // namespace tern::cli
