// Linear probing with backward-shift deletion (no tombstones, so lookups stay
// short however many keys come and go).
#include "engine/key_table.h"

#include <cstring>

namespace tern::engine {

uint64_t KeyTable::Hash(std::string_view bytes) {
  // FNV-1a over 8-byte words, then a murmur finaliser: keys are short.
  uint64_t h = 0xcbf29ce484222325ull ^ bytes.size();
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  h = (h ^ tail) * 0x100000001b3ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

uint32_t KeyTable::Find(uint64_t hash, std::string_view bytes) const {
  if (slots_.empty()) return kNone;
  for (size_t s = Slot(hash);; s = (s + 1) & (slots_.size() - 1)) {
    const IndexSlot slot = slots_[s];
    if (slot.entry == kNone) return kNone;
    if (slot.tag != Tag(hash)) continue;
    const KeyEntry& entry = entries_[slot.entry];
    if (entry.hash == hash && entry.key_bytes == bytes) return slot.entry;
  }
}

uint32_t KeyTable::Insert(uint64_t hash, std::string_view bytes) {
  if ((size_ + 1) * 2 > slots_.size()) Grow();
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    index = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  KeyEntry& entry = entries_[index];
  entry.key_bytes.assign(bytes);
  entry.key_json.clear();
  entry.hash = hash;
  entry.deadline = INT64_MAX;
  entry.registered = INT64_MAX;
  entry.live = true;
  size_t s = Slot(hash);
  while (slots_[s].entry != kNone) s = (s + 1) & (slots_.size() - 1);
  slots_[s] = {index, Tag(hash)};
  ++size_;
  return index;
}

void KeyTable::Erase(uint32_t index) {
  KeyEntry& entry = entries_[index];
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
  entry.state.runs.clear();
  entry.state.completed.clear();
  entry.registered = INT64_MAX;
  entry.deadline = INT64_MAX;
  free_.push_back(index);
  --size_;
}

void KeyTable::Grow() {
  size_t n = slots_.empty() ? 64 : slots_.size() * 2;
  slots_.assign(n, {kNone, 0});
  for (uint32_t e = 0; e < entries_.size(); ++e) {
    if (!entries_[e].live) continue;
    size_t s = Slot(entries_[e].hash);
    while (slots_[s].entry != kNone) s = (s + 1) & (n - 1);
    slots_[s] = {e, Tag(entries_[e].hash)};
  }
}

}  // namespace tern::engine
