// Tests of the spdlog set-up: the text and JSON line layouts and the level; librdkafka's
// lines through the same logger, never raw on stderr.
#include "connectors/logging.h"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <thread>

#include "connectors/producer.h"

namespace tern::connectors {
namespace {

std::string LogOne(LogFormat format, const std::string& message) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("tern", sink);
  logger.set_formatter(MakeLogFormatter(format));
  logger.warn("{}", message);
  return out.str();
}

TEST_CASE("text lines: UTC time, level, logger, message") {
  std::string line = LogOne(LogFormat::kText, "3 partitions assigned");
  CHECK(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warning tern: 3 partitions assigned\n)")));
}

TEST_CASE("json lines: one object per line, the message escaped") {
  std::string line = LogOne(LogFormat::kJson, "bad \"event\"\nat offset 7\\");
  CHECK(std::regex_match(line, std::regex(R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"warning","logger":"tern","msg":"bad \\"event\\"\\nat offset 7\\\\"\}\n)")));
}

TEST_CASE("json lines stay valid UTF-8 when a message quotes bytes that are not") {
  // E.g. a topic name or a reason quoting input: each stray byte is its Latin-1 reading.
  std::string line = LogOne(LogFormat::kJson, "bad \xE9v\xC3\xA9nt \xFF");
  CHECK(line.find("\"msg\":\"bad \\u00e9v\xC3\xA9nt \\u00ff\"") != std::string::npos);
}

TEST_CASE("SetUpLogging installs the default logger at the configured level") {
  SetUpLogging(LogLevel::kError, LogFormat::kJson);
  CHECK(spdlog::default_logger()->name() == "tern");
  CHECK(spdlog::default_logger()->level() == spdlog::level::err);
  SetUpLogging(LogLevel::kOff, LogFormat::kText);
  CHECK(spdlog::default_logger()->level() == spdlog::level::off);
}

// Standard error goes to a file while it lives; Captured() is what was written.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    saved_ = ::dup(2);
    file_ = std::tmpfile();
    ::dup2(::fileno(file_), 2);
  }
  ~StderrCapture() { Restore(); }
  std::string Captured() {
    Restore();
    std::rewind(file_);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) text.append(buf, n);
    return text;
  }

 private:
  void Restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  int saved_ = -1;
  std::FILE* file_ = nullptr;
};

const std::regex kJsonLine(
    R"(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"[a-z]+","logger":"[a-z]+","msg":"([^"\\]|\\.)*"\})");

// A producer whose broker refuses connections: librdkafka logs the failure (level 3,
// facility FAIL) from its broker thread at once. Returns what the sink holds after up
// to `wait`, or as soon as that failure is among it.
std::vector<std::string> LinesOfAnUnreachableBroker(spdlog::sinks::ringbuffer_sink_mt& sink,
                                                    std::chrono::milliseconds wait) {
  ProducerOptions options;
  options.bootstrap_servers = "127.0.0.1:1";
  auto producer = Producer::Create(options);
  REQUIRE(producer.ok());
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::vector<std::string> lines;
  while (std::chrono::steady_clock::now() < deadline) {
    lines = sink.last_formatted();
    for (const std::string& line : lines) {
      if (line.find("Connect to ipv4#127.0.0.1:1 failed") != std::string::npos) return lines;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return lines;
}

TEST_CASE("librdkafka's lines: through the logger in its format and level, none raw on stderr") {
  StderrCapture stderr_capture;
  {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
    SetUpLogging(LogLevel::kInfo, LogFormat::kJson, sink);
    std::vector<std::string> lines = LinesOfAnUnreachableBroker(*sink, std::chrono::seconds(10));
    bool failure = false;
    for (const std::string& line : lines) {
      CAPTURE(line);
      CHECK(std::regex_match(line.substr(0, line.size() - 1), kJsonLine));
      if (line.find(R"("level":"error","logger":"librdkafka","msg":"rdkafka#producer-)") !=
              std::string::npos &&
          line.find(R"( FAIL: [thrd:127.0.0.1:1/bootstrap]: 127.0.0.1:1/bootstrap: Connect to )") !=
              std::string::npos) {
        failure = true;
      }
    }
    CHECK_MESSAGE(failure, "no connection failure among " << lines.size() << " lines");
  }
  {
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
    SetUpLogging(LogLevel::kOff, LogFormat::kJson, sink);
    CHECK(LinesOfAnUnreachableBroker(*sink, std::chrono::milliseconds(1500)).empty());
  }
  CHECK(stderr_capture.Captured() == "");
}

TEST_CASE("librdkafka's syslog levels map onto spdlog's") {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  SetUpLogging(LogLevel::kInfo, LogFormat::kText, sink);
  for (int level = 0; level <= 7; ++level) {
    LogKafkaLine(level, "rdkafka#consumer-1", "FAC", "line " + std::to_string(level));
  }
  std::vector<std::string> lines = sink->last_formatted();
  const char* want[] = {"critical librdkafka: rdkafka#consumer-1 FAC: line 0",
                        "critical librdkafka: rdkafka#consumer-1 FAC: line 1",
                        "critical librdkafka: rdkafka#consumer-1 FAC: line 2",
                        "error librdkafka: rdkafka#consumer-1 FAC: line 3",
                        "warning librdkafka: rdkafka#consumer-1 FAC: line 4",
                        "info librdkafka: rdkafka#consumer-1 FAC: line 5",
                        "info librdkafka: rdkafka#consumer-1 FAC: line 6"};  // 7 (debug) is below info
  REQUIRE(lines.size() == std::size(want));
  for (size_t i = 0; i < lines.size(); ++i) CHECK(lines[i].substr(25) == std::string(want[i]) + "\n");
  SetUpLogging(LogLevel::kDebug, LogFormat::kText, sink);
  LogKafkaLine(7, "rdkafka#consumer-1", "FAC", "line 7");
  CHECK(sink->last_formatted().back().substr(25) == "debug librdkafka: rdkafka#consumer-1 FAC: line 7\n");
  SetUpLogging(LogLevel::kOff, LogFormat::kText);
}

}  // namespace
}  // namespace tern::connectors
