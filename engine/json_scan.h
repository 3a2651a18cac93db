// A single-pass validating scanner for one JSON Lines record holding an object: the
// fast path of EventParser. It only ever accepts: a line it cannot vouch for (invalid,
// or valid but outside its subset) is handed back to simdjson's DOM parser.
// Tested by tests/unit/engine/json_scan_test.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::engine {

// Bytes that must be readable after the scanned text, the first of them a zero byte
// (the sentinel every token loop stops at); the others may hold anything, so a
// std::string with this much spare capacity can be scanned in place. The scanner
// reads ahead in 16- and 64-byte blocks and masks what lies past the end.
inline constexpr size_t kJsonScanPadding = 64;

enum class JsonKind : uint8_t { kString, kInt, kDouble, kTrue, kFalse, kNull, kArray, kObject };

// The value of one wanted top-level member.
struct JsonMember {
  JsonKind kind = JsonKind::kNull;
  bool escaped = false;        // kString: the body holds backslash escapes (never \u)
  uint32_t size = 0;           // bytes of `begin`: the string body without quotes, the number
  const char* begin = nullptr;  // into the scanned text
  int64_t i = 0;               // kInt
  double d = 0;                // kDouble
};

// Validates a line per RFC 8259 and picks out the wanted top-level members (the first
// of duplicates). Accepts exactly the lines simdjson's DOM parser accepts whose root
// is an object, minus: any \u escape, nesting deeper than kMaxDepth, integers outside
// int64 unless positive with at most 19 digits, numbers with more than 19 digits or
// whose value is not a normal double or zero. Integers above INT64_MAX come back as
// kDouble (as EventParser stores simdjson's UINT64).
// The quote bitmap pass uses AVX2 when the CPU has it (chosen once, at start-up);
// TERN_JSON_SCAN_NO_AVX2=1 in the environment forces the SSE2 pass (for tests).
// Owned by EventParser::Impl. Thread: the parser's. Locks: none.
class JsonScanner {
 public:
  static constexpr int kMaxDepth = 64;  // nested arrays/objects below the root

  // The member names looked for; member(i) answers for names[i].
  void SetNames(std::vector<std::string> names);

  // `data[size]` must be 0 and `data[size .. size + kJsonScanPadding)` readable. False
  // when the line is malformed or outside the subset; then found() is unspecified.
  bool Scan(const char* data, size_t size);

  bool found(size_t i) const { return seen_[i] == generation_; }
  const JsonMember& member(size_t i) const { return members_[i]; }
  // Some wanted member found in the last scan is an array or object.
  bool found_container() const { return found_container_; }
  // The sum of `size` over the wanted members found that are strings with escapes
  // (their unescaped text is at most as long).
  size_t escaped_bytes() const { return escaped_bytes_; }

 private:
  struct Keys;  // the lookup state, copied into locals for one scan (json_scan.cc)

  // Marks the member `key` (escaped: holds backslash escapes) found if wanted and
  // new; returns it or nullptr.
  // `ordinal` is the member's position in the root object.
  JsonMember* Lookup(Keys& keys, const char* key, size_t size, bool escaped, uint32_t ordinal);
  // Lookup() for a key without escapes, followed by at least 8 readable bytes.
  static JsonMember* LookupPlain(Keys& keys, const char* key, size_t size, uint32_t ordinal);
  // The unescaped key in key_scratch_ (followed by 8 zero bytes); sets *size.
  const char* Unescape(const char* key, size_t* size);

  // Scan() once the way strings are delimited is chosen (json_scan.cc).
  template <typename Strings>
  bool ScanWith(const char* data, size_t size, Strings& strings, Keys& keys);

  // The first 8 bytes of a name (zero-filled), to compare a key with one load.
  struct Head {
    uint64_t word = 0;
    uint32_t size = 0;  // bytes in the name
  };

  // A key's slot in table_: a multiplicative hash of its size and first 8 bytes.
  static uint32_t Hash(uint64_t word, size_t size, int shift) {
    return static_cast<uint32_t>(((word + size) * 0x9E3779B97F4A7C15ull) >> shift);
  }

  std::vector<std::string> names_;
  std::vector<Head> heads_;        // per name
  std::vector<uint32_t> seen_;     // per name: == generation_ once seen in the current line
  uint32_t generation_ = 0;        // per line; seen_ is cleared when it wraps
  std::vector<JsonMember> members_;
  std::vector<uint32_t> table_;    // open addressing by Hash(): name index + 1, 0 = empty;
                                   // a power of two >= 4 * names
  int table_shift_ = 60;           // 64 - log2(table_.size())
  static constexpr uint32_t kPredicted = 16;  // root member positions with a guess
  std::array<uint32_t, kPredicted> order_{};  // per root member position: the name
                                              // index + 1 found there last (lines tend
                                              // to repeat their key order), 0 = none
  bool found_container_ = false;   // see found_container()
  size_t escaped_bytes_ = 0;       // see escaped_bytes()
  std::string key_scratch_;     // an unescaped key
  std::vector<uint64_t> quote_words_;  // the current line's quote bitmap
};

// Appends the body of a string scanned by JsonScanner (simple escapes only) unescaped.
void AppendUnescaped(std::string& out, std::string_view body);

}  // namespace tern::engine
