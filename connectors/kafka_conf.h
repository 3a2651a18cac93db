// Internal to connectors/: builds an rd_kafka_conf_t from key/value properties,
// with an error that names the offending property. Not for use outside connectors/.
// Tested through tests/unit/connectors/producer_test.cc (bad property cases).
#pragma once

#include <librdkafka/rdkafka.h>

#include "connectors/properties.h"
#include "connectors/status.h"

namespace tern::connectors::internal {

// Applies `properties` to `conf`; on the first rejected one returns kInvalidConfig
// naming it: "property 'linger.ms' = 'abc': Invalid value for configuration property ...".
Status ApplyProperties(rd_kafka_conf_t* conf, const Properties& properties);

// Owns an rd_kafka_conf_t until rd_kafka_new takes it over (release()).
class ConfHandle {
 public:
  ConfHandle() : conf_(rd_kafka_conf_new()) {}
  ~ConfHandle() {
    if (conf_ != nullptr) rd_kafka_conf_destroy(conf_);
  }
  ConfHandle(const ConfHandle&) = delete;
  ConfHandle& operator=(const ConfHandle&) = delete;
  rd_kafka_conf_t* get() const { return conf_; }
  void release() { conf_ = nullptr; }  // after a successful rd_kafka_new

 private:
  rd_kafka_conf_t* conf_;
};

}  // namespace tern::connectors::internal
