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

// Appends the record of `key` to `out`; calls on_event(const StoredEvent&) once for
// every distinct event its nodes reach (the caller stores those not stored yet).
template <typename OnEvent>
void SerializeKeyRefs(const KeyState& key, const SharedBuffer& buffer, std::string& out, OnEvent&& on_event);

// Restores a SerializeKeyRefs record; `find(seq)` gives the restored event (nullptr:
// unknown, an error). False with *error set on a malformed record (nothing is kept).
bool RestoreKeyRefs(std::string_view record, KeyState& key, SharedBuffer& buffer,
                    const std::unordered_map<uint64_t, StoredEvent*>& events_by_seq, std::string* error);

// Shared by SerializeKeyState and SerializeKeyRefs: the nodes the runs reach, parents
// before children.
void ReachableNodes(const KeyState& key, const SharedBuffer& buffer, std::vector<NodeId>& order,
                    std::unordered_map<NodeId, uint32_t>& local);
void PutRuns(const KeyState& key, const std::unordered_map<NodeId, uint32_t>& local, std::string& out);

template <typename OnEvent>
void SerializeKeyRefs(const KeyState& key, const SharedBuffer& buffer, std::string& out, OnEvent&& on_event) {
  std::vector<NodeId> order;
  std::unordered_map<NodeId, uint32_t> local;
  ReachableNodes(key, buffer, order, local);
  out.push_back(static_cast<char>(kKeyRefsFormat));
  auto put = [&out](auto v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(static_cast<uint32_t>(order.size()));
  const StoredEvent* previous = nullptr;
  for (NodeId n : order) {
    const Node& node = buffer.node(n);
    if (node.event != previous && !node.event->persisted) on_event(*node.event);
    previous = node.event;
    put(static_cast<uint64_t>(node.event->id.seq));
    put(static_cast<uint32_t>(node.parent == kNoNode ? kNoNode : local.at(node.parent)));
    put(static_cast<uint16_t>(node.stage));
  }
  PutRuns(key, local, out);
}

}  // namespace tern::nfa
