// Tests of the HTTP endpoint over real loopback sockets: /metrics, the health probes, 404,
// 405, keep-alive, concurrent scrapes, a port already in use, Stop with a client connected,
// running out of file descriptors.
#include "connectors/metrics_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
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

TEST_CASE("serves /metrics and the health probes, 404 and 405 otherwise") {
  MetricsRegistry registry;
  registry.AddCounter("tern_events_in_total", "Events read.").Add(3);
  MetricsServer server(&registry);
  std::atomic<bool> live{true}, ready{false};
  std::vector<Probe> asked;  // on the HTTP thread, read after its answers arrived
  server.SetHealthCheck([&](Probe probe) {
    asked.push_back(probe);
    bool ok = probe == Probe::kLive ? live.load() : ready.load();
    return ProbeAnswer{ok, ok ? "{\"status\":\"ok\"}\n" : "{\"status\":\"fail\"}\n"};
  });
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

  // /livez and /healthz ask the liveness check, /readyz the readiness one; 503 when it fails.
  std::string livez = Get(port, "/livez");
  CHECK(livez.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(livez.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(Body(livez) == "{\"status\":\"ok\"}\n");
  CHECK(Get(port, "/healthz").starts_with("HTTP/1.1 200 OK\r\n"));
  std::string readyz = Get(port, "/readyz?verbose");
  CHECK(readyz.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  CHECK(Body(readyz) == "{\"status\":\"fail\"}\n");
  live = false;
  ready = true;
  CHECK(Get(port, "/healthz").starts_with("HTTP/1.1 503 "));
  CHECK(Get(port, "/readyz").starts_with("HTTP/1.1 200 "));
  CHECK(asked == std::vector<Probe>{Probe::kLive, Probe::kLive, Probe::kReady, Probe::kLive,
                                     Probe::kReady});

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
                              "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(Count(both, "HTTP/1.1 404 ") == 1);
  CHECK(Count(both, "HTTP/1.1 200 ") == 1);
  // Without a health check every probe answers 200.
  CHECK(Body(Get(server.port(), "/readyz")) == "{\"status\":\"ok\",\"checks\":{}}\n");
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
  while (!response.ends_with("}}\n")) {
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
  CHECK(Get(server.port(), "/healthz").starts_with("HTTP/1.1 200 "));
}

// ---------------------------------------------------------------- out of descriptors

// One response on a keep-alive connection: headers, then Content-Length bytes of body.
std::string ReadResponse(int fd) {
  std::string response;
  char buf[4096];
  size_t body_at = std::string::npos;
  size_t length = 0;
  while (body_at == std::string::npos || response.size() < body_at + length) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return response + "<recv failed>";
    response.append(buf, static_cast<size_t>(n));
    if (body_at == std::string::npos && (body_at = response.find("\r\n\r\n")) != std::string::npos) {
      body_at += 4;
      size_t at = response.find("Content-Length: ");
      length = at < body_at ? std::strtoul(response.c_str() + at + 16, nullptr, 10) : 0;
    }
  }
  return response;
}

bool SendAll(int fd, const std::string& data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

int HighestOpenFd() {
  int highest = 2;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 1024;
  while (dirent* entry = ::readdir(dir)) highest = std::max(highest, std::atoi(entry->d_name));
  ::closedir(dir);
  return highest;
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Not in sanitizer builds: UBSan's vptr check probes memory through a pipe when its type
// cache misses, and with no descriptor left it reports a valid object as having an
// invalid vptr (in fmt, spdlog, asio, doctest: any polymorphic call) and aborts. The
// Release build (scripts/test.sh runs it first) runs this test.
#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("out of file descriptors: accepting backs off, open connections are served, it recovers") {
  MetricsRegistry registry;
  registry.AddCounter("tern_events_in_total", "Events read.").Add(7);
  MetricsServer server(&registry);
  std::string error;
  REQUIRE_MESSAGE(server.Start("127.0.0.1", 0, &error), error);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";

  // A connection the server has accepted and keeps alive, and a client socket for later:
  // once descriptors run out none can be made.
  int open = Connect(server.port());
  REQUIRE(open >= 0);
  REQUIRE(SendAll(open, get));
  REQUIRE(ReadResponse(open).starts_with("HTTP/1.1 200 "));
  int later = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(later >= 0);
  timeval tv{5, 0};
  ::setsockopt(later, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  // The process's soft limit just above what is open, then every descriptor taken. While
  // none is free this thread makes plain system calls only and checks afterwards (a failed
  // check's report, and the sanitizers, want descriptors of their own).
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(HighestOpenFd() + 8);
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  std::vector<int> taken;
  struct Release {  // also if anything throws
    std::vector<int>& taken;
    const rlimit& saved;
    void operator()() {
      for (int t : taken) ::close(t);
      taken.clear();
      ::setrlimit(RLIMIT_NOFILE, &saved);
    }
    ~Release() { (*this)(); }
  } release{taken, saved};
  taken.reserve(64);
  int fd;
  while ((fd = ::dup(later)) >= 0) taken.push_back(fd);
  const int dup_errno = errno;

  // The kernel completes the connection on the listener's queue; the server's accept
  // fails with EMFILE for as long as nothing is freed.
  const bool connected = ::connect(later, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  const bool sent = SendAll(later, get);
  const double cpu_before = ProcessCpuSeconds();
  ::usleep(1000 * 1000);
  const double server_cpu = ProcessCpuSeconds() - cpu_before;  // this thread slept
  // The connection it already has is served all the same.
  const bool asked = SendAll(open, get);
  std::string served;
  served.reserve(64 * 1024);
  served = ReadResponse(open);

  // Descriptors free again: the waiting connection is accepted and answered.
  release();
  CHECK(dup_errno == EMFILE);
  CHECK(taken.empty());
  REQUIRE(connected);
  REQUIRE(sent);
  // Re-arming at once spins a core (about 1 s per second on an idle machine, 0.3 s on a
  // loaded one); backing off costs about a millisecond.
  CHECK_MESSAGE(server_cpu < 0.05, "the server used " << server_cpu << " s of CPU in 1 s");
  REQUIRE(asked);
  CHECK(served.starts_with("HTTP/1.1 200 "));
  CHECK(served.find("tern_events_in_total 7") != std::string::npos);
  std::string recovered = ReadResponse(later);
  CHECK(recovered.starts_with("HTTP/1.1 200 "));
  ::close(later);
  ::close(open);
}
#endif  // !defined(__SANITIZE_ADDRESS__)

}  // namespace
}  // namespace tern::connectors
