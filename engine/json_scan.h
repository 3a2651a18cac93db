// A single-pass validating scanner for one JSON Lines record holding an object: the
// fast path of EventParser. It only ever accepts: a line it cannot vouch for (invalid,
// or valid but outside its subset) is handed back to simdjson's DOM parser.
// Tested by tests/unit/engine/json_scan_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tern::engine {

// Zero bytes that must follow the scanned text in memory (the scanner reads ahead
// in 64-byte chunks and relies on the zero byte as a sentinel).
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
// Owned by EventParser::Impl. Thread: the parser's. Locks: none.
class JsonScanner {
 public:
  static constexpr int kMaxDepth = 64;  // nested arrays/objects below the root

  // The member names looked for; member(i) answers for names[i].
  void SetNames(std::vector<std::string> names);

  // `data[size .. size + kJsonScanPadding)` must be zero bytes. False when the line
  // is malformed or outside the subset; then found() is unspecified.
  bool Scan(const char* data, size_t size);

  bool found(size_t i) const { return found_[i] != 0; }
  const JsonMember& member(size_t i) const { return members_[i]; }

 private:
  // Marks the member `key` (escaped: holds backslash escapes) found if wanted and
  // new; returns its index or -1.
  int Lookup(const char* key, size_t size, bool escaped);

  // Scan() once the way strings are delimited is chosen (json_scan.cc).
  template <typename Strings>
  bool ScanWith(const char* data, size_t size, Strings& strings);

  // The first 8 bytes of a name (zero-filled), to compare a key with one load.
  struct Head {
    uint64_t word = 0;
    uint64_t mask = 0;  // the bytes of `word` that belong to the name
    uint32_t size = 0;  // bytes in the name
  };

  std::vector<std::string> names_;
  std::vector<Head> heads_;     // per name
  std::vector<uint8_t> found_;  // per name: 1 once seen in the current line
  std::vector<JsonMember> members_;
  size_t missing_ = 0;          // names not yet seen in the current line
  std::string key_scratch_;     // an unescaped key
  std::vector<uint64_t> quote_words_;  // the current line's quote bitmap
};

// Appends the body of a string scanned by JsonScanner (simple escapes only) unescaped.
void AppendUnescaped(std::string& out, std::string_view body);

}  // namespace tern::engine
