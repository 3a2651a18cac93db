// Tests of the HTTP endpoint over real loopback sockets: /metrics, /healthz, 404, 405,
// keep-alive, concurrent scrapes, a port already in use, Stop with a client connected.
#include "connectors/metrics_server.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace tern::connectors {
namespace {

// Connects to 127.0.0.1:port; -1 on failure.
int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};  // never hang the test run
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` as is and returns everything the server sends until it closes.
std::string Exchange(uint16_t port, const std::string& request) {
  int fd = Connect(port);
  if (fd < 0) return "connect failed";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

std::string Get(uint16_t port, const std::string& path) {
  return Exchange(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
}

std::string Body(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_CASE("serves /metrics and /healthz, 404 and 405 otherwise") {
  MetricsRegistry registry;
  registry.AddCounter("tern_events_in_total", "Events read.").Add(3);
  MetricsServer server(&registry);
  std::string error;
  REQUIRE_MESSAGE(server.Start("127.0.0.1", 0, &error), error);
  uint16_t port = server.port();
  CHECK(port != 0);

  std::string metrics = Get(port, "/metrics");
  CHECK(metrics.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(metrics.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") !=
        std::string::npos);
  CHECK(Body(metrics) == registry.Render());
  CHECK(Body(Get(port, "/metrics?name[]=x")) == registry.Render());

  std::string starting = Get(port, "/healthz");
  CHECK(starting.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(Body(starting) == "starting\n");
  server.SetHealth(true);
  std::string healthy = Get(port, "/healthz");
  CHECK(healthy.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(Body(healthy) == "ok\n");
  server.SetHealth(false, "consumer: all brokers down");
  std::string down = Get(port, "/healthz");
  CHECK(down.starts_with("HTTP/1.1 503 "));
  CHECK(Body(down) == "consumer: all brokers down\n");

  CHECK(Get(port, "/").starts_with("HTTP/1.1 404 Not Found\r\n"));
  std::string post = Exchange(port,
                              "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n");
  CHECK(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK(post.find("Allow: GET\r\n") != std::string::npos);
  server.Stop();
  server.Stop();  // idempotent
  CHECK(Connect(port) < 0);
}

TEST_CASE("keep-alive: two requests on one connection") {
  MetricsRegistry registry;
  MetricsServer server(&registry);
  std::string error;
  REQUIRE_MESSAGE(server.Start("127.0.0.1", 0, &error), error);
  std::string both = Exchange(server.port(),
                              "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(Count(both, "HTTP/1.1 503 ") == 1);
  CHECK(Count(both, "HTTP/1.1 200 ") == 1);
}

TEST_CASE("concurrent scrapes while the engine thread updates") {
  MetricsRegistry registry;
  Counter& events = registry.AddCounter("tern_events_in_total", "Events read.");
  Histogram& latency = registry.AddHistogram("tern_latency_seconds", "Latency.");
  MetricsServer server(&registry);
  std::string error;
  REQUIRE_MESSAGE(server.Start("127.0.0.1", 0, &error), error);
  std::atomic<bool> done{false};
  std::thread engine([&] {
    while (!done.load()) {
      events.Add();
      latency.Observe(0.003);
    }
  });
  std::vector<std::thread> scrapers;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    scrapers.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        std::string r = Get(server.port(), "/metrics");
        if (r.starts_with("HTTP/1.1 200 OK") && Body(r).find("tern_events_in_total ") !=
                                                     std::string::npos) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& t : scrapers) t.join();
  done = true;
  engine.join();
  CHECK(ok.load() == 40);
}

TEST_CASE("a port in use is an error, not a crash") {
  MetricsRegistry registry;
  MetricsServer first(&registry);
  std::string error;
  REQUIRE_MESSAGE(first.Start("127.0.0.1", 0, &error), error);
  MetricsServer second(&registry);
  CHECK_FALSE(second.Start("127.0.0.1", first.port(), &error));
  CHECK(error == "cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                     ": Address already in use");
  CHECK(second.port() == 0);
  CHECK_FALSE(first.Start("127.0.0.1", 0, &error));
  CHECK(error.starts_with("already serving on port "));
}

TEST_CASE("Stop returns with a client connected and idle") {
  MetricsRegistry registry;
  MetricsServer server(&registry);
  std::string error;
  REQUIRE_MESSAGE(server.Start("localhost", 0, &error), error);
  int idle = Connect(server.port());
  REQUIRE(idle >= 0);
  // One keep-alive exchange, so the server holds the connection open waiting for more.
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(::send(idle, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[1024];
  while (!response.ends_with("starting\n")) {
    ssize_t n = ::recv(idle, buf, sizeof buf, 0);
    REQUIRE(n > 0);
    response.append(buf, static_cast<size_t>(n));
  }
  server.Stop();
  char c;
  CHECK(::recv(idle, &c, 1, 0) == 0);  // the server closed it
  ::close(idle);
  // And it can serve again.
  REQUIRE_MESSAGE(server.Start("127.0.0.1", 0, &error), error);
  CHECK(Get(server.port(), "/healthz").starts_with("HTTP/1.1 503 "));
}

}  // namespace
}  // namespace tern::connectors
