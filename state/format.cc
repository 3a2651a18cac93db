// Record keys, value framing and the partition record.
#include "state/format.h"

#include <zlib.h>

#include <bit>
#include <cstring>

namespace tern::state {

static_assert(std::endian::native == std::endian::little, "state records are little-endian");

namespace {

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void PutStr(std::string& out, std::string_view s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  template <typename T>
  bool Get(T* v) {
    if (s_.size() - pos_ < sizeof(T)) return false;
    std::memcpy(v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool GetStr(std::string_view* v) {
    uint32_t n;
    if (!Get(&n) || s_.size() - pos_ < n) return false;
    *v = s_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetStr(std::string* v) {
    std::string_view view;
    if (!GetStr(&view)) return false;
    v->assign(view);
    return true;
  }
  // A count of items of at least `min_size` bytes each that the rest can hold.
  bool GetCount(uint32_t* n, size_t min_size) {
    return Get(n) && static_cast<uint64_t>(*n) * min_size <= s_.size() - pos_;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint32_t Crc(std::string_view s) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes an unsigned int length: feed it in chunks.
  while (!s.empty()) {
    const size_t n = std::min<size_t>(s.size(), 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(n));
    s.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

}  // namespace

std::string EventKey(uint64_t seq) {
  std::string key = "e";
  PutBigEndian(key, seq, 8);  // big-endian: the store lists events in seq order
  return key;
}

std::string PatternPrefix(std::string_view pattern, uint64_t fingerprint_hash) {
  std::string key = "k";
  PutBigEndian(key, pattern.size(), 2);
  key.append(pattern);
  PutBigEndian(key, fingerprint_hash, 8);
  return key;
}

std::string KeyKey(std::string_view pattern, uint64_t fingerprint_hash, std::string_view key_bytes) {
  std::string key = PatternPrefix(pattern, fingerprint_hash);
  key.append(key_bytes);
  return key;
}

bool SplitKeyKey(std::string_view key, std::string_view* pattern, uint64_t* fingerprint_hash,
                 std::string_view* key_bytes) {
  if (key.size() < 3 || key[0] != 'k') return false;
  const size_t n = (static_cast<uint8_t>(key[1]) << 8) | static_cast<uint8_t>(key[2]);
  if (key.size() < 3 + n + 8) return false;
  *pattern = key.substr(3, n);
  uint64_t h = 0;
  for (size_t i = 3 + n; i < 3 + n + 8; ++i) h = (h << 8) | static_cast<uint8_t>(key[i]);
  *fingerprint_hash = h;
  *key_bytes = key.substr(3 + n + 8);
  return true;
}

uint64_t FingerprintHash(std::string_view fingerprint) {
  uint64_t h = 14695981039346656037ull;
  for (char c : fingerprint) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  return h;
}

bool SplitEventKey(std::string_view key, uint64_t* seq) {
  if (key.size() != 9 || key[0] != 'e') return false;
  uint64_t v = 0;
  for (size_t i = 1; i < 9; ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  *seq = v;
  return true;
}

void Frame(std::string_view payload, std::string& out) {
  out.push_back(static_cast<char>(kRecordFormat));
  Put<uint32_t>(out, Crc(payload));
  out.append(payload);
}

bool Unframe(std::string_view value, std::string_view* payload, std::string* error) {
  if (value.size() < 5) {
    *error = "truncated record (" + std::to_string(value.size()) + " bytes)";
    return false;
  }
  const uint8_t format = static_cast<uint8_t>(value[0]);
  if (format != kRecordFormat) {
    *error = "record format " + std::to_string(format) + " (this build reads " + std::to_string(kRecordFormat) + ")";
    return false;
  }
  uint32_t crc;
  std::memcpy(&crc, value.data() + 1, 4);
  *payload = value.substr(5);
  if (Crc(*payload) != crc) {
    *error = "checksum mismatch (corrupt record)";
    return false;
  }
  return true;
}

void EncodeMeta(const PartitionMeta& meta, std::string& out) {
  Put<uint64_t>(out, meta.checkpoint);
  PutStr(out, meta.partition);
  PutStr(out, meta.settings);
  Put<uint32_t>(out, static_cast<uint32_t>(meta.positions.size()));
  for (const auto& [input, position] : meta.positions) {
    PutStr(out, input);
    Put<uint64_t>(out, position);
  }
  PutStr(out, meta.extra);
  Put<uint32_t>(out, static_cast<uint32_t>(meta.patterns.size()));
  for (const PatternInfo& p : meta.patterns) {
    PutStr(out, p.name);
    PutStr(out, p.fingerprint);
    Put<int64_t>(out, p.within_ms);
    Put<uint32_t>(out, static_cast<uint32_t>(p.state_names.size()));
    for (size_t s = 0; s < p.state_names.size(); ++s) {
      PutStr(out, p.state_names[s]);
      Put<int64_t>(out, s < p.state_windows.size() ? p.state_windows[s] : 0);
    }
    Put<uint32_t>(out, static_cast<uint32_t>(p.stage_names.size()));
    for (const std::string& s : p.stage_names) PutStr(out, s);
  }
  PutStr(out, meta.clock);
}

bool DecodeMeta(std::string_view payload, PartitionMeta* meta, std::string* error) {
  Reader in(payload);
  uint32_t n;
  bool ok = in.Get(&meta->checkpoint) && in.GetStr(&meta->partition) && in.GetStr(&meta->settings) &&
            in.GetCount(&n, 12);
  for (uint32_t i = 0; ok && i < n; ++i) {
    std::string input;
    uint64_t position = 0;
    ok = in.GetStr(&input) && in.Get(&position);
    if (ok) meta->positions.emplace_back(std::move(input), position);
  }
  ok = ok && in.GetStr(&meta->extra) && in.GetCount(&n, 24);
  for (uint32_t i = 0; ok && i < n; ++i) {
    PatternInfo p;
    uint32_t states, stages;
    ok = in.GetStr(&p.name) && in.GetStr(&p.fingerprint) && in.Get(&p.within_ms) && in.GetCount(&states, 12);
    for (uint32_t s = 0; ok && s < states; ++s) {
      std::string name;
      int64_t window = 0;
      ok = in.GetStr(&name) && in.Get(&window);
      p.state_names.push_back(std::move(name));
      p.state_windows.push_back(window);
    }
    ok = ok && in.GetCount(&stages, 4);
    for (uint32_t s = 0; ok && s < stages; ++s) {
      std::string name;
      ok = in.GetStr(&name);
      p.stage_names.push_back(std::move(name));
    }
    meta->patterns.push_back(std::move(p));
  }
  ok = ok && in.GetStr(&meta->clock) && in.done();
  if (!ok) *error = "truncated or malformed partition record";
  return ok;
}

uint64_t PositionOf(const PartitionMeta& meta, std::string_view input, uint64_t otherwise) {
  for (const auto& [name, position] : meta.positions) {
    if (name == input) return position;
  }
  return otherwise;
}

void EncodeKey(std::string_view key_json, std::string_view refs, std::string& out) {
  PutStr(out, key_json);
  out.append(refs);
}

bool DecodeKey(std::string_view payload, std::string_view* key_json, std::string_view* refs) {
  Reader in(payload);
  if (!in.GetStr(key_json)) return false;
  *refs = payload.substr(4 + key_json->size());
  return true;
}

}  // namespace tern::state
