// The daemon's HTTP endpoint: `GET /metrics` (Prometheus text format 0.0.4 of a
// MetricsRegistry) and the health probes `GET /livez` (also `/healthz`) and `/readyz`
// (200 or 503 with a JSON body, connectors/health.h), served by Boost.Beast on a thread
// of its own. Beast stays inside metrics_server.cc.
// Tested by tests/unit/connectors/metrics_server_test.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "connectors/health.h"
#include "connectors/metrics.h"

namespace tern::connectors {

// Created and owned by the daemon; the registry (and whatever the health check uses) must
// outlive it. Start() once, Stop() (or the destructor) once. Any number of scrapes may run
// at the same time; they are served one request at a time each, interleaved on the one
// HTTP thread, which also runs the health check: a probe is answered even while the
// daemon's loop is stuck. When the process runs out of file descriptors, accepting backs
// off (kAcceptRetry in the .cc) instead of spinning, and open connections go on being
// served.
// Thread: Start/Stop/port/SetHealthCheck from the owning thread. Locks: the registry's
// own locks while rendering.
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

  // What /livez and /healthz (Probe::kLive) and /readyz (Probe::kReady) answer: 200 or 503
  // and the answer's JSON. Called on the HTTP thread. Set it before Start(); without one
  // every probe answers 200 {"status":"ok","checks":{}}.
  using HealthCheck = std::function<ProbeAnswer(Probe)>;
  void SetHealthCheck(HealthCheck check);

  // Stops accepting, drops open connections and joins the thread. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::connectors
