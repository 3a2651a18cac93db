// Private to dsl/: the reserved words, character classes and the SyntaxError that the
// parser's grammar throws and dsl::Parse catches (it never leaves dsl/).
// Tested by tests/unit/dsl/parser_test.cc.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/source.h"
#include "dsl/diag.h"

namespace tern::dsl::syntax {

// The reserved words of spec §2.
// clang-format off
inline constexpr std::array<std::string_view, 35> kKeywords = {
    "pattern", "key", "within", "gap", "skip", "from", "to", "begin", "next", "followed_by",
    "followed_by_any", "not_next", "not_followed_by", "where", "times", "one_or_more",
    "optional", "greedy", "consecutive", "allow_combinations", "until", "emit", "on_timeout",
    "and", "or", "not", "in", "contains", "starts_with", "ends_with", "matches", "true",
    "false", "null", "this"};
// clang-format on

inline bool IsKeyword(std::string_view word) {
  return std::find(kKeywords.begin(), kKeywords.end(), word) != kKeywords.end();
}

inline bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }

// ---------------------------------------------------------------- errors and parse state

// Thrown by the grammar, caught by Parse(). Never leaves dsl/.
struct SyntaxError {
  Diag id = Diag::kExpected;
  uint32_t pos = 0;         // where the error was detected
  bool token_span = false;  // true: the span is the token at `pos` (computed by Parse)
  SourceSpan span;          // used when !token_span
  std::vector<std::string> args;
  std::string help;
};

[[noreturn]] inline void ThrowAt(Diag id, SourceSpan span, std::vector<std::string> args,
                                 std::string help = {}) {
  SyntaxError e;
  e.id = id;
  e.pos = span.begin;
  e.span = span;
  e.args = std::move(args);
  e.help = std::move(help);
  throw e;
}

[[noreturn]] inline void ThrowExpected(uint32_t pos, std::string what) {
  SyntaxError e;
  e.id = Diag::kExpected;
  e.pos = pos;
  e.token_span = true;
  e.args.push_back(std::move(what));
  throw e;
}

}  // namespace tern::dsl::syntax
