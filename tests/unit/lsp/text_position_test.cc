// Tests lsp/text_position.h: UTF-16 and UTF-8 positions, line ends, clamping.
#include "lsp/text_position.h"

#include <doctest/doctest.h>

#include <string>

namespace tern::lsp {

TEST_CASE("positions: ASCII and every line end") {
  const std::string text = "ab\ncd\r\nef\rgh";
  LineIndex lines(text, PositionEncoding::kUtf16);
  CHECK(lines.line_count() == 4);
  CHECK(lines.ToOffset({0, 0}) == 0);
  CHECK(lines.ToOffset({1, 1}) == 4);
  CHECK(lines.ToOffset({2, 0}) == 7);
  CHECK(lines.ToOffset({3, 2}) == 12);
  CHECK(lines.ToOffset({1, 99}) == 5);   // past the end of the line: its end, before "\r\n"
  CHECK(lines.ToOffset({99, 0}) == 12);  // past the last line: the end of the text
  for (uint32_t l = 0; l < 6; ++l) {
    for (uint32_t c = 0; c < 5; ++c) CHECK(OffsetIn(text, PositionEncoding::kUtf16, {l, c}) == lines.ToOffset({l, c}));
  }
  CHECK(lines.ToPosition(4).line == 1);
  CHECK(lines.ToPosition(4).character == 1);
  CHECK(lines.ToPosition(6).line == 1);       // between \r and \n: the end of line 1
  CHECK(lines.ToPosition(6).character == 2);
  CHECK(lines.ToPosition(10).line == 3);
  CHECK(lines.ToPosition(10).character == 0);
  CHECK(lines.ToPosition(1000).line == 3);
  CHECK(lines.ToPosition(1000).character == 2);
}

TEST_CASE("positions: UTF-16 code units for multi-byte characters") {
  // "é" is 2 bytes / 1 unit, "€" 3 bytes / 1 unit, "😀" 4 bytes / 2 units (a surrogate pair).
  const std::string text = "# é€😀x\nwhere";
  LineIndex utf16(text, PositionEncoding::kUtf16);
  const uint32_t x = static_cast<uint32_t>(text.find('x'));
  CHECK(x == 2 + 2 + 3 + 4);
  CHECK(utf16.ToPosition(x).character == 6);  // '#', ' ', é, €, 😀 (2)
  CHECK(utf16.ToOffset({0, 6}) == x);
  CHECK(utf16.ToOffset({0, 5}) == x - 4);     // inside the surrogate pair: its start
  CHECK(utf16.ToPosition(x - 2).character == 4);  // inside 😀's bytes: its start
  CHECK(utf16.ToOffset({1, 2}) == x + 4);  // "x", "\n", "wh"

  LineIndex utf8(text, PositionEncoding::kUtf8);
  CHECK(utf8.ToPosition(x).character == x);
  CHECK(utf8.ToOffset({0, x}) == x);
  CHECK(utf8.ToOffset({0, 3}) == 2);  // inside é: its start
}

TEST_CASE("positions: every offset of long mixed lines agrees with a plain walk") {
  // Pieces of 1 to 4 bytes and every line end, long enough to cross many checkpoints.
  const char* pieces[] = {"a", "é", "€", "😀", "\n", "\r\n", "\r", " "};
  std::string text;
  uint32_t seed = 7;
  for (int i = 0; i < 5000; ++i) {
    seed = seed * 1103515245 + 12345;
    const uint32_t r = (seed >> 16) % 100;
    text += pieces[r < 3 ? 4 + r % 3 : 1 + r % 3 + (r % 5 == 0 ? 3 : 0) - (r % 7 == 0 ? 1 : 0)];
  }
  for (PositionEncoding enc : {PositionEncoding::kUtf16, PositionEncoding::kUtf8}) {
    LineIndex lines(text, enc);
    uint32_t line = 0, column = 0;
    for (size_t i = 0; i <= text.size();) {
      const Position p = lines.ToPosition(static_cast<uint32_t>(i));
      CHECK(p.line == line);
      CHECK(p.character == column);
      CHECK(lines.ToOffset(p) == i);
      CHECK(OffsetIn(text, enc, p) == i);
      if (i == text.size()) break;
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
        // Between "\r" and "\n": still the end of the line.
        const Position q = lines.ToPosition(static_cast<uint32_t>(i + 1));
        CHECK(q.line == line);
        CHECK(q.character == column);
        ++line;
        column = 0;
        i += 2;
        continue;
      }
      if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) {
        ++line;
        column = 0;
        ++i;
        continue;
      }
      const unsigned char c = static_cast<unsigned char>(text[i]);
      const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      column += enc == PositionEncoding::kUtf8 ? static_cast<uint32_t>(n) : (n == 4 ? 2 : 1);
      i += n;
    }
  }
}

}  // namespace tern::lsp
