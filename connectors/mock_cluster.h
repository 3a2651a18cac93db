// MockCluster: librdkafka's in-process mock Kafka cluster, for `tern kafka-mock`,
// demos and the connector tests. Real Kafka protocol on 127.0.0.1, no persistence.
// Tested by tests/unit/connectors/mock_cluster_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "connectors/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace tern::connectors {

// Kafka protocol request types, for error injection (PushRequestErrors).
enum class KafkaApi : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kSyncGroup = 14,
  kInitProducerId = 22,
};

// A mock cluster of N brokers (ids 1..N), each listening on an ephemeral
// 127.0.0.1 port chosen by the OS: librdkafka 2.0.2 offers no way to pick it.
// Created by Start, owned by the caller; the brokers run on librdkafka's own
// thread until destruction. Clients must be destroyed before the cluster
// (librdkafka asserts otherwise only for the internal handle, but a client
// whose brokers vanish just reconnects forever).
// Thread: any (librdkafka serialises mock commands). Locks: librdkafka's.
class MockCluster {
 public:
  // `nodelay`: TCP_NODELAY on the connections the brokers accept (see
  // mock_cluster.cc); false leaves librdkafka's Nagle on, for comparisons.
  static Result<std::unique_ptr<MockCluster>> Start(int brokers, bool nodelay = true);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:PORT1,127.0.0.1:PORT2,...": the clients' bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int broker_count() const { return broker_count_; }
  // Listeners found and set to TCP_NODELAY at start (see mock_cluster.cc): one per
  // broker, unless the process cannot read /proc/self/fd; 0 when started without.
  int nodelay_listeners() const { return nodelay_listeners_; }

  // Topics are also auto-created on first use with the mock's default of 4
  // partitions; CreateTopic fixes the count. Replication must be <= brokers.
  Status CreateTopic(std::string_view name, int partitions, int replication = 1);

  // Disconnects broker `broker_id` (1..N, or -1 for all) and refuses new
  // connections until SetBrokerUp; no leader change happens.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  // Moves a partition's leadership to `broker_id` (e.g. to keep a topic reachable
  // while another broker is down).
  Status SetPartitionLeader(std::string_view topic, int32_t partition, int32_t broker_id);
  // Makes `broker_id` the coordinator of consumer group `group`.
  Status SetGroupCoordinator(std::string_view group, int32_t broker_id);
  // Adds `rtt_ms` of latency to every response of a broker (-1: all).
  Status SetBrokerRtt(int32_t broker_id, int rtt_ms);

  // The next errors.size() requests of type `api` (to any broker) fail with
  // these rd_kafka_resp_err_t codes, in order. RD_KAFKA_RESP_ERR__TRANSPORT
  // (-195) makes the broker drop the connection instead.
  void PushRequestErrors(KafkaApi api, std::span<const int32_t> errors);
  void ClearRequestErrors(KafkaApi api);

 private:
  MockCluster() = default;

  rd_kafka_t* handle_ = nullptr;               // owner of the cluster; never produces
  rd_kafka_mock_cluster_t* cluster_ = nullptr;  // destroyed before handle_
  std::string bootstrap_servers_;
  int broker_count_ = 0;  // >= 1
  bool nodelay_ = true;
  int nodelay_listeners_ = 0;  // 0..broker_count_
};

}  // namespace tern::connectors
