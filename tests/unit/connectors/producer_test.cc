// Tests of connectors::Producer against the mock cluster: delivery reports with
// opaques, property errors, retries through injected errors and a broker outage.
#include "connectors/producer.h"

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/mock_cluster.h"
#include "tests/unit/connectors/test_util.h"

namespace tern::connectors {
namespace {

struct Reports {
  std::vector<DeliveryReport> ok;  // topic views are dropped (they die with the callback)
  std::vector<Status> failed;
  std::set<uint64_t> opaques;
};

std::unique_ptr<Producer> MakeProducer(const MockCluster& mock, Reports* reports,
                                       Properties extra = {}, std::vector<Status>* errors = nullptr) {
  ProducerOptions options;
  options.bootstrap_servers = mock.bootstrap_servers();
  options.properties = testing::FastProducerProperties();
  options.properties.insert(options.properties.end(), extra.begin(), extra.end());
  options.on_delivery = [reports](const DeliveryReport& r) {
    if (r.status.ok()) {
      DeliveryReport copy = r;
      copy.topic = {};
      reports->ok.push_back(copy);
    } else {
      reports->failed.push_back(r.status);
    }
    reports->opaques.insert(r.opaque);
  };
  if (errors != nullptr) options.on_error = [errors](const Status& s) { errors->push_back(s); };
  auto producer = Producer::Create(std::move(options));
  REQUIRE_MESSAGE(producer.ok(), producer.status().ToString());
  return std::move(*producer);
}

TEST_CASE("a bad property is an error that names it") {
  ProducerOptions options;
  options.bootstrap_servers = "127.0.0.1:1";
  options.properties = {{"linger.ms", "soon"}};
  auto bad_value = Producer::Create(options);
  REQUIRE_FALSE(bad_value.ok());
  CHECK(bad_value.status().code() == Errc::kInvalidConfig);
  CHECK(bad_value.status().message().find("'linger.ms' = 'soon'") != std::string::npos);

  options.properties = {{"no.such.property", "1"}};
  auto bad_key = Producer::Create(options);
  REQUIRE_FALSE(bad_key.ok());
  CHECK(bad_key.status().message().find("'no.such.property'") != std::string::npos);
}

TEST_CASE("every produced message gets one delivery report with its opaque") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("alerts", 3).ok());
  Reports reports;
  auto producer = MakeProducer(**mock, &reports);
  constexpr int kCount = 200;
  for (int i = 0; i < kCount; ++i) {
    std::string key = "k" + std::to_string(i % 7);
    std::string value = "v" + std::to_string(i);
    std::string seq = std::to_string(i);  // outlives the views in headers
    Header headers[] = {{"source", "test"}, {"seq", seq}};
    REQUIRE(producer->Produce("alerts", key, value, headers, 1000 + i).ok());
  }
  CHECK(producer->in_flight() > 0);
  REQUIRE(producer->Flush(5000).ok());
  CHECK(producer->in_flight() == 0);
  CHECK(reports.failed.empty());
  CHECK(reports.ok.size() == kCount);
  CHECK(reports.opaques.size() == kCount);
  CHECK(*reports.opaques.begin() == 1000);
  // Offsets are dense per partition: no gaps, no duplicates.
  std::map<int32_t, std::set<int64_t>> offsets;
  for (const DeliveryReport& r : reports.ok) offsets[r.partition].insert(r.offset);
  for (const auto& [partition, set] : offsets) {
    CHECK(partition >= 0);
    CHECK(partition < 3);
    CHECK(*set.rbegin() == static_cast<int64_t>(set.size()) - 1);
  }
  CHECK(producer->fatal_error().ok());
}

TEST_CASE("Produce to an explicit partition overrides the key's partition") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("shuffle", 4).ok());
  Reports reports;
  auto producer = MakeProducer(**mock, &reports);
  // One key everywhere: the partitioner alone would put every message in one partition.
  for (int i = 0; i < 40; ++i) {
    REQUIRE(producer->Produce("shuffle", "same-key", "v", {}, i, /*partition=*/i % 4).ok());
  }
  REQUIRE(producer->Produce("shuffle", "same-key", "v", {}, 100).ok());  // partitioner
  REQUIRE(producer->Flush(5000).ok());
  REQUIRE(reports.ok.size() == 41);
  std::map<int32_t, int> per_partition;
  for (const DeliveryReport& r : reports.ok) {
    if (r.opaque < 40) CHECK(r.partition == static_cast<int32_t>(r.opaque % 4));
    ++per_partition[r.partition];
  }
  CHECK(per_partition.size() == 4);
  // A partition the topic does not have fails the Produce call.
  Status beyond = producer->Produce("shuffle", "k", "v", {}, 200, /*partition=*/4);
  CHECK_FALSE(beyond.ok());
  CHECK(beyond.kafka_error() == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION);
}

TEST_CASE("injected produce errors are retried") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("alerts", 1).ok());
  Reports reports;
  std::vector<Status> client_errors;  // the injected disconnect: "1/1 brokers are down"
  auto producer = MakeProducer(**mock, &reports, {{"retry.backoff.ms", "10"}, {"log_level", "0"}},
                               &client_errors);
  const int32_t errors[] = {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                            RD_KAFKA_RESP_ERR__TRANSPORT};
  (*mock)->PushRequestErrors(KafkaApi::kProduce, errors);
  for (int i = 0; i < 20; ++i) {
    REQUIRE(producer->Produce("alerts", "", "x" + std::to_string(i), {}, i).ok());
  }
  REQUIRE(producer->Flush(5000).ok());
  CHECK(reports.failed.empty());
  REQUIRE(reports.ok.size() == 20);
  std::set<int64_t> offsets;
  for (const DeliveryReport& r : reports.ok) offsets.insert(r.offset);
  CHECK(offsets.size() == 20);  // idempotence: retried batches are not written twice
  CHECK(*offsets.rbegin() == 19);
}

TEST_CASE("a broker outage delays delivery but loses nothing") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("alerts", 2).ok());
  Reports reports;
  std::vector<Status> errors;
  auto producer = MakeProducer(**mock, &reports,
                               {{"reconnect.backoff.ms", "20"}, {"reconnect.backoff.max.ms", "100"},
                                {"retry.backoff.ms", "20"}, {"log_level", "0"}},
                               &errors);
  for (int i = 0; i < 50; ++i) REQUIRE(producer->Produce("alerts", "k", "before", {}, i).ok());
  REQUIRE(producer->Flush(5000).ok());
  REQUIRE(reports.ok.size() == 50);

  REQUIRE((*mock)->SetBrokerDown(-1).ok());
  for (int i = 50; i < 100; ++i) {
    REQUIRE(producer->Produce("alerts", "k" + std::to_string(i), "during", {}, i).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  producer->Poll(0);
  CHECK(reports.ok.size() == 50);  // nothing acknowledged while the broker is down
  CHECK(producer->in_flight() == 50);
  REQUIRE(!errors.empty());  // "all brokers down", reported, not fatal
  CHECK(errors[0].retriable());
  CHECK_FALSE(errors[0].fatal());
  REQUIRE((*mock)->SetBrokerUp(-1).ok());
  REQUIRE(producer->Flush(10000).ok());
  CHECK(reports.failed.empty());
  CHECK(reports.ok.size() == 100);
  CHECK(reports.opaques.size() == 100);
  std::map<int32_t, std::set<int64_t>> offsets;
  for (const DeliveryReport& r : reports.ok) offsets[r.partition].insert(r.offset);
  size_t total = 0;
  for (const auto& [partition, set] : offsets) {
    total += set.size();
    CHECK(*set.rbegin() == static_cast<int64_t>(set.size()) - 1);
  }
  CHECK(total == 100);
}

TEST_CASE("the mock cluster's id tells it apart") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  Reports reports;
  auto producer = MakeProducer(**mock, &reports);
  CHECK(producer->ClusterId(5000).starts_with("mockCluster"));
}

TEST_CASE("a failed delivery report hands the message back") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("alerts", 1).ok());
  struct Failed {
    std::string topic, key, value;
    std::vector<std::pair<std::string, std::string>> headers;
    uint64_t opaque;
  };
  std::vector<Failed> failed;
  size_t delivered = 0;
  ProducerOptions options;
  options.bootstrap_servers = (*mock)->bootstrap_servers();
  options.properties = testing::FastProducerProperties();
  options.properties.insert(options.properties.end(), {{"message.timeout.ms", "1500"}, {"log_level", "0"}});
  options.on_delivery = [&](const DeliveryReport& r) {
    if (r.status.ok()) {
      ++delivered;
      CHECK(r.key.empty());  // only a failure carries the message
      CHECK(r.value.empty());
      CHECK(r.headers.empty());
      return;
    }
    Failed f{std::string(r.topic), std::string(r.key), std::string(r.value), {}, r.opaque};
    for (const Header& h : r.headers) f.headers.emplace_back(h.key, h.value);
    failed.push_back(std::move(f));
  };
  options.on_error = [](const Status&) {};
  auto producer = Producer::Create(std::move(options));
  REQUIRE(producer.ok());
  const Header headers[] = {{"tern-alert-id", "a1"}, {"empty", ""}};
  REQUIRE((*producer)->Produce("alerts", "k", "delivered", headers, 1).ok());
  REQUIRE((*producer)->Flush(5000).ok());
  REQUIRE(delivered == 1);

  REQUIRE((*mock)->SetBrokerDown(-1).ok());
  REQUIRE((*producer)->Produce("alerts", "key-7", "the value", headers, 7).ok());
  REQUIRE((*producer)->Produce("alerts", "", "no key, no headers", {}, 8).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (failed.size() < 2 && std::chrono::steady_clock::now() < deadline) (*producer)->Poll(50);
  REQUIRE(failed.size() == 2);
  CHECK(failed[0].opaque == 7);
  CHECK(failed[0].topic == "alerts");
  CHECK(failed[0].key == "key-7");
  CHECK(failed[0].value == "the value");
  REQUIRE(failed[0].headers.size() == 2);
  CHECK(failed[0].headers[0] == std::pair<std::string, std::string>("tern-alert-id", "a1"));
  CHECK(failed[0].headers[1] == std::pair<std::string, std::string>("empty", ""));
  CHECK(failed[1].opaque == 8);
  CHECK(failed[1].key.empty());
  CHECK(failed[1].value == "no key, no headers");
  CHECK(failed[1].headers.empty());
  REQUIRE((*mock)->SetBrokerUp(-1).ok());
}

}  // namespace
}  // namespace tern::connectors
