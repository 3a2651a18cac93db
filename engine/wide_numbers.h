// simdjson's DOM parser refuses numbers it cannot store (NUMBER_ERROR): integers outside
// int64 and uint64, and numbers whose nearest double is infinite. RFC 8259 leaves the
// range of numbers to the implementation, so they are valid JSON; this parses them too.
// Tested by tests/unit/engine/event_parser_test.cc (and the fuzzers in tests/fuzz/).
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tern::engine {

// One number the DOM parser was given as a placeholder.
struct NumberPatch {
  uint32_t ordinal = 0;  // among all the numbers of the text, in text order
  double value = 0;      // what it stands for
};

// Parses text[0, size) with `parser` (text must be followed by SIMDJSON_PADDING writable
// bytes). On NUMBER_ERROR, each number the DOM parser refuses is rewritten in place
// as the placeholder 0.0 (text is changed), the text parsed again and each placeholder's
// value set on the DOM's tape to the number's meaning: an integer outside int64 and
// uint64 is the nearest double, a number beyond the doubles is +-infinity (numbers too
// small are 0 or a denormal already). `patches` is scratch, reused between calls.
simdjson::error_code ParseWithWideNumbers(simdjson::dom::parser& parser, char* text, size_t size,
                                          std::vector<NumberPatch>& patches,
                                          simdjson::dom::element* root);

}  // namespace tern::engine
