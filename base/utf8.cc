// UTF-8 checks (RFC 3629 section 4's table of well-formed byte sequences).
// Tested by tests/unit/base/json_writer_test.cc.
#include "base/utf8.h"

namespace tern {

namespace {

bool InRange(unsigned char c, unsigned char low, unsigned char high) {
  return c >= low && c <= high;
}

}  // namespace

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto at = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = at(0);
  if (c < 0x80) return 1;
  const size_t left = s.size() - i;
  if (InRange(c, 0xC2, 0xDF)) return left >= 2 && InRange(at(1), 0x80, 0xBF) ? 2 : 0;
  if (InRange(c, 0xE0, 0xEF)) {
    // E0: no overlong forms (A0..BF); ED: no surrogates (80..9F).
    const unsigned char low = c == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = c == 0xED ? 0x9F : 0xBF;
    return left >= 3 && InRange(at(1), low, high) && InRange(at(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (InRange(c, 0xF0, 0xF4)) {
    // F0: no overlong forms (90..BF); F4: nothing above U+10FFFF (80..8F).
    const unsigned char low = c == 0xF0 ? 0x90 : 0x80;
    const unsigned char high = c == 0xF4 ? 0x8F : 0xBF;
    return left >= 4 && InRange(at(1), low, high) && InRange(at(2), 0x80, 0xBF) &&
                   InRange(at(3), 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;  // 80..BF alone, C0, C1, F5..FF
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string_view Utf8Prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  // A sequence is at most 4 bytes: only the last 3 bytes before the cut can start one
  // that the cut splits.
  size_t cut = max;
  for (size_t back = 1; back <= 3 && back <= max; ++back) {
    const size_t start = max - back;
    const unsigned char c = static_cast<unsigned char>(s[start]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    const size_t n = Utf8SequenceLength(s, start);
    if (n > back) cut = start;  // well-formed, but the cut goes through it
    break;
  }
  return s.substr(0, cut);
}

}  // namespace tern
