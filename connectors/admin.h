// Admin: topic creation (the Admin API's CreateTopics) and partition counts
// (metadata), for the daemon's repartition topics.
// Tested by tests/unit/connectors/admin_test.cc.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>
#include <string_view>

#include "connectors/properties.h"
#include "connectors/status.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace tern::connectors {

struct AdminOptions {
  std::string bootstrap_servers;
  // Applied to the client's own handles (e.g. security settings); a rejected one
  // fails Create, naming it.
  Properties properties;
};

// A client of its own (one librdkafka producer handle, a second one made on the
// first PartitionCount that may auto-create). Created by Create, owned by the
// caller (the daemon, at start).
// Thread: owner (calls block up to their timeout). Locks: none of ours.
class Admin {
 public:
  static Result<std::unique_ptr<Admin>> Create(AdminOptions options);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Creates a topic with `partitions` partitions, each with `replication`
  // replicas. Ok also when it already exists (whatever its partition count:
  // ask PartitionCount). Errc::kUnsupported when the brokers do not implement
  // CreateTopics, as librdkafka's mock (rdkafka_mock.h): the caller falls back on
  // auto-creation (PartitionCount with allow_auto_create; the mock then makes it
  // with its default partition count, 4 in `tern kafka-mock`). kTimedOut when
  // no answer came within timeout_ms; otherwise the broker's reason
  // (INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, ...).
  // `configs`: topic configs (name, value), e.g. cleanup.policy=compact.
  Status CreateTopic(std::string_view name, int partitions, int replication, int timeout_ms,
                     const std::vector<std::pair<std::string, std::string>>& configs = {});

  // The topic's partition count from a metadata request. With
  // allow_auto_create the request lets the broker create a missing topic (if the
  // broker's auto.create.topics.enable allows; librdkafka's mock always
  // auto-creates, whatever this says: it answers metadata requests up to
  // version 2, which have no such flag). A missing topic: kKafka with
  // UNKNOWN_TOPIC_OR_PART.
  Result<int> PartitionCount(std::string_view topic, int timeout_ms, bool allow_auto_create = false);

 private:
  Admin() = default;
  // A producer handle with allow.auto.create.topics as given.
  Result<rd_kafka_t*> NewHandle(bool auto_create) const;

  AdminOptions options_;
  rd_kafka_t* handle_ = nullptr;              // allow.auto.create.topics=false
  rd_kafka_t* auto_create_handle_ = nullptr;  // made on first use; null until then
};

namespace internal {
// CreateTopic's reading of one topic's result code (0, TOPIC_ALREADY_EXISTS:
// ok; UNSUPPORTED_*: kUnsupported); `detail` is the broker's message, if any.
// Exposed for the unit test.
Status CreateTopicStatus(int32_t kafka_error, std::string_view topic, std::string_view detail);
}  // namespace internal

}  // namespace tern::connectors
