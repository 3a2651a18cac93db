// Events as the NFA sees them: stored once, reference counted, addressed by
// EventId{ts, seq}. The payload is the event as received; slots hold the
// extracted field values (strings point into `strings`).
// Tested through the engine: tests/unit/engine/engine_test.cc, snapshot_test.cc and
// tests/alloc/alloc_test.cc (events recycled, not reallocated).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nfa/value.h"

namespace tern::nfa {

// Orders events like Flink's EventId: by event time, then by arrival.
struct EventId {
  int64_t ts = 0;    // event time, epoch milliseconds
  uint64_t seq = 0;  // arrival sequence number, unique per engine
  friend bool operator==(const EventId&, const EventId&) = default;
  friend bool operator<(const EventId& a, const EventId& b) {
    return a.ts != b.ts ? a.ts < b.ts : a.seq < b.seq;
  }
  friend bool operator<=(const EventId& a, const EventId& b) { return !(b < a); }
};

// One input event. Created by EventStore::Acquire, filled by the event parser,
// shared by every partial match that binds it; returned to the store's free
// list when the last reference goes.
// Thread: engine thread. Locks: none.
struct StoredEvent {
  EventId id;
  // The event's identity, which alert ids hash (replay: line number; Kafka: the source
  // topic, partition and offset), the same whichever engine input it came through.
  uint64_t position = 0;
  // Where to read it again in the engine input partition it came through (replay: line
  // number; Kafka: the offset in that partition, a repartition topic's for a shuffled
  // event): what OldestLivePositions, OldestHeldPosition and Alert::bound report.
  uint64_t offset = 0;
  uint32_t partition = 0;    // input partition (each has its own watermark)
  uint32_t stream = 0;       // input stream (for `from`)
  uint32_t refs = 0;         // holders: the engine while processing, buffer nodes, reorder buffer
  uint32_t index = 0;        // position in the store (for the free list)
  // Written to a state store (state/) by a checkpoint: when the last reference goes, the
  // store learns the event's seq from EventStore::TakeForgotten and deletes its record.
  bool persisted = false;
  std::string payload;       // the event as received (a JSON object)
  std::string strings;       // storage for the slot strings
  std::vector<Value> slots;  // one per schema slot

  int64_t ts() const { return id.ts; }
  const Value& slot(uint32_t s) const { return s < slots.size() ? slots[s] : kMissingSlot; }
  static const Value kMissingSlot;  // what a slot the event does not have reads as
};

// Pool of StoredEvent records. Records keep their buffers when recycled, so a
// warm store does not allocate per event.
// Thread: engine thread. Locks: none.
class EventStore {
 public:
  EventStore() = default;
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // A record with refs == 1, cleared, owned by the caller. A new record reserves room
  // for a typical event (kPayloadReserve, kStringsReserve) so that recycled records
  // rarely grow; `reserve` false leaves it empty, for a restore that sizes each record
  // exactly (a million restored events would otherwise fault in ~750 MB of reserve).
  StoredEvent* Acquire(bool reserve = true);
  void Ref(StoredEvent* e) { ++e->refs; }
  void Unref(StoredEvent* e) {
    if (--e->refs == 0) {
      if (e->persisted) [[unlikely]] forgotten_.push_back(e->id.seq);
      free_.push_back(e->index);
    }
  }
  // The seqs of persisted events (StoredEvent::persisted) released since the last call:
  // a checkpoint deletes their records. Clears the list (its capacity stays).
  template <typename F>
  void TakeForgotten(F&& f) {
    for (uint64_t seq : forgotten_) f(seq);
    forgotten_.clear();
  }
  bool has_forgotten() const { return !forgotten_.empty(); }
  size_t live() const { return records_.size() - free_.size(); }
  // Calls f(const StoredEvent&) for every record in use (refs > 0).
  template <typename F>
  void ForEachLive(F&& f) const {
    for (const auto& r : records_) {
      if (r->refs > 0) f(*r);
    }
  }
  template <typename F>
  void ForEachLiveMutable(F&& f) {
    for (auto& r : records_) {
      if (r->refs > 0) f(*r);
    }
  }
  static constexpr size_t kPayloadReserve = 512;  // bytes reserved in each new record
  static constexpr size_t kStringsReserve = 256;
  size_t capacity() const { return records_.size(); }

 private:
  std::vector<std::unique_ptr<StoredEvent>> records_;
  std::vector<uint32_t> free_;
  std::vector<uint64_t> forgotten_;  // TakeForgotten
};

}  // namespace tern::nfa
