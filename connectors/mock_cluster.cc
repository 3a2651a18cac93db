// MockCluster over rd_kafka_mock_cluster_new: a bare producer handle owns the
// cluster (librdkafka needs one for bookkeeping) and is destroyed after it.
// Tested by tests/unit/connectors/mock_cluster_test.cc.
//
// Nagle. The 2.0.2 mock leaves Nagle's algorithm on for the connections it accepts
// and writes each response with its own send. When two requests of one connection
// are read together (a producer with several in flight), the second response is held
// back until the client acknowledges the first, and the client delays that ACK by its
// 40 ms minimum: produce round trips of ~44 ms every 0.1-3 s at 2k msg/s, which showed
// as the end-to-end latency tail in bench/tern_latency. TCP_NODELAY on the clients
// cannot help; it has to be on the mock's side. librdkafka has no setting for that,
// so once the listeners exist (at start, and again when a broker comes back up: it
// listens on a new socket) this file finds them among the process's descriptors and
// sets TCP_NODELAY on them; on Linux an accepted socket inherits it. Besides the
// 40 ms stalls, Nagle also held every other response until the client's next request
// carried the ACK: ProduceResponse rtt p50 0.5 ms with it, 0.15-0.3 ms without, at
// 2k msg/s. (Nagle's stalls also made the producer batch, which hid the mock's
// O(log length) fetch for a while; docs/kafka.md, limits of the mock.)
#include "connectors/mock_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <set>
#include <vector>

#include "connectors/kafka_conf.h"

namespace tern::connectors {

namespace {

// The ports of "127.0.0.1:P1,127.0.0.1:P2,...".
std::set<uint16_t> Ports(const std::string& bootstraps) {
  std::set<uint16_t> ports;
  size_t start = 0;
  while (start < bootstraps.size()) {
    size_t comma = bootstraps.find(',', start);
    if (comma == std::string::npos) comma = bootstraps.size();
    size_t colon = bootstraps.rfind(':', comma - 1);
    if (colon != std::string::npos && colon >= start) {
      ports.insert(static_cast<uint16_t>(std::atoi(bootstraps.c_str() + colon + 1)));
    }
    start = comma + 1;
  }
  return ports;
}

// Sets TCP_NODELAY on this process's listening IPv4 sockets bound to one of `ports`
// (the mock's listeners; see the file comment). Returns how many it set.
int DisableNagleOnListeners(const std::set<uint16_t>& ports) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  int set = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) continue;
    sockaddr_in addr{};
    len = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sin_family != AF_INET ||
        ports.count(ntohs(addr.sin_port)) == 0) {
      continue;
    }
    const int one = 1;
    if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0) ++set;
  }
  ::closedir(dir);
  return set;
}

}  // namespace

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers, bool nodelay) {
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
  mock->nodelay_ = nodelay;
  if (nodelay) mock->nodelay_listeners_ = DisableNagleOnListeners(Ports(mock->bootstrap_servers_));
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
  Status s = Status::FromKafka(rd_kafka_mock_broker_set_up(cluster_, broker_id),
                               "broker " + std::to_string(broker_id) + " up");
  // A broker that comes back listens on a new socket (same port).
  if (s.ok() && nodelay_) DisableNagleOnListeners(Ports(bootstrap_servers_));
  return s;
}

Status MockCluster::SetPartitionLeader(std::string_view topic, int32_t partition, int32_t broker_id) {
  std::string name(topic);
  return Status::FromKafka(rd_kafka_mock_partition_set_leader(cluster_, name.c_str(), partition, broker_id),
                           "leader of " + name + "[" + std::to_string(partition) + "]");
}

Status MockCluster::SetGroupCoordinator(std::string_view group, int32_t broker_id) {
  std::string name(group);
  return Status::FromKafka(rd_kafka_mock_coordinator_set(cluster_, "group", name.c_str(), broker_id),
                           "coordinator of group " + name);
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
