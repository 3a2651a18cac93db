// Printable and the rendering of user bytes in diagnostics: control bytes as \xNN.
#include <doctest/doctest.h>

#include <string>

#include "base/diagnostic.h"
#include "base/printable.h"

namespace tern {
namespace {

TEST_CASE("Printable escapes control bytes and keeps the rest") {
  using namespace std::string_literals;
  CHECK(Printable("plain text, tab\tkept, caf\xc3\xa9") == "plain text, tab\tkept, caf\xc3\xa9");
  CHECK(Printable("a\0b"s) == "a\\x00b");
  CHECK(Printable("line\nbreak\r") == "line\\x0abreak\\x0d");
  CHECK(Printable("\x1b[31mred\x7f") == "\\x1b[31mred\\x7f");
  CHECK(Printable("") == "");
}


TEST_CASE("Render escapes control bytes of the file name, message and line, caret aligned") {
  using namespace std::string_literals;
  // Line 2 starts at byte 12; its \x01 is byte 21 (column 10), its `x` byte 23 (column 12).
  SourceFile f("odd\x1bname.tern", "pattern p {\n  begin a\x01 x where\n}\n"s);
  Diagnostic d{Severity::kError, "E0101", "unexpected 'x\x1b'", &f, {23, 24}, "help\x07"};
  CHECK(Render(d) ==
        "odd\\x1bname.tern:2:12: error[E0101]: unexpected 'x\\x1b'\n"
        " 2 |   begin a\\x01 x where\n"
        "   |" + std::string(15, ' ') + "^ help\\x07\n");
  // A span over a control byte covers its four columns.
  Diagnostic over{Severity::kError, "", "here", &f, {21, 23}, ""};
  CHECK(Render(over) ==
        "odd\\x1bname.tern:2:10: error: here\n"
        " 2 |   begin a\\x01 x where\n"
        "   |" + std::string(10, ' ') + "^~~~~\n");
}

}  // namespace
}  // namespace tern
