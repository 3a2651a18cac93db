// Applying key/value properties to an rd_kafka_conf_t.
// Tested through tests/unit/connectors/producer_test.cc (bad property cases).
#include "connectors/kafka_conf.h"

namespace tern::connectors::internal {

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
