// The runtime value of an expression or of an extracted event field: a 16-byte
// tagged union. Strings and lists point into storage owned elsewhere (the event,
// the program's constants or the evaluator's scratch), never own memory.
// Tested by tests/unit/nfa/eval_test.cc.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace tern::nfa {

struct StoredEvent;

enum class ValueKind : uint8_t {
  kMissing,    // field absent from the event; behaves as null except for exists()
  kNull,
  kBool,
  kInt,        // int64
  kDouble,
  kString,     // str/len: UTF-8 bytes, already unescaped
  kJson,       // str/len: raw JSON text of an array or object field
  kEvent,      // event: an event of the partial match (or the current event)
  kEventList,  // events/len: events bound to a looping stage, in binding order
  kValueList,  // values/len: e.g. `small.amount`, or a literal list
};

struct Value {
  ValueKind kind = ValueKind::kNull;
  uint32_t len = 0;  // bytes for kString/kJson, elements for lists
  union {
    bool b;
    int64_t i;
    double d;
    const char* str;
    const StoredEvent* event;
    const StoredEvent* const* events;
    const Value* values;
  };

  Value() : i(0) {}
  static Value Missing() { Value v; v.kind = ValueKind::kMissing; return v; }
  static Value Null() { return Value(); }
  static Value Bool(bool x) { Value v; v.kind = ValueKind::kBool; v.b = x; return v; }
  static Value Int(int64_t x) { Value v; v.kind = ValueKind::kInt; v.i = x; return v; }
  static Value Double(double x) { Value v; v.kind = ValueKind::kDouble; v.d = x; return v; }
  static Value String(std::string_view s) {
    Value v; v.kind = ValueKind::kString; v.str = s.data(); v.len = static_cast<uint32_t>(s.size()); return v;
  }
  static Value Json(std::string_view s) {
    Value v; v.kind = ValueKind::kJson; v.str = s.data(); v.len = static_cast<uint32_t>(s.size()); return v;
  }
  static Value Event(const StoredEvent* e) { Value v; v.kind = ValueKind::kEvent; v.event = e; return v; }

  bool is_null() const { return kind == ValueKind::kNull || kind == ValueKind::kMissing; }
  bool is_number() const { return kind == ValueKind::kInt || kind == ValueKind::kDouble; }
  double as_double() const { return kind == ValueKind::kInt ? static_cast<double>(i) : d; }
  std::string_view as_string() const { return {str, len}; }
};

// a == b for byte strings of equal length `len`, inline for the short strings keys and
// enumerations are made of (no call into the library's memcmp): overlapping word
// loads never read outside either string.
inline bool BytesEqual(const char* a, const char* b, uint32_t len) {
  auto load8 = [](const char* p) { uint64_t w; std::memcpy(&w, p, 8); return w; };
  auto load4 = [](const char* p) { uint32_t w; std::memcpy(&w, p, 4); return w; };
  if (len >= 8) {
    if (len > 16) return std::memcmp(a, b, len) == 0;
    return load8(a) == load8(b) && load8(a + len - 8) == load8(b + len - 8);
  }
  if (len >= 4) return load4(a) == load4(b) && load4(a + len - 4) == load4(b + len - 4);
  for (uint32_t i = 0; i < len; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

static_assert(sizeof(Value) == 16);
static_assert(std::is_trivially_copyable_v<Value>);

}  // namespace tern::nfa
