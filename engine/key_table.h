// The keys of one program that hold state: an open-addressing hash index over a
// slab of entries. Keys without partial matches are not stored at all, and a
// key is removed the moment its last partial match ends, so idle keys cost no
// memory. Lookups hash the encoded key once; each index slot carries the upper
// half of its key's hash, so a probe for an absent key touches only the index
// (one cache line, which the engine prefetches), and key bytes are compared only
// on a full 64-bit hash hit. No allocation on lookup, none on insert once warm.
// Tested by tests/unit/engine/key_table_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nfa/nfa.h"

namespace tern::engine {

// One key of one program.
struct KeyEntry {
  std::string key_bytes;         // the encoded key values (lookup identity)
  std::string key_json;          // the key as it appears in alerts
  nfa::KeyState state;
  uint64_t hash = 0;
  int64_t deadline = INT64_MAX;    // earliest window expiry of its runs
  int64_t registered = INT64_MAX;  // deadline currently in the timer heap
  bool live = false;               // false: a free slot
};

// Thread: engine thread. Locks: none.
class KeyTable {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  static uint64_t Hash(std::string_view bytes);

  // The entry index of `bytes`, or kNone.
  uint32_t Find(uint64_t hash, std::string_view bytes) const;
  // Starts loading the index line a Find for `hash` will read first.
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Slot(hash)]);
  }
  // Adds a key known to be absent; returns its entry index. The entry's state is empty.
  uint32_t Insert(uint64_t hash, std::string_view bytes);
  // Removes a live entry; its slot (and its buffers' capacity) is reused later.
  void Erase(uint32_t index);

  KeyEntry& entry(uint32_t index) { return entries_[index]; }
  const KeyEntry& entry(uint32_t index) const { return entries_[index]; }
  // All slots, live or free (check KeyEntry::live).
  std::vector<KeyEntry>& entries() { return entries_; }
  const std::vector<KeyEntry>& entries() const { return entries_; }
  size_t size() const { return size_; }

 private:
  void Grow();
  size_t Slot(uint64_t hash) const { return static_cast<size_t>(hash) & (slots_.size() - 1); }

  struct IndexSlot {
    uint32_t entry;  // entry index, or kNone
    uint32_t tag;    // upper 32 bits of the entry's hash
  };
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
  std::vector<IndexSlot> slots_;  // power-of-two size, load <= 1/2
  std::vector<KeyEntry> entries_;
  std::vector<uint32_t> free_;
  size_t size_ = 0;
};

}  // namespace tern::engine
