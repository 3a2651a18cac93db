// Tests of connectors::Admin: CreateTopic's error mapping, its kUnsupported
// answer from the mock (which has no CreateTopics) and the fall-back on
// auto-creation; PartitionCount through metadata.
#include "connectors/admin.h"

#include <doctest/doctest.h>
#include <librdkafka/rdkafka.h>

#include "connectors/mock_cluster.h"

namespace tern::connectors {
namespace {

std::unique_ptr<Admin> MakeAdmin(const MockCluster& mock) {
  auto admin = Admin::Create({mock.bootstrap_servers(), {{"log_level", "3"}}});
  REQUIRE_MESSAGE(admin.ok(), admin.status().ToString());
  return std::move(*admin);
}

TEST_CASE("CreateTopic's reading of a topic result: exists is ok, unsupported is its own answer") {
  CHECK(internal::CreateTopicStatus(RD_KAFKA_RESP_ERR_NO_ERROR, "t", "").ok());
  CHECK(internal::CreateTopicStatus(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "t", "exists").ok());

  Status unsupported = internal::CreateTopicStatus(RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE, "t",
                                                   "Topic Admin API (KIP-4) not supported");
  CHECK(unsupported.code() == Errc::kUnsupported);
  CHECK_FALSE(unsupported.retriable());
  CHECK(unsupported.message().starts_with("create topic 't' (Topic Admin API"));
  CHECK(internal::CreateTopicStatus(RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION, "t", "").code() ==
        Errc::kUnsupported);

  Status invalid = internal::CreateTopicStatus(RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR, "t", "");
  CHECK(invalid.code() == Errc::kKafka);
  CHECK(invalid.kafka_error() == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR);
  CHECK(invalid.message() == std::string("create topic 't': ") +
                                 rd_kafka_err2str(RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR));

  Status timed_out = internal::CreateTopicStatus(RD_KAFKA_RESP_ERR__TIMED_OUT, "t", "");
  CHECK(timed_out.code() == Errc::kTimedOut);
  CHECK(timed_out.retriable());
}

TEST_CASE("against the mock: CreateTopic is unsupported, auto-creation is the fall-back") {
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  std::unique_ptr<Admin> admin = MakeAdmin(**mock);

  Status created = admin->CreateTopic("shuffle", 3, 1, 5000);
  CHECK_MESSAGE(created.code() == Errc::kUnsupported, created.ToString());

  Result<int> count = admin->PartitionCount("shuffle", 5000, /*allow_auto_create=*/true);
  REQUIRE_MESSAGE(count.ok(), count.status().ToString());
  CHECK(*count == 4);  // the mock's default, not the 3 asked for
  Result<int> again = admin->PartitionCount("shuffle", 5000);
  REQUIRE(again.ok());
  CHECK(*again == 4);
}

TEST_CASE("PartitionCount of a topic the mock was told to create") {
  auto mock = MockCluster::Start(2);
  REQUIRE(mock.ok());
  REQUIRE((*mock)->CreateTopic("events", 7, 2).ok());
  std::unique_ptr<Admin> admin = MakeAdmin(**mock);
  Result<int> count = admin->PartitionCount("events", 5000);
  REQUIRE_MESSAGE(count.ok(), count.status().ToString());
  CHECK(*count == 7);
  // The mock answers metadata up to version 2, which cannot say "do not create":
  // it makes a missing topic anyway (a real broker answers UNKNOWN_TOPIC_OR_PART).
  Result<int> missing = admin->PartitionCount("missing", 5000);
  REQUIRE(missing.ok());
  CHECK(*missing == 4);
}

TEST_CASE("Admin: a bad property fails Create; no broker is a timeout") {
  auto bad = Admin::Create({"127.0.0.1:1", {{"no.such.property", "1"}}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Errc::kInvalidConfig);

  auto admin = Admin::Create({"127.0.0.1:1", {{"log_level", "0"}}});
  REQUIRE(admin.ok());
  Result<int> count = (*admin)->PartitionCount("events", 200);
  REQUIRE_FALSE(count.ok());
  CHECK(count.status().retriable());
  Status created = (*admin)->CreateTopic("events", 1, 1, 200);
  CHECK_FALSE(created.ok());
  CHECK(created.retriable());
}

}  // namespace
}  // namespace tern::connectors
