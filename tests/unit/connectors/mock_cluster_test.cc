// Tests of connectors::MockCluster: start, address, topics, bad arguments.
#include "connectors/mock_cluster.h"

#include <doctest/doctest.h>

namespace tern::connectors {
namespace {

TEST_CASE("a mock cluster reports one 127.0.0.1 address per broker") {
  auto mock = MockCluster::Start(3);
  REQUIRE(mock.ok());
  const std::string& servers = (*mock)->bootstrap_servers();
  CHECK((*mock)->broker_count() == 3);
  size_t commas = 0;
  for (char c : servers) commas += c == ',';
  CHECK(commas == 2);
  CHECK(servers.starts_with("127.0.0.1:"));
  CHECK((*mock)->CreateTopic("events", 4, 3).ok());
  CHECK((*mock)->SetBrokerDown(2).ok());
  CHECK((*mock)->SetBrokerUp(2).ok());
}

TEST_CASE("mock cluster argument errors") {
  CHECK_FALSE(MockCluster::Start(0).ok());
  auto mock = MockCluster::Start(1);
  REQUIRE(mock.ok());
  Status bad = (*mock)->CreateTopic("t", 2, 2);
  CHECK(bad.code() == Errc::kInvalidConfig);
  CHECK(bad.message().find("replication 2 on 1 broker") != std::string::npos);
  CHECK_FALSE((*mock)->CreateTopic("t", 0).ok());
}

}  // namespace
}  // namespace tern::connectors
