// The regexes of `matches` (dsl/regex.cc): ECMAScript syntax translated to RE2, what is
// rejected and where, the meaning of the constructs where the two dialects differ, and
// linear time on the inputs that made std::regex crash or stall.
#include "dsl/regex.h"

#include <doctest/doctest.h>
#include <re2/re2.h>

#include <string>

namespace tern::dsl {
namespace {

bool Search(const std::string& ecmascript, const std::string& text) {
  RegexError error;
  auto re = CompileRegex(ecmascript, &error);
  REQUIRE_MESSAGE(re != nullptr, ecmascript << ": " << error.what);
  return re2::RE2::PartialMatch(text, *re);
}

TEST_CASE("regex: translation to RE2 syntax") {
  struct Row {
    const char* ecmascript;
    const char* re2;
  };
  const Row rows[] = {
      {"^[a-z]+@x\\.com$", "^[a-z]+@x\\.com$"},
      {"(a|b)*?c{2,}d{1,3}e{4}", "(a|b)*?c{2,}d{1,3}e{4}"},
      {"(?:x)(?<name>y)", "(?:x)(?:y)"},
      {"a.b", "a[^\\n\\r\\x{2028}\\x{2029}]b"},
      {"[]|[^]", "[^\\x{0}-\\x{10FFFF}]|(?s:.)"},
      {"[[:a]", "[\\[:a]"},
      {"\\u00e9\\u{1F600}\\uD83D\\uDE00\\x41\\cJ\\0",
       "\\x{E9}\\x{1F600}\\x{1F600}\\x{41}\\x{A}\\x{0}"},
      {"[\\b\\-]", "[\\x{8}\\-]"},
      {"a{,2}}]", "a\\{,2\\}\\}\\]"},
      {"\\p{Script=Greek}\\P{L}", "\\p{Greek}\\P{L}"},
      {"\\_\\ ", "\\x{5F}\\x{20}"},
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.ecmascript));
    std::string out;
    RegexError error;
    REQUIRE_MESSAGE(TranslateRegex(row.ecmascript, &out, &error), error.what);
    CHECK(out == row.re2);
  }
}

TEST_CASE("regex: rejected, with the offending part") {
  struct Row {
    const char* ecmascript;
    bool unsupported;
    const char* what;
    uint32_t begin;
    uint32_t end;
  };
  const Row rows[] = {
      {"(a)\\1", true, "a backreference '\\1'", 3, 5},
      {"(?<x>a)\\k<x>b", true, "a backreference '\\k<x>'", 7, 12},
      {"^(?=.*\\d)x", true, "a lookahead '(?=...)'", 1, 9},
      {"a(?!b(c))d", true, "a negative lookahead '(?!...)'", 1, 9},
      {"(?<=a)b", true, "a lookbehind '(?<=...)'", 0, 6},
      {"x(?<!a)", true, "a negative lookbehind '(?<!...)'", 1, 7},
      {"^[a-z+@x$", false, "missing ']'", 1, 2},
      {"a(b", false, "unclosed '('", 1, 2},
      {"a)b", false, "unmatched ')'", 1, 2},
      {"a**", false, "'*' has nothing to repeat", 2, 3},
      {"|+", false, "'+' has nothing to repeat", 1, 2},
      {"^*", false, "'*' has nothing to repeat", 1, 2},
      {"a{2,1}", false, "the counts of '{2,1}' are out of order", 1, 6},
      {"a{1001}", false, "the repetition count of '{1001}' is above 1000", 1, 7},
      {"\\q", false, "unknown escape '\\q'", 0, 2},
      {"a\\", false, "it ends with a lone backslash", 1, 2},
      {"\\01", false, "octal escapes are not supported", 0, 3},
      {"\\x4", false, "'\\x' needs two hex digits", 0, 2},
      {"\\uD800", false, "'\\uD800' is a lone surrogate", 0, 6},
      {"(?i)a", false, "unknown group syntax '(?i'", 0, 3},
      {"[b-a]", false, "invalid character class range 'b-a'", 1, 4},
      {"\\p{Nope}", false, "unknown Unicode property '\\p{Nope}'", 0, 8},
      {"((a{100}){100}){100}", false, "the repetitions multiply to more than 1000", 0, 0},
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.ecmascript));
    RegexError error;
    CHECK(CompileRegex(row.ecmascript, &error) == nullptr);
    CHECK(error.unsupported == row.unsupported);
    CHECK(error.what == row.what);
    CHECK(error.begin == row.begin);
    CHECK(error.end == row.end);
  }
}

TEST_CASE("regex: limits are compile-time errors") {
  RegexError error;
  CHECK(CompileRegex(std::string(1001, 'a'), &error) == nullptr);
  CHECK(error.what == "it is longer than 1000 bytes");
  CHECK(CompileRegex(std::string(51, '(') + std::string(51, ')'), &error) == nullptr);
  CHECK(error.what == "it nests groups deeper than 50 levels");
  // Small in text, large in RE2's program: over the memory budget, not a run-time blow-up.
  CHECK(CompileRegex("\\p{L}{1000}\\p{L}{1000}", &error) == nullptr);
  CHECK(error.what == "it is too large: its compiled form exceeds 2 MiB");
  CHECK(CompileRegex(std::string(1000, 'a'), &error) != nullptr);
}

TEST_CASE("regex: ECMAScript meaning, search semantics") {
  struct Row {
    const char* ecmascript;
    std::string text;
    bool matches;
  };
  const Row rows[] = {
      {"ell", "hello", true},  // a search: a match anywhere is enough
      {"^ell", "hello", false},
      {"^h.*o$", "hello", true},
      {"o$", "hello\n", false},  // $ is the end of the text, not before a final newline
      {"^a.b$", "a\rb", false},  // . excludes every line terminator
      {"^a.b$",
       "a\xE2\x80\xA8"
       "b",
       false},
      {"^a.b$", "a\tb", true},
      {"^.$", "\xC3\xA9", true},    // a character is a code point of the UTF-8 text
      {"^\\s$", "\xC2\xA0", true},  // \s is ECMAScript's white space, U+00A0 included
      {"^\\s$", "\v", true},
      {"^\\S$", "\xC2\xA0", false},
      {"^[\\S]$", "x", true},
      {"^[^\\s]$", "\xE3\x80\x80", false},  // U+3000
      {"[]", "anything", false},
      {"^[^]$", "\n", true},
      {"^[[]$", "[", true},
      {"^\\u00e9$", "\xC3\xA9", true},
      {"^\\cJ$", "\n", true},
      {"^\\v\\f\\t\\n\\r\\x41\\0$", std::string("\v\f\t\n\rA\0", 7), true},
      {"\\bcat\\b", "a cat!", true},
      {"\\bcat\\b", "concat", false},
      {"^(?<y>\\d{4})-\\d\\d$", "2024-05", true},
      {"^a{,2}$", "a{,2}", true},    // not a quantifier: literal braces (Annex B)
      {"^[(?=]\\(?=$", "?=", true},  // no group: a class, then an optional '('
      {"^[(?=]\\(?=$", "?(x", false},
      {"^\\p{Greek}+$", "\xCE\xB1\xCE\xB2", true},
      {"^(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaab", false},
      {"Mailinator", "joe@mailinator.com", false},  // case-sensitive
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.ecmascript));
    CAPTURE(row.text);
    CHECK(Search(row.ecmascript, row.text) == row.matches);
  }
}

TEST_CASE("regex: random regexes are compiled or rejected, with a range inside them") {
  // Fixed seed; an alphabet dense in syntax, so that most inputs reach deep paths.
  static const char kAlphabet[] = "ab()[]{}^$.*+?|\\-:=!<>,0129dDsSwWbBuxckpP\x80\xC3\xA9 _";
  uint64_t x = 0x2545F4914F6CDD1Dull;
  int compiled = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string re;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const size_t len = x % 24;
    for (size_t i = 0; i < len; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      re += kAlphabet[x % (sizeof kAlphabet - 1)];
    }
    CAPTURE(re);
    RegexError error;
    auto compiled_re = CompileRegex(re, &error);
    if (compiled_re != nullptr) {
      ++compiled;
      re2::RE2::PartialMatch("ab(a)[b]{1}\xC3\xA9-", *compiled_re);
      continue;
    }
    CHECK(!error.what.empty());
    CHECK(error.begin <= error.end);
    CHECK(error.end <= re.size());
  }
  MESSAGE("compiled: " << compiled << " of 20000");
  CHECK(compiled > 1000);
}

TEST_CASE("regex: linear time where std::regex crashed or backtracked") {
  // std::regex recursed once per character (a 30 kB field overflowed the stack) and took
  // time exponential in the length for (a+)+$. Here: 1 MB, each in well under a second.
  const std::string as(1 << 20, 'a');
  CHECK(Search("^[a-z]+$", as));
  CHECK(!Search("^[a-z]+$", as + "!"));
  CHECK(!Search("(a+)+$", as + "b"));
  CHECK(Search("(a|aa)*c|a$", as));
  CHECK(!Search("(x+x+)+y", std::string(100000, 'x')));
}

}  // namespace
}  // namespace tern::dsl
