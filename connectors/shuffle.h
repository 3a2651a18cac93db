// The parts of the shuffle (repartition topics) that need no Kafka connection: topic
// names, the source a repartitioned record carries in its headers, and the per-source
// high marks that recognise a record produced twice, with their commit-metadata form.
// The daemon (connectors/daemon.cc) puts them together; docs/kafka.md describes the
// whole. Tested by tests/unit/connectors/shuffle_test.cc.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace tern::connectors {

// Headers of a repartitioned record. Every record names its source partition and that
// source's latest event time before the record; an event record also names its source
// offset and carries the event (the source record's value, unchanged); a watermark
// record has no value and no offset.
inline constexpr std::string_view kSourceTopicHeader = "tern-src-topic";
inline constexpr std::string_view kSourcePartitionHeader = "tern-src-partition";
inline constexpr std::string_view kSourceOffsetHeader = "tern-src-offset";
inline constexpr std::string_view kSourceTimeHeader = "tern-src-time";  // INT64_MIN: none yet
inline constexpr std::string_view kSourceIdleHeader = "tern-src-idle";  // "1": the source is idle
inline constexpr std::string_view kSourceTimestampHeader = "tern-src-ms";  // source record timestamp

// The repartition topic of one key expression: `<group>.tern.repartition.<key>`, the key
// as written in the patterns ("card", "user.id", "card,merchant"; "global" for patterns
// without key), every character Kafka does not allow in a topic name replaced by `_`,
// and shortened with a hash when the whole would pass Kafka's 249 characters.
std::string RepartitionTopic(std::string_view group, std::string_view key_label);

// The repartition partition of a key: its stable hash modulo the topic's partition count.
// Every instance computes the same answer (engine::RouteKey's hash is fixed).
int32_t RepartitionPartition(uint64_t key_hash, int32_t partitions);

// What a repartitioned record says about its source, read from its headers.
struct SourceRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = -1;          // -1: a watermark record
  int64_t max_ts = INT64_MIN;   // the source's latest event time before this record
  bool idle = false;            // watermark record: the source has gone idle
  int64_t timestamp_ms = 0;     // the source record's timestamp (0: unknown)
};

// Parses the headers found by `header` (name -> value, or nullopt-like empty view with
// *found false). False with *error set when a header is missing or malformed.
bool ParseSourceRecord(const std::function<bool(std::string_view name, std::string_view* value)>& header,
                       SourceRecord* record, std::string* error);

// Decimal text of v into buf (for header values), without allocating.
std::string_view DecimalText(int64_t v, char (&buf)[24]);

// Per source partition, the highest source offset a repartition partition has taken.
// Within one repartition partition the offsets of each source only grow (its producer
// sends them in order), so a record at or below the mark is a copy produced again after
// the source was read again (a crash before its commit): it is dropped.
//
// The marks must survive a move of the repartition partition. They go in the metadata
// of its committed offset, and they must be the marks *at* that offset (the next owner
// reads again from there). The committed offset trails the read position (it waits for
// alerts and live partial matches), so the marks are checkpointed at read positions as
// the daemon goes, and a commit goes out at the latest checkpoint not past the offset
// that is safe: exact, and the commit trails by at most one checkpoint interval.
// Thread: the daemon loop. Locks: none.
class SourceMarks {
 public:
  // True for a new record (its offset becomes the source's mark); false for a copy.
  bool Take(uint32_t source, int64_t offset);
  // The marks as of read position `next_offset` (every record below it taken).
  void Checkpoint(int64_t next_offset);
  // The offset of the latest checkpoint at or below `safe`; false if none.
  bool LatestAtOrBelow(int64_t safe, int64_t* offset) const;
  // The latest checkpoint at or below `safe`: its offset, and its marks as commit
  // metadata (sources named by `name`). Drops the checkpoints before it. False if none.
  bool CommitPoint(int64_t safe, const std::function<std::string(uint32_t source)>& name,
                   int64_t* offset, std::string* metadata);
  // Restores the marks from commit metadata (sources found by `find`: topic, partition ->
  // source id). False with *error set when the metadata is not ours or is malformed;
  // empty metadata is no marks. Clears the checkpoints.
  bool Restore(std::string_view metadata,
               const std::function<uint32_t(std::string_view topic, int32_t partition)>& find,
               std::string* error);
  int64_t mark(uint32_t source) const { return source < marks_.size() ? marks_[source] : -1; }
  size_t checkpoints() const { return checkpoints_.size(); }

  // Longest metadata written; past it (hundreds of source partitions) a commit carries
  // no marks and the next owner cannot tell copies (logged by the daemon).
  static constexpr size_t kMaxMetadata = 3500;
  // Checkpoints kept; past it every other older one is dropped (commits may then trail
  // further, never wrongly).
  static constexpr size_t kMaxCheckpoints = 4096;

 private:
  struct Saved {
    int64_t offset;
    std::vector<int64_t> marks;
  };
  std::vector<int64_t> marks_;  // by source id; -1: none
  std::deque<Saved> checkpoints_;
};

}  // namespace tern::connectors
