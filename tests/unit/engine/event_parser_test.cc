// Tests of engine::EventParser (values, paths, time, malformed lines) and ParseRfc3339.
#include "engine/event_parser.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "nfa/event.h"
#include "nfa/schema.h"

namespace tern::engine {
namespace {

using nfa::FieldSegment;
using nfa::Value;
using nfa::ValueKind;

FieldSegment Name(std::string name) { return {std::move(name), 0}; }
FieldSegment Index(int64_t index) { return {"", index}; }

// One-line rendering of a slot value, for table-style expectations.
std::string Show(const Value& v) {
  switch (v.kind) {
    case ValueKind::kMissing: return "missing";
    case ValueKind::kNull: return "null";
    case ValueKind::kBool: return v.b ? "true" : "false";
    case ValueKind::kInt: return "int " + std::to_string(v.i);
    case ValueKind::kDouble: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "double %.17g", v.d);
      return buf;
    }
    case ValueKind::kString: return "string " + std::string(v.as_string());
    case ValueKind::kJson: return "json " + std::string(v.as_string());
    default: return "other";
  }
}

// Parses `line` with the given paths and returns Show() of every slot, after checking
// that the DOM path alone finds the same.
std::vector<std::string> Slots(const std::vector<std::vector<FieldSegment>>& paths,
                               std::string_view line) {
  nfa::Schema schema;
  for (const auto& p : paths) schema.Intern(p);
  std::vector<std::string> shown[2];
  for (bool force_dom : {false, true}) {
    EventParser parser(schema, "ts");
    parser.TestingOnlyForceDom(force_dom);
    nfa::StoredEvent event;
    std::string error;
    bool ok = parser.Parse(line, event, &error);
    REQUIRE_MESSAGE(ok, error);
    for (const Value& v : event.slots) shown[force_dom].push_back(Show(v));
  }
  CHECK(shown[0] == shown[1]);
  return shown[0];
}

std::string ErrorOf(std::string_view line, std::string time_field = "ts") {
  nfa::Schema schema;
  schema.Intern({Name("a")});
  EventParser parser(schema, std::move(time_field));
  nfa::StoredEvent event;
  std::string error;
  if (parser.Parse(line, event, &error)) return "ok";
  return error;
}

TEST_CASE("every value kind") {
  auto shown = Slots({{Name("n")}, {Name("t")}, {Name("f")}, {Name("i")}, {Name("neg")},
                      {Name("big")}, {Name("d")}, {Name("e")}, {Name("s")}, {Name("esc")},
                      {Name("arr")}, {Name("obj")}, {Name("absent")}, {Name("one")}},
                     R"({"ts":1,"n":null,"t":true,"f":false,"i":42,"neg":-7,)"
                     R"("big":18446744073709551615,"d":2.5,"e":1e3,"s":"plain",)"
                     R"("esc":"a\"b\\c\u00e9\n","arr":[1, "x" , {"k" : null}],)"
                     R"("obj":{ "a" : [ ] , "b" : { } },"one":1.0})");
  std::vector<std::string> want = {"null",
                                   "true",
                                   "false",
                                   "int 42",
                                   "int -7",
                                   "double 1.8446744073709552e+19",
                                   "double 2.5",
                                   "double 1000",
                                   "string plain",
                                   "string a\"b\\c\xC3\xA9\n",
                                   R"(json [1,"x",{"k":null}])",
                                   R"(json {"a":[],"b":{}})",
                                   "missing",
                                   "double 1"};
  CHECK(shown == want);
}

TEST_CASE("nested paths and indices") {
  const char* line =
      R"({"ts":1,"a":{"b":{"c":"deep"}},"xs":[10,20,30],"rows":[{"id":"r0"},{"id":"r1"}],"s":"str"})";
  auto shown = Slots({{Name("a"), Name("b"), Name("c")},
                      {Name("xs"), Index(0)},
                      {Name("xs"), Index(2)},
                      {Name("xs"), Index(-1)},
                      {Name("xs"), Index(-3)},
                      {Name("xs"), Index(3)},
                      {Name("xs"), Index(-4)},
                      {Name("rows"), Index(-1), Name("id")},
                      {Name("rows"), Index(0), Name("nope")},
                      {Name("a"), Index(0)},         // index into an object
                      {Name("xs"), Name("b")},       // name into an array
                      {Name("s"), Name("x")},        // through a scalar
                      {Index(0)},                    // index into the event
                      {Name("a"), Name("b")}},
                     line);
  std::vector<std::string> want = {"string deep", "int 10",  "int 30",  "int 30",
                                   "int 10",      "missing", "missing", "string r1",
                                   "missing",     "missing", "missing", "missing",
                                   "missing",     R"(json {"c":"deep"})"};
  CHECK(shown == want);
}

TEST_CASE("the first of duplicate members wins") {
  auto shown = Slots({{Name("k")}, {Name("o"), Name("k")}},
                     R"({"k":1,"ts":5,"k":2,"o":{"k":"a","k":"b"},"ts":6})");
  CHECK(shown == std::vector<std::string>{"int 1", "string a"});
}

TEST_CASE("a path without segments is the whole event") {
  auto shown = Slots({{}}, R"({"ts": 1, "x": [true]})");
  CHECK(shown == std::vector<std::string>{R"(json {"ts":1,"x":[true]})"});
}

TEST_CASE("payload, time and string storage") {
  nfa::Schema schema;
  for (int i = 0; i < 40; ++i) {
    std::string name = "f";  // (not "f" + ...: GCC 12 raises a false -Wrestrict there)
    name += std::to_string(i);
    schema.Intern({Name(name)});
  }
  for (bool force_dom : {false, true}) {
    CAPTURE(force_dom);
    EventParser parser(schema, "ts");
    parser.TestingOnlyForceDom(force_dom);
    nfa::StoredEvent event;
    // Every third value has escapes: the fast path unescapes those into
    // event.strings and points into event.payload for the others.
    std::string line = R"(  {"ts":1714564800000)";
    std::vector<std::string> expected;
    for (int i = 0; i < 40; ++i) {
      const std::string body = "value-" + std::to_string(i) + "-" +
                               std::string(static_cast<size_t>(i), 'x');
      line += ",\"f" + std::to_string(i) + "\":\"" + body + (i % 3 == 0 ? "\\n\\\"" : "") +
              "\"";
      expected.push_back(body + (i % 3 == 0 ? "\n\"" : ""));
    }
    line += "}  ";
    std::string error;
    REQUIRE(parser.Parse(line, event, &error));
    CHECK(parser.dom_fallbacks() == (force_dom ? 1u : 0u));
    CHECK(event.payload == line);
    CHECK(event.id.ts == 1714564800000);
    REQUIRE(event.slots.size() == 40);
    // Every string points into event.strings (even though it grew while parsing) or
    // into event.payload.
    auto inside = [](const Value& v, const std::string& storage) {
      return v.str >= storage.data() && v.str + v.len <= storage.data() + storage.size();
    };
    for (int i = 0; i < 40; ++i) {
      const Value& v = event.slots[static_cast<size_t>(i)];
      REQUIRE(v.kind == ValueKind::kString);
      CHECK((inside(v, event.strings) || inside(v, event.payload)));
      CHECK(v.as_string() == expected[static_cast<size_t>(i)]);
    }

    // The record is reused: a smaller event replaces everything.
    REQUIRE(parser.Parse(R"({"ts":"2024-05-01T12:00:00.250Z","f3":7})", event, &error));
    CHECK(event.id.ts == 1714564800250);
    CHECK(event.payload == R"({"ts":"2024-05-01T12:00:00.250Z","f3":7})");
    CHECK(Show(event.slots[3]) == "int 7");
    CHECK(Show(event.slots[0]) == "missing");
  }
}

TEST_CASE("slots added to the schema later are picked up") {
  nfa::Schema schema;
  schema.Intern({Name("a")});
  EventParser parser(schema, "ts");
  nfa::StoredEvent event;
  std::string error;
  REQUIRE(parser.Parse(R"({"ts":1,"a":1,"b":2})", event, &error));
  CHECK(event.slots.size() == 1);
  schema.Intern({Name("b")});
  REQUIRE(parser.Parse(R"({"ts":1,"a":1,"b":2})", event, &error));
  REQUIRE(event.slots.size() == 2);
  CHECK(Show(event.slots[1]) == "int 2");
}

TEST_CASE("event time") {
  struct Case {
    const char* line;
    int64_t ts;
  };
  const Case cases[] = {
      {R"({"ts":0})", 0},
      {R"({"ts":-5})", -5},
      {R"({"ts":1714564800000})", 1714564800000},
      {R"({"ts":1000.0})", 1000},
      {R"({"ts":1.7e12})", 1700000000000},
      {R"({"ts":"2024-05-01T12:00:00Z"})", 1714564800000},
  };
  for (const Case& c : cases) {
    nfa::Schema schema;
    EventParser parser(schema, "ts");
    nfa::StoredEvent event;
    std::string error;
    CAPTURE(c.line);
    REQUIRE(parser.Parse(c.line, event, &error));
    CHECK(event.id.ts == c.ts);
  }
}

TEST_CASE("a custom time field") {
  nfa::Schema schema;
  EventParser parser(schema, "time");
  nfa::StoredEvent event;
  std::string error;
  REQUIRE(parser.Parse(R"({"ts":1,"time":"1970-01-01T00:00:01Z"})", event, &error));
  CHECK(event.id.ts == 1000);
  CHECK(ErrorOf(R"({"ts":1})", "time") == "missing time field 'time'");
}

TEST_CASE("malformed lines") {
  struct Case {
    const char* line;
    const char* error;
  };
  const Case cases[] = {
      {"not json", "not JSON"},
      {R"({"ts":1)", "not JSON"},
      {R"({"ts":1} {"ts":2})", "not JSON"},
      {R"({"ts":1,"x":tru})", "not JSON"},  // in a member no pattern reads
      {R"({"ts":1,"x":[1 2]})", "not JSON"},
      {R"({"ts":1,"x":"bad \x escape"})", "not JSON"},
      {"{\"ts\":1,\"x\":\"\xFF\"}", "not JSON"},  // invalid UTF-8
      {"[]", "not an object"},
      {"42", "not an object"},
      {R"("text")", "not an object"},
      {"null", "not an object"},
      {"{}", "missing time field 'ts'"},
      {R"({"t":1,"a":2})", "missing time field 'ts'"},
      {R"({"a":{"ts":1}})", "missing time field 'ts'"},
      {R"({"ts":1.5})", "invalid time '1.5'"},
      {R"({"ts":true})", "invalid time 'true'"},
      {R"({"ts":null})", "invalid time 'null'"},
      {R"({"ts":[1]})", "invalid time '[1]'"},
      {R"({"ts":{"ms":1}})", "invalid time '{\"ms\":1}'"},
      {R"({"ts":18446744073709551615})",
       "invalid time '18446744073709551615': out of range (int64 milliseconds)"},
      {R"({"ts":"yesterday"})", "invalid time 'yesterday'"},
      {R"({"ts":"2024-05-01"})", "invalid time '2024-05-01'"},
      {R"({"ts":"sometime in the spring of twenty twenty-four, after lunch"})",
       "invalid time 'sometime in the spring of twenty twenty-...'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    CHECK(ErrorOf(c.line) == c.error);
  }
}

TEST_CASE("numbers out of int64 and double range are values, not malformed lines") {
  // RFC 8259 leaves the range of numbers to the implementation: integers outside int64
  // are the nearest double, numbers beyond the doubles are infinite, numbers too small
  // are 0 (or a denormal). Before, each of these lines was "not JSON".
  const std::string huge_integer = std::string(400, '9');
  auto shown = Slots({{Name("a")}, {Name("b")}, {Name("c")}, {Name("d")}, {Name("e")},
                      {Name("f")}, {Name("g")}, {Name("h")}, {Name("i")}, {Name("j")},
                      {Name("k")}, {Name("l")}, {Name("m")}},
                     R"({"ts":1,"a":1e400,"b":-1e400,"c":-9223372036854775809,)"
                     R"("d":18446744073709551616,"e":123456789012345678901234567890,)"
                     R"("f":1e-400,"g":-1e-400,"h":4.9e-324,"i":1.8e308,"j":-)" +
                         huge_integer +
                         R"(,"k":[1E+999,-9223372036854775809,{"x":-2e308}],"l":0.0000e99999,)"
                         R"("m":9223372036854775807})");
  CHECK(shown == std::vector<std::string>{
                     "double inf", "double -inf", "double -9.2233720368547758e+18",
                     "double 1.8446744073709552e+19", "double 1.2345678901234568e+29",
                     "double 0", "double -0", "double 4.9406564584124654e-324", "double inf",
                     "double -inf",
                     // Re-serialised containers write an infinite number as null, as alerts do.
                     R"(json [null,-9223372036854775808.0,{"x":null}])", "double 0",
                     "int 9223372036854775807"});
  // Where no slot reads them, they are just valid JSON.
  CHECK(ErrorOf(R"({"ts":2,"v":-9223372036854775809})") == "ok");
  CHECK(ErrorOf(R"({"ts":1,"v":1e400})") == "ok");
  CHECK(ErrorOf(R"({"ts":1,"v":"1e400 in a string","w":[-1e400]})") == "ok");
  // Malformed numbers stay malformed, whatever else the line holds.
  CHECK(ErrorOf(R"({"ts":1,"v":1e400,"w":01})") == "not JSON");
  CHECK(ErrorOf(R"({"ts":1,"v":1e400,"w":1.})") == "not JSON");
  CHECK(ErrorOf(R"({"ts":1,"v":1e400,"w":-})") == "not JSON");
  CHECK(ErrorOf(R"({"ts":1,"v":1e400,"w":1e})") == "not JSON");
  CHECK(ErrorOf(R"({"ts":1,"v":1e400,"w":tru})") == "not JSON");
  CHECK(ErrorOf(R"({"ts":1,"v":1e400 "w":1})") == "not JSON");
  CHECK(ErrorOf(R"({"ts":1,"v":--1e400})") == "not JSON");
}

TEST_CASE("event times out of range are malformed with a reason") {
  const std::string range = ": out of range (int64 milliseconds)";
  struct Case {
    std::string line;
    std::string error;  // "ok" when accepted
  };
  const Case cases[] = {
      {R"({"ts":1e400})", "invalid time 'inf'" + range},
      {R"({"ts":-1e400})", "invalid time '-inf'" + range},
      {R"({"ts":-9223372036854775809})", "ok"},  // read as a double: -2^63, INT64_MIN
      {R"({"ts":-9223372036854775808})", "ok"},
      {R"({"ts":9223372036854775807})", "ok"},
      {R"({"ts":9223372036854775808})", "invalid time '9223372036854775808'" + range},
      {R"({"ts":9.2e18})", "ok"},
      {R"({"ts":9.3e18})", "invalid time '9.3e+18'" + range},
      {R"({"ts":-9.3e18})", "invalid time '-9.3e+18'" + range},
      {R"({"ts":9223372036854775808.0})", "invalid time '9223372036854775808.0'" + range},
      {R"({"ts":253402300800000})", "ok"},
      {R"({"ts":-62167219200001})", "ok"},
      {R"({"ts":2.534023008e14})", "ok"},
      {R"({"ts":1e-400})", "ok"},  // 0
      {R"({"ts":"9999-12-31T23:59:59.999Z"})", "ok"},
      {R"({"ts":"0000-01-01T00:00:00Z"})", "ok"},
      {R"({"ts":"9999-12-31T23:59:59-01:00"})", "ok"},
      {R"({"ts":"0000-01-01T00:00:00+00:01"})", "ok"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    for (bool force_dom : {false, true}) {
      nfa::Schema schema;
      EventParser parser(schema, "ts");
      parser.TestingOnlyForceDom(force_dom);
      nfa::StoredEvent event;
      std::string error = "ok";
      parser.Parse(c.line, event, &error);
      CHECK(error == c.error);
    }
  }
}

TEST_CASE("error texts stay valid UTF-8 when a quoted time is cut") {
  // 39 ASCII bytes, then two-byte characters: the 40-byte cut falls inside one.
  const std::string time = std::string(39, 'x') + "Ã©Ã©Ã©";
  const std::string error = ErrorOf(R"({"ts":")" + time + R"("})");
  CHECK(error == "invalid time '" + std::string(39, 'x') + "...'");
  CHECK(IsValidUtf8(error));
}

TEST_CASE("events over the size limit") {
  nfa::Schema schema;
  schema.Intern({Name("a")});
  EventParser parser(schema, "ts");
  CHECK(parser.max_event_size() == kDefaultMaxEventSize);
  nfa::StoredEvent event;
  std::string error;
  const std::string line = R"({"ts":1,"a":")" + std::string(kDefaultMaxEventSize, 'x') + R"("})";
  CHECK_FALSE(parser.Parse(line, event, &error));
  CHECK(error == "event too large: " + std::to_string(line.size()) +
                     " bytes, over the limit of 1MiB");
  parser.set_max_event_size(20);
  CHECK(parser.Parse(R"({"ts":1,"a":"12345"})", event, &error));  // 20 bytes
  CHECK_FALSE(parser.Parse(R"({"ts":1,"a":"123456"})", event, &error));
  CHECK(error == "event too large: 21 bytes, over the limit of 20B");
  parser.set_max_event_size(uint64_t{1} << 40);
  CHECK(parser.max_event_size() == kMaxEventSizeLimit);
}

TEST_CASE("a null error pointer is allowed") {
  nfa::Schema schema;
  EventParser parser(schema, "ts");
  nfa::StoredEvent event;
  CHECK_FALSE(parser.Parse("nope", event, nullptr));
  CHECK_FALSE(parser.Parse(R"({"ts":"x"})", event, nullptr));
}

TEST_CASE("RFC 3339") {
  struct Case {
    const char* text;
    bool ok;
    int64_t ms;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", true, 0},
      {"2024-05-01T12:00:00Z", true, 1714564800000},
      {"2024-05-01t12:00:00z", true, 1714564800000},
      {"2024-05-01 12:00:00Z", true, 1714564800000},
      {"2024-05-01T12:00:00.5Z", true, 1714564800500},
      {"2024-05-01T12:00:00.25Z", true, 1714564800250},
      {"2024-05-01T12:00:00.123456789Z", true, 1714564800123},
      {"2024-05-01T12:00:00+02:00", true, 1714557600000},
      {"2024-05-01T12:00:00-05:30", true, 1714584600000},
      {"2024-05-01T12:00:00.750+00:00", true, 1714564800750},
      {"2000-02-29T00:00:00Z", true, 951782400000},
      {"1969-12-31T23:59:59Z", true, -1000},
      {"1969-12-31T23:59:59.999Z", true, -1},
      {"0001-01-01T00:00:00Z", true, -62135596800000},
      {"9999-12-31T23:59:59Z", true, 253402300799000},
      {"2016-12-31T23:59:60Z", true, 1483228800000},  // leap second: the next second
      {"2024-05-01T12:00:00", false, 0},               // no offset
      {"2024-05-01", false, 0},
      {"2024-05-01T12:00Z", false, 0},
      {"2024-05-01T12:00:00.Z", false, 0},
      {"2024-05-01T12:00:00+0200", false, 0},
      {"2024-05-01T12:00:00+24:00", false, 0},
      {"2024-05-01T12:00:00+02:60", false, 0},
      {"2024-05-01T12:00:00Zjunk", false, 0},
      {"2024-13-01T00:00:00Z", false, 0},
      {"2024-00-01T00:00:00Z", false, 0},
      {"2023-02-29T00:00:00Z", false, 0},
      {"2024-04-31T00:00:00Z", false, 0},
      {"2024-05-00T00:00:00Z", false, 0},
      {"2024-05-01T24:00:00Z", false, 0},
      {"2024-05-01T12:60:00Z", false, 0},
      {"2024-05-01T12:00:61Z", false, 0},
      {"2024-05-01X12:00:00Z", false, 0},
      {"+2024-05-01T12:00:00Z", false, 0},
      {"", false, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    int64_t ms = 42;
    CHECK(ParseRfc3339(c.text, &ms) == c.ok);
    if (c.ok) CHECK(ms == c.ms);
  }
}

}  // namespace
}  // namespace tern::engine
