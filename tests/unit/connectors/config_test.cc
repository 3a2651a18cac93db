// Tests of the tern.toml loader: defaults, a good file in every TOML spelling, each kind of
// error (rendered in full), pass-through tables, glob expansion, the environment override,
// and the generated sample and docs.
#include "connectors/config.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/engine.h"

namespace tern::connectors {
namespace {

namespace fs = std::filesystem;

// A directory with a config's neighbours:
//   patterns/a.tern  patterns/b.tern  patterns/dir.tern/ (a directory)  extra/c.tern
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "tern_config_test.XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
    fs::create_directories(fs::path(path_) / "patterns" / "dir.tern");
    fs::create_directories(fs::path(path_) / "extra");
    for (const char* f : {"patterns/a.tern", "patterns/b.tern", "extra/c.tern"}) {
      std::ofstream(fs::path(path_) / f) << "// empty\n";
    }
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const TempDir& Dir() {
  static TempDir dir;
  return dir;
}

struct Loaded {
  std::unique_ptr<SourceFile> file;
  DaemonConfig config;
  DiagnosticSink sink;
  bool ok = false;
  std::string errors;  // rendered, with the file's path shortened to "tern.toml"
};

// Parses `text` as if it were <Dir()>/tern.toml.
std::unique_ptr<Loaded> Load(std::string text) {
  auto out = std::make_unique<Loaded>();
  out->file = std::make_unique<SourceFile>(Dir().path() + "/tern.toml", std::move(text));
  out->ok = ParseConfig(*out->file, &out->config, &out->sink);
  out->errors = RenderAll(out->sink.diagnostics());
  std::string path = Dir().path() + "/tern.toml";
  for (size_t at; (at = out->errors.find(path)) != std::string::npos;) {
    out->errors.replace(at, path.size(), "tern.toml");
  }
  return out;
}

TEST_CASE("the defaults") {
  DaemonConfig c = DefaultConfig();
  CHECK(c.brokers == "127.0.0.1:9092");
  CHECK(c.group == "tern");
  CHECK(c.consumer_properties.empty());
  CHECK(c.producer_properties.empty());
  CHECK(c.input_topics == std::vector<std::string>{"tern.events"});
  CHECK(c.time_field == "ts");
  CHECK(c.time_format == TimeFormat::kAuto);
  CHECK(c.lateness_ms == 0);
  CHECK(c.max_ahead_ms == 365 * 86'400'000LL);
  CHECK(c.max_ahead_ms == engine::Options{}.max_ahead_ms);  // as `tern replay`
  CHECK(c.late_policy == LatePolicy::kMatch);
  CHECK(c.idle_ms == 1000);
  CHECK(c.max_event_size == 1048576);
  CHECK(c.alerts_topic == "tern.alerts");
  CHECK(c.late_topic == "tern.late");
  CHECK(c.dead_letter_topic == "tern.dead-letter");
  CHECK(c.pattern_globs == std::vector<std::string>{"patterns/*.tern"});
  CHECK(c.pattern_files.empty());
  CHECK(c.metrics_address == "127.0.0.1:9464");
  CHECK(c.stall_timeout_ms == 30000);
  CHECK(c.brokers_timeout_ms == 30000);
  CHECK(c.producer_timeout_ms == 30000);
  CHECK(c.log_level == LogLevel::kInfo);
  CHECK(c.log_format == LogFormat::kText);
}

TEST_CASE("enum names follow the table's ranges") {
  CHECK(Name(TimeFormat::kAuto) == "auto");
  CHECK(Name(LatePolicy::kMatch) == "match");
  CHECK(Name(LatePolicy::kDrop) == "drop");
  CHECK(Name(LogLevel::kTrace) == "trace");
  CHECK(Name(LogLevel::kDebug) == "debug");
  CHECK(Name(LogLevel::kInfo) == "info");
  CHECK(Name(LogLevel::kWarn) == "warn");
  CHECK(Name(LogLevel::kError) == "error");
  CHECK(Name(LogLevel::kOff) == "off");
  CHECK(Name(LogFormat::kText) == "text");
  CHECK(Name(LogFormat::kJson) == "json");
}

TEST_CASE("every row has a dotted lowercase name, a doc and a valid example") {
  for (const OptionInfo& o : ConfigOptions()) {
    CAPTURE(o.name);
    CHECK(o.name.find('.') != std::string_view::npos);
    for (char ch : o.name) CHECK(((ch >= 'a' && ch <= 'z') || ch == '.'));
    CHECK(!o.doc.empty());
    CHECK(!o.example.empty());
    std::string text = o.type == OptionType::kProperties
                           ? "[" + std::string(o.name) + "]\n" + std::string(o.example) + "\n"
                           : "\"" + std::string(o.name) + "\" = " + std::string(o.example) + "\n";
    if (o.name != "patterns.files") {
      auto r = Load(text);
      CHECK_MESSAGE(r->ok, r->errors);
    }
  }
}

TEST_CASE("a good file, every TOML spelling of a dotted name") {
  auto r = Load(R"(
"kafka.brokers" = "k1:9092,k2:9092"

[kafka]
group = "fraud"

[kafka.consumer]
"fetch.wait.max.ms" = 10
"enable.partition.eof" = true
"session.timeout.ms" = "45000"
queued.min.messages = 1000
"fetch.error.backoff.ms" = 1.5

[kafka.producer]
"linger.ms" = 5

[input]
topics = ["payments", "logins"]
time.field = "event_time"
time.format = "auto"
time.max.ahead = "30d"
late.policy = "drop"
lateness = "2s"
idle = "250ms"
key.field = "card"

[repartition]
partitions = 12

[output.alerts]
topic = "alerts"

[output]
late.topic = ""
dead = { letter = { topic = "dlq" } }

[patterns]
files = ["patterns/*.tern", "extra/c.tern", "patterns/a.tern"]

[metrics]
address = "[::1]:0"

[health]
stall.timeout = "5s"
brokers.timeout = "1m"
producer.timeout = "1500ms"

[log]
level = "debug"
format = "json"
)");
  REQUIRE_MESSAGE(r->ok, r->errors);
  const DaemonConfig& c = r->config;
  CHECK(c.brokers == "k1:9092,k2:9092");
  CHECK(c.group == "fraud");
  CHECK(c.consumer_properties == std::map<std::string, std::string>{
                                     {"enable.partition.eof", "true"},
                                     {"fetch.error.backoff.ms", "1.5"},
                                     {"fetch.wait.max.ms", "10"},
                                     {"queued.min.messages", "1000"},
                                     {"session.timeout.ms", "45000"}});
  CHECK(c.producer_properties == std::map<std::string, std::string>{{"linger.ms", "5"}});
  CHECK(c.input_topics == std::vector<std::string>{"payments", "logins"});
  CHECK(c.time_field == "event_time");
  CHECK(c.lateness_ms == 2000);
  CHECK(c.max_ahead_ms == 30 * 86'400'000LL);
  CHECK(c.late_policy == LatePolicy::kDrop);
  CHECK(c.idle_ms == 250);
  CHECK(c.key_field == "card");
  CHECK(c.repartition_partitions == 12);
  CHECK(c.alerts_topic == "alerts");
  CHECK(c.late_topic == "");
  CHECK(c.dead_letter_topic == "dlq");
  // Sorted per glob, relative to the config's directory, directories and repeats dropped.
  const std::string& d = Dir().path();
  CHECK(c.pattern_files ==
        std::vector<std::string>{d + "/patterns/a.tern", d + "/patterns/b.tern", d + "/extra/c.tern"});
  CHECK(c.metrics_address == "[::1]:0");
  CHECK(c.stall_timeout_ms == 5000);
  CHECK(c.brokers_timeout_ms == 60000);
  CHECK(c.producer_timeout_ms == 1500);
  CHECK(c.log_level == LogLevel::kDebug);
  CHECK(c.log_format == LogFormat::kJson);
}

TEST_CASE("an empty file is the defaults with the default globs expanded") {
  auto r = Load("");
  REQUIRE_MESSAGE(r->ok, r->errors);
  DaemonConfig expected = DefaultConfig();
  expected.pattern_files = {Dir().path() + "/patterns/a.tern", Dir().path() + "/patterns/b.tern"};
  CHECK(r->config == expected);
}

TEST_CASE("the sample tern.toml loads cleanly and is exactly the defaults") {
  std::unique_ptr<SourceFile> file;
  DaemonConfig config;
  DiagnosticSink sink;
  std::string path = std::string(TERN_SOURCE_DIR) + "/tern.toml";
  REQUIRE_MESSAGE(LoadConfig(path, &file, &config, &sink), RenderAll(sink.diagnostics()));
  CHECK(!config.pattern_files.empty());
  DaemonConfig expected = DefaultConfig();
  REQUIRE(ExpandPatternFiles(TERN_SOURCE_DIR, &expected, &sink));
  CHECK(config == expected);
  // The generated text, too, whatever is checked in (CTest config_docs_* checks that).
  SourceFile generated(path, SampleConfig());
  DaemonConfig from_generated;
  CHECK(ParseConfig(generated, &from_generated, &sink));
  CHECK(from_generated == expected);
}

struct ErrorCase {
  const char* name;
  const char* text;
  const char* expected;  // the rendered diagnostics
};

const ErrorCase kErrorCases[] = {
    {"unknown option with a suggestion",
     "[kafka]\nbroker = \"x:1\"\n",
     "tern.toml:2:1: error: unknown option 'kafka.broker'\n"
     " 2 | broker = \"x:1\"\n"
     "   | ^~~~~~ did you mean 'kafka.brokers'?\n"},
    {"unknown section with a suggestion",
     "[inptu]\ntopics = [\"a\"]\n",
     "tern.toml:1:2: error: unknown option 'inptu'\n"
     " 1 | [inptu]\n"
     "   |  ^~~~~ did you mean 'input'?\n"},
    {"unknown option without a near name",
     "colour = \"blue\"\n",
     "tern.toml:1:1: error: unknown option 'colour'\n"
     " 1 | colour = \"blue\"\n"
     "   | ^~~~~~ see docs/CONFIGURATION.md or 'tern run --help' for the options\n"},
    {"a section given a value",
     "kafka = \"x:1\"\n",
     "tern.toml:1:1: error: 'kafka' is a section of options, not a value\n"
     " 1 | kafka = \"x:1\"\n"
     "   | ^~~~~ write its options as kafka.<option> = ..., or under [kafka]\n"},
    {"wrong type",
     "[kafka]\ngroup = 7\n",
     "tern.toml:2:9: error: option 'kafka.group' must be a string, found an integer\n"
     " 2 | group = 7\n"
     "   |         ^\n"},
    {"a list given a string",
     "[input]\ntopics = \"events\"\n",
     "tern.toml:2:10: error: option 'input.topics' must be an array of strings, found a string\n"
     " 2 | topics = \"events\"\n"
     "   |          ^~~~~~~~ write a list: [\"events\"]\n"},
    {"a list with a number and an empty string",
     "[input]\ntopics = [\"a\", 3, \"\"]\n",
     "tern.toml:2:16: error: option 'input.topics' must be an array of strings, found an integer "
     "in it\n"
     " 2 | topics = [\"a\", 3, \"\"]\n"
     "   |                ^\n"
     "tern.toml:2:19: error: option 'input.topics' must not contain an empty string\n"
     " 2 | topics = [\"a\", 3, \"\"]\n"
     "   |                   ^~\n"},
    {"an empty list",
     "[input]\ntopics = []\n",
     "tern.toml:2:10: error: option 'input.topics' needs at least one entry\n"
     " 2 | topics = []\n"
     "   |          ^~\n"},
    {"an empty required string",
     "[output]\nalerts.topic = \"\"\n",
     "tern.toml:2:16: error: option 'output.alerts.topic' must not be empty\n"
     " 2 | alerts.topic = \"\"\n"
     "   |                ^~\n"},
    {"bad duration",
     "[input]\nlateness = \"1.5s\"\n",
     "tern.toml:2:12: error: option 'input.lateness' must be a duration, found '1.5s'\n"
     " 2 | lateness = \"1.5s\"\n"
     "   |            ^~~~~~ an integer directly followed by ms, s, m, h or d, e.g. \"500ms\"\n"},
    {"duration as a number",
     "[input]\nlateness = 500\n",
     "tern.toml:2:12: error: option 'input.lateness' must be a duration string such as \"500ms\", "
     "found an integer\n"
     " 2 | lateness = 500\n"
     "   |            ^~~ durations are strings with a unit, e.g. \"500ms\"\n"},
    {"duration out of range",
     "[input]\nlateness = \"8d\"\n",
     "tern.toml:2:12: error: option 'input.lateness' is out of range: '8d' is not within 0ms..7d\n"
     " 2 | lateness = \"8d\"\n"
     "   |            ^~~~\n"},
    {"bad size",
     "[input]\nmax.event.size = \"1MB\"\n",
     "tern.toml:2:18: error: option 'input.max.event.size' must be a size, found '1MB'\n"
     " 2 | max.event.size = \"1MB\"\n"
     "   |                  ^~~~~ an integer, optionally followed by B, KiB, MiB or GiB, e.g. "
     "\"1MiB\"\n"},
    {"size as a number",
     "[input]\nmax.event.size = 1048576\n",
     "tern.toml:2:18: error: option 'input.max.event.size' must be a size string such as "
     "\"1MiB\", found an integer\n"
     " 2 | max.event.size = 1048576\n"
     "   |                  ^~~~~~~ sizes are strings, e.g. \"1048576\" or \"1MiB\"\n"},
    {"size out of range",
     "[input]\nmax.event.size = \"2GiB\"\n",
     "tern.toml:2:18: error: option 'input.max.event.size' is out of range: '2GiB' is not within "
     "1B..1GiB\n"
     " 2 | max.event.size = \"2GiB\"\n"
     "   |                  ^~~~~~\n"},
    {"size zero",
     "[input]\nmax.event.size = \"0\"\n",
     "tern.toml:2:18: error: option 'input.max.event.size' is out of range: '0' is not within "
     "1B..1GiB\n"
     " 2 | max.event.size = \"0\"\n"
     "   |                  ^~~\n"},
    {"count out of range",
     "[repartition]\npartitions = -1\n",
     "tern.toml:2:14: error: option 'repartition.partitions' is out of range: -1 is not within "
     "0..100000\n"
     " 2 | partitions = -1\n"
     "   |              ^~\n"},
    {"count as a string",
     "[repartition]\npartitions = \"8\"\n",
     "tern.toml:2:14: error: option 'repartition.partitions' must be an integer, found a string\n"
     " 2 | partitions = \"8\"\n"
     "   |              ^~~\n"},
    {"late policy with a suggestion",
     "[input]\nlate.policy = \"dropped\"\n",
     "tern.toml:2:15: error: option 'input.late.policy' must be one of match, drop; found "
     "'dropped'\n"
     " 2 | late.policy = \"dropped\"\n"
     "   |               ^~~~~~~~~ did you mean 'drop'?\n"},
    {"max ahead out of range",
     "[input]\ntime.max.ahead = \"36501d\"\n",
     "tern.toml:2:18: error: option 'input.time.max.ahead' is out of range: '36501d' is not "
     "within 0ms..36500d\n"
     " 2 | time.max.ahead = \"36501d\"\n"
     "   |                  ^~~~~~~~\n"},
    {"idle timeout out of range",
     "[input]\nidle = \"2h\"\n",
     "tern.toml:2:8: error: option 'input.idle' is out of range: '2h' is not within 0ms..1h\n"
     " 2 | idle = \"2h\"\n"
     "   |        ^~~~\n"},
    {"a watchdog that never waits",
     "[health]\nstall.timeout = \"0ms\"\n",
     "tern.toml:2:17: error: option 'health.stall.timeout' is out of range: '0ms' is not within "
     "100ms..1h\n"
     " 2 | stall.timeout = \"0ms\"\n"
     "   |                 ^~~~~\n"},
    {"idle timeout without a unit",
     "[input]\nidle = \"300\"\n",
     "tern.toml:2:8: error: option 'input.idle' must be a duration, found '300'\n"
     " 2 | idle = \"300\"\n"
     "   |        ^~~~~ an integer directly followed by ms, s, m, h or d, e.g. \"500ms\"\n"},
    {"bad enum value with a suggestion",
     "[log]\nlevel = \"warning\"\n",
     "tern.toml:2:9: error: option 'log.level' must be one of trace, debug, info, warn, error, "
     "off; found 'warning'\n"
     " 2 | level = \"warning\"\n"
     "   |         ^~~~~~~~~ did you mean 'warn'?\n"},
    {"bad address",
     "[metrics]\naddress = \"localhost:99999\"\n",
     "tern.toml:2:11: error: option 'metrics.address' must be \"host:port\" or empty, found "
     "'localhost:99999': port '99999' is not a number from 0 to 65535\n"
     " 2 | address = \"localhost:99999\"\n"
     "   |           ^~~~~~~~~~~~~~~~~\n"},
    {"set twice",
     "\"kafka.group\" = \"a\"\n[kafka]\ngroup = \"b\"\n",
     "tern.toml:3:1: error: option 'kafka.group' is set twice\n"
     " 3 | group = \"b\"\n"
     "   | ^~~~~ first set on line 1\n"},
    {"TOML syntax error",
     "[kafka]\nbrokers = \"x:1\nlog = 1\n",
     "tern.toml:2:15: error: invalid TOML: Error while parsing string: unescaped control characters other than TAB "
     "(U+0009) are explicitly prohibited\n"
     " 2 | brokers = \"x:1\n"
     "   |               ^\n"},
    {"pass-through value that is not a scalar",
     "[kafka.consumer]\n\"debug\" = [\"broker\", \"topic\"]\n",
     "tern.toml:2:11: error: property 'debug' in [kafka.consumer] must be a string, number or "
     "boolean, found an array\n"
     " 2 | \"debug\" = [\"broker\", \"topic\"]\n"
     "   |           ^~~~~~~~~~~~~~~~~~~ librdkafka lists are one comma-separated string\n"},
    {"pass-through property that Tern sets",
     "[kafka.consumer]\n\"group.id\" = \"g\"\n",
     "tern.toml:2:1: error: property 'group.id' cannot be set in [kafka.consumer]\n"
     " 2 | \"group.id\" = \"g\"\n"
     "   | ^~~~~~~~~~ Tern sets it from 'kafka.group'; set that option instead\n"},
    {"pass-through property written twice",
     "[kafka.producer]\n\"linger.ms\" = 5\nlinger.ms = 6\n",
     "tern.toml:2:1: error: property 'linger.ms' in [kafka.producer] is set twice\n"
     " 2 | \"linger.ms\" = 5\n"
     "   | ^~~~~~~~~~~\n"},
    {"glob without a match",
     "[patterns]\nfiles = [\"patterns/*.tern\", \"nope/*.tern\"]\n",
     "tern.toml:2:29: error: option 'patterns.files': no file matches 'nope/*.tern' (looked for "
     "'DIR/nope/*.tern')\n"
     " 2 | files = [\"patterns/*.tern\", \"nope/*.tern\"]\n"
     "   |                             ^~~~~~~~~~~~~\n"},
};

TEST_CASE("each kind of error, rendered") {
  for (const ErrorCase& c : kErrorCases) {
    CAPTURE(c.name);
    auto r = Load(c.text);
    CHECK_FALSE(r->ok);
    std::string expected = c.expected;
    for (size_t at; (at = expected.find("DIR/")) != std::string::npos;) {
      expected.replace(at, 4, Dir().path() + "/");
    }
    CHECK(r->errors == expected);
  }
}

TEST_CASE("input.idle: 0 turns idleness off, the range ends are allowed") {
  struct Case {
    const char* text;
    int64_t ms;
  };
  const Case cases[] = {{"0ms", 0}, {"0", 0}, {"0s", 0}, {"300ms", 300}, {"1s", 1000}, {"1h", 3600000}};
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto r = Load(std::string("[input]\nidle = \"") + c.text + "\"\n");
    REQUIRE_MESSAGE(r->ok, r->errors);
    CHECK(r->config.idle_ms == c.ms);
  }
  // Every other option keeps its default.
  auto r = Load("\"input.idle\" = \"0ms\"\n");
  REQUIRE_MESSAGE(r->ok, r->errors);
  DaemonConfig expected = DefaultConfig();
  expected.pattern_files = r->config.pattern_files;
  expected.idle_ms = 0;
  CHECK(r->config == expected);
}

TEST_CASE("input.max.event.size: bytes with a binary unit, the range ends are allowed") {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {{"1B", 1}, {"1", 1}, {"1000", 1000}, {"64KiB", 65536},
                        {"4MiB", 4194304}, {"1GiB", 1073741824}};
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto r = Load(std::string("[input]\nmax.event.size = \"") + c.text + "\"\n");
    REQUIRE_MESSAGE(r->ok, r->errors);
    CHECK(r->config.max_event_size == c.bytes);
  }
}

TEST_CASE("all errors are reported, in file order") {
  auto r = Load(
      "[log]\nlevel = \"loud\"\n"
      "[kafka]\nbrokers = 1\n"
      "[input]\nlateness = \"soon\"\n");
  CHECK_FALSE(r->ok);
  REQUIRE(r->sink.diagnostics().size() == 3);
  CHECK(r->sink.diagnostics()[0].message.find("'log.level'") != std::string::npos);
  CHECK(r->sink.diagnostics()[1].message.find("'kafka.brokers'") != std::string::npos);
  CHECK(r->sink.diagnostics()[2].message.find("'input.lateness'") != std::string::npos);
}

TEST_CASE("a missing config file is an error naming it") {
  std::unique_ptr<SourceFile> file;
  DaemonConfig config;
  DiagnosticSink sink;
  CHECK_FALSE(LoadConfig(Dir().path() + "/absent.toml", &file, &config, &sink));
  CHECK(RenderAll(sink.diagnostics()) == "error: cannot read config file '" + Dir().path() +
                                             "/absent.toml': No such file or directory\n");
  sink.Clear();
  CHECK_FALSE(LoadConfig(Dir().path(), &file, &config, &sink));
  CHECK(RenderAll(sink.diagnostics()).find("Is a directory") != std::string::npos);
}

TEST_CASE("the defaults' globs expand against a directory") {
  DaemonConfig config = DefaultConfig();
  DiagnosticSink sink;
  CHECK(ExpandPatternFiles(Dir().path(), &config, &sink));
  CHECK(config.pattern_files ==
        std::vector<std::string>{Dir().path() + "/patterns/a.tern", Dir().path() + "/patterns/b.tern"});
  CHECK_FALSE(ExpandPatternFiles(Dir().path() + "/extra", &config, &sink));
  CHECK(RenderAll(sink.diagnostics()) ==
        "error: option 'patterns.files' (default [\"patterns/*.tern\"]): no file matches "
        "'patterns/*.tern' (looked for '" + Dir().path() + "/extra/patterns/*.tern')\n");
}

TEST_CASE("absolute globs are taken as they are") {
  auto r = Load("[patterns]\nfiles = [\"" + Dir().path() + "/extra/*.tern\"]\n");
  REQUIRE_MESSAGE(r->ok, r->errors);
  CHECK(r->config.pattern_files == std::vector<std::string>{Dir().path() + "/extra/c.tern"});
}

TEST_CASE("TERN_KAFKA_BROKERS overrides kafka.brokers") {
  DaemonConfig config = DefaultConfig();
  unsetenv("TERN_KAFKA_BROKERS");
  CHECK(ApplyEnvironment(&config).empty());
  setenv("TERN_KAFKA_BROKERS", "", 1);
  CHECK(ApplyEnvironment(&config).empty());
  CHECK(config.brokers == "127.0.0.1:9092");
  setenv("TERN_KAFKA_BROKERS", "127.0.0.1:40123", 1);
  CHECK(ApplyEnvironment(&config) ==
        std::vector<std::string>{"kafka.brokers = \"127.0.0.1:40123\" (from TERN_KAFKA_BROKERS)"});
  CHECK(config.brokers == "127.0.0.1:40123");
  unsetenv("TERN_KAFKA_BROKERS");
}

TEST_CASE("host:port") {
  struct Case {
    const char* text;
    const char* host;  // nullptr: rejected with this error in `error`
    uint16_t port;
    const char* error;
  };
  const Case cases[] = {
      {"127.0.0.1:9464", "127.0.0.1", 9464, ""},
      {"localhost:0", "localhost", 0, ""},
      {"[::1]:65535", "::1", 65535, ""},
      {"0.0.0.0:80", "0.0.0.0", 80, ""},
      {"localhost", nullptr, 0, "missing ':port'"},
      {":9464", nullptr, 0, "missing host"},
      {"::1:9464", nullptr, 0, "write an IPv6 host in brackets, e.g. [::1]:9464"},
      {"[::1]9464", nullptr, 0, "missing ':port'"},
      {"[::1:9464", nullptr, 0, "missing ']' after the IPv6 host"},
      {"h:65536", nullptr, 0, "port '65536' is not a number from 0 to 65535"},
      {"h:", nullptr, 0, "port '' is not a number from 0 to 65535"},
      {"h:-1", nullptr, 0, "port '-1' is not a number from 0 to 65535"},
      {"h:80x", nullptr, 0, "port '80x' is not a number from 0 to 65535"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string host;
    uint16_t port = 1;
    std::string error;
    bool ok = ParseHostPort(c.text, &host, &port, &error);
    CHECK(ok == (c.host != nullptr));
    if (ok) {
      CHECK(host == c.host);
      CHECK(port == c.port);
    } else {
      CHECK(error == c.error);
    }
  }
}

TEST_CASE("help and docs name every option") {
  std::string help = ConfigHelp();
  std::string markdown = ConfigMarkdown();
  for (const OptionInfo& o : ConfigOptions()) {
    CAPTURE(o.name);
    CHECK(help.find("  " + std::string(o.name) + " ") != std::string::npos);
    CHECK(markdown.find("### `" + std::string(o.name) + "`") != std::string::npos);
  }
}

}  // namespace
}  // namespace tern::connectors
