// The state store's records: the keys of one partition's RocksDB and the framing of
// every value (format byte, CRC-32, payload). Explicit and versioned; docs/state.md
// draws the layout.
// Tested by tests/unit/state/store_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::state {

// Format byte of every value. Bump it when a record's layout changes (the store
// refuses a format it does not know, naming it; it never guesses).
inline constexpr uint8_t kRecordFormat = 1;

// RocksDB keys of one partition's store. One byte of kind, then:
//   'm'                      the partition record (PartitionMeta), one
//   'e' seq(8, big-endian)   one event, stored once whoever binds it
//   'k' len(2, BE) pattern fingerprint-hash(8) key-bytes
//                            one key's partial matches of one pattern: a changed
//                            pattern's keys sit apart from the new one's
inline constexpr char kMetaKey[] = "m";
std::string EventKey(uint64_t seq);
std::string KeyKey(std::string_view pattern, uint64_t fingerprint_hash, std::string_view key_bytes);
// The prefix of every key record of one version of a pattern.
std::string PatternPrefix(std::string_view pattern, uint64_t fingerprint_hash);
// Splits a 'k' key; false if it is not one.
bool SplitKeyKey(std::string_view key, std::string_view* pattern, uint64_t* fingerprint_hash,
                 std::string_view* key_bytes);
// 64-bit FNV-1a of an nfa::Fingerprint: what key records carry.
uint64_t FingerprintHash(std::string_view fingerprint);
bool SplitEventKey(std::string_view key, uint64_t* seq);

// A value: format byte, CRC-32 of the payload (little-endian), payload.
void Frame(std::string_view payload, std::string& out);
// The payload of a framed value; false with *error on a short value, an unknown
// format or a checksum mismatch.
bool Unframe(std::string_view value, std::string_view* payload, std::string* error);

// What a restart needs to know of one pattern's stored keys, and what `tern state`
// shows of them.
struct PatternInfo {
  std::string name;
  std::string fingerprint;               // nfa::Fingerprint of the program that wrote them
  int64_t within_ms = 0;                 // whole-match window; 0: none
  std::vector<std::string> state_names;  // by nfa::StateId
  std::vector<int64_t> state_windows;    // per state: its window (gap, stage within); 0: none
  std::vector<std::string> stage_names;  // by node stage
};

// The partition record: everything of a partition that is not a key or an event.
struct PartitionMeta {
  uint64_t checkpoint = 0;   // how many checkpoints wrote this partition (1, 2, ...)
  std::string partition;     // its name (the store's directory name)
  std::string settings;      // options the state depends on (lateness, time field, ...)
  // Where each input continues: replay "line" = lines read; the daemon: the input
  // (topic/partition) offset after the last record the state reflects.
  std::vector<std::pair<std::string, uint64_t>> positions;
  std::string extra;         // the owner's own bytes (the daemon: repartition marks)
  std::vector<PatternInfo> patterns;
  std::string clock;         // engine::Engine::SaveClock
};

void EncodeMeta(const PartitionMeta& meta, std::string& out);
bool DecodeMeta(std::string_view payload, PartitionMeta* meta, std::string* error);

// The position of `input` in meta.positions, or `otherwise`.
uint64_t PositionOf(const PartitionMeta& meta, std::string_view input, uint64_t otherwise);

// A key record's payload: the key as JSON (for `tern state` and alerts), then the
// nfa::SerializeKeyRefs record.
void EncodeKey(std::string_view key_json, std::string_view refs, std::string& out);
bool DecodeKey(std::string_view payload, std::string_view* key_json, std::string_view* refs);

}  // namespace tern::state
