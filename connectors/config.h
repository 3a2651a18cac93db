// The daemon configuration (`tern run --config tern.toml`): the option table of
// connectors/config_table.def as data, DaemonConfig, and loading a TOML file into it with
// every mistake reported as a located Diagnostic.
// Tested by tests/unit/connectors/config_test.cc.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostic.h"
#include "base/source.h"

namespace tern::connectors {

enum class OptionType {
  kString,      // TOML string
  kStringList,  // TOML array of non-empty strings
  kDuration,    // TOML string such as "500ms" (base/duration.h), within the row's range
  kByteSize,    // TOML string such as "1MiB" (base/byte_size.h), within the row's range
  kCount,       // TOML integer, within the row's range "MIN..MAX"
  kEnum,        // TOML string, one of the row's "a|b|c"
  kAddress,     // TOML string "host:port" (port 0-65535), or "" for none
  kProperties,  // TOML table of scalars, passed through as name -> text
};

enum class OptionId {
#define TERN_OPTION(id, name, member, type, def, range, example, doc) k##id,
#include "connectors/config_table.def"
#undef TERN_OPTION
};

// One row of connectors/config_table.def.
struct OptionInfo {
  std::string_view name;          // dotted, as in TOML: "input.time.field"
  OptionType type;
  std::string_view default_toml;  // TOML value text: "\"ts\"", "[\"tern.events\"]", "{}"
  std::string_view range;         // see config_table.def; "" when unconstrained
  std::string_view example;       // TOML value text for docs and the sample
  std::string_view doc;           // Markdown, one paragraph
};

// Every row, in table order.
std::span<const OptionInfo> ConfigOptions();
const OptionInfo& Info(OptionId id);
// "string", "list of strings", "duration", "byte size", "enum", "host:port", "table".
std::string_view TypeName(OptionType type);

// Values of the kEnum options, in the order of their rows' range.
enum class TimeFormat { kAuto };
enum class LatePolicy { kMatch, kDrop };
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class LogFormat { kText, kJson };
enum class StateOnCorruption { kChangelog, kFail };
std::string_view Name(TimeFormat v);
std::string_view Name(LatePolicy v);
std::string_view Name(LogLevel v);
std::string_view Name(LogFormat v);
std::string_view Name(StateOnCorruption v);

// Everything `tern run` is configured with. Made by DefaultConfig() or ParseConfig();
// owned by the daemon and read-only once it starts.
// Thread: any (a plain value). Locks: none.
struct DaemonConfig {
  std::string brokers;                                      // kafka.brokers; not empty
  std::string group;                                        // kafka.group; not empty
  std::map<std::string, std::string> consumer_properties;  // [kafka.consumer], name -> text
  std::map<std::string, std::string> producer_properties;  // [kafka.producer], name -> text
  std::vector<std::string> input_topics;                    // input.topics; >= 1, none empty
  std::string time_field;                                   // input.time.field; not empty
  std::string key_field;                                    // input.key.field; "" = unknown
  int32_t repartition_partitions = 0;                       // repartition.partitions; 0 = input's
  int32_t max_partial_matches = 100000;                     // state.max.partial.matches; 0 = none
  std::string state_dir;                                    // state.dir; "" = no persistence
  int64_t checkpoint_interval_ms = 5000;                    // state.checkpoint.interval
  std::string changelog_prefix;                             // state.changelog.prefix; "" = group's
  StateOnCorruption on_corruption = StateOnCorruption::kChangelog;  // state.on.corruption
  TimeFormat time_format = TimeFormat::kAuto;               // input.time.format
  int64_t lateness_ms = 0;                                  // input.lateness; 0..7 days
  int64_t max_ahead_ms = int64_t{365} * 86'400'000;        // input.time.max.ahead; 0 = none
  LatePolicy late_policy = LatePolicy::kMatch;              // input.late.policy
  int64_t idle_ms = 1000;                                   // input.idle; 0..1 h; 0 = never idle
  uint64_t max_event_size = uint64_t{1} << 20;              // input.max.event.size; bytes,
                                                            // 1 B..1 GiB
  std::string alerts_topic;                                 // output.alerts.topic; not empty
  std::string late_topic;                                   // output.late.topic; "" = none
  std::string dead_letter_topic;                            // output.dead.letter.topic; "" = none
  std::vector<std::string> pattern_globs;                   // patterns.files as written
  std::vector<std::string> pattern_files;                   // the globs expanded: sorted per
                                                            // glob, no duplicates; empty until
                                                            // ExpandPatternFiles() ran
  std::string metrics_address;                              // metrics.address; "" = none
  int64_t stall_timeout_ms = 30000;                         // health.stall.timeout; > 0
  int64_t brokers_timeout_ms = 30000;                       // health.brokers.timeout; > 0
  int64_t producer_timeout_ms = 30000;                      // health.producer.timeout; > 0
  LogLevel log_level = LogLevel::kInfo;                     // log.level
  LogFormat log_format = LogFormat::kText;                  // log.format

  bool operator==(const DaemonConfig&) const = default;
};

// The defaults of the table. pattern_files is empty: the caller expands the globs against
// the working directory with ExpandPatternFiles().
DaemonConfig DefaultConfig();

// Parses the text of a tern.toml over the defaults and expands patterns.files relative to
// the directory of file.path(). Reports every mistake into `sink` (TOML syntax with its
// line:column, unknown option with a suggestion, wrong type, bad value, out of range, a
// glob matching nothing), each naming the option and pointing into `file`, which must
// outlive the diagnostics. Returns false if any error was reported; *config is then
// partly filled and must not be used.
bool ParseConfig(const SourceFile& file, DaemonConfig* config, DiagnosticSink* sink);

// Reads `path` into *file and parses it as ParseConfig does. A missing or unreadable file
// is an error ("cannot read 'x': No such file or directory").
bool LoadConfig(const std::string& path, std::unique_ptr<SourceFile>* file, DaemonConfig* config,
                DiagnosticSink* sink);

// Fills config->pattern_files from config->pattern_globs, relative globs taken from
// `base_dir` ("" = the working directory). Used for the defaults; ParseConfig does it itself.
bool ExpandPatternFiles(const std::string& base_dir, DaemonConfig* config, DiagnosticSink* sink);

// Applies the environment overrides (today only TERN_KAFKA_BROKERS -> kafka.brokers) and
// returns one line per override applied, for the start-up log.
std::vector<std::string> ApplyEnvironment(DaemonConfig* config);

// Splits "host:port" or "[v6host]:port". On failure returns false with *error set to a
// short reason ("missing ':port'", "port '70000' is not a number from 0 to 65535").
bool ParseHostPort(std::string_view text, std::string* host, uint16_t* port, std::string* error);

// Generated from the table (connectors/config_docs.cc):
std::string ConfigHelp();      // the option list printed by `tern run --help`
std::string ConfigMarkdown();  // docs/CONFIGURATION.md
std::string SampleConfig();    // tern.toml at the repository root: every option at its default

}  // namespace tern::connectors
