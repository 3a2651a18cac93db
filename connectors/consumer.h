// Consumer: a Kafka consumer-group member with manual offset commits, batch
// polling into zero-copy message views, and rebalance reports to its owner.
// Tested by tests/unit/connectors/consumer_test.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/properties.h"
#include "connectors/producer.h"  // Header
#include "connectors/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;

namespace tern::connectors {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
};

// A commit position. As in Kafka, `offset` is the next offset to read: after
// processing offset 41, commit 42. `metadata` travels with the commit and comes
// back from Committed (the broker stores it next to the offset, per group and
// partition; Kafka's offset.metadata.max.bytes, 4096 by default, bounds it).
struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;   // -1001 (RD_KAFKA_OFFSET_INVALID) when there is none
  // Text; empty when none was committed. Kafka's protocol has it as a string: a
  // NUL ends it when librdkafka reads it back, and Java brokers decode it as
  // UTF-8, so keep it printable. (A default initializer, so that
  // {topic, partition, offset} stays warning-free under -Wmissing-field-initializers.)
  std::string metadata = {};
  bool operator==(const TopicPartitionOffset&) const = default;
};

struct PartitionLag {
  std::string topic;
  int32_t partition = 0;
  int64_t position = -1;        // next offset this consumer will fetch; -1 if unknown
  int64_t high_watermark = -1;  // from the last fetch response; -1 if none yet
  int64_t lag = -1;             // high_watermark - position, -1 if either is unknown
};

enum class RebalanceKind {
  kAssigned,  // the member now owns these partitions; reading starts at the committed offsets
  kRevoked,   // it is giving them up: commit what is done now, it will not be asked later
  kLost,      // they were already taken away (session timed out): a commit would fail
};

// How the group moves partitions between members (`partition.assignment.strategy`).
enum class RebalanceProtocol {
  kNone,         // not joined yet (or no group)
  kEager,        // range, roundrobin: each rebalance revokes everything, then assigns
  kCooperative,  // cooperative-sticky: only the partitions that move are revoked
};

// Whether a commit failed because this member may no longer commit: the group
// rebalanced past its generation or dropped it (Errc::kFenced). Retrying cannot
// help; the partitions' next owner starts at the last accepted commit.
inline bool CommitFenced(const Status& status) { return status.code() == Errc::kFenced; }

// A view of one consumed record. Every view points into librdkafka's message
// and lives as long as the MessageBatch that holds it.
// Thread: owner of the batch. Locks: none.
class Message {
 public:
  explicit Message(rd_kafka_message_t* message) : message_(message) {}

  std::string_view topic() const;
  int32_t partition() const;
  int64_t offset() const;
  bool has_key() const;  // false for a null key
  std::string_view key() const;
  std::string_view value() const;  // empty for a null value (tombstone)
  int64_t timestamp_ms() const;    // create or log-append time; -1 if none
  size_t header_count() const;
  Header header(size_t index) const;  // index < header_count(), in record order
  // The value of the last header named `name`, if any.
  std::optional<std::string_view> FindHeader(std::string_view name) const;

 private:
  friend class MessageBatch;
  rd_kafka_message_t* message_;  // owned by the MessageBatch
};

// The messages of one Poll; destroys them when cleared or destroyed. Must not
// outlive the Consumer that filled it.
// Thread: owner. Locks: none.
class MessageBatch {
 public:
  MessageBatch() = default;
  ~MessageBatch() { Clear(); }
  MessageBatch(MessageBatch&& other) noexcept : messages_(std::move(other.messages_)) {
    other.messages_.clear();
  }
  MessageBatch& operator=(MessageBatch&& other) noexcept;
  MessageBatch(const MessageBatch&) = delete;
  MessageBatch& operator=(const MessageBatch&) = delete;

  size_t size() const { return messages_.size(); }
  bool empty() const { return messages_.empty(); }
  const Message& operator[](size_t i) const { return messages_[i]; }
  std::vector<Message>::const_iterator begin() const { return messages_.begin(); }
  std::vector<Message>::const_iterator end() const { return messages_.end(); }
  void Clear();  // destroys the messages; keeps the capacity

 private:
  friend class Consumer;
  std::vector<Message> messages_;
};

struct ConsumerOptions {
  std::string bootstrap_servers;
  std::string group_id;
  // Applied after the defaults (enable.auto.commit=false,
  // enable.auto.offset.store=false, auto.offset.reset=earliest,
  // enable.partition.eof=false); a rejected one fails Create, naming it.
  // Latency knob: fetch.wait.max.ms (librdkafka default 500; the mock broker
  // holds an empty fetch that long, so use a few ms against it).
  Properties properties;
  // Called inside Poll or Close, before librdkafka applies the change, with
  // the partitions that change (incrementally for the cooperative assignor; an
  // empty change is not reported). In kRevoked a Commit still works with
  // either protocol on a real broker; on librdkafka's mock only with the
  // cooperative one (docs/kafka.md, consumer groups on the mock). In kLost it
  // fails with Errc::kFenced. On kAssigned reading starts at the committed
  // offsets, also for a partition this member owned before (what it read
  // past the last commit is read again).
  std::function<void(RebalanceKind, std::span<const TopicPartition>)> on_rebalance;
  // Results of CommitAsync, called inside a later Poll.
  std::function<void(const Status&, std::span<const TopicPartitionOffset>)> on_commit;
  // Non-fatal client errors (broker down, unknown topic...); librdkafka keeps
  // retrying. Without a callback they are dropped.
  std::function<void(const Status&)> on_error;
};

// Created by Create, owned by the caller (the daemon's input stage). Close
// before destroying to leave the group cleanly; the destructor does it if not.
// Thread: owner (all calls from one thread but ProbeBrokers; callbacks run on it). Locks:
// none of ours.
class Consumer {
 public:
  static Result<std::unique_ptr<Consumer>> Create(ConsumerOptions options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Joins the group for these topics (replaces an earlier subscription).
  Status Subscribe(std::span<const std::string> topics);
  // During on_rebalance(kAssigned): read this newly assigned partition from `offset`
  // instead of the committed one (a state restored at another position).
  void StartAt(const std::string& topic, int32_t partition, int64_t offset) {
    start_at_.push_back({topic, partition, offset, ""});
  }
  // Reads these partitions from these offsets outside any group's assignment (a
  // changelog restore: a consumer that never subscribes nor commits).
  Status Assign(std::span<const TopicPartitionOffset> offsets);
  // A partition's low and high watermarks (the first offset kept and the next one to be
  // written), asked of its leader.
  Status QueryWatermarks(const std::string& topic, int32_t partition, int64_t* low, int64_t* high,
                         int timeout_ms);

  // Clears *batch, then waits up to timeout_ms for a first message and takes
  // whatever else is already fetched without waiting, up to max_messages.
  // Serves rebalance, commit and error callbacks. Not ok only for a fatal error.
  Status Poll(int timeout_ms, size_t max_messages, MessageBatch* batch);

  // Commits these positions (next offset to read, with their metadata) and
  // waits for the broker. Errc::kFenced (CommitFenced) when this member may no
  // longer commit: REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
  // FENCED_INSTANCE_ID or a lost assignment.
  Status Commit(std::span<const TopicPartitionOffset> offsets);
  // Same, without waiting; the result goes to on_commit during a later Poll.
  Status CommitAsync(std::span<const TopicPartitionOffset> offsets);
  // The group's committed offsets and metadata for these partitions (an
  // OffsetFetch to the coordinator; offset -1001 where nothing is committed).
  // Works without Subscribe too: a consumer created with the group id that
  // never subscribes reads the group's commits without joining it.
  Result<std::vector<TopicPartitionOffset>> Committed(std::span<const TopicPartition> partitions,
                                                      int timeout_ms);

  // The group's rebalance protocol, known once the member joined (kNone before).
  RebalanceProtocol protocol() const;

  // The partitions currently assigned to this member.
  std::vector<TopicPartition> assignment() const;
  // Per assigned partition: position, the last known high watermark and their
  // difference. Local only (no broker round trip): the watermark is the one
  // the last fetch response carried.
  std::vector<PartitionLag> Lag() const;

  // One metadata round trip to any broker (the topics this client knows): ok with
  // *brokers set to the brokers in the answer, or an error once timeout_ms passed with no
  // broker answering. The one call that may run on another thread than the owner's (the
  // daemon's broker probe; librdkafka serialises it), until Close.
  Status ProbeBrokers(int timeout_ms, size_t* brokers);

  // Revokes the assignment (on_rebalance runs), leaves the group. Idempotent.
  Status Close();

 private:
  Consumer() = default;
  struct Callbacks;  // librdkafka's C callbacks, in consumer.cc
  friend struct Callbacks;
  // Returns true if the message was handed to *batch, false if it was an
  // error (reported and destroyed); sets *fatal for a fatal one.
  bool Take(rd_kafka_message_t* message, MessageBatch* batch, Status* fatal);

  rd_kafka_t* handle_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;  // the consumer queue, for async commit results
  bool closed_ = false;
  ConsumerOptions options_;  // the callbacks
  std::vector<TopicPartitionOffset> start_at_;  // StartAt, applied by the assignment at hand
};

}  // namespace tern::connectors
