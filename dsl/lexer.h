// The tokens of a .tern file, comments and line breaks included: what the formatter
// (dsl/format.h) and the language server (lsp/) need and the X3 grammar throws away.
// Lexes exactly as the grammar does (dsl/x3_primitives.h); never fails: a byte the
// language has no token for becomes a kInvalid token, and an unterminated string or
// back-quoted name runs to the end of its line.
// Tested by tests/unit/dsl/lexer_test.cc.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "base/source.h"

namespace tern::dsl {

enum class TokenKind : uint8_t {
  kKeyword,     // a reserved word of spec §2 (syntax::kKeywords)
  kName,        // an identifier that is not a keyword (no_skip, to_first, count, ... too)
  kQuotedName,  // `user-agent`
  kString,      // "..." or '...'
  kInt,         // 42
  kDouble,      // 3.14, 1e6
  kDuration,    // 250ms, 10s, 5m, 2h, 1d
  kPunct,       // { } ( ) [ ] , . .. = == != < <= > >= + - * / %
  kComment,     // # ... or // ... (to the end of the line, newline excluded)
  kInvalid,     // anything else, one byte (or one UTF-8 sequence) at a time; also a number
                // the grammar rejects, whole: `5x`, `1.5s` (a duration must be whole), `1e+`
};

struct Token {
  TokenKind kind = TokenKind::kInvalid;
  SourceSpan span;
  // Line breaks between the previous token (or the start of the file) and this one.
  uint32_t newlines_before = 0;
  bool unterminated = false;  // kString / kQuotedName without its closing quote
};

// Every token of `text` in order. Whitespace is not a token; newlines_before records
// the line breaks it held.
std::vector<Token> Lex(std::string_view text);

inline std::string_view TokenText(std::string_view text, const Token& t) {
  return text.substr(t.span.begin, t.span.end - t.span.begin);
}

}  // namespace tern::dsl
