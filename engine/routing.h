// What the daemon needs to send an event to the state partition that owns its key,
// without an Engine: the key bytes the engine keys state by and their stable hash
// (RouteKey), and whether a program may care about the event at all (RelevanceFilter).
// Tested by tests/unit/engine/routing_test.cc and tests/reference/reference_test.cc (the
// filter's property test).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nfa/event.h"
#include "nfa/program.h"
#include "nfa/value.h"

namespace tern::engine {

// A Kafka record's identity (nfa::StoredEvent::position, which alert ids hash): 8 bits
// of its topic's hash, 16 of its partition, 40 of its offset. The daemon's, and `tern
// replay --kafka-partition`'s, so that both give an alert the same id.
inline uint64_t TopicHash8(std::string_view topic) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : topic) h = (h ^ c) * 0x100000001b3ull;
  return (h ^ (h >> 32)) & 0xFF;
}
inline uint64_t SourcePosition(uint64_t topic_hash, int32_t partition, int64_t offset) {
  return (topic_hash << 56) | (static_cast<uint64_t>(partition & 0xFFFF) << 40) |
         (static_cast<uint64_t>(offset) & ((uint64_t{1} << 40) - 1));
}

// Appends one key value to a key's identity bytes: a ValueKind tag, then the value in
// native byte order (int64, double, or a uint32 length and the bytes). Missing reads as
// null, and an integral double as the integer (1 and 1.0 are one key). The engine keys
// state by exactly these bytes (inline: it runs per event).
inline void EncodeKeyPart(const nfa::Value& v, std::string& out) {
  out.push_back(static_cast<char>(v.kind == nfa::ValueKind::kMissing ? nfa::ValueKind::kNull : v.kind));
  switch (v.kind) {
    case nfa::ValueKind::kBool: out.push_back(v.b ? 1 : 0); break;
    case nfa::ValueKind::kInt: out.append(reinterpret_cast<const char*>(&v.i), sizeof v.i); break;
    case nfa::ValueKind::kDouble: {
      double d = v.d;
      // (The range test first: converting a double outside int64, infinity included, to
      // an integer is undefined.)
      if (d > -9e18 && d < 9e18 && d == static_cast<double>(static_cast<int64_t>(d))) {
        out.back() = static_cast<char>(nfa::ValueKind::kInt);
        int64_t i = static_cast<int64_t>(d);
        out.append(reinterpret_cast<const char*>(&i), sizeof i);
      } else {
        out.append(reinterpret_cast<const char*>(&d), sizeof d);
      }
      break;
    }
    case nfa::ValueKind::kString:
    case nfa::ValueKind::kJson: {
      uint32_t len = v.len;
      out.append(reinterpret_cast<const char*>(&len), sizeof len);
      out.append(v.str, v.len);
      break;
    }
    default: break;
  }
}

// The 64-bit hash a key is routed by: FNV-1a (64-bit offset basis and prime) over the
// bytes one at a time, then MurmurHash3's fmix64 finaliser so that the low bits (a
// partition is hash % count) depend on every byte. Fixed, unseeded and independent of
// the build: every process and machine of the same byte order (the key bytes hold
// native integers) computes the same value. Never change it: instances of two versions
// would route one key to two partitions.
uint64_t RouteHash(std::string_view bytes);

// The routing key of `event` under a program keyed by `key_slots` (Program::key_slots):
// `*bytes` are exactly the bytes the engine keys that program's state by (EncodeKeyPart
// of each slot, in order), `*hash` is RouteHash(*bytes). So two events the engine puts
// under one key get one route key, and events with different keys different bytes.
// Without key slots (a pattern without `key`): empty bytes, hash 0, and false.
bool RouteKey(std::span<const uint32_t> key_slots, const nfa::StoredEvent& event, std::string* bytes,
              uint64_t* hash);
inline bool RouteKey(const nfa::Program& program, const nfa::StoredEvent& event, std::string* bytes,
                     uint64_t* hash) {
  return RouteKey(program.key_slots, event, bytes, hash);
}

// Whether a program may care about an event, from the event alone: MayConcern is false
// only when the event provably changes no key's state of the program and starts no
// partial match, whatever state any key is in. It is the engine's own test
// (nfa::Nfa::IsNoop: from every state a run can wait in, only that state's IGNORE
// self-loop fires, and nothing fires from the start), so an engine that never receives
// the events it rules out — their time carried by Engine::AdvancePartition instead —
// writes the same alerts: the engine itself leaves such an event out of every key,
// its time included (a key's time advances only with the events it is stepped with and
// the watermark). Conservative: an expression that reads the partial match makes
// every event concern the program, and so does any state a run leaves on any event
// (strict contiguity: `next`, consecutive loops).
//
// Created by the daemon once per set of programs (compiled against the schema events
// are parsed with); owns a scratch NFA per program.
// Thread: one thread at a time (the answers are memoised). Locks: none.
class RelevanceFilter {
 public:
  explicit RelevanceFilter(std::vector<std::shared_ptr<const nfa::Program>> programs);
  ~RelevanceFilter();
  RelevanceFilter(const RelevanceFilter&) = delete;
  RelevanceFilter& operator=(const RelevanceFilter&) = delete;

  // Names an input stream (for `from`); the same name gives the same id. MayConcern
  // reads StoredEvent::stream in this numbering: an id this filter never gave out
  // may be any stream (the program's `from` is then not applied).
  uint32_t StreamId(std::string_view name);

  // False when `event` cannot concern programs[program] (see the class comment).
  bool MayConcern(size_t program, const nfa::StoredEvent& event);

  const std::vector<std::shared_ptr<const nfa::Program>>& programs() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tern::engine
