// The author's text of spans of a .tern file (compiler/written.h).
// Tested by tests/unit/nfa/program_dot_test.cc.
#include "compiler/written.h"

namespace tern::compiler {

WrittenText::WrittenText(const SourceFile* file) {
  if (file == nullptr) return;
  text_ = &file->text();
  const std::string& t = *text_;
  blank_.assign(t.size(), false);
  match_.assign(t.size(), kNone);
  std::vector<uint32_t> open;
  // The lexical rules of LANGUAGE.md §2: strings in double or single quotes with
  // backslash escapes, back-quoted names, `#` and `//` comments to the end of the line.
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (++i; i < t.size() && t[i] != c; ++i) {
        if (t[i] == '\\' && c != '`') ++i;
      }
    } else if (c == '#' || (c == '/' && i + 1 < t.size() && t[i + 1] == '/')) {
      for (; i < t.size() && t[i] != '\n'; ++i) blank_[i] = true;
      if (i < t.size()) blank_[i] = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      blank_[i] = true;
    } else if (c == '(') {
      open.push_back(static_cast<uint32_t>(i));
    } else if (c == ')' && !open.empty()) {
      match_[open.back()] = static_cast<uint32_t>(i);
      match_[static_cast<uint32_t>(i)] = open.back();
      open.pop_back();
    }
  }
}

SourceSpan WrittenText::Widen(SourceSpan span) const {
  if (text_ == nullptr || span.end > text_->size() || span.begin >= span.end) return span;
  // Parenthesised operands keep the spans of what is inside the parentheses, so the span
  // of `(a or b) and c` starts at `a`. The parenthesis partners outside the span are found
  // from the ones inside; what lies between them is only `(`, `)`, blanks and comments,
  // so the loop ends after a few rounds.
  for (bool changed = true; changed;) {
    changed = false;
    for (uint32_t i = span.begin; i < span.end; ++i) {
      const uint32_t partner = match_[i];
      if (partner == kNone) continue;
      if (partner < span.begin) {
        span.begin = partner;
        changed = true;
      } else if (partner >= span.end) {
        span.end = partner + 1;
        changed = true;
      }
    }
  }
  return span;
}

std::string WrittenText::Of(SourceSpan span) const {
  if (text_ == nullptr || span.end > text_->size() || span.begin >= span.end) return {};
  span = Widen(span);
  std::string out;
  bool blank = false;
  for (uint32_t i = span.begin; i < span.end; ++i) {
    if (blank_[i]) {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out.push_back(' ');
    blank = false;
    out.push_back((*text_)[i]);
  }
  return out;
}

uint32_t WrittenText::CloseOf(uint32_t open) const {
  if (text_ == nullptr || open >= match_.size()) return open;
  const uint32_t partner = match_[open];
  return partner == kNone || partner < open ? open : partner;
}

}  // namespace tern::compiler

namespace tern::compiler {

namespace {

// The contiguity keyword as written ("followed_by"); `begin` is not in the span.
std::string ContiguityWord(const WrittenText& text, const ast::Stage& s) {
  std::string word = text.Of(s.contiguity_span);
  return word.empty() && s.contiguity == ast::Contiguity::kBegin ? "begin" : word;
}

// Quantifier and modifiers rebuilt from the AST, for an AST without source text.
std::string TailFromAst(const ast::Stage& s) {
  std::string out;
  auto add = [&out](const std::string& word) { out += (out.empty() ? "" : " ") + word; };
  if (s.max == -1) {
    add(s.min == 1 ? "one_or_more" : "times " + std::to_string(s.min) + "..");
  } else if (s.min != 1 || s.max != 1) {
    add("times " + std::to_string(s.min) + (s.min == s.max ? "" : ".." + std::to_string(s.max)));
  }
  if (s.optional) add("optional");
  if (s.greedy) add("greedy");
  if (s.consecutive) add("consecutive");
  if (s.allow_combinations) add("allow_combinations");
  if (s.until) add("until …");
  if (s.within_ms) add("within " + std::to_string(*s.within_ms) + "ms");
  return out;
}

}  // namespace

std::string StageDeclaration(const WrittenText& text, const ast::Stage& stage, bool group_head) {
  std::string out = group_head ? "" : ContiguityWord(text, stage);
  auto add = [&out](const std::string& part) {
    if (!part.empty()) out += (out.empty() ? "" : " ") + part;
  };
  uint32_t body_end;  // where the quantifier and modifiers begin
  if (stage.is_group) {
    std::string inner = "(";
    for (size_t k = 0; k < stage.children.size(); ++k) {
      const ast::Stage& c = stage.children[k];
      if (k > 0) inner += " " + ContiguityWord(text, c) + (text.has_text() ? " " : "");
      inner += c.is_group ? "(…)" : c.name;
    }
    add(inner + ")");
    body_end = text.CloseOf(stage.span.begin) + 1;
  } else {
    add(stage.name);
    body_end = stage.where ? text.Widen(stage.where->span).end : stage.name_span.end;
  }
  add(text.has_text() ? text.Of({body_end, stage.span.end}) : TailFromAst(stage));
  return out;
}

}  // namespace tern::compiler
