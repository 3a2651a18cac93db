// Stage references: AST first, tokens when the pattern does not parse.
// Tested by tests/unit/lsp/features_test.cc.
#include "lsp/stage_ref.h"

#include <vector>

#include "lsp/token_scan.h"

namespace tern::lsp {

namespace {

bool Contains(SourceSpan s, uint32_t offset) { return s.begin <= offset && offset <= s.end && s.end > s.begin; }

// The kName expression at `offset` in the pattern's conditions and emits, or null.
// Iterative: an operator chain is a tree one level per term.
const ast::Expr* NameExprAt(const ast::Pattern& p, uint32_t offset) {
  std::vector<const ast::Expr*> stack;
  std::vector<const ast::Stage*> stages;
  for (const ast::Stage& s : p.sequence) stages.push_back(&s);
  while (!stages.empty()) {
    const ast::Stage* s = stages.back();
    stages.pop_back();
    if (s->where) stack.push_back(&*s->where);
    if (s->until) stack.push_back(&*s->until);
    for (const ast::Stage& c : s->children) stages.push_back(&c);
  }
  for (const ast::EmitField& f : p.emit) stack.push_back(&f.value);
  for (const ast::EmitField& f : p.timeout_emit) stack.push_back(&f.value);
  while (!stack.empty()) {
    const ast::Expr* e = stack.back();
    stack.pop_back();
    if (!Contains(e->span, offset)) continue;
    if (e->kind == ast::ExprKind::kName) return e;
    for (const ast::Expr& a : e->args) stack.push_back(&a);
  }
  return nullptr;
}

}  // namespace

std::string_view ContiguityWord(ast::Contiguity c) {
  switch (c) {
    case ast::Contiguity::kBegin: return "begin";
    case ast::Contiguity::kNext: return "next";
    case ast::Contiguity::kFollowedBy: return "followed_by";
    case ast::Contiguity::kFollowedByAny: return "followed_by_any";
    case ast::Contiguity::kNotNext: return "not_next";
    case ast::Contiguity::kNotFollowedBy: return "not_followed_by";
  }
  return "";
}

std::string SpanText(std::string_view text, SourceSpan s) {
  if (s.end <= s.begin || s.end > text.size()) return "";
  return std::string(text.substr(s.begin, s.end - s.begin));
}

const ast::Stage* FindStage(const ast::Pattern& pattern, std::string_view name) {
  std::vector<const ast::Stage*> stack;
  for (auto it = pattern.sequence.rbegin(); it != pattern.sequence.rend(); ++it) stack.push_back(&*it);
  while (!stack.empty()) {
    const ast::Stage* s = stack.back();
    stack.pop_back();
    if (!s->is_group && s->name == name) return s;
    for (auto it = s->children.rbegin(); it != s->children.rend(); ++it) stack.push_back(&*it);
  }
  return nullptr;
}

const dsl::Token* PreviousToken(const Analysis& analysis, const dsl::Token* t) {
  const dsl::Token* first = analysis.tokens.data();
  while (t != first) {
    --t;
    if (t->kind != dsl::TokenKind::kComment) return t;
  }
  return nullptr;
}

const dsl::Token* NextToken(const Analysis& analysis, const dsl::Token* t) {
  const dsl::Token* end = analysis.tokens.data() + analysis.tokens.size();
  for (++t; t < end; ++t) {
    if (t->kind != dsl::TokenKind::kComment) return t;
  }
  return nullptr;
}

std::optional<StageRef> StageRefAt(const Analysis& analysis, uint32_t offset) {
  const dsl::Token* token = analysis.TokenAt(offset);
  if (token == nullptr || token->kind != dsl::TokenKind::kName) return std::nullopt;
  const std::string_view text = analysis.text();
  const std::string_view word = dsl::TokenText(text, *token);
  const dsl::Token* prev = PreviousToken(analysis, token);
  const dsl::Token* prev2 = prev != nullptr ? PreviousToken(analysis, prev) : nullptr;
  const std::string_view prev_word = prev != nullptr ? dsl::TokenText(text, *prev) : "";
  if (prev_word == ".") return std::nullopt;  // a field: `big.amount`
  const bool in_skip = prev_word == "(" && prev2 != nullptr &&
                       (dsl::TokenText(text, *prev2) == "to_first" ||
                        dsl::TokenText(text, *prev2) == "to_last");

  if (const ast::Pattern* p = analysis.ParsedPatternAt(offset)) {
    StageRef ref;
    ref.pattern = p;
    ref.word = token->span;
    const ast::Stage* stage = nullptr;
    if (const ast::Stage* s = FindStage(*p, word); s != nullptr && s->name_span.begin == token->span.begin) {
      stage = s;  // the declaration
    } else if (in_skip) {
      stage = FindStage(*p, word);
    } else if (const ast::Pattern* c = analysis.Checked(*p)) {
      // Resolved by dsl::Check; the checked tree has the same spans.
      const ast::Expr* e = NameExprAt(*c, offset);
      if (e == nullptr || e->stage < 0 || static_cast<size_t>(e->stage) >= c->stage_table.size()) {
        return std::nullopt;
      }
      stage = FindStage(*p, c->stage_table[static_cast<size_t>(e->stage)]->name);
    } else {
      // Check dropped the pattern: a name that is a stage of the pattern refers to it.
      const ast::Expr* e = NameExprAt(*p, offset);
      if (e == nullptr) return std::nullopt;
      stage = FindStage(*p, e->text);
    }
    if (stage == nullptr) return std::nullopt;
    ref.stage = stage;
    ref.name = stage->name;
    ref.declaration = stage->name_span;
    return ref;
  }

  // The pattern does not parse: the declarations its tokens show.
  PatternTokens pattern = PatternTokensAt(analysis.tokens, text, offset);
  if (prev_word == "pattern") return std::nullopt;
  const dsl::Token* next = NextToken(analysis, token);
  if (next != nullptr && dsl::TokenText(text, *next) == "=") return std::nullopt;  // an emit field
  for (const DeclaredStage& d : DeclaredStages(pattern, text)) {
    if (d.name != word) continue;
    StageRef ref;
    ref.name = d.name;
    ref.declaration = d.span;
    ref.word = token->span;
    return ref;
  }
  return std::nullopt;
}

}  // namespace tern::lsp
