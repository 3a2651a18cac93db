// Tests of the daemon's health checks on a fake clock: the watchdog, what liveness ignores,
// each readiness check and the JSON answers; and the broker probe's thread.
#include "connectors/health.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace tern::connectors {
namespace {

HealthOptions Small() {
  HealthOptions o;
  o.stall_timeout_ms = 2000;
  o.brokers_timeout_ms = 3000;
  o.producer_timeout_ms = 4000;
  return o;
}

// A daemon at work from time 0: running, a broker reached, 2 partitions, nothing in flight.
void SetHealthy(Health& h, int64_t now_ms) {
  h.SetPhase(Health::Phase::kRunning);
  h.BrokersReached(now_ms, 3);
  h.SetAssignment(true, 2);
  h.SetProducerBacklog(0, 0);
}

TEST_CASE("the answers' JSON: every check with its detail, the failed ones in reason") {
  Health h(Small(), 0);
  CHECK(h.Evaluate(Probe::kLive, 0).json ==
        R"({"status":"ok","checks":{"loop":{"ok":true,"detail":"not started yet"}}})" "\n");
  h.Beat();
  ProbeAnswer starting = h.Evaluate(Probe::kReady, 0);
  CHECK_FALSE(starting.ok);
  CHECK(starting.json ==
        R"({"status":"fail","reason":"running: starting; brokers: not reached yet; partitions: )"
        R"(waiting for the consumer group to assign partitions","checks":{)"
        R"("loop":{"ok":true,"detail":"making progress"},)"
        R"("running":{"ok":false,"detail":"starting"},)"
        R"("brokers":{"ok":false,"detail":"not reached yet"},)"
        R"("partitions":{"ok":false,"detail":"waiting for the consumer group to assign partitions"},)"
        R"("producer":{"ok":true,"detail":"every message acknowledged"}}})" "\n");
  SetHealthy(h, 0);
  h.Beat();
  ProbeAnswer ready = h.Evaluate(Probe::kReady, 10);
  CHECK(ready.ok);
  CHECK(ready.json ==
        R"({"status":"ok","checks":{"loop":{"ok":true,"detail":"making progress"},)"
        R"("running":{"ok":true,"detail":"consuming"},)"
        R"("brokers":{"ok":true,"detail":"3 in the cluster's metadata"},)"
        R"("partitions":{"ok":true,"detail":"2 assigned"},)"
        R"("producer":{"ok":true,"detail":"every message acknowledged"}}})" "\n");
}

TEST_CASE("partitions being rebuilt: not ready, live") {
  Health h(Small(), 0);
  SetHealthy(h, 0);
  h.Beat();
  h.SetRebuilding(1);
  ProbeAnswer rebuilding = h.Evaluate(Probe::kReady, 10);
  CHECK_FALSE(rebuilding.ok);
  const std::string want =
      R"j("partitions":{"ok":false,"detail":"2 assigned, 1 rebuilding their state (reading again from the committed offset)"})j";
  CHECK(rebuilding.json.find(want) != std::string::npos);
  CHECK(h.Evaluate(Probe::kLive, 10).ok);
  h.SetRebuilding(0);
  CHECK(h.Evaluate(Probe::kReady, 20).ok);
}

TEST_CASE("watchdog: no beat for longer than health.stall.timeout fails liveness and readiness") {
  Health h(Small(), 0);
  CHECK(h.Evaluate(Probe::kLive, 5000).ok);  // set-up before the loop's first beat
  SetHealthy(h, 0);
  h.Beat();
  CHECK(h.Evaluate(Probe::kLive, 100).ok);
  // Stuck from here: judged from the probes' own times, not from anything the loop does.
  CHECK(h.Evaluate(Probe::kLive, 1100).ok);
  CHECK(h.Evaluate(Probe::kLive, 2100).ok);  // 2.0 s: not longer than the timeout
  ProbeAnswer stuck = h.Evaluate(Probe::kLive, 2101);
  CHECK_FALSE(stuck.ok);
  CHECK(stuck.json.find(R"j("reason":"loop: no progress for 2.0 s (health.stall.timeout 2s)")j") !=
        std::string::npos);
  h.BrokersReached(2101, 3);  // readiness fails too, whatever else is fine
  CHECK_FALSE(h.Evaluate(Probe::kReady, 2200).ok);
  // One beat and it is live again.
  h.Beat();
  CHECK(h.Evaluate(Probe::kLive, 9000).ok);
  CHECK(h.Evaluate(Probe::kLive, 10000).ok);
  CHECK_FALSE(h.Evaluate(Probe::kLive, 11001).ok);
}

TEST_CASE("a loop stuck on another thread is seen by the thread that asks") {
  HealthOptions o = Small();
  o.stall_timeout_ms = 100;
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  Health h(o, now());
  std::atomic<bool> stuck{false}, release{false};
  std::thread loop([&] {
    for (int i = 0; i < 50; ++i) {  // a loop at work: a beat a millisecond
      h.Beat();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stuck = true;  // then one event that takes long
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    h.Beat();
  });
  CHECK(h.Evaluate(Probe::kLive, now()).ok);
  while (!stuck) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  h.Evaluate(Probe::kLive, now());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK_FALSE(h.Evaluate(Probe::kLive, now()).ok);
  release = true;
  loop.join();
  CHECK(h.Evaluate(Probe::kLive, now()).ok);
}

TEST_CASE("liveness ignores Kafka: brokers gone, no partitions, a stuck producer") {
  Health h(Small(), 0);
  h.SetPhase(Health::Phase::kRunning);
  h.BrokersUnreachable(0, "Local: Broker transport failure");
  h.SetProducerBacklog(5, 0);
  for (int64_t t = 1000; t <= 60000; t += 1000) {
    h.Beat();
    CHECK(h.Evaluate(Probe::kLive, t).ok);
  }
  ProbeAnswer ready = h.Evaluate(Probe::kReady, 60000);
  CHECK_FALSE(ready.ok);
  CHECK(ready.json.find(R"j(brokers: not reached yet: Local: Broker transport failure;)j") !=
        std::string::npos);
}

TEST_CASE("brokers: unreachable for longer than health.brokers.timeout is not ready") {
  Health h(Small(), 0);
  SetHealthy(h, 0);
  h.Beat();
  h.BrokersUnreachable(1000, "metadata: Local: Broker transport failure");
  ProbeAnswer within = h.Evaluate(Probe::kReady, 3000);
  CHECK(within.ok);  // down 3.0 s: not longer than the timeout
  CHECK(within.json.find(R"j("brokers":{"ok":true,"detail":"no broker answered for 3.0 s)j") !=
        std::string::npos);
  h.BrokersUnreachable(3000, "metadata: Local: Broker transport failure");
  h.Beat();
  ProbeAnswer down = h.Evaluate(Probe::kReady, 3500);
  CHECK_FALSE(down.ok);
  CHECK(down.json.find(R"j("reason":"brokers: no broker answered for 3.5 s (health.brokers.timeout )j"
                       R"j(3s): metadata: Local: Broker transport failure")j") != std::string::npos);
  h.BrokersReached(4000, 3);
  h.Beat();
  CHECK(h.Evaluate(Probe::kReady, 4000).ok);
  // A success that is not renewed goes stale even with no failure reported (a probe hangs).
  h.Beat();
  CHECK_FALSE(h.Evaluate(Probe::kReady, 7001).ok);
}

TEST_CASE("partitions: ready once the group assigned them, zero included; not after a loss") {
  Health h(Small(), 0);
  SetHealthy(h, 0);
  h.SetAssignment(false, 0);
  h.Beat();
  CHECK_FALSE(h.Evaluate(Probe::kReady, 10).ok);
  h.SetAssignment(true, 0);  // a standby member: more members than partitions
  h.Beat();
  CHECK(h.Evaluate(Probe::kReady, 20).ok);
  h.SetAssignment(false, 0);
  h.Beat();
  ProbeAnswer lost = h.Evaluate(Probe::kReady, 30);
  CHECK_FALSE(lost.ok);
  CHECK(lost.json.find(R"j("reason":"partitions: assignment lost; rejoining the consumer group")j") !=
        std::string::npos);
}

TEST_CASE("producer: the oldest unacknowledged message older than health.producer.timeout") {
  Health h(Small(), 0);
  SetHealthy(h, 0);
  h.SetProducerBacklog(12, 1000);
  h.BrokersReached(5000, 3);
  h.Beat();
  CHECK(h.Evaluate(Probe::kReady, 5000).ok);  // 4.0 s: not longer than the timeout
  h.NoteProducerError("delivery to alerts: Broker: Not leader for partition");
  h.Beat();
  ProbeAnswer stuck = h.Evaluate(Probe::kReady, 5001);
  CHECK_FALSE(stuck.ok);
  CHECK(stuck.json.find(R"j("reason":"producer: 12 messages unacknowledged, the oldest for 4.0 s )j"
                        R"j((health.producer.timeout 4s); last error: delivery to alerts: Broker: )j"
                        R"j(Not leader for partition")j") != std::string::npos);
  h.SetProducerBacklog(0, 0);
  h.Beat();
  CHECK(h.Evaluate(Probe::kReady, 5002).ok);
}

TEST_CASE("starting and stopping are not ready but live") {
  Health h(Small(), 0);
  SetHealthy(h, 0);
  h.SetPhase(Health::Phase::kStopping);
  h.Beat();
  ProbeAnswer stopping = h.Evaluate(Probe::kReady, 10);
  CHECK_FALSE(stopping.ok);
  CHECK(stopping.json.find(R"j("reason":"running: stopping")j") != std::string::npos);
  CHECK(h.Evaluate(Probe::kLive, 10).ok);
}

TEST_CASE("the broker probe reports each round trip and stops promptly") {
  Health h(Small(), 0);
  SetHealthy(h, 0);
  std::atomic<int> calls{0};
  std::atomic<bool> answer{false};
  int64_t clock = 100;
  BrokerProbe probe(
      &h,
      [&](size_t* brokers) {
        ++calls;
        if (!answer) return Status::Error(Errc::kKafka, "metadata: no broker");
        *brokers = 5;
        return Status::Ok();
      },
      5, [&] { return clock; });
  while (calls < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  h.Beat();
  CHECK(h.Evaluate(Probe::kReady, 100).json.find("no broker answered for 0.1 s (health.brokers."
                                                  "timeout 3s): metadata: no broker") !=
        std::string::npos);
  answer = true;
  const int seen = calls;
  while (calls < seen + 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  h.Beat();
  CHECK(h.Evaluate(Probe::kReady, 100).json.find("5 in the cluster's metadata") != std::string::npos);
  auto start = std::chrono::steady_clock::now();
  probe.Stop();
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  const int stopped = calls;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  CHECK(calls == stopped);
}

}  // namespace
}  // namespace tern::connectors
