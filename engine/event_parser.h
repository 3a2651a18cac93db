// Turns one JSON Lines input line into a StoredEvent: the payload as received,
// the event time (spec §8) and one nfa::Value per schema slot.
// Tested by tests/unit/engine/event_parser_test.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nfa/event.h"
#include "nfa/schema.h"

namespace tern::engine {

// Event times an event may have: any int64 count of epoch milliseconds. The engine's
// window arithmetic is exact at both ends (engine_test "event times at the ends of
// int64"); a number beyond them (9223372036854775808, 1e400) is out of range.
inline constexpr int64_t kMinEventTimeMs = INT64_MIN;
inline constexpr int64_t kMaxEventTimeMs = INT64_MAX;

// The default largest event, in bytes: Kafka's default message.max.bytes (1 MiB).
inline constexpr uint64_t kDefaultMaxEventSize = uint64_t{1} << 20;
// The largest limit that may be set: sizes inside a parsed event are 32-bit.
inline constexpr uint64_t kMaxEventSizeLimit = uint64_t{1} << 30;

// One per input (replay file, Kafka partition reader). Lines are validated and read
// by a hand-written scanner (engine/json_scan.h); the lines it does not vouch for go
// to simdjson's DOM parser, which decides them and words every error. Holds both and
// a padded copy buffer, all reused, so a warm parser does not allocate per event;
// the record's own payload/strings/slots capacities are reused too.
// The schema must outlive the parser; slots added to it later are picked up.
// Thread: the thread reading the input. Locks: none.
class EventParser {
 public:
  // `time_field` is a top-level member name of the events (default "ts").
  EventParser(const nfa::Schema& schema, std::string time_field);
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Fills out.payload, out.id.ts, out.strings and out.slots (resized to schema.size();
  // strings point into out.payload or out.strings, arrays/objects into out.strings).
  // Leaves the other members alone. On a malformed line returns false, sets *error
  // (if not null) to a short reason: "event too large: ...", "not JSON", "not an
  // object", "missing time field 'ts'", "invalid time '...'" (with ": out of range
  // (years 0000 to 9999)" for a time outside kMinEventTimeMs..kMaxEventTimeMs), and may
  // have overwritten out.payload. Error texts are valid UTF-8.
  //
  // Numbers are read per RFC 8259, which leaves their range to the implementation:
  // integers in int64 are integers; every other number is the nearest double, which is
  // +-infinity for one beyond the double range and 0 (or a denormal) for one too small.
  bool Parse(std::string_view line, nfa::StoredEvent& out, std::string* error);

  // Lines longer than this are refused ("event too large"); at most kMaxEventSizeLimit.
  void set_max_event_size(uint64_t bytes);
  uint64_t max_event_size() const { return max_event_size_; }

  const std::string& time_field() const { return time_field_; }

  // Lines the fast scanner did not take and simdjson's DOM parser parsed (or
  // rejected): every malformed line, and valid ones outside the scanner's subset.
  uint64_t dom_fallbacks() const;

  // Parse every line with the DOM path alone (the reference in differential tests).
  void TestingOnlyForceDom(bool on);

 private:
  struct Impl;
  const nfa::Schema& schema_;
  std::string time_field_;
  uint64_t max_event_size_ = kDefaultMaxEventSize;  // 1..kMaxEventSizeLimit
  std::unique_ptr<Impl> impl_;
};

// The error of an event of `size` bytes over the limit: "event too large: 5000000 bytes,
// over the limit of 1MiB".
std::string EventTooLarge(uint64_t size, uint64_t limit);

// RFC 3339 date-time (`2024-05-01T12:00:00Z`, `...12:00:00.250+02:00`; `t`, `z` and a
// space separator are accepted) to epoch milliseconds; fractions below 1 ms are
// truncated. Returns false on anything else, including impossible dates.
bool ParseRfc3339(std::string_view text, int64_t* epoch_ms);

}  // namespace tern::engine
