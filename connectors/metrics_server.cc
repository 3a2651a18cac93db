// HTTP/1.1 server for /metrics and the health probes: one io_context on one thread, an
// async accept loop and one async session per connection (keep-alive, 30 s idle timeout,
// small request limit). All of Beast is in this file to keep compile times down.
//
// A failed accept (EMFILE when the process is out of file descriptors, ENFILE, ENOBUFS)
// leaves the pending connection in the listen queue, so accepting again at once fails
// again at once: the loop would spin a core. It waits kAcceptRetry first, while the open
// connections are served as usual; the pending ones are accepted once descriptors free
// up. (The spare-descriptor trick, closing a reserved fd to accept and drop the
// connection, races with librdkafka's threads opening sockets in the same process.)
// Tested by tests/unit/connectors/metrics_server_test.cc.
#include "connectors/metrics_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

namespace tern::connectors {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr uint64_t kMaxRequestBytes = 16 * 1024;  // a scrape request is a few hundred bytes
// After a failed accept: long enough that retrying costs nothing (20 failed accepts a
// second), short enough that a scrape waits unnoticed once descriptors are free again.
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);

// One connection: read a request, answer, repeat while the client keeps it alive.
// Owned by the handlers in flight (shared_from_this); lives until the connection ends or
// the io_context is destroyed.
// Thread: the HTTP thread. Locks: none of its own.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const MetricsRegistry* registry,
          const MetricsServer::HealthCheck* health)
      : stream_(std::move(socket)), registry_(registry), health_(health) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBytes);
    parser_->header_limit(kMaxRequestBytes);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       self->OnRead(ec);
                     });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec) return;  // timeout, reset, oversized request: drop the connection
    const http::request<http::string_body>& req = parser_->get();
    response_ = Answer(req);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(beast::error_code ec) {
    if (ec) return;
    if (!response_.keep_alive()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  http::response<http::string_body> Answer(const http::request<http::string_body>& req) {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "tern");
    std::string_view target(req.target().data(), req.target().size());
    target = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET");
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "only GET is served\n";
    } else if (target == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = registry_->Render();
    } else if (target == "/livez" || target == "/healthz" || target == "/readyz") {
      ProbeAnswer answer{true, "{\"status\":\"ok\",\"checks\":{}}\n"};
      if (*health_) answer = (*health_)(target == "/readyz" ? Probe::kReady : Probe::kLive);
      res.result(answer.ok ? http::status::ok : http::status::service_unavailable);
      res.set(http::field::content_type, "application/json");
      res.set(http::field::cache_control, "no-store");
      res.body() = std::move(answer.json);
    } else {
      res.result(http::status::not_found);
      res.set(http::field::content_type, "text/plain; charset=utf-8");
      res.body() = "not found; try /metrics, /livez, /readyz or /healthz\n";
    }
    res.prepare_payload();
    return res;
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;  // fresh per request
  http::response<http::string_body> response_;  // kept alive until its write completes
  const MetricsRegistry* registry_;
  const MetricsServer::HealthCheck* health_;  // the server's; empty: no check
};

}  // namespace

struct MetricsServer::Impl {
  explicit Impl(const MetricsRegistry* r) : registry(r) {}

  void Accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return AcceptLater(ec);
      if (accept_failing) {
        accept_failing = false;
        spdlog::info("metrics endpoint: accepting connections again");
      }
      std::make_shared<Session>(std::move(socket), registry, &health)->Read();
      Accept();
    });
  }

  // See the file comment: any accept error waits kAcceptRetry (per-connection ones such
  // as ECONNABORTED lose 50 ms once; the resource ones would spin).
  void AcceptLater(const beast::error_code& ec) {
    if (!accept_failing) {
      accept_failing = true;
      spdlog::warn("metrics endpoint: cannot accept a connection: {}; retrying every {} ms",
                   ec.message(), kAcceptRetry.count());
    }
    retry->expires_after(kAcceptRetry);
    retry->async_wait([this](beast::error_code ec) {
      if (!ec) Accept();
    });
  }

  // Destroys the acceptor and timer, then the io_context, whose pending handlers own the
  // sessions: every connection is closed when this returns.
  void Release() {
    acceptor.reset();
    retry.reset();
    ioc.reset();
  }

  const MetricsRegistry* registry;
  MetricsServer::HealthCheck health;        // set before Start; read on the HTTP thread
  std::unique_ptr<asio::io_context> ioc;    // while serving; outlives acceptor and sessions
  std::unique_ptr<tcp::acceptor> acceptor;  // while serving
  std::unique_ptr<asio::steady_timer> retry;  // while serving: the wait after a failed accept
  bool accept_failing = false;              // HTTP thread: the last accept failed
  std::thread thread;                       // runs *ioc; joinable while serving
  uint16_t port = 0;                        // bound port; 0 before Start
};

MetricsServer::MetricsServer(const MetricsRegistry* registry)
    : impl_(std::make_unique<Impl>(registry)) {}

MetricsServer::~MetricsServer() { Stop(); }

bool MetricsServer::Start(const std::string& host, uint16_t port, std::string* error) {
  Impl& s = *impl_;
  if (s.thread.joinable()) {
    *error = "already serving on port " + std::to_string(s.port);
    return false;
  }
  std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                      std::to_string(port);
  auto fail = [&](const std::string& what, const beast::error_code& ec) {
    s.Release();
    *error = what + " " + where + ": " + ec.message();
    return false;
  };
  s.ioc = std::make_unique<asio::io_context>(1);
  s.acceptor = std::make_unique<tcp::acceptor>(*s.ioc);
  s.retry = std::make_unique<asio::steady_timer>(*s.ioc);
  s.accept_failing = false;
  beast::error_code ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, port);
  } else {
    tcp::resolver resolver(*s.ioc);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return fail("cannot resolve", ec);
    if (results.empty()) return fail("cannot resolve", asio::error::host_not_found);
    endpoint = results.begin()->endpoint();
  }
  s.acceptor->open(endpoint.protocol(), ec);
  if (ec) return fail("cannot listen on", ec);
  s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("cannot listen on", ec);
  s.acceptor->bind(endpoint, ec);
  if (ec) return fail("cannot listen on", ec);
  s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("cannot listen on", ec);
  tcp::endpoint bound = s.acceptor->local_endpoint(ec);
  if (ec) return fail("cannot listen on", ec);
  s.port = bound.port();
  s.Accept();
  s.thread = std::thread([&s] { s.ioc->run(); });
  return true;
}

uint16_t MetricsServer::port() const { return impl_->port; }

void MetricsServer::SetHealthCheck(HealthCheck check) { impl_->health = std::move(check); }

void MetricsServer::Stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  s.ioc->stop();
  s.thread.join();
  s.Release();
}

}  // namespace tern::connectors
