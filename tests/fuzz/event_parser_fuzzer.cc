// libFuzzer target: engine::EventParser as a whole. The first input byte picks a schema
// (paths, time field, size limit), the rest is the line. Checks:
// - the fast path (JsonScanner) and the DOM path alone (TestingOnlyForceDom) agree on
//   accept or reject, the error text, the time, the payload and every slot;
// - an accepted event's strings point
//   into its own storage; an error text is valid UTF-8;
// - the DOM path's reading of numbers outside simdjson's range (engine/wide_numbers.h)
//   against an independent model: the line with every number token replaced by 0 must
//   parse exactly when the line does (given valid number tokens), and the numbers found,
//   in order, must be the tokens read by strtod (int64/uint64 when they fit);
// - ParseRfc3339 on the line's bytes stays within the years 0000-9999 give or take a day
//   (four-digit years and an offset under a day).
// Build and run as tests/fuzz/CMakeLists.txt shows.
#include <simdjson.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/utf8.h"
#include "engine/event_parser.h"
#include "engine/wide_numbers.h"
#include "nfa/event.h"
#include "nfa/schema.h"

namespace {

namespace dom = simdjson::dom;
using tern::nfa::FieldSegment;
using tern::nfa::Value;
using tern::nfa::ValueKind;

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

FieldSegment Name(std::string name) { return {std::move(name), 0}; }
FieldSegment Index(int64_t index) { return {"", index}; }

struct Setup {
  std::vector<std::vector<FieldSegment>> paths;
  std::string time_field;
  uint64_t max_event_size;
};

struct Pair {
  tern::nfa::Schema schema;
  std::unique_ptr<tern::engine::EventParser> fast, dom;
};

std::vector<std::unique_ptr<Pair>>& Pairs() {
  static std::vector<std::unique_ptr<Pair>> pairs = [] {
    const uint64_t big = tern::engine::kDefaultMaxEventSize;
    const std::vector<Setup> setups = {
        {{{Name("a")}, {Name("b")}, {Name("s")}, {Name("n")}}, "ts", big},
        {{{Name("a")}, {Name("a/b")}, {Name("q\"")}, {Name("\xC3\xA9")}, {Name("k\n")},
          {Name("merchant")}, {Name("merchant_id")}, {Name("")}, {Name("ts")}},
         "ts", big},
        {{{Name("o"), Name("a")}, {Name("xs"), Index(0)}, {Name("xs"), Index(-1)}, {Name("k")},
          {Index(0)}, {Name("s"), Name("x")}},
         "ts", big},
        {{{Name("a")}, {Name("time")}, {Name("xs")}}, "time", big},
        {{{Name("b")}, {}}, "ts", big},  // the whole event: always the DOM path
        {{}, "ts", big},                 // the time field alone
        {{{Name("a")}, {Name("s")}}, "ts", 64},
    };
    std::vector<std::unique_ptr<Pair>> out;
    for (const Setup& setup : setups) {
      auto pair = std::make_unique<Pair>();
      for (const auto& path : setup.paths) pair->schema.Intern(path);
      pair->fast = std::make_unique<tern::engine::EventParser>(pair->schema, setup.time_field);
      pair->dom = std::make_unique<tern::engine::EventParser>(pair->schema, setup.time_field);
      pair->dom->TestingOnlyForceDom(true);
      pair->fast->set_max_event_size(setup.max_event_size);
      pair->dom->set_max_event_size(setup.max_event_size);
      out.push_back(std::move(pair));
    }
    return out;
  }();
  return pairs;
}

bool SameValue(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kBool: return a.b == b.b;
    case ValueKind::kInt: return a.i == b.i;
    case ValueKind::kDouble: return (a.d == b.d && std::signbit(a.d) == std::signbit(b.d)) ||
                                    (std::isnan(a.d) && std::isnan(b.d));
    case ValueKind::kString:
    case ValueKind::kJson: return a.as_string() == b.as_string();
    default: return true;
  }
}

bool Inside(std::string_view part, const std::string& whole) {
  return part.empty() || (part.data() >= whole.data() &&
                          part.data() + part.size() <= whole.data() + whole.size());
}

void CheckEvent(const tern::nfa::StoredEvent& e, std::string_view line) {
  Require(e.payload == line);
  for (const Value& v : e.slots) {
    if (v.kind == ValueKind::kString || v.kind == ValueKind::kJson) {
      Require(Inside(v.as_string(), e.payload) || Inside(v.as_string(), e.strings));
    }
  }
}

// --- The independent model of numbers outside simdjson's range.

struct Token {
  bool valid = false;   // a JSON number
  bool integer = false;
  std::string text;
};

bool ValidNumber(std::string_view t, bool* integer) {
  size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  const size_t start = i;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  if (i == start || (i - start > 1 && t[start] == '0')) return false;
  *integer = true;
  if (i < t.size() && t[i] == '.') {
    const size_t f = ++i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == f) return false;
    *integer = false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    const size_t x = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == x) return false;
    *integer = false;
  }
  return i == t.size();
}

// The number tokens outside strings (a maximal run of number characters starting at
// '-' or a digit), and the text with each replaced by "0".
void Tokens(std::string_view text, std::vector<Token>* tokens, std::string* zeroed) {
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      zeroed->push_back(c);
      ++i;
      if (c == '\\' && i < text.size()) {
        zeroed->push_back(text[i++]);
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) {
      in_string = c == '"';
      zeroed->push_back(c);
      ++i;
      continue;
    }
    size_t end = i + 1;
    while (end < text.size() && ((text[end] >= '0' && text[end] <= '9') || text[end] == '.' ||
                                 text[end] == 'e' || text[end] == 'E' || text[end] == '+' ||
                                 text[end] == '-')) {
      ++end;
    }
    Token t;
    t.text.assign(text.substr(i, end - i));
    t.valid = ValidNumber(t.text, &t.integer);
    tokens->push_back(std::move(t));
    zeroed->push_back('0');
    i = end;
  }
}

// The numbers of a DOM in document order.
void Numbers(dom::element e, std::vector<dom::element>* out, int depth) {
  switch (e.type()) {
    // (Named: a range-for over value_unsafe() would iterate a destroyed temporary.)
    case dom::element_type::ARRAY: {
      const dom::array array = e.get_array().value_unsafe();
      for (dom::element child : array) Numbers(child, out, depth + 1);
      break;
    }
    case dom::element_type::OBJECT: {
      const dom::object object = e.get_object().value_unsafe();
      for (dom::key_value_pair kv : object) Numbers(kv.value, out, depth + 1);
      break;
    }
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      out->push_back(e);
      break;
    default:
      break;
  }
}

void CheckNumberExpected(const Token& t, dom::element e) {
  if (t.integer) {
    int64_t i;
    const auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), i);
    if (r.ec == std::errc()) {
      Require(e.type() == dom::element_type::INT64 && e.get_int64().value_unsafe() == i);
      return;
    }
    uint64_t u;
    const auto ru = std::from_chars(t.text.data(), t.text.data() + t.text.size(), u);
    if (ru.ec == std::errc()) {
      Require(e.type() == dom::element_type::UINT64 && e.get_uint64().value_unsafe() == u);
      return;
    }
  }
  const double want = std::strtod(t.text.c_str(), nullptr);
  Require(e.type() == dom::element_type::DOUBLE);
  const double got = e.get_double().value_unsafe();
  Require(got == want && std::signbit(got) == std::signbit(want));
}

void CheckWideNumbers(std::string_view line) {
  static dom::parser parser, structure_parser;
  static std::vector<tern::engine::NumberPatch> patches;
  std::vector<Token> tokens;
  std::string zeroed;
  Tokens(line, &tokens, &zeroed);
  bool tokens_valid = true;
  for (const Token& t : tokens) tokens_valid &= t.valid;
  simdjson::padded_string zeroed_padded(zeroed);
  dom::element ignored;
  const bool structure_ok = structure_parser.parse(zeroed_padded).get(ignored) == simdjson::SUCCESS;

  simdjson::padded_string text(line);
  dom::element root;
  const bool ok = tern::engine::ParseWithWideNumbers(parser, text.data(), text.size(), patches,
                                                     &root) == simdjson::SUCCESS;
  Require(ok == (structure_ok && tokens_valid));
  if (!ok) return;
  std::vector<dom::element> numbers;
  Numbers(root, &numbers, 0);
  Require(numbers.size() == tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) CheckNumberExpected(tokens[i], numbers[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::vector<std::unique_ptr<Pair>>& pairs = Pairs();
  Pair& pair = *pairs[data[0] % pairs.size()];
  const std::string_view line(reinterpret_cast<const char*>(data + 1), size - 1);

  static tern::nfa::StoredEvent fast_event, dom_event;
  std::string fast_error = "(none)", dom_error = "(none)";
  const bool fast_ok = pair.fast->Parse(line, fast_event, &fast_error);
  const bool dom_ok = pair.dom->Parse(line, dom_event, &dom_error);
  Require(fast_ok == dom_ok);
  if (fast_ok) {
    Require(fast_event.id.ts == dom_event.id.ts);
    CheckEvent(fast_event, line);
    CheckEvent(dom_event, line);
    Require(fast_event.slots.size() == pair.schema.size());
    Require(dom_event.slots.size() == pair.schema.size());
    for (size_t s = 0; s < fast_event.slots.size(); ++s) {
      Require(SameValue(fast_event.slots[s], dom_event.slots[s]));
    }
  } else {
    Require(fast_error == dom_error);
    Require(!fast_error.empty() && tern::IsValidUtf8(fast_error));
  }

  if (line.size() <= tern::engine::kDefaultMaxEventSize) CheckWideNumbers(line);

  int64_t ms = 0;
  if (tern::engine::ParseRfc3339(line, &ms)) {
    constexpr int64_t kDay = 86400000;
    constexpr int64_t kYear0 = -62167219200000;     // 0000-01-01T00:00:00Z
    constexpr int64_t kYear10000 = 253402300800000;  // 10000-01-01T00:00:00Z
    Require(ms >= kYear0 - kDay && ms < kYear10000 + kDay);
  }
  return 0;
}
