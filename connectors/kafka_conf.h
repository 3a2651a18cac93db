// Internal to connectors/: builds an rd_kafka_conf_t from key/value properties,
// with an error that names the offending property, and librdkafka's log callback.
// Not for use outside connectors/.
// Tested through tests/unit/connectors/producer_test.cc (bad property cases) and
// tests/unit/connectors/logging_test.cc (log lines).
#pragma once

#include <librdkafka/rdkafka.h>

#include "connectors/properties.h"
#include "connectors/status.h"

namespace tern::connectors::internal {

// Applies `properties` to `conf`; on the first rejected one returns kInvalidConfig
// naming it: "property 'linger.ms' = 'abc': Invalid value for configuration property ...".
Status ApplyProperties(rd_kafka_conf_t* conf, const Properties& properties);

// librdkafka's log_cb: the line to the project's logger (LogKafkaLine in logging.h),
// never raw to stderr. Runs on librdkafka's threads.
void KafkaLog(const rd_kafka_t* rk, int level, const char* facility, const char* message);

// Owns an rd_kafka_conf_t until rd_kafka_new takes it over (release()). Every client the
// project creates (consumer, producer, the mock cluster's handle) starts from one, so
// each logs through KafkaLog.
class ConfHandle {
 public:
  ConfHandle() : conf_(rd_kafka_conf_new()) { rd_kafka_conf_set_log_cb(conf_, &KafkaLog); }
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
