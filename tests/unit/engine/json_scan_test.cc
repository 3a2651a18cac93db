// Tests of engine::JsonScanner (what it accepts, the values it reads) and a
// differential test of EventParser's fast path against its simdjson DOM path on
// random and mutated lines.
#include "engine/json_scan.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/event_parser.h"
#include "nfa/event.h"
#include "nfa/schema.h"

namespace tern::engine {
namespace {

using nfa::FieldSegment;
using nfa::Value;
using nfa::ValueKind;

// Scans `line` looking for the given names, copied with the padding the scanner asks
// for: a zero byte, then bytes that would change the outcome if they were read as
// part of the line (quotes, backslashes, digits, braces).
struct Scanned {
  bool ok = false;
  std::vector<JsonMember> members;  // per name; kind kNull and begin nullptr when absent
  std::vector<bool> found;
};

Scanned Scan(std::string_view line, std::vector<std::string> names = {"ts", "x"}) {
  static std::string buffer;  // outlives the members' pointers until the next call
  buffer.assign(line);
  buffer += '\0';
  while (buffer.size() < line.size() + kJsonScanPadding) buffer += "\"\\9}]\x01 ,:";
  JsonScanner scanner;
  const size_t count = names.size();
  scanner.SetNames(std::move(names));
  Scanned result;
  result.ok = scanner.Scan(buffer.data(), line.size());
  for (size_t i = 0; i < count && result.ok; ++i) {
    result.found.push_back(scanner.found(i));
    result.members.push_back(scanner.found(i) ? scanner.member(i) : JsonMember());
  }
  return result;
}

bool Accepts(std::string_view line) { return Scan(line).ok; }

TEST_CASE("json scan: lines accepted") {
  const char* cases[] = {
      R"({"ts":1})",
      " \t\r\n{ \"ts\" : 1 , \"x\" : [ ] } \r\n\t ",
      "{}",
      R"({"a":[1,{"b":[]},"c",true,false,null,-0.5e-3,{}],"ts":-0})",
      R"({"s":"a\"b\\c\/d\b\f\n\r\t"})",
      R"({"x":1E5,"y":1e+5,"z":1e-5,"w":0.0,"v":-0})",
      "{\"x\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}",  // é € 😀
      R"({"x":"\"","ts":"\\"})",
      R"({"x":9223372036854775807,"y":-9223372036854775808,"z":9999999999999999999})",
      R"({"x":1234567890123456789,"y":0.123456789012345678})",
      R"({"a":{"b":{"c":{"d":[[[[[[1]]]]]]}}}})",
      R"({"":"","\\":"\/"})",
      "{\"x\":\"\x7F\"}",  // DEL is not a control character in JSON
  };
  for (const char* line : cases) {
    CAPTURE(std::string(line));
    CHECK(Accepts(line));
  }
}

TEST_CASE("json scan: lines refused") {
  std::string deep = "{\"a\":";
  for (int i = 0; i < JsonScanner::kMaxDepth + 1; ++i) deep += '[';
  for (int i = 0; i < JsonScanner::kMaxDepth + 1; ++i) deep += ']';
  deep += '}';
  std::string just_deep_enough = "{\"a\":";
  for (int i = 0; i < JsonScanner::kMaxDepth; ++i) just_deep_enough += '[';
  for (int i = 0; i < JsonScanner::kMaxDepth; ++i) just_deep_enough += ']';
  just_deep_enough += '}';
  CHECK(Accepts(just_deep_enough));

  const std::string cases[] = {
      "",
      " ",
      "[]",
      "1",
      R"("x")",
      R"({"ts":01})",
      R"({"ts":-01})",
      R"({"ts":1.})",
      R"({"ts":.5})",
      R"({"ts":+1})",
      R"({"ts":-})",
      R"({"ts":1e})",
      R"({"ts":1e+})",
      R"({"ts":1.5.3})",
      R"({"ts":0x10})",
      R"({"ts":1,"x":tru})",
      R"({"ts":1,"x":truex})",
      R"({"ts":1,"x":nul})",
      R"({"ts":1,"x":False})",
      R"({"ts":1,"x":"\u0041"})",  // valid, but \u is left to simdjson
      R"({"ts":1,"\u0078":1})",
      R"({"ts":1,"x":"bad \x escape"})",
      R"({"ts":1,"x":"unterminated)",
      R"({"ts":1,"x":"unterminated\")",
      R"({"ts":1)",
      R"({"ts":1}})",
      R"({"ts":1} {"ts":2})",
      R"({"ts":1}x)",
      R"({"ts":1,})",
      R"({,"ts":1})",
      R"({"ts" 1})",
      R"({"ts"::1})",
      R"({ts:1})",
      R"({'ts':1})",
      R"({"ts":1,"x":[1 2]})",
      R"({"ts":1,"x":[1,]})",
      R"({"ts":1,"x":[,1]})",
      R"({"ts":1,"x":{"a"}})",
      R"({"ts":1,"x":{"a":1,}})",
      R"({"ts":1,"x":[}})",
      R"({"ts":1,"x":{]})",
      std::string("{\"ts\":1,\"x\":\"a\tb\"}"),           // raw tab in a string
      std::string("{\"ts\":1,\"x\":\"a\x01z\"}"),
      std::string("{\"ts\":1,\"x\":\"a\0z\"}", 16),        // NUL in a string
      std::string("{\"ts\":1}\0", 9),                      // NUL after the object
      std::string("{\"ts\":1,\"x\":\"\xFF\"}"),            // invalid UTF-8
      std::string("{\"ts\":1,\"x\":\"\xC3\"}"),            // truncated sequence
      std::string("{\"ts\":1,\"x\":\"\xED\xA0\x80\"}"),    // UTF-16 surrogate in UTF-8
      std::string("{\"ts\":1,\"x\":\"\xC0\xAF\"}"),        // overlong
      std::string("{\"ts\":1}\xC3\xA9"),
      std::string("{\"ts\":1,\x0B\"x\":1}"),               // vertical tab is not whitespace
      std::string("{\"ts\":1,\f\"x\":1}"),
      "{\"ts\":1,\xC2\xA0\"x\":1}",                        // nor is U+00A0
      R"({"ts":12345678901234567890})",                    // 20 digits: left to simdjson
      R"({"ts":-9223372036854775809})",
      R"({"ts":1.2345678901234567890})",                   // 20 significant digits
      R"({"ts":1e400})",
      R"({"ts":1e-400})",
      deep,
  };
  for (const std::string& line : cases) {
    CAPTURE(line);
    CHECK_FALSE(Accepts(line));
  }
}

TEST_CASE("json scan: member values") {
  auto one = [](std::string_view value) {
    std::string line = "{\"ts\":0,\"x\":" + std::string(value) + "}";
    Scanned s = Scan(line);
    REQUIRE_MESSAGE(s.ok, line);
    REQUIRE(s.found[1]);
    return s.members[1];
  };
  CHECK(one("0").kind == JsonKind::kInt);
  CHECK(one("-0").i == 0);
  CHECK(one("-0").kind == JsonKind::kInt);
  CHECK(one("42").i == 42);
  CHECK(one("-42").i == -42);
  CHECK(one("1700000000000").i == 1700000000000);
  CHECK(one("9223372036854775807").i == INT64_MAX);
  CHECK(one("-9223372036854775808").i == INT64_MIN);
  CHECK(one("9223372036854775808").kind == JsonKind::kDouble);
  CHECK(one("9223372036854775808").d == 9223372036854775808.0);
  CHECK(one("2.5").d == 2.5);
  CHECK(one("23.25").d == 23.25);
  CHECK(one("0.1").d == 0.1);
  CHECK(one("1e3").kind == JsonKind::kDouble);
  CHECK(one("1e3").d == 1000.0);
  CHECK(one("1.0").kind == JsonKind::kDouble);
  CHECK(one("-2.5E-3").d == -2.5e-3);
  CHECK(one("123456789012345678e-5").d == 1234567890123.45678);
  CHECK(one("1.7976931348623157e289").d == 1.7976931348623157e289);
  CHECK(one("9007199254740993").i == 9007199254740993);  // beyond 2^53, exact as int
  CHECK(one("9007199254740993.0").d == 9007199254740992.0);  // ties to even
  CHECK(std::signbit(one("-0.0").d));
  CHECK(one("true").kind == JsonKind::kTrue);
  CHECK(one("false").kind == JsonKind::kFalse);
  CHECK(one("null").kind == JsonKind::kNull);
  JsonMember array = one("[1, 2]");
  CHECK(array.kind == JsonKind::kArray);
  CHECK(std::string_view(array.begin, array.size) == "[1, 2]");
  CHECK(one("{}").kind == JsonKind::kObject);
  JsonMember s = one(R"("a\"b")");
  CHECK(s.kind == JsonKind::kString);
  CHECK(s.escaped);
  CHECK(std::string_view(s.begin, s.size) == R"(a\"b)");
  std::string unescaped;
  AppendUnescaped(unescaped, R"(a\"b\\c\/d\b\f\n\r\t)");
  CHECK(unescaped == "a\"b\\c/d\b\f\n\r\t");
  s = one(R"("plain")");
  CHECK_FALSE(s.escaped);
  CHECK(std::string_view(s.begin, s.size) == "plain");
}

TEST_CASE("json scan: the first of duplicates wins, escaped names match") {
  Scanned s = Scan(R"({"x":1,"ts":2,"x":3,"t\u0073":4})");
  CHECK_FALSE(s.ok);  // \u: left to simdjson
  s = Scan(R"({"x":1,"ts":2,"x":3,"\/":4,"a\"b":5})", {"x", "/", "a\"b", "ts", "nope"});
  REQUIRE(s.ok);
  CHECK(s.members[0].i == 1);
  CHECK(s.members[1].i == 4);
  CHECK(s.members[2].i == 5);
  CHECK(s.members[3].i == 2);
  CHECK_FALSE(s.found[4]);
  // Names of 8 bytes and more compare beyond the first word.
  s = Scan(R"({"merchant_id":1,"merchant_ix":2,"merchant":3})",
           {"merchant_ix", "merchant", "merchan"});
  REQUIRE(s.ok);
  CHECK(s.members[0].i == 2);
  CHECK(s.members[1].i == 3);
  CHECK_FALSE(s.found[2]);
}

TEST_CASE("json scan: one scanner, key order changing from line to line") {
  // The scanner guesses each member's name from the lines before; a wrong guess
  // must fall back to the table, and duplicates must still lose.
  JsonScanner scanner;
  scanner.SetNames({"a", "b", "merchant_id", "merchant_ix"});
  struct Case {
    const char* line;
    int64_t a, b, id, ix;  // -1: absent
  };
  const Case cases[] = {
      {R"({"a":1,"b":2})", 1, 2, -1, -1},
      {R"({"a":1,"b":2})", 1, 2, -1, -1},
      {R"({"b":3,"a":4})", 4, 3, -1, -1},
      {R"({"a":5,"a":6,"b":7})", 5, 7, -1, -1},
      {R"({"b":7,"b":8})", -1, 7, -1, -1},
      {R"({"merchant_ix":1,"merchant_id":2})", -1, -1, 2, 1},
      {R"({"merchant_id":3,"merchant_ix":4})", -1, -1, 3, 4},
      {R"({"merchant_id":5,"merchant_id":6,"merchant_ix":7})", -1, -1, 5, 7},
      {R"({"x":0,"b":8,"a":9,"merchant_i":1})", 9, 8, -1, -1},
      {R"({"\u0061":1,"b":2})", -2, -2, -2, -2},  // refused (\u)
      {R"({"\/":1,"a":2,"b":3})", 2, 3, -1, -1},
  };
  std::string buffer;
  for (const Case& c : cases) {
    CAPTURE(std::string(c.line));
    const size_t size = std::strlen(c.line);
    buffer.assign(c.line);
    buffer.append(kJsonScanPadding, '\0');
    const bool ok = scanner.Scan(buffer.data(), size);
    REQUIRE(ok == (c.a != -2));
    if (!ok) continue;
    const int64_t want[] = {c.a, c.b, c.id, c.ix};
    for (size_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      REQUIRE(scanner.found(i) == (want[i] != -1));
      if (want[i] != -1) CHECK(scanner.member(i).i == want[i]);
    }
  }
}

// ---- Differential test: fast path against the DOM path ----

// Random JSON lines, valid ones and mutated ones.
class LineGenerator {
 public:
  explicit LineGenerator(uint64_t seed) : rng_(seed) {}

  std::string Line() {
    std::vector<std::string> members;
    for (int n = Uniform(0, 7); n > 0; --n) {
      std::string member;
      Whitespace(member);
      Key(member);
      Colon(member);
      Value(member, Chance(0.2) ? Uniform(1, 4) : 0);
      members.push_back(std::move(member));
    }
    if (Chance(0.9)) {
      std::string member;
      Whitespace(member);
      member += Chance(0.03) ? "\"t\\u0073\"" : "\"ts\"";
      Colon(member);
      Time(member);
      members.insert(members.begin() + Uniform(0, static_cast<int>(members.size())), member);
    }
    std::string out;
    Whitespace(out);
    out += '{';
    for (size_t i = 0; i < members.size(); ++i) {
      if (i > 0) Comma(out);
      out += members[i];
    }
    Whitespace(out);
    out += '}';
    Whitespace(out);
    if (Chance(0.3)) Mutate(out);
    return out;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  void Whitespace(std::string& out) {
    if (!Chance(0.15)) return;
    static const char kWs[] = {' ', '\t', '\n', '\r'};
    for (int n = Uniform(1, 3); n > 0; --n) out += kWs[Uniform(0, 3)];
  }
  void Comma(std::string& out) {
    Whitespace(out);
    out += ',';
  }
  void Colon(std::string& out) {
    Whitespace(out);
    out += ':';
    Whitespace(out);
  }

  void Key(std::string& out) {
    static const char* kKeys[] = {
        "\"a\"",      "\"b\"",         "\"s\"",         "\"k\"",      "\"xs\"",
        "\"o\"",      "\"n\"",         "\"ts\"",        "\"a\\/b\"",  "\"a/b\"",
        "\"q\\\"\"",  "\"\xC3\xA9\"",  "\"merchant\"",  "\"merchant_id\"",
        "\"\"",       "\"time\"",      "\"\\u0061\"",   "\"k\\n\""};
    out += kKeys[Uniform(0, sizeof kKeys / sizeof kKeys[0] - 1)];
  }

  void Time(std::string& out) {
    switch (Uniform(0, 19)) {
      case 0: out += "\"2024-05-01T12:00:00.250Z\""; break;
      case 1: out += "\"2024-05-01T12:00:00+02:00\""; break;
      case 2: out += "\"2024-02-30T12:00:00Z\""; break;  // invalid date
      case 3: out += "1.7e12"; break;
      case 4: out += "1.5"; break;
      case 5: Value(out, 1); break;
      case 6: out += "\"2024-05-01T12:00:00\\u005a\""; break;
      case 7: out += "\"2024-05-01T12:00:00\\/\""; break;
      default: out += std::to_string(static_cast<int64_t>(rng_() % 4000000000000ull) - 100); break;
    }
  }

  void Number(std::string& out) {
    switch (Uniform(0, 14)) {
      case 0: out += "0"; break;
      case 1: out += "-0"; break;
      case 2: out += std::to_string(static_cast<int64_t>(rng_())); break;
      case 3: out += std::to_string(rng_()); break;  // up to 20 digits
      case 4: out += std::to_string(Uniform(-1000, 1000)); break;
      case 5: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*f", Uniform(0, 6),
                      std::uniform_real_distribution<double>(-1e6, 1e6)(rng_));
        out += buf;
        break;
      }
      case 6: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.*e", Uniform(0, 20),
                      std::uniform_real_distribution<double>(-1e3, 1e3)(rng_));
        out += buf;  // e+02 style exponents
        break;
      }
      case 7: {
        // Random digits, fraction and exponent, often near the subset's limits.
        if (Chance(0.3)) out += '-';
        int digits = Chance(0.2) ? Uniform(1, 22) : Uniform(1, 12);
        out += static_cast<char>('1' + Uniform(0, 8));
        for (int i = 1; i < digits; ++i) out += static_cast<char>('0' + Uniform(0, 9));
        if (Chance(0.6)) {
          out += '.';
          for (int i = Chance(0.2) ? Uniform(1, 22) : Uniform(1, 6); i > 0; --i) {
            out += static_cast<char>('0' + Uniform(0, 9));
          }
        }
        if (Chance(0.5)) {
          out += Chance(0.5) ? 'e' : 'E';
          if (Chance(0.5)) out += Chance(0.5) ? '-' : '+';
          out += std::to_string(Chance(0.2) ? Uniform(0, 330) : Uniform(0, 30));
        }
        break;
      }
      case 8: out += "0.000" + std::to_string(Uniform(0, 99999)); break;
      case 9: out += "9223372036854775807"; break;
      case 10: out += Chance(0.5) ? "9223372036854775808" : "-9223372036854775808"; break;
      case 11: out += Chance(0.5) ? "-9223372036854775809" : "18446744073709551616"; break;
      case 12: out += Chance(0.5) ? "1e308" : "2.2250738585072014e-308"; break;
      case 13: out += "9007199254740993.0"; break;
      default: out += std::to_string(Uniform(0, 99)) + "." + std::to_string(Uniform(0, 99)); break;
    }
  }

  void String(std::string& out) {
    out += '"';
    const int escape_odds = Chance(0.5) ? 60 : 8;  // many strings are plain
    for (int n = Uniform(0, 24); n > 0; --n) {
      switch (Uniform(0, escape_odds)) {
        case 0: {
          static const char* kEscapes[] = {"\\\"", "\\\\", "\\/", "\\b", "\\f",
                                           "\\n",  "\\r",  "\\t", "\\u00e9", "\\u0000",
                                           "\\ud83d\\ude00", "\\ud800", "\\uDC00x",
                                           "\\u12", "\\U0041"};
          out += kEscapes[Uniform(0, sizeof kEscapes / sizeof kEscapes[0] - 1)];
          break;
        }
        case 1: if (Chance(0.5)) out += "\xC3\xA9"; break;  // é
        case 2: out += "\xF0\x9F\x98\x80"; break;        // 😀
        case 3: out += "\xE2\x82\xAC"; break;            // €
        case 4: out += static_cast<char>(Uniform(0x20, 0x7F)); break;
        default: out += static_cast<char>('a' + Uniform(0, 25)); break;
      }
    }
    out += '"';
  }

  void Value(std::string& out, int depth) {
    const int kind = depth > 0 ? Uniform(0, 7) : Uniform(0, 5);
    switch (kind) {
      case 0: case 1: Number(out); break;
      case 2: case 3: String(out); break;
      case 4: out += Chance(0.5) ? "true" : "false"; break;
      case 5: out += "null"; break;
      case 6: {
        out += '[';
        Whitespace(out);
        for (int n = Uniform(0, 4), i = 0; i < n; ++i) {
          if (i > 0) Comma(out);
          Whitespace(out);
          Value(out, depth - 1);
          Whitespace(out);
        }
        out += ']';
        break;
      }
      default: {
        out += '{';
        Whitespace(out);
        for (int n = Uniform(0, 4), i = 0; i < n; ++i) {
          if (i > 0) Comma(out);
          Whitespace(out);
          Key(out);
          Colon(out);
          Value(out, depth - 1);
        }
        Whitespace(out);
        out += '}';
        break;
      }
    }
  }

  void Mutate(std::string& out) {
    for (int n = Uniform(1, 3); n > 0 && !out.empty(); --n) {
      const size_t at = static_cast<size_t>(Uniform(0, static_cast<int>(out.size()) - 1));
      switch (Uniform(0, 7)) {
        case 0: out[at] = static_cast<char>(Uniform(0, 255)); break;
        case 1: out.resize(at); break;
        case 2: {
          static const char kBad[] = {'\0', '\x01', '\x1F', '\x7F', '\xFF', '\xC3',
                                      '\x80', '"',  '\\',  ',',    ':',    '{',
                                      '}',    '[',  ']',   ' ',    '\t',   '\v'};
          out.insert(at, 1, kBad[Uniform(0, sizeof kBad - 1)]);
          break;
        }
        case 3: {
          static const char* kTokens[] = {"tru", "01", "1.", ".5", "-", "1e", "+1", "nul",
                                          "\"", "\\u", "1e999", "[[", "}}", ",,", "--1"};
          out.insert(at, kTokens[Uniform(0, sizeof kTokens / sizeof kTokens[0] - 1)]);
          break;
        }
        case 4: out.erase(at, 1); break;
        case 5: std::swap(out[at], out[static_cast<size_t>(Uniform(0, static_cast<int>(out.size()) - 1))]); break;
        case 6: out += out.substr(at); break;
        default: {
          std::string deep(static_cast<size_t>(Uniform(60, 70)), '[');
          deep += std::string(deep.size(), ']');
          out.insert(at, deep);
          break;
        }
      }
    }
  }

  std::mt19937_64 rng_;
};

FieldSegment Name(std::string name) { return {std::move(name), 0}; }
FieldSegment Index(int64_t index) { return {"", index}; }

// Equal values: kind and content (strings and JSON by their bytes, doubles bitwise).
bool SameValue(const Value& a, const Value& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kBool: return a.b == b.b;
    case ValueKind::kInt: return a.i == b.i;
    case ValueKind::kDouble: return std::memcmp(&a.d, &b.d, sizeof a.d) == 0;
    case ValueKind::kString:
    case ValueKind::kJson: return a.as_string() == b.as_string();
    default: return true;
  }
}

std::string Describe(const Value& v) {
  char buf[64];
  switch (v.kind) {
    case ValueKind::kMissing: return "missing";
    case ValueKind::kNull: return "null";
    case ValueKind::kBool: return v.b ? "true" : "false";
    case ValueKind::kInt: return "int " + std::to_string(v.i);
    case ValueKind::kDouble:
      std::snprintf(buf, sizeof buf, "double %.17g", v.d);
      return buf;
    case ValueKind::kString: return "string " + std::string(v.as_string());
    case ValueKind::kJson: return "json " + std::string(v.as_string());
    default: return "other";
  }
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

// The fast path against the DOM path on one line and every prefix of it.
void CompareWithDom(EventParser& fast, EventParser& dom, const nfa::Schema& schema,
                    const std::string& line) {
  nfa::StoredEvent fast_event, dom_event;
  for (size_t size = 0; size <= line.size(); ++size) {
    const std::string text = line.substr(0, size);
    std::string fast_error = "(none)", dom_error = "(none)";
    const bool fast_ok = fast.Parse(text, fast_event, &fast_error);
    const bool dom_ok = dom.Parse(text, dom_event, &dom_error);
    CAPTURE(text);
    REQUIRE(fast_ok == dom_ok);
    REQUIRE(fast_error == dom_error);
    if (!dom_ok) continue;
    REQUIRE(fast_event.id.ts == dom_event.id.ts);
    REQUIRE(fast_event.payload == dom_event.payload);
    REQUIRE(fast_event.slots.size() == dom_event.slots.size());
    for (size_t s = 0; s < dom_event.slots.size(); ++s) {
      CAPTURE(schema.path(static_cast<uint32_t>(s)).text);
      REQUIRE(SameValue(fast_event.slots[s], dom_event.slots[s]));
    }
  }
}

TEST_CASE("json scan: every structural at every offset of the 64-byte blocks") {
  nfa::Schema schema;
  schema.Intern({FieldSegment{"a", 0}});
  schema.Intern({FieldSegment{"s", 0}});
  schema.Intern({FieldSegment{"k\"", 0}});
  EventParser fast(schema, "ts");
  EventParser dom(schema, "ts");
  dom.TestingOnlyForceDom(true);
  // A filler of 0..140 bytes shifts the members after it across the block edges
  // (64, 128), and every prefix of each line cuts it at every offset.
  const char* tails[] = {
      R"(,"a":12.5,"s":"x\"y","k\"":true})",
      R"(,"s":"plain","a":-1700000000000123,"z":[1,{"q":"\\"}]})",
      R"(,"a":1e5,"s":"\n\t\/","n":null,"f":false})",
      "," "\"s\":\"\xC3\xA9\xE2\x82\xAC\",\"a\":0}",
      R"( , "a" : 7 , "s" : "sp ace" } )",
  };
  for (const char* tail : tails) {
    for (int fill = 0; fill <= 140; ++fill) {
      const std::string line =
          R"({"ts":1,"p":")" + std::string(static_cast<size_t>(fill), 'f') + "\"" + tail;
      CompareWithDom(fast, dom, schema, line);
    }
  }
  // Escapes straddling the block edges, in the value read and in one skipped.
  for (int fill = 0; fill <= 70; ++fill) {
    const std::string pad(static_cast<size_t>(fill), 'e');
    CompareWithDom(fast, dom, schema,
                   R"({"ts":2,"s":")" + pad + R"(\"\\\"","p":")" + pad + R"(\\"})");
  }
  CHECK(fast.dom_fallbacks() < dom.dom_fallbacks());
}

TEST_CASE("json scan: numbers of every digit count around the fast paths") {
  // Integers of up to 15 digits and decimals of up to 8 digits in all are read from
  // one 16-byte compare; numbers on both sides of those limits, with leading zeros,
  // signs, exponents and stray bytes after them, must come out as the DOM path reads
  // them (or be refused as it refuses them), as a member and as the time field.
  nfa::Schema schema;
  schema.Intern({FieldSegment{"a", 0}});
  EventParser fast(schema, "ts");
  EventParser dom(schema, "ts");
  dom.TestingOnlyForceDom(true);
  std::mt19937_64 rng(7);
  auto digits = [&](int count, bool leading_zero) {
    std::string out;
    for (int i = 0; i < count; ++i) out += static_cast<char>('0' + rng() % 10);
    if (count > 0) out[0] = leading_zero ? '0' : static_cast<char>('1' + rng() % 9);
    return out;
  };
  for (int int_digits = 0; int_digits <= 17; ++int_digits) {
    for (int fraction_digits = -1; fraction_digits <= 10; ++fraction_digits) {  // -1: no '.'
      for (bool leading_zero : {false, true}) {
        for (const char* sign : {"", "-"}) {
          for (const char* after : {"", "e5", "E-3", ".5", "x"}) {
            std::string number = sign + digits(int_digits, leading_zero);
            if (fraction_digits >= 0) number += "." + digits(fraction_digits, false);
            number += after;
            CAPTURE(number);
            CompareWithDom(fast, dom, schema, R"({"ts":1,"a":)" + number + "}");
            CompareWithDom(fast, dom, schema, R"({"ts":)" + number + R"(,"a":2})");
          }
        }
      }
    }
  }
}

TEST_CASE("json scan: differential against the DOM path") {
  const uint64_t iterations = EnvOr("TERN_JSON_DIFF_ITERATIONS", 20000);
  const uint64_t seed = EnvOr("TERN_JSON_DIFF_SEED", 20240501);
  MESSAGE("TERN_JSON_DIFF_ITERATIONS=" << iterations << " TERN_JSON_DIFF_SEED=" << seed);

  struct Setup {
    std::vector<std::vector<FieldSegment>> paths;
    std::string time_field;
  };
  const std::vector<Setup> setups = {
      {{{Name("a")}, {Name("b")}, {Name("s")}, {Name("n")}}, "ts"},
      {{{Name("a")}, {Name("a/b")}, {Name("q\"")}, {Name("\xC3\xA9")}, {Name("k\n")},
        {Name("merchant")}, {Name("merchant_id")}, {Name("")}, {Name("ts")}},
       "ts"},
      {{{Name("o"), Name("a")}, {Name("xs"), Index(0)}, {Name("xs"), Index(-1)}, {Name("k")},
        {Index(0)}, {Name("s"), Name("x")}},
       "ts"},
      {{{Name("a")}, {Name("time")}, {Name("xs")}}, "time"},
      {{{Name("b")}, {}}, "ts"},  // the whole event: always the DOM path
      {{}, "ts"},                 // the time field alone
  };
  struct Pair {
    nfa::Schema schema;
    std::unique_ptr<EventParser> fast, dom;
  };
  std::vector<std::unique_ptr<Pair>> pairs;
  for (const Setup& setup : setups) {
    auto pair = std::make_unique<Pair>();
    for (const auto& path : setup.paths) pair->schema.Intern(path);
    pair->fast = std::make_unique<EventParser>(pair->schema, setup.time_field);
    pair->dom = std::make_unique<EventParser>(pair->schema, setup.time_field);
    pair->dom->TestingOnlyForceDom(true);
    pairs.push_back(std::move(pair));
  }

  LineGenerator generator(seed);
  nfa::StoredEvent fast_event, dom_event;
  std::string fast_error, dom_error;
  uint64_t accepted = 0, fast_taken = 0, failures = 0;
  for (uint64_t i = 0; i < iterations && failures < 10; ++i) {
    const std::string line = generator.Line();
    Pair& pair = *pairs[i % pairs.size()];
    const uint64_t fallbacks_before = pair.fast->dom_fallbacks();
    fast_error = "(none)";
    dom_error = "(none)";
    const bool fast_ok = pair.fast->Parse(line, fast_event, &fast_error);
    const bool dom_ok = pair.dom->Parse(line, dom_event, &dom_error);
    if (pair.fast->dom_fallbacks() == fallbacks_before) ++fast_taken;
    accepted += dom_ok;
    std::string diff;
    if (fast_ok != dom_ok || fast_error != dom_error) {
      diff = "accepted " + std::to_string(fast_ok) + " vs " + std::to_string(dom_ok) + ", error '" +
             fast_error + "' vs '" + dom_error + "'";
    } else if (dom_ok) {
      if (fast_event.id.ts != dom_event.id.ts) {
        diff = "ts " + std::to_string(fast_event.id.ts) + " vs " + std::to_string(dom_event.id.ts);
      } else if (fast_event.payload != dom_event.payload) {
        diff = "payload";
      } else if (fast_event.slots.size() != dom_event.slots.size()) {
        diff = "slot count";
      } else {
        for (size_t s = 0; s < dom_event.slots.size(); ++s) {
          if (!SameValue(fast_event.slots[s], dom_event.slots[s])) {
            diff = "slot " + pair.schema.path(static_cast<uint32_t>(s)).text + ": " +
                   Describe(fast_event.slots[s]) + " vs " + Describe(dom_event.slots[s]);
            break;
          }
        }
      }
    }
    if (!diff.empty()) {
      ++failures;
      FAIL_CHECK("iteration " << i << " (setup " << i % pairs.size() << "): " << diff
                              << "\n  line: " << line);
    }
  }
  MESSAGE("lines " << iterations << ", accepted by DOM " << accepted << ", decided by the fast path "
                   << fast_taken);
  // The generator must exercise the fast path on a good share of the lines.
  CHECK(fast_taken * 5 > accepted);
}

}  // namespace
}  // namespace tern::engine
