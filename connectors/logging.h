// Sets up spdlog for the daemon from `log.level` and `log.format`: messages go to stderr as
// readable lines or as one JSON object per line. Code then logs with spdlog::info(...) etc.
// librdkafka's own log lines come through here too (LogKafkaLine, the log_cb of every
// librdkafka client the project creates), with the same level and format.
// Tested by tests/unit/connectors/logging_test.cc.
#pragma once

#include <memory>
#include <string_view>

#include "connectors/config.h"

namespace spdlog {
class formatter;
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace tern::connectors {

// The line layout of a format, times in UTC:
//   kText: 2024-05-01T12:00:00.250Z info tern: consumer assigned 3 partitions
//   kJson: {"time":"2024-05-01T12:00:00.250Z","level":"info","logger":"tern","msg":"..."}
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Replaces spdlog's default logger with one named "tern" that writes to stderr at `level`
// in `format`, and sets up the "librdkafka" logger librdkafka's lines go to alike. Call at
// start-up, before other threads of ours log (librdkafka's may: the swap is locked).
void SetUpLogging(LogLevel level, LogFormat format);
// The same, writing to `sink` instead of stderr (tests).
void SetUpLogging(LogLevel level, LogFormat format, std::shared_ptr<spdlog::sinks::sink> sink);

// One line of librdkafka's log callback: `syslog_level` 0-7 (emerg..debug) as spdlog's
// critical (0-2), error (3), warning (4), info (5-6) and debug (7), from the client named
// `client` ("rdkafka#consumer-1"), with its facility ("FAIL") in front of the message. To
// the "librdkafka" logger of SetUpLogging, or spdlog's default logger before that. Called
// on librdkafka's threads; spdlog's loggers and sinks (*_mt) are thread-safe.
void LogKafkaLine(int syslog_level, std::string_view client, std::string_view facility,
                  std::string_view message);

}  // namespace tern::connectors
