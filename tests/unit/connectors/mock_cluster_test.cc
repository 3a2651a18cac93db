// Tests of connectors::MockCluster: start, address, topics, bad arguments, Nagle off on
// the connections the mock accepts.
#include "connectors/mock_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

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

// The TCP_NODELAY option of the socket the mock accepted for the client socket `client`
// (found among this process's descriptors: the mock runs in it); -1 if not found.
int AcceptedNoDelay(int client) {
  sockaddr_in mine{};
  socklen_t len = sizeof mine;
  if (::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &len) != 0) return -1;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int result = -1;
  while (dirent* entry = ::readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9' || fd == client) continue;
    sockaddr_in peer{};
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.sin_family != AF_INET ||
        peer.sin_port != mine.sin_port) {
      continue;
    }
    int value = 0;
    len = sizeof value;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0) result = value;
  }
  ::closedir(dir);
  return result;
}

// Connects to the first broker of `mock` and returns TCP_NODELAY of the socket the mock
// accepted for it (-1 if it never showed up).
int NoDelayOfNextConnection(const MockCluster& mock) {
  const std::string& servers = mock.bootstrap_servers();
  const int port = std::atoi(servers.c_str() + servers.find(':') + 1);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(client >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  // The mock's thread accepts it on its own time.
  int nodelay = -1;
  for (int i = 0; i < 500 && nodelay < 0; ++i) {
    nodelay = AcceptedNoDelay(client);
    if (nodelay < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(client);
  return nodelay;
}

TEST_CASE("the mock's connections have Nagle's algorithm off, also after a broker comes back") {
  auto mock = MockCluster::Start(2);
  REQUIRE(mock.ok());
  CHECK((*mock)->nodelay_listeners() == 2);
  CHECK(NoDelayOfNextConnection(**mock) == 1);
  REQUIRE((*mock)->SetBrokerDown(1).ok());
  REQUIRE((*mock)->SetBrokerUp(1).ok());
  CHECK(NoDelayOfNextConnection(**mock) == 1);
}

TEST_CASE("a mock started without nodelay leaves librdkafka's Nagle on") {
  auto mock = MockCluster::Start(1, /*nodelay=*/false);
  REQUIRE(mock.ok());
  CHECK((*mock)->nodelay_listeners() == 0);
  CHECK(NoDelayOfNextConnection(**mock) == 0);
  REQUIRE((*mock)->SetBrokerDown(1).ok());
  REQUIRE((*mock)->SetBrokerUp(1).ok());
  CHECK(NoDelayOfNextConnection(**mock) == 0);
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
