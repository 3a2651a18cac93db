// kafka_roundtrip: produce -> consume latency through the embedded mock broker
// at a low rate, one message in flight at a time: the broker's own floor.
// Smoke-tested by CTest kafka_roundtrip_smoke; figures only from Release runs.
//
//   kafka_roundtrip [--messages 2000] [--fetch-wait-ms 1] [--linger-ms 0] [--gap-us 500]
//                   [--jitter-us 1000] [--blocks 1] [--mock-nodelay 1]
//
// The pause before each send is gap + uniform[0, jitter) microseconds (fixed
// seed): without jitter every send lands just after a fetch was issued, and
// the mock holds that fetch for all of fetch.wait.max.ms, which measures the
// worst phase instead of a random arrival.
// Prints one line: messages, p50, p90, p99, max in milliseconds, and the settings;
// then the same for produce -> delivery report (acks=all) of the same messages.
// --blocks N also prints produce->consume for each N-th of the messages in order:
// every message is its own record batch in the mock's log, and the mock finds the
// batch a fetch asks for by walking its log from the oldest (docs/kafka.md), so
// the round trip grows with the number of batches already in the partition.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "connectors/consumer.h"
#include "connectors/mock_cluster.h"
#include "connectors/producer.h"

namespace {

using Clock = std::chrono::steady_clock;
using tern::connectors::Consumer;
using tern::connectors::ConsumerOptions;
using tern::connectors::MessageBatch;
using tern::connectors::MockCluster;
using tern::connectors::Producer;
using tern::connectors::ProducerOptions;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "kafka_roundtrip: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int messages = 2000;
  std::string fetch_wait_ms = "1";
  std::string linger_ms = "0";
  int gap_us = 500;      // idle time between a receive and the next send
  int jitter_us = 1000;  // plus uniform[0, jitter_us)
  int blocks = 1;
  bool mock_nodelay = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--messages")) messages = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--fetch-wait-ms")) fetch_wait_ms = argv[i + 1];
    else if (!std::strcmp(argv[i], "--linger-ms")) linger_ms = argv[i + 1];
    else if (!std::strcmp(argv[i], "--gap-us")) gap_us = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--jitter-us")) jitter_us = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--blocks")) blocks = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--mock-nodelay")) mock_nodelay = std::atoi(argv[i + 1]) != 0;
    else return Fail(std::string("unknown option ") + argv[i]);
  }

  auto mock = MockCluster::Start(1, mock_nodelay);
  if (!mock.ok()) return Fail(mock.status().message());
  if (auto s = (*mock)->CreateTopic("events", 1); !s.ok()) return Fail(s.message());

  std::vector<int64_t> sent_ns(static_cast<size_t>(messages) + 50, 0);
  std::vector<double> ack_ms;
  ack_ms.reserve(messages);
  ProducerOptions producer_options;
  producer_options.on_delivery = [&](const tern::connectors::DeliveryReport& r) {
    if (r.status.ok() && r.opaque >= 50) ack_ms.push_back((NowNs() - sent_ns[r.opaque]) / 1e6);
  };
  producer_options.bootstrap_servers = (*mock)->bootstrap_servers();
  producer_options.properties = {{"linger.ms", linger_ms}};
  auto producer = Producer::Create(producer_options);
  if (!producer.ok()) return Fail(producer.status().message());

  ConsumerOptions consumer_options;
  consumer_options.bootstrap_servers = (*mock)->bootstrap_servers();
  consumer_options.group_id = "roundtrip";
  consumer_options.properties = {{"fetch.wait.max.ms", fetch_wait_ms},
                                 {"session.timeout.ms", "6000"}};
  auto consumer = Consumer::Create(consumer_options);
  if (!consumer.ok()) return Fail(consumer.status().message());
  const std::string topics[] = {"events"};
  if (auto s = (*consumer)->Subscribe(topics); !s.ok()) return Fail(s.message());

  // Warm up: join the group (the mock's first join takes 3 s) and read 50 messages.
  const int warmup = 50;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(messages);
  MessageBatch batch;
  std::mt19937 rng(1);
  for (int i = 0; i < warmup + messages; ++i) {
    int64_t sent = NowNs();
    sent_ns[i] = sent;
    std::string value = std::to_string(sent);
    if (auto s = (*producer)->Produce("events", "", value, {}, i); !s.ok()) return Fail(s.message());
    bool received = false;
    auto deadline = Clock::now() + std::chrono::seconds(i == 0 ? 30 : 5);
    while (!received) {
      if (Clock::now() > deadline) return Fail("message " + std::to_string(i) + " never arrived");
      (*producer)->Poll(0);
      if (auto s = (*consumer)->Poll(1, 100, &batch); !s.ok()) return Fail(s.message());
      for (const auto& m : batch) {
        if (m.value() == value) {
          received = true;
          if (i >= warmup) latencies_ms.push_back((NowNs() - sent) / 1e6);
        }
      }
    }
    int pause_us = gap_us + (jitter_us > 0 ? static_cast<int>(rng() % jitter_us) : 0);
    if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
  }
  batch.Clear();
  (*consumer)->Close();

  (*producer)->Flush(5000);
  auto print = [&](const char* what, std::vector<double>& v) {
    if (v.empty()) return;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
    };
    std::printf("%-17s %zu  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", what, v.size(),
                at(0.50), at(0.90), at(0.99), v.back());
  };
  if (blocks > 1) {
    const size_t per = latencies_ms.size() / static_cast<size_t>(blocks);
    for (int b = 0; b < blocks && per > 0; ++b) {
      std::vector<double> part(latencies_ms.begin() + static_cast<ptrdiff_t>(b * per),
                               latencies_ms.begin() + static_cast<ptrdiff_t>((b + 1) * per));
      char label[32];
      std::snprintf(label, sizeof label, "  block %d", b + 1);
      print(label, part);
    }
  }
  print("produce->consume", latencies_ms);
  print("produce->ack", ack_ms);
  std::printf(
      "settings: "
      "(fetch.wait.max.ms=%s linger.ms=%s gap %d+U[0,%d) us, one in flight, mock TCP_NODELAY %s)\n",
      fetch_wait_ms.c_str(), linger_ms.c_str(), gap_us, jitter_us, mock_nodelay ? "on" : "off");
  return 0;
}
