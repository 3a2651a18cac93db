// Serialisation of one key's NFA state — its runs, held-back matches, the
// shared-buffer nodes they reach and those nodes' events — as a plain byte
// string, and its exact restoration into another buffer. The persistence
// layer stores one such record per (pattern, key).
// Tested by tests/unit/engine/snapshot_test.cc.
#pragma once

#include <bit>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nfa/event.h"
#include "nfa/nfa.h"
#include "nfa/shared_buffer.h"

namespace tern::nfa {

// Records are written in the machine's byte order and read back anywhere: fixed
// little-endian, which every machine Tern builds for is.
static_assert(std::endian::native == std::endian::little, "state records are little-endian");

// First byte of every record. 2: events carry their offset (StoredEvent::offset).
inline constexpr uint8_t kKeyStateFormat = 2;

// One event, with its slot values (used by key records and the engine's reorder buffer).
void SerializeEvent(const StoredEvent& event, std::string& out);
// Reads an event at data[*pos], advancing *pos. An event whose seq is already in
// `events_by_seq` is not duplicated. New events are acquired from `store` with one
// reference, which the map owns: the caller drops it (Unref) after restoring.
bool RestoreEvent(std::string_view data, size_t* pos, EventStore& store,
                  std::unordered_map<uint64_t, StoredEvent*>& events_by_seq, StoredEvent** out);

// Events by seq for a restore that reads them in ascending seq order (the state store's
// event records, keyed by big-endian seq): a sorted vector searched by bisection, which
// for a million events costs a fraction of a hash map's inserts and frees.
class EventsBySeq {
 public:
  void reserve(size_t n) { entries_.reserve(n); }
  // False unless `seq` is above every seq appended before.
  bool Append(uint64_t seq, StoredEvent* e) {
    if (!entries_.empty() && seq <= entries_.back().first) return false;
    entries_.emplace_back(seq, e);
    return true;
  }
  StoredEvent* Find(uint64_t seq) const;
  size_t size() const { return entries_.size(); }
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [seq, e] : entries_) f(seq, e);
  }

 private:
  std::vector<std::pair<uint64_t, StoredEvent*>> entries_;
};

// Reads an event at data[*pos] into a new record of `store` sized exactly (no
// reserve), with one reference the caller owns; advances *pos.
bool RestoreNewEvent(std::string_view data, size_t* pos, EventStore& store, StoredEvent** out);

// Appends the record of `key` to `out`.
void SerializeKeyState(const KeyState& key, const SharedBuffer& buffer, std::string& out);

// Restores a record written by SerializeKeyState. Events already restored
// (same EventId) are shared through `events_by_id`, so one event bound by
// several keys or patterns is stored once. Returns false on a malformed record
// (nothing is kept then).
bool RestoreKeyState(std::string_view record, KeyState& key, SharedBuffer& buffer,
                     std::unordered_map<uint64_t, StoredEvent*>& events_by_seq, size_t* consumed);

// Key records of the state store (state/), which holds every event once, apart: the
// nodes name their events by seq (EventId::seq). First byte kKeyRefsFormat.
inline constexpr uint8_t kKeyRefsFormat = 1;

// The nodes a key's runs reach, parents before children, each with its index in that
// order: ReachableNodes' result. Reused from key to key, it allocates nothing once
// warm (a checkpoint serialises thousands of keys on the engine thread).
class NodeOrder {
 public:
  const std::vector<NodeId>& order() const { return order_; }
  // Index of `n` in order(); n must be there (or kNoNode, which maps to itself).
  uint32_t local(NodeId n) const { return n == kNoNode ? kNoNode : slots_[Find(n)].local; }

 private:
  friend void ReachableNodes(const KeyState& key, const SharedBuffer& buffer, NodeOrder& out);
  // The key's nodes -> their index in order_: an open-addressing table sized by the
  // largest key seen (not by the buffer, whose size a checkpoint would otherwise pay
  // for in page faults each time the buffer grows), emptied per key by a new stamp.
  struct Slot {
    NodeId node;
    uint32_t stamp;  // the slot is used for this key when it equals current_
    uint32_t local;
  };
  size_t Find(NodeId n) const;  // n's slot, or the free slot where it would go
  void Insert(NodeId n, uint32_t local);
  std::vector<NodeId> order_;
  std::vector<Slot> slots_;  // size a power of two, at most half full
  uint32_t current_ = 0;
  std::vector<NodeId> chain_;
};
void ReachableNodes(const KeyState& key, const SharedBuffer& buffer, NodeOrder& out);
void PutRuns(const KeyState& key, const NodeOrder& nodes, std::string& out);

// Appends the record of `key` to `out`; calls on_event(StoredEvent&) for every node
// whose event is not persisted (the caller stores it and marks it persisted, so an
// event several nodes bind is handed over once).
template <typename OnEvent>
void SerializeKeyRefs(const KeyState& key, const SharedBuffer& buffer, NodeOrder& scratch, std::string& out,
                      OnEvent&& on_event) {
  ReachableNodes(key, buffer, scratch);
  out.push_back(static_cast<char>(kKeyRefsFormat));
  auto put = [&out](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(static_cast<uint32_t>(scratch.order().size()));
  for (NodeId n : scratch.order()) {
    const Node& node = buffer.node(n);
    if (!node.event->persisted) on_event(*node.event);
    put(static_cast<uint64_t>(node.event->id.seq));
    put(static_cast<uint32_t>(scratch.local(node.parent)));
    put(static_cast<uint16_t>(node.stage));
  }
  PutRuns(key, scratch, out);
}

// Restores a SerializeKeyRefs record, its events found by seq in `events_by_seq`.
// False with *error set on a malformed record (nothing is kept).
bool RestoreKeyRefs(std::string_view record, KeyState& key, SharedBuffer& buffer, const EventsBySeq& events_by_seq,
                    std::string* error);

// A SerializeKeyRefs record as plain values (`tern state --key`): no buffer, no events.
struct RunRefsView {
  StateId state = 0;      // the run's NFA state (Program::state_names)
  EventId start;          // its first bound event
  int64_t prev_ts = 0;    // time of its last bound event
  // Its bindings, oldest first: (event seq, stage), stage indexing Program::stages.
  std::vector<std::pair<uint64_t, uint16_t>> bindings;
};
struct KeyRefsView {
  std::vector<RunRefsView> runs;  // partial matches
  std::vector<RunRefsView> held;  // completed matches held back (KeyState::completed)
  uint32_t nodes = 0;             // distinct shared-buffer nodes the record holds
};

// Decodes a SerializeKeyRefs record; false with *error set on a malformed one. Checks
// the record's own structure only (not that the states, stages or events exist).
bool DescribeKeyRefs(std::string_view record, KeyRefsView* out, std::string* error);

}  // namespace tern::nfa
