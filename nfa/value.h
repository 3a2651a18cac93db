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

static_assert(sizeof(Value) == 16);
static_assert(std::is_trivially_copyable_v<Value>);

}  // namespace tern::nfa
