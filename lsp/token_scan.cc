// Pattern boundaries and stage declarations from the token stream.
// Tested by tests/unit/lsp/features_test.cc.
#include "lsp/token_scan.h"

namespace tern::lsp {

bool IsContiguityKeyword(std::string_view w) {
  return w == "begin" || w == "next" || w == "followed_by" || w == "followed_by_any" ||
         w == "not_next" || w == "not_followed_by";
}

PatternTokens PatternTokensAt(const std::vector<dsl::Token>& tokens, std::string_view text,
                              uint32_t offset) {
  PatternTokens out;
  size_t start = tokens.size();  // the `pattern` keyword of the pattern holding offset
  for (size_t i = 0; i < tokens.size(); ++i) {
    const dsl::Token& t = tokens[i];
    if (t.span.begin > offset) break;
    if (t.kind == dsl::TokenKind::kKeyword && dsl::TokenText(text, t) == "pattern") start = i;
  }
  if (start == tokens.size()) return out;
  for (size_t i = start; i < tokens.size(); ++i) {
    const dsl::Token& t = tokens[i];
    if (i > start && t.kind == dsl::TokenKind::kKeyword && dsl::TokenText(text, t) == "pattern") {
      break;
    }
    if (t.kind != dsl::TokenKind::kComment) out.tokens.push_back(&t);
  }
  return out;
}

std::vector<DeclaredStage> DeclaredStages(const PatternTokens& pattern, std::string_view text) {
  std::vector<DeclaredStage> out;
  bool expect_stage = false;  // after `begin`, a contiguity keyword, or a group's `(`
  for (const dsl::Token* t : pattern.tokens) {
    std::string_view word = dsl::TokenText(text, *t);
    if (t->kind == dsl::TokenKind::kKeyword && IsContiguityKeyword(word)) {
      expect_stage = true;
      continue;
    }
    if (expect_stage && t->kind == dsl::TokenKind::kPunct && word == "(") continue;
    if (expect_stage && t->kind == dsl::TokenKind::kName) out.push_back({word, t->span});
    expect_stage = false;
  }
  return out;
}

}  // namespace tern::lsp
