// Sets up spdlog for the daemon from `log.level` and `log.format`: messages go to stderr as
// readable lines or as one JSON object per line. Code then logs with spdlog::info(...) etc.
// Tested by tests/unit/connectors/logging_test.cc.
#pragma once

#include <memory>

#include "connectors/config.h"

namespace spdlog {
class formatter;
}

namespace tern::connectors {

// The line layout of a format, times in UTC:
//   kText: 2024-05-01T12:00:00.250Z info tern: consumer assigned 3 partitions
//   kJson: {"time":"2024-05-01T12:00:00.250Z","level":"info","logger":"tern","msg":"..."}
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Replaces spdlog's default logger with one named "tern" that writes to stderr at `level`
// in `format`. Call once at start-up, before other threads log.
void SetUpLogging(LogLevel level, LogFormat format);

}  // namespace tern::connectors
