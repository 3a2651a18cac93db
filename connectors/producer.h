// Producer: an idempotent Kafka producer (acks=all) whose delivery reports carry
// a caller-chosen opaque, so the daemon knows which alerts are acknowledged.
// Tested by tests/unit/connectors/producer_test.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/properties.h"
#include "connectors/status.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace tern::connectors {

// One record header. Views: copied by Produce.
struct Header {
  std::string_view key;
  std::string_view value;
};

// The outcome of one produced message, passed to the delivery callback during
// Poll or Flush. The views live until the callback returns.
struct DeliveryReport {
  std::string_view topic;
  int32_t partition = -1;  // -1 if it never got one
  int64_t offset = -1;     // broker offset; -1 on failure
  uint64_t opaque = 0;     // what the caller passed to Produce
  Status status;           // ok: acknowledged by all in-sync replicas
  // A failed delivery's message as it was produced, so the caller can produce it
  // again without keeping its own copy of every message; empty when delivered.
  std::string_view key;
  std::string_view value;
  std::span<const Header> headers;
};

struct ProducerOptions {
  std::string bootstrap_servers;
  // Applied after the defaults (enable.idempotence=true, acks=all, linger.ms=1),
  // so they may override them; a rejected one fails Create, naming it.
  Properties properties;
  // Called on the thread that calls Poll/Flush, once per produced message.
  std::function<void(const DeliveryReport&)> on_delivery;
  // Client-level errors (all brokers down, a fatal idempotence error), during
  // Poll/Flush; librdkafka keeps retrying the non-fatal ones. Without a
  // callback librdkafka logs them to stderr.
  std::function<void(const Status&)> on_error;
};

// Created by Create, owned by the caller (the daemon's output stage).
// librdkafka's threads send in the background; reports arrive only in Poll/Flush.
// Thread: owner (Produce/Poll/Flush from one thread). Locks: none of ours.
class Producer {
 public:
  static constexpr int32_t kAnyPartition = -1;  // partitioned by key (murmur2_random)

  static Result<std::unique_ptr<Producer>> Create(ProducerOptions options);
  ~Producer();  // waits up to 5 s for in-flight messages; their reports are dropped
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues one message; key, value and headers are copied. An empty key is sent
  // as a null key. Errors: kQueueFull (retriable: Poll and try again), unknown
  // topic/partition, message too large, or fatal (idempotence violated).
  Status Produce(std::string_view topic, std::string_view key, std::string_view value,
                 std::span<const Header> headers, uint64_t opaque,
                 int32_t partition = kAnyPartition);

  // Serves delivery reports (and errors) for up to timeout_ms; returns how many
  // events were served.
  int Poll(int timeout_ms);
  // Sends everything queued and serves all reports; kTimedOut if messages remain.
  Status Flush(int timeout_ms);
  // Messages queued or in flight, not yet reported (librdkafka's outq length).
  int in_flight() const;
  // A fatal error the producer hit (it then fails every Produce), or ok.
  Status fatal_error() const;
  // The cluster id from the brokers' metadata, waiting up to timeout_ms for it;
  // empty if none came. librdkafka's mock cluster's starts with "mockCluster".
  std::string ClusterId(int timeout_ms) const;

 private:
  Producer() = default;
  struct Callbacks;  // librdkafka's C callbacks, in producer.cc
  friend struct Callbacks;

  rd_kafka_t* handle_ = nullptr;
  std::function<void(const DeliveryReport&)> on_delivery_;
  std::function<void(const Status&)> on_error_;
  std::string topic_scratch_;  // NUL-terminated topic for rd_kafka_producev
  std::vector<Header> failed_headers_;  // a failed report's headers, during its callback
};

}  // namespace tern::connectors
