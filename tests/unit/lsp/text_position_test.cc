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

TEST_CASE("positions: offsets asked in order along one long line") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "é ";
  LineIndex lines(text, PositionEncoding::kUtf16);
  for (uint32_t i = 0; i < 1000; ++i) CHECK(lines.ToPosition(i * 3).character == i * 2);
  CHECK(lines.ToPosition(3).character == 2);  // going back still works
}

}  // namespace tern::lsp
