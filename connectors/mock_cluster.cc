// MockCluster over rd_kafka_mock_cluster_new: a bare producer handle owns the
// cluster (librdkafka needs one for bookkeeping) and is destroyed after it.
// Tested by tests/unit/connectors/mock_cluster_test.cc.
#include "connectors/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <vector>

#include "connectors/kafka_conf.h"

namespace tern::connectors {

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers) {
  if (brokers < 1) {
    return Status::Error(Errc::kInvalidConfig,
                         "a mock cluster needs at least one broker, not " + std::to_string(brokers));
  }
  internal::ConfHandle conf;
  // The handle never talks to a broker; keep it from logging about that.
  Status applied = internal::ApplyProperties(conf.get(), {{"log_level", "3"}});
  if (!applied.ok()) return applied;
  char error[512] = "";
  rd_kafka_t* handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), error, sizeof error);
  if (handle == nullptr) {
    return Status::Error(Errc::kKafka, std::string("mock cluster handle: ") + error);
  }
  conf.release();
  std::unique_ptr<MockCluster> mock(new MockCluster());
  mock->handle_ = handle;
  mock->cluster_ = rd_kafka_mock_cluster_new(handle, brokers);
  if (mock->cluster_ == nullptr) {
    // ~MockCluster destroys the handle.
    return Status::Error(Errc::kKafka, "cannot start the mock cluster (librdkafka logged why)");
  }
  mock->bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(mock->cluster_);
  mock->broker_count_ = brokers;
  return mock;
}

MockCluster::~MockCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

Status MockCluster::CreateTopic(std::string_view name, int partitions, int replication) {
  if (partitions < 1 || replication < 1 || replication > broker_count_) {
    return Status::Error(Errc::kInvalidConfig,
                         "topic '" + std::string(name) + "': " + std::to_string(partitions) +
                             " partitions, replication " + std::to_string(replication) +
                             " on " + std::to_string(broker_count_) + " broker(s)");
  }
  std::string topic(name);
  return Status::FromKafka(
      rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, replication),
      "create topic '" + topic + "'");
}

Status MockCluster::SetBrokerDown(int32_t broker_id) {
  return Status::FromKafka(rd_kafka_mock_broker_set_down(cluster_, broker_id),
                           "broker " + std::to_string(broker_id) + " down");
}

Status MockCluster::SetBrokerUp(int32_t broker_id) {
  return Status::FromKafka(rd_kafka_mock_broker_set_up(cluster_, broker_id),
                           "broker " + std::to_string(broker_id) + " up");
}

Status MockCluster::SetBrokerRtt(int32_t broker_id, int rtt_ms) {
  return Status::FromKafka(rd_kafka_mock_broker_set_rtt(cluster_, broker_id, rtt_ms),
                           "broker " + std::to_string(broker_id) + " rtt");
}

void MockCluster::PushRequestErrors(KafkaApi api, std::span<const int32_t> errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  codes.reserve(errors.size());
  for (int32_t e : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(cluster_, static_cast<int16_t>(api), codes.size(),
                                          codes.data());
}

void MockCluster::ClearRequestErrors(KafkaApi api) {
  rd_kafka_mock_clear_request_errors(cluster_, static_cast<int16_t>(api));
}

}  // namespace tern::connectors
