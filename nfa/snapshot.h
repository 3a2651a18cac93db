// Serialisation of one key's NFA state — its runs, held-back matches, the
// shared-buffer nodes they reach and those nodes' events — as a plain byte
// string, and its exact restoration into another buffer. The persistence
// layer stores one such record per (pattern, key).
// Tested by tests/unit/engine/snapshot_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "nfa/event.h"
#include "nfa/nfa.h"
#include "nfa/shared_buffer.h"

namespace tern::nfa {

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

}  // namespace tern::nfa
