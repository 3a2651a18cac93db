// The daemon's health checks and the thread that checks the brokers answer.
//
// IMPLEMENTATION
// The watchdog counts instead of timing: the loop bumps a counter per iteration and per
// event (a relaxed store, no clock read), and each probe compares it with the value the
// previous probe saw. Unchanged since a probe at time T means no progress since T, so a
// loop stuck inside one event is caught however long that event takes, and a busy loop
// costs nothing but the counter. The other checks read what the loop and the broker
// probe last published. Kubernetes semantics: liveness fails only on a stalled loop (a
// restart cures that, not a Kafka outage); readiness fails on anything that keeps the
// daemon from doing its work.
// Tested by tests/unit/connectors/health_test.cc.
#include "connectors/health.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "base/json_writer.h"

namespace tern::connectors {

namespace {

// An option's value as written in tern.toml: "30s", "1500ms".
std::string OptionText(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// Elapsed time for a reader: "31.2 s".
std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

struct Check {
  const char* name;
  bool ok;
  std::string detail;
};

}  // namespace

Health::Health(HealthOptions options, int64_t now_ms) : options_(options), seen_at_ms_(now_ms) {}

void Health::SetAssignment(bool joined, size_t partitions) {
  partitions_.store(partitions, std::memory_order_relaxed);
  if (joined) ever_joined_.store(true, std::memory_order_relaxed);
  joined_.store(joined, std::memory_order_relaxed);
}

void Health::SetProducerBacklog(uint64_t unacked, int64_t oldest_produced_ms) {
  oldest_produced_ms_.store(oldest_produced_ms, std::memory_order_relaxed);
  unacked_.store(unacked, std::memory_order_relaxed);
}

void Health::NoteProducerError(std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  producer_error_ = std::move(message);
}

void Health::BrokersReached(int64_t now_ms, size_t brokers) {
  std::lock_guard<std::mutex> lock(mu_);
  brokers_ok_ms_ = now_ms;
  brokers_fail_ms_ = -1;
  brokers_ = brokers;
}

void Health::BrokersUnreachable(int64_t now_ms, std::string why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (brokers_fail_ms_ < 0) brokers_fail_ms_ = now_ms;
  brokers_error_ = std::move(why);
}

ProbeAnswer Health::Evaluate(Probe probe, int64_t now_ms) {
  std::vector<Check> checks;
  std::lock_guard<std::mutex> lock(mu_);

  // The watchdog.
  const uint64_t beats = beats_.load(std::memory_order_relaxed);
  if (beats != seen_beats_) {
    seen_beats_ = beats;
    seen_at_ms_ = now_ms;
  }
  const int64_t still_ms = std::max<int64_t>(0, now_ms - seen_at_ms_);
  if (beats == 0) {
    // Set-up (the first connections) is not the loop; readiness says "starting".
    checks.push_back({"loop", true, "not started yet"});
  } else if (still_ms == 0) {
    checks.push_back({"loop", true, "making progress"});
  } else {
    checks.push_back({"loop", still_ms <= options_.stall_timeout_ms,
                      "no progress for " + Seconds(still_ms) + " (health.stall.timeout " +
                          OptionText(options_.stall_timeout_ms) + ")"});
  }

  if (probe == Probe::kReady) {
    switch (phase_.load(std::memory_order_relaxed)) {
      case Phase::kStarting: checks.push_back({"running", false, "starting"}); break;
      case Phase::kRunning: checks.push_back({"running", true, "consuming"}); break;
      case Phase::kStopping: checks.push_back({"running", false, "stopping"}); break;
    }

    const std::string why = brokers_error_.empty() ? "" : ": " + brokers_error_;
    if (brokers_ok_ms_ < 0) {
      checks.push_back({"brokers", false,
                        brokers_fail_ms_ < 0 ? "not reached yet" : "not reached yet" + why});
    } else {
      // A probe runs several times per timeout, so a success older than that is stale
      // even when no failure was reported (a round trip still hanging).
      const int64_t down_ms = std::max<int64_t>(0, now_ms - brokers_ok_ms_);
      if (brokers_fail_ms_ < 0 && down_ms <= options_.brokers_timeout_ms) {
        checks.push_back({"brokers", true, std::to_string(brokers_) + " in the cluster's metadata"});
      } else {
        checks.push_back({"brokers", down_ms <= options_.brokers_timeout_ms,
                          "no broker answered for " + Seconds(down_ms) + " (health.brokers.timeout " +
                              OptionText(options_.brokers_timeout_ms) + ")" + why});
      }
    }

    const uint64_t partitions = partitions_.load(std::memory_order_relaxed);
    if (joined_.load(std::memory_order_relaxed)) {
      // Zero partitions is a standby member (more members than partitions): it is ready
      // to take over, and a rollout must not wait for it to get work.
      const uint64_t rebuilding = rebuilding_.load(std::memory_order_relaxed);
      if (rebuilding == 0) {
        checks.push_back({"partitions", true, std::to_string(partitions) + " assigned"});
      } else {
        checks.push_back({"partitions", false,
                          std::to_string(partitions) + " assigned, " + std::to_string(rebuilding) +
                              " rebuilding their state (reading again from the committed offset)"});
      }
    } else {
      checks.push_back({"partitions", false,
                        ever_joined_.load(std::memory_order_relaxed)
                            ? "assignment lost; rejoining the consumer group"
                            : "waiting for the consumer group to assign partitions"});
    }

    const uint64_t unacked = unacked_.load(std::memory_order_relaxed);
    if (unacked == 0) {
      checks.push_back({"producer", true, "every message acknowledged"});
    } else {
      const int64_t age_ms =
          std::max<int64_t>(0, now_ms - oldest_produced_ms_.load(std::memory_order_relaxed));
      std::string detail = std::to_string(unacked) + " messages unacknowledged, the oldest for " +
                           Seconds(age_ms) + " (health.producer.timeout " +
                           OptionText(options_.producer_timeout_ms) + ")";
      if (!producer_error_.empty()) detail += "; last error: " + producer_error_;
      checks.push_back({"producer", age_ms <= options_.producer_timeout_ms, std::move(detail)});
    }
  }

  ProbeAnswer answer;
  answer.ok = true;
  std::string reason;
  for (const Check& c : checks) {
    if (c.ok) continue;
    answer.ok = false;
    if (!reason.empty()) reason += "; ";
    reason += std::string(c.name) + ": " + c.detail;
  }
  std::string& j = answer.json;
  j = answer.ok ? R"({"status":"ok",)" : R"({"status":"fail","reason":)";
  if (!answer.ok) {
    json::AppendString(j, reason);
    j += ',';
  }
  j += R"("checks":{)";
  for (size_t i = 0; i < checks.size(); ++i) {
    if (i > 0) j += ',';
    json::AppendString(j, checks[i].name);
    j += checks[i].ok ? R"(:{"ok":true,"detail":)" : R"(:{"ok":false,"detail":)";
    json::AppendString(j, checks[i].detail);
    j += '}';
  }
  j += "}}\n";
  return answer;
}

BrokerProbe::BrokerProbe(Health* health, RoundTrip round_trip, int64_t interval_ms, Clock clock)
    : health_(health),
      round_trip_(std::move(round_trip)),
      interval_ms_(std::max<int64_t>(1, interval_ms)),
      clock_(std::move(clock)) {
  thread_ = std::thread([this] { Loop(); });
}

BrokerProbe::~BrokerProbe() { Stop(); }

void BrokerProbe::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BrokerProbe::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    size_t brokers = 0;
    Status s = round_trip_(&brokers);
    if (s.ok()) {
      health_->BrokersReached(clock_(), brokers);
    } else {
      health_->BrokersUnreachable(clock_(), s.message());
    }
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(interval_ms_), [this] { return stop_; });
  }
}

}  // namespace tern::connectors
