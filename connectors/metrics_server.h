// The daemon's HTTP endpoint: `GET /metrics` (Prometheus text format 0.0.4 of a
// MetricsRegistry) and `GET /healthz` (200 "ok" or 503 with the reason), served by
// Boost.Beast on a thread of its own. Beast stays inside metrics_server.cc.
// Tested by tests/unit/connectors/metrics_server_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "connectors/metrics.h"

namespace tern::connectors {

// Created and owned by the daemon; the registry must outlive it. Start() once, Stop() (or
// the destructor) once. Any number of scrapes may run at the same time; they are served
// one request at a time each, interleaved on the one HTTP thread.
// Thread: Start/Stop/port from the owning thread; SetHealth from any. Locks: a mutex
// around the health state; the registry's own locks while rendering.
class MetricsServer {
 public:
  explicit MetricsServer(const MetricsRegistry* registry);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds `host:port` (port 0 picks a free one; host is an IP address or a name that
  // resolves) and starts serving. On failure returns false with *error set, e.g.
  // "cannot listen on 127.0.0.1:9464: Address already in use"; nothing is left running.
  bool Start(const std::string& host, uint16_t port, std::string* error);

  // The bound port, once Start() succeeded; 0 before.
  uint16_t port() const;

  // What /healthz answers: 200 "ok" when healthy, else 503 and `reason`. Until the first
  // call it answers 503 "starting".
  void SetHealth(bool healthy, std::string reason = {});

  // Stops accepting, drops open connections and joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::connectors
