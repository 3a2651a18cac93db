// Applying key/value properties to an rd_kafka_conf_t; librdkafka's log lines to spdlog.
// Tested through tests/unit/connectors/producer_test.cc (bad property cases) and
// tests/unit/connectors/logging_test.cc (log lines).
#include "connectors/kafka_conf.h"

#include "connectors/logging.h"

namespace tern::connectors::internal {

void KafkaLog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  LogKafkaLine(level, rk != nullptr ? rd_kafka_name(rk) : "rdkafka",
               facility != nullptr ? facility : "", message != nullptr ? message : "");
}

Status ApplyProperties(rd_kafka_conf_t* conf, const Properties& properties) {
  char error[512];
  for (const auto& [name, value] : properties) {
    error[0] = '\0';
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      return Status::Error(Errc::kInvalidConfig,
                           "property '" + name + "' = '" + value + "': " + error);
    }
  }
  return Status::Ok();
}

}  // namespace tern::connectors::internal
