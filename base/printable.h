// Showing bytes that came from users (file names, source lines, input text) on a
// terminal or in a line-based report without letting them act: control bytes become
// `\xNN`, so a NUL cannot cut a line, a newline cannot start a fake one and an escape
// sequence cannot recolour or move the cursor.
// Tested by tests/unit/base/printable_test.cc.
#pragma once

#include <string>
#include <string_view>

namespace tern {

// A C0 control byte (NUL to 0x1f) or DEL, except tab: what Printable escapes.
inline bool IsControlByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte < 0x20 && c != '\t') || byte == 0x7f;
}

// `text` with every control byte as `\xNN` (four columns); other bytes, UTF-8
// included, unchanged.
std::string Printable(std::string_view text);

}  // namespace tern
