// Tests of connectors::Consumer against the mock cluster: a group reads what a
// producer wrote (keys, values, headers, offsets), commits, and a later member
// of the same group starts after the commit. Rebalance reports and lag.
#include "connectors/consumer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "connectors/mock_cluster.h"
#include "tests/unit/connectors/test_util.h"

namespace tern::connectors {
namespace {

void ProduceNumbered(const MockCluster& mock, const std::string& topic, int from, int to) {
  ProducerOptions options;
  options.bootstrap_servers = mock.bootstrap_servers();
  options.properties = testing::FastProducerProperties();
  int delivered = 0;
  options.on_delivery = [&](const DeliveryReport& r) { delivered += r.status.ok(); };
  auto producer = Producer::Create(std::move(options));
  REQUIRE(producer.ok());
  for (int i = from; i < to; ++i) {
    std::string n = std::to_string(i);
    Header headers[] = {{"n", n}, {"kind", "event"}};
    REQUIRE((*producer)->Produce(topic, "key" + std::to_string(i % 5), "value" + n, headers, i).ok());
  }
  REQUIRE((*producer)->Flush(5000).ok());
  REQUIRE(delivered == to - from);
}

struct Group {
  std::vector<std::pair<RebalanceKind, std::vector<TopicPartition>>> rebalances;
  std::vector<Status> commits;
};

std::unique_ptr<Consumer> MakeConsumer(const MockCluster& mock, Group* group) {
  ConsumerOptions options;
  options.bootstrap_servers = mock.bootstrap_servers();
  options.group_id = "tern-test";
  options.properties = testing::FastConsumerProperties();
  options.on_rebalance = [group](RebalanceKind kind, std::span<const TopicPartition> partitions) {
    group->rebalances.emplace_back(kind,
                                   std::vector<TopicPartition>(partitions.begin(), partitions.end()));
  };
  options.on_commit = [group](const Status& status, std::span<const TopicPartitionOffset>) {
    group->commits.push_back(status);
  };
  auto consumer = Consumer::Create(std::move(options));
  REQUIRE_MESSAGE(consumer.ok(), consumer.status().ToString());
  const std::string topics[] = {"events"};
  REQUIRE((*consumer)->Subscribe(topics).ok());
  return std::move(*consumer);
}

// The commit positions after `received`: last offset + 1 per partition.
std::vector<TopicPartitionOffset> NextOffsets(const std::vector<testing::Received>& received) {
  std::map<int32_t, int64_t> next;
  for (const auto& r : received) next[r.partition] = std::max(next[r.partition], r.offset + 1);
  std::vector<TopicPartitionOffset> out;
  for (const auto& [partition, offset] : next) out.push_back({"events", partition, offset});
  return out;
}

TEST_CASE("a consumer group reads, commits, and a later member resumes after the commit") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("events", 2).ok());
  ProduceNumbered(**mock, "events", 0, 40);

  Group group;
  std::vector<TopicPartitionOffset> committed;
  {
    auto consumer = MakeConsumer(**mock, &group);
    std::vector<testing::Received> received = testing::ReceiveAtLeast(*consumer, 40, 10);
    REQUIRE(received.size() == 40);
    REQUIRE(!group.rebalances.empty());
    CHECK(group.rebalances[0].first == RebalanceKind::kAssigned);
    CHECK(group.rebalances[0].second.size() == 2);
    CHECK(consumer->assignment().size() == 2);

    std::map<int32_t, int64_t> expected_offset;  // dense from 0 in each partition
    for (const auto& r : received) {
      CHECK(r.topic == "events");
      CHECK(r.offset == expected_offset[r.partition]++);
      REQUIRE(r.headers.size() == 2);
      CHECK(r.headers[1] == std::pair<std::string, std::string>("kind", "event"));
      const std::string& n = r.headers[0].second;
      CHECK(r.value == "value" + n);
      CHECK(r.key == "key" + std::to_string(std::stoi(n) % 5));
    }
    // Same key, same partition.
    std::map<std::string, int32_t> partition_of_key;
    for (const auto& r : received) {
      auto [it, fresh] = partition_of_key.emplace(r.key, r.partition);
      CHECK(it->second == r.partition);
    }

    // Lag: everything read, nothing left.
    for (const PartitionLag& lag : consumer->Lag()) {
      CHECK(lag.position == expected_offset[lag.partition]);
      CHECK(lag.lag == 0);
    }

    committed = NextOffsets(received);
    REQUIRE(consumer->Commit(committed).ok());
    const TopicPartition partitions[] = {{"events", 0}, {"events", 1}};
    auto stored = consumer->Committed(partitions, 5000);
    REQUIRE(stored.ok());
    std::vector<TopicPartitionOffset> sorted = *stored;
    CHECK(sorted == committed);
    REQUIRE(consumer->Close().ok());
    CHECK(group.rebalances.back().first == RebalanceKind::kRevoked);
  }

  ProduceNumbered(**mock, "events", 40, 50);
  Group second;
  auto consumer = MakeConsumer(**mock, &second);
  std::vector<testing::Received> received = testing::ReceiveAtLeast(*consumer, 10, 10);
  CHECK(received.size() == 10);
  for (const auto& r : received) {
    CHECK(std::stoi(r.headers[0].second) >= 40);
    for (const auto& c : committed) {
      if (c.partition == r.partition) CHECK(r.offset >= c.offset);
    }
  }
  // An async commit reports through on_commit during a later Poll.
  REQUIRE(consumer->CommitAsync(NextOffsets(received)).ok());
  MessageBatch batch;
  for (int i = 0; i < 40 && second.commits.empty(); ++i) REQUIRE(consumer->Poll(50, 100, &batch).ok());
  REQUIRE(second.commits.size() == 1);
  CHECK(second.commits[0].ok());
}

TEST_CASE("ProbeBrokers: a metadata round trip from another thread; an error while the brokers are down") {
  auto mock = MockCluster::Start(2);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("events", 1).ok());
  Group group;
  std::unique_ptr<Consumer> consumer = MakeConsumer(**mock, &group);
  Status status;
  size_t brokers = 0;
  std::thread([&] { status = consumer->ProbeBrokers(5000, &brokers); }).join();
  CHECK_MESSAGE(status.ok(), status.ToString());
  CHECK(brokers == 2);
  REQUIRE((*mock)->SetBrokerDown(-1).ok());
  const auto start = std::chrono::steady_clock::now();
  Status down;
  std::thread([&] { down = consumer->ProbeBrokers(300, &brokers); }).join();
  CHECK_FALSE(down.ok());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  REQUIRE((*mock)->SetBrokerUp(-1).ok());
  CHECK(consumer->ProbeBrokers(5000, &brokers).ok());
}

}  // namespace
}  // namespace tern::connectors
