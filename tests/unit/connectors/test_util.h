// Helpers shared by the connector tests: fast client settings for the mock
// cluster and loops that poll until something arrives or a deadline passes.
// Used by tests/unit/connectors/*_test.cc.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "connectors/consumer.h"
#include "connectors/producer.h"

namespace tern::connectors::testing {

// Against the mock a fetch with nothing to return is held for all of
// fetch.wait.max.ms, so keep it small. The mock's first join of a group takes
// 3 s whatever we set; a later rebalance takes session.timeout.ms - 1 s. Below
// 3000 a first member's session expires during that 3 s wait (it sends no
// heartbeats while joining) and the join never completes, hence 3000
// (docs/kafka.md, consumer groups on the mock).
inline Properties FastConsumerProperties() {
  return {{"fetch.wait.max.ms", "5"},
          {"session.timeout.ms", "3000"},
          {"heartbeat.interval.ms", "100"},
          {"log_level", "3"}};
}

inline Properties FastProducerProperties() {
  return {{"linger.ms", "0"}, {"log_level", "3"}};
}

struct Received {
  std::string topic;
  int32_t partition;
  int64_t offset;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Polls until `count` messages arrived in total or `seconds` passed.
inline std::vector<Received> ReceiveAtLeast(Consumer& consumer, size_t count, double seconds) {
  std::vector<Received> out;
  MessageBatch batch;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    if (!consumer.Poll(50, 1000, &batch).ok()) break;
    for (const Message& m : batch) {
      Received r{std::string(m.topic()), m.partition(), m.offset(), std::string(m.key()),
                 std::string(m.value()), {}};
      for (size_t i = 0; i < m.header_count(); ++i) {
        Header h = m.header(i);
        r.headers.emplace_back(std::string(h.key), std::string(h.value));
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

}  // namespace tern::connectors::testing
