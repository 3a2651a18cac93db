// Liveness and readiness of the daemon, as Kubernetes probes ask for them: `/livez` (and
// `/healthz`) fail only when the processing loop stopped making progress (a watchdog);
// `/readyz` also fails while the brokers are unreachable, before the group assigned
// partitions, when the producer's oldest message waits too long for its acknowledgement,
// and while starting or stopping. Evaluated when a probe asks, on the HTTP thread, so a
// loop stuck inside one event is seen; answered as JSON naming what is wrong.
// Tested by tests/unit/connectors/health_test.cc.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "connectors/status.h"

namespace tern::connectors {

struct HealthOptions {
  int64_t stall_timeout_ms = 30000;     // health.stall.timeout: no progress this long: not live
  int64_t brokers_timeout_ms = 30000;   // health.brokers.timeout: unreachable this long: not ready
  int64_t producer_timeout_ms = 30000;  // health.producer.timeout: oldest unacked this old: not ready
};

enum class Probe { kLive, kReady };

// What a probe answers: HTTP 200 when ok, else 503, with `json` as the body:
//   {"status":"ok","checks":{"loop":{"ok":true,"detail":"..."},...}}
//   {"status":"fail","reason":"brokers: ...; partitions: ...","checks":{...}}
struct ProbeAnswer {
  bool ok = false;
  std::string json;  // one object and a newline
};

// The health of one daemon. Created by the daemon with its config; outlives the HTTP
// server and the broker probe that use it.
// Thread: the loop thread calls Beat, SetPhase, SetAssignment, SetProducerBacklog and
// NoteProducerError; BrokerProbe's thread BrokersReached/BrokersUnreachable; any thread
// Evaluate. Locks: mu_ guards the strings and the watchdog's last observation; what the
// loop updates per event or iteration is a relaxed atomic.
class Health {
 public:
  enum class Phase { kStarting, kRunning, kStopping };

  // `now_ms`: steady-clock milliseconds, the clock of every time given later.
  Health(HealthOptions options, int64_t now_ms);

  // Progress of the processing loop: once per iteration and once per event. One writer.
  void Beat() { beats_.store(beats_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  void SetPhase(Phase phase) { phase_.store(phase, std::memory_order_relaxed); }
  // `joined`: the group has given this member its assignment (false again once it is
  // lost); `partitions`: how many it holds.
  void SetAssignment(bool joined, size_t partitions);
  // Assigned partitions whose state is still being rebuilt (read again from the
  // committed offset up to where the partition's log ended at assignment): not ready.
  void SetRebuilding(size_t partitions) { rebuilding_.store(partitions, std::memory_order_relaxed); }
  // Messages handed to the producer and not yet acknowledged, and when the oldest of them
  // was first produced (steady ms; ignored when unacked is 0).
  void SetProducerBacklog(uint64_t unacked, int64_t oldest_produced_ms);
  // The last produce or delivery error, for the producer check's detail.
  void NoteProducerError(std::string message);

  // Results of BrokerProbe: a round trip to some broker succeeded (`brokers` known to
  // the cluster), or failed with `why`.
  void BrokersReached(int64_t now_ms, size_t brokers);
  void BrokersUnreachable(int64_t now_ms, std::string why);

  // The verdict of one probe at `now_ms`.
  ProbeAnswer Evaluate(Probe probe, int64_t now_ms);

  const HealthOptions& options() const { return options_; }

 private:
  const HealthOptions options_;
  std::atomic<uint64_t> beats_{0};
  std::atomic<Phase> phase_{Phase::kStarting};
  std::atomic<bool> joined_{false};
  std::atomic<bool> ever_joined_{false};
  std::atomic<uint64_t> partitions_{0};
  std::atomic<uint64_t> rebuilding_{0};
  std::atomic<uint64_t> unacked_{0};
  std::atomic<int64_t> oldest_produced_ms_{0};

  std::mutex mu_;
  uint64_t seen_beats_ = 0;       // beats_ at the last Evaluate that saw it change
  int64_t seen_at_ms_;            // when that was (or construction)
  int64_t brokers_ok_ms_ = -1;    // last successful round trip; -1: none yet
  int64_t brokers_fail_ms_ = -1;  // last failed one, if after brokers_ok_ms_; else -1
  size_t brokers_ = 0;            // brokers in the last metadata
  std::string brokers_error_;     // why the last round trip failed
  std::string producer_error_;    // the last produce or delivery error
};

// Checks that the brokers answer: calls `round_trip` (e.g. Consumer::ProbeBrokers) every
// `interval_ms` on a thread of its own and reports to `health`. Created by the daemon
// after its consumer, stopped before the consumer closes.
// Thread: Start/Stop from the owner. Locks: mu_ for the stop flag.
class BrokerProbe {
 public:
  // Returns ok and sets *brokers, or an error; may block up to its own timeout.
  using RoundTrip = std::function<Status(size_t* brokers)>;
  using Clock = std::function<int64_t()>;  // steady ms

  BrokerProbe(Health* health, RoundTrip round_trip, int64_t interval_ms, Clock clock);
  ~BrokerProbe();  // Stop()
  BrokerProbe(const BrokerProbe&) = delete;
  BrokerProbe& operator=(const BrokerProbe&) = delete;

  // Stops probing; waits for a round trip in progress. Idempotent.
  void Stop();

 private:
  void Loop();

  Health* health_;
  RoundTrip round_trip_;
  int64_t interval_ms_;  // > 0
  Clock clock_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace tern::connectors
