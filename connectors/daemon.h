// The daemon behind `tern run`: a Kafka consumer-group member feeding one engine per
// owned partition (repartition topics for patterns keyed otherwise than the input),
// a producer writing its alerts, dead letters and late events, offset commits that
// never run ahead of what an alert depends on, metrics over HTTP, hot reload.
// Tested by tests/daemon/daemon_test.py against the embedded broker (CTest daemon_*)
// and, several members in one group, by tests/daemon/scaleout_test.py (daemon_scaleout).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "connectors/config.h"
#include "nfa/program.h"
#include "nfa/schema.h"

namespace tern::connectors {

// Loads the pattern files into `schema`: the programs, or false with the
// diagnostics rendered in *errors. Provided by the command line (cli/patterns.h),
// called at start-up and on every reload.
using PatternLoader = std::function<bool(const std::vector<std::string>& files, nfa::Schema& schema,
                                         std::vector<std::shared_ptr<const nfa::Program>>* programs,
                                         std::string* errors)>;

struct DaemonOptions {
  DaemonConfig config;  // pattern_files already expanded
  PatternLoader load_patterns;
  // Re-expands the pattern globs on reload (new files appear); may be empty.
  std::function<bool(DaemonConfig*, std::string* errors)> expand_patterns;
};

// Thread: Run() on one thread; RequestStop/RequestReload from any thread or a
// signal-handling thread. Locks: none (flags are atomics).
class Daemon {
 public:
  // Loads the patterns, creates the Kafka clients, starts the metrics endpoint.
  // Null with *error set (one line per problem) when any of that fails.
  static std::unique_ptr<Daemon> Create(DaemonOptions options, std::string* error);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Consumes until RequestStop: then stops consuming, delivers the alerts in flight,
  // commits, leaves the group. Returns the process exit status (0, or 1 after a
  // fatal Kafka error).
  int Run();
  void RequestStop() { stop_.store(true); }
  void RequestReload() { reload_.store(true); }

  // The metrics endpoint's port (0 when metrics are off).
  uint16_t metrics_port() const;

 private:
  struct Impl;
  Daemon();
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
};

}  // namespace tern::connectors
