// Tests of the spdlog set-up: the text and JSON line layouts and the level.
#include "connectors/logging.h"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <regex>
#include <sstream>

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

}  // namespace
}  // namespace tern::connectors
