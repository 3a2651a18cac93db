// Event parsing: a hand-written validating scanner first, simdjson's DOM API for
// every line it does not vouch for, plus the RFC 3339 time reader.
//
// IMPLEMENTATION
// Every line must be fully validated (UTF-8, structure, every literal and number):
// payloads are copied verbatim into alerts, so a line with a broken member that no
// pattern reads must still be rejected (spec §10), not emitted as invalid JSON later.
//
// Fast path (ParseFast): the line is copied into out.payload (which keeps it anyway)
// with kJsonScanPadding bytes of spare capacity; there its terminating zero byte is
// the scanner's sentinel. JsonScanner (engine/json_scan.h) checks the whole line in
// one pass, in place, and records the values of the distinct top-level names the
// schema paths start with (first occurrence wins), which become the slots. It only ever
// accepts, and only lines that simdjson's DOM parser accepts with the same values;
// ParseFast also declines when a slot reads or walks into an array or object (the
// DOM path re-serialises them), when the schema has the whole-event slot, and when
// the time field is missing or not a valid time. Declining may leave the line in
// out.payload. Strings without escapes are not copied: their slots point into
// out.payload; strings with escapes are unescaped into out.strings, reserved first.
//
// Fallback (ParseDom): the line is copied into a reused buffer followed by
// SIMDJSON_PADDING zero bytes and parsed by one reused dom::parser, which decides
// it and words every error ("not JSON", ...), so the error texts are those of the
// DOM path alone and the two paths cannot disagree on a line the scanner refuses.
// Numbers outside simdjson's range (integers beyond int64/uint64, overflows to
// infinity), which the scanner refuses too, are valid JSON: ParseWithWideNumbers
// (engine/wide_numbers.h) parses them, as doubles.
// The root object is scanned once for the same root names; the rest of each path
// is walked from there: members by name, array elements by index (negative from
// the end). Strings, and arrays/objects re-serialised in minified form, are
// appended to out.strings; their Values record the offset first and get their
// pointers once every string is in place, so growing out.strings is safe.
//
// Why: with DOM alone, simdjson's two stages were about a third of a replay's time
// (bench/parse_bench.cc had On-Demand at 10-25% less, but it only validates what it
// visits). On the W1 card lines (89 bytes, two fields read) tern_parse_only went
// from about 2.5M to about 4.3M lines/s on a quiet 2-core VM (callgrind: 2,318 to
// 1,510 instructions per line, of which the scan is ~900); the DOM fallback never
// triggers on the W1 and W4 bench files. Scanning in place in the payload, string
// slots pointing into it, a hashed and predicted key lookup, an AVX2 quote bitmap
// and a newline bitmap in LineReader then took it to 1,180 per line (replay: 2,086
// to 1,731 per event); the one-compare number paths, quotes closed without looking
// the opening one up again and ParseFast inlined, to about 1,055 (replay: 1,587).
// tests/unit/engine/json_scan_test.cc compares both paths on random and mutated
// lines (TERN_JSON_DIFF_ITERATIONS).
#include "engine/event_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/byte_size.h"
#include "base/json_writer.h"
#include "base/utf8.h"
#include "engine/json_scan.h"
#include "engine/wide_numbers.h"

namespace tern::engine {

namespace dom = simdjson::dom;

namespace {

static_assert(simdjson::SIMDJSON_PADDING >= kJsonScanPadding);

constexpr size_t kMaxShownTime = 40;  // bytes of a bad time value quoted in the error

// One open array or object while serialising a nested value.
struct Frame {
  bool is_object = false;
  dom::array::iterator array_it, array_end;
  dom::object::iterator object_it, object_end;
};

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Minified JSON text of `value`, iteratively (nesting is as deep as the input's).
void AppendJson(std::string& out, dom::element value, std::vector<Frame>& stack) {
  stack.clear();
  while (true) {
    bool descended = false;
    switch (value.type()) {
      case dom::element_type::ARRAY: {
        dom::array array = value.get_array().value_unsafe();
        out += '[';
        Frame frame;
        frame.array_it = array.begin();
        frame.array_end = array.end();
        if (frame.array_it != frame.array_end) {
          value = *frame.array_it;
          stack.push_back(frame);
          descended = true;
        } else {
          out += ']';
        }
        break;
      }
      case dom::element_type::OBJECT: {
        dom::object object = value.get_object().value_unsafe();
        out += '{';
        Frame frame;
        frame.is_object = true;
        frame.object_it = object.begin();
        frame.object_end = object.end();
        if (frame.object_it != frame.object_end) {
          json::AppendString(out, frame.object_it.key());
          out += ':';
          value = frame.object_it.value();
          stack.push_back(frame);
          descended = true;
        } else {
          out += '}';
        }
        break;
      }
      case dom::element_type::STRING:
        json::AppendString(out, value.get_string().value_unsafe());
        break;
      case dom::element_type::INT64:
        json::AppendInt(out, value.get_int64().value_unsafe());
        break;
      case dom::element_type::UINT64:
        AppendUint(out, value.get_uint64().value_unsafe());
        break;
      case dom::element_type::DOUBLE:
        json::AppendDouble(out, value.get_double().value_unsafe());
        break;
      case dom::element_type::BOOL:
        out += value.get_bool().value_unsafe() ? "true" : "false";
        break;
      case dom::element_type::NULL_VALUE:
        out += "null";
        break;
    }
    if (descended) continue;
    // Close finished containers until one has a next element.
    while (true) {
      if (stack.empty()) return;
      Frame& top = stack.back();
      if (top.is_object) {
        ++top.object_it;
        if (top.object_it != top.object_end) {
          out += ',';
          json::AppendString(out, top.object_it.key());
          out += ':';
          value = top.object_it.value();
          break;
        }
        out += '}';
      } else {
        ++top.array_it;
        if (top.array_it != top.array_end) {
          out += ',';
          value = *top.array_it;
          break;
        }
        out += ']';
      }
      stack.pop_back();
    }
  }
}

// The element that segments[first..] name below `start`, or false when one is absent.
bool Walk(dom::element start, const std::vector<nfa::FieldSegment>& segments, size_t first,
          dom::element* out) {
  dom::element current = start;
  for (size_t i = first; i < segments.size(); ++i) {
    const nfa::FieldSegment& segment = segments[i];
    if (!segment.name.empty()) {
      dom::object object;
      if (current.get_object().get(object) != simdjson::SUCCESS) return false;
      if (object.at_key(segment.name).get(current) != simdjson::SUCCESS) return false;
    } else {
      dom::array array;
      if (current.get_array().get(array) != simdjson::SUCCESS) return false;
      int64_t index = segment.index;
      if (index < 0) index += static_cast<int64_t>(array.size());
      if (index < 0) return false;
      if (array.at(static_cast<size_t>(index)).get(current) != simdjson::SUCCESS) return false;
    }
  }
  *out = current;
  return true;
}

bool ReadDigits(std::string_view s, size_t pos, size_t n, int* value) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *value = v;
  return true;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

enum class TimeRead { kOk, kInvalid, kOutOfRange };

// An integral double's time (a fraction is not a time; out of range includes infinity).
TimeRead TimeOfDouble(double d, int64_t* ts) {
  if (std::trunc(d) != d && !std::isinf(d)) return TimeRead::kInvalid;
  // [-2^63, 2^63): the doubles that convert to int64 (2^63 itself does not).
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
    return TimeRead::kOutOfRange;
  }
  *ts = static_cast<int64_t>(d);
  return TimeRead::kOk;
}

// Event time of a time-field value.
TimeRead ReadTime(dom::element value, int64_t* ts) {
  switch (value.type()) {
    case dom::element_type::INT64:
      *ts = value.get_int64().value_unsafe();
      return TimeRead::kOk;
    case dom::element_type::UINT64:
      return TimeRead::kOutOfRange;  // above INT64_MAX
    case dom::element_type::DOUBLE:
      // An integral double (1.7e12) is still an integer number of milliseconds.
      return TimeOfDouble(value.get_double().value_unsafe(), ts);
    case dom::element_type::STRING:
      if (!ParseRfc3339(value.get_string().value_unsafe(), ts)) return TimeRead::kInvalid;
      return TimeRead::kOk;
    default:
      return TimeRead::kInvalid;  // bool, null, array, object
  }
}

}  // namespace

bool ParseRfc3339(std::string_view s, int64_t* epoch_ms) {
  // YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|(+|-)HH:MM)
  int year, month, day, hour, minute, second;
  if (!ReadDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' ||
      !ReadDigits(s, 5, 2, &month) || s[7] != '-' || !ReadDigits(s, 8, 2, &day) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ReadDigits(s, 11, 2, &hour) ||
      s[13] != ':' || !ReadDigits(s, 14, 2, &minute) || s[16] != ':' ||
      !ReadDigits(s, 17, 2, &second)) {
    return false;
  }
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return false;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  if (pos >= s.size()) return false;
  int64_t offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!ReadDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ReadDigits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) return false;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  int64_t days = DaysFromCivil(year, month, day);
  int64_t seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - offset_minutes * 60;
  *epoch_ms = seconds * 1000 + millis;
  return true;
}

// The distinct top-level member names the schema paths (and the time field) start
// with, so the root object is scanned once instead of once per slot.
struct RootName {
  std::string name;
  dom::element value;  // per event: the member's value when found
  bool found = false;  // per event
};

// Impl::slot_roots values besides an index into Impl::roots.
constexpr uint32_t kNoRoot = 0xFFFFFFFFu;      // the path starts with an index: never present
constexpr uint32_t kWholeEvent = 0xFFFFFFFEu;  // the path has no segments

struct EventParser::Impl {
  dom::parser parser;
  std::unique_ptr<char[]> buffer;  // line copy + SIMDJSON_PADDING zero bytes
  size_t buffer_capacity = 0;      // bytes in buffer
  std::vector<Frame> json_stack;   // scratch for AppendJson
  std::vector<NumberPatch> number_patches;  // scratch for RewriteWideNumbers
  std::vector<RootName> roots;     // [0] is the time field
  std::vector<uint32_t> slot_roots;  // per schema slot: index into roots, kNoRoot or
                                     // kWholeEvent; rebuilt when the schema grows
  std::vector<uint8_t> slot_walks;   // per schema slot: 1 when the path has more than
                                     // one segment (walked below its root member)
  std::vector<uint32_t> slot_members;  // per schema slot, for ParseFast: the root whose
                                       // value the slot is, or kNoRoot (missing: an
                                       // index path, or a path below a scalar)
  JsonScanner scanner;               // looks for the root names
  bool fast_ok = false;              // the fast path can serve this schema
  bool force_dom = false;            // TestingOnlyForceDom
  uint64_t dom_fallbacks = 0;        // lines handed to ParseDom

  void Plan(const nfa::Schema& schema, const std::string& time_field) {
    roots.clear();
    slot_roots.clear();
    slot_walks.clear();
    roots.push_back({time_field, {}, false});
    fast_ok = true;
    for (uint32_t s = 0; s < schema.size(); ++s) {
      const auto& segments = schema.path(s).segments;
      slot_walks.push_back(segments.size() > 1);
      if (segments.empty()) {
        slot_roots.push_back(kWholeEvent);
        fast_ok = false;  // the whole event is re-serialised, as only ParseDom does
      } else if (segments[0].name.empty()) {
        slot_roots.push_back(kNoRoot);
      } else {
        uint32_t r = 0;
        while (r < roots.size() && roots[r].name != segments[0].name) ++r;
        if (r == roots.size()) roots.push_back({segments[0].name, {}, false});
        slot_roots.push_back(r);
      }
    }
    slot_members.clear();
    for (uint32_t s = 0; s < schema.size(); ++s) {
      // A path below a scalar is absent, as Walk finds; below a container ParseFast
      // declines.
      slot_members.push_back(slot_walks[s] || slot_roots[s] == kWholeEvent ? kNoRoot
                                                                           : slot_roots[s]);
    }
    std::vector<std::string> names;
    for (const RootName& root : roots) names.push_back(root.name);
    scanner.SetNames(std::move(names));
  }

  // Finds every root name in one pass over the members (first occurrence wins).
  void ScanRoot(dom::object object) {
    for (RootName& root : roots) root.found = false;
    size_t missing = roots.size();
    for (auto it = object.begin(), end = object.end(); it != end && missing > 0; ++it) {
      const size_t length = it.key_length();
      const char* key = it.key_c_str();
      for (RootName& root : roots) {
        if (!root.found && root.name.size() == length &&
            std::memcmp(root.name.data(), key, length) == 0) {
          root.found = true;
          root.value = it.value();
          --missing;
          break;
        }
      }
    }
  }

  // The value of schema slot `s` in the event scanned last, or false when absent.
  bool Find(uint32_t s, dom::element root, const nfa::Schema& schema, dom::element* value) const {
    const uint32_t r = slot_roots[s];
    if (r == kWholeEvent) {
      *value = root;
      return true;
    }
    if (r == kNoRoot || !roots[r].found) return false;
    return Walk(roots[r].value, schema.path(s).segments, 1, value);
  }

  bool ParseFast(std::string_view line, nfa::StoredEvent& out);
  bool ParseDom(std::string_view line, const nfa::Schema& schema, const std::string& time_field,
                nfa::StoredEvent& out, std::string* error);
};

// Fills `out` when JsonScanner accepts the line and every slot is a scalar or absent;
// false leaves the line to ParseDom (`out.payload` may then hold a copy of it).
// Inlined into Parse(), its only caller: one call and register save less per line
// (callgrind, W1: 21 instructions).
__attribute__((always_inline)) inline bool EventParser::Impl::ParseFast(std::string_view line,
                                                                        nfa::StoredEvent& out) {
  // The line is scanned where it will stay: in the payload, whose terminating zero
  // byte and spare capacity are the scanner's padding.
  std::string& payload = out.payload;
  if (payload.capacity() < line.size() + kJsonScanPadding) {
    payload.reserve(line.size() + kJsonScanPadding);
  }
  payload.assign(line);
  if (!scanner.Scan(payload.data(), payload.size())) return false;
  // Every root but the time field is there for some slot, which reads the member or
  // walks into it: an array or object is left to ParseDom, which re-serialises or
  // walks it. So are all time-field problems, for their messages.
  if (scanner.found_container() || !scanner.found(0)) return false;
  int64_t ts;
  const JsonMember& time = scanner.member(0);
  switch (time.kind) {
    case JsonKind::kInt:
      ts = time.i;
      break;
    case JsonKind::kDouble:
      if (TimeOfDouble(time.d, &ts) != TimeRead::kOk) return false;
      break;
    case JsonKind::kString:
      if (time.escaped || !ParseRfc3339(std::string_view(time.begin, time.size), &ts)) {
        return false;
      }
      break;
    default:
      return false;
  }

  out.id.ts = ts;
  out.strings.clear();
  // Unescaped strings are appended without reallocating, so pointers into it hold.
  if (scanner.escaped_bytes() > 0) out.strings.reserve(scanner.escaped_bytes());
  const size_t slot_count = slot_members.size();
  out.slots.resize(slot_count);
  nfa::Value* slots = out.slots.data();
  const uint32_t* members_of = slot_members.data();
  for (size_t s = 0; s < slot_count; ++s) {
    nfa::Value& slot = slots[s];
    const uint32_t r = members_of[s];
    if (r == kNoRoot || !scanner.found(r)) {
      slot = nfa::Value::Missing();
      continue;
    }
    const JsonMember& member = scanner.member(r);
    switch (member.kind) {
      case JsonKind::kNull:
        slot = nfa::Value::Null();
        break;
      case JsonKind::kTrue:
      case JsonKind::kFalse:
        slot = nfa::Value::Bool(member.kind == JsonKind::kTrue);
        break;
      case JsonKind::kInt:
        slot = nfa::Value::Int(member.i);
        break;
      case JsonKind::kDouble:
        slot = nfa::Value::Double(member.d);
        break;
      case JsonKind::kString:
        if (!member.escaped) {
          // The body as it is in the payload, which lives as long as the slots.
          slot = nfa::Value::String(std::string_view(member.begin, member.size));
        } else {
          const size_t begin = out.strings.size();
          AppendUnescaped(out.strings, std::string_view(member.begin, member.size));
          slot = nfa::Value::String(
              std::string_view(out.strings.data() + begin, out.strings.size() - begin));
        }
        break;
      case JsonKind::kArray:
      case JsonKind::kObject:
        break;  // refused above
    }
  }
  return true;
}

EventParser::EventParser(const nfa::Schema& schema, std::string time_field)
    : schema_(schema), time_field_(std::move(time_field)), impl_(std::make_unique<Impl>()) {}

EventParser::~EventParser() = default;

void EventParser::TestingOnlyForceDom(bool on) { impl_->force_dom = on; }

uint64_t EventParser::dom_fallbacks() const { return impl_->dom_fallbacks; }

void EventParser::set_max_event_size(uint64_t bytes) {
  max_event_size_ = std::clamp<uint64_t>(bytes, 1, kMaxEventSizeLimit);
}

std::string EventTooLarge(uint64_t size, uint64_t limit) {
  return "event too large: " + std::to_string(size) + " bytes, over the limit of " +
         FormatByteSize(limit);
}

bool EventParser::Parse(std::string_view line, nfa::StoredEvent& out, std::string* error) {
  if (line.size() > max_event_size_) {
    if (error != nullptr) *error = EventTooLarge(line.size(), max_event_size_);
    return false;
  }
  Impl& impl = *impl_;
  if (impl.slot_roots.size() != schema_.size() || impl.roots.empty()) {
    impl.Plan(schema_, time_field_);
  }
  if (impl.fast_ok && !impl.force_dom && impl.ParseFast(line, out)) return true;
  ++impl.dom_fallbacks;
  return impl.ParseDom(line, schema_, time_field_, out, error);
}

// Out of line, so that Parse() stays a thin wrapper around ParseFast().
__attribute__((noinline)) bool EventParser::Impl::ParseDom(std::string_view line,
                                                           const nfa::Schema& schema,
                                                           const std::string& time_field,
                                                           nfa::StoredEvent& out,
                                                           std::string* error) {
  const size_t needed = line.size() + simdjson::SIMDJSON_PADDING;
  if (needed > buffer_capacity) {
    size_t capacity = buffer_capacity == 0 ? 4096 : buffer_capacity;
    while (capacity < needed) capacity *= 2;
    buffer = std::make_unique_for_overwrite<char[]>(capacity);
    buffer_capacity = capacity;
  }
  std::memcpy(buffer.get(), line.data(), line.size());
  std::memset(buffer.get() + line.size(), 0, simdjson::SIMDJSON_PADDING);
  auto fail = [error](std::string_view reason) {
    if (error != nullptr) error->assign(reason);
    return false;
  };

  dom::element root;
  if (ParseWithWideNumbers(parser, buffer.get(), line.size(), number_patches, &root) !=
      simdjson::SUCCESS) {
    return fail("not JSON");
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) return fail("not an object");
  ScanRoot(object);
  if (!roots[0].found) {
    if (error != nullptr) *error = "missing time field '" + time_field + "'";
    return false;
  }
  dom::element time_value = roots[0].value;
  const TimeRead time_read = ReadTime(time_value, &out.id.ts);
  if (time_read != TimeRead::kOk) {
    if (error != nullptr) {
      std::string shown;
      if (time_value.is_string()) {
        shown = time_value.get_string().value_unsafe();
      } else if (time_value.is_double() && std::isinf(time_value.get_double().value_unsafe())) {
        shown = time_value.get_double().value_unsafe() > 0 ? "inf" : "-inf";
      } else {
        AppendJson(shown, time_value, json_stack);
      }
      if (shown.size() > kMaxShownTime) {
        shown = std::string(Utf8Prefix(shown, kMaxShownTime)) + "...";
      }
      *error = "invalid time '" + shown + "'";
      if (time_read == TimeRead::kOutOfRange) *error += ": out of range (int64 milliseconds)";
    }
    return false;
  }

  out.payload.assign(line);
  out.strings.clear();
  const uint32_t slot_count = schema.size();
  out.slots.resize(slot_count);
  bool has_text = false;
  for (uint32_t s = 0; s < slot_count; ++s) {
    nfa::Value& slot = out.slots[s];
    dom::element value;
    if (!Find(s, root, schema, &value)) {
      slot = nfa::Value::Missing();
      continue;
    }
    switch (value.type()) {
      case dom::element_type::NULL_VALUE:
        slot = nfa::Value::Null();
        break;
      case dom::element_type::BOOL:
        slot = nfa::Value::Bool(value.get_bool().value_unsafe());
        break;
      case dom::element_type::INT64:
        slot = nfa::Value::Int(value.get_int64().value_unsafe());
        break;
      case dom::element_type::UINT64:
        slot = nfa::Value::Double(static_cast<double>(value.get_uint64().value_unsafe()));
        break;
      case dom::element_type::DOUBLE:
        slot = nfa::Value::Double(value.get_double().value_unsafe());
        break;
      case dom::element_type::STRING: {
        // Record the offset now; the pointer is set once out.strings stops growing.
        std::string_view text = value.get_string().value_unsafe();
        slot = nfa::Value::Int(static_cast<int64_t>(out.strings.size()));
        slot.kind = nfa::ValueKind::kString;
        slot.len = static_cast<uint32_t>(text.size());
        out.strings.append(text);
        has_text = true;
        break;
      }
      case dom::element_type::ARRAY:
      case dom::element_type::OBJECT: {
        size_t begin = out.strings.size();
        AppendJson(out.strings, value, json_stack);
        slot = nfa::Value::Int(static_cast<int64_t>(begin));
        slot.kind = nfa::ValueKind::kJson;
        slot.len = static_cast<uint32_t>(out.strings.size() - begin);
        has_text = true;
        break;
      }
    }
  }
  if (has_text) {
    const char* base = out.strings.data();
    for (nfa::Value& slot : out.slots) {
      if (slot.kind == nfa::ValueKind::kString || slot.kind == nfa::ValueKind::kJson) {
        slot.str = base + slot.i;
      }
    }
  }
  return true;
}

}  // namespace tern::engine
