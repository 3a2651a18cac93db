// What the tokens of a document say where the syntax tree cannot: the pattern a position
// is in and the stages declared there, read from dsl::Lex's tokens, so that completion,
// hover and definition work in half-typed text that does not parse.
// Tested by tests/unit/lsp/features_test.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dsl/lexer.h"

namespace tern::lsp {

// The tokens of one pattern: from its `pattern` keyword to the next `pattern` keyword
// (the parser resumes there too) or the end of the file. Comments left out.
struct PatternTokens {
  std::vector<const dsl::Token*> tokens;  // empty when the position is before any pattern
};

// The pattern whose tokens hold `offset` (between its `pattern` keyword, included, and
// the next one).
PatternTokens PatternTokensAt(const std::vector<dsl::Token>& tokens, std::string_view text,
                              uint32_t offset);

struct DeclaredStage {
  std::string_view name;
  SourceSpan span;
};

// The stage names declared in a pattern's tokens, in order: a name right after `begin` or
// a contiguity keyword, or after the `(` of a group that follows one.
std::vector<DeclaredStage> DeclaredStages(const PatternTokens& pattern, std::string_view text);

bool IsContiguityKeyword(std::string_view word);  // begin next followed_by ... not_followed_by

}  // namespace tern::lsp
