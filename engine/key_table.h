// The keys of one program that hold state: an open-addressing hash index over a
// slab of entries. Keys without partial matches are not stored at all, and a
// key is removed the moment its last partial match ends, so idle keys cost no
// memory. Lookups hash the encoded key once; each index slot carries the upper
// half of its key's hash, so a probe for an absent key touches only the index
// (one cache line, which the engine prefetches), and key bytes are compared only
// on a full 64-bit hash hit. No allocation on lookup, none on insert once warm.
// The index is generic over its entries (KeyIndex<Entry>): the engine also keeps
// one per key spec that routes an event's key to the programs holding state for it.
// Tested by tests/unit/engine/key_table_test.cc.
//
// IMPLEMENTATION
// Linear probing with backward-shift deletion (no tombstones, so lookups stay
// short however many keys come and go). Entry indices are stable: an entry keeps
// its index from Insert to Erase, whatever else is inserted or erased.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/pool_allocator.h"
#include "nfa/nfa.h"

namespace tern::engine {

// FNV-1a over 8-byte words (the tail read with fixed-size loads), then a murmur
// finaliser: keys are short.
uint64_t HashKey(std::string_view bytes);

// MurmurHash3's fmix64 finaliser: every input bit reaches every output bit (the low
// bits pick a slot or a partition).
inline uint64_t Fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

// One key of one program.
struct KeyEntry {
  std::string key_bytes;         // the encoded key values (lookup identity)
  std::string key_json;          // the key as it appears in alerts
  nfa::KeyState state;
  uint64_t hash = 0;
  int64_t last_open = INT64_MAX;   // Nfa::LastOpen of state: its earliest window
                                   // closes when the watermark passes this
  int64_t registered = INT64_MAX;  // last_open currently in the timer heap; INT64_MAX none
  uint32_t counted_runs = 0;       // state.runs.size() as last added to its program's count
  bool limited = false;            // has passed Options::max_runs_per_key (reported once)
  bool dirty = false;              // changed since the last checkpoint (Engine::CollectChanges)
  bool persisted = false;          // the state store holds a record of this key
  bool live = false;               // false: a free slot

  // Back to a fresh entry, keeping buffer capacity (insert and erase).
  void Reset() {
    key_json.clear();
    state.runs.clear();
    state.completed.clear();
    state.stage_values.clear();
    last_open = INT64_MAX;
    registered = INT64_MAX;
    counted_runs = 0;
    limited = false;
    dirty = false;
    persisted = false;
  }
};

// Entry: key_bytes, hash, live as in KeyEntry, and Reset().
// Thread: engine thread. Locks: none.
template <typename Entry>
class KeyIndex {
 public:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;

  static uint64_t Hash(std::string_view bytes) { return HashKey(bytes); }

  // The entry index of `bytes`, or kNone.
  uint32_t Find(uint64_t hash, std::string_view bytes) const {
    if (slots_.empty()) return kNone;
    for (size_t s = Slot(hash);; s = (s + 1) & (slots_.size() - 1)) {
      const IndexSlot slot = slots_[s];
      if (slot.entry == kNone) return kNone;
      if (slot.tag != Tag(hash)) continue;
      const Entry& entry = entries_[slot.entry];
      if (entry.hash == hash && entry.key_bytes == bytes) return slot.entry;
    }
  }
  // Starts loading the index line a Find for `hash` will read first.
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Slot(hash)]);
  }
  // Adds a key known to be absent; returns its entry index. The entry is Reset().
  uint32_t Insert(uint64_t hash, std::string_view bytes) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      index = static_cast<uint32_t>(entries_.size());
      entries_.emplace_back();
      KeepFreeListRoom(free_, entries_);
    }
    Entry& entry = entries_[index];
    entry.key_bytes.assign(bytes);
    entry.Reset();
    entry.hash = hash;
    entry.live = true;
    size_t s = Slot(hash);
    while (slots_[s].entry != kNone) s = (s + 1) & (slots_.size() - 1);
    slots_[s] = {index, Tag(hash)};
    ++size_;
    return index;
  }
  // Removes a live entry; its slot (and its buffers' capacity) is reused later.
  void Erase(uint32_t index) {
    Entry& entry = entries_[index];
    size_t mask = slots_.size() - 1;
    size_t s = Slot(entry.hash);
    while (slots_[s].entry != index) s = (s + 1) & mask;
    // Backward shift: move later members of the probe run into the hole.
    size_t hole = s;
    for (size_t next = (hole + 1) & mask; slots_[next].entry != kNone; next = (next + 1) & mask) {
      size_t home = Slot(entries_[slots_[next].entry].hash);
      // Move it if its home is not within (hole, next] cyclically.
      bool between = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
      if (!between) {
        slots_[hole] = slots_[next];
        hole = next;
      }
    }
    slots_[hole] = {kNone, 0};
    entry.live = false;
    entry.Reset();
    free_.push_back(index);
    --size_;
  }
  Entry& entry(uint32_t index) { return entries_[index]; }
  const Entry& entry(uint32_t index) const { return entries_[index]; }
  // All slots, live or free (check Entry::live).
  std::vector<Entry>& entries() { return entries_; }
  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return size_; }

 private:
  void Grow() {
    size_t n = slots_.empty() ? 64 : slots_.size() * 2;
    slots_.assign(n, {kNone, 0});
    for (uint32_t e = 0; e < entries_.size(); ++e) {
      if (!entries_[e].live) continue;
      size_t s = Slot(entries_[e].hash);
      while (slots_[s].entry != kNone) s = (s + 1) & (n - 1);
      slots_[s] = {e, Tag(entries_[e].hash)};
    }
  }
  size_t Slot(uint64_t hash) const { return static_cast<size_t>(hash) & (slots_.size() - 1); }

  struct IndexSlot {
    uint32_t entry;  // entry index, or kNone
    uint32_t tag;    // upper 32 bits of the entry's hash
  };
  static uint32_t Tag(uint64_t hash) { return static_cast<uint32_t>(hash >> 32); }
  std::vector<IndexSlot> slots_;  // power-of-two size, load <= 1/2
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;
  size_t size_ = 0;
};

using KeyTable = KeyIndex<KeyEntry>;

}  // namespace tern::engine
