// spdlog set-up: a UTC pattern for text, and a custom flag that writes the message as a JSON
// string so that the JSON format stays one valid object per line whatever is logged.
// Tested by tests/unit/connectors/logging_test.cc.
#include "connectors/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string>

#include "base/json_writer.h"

namespace tern::connectors {

namespace {

// %* : the message payload as a quoted, escaped JSON string.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string quoted;
    json::AppendString(quoted, std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return spdlog::level::trace;
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// The logger of librdkafka's lines (its own name in the `logger` field); null before
// SetUpLogging. Swapped under the lock, used from librdkafka's threads.
std::mutex kafka_logger_mu;
std::shared_ptr<spdlog::logger> kafka_logger;

spdlog::level::level_enum FromSyslog(int level) {
  if (level <= 2) return spdlog::level::critical;
  if (level == 3) return spdlog::level::err;
  if (level == 4) return spdlog::level::warn;
  if (level <= 6) return spdlog::level::info;
  return spdlog::level::debug;
}

}  // namespace

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  constexpr auto kUtc = spdlog::pattern_time_type::utc;
  if (format == LogFormat::kJson) {
    auto f = std::make_unique<spdlog::pattern_formatter>(kUtc);
    f->add_flag<JsonMessageFlag>('*');
    f->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":%*})");
    return f;
  }
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %n: %v", kUtc);
}

void SetUpLogging(LogLevel level, LogFormat format) {
  SetUpLogging(level, format, std::make_shared<spdlog::sinks::stderr_sink_mt>());
}

void SetUpLogging(LogLevel level, LogFormat format, std::shared_ptr<spdlog::sinks::sink> sink) {
  // One sink, so lines of both loggers never interleave within a line.
  sink->set_formatter(MakeLogFormatter(format));
  auto make = [&](const char* name) {
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_level(ToSpdlog(level));
    logger->flush_on(spdlog::level::warn);
    return logger;
  };
  auto kafka = make("librdkafka");
  spdlog::set_default_logger(make("tern"));
  std::lock_guard<std::mutex> lock(kafka_logger_mu);
  kafka_logger = std::move(kafka);
}

void LogKafkaLine(int syslog_level, std::string_view client, std::string_view facility,
                  std::string_view message) {
  std::shared_ptr<spdlog::logger> logger;
  {
    std::lock_guard<std::mutex> lock(kafka_logger_mu);
    logger = kafka_logger;
  }
  if (!logger) logger = spdlog::default_logger();
  const spdlog::level::level_enum level = FromSyslog(syslog_level);
  if (!logger->should_log(level)) return;
  logger->log(level, "{} {}: {}", client, facility, message);
}

}  // namespace tern::connectors
