// libFuzzer target: engine::JsonScanner against simdjson's DOM parser on the same bytes.
// The scanner only ever accepts (engine/json_scan.h): every line it accepts must be a
// JSON object that the DOM parser accepts, with the same value for every wanted member
// (the first of duplicates); every line it refuses must be refused by the DOM parser,
// or not be an object, or lie outside the scanner's documented subset (a \u escape,
// nesting deeper than kMaxDepth, a number outside its digit and exponent limits).
// Run with TERN_JSON_SCAN_NO_AVX2=1 too, for the SSE2 quote pass. Build and run as
// tests/fuzz/CMakeLists.txt shows.
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/json_scan.h"

namespace {

namespace dom = simdjson::dom;
using tern::engine::JsonKind;
using tern::engine::JsonMember;
using tern::engine::JsonScanner;

void Require(bool ok) {
  if (!ok) __builtin_trap();
}

// The names looked for, among the ones the seeds and the dictionary use; escaped
// forms of them in the input must find them too.
const std::vector<std::string>& Names() {
  static const std::vector<std::string> names = {"ts", "a", "b", "s", "x", "k", "o", "xs",
                                                 "merchant", "merchant_id", "\xC3\xA9", ""};
  return names;
}

// The DOM value of root member `name` (the first of duplicates), or false.
bool FirstMember(dom::object object, const std::string& name, dom::element* value) {
  for (dom::key_value_pair member : object) {
    if (member.key == name) {
      *value = member.value;
      return true;
    }
  }
  return false;
}

bool SameDouble(double a, double b) { return a == b && std::signbit(a) == std::signbit(b); }

// The scanner's value of a member against the DOM's.
void CheckMember(const JsonMember& m, dom::element v) {
  switch (m.kind) {
    case JsonKind::kNull:
      Require(v.type() == dom::element_type::NULL_VALUE);
      break;
    case JsonKind::kTrue:
    case JsonKind::kFalse:
      Require(v.type() == dom::element_type::BOOL &&
              v.get_bool().value_unsafe() == (m.kind == JsonKind::kTrue));
      break;
    case JsonKind::kInt:
      Require(v.type() == dom::element_type::INT64 && v.get_int64().value_unsafe() == m.i);
      break;
    case JsonKind::kDouble:
      // simdjson's UINT64 (above INT64_MAX) is a double for the scanner, as in EventParser.
      if (v.type() == dom::element_type::UINT64) {
        Require(static_cast<double>(v.get_uint64().value_unsafe()) == m.d);
      } else {
        Require(v.type() == dom::element_type::DOUBLE &&
                SameDouble(v.get_double().value_unsafe(), m.d));
      }
      break;
    case JsonKind::kString: {
      Require(v.type() == dom::element_type::STRING);
      std::string body;
      const std::string_view raw(m.begin, m.size);
      if (m.escaped) {
        tern::engine::AppendUnescaped(body, raw);
      } else {
        Require(raw.find('\\') == std::string_view::npos);
        body.assign(raw);
      }
      Require(body == v.get_string().value_unsafe());
      break;
    }
    case JsonKind::kArray:
      Require(v.type() == dom::element_type::ARRAY && m.size >= 2 && *m.begin == '[');
      break;
    case JsonKind::kObject:
      Require(v.type() == dom::element_type::OBJECT && m.size >= 2 && *m.begin == '{');
      break;
  }
}

// The deepest nesting of arrays/objects below the root object (a root member that is
// an array or object is at depth 1).
int Depth(dom::element root) {
  struct Item {
    dom::element e;
    int depth;
  };
  std::vector<Item> stack = {{root, 0}};
  int deepest = 0;
  while (!stack.empty()) {
    Item item = stack.back();
    stack.pop_back();
    if (item.e.is_array() || item.e.is_object()) deepest = std::max(deepest, item.depth);
    // (Named: a range-for over value_unsafe() would iterate a destroyed temporary.)
    if (item.e.is_array()) {
      const dom::array array = item.e.get_array().value_unsafe();
      for (dom::element child : array) stack.push_back({child, item.depth + 1});
    } else if (item.e.is_object()) {
      const dom::object object = item.e.get_object().value_unsafe();
      for (dom::key_value_pair kv : object) stack.push_back({kv.value, item.depth + 1});
    }
  }
  return deepest;
}

// True when the text (a valid JSON document) holds something outside the scanner's
// subset: a \u escape, or a number with more than 19 digits, an integer below INT64_MIN,
// or a decimal exponent (after the fraction) outside [-307, 289].
bool OutsideSubset(std::string_view text) {
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        if (text[i + 1] == 'u') return true;
        i += 2;
        continue;
      }
      in_string = c != '"';
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      ++i;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) {
      ++i;
      continue;
    }
    const bool negative = c == '-';
    i += negative;
    std::string digits;
    int fraction = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') digits += text[i++];
    const bool integer = !(i < text.size() && (text[i] == '.' || text[i] == 'e' || text[i] == 'E'));
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        digits += text[i++];
        ++fraction;
      }
    }
    long long exponent = 0;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
      ++i;
      const bool minus = text[i] == '-';
      if (text[i] == '-' || text[i] == '+') ++i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (exponent < 1000000) exponent = exponent * 10 + (text[i] - '0');
        ++i;
      }
      if (minus) exponent = -exponent;
    }
    if (digits.size() > 19) return true;
    if (integer) {
      if (negative && digits.size() == 19 && digits > "9223372036854775808") return true;
    } else if (exponent - fraction < -307 || exponent - fraction > 289) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static JsonScanner* scanner = [] {
    auto* s = new JsonScanner();
    s->SetNames(Names());
    return s;
  }();
  static dom::parser parser;

  // The scanner's padding: a zero byte, then bytes that would change the outcome if
  // they were read as part of the line.
  std::string buffer(reinterpret_cast<const char*>(data), size);
  buffer += '\0';
  while (buffer.size() < size + tern::engine::kJsonScanPadding + 1) buffer += "\"\\9}]\x01 ,:";
  const bool accepted = scanner->Scan(buffer.data(), size);

  simdjson::padded_string padded(reinterpret_cast<const char*>(data), size);
  dom::element root;
  const bool dom_ok = parser.parse(padded).get(root) == simdjson::SUCCESS;
  const bool is_object = dom_ok && root.is_object();

  if (!accepted) {
    // Refused: fine if the DOM refuses too or the line is outside the subset.
    if (is_object) {
      Require(OutsideSubset(std::string_view(reinterpret_cast<const char*>(data), size)) ||
              Depth(root) > JsonScanner::kMaxDepth);
    }
    return 0;
  }
  Require(is_object);
  const dom::object object = root.get_object().value_unsafe();
  bool container = false;
  size_t escaped = 0;
  for (size_t i = 0; i < Names().size(); ++i) {
    dom::element value;
    const bool present = FirstMember(object, Names()[i], &value);
    Require(scanner->found(i) == present);
    if (!present) continue;
    const JsonMember& m = scanner->member(i);
    // (begin and size are set for strings, numbers and containers only.)
    if (m.kind != JsonKind::kNull && m.kind != JsonKind::kTrue && m.kind != JsonKind::kFalse) {
      Require(m.begin >= buffer.data() && m.begin + m.size <= buffer.data() + size);
    }
    CheckMember(m, value);
    container |= m.kind == JsonKind::kArray || m.kind == JsonKind::kObject;
    if (m.kind == JsonKind::kString && m.escaped) escaped += m.size;
  }
  Require(scanner->found_container() == container);
  Require(scanner->escaped_bytes() == escaped);
  return 0;
}
