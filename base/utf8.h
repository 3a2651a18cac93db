// UTF-8 validity (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF),
// for writers that must turn arbitrary input bytes into valid JSON text.
// Tested by tests/unit/base/json_writer_test.cc.
#pragma once

#include <cstddef>
#include <string_view>

namespace tern {

// The length (1-4) of the well-formed UTF-8 sequence starting at s[i], or 0 when the
// bytes there are not one (a stray continuation byte, a cut or overlong sequence, a
// surrogate, a byte that never occurs in UTF-8). i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

// The longest prefix of s of at most `max` bytes that does not end inside a well-formed
// sequence: cutting text to a size limit there keeps valid UTF-8 valid.
std::string_view Utf8Prefix(std::string_view s, size_t max);

}  // namespace tern
