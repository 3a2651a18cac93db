// Which stage a word of a document names: its declaration, a reference in a condition or
// emit (resolved by dsl::Check when the pattern checks, by name otherwise), or the stage
// of `to_first(S)` / `to_last(S)`; from the tokens alone when the pattern does not parse.
// Used by hover and definition. Tested by tests/unit/lsp/features_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dsl/ast.h"
#include "lsp/document.h"

namespace tern::lsp {

struct StageRef {
  const ast::Pattern* pattern = nullptr;  // the parsed pattern; null when it did not parse
  const ast::Stage* stage = nullptr;      // its stage; null when found by tokens only
  std::string_view name;
  SourceSpan declaration;  // the stage's name where it is declared
  SourceSpan word;         // the word at the offset
};

std::optional<StageRef> StageRefAt(const Analysis& analysis, uint32_t offset);

// The single stage of a pattern with this name (groups searched), or null.
const ast::Stage* FindStage(const ast::Pattern& pattern, std::string_view name);

// The keyword of a contiguity (`begin` for kBegin).
std::string_view ContiguityWord(ast::Contiguity c);
// The source text of a span ("" when empty or outside the text).
std::string SpanText(std::string_view text, SourceSpan span);

// The significant (non-comment) token before / after token `t` of analysis.tokens.
const dsl::Token* PreviousToken(const Analysis& analysis, const dsl::Token* t);
const dsl::Token* NextToken(const Analysis& analysis, const dsl::Token* t);

}  // namespace tern::lsp
