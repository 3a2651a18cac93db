// The regular expressions of `matches`: ECMAScript syntax (spec §7), checked, translated
// to RE2 syntax and compiled by RE2, which matches in time linear in the text.
// Used by dsl::Check (to report errors) and by the compiler (to build nfa::Program::regexes).
// Tested by tests/unit/dsl/regex_test.cc and the cases under tests/cases/diagnostics/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace tern::dsl {

inline constexpr size_t kMaxRegexLength = 1000;  // bytes of a `matches` regex
inline constexpr int kMaxRegexNesting = 50;      // nested groups in a `matches` regex
// RE2's memory budget per regex: its compiled programs (about a quarter of two thirds of
// the budget for the forward one) plus its DFA caches. A regex whose program does not fit
// is an error at `tern check`; at run time a full DFA cache is flushed (or RE2 falls back
// to its NFA), so a regex never holds more than this, whatever the input.
inline constexpr int64_t kRegexMaxMem = int64_t{2} << 20;

// Why a regex was rejected. The byte range is into the regex text (the unescaped string
// literal); begin == end means the whole regex.
struct RegexError {
  bool unsupported = false;  // true: a feature that needs backtracking (E0410), `what`
                             // names it; false: invalid or too large (E0404), `what` says why
  std::string what;
  uint32_t begin = 0;
  uint32_t end = 0;
  std::string help;  // may be empty
};

// Translates an ECMAScript regex to RE2 syntax with the same meaning; false with *error
// when it is invalid or uses a feature RE2 cannot run in linear time.
bool TranslateRegex(std::string_view ecmascript, std::string* re2_syntax, RegexError* error);

// Translates and compiles with RE2 (UTF-8, no capture groups, kRegexMaxMem). Null with
// *error when the regex is rejected. The result is immutable and thread-safe.
std::shared_ptr<const re2::RE2> CompileRegex(std::string_view ecmascript, RegexError* error);

}  // namespace tern::dsl
