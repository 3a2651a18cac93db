// Tests for base/: source locations, diagnostic rendering, JSON writing.
#include <doctest/doctest.h>

#include "base/diagnostic.h"
#include "base/duration.h"
#include "base/json_writer.h"
#include "base/source.h"
#include "base/spelling.h"

namespace tern {
namespace {

TEST_CASE("SourceFile locates offsets as 1-based line and column") {
  SourceFile f("x.tern", "ab\ncd\n\nef");
  CHECK(f.Locate(0).line == 1);
  CHECK(f.Locate(0).col == 1);
  CHECK(f.Locate(4).line == 2);
  CHECK(f.Locate(4).col == 2);
  CHECK(f.Locate(7).line == 4);
  CHECK(f.Line(2) == "cd");
  CHECK(f.Line(3) == "");
  CHECK(f.Line(4) == "ef");
  CHECK(f.Line(9) == "");
}

TEST_CASE("Render shows file:line:col, the line and a caret under the span") {
  SourceFile f("fraud.tern", "pattern p {\n  begin a where amout > 10\n}\n");
  Diagnostic d{Severity::kError, "E0203", "unknown field 'amout'", &f, {28, 33}, "did you mean 'amount'?"};
  CHECK(Render(d) ==
        "fraud.tern:2:17: error[E0203]: unknown field 'amout'\n"
        " 2 |   begin a where amout > 10\n"
        "   |                 ^~~~~ did you mean 'amount'?\n");
}

TEST_CASE("DiagnosticSink counts errors only") {
  DiagnosticSink sink;
  sink.Add({Severity::kWarning, "", "w", nullptr, {}, ""});
  CHECK_FALSE(sink.has_errors());
  sink.Error(nullptr, {}, "E1", "e");
  CHECK(sink.error_count() == 1);
}

TEST_CASE("JSON writer escapes strings and keeps doubles doubles") {
  std::string out;
  json::AppendString(out, "a\"b\\c\n\x01");
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\"");
  out.clear();
  json::AppendDouble(out, 3.0);
  CHECK(out == "3.0");
  out.clear();
  json::AppendDouble(out, 0.1);
  CHECK(out == "0.1");
  out.clear();
  json::AppendDouble(out, 1e300 * 1e10);
  CHECK(out == "null");
  out.clear();
  json::AppendInt(out, -42);
  CHECK(out == "-42");
}

TEST_CASE("ParseDuration takes an integer and a unit, or a bare 0") {
  int64_t ms = -1;
  CHECK(ParseDuration("0", &ms));
  CHECK(ms == 0);
  CHECK(ParseDuration("250ms", &ms));
  CHECK(ms == 250);
  CHECK(ParseDuration("2s", &ms));
  CHECK(ms == 2000);
  CHECK(ParseDuration("1d", &ms));
  CHECK(ms == 86400000);
  CHECK_FALSE(ParseDuration("5", &ms));
  CHECK_FALSE(ParseDuration("1.5s", &ms));
  CHECK_FALSE(ParseDuration("-1s", &ms));
  CHECK_FALSE(ParseDuration("9223372036854775808ms", &ms));
}

TEST_CASE("FormatDuration uses the largest unit that divides, and ParseDuration reads it back") {
  CHECK(FormatDuration(0) == "0ms");
  CHECK(FormatDuration(1500) == "1500ms");
  CHECK(FormatDuration(90000) == "90s");
  CHECK(FormatDuration(int64_t{365} * 86400000) == "365d");
  CHECK(FormatDuration(INT64_MAX) == "9223372036854775807ms");
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{60000}, int64_t{7200000}, int64_t{86400000} * 3, INT64_MAX}) {
    int64_t back = -1;
    CHECK(ParseDuration(FormatDuration(ms), &back));
    CHECK(back == ms);
  }
}

TEST_CASE("ClosestMatch suggests plausible typos only") {
  constexpr std::string_view kNames[] = {"amount", "count", "kafka.brokers", "log.level"};
  CHECK(EditDistance("amout", "amount") == 1);
  CHECK(ClosestMatch("amout", kNames) == "amount");
  CHECK(ClosestMatch("kafka.broker", kNames) == "kafka.brokers");
  CHECK(ClosestMatch("log.levle", kNames) == "log.level");
  CHECK(ClosestMatch("x", kNames) == "");
  CHECK(ClosestMatch("metrics", kNames) == "");
}

}  // namespace
}  // namespace tern
